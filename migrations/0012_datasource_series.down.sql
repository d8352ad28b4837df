-- 0012_datasource_series.down.sql -- reverts 0012_datasource_series.up.sql.
DELETE FROM ds_metric WHERE name IN ('sli_good', 'sli_bad', 'slo_sli_ratio',
    'slo_burn_rate', 'slo_error_budget_remaining', 'monitor_up',
    'monitor_latency_seconds', 'monitor_uptime_ratio', 'hub_metric',
    'incidents_open');
DROP FUNCTION ds_incidents_open_series(text[]);
DROP FUNCTION ds_incidents_open_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_hub_metric_series(text[]);
DROP FUNCTION ds_hub_metric_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_monitor_uptime_series(text[]);
DROP FUNCTION ds_monitor_uptime_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_monitor_latency_series(text[]);
DROP FUNCTION ds_monitor_latency_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_monitor_up_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_monitor_series(text[]);
DROP FUNCTION ds_slo_budget_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_slo_window_series(text[]);
DROP FUNCTION ds_slo_burn_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_slo_ratio_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_sli_bad_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_sli_good_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_sli_series(text[]);
DROP FUNCTION ds_sli_rows(text[], timestamptz, timestamptz);
DROP FUNCTION ds_last_step(timestamptz, timestamptz, interval);
