/*
 * health.c -- /live, /ready, /api/v1/health, /metrics, /metrics/health.
 * /api/v1/health is ours (status, checks) and Perses's Health document
 * (version, buildTime, commit, database) in one object.
 *
 * None of these needs an identity.  /live never touches the database
 * (it answers as long as the worker can answer); the others report
 * the database as this worker sees it and the workers as the shared
 * counters see them.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "http.h"
#include "module.h"
#include "metrics.h"
#include "router.h"
#include "maintenance.h"
#include "migrate.h"
#include "worker.h"
#include "audit.h"
#include "authz.h"

/* Slower than this, the database check says "warn". */
#define DB_SLOW_MS		250.0
/* More than this share of the other workers busy: degraded. */
#define BUSY_DEGRADED		0.8

static int	expected_schema = -1;
extern const struct module core_module;

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static void
send_obj(struct req *r, int status, struct json_object *o)
{
	size_t		 len;
	const char	*s = json_object_to_json_string_length(o, JSON_FLAGS,
	    &len);

	http_send_json(r, status, s, len);
	json_object_put(o);
}

static void
api_live(struct req *r)
{
	static const char	 body[] = "{\"alive\":true}";

	http_send_json(r, 200, body, sizeof(body) - 1);
}

static void
not_ready(struct req *r, const char *reason)
{
	char	 buf[128];
	int	 n;

	n = snprintf(buf, sizeof(buf), "{\"ready\":false,\"reason\":\"%s\"}",
	    reason);
	http_send_json(r, 503, buf, (size_t)n);
}

static void
api_ready(struct req *r)
{
	static const char	 ok[] = "{\"ready\":true}";
	PGresult		*res;
	int			 have;

	if (!db_ready()) {
		not_ready(r, "database unreachable");
		return;
	}
	res = db_exec(STMT_SCHEMA_VERSION, 0, NULL);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		not_ready(r, db_is_up() ? "migrations pending" :
		    "database unreachable");
		return;
	}
	have = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	/* Read once per process: a new generation reads it anew. */
	if (expected_schema < 0)
		expected_schema = migrate_latest_version();
	if (have < expected_schema) {
		not_ready(r, "migrations pending");
		return;
	}
	/* A broken statement of one module leaves the others serving; it
	 * shows in /api/v1/health.  Without the core, nothing serves. */
	if (!db_module_ready(&core_module)) {
		not_ready(r, "statements of the core module not prepared");
		return;
	}
	/* Without this month's audit partition no change can commit. */
	if (audit_partitions_ahead() == 0) {
		not_ready(r, "the audit log has no partition for this month; "
		    "run 'dashcgi maintenance'");
		return;
	}
	http_send_json(r, 200, ok, sizeof(ok) - 1);
}

static void
timestamp(char *buf, size_t len)
{
	time_t		 t = time(NULL);
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
api_health(struct req *r)
{
	struct metrics_snapshot	 s;
	struct json_object	*o, *checks, *db, *w;
	char			 ts[32];
	double			 ms;
	const char		*status = "healthy", *dbstatus = "pass";
	int			 others, ahead, code = 200;

	ms = db_ready() ? db_ping() : -1;
	metrics_snapshot(&s);
	timestamp(ts, sizeof(ts));

	if (ms < 0) {
		status = "unhealthy";
		dbstatus = "fail";
		code = 503;
	} else if (ms > DB_SLOW_MS) {
		status = "degraded";
		dbstatus = "warn";
	}
	/* This request keeps one worker busy; judge the others. */
	others = s.workers_total - 1;
	if (code == 200 && others > 0 &&
	    (double)(s.workers_busy - 1) / others > BUSY_DEGRADED)
		status = "degraded";
	/* Fewer workers than configured (crash-looping slots resting):
	 * serving, but not healthy. */
	if (code == 200 && s.workers_total < r->cfg->workers)
		status = "degraded";
	/* The audit log's partitions: none for this month means no change
	 * can commit (a failure); none for the next, a warning while
	 * there is time to run maintenance. */
	ahead = ms >= 0 ? audit_partitions_ahead() : -1;
	if (ahead == 0) {
		status = "unhealthy";
		code = 503;
	} else if (ahead == 1 && code == 200)
		status = "degraded";

	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	/* Perses's Health document besides ours: the UI's footer and
	 * percli read these. */
	json_object_object_add(o, "buildTime",
	    json_object_new_string(DASHCGI_BUILD_TIME));
	json_object_object_add(o, "commit",
	    json_object_new_string(DASHCGI_COMMIT));
	json_object_object_add(o, "database", json_object_new_boolean(ms >= 0));
	checks = json_object_new_object();
	db = json_object_new_object();
	json_object_object_add(db, "status", json_object_new_string(dbstatus));
	if (ms >= 0) {
		char	 num[32];

		/* Three decimals as text: json-c would print 0.137000…01. */
		snprintf(num, sizeof(num), "%.3f", ms);
		json_object_object_add(db, "response_time_ms",
		    json_object_new_double_s(ms, num));
	}
	else
		json_object_object_add(db, "error", json_object_new_string(
		    "database unreachable"));
	json_object_object_add(checks, "database", db);
	/* Replicas only offload reads: one missing degrades nothing
	 * (the primary serves), it is reported for the operator. */
	if (db_replicas_configured() > 0) {
		struct json_object *rp = json_object_new_object();
		int	 usable = db_replicas_usable();

		json_object_object_add(rp, "status", json_object_new_string(
		    usable == db_replicas_configured() ? "pass" : "warn"));
		json_object_object_add(rp, "configured",
		    json_object_new_int(db_replicas_configured()));
		json_object_object_add(rp, "usable", json_object_new_int(usable));
		json_object_object_add(checks, "database_replicas", rp);
	}
	w = json_object_new_object();
	json_object_object_add(w, "total", json_object_new_int(s.workers_total));
	json_object_object_add(w, "busy", json_object_new_int(s.workers_busy));
	json_object_object_add(w, "expected",
	    json_object_new_int(r->cfg->workers));
	json_object_object_add(checks, "workers", w);
	if (ahead >= 0) {
		w = json_object_new_object();
		json_object_object_add(w, "status", json_object_new_string(
		    ahead == 0 ? "fail" : ahead == 1 ? "warn" : "pass"));
		json_object_object_add(w, "partitionsAhead",
		    json_object_new_int(ahead));
		if (ahead < 2)
			json_object_object_add(w, "message",
			    json_object_new_string(ahead == 0 ?
			    "no audit partition for this month: changes fail; "
			    "run 'dashcgi maintenance'" :
			    "no audit partition for next month yet; run "
			    "'dashcgi maintenance' (or set maintenance.interval)"));
		json_object_object_add(checks, "audit", w);
	}
	json_object_object_add(o, "checks", checks);
	send_obj(r, code, o);
}

static void
api_metrics(struct req *r)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		http_error(r, 500, "internal_error", "out of memory");
		return;
	}
	metrics_write_prometheus(f, router_metrics_name,
	    router_metrics_count(), PACKAGE_VERSION);
	metrics_write_statements(f, db_statement_name, db_statement_count());
	fclose(f);
	http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
	free(buf);
}

static void
api_metrics_health(struct req *r)
{
	struct metrics_snapshot	 s;
	struct json_object	*o, *w;

	metrics_snapshot(&s);
	o = json_object_new_object();
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "http_requests_total",
	    json_object_new_int64((int64_t)s.requests_total));
	json_object_object_add(o, "db_errors_total",
	    json_object_new_int64((int64_t)s.db_errors));
	json_object_object_add(o, "db_up", json_object_new_boolean(s.db_up));
	json_object_object_add(o, "worker_restarts_total",
	    json_object_new_int64((int64_t)s.worker_restarts));
	w = json_object_new_object();
	json_object_object_add(w, "total", json_object_new_int(s.workers_total));
	json_object_object_add(w, "busy", json_object_new_int(s.workers_busy));
	json_object_object_add(w, "idle",
	    json_object_new_int(s.workers_total - s.workers_busy));
	json_object_object_add(o, "workers", w);
	send_obj(r, 200, o);
}

static const struct route routes[] = {
	{ "GET",  "/live",		api_live,	0, ROLE_NONE, NULL },
	{ "GET",  "/ready",		api_ready,	0, ROLE_NONE, NULL },
	{ "GET",  "/api/v1/health",	api_health,	0, ROLE_NONE, NULL },
	{ "GET",  "/metrics",		api_metrics,	0, ROLE_NONE, NULL },
	{ "GET",  "/metrics/health",	api_metrics_health, 0, ROLE_NONE, NULL },
};

/*
 * The core module: the daemon's own routes, the statements every
 * database route needs (a request's role, its audit row), the jobs
 * that keep the audit log's partitions, and the process kinds of the
 * daemon itself.
 */
static const struct stmt_set *const stmt_sets[] = {
	&core_stmts, &authz_stmts, &audit_stmts, NULL
};

static const struct proc_kind procs[] = {
	{ "worker", 1, worker_count, worker_main },
	{ "maintenance", 0, maintenance_count, maintenance_proc_main },
};

const struct module core_module = {
	.name = "core",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = audit_jobs,
	.njobs = AUDIT_NJOBS,
	.procs = procs,
	.nprocs = sizeof(procs) / sizeof(procs[0]),
	.flags = MOD_CORE,
};
