-- 0026_datasource_series_arrays.up.sql -- the datasource's hot path:
-- points are read by index range as one array per series, snapped to
-- the step in integer microseconds, and handed to C as arrays (C writes
-- the Prometheus JSON while the rows stream in).
--
-- After 0022 the cost of a 28-day query_range was no longer the reading
-- (8,065 points of one SLI by its (sli, t) key: ~1 ms) but what ds_eval
-- did per point: labels built and hashed as jsonb, a window function
-- and a generate_series call, numeric epochs, and the JSON of every
-- value.  Now:
--   - a family may return one row per series, (labels, t[], v[]) in
--     time order (ds_metric.per_series); the SLI families do, so labels
--     are made and matched once per series, never per point;
--   - a family of one row per point is made into such arrays first;
--   - every point becomes at most one step when step >= lookback (the
--     step whose time is the first at or after the point's): a point
--     stands for step k when no later point comes before it and it is
--     less than lookback old, as Prometheus's lookback; only a step
--     below the lookback expands a point into several steps;
--   - times are integer microseconds since the epoch throughout, so the
--     snapping is exact and cheap;
--   - ds_eval returns (labels, t bigint[], v float8[]) per result
--     series; C formats times and values (PostgreSQL's float8 text).
-- The remaining budget of every SLO is evaluated set-based: the hourly
-- roll-ups of all SLIs in one hash join, the ragged ends by index,
-- with the arithmetic of sli_eval (0008) unchanged.

ALTER TABLE ds_metric ADD COLUMN per_series boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN ds_metric.per_series IS
	'points returns one row per series: (labels jsonb, t timestamptz[], v double precision[]), t ascending';

-- The SLIs the matchers on project, slo and sli can match (0022's
-- pick), with their labels, key, target and window.  The matchers are
-- tested as ds_match() tests them, but inline: ds_match() is a SQL
-- function with an aggregate, run (and planned) per call.
CREATE FUNCTION ds_sli_pick(projects text[], matchers jsonb)
    RETURNS TABLE (labels jsonb, key bigint, target double precision,
	slo_window text)
	LANGUAGE sql STABLE
AS $$
	WITH m AS MATERIALIZED (
		SELECT m->>0 AS l, m->>1 AS op, m->>2 AS v,
		       '^(?:' || (m->>2) || ')$' AS re
		  FROM jsonb_array_elements(coalesce(matchers, '[]')) m
		 WHERE m->>0 IN ('project', 'slo', 'sli'))
	SELECT jsonb_build_object('project', s.project, 'slo', s.name,
		   'sli', i.id), i.key, s.target, s.slo_window
	  FROM slo s JOIN sli i ON i.slo_id = s.id
	 WHERE s.project = ANY (projects)
	   AND NOT EXISTS (
		SELECT 1 FROM m, LATERAL (SELECT CASE m.l
			WHEN 'project' THEN s.project::text
			WHEN 'slo' THEN s.name::text ELSE i.id::text END) x (x)
		 WHERE NOT CASE m.op
			WHEN '=' THEN x.x = m.v WHEN '!=' THEN x.x <> m.v
			WHEN '=~' THEN x.x ~ m.re ELSE x.x !~ m.re END)
$$;

-- One SLI family as arrays: what is 'good', 'bad', 'ratio' or 'burn'
-- of each point in (lo - 5 minutes, hi], in time order (the index
-- order, (sli, t): one SLI's by t, with no sort; ORDER BY keeps it for
-- array_agg).  Ratio and burn skip points
-- without events, as in 0012.  No bitmap scan: the planner would take
-- one for an SLI's 28 days (8,065 of its points) and sort them again,
-- which costs twice what reading them in the index's order does.
CREATE FUNCTION ds_sli_arrays(what text, projects text[], lo timestamptz,
    hi timestamptz, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz[], v double precision[])
	LANGUAGE sql STABLE
	SET enable_bitmapscan = off
AS $$
	SELECT CASE WHEN what IN ('ratio', 'burn')
		    THEN l.labels || '{"window":"5m"}' ELSE l.labels END,
	       a.t, a.v
	  FROM ds_sli_pick(projects, matchers) l,
	       LATERAL (SELECT array_agg(x.t) AS t, array_agg(x.v) AS v
			  FROM (SELECT p.t, CASE what
				    WHEN 'good' THEN p.good::double precision
				    WHEN 'bad' THEN p.bad::double precision
				    WHEN 'ratio' THEN p.good::double precision
					/ (p.good + p.bad)
				    ELSE (p.bad::double precision
					/ (p.good + p.bad)) / (1 - l.target) END
				    AS v
				  FROM sli_point p
				 WHERE p.sli = l.key
				   AND p.t > lo - interval '5 minutes'
				   AND p.t <= hi
				   AND (what IN ('good', 'bad')
					OR p.good + p.bad > 0)
				 ORDER BY p.sli, p.t) x) a
	 WHERE a.t IS NOT NULL
$$;

CREATE FUNCTION ds_sli_good_series(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz[], v double precision[])
	LANGUAGE sql STABLE
AS $$ SELECT * FROM ds_sli_arrays('good', projects, lo, hi, matchers) $$;

CREATE FUNCTION ds_sli_bad_series(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz[], v double precision[])
	LANGUAGE sql STABLE
AS $$ SELECT * FROM ds_sli_arrays('bad', projects, lo, hi, matchers) $$;

CREATE FUNCTION ds_slo_ratio_series(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz[], v double precision[])
	LANGUAGE sql STABLE
AS $$ SELECT * FROM ds_sli_arrays('ratio', projects, lo, hi, matchers) $$;

CREATE FUNCTION ds_slo_burn_series(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz[], v double precision[])
	LANGUAGE sql STABLE
AS $$ SELECT * FROM ds_sli_arrays('burn', projects, lo, hi, matchers) $$;

-- The remaining budget of the picked SLIs at the last step, as
-- sli_eval(key, target, window, last step + 1 microsecond, false) has
-- it (0008): good and bad over the window (whole hours from the
-- roll-ups, the ragged ends from the points), and for a calendar window
-- the events of the period before it as the reference.  Set-based: the
-- roll-ups of every SLI in one join, not 3 to 6 index scans per SLI.
CREATE FUNCTION ds_slo_budget_set(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	WITH l AS MATERIALIZED (
		SELECT l.labels, l.key, l.target, l.slo_window,
		       ds_last_step(lo, hi, step) AS last,
		       ds_last_step(lo, hi, step) + interval '1 microsecond' AS e
		  FROM ds_sli_pick(projects, matchers) l),
	w AS (
		SELECT l.*, b.lo AS wlo, b.len,
		       CASE l.slo_window
			 WHEN 'calendar-month' THEN
			   (b.lo AT TIME ZONE 'UTC' - interval '1 month')
			   AT TIME ZONE 'UTC'
			 WHEN 'calendar-week' THEN b.lo - interval '7 days'
		       END AS plo
		  FROM l, slo_window_bounds(l.slo_window, l.e) b),
	-- The ranges to count: the window ('c'), and the period before a
	-- calendar window ('p'); h0, h1: its whole hours (as sli_counts).
	r AS (
		SELECT x.*,
		       CASE WHEN date_trunc('hour', x.rlo, 'UTC') <> x.rlo
			    THEN date_trunc('hour', x.rlo, 'UTC') + interval '1 hour'
			    ELSE x.rlo END AS h0,
		       date_trunc('hour', x.rhi, 'UTC') AS h1
		  FROM (SELECT w.key, 'c' AS part, w.wlo AS rlo, w.e AS rhi
			  FROM w
			UNION ALL
			SELECT w.key, 'p', w.plo, w.wlo
			  FROM w WHERE w.plo IS NOT NULL) x),
	hours AS (
		SELECT r.key, r.part, sum(h.good) AS good, sum(h.bad) AS bad
		  FROM r JOIN sli_hourly h ON h.sli = r.key
		 WHERE r.h0 < r.h1 AND h.t >= r.h0 AND h.t < r.h1
		 GROUP BY r.key, r.part),
	ends AS (
		SELECT r.key, r.part, sum(p.good) AS good, sum(p.bad) AS bad
		  FROM r,
		       LATERAL (SELECT p.good, p.bad FROM sli_point p
				 WHERE p.sli = r.key AND r.h0 >= r.h1
				   AND p.t >= r.rlo AND p.t < r.rhi
				UNION ALL
				SELECT p.good, p.bad FROM sli_point p
				 WHERE p.sli = r.key AND r.h0 < r.h1
				   AND p.t >= r.rlo AND p.t < r.h0
				UNION ALL
				SELECT p.good, p.bad FROM sli_point p
				 WHERE p.sli = r.key AND r.h0 < r.h1
				   AND p.t >= r.h1 AND p.t < r.rhi) p
		 GROUP BY r.key, r.part),
	c AS (
		SELECT r.key, r.part,
		       (coalesce(h.good, 0) + coalesce(e.good, 0))::bigint AS good,
		       (coalesce(h.bad, 0) + coalesce(e.bad, 0))::bigint AS bad
		  FROM r LEFT JOIN hours h USING (key, part)
			 LEFT JOIN ends e USING (key, part)),
	b AS (
		SELECT w.labels, w.last, w.target, cur.good, cur.bad,
		       CASE WHEN prev.good + prev.bad > 0 THEN
			 ((prev.good + prev.bad) * extract(epoch FROM w.len)
			  / extract(epoch FROM w.wlo - w.plo))::double precision
		       END AS ref
		  FROM w JOIN c cur ON cur.key = w.key AND cur.part = 'c'
		       LEFT JOIN c prev ON prev.key = w.key AND prev.part = 'p')
	SELECT b.labels, b.last,
	       1 - b.bad / ((1 - b.target) * coalesce(b.ref, b.good + b.bad))
	  FROM b
	 WHERE b.good + b.bad > 0
$$;

UPDATE ds_metric SET per_series = name <> 'slo_error_budget_remaining',
       points = CASE name
	WHEN 'sli_good' THEN 'ds_sli_good_series(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'sli_bad' THEN 'ds_sli_bad_series(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_sli_ratio' THEN 'ds_slo_ratio_series(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_burn_rate' THEN 'ds_slo_burn_series(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_error_budget_remaining' THEN 'ds_slo_budget_set(text[], timestamptz, timestamptz, interval, jsonb)'
	END::regprocedure
 WHERE name IN ('sli_good', 'sli_bad', 'slo_sli_ratio', 'slo_burn_rate',
    'slo_error_budget_remaining');

DROP FUNCTION ds_eval(text[], jsonb, timestamptz, timestamptz, interval,
    boolean, interval);

-- Evaluate a parsed query over the steps lo, lo + step, ... <= hi
-- (microseconds since the epoch): one row per result series, its
-- labels (JSON text), the times of its steps (t, or when t is NULL
-- every step: t0, t0 + dt, ...) and their values in step order; for an
-- instant query (lo = hi) the one step.  q as in
-- 0011.  A step takes the last point at or before it and less than
-- lookback older (Prometheus's 5 minutes).
CREATE FUNCTION ds_eval(projects text[], q jsonb, lo bigint, hi bigint,
    step bigint, instant boolean, lookback bigint DEFAULT 300000000)
    RETURNS TABLE (labels text, t0 bigint, dt bigint, t bigint[],
	v double precision[])
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	src	text;
	snap	text;
BEGIN
	-- Every family as series arrays: per_series ones as they are,
	-- others by grouping their points.  A points function of five
	-- arguments takes the query's matchers too (0022).
	SELECT string_agg(CASE WHEN f.per_series THEN format(
		'SELECT %L AS name, labels, t, v FROM %s($1, $2, $3, $4%s)',
		f.name, f.points::oid::regproc,
		CASE WHEN p.pronargs = 5 THEN ', $5' ELSE '' END)
	       ELSE format(
		'SELECT %L AS name, labels, array_agg(t ORDER BY t) AS t, '
		'array_agg(v ORDER BY t) AS v FROM %s($1, $2, $3, $4%s) '
		'GROUP BY labels', f.name, f.points::oid::regproc,
		CASE WHEN p.pronargs = 5 THEN ', $5' ELSE '' END) END,
		' UNION ALL ')
	  INTO src
	  FROM ds_families(q) f JOIN pg_proc p ON p.oid = f.points::oid;
	IF src IS NULL THEN
		RETURN;
	END IF;
	-- One series (m.t, m.v) snapped to the steps: the times (lo + k *
	-- step) and values of the steps it has a point for, in step order;
	-- nothing for a series whose times are those of the steps (grid.g).
	-- Point i, at tu microseconds, first reaches step k0 = ceil((tu -
	-- lo) / step) (0 for a point before lo) and stands for the steps
	-- before the next point's and less than lookback after its own.
	-- The division of bigints truncates: these are the ceilings.
	-- date_part is float8, exact to the microsecond before 2255
	-- (extract is numeric, several times slower).
	IF step >= lookback THEN
		-- At most one step per point (k0), and only when the next
		-- point does not reach k0 too: no expansion, no window.
		snap := $s$
		SELECT array_agg($6 + k * $8 ORDER BY i) AS t,
		       array_agg(v ORDER BY i) AS v
		  FROM (SELECT i, v, tu, CASE WHEN tu <= $6 THEN 0
			       ELSE (tu - $6 + $8 - 1) / $8 END AS k
			  FROM (SELECT u.i, u.v, round(date_part('epoch', u.t)
				       * 1000000)::bigint AS tu
				  FROM unnest(m.t, m.v) WITH ORDINALITY
				       u (t, v, i)
				 WHERE m.t IS DISTINCT FROM grid.g) u0) u1
		 WHERE k <= $10 AND $6 + k * $8 - tu < $9
		   AND (i = cardinality(m.t) OR round(date_part('epoch',
			m.t[i + 1]) * 1000000)::bigint > $6 + k * $8)
		$s$;
	ELSE
		-- A point covers the steps k0 .. ceil((min(next point,
		-- tu + lookback) - lo) / step) - 1.
		snap := $s$
		SELECT array_agg($6 + k * $8 ORDER BY k) AS t,
		       array_agg(v ORDER BY k) AS v
		  FROM (SELECT v, CASE WHEN tu <= $6 THEN 0
			       ELSE (tu - $6 + $8 - 1) / $8 END AS k0,
			       least(CASE WHEN i = cardinality(m.t) THEN tu + $9
				 ELSE round(date_part('epoch', m.t[i + 1])
				      * 1000000)::bigint END, tu + $9) - $6 AS e
			  FROM (SELECT u.i, u.v, round(date_part('epoch', u.t)
				       * 1000000)::bigint AS tu
				  FROM unnest(m.t, m.v) WITH ORDINALITY
				       u (t, v, i)
				 WHERE m.t IS DISTINCT FROM grid.g) u0) u1,
		       generate_series(u1.k0, least(CASE WHEN u1.e > 0
			   THEN (u1.e + $8 - 1) / $8 ELSE -((-u1.e) / $8) END - 1,
			   $10)) k
		$s$;
	END IF;
	IF q->>'agg' IS NULL THEN
		-- Each series is a result series.  One that has a point at
		-- every step and no other (stored at the step's resolution,
		-- the start on it) is its own answer: each step takes the
		-- point at its time.  Such a row has no t but the first
		-- step's time t0 and the step dt: values one per step.
		RETURN QUERY EXECUTE format($q$
		WITH m AS (
			SELECT labels || jsonb_build_object('__name__', name)
				   AS labels, t, v
			  FROM (%s) raw OFFSET 0),
		grid AS MATERIALIZED (
			SELECT ARRAY(SELECT generate_series($2, $2 + $4 * $10,
			    $4)) AS g)
		SELECT m.labels::text, CASE WHEN m.t = grid.g THEN $6 END,
		       CASE WHEN m.t = grid.g THEN $8 END,
		       x.t, CASE WHEN m.t = grid.g THEN m.v ELSE x.v END
		  FROM m CROSS JOIN grid,
		       LATERAL (%s) x
		 WHERE ds_match(m.labels, $7->'matchers')
		   AND (m.t = grid.g OR x.t IS NOT NULL)
		 ORDER BY m.labels::text
		$q$, src, snap) USING projects, to_timestamp(lo / 1000000.0),
		    to_timestamp(hi / 1000000.0),
		    make_interval(secs => step / 1000000.0), q->'matchers',
		    lo, q, step, lookback, (hi - lo) / step;
		RETURN;
	END IF;
	-- Aggregation: the series of a group, step by step.
	RETURN QUERY EXECUTE format($q$
	WITH grid AS (SELECT NULL::timestamptz[] AS g),
	m AS MATERIALIZED (
		SELECT labels, t, v
		  FROM (SELECT labels || jsonb_build_object('__name__', name)
			       AS labels, t, v
			  FROM (%s) raw OFFSET 0) m
		 WHERE ds_match(labels, $7->'matchers')),
	g AS (
		SELECT CASE
			 WHEN $7->>'grouping' = 'by' THEN (
			   SELECT coalesce(jsonb_object_agg(l, m.labels->l), '{}')
			     FROM jsonb_array_elements_text($7->'labels') l
			    WHERE m.labels ? l)
			 WHEN $7->>'grouping' = 'without' THEN
			   m.labels - '__name__' - ARRAY(
			     SELECT jsonb_array_elements_text($7->'labels'))
			 ELSE '{}'::jsonb END AS gl, x.t, x.v
		  FROM m CROSS JOIN grid, LATERAL (%s) x
		 WHERE x.t IS NOT NULL),
	agg AS (
		SELECT g.gl, u.t, CASE $7->>'agg'
			WHEN 'sum' THEN sum(u.v) WHEN 'avg' THEN avg(u.v)
			WHEN 'min' THEN min(u.v) WHEN 'max' THEN max(u.v)
			ELSE count(u.v)::double precision END AS v
		  FROM g, unnest(g.t, g.v) u (t, v)
		 GROUP BY g.gl, u.t)
	SELECT gl::text, NULL::bigint, NULL::bigint, array_agg(t ORDER BY t),
	       array_agg(v ORDER BY t)
	  FROM agg
	 GROUP BY gl
	 ORDER BY gl::text
	$q$, src, snap) USING projects, to_timestamp(lo / 1000000.0),
	    to_timestamp(hi / 1000000.0),
	    make_interval(secs => step / 1000000.0), q->'matchers',
	    lo, q, step, lookback, (hi - lo) / step;
END;
$$;

COMMENT ON FUNCTION ds_eval(text[], jsonb, bigint, bigint, bigint, boolean, bigint) IS
	'Evaluate a parsed datasource query: labels, step times (microseconds) and values per result series';
