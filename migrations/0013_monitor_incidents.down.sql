-- 0013_monitor_incidents.down.sql -- reverts 0013_monitor_incidents.up.sql.
DROP TRIGGER alert_incident ON alert;
DROP FUNCTION monitor_alert_incident();
