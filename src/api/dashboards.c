/*
 * dashboards.c -- (being written) handlers of the dashboards routes.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

static const struct stmt_def defs[] = {
	{ "dashboards_noop", "SELECT 1", 0 },
};
const struct stmt_set dashboards_stmts = { "dashboards", defs, sizeof(defs) / sizeof(defs[0]) };

void
api_dashboards_list_all(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboards_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_create(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_update(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_delete(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_versions(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_version_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_version_restore(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_state_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_dashboard_state_put(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_trash_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_trash_restore(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_project_export(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_project_import(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

