/*
 * slo_demo.c -- `dashcgi demo-data`: a realistic SLO fleet in one
 * project (SPEC §8), generated inside PostgreSQL.
 *
 * Owns: the command's option table (one row per flag: the monitors and
 * hub modules add theirs here), the fleet's plan (DEMO_PLAN: which SLO
 * gets which experience, journey, target, traffic and budget band, all
 * from hashes of the seed) and the two connections that write the
 * points in parallel, one half of the SLIs each.
 * Never: generate a point in C (generate_series does, ~1M rows); use
 * random() (hashint8extended of the seed keeps it deterministic);
 * touch a project other than the one named.
 *
 * Budgets follow the seed system: ~60 of 124 healthy (85-95 % left),
 * ~30 minor (70-85 %), ~20 moderate (50-70 %), ~10 critical (< 50 %),
 * ~4 breached (< 10 %, here below 0: status breached).  Each SLO's bad
 * events are 30 % background noise spread with the traffic and 70 %
 * in 1-3 sharp incidents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "api/monitors_demo.h"
#include "api/hub_demo.h"
#include "api/slo.h"
#include "db.h"
#include "log.h"

#define DEMO_WRITERS	2	/* connections writing points at once */

/* ------------------------------------------------------------------ */
/* Options: one table, so a module adds a flag by adding a row. */

struct demo_opts {
	const char	*project;
	long		 slos;
	long		 days;
	long		 seed;
	const char	*at;		/* end of the data, RFC 3339; NULL now */
	long		 monitors;	/* monitors_demo.c */
	const char	*monitor_target;
	long		 incidents;	/* hub_demo.c */
};

enum opt_kind { OPT_STRING, OPT_LONG, OPT_FLAG };

struct demo_opt {
	const char	*flag;
	enum opt_kind	 kind;
	size_t		 off;
	long		 min, max;
	const char	*help;
};

#define OPT(f, k, m, lo, hi, h) \
	{ (f), (k), offsetof(struct demo_opts, m), (lo), (hi), (h) }

static const struct demo_opt demo_opts[] = {
	OPT("--project", OPT_STRING, project, 0, 0,
	    "project to fill (default: slo.default_project)"),
	OPT("--slos", OPT_LONG, slos, 1, 10000, "number of SLOs (124)"),
	OPT("--days", OPT_LONG, days, 1, 35, "days of 5-minute points (28)"),
	OPT("--seed", OPT_LONG, seed, 0, 2147483647L,
	    "seed of the pseudo-random data (1)"),
	OPT("--at", OPT_STRING, at, 0, 0,
	    "RFC 3339 time the data ends at (default: now)"),
	OPT("--monitors", OPT_LONG, monitors, 0, 10000,
	    "uptime monitors with 90 days of history (0; 4 or more: every kind)"),
	OPT("--monitor-target", OPT_STRING, monitor_target, 0, 0,
	    "base URL of the monitors' target (t/monitor-target.pl)"),
	OPT("--incidents", OPT_FLAG, incidents, 0, 0,
	    "incident hub history: rules, incidents, notifications"),
};
#define NOPTS	(sizeof(demo_opts) / sizeof(demo_opts[0]))

static void
demo_usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: dashcgi [-c FILE] demo-data");
	for (i = 0; i < NOPTS; i++)
		fprintf(f, " [%s%s]", demo_opts[i].flag,
		    demo_opts[i].kind == OPT_FLAG ? "" :
		    demo_opts[i].kind == OPT_LONG ? " N" : " VALUE");
	fprintf(f, "\n");
	for (i = 0; i < NOPTS; i++)
		fprintf(f, "  %-10s %s\n", demo_opts[i].flag, demo_opts[i].help);
}

/* argv[0] is the command.  0, or -1 after a message (exit 2). */
static int
demo_parse(int argc, char **argv, struct demo_opts *o)
{
	const struct demo_opt	*d;
	char			*end;
	long			 v;
	int			 i;
	size_t			 k;

	for (i = 1; i < argc; i++) {
		for (k = 0; k < NOPTS; k++)
			if (strcmp(argv[i], demo_opts[k].flag) == 0)
				break;
		if (k == NOPTS) {
			fprintf(stderr, "dashcgi: demo-data: unknown option "
			    "\"%s\"\n", argv[i]);
			demo_usage(stderr);
			return -1;
		}
		d = &demo_opts[k];
		if (d->kind == OPT_FLAG) {
			*(long *)((char *)o + d->off) = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "dashcgi: demo-data: %s needs a value\n",
			    d->flag);
			return -1;
		}
		i++;
		if (d->kind == OPT_STRING) {
			*(const char **)((char *)o + d->off) = argv[i];
			continue;
		}
		v = strtol(argv[i], &end, 10);
		if (*argv[i] == '\0' || *end != '\0' || v < d->min ||
		    v > d->max) {
			fprintf(stderr, "dashcgi: demo-data: %s: expected an "
			    "integer %ld..%ld, got \"%s\"\n", d->flag, d->min,
			    d->max, argv[i]);
			return -1;
		}
		*(long *)((char *)o + d->off) = v;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The plan */

/*
 * One row per SLO, $1 SLOs, $2 seed, $3 days, $4 resolution (s).
 * u[1..10] are uniform in [0, 1) from the seed; the SLOs ranked by
 * u[1] fill the budget bands in the seed's proportions (60/30/20/10/4
 * of 124).  rem is the budget the SLO should have left; bb the bad
 * events that leaves over nn points of base requests; d the length of
 * each of its k incidents in points, long enough that an incident
 * never needs more bad events than requests.
 */
#define DEMO_PLAN							\
	"cat (experience, journeys) AS (VALUES"				\
	" ('E-commerce', ARRAY['Checkout', 'Cart', 'Search',"		\
	" 'Product pages', 'Payments']),"				\
	" ('In-store', ARRAY['Point of sale', 'Inventory',"		\
	" 'Click and collect']),"					\
	" ('Mobile', ARRAY['Auth', 'Push notifications', 'App API',"	\
	" 'Offline sync']),"						\
	" ('Corporate', ARRAY['Email', 'HR portal', 'Finance reporting',"\
	" 'VPN'])),"							\
	" jr AS (SELECT c.experience, j.j, row_number() OVER"		\
	" (ORDER BY c.experience, j.o) - 1 AS ji FROM cat c,"		\
	" unnest(c.journeys) WITH ORDINALITY j (j, o)),"		\
	" u AS (SELECT i, array_agg((abs(hashint8extended(i * 16 + k,"	\
	" $2::bigint)) % 1000000000)::float8 / 1e9 ORDER BY k) AS u"	\
	" FROM generate_series(1, $1::int) i, generate_series(0, 9) k"	\
	" GROUP BY i),"							\
	" b AS (SELECT u.*, (row_number() OVER (ORDER BY u.u[1]) - 1)"	\
	"::float8 / $1::int AS q FROM u),"				\
	" bands AS (SELECT b.*, CASE WHEN q < 60 / 124.0 THEN 'healthy'"	\
	" WHEN q < 90 / 124.0 THEN 'minor'"				\
	" WHEN q < 110 / 124.0 THEN 'moderate'"				\
	" WHEN q < 120 / 124.0 THEN 'critical' ELSE 'breached' END AS band"\
	" FROM b),"							\
	" p0 AS (SELECT b.i, jr.experience, jr.j AS journey,"		\
	" (ARRAY['availability', 'latency', 'errors', 'freshness'])"	\
	"[1 + b.i % 4] AS kind,"					\
	" (ARRAY[0.99, 0.995, 0.999, 0.9995])[1 + floor(b.u[2] * 4)::int]"\
	"::float8 AS target, b.band,"					\
	" CASE b.band WHEN 'healthy' THEN 0.86 + 0.08 * b.u[3]"		\
	" WHEN 'minor' THEN 0.72 + 0.11 * b.u[3]"			\
	" WHEN 'moderate' THEN 0.52 + 0.16 * b.u[3]"			\
	" WHEN 'critical' THEN 0.15 + 0.30 * b.u[3]"			\
	" ELSE -0.25 + 0.22 * b.u[3] END AS rem,"			\
	" 200 + floor(2000 * b.u[4]) AS base, 1 + floor(3 * b.u[5])::int AS k,"\
	" b.u[6] AS u6, b.u[7] AS u7, b.u[8] AS u8, b.u[9] AS u9,"	\
	" b.u[10] AS phase,"						\
	" ($3::int * 86400 / $4::int) AS nn"				\
	" FROM bands b JOIN jr ON jr.ji = b.i % (SELECT count(*) FROM jr)),"\
	" p1 AS (SELECT p0.*, lower(regexp_replace(journey, '[^A-Za-z0-9]+',"\
	" '-', 'g')) || '-' || kind || '-' || lpad(i::text, 3, '0') AS name,"\
	" (1 - rem) * (1 - target) * base * nn AS bb FROM p0),"	\
	" plan AS (SELECT p1.*, greatest(6 + floor(30 * u6),"		\
	" ceil(0.7 * bb / (0.35 * base * k)))::int AS d FROM p1)"

/* Statements of the command, in order. */
enum {
	DM_PROJECT, DM_CLEAR, DM_PARTITIONS, DM_SLOS, DM_POINTS, DM_SUMMARY,
	DM__COUNT
};

static const struct stmt_def demo_sql[DM__COUNT] = {
	[DM_PROJECT] = { "demo_project",
	    "INSERT INTO project (name, display, created_by, updated_by)"
	    " VALUES ($1::text, jsonb_build_object('name', 'SLO demo fleet'),"
	    " 'demo-data', 'demo-data') ON CONFLICT (name) DO NOTHING", 1 },
	/* The project's SLOs go, their SLIs and points with them. */
	[DM_CLEAR] = { "demo_clear",
	    "DELETE FROM slo WHERE project = $1::text", 1 },
	[DM_PARTITIONS] = { "demo_partitions",
	    "SELECT slo_partitions_ensure(now() - $1::timestamptz"
	    " + ($2::int + 1) * interval '1 day', 2)", 2 },
	/* $1-$4 as DEMO_PLAN, $5 project. */
	[DM_SLOS] = { "demo_slos",
	    "WITH " DEMO_PLAN ","
	    " s AS (INSERT INTO slo (project, name, spec, experience, journey,"
	    " target, slo_window, created_by, updated_by)"
	    " SELECT $5::text, name, jsonb_build_object('experience',"
	    " experience, 'journey', journey, 'display',"
	    " jsonb_build_object('name', journey || ' ' || kind),"
	    " 'target', target, 'window', '28d', 'owner',"
	    " lower(regexp_replace(journey, '[^A-Za-z0-9]+', '-', 'g'))"
	    " || '-team', 'description', 'Demo SLO (' || band || ')',"
	    " 'indicators', jsonb_build_array(jsonb_build_object('id',"
	    " 'sli-' || name, 'display', jsonb_build_object('name', kind)))),"
	    " experience, journey, target, '28d', 'demo-data', 'demo-data'"
	    " FROM plan ORDER BY i RETURNING id, name) "
	    "INSERT INTO sli (project, id, slo_id, ord, display)"
	    " SELECT $5::text, 'sli-' || s.name, s.id, 1,"
	    " jsonb_build_object('name', plan.kind) FROM s JOIN plan USING (name)",
	    5 },
	/*
	 * $1-$4 as DEMO_PLAN, $5 project, $6 this writer, $7 writers, $8
	 * the end of the data.  Points j = 0..nn at t = end - (nn - j + 1)
	 * steps: traffic with a daily cycle and ±15 % noise; background
	 * bad events follow the traffic, incident ones are a flat rate
	 * that is sharp in a chart.  The hourly roll-ups are summed from
	 * the rows this statement wrote, the daily ones from those, and
	 * stored in (sli, t) order so that a window's rows share a few
	 * pages.
	 */
	[DM_POINTS] = { "demo_points",
	    "WITH " DEMO_PLAN ","
	    " g AS (SELECT plan.*, i.key,"
	    " 100 + floor(u7 * (nn - d - 200))::int AS s1,"
	    " CASE WHEN k >= 2 THEN 100 + floor(u8 * (nn - d - 200))::int"
	    " ELSE -1000000 END AS s2,"
	    " CASE WHEN k >= 3 THEN 100 + floor(u9 * (nn - d - 200))::int"
	    " ELSE -1000000 END AS s3,"
	    " 0.3 * bb / nn / base AS noise, 0.7 * bb / (k * d) AS inc,"
	    " $8::timestamptz - $4::int * interval '1 second' * (nn + 1) AS t0,"
	    " extract(epoch FROM $8::timestamptz)::bigint"
	    " - $4::int * (nn + 1) AS e0"
	    " FROM plan JOIN sli i"
	    " ON i.project = $5::text AND i.id = 'sli-' || plan.name"
	    " WHERE plan.i % $7::int = $6::int),"
	    " pts AS (INSERT INTO sli_point (sli, t, good, bad)"
	    " SELECT g.key, s.t, a.tot - b.bad, b.bad FROM g,"
	    " LATERAL generate_series(g.t0, g.t0 + g.nn * $4::int"
	    " * interval '1 second', $4::int * interval '1 second')"
	    " WITH ORDINALITY s (t, o),"
	    " LATERAL (SELECT s.o - 1 AS j, 0.85 + 0.3 * (abs(hashint8extended("
	    "g.i * 100000 + s.o, $2::bigint)) % 1000000)::float8 / 1e6 AS nz) z,"
	    " LATERAL (SELECT round(g.base * z.nz * (1 + 0.6 * sin(2 * pi()"
	    " * ((g.e0 + z.j * $4::int) % 86400) / 86400.0 + g.phase * 6.283)))"
	    "::bigint AS tot) a,"
	    " LATERAL (SELECT least(a.tot, floor(g.noise * a.tot"
	    " + CASE WHEN (z.j >= g.s1 AND z.j < g.s1 + g.d)"
	    " OR (z.j >= g.s2 AND z.j < g.s2 + g.d)"
	    " OR (z.j >= g.s3 AND z.j < g.s3 + g.d)"
	    " THEN g.inc * z.nz ELSE 0 END"
	    " + (abs(hashint8extended(g.i * 100000 + s.o, $2::bigint + 1))"
	    " % 1000000)::float8 / 1e6))::bigint AS bad) b"
	    " RETURNING sli, t, good, bad) "
	    ", hr AS (INSERT INTO sli_hourly (sli, t, good, bad)"
	    " SELECT sli, date_trunc('hour', t, 'UTC'), sum(good), sum(bad)"
	    " FROM pts GROUP BY 1, 2 ORDER BY 1, 2 RETURNING sli, t, good, bad) "
	    "INSERT INTO sli_daily (sli, t, good, bad)"
	    " SELECT sli, date_trunc('day', t, 'UTC'), sum(good), sum(bad)"
	    " FROM hr GROUP BY 1, 2 ORDER BY 1, 2", 8 },
	/* $1 project, $2 resolution (s): SLOs per status and per band. */
	[DM_SUMMARY] = { "demo_summary",
	    "WITH ev AS MATERIALIZED (SELECT slo_eval(s, slo_now($2::int"
	    " * interval '1 second'), false) AS j FROM slo s"
	    " WHERE s.project = $1::text),"
	    " r AS (SELECT j ->> 'status' AS st, (j -> 'errorBudget'"
	    " ->> 'remaining')::float8 AS rem FROM ev) "
	    "SELECT count(*), (SELECT count(*) FROM sli_point p JOIN sli i"
	    " ON i.key = p.sli WHERE i.project = $1::text),"
	    " count(*) FILTER (WHERE rem >= 0.85),"
	    " count(*) FILTER (WHERE rem >= 0.70 AND rem < 0.85),"
	    " count(*) FILTER (WHERE rem >= 0.50 AND rem < 0.70),"
	    " count(*) FILTER (WHERE rem >= 0.10 AND rem < 0.50),"
	    " count(*) FILTER (WHERE rem < 0.10),"
	    " string_agg(st || '=' || n, ' ' ORDER BY slo_status_rank(st))"
	    " FILTER (WHERE first) FROM (SELECT r.*, count(*) OVER"
	    " (PARTITION BY st) AS n, row_number() OVER (PARTITION BY st)"
	    " = 1 AS first FROM r) x", 2 },
};

/* ------------------------------------------------------------------ */

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one statement on db; 0, or -1 after logging. */
static int
demo_exec(PGconn *db, int i, int n, const char *const *p, PGresult **out)
{
	PGresult	*res;

	res = PQexecParams(db, demo_sql[i].sql, n, NULL, p, NULL, NULL, 0);
	switch (res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	default:
		log_error("demo-data: %s: %s", demo_sql[i].name,
		    res != NULL ? PQresultErrorMessage(res) :
		    PQerrorMessage(db));
		PQclear(res);
		return -1;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return 0;
}

static int
demo_cmd(PGconn *db, const char *sql)
{
	PGresult	*res = PQexec(db, sql);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_error("demo-data: %s: %s", sql, PQerrorMessage(db));
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * The points, DEMO_WRITERS connections at once (each its own
 * transaction: the SLOs are committed already, so a failure here
 * leaves SLOs without points, which a second run replaces).
 */
static int
demo_points(const struct config *cfg, const char *const *plan)
{
	PGconn		*db[DEMO_WRITERS] = { NULL };
	PGresult	*res;
	const char	*p[8];
	char		 w[DEMO_WRITERS][8], nw[8];
	int		 i, rc = 0;

	snprintf(nw, sizeof(nw), "%d", DEMO_WRITERS);
	memcpy(p, plan, 5 * sizeof(*p));
	p[6] = nw;
	p[7] = plan[5];
	for (i = 0; i < DEMO_WRITERS; i++) {
		if ((db[i] = db_open(cfg, "dashcgi demo-data")) == NULL ||
		    demo_cmd(db[i], "SET statement_timeout = 0") == -1) {
			rc = -1;
			goto out;
		}
		snprintf(w[i], sizeof(w[i]), "%d", i);
		p[5] = w[i];
		if (!PQsendQueryParams(db[i], demo_sql[DM_POINTS].sql, 8, NULL,
		    p, NULL, NULL, 0)) {
			log_error("demo-data: %s", PQerrorMessage(db[i]));
			rc = -1;
			goto out;
		}
	}
out:
	for (i = 0; i < DEMO_WRITERS && db[i] != NULL; i++) {
		while ((res = PQgetResult(db[i])) != NULL) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				log_error("demo-data: points: %s",
				    PQresultErrorMessage(res));
				rc = -1;
			}
			PQclear(res);
		}
	}
	for (i = 0; i < DEMO_WRITERS; i++)
		if (db[i] != NULL)
			PQfinish(db[i]);
	return rc;
}

int
slo_demo_main(const struct config *cfg, int argc, char **argv)
{
	struct demo_opts o = { cfg->slo.default_project, 124, 28, 1, NULL,
	    0, NULL, 0 };
	PGconn		*db;
	PGresult	*res = NULL, *er = NULL;
	const char	*p[6];
	char		 n[24], seed[24], days[24], resol[24], *end = NULL;
	double		 t0 = now_s(), t1;
	int		 rc = 1;

	if (demo_parse(argc, argv, &o) == -1 ||
	    monitors_demo_check(o.monitors, o.monitor_target) == -1)
		return 2;
	if ((db = db_open(cfg, "dashcgi demo-data")) == NULL)
		return 1;
	snprintf(n, sizeof(n), "%ld", o.slos);
	snprintf(seed, sizeof(seed), "%ld", o.seed);
	snprintf(days, sizeof(days), "%ld", o.days);
	snprintf(resol, sizeof(resol), "%lld",
	    (long long)(cfg->slo.resolution / 1000));
	/* The end of the data: the step after the one holding --at/now. */
	p[0] = o.at;
	p[1] = resol;
	if (demo_cmd(db, "SET statement_timeout = 0") == -1 ||
	    (er = PQexecParams(db, "SELECT to_timestamp(floor(extract(epoch"
	    " FROM coalesce($1::timestamptz, now())) / $2::int) * $2::int"
	    " + $2::int)::text", 2, NULL, p, NULL, NULL, 0)) == NULL ||
	    PQresultStatus(er) != PGRES_TUPLES_OK) {
		log_error("demo-data: --at: %s", PQerrorMessage(db));
		goto out;
	}
	end = strdup(PQgetvalue(er, 0, 0));
	if (end == NULL || demo_cmd(db, "BEGIN") == -1)
		goto out;
	p[0] = o.project;
	if (demo_exec(db, DM_PROJECT, 1, p, NULL) == -1 ||
	    demo_exec(db, DM_CLEAR, 1, p, NULL) == -1)
		goto out;
	p[0] = end;
	p[1] = days;
	if (demo_exec(db, DM_PARTITIONS, 2, p, NULL) == -1)
		goto out;
	p[0] = n;
	p[1] = seed;
	p[2] = days;
	p[3] = resol;
	p[4] = o.project;
	if (demo_exec(db, DM_SLOS, 5, p, NULL) == -1 ||
	    demo_cmd(db, "COMMIT") == -1)
		goto out;
	p[5] = end;
	if (demo_points(cfg, p) == -1)
		goto out;
	/* Statistics for the new rows: plans made before autovacuum
	 * gets to them would take a million points for none. */
	if (demo_cmd(db, "ANALYZE slo, sli, sli_point, sli_hourly, sli_daily") == -1)
		goto out;
	t1 = now_s();
	p[0] = o.project;
	p[1] = resol;
	if (demo_exec(db, DM_SUMMARY, 2, p, &res) == -1)
		goto out;
	printf("demo-data: project %s: %s SLOs, %s points in %.1f s "
	    "(seed %ld, %ld days to %s)\n", o.project, PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), t1 - t0, o.seed, o.days, end);
	printf("demo-data: budget left: %s at 85-100 %%, %s at 70-85 %%, "
	    "%s at 50-70 %%, %s at 10-50 %%, %s below 10 %%\n",
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
	    PQgetvalue(res, 0, 6));
	printf("demo-data: status: %s\n", PQgetvalue(res, 0, 7));
	if (o.monitors > 0 && monitors_demo(cfg, db, o.project, o.monitors,
	    o.seed, o.monitor_target, o.at) == -1)
		goto out;
	if (o.incidents && hub_demo(cfg, db, o.project, o.seed, o.days,
	    end) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	PQclear(er);
	free(end);
	PQfinish(db);
	return rc;
}
