-- 0001_init.down.sql -- reverts 0001_init.up.sql completely, so that
-- up -> down -> up round-trips.  Run by "dashcgi migrate down" in one
-- transaction.  Dropping audit_log drops its partitions with it.

DROP FUNCTION IF EXISTS audit_drop_partitions_before(timestamptz);
DROP FUNCTION IF EXISTS audit_ensure_partitions(integer);
DROP TABLE IF EXISTS audit_log;
DROP FUNCTION IF EXISTS audit_log_refuse();

DROP TABLE IF EXISTS user_preferences;

DROP FUNCTION IF EXISTS cleanup_expired_tokens(interval);
DROP TABLE IF EXISTS share_token;

DROP FUNCTION IF EXISTS update_template_usage_stats();
DROP TABLE IF EXISTS template_usage;
DROP TABLE IF EXISTS dashboard_template;

DROP TABLE IF EXISTS dashboard_version;
DROP TABLE IF EXISTS dashboard;

DROP TABLE IF EXISTS project_member;
DROP TABLE IF EXISTS project;

DROP FUNCTION IF EXISTS perses_name_valid(text);

-- pg_trgm may have been there before us or be used by something else;
-- keep it in that case rather than fail the whole revert.
DO $$
BEGIN
	DROP EXTENSION IF EXISTS pg_trgm;
EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
	RAISE NOTICE 'extension pg_trgm kept: %', SQLERRM;
END;
$$;
