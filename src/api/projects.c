/*
 * projects.c -- (being written) handlers of the projects routes.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

static const struct stmt_def defs[] = {
	{ "projects_noop", "SELECT 1", 0 },
};
const struct stmt_set projects_stmts = { "projects", defs, sizeof(defs) / sizeof(defs[0]) };

void
api_me(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_projects_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_project_create(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_project_get(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_project_update(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_project_delete(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_members_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_member_put(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

void
api_member_delete(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

