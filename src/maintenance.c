/*
 * maintenance.c -- "dashcgi maintenance": expired share tokens, template
 * usage statistics, the trash, audit partitions and audit retention.
 *
 * Owns: the maintenance advisory lock and the job table jobs[].  Each
 * job is one statement, so each runs in its own transaction; the SQL
 * functions it calls live in the migrations.
 * Never: run twice at once (pg_try_advisory_lock: the second run logs
 * and exits 0); let a failing job keep the others from running; remove
 * audit rows other than by dropping whole expired partitions.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "maintenance.h"

/*
 * The advisory lock key: the first 8 bytes of
 * sha256('dashcgi.maintenance') as a signed bigint (see migrate.c).
 */
#define MAINT_LOCK_KEY	"-8119138536527048995"

/* Audit partitions kept ready ahead of the current month. */
#define MONTHS_AHEAD	"2"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/*
 * Fills the job's $1 (a duration in ms) into buf.  Returns 1 to run with
 * it, 0 to skip the job (the setting says "keep forever").
 */
typedef int (*param_fn)(const struct config *, char *buf, size_t len);

static int
p_trash(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->dashboards.trash_retention <= 0)
		return 0;
	snprintf(buf, len, "%lld", (long long)cfg->dashboards.trash_retention);
	return 1;
}

/* Links stay listed (as expired) for a while; 0 removes them at once. */
static int
p_grace(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", (long long)cfg->shares.cleanup_grace);
	return 1;
}

static int
p_audit(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->audit.retention <= 0)
		return 0;
	snprintf(buf, len, "%lld", (long long)cfg->audit.retention);
	return 1;
}

/*
 * Partitions come first: the trash purge writes audit rows, which need
 * this month's partition.  Each statement returns one count.
 */
static const struct job {
	const char	*name;
	const char	*counted;	/* what the count is, for the log */
	const char	*sql;
	param_fn	 param;		/* NULL: no parameter */
	const char	*skipped;	/* logged when param says skip */
} jobs[] = {
	{ "audit_partitions", "created",
	  "SELECT audit_ensure_partitions(" MONTHS_AHEAD ")", NULL, NULL },
	{ "expired_tokens", "deleted",
	  "SELECT cleanup_expired_tokens("
	  "$1::bigint * interval '1 millisecond')", p_grace, NULL },
	{ "template_usage", "updated",
	  "SELECT update_template_usage_stats()", NULL, NULL },
	/* Every purged dashboard leaves its audit row, in the same statement. */
	{ "trash_purge", "purged",
	  "WITH d AS ("
	  " DELETE FROM dashboard"
	  " WHERE deleted_at < now() - $1::bigint * interval '1 millisecond'"
	  " RETURNING project, name, version, deleted_at, deleted_by),"
	  " a AS ("
	  " INSERT INTO audit_log (actor, action, project, resource,"
	  "  resource_version, result, details)"
	  " SELECT 'system', 'dashboard.purge', project, name, version,"
	  "  'success', jsonb_build_object('reason', 'trash_retention',"
	  "  'deletedAt', deleted_at, 'deletedBy', deleted_by)"
	  " FROM d RETURNING 1)"
	  " SELECT count(*) FROM a",
	  p_trash, "dashboards.trash_retention is 0: trash kept" },
	{ "audit_retention", "dropped_partitions",
	  "SELECT audit_drop_partitions_before("
	  "now() - $1::bigint * interval '1 millisecond')",
	  p_audit, "audit.retention is 0: audit log kept forever" },
};

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

/* One job, one statement, one transaction.  0 done or skipped, -1 failed. */
static int
run_job(PGconn *db, const struct config *cfg, const struct job *j)
{
	struct logline	 l;
	PGresult	*res = NULL;
	const char	*vals[1];
	char		 pbuf[32];
	double		 t0 = now_ms();
	int		 n = 0, rc = -1;

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

int
maintenance_main(const struct config *cfg, int argc, char **argv)
{
	PGconn		*db = NULL;
	PGresult	*res = NULL;
	const char	*key[1] = { MAINT_LOCK_KEY };
	size_t		 i, failed = 0;
	int		 rc = EXIT_RUNTIME;

	if (argc != 1) {
		log_error("maintenance: takes no arguments (got \"%s\")",
		    argv[1]);
		fprintf(stderr, "usage: dashcgi [-c FILE] maintenance\n");
		return EXIT_USAGE;
	}
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
	for (i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
		if (run_job(db, cfg, &jobs[i]) == -1)
			failed++;
	if (failed > 0) {
		log_error("maintenance: %zu of %zu jobs failed", failed,
		    sizeof(jobs) / sizeof(jobs[0]));
		goto out;
	}
	log_info("maintenance: %zu jobs done",
	    sizeof(jobs) / sizeof(jobs[0]));
	rc = EXIT_OK;
out:
	if (res != NULL)
		PQclear(res);
	/* Closing the session releases the lock. */
	if (db != NULL)
		PQfinish(db);
	return rc;
}
