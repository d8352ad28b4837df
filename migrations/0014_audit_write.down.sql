-- 0014_audit_write.down.sql -- reverts 0014_audit_write.up.sql.
CREATE OR REPLACE FUNCTION share_link_doc(s share_token) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN jsonb_build_object(
		'id', s.id,
		'createdBy', s.created_by,
		'createdAt', rfc3339(s.created_at),
		'expiresAt', rfc3339(s.expires_at),
		'allowedCidrs', to_jsonb(s.allowed_cidrs),
		'pinnedVersion', s.pinned_version,
		'maxUses', s.max_uses,
		'useCount', s.use_count,
		'lastUsedAt', rfc3339(s.last_used_at),
		'revokedAt', rfc3339(s.revoked_at),
		'revokedBy', s.revoked_by,
		'status', share_status(s),
		'note', s.note);
DROP TABLE share_miss;
DROP FUNCTION share_network(inet);
DROP FUNCTION audit_write(text, text, text, text, integer, text, inet, text, jsonb, text);
CREATE INDEX audit_log_action_idx ON audit_log (action);
CREATE INDEX audit_log_request_idx ON audit_log (request_id);
ALTER TABLE audit_log DROP COLUMN client_request_id;
