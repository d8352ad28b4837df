/*
 * templates.c -- (being written) handlers of the templates routes.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

static const struct stmt_def defs[] = {
	{ "templates_noop", "SELECT 1", 0 },
};
const struct stmt_set templates_stmts = { "templates", defs, sizeof(defs) / sizeof(defs[0]) };

void
api_templates_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_template_create(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_template_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_template_update(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_template_delete(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_from_template(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

