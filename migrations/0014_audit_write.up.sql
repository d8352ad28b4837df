-- 0014_audit_write.up.sql -- one audit insert, the client's request id
-- beside the server's, and share-link misses counted rather than
-- audited one by one (issue 10 item 4; issue 16 items 3, 16 and 19).

-- ---------------------------------------------------------------------
-- The client's X-Request-Id

-- request_id is always the server's own id (the one on its log line); a
-- plain X-Request-Id the client sent is kept here, beside it, never in
-- its place: a client cannot make its rows pass for another request's.
ALTER TABLE audit_log ADD COLUMN client_request_id text;

COMMENT ON COLUMN audit_log.request_id IS
	'The server''s own id of the request (dashcgi''s log line has it too)';
COMMENT ON COLUMN audit_log.client_request_id IS
	'The X-Request-Id the client sent, when it sent a plain one (as the response echoes it)';

-- ---------------------------------------------------------------------
-- Indexes worth their cost

-- Every share-link view writes an audit row, so each index is paid on
-- the hottest anonymous path.  The API never reads the log by action
-- alone (its pages walk audit_log_at_idx or audit_log_project_idx and
-- filter), and a handful of distinct actions make a poor btree.  Nothing
-- reads it by request id either: an operator who has a log line has
-- its time too (WHERE at BETWEEN … AND request_id = …, on
-- audit_log_at_idx).  Kept: (id, at), project, actor (the audit API's
-- filters, and a link's recent views), at.
DROP INDEX audit_log_action_idx;
DROP INDEX audit_log_request_idx;

-- ---------------------------------------------------------------------
-- The one audit insert

-- Every audit row goes through here: src/audit.c (changes, denials,
-- events), the share-link read (src/api/shares.c) and the trash purge
-- (src/api/dashboards.c, once t/10 lets jobs need 0014).  Returns the
-- row's id.  PL/pgSQL, not SQL: a
-- SQL function that writes is planned again on every call, PL/pgSQL keeps
-- the INSERT's plan for the session (it runs on every share-link view).
CREATE FUNCTION audit_write(actor text, action text, project text,
    resource text, resource_version integer, result text, client_ip inet,
    request_id text, details jsonb, client_request_id text DEFAULT NULL)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	row_id	bigint;
BEGIN
	INSERT INTO audit_log (actor, action, project, resource,
	    resource_version, result, client_ip, request_id, details,
	    client_request_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, '{}'), $10)
	RETURNING id INTO row_id;
	RETURN row_id;
END;
$$;

COMMENT ON FUNCTION audit_write(text, text, text, text, integer, text, inet, text, jsonb, text) IS
	'The one audit insert: actor, action, project, resource, version, result, client address, the server''s request id, details, the client''s request id; returns the row id';

-- ---------------------------------------------------------------------
-- Share-link misses

-- The client network a share-link miss is counted under: /24 for IPv4,
-- /64 for IPv6 (what nginx's second limit_req zone keys on too), 0.0.0.0/0
-- for a client without an IP address (a unix socket peer).
CREATE FUNCTION share_network(addr inet) RETURNS cidr
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN coalesce(network(set_masklen(addr,
	    CASE family(addr) WHEN 4 THEN 24 ELSE 64 END)), '0.0.0.0/0');

-- Requests for a token no link has (unknown or malformed), per client
-- network and minute.  The first miss of a (network, minute) writes an
-- audit row (share.denied, reason unknown, "counted": true); the rest
-- are counted here: a brute force costs the audit log one row per
-- network and minute, not one per guess.  Refusals of real tokens keep
-- their own rows and true reasons.  Kept as long as the audit log
-- (the share_misses job).
CREATE TABLE share_miss (
	network		cidr NOT NULL,
	minute		timestamptz NOT NULL,
	misses		bigint NOT NULL DEFAULT 1,
	malformed	bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (network, minute)
);

CREATE INDEX share_miss_minute_idx ON share_miss (minute);

-- The share_misses job: the counts older than keep go.  Called through
-- query_to_xml() so that the job is a no-op before this migration.
CREATE FUNCTION share_miss_trim(keep interval) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n	integer;
BEGIN
	DELETE FROM share_miss WHERE minute < now() - keep;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

COMMENT ON TABLE share_miss IS
	'Share-link requests for unknown or malformed tokens, counted per client network (/24, /64) and minute';

-- ---------------------------------------------------------------------
-- Uses of a link without maxUses

-- A view of a link without maxUses does not touch its row (every view
-- of one link would queue on that row lock): the row takes the uses at
-- most once a minute, and the views since then are the link's
-- share.view audit rows after last_used_at (audit_log_actor_idx finds
-- them).  A link with maxUses counts every use on its row, exactly.
-- The list shows share_link_doc(s) || share_link_uses(s).
CREATE FUNCTION share_link_uses(s share_token) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT jsonb_build_object('useCount', s.use_count + p.n,
	    'lastUsedAt', rfc3339(greatest(s.last_used_at, p.last)))
	FROM (SELECT count(*) AS n, max(a.at) AS last FROM audit_log a
	      WHERE s.max_uses IS NULL AND s.last_used_at IS NOT NULL
	        AND a.actor = 'share:' || s.id AND a.at > s.last_used_at
	        AND a.action = 'share.view') p
$$;

COMMENT ON FUNCTION share_link_uses(share_token) IS
	'useCount and lastUsedAt of a link: its row''s, plus (without maxUses) its share.view audit rows since the row was last touched';
