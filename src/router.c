/*
 * router.c -- the route table and its matcher.
 *
 * Adding an endpoint is adding a row here.  The table is scanned
 * linearly: with a few dozen rows that is cheaper than any index and
 * keeps the policy of every route visible in one place.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "http.h"
#include "router.h"

#define API	(R_AUTH | R_DB)
#define P	"/api/v1/projects/{project}"
#define D	P "/dashboards/{name}"

const struct route routes[] = {
	/* Health and metrics: no identity, no database required. */
	{ "GET",  "/live",		api_live,	0, ROLE_NONE, NULL },
	{ "GET",  "/ready",		api_ready,	0, ROLE_NONE, NULL },
	{ "GET",  "/api/v1/health",	api_health,	0, ROLE_NONE, NULL },
	{ "GET",  "/metrics",		api_metrics,	0, ROLE_NONE, NULL },
	{ "GET",  "/metrics/health",	api_metrics_health, 0, ROLE_NONE, NULL },

	/* Perses-compatible validation: pure, no database. */
	{ "POST", "/api/validate/dashboards", api_validate_dashboard,
	    R_AUTH | R_JSON, ROLE_NONE, NULL },

	/* Who am I; preferences (projects.c, preferences.c). */
	{ "GET",  "/api/v1/me",		api_me,		API, ROLE_NONE, NULL },
	{ "GET",  "/api/v1/me/preferences", api_prefs_get, API, ROLE_NONE, NULL },
	{ "PUT",  "/api/v1/me/preferences", api_prefs_put, API | R_JSON,
	    ROLE_NONE, "preferences.update" },

	/* Projects and members (projects.c). */
	{ "GET",  "/api/v1/projects",	api_projects_list, API, ROLE_NONE, NULL },
	{ "POST", "/api/v1/projects",	api_project_create, API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "project.create" },
	{ "GET",  P,			api_project_get, API, ROLE_VIEWER, NULL },
	{ "PUT",  P,			api_project_update, API | R_JSON,
	    ROLE_ADMIN, "project.update" },
	{ "DELETE", P,			api_project_delete, API,
	    ROLE_GLOBAL_ADMIN, "project.delete" },
	{ "GET",  P "/members",		api_members_list, API, ROLE_VIEWER, NULL },
	{ "PUT",  P "/members/{user}",	api_member_put, API | R_JSON,
	    ROLE_ADMIN, "member.update" },
	{ "DELETE", P "/members/{user}", api_member_delete, API,
	    ROLE_ADMIN, "member.delete" },

	/* Dashboards (dashboards.c). */
	{ "GET",  "/api/v1/dashboards",	api_dashboards_list_all, API,
	    ROLE_NONE, NULL },
	{ "GET",  P "/dashboards",	api_dashboards_list, API, ROLE_VIEWER,
	    NULL },
	{ "POST", P "/dashboards",	api_dashboard_create, API | R_JSON,
	    ROLE_EDITOR, "dashboard.create" },
	{ "POST", P "/dashboards/from-template", api_dashboard_from_template,
	    API | R_JSON, ROLE_EDITOR, "dashboard.create" },
	{ "GET",  D,			api_dashboard_get,
	    API | R_ROLE_INLINE, ROLE_VIEWER, NULL },
	{ "PUT",  D,			api_dashboard_update, API | R_JSON,
	    ROLE_EDITOR, "dashboard.update" },
	{ "DELETE", D,			api_dashboard_delete, API,
	    ROLE_EDITOR, "dashboard.delete" },
	{ "GET",  D "/versions",	api_dashboard_versions, API,
	    ROLE_VIEWER, NULL },
	{ "GET",  D "/versions/{version}", api_dashboard_version_get, API,
	    ROLE_VIEWER, NULL },
	{ "POST", D "/versions/{version}/restore",
	    api_dashboard_version_restore, API, ROLE_EDITOR,
	    "dashboard.restore" },
	{ "GET",  D "/state",		api_dashboard_state_get, API,
	    ROLE_VIEWER, NULL },
	{ "PUT",  D "/state",		api_dashboard_state_put, API | R_JSON,
	    ROLE_EDITOR, "dashboard.state" },
	{ "GET",  P "/trash",		api_trash_list, API, ROLE_VIEWER, NULL },
	{ "POST", P "/trash/{name}/restore", api_trash_restore, API,
	    ROLE_EDITOR, "dashboard.untrash" },
	{ "GET",  P "/export",		api_project_export, API, ROLE_VIEWER,
	    NULL },
	{ "POST", P "/import",		api_project_import, API | R_BODY,
	    ROLE_EDITOR, "dashboard.import" },

	/* Share links (shares.c).  The token is the credential: no
	 * identity, and the path is never logged. */
	{ "POST", D "/shares",		api_share_create, API | R_JSON,
	    ROLE_EDITOR, "share.create" },
	{ "GET",  D "/shares",		api_shares_list, API, ROLE_EDITOR,
	    NULL },
	{ "DELETE", D "/shares/{id}",	api_share_revoke, API, ROLE_EDITOR,
	    "share.revoke" },
	{ "GET",  "/api/v1/shared/{token}", api_shared_get,
	    R_DB | R_SECRET_PATH, ROLE_NONE, NULL },

	/* Templates (templates.c). */
	{ "GET",  "/api/v1/templates",	api_templates_list, API, ROLE_NONE,
	    NULL },
	{ "POST", "/api/v1/templates",	api_template_create, API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "template.create" },
	{ "GET",  "/api/v1/templates/{id}", api_template_get, API, ROLE_NONE,
	    NULL },
	{ "PUT",  "/api/v1/templates/{id}", api_template_update, API | R_JSON,
	    ROLE_GLOBAL_ADMIN, "template.update" },
	{ "DELETE", "/api/v1/templates/{id}", api_template_delete, API,
	    ROLE_GLOBAL_ADMIN, "template.delete" },

	/* The audit log (audit.c in api/): filtered by role in SQL. */
	{ "GET",  "/api/v1/audit",	api_audit_list, API, ROLE_NONE, NULL },
};
const size_t nroutes = sizeof(routes) / sizeof(routes[0]);

/*
 * Compare one pattern with the path, segment by segment.  "{x}"
 * matches one non-empty segment.  Returns 1 on a match.
 */
int
router_match_pattern(const char *pat, char *path, const char **params, size_t *n,
    size_t max)
{
	const char	*p = pat;
	char		*s = path;
	size_t		 seglen;

	*n = 0;
	while (*p != '\0' && *s != '\0') {
		if (*p != '/' || *s != '/')
			return 0;
		p++, s++;
		seglen = strcspn(s, "/");
		if (*p == '{') {
			if (seglen == 0 || *n == max)
				return 0;
			params[(*n)++] = s;
			p += strcspn(p, "/");
			s += seglen;
			continue;
		}
		if (strncmp(p, s, seglen) != 0 ||
		    (p[seglen] != '/' && p[seglen] != '\0'))
			return 0;
		p += seglen;
		s += seglen;
	}
	return *p == '\0' && *s == '\0';
}

int
router_match(const char *method, char *buf, const char **params,
    size_t *nparams, size_t maxparams, char *allow, size_t allowlen)
{
	size_t	 i, k, len = 0;
	int	 found = 0, get = 0;
	int	 is_head = strcmp(method, "HEAD") == 0;

	if (allow != NULL && allowlen > 0)
		allow[0] = '\0';
	for (i = 0; i < nroutes; i++) {
		if (!router_match_pattern(routes[i].pattern, buf, params, nparams, maxparams))
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    (is_head && strcmp(routes[i].method, "GET") == 0))
			goto hit;
		found = 1;
		if (allow != NULL && len < allowlen)
			len += (size_t)snprintf(allow + len, allowlen - len,
			    "%s%s", len ? ", " : "", routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			get = 1;
	}
	if (!found)
		return ROUTER_NOT_FOUND;
	if (get && allow != NULL && len < allowlen)
		snprintf(allow + len, allowlen - len, ", HEAD");
	return ROUTER_BAD_METHOD;
hit:
	/* Truncate segments in place only now that the row is chosen. */
	for (k = 0; k < *nparams; k++)
		((char *)params[k])[strcspn(params[k], "/")] = '\0';
	return (int)i;
}

const char *
router_param(const struct route *rt, const char *const *params,
    size_t nparams, const char *name)
{
	const char	*p;
	size_t		 k = 0, len = strlen(name);

	for (p = rt->pattern; (p = strchr(p, '{')) != NULL; p++, k++)
		if (strncmp(p + 1, name, len) == 0 && p[len + 1] == '}')
			return k < nparams ? params[k] : NULL;
	return NULL;
}

/*
 * The pattern of the R_SECRET_PATH route whose fixed prefix begins
 * path, or NULL: what the log shows instead of a path that may hold a
 * credential, even when the request matched no route (405, 404, 400).
 */
const char *
router_secret_pattern(const char *path)
{
	size_t	 i, n;

	if (path == NULL)
		return NULL;
	for (i = 0; i < nroutes; i++) {
		if (!(routes[i].flags & R_SECRET_PATH))
			continue;
		n = strcspn(routes[i].pattern, "{");
		if (strncmp(path, routes[i].pattern, n) == 0)
			return routes[i].pattern;
	}
	return NULL;
}

const char *
router_metrics_name(int id)
{
	if (id <= 0 || (size_t)id > nroutes)
		return "unmatched";
	return routes[id - 1].pattern;
}

int
router_metrics_count(void)
{
	return (int)nroutes + 1;
}

/*
 * "dashcgi routes": the table as text, one route a line, tab-separated:
 * method, pattern, least role, flags, audit action.  Tests generate
 * the permission matrix from it; operators see what is exposed.
 */
void
routes_print(FILE *f)
{
	static const char *const rn[] = { "any", "viewer", "editor",
	    "admin", "global-admin" };
	size_t	 i;

	for (i = 0; i < nroutes; i++)
		fprintf(f, "%s\t%s\t%s\t%s%s%s%s%s%s\t%s\n", routes[i].method,
		    routes[i].pattern,
		    (routes[i].flags & R_AUTH) ? rn[routes[i].role] :
		    "public",
		    (routes[i].flags & R_AUTH) ? "auth," : "",
		    (routes[i].flags & R_DB) ? "db," : "",
		    (routes[i].flags & R_JSON) ? "json," : "",
		    (routes[i].flags & R_BODY) ? "ndjson," : "",
		    (routes[i].flags & R_ROLE_INLINE) ? "inline," : "",
		    (routes[i].flags & R_SECRET_PATH) ? "secret-path," : "",
		    routes[i].action ? routes[i].action : "-");
}
