-- 0009_monitors.down.sql -- reverts 0009_monitors.up.sql: every table
-- of the uptime monitors with its rows, and their functions.

DROP FUNCTION monitor_rollup_retention();
DROP FUNCTION monitor_rollup_rebase(bigint);
DROP FUNCTION monitor_hist_quantile_diff(bigint[], bigint[], double precision);
DROP FUNCTION monitor_record(bigint, timestamptz, timestamptz, text, boolean,
    integer, real, real, real, real, real, text, text, timestamptz);
DROP FUNCTION monitor_window_doc(bigint, bigint, real, real, bigint[]);
DROP FUNCTION monitor_window(bigint[], text, timestamptz);
DROP TABLE monitor_rollup_day;
DROP TABLE monitor_rollup_hour;
DROP TABLE monitor_rollup_minute;
DROP FUNCTION monitor_hist_quantile(bigint[], double precision,
    double precision, double precision);
DROP FUNCTION monitor_hist_one(integer);
DROP FUNCTION monitor_hist_bucket(double precision);
DROP FUNCTION monitor_hist_n();
DROP FUNCTION check_result_doc(check_result);
DROP TABLE check_result;
DROP FUNCTION alert_doc(alert);
DROP TABLE alert;
DROP TABLE monitor_channel;
DROP FUNCTION monitor_doc(monitor);
DROP FUNCTION monitor_status(monitor);
DROP FUNCTION rfc3339_ms(timestamptz);
DROP TABLE monitor;
DROP FUNCTION channel_doc(notification_channel);
DROP TABLE notification_channel;
