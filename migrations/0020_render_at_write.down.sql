-- 0020_render_at_write.down.sql -- reverts 0020_render_at_write.up.sql.
ALTER INDEX dashboard_display_name_trgm_idx RESET (fastupdate);
DROP FUNCTION dashboard_get(text, text, text, integer, integer[], boolean,
    boolean);
DROP FUNCTION dashboard_trim_history(bigint, integer, bigint);
DROP TRIGGER dashboard_version_render ON dashboard_version;
DROP FUNCTION dashboard_version_render();
DROP TRIGGER dashboard_render ON dashboard;
DROP FUNCTION dashboard_render();
ALTER TABLE dashboard_version DROP COLUMN doc;
ALTER TABLE dashboard DROP COLUMN doc, DROP COLUMN list_doc;
DROP FUNCTION dashboard_list_doc(dashboard);
