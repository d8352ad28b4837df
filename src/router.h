/*
 * router.h -- the route table: method, path pattern, handler, policy.
 *
 * Owns: the flattened table of every module's rows (module.h);
 * matching a path against it, extracting {param} segments
 * (percent-decoded), and the Allow list for 405.
 * Never: know what a handler does or name a module; policy lives in
 * the row flags.
 */
#ifndef DASHCGI_ROUTER_H
#define DASHCGI_ROUTER_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

struct req;
typedef void (*handler_fn)(struct req *);

enum route_flags {
	R_AUTH	= 1 << 0,	/* needs an identity (REMOTE_USER) */
	R_DB	= 1 << 1,	/* needs the database */
	R_JSON	= 1 << 2,	/* takes a JSON body */
	R_ROLE_INLINE = 1 << 3,	/* the handler's one statement returns
				   the caller's role (fast reads) */
	R_BODY	= 1 << 4,	/* takes a non-JSON body (NDJSON) */
	R_SECRET_PATH = 1 << 5,	/* the path holds a credential: log the
				   route pattern, never the path */
	R_ONE_STMT = 1 << 6,	/* a change in one statement: no BEGIN
				   or COMMIT around the handler, whose
				   db_run_alone() statement commits and
				   writes the audit row itself */
};

#define R_API	(R_AUTH | R_DB)	/* the usual API route */

/* Path prefixes the modules' tables share. */
#define ROUTE_PROJECT	"/api/v1/projects/{project}"
#define ROUTE_DASHBOARD	ROUTE_PROJECT "/dashboards/{name}"

struct route {
	const char	*method;
	const char	*pattern;	/* "/api/v1/projects/{project}" */
	handler_fn	 fn;
	unsigned	 flags;
	enum role	 role;		/* least role on {project}; ROLE_NONE:
					   any caller; ROLE_GLOBAL_ADMIN */
	const char	*action;	/* audit action of a change, or NULL
					   for a read; a change runs in one
					   transaction with its audit row */
};

struct module;

/* Row i of the flattened table (0 ≤ i < router_nroutes()), its module. */
size_t			 router_nroutes(void);
const struct route	*router_route(size_t i);
const struct module	*router_module(size_t i);

#define ROUTER_NOT_FOUND	(-1)
#define ROUTER_BAD_METHOD	(-2)

/*
 * Match; on success returns the row index and fills params (pointers
 * into buf, which must be a writable copy of path that outlives them).
 * On ROUTER_BAD_METHOD, allow gets "GET, HEAD" style text.
 */
int	 router_match(const char *method, char *buf, const char **params,
	    size_t *nparams, size_t maxparams, char *allow, size_t allowlen);

/* One pattern against one path; params point into path (not cut). */
int	 router_match_pattern(const char *pattern, char *path,
	    const char **params, size_t *nparams, size_t maxparams);

/* The value of the path parameter named {name}, or NULL. */
const char *router_param(const struct route *, const char *const *params,
	    size_t nparams, const char *name);

/* For the log: the secret route a path falls under, else NULL. */
const char *router_secret_pattern(const char *path);

/* Metrics label of a row id (0 = "unmatched", i + 1 = routes[i]). */
const char *router_metrics_name(int id);
int	 router_metrics_count(void);

/* The table as tab-separated text (dashcgi routes). */
void	 routes_print(FILE *);

#endif
