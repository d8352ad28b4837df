/*
 * preferences.c -- (being written) handlers of the preferences routes.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

static const struct stmt_def defs[] = {
	{ "preferences_noop", "SELECT 1", 0 },
};
const struct stmt_set preferences_stmts = { "preferences", defs, sizeof(defs) / sizeof(defs[0]) };

void
api_prefs_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_prefs_put(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

