-- 0004_share_links: what the share-link routes (src/api/shares.c, SPEC
-- §4 "Share links") need from the database: a link's status, the
-- document the API lists for it, the reason a use of it is refused, and
-- the parsing of allowedCidrs with errors that name the bad element.
--
-- The share_token table itself is 0001's.  Tokens never reach the
-- database in clear except as the argument of sha256() in the statement
-- that stores or looks up their hash.

-- ---------------------------------------------------------------------
-- Status and refusal

-- A link's status as the list shows it.  Revocation wins over expiry,
-- and expiry over exhaustion: the first is what someone did, the last
-- the least permanent.
CREATE FUNCTION share_status(s share_token) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE
		WHEN s.revoked_at IS NOT NULL THEN 'revoked'
		WHEN s.expires_at <= now() THEN 'expired'
		WHEN s.max_uses IS NOT NULL AND s.use_count >= s.max_uses
			THEN 'exhausted'
		ELSE 'active'
	END;

COMMENT ON FUNCTION share_status(share_token) IS
	'active, expired, revoked or exhausted (use_count reached max_uses)';

-- Why a use of link s of dashboard d from client address addr is
-- refused, or NULL when it may be served.  The client sees the same 404
-- for all of these; the audit row keeps the reason.  An unknown address
-- (NULL: not an IP, e.g. a unix socket peer) passes only a link without
-- CIDRs.  The CIDR test comes before the use count, so a refused
-- address never spends a use.
CREATE FUNCTION share_refusal(s share_token, d dashboard, addr inet)
	RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE
		WHEN s.id IS NULL THEN 'unknown'
		WHEN d.deleted_at IS NOT NULL THEN 'deleted'
		WHEN s.revoked_at IS NOT NULL THEN 'revoked'
		WHEN s.expires_at <= now() THEN 'expired'
		WHEN cardinality(s.allowed_cidrs) > 0
		    AND NOT coalesce(addr <<= ANY (s.allowed_cidrs), false)
			THEN 'cidr'
		WHEN s.max_uses IS NOT NULL AND s.use_count >= s.max_uses
			THEN 'exhausted'
	END;

COMMENT ON FUNCTION share_refusal(share_token, dashboard, inet) IS
	'NULL if the link may serve client addr now, else the reason: unknown, deleted (dashboard in the trash), revoked, expired, cidr, exhausted';

-- ---------------------------------------------------------------------
-- Documents

-- One entry of GET .../shares.  Never the token: only its hash is
-- stored, and the hash is not shown either.
CREATE FUNCTION share_link_doc(s share_token) RETURNS jsonb
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

COMMENT ON FUNCTION share_link_doc(share_token) IS
	'A share link as GET .../dashboards/{name}/shares lists it (no token, no hash)';

-- ---------------------------------------------------------------------
-- allowedCidrs

-- The allowedCidrs member of a create request (a JSON array of
-- strings) as cidr[], parsed by PostgreSQL's own cidr type.  A bad
-- element raises invalid_text_representation (22P02) with a message
-- that starts with its path, allowedCidrs[i], and says what is wrong;
-- an address with bits set right of its mask ("10.0.0.1/8", which inet
-- takes and cidr does not) gets the network it probably meant.
CREATE FUNCTION share_cidrs(a jsonb) RETURNS cidr[]
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
	nets	cidr[] := '{}';
	e	jsonb;
	s	text;
	host	inet;
	i	integer := 0;
BEGIN
	IF jsonb_typeof(a) <> 'array' THEN
		RAISE EXCEPTION 'allowedCidrs: must be an array of networks such as "10.0.0.0/8"'
			USING ERRCODE = 'invalid_text_representation';
	END IF;
	FOR e IN SELECT value FROM jsonb_array_elements(a) LOOP
		IF jsonb_typeof(e) <> 'string' THEN
			RAISE EXCEPTION 'allowedCidrs[%]: must be a string such as "10.0.0.0/8"', i
				USING ERRCODE = 'invalid_text_representation';
		END IF;
		s := e #>> '{}';
		BEGIN
			nets := nets || s::cidr;
		EXCEPTION WHEN invalid_text_representation OR invalid_binary_representation THEN
			BEGIN
				host := s::inet;
			EXCEPTION WHEN invalid_text_representation OR invalid_binary_representation THEN
				host := NULL;
			END;
			IF host IS NOT NULL THEN
				RAISE EXCEPTION 'allowedCidrs[%]: "%" is not a network: it has bits set to the right of the /% mask (did you mean "%"?)',
					i, s, masklen(host), network(host)
					USING ERRCODE = 'invalid_text_representation';
			END IF;
			RAISE EXCEPTION 'allowedCidrs[%]: "%" is not an IPv4 or IPv6 network (expected CIDR notation such as "10.0.0.0/8" or "2001:db8::/32")',
				i, s
				USING ERRCODE = 'invalid_text_representation';
		END;
		i := i + 1;
	END LOOP;
	RETURN nets;
END;
$$;

COMMENT ON FUNCTION share_cidrs(jsonb) IS
	'Parse a JSON array of CIDR strings into cidr[]; a bad element raises 22P02 naming allowedCidrs[i] and the value';
