-- 0017_datasource_templates.down.sql -- reverts
-- 0017_datasource_templates.up.sql: the system templates slo-overview,
-- uptime and incidents (their template_usage rows go with them, ON
-- DELETE CASCADE).  Dashboards made from them stay.

DELETE FROM dashboard_template
 WHERE is_system AND id IN ('slo-overview', 'uptime', 'incidents');
