/*
 * dsproxy.c -- other datasources (a real Prometheus, Loki, Tempo, …:
 * Perses HTTPProxy datasources) at /proxy/globaldatasources/{ds}/…,
 * /proxy/projects/{p}/datasources/{ds}/… (SPEC section 11) and, for a
 * datasource a dashboard defines in its spec.datasources (Perses's
 * local scope), /proxy/projects/{p}/dashboards/{d}/datasources/{ds}/….
 *
 * Owns: the decision -- the caller reads the project (the route's role;
 * any user for a global datasource), the datasource exists and has an
 * HTTPProxy, the method and path are one of its allowedEndpoints (as
 * Perses: a pattern is an anchored regex, no list means no limit) -- and
 * the hand-over: an empty answer with X-Accel-Redirect to the shipped
 * snippet's named location @dashcgi_datasource_proxy and the target URL
 * and headers in X-Dashcgi-Proxy-* headers, which nginx reads from this
 * answer ($upstream_http_x_dashcgi_proxy_url) and never passes on.
 * Never: carry an upstream body (nginx streams both ways), forward the
 * client's credentials (the snippet clears Authorization and Cookie),
 * or serve dashcgi's own datasources (datasource.c, alerts.c: their
 * fixed rows come first in the route table; this module is last).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "module.h"

/* Where the snippet proxies from (nginx/dashcgi.conf). */
#define PROXY_LOCATION	"@dashcgi_datasource_proxy"

enum { PX_LOOKUP, PX_LOOKUP_LOCAL, PX__COUNT };

/*
 * What the decision needs of a proxy x: its kind, url, whether method
 * $3 and path $4 are allowed, its headers.  The proxy is the plugin's
 * spec.proxy, as Perses's Prometheus, Tempo and Loki plugins keep it.
 */
#define PROXY_OF(spec)							\
	"SELECT x ->> 'kind', x -> 'spec' ->> 'url', CASE"		\
	" WHEN coalesce(x -> 'spec' -> 'allowedEndpoints', '[]')"	\
	"  = '[]' THEN true"						\
	" WHEN jsonb_typeof(x -> 'spec' -> 'allowedEndpoints') = 'array'" \
	"  THEN EXISTS (SELECT 1 FROM jsonb_array_elements("		\
	"  x -> 'spec' -> 'allowedEndpoints') e"			\
	"  WHERE e ->> 'method' = $3::text"				\
	"  AND $4::text ~ ('^(?:' || (e ->> 'endpointPattern') || ')$'))" \
	" ELSE false END,"						\
	" coalesce(x -> 'spec' -> 'headers', '{}')::text"		\
	" FROM LATERAL (SELECT " spec " -> 'plugin' -> 'spec' -> 'proxy') p (x)"

static const struct stmt_def defs[PX__COUNT] = {
	/* $1 project (NULL: a global datasource), $2 name, $3 method,
	 * $4 path after the datasource's prefix.  No row: no such
	 * datasource. */
	[PX_LOOKUP] = { "dsproxy_lookup",
	    "SELECT l.* FROM datasource d, LATERAL (" PROXY_OF("d.spec") ") l"
	    " WHERE d.project IS NOT DISTINCT FROM $1::text"
	    " AND d.name = $2::text", 4 },
	/* The same for datasource $2 of live dashboard $5 of project $1. */
	[PX_LOOKUP_LOCAL] = { "dsproxy_lookup_local",
	    "SELECT l.* FROM dashboard b,"
	    " LATERAL (" PROXY_OF("b.spec -> 'datasources' -> $2::text") ") l"
	    " WHERE b.project = $1::text AND b.name = $5::text"
	    " AND b.deleted_at IS NULL"
	    " AND jsonb_typeof(b.spec -> 'datasources' -> $2::text) = 'object'",
	    5 },
};
static const struct stmt_set px_stmts = { "dsproxy", defs, PX__COUNT };

/*
 * The datasource headers the snippet can set (nginx names the headers
 * it sets in its configuration, so the list is fixed): the header, and
 * the answer header that carries it to nginx.
 */
static const struct {
	const char	*name;
	const char	*carrier;
} fwd_headers[] = {
	{ "Authorization", "X-Dashcgi-Proxy-Authorization" },
	{ "X-Scope-OrgID", "X-Dashcgi-Proxy-Scope-OrgID" },
};

/* Text fit for a header value: printable, no CR or LF. */
static int
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/*
 * The path after the datasource's prefix, as nginx normalised and
 * decoded it (DOCUMENT_URI: "..", "//" and escapes resolved, so what is
 * checked is what nginx would serve), percent-encoded again for the
 * upstream request line; NULL when the normalised path is not under
 * the prefix.  *plain gets the decoded path the patterns test.
 */
static char *
tail_of(struct req *r, const char *prefix, const char **plain)
{
	static const char keep[] = "-._~!$&'()*+,;=:@/";
	const char	*doc = FCGX_GetParam("DOCUMENT_URI", r->fcgi->envp);
	const unsigned char *u;
	size_t		 n = strlen(prefix), k = 0;
	char		*out;

	if (doc == NULL || strncmp(doc, prefix, n) != 0 || doc[n] != '/')
		return NULL;
	*plain = arena_strdup(r->arena, doc + n);
	out = arena_alloc(r->arena, strlen(*plain) * 3 + 1);
	for (u = (const unsigned char *)*plain; *u != '\0'; u++) {
		if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
		    (*u >= '0' && *u <= '9') || strchr(keep, *u) != NULL)
			out[k++] = (char)*u;
		else
			k += (size_t)snprintf(out + k, 4, "%%%02X", *u);
	}
	out[k] = '\0';
	return out;
}

/* The datasource's headers as X-Dashcgi-Proxy-*; -1 after a 400. */
static int
put_headers(struct req *r, const char *ds, const char *json)
{
	struct json_object	*o = json_tokener_parse(json);
	size_t			 i;
	int			 rc = 0;

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return 0;	/* not an object: Perses would refuse it */
	}
	json_object_object_foreach(o, key, val) {
		const char	*v = api_json_str(val);

		for (i = 0; i < sizeof(fwd_headers) / sizeof(fwd_headers[0]);
		    i++)
			if (strcasecmp(key, fwd_headers[i].name) == 0)
				break;
		if (i == sizeof(fwd_headers) / sizeof(fwd_headers[0]) ||
		    v == NULL || !header_safe(v)) {
			http_error(r, 400, "validation_failed",
			    "spec.plugin.spec.proxy.spec.headers.%.64s: "
			    "datasource %s: %s", key, ds, v == NULL ||
			    !header_safe(v) ? "a header value is one line of "
			    "text" : "the proxy forwards only Authorization "
			    "and X-Scope-OrgID");
			rc = -1;
			break;
		}
		http_header(r, fwd_headers[i].carrier, "%s", v);
	}
	json_object_put(o);
	return rc;
}

static void
proxy(struct req *r, const char *project, const char *dashboard)
{
	const char	*ds = api_param(r, "ds"), *plain = NULL, *p[5];
	const char	*kind, *url;
	char		 prefix[512], *tail;
	struct json_object *details;
	PGresult	*res;
	size_t		 ulen;

	if (dashboard == NULL && (strcasecmp(ds, "dashcgi") == 0 ||
	    strcasecmp(ds, "dashcgi-alerts") == 0)) {
		http_error(r, 404, "not_found", "no such resource: %s "
		    "(dashcgi's own datasource %s has no such endpoint)",
		    r->path, ds);
		return;
	}
	if (dashboard != NULL)
		snprintf(prefix, sizeof(prefix),
		    "/proxy/projects/%s/dashboards/%s/datasources/%s", project,
		    dashboard, ds);
	else if (project != NULL)
		snprintf(prefix, sizeof(prefix),
		    "/proxy/projects/%s/datasources/%s", project, ds);
	else
		snprintf(prefix, sizeof(prefix), "/proxy/globaldatasources/%s",
		    ds);
	if ((tail = tail_of(r, prefix, &plain)) == NULL) {
		http_error(r, 400, "bad_request", "the path leaves %s/ once "
		    "normalised", prefix);
		return;
	}
	p[0] = project;
	p[1] = ds;
	p[2] = r->method;
	p[3] = plain;
	p[4] = dashboard;
	if ((res = api_run(r, &px_stmts, dashboard != NULL ? PX_LOOKUP_LOCAL :
	    PX_LOOKUP, dashboard != NULL ? 5 : 4, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		if (dashboard != NULL)
			http_error(r, 404, "not_found", "dashboard \"%s\" has no "
			    "datasource \"%s\" (or does not exist)", dashboard,
			    ds);
		else
			http_error(r, 404, "not_found", "datasource \"%s\" not "
			    "found", ds);
		goto out;
	}
	kind = api_val(res, 0);
	url = api_val(res, 1);
	if (kind == NULL || strcmp(kind, "HTTPProxy") != 0 || url == NULL ||
	    (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) || !header_safe(url) ||
	    strchr(url, ' ') != NULL) {
		http_error(r, 404, "not_found", "datasource \"%s\" has no "
		    "HTTPProxy with an http(s) url: the browser reaches it "
		    "directly, or not at all", ds);
		goto out;
	}
	if (!api_val_bool(res, 2)) {
		details = json_object_new_object();
		json_object_object_add(details, "reason",
		    json_object_new_string("endpoint_not_allowed"));
		json_object_object_add(details, "method",
		    json_object_new_string(r->method));
		json_object_object_add(details, "endpoint",
		    json_object_new_string(plain));
		if (dashboard != NULL)
			json_object_object_add(details, "dashboard",
			    json_object_new_string(dashboard));
		audit_event(r, "datasource.proxy", project, ds,
		    AUDIT_NO_VERSION, "denied", details);
		http_error(r, 403, "endpoint_not_allowed", "%s %s is not one "
		    "of the allowedEndpoints of datasource \"%s\"", r->method,
		    plain, ds);
		goto out;
	}
	if (put_headers(r, ds, api_val(res, 3)) == -1)
		goto out;
	ulen = strlen(url);
	while (ulen > 0 && url[ulen - 1] == '/')
		ulen--;
	http_header(r, "X-Dashcgi-Proxy-Url", "%.*s%s%s%s", (int)ulen, url,
	    tail, *r->query != '\0' ? "?" : "", r->query);
	http_header(r, "X-Accel-Redirect", PROXY_LOCATION);
	http_send(r, 200, "text/plain", "", 0);
out:
	PQclear(res);
}

static void
proxy_global(struct req *r)
{
	proxy(r, NULL, NULL);
}

static void
proxy_project(struct req *r)
{
	proxy(r, api_param(r, "project"), NULL);
}

/*
 * A dashboard's own datasource: a viewer of its project, as Perses.
 * Its URL is an editor's choice, not an administrator's: with
 * dashboards.local_datasources off the path is not there (404), as
 * Perses's datasource.disable_local leaves the route out.
 */
static void
proxy_dashboard(struct req *r)
{
	if (!r->cfg->dashboards.local_datasources) {
		http_error(r, 404, "not_found", "no such resource: %s "
		    "(dashboard datasources are not proxied here: "
		    "dashboards.local_datasources is false)", r->path);
		return;
	}
	proxy(r, api_param(r, "project"), api_param(r, "dashboard"));
}

#define G	"/proxy/globaldatasources/{ds}/{*rest}"
#define PD	"/proxy/projects/{project}/datasources/{ds}/{*rest}"
#define DD	"/proxy/projects/{project}/dashboards/{dashboard}/datasources/" \
		"{ds}/{*rest}"

/* The methods Perses's allowedEndpoints name. */
static const struct route routes[] = {
	{ "GET",    G,  proxy_global, R_API, ROLE_NONE, NULL },
	{ "POST",   G,  proxy_global, R_API, ROLE_NONE, NULL },
	{ "GET",    PD, proxy_project, R_API, ROLE_VIEWER, NULL },
	{ "POST",   PD, proxy_project, R_API, ROLE_VIEWER, NULL },
	{ "GET",    DD, proxy_dashboard, R_API, ROLE_VIEWER, NULL },
	{ "POST",   DD, proxy_dashboard, R_API, ROLE_VIEWER, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &px_stmts, NULL };

const struct module dsproxy_module = {
	.name = "dsproxy",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
