/*
 * shares.c -- (being written) share links.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

static const struct stmt_def defs[] = {
	{ "shares_noop", "SELECT 1", 0 },
};
const struct stmt_set shares_stmts = { "shares", defs,
	sizeof(defs) / sizeof(defs[0]) };

void
api_share_create(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_shares_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_share_revoke(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_shared_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}
