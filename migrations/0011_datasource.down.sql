-- 0011_datasource.down.sql -- reverts 0011_datasource.up.sql.
DROP FUNCTION ds_dashboards_series(text[]);
DROP FUNCTION ds_dashboards_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_audit_events_series(text[]);
DROP FUNCTION ds_audit_events_points(text[], timestamptz, timestamptz, interval);
DROP FUNCTION ds_series(text[], jsonb);
DROP FUNCTION ds_eval(text[], jsonb, timestamptz, timestamptz, interval, boolean, interval);
DROP FUNCTION ds_ts(timestamptz);
DROP FUNCTION ds_fmt(double precision);
DROP FUNCTION ds_families(jsonb);
DROP FUNCTION ds_match(jsonb, jsonb);
DROP FUNCTION ds_projects(text, boolean, text);
DROP TABLE ds_metric;
