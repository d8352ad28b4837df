/*
 * router.c -- the route table and its matcher.
 *
 * The table is the modules' rows (module.h) in the order of modules[],
 * flattened once per process.  It is scanned linearly: with a few
 * dozen rows that is cheaper than any index and keeps the policy of
 * every route visible in "dashcgi routes".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "module.h"
#include "router.h"

#define MAX_ROUTES	512

static const struct route	*table[MAX_ROUTES];
static const struct module	*owner[MAX_ROUTES];
static size_t			 nroutes;

/*
 * Flatten the modules' rows.  Two rows with one method and pattern
 * would make the second unreachable: that is a programming error,
 * caught by the unit test and refused here.
 */
static void
build(void)
{
	size_t	 m, i, k;

	if (nroutes > 0)
		return;
	for (m = 0; m < nmodules; m++)
		for (i = 0; i < modules[m]->nroutes; i++) {
			const struct route *rt = &modules[m]->routes[i];
			for (k = 0; k < nroutes; k++)
				if (strcmp(table[k]->method, rt->method) == 0 &&
				    strcmp(table[k]->pattern, rt->pattern) == 0) {
					fprintf(stderr, "dashcgi: route %s %s of "
					    "module %s shadows module %s's\n",
					    rt->method, rt->pattern,
					    modules[m]->name, owner[k]->name);
					abort();
				}
			if (nroutes == MAX_ROUTES) {
				fprintf(stderr, "dashcgi: more than %d routes\n",
				    MAX_ROUTES);
				abort();
			}
			owner[nroutes] = modules[m];
			table[nroutes++] = rt;
		}
}

size_t
router_nroutes(void)
{
	build();
	return nroutes;
}

const struct route *
router_route(size_t i)
{
	build();
	return i < nroutes ? table[i] : NULL;
}

const struct module *
router_module(size_t i)
{
	build();
	return i < nroutes ? owner[i] : NULL;
}

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
		/* A last {*name}: the rest of the path, one segment or more. */
		if (p[0] == '{' && p[1] == '*') {
			if (seglen == 0 || *n == max)
				return 0;
			params[(*n)++] = s;
			return 1;
		}
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

/* Is row i a catch-all, its pattern ending in {*name}? */
static int
catch_all(size_t i)
{
	return strstr(table[i]->pattern, "/{*") != NULL;
}

/*
 * A path that a fixed row matches belongs to the fixed rows: a wrong
 * method there is 405 with their methods, never a {*rest} row's (say
 * POST on a GET-only endpoint of dashcgi's own datasource, under the
 * catch-all of other datasources).  The catch-alls are tried only when
 * no fixed row matches the path.
 */
int
router_match(const char *method, char *buf, const char **params,
    size_t *nparams, size_t maxparams, char *allow, size_t allowlen)
{
	size_t	 i, k, len = 0;
	int	 found = 0, get = 0, pass;
	int	 is_head = strcmp(method, "HEAD") == 0;

	build();
	if (allow != NULL && allowlen > 0)
		allow[0] = '\0';
	for (pass = 0; pass < 2 && !found; pass++)
		for (i = 0; i < nroutes; i++) {
			if (catch_all(i) != pass || !router_match_pattern(
			    table[i]->pattern, buf, params, nparams, maxparams))
				continue;
			if (strcmp(table[i]->method, method) == 0 ||
			    (is_head && strcmp(table[i]->method, "GET") == 0))
				goto hit;
			found = 1;
			if (allow != NULL && len < allowlen)
				len += (size_t)snprintf(allow + len,
				    allowlen - len, "%s%s", len ? ", " : "",
				    table[i]->method);
			if (strcmp(table[i]->method, "GET") == 0)
				get = 1;
		}
	if (!found)
		return ROUTER_NOT_FOUND;
	if (get && allow != NULL && len < allowlen)
		snprintf(allow + len, allowlen - len, ", HEAD");
	return ROUTER_BAD_METHOD;
hit:
	/* Truncate segments in place only now that the row is chosen
	 * (a {*rest} keeps its slashes). */
	for (k = 0; k < *nparams; k++)
		if (k + 1 < *nparams || !catch_all(i))
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
	build();
	for (i = 0; i < nroutes; i++) {
		if (!(table[i]->flags & R_SECRET_PATH))
			continue;
		n = strcspn(table[i]->pattern, "{");
		if (strncmp(path, table[i]->pattern, n) == 0)
			return table[i]->pattern;
	}
	return NULL;
}

const char *
router_metrics_name(int id)
{
	build();
	if (id <= 0 || (size_t)id > nroutes)
		return "unmatched";
	return table[id - 1]->pattern;
}

int
router_metrics_count(void)
{
	build();
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

	build();
	for (i = 0; i < nroutes; i++)
		fprintf(f, "%s\t%s\t%s\t%s%s%s%s%s%s\t%s\n", table[i]->method,
		    table[i]->pattern,
		    (table[i]->flags & R_AUTH) ? rn[table[i]->role] :
		    "public",
		    (table[i]->flags & R_AUTH) ? "auth," : "",
		    (table[i]->flags & R_DB) ? "db," : "",
		    (table[i]->flags & R_JSON) ? "json," : "",
		    (table[i]->flags & R_BODY) ? "ndjson," : "",
		    (table[i]->flags & R_ROLE_INLINE) ? "inline," : "",
		    (table[i]->flags & R_SECRET_PATH) ? "secret-path," : "",
		    table[i]->action ? table[i]->action : "-");
}
