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
 * timezone PostgreSQL does not know (the list comes from
 * pg_timezone_names, once per worker, so it follows the server's
 * tzdata); build response JSON in C.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "audit.h"
#include "db.h"
#include "http.h"
#include "log.h"
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

enum { PF_GET, PF_PUT, PF_ZONES, PF__COUNT };

static const struct stmt_def defs[PF__COUNT] = {
	/* $1 user, $2 default timezone, $3 default theme. */
	[PF_GET] = { "preferences_get",
	    "SELECT coalesce((SELECT " PREFS_DOC("u") " FROM user_preferences u"
	    " WHERE u.user_name = $1::text),"
	    " jsonb_build_object('timezone', $2::text, 'theme', $3::text,"
	    " 'favorites', '[]'::jsonb, 'recent', '[]'::jsonb)::text) AS doc",
	    3 },
	/*
	 * $1 user, $2 timezone (one of the worker's zones), $3 theme, $4
	 * favorites, $5 recent.
	 */
	[PF_PUT] = { "preferences_put",
	    "INSERT INTO user_preferences AS u (user_name, timezone, theme,"
	    " favorites, recent, updated_at)"
	    " VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::jsonb, now())"
	    " ON CONFLICT (user_name) DO UPDATE SET timezone = EXCLUDED.timezone,"
	    " theme = EXCLUDED.theme, favorites = EXCLUDED.favorites,"
	    " recent = EXCLUDED.recent, updated_at = EXCLUDED.updated_at"
	    " RETURNING " PREFS_DOC("u") " AS doc", 5 },
	/* The zones PostgreSQL knows, in strcmp() order for bsearch(). */
	[PF_ZONES] = { "preferences_zones",
	    "SELECT name FROM pg_timezone_names ORDER BY name COLLATE \"C\"",
	    0, STMT_READONLY },
};
static const struct stmt_set preferences_stmts = { "preferences", defs, PF__COUNT };

/*
 * The zone list, read once per worker: scanning pg_timezone_names cost
 * a PUT 42 ms.  It changes only with the server's tzdata, which a
 * worker outlives rarely (workers are recycled); an upgrade that adds
 * a zone is seen by the next generation.  Never freed: it lives as
 * long as the process.
 */
static struct {
	char	**name;
	size_t	  n;
} zones;

static int
zone_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Is tz a zone PostgreSQL knows?  1 or 0; -1 after answering (the list
 * could not be read).
 */
static int
zone_known(struct req *r, const char *tz)
{
	PGresult	*res;
	char		**v;
	int		 i, n;

	if (zones.name == NULL) {
		if ((res = api_run(r, &preferences_stmts, PF_ZONES, 0,
		    NULL)) == NULL)
			return -1;
		n = PQntuples(res);
		if ((v = calloc((size_t)n + 1, sizeof(*v))) == NULL)
			goto oom;
		for (i = 0; i < n; i++)
			if ((v[i] = strdup(PQgetvalue(res, i, 0))) == NULL) {
				while (i-- > 0)
					free(v[i]);
				free(v);
				goto oom;
			}
		PQclear(res);
		zones.name = v;
		zones.n = (size_t)n;
	}
	return bsearch(&tz, zones.name, zones.n, sizeof(*zones.name),
	    zone_cmp) != NULL;
oom:
	PQclear(res);
	log_error("no memory for the time zone list");
	http_error(r, 500, "internal_error", "internal error");
	return -1;
}

/* What a PUT asks for; strings and arrays borrowed from r->json. */
struct prefs_in {
	const char		*timezone;
	const char		*theme;
	struct json_object	*favorites;
	struct json_object	*recent;
};

static const char *const themes[] = { "light", "dark", "system", NULL };

/* An entry of favorites or recent: {"project", "name"}, both names. */
static const struct api_field ref_fields[] = {
	{ .name = "project", .type = API_STRING, .flags = API_REQUIRED,
	  .check = validate_name, .expect = "must be " API_NAME_RULE },
	{ .name = "name", .type = API_STRING, .flags = API_REQUIRED,
	  .check = validate_name, .expect = "must be " API_NAME_RULE },
};
static const struct api_body ref_body = { API_FIELDS(ref_fields),
	"an entry has project and name", NULL };
static const struct api_field ref = { .type = API_OBJECT, .body = &ref_body,
	.expect = "must be an object {\"project\", \"name\"}" };

static const struct api_field prefs_fields[] = {
	{ .name = "timezone", .type = API_STRING, .min = 1,
	  .at = API_AT(struct prefs_in, timezone),
	  .expect = "must be a non-empty string such as \"Europe/Paris\"" },
	{ .name = "theme", .type = API_ENUM, .values = themes,
	  .at = API_AT(struct prefs_in, theme) },
	{ .name = "favorites", .type = API_ARRAY, .max = FAVORITES_MAX,
	  .elem = &ref, .at = API_AT(struct prefs_in, favorites),
	  .expect = "must be an array of {\"project\", \"name\"}" },
	{ .name = "recent", .type = API_ARRAY, .max = RECENT_MAX,
	  .elem = &ref, .at = API_AT(struct prefs_in, recent),
	  .expect = "must be an array of {\"project\", \"name\"}" },
};
static const struct api_body prefs_body = { API_FIELDS(prefs_fields),
	"preferences have timezone, theme, favorites and recent",
	"the body must be a JSON object {\"timezone\", \"theme\", "
	"\"favorites\", \"recent\"}" };

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
	struct prefs_in		 in = { DEFAULT_TIMEZONE, DEFAULT_THEME, NULL,
				    NULL };
	struct json_object	*d;
	const char		*p[5];
	PGresult		*res = NULL;
	int			 known;

	if (api_body(r, &prefs_body, &in) == -1)
		goto out;
	if ((known = zone_known(r, in.timezone)) == -1)
		goto out;
	if (!known) {
		api_invalid(r, "timezone: \"%s\" is not a time zone "
		    "PostgreSQL knows (see pg_timezone_names), e.g. "
		    "\"Europe/Paris\"", in.timezone);
		goto out;
	}
	p[0] = r->actor;
	p[1] = in.timezone;
	p[2] = in.theme;
	p[3] = in.favorites ? json_object_to_json_string_ext(in.favorites,
	    JSON_C_TO_STRING_PLAIN) : "[]";
	p[4] = in.recent ? json_object_to_json_string_ext(in.recent,
	    JSON_C_TO_STRING_PLAIN) : "[]";
	if ((res = api_run(r, &preferences_stmts, PF_PUT, 5, p)) == NULL)
		goto out;
	d = json_object_new_object();
	json_object_object_add(d, "timezone",
	    json_object_new_string(in.timezone));
	json_object_object_add(d, "theme", json_object_new_string(in.theme));
	json_object_object_add(d, "favorites", json_object_new_int(in.favorites ?
	    (int)json_object_array_length(in.favorites) : 0));
	json_object_object_add(d, "recent", json_object_new_int(in.recent ?
	    (int)json_object_array_length(in.recent) : 0));
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
