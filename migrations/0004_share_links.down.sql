-- 0004_share_links.down.sql -- reverts 0004_share_links.up.sql: the
-- share-link functions.  The share_token table and its rows are 0001's
-- and stay.

DROP FUNCTION share_cidrs(jsonb);
DROP FUNCTION share_link_doc(share_token);
DROP FUNCTION share_refusal(share_token, dashboard, inet);
DROP FUNCTION share_status(share_token);
