-- 0011_datasource.up.sql -- dashcgi as its own Prometheus-compatible
-- datasource: a registry of series families, and the evaluation of the
-- narrow query language (src/promql.h) over them, in PostgreSQL.
--
-- Every module that has data to chart registers its families here, in
-- its own migration: a family is a name, a function that returns its
-- points in a time range (labels, t, v) and one that lists its label
-- sets.  The datasource module knows only this registry; evaluation
-- (matchers, snapping to the step, aggregation) and the Prometheus JSON
-- are made here, one row per result series, so the worker streams them.

CREATE TABLE ds_metric (
	name	text PRIMARY KEY
		CONSTRAINT ds_metric_name_valid CHECK (name ~ '^[a-zA-Z_:][a-zA-Z0-9_:]*$'),
	-- (projects text[], lo timestamptz, hi timestamptz, step interval)
	--   RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	-- the points the steps lo, lo + step, ... hi need: those with
	-- lo - 5 minutes < t <= hi (the lookback), or, for a family that
	-- has no stored points, one at each step; labels include "project".
	points	regprocedure NOT NULL,
	-- (projects text[]) RETURNS SETOF jsonb: the label sets it has now.
	series	regprocedure NOT NULL,
	type	text NOT NULL DEFAULT 'gauge'
		CONSTRAINT ds_metric_type_valid CHECK (type IN ('gauge', 'counter')),
	help	text NOT NULL,
	unit	text NOT NULL DEFAULT ''
);

COMMENT ON TABLE ds_metric IS
	'Series families the dashcgi datasource serves; each module registers its own';

-- The projects a caller reads: every project for a global admin, else
-- those they have a role in; one narrows it to one (a project route,
-- whose role the route has checked).
CREATE FUNCTION ds_projects(who text, admin boolean, one text) RETURNS text[]
	LANGUAGE sql STABLE
AS $$
	SELECT coalesce(array_agg(p.name ORDER BY p.name), '{}')
	  FROM project p
	 WHERE (one IS NULL OR p.name = one)
	   AND (admin OR one IS NOT NULL OR EXISTS (
		SELECT 1 FROM project_member m
		 WHERE m.project = p.name AND m.user_name = who))
$$;

-- One label set against the matchers of a parsed query:
-- q->'matchers' is [[label, op, value], ...]; an absent label is "".
-- Regexes are anchored, as in Prometheus (PostgreSQL's ARE syntax).
CREATE FUNCTION ds_match(labels jsonb, matchers jsonb) RETURNS boolean
	LANGUAGE sql IMMUTABLE
AS $$
	SELECT coalesce(bool_and(CASE m->>1
		WHEN '=' THEN coalesce(labels->>(m->>0), '') = m->>2
		WHEN '!=' THEN coalesce(labels->>(m->>0), '') <> m->>2
		WHEN '=~' THEN coalesce(labels->>(m->>0), '') ~ ('^(?:' || (m->>2) || ')$')
		WHEN '!~' THEN coalesce(labels->>(m->>0), '') !~ ('^(?:' || (m->>2) || ')$')
		END), true)
	  FROM jsonb_array_elements(coalesce(matchers, '[]')) m
$$;

-- The families a query names: its metric, or every family whose name
-- passes the __name__ matchers.
CREATE FUNCTION ds_families(q jsonb) RETURNS SETOF ds_metric
	LANGUAGE sql STABLE
AS $$
	SELECT d.*
	  FROM ds_metric d
	 WHERE (q->>'metric' IS NULL OR d.name = q->>'metric')
	   AND ds_match(jsonb_build_object('__name__', d.name),
		(SELECT coalesce(jsonb_agg(m), '[]')
		   FROM jsonb_array_elements(coalesce(q->'matchers', '[]')) m
		  WHERE m->>0 = '__name__'))
	 ORDER BY d.name
$$;

-- A value as Prometheus writes it.
CREATE FUNCTION ds_fmt(v double precision) RETURNS text
	LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN v = 'Infinity' THEN '+Inf'
		    WHEN v = '-Infinity' THEN '-Inf'
		    ELSE v::text END
$$;

-- A time as Prometheus writes it: unix seconds, no trailing zeros.
CREATE FUNCTION ds_ts(t timestamptz) RETURNS numeric
	LANGUAGE sql IMMUTABLE
AS $$ SELECT trim_scale(extract(epoch FROM t)) $$;

-- Evaluate a parsed query over [lo, hi] at every step: one row per
-- result series, the Prometheus JSON of a matrix element, or of a
-- vector element when instant (then lo = hi).
--
-- q: {"metric", "matchers":[[l,op,v]...], "agg", "grouping":"by"|
-- "without"|null, "labels":[...]}.  A point stands for the steps from
-- its time until the next point, at most lookback later (Prometheus's
-- 5 minutes): each step takes the last value at or before it.
CREATE FUNCTION ds_eval(projects text[], q jsonb, lo timestamptz,
    hi timestamptz, step interval, instant boolean,
    lookback interval DEFAULT interval '5 minutes')
    RETURNS SETOF text
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	src	text;
BEGIN
	SELECT string_agg(format(
		'SELECT labels || jsonb_build_object(%L, %L) AS labels, t, v '
		'FROM %s($1, $2, $3, $4)', '__name__', f.name,
		f.points::oid::regproc), ' UNION ALL ')
	  INTO src
	  FROM ds_families(q) f;
	IF src IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY EXECUTE format($q$
	WITH f AS (
		SELECT labels, t, v FROM (%s) raw
		 WHERE ds_match(labels, $6->'matchers')),
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

COMMENT ON FUNCTION ds_eval(text[], jsonb, timestamptz, timestamptz, interval, boolean, interval) IS
	'Evaluate a parsed datasource query: one Prometheus JSON series per row';

-- The label sets of the families a list of selectors names (the
-- Prometheus series, labels and label values APIs read these).
CREATE FUNCTION ds_series(projects text[], sels jsonb) RETURNS SETOF jsonb
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	sel	jsonb;
	src	text;
BEGIN
	FOR sel IN SELECT jsonb_array_elements(sels) LOOP
		SELECT string_agg(format(
			'SELECT s || jsonb_build_object(%L, %L) AS s FROM %s($1) s',
			'__name__', f.name, f.series::oid::regproc), ' UNION ALL ')
		  INTO src FROM ds_families(sel) f;
		CONTINUE WHEN src IS NULL;
		RETURN QUERY EXECUTE format(
		    'SELECT DISTINCT s FROM (%s) x WHERE ds_match(s, $2)', src)
		    USING projects, sel->'matchers';
	END LOOP;
END;
$$;

-- Real series of the core: what changed, and what there is.
--
-- dashcgi_audit_events{project,action,result}: audit rows per step,
-- stamped at the end of the step they fall in (lo counts those of the
-- step before it).
CREATE FUNCTION ds_audit_events_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', a.project, 'action', a.action,
		   'result', a.result),
	       date_bin(step, a.at - interval '1 microsecond', lo) + step,
	       count(*)::double precision
	  FROM audit_log a
	 WHERE a.at > lo - step AND a.at <= hi AND a.project = ANY (projects)
	 GROUP BY 1, 2
$$;

CREATE FUNCTION ds_audit_events_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT DISTINCT jsonb_build_object('project', a.project, 'action',
		   a.action, 'result', a.result)
	  FROM audit_log a
	 WHERE a.project = ANY (projects)
	   AND a.at > now() - interval '1 day'
$$;

-- dashcgi_dashboards{project,state}: live dashboards now, at every step
-- (the tables keep no past counts).
CREATE FUNCTION ds_dashboards_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', d.project, 'state', d.state),
	       s.t, d.n
	  FROM (SELECT project, state, count(*)::double precision AS n
		  FROM dashboard
		 WHERE deleted_at IS NULL AND project = ANY (projects)
		 GROUP BY project, state) d,
	       generate_series(lo, hi, step) s(t)
$$;

CREATE FUNCTION ds_dashboards_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT DISTINCT jsonb_build_object('project', project, 'state', state)
	  FROM dashboard
	 WHERE deleted_at IS NULL AND project = ANY (projects)
$$;

INSERT INTO ds_metric (name, points, series, type, help) VALUES
	('dashcgi_audit_events',
	 'ds_audit_events_points(text[], timestamptz, timestamptz, interval)',
	 'ds_audit_events_series(text[])', 'gauge',
	 'Audit log rows per step, by project, action and result'),
	('dashcgi_dashboards',
	 'ds_dashboards_points(text[], timestamptz, timestamptz, interval)',
	 'ds_dashboards_series(text[])', 'gauge',
	 'Live dashboards by project and state (now)');
