/*
 * db.c -- the worker's PostgreSQL connection, prepared statements,
 * reconnect with backoff, and the SQLSTATE to HTTP mapping.
 *
 * Owns: one PGconn per process (static), the statement table.
 * Never: run SQL that is not in a statement table (migrate and maintenance have
 * their own connection from db_open()); block longer than
 * connect_timeout when the database is away.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "module.h"
#include "metrics.h"

/* The server's own statements. */
static const struct stmt_def core_defs[STMT__COUNT] = {
	[STMT_PING] = { "ping", "SELECT 1", 0 },
	[STMT_SCHEMA_VERSION] = { "schema_version",
	    "SELECT coalesce(max(version), 0) FROM schema_migrations", 0 },
};
const struct stmt_set core_stmts = { "core", core_defs, STMT__COUNT };

/*
 * Every statement a process runs, one set per module, collected from
 * modules[] (module.h): each module keeps its SQL beside the code that
 * reads the result.  All of them are prepared when a connection opens.
 */
#define MAX_SETS	64
#define MAX_STMTS	1024

static const struct stmt_set	*sets[MAX_SETS];
static const struct module	*set_owner[MAX_SETS];
static size_t			 set_base[MAX_SETS];	/* first global index */
static size_t			 nsets, nstmts;

/* Collect the sets once; too many is a programming error, not a skip. */
static void
collect_sets(void)
{
	const struct stmt_set *const	*sp;
	size_t				 m;

	if (nsets > 0)
		return;
	for (m = 0; m < nmodules; m++)
		for (sp = modules[m]->stmts; sp != NULL && *sp != NULL; sp++) {
			if (nsets == MAX_SETS || nstmts + (*sp)->n > MAX_STMTS) {
				fprintf(stderr, "dashcgi: more than %d statement "
				    "sets or %d statements\n", MAX_SETS,
				    MAX_STMTS);
				abort();
			}
			set_owner[nsets] = modules[m];
			set_base[nsets] = nstmts;
			sets[nsets++] = *sp;
			nstmts += (*sp)->n;
		}
}

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000

static const struct config	*cfg;
static PGconn			*conn;
static int			 prepared[MAX_STMTS];
static int			 reported[MAX_STMTS];	/* logged this conn */
static int			 all_prepared;
static int64_t			 next_try_ms;	/* monotonic */
static int64_t			 backoff_ms = BACKOFF_MIN_MS;
static int64_t			 connected_at_ms;
static int			 up;
static int			 fatal;
static int64_t			 next_prepare_ms;

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * libpq keywords for a config.  database.url, when set, is expanded
 * first (expand_dbname) and the keys below it do not apply.
 */
static int	fatal_connect_error(PGconn *);

static PGconn *
open_conn(const struct config *c, const char *appname, int *fatalp)
{
	const char	*kw[16], *val[16];
	char		 port[16], timeout[32], opts[96];
	int		 n = 0;
	int64_t		 ct;
	PGconn		*pc;

	/* libpq takes whole seconds; 0 means wait forever, so round up. */
	ct = (c->database.connect_timeout + 999) / 1000;
	snprintf(timeout, sizeof(timeout), "%lld", (long long)(ct < 1 && 
	    c->database.connect_timeout > 0 ? 1 : ct));
	snprintf(port, sizeof(port), "%d", c->database.port);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%lld",
	    (long long)c->database.statement_timeout);

	if (c->database.url != NULL && *c->database.url != '\0') {
		kw[n] = "dbname";		val[n++] = c->database.url;
	} else {
		kw[n] = "host";			val[n++] = c->database.host;
		kw[n] = "port";			val[n++] = port;
		kw[n] = "dbname";		val[n++] = c->database.name;
		kw[n] = "user";			val[n++] = c->database.user;
		if (c->database.password != NULL &&
		    *c->database.password != '\0') {
			kw[n] = "password";	val[n++] = c->database.password;
		}
		kw[n] = "sslmode";		val[n++] = c->database.sslmode;
	}
	kw[n] = "connect_timeout";	val[n++] = timeout;
	kw[n] = "application_name";	val[n++] = appname;
	kw[n] = "options";		val[n++] = opts;
	kw[n] = NULL;			val[n] = NULL;

	pc = PQconnectdbParams(kw, val, 1);
	if (pc == NULL) {
		log_error("database connection: out of memory");
		return NULL;
	}
	if (PQstatus(pc) != CONNECTION_OK) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "database connection failed");
		log_str(&l, "error", PQerrorMessage(pc));
		log_end(&l);
		if (fatalp != NULL)
			*fatalp = fatal_connect_error(pc);
		PQfinish(pc);
		return NULL;
	}
	return pc;
}

PGconn *
db_open(const struct config *c, const char *appname)
{
	return open_conn(c, appname, NULL);
}

/*
 * Errors that no amount of retrying will fix: the configuration names
 * a database or a login the server refuses.  libpq gives no SQLSTATE
 * for a failed connection, so the server's message is matched.
 */
static int
fatal_connect_error(PGconn *pc)
{
	const char	*m = PQerrorMessage(pc);

	if (PQconnectionNeedsPassword(pc))
		return 1;
	return (strstr(m, "database \"") != NULL &&
	    strstr(m, "does not exist") != NULL) ||
	    (strstr(m, "role \"") != NULL &&
	    strstr(m, "does not exist") != NULL) ||
	    strstr(m, "password authentication failed") != NULL ||
	    strstr(m, "no pg_hba.conf entry") != NULL;
}

void
db_init(const struct config *c)
{
	cfg = c;
}

static void
set_up(int v)
{
	up = v;
}

int
db_is_up(void)
{
	return up;
}

static void
disconnect(void)
{
	if (conn != NULL)
		PQfinish(conn);
	conn = NULL;
	memset(prepared, 0, sizeof(prepared));
	memset(reported, 0, sizeof(reported));
	all_prepared = 0;
	set_up(0);
}

void
db_shutdown(void)
{
	disconnect();
}

/*
 * Prepare what is not prepared yet.  A statement that fails leaves its
 * module unready (its routes answer 503) and the others serving; it is
 * logged at ERROR once per connection, with its name and the server's
 * message, then retried quietly (a pending migration may create what
 * it needs).
 */
static void	log_prepare_failure(const char *, const PGresult *, int);

static void
prepare_all(void)
{
	const struct stmt_def	*d;
	PGresult		*res;
	size_t			 k, i, g;
	int			 ok = 1;

	collect_sets();
	for (k = 0; k < nsets; k++)
		for (i = 0; i < sets[k]->n; i++) {
			g = set_base[k] + i;
			if (prepared[g])
				continue;
			d = &sets[k]->defs[i];
			res = PQprepare(conn, d->name, d->sql, d->nparams, NULL);
			switch (PQresultStatus(res)) {
			case PGRES_COMMAND_OK:
				prepared[g] = 1;
				break;
			default:
				ok = 0;
				log_prepare_failure(d->name, res, reported[g]);
				reported[g] = 1;
				break;
			}
			PQclear(res);
			if (PQstatus(conn) != CONNECTION_OK)
				return;
		}
	all_prepared = ok;
}

static void
log_prepare_failure(const char *name, const PGresult *res, int again)
{
	struct logline	 l;

	log_begin(&l, again ? LOG_DEBUG : LOG_ERROR,
	    "cannot prepare statement");
	log_str(&l, "statement", name);
	log_str(&l, "sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE));
	log_str(&l, "error", PQresultErrorMessage(res));
	log_end(&l);
}

static int
connect_now(void)
{
	char	 app[64];

	snprintf(app, sizeof(app), "dashcgi worker %d", (int)getpid());
	next_try_ms = now_ms() + backoff_ms;
	if ((conn = open_conn(cfg, app, &fatal)) == NULL) {
		backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ?
		    BACKOFF_MAX_MS : backoff_ms * 2;
		metrics_db_error();
		return -1;
	}
	backoff_ms = BACKOFF_MIN_MS;
	connected_at_ms = now_ms();
	prepare_all();
	if (PQstatus(conn) != CONNECTION_OK) {
		disconnect();
		return -1;
	}
	set_up(1);
	log_info("database connected");
	return 0;
}

/*
 * A refused login or a missing database is a configuration error: no
 * amount of retrying fixes it, and the worker exits 2 so that the
 * master does not respawn it in a loop.
 */
int
db_fatal(void)
{
	return fatal;
}

int
db_ready(void)
{
	if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
		log_warn("database connection lost");
		disconnect();
	}
	if (conn == NULL) {
		if (now_ms() < next_try_ms)
			return 0;
		if (connect_now() == -1)
			return 0;
	}
	/* A schema behind the code: look again at most once a second. */
	if (!all_prepared && now_ms() >= next_prepare_ms) {
		next_prepare_ms = now_ms() + 1000;
		prepare_all();
	}
	return 1;
}

int
db_statements_ready(void)
{
	return conn != NULL && all_prepared;
}

void
db_tick(void)
{
	if (conn != NULL && cfg->database.max_lifetime > 0 &&
	    now_ms() - connected_at_ms > cfg->database.max_lifetime) {
		log_info("database connection reached max_lifetime; "
		    "reconnecting");
		disconnect();
		next_try_ms = 0;
	}
	(void)db_ready();
}

static int
global_index(const struct stmt_set *set, size_t i)
{
	size_t	 k;

	collect_sets();
	for (k = 0; k < nsets; k++)
		if (sets[k] == set)
			return i < set->n ? (int)(set_base[k] + i) : -1;
	return -1;
}

/* Every statement of module m (and of every MOD_CORE module) prepared? */
int
db_module_ready(const struct module *m)
{
	size_t	 k, i;

	if (conn == NULL)
		return 0;
	if (all_prepared)
		return 1;
	collect_sets();
	for (k = 0; k < nsets; k++) {
		if (set_owner[k] != m && !(set_owner[k]->flags & MOD_CORE))
			continue;
		for (i = 0; i < sets[k]->n; i++)
			if (!prepared[set_base[k] + i])
				return 0;
	}
	return 1;
}

PGresult *
db_exec(enum stmt s, int nparams, const char *const *params)
{
	return db_run(&core_stmts, s, nparams, params);
}

PGresult *
db_run(const struct stmt_set *set, size_t i, int nparams,
    const char *const *params)
{
	PGresult	*res;
	int		 g;

	if (!db_ready())
		return NULL;
	if ((g = global_index(set, i)) < 0 || !prepared[g]) {
		/* Its table is missing: the schema is behind the code. */
		return NULL;
	}
	res = PQexecPrepared(conn, set->defs[i].name, nparams, params, NULL,
	    NULL, 0);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		break;
	default:
		metrics_db_error();
		if (PQstatus(conn) != CONNECTION_OK) {
			log_warn("database connection lost: %s",
			    PQerrorMessage(conn));
			disconnect();
		}
		break;
	}
	return res;
}

/* A db_stream() is under way: its end has not been handed out yet. */
static int	 streaming;

/* Count a failed result and drop a connection that broke. */
static void
stream_failed(void)
{
	metrics_db_error();
	if (PQstatus(conn) != CONNECTION_OK) {
		log_warn("database connection lost: %s", PQerrorMessage(conn));
		disconnect();
	}
}

int
db_stream(const struct stmt_set *set, size_t i, int nparams,
    const char *const *params)
{
	int	 g;

	if (!db_ready())
		return -1;
	if ((g = global_index(set, i)) < 0 || !prepared[g])
		return -1;
	if (!PQsendQueryPrepared(conn, set->defs[i].name, nparams, params,
	    NULL, NULL, 0)) {
		log_warn("%s: cannot send: %s", set->defs[i].name,
		    PQerrorMessage(conn));
		stream_failed();
		return -1;
	}
	/* Fails only when called at the wrong time: rows then come whole. */
	if (!PQsetSingleRowMode(conn))
		log_warn("%s: single-row mode refused", set->defs[i].name);
	streaming = 1;
	return 0;
}

PGresult *
db_stream_next(void)
{
	PGresult	*res, *more;

	if (!streaming || conn == NULL)
		return NULL;
	if ((res = PQgetResult(conn)) == NULL) {
		streaming = 0;
		return NULL;
	}
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		return res;
	case PGRES_TUPLES_OK:
		break;
	default:
		stream_failed();
		break;
	}
	/* The end: read up to libpq's NULL so the connection is free. */
	streaming = 0;
	while (conn != NULL && (more = PQgetResult(conn)) != NULL)
		PQclear(more);
	return res;
}

void
db_stream_end(void)
{
	PGresult	*res;

	while ((res = db_stream_next()) != NULL)
		PQclear(res);
}

/*
 * Transaction control.  Plain PQexec: these take no parameters and
 * cannot be prepared.  Each returns 0, or -1 with the connection state
 * already handled (a lost connection is dropped for reconnect).
 */
static int
tx(const char *sql)
{
	PGresult	*res;
	int		 rc = -1;

	if (conn == NULL)
		return -1;
	res = PQexec(conn, sql);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		rc = 0;
		break;
	default:
		metrics_db_error();
		log_warn("%s failed: %s", sql, PQresultErrorMessage(res));
		if (PQstatus(conn) != CONNECTION_OK)
			disconnect();
		break;
	}
	PQclear(res);
	return rc;
}

int
db_begin(void)
{
	return db_ready() ? tx("BEGIN") : -1;
}

int
db_commit(void)
{
	return tx("COMMIT");
}

void
db_rollback(void)
{
	if (conn != NULL && PQtransactionStatus(conn) != PQTRANS_IDLE)
		(void)tx("ROLLBACK");
}

int
db_in_transaction(void)
{
	return conn != NULL && PQtransactionStatus(conn) != PQTRANS_IDLE;
}

double
db_ping(void)
{
	struct timespec	 a, b;
	PGresult	*res;
	double		 ms = -1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	res = db_exec(STMT_PING, 0, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	PQclear(res);
	return ms;
}

/*
 * "dashcgi check-sql": prepare every statement of every module on a
 * connection of its own and report each that fails, with its module,
 * name and the server's message.  0 when all prepared, 1 otherwise.
 */
int
db_check_sql(const struct config *c)
{
	const struct stmt_def	*d;
	struct logline		 l;
	PGconn			*pc;
	PGresult		*res;
	size_t			 k, i, bad = 0;

	if ((pc = open_conn(c, "dashcgi check-sql", NULL)) == NULL)
		return 1;
	collect_sets();
	for (k = 0; k < nsets; k++)
		for (i = 0; i < sets[k]->n; i++) {
			d = &sets[k]->defs[i];
			res = PQprepare(pc, d->name, d->sql, d->nparams, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				log_begin(&l, LOG_ERROR,
				    "cannot prepare statement");
				log_str(&l, "module", set_owner[k]->name);
				log_str(&l, "statement", d->name);
				log_str(&l, "sqlstate", PQresultErrorField(res,
				    PG_DIAG_SQLSTATE));
				log_str(&l, "error", PQresultErrorMessage(res));
				log_end(&l);
				printf("FAIL %s %s: %s", set_owner[k]->name,
				    d->name, PQresultErrorMessage(res));
				bad++;
			}
			PQclear(res);
		}
	PQfinish(pc);
	printf("%zu statements in %zu sets, %zu failed to prepare\n",
	    nstmts, nsets, bad);
	return bad > 0 ? 1 : 0;
}

/*
 * The one mapping from a database failure to an HTTP answer.
 * Classes follow PostgreSQL's errcodes appendix.
 */
int
db_http_status(const PGresult *res, const char **code, const char **message)
{
	const char	*st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	*message = "the database is unavailable";
	*code = "database_unavailable";
	if (res == NULL || st == NULL)
		return 503;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 ||
	    strncmp(st, "53", 2) == 0)
		return 503;
	if (strcmp(st, "57014") == 0) {
		*code = "database_timeout";
		*message = "the database did not answer within "
		    "statement_timeout";
		return 503;
	}
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
		*code = "conflict";
		*message = "concurrent update, retry the request";
		return 409;
	}
	/* A time-partitioned table without the partition for this row: the
	 * server's housekeeping failed, not the client. */
	if (strcmp(st, "23514") == 0 && (*message = PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY)) != NULL &&
	    strncmp(*message, "no partition of relation", 24) == 0) {
		*code = "partition_missing";
		return 503;
	}
	if (strcmp(st, "23505") == 0) {
		*code = "conflict";
		*message = "the resource already exists";
		return 409;
	}
	if (strcmp(st, "23503") == 0) {
		*code = "conflict";
		*message = "the resource is referenced or refers to a missing "
		    "resource";
		return 409;
	}
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0) {
		*code = "bad_request";
		*message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (*message == NULL)
			*message = "invalid value";
		return 400;
	}
	*code = "internal_error";
	*message = "internal error";
	return 500;
}
