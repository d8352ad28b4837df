DROP FUNCTION hmac_sha256(bytea, bytea);
