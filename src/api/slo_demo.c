/*
 * slo_demo.c -- the SLO module's part of `dashcgi demo-data` (src/demo.c,
 * the module's demo hook): a realistic SLO fleet in one project (SPEC
 * §8), generated inside PostgreSQL.
 *
 * Owns: its flag (--slos), the fleet's plan (DEMO_PLAN: which SLO
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

#include "api/slo.h"
#include "db.h"
#include "demo.h"
#include "log.h"

#define DEMO_WRITERS	2	/* connections writing points at once */

struct slo_demo_opts {
	long	 slos;
};

static const struct slo_demo_opts slo_demo_defaults = { 124 };

static const struct demo_flag slo_demo_flags[] = {
	DEMO_FLAG(struct slo_demo_opts, "--slos", DEMO_LONG, slos, 1, 10000,
	    "number of SLOs (124)"),
};

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

static int
slo_demo_run(const struct demo_run *run, const void *opts)
{
	const struct slo_demo_opts *o = opts;
	PGconn		*db = run->db;
	PGresult	*res = NULL;
	const char	*p[6];
	char		 n[24], seed[24], days[24], resol[24];
	double		 t0 = now_s(), t1;
	int		 rc = -1;

	snprintf(n, sizeof(n), "%ld", o->slos);
	snprintf(seed, sizeof(seed), "%ld", run->seed);
	snprintf(days, sizeof(days), "%ld", run->days);
	snprintf(resol, sizeof(resol), "%lld",
	    (long long)(run->cfg->slo.resolution / 1000));
	if (demo_cmd(db, "BEGIN") == -1)
		return -1;
	p[0] = run->project;
	if (demo_exec(db, &demo_sql[DM_PROJECT], p, NULL) == -1 ||
	    demo_exec(db, &demo_sql[DM_CLEAR], p, NULL) == -1)
		goto out;
	p[0] = run->end;
	p[1] = days;
	if (demo_exec(db, &demo_sql[DM_PARTITIONS], p, NULL) == -1)
		goto out;
	p[0] = n;
	p[1] = seed;
	p[2] = days;
	p[3] = resol;
	p[4] = run->project;
	if (demo_exec(db, &demo_sql[DM_SLOS], p, NULL) == -1 ||
	    demo_cmd(db, "COMMIT") == -1)
		goto out;
	p[5] = run->end;
	if (demo_points(run->cfg, p) == -1)
		goto out;
	/* Statistics for the new rows: plans made before autovacuum
	 * gets to them would take a million points for none. */
	if (demo_cmd(db, "ANALYZE slo, sli, sli_point, sli_hourly, sli_daily") == -1)
		goto out;
	t1 = now_s();
	p[0] = run->project;
	p[1] = resol;
	if (demo_exec(db, &demo_sql[DM_SUMMARY], p, &res) == -1)
		goto out;
	printf("demo-data: project %s: %s SLOs, %s points in %.1f s "
	    "(seed %ld, %ld days to %s)\n", run->project,
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), t1 - t0, run->seed,
	    run->days, run->end);
	printf("demo-data: budget left: %s at 85-100 %%, %s at 70-85 %%, "
	    "%s at 50-70 %%, %s at 10-50 %%, %s below 10 %%\n",
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
	    PQgetvalue(res, 0, 6));
	printf("demo-data: status: %s\n", PQgetvalue(res, 0, 7));
	rc = 0;
out:
	PQclear(res);
	return rc;
}

const struct demo slo_demo = {
	slo_demo_flags, sizeof(slo_demo_flags) / sizeof(slo_demo_flags[0]),
	sizeof(struct slo_demo_opts), &slo_demo_defaults, NULL, slo_demo_run
};
