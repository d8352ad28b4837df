/*
 * audit.c -- (being written) handlers of the audit routes.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

static const struct stmt_def defs[] = {
	{ "auditlog_noop", "SELECT 1", 0 },
};
const struct stmt_set auditlog_stmts = { "auditlog", defs,
	sizeof(defs) / sizeof(defs[0]) };

void
api_audit_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

