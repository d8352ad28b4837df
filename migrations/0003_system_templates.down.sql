-- 0003_system_templates.down.sql -- reverts 0003_system_templates.up.sql:
-- the four system templates (their template_usage rows go with them,
-- ON DELETE CASCADE) and the template document functions.  Templates
-- administrators created through the API stay.

DELETE FROM dashboard_template
 WHERE is_system
   AND id IN ('model-serving', 'training-job', 'notebook-server',
	      'data-pipeline');

DROP FUNCTION template_doc(dashboard_template);
DROP FUNCTION template_summary(dashboard_template);
