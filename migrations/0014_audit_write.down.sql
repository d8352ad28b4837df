-- 0014_audit_write.down.sql -- reverts 0014_audit_write.up.sql.
DROP FUNCTION share_link_uses(share_token);
DROP FUNCTION share_miss_trim(interval);
DROP TABLE share_miss;
DROP FUNCTION share_network(inet);
DROP FUNCTION audit_write(text, text, text, text, integer, text, inet, text, jsonb, text);
CREATE INDEX audit_log_action_idx ON audit_log (action);
CREATE INDEX audit_log_request_idx ON audit_log (request_id);
ALTER TABLE audit_log DROP COLUMN client_request_id;
