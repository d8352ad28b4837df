/*
 * projects.c -- projects, their members, and "who am I" (SPEC §4,
 * "Projects and members").
 *
 * Owns: the projects statement table; the Perses Project document as
 * clients send it (kind, metadata.name, spec.display); the member
 * rules (roles, user names, the last project admin); keyset paging of
 * the project and member lists.
 * Never: decide who may call a route (the route table and authz.c did,
 * including the 404 for a project the caller has no role in); build
 * response JSON in C (PostgreSQL does, with project_doc() from
 * migrations/0002); create a member as a side effect of creating a
 * project (global administrators see every project anyway).
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "module.h"
#include "validate.h"

#define USER_MAX	128		/* characters of a member's user name */

/*
 * The lists go out through api_list(): a row per item and its key, the
 * cursor read with CURSOR_DEC (common.h), the last parameter the row
 * count (NULL: all).
 */

enum {
	PR_LIST, PR_GET, PR_CREATE, PR_UPDATE, PR_LOCK, PR_DELETE,
	MB_LIST, MB_LOCK, MB_PUT, MB_DELETE, PR_ME, PR__COUNT
};

static const struct stmt_def defs[PR__COUNT] = {
	/*
	 * $1 user, $2 all projects (global admin, anonymous mode),
	 * $3 cursor, $4 rows (NULL: all).
	 */
	[PR_LIST] = { "projects_list",
	    "SELECT project_doc(p)::text, p.name FROM project p"
	    " WHERE ($2::boolean OR EXISTS (SELECT 1 FROM project_member m"
	    " WHERE m.project = p.name AND m.user_name = $1::text))"
	    " AND ($3::text IS NULL OR p.name > " CURSOR_DEC("$3::text") ")"
	    " ORDER BY p.name LIMIT $4::int", 4, STMT_READONLY },
	[PR_GET] = { "project_get",
	    "SELECT project_doc(p)::text AS doc FROM project p "
	    "WHERE p.name = $1::text", 1 },
	/* $1 name, $2 display name, $3 description, $4 actor. */
	[PR_CREATE] = { "project_create",
	    "INSERT INTO project AS p (name, display, created_by, updated_by) "
	    "VALUES ($1::text, jsonb_strip_nulls(jsonb_build_object("
	    "'name', $2::text, 'description', $3::text)), $4::text, $4::text) "
	    "ON CONFLICT (name) DO NOTHING "
	    "RETURNING project_doc(p)::text AS doc, p.version,"
	    " jsonb_build_object('display', p.display)::text AS details", 4 },
	/* Every update is a version, as for dashboards. */
	[PR_UPDATE] = { "project_update",
	    "UPDATE project p SET display = jsonb_strip_nulls("
	    "jsonb_build_object('name', $2::text, 'description', $3::text)),"
	    " version = p.version + 1, updated_at = now(),"
	    " updated_by = $4::text "
	    "FROM (SELECT name, display, version FROM project"
	    " WHERE name = $1::text FOR UPDATE) o "
	    "WHERE p.name = o.name "
	    "RETURNING project_doc(p)::text AS doc, p.version, jsonb_build_object("
	    "'display', p.display, 'oldDisplay', o.display, 'oldVersion',"
	    " o.version, 'newVersion', p.version)::text AS details", 4 },
	/*
	 * Before PR_DELETE, in the same transaction: nothing can be added
	 * to the project (an insert that refers to it takes KEY SHARE on
	 * its row) between the count and the delete, so the audit row
	 * counts exactly what went.
	 */
	[PR_LOCK] = { "project_lock",
	    "SELECT 1 FROM project WHERE name = $1::text FOR UPDATE", 1 },
	/*
	 * The project and everything in it: its dashboards, live and in
	 * the trash, with their history and share links, and its members
	 * go by ON DELETE CASCADE (migrations/0006), as does what later
	 * modules keep per project.  The counts are taken from the same
	 * snapshot, before the delete.  No row: no such project.
	 */
	[PR_DELETE] = { "project_delete",
	    "WITH d AS (SELECT id, deleted_at FROM dashboard"
	    " WHERE project = $1::text),"
	    " n AS (SELECT (SELECT count(*) FROM d) AS dashboards,"
	    " (SELECT count(*) FROM d WHERE deleted_at IS NOT NULL) AS trashed,"
	    " (SELECT count(*) FROM dashboard_version v"
	    " JOIN d ON v.dashboard_id = d.id) AS versions,"
	    " (SELECT count(*) FROM share_token s"
	    " JOIN d ON s.dashboard_id = d.id) AS shares,"
	    " (SELECT count(*) FROM project_member"
	    " WHERE project = $1::text) AS members),"
	    " del AS (DELETE FROM project p WHERE p.name = $1::text"
	    " RETURNING p.display, p.version) "
	    "SELECT del.version, jsonb_build_object('display', del.display,"
	    " 'version', del.version, 'dashboards', n.dashboards,"
	    " 'trashed', n.trashed, 'versions', n.versions,"
	    " 'shares', n.shares, 'members', n.members)::text AS details "
	    "FROM del, n", 1 },

	/* Members sort by byte order so the keyset cursor is stable. */
	[MB_LIST] = { "members_list",
	    "SELECT jsonb_build_object('user', user_name, 'role', role)::text,"
	    " user_name FROM project_member WHERE project = $1::text"
	    " AND ($2::text IS NULL OR user_name COLLATE \"C\" > "
	    CURSOR_DEC("$2::text") ")"
	    " ORDER BY user_name COLLATE \"C\" LIMIT $3::int", 3, STMT_READONLY },
	/*
	 * Member changes of one project take turns on its row, so the
	 * last-admin check in the next statement (a fresh snapshot) sees
	 * every committed change: two admins demoting each other at once
	 * cannot leave the project without one.  NO KEY: dashboard writes
	 * (FOR KEY SHARE through the foreign key) are not held up.
	 */
	[MB_LOCK] = { "member_lock",
	    "SELECT 1 FROM project WHERE name = $1::text FOR NO KEY UPDATE", 1 },
	/*
	 * $1 project, $2 user, $3 role, $4 actor, $5 may remove the last
	 * admin (global admin).  No row in "up": refused as the last admin.
	 */
	[MB_PUT] = { "member_put",
	    "WITH old AS (SELECT role FROM project_member"
	    " WHERE project = $1::text AND user_name = $2::text),"
	    " others AS (SELECT count(*) AS n FROM project_member"
	    " WHERE project = $1::text AND role = 'admin'"
	    " AND user_name <> $2::text),"
	    " up AS (INSERT INTO project_member (project, user_name, role,"
	    " created_by, updated_by)"
	    " SELECT $1::text, $2::text, $3::text, $4::text, $4::text"
	    " WHERE $5::boolean OR $3::text = 'admin'"
	    " OR (SELECT role FROM old) IS DISTINCT FROM 'admin'"
	    " OR (SELECT n FROM others) > 0"
	    " ON CONFLICT (project, user_name) DO UPDATE"
	    " SET role = EXCLUDED.role, updated_at = now(),"
	    " updated_by = EXCLUDED.updated_by"
	    " RETURNING role) "
	    "SELECT (SELECT jsonb_build_object('user', $2::text, 'role', role)"
	    "::text FROM up) AS doc,"
	    " (SELECT jsonb_build_object('user', $2::text, 'role', up.role,"
	    " 'oldRole', (SELECT role FROM old))::text FROM up) AS details", 5 },
	/* $1 project, $2 user, $3 may remove the last admin. */
	[MB_DELETE] = { "member_delete",
	    "WITH old AS (SELECT role FROM project_member"
	    " WHERE project = $1::text AND user_name = $2::text),"
	    " others AS (SELECT count(*) AS n FROM project_member"
	    " WHERE project = $1::text AND role = 'admin'"
	    " AND user_name <> $2::text),"
	    " del AS (DELETE FROM project_member"
	    " WHERE project = $1::text AND user_name = $2::text"
	    " AND ($3::boolean OR role <> 'admin'"
	    " OR (SELECT n FROM others) > 0) RETURNING role) "
	    "SELECT (SELECT role FROM old) AS old_role,"
	    " (SELECT jsonb_build_object('user', $2::text, 'oldRole', role)"
	    "::text FROM del) AS details", 3 },

	/* Explicit memberships only, for global admins too. */
	[PR_ME] = { "me",
	    "SELECT jsonb_build_object('user', $1::text, 'admin', $2::boolean,"
	    " 'projects', coalesce((SELECT jsonb_object_agg(project, role)"
	    " FROM project_member WHERE user_name = $1::text), '{}'))::text"
	    " AS doc", 2 },
};
static const struct stmt_set projects_stmts = { "projects", defs, PR__COUNT };

/* Column col of row 0 by name; NULL for SQL NULL. */
static const char *
col(const PGresult *res, const char *col)
{
	int	 c = PQfnumber(res, col);

	return c < 0 ? NULL : api_val(res, c);
}

/* Column "doc" of row 0, the JSON PostgreSQL built, as the body. */
static void
send_doc(struct req *r, int status, const PGresult *res)
{
	api_send_col(r, status, res, PQfnumber(res, "doc"));
}

/* Column "details": audit details PostgreSQL built (NULL: none). */
static struct json_object *
details(const PGresult *res)
{
	const char	*s = col(res, "details");

	return s == NULL ? NULL : json_tokener_parse(s);
}

static void
project_not_found(struct req *r, const char *name)
{
	/* The same words as authz.c: a caller cannot tell the cases apart. */
	http_error(r, 404, "not_found", "project \"%s\" not found", name);
}

/* A Perses Project document as a client sends it. */
struct project_in {
	const char	*name;
	const char	*display_name;	/* NULL: absent */
	const char	*description;	/* NULL: absent */
};

static const char *const project_kind[] = { "Project", NULL };

/* spec.display: dashcgi keeps name and description, nothing else. */
static const struct api_field display_fields[] = {
	{ .name = "name", .type = API_STRING,
	  .at = API_AT(struct project_in, display_name) },
	{ .name = "description", .type = API_STRING,
	  .at = API_AT(struct project_in, description) },
};
static const struct api_body display_body = { API_FIELDS(display_fields),
	"a project's display has name and description", NULL };

static const struct api_field spec_fields[] = {
	{ .name = "display", .type = API_OBJECT, .flags = API_NULL_ABSENT,
	  .body = &display_body },
};
static const struct api_body spec_body = { API_FIELDS(spec_fields), NULL,
	NULL };

static const struct api_field metadata_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_REQUIRED,
	  .check = validate_name, .rule = API_NAME_RULE,
	  .at = API_AT(struct project_in, name) },
};
static const struct api_body metadata_body = { API_FIELDS(metadata_fields),
	NULL, NULL };

/*
 * The Perses Project shape.  A Perses document, so members dashcgi does
 * not keep pass (server-owned metadata such as createdAt, so a document
 * fetched from us can be sent back as is), except in spec.display,
 * where anything but name and description is refused rather than
 * silently dropped.
 */
static const struct api_field project_fields[] = {
	{ .name = "kind", .type = API_ENUM, .flags = API_REQUIRED,
	  .values = project_kind },
	{ .name = "metadata", .type = API_OBJECT, .flags = API_REQUIRED,
	  .body = &metadata_body },
	{ .name = "spec", .type = API_OBJECT, .flags = API_NULL_ABSENT,
	  .body = &spec_body },
};
static const struct api_body project_body = { API_FIELDS(project_fields),
	NULL, "the body must be a Perses Project document (a JSON object)" };

/* r->json as a project: 0, or -1 after answering 400. */
static int
project_parse(struct req *r, struct project_in *in)
{
	memset(in, 0, sizeof(*in));
	return api_body(r, &project_body, in);
}

/* C1 controls and Unicode white space (beyond ASCII). */
static int
uni_space(unsigned cp)
{
	static const unsigned	 sp[] = { 0x1680, 0x180e, 0x2028, 0x2029,
	    0x202f, 0x205f, 0x3000, 0xfeff };
	size_t			 i;

	if (cp <= 0xa0 || (cp >= 0x2000 && cp <= 0x200b))
		return 1;
	for (i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
		if (cp == sp[i])
			return 1;
	return 0;
}

/*
 * A member's user name as REMOTE_USER may carry it: 1 to USER_MAX
 * characters, printable, no whitespace or control characters.  Bytes
 * beyond ASCII must be well-formed UTF-8 (PostgreSQL would refuse
 * anything else with a less helpful message); C1 controls and
 * Unicode white space are refused like their ASCII kin.
 */
static int
user_valid(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 chars = 0;
	unsigned		 cp, min;
	int			 more, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			if (*p <= 0x20 || *p == 0x7f)
				return 0;
			p++;
		} else {
			if (*p >= 0xc2 && *p <= 0xdf)
				more = 1, cp = *p & 0x1f, min = 0x80;
			else if (*p >= 0xe0 && *p <= 0xef)
				more = 2, cp = *p & 0x0f, min = 0x800;
			else if (*p >= 0xf0 && *p <= 0xf4)
				more = 3, cp = *p & 0x07, min = 0x10000;
			else
				return 0;
			for (i = 1; i <= more; i++) {
				if ((p[i] & 0xc0) != 0x80)
					return 0;
				cp = cp << 6 | (p[i] & 0x3f);
			}
			if (cp < min || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff) || uni_space(cp))
				return 0;
			p += more + 1;
		}
		if (++chars > USER_MAX)
			return 0;
	}
	return chars > 0;
}

static int
user_param(struct req *r, const char **user)
{
	*user = api_param(r, "user");
	if (*user == NULL || !user_valid(*user)) {
		/* Not echoed: it may not even be UTF-8. */
		api_invalid(r, "user: not a valid user name: 1-%d printable "
		    "characters, no whitespace or control characters",
		    USER_MAX);
		return -1;
	}
	return 0;
}

static void
api_projects_list(struct req *r)
{
	const char	*p[4];

	/* Anonymous mode gives anonymous_role in every project. */
	p[0] = r->actor;
	p[1] = r->admin || r->cfg->auth.mode == AUTH_ANONYMOUS ? "t" : "f";
	p[2] = http_query(r, "cursor");
	api_list(r, &projects_stmts, PR_LIST, 4, p, NULL);
}

static void
api_project_get(struct req *r)
{
	const char	*p[1];
	PGresult	*res;

	p[0] = api_param(r, "project");
	if ((res = api_run(r, &projects_stmts, PR_GET, 1, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0)	/* deleted since authz looked */
		project_not_found(r, p[0]);
	else
		send_doc(r, 200, res);
out:
	PQclear(res);
}

static void
api_project_create(struct req *r)
{
	struct project_in	 in;
	const char		*p[4];
	PGresult		*res = NULL;

	if (project_parse(r, &in) == -1)
		goto out;
	p[0] = in.name;
	p[1] = in.display_name;
	p[2] = in.description;
	p[3] = r->actor;
	if ((res = api_run(r, &projects_stmts, PR_CREATE, 4, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		http_error(r, 409, "conflict", "project \"%s\" already exists",
		    in.name);
		goto out;
	}
	if (audit_change(r, in.name, NULL, atol(col(res, "version")),
	    details(res)) == -1)
		goto out;
	send_doc(r, 200, res);
out:
	PQclear(res);
}

static void
api_project_update(struct req *r)
{
	struct project_in	 in;
	const char		*p[4], *project = api_param(r, "project");
	PGresult		*res = NULL;

	if (project_parse(r, &in) == -1)
		goto out;
	if (strcmp(in.name, project) != 0) {
		api_invalid(r, "metadata.name: \"%s\" differs from the project "
		    "in the path (\"%s\"); a project cannot be renamed",
		    in.name, project);
		goto out;
	}
	p[0] = project;
	p[1] = in.display_name;
	p[2] = in.description;
	p[3] = r->actor;
	if ((res = api_run(r, &projects_stmts, PR_UPDATE, 4, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		project_not_found(r, project);
		goto out;
	}
	if (audit_change(r, project, NULL, atol(col(res, "version")),
	    details(res)) == -1)
		goto out;
	send_doc(r, 200, res);
out:
	PQclear(res);
}

/*
 * Everything in the project goes with it, as in Perses (whose UI
 * shows any answer to a DELETE as success, so a refusal would only
 * mislead).  The audit row counts what went.
 */
static void
api_project_delete(struct req *r)
{
	const char	*p[1];
	PGresult	*res = NULL;

	p[0] = api_param(r, "project");
	if ((res = api_run(r, &projects_stmts, PR_LOCK, 1, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		project_not_found(r, p[0]);	/* gone since authz looked */
		goto out;
	}
	PQclear(res);
	if ((res = api_run(r, &projects_stmts, PR_DELETE, 1, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		project_not_found(r, p[0]);
		goto out;
	}
	if (audit_change(r, p[0], NULL, atol(col(res, "version")),
	    details(res)) == -1)
		goto out;
	http_send(r, 204, NULL, NULL, 0);
out:
	PQclear(res);
}

static void
api_members_list(struct req *r)
{
	const char	*p[3];

	p[0] = api_param(r, "project");
	p[1] = http_query(r, "cursor");
	api_list(r, &projects_stmts, MB_LIST, 3, p, NULL);
}

/*
 * Take the project's member lock (MB_LOCK).  Returns 0, or -1 after
 * answering (404 if the project went away since authz looked).
 */
static int
members_lock(struct req *r, const char *project)
{
	PGresult	*res;
	int		 rc = -1;

	if ((res = api_run(r, &projects_stmts, MB_LOCK, 1, &project)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		project_not_found(r, project);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static void
last_admin(struct req *r, const char *project, const char *user)
{
	http_error(r, 409, "conflict", "\"%s\" is the last admin of project "
	    "\"%s\": make someone else admin first, or ask a global "
	    "administrator", user, project);
}

static const char *const roles[] = { "viewer", "editor", "admin", NULL };

/* PUT …/members/{user}: {"role"}, and "user" may echo the path. */
struct member_in {
	const char	*role;
	const char	*user;
};
static const struct api_field member_fields[] = {
	{ .name = "role", .type = API_ENUM, .flags = API_REQUIRED,
	  .values = roles, .at = API_AT(struct member_in, role) },
	{ .name = "user", .type = API_STRING,
	  .at = API_AT(struct member_in, user) },
};
static const struct api_body member_body = { API_FIELDS(member_fields),
	"a member has role and user", "the body must be a JSON object "
	"{\"role\": …}" };

static void
api_member_put(struct req *r)
{
	struct member_in	 in = { NULL, NULL };
	const char		*p[5], *project = api_param(r, "project");
	const char		*user, *role;
	PGresult		*res = NULL;

	if (user_param(r, &user) == -1)
		goto out;
	if (api_body(r, &member_body, &in) == -1)
		goto out;
	if (in.user != NULL && strcmp(in.user, user) != 0) {
		api_invalid(r, "user: \"%s\" differs from the user in the path "
		    "(\"%s\")", in.user, user);
		goto out;
	}
	role = in.role;
	if (members_lock(r, project) == -1)
		goto out;
	p[0] = project;
	p[1] = user;
	p[2] = role;
	p[3] = r->actor;
	p[4] = r->admin ? "t" : "f";
	if ((res = api_run(r, &projects_stmts, MB_PUT, 5, p)) == NULL)
		goto out;
	if (col(res, "doc") == NULL) {
		last_admin(r, project, user);
		goto out;
	}
	if (audit_change(r, project, user, AUDIT_NO_VERSION,
	    details(res)) == -1)
		goto out;
	send_doc(r, 200, res);
out:
	PQclear(res);
}

static void
api_member_delete(struct req *r)
{
	const char	*p[3], *project = api_param(r, "project"), *user;
	PGresult	*res = NULL;

	if (user_param(r, &user) == -1)
		goto out;
	if (members_lock(r, project) == -1)
		goto out;
	p[0] = project;
	p[1] = user;
	p[2] = r->admin ? "t" : "f";
	if ((res = api_run(r, &projects_stmts, MB_DELETE, 3, p)) == NULL)
		goto out;
	if (col(res, "old_role") == NULL) {
		http_error(r, 404, "not_found", "\"%s\" is not a member of "
		    "project \"%s\"", user, project);
		goto out;
	}
	if (col(res, "details") == NULL) {
		last_admin(r, project, user);
		goto out;
	}
	if (audit_change(r, project, user, AUDIT_NO_VERSION,
	    details(res)) == -1)
		goto out;
	http_send(r, 204, NULL, NULL, 0);
out:
	PQclear(res);
}

static void
api_me(struct req *r)
{
	const char	*p[2];
	PGresult	*res;

	p[0] = r->actor;
	p[1] = r->admin ? "t" : "f";
	if ((res = api_run(r, &projects_stmts, PR_ME, 2, p)) == NULL)
		return;
	send_doc(r, 200, res);
	PQclear(res);
}

static const struct route routes[] = {
	{ "GET",  "/api/v1/me",		api_me,		R_API, ROLE_NONE, NULL },
	{ "GET",  "/api/v1/projects",	api_projects_list, R_API, ROLE_NONE, NULL },
	{ "POST", "/api/v1/projects",	api_project_create, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "project.create" },
	{ "GET",  ROUTE_PROJECT, api_project_get, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  ROUTE_PROJECT, api_project_update, R_API | R_JSON,
	    ROLE_ADMIN, "project.update" },
	{ "DELETE", ROUTE_PROJECT, api_project_delete, R_API,
	    ROLE_GLOBAL_ADMIN, "project.delete" },
	{ "GET",  ROUTE_PROJECT "/members", api_members_list, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  ROUTE_PROJECT "/members/{user}", api_member_put, R_API | R_JSON,
	    ROLE_ADMIN, "member.update" },
	{ "DELETE", ROUTE_PROJECT "/members/{user}", api_member_delete, R_API,
	    ROLE_ADMIN, "member.delete" },
};

static const struct stmt_set *const stmt_sets[] = { &projects_stmts, NULL };

const struct module projects_module = {
	.name = "projects",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
