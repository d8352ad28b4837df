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

#include <stddef.h>

#include <libpq-fe.h>

#include "config.h"

/* One statement: its prepared name, SQL with $n casts, arity. */
struct stmt_def {
	const char	*name;
	const char	*sql;
	int		 nparams;
};

/* A module's statement table; db.c prepares the sets of every module. */
struct stmt_set {
	const char		*module;
	const struct stmt_def	*defs;
	size_t			 n;
};

/* The server's own statements (db.c), part of the core module. */
extern const struct stmt_set core_stmts;

/* The core set (db.c). */
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

/* dashcgi check-sql: prepare every module's statements; 0 or 1. */
int	 db_check_sql(const struct config *);

/* Worker side. */
void	 db_init(const struct config *);	/* no I/O */
void	 db_shutdown(void);
/* Connected and prepared?  Tries to (re)connect if the backoff allows. */
int	 db_ready(void);
/*
 * Runs statement i of a set with text parameters (NULL = SQL NULL).
 * NULL when the database is away or the statement could not be
 * prepared; else a result the caller PQclear()s, whatever its status.
 */
PGresult *db_run(const struct stmt_set *, size_t i, int nparams,
	    const char *const *params);
PGresult *db_exec(enum stmt, int nparams, const char *const *params);
/*
 * Rows one at a time, for answers of any size in bounded memory
 * (libpq's single-row mode).  db_stream() sends statement i; -1 when
 * it could not (the database is away, the statement unprepared).
 * Then each db_stream_next() is the caller's to PQclear(): a
 * PGRES_SINGLE_TUPLE result per row, then the end -- PGRES_TUPLES_OK
 * without rows, or an error -- and NULL after that.  A caller that
 * stops early calls db_stream_end(), which drains the rest; nothing
 * else may run on the connection in between.
 */
int	 db_stream(const struct stmt_set *, size_t i, int nparams,
	    const char *const *params);
PGresult *db_stream_next(void);
void	 db_stream_end(void);

/* BEGIN / COMMIT / ROLLBACK on the worker's connection. */
int	 db_begin(void);
int	 db_commit(void);
void	 db_rollback(void);
int	 db_in_transaction(void);
/* Milliseconds the last successful ping took, -1 if it failed. */
double	 db_ping(void);
/* The connection's state for /metrics and /ready. */
int	 db_is_up(void);
/* The server refused our login or database: exit 2, do not retry. */
int	 db_fatal(void);
/* Connected and every statement prepared (schema not behind)? */
int	 db_statements_ready(void);
/* Connected and every statement of m and of the core modules prepared? */
struct module;
int	 db_module_ready(const struct module *m);
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
