/*
 * perses.c -- what the Perses UI needs besides dashboards (SPEC §4,
 * §11 "Datasource documents"): GET /api/config, POST /api/v1/view, the
 * Datasource, GlobalDatasource, Variable and GlobalVariable resources,
 * and /api/validate for those four kinds.
 *
 * Owns: the ConfigModel dashcgi answers (a constant: nginx
 * authenticates, so Perses's own auth is off); the view counter's
 * input; the statement table of datasources and variables; the
 * document envelope (kind, metadata against the path) and the scope
 * rules: built-in names, one default per plugin kind (the specs
 * themselves are validate_resource.c's).
 * Never: store or change the built-in datasources "dashcgi" and
 * "dashcgi-alerts" (migration 0007 makes them in SQL for every scope
 * and reserves their names); build response JSON in C (datasource_doc(),
 * variable_doc() and datasource_scope() in the migration do); answer a
 * change without its audit row; decide who may call a route (router.c
 * and authz.c did, from the role column).
 *
 * Locking is the dashboards' (SPEC §4): If-Match "N" that is not the
 * current version → 412; else metadata.version → 409 only when a later
 * version was written by someone else (the *_edit tables keep who wrote
 * each version); neither → 428 while dashboards.require_version.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "metrics.h"
#include "module.h"
#include "validate.h"
#include "validate_resource.h"

/* ------------------------------------------------------------------ */
/* GET /api/config */

/*
 * Perses's ConfigModel as its server answers it with this setup:
 * authentication off (nginx did it: REMOTE_USER), writable, a database
 * it does not describe, global and project datasources and variables
 * on, no ephemeral dashboards, the explorer on (the built-in dashcgi
 * datasource answers PromQL selectors, §11), and the time-range options
 * Perses ships by default (pkg/model/api/config/frontend.go), which the
 * v0.52 UI reads without a guard.  Public, as in Perses: the UI reads
 * it before anything else, to learn whether it must log in.
 */
static const char config_model[] =
    "{\"security\":{\"readonly\":false,"
    "\"cookie\":{\"same_site\":\"lax\",\"secure\":false},"
    "\"enable_auth\":false,"
    "\"authorization\":{\"check_latest_update_interval\":\"30s\"},"
    "\"authentication\":{\"access_token_ttl\":\"15m\","
    "\"refresh_token_ttl\":\"1d\",\"disable_sign_up\":true,"
    "\"providers\":{\"enable_native\":false}},"
    "\"cors\":{\"enable\":false}},"
    "\"database\":{},"
    "\"dashboard\":{},"
    "\"datasource\":{\"global\":{\"disable\":false},"
    "\"project\":{\"disable\":false},\"disable_local\":false},"
    "\"variable\":{\"global\":{\"disable\":false},"
    "\"project\":{\"disable\":false},\"disable_local\":false},"
    "\"ephemeral_dashboard\":{\"enable\":false,\"cleanup_interval\":\"0s\"},"
    "\"frontend\":{\"disable\":false,\"explorer\":{\"enable\":true},"
    "\"time_range\":{\"disable_custom\":false,\"disable_zoom\":false,"
    "\"options\":[\"5m\",\"15m\",\"30m\",\"1h\",\"6h\",\"12h\",\"1d\","
    "\"1w\",\"2w\"]}}}";

static void
api_config(struct req *r)
{
	http_send_json(r, 200, config_model, sizeof(config_model) - 1);
}

/* ------------------------------------------------------------------ */
/* Statements */

/* A LIKE pattern matching x literally (backslash is LIKE's escape). */
#define LIKE_ESC(x)							\
	"replace(replace(replace(" x ", '\\', '\\\\'), '%', '\\%'), '_', '\\_')"

/* List filters on a scope's rows s: $2 name prefix, $3 kind, $4 default. */
#define FILTERS								\
	" ($2::text IS NULL OR s.name LIKE " LIKE_ESC("$2::text")	\
	" || '%') AND ($3::text IS NULL OR s.plugin_kind = $3::text)"	\
	" AND ($4::boolean IS NULL OR s.is_default = $4::boolean)"

/*
 * A page of rows numbered n: the array of the first `limit` ($L, NULL:
 * all) that fit in max_page_bytes ($B: the first always goes; b is
 * the page's size through row n, less one), and the last key it holds
 * when more follow (C encodes it).  The documents are joined as text
 * as they are: jsonb_agg would build and re-sort one big jsonb first
 * (2.3x the time, issue 16, item 21).
 */
#define PAGE_IN(L, B)							\
	" (" L "::int IS NULL OR (q.n <= " L "::int"			\
	" AND (q.n = 1 OR q.b + 1 <= " B "::bigint)))"
#define PAGE_OUT(L, B)							\
	", sized AS (SELECT p.k, p.t, p.n, sum(octet_length(p.t) + 1)"	\
	" OVER (ORDER BY p.n) AS b FROM page p)"			\
	" SELECT '[' || coalesce(string_agg(q.t, ',' ORDER BY q.n)"	\
	" FILTER (WHERE" PAGE_IN(L, B) "), '') || ']',"			\
	" CASE WHEN count(*) > count(*) FILTER (WHERE" PAGE_IN(L, B) ")" \
	" THEN (array_agg(q.k ORDER BY q.n DESC)"			\
	" FILTER (WHERE" PAGE_IN(L, B) "))[1] END FROM sized q"

/*
 * One scope ($1 project, NULL: global): $2-$4 filters, $5 cursor (the
 * last name, decoded), $6 limit, $7 max_page_bytes.
 */
#define LIST_SCOPE(fn)							\
	"WITH page AS (SELECT s.name COLLATE \"C\" AS k, s.doc::text AS t,"\
	" row_number() OVER (ORDER BY s.name COLLATE \"C\") AS n"	\
	" FROM " fn "($1::text, datasource_builtin_since($1::text)) s"	\
	" WHERE" FILTERS " AND ($5::text IS NULL"			\
	" OR s.name COLLATE \"C\" > $5::text COLLATE \"C\")"		\
	" ORDER BY s.name COLLATE \"C\" LIMIT $6::int + 1)"		\
	PAGE_OUT("$6", "$7")

/*
 * Every project the caller can read: $1 one project or NULL, $2-$4
 * filters, $5 caller, $6 sees all, $7 cursor ("project/name", decoded),
 * $8 limit, $9 max_page_bytes.
 */
#define LIST_ALL(fn)							\
	"WITH vis AS (SELECT p.name, p.created_at FROM project p"	\
	" WHERE ($1::text IS NULL OR p.name = $1::text) AND ($6::boolean"\
	" OR EXISTS (SELECT 1 FROM project_member m"			\
	" WHERE m.project = p.name AND m.user_name = $5::text))),"	\
	" page AS (SELECT v.name || '/' || s.name AS k, s.doc::text AS t,"\
	" row_number() OVER (ORDER BY v.name, s.name COLLATE \"C\") AS n"\
	" FROM vis v CROSS JOIN LATERAL " fn "(v.name, v.created_at) s"	\
	" WHERE" FILTERS " AND ($7::text IS NULL OR (v.name,"		\
	" s.name COLLATE \"C\") > (split_part($7::text, '/', 1),"	\
	" split_part($7::text, '/', 2) COLLATE \"C\"))"			\
	" ORDER BY v.name, s.name COLLATE \"C\" LIMIT $8::int + 1)"	\
	PAGE_OUT("$8", "$9")

/* One document of scope $1 named $2: the document and its version. */
#define GET_ONE(fn)							\
	"SELECT s.doc::text, (s.doc -> 'metadata' ->> 'version')::int"	\
	" FROM " fn "($1::text, datasource_builtin_since($1::text)) s"	\
	" WHERE s.name = $2::text"

/*
 * The stored default of the same plugin kind in the scope, other than
 * $2, when the new spec ($S) is a default: Perses refuses a second.
 */
#define DS_OTHER_DEFAULT(S)						\
	"other AS (SELECT d.name FROM datasource d"			\
	" WHERE d.project IS NOT DISTINCT FROM $1::text AND d.is_default"\
	" AND " S "::jsonb -> 'default' = 'true'::jsonb"		\
	" AND d.plugin_kind = " S "::jsonb -> 'plugin' ->> 'kind'"	\
	" AND d.name <> $2::text ORDER BY d.name LIMIT 1)"
#define NO_OTHER	"other AS (SELECT NULL::text AS name WHERE false)"

/*
 * Create: $1 project (NULL: global), $2 name, $3 spec, $4 actor.
 * Columns: another default's name (then nothing was written), the new
 * version (NULL: the name is taken), the document.
 */
#define CREATE(tbl, doc, other)						\
	"WITH " other ","						\
	" ins AS (INSERT INTO " tbl " AS d (project, name, spec,"	\
	" created_by, updated_by) SELECT $1::text, $2::text, $3::jsonb,"\
	" $4::text, $4::text WHERE NOT EXISTS (SELECT 1 FROM other)"	\
	" ON CONFLICT ON CONSTRAINT " tbl "_name_unique DO NOTHING"	\
	" RETURNING d.id, d.version, " doc "(d)::text AS doc),"		\
	" e AS (INSERT INTO " tbl "_edit (" tbl "_id, version, updated_by)"\
	" SELECT id, version, $4::text FROM ins)"			\
	" SELECT (SELECT name FROM other), i.version, i.doc"		\
	" FROM (VALUES (1)) AS one (o) LEFT JOIN ins i ON true"

/*
 * Update: $1 project, $2 name, $3 the version the client holds, $4
 * spec, $5 actor, $6 how $3 binds: 'match' (If-Match: it must be
 * current), 'based' (metadata.version: no later version by another
 * user), NULL (last write wins).  The row lock comes first; under READ
 * COMMITTED a writer that waited for it sees the committed row
 * (EvalPlanQual), so the author of the version current when upd runs is
 * always checked, and of N writers holding one version exactly one
 * wins.  Columns: current version, another default, the clashing
 * version, its author and time, the new version, the document.
 */
#define UPDATE(tbl, doc, other)						\
	"WITH cur AS (SELECT d.id, d.version, d.updated_by, d.updated_at"\
	" FROM " tbl " d WHERE d.project IS NOT DISTINCT FROM $1::text"	\
	" AND d.name = $2::text FOR UPDATE),"				\
	" clash AS (SELECT x.* FROM (SELECT c.version, c.updated_by,"	\
	" c.updated_at FROM cur c WHERE $6::text = 'based'"		\
	" AND ((c.version > $3::int AND c.updated_by <> $5::text)"	\
	" OR c.version < $3::int)"					\
	" UNION ALL SELECT e.version, e.updated_by, e.updated_at"	\
	" FROM " tbl "_edit e JOIN cur c ON e." tbl "_id = c.id"	\
	" WHERE $6::text = 'based' AND e.version > $3::int"		\
	" AND e.version < c.version AND e.updated_by <> $5::text) x"	\
	" ORDER BY x.version DESC LIMIT 1), "				\
	other ","							\
	" upd AS (UPDATE " tbl " d SET spec = $4::jsonb,"		\
	" version = d.version + 1, updated_at = now(),"			\
	" updated_by = $5::text FROM cur c WHERE d.id = c.id"		\
	" AND ($6::text IS DISTINCT FROM 'match' OR c.version = $3::int)"\
	" AND NOT EXISTS (SELECT 1 FROM clash)"				\
	" AND NOT EXISTS (SELECT 1 FROM other)"				\
	" RETURNING d.id, d.version, " doc "(d)::text AS doc),"		\
	" e AS (INSERT INTO " tbl "_edit (" tbl "_id, version, updated_by)"\
	" SELECT id, version, $5::text FROM upd)"			\
	" SELECT c.version, (SELECT name FROM other), k.version,"	\
	" k.updated_by, rfc3339(k.updated_at), u.version, u.doc"	\
	" FROM cur c LEFT JOIN upd u ON true LEFT JOIN clash k ON true"

/*
 * Delete: $1 project, $2 name, $3 If-Match version or NULL.  Columns:
 * the current version, whether it went.  No row: no such document.
 */
#define DELETE(tbl)							\
	"WITH cur AS (SELECT d.id, d.version FROM " tbl " d"		\
	" WHERE d.project IS NOT DISTINCT FROM $1::text"		\
	" AND d.name = $2::text FOR UPDATE),"				\
	" del AS (DELETE FROM " tbl " d USING cur c WHERE d.id = c.id"	\
	" AND ($3::int IS NULL OR c.version = $3::int) RETURNING d.id)"	\
	" SELECT c.version, EXISTS (SELECT 1 FROM del) FROM cur c"

enum {
	PS_VIEW,
	PS_DS_LIST, PS_DS_LIST_ALL, PS_DS_GET, PS_DS_CREATE, PS_DS_UPDATE,
	PS_DS_DELETE,
	PS_VAR_LIST, PS_VAR_LIST_ALL, PS_VAR_GET, PS_VAR_CREATE,
	PS_VAR_UPDATE, PS_VAR_DELETE,
	PS__COUNT
};

static const struct stmt_def defs[PS__COUNT] = {
	/*
	 * $1 project, $2 dashboard, $3 caller, $4 sees every project.
	 * A project the caller cannot read looks like one without the
	 * dashboard.
	 */
	[PS_VIEW] = { "perses_view",
	    "SELECT EXISTS (SELECT 1 FROM dashboard d"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL AND ($4::boolean"
	    " OR EXISTS (SELECT 1 FROM project_member m"
	    " WHERE m.project = $1::text AND m.user_name = $3::text)))", 4 },

	[PS_DS_LIST] = { "datasource_list", LIST_SCOPE("datasource_scope"), 7 },
	[PS_DS_LIST_ALL] = { "datasource_list_all",
	    LIST_ALL("datasource_scope"), 9 },
	[PS_DS_GET] = { "datasource_get", GET_ONE("datasource_scope"), 2 },
	[PS_DS_CREATE] = { "datasource_create",
	    CREATE("datasource", "datasource_doc", DS_OTHER_DEFAULT("$3")), 4 },
	[PS_DS_UPDATE] = { "datasource_update",
	    UPDATE("datasource", "datasource_doc", DS_OTHER_DEFAULT("$4")), 6 },
	[PS_DS_DELETE] = { "datasource_delete", DELETE("datasource"), 3 },

	[PS_VAR_LIST] = { "variable_list", LIST_SCOPE("variable_scope"), 7 },
	[PS_VAR_LIST_ALL] = { "variable_list_all",
	    LIST_ALL("variable_scope"), 9 },
	[PS_VAR_GET] = { "variable_get", GET_ONE("variable_scope"), 2 },
	[PS_VAR_CREATE] = { "variable_create",
	    CREATE("variable", "variable_doc", NO_OTHER), 4 },
	[PS_VAR_UPDATE] = { "variable_update",
	    UPDATE("variable", "variable_doc", NO_OTHER), 6 },
	[PS_VAR_DELETE] = { "variable_delete", DELETE("variable"), 3 },
};
static const struct stmt_set perses_stmts = { "perses", defs, PS__COUNT };

/* ------------------------------------------------------------------ */
/* POST /api/v1/view */

/*
 * {"project","dashboard","render_time","render_errors"}, as the Perses
 * UI (plugin-system UsageMetricsProvider) sends it once a dashboard has
 * rendered; "name" and "renderTimeSecs" are taken as the same members.
 * Perses checks read access and that the dashboard exists, then counts;
 * so does this, without writing to the database.
 */
/* A view report; Perses's own members pass (it is Perses's body). */
struct view_in {
	const char		*project;
	const char		*dashboard;
	const char		*name;		/* Perses's older spelling */
	struct json_object	*render_time;
	struct json_object	*render_secs;	/* renderTimeSecs */
	int64_t			 errors;
};

static const struct api_field view_fields[] = {
	{ .name = "project", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct view_in, project) },
	{ .name = "dashboard", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct view_in, dashboard) },
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct view_in, name) },
	{ .name = "render_time", .type = API_ANY, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct view_in, render_time) },
	{ .name = "renderTimeSecs", .type = API_ANY, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct view_in, render_secs) },
	{ .name = "render_errors", .type = API_INT, .flags = API_NULL_ABSENT,
	  .max = INT64_MAX, .at = API_AT(struct view_in, errors),
	  .expect = "must be a non-negative integer" },
};
static const struct api_body view_body = { API_FIELDS(view_fields), NULL,
	"the body must be a JSON object: {\"project\", \"dashboard\", "
	"\"render_time\", \"render_errors\"}" };

static void
api_view(struct req *r)
{
	struct view_in		 in = { NULL, NULL, NULL, NULL, NULL, 0 };
	struct json_object	*v;
	const char		*project, *dash, *p[4];
	PGresult		*res;
	int64_t			 errs;

	if (api_body(r, &view_body, &in) == -1)
		return;
	if ((project = in.project) == NULL || *project == '\0') {
		api_invalid(r, "project: cannot be empty");
		return;
	}
	if ((dash = in.dashboard != NULL ? in.dashboard : in.name) == NULL ||
	    *dash == '\0') {
		api_invalid(r, "dashboard: cannot be empty");
		return;
	}
	if ((v = in.render_time != NULL ? in.render_time : in.render_secs) !=
	    NULL) {
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int)) {
			api_invalid(r, "render_time: must be a number of "
			    "seconds");
			return;
		}
		if (json_object_get_double(v) < 0) {
			api_invalid(r, "render_time: cannot be negative");
			return;
		}
	}
	errs = in.errors;
	p[0] = project;
	p[1] = dash;
	p[2] = r->actor;
	p[3] = r->admin || r->cfg->auth.mode == AUTH_ANONYMOUS ? "t" : "f";
	if ((res = api_run(r, &perses_stmts, PS_VIEW, 4, p)) == NULL)
		return;
	if (!api_val_bool(res, 0))
		http_error(r, 404, "not_found", "dashboard \"%s\" not found in "
		    "project \"%s\"", dash, project);
	else {
		metrics_dashboard_view((uint64_t)errs);
		http_send(r, 204, NULL, NULL, 0);
	}
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* Documents in: the Perses rules and normal form */

/* Member key of o, NULL when absent or JSON null. */
static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* What tells the four resources apart. */
struct rkind {
	const char	*kind;		/* "Datasource" */
	const char	*gkind;		/* "GlobalDatasource" */
	const char	*noun;		/* for messages */
	int		 builtins;	/* has the built-in datasources */
	int		(*check_spec)(struct json_object *,
			    struct json_object **, char *, size_t);
	size_t		 list, list_all, get, create, update, del;
};

static const struct rkind datasources = {
	"Datasource", "GlobalDatasource", "datasource", 1,
	validate_datasource_spec, PS_DS_LIST, PS_DS_LIST_ALL, PS_DS_GET,
	PS_DS_CREATE, PS_DS_UPDATE, PS_DS_DELETE
};

static const struct rkind variables = {
	"Variable", "GlobalVariable", "variable", 0,
	validate_variable_spec, PS_VAR_LIST, PS_VAR_LIST_ALL, PS_VAR_GET,
	PS_VAR_CREATE, PS_VAR_UPDATE, PS_VAR_DELETE
};

/* A document as a client sent it; strings borrowed from r->json. */
struct doc_in {
	const char		*name;
	long			 version;	/* metadata.version, -1 if absent */
	const char		*spec;		/* the normal form, in the arena */
	const char		*plugin;	/* spec.plugin.kind, or "" */
	const char		*kind;		/* as sent; NULL absent */
	const char		*project;	/* metadata.project; NULL absent */
	int64_t			 md_version;
};

/* The envelope; a Perses document's other members pass. */
static const struct api_field doc_md_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct doc_in, name) },
	{ .name = "project", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct doc_in, project) },
	{ .name = "version", .type = API_INT, .flags = API_NULL_ABSENT,
	  .max = INT_MAX, .at = API_AT(struct doc_in, md_version),
	  .expect = "expected a non-negative integer" },
};
static const struct api_body doc_md_body = { API_FIELDS(doc_md_fields),
	NULL, NULL };

static const struct api_field doc_fields[] = {
	{ .name = "kind", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct doc_in, kind) },
	{ .name = "metadata", .type = API_OBJECT, .flags = API_REQUIRED,
	  .body = &doc_md_body,
	  .expect = "an object with name (and project, in a project)" },
};
static const struct api_body doc_body = { API_FIELDS(doc_fields), NULL,
	NULL };

/*
 * Check a client's document: a global one, or one of project (NULL:
 * any, for /api/validate) and, for PUT, the name in the path.  0 with
 * in filled, or -1 after answering 400 naming the field.
 */
static int
doc_parse(struct req *r, const struct rkind *k, int global,
    const char *project, const char *path_name, struct doc_in *in)
{
	const char		*want = global ? k->gkind : k->kind;
	struct json_object	*doc = r->json, *v, *spec, *norm = NULL;
	char			 err[VALIDATE_ERR_MAX];
	const char		*s;

	memset(in, 0, sizeof(*in));
	in->md_version = -1;
	if (!json_object_is_type(doc, json_type_object)) {
		api_invalid(r, "the body must be a %s document: {\"kind\", "
		    "\"metadata\", \"spec\"}", want);
		return -1;
	}
	if (api_body(r, &doc_body, in) == -1)
		return -1;
	in->version = (long)in->md_version;
	if ((s = in->kind) == NULL || *s == '\0') {
		api_invalid(r, "kind: cannot be empty (\"%s\")", want);
		return -1;
	}
	if (strcasecmp(s, want) != 0) {
		api_invalid(r, "kind: invalid kind \"%.64s\" for a %s type",
		    s, want);
		return -1;
	}
	if (in->name == NULL || *in->name == '\0') {
		if (path_name == NULL) {
			api_invalid(r, "metadata.name: cannot be empty");
			return -1;
		}
		in->name = path_name;
	}
	if (!validate_name(in->name)) {
		api_invalid(r, "metadata.name: \"%s\" is not a valid name: "
		    "1-75 characters of [a-zA-Z0-9_.-], no \"..\", not "
		    "starting or ending with \".\"", in->name);
		return -1;
	}
	if (path_name != NULL && strcmp(in->name, path_name) != 0) {
		api_invalid(r, "metadata.name: \"%s\" differs from the %s name "
		    "in the path, \"%s\"", in->name, k->noun, path_name);
		return -1;
	}
	if (project != NULL && (s = in->project) != NULL && *s != '\0' &&
	    strcmp(s, project) != 0) {
		api_invalid(r, "metadata.project: \"%.80s\" differs from the "
		    "project in the path, \"%s\"", s, project);
		return -1;
	}
	if (!k->builtins && validate_variable_name(in->name, err,
	    sizeof(err)) == -1) {
		api_invalid(r, "%s", err);
		return -1;
	}
	if ((spec = member(doc, "spec")) == NULL ||
	    !json_object_is_type(spec, json_type_object) ||
	    json_object_object_length(spec) == 0) {
		api_invalid(r, "spec: cannot be empty");
		return -1;
	}
	if (k->check_spec(spec, &norm, err, sizeof(err)) == -1) {
		api_invalid(r, "%s", err);
		return -1;
	}
	in->spec = arena_strdup(r->arena, json_object_to_json_string_ext(norm,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	in->plugin = "";
	if ((v = member(norm, "plugin")) != NULL &&
	    (v = member(v, "kind")) != NULL)
		in->plugin = arena_strdup(r->arena, json_object_get_string(v));
	json_object_put(norm);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers */

/* "in project \"p\"" or "globally", for messages. */
static const char *
where(struct req *r, const char *project)
{
	return project != NULL ? arena_printf(r->arena, "in project \"%s\"",
	    project) : "among the global ones";
}

static void
not_found(struct req *r, const struct rkind *k, const char *project,
    const char *name)
{
	http_error(r, 404, "not_found", "%s%s \"%s\" not found %s",
	    project != NULL ? "" : "global ", k->noun, name,
	    where(r, project));
}

/* Is name one of the built-in datasources (in any letter case)? */
static int
builtin(const struct rkind *k, const char *name)
{
	return k->builtins && (strcasecmp(name, "dashcgi") == 0 ||
	    strcasecmp(name, "dashcgi-alerts") == 0);
}

/* Is s (n bytes) "*", blanks aside? */
static int
is_star(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == 1 && *s == '*';
}

/* Does If-None-Match name version v (or say "*")?  Others never match. */
static int
none_match(struct req *r, long v)
{
	const char	*h = FCGX_GetParam("HTTP_IF_NONE_MATCH", r->fcgi->envp);
	const char	*e;
	size_t		 n;
	long		 t;
	int		 rc;

	for (; h != NULL && *h != '\0'; h = *e != '\0' ? e + 1 : e) {
		e = h + strcspn(h, ",");
		n = (size_t)(e - h);
		if (is_star(h, n))
			return 1;
		/* Weak comparison: W/"N" matches too. */
		rc = api_parse_etag(h, n, &t);
		if ((rc == 0 || rc == 1) && t == v)
			return 1;
	}
	return 0;
}

/* 412 or 409 with currentVersion (and who changed it), as dashboards. */
static void
version_error(struct req *r, const struct rkind *k, int status,
    const char *name, long want, long cur, const char *by, const char *at)
{
	struct json_object	*x = json_object_new_object();
	char			 msg[320];

	json_object_object_add(x, "currentVersion", json_object_new_int64(cur));
	if (status == 409) {
		json_object_object_add(x, "changedBy", by != NULL ?
		    json_object_new_string(by) : NULL);
		json_object_object_add(x, "changedAt", at != NULL ?
		    json_object_new_string(at) : NULL);
		if (want > cur)
			snprintf(msg, sizeof(msg), "%s \"%s\" is at version "
			    "%ld; it never had version %ld (was it deleted "
			    "and made again?): reload it and apply your change "
			    "again", k->noun, name, cur, want);
		else
			snprintf(msg, sizeof(msg), "%s \"%s\" was changed by "
			    "%s since version %ld (it is at version %ld): "
			    "reload it and apply your change again", k->noun,
			    name, by != NULL ? by : "someone else", want, cur);
	} else if (want < 0)
		snprintf(msg, sizeof(msg), "%s \"%s\" is at version %ld; "
		    "If-Match names no version it can be (a weak tag W/\"N\" "
		    "never matches If-Match): send the ETag of your GET",
		    k->noun, name, cur);
	else
		snprintf(msg, sizeof(msg), "%s \"%s\" is at version %ld, not "
		    "%ld: it was changed since you loaded it; reload and apply "
		    "your change again", k->noun, name, cur, want);
	http_error_obj(r, status, status == 412 ? "version_mismatch" :
	    "version_conflict", msg, x);
}

static void
immutable(struct req *r, const struct rkind *k, const char *project,
    const char *name)
{
	authz_deny(r, project, name, "%s \"%s\" is built into dashcgi and "
	    "cannot be changed or deleted", k->noun, name);
}

/* ------------------------------------------------------------------ */
/* Lists */

/*
 * A list statement whose last three parameters are the cursor, the
 * limit and max_page_bytes.  Without ?limit= the list is complete
 * (Perses clients never page); with it, Link: rel="next" carries the
 * cursor after the page's last item (cut by the limit or the bytes).
 */
static void
run_list(struct req *r, size_t stmt, int n, const char **p)
{
	const char	*s;
	char		 lim[16], bytes[24];
	int		 limit;
	PGresult	*res;

	p[n - 3] = p[n - 2] = NULL;
	snprintf(bytes, sizeof(bytes), "%lld",
	    (long long)r->cfg->max_page_bytes);
	p[n - 1] = bytes;
	if ((s = http_query(r, "limit")) != NULL) {
		if (api_limit_parse(s, &limit) == -1) {
			http_error(r, 400, "bad_request", "limit: must be an "
			    "integer from 1 to %d, got \"%.32s\"",
			    API_LIST_MAX, s);
			return;
		}
		snprintf(lim, sizeof(lim), "%d", limit);
		p[n - 2] = lim;
	}
	/* The cursor is the last key, base64url (api_link_next). */
	if ((s = http_query(r, "cursor")) != NULL &&
	    (p[n - 3] = api_b64url_decode(r->arena, s)) == NULL) {
		http_error(r, 400, "bad_request", "cursor: not a cursor this "
		    "list returned");
		return;
	}
	if ((res = api_run(r, &perses_stmts, stmt, n, p)) == NULL)
		return;
	if (!api_val_null(res, 1))
		api_link_next(r, api_val(res, 1));
	api_send_col(r, 200, res, 0);
	PQclear(res);
}

/* ?kind= and ?default= (datasources), ?name= (a prefix). */
static int
list_filters(struct req *r, const struct rkind *k, const char **p)
{
	const char	*d;

	p[0] = http_query(r, "name");
	if (p[0] != NULL && *p[0] == '\0')
		p[0] = NULL;
	p[1] = p[2] = NULL;
	if (!k->builtins)
		return 0;
	if ((p[1] = http_query(r, "kind")) != NULL && *p[1] == '\0')
		p[1] = NULL;
	if ((d = http_query(r, "default")) != NULL && *d != '\0') {
		if (strcmp(d, "true") != 0 && strcmp(d, "false") != 0) {
			http_error(r, 400, "bad_request", "default: expected "
			    "true or false, got \"%.32s\"", d);
			return -1;
		}
		p[2] = d;
	}
	return 0;
}

/* One scope: the global list, or a project's. */
static void
list_scope(struct req *r, const struct rkind *k)
{
	const char	*p[7];

	p[0] = api_param(r, "project");
	if (list_filters(r, k, p + 1) == -1)
		return;
	run_list(r, k->list, 7, p);
}

/* GET /api/v1/datasources, /api/v1/variables: every readable project. */
static void
list_all(struct req *r, const struct rkind *k)
{
	const char	*p[9];

	p[0] = http_query(r, "project");
	if (p[0] != NULL && *p[0] == '\0')
		p[0] = NULL;
	if (list_filters(r, k, p + 1) == -1)
		return;
	p[4] = r->actor;
	p[5] = r->admin || r->cfg->auth.mode == AUTH_ANONYMOUS ? "t" : "f";
	run_list(r, k->list_all, 9, p);
}

/* ------------------------------------------------------------------ */
/* One document */

static void
get_one(struct req *r, const struct rkind *k)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name"), *p[2];
	PGresult	*res;

	p[0] = project;
	p[1] = name;
	if ((res = api_run(r, &perses_stmts, k->get, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, k, project, name);
	else {
		http_header(r, "ETag", "\"%ld\"", api_val_long(res, 1));
		if (none_match(r, api_val_long(res, 1)))
			http_send(r, 304, NULL, NULL, 0);
		else
			api_send_col(r, 200, res, 0);
	}
	PQclear(res);
}

static struct json_object *
versions_obj(long oldv, long newv)
{
	struct json_object	*o = json_object_new_object();

	if (oldv >= 0)
		json_object_object_add(o, "oldVersion",
		    json_object_new_int64(oldv));
	json_object_object_add(o, "newVersion", json_object_new_int64(newv));
	return o;
}

static void
other_default(struct req *r, const char *name, const char *kind,
    const char *other)
{
	http_error(r, 400, "validation_failed", "spec.default: datasource "
	    "\"%s\" cannot be a default \"%s\" because there is already one "
	    "defined named \"%s\"", name, kind, other);
}

static void
create(struct req *r, const struct rkind *k)
{
	const char	*project = api_param(r, "project"), *p[4];
	struct doc_in	 in;
	PGresult	*res;

	if (doc_parse(r, k, project == NULL, project, NULL, &in) == -1)
		return;
	if (builtin(k, in.name)) {
		http_error(r, 409, "conflict", "%s \"%s\" is built into dashcgi "
		    "and always exists %s; choose another name", k->noun,
		    in.name, where(r, project));
		return;
	}
	p[0] = project;
	p[1] = in.name;
	p[2] = in.spec;
	p[3] = r->actor;
	if ((res = api_run(r, &perses_stmts, k->create, 4, p)) == NULL)
		return;
	if (!api_val_null(res, 0))
		other_default(r, in.name, in.plugin,
		    api_val(res, 0));
	else if (api_val_null(res, 1))
		http_error(r, 409, "conflict", "%s \"%s\" already exists %s",
		    k->noun, in.name, where(r, project));
	else if (audit_change(r, project, in.name, api_val_long(res, 1),
	    versions_obj(-1, api_val_long(res, 1))) == 0) {
		http_header(r, "ETag", "\"%ld\"", api_val_long(res, 1));
		api_send_col(r, 200, res, 2);
	}
	PQclear(res);
}

static void
update(struct req *r, const struct rkind *k)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name"), *p[6];
	char		 want[24];
	struct doc_in	 in;
	PGresult	*res;
	int		 im;

	if (builtin(k, name)) {
		immutable(r, k, project, name);
		return;
	}
	if (doc_parse(r, k, project == NULL, project, name, &in) == -1 ||
	    (im = api_if_match(r, want, sizeof(want))) == -1)
		return;
	/*
	 * If-Match decides (412); without it the body's version (409);
	 * with neither, 428 unless last write wins.  "If-Match: *" is an
	 * explicit last write wins.
	 */
	p[5] = NULL;
	if (im == 1)
		p[5] = "match";
	else if (FCGX_GetParam("HTTP_IF_MATCH", r->fcgi->envp) == NULL) {
		if (in.version >= 0) {
			snprintf(want, sizeof(want), "%ld", in.version);
			p[5] = "based";
		} else if (r->cfg->dashboards.require_version) {
			http_error(r, 428, "version_required", "updating %s "
			    "\"%s\" needs the version it replaces: send "
			    "If-Match: \"<version>\" (the ETag of your GET) or "
			    "metadata.version", k->noun, name);
			return;
		}
	}
	p[0] = project;
	p[1] = name;
	p[2] = p[5] != NULL ? want : NULL;
	p[3] = in.spec;
	p[4] = r->actor;
	if ((res = api_run(r, &perses_stmts, k->update, 6, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, k, project, name);
	else if (!api_val_null(res, 1))
		other_default(r, name, in.plugin, api_val(res, 1));
	else if (!api_val_null(res, 2))
		version_error(r, k, 409, name, atol(want), api_val_long(res, 0),
		    api_val(res, 3), api_val(res, 4));
	else if (api_val_null(res, 5))
		version_error(r, k, 412, name, atol(want), api_val_long(res, 0),
		    NULL, NULL);
	else if (audit_change(r, project, name, api_val_long(res, 5),
	    versions_obj(api_val_long(res, 0), api_val_long(res, 5))) == 0) {
		http_header(r, "ETag", "\"%ld\"", api_val_long(res, 5));
		api_send_col(r, 200, res, 6);
	}
	PQclear(res);
}

static void
delete(struct req *r, const struct rkind *k)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name"), *p[3];
	char		 want[24];
	struct json_object *det;
	PGresult	*res;
	int		 im;

	if (builtin(k, name)) {
		immutable(r, k, project, name);
		return;
	}
	if ((im = api_if_match(r, want, sizeof(want))) == -1)
		return;
	p[0] = project;
	p[1] = name;
	p[2] = im == 1 ? want : NULL;
	if ((res = api_run(r, &perses_stmts, k->del, 3, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, k, project, name);
	else if (!api_val_bool(res, 1))
		version_error(r, k, 412, name, atol(want), api_val_long(res, 0),
		    NULL, NULL);
	else {
		det = json_object_new_object();
		json_object_object_add(det, "version",
		    json_object_new_int64(api_val_long(res, 0)));
		if (audit_change(r, project, name, api_val_long(res, 0),
		    det) == 0)
			http_send(r, 204, NULL, NULL, 0);
	}
	PQclear(res);
}

/*
 * POST /api/validate/{datasources,globaldatasources,variables,
 * globalvariables}: Perses's checks of one document, without storing
 * it or asking the database (so without the default-per-kind check,
 * as in Perses).  200 empty, or 400 naming the field.
 */
static void
validate_doc(struct req *r, const struct rkind *k, int global)
{
	struct doc_in	 in;

	if (doc_parse(r, k, global, NULL, NULL, &in) == -1)
		return;
	http_send(r, 200, NULL, "", 0);
}

/* The handlers, one per route row. */
static void ds_list(struct req *r)	{ list_scope(r, &datasources); }
static void ds_list_all(struct req *r)	{ list_all(r, &datasources); }
static void ds_get(struct req *r)	{ get_one(r, &datasources); }
static void ds_create(struct req *r)	{ create(r, &datasources); }
static void ds_update(struct req *r)	{ update(r, &datasources); }
static void ds_delete(struct req *r)	{ delete(r, &datasources); }
static void var_list(struct req *r)	{ list_scope(r, &variables); }
static void var_list_all(struct req *r)	{ list_all(r, &variables); }
static void var_get(struct req *r)	{ get_one(r, &variables); }
static void var_create(struct req *r)	{ create(r, &variables); }
static void var_update(struct req *r)	{ update(r, &variables); }
static void var_delete(struct req *r)	{ delete(r, &variables); }
static void ds_validate(struct req *r)	{ validate_doc(r, &datasources, 0); }
static void gds_validate(struct req *r)	{ validate_doc(r, &datasources, 1); }
static void var_validate(struct req *r)	{ validate_doc(r, &variables, 0); }
static void gvar_validate(struct req *r) { validate_doc(r, &variables, 1); }

#define GDS	"/api/v1/globaldatasources"
#define GVAR	"/api/v1/globalvariables"
#define PDS	ROUTE_PROJECT "/datasources"
#define PVAR	ROUTE_PROJECT "/variables"

static const struct route routes[] = {
	{ "GET",  "/api/config",	api_config, 0, ROLE_NONE, NULL },
	{ "POST", "/api/v1/view",	api_view, R_API | R_JSON, ROLE_NONE,
	    NULL },

	{ "GET",  GDS,			ds_list, R_API, ROLE_NONE, NULL },
	{ "POST", GDS,			ds_create, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "globaldatasource.create" },
	{ "GET",  GDS "/{name}",	ds_get, R_API, ROLE_NONE, NULL },
	{ "PUT",  GDS "/{name}",	ds_update, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "globaldatasource.update" },
	{ "DELETE", GDS "/{name}",	ds_delete, R_API, ROLE_GLOBAL_ADMIN,
	    "globaldatasource.delete" },
	{ "GET",  "/api/v1/datasources", ds_list_all, R_API, ROLE_NONE, NULL },
	{ "GET",  PDS,			ds_list, R_API, ROLE_VIEWER, NULL },
	{ "POST", PDS,			ds_create, R_API | R_JSON, ROLE_ADMIN,
	    "datasource.create" },
	{ "GET",  PDS "/{name}",	ds_get, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  PDS "/{name}",	ds_update, R_API | R_JSON, ROLE_ADMIN,
	    "datasource.update" },
	{ "DELETE", PDS "/{name}",	ds_delete, R_API, ROLE_ADMIN,
	    "datasource.delete" },

	{ "GET",  GVAR,			var_list, R_API, ROLE_NONE, NULL },
	{ "POST", GVAR,			var_create, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "globalvariable.create" },
	{ "GET",  GVAR "/{name}",	var_get, R_API, ROLE_NONE, NULL },
	{ "PUT",  GVAR "/{name}",	var_update, R_API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "globalvariable.update" },
	{ "DELETE", GVAR "/{name}",	var_delete, R_API, ROLE_GLOBAL_ADMIN,
	    "globalvariable.delete" },
	{ "GET",  "/api/v1/variables",	var_list_all, R_API, ROLE_NONE, NULL },
	{ "GET",  PVAR,			var_list, R_API, ROLE_VIEWER, NULL },
	{ "POST", PVAR,			var_create, R_API | R_JSON, ROLE_ADMIN,
	    "variable.create" },
	{ "GET",  PVAR "/{name}",	var_get, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  PVAR "/{name}",	var_update, R_API | R_JSON, ROLE_ADMIN,
	    "variable.update" },
	{ "DELETE", PVAR "/{name}",	var_delete, R_API, ROLE_ADMIN,
	    "variable.delete" },

	{ "POST", "/api/validate/datasources", ds_validate, R_AUTH | R_JSON,
	    ROLE_NONE, NULL },
	{ "POST", "/api/validate/globaldatasources", gds_validate,
	    R_AUTH | R_JSON, ROLE_NONE, NULL },
	{ "POST", "/api/validate/variables", var_validate, R_AUTH | R_JSON,
	    ROLE_NONE, NULL },
	{ "POST", "/api/validate/globalvariables", gvar_validate,
	    R_AUTH | R_JSON, ROLE_NONE, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &perses_stmts, NULL };

const struct module perses_module = {
	.name = "perses",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
