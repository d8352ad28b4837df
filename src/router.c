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

const struct route routes[] = {
	/* Health and metrics: no identity, no database required. */
	{ "GET",  "/live",			api_live,	0, ROLE_NONE },
	{ "GET",  "/ready",			api_ready,	0, ROLE_NONE },
	{ "GET",  "/api/v1/health",		api_health,	0, ROLE_NONE },
	{ "GET",  "/metrics",			api_metrics,	0, ROLE_NONE },
	{ "GET",  "/metrics/health",		api_metrics_health, 0, ROLE_NONE },

	/* Perses-compatible validation: pure, no database. */
	{ "POST", "/api/validate/dashboards",	api_validate_dashboard,
	    R_AUTH | R_JSON, ROLE_NONE },
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
