/*
 * authz.h -- who may do what: global admins, project roles, denials.
 *
 * Owns: the decision for a route row's `role` column.  dispatch()
 * calls authz_route() for every route; handlers whose single statement
 * returns the caller's role (R_ROLE_INLINE) call authz_decide().
 * Never: trust anything but REMOTE_USER (struct req.remote_user), or
 * tell a caller without a role that a project exists (404, not 403).
 */
#ifndef DASHCGI_AUTHZ_H
#define DASHCGI_AUTHZ_H

#include "config.h"

struct req;

enum role	 authz_role_parse(const char *);	/* NULL/"": ROLE_NONE */
const char	*authz_role_name(enum role);
/* Is the caller in auth.admins (or anonymous with the admin role)? */
int		 authz_global_admin(const struct req *);

/*
 * Enforce r->route->role.  Sets r->role and r->admin.  Returns 0 to
 * go on, or -1 after answering 404 (no such project, or no role in
 * it), 403 (role too weak: audited) or 503.
 */
int		 authz_route(struct req *);

/*
 * The same decision from facts a handler's statement returned: does
 * the project exist, and the caller's role text (NULL: none).
 */
int		 authz_decide(struct req *, const char *project,
		    int project_exists, const char *role);

/* Answer 403 and audit the denial (after any rollback). */
void		 authz_deny(struct req *, const char *project,
		    const char *resource, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));

/* Its statements, prepared with the core module's. */
struct stmt_set;
extern const struct stmt_set authz_stmts;

#endif
