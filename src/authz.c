/*
 * authz.c -- the route table's `role` column, enforced.
 *
 * Global administrators come from auth.admins; project roles from
 * project_member.  A caller without a role in a project gets the same
 * 404 as for a project that does not exist; a role too weak gets 403,
 * and the denial is audited (outside any transaction, so a rolled
 * back change still leaves its denial row).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "router.h"

enum { AZ_ROLE, AZ__COUNT };

static const struct stmt_def defs[AZ__COUNT] = {
	[AZ_ROLE] = { "authz_role",
	    "SELECT EXISTS (SELECT 1 FROM project WHERE name = $1::text), "
	    "(SELECT role FROM project_member "
	    "WHERE project = $1::text AND user_name = $2::text)", 2 },
};
const struct stmt_set authz_stmts = { "authz", defs, AZ__COUNT };

static const char *const names[] = {
	[ROLE_NONE] = "none", [ROLE_VIEWER] = "viewer",
	[ROLE_EDITOR] = "editor", [ROLE_ADMIN] = "admin",
	[ROLE_GLOBAL_ADMIN] = "global admin",
};

enum role
authz_role_parse(const char *s)
{
	if (s == NULL)
		return ROLE_NONE;
	if (strcmp(s, "viewer") == 0)
		return ROLE_VIEWER;
	if (strcmp(s, "editor") == 0)
		return ROLE_EDITOR;
	if (strcmp(s, "admin") == 0)
		return ROLE_ADMIN;
	return ROLE_NONE;
}

const char *
authz_role_name(enum role r)
{
	return r <= ROLE_GLOBAL_ADMIN ? names[r] : "?";
}

int
authz_global_admin(const struct req *r)
{
	size_t	 i;

	if (r->remote_user == NULL)
		return 0;
	for (i = 0; i < r->cfg->auth.nadmins; i++)
		if (strcmp(r->cfg->auth.admins[i], r->remote_user) == 0)
			return 1;
	return 0;
}

void
authz_deny(struct req *r, const char *project, const char *resource,
    const char *fmt, ...)
{
	char		 msg[256];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->tx) {
		/* The row must survive the rollback: dispatch writes it. */
		r->denied.set = 1;
		r->denied.project = arena_strdup(r->arena, project);
		r->denied.resource = arena_strdup(r->arena, resource);
		r->denied.reason = arena_strdup(r->arena, msg);
	} else {
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "reason",
		    json_object_new_string(msg));
		json_object_object_add(d, "method",
		    json_object_new_string(r->method));
		json_object_object_add(d, "route", json_object_new_string(
		    r->route ? r->route->pattern : r->path));
		audit_event(r, r->route && r->route->action ?
		    r->route->action : "access", project, resource,
		    AUDIT_NO_VERSION, "denied", d);
	}
	http_error(r, 403, "forbidden", "%s", msg);
}

int
authz_decide(struct req *r, const char *project, int exists,
    const char *roletext)
{
	enum role	 need = r->route->role, have;

	if (!exists) {
		http_error(r, 404, "not_found", "project \"%s\" not found",
		    project);
		return -1;
	}
	if (r->admin) {
		r->role = ROLE_ADMIN;
		return 0;
	}
	have = authz_role_parse(roletext);
	if (r->cfg->auth.mode == AUTH_ANONYMOUS &&
	    r->cfg->auth.anonymous_role > have)
		have = r->cfg->auth.anonymous_role;
	if (have == ROLE_NONE) {
		/* Indistinguishable from a project that does not exist. */
		http_error(r, 404, "not_found", "project \"%s\" not found",
		    project);
		return -1;
	}
	r->role = have;
	if (have < need) {
		authz_deny(r, project, NULL, "the %s role in project \"%s\" "
		    "is required; you have %s", authz_role_name(need),
		    project, authz_role_name(have));
		return -1;
	}
	return 0;
}

int
authz_route(struct req *r)
{
	const char	*project, *params[2], *code, *msg;
	enum role	 need = r->route->role;
	PGresult	*res;
	int		 rc;

	r->actor = r->remote_user ? r->remote_user : "anonymous";
	r->admin = authz_global_admin(r);
	if (need == ROLE_NONE)
		return 0;
	if (need == ROLE_GLOBAL_ADMIN) {
		if (r->admin)
			return 0;
		authz_deny(r, router_param(r->route, r->params, r->nparams,
		    "project"), NULL, "only a global administrator may do "
		    "this");
		return -1;
	}
	if (r->route->flags & R_ROLE_INLINE)
		return 0;
	project = router_param(r->route, r->params, r->nparams, "project");
	if (project == NULL) {
		log_error("route %s needs a role but has no {project}",
		    r->route->pattern);
		http_error(r, 500, "internal_error", "route misconfigured");
		return -1;
	}
	params[0] = project;
	params[1] = r->actor;
	res = db_run(&authz_stmts, AZ_ROLE, 2, params);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_http_status(res, &code, &msg);
		http_error(r, rc, code, "%s", msg);
		PQclear(res);
		return -1;
	}
	rc = authz_decide(r, project, PQgetvalue(res, 0, 0)[0] == 't',
	    PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}
