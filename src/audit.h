/*
 * audit.h -- the audit trail: exactly one row per change, written in
 * the change's own transaction; one row per denial and per share-link
 * attempt.
 *
 * Owns: the audit_log INSERT.  A change route (route.action != NULL)
 * runs in a transaction that dispatch() commits only if the handler
 * called audit_change(); otherwise it rolls back and answers 500.
 * Never: update or delete a row (the database refuses it anyway).
 */
#ifndef DASHCGI_AUDIT_H
#define DASHCGI_AUDIT_H

#include <json-c/json.h>

#include "module.h"

struct req;

#define AUDIT_NO_VERSION	(-1L)

/*
 * The change's row, inside the request's transaction, with the
 * route's action.  details (may be NULL) is consumed.  Returns 0, or
 * -1 after answering the database error.
 */
int	audit_change(struct req *, const char *project, const char *resource,
	    long version, struct json_object *details);

/*
 * For a change in one statement (R_ONE_STMT) whose SQL writes its own
 * row through audit_write(): the request's client address (NULL when
 * not an IP address), the server's request id and the client's (NULL
 * when it sent none), as audit_change() passes them.
 */
void	audit_request_ids(const struct req *, const char **ip,
	    const char **request_id, const char **client_request_id);

/*
 * An event outside any change (denial, share-link attempt), in its own
 * statement.  result: "success", "denied" or "failure".  details is
 * consumed.  Failures are logged, never answered.
 */
void	audit_event(struct req *, const char *action, const char *project,
	    const char *resource, long version, const char *result,
	    struct json_object *details);

/* Its statements and maintenance jobs, in the core module. */
/* 0 no partition for this month, 1 this month's only, 2 next month's
 * too; -1 unknown (database away). */
int	audit_partitions_ahead(void);

/*
 * A job's $1 (job_param_fn): audit.retention in milliseconds, or skip
 * when it is 0 (kept forever).  For what must go with the audit rows.
 */
int	audit_retention_param(const struct config *, char *buf, size_t len);

#define AUDIT_NJOBS	2
extern const struct job audit_jobs[];
struct stmt_set;
extern const struct stmt_set audit_stmts;

#endif
