/*
 * monitors_demo.c -- `dashcgi demo-data --monitors N --monitor-target
 * URL` (SPEC §8, §9): N uptime monitors of the small HTTP target the
 * demo runs on loopback (t/monitor-target.pl), with 90 days of
 * generated roll-ups so the uptime views and the status page have
 * history from the first minute.
 *
 * Owns: the monitors' plan (MON_PLAN: names, kinds, target paths) and
 * the history model.  The kinds: monitor 1 is always up, 2 down (the
 * target answers 500; in the history down for the last 36 hours), 3
 * slow (1.2 s answers within a 3 s maxLatency), 4 flapping (the
 * target's /flap, down a minute or two every few minutes); from 5 on,
 * 30 % flapping and the rest up, as the seed draws them.
 * History: hour rows of 120 checks (the 30 s interval) over 90 days,
 * generated in PostgreSQL from hashes of the seed; the last 7 days are
 * stored as hour roll-ups and all 90 summed into day roll-ups, then
 * monitor_rollup_rebase() (migration 0009) sets the running totals, so
 * the checker's first real result lands on consistent rows.  Up
 * monitors have a short outage (timeouts) on ~7 % of days; flapping
 * ones lose 2-12 % of a day's checks (503 answers).
 * Never: generate a row in C; use random(); write raw check results
 * (the checker writes those, live); touch a monitor that demo-data did
 * not create; make a monitor's state up front (pending until the
 * checker's first checks, so the down monitor opens its hub incident
 * live).
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "api/monitors_demo.h"
#include "config.h"
#include "db.h"
#include "demo.h"
#include "log.h"

#define DEMO_TARGET_MAX	512

struct monitors_demo_opts {
	long		 monitors;
	const char	*target;
};

static const struct monitors_demo_opts monitors_demo_defaults = { 0, NULL };

static const struct demo_flag monitors_demo_flags[] = {
	DEMO_FLAG(struct monitors_demo_opts, "--monitors", DEMO_LONG,
	    monitors, 0, 10000, "uptime monitors with 90 days of history "
	    "(0; 4 or more: every kind)"),
	DEMO_FLAG(struct monitors_demo_opts, "--monitor-target", DEMO_STRING,
	    target, 0, 0, "base URL of the monitors' target "
	    "(t/monitor-target.pl)"),
};

/*
 * $2 monitors, $3 seed: one row per monitor i with u[1..4] uniform in
 * [0, 1), its name, kind and the latency its target answers in (c, ms).
 */
#define MON_PLAN							\
	"names (a) AS (SELECT ARRAY['shop-home', 'payments', 'search',"	\
	" 'checkout-api', 'login', 'cart', 'catalog', 'inventory',"	\
	" 'shipping', 'recommendations', 'reviews', 'media-cdn',"	\
	" 'accounts', 'billing', 'notifications', 'status-api']),"	\
	" u AS (SELECT i, array_agg((abs(hashint8extended(i * 16 + k,"	\
	" $3::bigint)) % 1000000000)::float8 / 1e9 ORDER BY k) AS u"	\
	" FROM generate_series(1, $2::int) i, generate_series(0, 3) k"	\
	" GROUP BY i),"							\
	" plan AS (SELECT u.i, n.a[1 + (u.i - 1) % cardinality(n.a)]"	\
	" || CASE WHEN u.i > cardinality(n.a) THEN '-'"			\
	" || (1 + (u.i - 1) / cardinality(n.a)) ELSE '' END AS name,"	\
	" CASE u.i WHEN 1 THEN 'up' WHEN 2 THEN 'down' WHEN 3 THEN 'slow'"\
	" WHEN 4 THEN 'flapping' ELSE CASE WHEN u.u[1] < 0.3"		\
	" THEN 'flapping' ELSE 'up' END END AS kind,"			\
	" 5 + floor(60 * u.u[2])::int AS delay,"			\
	" 300 + 60 * floor(10 * u.u[3])::int AS up_s,"			\
	" 45 + 15 * floor(6 * u.u[4])::int AS down_s"			\
	" FROM u, names n)"

enum { MD_CLEAR, MD_CREATE, MD_REBASE, MD_SUMMARY, MD__COUNT };

static const struct stmt_def md_sql[MD__COUNT] = {
	/* $1 project: the monitors an earlier run made (results, roll-ups
	 * and alerts go with them). */
	[MD_CLEAR] = { "monitors_demo_clear",
	    "DELETE FROM monitor WHERE project = $1::text"
	    " AND created_by = 'demo-data'", 1 },
	/*
	 * $1 project, $2 monitors, $3 seed, $4 target (no trailing /),
	 * $5 end of the history.  The monitors (first checks spread over
	 * 30 s), then per monitor and hour: checks, fails, the checks with
	 * a response time and the day's latency centre; hour roll-ups for
	 * the last 7 days and day roll-ups for all 90, their histograms
	 * by pg_temp.demo_hist().  Returns monitors, day and hour rows.
	 */
	[MD_CREATE] = { "monitors_demo_create",
	    "WITH " MON_PLAN ","
	    " m AS (INSERT INTO monitor AS m (project, name, spec, every,"
	    " created_by, updated_by, next_due)"
	    " SELECT $1::text, p.name, jsonb_build_object('url', $4::text"
	    " || CASE p.kind WHEN 'down' THEN '/?status=500'"
	    " WHEN 'slow' THEN '/?delay=1200'"
	    " WHEN 'flapping' THEN '/flap?up=' || p.up_s || '&down=' || p.down_s"
	    " ELSE '/?delay=' || p.delay END,"
	    " 'method', 'GET', 'headers', '{}'::jsonb, 'body', '',"
	    " 'interval', '30s', 'timeout', '10s', 'followRedirects', true,"
	    " 'expect', jsonb_build_object('status', jsonb_build_array('2xx'),"
	    " 'bodyContains', '', 'maxLatency', CASE p.kind WHEN 'slow'"
	    " THEN '3s' ELSE '' END),"
	    " 'failureThreshold', 2, 'successThreshold', 1,"
	    " 'tlsExpiryWarning', '14d', 'paused', false,"
	    " 'channels', '[]'::jsonb), interval '30 seconds',"
	    " 'demo-data', 'demo-data',"
	    " now() + ((p.i - 1) % 30) * interval '1 second'"
	    " FROM plan p ORDER BY p.i"
	    " ON CONFLICT (project, name) DO NOTHING RETURNING m.id, m.name),"
	    " t AS (SELECT date_trunc('hour', $5::timestamptz, 'UTC') AS hnow,"
	    " date_trunc('day', $5::timestamptz, 'UTC') AS today),"
	    " g AS (SELECT m.id, p.i, p.kind, CASE p.kind WHEN 'slow'"
	    " THEN 1200.0 WHEN 'up' THEN p.delay + 1.5 ELSE 2.5 END AS c,"
	    " h.hr, date_trunc('day', h.hr, 'UTC') AS day, t.hnow, t.today,"
	    " extract(hour FROM h.hr AT TIME ZONE 'UTC')::int AS hod,"
	    " (extract(epoch FROM t.today - date_trunc('day', h.hr, 'UTC'))"
	    " / 86400)::int AS dago"
	    " FROM m JOIN plan p USING (name) CROSS JOIN t,"
	    " generate_series(t.today - interval '89 days',"
	    " t.hnow - interval '1 hour', interval '1 hour') h (hr)),"
	    /* r0..r3: per monitor and day; rh: per monitor and hour. */
	    " r AS (SELECT g.*, x.r[1] AS r0, x.r[2] AS r1, x.r[3] AS r2,"
	    " x.r[4] AS r3, x.r[5] AS rh FROM g, LATERAL (SELECT"
	    " array_agg((abs(hashint8extended(g.i * 1000000 + g.dago * 100"
	    " + k, $3::bigint)) % 1000000000)::float8 / 1e9 ORDER BY k) AS r"
	    " FROM unnest(ARRAY[0, 1, 2, 3, 10 + g.hod]) k) x),"
	    " f AS (SELECT r.id, r.hr, r.day, r.hnow, r.today, r.kind,"
	    " r.c * (0.85 + 0.3 * r.r3) AS c, 120 AS checks,"
	    " CASE WHEN r.kind = 'down' AND r.hr >= r.hnow"
	    " - interval '36 hours' THEN 120"
	    " WHEN r.kind = 'flapping' THEN floor(120 * (0.02 + 0.10 * r.r0)"
	    " * 2 * r.rh)::int"
	    " WHEN r.r0 < 0.07 AND r.hod = floor(24 * r.r1)::int"
	    " THEN 2 + floor(88 * r.r2)::int ELSE 0 END AS fails FROM r),"
	    " l AS (SELECT f.*, CASE WHEN f.kind IN ('up', 'slow')"
	    " THEN f.checks - f.fails ELSE f.checks END AS lat_n FROM f),"
	    " hi AS (INSERT INTO monitor_rollup_hour (monitor_id, bucket,"
	    " checks, ok, lat_count, lat_sum, lat_min, lat_max, hist)"
	    " SELECT l.id, l.hr, l.checks, l.checks - l.fails, l.lat_n,"
	    " (d).lat_sum, (d).lat_min, (d).lat_max, (d).hist FROM (SELECT l.*,"
	    " pg_temp.demo_hist(l.c, l.lat_n) AS d FROM l"
	    " WHERE l.hr >= l.today - interval '6 days') l"
	    " ORDER BY l.id, l.hr RETURNING 1),"
	    " dd AS (SELECT l.id, l.day, sum(l.checks)::int AS checks,"
	    " sum(l.checks - l.fails)::int AS ok, sum(l.lat_n)::int AS lat_n,"
	    " avg(l.c) AS c FROM l GROUP BY l.id, l.day),"
	    " di AS (INSERT INTO monitor_rollup_day (monitor_id, bucket,"
	    " checks, ok, lat_count, lat_sum, lat_min, lat_max, hist)"
	    " SELECT dd.id, dd.day, dd.checks, dd.ok, dd.lat_n, (d).lat_sum,"
	    " (d).lat_min, (d).lat_max, (d).hist FROM (SELECT dd.*,"
	    " pg_temp.demo_hist(dd.c, dd.lat_n) AS d FROM dd) dd"
	    " ORDER BY dd.id, dd.day RETURNING 1) "
	    "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM di),"
	    " (SELECT count(*) FROM hi)", 5 },
	[MD_REBASE] = { "monitors_demo_rebase",
	    "SELECT sum(monitor_rollup_rebase(id)) FROM monitor"
	    " WHERE project = $1::text AND created_by = 'demo-data'", 1 },
	/* $1 project: the demo's monitors by kind, as their URLs say. */
	[MD_SUMMARY] = { "monitors_demo_summary",
	    "SELECT count(*) FILTER (WHERE spec ->> 'url' ~ '/[?]delay=[0-9]+$'"
	    " AND spec ->> 'url' !~ 'delay=1200$'),"
	    " count(*) FILTER (WHERE spec ->> 'url' ~ '/flap[?]'),"
	    " count(*) FILTER (WHERE spec ->> 'url' ~ 'status=500$'),"
	    " count(*) FILTER (WHERE spec ->> 'url' ~ 'delay=1200$')"
	    " FROM monitor WHERE project = $1::text"
	    " AND created_by = 'demo-data'", 1 },
};

/*
 * A histogram of n latencies around c ms (migration 0009's buckets):
 * 6/24/40/24/6 % over the five buckets around c's, 1 % eight buckets
 * (four times) slower; the sum, min and max as the buckets give them.
 * A session function: the schema keeps nothing for the demo.
 */
static const char demo_hist_sql[] =
    "CREATE OR REPLACE FUNCTION pg_temp.demo_hist(c double precision,"
    " n integer, OUT hist integer[], OUT lat_sum double precision,"
    " OUT lat_min real, OUT lat_max real) LANGUAGE plpgsql IMMUTABLE AS $$"
    "DECLARE b integer := monitor_hist_bucket(c); w float8[] :="
    " ARRAY[0.06, 0.24, 0.40, 0.24, 0.06]; tail integer := n / 100;"
    " left_n integer := n - n / 100; v integer; k integer;"
    "BEGIN"
    " hist := array_fill(0, ARRAY[monitor_hist_n()]); lat_sum := 0;"
    " IF n <= 0 THEN RETURN; END IF;"
    " FOR j IN 1 .. 5 LOOP"
    "  k := least(monitor_hist_n(), greatest(1, b + j - 3));"
    "  v := CASE WHEN j = 3 THEN 0 ELSE floor(left_n * w[j])::integer END;"
    "  hist[k] := hist[k] + v; left_n := left_n - v;"
    " END LOOP;"
    " hist[b] := hist[b] + left_n;"
    " k := least(monitor_hist_n(), b + 8); hist[k] := hist[k] + tail;"
    " FOR j IN 1 .. monitor_hist_n() LOOP"
    "  CONTINUE WHEN hist[j] = 0;"
    "  lat_sum := lat_sum + hist[j] * CASE WHEN j = 1 THEN 0.5"
    "   ELSE power(2, (j - 1.5) / 4.0) END;"
    "  lat_max := CASE WHEN j = 1 THEN 1 ELSE power(2, (j - 1) / 4.0) END;"
    "  lat_min := coalesce(lat_min, CASE WHEN j = 1 THEN 0"
    "   ELSE power(2, (j - 2) / 4.0) END);"
    " END LOOP;"
    "END $$";

/* --monitors N and --monitor-target URL together, or neither: 0, or
 * -1 after a message on stderr (exit 2). */
static int
monitors_demo_check(const void *opts)
{
	const struct monitors_demo_opts *o = opts;
	const char	*target = o->target;
	long		 n = o->monitors;
	size_t		 len;

	if (n <= 0 && target == NULL)
		return 0;
	if (n <= 0) {
		fprintf(stderr, "dashcgi: demo-data: --monitor-target without "
		    "--monitors N\n");
		return -1;
	}
	if (target == NULL) {
		fprintf(stderr, "dashcgi: demo-data: --monitors needs "
		    "--monitor-target URL, the base URL of a running "
		    "t/monitor-target.pl (t/demo.pl starts one)\n");
		return -1;
	}
	len = strlen(target);
	if ((strncmp(target, "http://", 7) != 0 &&
	    strncmp(target, "https://", 8) != 0) || len > DEMO_TARGET_MAX ||
	    strpbrk(target, "?#'\" \t\r\n") != NULL) {
		fprintf(stderr, "dashcgi: demo-data: --monitor-target: expected "
		    "an http:// or https:// base URL without query, got "
		    "\"%.64s\"\n", target);
		return -1;
	}
	return 0;
}

/* N monitors of the target in the project, 90 days of roll-ups ending
 * at --at (now without it), in their own transaction; a summary line. */
static int
monitors_demo_run(const struct demo_run *run, const void *opts)
{
	const struct monitors_demo_opts *o = opts;
	PGconn		*db = run->db;
	PGresult	*res = NULL, *sum = NULL;
	const char	*p[5], *project = run->project, *at = run->at;
	char		 ns[24], ss[24], base[DEMO_TARGET_MAX + 1], endbuf[64];
	size_t		 len;
	int		 rc = -1;

	if (o->monitors <= 0)
		return 0;
	snprintf(ns, sizeof(ns), "%ld", o->monitors);
	snprintf(ss, sizeof(ss), "%ld", run->seed);
	snprintf(base, sizeof(base), "%s", o->target);
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	snprintf(endbuf, sizeof(endbuf), "%s", at != NULL ? at : "now");
	if (!run->cfg->monitors.allow_private)
		fprintf(stderr, "dashcgi: demo-data: monitors.allow_private is "
		    "false: checks of a loopback target fail with "
		    "blocked_address\n");
	if (demo_cmd(db, "BEGIN") == -1 || demo_cmd(db, demo_hist_sql) == -1)
		goto out;
	p[0] = project;
	p[1] = ns;
	p[2] = ss;
	p[3] = base;
	p[4] = endbuf;
	if (demo_exec(db, &md_sql[MD_CLEAR], p, NULL) == -1 ||
	    demo_exec(db, &md_sql[MD_CREATE], p, &res) == -1 ||
	    demo_exec(db, &md_sql[MD_REBASE], p, NULL) == -1 ||
	    demo_cmd(db, "COMMIT") == -1 ||
	    demo_cmd(db, "ANALYZE monitor, monitor_rollup_hour, "
	    "monitor_rollup_day") == -1 ||
	    demo_exec(db, &md_sql[MD_SUMMARY], p, &sum) == -1)
		goto out;
	printf("demo-data: project %s: %s monitors of %s (%s up, %s flapping, "
	    "%s down, %s slow), %s day and %s hour roll-ups (seed %ld)\n",
	    project, PQgetvalue(res, 0, 0), base, PQgetvalue(sum, 0, 0),
	    PQgetvalue(sum, 0, 1), PQgetvalue(sum, 0, 2),
	    PQgetvalue(sum, 0, 3), PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2), run->seed);
	rc = 0;
out:
	if (rc == -1)
		PQclear(PQexec(db, "ROLLBACK"));
	PQclear(sum);
	PQclear(res);
	return rc;
}

const struct demo monitors_demo = {
	monitors_demo_flags,
	sizeof(monitors_demo_flags) / sizeof(monitors_demo_flags[0]),
	sizeof(struct monitors_demo_opts), &monitors_demo_defaults,
	monitors_demo_check, monitors_demo_run
};
