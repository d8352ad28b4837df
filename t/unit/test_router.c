/*
 * test_router.c -- the route table: matching, parameters, 404 and
 * 405 with an Allow list, and that the table itself is well formed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "router.h"
#include "tap.h"

static int
m(const char *method, const char *path, const char **params, size_t *n,
    char *allow)
{
	static char	 buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	return router_match(method, buf, params, n, 8, allow, 128);
}

int
main(void)
{
	const char	*p[8];
	size_t		 n, i, j, nroutes;
	char		 allow[128];
	int		 id;

	id = m("GET", "/live", p, &n, allow);
	ok(id >= 0 && strcmp(router_route((size_t)id)->pattern, "/live") == 0,
	    "GET /live matches its row");
	id = m("HEAD", "/live", p, &n, allow);
	ok(id >= 0 && strcmp(router_route((size_t)id)->method, "GET") == 0,
	    "HEAD is answered by the GET row");
	is_int(m("GET", "/nope", p, &n, allow), ROUTER_NOT_FOUND,
	    "an unknown path is 404");
	is_int(m("GET", "/live/", p, &n, allow), ROUTER_NOT_FOUND,
	    "a trailing slash does not match");
	is_int(m("GET", "/liveness", p, &n, allow), ROUTER_NOT_FOUND,
	    "a prefix of a segment does not match");
	is_int(m("DELETE", "/live", p, &n, allow), ROUTER_BAD_METHOD,
	    "a known path with a wrong method is 405");
	is_str(allow, "GET, HEAD", "Allow lists GET and HEAD");
	is_int(m("GET", "/api/validate/dashboards", p, &n, allow),
	    ROUTER_BAD_METHOD, "GET on a POST-only route is 405");
	is_str(allow, "POST", "Allow lists POST");

	{
		char	 path[] = "/api/v1/projects/demo/dashboards/api%2Dx";
		char	 two[] = "/api/v1/projects//dashboards/x";
		const char *pat = "/api/v1/projects/{project}/dashboards/{name}";

		ok(router_match_pattern(pat, path, p, &n, 8) == 1 && n == 2,
		    "a pattern with two parameters matches");
		ok(n == 2 && strncmp(p[0], "demo/", 5) == 0 &&
		    strcmp(p[1], "api%2Dx") == 0,
		    "parameters point at their segments");
		ok(router_match_pattern(pat, two, p, &n, 8) == 0,
		    "an empty segment does not fill a parameter");
		ok(router_match_pattern(pat, path, p, &n, 1) == 0,
		    "more parameters than room is no match");
	}

	{
		char	 path[] = "/proxy/globaldatasources/prom/api/v1/query";
		char	 bare[] = "/proxy/globaldatasources/prom";
		char	 slash[] = "/proxy/globaldatasources/prom/";
		const char *pat = "/proxy/globaldatasources/{ds}/{*rest}";

		ok(router_match_pattern(pat, path, p, &n, 8) == 1 && n == 2 &&
		    strcmp(p[1], "api/v1/query") == 0,
		    "a last {*rest} takes the rest of the path, slashes and all");
		ok(router_match_pattern(pat, bare, p, &n, 8) == 0,
		    "{*rest} needs at least one segment");
		ok(router_match_pattern(pat, slash, p, &n, 8) == 0,
		    "{*rest} does not take an empty segment");
		id = m("GET", "/proxy/globaldatasources/dashcgi/api/v1/query",
		    p, &n, allow);
		ok(id >= 0 && strstr(router_route((size_t)id)->pattern,
		    "{*") == NULL, "a fixed row comes before a {*rest} row");
		id = m("GET", "/proxy/globaldatasources/prom/api/v1/query",
		    p, &n, allow);
		ok(id >= 0 && n == 2 && strcmp(p[0], "prom") == 0 &&
		    strcmp(p[1], "api/v1/query") == 0,
		    "the chosen {*rest} row keeps its slashes, the others are cut");
		is_int(m("POST", "/proxy/globaldatasources/dashcgi/api/v1/"
		    "metadata", p, &n, allow), ROUTER_BAD_METHOD,
		    "POST on a GET-only fixed row under a {*rest} POST row: 405");
		is_str(allow, "GET, HEAD", "Allow lists the fixed row's methods");
		is_int(m("DELETE", "/proxy/projects/p/datasources/dashcgi/api/"
		    "v1/query_range", p, &n, allow), ROUTER_BAD_METHOD,
		    "DELETE on a fixed path: 405");
		is_str(allow, "GET, POST, HEAD", "Allow names each method once");
		id = m("POST", "/proxy/globaldatasources/dashcgi/api/v1/nope",
		    p, &n, allow);
		ok(id >= 0 && strstr(router_route((size_t)id)->pattern,
		    "{*") != NULL, "a path no fixed row matches goes to the "
		    "{*rest} row");
	}

	/* Every row is well formed and unique. */
	nroutes = router_nroutes();
	for (i = 0; i < nroutes; i++) {
		ok(router_route(i)->pattern[0] == '/' && router_route(i)->fn != NULL,
		    "row %zu (%s %s) has a path and a handler", i,
		    router_route(i)->method, router_route(i)->pattern);
		for (j = i + 1; j < nroutes; j++)
			if (strcmp(router_route(i)->method, router_route(j)->method) == 0 &&
			    strcmp(router_route(i)->pattern, router_route(j)->pattern) == 0)
				ok(0, "row %zu duplicates row %zu", j, i);
	}
	/* Every row belongs to a module, and every module's rows are in. */
	for (i = 0, j = 0; i < nmodules; i++)
		j += modules[i]->nroutes;
	is_int((int)j, (int)nroutes, "the table holds every module's rows");
	ok(router_module(0) == modules[0], "row 0 belongs to the first module");
	is_str(router_metrics_name(0), "unmatched", "id 0 is unmatched");
	is_str(router_metrics_name(1), router_route(0)->pattern,
	    "id i + 1 names routes[i]");
	return done_testing();
}
