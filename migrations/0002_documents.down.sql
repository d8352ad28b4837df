DROP FUNCTION project_doc(project);
DROP FUNCTION dashboard_version_doc(dashboard, dashboard_version);
DROP FUNCTION dashboard_doc(dashboard);
DROP FUNCTION dashboard_metadata(dashboard);
DROP FUNCTION rfc3339(timestamptz);
