/*
 * preferences.c -- GET/PUT /api/v1/me/preferences (SPEC §4,
 * "Preferences"): the caller's timezone, theme, favorites and recent
 * dashboards.
 *
 * Owns: the preferences statement table and the shape of a
 * preferences document.  PUT replaces the whole document: a field it
 * leaves out takes its default, so what a client sends is exactly what
 * it reads back.
 * Never: touch another user's row (the key is always r->actor); keep a
 * timezone PostgreSQL does not know (the check runs in the upsert
 * itself, against pg_timezone_names, so it follows the server's
 * tzdata); build response JSON in C.
 */
#include <stdio.h>
#include <string.h>

#include "api/common.h"
#include "audit.h"
#include "db.h"
#include "http.h"
#include "module.h"
#include "validate.h"

/* The column defaults of user_preferences (migrations/0001). */
#define DEFAULT_TIMEZONE	"UTC"
#define DEFAULT_THEME		"system"
#define FAVORITES_MAX		100
#define RECENT_MAX		20

/* The document both GET and PUT answer, from a user_preferences row. */
#define PREFS_DOC(t) \
	"jsonb_build_object('timezone', " t ".timezone, 'theme', " t ".theme," \
	" 'favorites', " t ".favorites, 'recent', " t ".recent)::text"

enum { PF_GET, PF_PUT, PF__COUNT };

static const struct stmt_def defs[PF__COUNT] = {
	/* $1 user, $2 default timezone, $3 default theme. */
	[PF_GET] = { "preferences_get",
	    "SELECT coalesce((SELECT " PREFS_DOC("u") " FROM user_preferences u"
	    " WHERE u.user_name = $1::text),"
	    " jsonb_build_object('timezone', $2::text, 'theme', $3::text,"
	    " 'favorites', '[]'::jsonb, 'recent', '[]'::jsonb)::text) AS doc",
	    3 },
	/*
	 * $1 user, $2 timezone, $3 theme, $4 favorites, $5 recent.  No row
	 * back: the timezone is not one PostgreSQL knows.
	 */
	[PF_PUT] = { "preferences_put",
	    "INSERT INTO user_preferences AS u (user_name, timezone, theme,"
	    " favorites, recent, updated_at)"
	    " SELECT $1::text, $2::text, $3::text, $4::jsonb, $5::jsonb, now()"
	    " WHERE EXISTS (SELECT 1 FROM pg_timezone_names"
	    " WHERE name = $2::text)"
	    " ON CONFLICT (user_name) DO UPDATE SET timezone = EXCLUDED.timezone,"
	    " theme = EXCLUDED.theme, favorites = EXCLUDED.favorites,"
	    " recent = EXCLUDED.recent, updated_at = EXCLUDED.updated_at"
	    " RETURNING " PREFS_DOC("u") " AS doc", 5 },
};
static const struct stmt_set preferences_stmts = { "preferences", defs, PF__COUNT };

/*
 * favorites or recent: an array of at most max {"project","name"}
 * objects, both valid Perses names, nothing else.  Returns 0, or -1
 * after answering 400 naming the index and the field.
 */
static int
check_refs(struct req *r, const char *field, struct json_object *a,
    size_t max)
{
	static const char *const keys[] = { "project", "name", NULL };
	struct json_object	*e, *v;
	const char		*s;
	char			 prefix[32];
	size_t			 i, k, n;

	if (!json_object_is_type(a, json_type_array)) {
		api_invalid(r, "%s: must be an array of {\"project\", "
		    "\"name\"}", field);
		return -1;
	}
	if ((n = json_object_array_length(a)) > max) {
		api_invalid(r, "%s: at most %zu entries, got %zu", field, max,
		    n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_object)) {
			api_invalid(r, "%s[%zu]: must be an object "
			    "{\"project\", \"name\"}", field, i);
			return -1;
		}
		snprintf(prefix, sizeof(prefix), "%s[%zu].", field, i);
		if (api_only_members(r, e, prefix, keys, "an entry has "
		    "project and name") == -1)
			return -1;
		for (k = 0; k < 2; k++) {
			if (!json_object_object_get_ex(e, keys[k], &v)) {
				api_invalid(r, "%s[%zu].%s: required", field,
				    i, keys[k]);
				return -1;
			}
			if ((s = api_json_str(v)) == NULL ||
			    !validate_name(s)) {
				api_invalid(r, "%s[%zu].%s: must be a valid "
				    "name: 1-75 characters of [a-zA-Z0-9_.-], "
				    "no \"..\", not starting or ending with "
				    "\".\"", field, i, keys[k]);
				return -1;
			}
		}
	}
	return 0;
}

static void
api_prefs_get(struct req *r)
{
	const char	*p[3];
	PGresult	*res;

	p[0] = r->actor;
	p[1] = DEFAULT_TIMEZONE;
	p[2] = DEFAULT_THEME;
	if ((res = api_run(r, &preferences_stmts, PF_GET, 3, p)) == NULL)
		return;
	api_send_col(r, 200, res, PQfnumber(res, "doc"));
	PQclear(res);
}

static void
api_prefs_put(struct req *r)
{
	static const char *const keys[] = { "timezone", "theme", "favorites",
	    "recent", NULL };
	struct json_object	*o = r->json, *v, *fav = NULL, *rec = NULL, *d;
	const char		*p[5], *tz = DEFAULT_TIMEZONE;
	const char		*theme = DEFAULT_THEME;
	PGresult		*res = NULL;

	if (!json_object_is_type(o, json_type_object)) {
		api_invalid(r, "the body must be a JSON object "
		    "{\"timezone\", \"theme\", \"favorites\", \"recent\"}");
		goto out;
	}
	if (api_only_members(r, o, "", keys, "preferences have timezone, "
	    "theme, favorites and recent") == -1)
		goto out;
	if (json_object_object_get_ex(o, "timezone", &v) &&
	    ((tz = api_json_str(v)) == NULL || *tz == '\0')) {
		api_invalid(r, "timezone: must be a non-empty string such "
		    "as \"Europe/Paris\"");
		goto out;
	}
	if (json_object_object_get_ex(o, "theme", &v) &&
	    ((theme = api_json_str(v)) == NULL ||
	    (strcmp(theme, "light") != 0 && strcmp(theme, "dark") != 0 &&
	    strcmp(theme, "system") != 0))) {
		api_invalid(r, "theme: must be \"light\", \"dark\" or "
		    "\"system\"");
		goto out;
	}
	if (json_object_object_get_ex(o, "favorites", &fav) &&
	    check_refs(r, "favorites", fav, FAVORITES_MAX) == -1)
		goto out;
	if (json_object_object_get_ex(o, "recent", &rec) &&
	    check_refs(r, "recent", rec, RECENT_MAX) == -1)
		goto out;

	p[0] = r->actor;
	p[1] = tz;
	p[2] = theme;
	p[3] = fav ? json_object_to_json_string_ext(fav,
	    JSON_C_TO_STRING_PLAIN) : "[]";
	p[4] = rec ? json_object_to_json_string_ext(rec,
	    JSON_C_TO_STRING_PLAIN) : "[]";
	if ((res = api_run(r, &preferences_stmts, PF_PUT, 5, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		api_invalid(r, "timezone: \"%s\" is not a time zone "
		    "PostgreSQL knows (see pg_timezone_names), e.g. "
		    "\"Europe/Paris\"", tz);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "timezone", json_object_new_string(tz));
	json_object_object_add(d, "theme", json_object_new_string(theme));
	json_object_object_add(d, "favorites", json_object_new_int(fav ?
	    (int)json_object_array_length(fav) : 0));
	json_object_object_add(d, "recent", json_object_new_int(rec ?
	    (int)json_object_array_length(rec) : 0));
	if (audit_change(r, NULL, r->actor, AUDIT_NO_VERSION, d) == -1)
		goto out;
	api_send_col(r, 200, res, PQfnumber(res, "doc"));
out:
	PQclear(res);
}

static const struct route routes[] = {
	{ "GET",  "/api/v1/me/preferences", api_prefs_get, R_API, ROLE_NONE, NULL },
	{ "PUT",  "/api/v1/me/preferences", api_prefs_put, R_API | R_JSON,
	    ROLE_NONE, "preferences.update" },
};

static const struct stmt_set *const stmt_sets[] = { &preferences_stmts, NULL };

const struct module preferences_module = {
	.name = "preferences",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
