/*
 * templates.c -- dashboard templates (SPEC §4, "Templates"): the
 * catalogue every user reads, its upkeep by global administrators, and
 * new project dashboards made from a template.
 *
 * Owns: the templates statement table; the template body as clients
 * send it ({"id","name","description","category","dashboard"}); the
 * from-template body ({"template","name","display"}); keyset paging of
 * the catalogue by (category, id).
 * Never: change or delete a system template (they ship in migration
 * 0003; 403, audited even though the change rolls back); store a
 * dashboard spec that validate_dashboard() refuses; count a use without
 * the dashboard it made (dashboard, template_usage row and usage_count
 * are one statement); decide who may call a route (router.c and
 * authz.c did); build response JSON in C (template_summary(),
 * template_doc() and dashboard_doc() in the migrations do).
 *
 * Errors: 400 "validation_failed" names the field ("dashboard.panels.x:
 * ..."); "bad_request" is kept for the query string (limit, cursor).
 */
#include <string.h>

#include "api/common.h"
#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "module.h"
#include "validate.h"

#define CATEGORY_DEFAULT	"general"

/*
 * The list goes out through api_list() (common.h), complete or a page
 * at a time; its cursor is "category/id" of the last row, read back
 * with CURSOR_DEC.  Both halves follow the
 * name rule, so "/" cannot occur in either.
 */

enum {
	TP_LIST, TP_GET, TP_CREATE, TP_LOCK, TP_UPDATE, TP_DELETE,
	TP_INSTANTIATE, TP__COUNT
};

static const struct stmt_def defs[TP__COUNT] = {
	/*
	 * $1 category (NULL: all), $2 cursor, $3 rows (NULL: all); a row
	 * per template and its key, for api_list().
	 */
	[TP_LIST] = { "templates_list",
	    "WITH cur AS (SELECT " CURSOR_DEC("$2::text") " AS k) "
	    "SELECT template_summary(t)::text, t.category || '/' || t.id"
	    " FROM dashboard_template t, cur"
	    " WHERE ($1::text IS NULL OR t.category = $1::text)"
	    " AND ($2::text IS NULL OR (t.category, t.id) >"
	    " (split_part(cur.k, '/', 1), split_part(cur.k, '/', 2)))"
	    " ORDER BY t.category, t.id LIMIT $3::int", 3, STMT_READONLY },
	[TP_GET] = { "template_get",
	    "SELECT template_doc(t)::text FROM dashboard_template t "
	    "WHERE t.id = $1::text", 1, STMT_READONLY },
	/*
	 * $1 id, $2 name, $3 description, $4 category, $5 dashboard spec,
	 * $6 actor.  No row: the id is taken.  is_system stays false: the
	 * API never makes a system template.
	 */
	[TP_CREATE] = { "template_create",
	    "INSERT INTO dashboard_template AS t (id, name, description,"
	    " category, dashboard, created_by, updated_by) "
	    "VALUES ($1::text, $2::text, $3::text, $4::text, $5::jsonb,"
	    " $6::text, $6::text) "
	    "ON CONFLICT (id) DO NOTHING "
	    "RETURNING template_doc(t)::text, t.version", 6 },
	/*
	 * Update and delete first take the row: an unknown id is 404, a
	 * system template 403, both before the body is looked at, and
	 * the row cannot change between this check and the write.
	 */
	[TP_LOCK] = { "template_lock",
	    "SELECT is_system, version FROM dashboard_template "
	    "WHERE id = $1::text FOR UPDATE", 1 },
	/* $1 id, $2..$5 as for create, $6 actor. */
	[TP_UPDATE] = { "template_update",
	    "UPDATE dashboard_template AS t SET name = $2::text,"
	    " description = $3::text, category = $4::text,"
	    " dashboard = $5::jsonb, version = t.version + 1,"
	    " updated_at = now(), updated_by = $6::text "
	    "WHERE t.id = $1::text AND NOT t.is_system "
	    "RETURNING template_doc(t)::text, t.version", 6 },
	/* Its template_usage rows go with it (ON DELETE CASCADE). */
	[TP_DELETE] = { "template_delete",
	    "DELETE FROM dashboard_template "
	    "WHERE id = $1::text AND NOT is_system "
	    "RETURNING version, usage_count", 1 },
	/*
	 * $1 project, $2 template, $3 dashboard name, $4 display members
	 * that replace the template's (NULL: none), $5 actor.  The
	 * dashboard, its template_usage row and the template's counter
	 * are one statement, so usage_count is right at once and agrees
	 * with what update_template_usage_stats() recomputes.  Columns:
	 * does the template exist, the new document (NULL: the name is
	 * taken by a live dashboard).
	 */
	[TP_INSTANTIATE] = { "template_instantiate",
	    "WITH tpl AS (SELECT id, dashboard FROM dashboard_template"
	    " WHERE id = $2::text), "
	    "d AS (INSERT INTO dashboard AS d (project, name, spec,"
	    " created_by, updated_by)"
	    " SELECT $1::text, $3::text, CASE WHEN $4::jsonb IS NULL"
	    " THEN tpl.dashboard ELSE jsonb_set(tpl.dashboard, '{display}',"
	    " coalesce(tpl.dashboard -> 'display', '{}') || $4::jsonb) END,"
	    " $5::text, $5::text FROM tpl"
	    " ON CONFLICT (project, name) WHERE deleted_at IS NULL DO NOTHING"
	    " RETURNING d.name, dashboard_doc(d) AS doc), "
	    "u AS (INSERT INTO template_usage (template_id, project,"
	    " dashboard, used_by)"
	    " SELECT $2::text, $1::text, d.name, $5::text FROM d), "
	    "n AS (UPDATE dashboard_template t"
	    " SET usage_count = t.usage_count + 1, last_used_at = now()"
	    " FROM d WHERE t.id = $2::text) "
	    "SELECT EXISTS (SELECT 1 FROM tpl) AS found,"
	    " (SELECT doc::text FROM d) AS doc", 5 },
};
static const struct stmt_set templates_stmts = { "templates", defs, TP__COUNT };

static void
template_not_found(struct req *r, const char *id)
{
	http_error(r, 404, "not_found", "template \"%s\" not found", id);
}

/*
 * Run a Perses spec through validate_dashboard() inside the Dashboard
 * document it would become.  The validator's paths start at "spec";
 * the client sent that object as "dashboard", so that is the name the
 * message uses.  Returns 0, or -1 after answering 400.
 */
static int
check_spec(struct req *r, const char *id, struct json_object *spec)
{
	struct json_object	*doc, *md;
	char			 err[VALIDATE_ERR_MAX];
	int			 rc;

	doc = json_object_new_object();
	md = json_object_new_object();
	/* No project: a template belongs to none (the validator allows it). */
	json_object_object_add(md, "name", json_object_new_string(id));
	json_object_object_add(doc, "kind",
	    json_object_new_string("Dashboard"));
	json_object_object_add(doc, "metadata", md);
	/* Borrowed from r->json: take a reference for doc to drop. */
	json_object_object_add(doc, "spec", json_object_get(spec));
	err[0] = '\0';
	rc = validate_dashboard(doc, err, sizeof(err));
	json_object_put(doc);
	if (rc == 0)
		return 0;
	if (strncmp(err, "spec", 4) == 0)
		api_invalid(r, "dashboard%s", err + 4);
	else
		api_invalid(r, "dashboard: %s", err);
	return -1;
}

/* A template as a client sends it; strings borrowed from r->json. */
struct template_in {
	const char		*id;
	const char		*name;
	const char		*description;
	const char		*category;
	int			 is_system;
	struct json_object	*spec;
	const char		*dashboard;	/* the spec, serialised */
};

/*
 * The body of POST and PUT.  PUT replaces: what is left out takes its
 * default (description "", category "general").  The members GET
 * returns besides (version, usageCount, createdAt) are the server's and
 * ignored, so a fetched template can be sent back; isSystem true is
 * refused, not ignored: system templates only come from the
 * migrations.
 */
static const struct api_field template_fields[] = {
	{ .name = "id", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .check = validate_name, .rule = API_NAME_RULE,
	  .at = API_AT(struct template_in, id) },
	{ .name = "name", .type = API_STRING,
	  .flags = API_REQUIRED | API_NULL_ABSENT, .min = 1,
	  .at = API_AT(struct template_in, name) },
	{ .name = "description", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct template_in, description) },
	{ .name = "category", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .check = validate_name, .rule = API_NAME_RULE,
	  .at = API_AT(struct template_in, category) },
	{ .name = "isSystem", .type = API_BOOL, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct template_in, is_system) },
	{ .name = "dashboard", .type = API_OBJECT,
	  .flags = API_REQUIRED | API_NULL_ABSENT,
	  .expect = "must be an object (a Perses dashboard spec: display, "
	  "duration, variables, panels, layouts)",
	  .at = API_AT(struct template_in, spec) },
	{ .name = "version", .type = API_ANY },
	{ .name = "usageCount", .type = API_ANY },
	{ .name = "createdAt", .type = API_ANY },
};
static const struct api_body template_body = { API_FIELDS(template_fields),
	"a template has id, name, description, category and dashboard",
	"the body must be a template: a JSON object with id, name, "
	"description, category and dashboard" };

/*
 * r->json as a template.  path_id is the {id} of a PUT (a body's id
 * may only repeat it), NULL for POST (the id is required).  Returns 0,
 * or -1 after answering 400.
 */
static int
template_parse(struct req *r, const char *path_id, struct template_in *in)
{
	memset(in, 0, sizeof(*in));
	in->description = "";
	in->category = CATEGORY_DEFAULT;
	if (api_body(r, &template_body, in) == -1)
		return -1;
	if (path_id != NULL) {
		if (in->id != NULL && strcmp(in->id, path_id) != 0) {
			api_invalid(r, "id: \"%s\" differs from the template "
			    "in the path (\"%s\"); a template cannot be "
			    "renamed", in->id, path_id);
			return -1;
		}
		in->id = path_id;
	} else if (in->id == NULL) {
		api_invalid(r, "id: required");
		return -1;
	}
	if (in->is_system) {
		api_invalid(r, "isSystem: system templates ship with dashcgi's "
		    "migrations and cannot be made through the API");
		return -1;
	}
	if (check_spec(r, in->id, in->spec) == -1)
		return -1;
	/* Owned by the spec, which lives as long as r->json. */
	in->dashboard = json_object_to_json_string_ext(in->spec,
	    JSON_C_TO_STRING_PLAIN);
	return 0;
}

static void
api_templates_list(struct req *r)
{
	const char	*p[3];

	p[0] = http_query(r, "category");
	if (p[0] != NULL && !validate_name(p[0])) {
		http_error(r, 400, "bad_request", "category: \"%s\" is not a "
		    "category: 1-75 characters of [a-zA-Z0-9_.-]", p[0]);
		return;
	}
	/* The next page's Link keeps the category with the query. */
	p[1] = http_query(r, "cursor");
	api_list(r, &templates_stmts, TP_LIST, 3, p, NULL);
}

static void
api_template_get(struct req *r)
{
	const char	*p[1];
	PGresult	*res;

	p[0] = api_param(r, "id");
	if ((res = api_run(r, &templates_stmts, TP_GET, 1, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0)
		template_not_found(r, p[0]);
	else
		api_send_col(r, 200, res, 0);
out:
	PQclear(res);
}

static void
api_template_create(struct req *r)
{
	struct template_in	 in;
	struct json_object	*d;
	const char		*p[6];
	PGresult		*res = NULL;

	if (template_parse(r, NULL, &in) == -1)
		goto out;
	p[0] = in.id;
	p[1] = in.name;
	p[2] = in.description;
	p[3] = in.category;
	p[4] = in.dashboard;
	p[5] = r->actor;
	if ((res = api_run(r, &templates_stmts, TP_CREATE, 6, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		http_error(r, 409, "conflict", "template \"%s\" already exists",
		    in.id);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "category",
	    json_object_new_string(in.category));
	if (audit_change(r, NULL, in.id, api_val_long(res, 1), d) == -1)
		goto out;
	/* The id follows the name rule: nothing to escape. */
	http_header(r, "Location", "/api/v1/templates/%s", in.id);
	api_send_col(r, 201, res, 0);
out:
	PQclear(res);
}

/*
 * Take the row of a template to change: 0 with *version set, or -1
 * after answering 404 (unknown), 403 (system template, audited as
 * denied) or the database error.
 */
static int
lock_custom(struct req *r, const char *id, long *version)
{
	const char	*p[1];
	PGresult	*res;
	int		 rc = -1;

	p[0] = id;
	if ((res = api_run(r, &templates_stmts, TP_LOCK, 1, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		template_not_found(r, id);
		goto out;
	}
	if (api_val_bool(res, 0)) {
		authz_deny(r, NULL, id, "system template \"%s\" is immutable",
		    id);
		goto out;
	}
	*version = api_val_long(res, 1);
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static void
api_template_update(struct req *r)
{
	struct template_in	 in;
	struct json_object	*d;
	const char		*p[6], *id = api_param(r, "id");
	PGresult		*res = NULL;
	long			 oldv, newv;

	if (lock_custom(r, id, &oldv) == -1)
		goto out;
	if (template_parse(r, id, &in) == -1)
		goto out;
	p[0] = id;
	p[1] = in.name;
	p[2] = in.description;
	p[3] = in.category;
	p[4] = in.dashboard;
	p[5] = r->actor;
	if ((res = api_run(r, &templates_stmts, TP_UPDATE, 6, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {	/* cannot happen under the lock */
		template_not_found(r, id);
		goto out;
	}
	newv = api_val_long(res, 1);
	d = json_object_new_object();
	json_object_object_add(d, "oldVersion", json_object_new_int64(oldv));
	json_object_object_add(d, "newVersion", json_object_new_int64(newv));
	if (audit_change(r, NULL, id, newv, d) == -1)
		goto out;
	api_send_col(r, 200, res, 0);
out:
	PQclear(res);
}

static void
api_template_delete(struct req *r)
{
	struct json_object	*d;
	const char		*p[1], *id = api_param(r, "id");
	PGresult		*res = NULL;
	long			 version;

	if (lock_custom(r, id, &version) == -1)
		goto out;
	p[0] = id;
	if ((res = api_run(r, &templates_stmts, TP_DELETE, 1, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {	/* cannot happen under the lock */
		template_not_found(r, id);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "usageCount",
	    json_object_new_int64(api_val_long(res, 1)));
	if (audit_change(r, NULL, id, version, d) == -1)
		goto out;
	http_send(r, 204, NULL, "", 0);
out:
	PQclear(res);
}

/*
 * POST /api/v1/projects/{project}/dashboards/from-template
 * {"template":"model-serving","name":"ms-prod","display":{"name":…}}
 * The new dashboard's spec is the template's; members of "display"
 * replace the template's display members (name, description).
 */
static const struct api_field display_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT },
	{ .name = "description", .type = API_STRING, .flags = API_NULL_ABSENT },
};
static const struct api_body display_body = { API_FIELDS(display_fields),
	"a display has name and description", NULL };

struct from_template_in {
	const char		*tpl;
	const char		*name;
	struct json_object	*display;
};
static const struct api_field from_template_fields[] = {
	{ .name = "template", .type = API_STRING,
	  .flags = API_REQUIRED | API_NULL_ABSENT, .min = 1,
	  .expect = "must be the id of a template",
	  .at = API_AT(struct from_template_in, tpl) },
	{ .name = "name", .type = API_STRING,
	  .flags = API_REQUIRED | API_NULL_ABSENT, .check = validate_name,
	  .rule = API_NAME_RULE, .at = API_AT(struct from_template_in, name) },
	{ .name = "display", .type = API_OBJECT, .flags = API_NULL_ABSENT,
	  .body = &display_body,
	  .at = API_AT(struct from_template_in, display) },
};
static const struct api_body from_template_body = {
	API_FIELDS(from_template_fields),
	"the body has template, name and display",
	"the body must be a JSON object: {\"template\", \"name\", "
	"\"display\"}" };

static void
api_dashboard_from_template(struct req *r)
{
	struct from_template_in	 in = { NULL, NULL, NULL };
	struct json_object	*d;
	const char		*p[5], *tpl, *name;
	PGresult		*res = NULL;
	int			 c;

	if (api_body(r, &from_template_body, &in) == -1)
		goto out;
	tpl = in.tpl;
	name = in.name;
	p[3] = in.display == NULL ? NULL : json_object_to_json_string_ext(
	    in.display, JSON_C_TO_STRING_PLAIN);
	p[0] = api_param(r, "project");
	p[1] = tpl;
	p[2] = name;
	p[4] = r->actor;
	if ((res = api_run(r, &templates_stmts, TP_INSTANTIATE, 5, p)) == NULL)
		goto out;
	if (!api_val_bool(res, PQfnumber(res, "found"))) {
		template_not_found(r, tpl);
		goto out;
	}
	if (api_val_null(res, (c = PQfnumber(res, "doc")))) {
		http_error(r, 409, "conflict", "dashboard \"%s\" already "
		    "exists in project \"%s\"", name, p[0]);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "template", json_object_new_string(tpl));
	if (audit_change(r, p[0], name, 0, d) == -1)
		goto out;
	http_header(r, "ETag", "\"0\"");
	api_send_col(r, 200, res, c);
out:
	PQclear(res);
}

static const struct route routes[] = {
	{ "POST", ROUTE_PROJECT "/dashboards/from-template", api_dashboard_from_template,
	    R_API | R_JSON, ROLE_EDITOR, "dashboard.create" },
	{ "GET",  "/api/v1/templates",	api_templates_list, R_API, ROLE_NONE,
	    NULL },
	{ "POST", "/api/v1/templates",	api_template_create, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "template.create" },
	{ "GET",  "/api/v1/templates/{id}", api_template_get, R_API, ROLE_NONE,
	    NULL },
	{ "PUT",  "/api/v1/templates/{id}", api_template_update, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "template.update" },
	{ "DELETE", "/api/v1/templates/{id}", api_template_delete, R_API,
	    ROLE_GLOBAL_ADMIN, "template.delete" },
};

static const struct stmt_set *const stmt_sets[] = { &templates_stmts, NULL };

static const struct job jobs[] = {
	{ "template_usage", "updated",
	  "SELECT update_template_usage_stats()", NULL, NULL, 0 },
};

const struct module templates_module = {
	.name = "templates",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = jobs,
	.njobs = sizeof(jobs) / sizeof(jobs[0]),
};
