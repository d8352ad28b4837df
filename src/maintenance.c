/*
 * maintenance.c -- "dashcgi maintenance" and the maintenance process
 * kind: every module's jobs (module.h), e.g. audit partitions and
 * retention, expired share tokens, template usage, the trash.
 *
 * Owns: the maintenance advisory lock and the walk over the modules'
 * jobs, in the order of modules[] (the core module's partitions
 * first: later jobs write audit rows).  Each job is one statement, so
 * each runs in its own transaction; the SQL functions it calls live
 * in the migrations.  A job runs once the schema has the migration it
 * requires, and is skipped with a log line before.
 * Never: run twice at once (pg_try_advisory_lock: the second run logs
 * and exits 0); let a failing job keep the others from running; remove
 * audit rows other than by dropping whole expired partitions.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "proc.h"
#include "maintenance.h"
#include "module.h"

/*
 * The advisory lock key: the first 8 bytes of
 * sha256('dashcgi.maintenance') as a signed bigint (see migrate.c).
 */
#define MAINT_LOCK_KEY	"-8119138536527048995"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static volatile sig_atomic_t	 stop;

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
log_failure(const char *job, PGconn *db, const PGresult *res)
{
	struct logline	 l;
	const char	*f;

	log_begin(&l, LOG_ERROR, "maintenance job failed");
	log_str(&l, "job", job);
	if (res == NULL) {
		log_str(&l, "error", PQerrorMessage(db));
		log_end(&l);
		return;
	}
	f = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	log_str(&l, "error", f != NULL ? f : PQresultErrorMessage(res));
	if ((f = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL)
		log_str(&l, "sqlstate", f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) != NULL)
		log_str(&l, "detail", f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) != NULL)
		log_str(&l, "hint", f);
	log_end(&l);
}

/*
 * The version of the schema: the last migration applied, 0 when none
 * is (no schema_migrations yet), -1 after logging another failure.
 */
static int
schema_version(PGconn *db)
{
	PGresult	*res;
	const char	*st;
	int		 v = -1;

	res = PQexec(db, "SELECT coalesce(max(version), 0) FROM "
	    "schema_migrations");
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		v = atoi(PQgetvalue(res, 0, 0));
	else if (res != NULL && (st = PQresultErrorField(res,
	    PG_DIAG_SQLSTATE)) != NULL && strcmp(st, "42P01") == 0)
		v = 0;		/* undefined_table: never migrated */
	else
		log_failure("schema_version", db, res);
	if (res != NULL)
		PQclear(res);
	return v;
}

/* One job, one statement, one transaction.  0 done or skipped, -1 failed. */
static int
run_job(PGconn *db, const struct config *cfg, int schema,
    const struct job *j)
{
	struct logline	 l;
	PGresult	*res = NULL;
	const char	*vals[1];
	char		 pbuf[32];
	double		 t0 = now_ms();
	int		 n = 0, rc = -1;

	if (j->requires > schema) {
		log_begin(&l, LOG_INFO, "maintenance job skipped");
		log_str(&l, "job", j->name);
		log_str(&l, "reason", "waits for its migration");
		log_int(&l, "requires", j->requires);
		log_int(&l, "schema", schema);
		log_end(&l);
		return 0;
	}
	if (j->param != NULL) {
		if (!j->param(cfg, pbuf, sizeof(pbuf))) {
			log_begin(&l, LOG_INFO, "maintenance job skipped");
			log_str(&l, "job", j->name);
			log_str(&l, "reason", j->skipped);
			log_end(&l);
			return 0;
		}
		vals[0] = pbuf;
		n = 1;
	}
	res = PQexecParams(db, j->sql, n, NULL, vals, NULL, NULL, 0);
	if (res == NULL) {
		log_failure(j->name, db, NULL);
		goto out;
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (PQntuples(res) != 1 || PQnfields(res) != 1) {
			log_error("maintenance job %s: expected one count, "
			    "got %d rows", j->name, PQntuples(res));
			goto out;
		}
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		log_failure(j->name, db, res);
		goto out;
	default:
		log_error("maintenance job %s: unexpected result %s", j->name,
		    PQresStatus(PQresultStatus(res)));
		goto out;
	}
	log_begin(&l, LOG_INFO, "maintenance job done");
	log_str(&l, "job", j->name);
	log_str(&l, j->counted, PQgetvalue(res, 0, 0));
	log_dbl(&l, "duration_ms", now_ms() - t0);
	log_end(&l);
	rc = 0;
out:
	if (res != NULL)
		PQclear(res);
	return rc;
}

/*
 * One pass: connect, take the lock, run every module's jobs, close.
 * Returns 0 (done, or another run holds the lock) or 1.
 */
static int
maintenance_run(const struct config *cfg)
{
	PGconn		*db = NULL;
	PGresult	*res = NULL;
	const char	*key[1] = { MAINT_LOCK_KEY };
	size_t		 m, i, n = 0, failed = 0;
	int		 rc = EXIT_RUNTIME, schema;

	/* The service's statement_timeout applies: jobs must stay short. */
	if ((db = db_open(cfg, "dashcgi-maintenance")) == NULL)
		goto out;
	res = PQexecParams(db, "SELECT pg_try_advisory_lock($1::bigint)", 1,
	    NULL, key, NULL, NULL, 0);
	if (res == NULL) {
		log_failure("lock", db, NULL);
		goto out;
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		log_failure("lock", db, res);
		goto out;
	default:
		log_error("maintenance lock: unexpected result %s",
		    PQresStatus(PQresultStatus(res)));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		log_info("maintenance: another run holds the lock (key %s); "
		    "nothing to do", MAINT_LOCK_KEY);
		rc = EXIT_OK;
		goto out;
	}
	if ((schema = schema_version(db)) == -1)
		goto out;
	for (m = 0; m < nmodules && !stop; m++)
		for (i = 0; i < modules[m]->njobs && !stop; i++, n++)
			if (run_job(db, cfg, schema, &modules[m]->jobs[i]) ==
			    -1)
				failed++;
	if (failed > 0) {
		log_error("maintenance: %zu of %zu jobs failed", failed, n);
		goto out;
	}
	log_info("maintenance: %zu jobs done", n);
	rc = EXIT_OK;
out:
	if (res != NULL)
		PQclear(res);
	/* Closing the session releases the lock. */
	if (db != NULL)
		PQfinish(db);
	return rc;
}

int
maintenance_main(const struct config *cfg, int argc, char **argv)
{
	if (argc != 1) {
		log_error("maintenance: takes no arguments (got \"%s\")",
		    argv[1]);
		fprintf(stderr, "usage: dashcgi [-c FILE] maintenance\n");
		return EXIT_USAGE;
	}
	return maintenance_run(cfg);
}

int
maintenance_count(const struct config *cfg)
{
	return cfg->maintenance.interval > 0 ? 1 : 0;
}

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * The maintenance process kind: a pass at start, then one every
 * maintenance.interval, measured from the start of the previous pass.
 * A failed pass is logged and retried at the next tick; a database
 * that refuses our login is a configuration error (exit 2).
 */
void
maintenance_proc_main(int slot, const struct config *cfg, int lfd)
{
	struct timespec		 next, now;

	(void)slot;
	proc_child_init("maintenance", lfd, on_stop);

	log_info("maintenance process started; interval %lld ms",
	    (long long)cfg->maintenance.interval);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		(void)maintenance_run(cfg);
		next.tv_sec += cfg->maintenance.interval / 1000;
		next.tv_nsec += (cfg->maintenance.interval % 1000) * 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		/* A pass longer than the interval: start the next at once,
		 * once, not a burst to catch up. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec &&
		    now.tv_nsec > next.tv_nsec))
			next = now;
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC,
		    TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	exit(0);
}
