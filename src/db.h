/*
 * db.h -- the worker's PostgreSQL connections and their statements,
 * and the single mapping from database errors to HTTP.
 *
 * Owns: the primary connection (one per process, directly or through a
 * transaction pooler), one connection per read replica, reconnect with
 * backoff, the statement table (db.c: sets[]), the read/write split,
 * the outcome of a COMMIT whose answer was lost.  Every PGresult handed
 * out is the caller's to PQclear().
 * Never: build SQL from input (every statement has $n parameters); keep
 * session state on a pooled connection (no SET, no advisory lock: what
 * needs a session uses db_open(), a direct connection); send a write, a
 * change transaction or an access decision to a replica.  The master
 * process never calls anything here but db_check_limits(); commands
 * use db_open() and db_check_sql().
 */
#ifndef DASHCGI_DB_H
#define DASHCGI_DB_H

#include <stddef.h>

#include <libpq-fe.h>

#include "config.h"

/*
 * One statement: its prepared name, SQL with $n casts, arity, flags.
 * STMT_READONLY: it only reads and tolerates replication lag (at most
 * database.replica_max_lag); outside a change transaction it may run
 * on a replica.  Never set it on a statement whose answer decides
 * access (authz) or that writes, even through a function.
 */
#define STMT_READONLY	0x1
struct stmt_def {
	const char	*name;
	const char	*sql;
	int		 nparams;
	int		 flags;
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

/*
 * BEGIN / COMMIT / ROLLBACK on the worker's primary connection.
 * db_commit(): DB_COMMITTED; DB_NOT_APPLIED when PostgreSQL answered
 * that the transaction rolled back; DB_OUTCOME_UNKNOWN when the answer
 * was lost and the transaction id's status could not be learnt after
 * reconnecting (never a guess: a lost answer whose transaction turns
 * out committed is DB_COMMITTED).
 */
enum { DB_COMMITTED = 0, DB_NOT_APPLIED = -1, DB_OUTCOME_UNKNOWN = -2 };
/*
 * A change in one statement: statement i runs alone, as a transaction
 * of its own committed before it answers (one round trip where BEGIN,
 * the statement and COMMIT take three); it must write everything the
 * change writes, its audit row included.  *outcome as db_commit()'s:
 * DB_COMMITTED with a successful result, DB_NOT_APPLIED when nothing
 * was sent or PostgreSQL answered an error, DB_OUTCOME_UNKNOWN when
 * the connection broke before the answer came back.  NULL (not
 * applied) when the database is away or a transaction is open.
 */
PGresult *db_run_alone(const struct stmt_set *, size_t i, int nparams,
	    const char *const *params, int *outcome);
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
 * Why the statements of a connected worker are not all usable when
 * the cause is a transaction pooler sharing server connections (named
 * prepared statements through PgBouncer < 1.21): a message naming the
 * remedy, or NULL.
 */
const char *db_pooler_conflict(void);
/* The statement table, for /metrics: count, and name of global index. */
int	 db_statement_count(void);
const char *db_statement_name(int);
/* Collect every module's statements; exits 2 if the table is too big. */
void	 db_check_limits(void);
/*
 * The request's user, for read-your-writes: after db_wrote() (a change
 * committed), that user's reads go to the primary for
 * database.read_your_writes, in every worker.  NULL: no user.
 */
void	 db_request_user(const char *);
void	 db_wrote(void);
/* Replicas: configured, connected and within replica_max_lag. */
int	 db_replicas_configured(void);
int	 db_replicas_usable(void);

/*
 * The one place where a failed database result becomes an HTTP
 * status and a stable error code ("database_unavailable", …).
 * res may be NULL (connection lost before a result came back).
 */
int	 db_http_status(const PGresult *res, const char **code,
	    const char **message);

#endif
