/*
 * db.h -- the worker's one PostgreSQL connection and its prepared
 * statements, and the single mapping from database errors to HTTP.
 *
 * Owns: the connection (one per process), reconnect with backoff,
 * the statement table (db.c: stmts[]).  Every PGresult handed out is
 * the caller's to PQclear().
 * Never: build SQL from input; every statement is prepared with $n
 * parameters.  The master process never calls anything here but
 * db_conninfo() (for check-config) and db_open() (for migrate).
 */
#ifndef DASHCGI_DB_H
#define DASHCGI_DB_H

#include <libpq-fe.h>

#include "config.h"

enum stmt {
	STMT_PING = 0,
	STMT_SCHEMA_VERSION,
	STMT__COUNT
};

/*
 * Open a blocking connection for a command (migrate, maintenance):
 * applies connect_timeout, statement_timeout and application_name.
 * Returns NULL after logging why.  The caller PQfinish()es it.
 */
PGconn	*db_open(const struct config *, const char *appname);

/* Worker side. */
void	 db_init(const struct config *);	/* no I/O */
void	 db_shutdown(void);
/* Connected and prepared?  Tries to (re)connect if the backoff allows. */
int	 db_ready(void);
/* Runs a prepared statement; text parameters, text or binary result. */
PGresult *db_exec(enum stmt, int nparams, const char *const *params);
/* Milliseconds the last successful ping took, -1 if it failed. */
double	 db_ping(void);
/* The connection's state for /metrics and /ready. */
int	 db_is_up(void);
/* The server refused our login or database: exit 2, do not retry. */
int	 db_fatal(void);
/* Connected and every statement prepared (schema not behind)? */
int	 db_statements_ready(void);
/* Called between requests: reconnect, max_lifetime. */
void	 db_tick(void);

/*
 * The one place where a failed database result becomes an HTTP
 * status and a stable error code ("database_unavailable", …).
 * res may be NULL (connection lost before a result came back).
 */
int	 db_http_status(const PGresult *res, const char **code,
	    const char **message);

#endif
