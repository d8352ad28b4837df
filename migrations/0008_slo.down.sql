-- 0008_slo.down.sql -- reverts 0008_slo.up.sql: the SLO tables (their
-- partitions go with them) and functions.

DROP FUNCTION slo_rollup(text[]);
DROP FUNCTION slo_spec_norm(jsonb);
DROP FUNCTION slo_doc(slo);
DROP FUNCTION slo_now(interval);
DROP FUNCTION slo_eval(slo, timestamptz, boolean);
DROP FUNCTION sli_ref(sli);
DROP FUNCTION sli_eval(bigint, double precision, text, timestamptz, boolean);
DROP FUNCTION slo_alert_rules();
DROP FUNCTION slo_budget(bigint, bigint, double precision, double precision);
DROP FUNCTION slo_status_rank(text);
DROP FUNCTION slo_status_of(double precision);
DROP FUNCTION sli_counts(bigint, timestamptz, timestamptz);
DROP FUNCTION slo_window_bounds(text, timestamptz);
DROP FUNCTION slo_partitions_ensure(interval, integer);
DROP TABLE sli_hourly;
DROP TABLE sli_point;
DROP TRIGGER sli_drop_points ON sli;
DROP FUNCTION sli_drop_points();
DROP TABLE sli;
DROP TABLE slo;
