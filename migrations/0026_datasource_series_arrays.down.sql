-- 0026_datasource_series_arrays.down.sql -- reverts
-- 0026_datasource_series_arrays.up.sql: the families of 0022 and its
-- ds_eval (JSON text per series).
UPDATE ds_metric SET points = CASE name
	WHEN 'sli_good' THEN 'ds_sli_good_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'sli_bad' THEN 'ds_sli_bad_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_sli_ratio' THEN 'ds_slo_ratio_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_burn_rate' THEN 'ds_slo_burn_points(text[], timestamptz, timestamptz, interval, jsonb)'
	WHEN 'slo_error_budget_remaining' THEN 'ds_slo_budget_points(text[], timestamptz, timestamptz, interval, jsonb)'
	END::regprocedure
 WHERE name IN ('sli_good', 'sli_bad', 'slo_sli_ratio', 'slo_burn_rate',
    'slo_error_budget_remaining');
ALTER TABLE ds_metric DROP COLUMN per_series;
DROP FUNCTION ds_eval(text[], jsonb, bigint, bigint, bigint, boolean, bigint);
DROP FUNCTION ds_slo_budget_set(text[], timestamptz, timestamptz, interval, jsonb);
DROP FUNCTION ds_slo_burn_series(text[], timestamptz, timestamptz, interval, jsonb);
DROP FUNCTION ds_slo_ratio_series(text[], timestamptz, timestamptz, interval, jsonb);
DROP FUNCTION ds_sli_bad_series(text[], timestamptz, timestamptz, interval, jsonb);
DROP FUNCTION ds_sli_good_series(text[], timestamptz, timestamptz, interval, jsonb);
DROP FUNCTION ds_sli_arrays(text, text[], timestamptz, timestamptz, jsonb);
DROP FUNCTION ds_sli_pick(text[], jsonb);

CREATE FUNCTION ds_eval(projects text[], q jsonb, lo timestamptz,
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

COMMENT ON FUNCTION ds_eval(text[], jsonb, timestamptz, timestamptz, interval, boolean, interval) IS
	'Evaluate a parsed datasource query: one Prometheus JSON series per row';
