/*
 * slo.c -- the SLO module (SPEC §8): SLO documents per project, SLI
 * point ingest, status with error budget, burn rates and multiwindow
 * alerts, the experience/journey tree, the seed-compatible /api/seed,
 * /api/series and /health, and the partition jobs of the points.
 *
 * Owns: the slo statement table; validation of SLO documents and of
 * points (C names the field or the line); the streaming of series in
 * chunks of a few SLIs, so a worker never holds the ~1M points of a
 * 28-day /api/series.  PostgreSQL does the arithmetic (sli_eval(),
 * slo_eval() in migration 0008) and builds every JSON answer.
 * Never: compute a budget or a rate in C; build SQL from input; hold a
 * whole series answer in memory; answer success for a change without
 * its audit row.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/slo.h"
#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "module.h"
#include "validate.h"

#define SLI_MAX		32	/* indicators per SLO */
#define NAME_TEXT_MAX	200	/* experience, journey */
#define SERIES_SLIS	"64"	/* SLIs per statement while streaming */
#define POINTS_CHUNK	"4096"	/* points per statement while streaming */
#define BATCH_IDS_MAX	1000	/* sliIds of /api/series/batch */
#define DAYS_MAX	400

/* The end of every window, in SQL: slo_now() of the resolution $n. */
#define NOW(n)	"slo_now(" n "::int * interval '1 second')"

/* Cursor-paged list filters: $1 project $2 experience $3 journey. */
enum {
	SL_ROLE, SL_LIST, SL_GET, SL_CREATE, SL_UPDATE, SL_DELETE, SL_STATUS,
	SL_TREE, SL_LOCK, SL_INGEST, SL_SEED, SL_SERIES, SL_POINTS, SL_HOURLY,
	SL_UNKNOWN, SL_OPENSLO,
	SL__COUNT
};

static const struct stmt_def defs[SL__COUNT] = {
	/* The seed paths name the project in ?project=: the role here. */
	[SL_ROLE] = { "slo_role",
	    "SELECT EXISTS (SELECT 1 FROM project WHERE name = $1::text),"
	    " (SELECT role FROM project_member"
	    " WHERE project = $1::text AND user_name = $2::text)", 2 },
	/*
	 * $4 status filter (evaluates each SLO), $5 resolution (s), $6
	 * cursor, $7 limit (NULL: the whole list).
	 */
	[SL_LIST] = { "slo_list",
	    "SELECT slo_doc(s)::text, s.name FROM slo s"
	    " WHERE s.project = $1::text"
	    " AND ($2::text IS NULL OR s.experience = $2::text)"
	    " AND ($3::text IS NULL OR s.journey = $3::text)"
	    " AND ($4::text IS NULL OR slo_eval(s, " NOW("$5") ", false)"
	    " ->> 'status' = $4::text)"
	    " AND ($6::text IS NULL OR s.name > " CURSOR_DEC("$6::text") ")"
	    " ORDER BY s.name LIMIT $7::int", 7 },
	[SL_GET] = { "slo_get",
	    "SELECT s.version, slo_doc(s)::text FROM slo s"
	    " WHERE s.project = $1::text AND s.name = $2::text", 2 },
	/*
	 * $3 spec (checked by C), $4 actor.  Columns: does the name
	 * exist, an SLI id of the spec that another SLO of the project
	 * has and that SLO, the new version and document (NULL: not
	 * written).
	 */
	[SL_CREATE] = { "slo_create",
	    "WITH sp AS (SELECT slo_spec_norm($3::jsonb) AS spec),"
	    " ids AS (SELECT e ->> 'id' AS id FROM sp,"
	    " jsonb_array_elements(sp.spec -> 'indicators') e),"
	    " taken AS (SELECT i.id, s.name FROM sli i"
	    " JOIN slo s ON s.id = i.slo_id WHERE i.project = $1::text"
	    " AND i.id IN (SELECT id FROM ids) ORDER BY i.id LIMIT 1),"
	    " ins AS (INSERT INTO slo AS s (project, name, spec, experience,"
	    " journey, target, slo_window, created_by, updated_by)"
	    " SELECT $1::text, $2::text, sp.spec, sp.spec ->> 'experience',"
	    " sp.spec ->> 'journey', (sp.spec ->> 'target')::float8,"
	    " sp.spec ->> 'window', $4::text, $4::text FROM sp"
	    " WHERE NOT EXISTS (SELECT 1 FROM taken)"
	    " ON CONFLICT (project, name) DO NOTHING"
	    " RETURNING s.id, s.version, s.spec, slo_doc(s) AS doc),"
	    " sl AS (INSERT INTO sli (project, id, slo_id, ord, display)"
	    " SELECT $1::text, e ->> 'id', ins.id, o::int, e -> 'display'"
	    " FROM ins, jsonb_array_elements(ins.spec -> 'indicators')"
	    " WITH ORDINALITY x (e, o)) "
	    "SELECT EXISTS (SELECT 1 FROM slo WHERE project = $1::text"
	    " AND name = $2::text), (SELECT id FROM taken),"
	    " (SELECT name FROM taken), (SELECT version FROM ins),"
	    " (SELECT doc::text FROM ins)", 4 },
	/*
	 * $3 the version replaced (NULL: any), $4 spec, $5 actor.  The
	 * lock, the version check and the write are one statement, as
	 * for dashboards.  SLIs the spec no longer lists go, with their
	 * points (trigger sli_drop_points).  Columns: current version
	 * (NULL: no such SLO), new version (NULL: not written), a taken
	 * SLI id and its SLO, the document.
	 */
	[SL_UPDATE] = { "slo_update",
	    "WITH cur AS (SELECT s.id, s.version FROM slo s"
	    " WHERE s.project = $1::text AND s.name = $2::text FOR UPDATE),"
	    " sp AS (SELECT slo_spec_norm($4::jsonb) AS spec),"
	    " ids AS (SELECT e ->> 'id' AS id FROM sp,"
	    " jsonb_array_elements(sp.spec -> 'indicators') e),"
	    " taken AS (SELECT i.id, s.name FROM cur, sli i"
	    " JOIN slo s ON s.id = i.slo_id WHERE i.project = $1::text"
	    " AND i.id IN (SELECT id FROM ids) AND i.slo_id <> cur.id"
	    " ORDER BY i.id LIMIT 1),"
	    " upd AS (UPDATE slo s SET spec = sp.spec,"
	    " experience = sp.spec ->> 'experience',"
	    " journey = sp.spec ->> 'journey',"
	    " target = (sp.spec ->> 'target')::float8,"
	    " slo_window = sp.spec ->> 'window', version = s.version + 1,"
	    " updated_at = now(), updated_by = $5::text FROM cur, sp"
	    " WHERE s.id = cur.id"
	    " AND ($3::int IS NULL OR cur.version = $3::int)"
	    " AND NOT EXISTS (SELECT 1 FROM taken)"
	    " RETURNING s.id, s.version, s.spec, slo_doc(s) AS doc),"
	    " del AS (DELETE FROM sli i USING upd WHERE i.slo_id = upd.id"
	    " AND i.id NOT IN (SELECT id FROM ids)),"
	    " ups AS (INSERT INTO sli (project, id, slo_id, ord, display)"
	    " SELECT $1::text, e ->> 'id', upd.id, o::int, e -> 'display'"
	    " FROM upd, jsonb_array_elements(upd.spec -> 'indicators')"
	    " WITH ORDINALITY x (e, o)"
	    " ON CONFLICT (project, id) DO UPDATE SET ord = EXCLUDED.ord,"
	    " display = EXCLUDED.display) "
	    "SELECT (SELECT version FROM cur), (SELECT version FROM upd),"
	    " (SELECT id FROM taken), (SELECT name FROM taken),"
	    " (SELECT doc::text FROM upd)", 5 },
	/* $3 If-Match version or NULL.  No row: no such SLO. */
	[SL_DELETE] = { "slo_delete",
	    "WITH cur AS (SELECT s.id, s.version FROM slo s"
	    " WHERE s.project = $1::text AND s.name = $2::text FOR UPDATE),"
	    " del AS (DELETE FROM slo s USING cur WHERE s.id = cur.id"
	    " AND ($3::int IS NULL OR cur.version = $3::int) RETURNING s.id) "
	    "SELECT cur.version, EXISTS (SELECT 1 FROM del) FROM cur", 3 },
	/* $3 resolution (s). */
	[SL_STATUS] = { "slo_status",
	    "SELECT slo_eval(s, " NOW("$3") ", true)::text FROM slo s"
	    " WHERE s.project = $1::text AND s.name = $2::text", 3 },
	/* $2 resolution (s). */
	[SL_TREE] = { "slo_tree",
	    "WITH ev AS MATERIALIZED (SELECT s.experience, s.journey, s.name, s.spec,"
	    " slo_eval(s, " NOW("$2") ", false) AS j FROM slo s"
	    " WHERE s.project = $1::text),"
	    " jr AS (SELECT experience, journey,"
	    " array_agg(j ->> 'status') AS sts, jsonb_agg(jsonb_build_object("
	    "'name', name, 'display', spec -> 'display',"
	    " 'owner', spec -> 'owner', 'target', j -> 'target',"
	    " 'window', j -> 'window', 'status', j -> 'status',"
	    " 'sli', j -> 'sli', 'errorBudget', j -> 'errorBudget')"
	    " ORDER BY name) AS slos FROM ev GROUP BY 1, 2),"
	    " ex AS (SELECT experience, array_agg(j ->> 'status') AS sts"
	    " FROM ev GROUP BY 1),"
	    " exj AS (SELECT experience, jsonb_agg(jsonb_build_object("
	    "'name', journey) || slo_rollup(sts)"
	    " || jsonb_build_object('slos', slos) ORDER BY journey)"
	    " AS journeys FROM jr GROUP BY 1) "
	    "SELECT (jsonb_build_object('project', $1::text, 'evaluatedAt',"
	    " rfc3339(" NOW("$2") "))"
	    " || slo_rollup((SELECT array_agg(j ->> 'status') FROM ev))"
	    " || jsonb_build_object('experiences', coalesce((SELECT"
	    " jsonb_agg(jsonb_build_object('name', ex.experience)"
	    " || slo_rollup(ex.sts)"
	    " || jsonb_build_object('journeys', exj.journeys)"
	    " ORDER BY ex.experience) FROM ex JOIN exj USING (experience)),"
	    " '[]')))::text", 2 },
	/*
	 * Before SL_INGEST, in the same transaction: a lock per SLI of the
	 * request ($2), taken in key order (no deadlock between two
	 * requests), held to COMMIT.  $2 has an id per point: made
	 * distinct first (= ANY of 1,000 ids compared every SLI of the
	 * project with each: 1.9 ms of CPU a batch against 0.7 ms).
	 * SL_INGEST then starts with a snapshot that holds every earlier
	 * writer's points, so the difference it adds to an hour is
	 * against the point as stored, also when two requests write the
	 * same new point at once.
	 */
	[SL_LOCK] = { "slo_ingest_lock",
	    "SELECT count(pg_advisory_xact_lock(hashtext('dashcgi.sli_point'),"
	    " (k.key % 2147483647)::int)) FROM (SELECT key FROM sli"
	    " WHERE project = $1::text AND id IN (SELECT DISTINCT unnest("
	    "$2::text[])) ORDER BY key) k", 2 },
	/*
	 * Points as parallel arrays ($2 line numbers, $3 SLI ids, $4
	 * times as seconds since the epoch, aligned by C, $5 good, $6
	 * bad); $7 raw retention (ms).  All or nothing: the first line naming an unknown SLI or
	 * a time outside what is kept writes nothing.  A point that
	 * exists is replaced and its hour and its day get the difference
	 * (SL_LOCK serialises the writers of an SLI; the old points are
	 * locked too).  ins reads old's count so that
	 * old runs (and locks) before ins rewrites those rows: a row this
	 * statement already changed would be invisible to FOR UPDATE.
	 * Within a request the last line for a (sli, t) wins.  Columns: bad line, why, its SLI id,
	 * points written.
	 */
	[SL_INGEST] = { "slo_ingest",
	    "WITH inp AS (SELECT x.line, x.id, to_timestamp(x.t) AS t,"
	    " x.good, x.bad"
	    " FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[],"
	    " $6::bigint[]) AS x (line, id, t, good, bad)),"
	    " j AS (SELECT inp.*, i.key FROM inp LEFT JOIN sli i"
	    " ON i.project = $1::text AND i.id = inp.id),"
	    " badl AS (SELECT line, CASE WHEN key IS NULL THEN 'unknown'"
	    " WHEN t < now() - $7::bigint * interval '1 millisecond'"
	    " THEN 'old' ELSE 'future' END AS why, id FROM j"
	    " WHERE key IS NULL"
	    " OR t < now() - $7::bigint * interval '1 millisecond'"
	    " OR t > now() + interval '1 day' ORDER BY line LIMIT 1),"
	    " pts AS (SELECT DISTINCT ON (key, t) key, t, good, bad FROM j"
	    " WHERE NOT EXISTS (SELECT 1 FROM badl)"
	    " ORDER BY key, t, line DESC),"
	    " old AS (SELECT p.sli, p.t, p.good, p.bad FROM sli_point p"
	    " JOIN pts ON p.sli = pts.key AND p.t = pts.t FOR UPDATE OF p),"
	    " ins AS (INSERT INTO sli_point (sli, t, good, bad)"
	    " SELECT key, t, good, bad FROM pts"
	    " WHERE (SELECT count(*) FROM old) >= 0"
	    " ON CONFLICT (sli, t) DO UPDATE SET good = EXCLUDED.good,"
	    " bad = EXCLUDED.bad RETURNING 1),"
	    " delta AS (SELECT sli, date_trunc('hour', t, 'UTC') AS h,"
	    " sum(good) AS g, sum(bad) AS b FROM (SELECT key AS sli, t, good,"
	    " bad FROM pts UNION ALL SELECT sli, t, -good, -bad FROM old) d"
	    " GROUP BY 1, 2),"
	    " hr AS (INSERT INTO sli_hourly AS h (sli, t, good, bad)"
	    " SELECT sli, h, g, b FROM delta"
	    " ON CONFLICT (sli, t) DO UPDATE SET good = h.good + EXCLUDED.good,"
	    " bad = h.bad + EXCLUDED.bad),"
	    " dd AS (INSERT INTO sli_daily AS d (sli, t, good, bad)"
	    " SELECT sli, date_trunc('day', h, 'UTC'), sum(g), sum(b) FROM delta"
	    " GROUP BY 1, 2"
	    " ON CONFLICT (sli, t) DO UPDATE SET good = d.good + EXCLUDED.good,"
	    " bad = d.bad + EXCLUDED.bad) "
	    "SELECT (SELECT line FROM badl), (SELECT why FROM badl),"
	    " (SELECT id FROM badl), (SELECT count(*) FROM ins)", 7 },
	/*
	 * The seed's /api/seed shape; $2 resolution (s).  The figures of
	 * slo_eval(s, e, false), set-based: the window of each window kind
	 * and, for a calendar window, the period before it (the reference
	 * of sli_eval()), split once by sli_split(); then one pass over the
	 * SLIs with sli_range_counts() inlined (migration 0023: days, hours
	 * and points); slo_budget() makes the same jsonb; the worst SLI is
	 * the one with the least budget left, as slo_eval() picks it.
	 * The parameters are read once in prm, so a custom plan gains
	 * nothing over the generic one and the statement is planned once
	 * per connection, not per call.
	 */
	[SL_SEED] = { "slo_seed",
	    "WITH prm AS MATERIALIZED (SELECT $1::text AS project,"
	    " " NOW("$2") " AS e),"
	    " w AS MATERIALIZED (SELECT x.win, r.*, c.*, p.plo, q.*"
	    " FROM prm, (SELECT DISTINCT s.slo_window FROM slo s, prm"
	    " WHERE s.project = prm.project) x (win),"
	    " slo_window_bounds(x.win, prm.e) r,"
	    " sli_split(r.lo, prm.e) c,"
	    " LATERAL (SELECT CASE x.win WHEN 'calendar-month'"
	    " THEN (r.lo AT TIME ZONE 'UTC' - interval '1 month') AT TIME ZONE 'UTC'"
	    " WHEN 'calendar-week' THEN r.lo - interval '7 days' END AS plo) p,"
	    " sli_split(p.plo, r.lo) q (ph0, pd0, pd1, ph1)),"
	    " s AS MATERIALIZED (SELECT s.id, s.experience, s.journey, s.name,"
	    " s.spec, s.target, prm.e, w.* FROM prm, slo s"
	    " JOIN w ON w.win = s.slo_window WHERE s.project = prm.project),"
	    " ind AS MATERIALIZED (SELECT s.id AS slo, i.ord, i.id, i.display,"
	    " slo_budget(c.good, c.bad, s.target, CASE WHEN r.good + r.bad > 0"
	    " THEN ((r.good + r.bad) * extract(epoch FROM s.len)"
	    " / extract(epoch FROM s.lo - s.plo))::float8 END) AS j"
	    " FROM s JOIN sli i ON i.slo_id = s.id,"
	    " sli_range_counts(i.key, s.lo, s.h0, s.d0, s.d1, s.h1, s.e) c,"
	    " sli_range_counts(i.key, s.plo, s.ph0, s.pd0, s.pd1, s.ph1, s.lo) r),"
	    " worst AS (SELECT DISTINCT ON (slo) slo, j FROM ind ORDER BY slo,"
	    " (j -> 'errorBudget' ->> 'remaining')::float8 NULLS LAST, ord),"
	    " inds AS (SELECT slo, jsonb_agg(jsonb_build_object('id', id, 'name',"
	    " coalesce(display ->> 'name', id), 'sli', j -> 'sli', 'status',"
	    " j -> 'status', 'errorBudget', j -> 'errorBudget') ORDER BY ord) AS a"
	    " FROM ind GROUP BY slo),"
	    " jr AS (SELECT s.experience, s.journey, jsonb_agg(jsonb_build_object("
	    "'id', s.name, 'name', coalesce(s.spec -> 'display' ->> 'name', s.name),"
	    " 'target', s.target, 'window', s.win, 'owner', s.spec -> 'owner',"
	    " 'indicators', inds.a, 'status', x.j -> 'status', 'sli', x.j -> 'sli',"
	    " 'errorBudget', x.j -> 'errorBudget') ORDER BY s.name) AS slos"
	    " FROM s LEFT JOIN inds ON inds.slo = s.id"
	    " LEFT JOIN worst ON worst.slo = s.id,"
	    " LATERAL (SELECT coalesce(worst.j, slo_budget(0, 0, s.target)) AS j) x"
	    " GROUP BY 1, 2) "
	    "SELECT jsonb_build_object('experiences', coalesce((SELECT"
	    " jsonb_agg(jsonb_build_object('name', e.experience, 'journeys',"
	    " e.journeys) ORDER BY e.experience) FROM (SELECT experience,"
	    " jsonb_agg(jsonb_build_object('name', journey, 'slos', slos)"
	    " ORDER BY journey) AS journeys FROM jr GROUP BY 1) e), '[]'))::text",
	    2 },
	/*
	 * The next $3 SLIs after id $2 (NULL: from the first), of $6 (NULL:
	 * all): id, key, and the window of the last $4 days as seconds
	 * since the epoch, [lo, e) -- the current step and days of steps
	 * before it (8,065 points for 28 days at 5m); $5 resolution (s).
	 * The points follow with SL_POINTS (SL_HOURLY for ?step=1h, from
	 * the hour holding lo): C writes the JSON of each point, which
	 * costs a fraction of PostgreSQL formatting its timestamp.
	 */
	[SL_SERIES] = { "slo_series",
	    "SELECT i.id, i.key, date_part('epoch', w.lo)::bigint,"
	    " date_part('epoch', date_trunc('hour', w.lo, 'UTC'))::bigint,"
	    " date_part('epoch', w.e)::bigint"
	    " FROM sli i, (SELECT " NOW("$5") " AS e, " NOW("$5")
	    " - ($5::int * interval '1 second') - $4::int * interval '1 day'"
	    " AS lo) w"
	    " WHERE i.project = $1::text AND ($2::text IS NULL OR i.id > $2::text)"
	    " AND ($6::text[] IS NULL OR i.id = ANY ($6::text[]))"
	    " ORDER BY i.id LIMIT $3::int", 6 },
	/*
	 * Up to $4 points of SLI key $1 in [$2, $3) (seconds since the
	 * epoch), oldest first: t in whole seconds (ingest aligns it to
	 * slo.resolution), good, bad.  Keyset paging: the next statement
	 * starts one second after the last t.
	 */
	[SL_POINTS] = { "slo_points",
	    "SELECT date_part('epoch', p.t)::bigint, p.good, p.bad"
	    " FROM sli_point p WHERE p.sli = $1::bigint"
	    " AND p.t >= to_timestamp($2::bigint) AND p.t < to_timestamp($3::bigint)"
	    " ORDER BY p.t LIMIT $4::int", 4 },
	/* The same of the hourly roll-ups. */
	[SL_HOURLY] = { "slo_hourly",
	    "SELECT date_part('epoch', h.t)::bigint, h.good, h.bad"
	    " FROM sli_hourly h WHERE h.sli = $1::bigint"
	    " AND h.t >= to_timestamp($2::bigint) AND h.t < to_timestamp($3::bigint)"
	    " ORDER BY h.t LIMIT $4::int", 4 },
	/*
	 * The SLO as an OpenSLO v1 SLO (JSON): its first SLI inline as a
	 * ratio of dashcgi's counts; experience, owner and version as
	 * annotations.  Columns: version, document, number of SLIs.
	 */
	[SL_OPENSLO] = { "slo_openslo",
	    "SELECT s.version, jsonb_build_object('apiVersion', 'openslo/v1',"
	    " 'kind', 'SLO', 'metadata', jsonb_build_object('name', s.name,"
	    " 'displayName', coalesce(s.spec -> 'display' ->> 'name', s.name),"
	    " 'annotations', jsonb_build_object("
	    "'dashcgi/experience', s.experience,"
	    " 'dashcgi/owner', s.spec ->> 'owner',"
	    " 'dashcgi/version', s.version::text)),"
	    " 'spec', jsonb_build_object('description', s.spec -> 'description',"
	    " 'service', s.journey, 'indicator', jsonb_build_object("
	    "'metadata', jsonb_build_object('name', i ->> 'id', 'displayName',"
	    " coalesce(i -> 'display' ->> 'name', i ->> 'id')),"
	    " 'spec', jsonb_build_object('ratioMetric', jsonb_build_object("
	    "'counter', true,"
	    " 'good', jsonb_build_object('metricSource', jsonb_build_object("
	    "'type', 'dashcgi', 'spec', jsonb_build_object('project', s.project,"
	    " 'sli', i ->> 'id', 'count', 'good'))),"
	    " 'total', jsonb_build_object('metricSource', jsonb_build_object("
	    "'type', 'dashcgi', 'spec', jsonb_build_object('project', s.project,"
	    " 'sli', i ->> 'id', 'count', 'good+bad')))))),"
	    " 'timeWindow', jsonb_build_array(CASE s.slo_window"
	    " WHEN 'calendar-month' THEN jsonb_build_object('duration', '1M',"
	    " 'isRolling', false, 'calendar', jsonb_build_object('startTime',"
	    " '2024-01-01 00:00:00', 'timeZone', 'UTC'))"
	    " WHEN 'calendar-week' THEN jsonb_build_object('duration', '1w',"
	    " 'isRolling', false, 'calendar', jsonb_build_object('startTime',"
	    " '2024-01-01 00:00:00', 'timeZone', 'UTC'))"
	    " ELSE jsonb_build_object('duration', s.slo_window,"
	    " 'isRolling', true) END),"
	    " 'budgetingMethod', 'Occurrences',"
	    " 'objectives', jsonb_build_array(jsonb_build_object("
	    "'displayName', coalesce(s.spec -> 'display' ->> 'name', s.name),"
	    " 'target', s.spec -> 'target'))))::text,"
	    " jsonb_array_length(s.spec -> 'indicators')"
	    " FROM slo s, LATERAL (SELECT s.spec -> 'indicators' -> 0 AS i) x"
	    " WHERE s.project = $1::text AND s.name = $2::text", 2 },
	/* The ids of $2 that are not SLIs of the project, in order. */
	[SL_UNKNOWN] = { "slo_unknown_slis",
	    "SELECT array_to_string(array_agg(x ORDER BY x), ', ')"
	    " FROM unnest($2::text[]) x WHERE NOT EXISTS (SELECT 1 FROM sli"
	    " WHERE project = $1::text AND id = x)", 2 },
};
static const struct stmt_set slo_stmts = { "slo", defs, SL__COUNT };

/* ------------------------------------------------------------------ */
/* Small helpers */

/* slo.resolution in whole seconds, as text for $n. */
static const char *
res_text(struct req *r)
{
	return arena_printf(r->arena, "%lld",
	    (long long)(r->cfg->slo.resolution / 1000));
}

static void
slo_not_found(struct req *r, const char *project, const char *name)
{
	http_error(r, 404, "not_found", "SLO \"%s\" not found in project "
	    "\"%s\"", name, project);
}

/* An SLI id: [a-z0-9-]{1,75}. */
static int
sli_id_valid(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return 0;
	return n >= 1 && n <= 75;
}

/*
 * If-Match: "N", W/"N", N or "*".  1 with the version in buf, 0 when
 * absent or "*", -1 after answering 400.
 */
static int
if_match_version(struct req *r, char *buf, size_t len)
{
	const char	*h = FCGX_GetParam("HTTP_IF_MATCH", r->fcgi->envp);
	const char	*s;
	char		*end;
	long		 v;

	if (h == NULL)
		return 0;
	for (s = h; *s == ' ' || *s == '\t'; s++)
		;
	if (strcmp(s, "*") == 0)
		return 0;
	if (strncmp(s, "W/", 2) == 0)
		s += 2;
	if (*s == '"')
		s++;
	v = isdigit((unsigned char)*s) ? strtol(s, &end, 10) : -1;
	if (v < 0 || v > 0x7fffffffL || (*end != '\0' &&
	    strcmp(end, "\"") != 0)) {
		http_error(r, 400, "bad_request", "If-Match: expected one SLO "
		    "version such as \"3\", got \"%.64s\"", h);
		return -1;
	}
	snprintf(buf, len, "%ld", v);
	return 1;
}

/*
 * The project of a seed path: ?project=, else slo.default_project;
 * the caller needs a role in it (viewer at least).  NULL after
 * answering 400, 404 or the database error.
 */
static const char *
seed_project(struct req *r)
{
	const char	*p[2];
	PGresult	*res;
	int		 rc;

	p[0] = http_query(r, "project");
	if (p[0] == NULL)
		p[0] = r->cfg->slo.default_project;
	if (!validate_name(p[0])) {
		http_error(r, 400, "bad_request", "project: \"%.80s\" is not a "
		    "project name", p[0]);
		return NULL;
	}
	p[1] = r->actor;
	if ((res = api_run(r, &slo_stmts, SL_ROLE, 2, p)) == NULL)
		return NULL;
	rc = authz_decide(r, p[0], api_val_bool(res, 0), api_val(res, 1));
	PQclear(res);
	return rc == 0 ? p[0] : NULL;
}

/* ?days=: 1 to DAYS_MAX, default 28.  The text, or NULL after 400. */
static const char *
days_param(struct req *r, const char *s)
{
	char	*end;
	long	 d;

	if (s == NULL)
		return "28";
	d = (*s >= '0' && *s <= '9') ? strtol(s, &end, 10) : -1;
	if (d < 1 || d > DAYS_MAX || *end != '\0') {
		http_error(r, 400, "bad_request", "days: must be an integer "
		    "from 1 to %d, got \"%.32s\"", DAYS_MAX, s);
		return NULL;
	}
	return s;
}

/* ?step=: the resolution (raw points) or 1h (roll-ups).  "t"/"f", NULL. */
static const char *
step_param(struct req *r)
{
	const char	*s = http_query(r, "step");

	if (s == NULL || strcmp(s, "raw") == 0)
		return "f";
	if (strcmp(s, "1h") == 0)
		return "t";
	http_error(r, 400, "bad_request", "step: \"1h\" (hourly sums) or "
	    "\"raw\" (points at slo.resolution), got \"%.32s\"", s);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* SLO documents */

/* An SLO document as checked; strings borrowed from r->json. */
struct slo_in {
	const char		*name;
	const char		*spec;		/* serialised */
	long			 version;	/* metadata.version, -1 absent */
	const char		*project;	/* metadata.project, NULL absent */
	int64_t			 md_version;
	struct json_object	*spec_obj;
	struct json_object	*target;	/* spec.target */
	struct json_object	*indicators;	/* spec.indicators */
	/* An OpenSLO document's parts (openslo_parse()). */
	struct json_object	*os_md, *os_spec, *os_ann;
	const char		*os_version;	/* dashcgi/version */
};

/*
 * The native document, one table per object.  What a table cannot say
 * is in spec_rules() and name_rule(): the target is a number in (0, 1),
 * an SLI is listed once, a PUT cannot rename.
 */
static const char *const slo_kind[] = { "SLO", NULL };
static const char *const slo_windows[] = { "7d", "28d", "30d",
	"calendar-month", "calendar-week", NULL };

static const struct api_field display_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT },
	{ .name = "description", .type = API_STRING,
	  .flags = API_NULL_ABSENT },
};
static const struct api_body display_body = { API_FIELDS(display_fields),
	"a display has name and description", NULL };

#define SLO_DISPLAY \
	{ .name = "display", .type = API_OBJECT, .flags = API_NULL_ABSENT, \
	  .body = &display_body, \
	  .expect = "must be an object with name and description" }

static const struct api_field indicator_fields[] = {
	{ .name = "id", .type = API_STRING, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .check = sli_id_valid,
	  .rule = "an SLI id (1-75 characters of [a-z0-9-])" },
	SLO_DISPLAY,
};
static const struct api_body indicator_body = {
	API_FIELDS(indicator_fields), "an indicator has id and display", NULL };
static const struct api_field indicator = { .type = API_OBJECT,
	.body = &indicator_body, .expect = "must be an object with id and "
	"display" };

#define SLO_TEXT(n) \
	{ .name = (n), .type = API_STRING, .flags = API_REQUIRED | \
	  API_NULL_ABSENT, .min = 1, .max = NAME_TEXT_MAX }

static const struct api_field spec_fields[] = {
	SLO_TEXT("experience"),
	SLO_TEXT("journey"),
	SLO_DISPLAY,
	{ .name = "owner", .type = API_STRING, .flags = API_NULL_ABSENT },
	{ .name = "description", .type = API_STRING,
	  .flags = API_NULL_ABSENT },
	{ .name = "target", .type = API_ANY, .flags = API_REQUIRED,
	  .at = API_AT(struct slo_in, target),
	  .expect = "a number in (0, 1) such as 0.999" },
	{ .name = "window", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = slo_windows },
	{ .name = "indicators", .type = API_ARRAY, .flags = API_REQUIRED,
	  .min = 1, .max = SLI_MAX, .elem = &indicator,
	  .at = API_AT(struct slo_in, indicators),
	  .expect = "must be an array of 1 to 32 SLIs ({\"id\", "
	  "\"display\"})" },
};
static const struct api_body spec_body = { API_FIELDS(spec_fields),
	"an SLO spec has experience, journey, display, target, window, "
	"owner, description and indicators", NULL };

static const struct api_field metadata_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .check = validate_name, .rule = API_NAME_RULE,
	  .at = API_AT(struct slo_in, name) },
	{ .name = "project", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct slo_in, project) },
	{ .name = "version", .type = API_INT, .flags = API_NULL_ABSENT,
	  .max = 0x7fffffff, .at = API_AT(struct slo_in, md_version) },
	{ .name = "createdAt", .type = API_ANY },
	{ .name = "updatedAt", .type = API_ANY },
};
static const struct api_body metadata_body = { API_FIELDS(metadata_fields),
	"SLO metadata has name, project and version", NULL };

static const struct api_field slo_fields[] = {
	{ .name = "kind", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = slo_kind },
	{ .name = "metadata", .type = API_OBJECT, .flags = API_REQUIRED,
	  .body = &metadata_body, .expect = "must be an object with name" },
	{ .name = "spec", .type = API_OBJECT, .flags = API_REQUIRED,
	  .body = &spec_body, .at = API_AT(struct slo_in, spec_obj),
	  .expect = "must be an object with experience, journey, target, "
	  "window and indicators" },
};
static const struct api_body slo_body = { API_FIELDS(slo_fields),
	"an SLO has kind, metadata and spec", "the body must be an SLO "
	"document: {\"kind\":\"SLO\",\"metadata\":{…},\"spec\":{…}}" };

/* After spec_body: the target, and each SLI once.  0, or -1 (400). */
static int
spec_rules(struct req *r, const struct slo_in *in)
{
	struct json_object	*v = in->target;
	const char		*a, *b;
	double			 t;
	size_t			 i, j, n;

	if (!(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)) ||
	    !((t = json_object_get_double(v)) > 0 && t < 1)) {
		api_invalid(r, "spec.target: must be a number in (0, 1) such "
		    "as 0.999, got %s", json_object_to_json_string(v));
		return -1;
	}
	n = json_object_array_length(in->indicators);
	for (i = 1; i < n; i++) {
		a = json_object_get_string(json_object_object_get(
		    json_object_array_get_idx(in->indicators, i), "id"));
		for (j = 0; j < i; j++) {
			b = json_object_get_string(json_object_object_get(
			    json_object_array_get_idx(in->indicators, j),
			    "id"));
			if (strcmp(a, b) == 0) {
				api_invalid(r, "spec.indicators[%zu].id: \"%s\" "
				    "is listed twice", i, a);
				return -1;
			}
		}
	}
	return 0;
}

/* spec (native, or made from an OpenSLO document) into in.  0 or -1. */
static int
spec_check(struct req *r, struct json_object *spec, struct slo_in *in)
{
	if (api_object(r, spec, &spec_body, in, "spec") == -1)
		return -1;
	return spec_rules(r, in);
}

/*
 * metadata.name (in->name, NULL absent): required on POST, on PUT the
 * {name} of the path (an SLO cannot be renamed).  0, or -1 after
 * answering 400.
 */
static int
name_rule(struct req *r, const char *path_name, struct slo_in *in)
{
	if (path_name != NULL && in->name != NULL &&
	    strcmp(in->name, path_name) != 0) {
		api_invalid(r, "metadata.name: \"%.80s\" differs from the SLO "
		    "in the path (\"%s\"); an SLO cannot be renamed", in->name,
		    path_name);
		return -1;
	}
	if (path_name != NULL)
		in->name = path_name;
	else if (in->name == NULL) {
		api_invalid(r, "metadata.name: required, " API_NAME_RULE);
		return -1;
	} else if (!validate_name(in->name)) {
		api_invalid(r, "metadata.name: \"%.80s\" is not " API_NAME_RULE,
		    in->name);
		return -1;
	}
	return 0;
}

/*
 * The body of POST and PUT: {"kind":"SLO","metadata":{"name",
 * "project","version"},"spec":{…}}.  path_name is the {name} of a PUT.
 * 0, or -1 after answering 400.
 */
static int
slo_parse(struct req *r, const char *project, const char *path_name,
    struct slo_in *in)
{
	memset(in, 0, sizeof(*in));
	in->md_version = -1;
	if (api_body(r, &slo_body, in) == -1 ||
	    name_rule(r, path_name, in) == -1)
		return -1;
	if (in->project != NULL && strcmp(in->project, project) != 0) {
		api_invalid(r, "metadata.project: \"%.80s\" differs from the "
		    "project in the path (\"%s\")", in->project, project);
		return -1;
	}
	if (spec_rules(r, in) == -1)
		return -1;
	in->version = (long)in->md_version;
	in->spec = json_object_to_json_string_ext(in->spec_obj,
	    JSON_C_TO_STRING_PLAIN);
	return 0;
}

/* ------------------------------------------------------------------ */
/* OpenSLO v1 (SPEC §8): an SLO with one inline ratio SLI, in JSON */

/*
 * What OpenSLO has no field for travels in annotations: an export
 * writes them and an import reads them back (an SLO from another tool
 * has none: its experience is then its service, spec.service).
 */
#define OS_EXPERIENCE	"dashcgi/experience"
#define OS_OWNER	"dashcgi/owner"
#define OS_VERSION	"dashcgi/version"

/* OpenSLO durations and the windows they are (a calendar one starts
 * on a Monday or on the 1st, 00:00 UTC). */
static const struct os_window {
	const char	*duration;
	int		 rolling;
	const char	*window;
} os_windows[] = {
	{ "7d", 1, "7d" }, { "1w", 1, "7d" }, { "28d", 1, "28d" },
	{ "4w", 1, "28d" }, { "30d", 1, "30d" },
	{ "1w", 0, "calendar-week" }, { "7d", 0, "calendar-week" },
	{ "1M", 0, "calendar-month" },
};

/* ?format=: 1 openslo, 0 the native document, -1 after answering 400. */
static int
format_param(struct req *r)
{
	const char	*s = http_query(r, "format");

	if (s == NULL || strcmp(s, "native") == 0)
		return 0;
	if (strcmp(s, "openslo") == 0)
		return 1;
	http_error(r, 400, "bad_request", "format: \"openslo\" (an OpenSLO "
	    "v1 SLO) or \"native\", got \"%.32s\"", s);
	return -1;
}

/*
 * Member key of o as an object in *out.  1, 0 when absent or null
 * (400 when required), -1 after answering 400.
 */
static int
os_object(struct req *r, struct json_object *o, const char *key,
    const char *path, int required, struct json_object **out)
{
	struct json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		api_invalid(r, "%s: required, an object", path);
		return -1;
	}
	if (!json_object_is_type(v, json_type_object)) {
		api_invalid(r, "%s: must be an object", path);
		return -1;
	}
	*out = v;
	return 1;
}

/* Refuse members of o that dashcgi cannot honour: -1 after 400. */
static int
os_refuse(struct req *r, struct json_object *o, const char *prefix,
    const char *const *keys, const char *why)
{
	size_t	 i;

	for (i = 0; keys[i] != NULL; i++)
		if (json_object_object_get_ex(o, keys[i], NULL)) {
			api_invalid(r, "%s%s: %s", prefix, keys[i], why);
			return -1;
		}
	return 0;
}

/*
 * "YYYY-MM-DD HH:MM:SS" (OpenSLO's calendar.startTime) at 00:00:00 on
 * a Monday (week) or on the 1st (month): the start of a UTC period.
 */
static int
os_period_start(const char *s, int week)
{
	static const int t[] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };
	int	 y, m, d, n = 0;

	if (sscanf(s, "%4d-%2d-%2d 00:00:00%n", &y, &m, &d, &n) != 3 ||
	    n != 19 || s[n] != '\0' || m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	if (!week)
		return d == 1;
	y -= m < 3;	/* Sakamoto: 1 is Monday */
	return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7 == 1;
}

/* spec.timeWindow: one window dashcgi has.  Its name, or NULL (400). */
static const char *
os_time_window(struct req *r, struct json_object *spec)
{
	static const char *const keys[] = { "duration", "isRolling",
	    "calendar", NULL };
	static const char *const ckeys[] = { "startTime", "timeZone", NULL };
	struct json_object	*a, *w, *cal, *v;
	const char		*dur, *s;
	size_t			 i;
	int			 rolling, rc;

	if (!json_object_object_get_ex(spec, "timeWindow", &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != 1 ||
	    !json_object_is_type(w = json_object_array_get_idx(a, 0),
	    json_type_object)) {
		api_invalid(r, "spec.timeWindow: required, an array of one "
		    "window ({\"duration\",\"isRolling\",\"calendar\"})");
		return NULL;
	}
	if (api_only_members(r, w, "spec.timeWindow[0].", keys, "a time "
	    "window has duration, isRolling and calendar") == -1 ||
	    (rc = api_str_member(r, w, "duration",
	    "spec.timeWindow[0].duration", API_NULL_ABSENT, &dur)) == -1 ||
	    os_object(r, w, "calendar", "spec.timeWindow[0].calendar", 0,
	    &cal) == -1)
		return NULL;
	rolling = cal == NULL;
	if (json_object_object_get_ex(w, "isRolling", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			api_invalid(r, "spec.timeWindow[0].isRolling: must be "
			    "true or false");
			return NULL;
		}
		rolling = json_object_get_boolean(v);
	}
	for (i = 0; rc == 1 && i < sizeof(os_windows) /
	    sizeof(os_windows[0]); i++)
		if (strcmp(dur, os_windows[i].duration) == 0 &&
		    rolling == os_windows[i].rolling)
			break;
	if (rc == 0 || i == sizeof(os_windows) / sizeof(os_windows[0])) {
		api_invalid(r, "spec.timeWindow[0].duration: a rolling window "
		    "of 7d (1w), 28d (4w) or 30d, or a calendar window of 1w "
		    "or 1M; got \"%.32s\" (%s)", dur != NULL ? dur : "",
		    rolling ? "rolling" : "calendar");
		return NULL;
	}
	if (rolling && cal != NULL) {
		api_invalid(r, "spec.timeWindow[0].calendar: a rolling window "
		    "has no calendar");
		return NULL;
	}
	if (cal == NULL)
		return os_windows[i].window;
	if (api_only_members(r, cal, "spec.timeWindow[0].calendar.", ckeys,
	    "a calendar has startTime and timeZone") == -1 ||
	    (rc = api_str_member(r, cal, "timeZone",
	    "spec.timeWindow[0].calendar.timeZone", API_NULL_ABSENT,
	    &s)) == -1)
		return NULL;
	if (rc == 1 && strcmp(s, "UTC") != 0 && strcmp(s, "Etc/UTC") != 0) {
		api_invalid(r, "spec.timeWindow[0].calendar.timeZone: dashcgi's "
		    "calendar windows are UTC, got \"%.64s\"", s);
		return NULL;
	}
	if ((rc = api_str_member(r, cal, "startTime",
	    "spec.timeWindow[0].calendar.startTime", API_NULL_ABSENT,
	    &s)) == -1)
		return NULL;
	if (rc == 1 && !os_period_start(s, os_windows[i].window[9] == 'w')) {
		api_invalid(r, "spec.timeWindow[0].calendar.startTime: a "
		    "%s starts at \"YYYY-MM-DD 00:00:00\" on a %s, got "
		    "\"%.32s\"", os_windows[i].window, os_windows[i].window[9]
		    == 'w' ? "Monday" : "month's 1st", s);
		return NULL;
	}
	return os_windows[i].window;
}

/*
 * spec.indicator: an inline ratio SLI.  Adds indicators[] to out.
 * The metric sources are not read: points come through sli-points.
 */
static int
os_indicator(struct req *r, struct json_object *spec, struct json_object *out)
{
	static const char *const other[] = { "thresholdMetric", "rawMetric",
	    NULL };
	static const char *const raw[] = { "raw", "rawType", NULL };
	struct json_object	*ind, *md, *sp, *ratio, *good, *bad, *total;
	struct json_object	*e, *d;
	const char		*id, *dn;
	int			 rc;

	if (json_object_object_get_ex(spec, "indicatorRef", NULL)) {
		api_invalid(r, "spec.indicatorRef: inline the SLI in "
		    "spec.indicator (dashcgi keeps an SLO's SLIs with it)");
		return -1;
	}
	if (os_object(r, spec, "indicator", "spec.indicator", 1, &ind) == -1 ||
	    os_object(r, ind, "metadata", "spec.indicator.metadata", 1,
	    &md) == -1 ||
	    (rc = api_str_member(r, md, "name", "spec.indicator.metadata.name",
	    API_NULL_ABSENT, &id)) == -1)
		return -1;
	if (rc == 0 || !sli_id_valid(id)) {
		api_invalid(r, "spec.indicator.metadata.name: required, an SLI "
		    "id of 1-75 characters of [a-z0-9-], got \"%.80s\"",
		    id != NULL ? id : "");
		return -1;
	}
	if (api_str_member(r, md, "displayName",
	    "spec.indicator.metadata.displayName", API_NULL_ABSENT,
	    &dn) == -1 ||
	    os_object(r, ind, "spec", "spec.indicator.spec", 1, &sp) == -1 ||
	    os_refuse(r, sp, "spec.indicator.spec.", other, "only a ratio "
	    "SLI (ratioMetric with good or bad, and total) can be imported: "
	    "dashcgi stores counts of good and bad events, not raw metrics") ==
	    -1 ||
	    os_object(r, sp, "ratioMetric", "spec.indicator.spec.ratioMetric",
	    1, &ratio) == -1 ||
	    os_refuse(r, ratio, "spec.indicator.spec.ratioMetric.", raw,
	    "a raw ratio cannot be imported: dashcgi needs counts (good or "
	    "bad, and total)") == -1 ||
	    os_object(r, ratio, "good", "spec.indicator.spec.ratioMetric.good",
	    0, &good) == -1 ||
	    os_object(r, ratio, "bad", "spec.indicator.spec.ratioMetric.bad",
	    0, &bad) == -1 ||
	    os_object(r, ratio, "total",
	    "spec.indicator.spec.ratioMetric.total", 1, &total) == -1)
		return -1;
	if ((good == NULL) == (bad == NULL)) {
		api_invalid(r, "spec.indicator.spec.ratioMetric.good: a ratio "
		    "SLI counts good or bad events (one of them) against "
		    "total");
		return -1;
	}
	e = json_object_new_object();
	json_object_object_add(e, "id", json_object_new_string(id));
	d = json_object_new_object();
	if (dn != NULL)
		json_object_object_add(d, "name", json_object_new_string(dn));
	json_object_object_add(e, "display", d);
	d = json_object_new_array();
	json_object_array_add(d, e);
	json_object_object_add(out, "indicators", d);
	return 0;
}

/* objectives: one target (or targetPercent).  Adds target to out. */
static int
os_objective(struct req *r, struct json_object *spec, struct json_object *out)
{
	static const char *const no[] = { "op", "value", "indicator",
	    "indicatorRef", "compositeWeight", NULL };
	struct json_object	*a, *o, *v = NULL;
	double			 t;
	int			 pct = 0;

	if (!json_object_object_get_ex(spec, "objectives", &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != 1 ||
	    !json_object_is_type(o = json_object_array_get_idx(a, 0),
	    json_type_object)) {
		api_invalid(r, "spec.objectives: required, an array of one "
		    "objective ({\"target\": 0.999})");
		return -1;
	}
	if (os_refuse(r, o, "spec.objectives[0].", no, "a threshold or "
	    "composite objective cannot be imported; give target only") == -1)
		return -1;
	if (!json_object_object_get_ex(o, "target", &v) &&
	    json_object_object_get_ex(o, "targetPercent", &v))
		pct = 1;
	if (v == NULL || !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)) ||
	    !((t = json_object_get_double(v) / (pct ? 100 : 1)) > 0 &&
	    t < 1)) {
		api_invalid(r, "spec.objectives[0].%s: required, a number in "
		    "%s, got %s", pct ? "targetPercent" : "target", pct ?
		    "(0, 100)" : "(0, 1) such as 0.999",
		    v != NULL ? json_object_to_json_string(v) : "nothing");
		return -1;
	}
	/* The number as written, not as a double prints. */
	json_object_object_add(out, "target", pct ?
	    json_object_new_double_s(t, arena_printf(r->arena, "%.12g", t)) :
	    json_object_get(v));
	return 0;
}

/* An OpenSLO v1 SLO: what openslo_parse() reads of it, by table. */
static const char *const os_api[] = { "openslo/v1", NULL };
static const char *const os_budgeting[] = { "Occurrences", NULL };

static const struct api_field os_ann_fields[] = {
	{ .name = OS_EXPERIENCE, .type = API_STRING, .flags = API_NULL_ABSENT,
	  .min = 1, .max = NAME_TEXT_MAX },
	{ .name = OS_OWNER, .type = API_STRING, .flags = API_NULL_ABSENT },
	{ .name = OS_VERSION, .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct slo_in, os_version) },
};
static const struct api_body os_ann_body = { API_FIELDS(os_ann_fields),
	NULL, NULL };

static const struct api_field os_md_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct slo_in, name) },
	{ .name = "displayName", .type = API_STRING,
	  .flags = API_NULL_ABSENT },
	{ .name = "annotations", .type = API_OBJECT, .flags = API_NULL_ABSENT,
	  .body = &os_ann_body, .at = API_AT(struct slo_in, os_ann) },
};
static const struct api_body os_md_body = { API_FIELDS(os_md_fields), NULL,
	NULL };

static const struct api_field os_spec_fields[] = {
	SLO_TEXT("service"),
	{ .name = "description", .type = API_STRING,
	  .flags = API_NULL_ABSENT },
	{ .name = "budgetingMethod", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = os_budgeting,
	  .expect = "must be \"Occurrences\" (dashcgi budgets events, not "
	  "time slices)" },
};
static const struct api_body os_spec_body = { API_FIELDS(os_spec_fields),
	NULL, NULL };

static const struct api_field os_fields[] = {
	{ .name = "apiVersion", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = os_api },
	{ .name = "kind", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = slo_kind,
	  .expect = "must be \"SLO\" (an SLI or a Service is not imported on "
	  "its own)" },
	{ .name = "metadata", .type = API_OBJECT, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .body = &os_md_body,
	  .at = API_AT(struct slo_in, os_md) },
	{ .name = "spec", .type = API_OBJECT, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .body = &os_spec_body,
	  .at = API_AT(struct slo_in, os_spec) },
};
static const struct api_body os_body = { API_FIELDS(os_fields),
	"an OpenSLO document has apiVersion, kind, metadata and spec",
	"the body must be an OpenSLO v1 SLO: {\"apiVersion\":\"openslo/v1\","
	"\"kind\":\"SLO\",\"metadata\":{…},\"spec\":{…}}" };

/*
 * The body of POST and PUT with ?format=openslo: an OpenSLO v1 SLO
 * made into the native spec (in->spec, in the arena), which
 * spec_check() then checks as it checks a native one.  The version a
 * PUT replaces may come as the dashcgi/version annotation.  0, or -1
 * after answering 400.
 */
static int
openslo_parse(struct req *r, const char *project, const char *path_name,
    struct slo_in *in)
{
	struct json_object	*md, *sp, *ann, *out, *d;
	const char		*win, *ver;
	char			*end;
	int			 ok = -1;

	memset(in, 0, sizeof(*in));
	in->version = -1;
	if (api_body(r, &os_body, in) == -1 ||
	    name_rule(r, path_name, in) == -1)
		return -1;
	md = in->os_md;
	sp = in->os_spec;
	ann = in->os_ann;
	if ((ver = in->os_version) != NULL) {
		in->version = isdigit((unsigned char)*ver) ?
		    strtol(ver, &end, 10) : -1;
		if (in->version < 0 || in->version > 0x7fffffffL ||
		    *end != '\0') {
			api_invalid(r, "metadata.annotations." OS_VERSION ": "
			    "the SLO version this document replaces, such as "
			    "\"3\"; got \"%.32s\"", ver);
			return -1;
		}
	}
	if ((win = os_time_window(r, sp)) == NULL)
		return -1;
	out = json_object_new_object();
	json_object_object_get_ex(sp, "service", &d);
	json_object_object_add(out, "journey", json_object_get(d));
	if (ann == NULL || !json_object_object_get_ex(ann, OS_EXPERIENCE, &d) ||
	    json_object_is_type(d, json_type_null))
		json_object_object_get_ex(sp, "service", &d);
	json_object_object_add(out, "experience", json_object_get(d));
	if (json_object_object_get_ex(md, "displayName", &d) &&
	    !json_object_is_type(d, json_type_null)) {
		d = json_object_get(d);
		json_object_object_add(out, "display", json_object_new_object());
		json_object_object_add(json_object_object_get(out, "display"),
		    "name", d);
	}
	json_object_object_add(out, "window", json_object_new_string(win));
	if (ann != NULL && json_object_object_get_ex(ann, OS_OWNER, &d) &&
	    !json_object_is_type(d, json_type_null))
		json_object_object_add(out, "owner", json_object_get(d));
	if (json_object_object_get_ex(sp, "description", &d) &&
	    !json_object_is_type(d, json_type_null))
		json_object_object_add(out, "description", json_object_get(d));
	if (os_objective(r, sp, out) == 0 && os_indicator(r, sp, out) == 0 &&
	    spec_check(r, out, in) == 0) {
		in->spec = arena_strdup(r->arena,
		    json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		ok = 0;
	}
	json_object_put(out);
	return ok;
}

static void
api_slos_list(struct req *r)
{
	static const char *const sts[] = { "healthy", "at_risk", "critical",
	    "breached", "no_data", NULL };
	const char	*p[7];
	size_t		 i;

	p[0] = api_param(r, "project");
	p[1] = http_query(r, "experience");
	p[2] = http_query(r, "journey");
	p[3] = http_query(r, "status");
	p[4] = res_text(r);
	for (i = 0; p[3] != NULL && sts[i] != NULL; i++)
		if (strcmp(p[3], sts[i]) == 0)
			break;
	if (p[3] != NULL && sts[i] == NULL) {
		http_error(r, 400, "bad_request", "status: one of healthy, "
		    "at_risk, critical, breached, no_data; got \"%.32s\"", p[3]);
		return;
	}
	p[5] = http_query(r, "cursor");
	api_list(r, &slo_stmts, SL_LIST, 7, p, NULL);
}

static void
api_slo_get(struct req *r)
{
	const char	*p[2];
	PGresult	*res;
	int		 os;

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	if ((os = format_param(r)) == -1 || (res = api_run(r, &slo_stmts,
	    os ? SL_OPENSLO : SL_GET, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		slo_not_found(r, p[0], p[1]);
	else if (os && api_val_long(res, 2) != 1)
		http_error(r, 400, "bad_request", "format: an OpenSLO v1 SLO "
		    "has one SLI; SLO \"%s\" has %ld: export it as the native "
		    "document", p[1], api_val_long(res, 2));
	else {
		http_header(r, "ETag", "\"%ld\"", api_val_long(res, 0));
		api_send_col(r, 200, res, 1);
	}
	PQclear(res);
}

/* 409: an SLI id of the spec belongs to another SLO of the project. */
static void
sli_taken(struct req *r, const PGresult *res, int col)
{
	http_error(r, 409, "conflict", "spec.indicators: SLI \"%s\" belongs "
	    "to SLO \"%s\"; SLI ids are unique in a project",
	    api_val(res, col), api_val(res, col + 1));
}

/* The audit row, then the document with its version as the ETag. */
static void
answer_doc(struct req *r, const char *project, const char *name,
    const PGresult *res, int ver, int doc, int status, long oldv)
{
	struct json_object	*d = json_object_new_object();
	long			 v = api_val_long(res, ver);

	if (oldv >= 0)
		json_object_object_add(d, "oldVersion",
		    json_object_new_int64(oldv));
	if (format_param(r) == 1)
		json_object_object_add(d, "format",
		    json_object_new_string("openslo"));
	json_object_object_add(d, "newVersion", json_object_new_int64(v));
	if (audit_change(r, project, name, v, d) == -1)
		return;
	http_header(r, "ETag", "\"%ld\"", v);
	api_send_col(r, status, res, doc);
}

static void
api_slo_create(struct req *r)
{
	const char	*project = api_param(r, "project"), *p[4];
	struct slo_in	 in;
	PGresult	*res;
	int		 os;

	if ((os = format_param(r)) == -1 || (os ? openslo_parse(r, project,
	    NULL, &in) : slo_parse(r, project, NULL, &in)) == -1)
		return;
	p[0] = project;
	p[1] = in.name;
	p[2] = in.spec;
	p[3] = r->actor;
	if ((res = api_run(r, &slo_stmts, SL_CREATE, 4, p)) == NULL)
		return;
	if (api_val_bool(res, 0))
		http_error(r, 409, "conflict", "SLO \"%s\" already exists in "
		    "project \"%s\"", in.name, project);
	else if (!api_val_null(res, 1))
		sli_taken(r, res, 1);
	else {
		http_header(r, "Location", "/api/v1/projects/%s/slos/%s",
		    project, in.name);
		answer_doc(r, project, in.name, res, 3, 4, 201, -1);
	}
	PQclear(res);
}

static void
api_slo_update(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name"), *p[5];
	char		 want[24];
	struct slo_in	 in;
	PGresult	*res;
	int		 im, os, fail = 0;

	if ((os = format_param(r)) == -1 || (os ? openslo_parse(r, project,
	    name, &in) : slo_parse(r, project, name, &in)) == -1 ||
	    (im = if_match_version(r, want, sizeof(want))) == -1)
		return;
	/*
	 * As for dashboards: If-Match decides (412), else the body's
	 * metadata.version (409); neither is 428; "If-Match: *" is an
	 * explicit last write wins.
	 */
	if (im == 1)
		fail = 412;
	else if (FCGX_GetParam("HTTP_IF_MATCH", r->fcgi->envp) == NULL) {
		if (in.version < 0) {
			http_error(r, 428, "version_required", "updating SLO "
			    "\"%s\" needs the version it replaces: send "
			    "If-Match: \"<version>\" (the ETag of your GET) or "
			    "%s", name, os ? "metadata.annotations."
			    OS_VERSION : "metadata.version");
			return;
		}
		snprintf(want, sizeof(want), "%ld", in.version);
		fail = 409;
	}
	p[0] = project;
	p[1] = name;
	p[2] = fail != 0 ? want : NULL;
	p[3] = in.spec;
	p[4] = r->actor;
	if ((res = api_run(r, &slo_stmts, SL_UPDATE, 5, p)) == NULL)
		return;
	if (api_val_null(res, 0))
		slo_not_found(r, project, name);
	else if (!api_val_null(res, 2))
		sli_taken(r, res, 2);
	else if (api_val_null(res, 1))
		http_error(r, fail, fail == 412 ? "version_mismatch" :
		    "version_conflict", "SLO \"%s\" is at version %ld, not %s: "
		    "someone changed it; fetch it again", name,
		    api_val_long(res, 0), want);
	else
		answer_doc(r, project, name, res, 1, 4, 200,
		    api_val_long(res, 0));
	PQclear(res);
}

static void
api_slo_delete(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name"), *p[3];
	struct json_object *d;
	char		 want[24];
	PGresult	*res;
	int		 im;

	if ((im = if_match_version(r, want, sizeof(want))) == -1)
		return;
	p[0] = project;
	p[1] = name;
	p[2] = im == 1 ? want : NULL;
	if ((res = api_run(r, &slo_stmts, SL_DELETE, 3, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		slo_not_found(r, project, name);
	else if (!api_val_bool(res, 1))
		http_error(r, 412, "version_mismatch", "SLO \"%s\" is at "
		    "version %ld, not %s", name, api_val_long(res, 0), want);
	else {
		d = json_object_new_object();
		json_object_object_add(d, "version",
		    json_object_new_int64(api_val_long(res, 0)));
		if (audit_change(r, project, name, api_val_long(res, 0),
		    d) == 0)
			http_send(r, 204, NULL, NULL, 0);
	}
	PQclear(res);
}

static void
api_slo_status(struct req *r)
{
	const char	*p[3];
	PGresult	*res;

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	p[2] = res_text(r);
	if ((res = api_run(r, &slo_stmts, SL_STATUS, 3, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		slo_not_found(r, p[0], p[1]);
	else
		api_send_col(r, 200, res, 0);
	PQclear(res);
}

static void
api_slo_tree(struct req *r)
{
	const char	*p[2];
	PGresult	*res;

	p[0] = api_param(r, "project");
	p[1] = res_text(r);
	if ((res = api_run(r, &slo_stmts, SL_TREE, 2, p)) == NULL)
		return;
	api_send_col(r, 200, res, 0);
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* Point ingest */

/*
 * The points of one request as parallel SQL array literals (lines,
 * ids, times, good, bad), grown by doubling in the request's arena.
 */
enum { PL_LINE, PL_ID, PL_T, PL_GOOD, PL_BAD, PL__COUNT };
struct points {
	struct arena	*a;
	struct {
		char	*b;
		size_t	 len, cap;
	}		 l[PL__COUNT];
	size_t		 n;
	long long	 step;		/* slo.resolution (s), to align t */
};

/* Append ",s" (or "s" for the first point) to literal k. */
static void
lit_add(struct points *pt, int k, const char *s)
{
	size_t	 n = strlen(s), need = pt->l[k].len + n + 3;
	char	*nb;

	if (need > pt->l[k].cap) {
		pt->l[k].cap = pt->l[k].cap ? pt->l[k].cap * 2 : 4096;
		while (need > pt->l[k].cap)
			pt->l[k].cap *= 2;
		nb = arena_alloc(pt->a, pt->l[k].cap);
		if (pt->l[k].len > 0)
			memcpy(nb, pt->l[k].b, pt->l[k].len);
		pt->l[k].b = nb;
	}
	if (pt->n > 0)
		pt->l[k].b[pt->l[k].len++] = ',';
	memcpy(pt->l[k].b + pt->l[k].len, s, n);
	pt->l[k].len += n;
	pt->l[k].b[pt->l[k].len] = '\0';
}

/* Literal k as an array: "{…}". */
static const char *
lit_array(struct points *pt, int k)
{
	return arena_printf(pt->a, "{%s}", pt->l[k].len ? pt->l[k].b : "");
}

/*
 * RFC 3339: 2026-12-01T10:05:00Z, fraction and offset allowed: the
 * shape (rfc3339_epoch() checks the ranges).
 */
static int
rfc3339_ok(const char *s)
{
	static const char	 shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t			 i;

	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    (shape[i] == 'T' ? (s[i] != 'T' && s[i] != 't' &&
		    s[i] != ' ') : s[i] != shape[i]))
			return 0;
	}
	s += i;
	if (*s == '.') {
		for (s++, i = 0; isdigit((unsigned char)*s); s++, i++)
			;
		if (i == 0 || i > 9)
			return 0;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return 1;
	return (*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ':' &&
	    isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) &&
	    s[6] == '\0';
}

/*
 * The seconds since the epoch of an RFC 3339 time of rfc3339_ok()'s
 * shape, aligned down to step seconds, in *e: C does what PostgreSQL's
 * date parser did per point for a quarter of an ingest's time.  0, or
 * -1 for a field out of range (2026-02-30, 24:00:00, +24:00).
 */
static int
rfc3339_epoch(const char *s, long long step, long long *e)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	long long	 y, mo, d, h, mi, se, off = 0, era, yoe, doy, days, x;
	const char	*z = s + 19;

#define DIG2(p)	(((p)[0] - '0') * 10 + ((p)[1] - '0'))
	y = DIG2(s) * 100 + DIG2(s + 2);
	mo = DIG2(s + 5);
	d = DIG2(s + 8);
	h = DIG2(s + 11);
	mi = DIG2(s + 14);
	se = DIG2(s + 17);
	while (*z == '.' || isdigit((unsigned char)*z))
		z++;
	if (*z == '+' || *z == '-') {
		if (DIG2(z + 1) > 23 || DIG2(z + 4) > 59)
			return -1;
		off = (DIG2(z + 1) * 60 + DIG2(z + 4)) * 60 * (*z == '-' ? -1 : 1);
	}
#undef DIG2
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 &&
	    d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0))) ||
	    h > 23 || mi > 59 || se > 60)
		return -1;
	/* Days from 1970-01-01 of the proleptic Gregorian date (Hinnant). */
	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
	days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
	x = days * 86400 + h * 3600 + mi * 60 + se - off;
	*e = x - ((x % step) + step) % step;
	return 0;
}

/* A count: a JSON integer ≥ 0.  0 with *v, or -1. */
static int
count_of(struct json_object *o, const char *key, long long *v)
{
	struct json_object	*x;

	if (!json_object_object_get_ex(o, key, &x) ||
	    !json_object_is_type(x, json_type_int))
		return -1;
	*v = (long long)json_object_get_int64(x);
	return *v >= 0 && *v < (1LL << 53) ? 0 : -1;
}

/*
 * One point {"sli","t","good","bad"} of line `line`, named by where
 * ("line 3" or "[2]").  0 after adding it, -1 after answering 400.
 */
static int
point_add(struct req *r, struct points *pt, struct json_object *o,
    size_t line, const char *where)
{
	static const char *const keys[] = { "sli", "t", "good", "bad", NULL };
	const char	*id, *t;
	char		 num[32];
	long long	 good, bad, epoch;

	if (!json_object_is_type(o, json_type_object)) {
		api_invalid(r, "%s: a point is an object {\"sli\",\"t\","
		    "\"good\",\"bad\"}", where);
		return -1;
	}
	if (api_only_members(r, o, arena_printf(r->arena, "%s: ", where),
	    keys, "a point has sli, t, good and bad") == -1)
		return -1;
	if ((id = api_json_str(json_object_object_get(o, "sli"))) == NULL ||
	    !sli_id_valid(id)) {
		api_invalid(r, "%s: sli: required, an SLI id of 1-75 "
		    "characters of [a-z0-9-]", where);
		return -1;
	}
	if ((t = api_json_str(json_object_object_get(o, "t"))) == NULL ||
	    !rfc3339_ok(t) || rfc3339_epoch(t, pt->step, &epoch) == -1) {
		api_invalid(r, "%s: t: required, an RFC 3339 time such as "
		    "\"2026-12-01T10:05:00Z\"", where);
		return -1;
	}
	if (count_of(o, "good", &good) == -1 || count_of(o, "bad", &bad) == -1) {
		api_invalid(r, "%s: %s: required, a non-negative integer",
		    where, count_of(o, "good", &good) == -1 ? "good" : "bad");
		return -1;
	}
	snprintf(num, sizeof(num), "%zu", line);
	lit_add(pt, PL_LINE, num);
	lit_add(pt, PL_ID, id);
	snprintf(num, sizeof(num), "%lld", epoch);
	lit_add(pt, PL_T, num);
	snprintf(num, sizeof(num), "%lld", good);
	lit_add(pt, PL_GOOD, num);
	snprintf(num, sizeof(num), "%lld", bad);
	lit_add(pt, PL_BAD, num);
	pt->n++;
	return 0;
}

/* The body: a JSON array, or NDJSON (one point a line).  0 or -1. */
static int
points_read(struct req *r, struct points *pt, int *ndjson)
{
	struct json_object	*o;
	const char		*err;
	char			*s, *e, *line;
	size_t			 i, n, ln;
	int			 rc = 0;

	*ndjson = r->content_type != NULL &&
	    strncasecmp(r->content_type, "application/x-ndjson", 20) == 0;
	if (*ndjson ? http_read_body(r, "application/x-ndjson") == -1 :
	    http_read_json(r) == -1)
		return -1;
	if (!*ndjson) {
		if (!json_object_is_type(r->json, json_type_array)) {
			api_invalid(r, "the body must be a JSON array of points "
			    "{\"sli\",\"t\",\"good\",\"bad\"} (or NDJSON)");
			return -1;
		}
		n = json_object_array_length(r->json);
		for (i = 0; i < n; i++)
			if (point_add(r, pt, json_object_array_get_idx(r->json,
			    i), i + 1, arena_printf(r->arena, "[%zu]", i)) == -1)
				return -1;
		return 0;
	}
	for (s = r->body, ln = 1; rc == 0 && *s != '\0'; s = e, ln++) {
		e = s + strcspn(s, "\n");
		line = arena_strndup(r->arena, s, (size_t)(e - s));
		if (*e == '\n')
			e++;
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if ((o = http_parse_json(r->arena, line, strlen(line),
		    &err)) == NULL) {
			api_invalid(r, "line %zu: invalid JSON: %s", ln, err);
			return -1;
		}
		rc = point_add(r, pt, o, ln, arena_printf(r->arena, "line %zu",
		    ln));
		json_object_put(o);
	}
	return rc;
}

static void
api_sli_points(struct req *r)
{
	struct points	 pt;
	struct json_object *d;
	const char	*project = api_param(r, "project"), *p[7], *why;
	char		 ret[32], *body;
	PGresult	*res;
	int		 nd;

	memset(&pt, 0, sizeof(pt));
	pt.a = r->arena;
	pt.step = r->cfg->slo.resolution / 1000;
	if (pt.step < 1)
		pt.step = 1;
	if (points_read(r, &pt, &nd) == -1)
		return;
	snprintf(ret, sizeof(ret), "%lld", (long long)r->cfg->slo.raw_retention);
	p[0] = project;
	p[1] = lit_array(&pt, PL_LINE);
	p[2] = lit_array(&pt, PL_ID);
	p[3] = lit_array(&pt, PL_T);
	p[4] = lit_array(&pt, PL_GOOD);
	p[5] = lit_array(&pt, PL_BAD);
	p[6] = ret;
	if ((res = api_run(r, &slo_stmts, SL_LOCK, 2, (const char *[]){
	    project, p[2] })) == NULL)
		return;
	PQclear(res);
	if ((res = api_run(r, &slo_stmts, SL_INGEST, 7, p)) == NULL)
		return;
	if (!api_val_null(res, 0)) {
		why = api_val(res, 1);
		api_invalid(r, "%s: %s; nothing was written", nd ?
		    arena_printf(r->arena, "line %s", api_val(res, 0)) :
		    arena_printf(r->arena, "[%ld]", api_val_long(res, 0) - 1),
		    strcmp(why, "unknown") == 0 ? arena_printf(r->arena,
		    "sli \"%s\" is not an SLI of project \"%s\"",
		    api_val(res, 2), project) : strcmp(why, "old") == 0 ?
		    "t: older than slo.raw_retention" :
		    "t: more than a day in the future");
		PQclear(res);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "written",
	    json_object_new_int64(api_val_long(res, 3)));
	if (audit_change(r, project, NULL, AUDIT_NO_VERSION, d) == 0) {
		body = arena_printf(r->arena, "{\"written\":%ld}",
		    api_val_long(res, 3));
		http_send_json(r, 200, body, strlen(body));
	}
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* The seed-compatible API */

static void
api_seed(struct req *r)
{
	const char	*p[2];
	PGresult	*res;

	if ((p[0] = seed_project(r)) == NULL)
		return;
	p[1] = res_text(r);
	if ((res = api_run(r, &slo_stmts, SL_SEED, 2, p)) == NULL)
		return;
	api_send_col(r, 200, res, 0);
	PQclear(res);
}

/*
 * The series answers: C writes each point's JSON from its seconds
 * since the epoch (PostgreSQL formatting the timestamp was most of the
 * statement) into a buffer flushed to the client as it fills, and
 * reads the points in pages of POINTS_CHUNK, so memory stays that of
 * one page whatever the size of the answer.
 */
struct series_out {
	struct req	*r;
	size_t		 n;
	long long	 day;		/* of date, -1: none yet */
	char		 date[32];	/* "YYYY-MM-DD" of day */
	char		 b[16384];
};

static struct series_out *
series_out_new(struct req *r)
{
	struct series_out *o = arena_alloc(r->arena, sizeof(*o));

	o->r = r;
	o->n = 0;
	o->day = -1;
	return o;
}

static void
out_flush(struct series_out *o)
{
	if (o->n > 0)
		FCGX_PutStr(o->b, (int)o->n, o->r->fcgi->out);
	o->n = 0;
}

static void
out_put(struct series_out *o, const char *s, size_t len)
{
	if (o->n + len > sizeof(o->b))
		out_flush(o);
	if (len > sizeof(o->b)) {
		FCGX_PutStr(s, (int)len, o->r->fcgi->out);
		return;
	}
	memcpy(o->b + o->n, s, len);
	o->n += len;
}

/*
 * The date of day d (days since 1970-01-01, proleptic Gregorian) as
 * PostgreSQL writes it in JSON: YYYY-MM-DD (Hinnant's civil_from_days).
 */
static void
out_date(struct series_out *o, long long d)
{
	long long	 era, doe, yoe, y, doy, mp, m, dd;

	d += 719468;
	era = (d >= 0 ? d : d - 146096) / 146097;
	doe = d - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	dd = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(o->date, sizeof(o->date), "%04lld-%02d-%02d", y, (int)m,
	    (int)dd);
	o->day = d - 719468;
}

/* Two digits of v (0-99) at p. */
static char *
put2(char *p, long long v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/*
 * One point {"t":"2026-12-01T10:05:00Z","good":…,"bad":…}, preceded
 * by a comma unless first: the bytes to_json() of the UTC timestamp
 * made (t is whole seconds), good and bad as PostgreSQL wrote them
 * (digits, at most 20).  By hand: snprintf() was most of the cost.
 */
static void
out_point(struct series_out *o, const PGresult *res, int row, int first)
{
	char		 buf[160], *p = buf;
	long long	 t, d, s;
	size_t		 n;

	t = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	d = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	s = t - d * 86400;
	if (d != o->day)
		out_date(o, d);
	if (!first)
		*p++ = ',';
	memcpy(p, "{\"t\":\"", 6);
	p += 6;
	n = strlen(o->date);
	memcpy(p, o->date, n);
	p += n;
	*p++ = 'T';
	p = put2(p, s / 3600);
	*p++ = ':';
	p = put2(p, s / 60 % 60);
	*p++ = ':';
	p = put2(p, s % 60);
	memcpy(p, "Z\",\"good\":", 10);
	p += 10;
	n = (size_t)PQgetlength(res, row, 1);
	memcpy(p, PQgetvalue(res, row, 1), n > 20 ? 20 : n);
	p += n > 20 ? 20 : n;
	memcpy(p, ",\"bad\":", 7);
	p += 7;
	n = (size_t)PQgetlength(res, row, 2);
	memcpy(p, PQgetvalue(res, row, 2), n > 20 ? 20 : n);
	p += n > 20 ? 20 : n;
	*p++ = '}';
	out_put(o, buf, (size_t)(p - buf));
}

/*
 * Run statement i (SL_POINTS, SL_HOURLY) for the page of SLI key from
 * lo: through api_run() while nothing is sent (an error is still a
 * proper answer), else db_run() (a failure cuts the answer short).
 */
static PGresult *
points_page(struct series_out *o, int i, const char *key, long long lo,
    const char *hi, int sent)
{
	const char	*p[4];
	PGresult	*res;

	p[0] = key;
	p[1] = arena_printf(o->r->arena, "%lld", lo);
	p[2] = hi;
	p[3] = POINTS_CHUNK;
	if (!sent)
		return api_run(o->r, &slo_stmts, i, 4, p);
	if ((res = db_run(&slo_stmts, i, 4, p)) != NULL &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		res = NULL;
	}
	if (res == NULL)
		log_error("%s: failed after the first page; answer cut short",
		    slo_stmts.defs[i].name);
	return res;
}

/*
 * The array of one SLI: row `row` of an SL_SERIES result.  *sent: the
 * headers are out (else they go with the first page).  0, or -1 when
 * a statement failed (answered if nothing was sent).
 */
static int
series_array(struct series_out *o, const PGresult *sl, int row,
    int hourly, const char *prefix, int *sent)
{
	const char	*key = PQgetvalue(sl, row, 1);
	const char	*hi = PQgetvalue(sl, row, 4);
	long long	 lo;
	PGresult	*res;
	int		 i, n, first = 1;

	lo = strtoll(PQgetvalue(sl, row, hourly ? 3 : 2), NULL, 10);
	for (;;) {
		if ((res = points_page(o, hourly ? SL_HOURLY : SL_POINTS, key,
		    lo, hi, *sent)) == NULL) {
			out_flush(o);
			return -1;
		}
		if (!*sent) {
			http_begin(o->r, 200, "application/json");
			*sent = 1;
		}
		if (first) {
			out_put(o, prefix, strlen(prefix));
			out_put(o, "[", 1);
		}
		for (i = 0, n = PQntuples(res); i < n; i++, first = 0)
			out_point(o, res, i, first);
		if (n > 0)
			lo = strtoll(PQgetvalue(res, n - 1, 0), NULL, 10) + 1;
		PQclear(res);
		if (n < atoi(POINTS_CHUNK))
			break;
	}
	out_put(o, "]", 1);
	return 0;
}

/*
 * Stream {"id":[…],…} SERIES_SLIS SLIs a statement (keyset by id),
 * each SLI's points a page at a time.  ids: a text[] literal or NULL
 * for all.  The headers go with the first page: an error before it
 * is still a proper answer.
 */
static void
series_stream(struct req *r, const char *project, const char *days,
    const char *hourly, const char *ids)
{
	struct series_out *o;
	const char	*p[6];
	char		*prefix;
	PGresult	*res;
	int		 i, n, sent = 0, nsli = 0;

	o = series_out_new(r);
	p[0] = project;
	p[1] = NULL;
	p[2] = SERIES_SLIS;
	p[3] = days;
	p[4] = res_text(r);
	p[5] = ids;
	for (;;) {
		if (!sent)
			res = api_run(r, &slo_stmts, SL_SERIES, 6, p);
		else if ((res = db_run(&slo_stmts, SL_SERIES, 6, p)) != NULL &&
		    PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			res = NULL;
		}
		if (res == NULL) {
			if (sent) {
				log_error("slo_series: failed after the first "
				    "page; answer cut short");
				out_flush(o);
			}
			return;
		}
		n = PQntuples(res);
		if (n == 0 && !sent) {
			http_begin(r, 200, "application/json");
			sent = 1;
		}
		for (i = 0; i < n; i++, nsli++) {
			prefix = arena_printf(r->arena, "%s\"%s\":", nsli ? ","
			    : "{", PQgetvalue(res, i, 0));
			if (series_array(o, res, i, hourly[0] == 't', prefix,
			    &sent) == -1) {
				PQclear(res);
				out_flush(o);
				return;
			}
		}
		if (n > 0)
			p[1] = arena_strdup(r->arena, PQgetvalue(res, n - 1, 0));
		PQclear(res);
		if (n < atoi(SERIES_SLIS))
			break;
	}
	out_put(o, nsli ? "}" : "{}", nsli ? 1 : 2);
	out_flush(o);
}

static void
api_series(struct req *r)
{
	const char	*project, *days, *hourly;

	if ((days = days_param(r, http_query(r, "days"))) == NULL ||
	    (hourly = step_param(r)) == NULL ||
	    (project = seed_project(r)) == NULL)
		return;
	series_stream(r, project, days, hourly, NULL);
}

static void
api_series_one(struct req *r)
{
	struct series_out *o;
	const char	*p[6], *id = api_param(r, "sliId"), *hourly;
	PGresult	*res;
	int		 sent = 0;

	if ((p[3] = days_param(r, http_query(r, "days"))) == NULL ||
	    (hourly = step_param(r)) == NULL ||
	    (p[0] = seed_project(r)) == NULL)
		return;
	if (!sli_id_valid(id)) {
		http_error(r, 404, "not_found", "SLI \"%.80s\" not found in "
		    "project \"%s\"", id, p[0]);
		return;
	}
	p[1] = NULL;
	p[2] = "1";
	p[4] = res_text(r);
	p[5] = arena_printf(r->arena, "{%s}", id);
	if ((res = api_run(r, &slo_stmts, SL_SERIES, 6, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		http_error(r, 404, "not_found", "SLI \"%s\" not found in "
		    "project \"%s\"", id, p[0]);
	else {
		o = series_out_new(r);
		series_array(o, res, 0, hourly[0] == 't', "", &sent);
		out_flush(o);
	}
	PQclear(res);
}

/* POST /api/series/batch {"sliIds":[…],"days":28,"step":"1h"} */
static void
api_series_batch(struct req *r)
{
	static const char *const keys[] = { "sliIds", "days", "step", NULL };
	struct json_object	*a, *v;
	const char		*project, *days = "28", *hourly = "f", *id, *p[2];
	char			*ids;
	size_t			 i, n, o = 0;
	PGresult		*res;

	if ((project = seed_project(r)) == NULL)
		return;
	if (!json_object_is_type(r->json, json_type_object)) {
		api_invalid(r, "the body must be {\"sliIds\":[…],\"days\":28}");
		return;
	}
	if (api_only_members(r, r->json, "", keys, "the body has sliIds, "
	    "days and step") == -1)
		return;
	if (!json_object_object_get_ex(r->json, "sliIds", &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) == 0 || n > BATCH_IDS_MAX) {
		api_invalid(r, "sliIds: required, an array of 1 to %d SLI ids",
		    BATCH_IDS_MAX);
		return;
	}
	if (json_object_object_get_ex(r->json, "days", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 1 ||
		    json_object_get_int64(v) > DAYS_MAX) {
			api_invalid(r, "days: must be an integer from 1 to %d",
			    DAYS_MAX);
			return;
		}
		days = arena_printf(r->arena, "%lld",
		    (long long)json_object_get_int64(v));
	}
	if (json_object_object_get_ex(r->json, "step", &v)) {
		id = api_json_str(v);
		if (id == NULL || (strcmp(id, "1h") != 0 &&
		    strcmp(id, "raw") != 0)) {
			api_invalid(r, "step: \"1h\" or \"raw\"");
			return;
		}
		hourly = strcmp(id, "1h") == 0 ? "t" : "f";
	}
	ids = arena_alloc(r->arena, n * 77 + 3);
	ids[o++] = '{';
	for (i = 0; i < n; i++) {
		id = api_json_str(json_object_array_get_idx(a, i));
		if (id == NULL || !sli_id_valid(id)) {
			api_invalid(r, "sliIds[%zu]: an SLI id of 1-75 "
			    "characters of [a-z0-9-]", i);
			return;
		}
		o += (size_t)snprintf(ids + o, 78, "%s%s", i ? "," : "", id);
	}
	ids[o++] = '}';
	p[0] = project;
	p[1] = ids;
	if ((res = api_run(r, &slo_stmts, SL_UNKNOWN, 2, p)) == NULL)
		return;
	if (!api_val_null(res, 0)) {
		api_invalid(r, "sliIds: not SLIs of project \"%s\": %s",
		    project, api_val(res, 0));
		PQclear(res);
		return;
	}
	PQclear(res);
	series_stream(r, project, days, hourly, ids);
}

/* The seed's health path: the database answers, or 503. */
static void
api_seed_health(struct req *r)
{
	static const char	 up[] = "{\"status\":\"ok\","
	    "\"database\":\"connected\"}";
	static const char	 down[] = "{\"status\":\"error\","
	    "\"database\":\"disconnected\"}";

	if (db_ready() && db_ping() >= 0)
		http_send_json(r, 200, up, sizeof(up) - 1);
	else
		http_send_json(r, 503, down, sizeof(down) - 1);
}

/* ------------------------------------------------------------------ */
/* The module */

#define ROUTE_SLO	ROUTE_PROJECT "/slos/{name}"

static const struct route routes[] = {
	{ "GET",  ROUTE_PROJECT "/slos", api_slos_list, R_API, ROLE_VIEWER,
	    NULL },
	{ "POST", ROUTE_PROJECT "/slos", api_slo_create, R_API | R_JSON,
	    ROLE_EDITOR, "slo.create" },
	{ "GET",  ROUTE_SLO, api_slo_get, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  ROUTE_SLO, api_slo_update, R_API | R_JSON, ROLE_EDITOR,
	    "slo.update" },
	{ "DELETE", ROUTE_SLO, api_slo_delete, R_API, ROLE_EDITOR,
	    "slo.delete" },
	{ "GET",  ROUTE_SLO "/status", api_slo_status, R_API, ROLE_VIEWER,
	    NULL },
	{ "GET",  ROUTE_PROJECT "/slo-tree", api_slo_tree, R_API, ROLE_VIEWER,
	    NULL },
	/* JSON or NDJSON: the handler reads the body. */
	{ "POST", ROUTE_PROJECT "/sli-points", api_sli_points, R_API,
	    ROLE_EDITOR, "slo.points" },
	/* The seed's paths: the project is ?project=, decided inline. */
	{ "GET",  "/api/seed", api_seed, R_API | R_ROLE_INLINE, ROLE_NONE,
	    NULL },
	{ "GET",  "/api/series", api_series, R_API | R_ROLE_INLINE, ROLE_NONE,
	    NULL },
	{ "GET",  "/api/series/{sliId}", api_series_one, R_API | R_ROLE_INLINE,
	    ROLE_NONE, NULL },
	{ "POST", "/api/series/batch", api_series_batch,
	    R_API | R_JSON | R_ROLE_INLINE, ROLE_NONE, NULL },
	{ "GET",  "/health", api_seed_health, 0, ROLE_NONE, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &slo_stmts, NULL };

static int
p_raw(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", (long long)cfg->slo.raw_retention);
	return 1;
}

static int
p_rollup(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", (long long)cfg->slo.rollup_retention);
	return 1;
}

/*
 * Partitions: back to the raw retention (late points), two months
 * ahead; retention drops whole partitions, never rows.  Each job waits
 * for migration 0008 (maintenance runs every module's jobs, also
 * against a schema that is behind).
 */
static const struct job jobs[] = {
	{ "slo_partitions", "created", "SELECT slo_partitions_ensure("
	  "$1::bigint * interval '1 millisecond', 2)", p_raw, NULL, 8 },
	{ "slo_raw_retention", "dropped_partitions",
	  "SELECT partition_drop_before('sli_point', now() - $1::bigint"
	  " * interval '1 millisecond')", p_raw, NULL, 8 },
	{ "slo_rollup_retention", "dropped_partitions",
	  "SELECT partition_drop_before('sli_hourly', now() - $1::bigint"
	  " * interval '1 millisecond')", p_rollup, NULL, 8 },
	/* The days go with the hours they sum (migration 0023). */
	{ "slo_daily_retention", "dropped_partitions",
	  "SELECT partition_drop_before('sli_daily', now() - $1::bigint"
	  " * interval '1 millisecond')", p_rollup, NULL, 23 },
};

const struct module slo_module = {
	.name = "slo",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = jobs,
	.njobs = sizeof(jobs) / sizeof(jobs[0]),
	.demo = &slo_demo,
};
