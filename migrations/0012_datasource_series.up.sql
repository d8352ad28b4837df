-- 0012_datasource_series.up.sql -- the SLO, uptime and hub series that
-- dashcgi's own datasource serves (SPEC section 11), registered in
-- ds_metric (0011).  Each family is a points function over its module's
-- tables and a label-sets function; ds_eval does the rest (matchers,
-- snapping to the step, aggregation).
--
-- Families whose value is a state of "now" (the remaining budget, the
-- uptime ratio over a window) have one point, at the end of the range:
-- a stat panel shows it; they are not recomputed for every past step.

-- The last step of a range: where a family of "now" puts its point.
CREATE FUNCTION ds_last_step(lo timestamptz, hi timestamptz, step interval)
    RETURNS timestamptz
	LANGUAGE sql IMMUTABLE
AS $$
	SELECT lo + step * floor(extract(epoch FROM hi - lo) /
	    extract(epoch FROM step))
$$;

-- SLI points: good and bad per resolution step, the 5-minute SLI ratio
-- and burn rate (zero traffic: no point, never NaN).
CREATE FUNCTION ds_sli_rows(projects text[], lo timestamptz, hi timestamptz)
    RETURNS TABLE (labels jsonb, t timestamptz, good bigint, bad bigint,
	target double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', s.project, 'slo', s.name,
		   'sli', i.id), p.t, p.good, p.bad, s.target
	  FROM slo s JOIN sli i ON i.slo_id = s.id
	  JOIN sli_point p ON p.sli = i.key
	 WHERE s.project = ANY (projects)
	   AND p.t > lo - interval '5 minutes' AND p.t <= hi
$$;

CREATE FUNCTION ds_sli_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', s.project, 'slo', s.name,
		   'sli', i.id)
	  FROM slo s JOIN sli i ON i.slo_id = s.id
	 WHERE s.project = ANY (projects)
$$;

CREATE FUNCTION ds_sli_good_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$ SELECT labels, t, good::double precision FROM ds_sli_rows(projects, lo, hi) $$;

CREATE FUNCTION ds_sli_bad_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$ SELECT labels, t, bad::double precision FROM ds_sli_rows(projects, lo, hi) $$;

CREATE FUNCTION ds_slo_ratio_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT labels || '{"window":"5m"}', t,
	       good::double precision / (good + bad)
	  FROM ds_sli_rows(projects, lo, hi) WHERE good + bad > 0
$$;

CREATE FUNCTION ds_slo_burn_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT labels || '{"window":"5m"}', t,
	       (bad::double precision / (good + bad)) / (1 - target)
	  FROM ds_sli_rows(projects, lo, hi) WHERE good + bad > 0
$$;

CREATE FUNCTION ds_slo_window_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$ SELECT s || '{"window":"5m"}' FROM ds_sli_series(projects) s $$;

-- The remaining error budget over the SLO's window, now (at the last
-- step, its point included): the same evaluation as GET …/status.
CREATE FUNCTION ds_slo_budget_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', s.project, 'slo', s.name,
		   'sli', i.id), ds_last_step(lo, hi, step), r.v
	  FROM slo s JOIN sli i ON i.slo_id = s.id,
	       LATERAL (SELECT (sli_eval(i.key, s.target, s.slo_window,
		   ds_last_step(lo, hi, step) + interval '1 microsecond',
		   false) -> 'errorBudget' ->> 'remaining')::double precision
		   AS v) r
	 WHERE s.project = ANY (projects) AND r.v IS NOT NULL
$$;

-- Uptime: 1/0 per check; latency quantiles per minute from the
-- roll-ups' histograms; the uptime ratio over 24h, 30d and 90d now.
CREATE FUNCTION ds_monitor_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', m.project, 'monitor', m.name)
	  FROM monitor m WHERE m.project = ANY (projects)
$$;

CREATE FUNCTION ds_monitor_up_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', m.project, 'monitor', m.name),
	       c.at, CASE WHEN c.ok THEN 1 ELSE 0 END
	  FROM monitor m JOIN check_result c ON c.monitor_id = m.id
	 WHERE m.project = ANY (projects)
	   AND c.at > lo - interval '5 minutes' AND c.at <= hi
$$;

CREATE FUNCTION ds_monitor_latency_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', m.project, 'monitor', m.name,
		   'quantile', q.q::text),
	       r.bucket + interval '1 minute',
	       monitor_hist_quantile(r.hist::bigint[], q.q, r.lat_min,
		   r.lat_max) / 1000
	  FROM monitor m JOIN monitor_rollup_minute r ON r.monitor_id = m.id,
	       (VALUES (0.5::double precision), (0.95), (0.99)) q (q)
	 WHERE m.project = ANY (projects) AND r.lat_count > 0
	   AND r.bucket + interval '1 minute' > lo - interval '5 minutes'
	   AND r.bucket + interval '1 minute' <= hi
$$;

CREATE FUNCTION ds_monitor_latency_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT s || jsonb_build_object('quantile', q)
	  FROM ds_monitor_series(projects) s,
	       unnest(ARRAY['0.5', '0.95', '0.99']) q
$$;

CREATE FUNCTION ds_monitor_uptime_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', m.project, 'monitor', m.name,
		   'window', w.name), ds_last_step(lo, hi, step),
	       sum(r.ok)::double precision / sum(r.checks)
	  FROM monitor m JOIN monitor_rollup_hour r ON r.monitor_id = m.id,
	       (VALUES ('24h', interval '24 hours'), ('30d', interval '30 days'),
		       ('90d', interval '90 days')) w (name, span)
	 WHERE m.project = ANY (projects) AND r.bucket > hi - w.span
	   AND r.bucket <= hi
	 GROUP BY m.project, m.name, w.name
	HAVING sum(r.checks) > 0
$$;

CREATE FUNCTION ds_monitor_uptime_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT s || jsonb_build_object('window', w)
	  FROM ds_monitor_series(projects) s,
	       unnest(ARRAY['24h', '30d', '90d']) w
$$;

-- The hub: event metrics per one-minute window (sum, count, min, max,
-- avg), stamped at the window's end; open incidents by severity at
-- each step, from when they were seen first and resolved.
CREATE FUNCTION ds_hub_metric_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', a.project, 'metric', a.metric_type,
		   'window_key', a.window_key, 'aggregate', g.name),
	       a.window_start + interval '1 minute',
	       CASE g.name WHEN 'sum' THEN a.sum WHEN 'count' THEN a.count
		   WHEN 'min' THEN a.min WHEN 'max' THEN a.max
		   ELSE a.sum / nullif(a.count, 0) END
	  FROM metrics_agg a,
	       unnest(ARRAY['sum', 'count', 'min', 'max', 'avg']) g (name)
	 WHERE a.project = ANY (projects)
	   AND a.window_start + interval '1 minute' > lo - interval '5 minutes'
	   AND a.window_start + interval '1 minute' <= hi
$$;

CREATE FUNCTION ds_hub_metric_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT DISTINCT jsonb_build_object('project', a.project, 'metric',
		   a.metric_type, 'window_key', a.window_key, 'aggregate', g)
	  FROM metrics_agg a,
	       unnest(ARRAY['sum', 'count', 'min', 'max', 'avg']) g
	 WHERE a.project = ANY (projects)
	   AND a.window_start > now() - interval '1 day'
$$;

CREATE FUNCTION ds_incidents_open_points(projects text[], lo timestamptz,
    hi timestamptz, step interval)
    RETURNS TABLE (labels jsonb, t timestamptz, v double precision)
	LANGUAGE sql STABLE
AS $$
	SELECT jsonb_build_object('project', p.name, 'severity', sv.s), st.t,
	       (SELECT count(*) FROM incident i
		 WHERE i.project = p.name AND i.severity = sv.s
		   AND i.first_seen <= st.t
		   AND (i.resolved_at IS NULL OR i.resolved_at > st.t)
		   AND (i.status IN ('open', 'investigating')
			OR i.resolved_at IS NOT NULL))::double precision
	  FROM unnest(projects) p (name),
	       unnest(ARRAY['low', 'medium', 'high', 'critical']) sv (s),
	       generate_series(lo, hi, step) st (t)
$$;

-- The label sets of the severities a project has had incidents of.
CREATE FUNCTION ds_incidents_open_series(projects text[]) RETURNS SETOF jsonb
	LANGUAGE sql STABLE
AS $$
	SELECT DISTINCT jsonb_build_object('project', project, 'severity',
		   severity)
	  FROM incident WHERE project = ANY (projects)
$$;

INSERT INTO ds_metric (name, points, series, type, help) VALUES
	('sli_good', 'ds_sli_good_points(text[], timestamptz, timestamptz, interval)',
	 'ds_sli_series(text[])', 'gauge', 'Good events of an SLI per resolution step'),
	('sli_bad', 'ds_sli_bad_points(text[], timestamptz, timestamptz, interval)',
	 'ds_sli_series(text[])', 'gauge', 'Bad events of an SLI per resolution step'),
	('slo_sli_ratio', 'ds_slo_ratio_points(text[], timestamptz, timestamptz, interval)',
	 'ds_slo_window_series(text[])', 'gauge', 'good / (good + bad) per resolution step'),
	('slo_burn_rate', 'ds_slo_burn_points(text[], timestamptz, timestamptz, interval)',
	 'ds_slo_window_series(text[])', 'gauge', 'Error ratio / (1 - target) per resolution step'),
	('slo_error_budget_remaining', 'ds_slo_budget_points(text[], timestamptz, timestamptz, interval)',
	 'ds_sli_series(text[])', 'gauge', 'Share of the error budget left over the SLO window, now'),
	('monitor_up', 'ds_monitor_up_points(text[], timestamptz, timestamptz, interval)',
	 'ds_monitor_series(text[])', 'gauge', '1 when a check succeeded, 0 when it failed'),
	('monitor_latency_seconds', 'ds_monitor_latency_points(text[], timestamptz, timestamptz, interval)',
	 'ds_monitor_latency_series(text[])', 'gauge', 'Check latency quantiles per minute, from the roll-ups'),
	('monitor_uptime_ratio', 'ds_monitor_uptime_points(text[], timestamptz, timestamptz, interval)',
	 'ds_monitor_uptime_series(text[])', 'gauge', 'Share of successful checks over 24h, 30d and 90d, now'),
	('hub_metric', 'ds_hub_metric_points(text[], timestamptz, timestamptz, interval)',
	 'ds_hub_metric_series(text[])', 'gauge', 'Event metrics per one-minute window, by aggregate'),
	('incidents_open', 'ds_incidents_open_points(text[], timestamptz, timestamptz, interval)',
	 'ds_incidents_open_series(text[])', 'gauge', 'Open or investigating incidents by severity');
