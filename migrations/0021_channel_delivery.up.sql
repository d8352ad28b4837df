-- 0021: a notification is sent with its channel's stored headers and,
-- when the channel has a secret, signed with it: X-Dashcgi-Signature:
-- sha256=<hex HMAC-SHA256 of the body>, the scheme of GitHub's
-- X-Hub-Signature-256.  The HMAC is computed here, where the secret
-- lives, so the secret never leaves PostgreSQL (RFC 2104, block 64).
CREATE FUNCTION hmac_sha256(key bytea, msg bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	k	bytea := key;
	ipad	bytea;
	opad	bytea;
BEGIN
	IF length(k) > 64 THEN
		k := sha256(k);
	END IF;
	k := k || decode(repeat('00', 64 - length(k)), 'hex');
	ipad := k;
	opad := k;
	FOR i IN 0..63 LOOP
		ipad := set_byte(ipad, i, get_byte(k, i) # 54);	-- 0x36
		opad := set_byte(opad, i, get_byte(k, i) # 92);	-- 0x5c
	END LOOP;
	RETURN sha256(opad || sha256(ipad || msg));
END
$$;
COMMENT ON FUNCTION hmac_sha256(bytea, bytea) IS
	'HMAC-SHA256 (RFC 2104): notification signatures with a channel''s secret';
