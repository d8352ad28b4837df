-- 0022_datasource_pushdown.up.sql -- the SLI families filter by the
-- query's label matchers before they read points.
--
-- ds_eval (0011) applied the matchers to every point of a family: one
-- SLI's 28 days (8,065 points) cost the points of every SLI in the
-- project (124 x 8,065), each with its labels built and matched.  A
-- family's points function may now take the query's matchers as a
-- fifth argument; the SLI families use those on the labels they are
-- made of (project, slo, sli) to pick the SLIs first, then read only
-- their points through the (sli, t) key.  ds_eval still applies every
-- matcher afterwards, so the answer is the same; only the cost changes.
-- And ds_eval matches each label set once, not each point: ds_match is
-- a SQL function with an aggregate, executed per call (8,065 calls for
-- one SLI's 28 days cost more than reading the points).

-- The SLIs the matchers on project, slo and sli can match, with their
-- points in (lo - 5 minutes, hi].  OFFSET 0 keeps the per-SLI index
-- scan (the planner would otherwise join all points).
CREATE FUNCTION ds_sli_rows(projects text[], lo timestamptz, hi timestamptz,
    matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, good bigint, bad bigint,
	target double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT l.labels, p.t, p.good, p.bad, l.target
	  FROM (SELECT jsonb_build_object('project', s.project, 'slo', s.name,
		       'sli', i.id) AS labels, i.key, s.target
		  FROM slo s JOIN sli i ON i.slo_id = s.id
		 WHERE s.project = ANY (projects)) l,
	       LATERAL (SELECT p.t, p.good, p.bad FROM sli_point p
			 WHERE p.sli = l.key
			   AND p.t > lo - interval '5 minutes' AND p.t <= hi
			OFFSET 0) p
	 WHERE ds_match(l.labels, (SELECT coalesce(jsonb_agg(m), '[]')
	       FROM jsonb_array_elements(coalesce(matchers, '[]')) m
	      WHERE m->>0 IN ('project', 'slo', 'sli')))
$$;

CREATE FUNCTION ds_sli_good_points(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$ SELECT labels, t, good::double precision
	FROM ds_sli_rows(projects, lo, hi, matchers) $$;

CREATE FUNCTION ds_sli_bad_points(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$ SELECT labels, t, bad::double precision
	FROM ds_sli_rows(projects, lo, hi, matchers) $$;

CREATE FUNCTION ds_slo_ratio_points(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT labels || '{"window":"5m"}', t,
	       good::double precision / (good + bad)
	  FROM ds_sli_rows(projects, lo, hi, matchers) WHERE good + bad > 0
$$;

CREATE FUNCTION ds_slo_burn_points(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT labels || '{"window":"5m"}', t,
	       (bad::double precision / (good + bad)) / (1 - target)
	  FROM ds_sli_rows(projects, lo, hi, matchers) WHERE good + bad > 0
$$;

-- The remaining budget: only the SLIs the matchers can match are
-- evaluated (each is a window's worth of roll-ups).
CREATE FUNCTION ds_slo_budget_points(projects text[], lo timestamptz,
    hi timestamptz, step interval, matchers jsonb)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT l.labels, ds_last_step(lo, hi, step), r.v
	  FROM (SELECT jsonb_build_object('project', s.project, 'slo', s.name,
		       'sli', i.id) AS labels, i.key, s.target, s.slo_window
		  FROM slo s JOIN sli i ON i.slo_id = s.id
		 WHERE s.project = ANY (projects)) l,
	       LATERAL (SELECT (sli_eval(l.key, l.target, l.slo_window,
		   ds_last_step(lo, hi, step) + interval '1 microsecond',
		   false) -> 'errorBudget' ->> 'remaining')::double precision
		   AS v) r
	 WHERE ds_match(l.labels, (SELECT coalesce(jsonb_agg(m), '[]')
	       FROM jsonb_array_elements(coalesce(matchers, '[]')) m
	      WHERE m->>0 IN ('project', 'slo', 'sli')))
	   AND r.v IS NOT NULL
$$;

UPDATE ds_metric SET points = CASE name
	WHEN 'sli_good' THEN 'ds_sli_good_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'sli_bad' THEN 'ds_sli_bad_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_sli_ratio' THEN 'ds_slo_ratio_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_burn_rate' THEN 'ds_slo_burn_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_error_budget_remaining' THEN 'ds_slo_budget_points(text[], timestamptz, timestamptz, interval, jsonb)'
	END::regprocedure
 WHERE name IN ('sli_good', 'sli_bad', 'slo_sli_ratio', 'slo_burn_rate',
    'slo_error_budget_remaining');

CREATE OR REPLACE FUNCTION ds_eval(projects text[], q jsonb, lo timestamptz,
    hi timestamptz, step interval, instant boolean,
    lookback interval DEFAULT interval '5 minutes')
    RETURNS SETOF text
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	src	text;
BEGIN
	-- A points function of five arguments takes the query's matchers
	-- too, to leave out early the series they cannot match.
	SELECT string_agg(format(
		'SELECT labels || jsonb_build_object(%L, %L) AS labels, t, v '
		'FROM %s($1, $2, $3, $4%s)', '__name__', f.name,
		f.points::oid::regproc,
		CASE WHEN p.pronargs = 5 THEN ', $6->''matchers''' ELSE '' END),
		' UNION ALL ')
	  INTO src
	  FROM ds_families(q) f JOIN pg_proc p ON p.oid = f.points::oid;
	IF src IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY EXECUTE format($q$
	WITH raw AS MATERIALIZED (
		SELECT labels, t, v FROM (%s) raw),
	-- The matchers, once per label set (not once per point).
	matched AS (
		SELECT labels FROM (SELECT DISTINCT labels FROM raw OFFSET 0) d
		 WHERE ds_match(labels, $6->'matchers')),
	f AS (
		SELECT r.labels, r.t, r.v FROM raw r JOIN matched m
		    ON m.labels = r.labels),
	-- Each point covers the steps k in [t, min(next t, t + lookback)).
	spans AS (
		SELECT labels, v,
		       ceil(extract(epoch FROM t - $2) / extract(epoch FROM $4)) AS k0,
		       ceil(extract(epoch FROM least(coalesce(lead(t) OVER w, 'infinity'),
			    t + $5) - $2) / extract(epoch FROM $4)) - 1 AS k1
		  FROM f
		WINDOW w AS (PARTITION BY labels ORDER BY t)),
	pts AS (
		SELECT s.labels, $2 + $4 * k AS ts, s.v
		  FROM spans s,
		       generate_series(greatest(s.k0, 0)::bigint,
			   least(s.k1, floor(extract(epoch FROM $3 - $2) /
			   extract(epoch FROM $4)))::bigint) k),
	grouped AS (
		SELECT CASE
			 WHEN $6->>'agg' IS NULL THEN labels
			 WHEN $6->>'grouping' = 'by' THEN (
			   SELECT coalesce(jsonb_object_agg(l, labels->l), '{}')
			     FROM jsonb_array_elements_text($6->'labels') l
			    WHERE labels ? l)
			 WHEN $6->>'grouping' = 'without' THEN
			   labels - '__name__' - ARRAY(
			     SELECT jsonb_array_elements_text($6->'labels'))
			 ELSE '{}'::jsonb END AS labels, ts, v
		  FROM pts),
	agg AS (
		SELECT labels, ts, CASE $6->>'agg'
			WHEN 'sum' THEN sum(v) WHEN 'avg' THEN avg(v)
			WHEN 'min' THEN min(v) WHEN 'max' THEN max(v)
			WHEN 'count' THEN count(v)::double precision
			ELSE max(v) END AS v
		  FROM grouped GROUP BY labels, ts)
	SELECT CASE WHEN $7 THEN
		json_build_object('metric', labels, 'value',
		    json_build_array(ds_ts(max(ts)), ds_fmt(max(v))))::text
	       ELSE
		json_build_object('metric', labels, 'values',
		    json_agg(json_build_array(ds_ts(ts), ds_fmt(v)) ORDER BY ts))::text
	       END
	  FROM agg
	 GROUP BY labels
	 ORDER BY labels::text
	$q$, src) USING projects, lo, hi, step, lookback, q, instant;
END;
$$;


-- No JIT for this database's sessions.  dashcgi's statements are short;
-- a plan whose estimate passes jit_above_cost (a 28-day query_range, the
-- status page of 2,000 monitors) spent 250-300 ms compiling to save a
-- few.  A database setting reaches every session, also those that come
-- through a transaction pooler (which refuses startup options).
DO $$
BEGIN
	EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END
$$;
