/*
 * db.c -- the worker's PostgreSQL connections (the primary, the read
 * replicas), prepared or unnamed statements, reconnect with backoff,
 * the read/write split, per-statement metrics, COMMIT outcomes, and the
 * SQLSTATE to HTTP mapping.
 *
 * Owns: the primary and replica connections (static), the statement
 * table.
 * Never: run SQL that is not in a statement table, except transaction
 * control, the replica lag probe and txid_status() (migrate and
 * maintenance have their own connection from db_open()); leave session
 * state on a connection a pooler shares; block longer than
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
#define MAX_STMTS	METRICS_MAX_STMTS

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
				    "sets or %d statements: raise MAX_SETS or "
				    "METRICS_MAX_STMTS (metrics.h)\n", MAX_SETS,
				    MAX_STMTS);
				exit(2);
			}
			set_owner[nsets] = modules[m];
			set_base[nsets] = nstmts;
			sets[nsets++] = *sp;
			nstmts += (*sp)->n;
		}
}

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000
#define REPLICA_BACKOFF_MAX_MS	10000
/* A connection idle this long is pinged before it is trusted again. */
#define STALE_MS	1000
/* How often a worker asks a replica how far behind it is. */
#define LAG_CHECK_MS	1000

/*
 * One connection with its own prepared-statement state: the primary
 * (writes, transactions, access decisions) or a replica.
 */
struct dbc {
	PGconn		*pc;
	int		 replica;	/* 0: primary; 1..n: replicas[i-1] */
	unsigned char	 prepared[MAX_STMTS];
	unsigned char	 reported[MAX_STMTS];	/* logged this conn */
	int		 all_prepared;
	int64_t		 next_try_ms;	/* monotonic */
	int64_t		 backoff_ms;
	int64_t		 connected_at_ms;
	int64_t		 last_use_ms;
	int64_t		 next_prepare_ms;
	int64_t		 lag_checked_ms;
	int		 lag_ok;
};

static const struct config	*cfg;
static struct dbc		 primary = { .backoff_ms = BACKOFF_MIN_MS };
static struct dbc		*replicas;	/* cfg->database.nreplicas */
static size_t			 nreplicas, next_replica;
static int			 fatal;
static int			 conflict;	/* pooler shares named stmts */
static uint32_t			 req_user;	/* hash; 0: none */

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const conflict_msg =
    "named prepared statements do not survive this connection's pooler "
    "(PgBouncer in transaction mode before 1.21, or without "
    "max_prepared_statements): set database.prepared_statements: "
    "unnamed, or max_prepared_statements in pgbouncer.ini (>= 1.21)";

/*
 * libpq keywords for a config.  database.url, when set, is expanded
 * first (expand_dbname) and the keys below it do not apply.
 *
 * What opens: OPEN_POOLED is a worker's primary (through
 * database.pooler if any), OPEN_DIRECT a session that must reach
 * PostgreSQL itself (database.direct_url, else the same keys), and
 * OPEN_REPLICA + i replicas[i].  statement_timeout goes in the startup
 * packet (options) except through a transaction pooler, which refuses
 * that parameter and would in any case not keep it with our session:
 * there it is SET LOCAL in every transaction (db_begin) and a role
 * setting for single statements (README).
 */
enum { OPEN_POOLED = -2, OPEN_DIRECT = -1, OPEN_REPLICA = 0 };
static int	fatal_connect_error(PGconn *);

static PGconn *
open_conn(const struct config *c, const char *appname, int *fatalp,
    int what)
{
	const char	*kw[16], *val[16], *url = c->database.url;
	char		 port[16], timeout[32], opts[96];
	int		 n = 0, pooled;
	int64_t		 ct;
	PGconn		*pc;

	/* libpq takes whole seconds; 0 means wait forever, so round up. */
	ct = (c->database.connect_timeout + 999) / 1000;
	snprintf(timeout, sizeof(timeout), "%lld", (long long)(ct < 1 && 
	    c->database.connect_timeout > 0 ? 1 : ct));
	snprintf(port, sizeof(port), "%d", c->database.port);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%lld",
	    (long long)c->database.statement_timeout);
	pooled = c->database.pooler != POOLER_NONE && what != OPEN_DIRECT;
	if (what == OPEN_DIRECT && c->database.direct_url != NULL &&
	    *c->database.direct_url != '\0')
		url = c->database.direct_url;
	if (what >= OPEN_REPLICA)
		url = c->database.replicas[what];

	if (url != NULL && *url != '\0') {
		kw[n] = "dbname";		val[n++] = url;
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
	if (!pooled) {
		kw[n] = "options";	val[n++] = opts;
	}
	kw[n] = NULL;			val[n] = NULL;

	pc = PQconnectdbParams(kw, val, 1);
	if (pc == NULL) {
		log_error("database connection: out of memory");
		return NULL;
	}
	if (PQstatus(pc) != CONNECTION_OK) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "database connection failed");
		if (what >= OPEN_REPLICA)
			log_int(&l, "replica", what + 1);
		log_str(&l, "error", PQerrorMessage(pc));
		if (strstr(PQerrorMessage(pc), "unsupported startup "
		    "parameter") != NULL)
			log_str(&l, "remedy", "a pooler refuses startup "
			    "parameters: set database.pooler: pgbouncer");
		log_end(&l);
		if (fatalp != NULL)
			*fatalp = fatal_connect_error(pc);
		PQfinish(pc);
		return NULL;
	}
	return pc;
}

/*
 * Commands that hold a session (migrate and maintenance take session
 * advisory locks and SET for the session): straight to PostgreSQL.
 * Through a transaction pooler the lock would stay on a server
 * connection other clients then borrow, so without database.direct_url
 * they refuse to run rather than leak it.
 */
PGconn *
db_open(const struct config *c, const char *appname)
{
	if (c->database.pooler != POOLER_NONE &&
	    (c->database.direct_url == NULL ||
	    *c->database.direct_url == '\0')) {
		log_error("%s holds a database session (an advisory lock) and "
		    "cannot run through database.pooler; set "
		    "database.direct_url to reach PostgreSQL directly",
		    appname);
		return NULL;
	}
	return open_conn(c, appname, NULL, OPEN_DIRECT);
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
	size_t	 i;

	cfg = c;
	collect_sets();
	nreplicas = c->database.nreplicas;
	if (nreplicas > 0 && replicas == NULL) {
		if ((replicas = calloc(nreplicas, sizeof(*replicas))) == NULL)
			nreplicas = 0;
		for (i = 0; i < nreplicas; i++) {
			replicas[i].replica = (int)i + 1;
			replicas[i].backoff_ms = BACKOFF_MIN_MS;
		}
	}
	next_replica = (size_t)getpid();
}

int
db_is_up(void)
{
	return primary.pc != NULL;
}

static void
disconnect(struct dbc *d)
{
	if (d->pc != NULL)
		PQfinish(d->pc);
	d->pc = NULL;
	memset(d->prepared, 0, sizeof(d->prepared));
	memset(d->reported, 0, sizeof(d->reported));
	d->all_prepared = 0;
	d->lag_ok = 0;
	d->lag_checked_ms = 0;
}

void
db_shutdown(void)
{
	size_t	 i;

	disconnect(&primary);
	for (i = 0; i < nreplicas; i++)
		disconnect(&replicas[i]);
}

static int
is_conflict(const PGresult *res)
{
	const char	*st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	/* 42P05 duplicate_prepared_statement at prepare, 26000
	 * invalid_sql_statement_name at execute. */
	return st != NULL && (strcmp(st, "42P05") == 0 ||
	    strcmp(st, "26000") == 0);
}

/*
 * Prepare what is not prepared yet.  A statement that fails leaves its
 * module unready (its routes answer 503) and the others serving; it is
 * logged at ERROR once per connection, with its name and the server's
 * message, then retried quietly (a pending migration may create what
 * it needs).  With prepared_statements: unnamed, the unnamed statement
 * checks the SQL now (same errors, same module readiness) and every
 * execution later sends its text again.
 */
static void	log_prepare_failure(const struct dbc *, const char *,
		    const PGresult *, int);

static void
prepare_all(struct dbc *c)
{
	const struct stmt_def	*d;
	PGresult		*res;
	size_t			 k, i, g;
	int			 ok = 1, unnamed;

	unnamed = cfg->database.prepared_statements == PREPARED_UNNAMED;
	collect_sets();
	for (k = 0; k < nsets; k++)
		for (i = 0; i < sets[k]->n; i++) {
			g = set_base[k] + i;
			if (c->prepared[g])
				continue;
			d = &sets[k]->defs[i];
			/* Replicas serve only what may read stale data. */
			if (c->replica && !(d->flags & STMT_READONLY))
				continue;
			res = PQprepare(c->pc, unnamed ? "" : d->name, d->sql,
			    d->nparams, NULL);
			switch (PQresultStatus(res)) {
			case PGRES_COMMAND_OK:
				c->prepared[g] = 1;
				break;
			default:
				ok = 0;
				if (is_conflict(res))
					conflict = 1;
				log_prepare_failure(c, d->name, res,
				    c->reported[g]);
				c->reported[g] = 1;
				break;
			}
			PQclear(res);
			if (PQstatus(c->pc) != CONNECTION_OK)
				return;
		}
	c->all_prepared = ok;
}

static void
log_prepare_failure(const struct dbc *c, const char *name,
    const PGresult *res, int again)
{
	struct logline	 l;

	log_begin(&l, again ? LOG_DEBUG : LOG_ERROR,
	    "cannot prepare statement");
	log_str(&l, "statement", name);
	if (c->replica)
		log_int(&l, "replica", c->replica);
	log_str(&l, "sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE));
	log_str(&l, "error", PQresultErrorMessage(res));
	if (is_conflict(res))
		log_str(&l, "remedy", conflict_msg);
	log_end(&l);
}

/*
 * Through a transaction pooler, single statements get the role's (or
 * database's) statement_timeout, not ours: say so once when it is 0.
 */
static void
check_pooled_timeout(PGconn *pc)
{
	PGresult	*res;

	if (cfg->database.pooler == POOLER_NONE ||
	    cfg->database.statement_timeout == 0)
		return;
	res = PQexec(pc, "SHOW statement_timeout");
	if (PQresultStatus(res) == PGRES_TUPLES_OK &&
	    strcmp(PQgetvalue(res, 0, 0), "0") == 0)
		log_warn("through database.pooler, statements outside a "
		    "transaction run without statement_timeout: set it on "
		    "the role (ALTER ROLE ... SET statement_timeout = ...)");
	PQclear(res);
}

static int
connect_now(struct dbc *c)
{
	char	 app[64];
	int64_t	 max = c->replica ? REPLICA_BACKOFF_MAX_MS : BACKOFF_MAX_MS;

	snprintf(app, sizeof(app), "dashcgi worker %d%s", (int)getpid(),
	    c->replica ? " replica" : "");
	c->next_try_ms = now_ms() + c->backoff_ms;
	if ((c->pc = open_conn(cfg, app, c->replica ? NULL : &fatal,
	    c->replica ? c->replica - 1 : OPEN_POOLED)) == NULL) {
		c->backoff_ms = c->backoff_ms * 2 > max ? max :
		    c->backoff_ms * 2;
		metrics_db_error();
		return -1;
	}
	c->backoff_ms = BACKOFF_MIN_MS;
	c->connected_at_ms = c->last_use_ms = now_ms();
	if (!c->replica)
		check_pooled_timeout(c->pc);
	prepare_all(c);
	if (PQstatus(c->pc) != CONNECTION_OK) {
		disconnect(c);
		return -1;
	}
	if (c->replica)
		log_info("database replica %d connected", c->replica);
	else
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

const char *
db_pooler_conflict(void)
{
	return conflict ? conflict_msg : NULL;
}

static int
in_tx(void)
{
	return primary.pc != NULL &&
	    PQtransactionStatus(primary.pc) != PQTRANS_IDLE;
}

/*
 * A connection unused for a while may have been cut (PostgreSQL
 * restarted, a pooler or firewall closed it) without libpq knowing:
 * its first statement would fail although the database is back.  One
 * empty query finds out; a dead connection is replaced at once.
 */
static void
check_stale(struct dbc *c)
{
	PGresult	*res;

	if (c->pc == NULL || now_ms() - c->last_use_ms < STALE_MS ||
	    (!c->replica && in_tx()))
		return;
	res = PQexec(c->pc, "");
	if (PQresultStatus(res) != PGRES_EMPTY_QUERY ||
	    PQstatus(c->pc) != CONNECTION_OK) {
		log_warn("database %s connection found dead after %lld ms "
		    "idle; reconnecting", c->replica ? "replica" : "primary",
		    (long long)(now_ms() - c->last_use_ms));
		disconnect(c);
		c->next_try_ms = 0;
	} else
		c->last_use_ms = now_ms();
	PQclear(res);
}

static int
conn_ready(struct dbc *c)
{
	if (c->pc != NULL && PQstatus(c->pc) != CONNECTION_OK) {
		log_warn("database connection lost");
		disconnect(c);
	}
	check_stale(c);
	if (c->pc == NULL) {
		if (now_ms() < c->next_try_ms)
			return 0;
		if (connect_now(c) == -1)
			return 0;
	}
	/* A schema behind the code: look again at most once a second. */
	if (!c->all_prepared && now_ms() >= c->next_prepare_ms) {
		c->next_prepare_ms = now_ms() + 1000;
		prepare_all(c);
	}
	return 1;
}

int
db_ready(void)
{
	return conn_ready(&primary);
}

int
db_statements_ready(void)
{
	return primary.pc != NULL && primary.all_prepared;
}

void
db_tick(void)
{
	if (primary.pc != NULL && cfg->database.max_lifetime > 0 &&
	    now_ms() - primary.connected_at_ms > cfg->database.max_lifetime) {
		log_info("database connection reached max_lifetime; "
		    "reconnecting");
		disconnect(&primary);
		primary.next_try_ms = 0;
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

	if (primary.pc == NULL)
		return 0;
	if (primary.all_prepared)
		return 1;
	collect_sets();
	for (k = 0; k < nsets; k++) {
		if (set_owner[k] != m && !(set_owner[k]->flags & MOD_CORE))
			continue;
		for (i = 0; i < sets[k]->n; i++)
			if (!primary.prepared[set_base[k] + i])
				return 0;
	}
	return 1;
}

int
db_statement_count(void)
{
	collect_sets();
	return (int)nstmts;
}

const char *
db_statement_name(int g)
{
	size_t	 k;

	collect_sets();
	for (k = 0; k < nsets; k++)
		if ((size_t)g >= set_base[k] && (size_t)g < set_base[k] +
		    sets[k]->n)
			return sets[k]->defs[(size_t)g - set_base[k]].name;
	return "?";
}

void
db_check_limits(void)
{
	collect_sets();
}

PGresult *
db_exec(enum stmt s, int nparams, const char *const *params)
{
	return db_run(&core_stmts, s, nparams, params);
}

/* Lost the connection, or the server is going away or recovering? */
static int
connection_failure(const struct dbc *c, const PGresult *res)
{
	const char	*st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return PQstatus(c->pc) != CONNECTION_OK || st == NULL ||
	    strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

/* Run global statement g on c: timed, counted, by name or by text. */
static PGresult *
exec_on(struct dbc *c, int g, const struct stmt_def *d, int nparams,
    const char *const *params)
{
	struct timespec	 a, b;
	PGresult	*res;
	const char	*st = NULL;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cfg->database.prepared_statements == PREPARED_UNNAMED)
		res = PQexecParams(c->pc, d->sql, nparams, NULL, params, NULL,
		    NULL, 0);
	else
		res = PQexecPrepared(c->pc, d->name, nparams, params, NULL,
		    NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	c->last_use_ms = now_ms();
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		break;
	default:
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (st == NULL)
			st = "";
		metrics_db_error();
		if (is_conflict(res)) {
			conflict = 1;
			log_error("statement %s: %s; %s", d->name,
			    PQresultErrorMessage(res), conflict_msg);
		}
		if (PQstatus(c->pc) != CONNECTION_OK) {
			log_warn("database %sconnection lost: %s",
			    c->replica ? "replica " : "",
			    PQerrorMessage(c->pc));
			disconnect(c);
		}
		break;
	}
	metrics_statement(g, (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9, st, c->replica != 0);
	return res;
}

/*
 * Is replica c fit to serve?  Connected, and at most replica_max_lag
 * behind, asked at most once a second: a replica that has replayed
 * everything it received is current; otherwise its lag is the age of
 * the last transaction it replayed (an upper bound on the true lag).
 */
static int
replica_fit(struct dbc *c)
{
	PGresult	*res;
	double		 lag;

	if (!conn_ready(c))
		return 0;
	if (now_ms() - c->lag_checked_ms < LAG_CHECK_MS)
		return c->lag_ok;
	c->lag_checked_ms = now_ms();
	res = PQexec(c->pc, "SELECT CASE WHEN NOT pg_is_in_recovery() OR "
	    "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
	    "ELSE extract(epoch FROM now() - "
	    "pg_last_xact_replay_timestamp()) * 1000 END");
	c->last_use_ms = now_ms();
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		if (PQstatus(c->pc) != CONNECTION_OK)
			disconnect(c);
		c->lag_ok = 0;
	} else {
		lag = PQgetisnull(res, 0, 0) ? 1e18 :
		    strtod(PQgetvalue(res, 0, 0), NULL);
		if (c->lag_ok && lag > (double)cfg->database.replica_max_lag)
			log_warn("database replica %d lags %.0f ms (more than "
			    "replica_max_lag); reading from the primary",
			    c->replica, lag);
		c->lag_ok = lag <= (double)cfg->database.replica_max_lag;
	}
	PQclear(res);
	return c->lag_ok;
}

/* FNV-1a; 0 is kept for "no user". */
void
db_request_user(const char *u)
{
	uint32_t	 h = 2166136261u;

	if (u == NULL) {
		req_user = 0;
		return;
	}
	for (; *u != '\0'; u++)
		h = (h ^ (unsigned char)*u) * 16777619u;
	req_user = h == 0 ? 1 : h;
}

void
db_wrote(void)
{
	if (req_user != 0 && nreplicas > 0)
		metrics_ryw_mark(req_user, now_ms());
}

/* Did this request's user have a change committed a moment ago? */
static int
recent_writer(void)
{
	int64_t	 t;

	if (req_user == 0 || cfg->database.read_your_writes == 0)
		return 0;
	t = metrics_ryw_get(req_user);
	return t != 0 && now_ms() - t < cfg->database.read_your_writes;
}

/* A fit replica that prepared g, taking turns; NULL: use the primary. */
static struct dbc *
pick_replica(int g)
{
	struct dbc	*c;
	size_t		 k;

	for (k = 0; k < nreplicas; k++) {
		c = &replicas[(next_replica + k) % nreplicas];
		if (replica_fit(c) && c->prepared[g]) {
			next_replica += k + 1;
			return c;
		}
	}
	return NULL;
}

int
db_replicas_configured(void)
{
	return (int)nreplicas;
}

int
db_replicas_usable(void)
{
	size_t	 k;
	int	 n = 0;

	for (k = 0; k < nreplicas; k++)
		n += replica_fit(&replicas[k]);
	return n;
}

PGresult *
db_run(const struct stmt_set *set, size_t i, int nparams,
    const char *const *params)
{
	const struct stmt_def	*d;
	struct dbc		*rc;
	PGresult		*res;
	int			 g, ro;

	if ((g = global_index(set, i)) < 0)
		return NULL;
	d = &set->defs[i];
	ro = (d->flags & STMT_READONLY) && !in_tx();
	/* Reads that tolerate lag go to a replica; any failure there that
	 * is not the statement's own falls back to the primary. */
	if (ro && nreplicas > 0 && !recent_writer() &&
	    (rc = pick_replica(g)) != NULL) {
		res = exec_on(rc, g, d, nparams, params);
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			return res;
		default:
			if (!connection_failure(rc, res) && !is_conflict(res))
				return res;
			metrics_replica_fallback();
			PQclear(res);
		}
	}
	if (!db_ready())
		return NULL;
	if (!primary.prepared[g]) {
		/* Its table is missing: the schema is behind the code. */
		return NULL;
	}
	res = exec_on(&primary, g, d, nparams, params);
	/* A read outside a transaction is safe to run again once. */
	if (ro && primary.pc == NULL && db_ready() && primary.prepared[g]) {
		log_info("statement %s: retrying once on a new connection",
		    d->name);
		PQclear(res);
		res = exec_on(&primary, g, d, nparams, params);
	}
	return res;
}

/* A db_stream() is under way: its end has not been handed out yet. */
static int	 streaming;

/* The connection a db_stream() reads from, its statement and start. */
static struct dbc	*stream_conn;
static int		 stream_g;
static struct timespec	 stream_t0;

/* Count a failed result and drop a connection that broke. */
static void
stream_failed(struct dbc *c)
{
	metrics_db_error();
	if (c->pc != NULL && PQstatus(c->pc) != CONNECTION_OK) {
		log_warn("database connection lost: %s", PQerrorMessage(c->pc));
		disconnect(c);
	}
}

/* Send statement d in single-row mode on c; 0, or -1 after logging. */
static int
stream_send(struct dbc *c, const struct stmt_def *d, int nparams,
    const char *const *params)
{
	int	 ok;

	if (cfg->database.prepared_statements == PREPARED_UNNAMED)
		ok = PQsendQueryParams(c->pc, d->sql, nparams, NULL, params,
		    NULL, NULL, 0);
	else
		ok = PQsendQueryPrepared(c->pc, d->name, nparams, params,
		    NULL, NULL, 0);
	if (!ok) {
		log_warn("%s: cannot send: %s", d->name, PQerrorMessage(c->pc));
		stream_failed(c);
		return -1;
	}
	/* Fails only when called at the wrong time: rows then come whole. */
	if (!PQsetSingleRowMode(c->pc))
		log_warn("%s: single-row mode refused", d->name);
	c->last_use_ms = now_ms();
	stream_conn = c;
	clock_gettime(CLOCK_MONOTONIC, &stream_t0);
	streaming = 1;
	return 0;
}

/*
 * A long list, in single-row mode: a read-only statement outside a
 * change goes to a fit replica as db_run() sends it (falling back to
 * the primary when the replica cannot take it), anything else to the
 * primary.  The stream holds its connection until it ends.
 */
int
db_stream(const struct stmt_set *set, size_t i, int nparams,
    const char *const *params)
{
	const struct stmt_def	*d;
	struct dbc		*rc;
	int			 g;

	if ((g = global_index(set, i)) < 0)
		return -1;
	d = &set->defs[i];
	stream_g = g;
	if ((d->flags & STMT_READONLY) && !in_tx() && nreplicas > 0 &&
	    !recent_writer() && (rc = pick_replica(g)) != NULL) {
		if (stream_send(rc, d, nparams, params) == 0)
			return 0;
		metrics_replica_fallback();
	}
	if (!db_ready() || !primary.prepared[g])
		return -1;
	return stream_send(&primary, d, nparams, params);
}

PGresult *
db_stream_next(void)
{
	PGresult	*res, *more;
	struct dbc	*c = stream_conn;
	struct timespec	 t1;
	const char	*st = NULL;

	if (!streaming || c == NULL || c->pc == NULL)
		return NULL;
	if ((res = PQgetResult(c->pc)) == NULL) {
		streaming = 0;
		return NULL;
	}
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		return res;
	case PGRES_TUPLES_OK:
		break;
	default:
		if ((st = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL)
			st = "";
		stream_failed(c);
		break;
	}
	/* The end: counted like a db_run(), then libpq read up to its
	 * NULL so that the connection is free. */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_statement(stream_g, (double)(t1.tv_sec - stream_t0.tv_sec) +
	    (double)(t1.tv_nsec - stream_t0.tv_nsec) / 1e9, st,
	    c->replica != 0);
	streaming = 0;
	while (c->pc != NULL && (more = PQgetResult(c->pc)) != NULL)
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

	if (primary.pc == NULL)
		return -1;
	res = PQexec(primary.pc, sql);
	primary.last_use_ms = now_ms();
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		rc = 0;
		break;
	default:
		metrics_db_error();
		log_warn("%s failed: %s", sql, PQresultErrorMessage(res));
		if (PQstatus(primary.pc) != CONNECTION_OK)
			disconnect(&primary);
		break;
	}
	PQclear(res);
	return rc;
}

/*
 * Through a transaction pooler our session's settings would not
 * follow us to the next server connection: statement_timeout is SET
 * LOCAL in the transaction itself, in the same round trip.
 */
int
db_begin(void)
{
	char	 sql[96];

	if (!db_ready())
		return -1;
	if (cfg->database.pooler == POOLER_NONE)
		return tx("BEGIN");
	snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL statement_timeout = "
	    "%lld", (long long)cfg->database.statement_timeout);
	return tx(sql);
}

/*
 * After a lost COMMIT answer: the transaction's status, asked on a new
 * connection.  Only "committed" and "aborted" are answers.
 */
static int
commit_outcome(const char *xid)
{
	PGresult	*res;
	const char	*p[1] = { xid };
	int		 rc = DB_OUTCOME_UNKNOWN;

	primary.next_try_ms = 0;
	if (!db_ready())
		return rc;
	res = PQexecParams(primary.pc, "SELECT txid_status($1::bigint)", 1,
	    NULL, p, NULL, NULL, 0);
	primary.last_use_ms = now_ms();
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0)) {
		if (strcmp(PQgetvalue(res, 0, 0), "committed") == 0)
			rc = DB_COMMITTED;
		else if (strcmp(PQgetvalue(res, 0, 0), "aborted") == 0)
			rc = DB_NOT_APPLIED;
	} else if (PQstatus(primary.pc) != CONNECTION_OK)
		disconnect(&primary);
	PQclear(res);
	return rc;
}

/*
 * COMMIT, with the transaction id asked in the same round trip: if the
 * answer is lost, the id's status on a new connection tells whether it
 * was applied.
 */
int
db_commit(void)
{
	PGresult	*res;
	char		 xid[32] = "";
	int		 rc = DB_COMMITTED, lost = 0, n = 0, asked = 0;

	if (primary.pc == NULL)
		return DB_NOT_APPLIED;
	if (!PQsendQuery(primary.pc, "SELECT txid_current_if_assigned(); "
	    "COMMIT")) {
		log_warn("COMMIT could not be sent: %s",
		    PQerrorMessage(primary.pc));
		disconnect(&primary);
		return DB_NOT_APPLIED;	/* nothing reached the server */
	}
	while ((res = PQgetResult(primary.pc)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
			asked = n == 0 && PQntuples(res) == 1;
			if (asked && !PQgetisnull(res, 0, 0))
				snprintf(xid, sizeof(xid), "%s",
				    PQgetvalue(res, 0, 0));
			break;
		case PGRES_COMMAND_OK:
			break;
		default:
			rc = DB_NOT_APPLIED;
			metrics_db_error();
			log_warn("COMMIT failed: %s",
			    PQresultErrorMessage(res));
			break;
		}
		n++;
		PQclear(res);
	}
	primary.last_use_ms = now_ms();
	if (PQstatus(primary.pc) != CONNECTION_OK) {
		lost = 1;
		disconnect(&primary);
	}
	if (!lost)
		return rc;
	/* The answer was lost: an error we saw may be the connection's. */
	if (asked && xid[0] == '\0')
		return DB_NOT_APPLIED;	/* it had written nothing */
	if (xid[0] == '\0') {
		log_error("the COMMIT answer was lost before the transaction "
		    "id came back; its outcome is unknown");
		return DB_OUTCOME_UNKNOWN;
	}
	rc = commit_outcome(xid);
	log_warn("the COMMIT answer was lost; transaction %s %s", xid,
	    rc == DB_COMMITTED ? "committed" : rc == DB_NOT_APPLIED ?
	    "was rolled back" : "has an unknown outcome");
	return rc;
}

/*
 * A change in one statement (see db.h): alone on the primary, outside
 * a transaction block, so PostgreSQL runs it as a transaction of its
 * own and commits it (synchronous_commit as configured: durable by
 * default) before it answers.  Through a transaction pooler the
 * statement_timeout must be SET LOCAL: BEGIN, the statement and COMMIT
 * as any change.
 */
PGresult *
db_run_alone(const struct stmt_set *set, size_t i, int nparams,
    const char *const *params, int *outcome)
{
	PGresult	*res;
	int		 g;

	*outcome = DB_NOT_APPLIED;
	if ((g = global_index(set, i)) < 0 || in_tx() || !db_ready() ||
	    !primary.prepared[g])
		return NULL;
	if (cfg->database.pooler != POOLER_NONE) {
		if (db_begin() == -1)
			return NULL;
		res = exec_on(&primary, g, &set->defs[i], nparams, params);
		if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		    PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_rollback();
			return res;
		}
		if ((*outcome = db_commit()) != DB_COMMITTED)
			db_rollback();
		return res;
	}
	res = exec_on(&primary, g, &set->defs[i], nparams, params);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		*outcome = DB_COMMITTED;
		break;
	default:
		/* exec_on() dropped a connection that broke: the answer
		 * was lost, whatever became of the statement. */
		if (primary.pc == NULL)
			*outcome = DB_OUTCOME_UNKNOWN;
		break;
	}
	return res;
}

void
db_rollback(void)
{
	if (primary.pc != NULL &&
	    PQtransactionStatus(primary.pc) != PQTRANS_IDLE)
		(void)tx("ROLLBACK");
}

int
db_in_transaction(void)
{
	return in_tx();
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

	if ((pc = open_conn(c, "dashcgi check-sql", NULL, OPEN_POOLED)) == NULL)
		return 1;
	collect_sets();
	for (k = 0; k < nsets; k++)
		for (i = 0; i < sets[k]->n; i++) {
			d = &sets[k]->defs[i];
			res = PQprepare(pc, c->database.prepared_statements ==
			    PREPARED_UNNAMED ? "" : d->name, d->sql,
			    d->nparams, NULL);
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
