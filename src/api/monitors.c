/*
 * monitors.c -- uptime monitors (SPEC §9): Monitor and
 * NotificationChannel documents per project (the channels are the
 * hub's table, hub_channel, since migration 0016: one table, so the
 * incidents a monitor opens reach the channels it lists), raw
 * results, uptime and latency percentiles from the roll-ups, a check
 * run on demand, the status page with its daily bars and the state
 * changes (alerts).  The module descriptor
 * declares the checker process kind (checker.c) and the partition and
 * retention jobs.
 *
 * Owns: the monitors statement table; validation of both documents
 * (every 400 names its field); locking of their updates (If-Match 412,
 * metadata.version 409 when another user changed it, 428 with neither
 * while dashboards.require_version); the channel secrets' write-only
 * rule (a PUT without secret keeps it; a header sent back as null
 * keeps its value).
 * Never: return a channel's secret or header values; build response
 * JSON in C (monitor_doc(), channel_doc(), check_result_doc(),
 * monitor_window_doc() in migration 0009 do); compute a percentile
 * from raw results (the roll-ups' histograms are the one source);
 * decide who may call a route (router.c and authz.c did).
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/common.h"
#include "api/monitors_demo.h"
#include "audit.h"
#include "checker.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "module.h"
#include "validate.h"

#define MAX_CHANNELS	32
#define MAX_HEADERS	32
#define MAX_URL		2048
#define MAX_THRESHOLD	100

/* A text or number SQL expression as JSON text (null when NULL); the
 * text must need no escaping (times, codes). */
#define JSTR(x)	"coalesce('\"' || " x " || '\"', 'null')"
#define JNUM(x)	"coalesce((" x ")::text, 'null')"
/*
 * A day's uptime for the status page's bars, rounded to 6 places in
 * float8 (printed shortest, the same number as numeric's round): 90,000
 * numeric divisions cost more than the rest of the page.
 */
#define BAR_UPTIME \
	"CASE WHEN r.checks > 0 THEN round(r.ok * 1000000::float8 /" \
	" r.checks) / 1000000 END"
/* A timestamp as cursors carry it: exact to the microsecond. */
#define TS_US(x) "to_char((" x ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

enum {
	MN_LIST, MN_GET, MN_CHANNELS_MISSING, MN_CREATE, MN_LOCK, MN_UPDATE,
	MN_DELETE, MN_ID, MN_RESULTS, MN_SPEC, MN_RECORD, MN_UPTIME,
	MN_STATUS, MN_ALERTS,
	CH_LIST, CH_GET, CH_CREATE, CH_LOCK, CH_UPDATE, CH_DELETE,
	MN__COUNT
};

static const struct stmt_def defs[MN__COUNT] = {
	[MN_LIST] = { "monitors_list",
	    "SELECT monitor_doc(m)::text FROM monitor m "
	    "WHERE m.project = $1::text ORDER BY m.name", 1 },
	[MN_GET] = { "monitor_get",
	    "SELECT monitor_doc(m)::text, m.version FROM monitor m "
	    "WHERE m.project = $1::text AND m.name = $2::text", 2 },
	/* $1 project, $2 names: the first that is not a channel, its index. */
	[MN_CHANNELS_MISSING] = { "monitor_channels_missing",
	    "SELECT u.n, u.o - 1 FROM unnest($2::text[]) WITH ORDINALITY"
	    " AS u(n, o) WHERE NOT EXISTS (SELECT 1 FROM"
	    " hub_channel c WHERE c.project = $1::text"
	    " AND c.name = u.n) ORDER BY u.o LIMIT 1", 2 },
	/*
	 * $1 project, $2 name, $3 spec, $4 interval ms, $5 paused,
	 * $6 actor, $7 channel names.  No row: the name is taken.  The
	 * first check is due at once.
	 */
	[MN_CREATE] = { "monitor_create",
	    "WITH m AS (INSERT INTO monitor AS m (project, name, spec, every,"
	    " paused, created_by, updated_by) VALUES ($1::text, $2::text,"
	    " $3::jsonb, $4::bigint * interval '1 millisecond', $5::boolean,"
	    " $6::text, $6::text) ON CONFLICT (project, name) DO NOTHING"
	    " RETURNING m.id, monitor_doc(m)::text AS doc, m.version), "
	    "l AS (INSERT INTO monitor_channel (monitor_id, channel_id)"
	    " SELECT m.id, c.id FROM m, hub_channel c"
	    " WHERE c.project = $1::text AND c.name = ANY ($7::text[])) "
	    "SELECT doc, version FROM m", 7 },
	[MN_LOCK] = { "monitor_lock",
	    "SELECT m.id, m.version, m.updated_by, rfc3339(m.updated_at)"
	    " FROM monitor m WHERE m.project = $1::text AND m.name = $2::text"
	    " FOR UPDATE", 2 },
	/*
	 * $1 id, $2 spec, $3 interval ms, $4 paused, $5 actor,
	 * $6 project, $7 channel names.  A new interval, or a monitor
	 * taken out of pause, is due at once.
	 */
	[MN_UPDATE] = { "monitor_update",
	    "WITH m AS (UPDATE monitor AS m SET spec = $2::jsonb,"
	    " every = $3::bigint * interval '1 millisecond',"
	    " paused = $4::boolean, version = m.version + 1,"
	    " updated_at = now(), updated_by = $5::text,"
	    " next_due = CASE WHEN m.every <> $3::bigint * interval"
	    " '1 millisecond' OR (m.paused AND NOT $4::boolean) THEN now()"
	    " ELSE m.next_due END"
	    " WHERE m.id = $1::bigint"
	    " RETURNING m.id, monitor_doc(m)::text AS doc, m.version), "
	    "d AS (DELETE FROM monitor_channel mc USING m"
	    " WHERE mc.monitor_id = m.id AND mc.channel_id NOT IN"
	    " (SELECT c.id FROM hub_channel c"
	    " WHERE c.project = $6::text AND c.name = ANY ($7::text[]))), "
	    "i AS (INSERT INTO monitor_channel (monitor_id, channel_id)"
	    " SELECT m.id, c.id FROM m, hub_channel c"
	    " WHERE c.project = $6::text AND c.name = ANY ($7::text[])"
	    " ON CONFLICT DO NOTHING) "
	    "SELECT doc, version FROM m", 7 },
	/* Results, roll-ups, alerts and channel links go with it. */
	[MN_DELETE] = { "monitor_delete",
	    "DELETE FROM monitor WHERE id = $1::bigint RETURNING version", 1 },
	[MN_ID] = { "monitor_id",
	    "SELECT id FROM monitor WHERE project = $1::text"
	    " AND name = $2::text", 2 },
	/* $1 id, $2 since, $3 until, $4 cursor, $5 limit; newest first. */
	[MN_RESULTS] = { "monitor_results",
	    "WITH cur AS (SELECT (" CURSOR_DEC("$4::text") ")::timestamptz"
	    " AS k) "
	    "SELECT check_result_doc(c)::text, " TS_US("c.at")
	    " FROM check_result c, cur WHERE c.monitor_id = $1::bigint"
	    " AND ($2::timestamptz IS NULL OR c.at >= $2::timestamptz)"
	    " AND ($3::timestamptz IS NULL OR c.at < $3::timestamptz)"
	    " AND ($4::text IS NULL OR c.at < cur.k)"
	    " ORDER BY c.at DESC LIMIT $5::int", 5 },
	[MN_SPEC] = { "monitor_spec",
	    "SELECT " CHECK_SPEC_COLUMNS " FROM monitor m"
	    " WHERE m.project = $1::text AND m.name = $2::text", 2 },
	[MN_RECORD] = { "monitor_record", CHECK_RECORD_SQL,
	    CHECK_RECORD_NPARAMS },
	/*
	 * $1 project, $2 name.  24h is the last 24 hour roll-ups (this
	 * hour included), 7d/30d/90d the last 7/30/90 day roll-ups (today
	 * included), daily the 90 days oldest first.
	 */
	[MN_UPTIME] = { "monitor_uptime",
	    "WITH m AS (SELECT id FROM monitor WHERE project = $1::text"
	    " AND name = $2::text), "
	    "t AS (SELECT date_trunc('day', now(), 'UTC') AS today,"
	    " date_trunc('hour', now(), 'UTC') AS hour), "
	    "w AS (SELECT k.label, x.* FROM t, (VALUES ('24h', 'hour', 0),"
	    " ('7d', 'day', 6), ('30d', 'day', 29), ('90d', 'day', 89))"
	    " AS k(label, res, back) LEFT JOIN LATERAL monitor_window("
	    " ARRAY(SELECT id FROM m), k.res, CASE k.res WHEN 'hour'"
	    " THEN t.hour - interval '23 hours'"
	    " ELSE t.today - k.back * interval '1 day' END) x ON true), "
	    "d AS (SELECT g AS day, r.* FROM t, generate_series(t.today -"
	    " interval '89 days', t.today, interval '1 day') g"
	    " LEFT JOIN monitor_rollup_day r ON r.monitor_id ="
	    " (SELECT id FROM m) AND r.bucket = g) "
	    "SELECT (SELECT id FROM m) IS NOT NULL,"
	    " ((SELECT jsonb_object_agg(w.label, monitor_window_doc(w.checks,"
	    " w.ok, w.lat_min, w.lat_max, w.hist)) FROM w) ||"
	    " jsonb_build_object('daily', (SELECT jsonb_agg(jsonb_build_object("
	    "'date', to_char(d.day AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
	    " 'checks', coalesce(d.checks, 0),"
	    " 'uptime', CASE WHEN d.checks > 0 THEN"
	    " round(d.ok::numeric / d.checks, 6) END,"
	    " 'p95', monitor_hist_quantile_diff(d.hist::bigint[], NULL, 0.95))"
	    " ORDER BY d.day) FROM d)))::text", 2 },
	/*
	 * $1 project.  Per monitor, three index lookups: the first hour
	 * roll-up of the last 24 hours and the first day roll-ups of the
	 * last 30 and 90 days; a window is the monitor's running totals
	 * less that row's base (migration 0009), so the figures cost the
	 * same with 90 days of roll-ups as with one.  p95 is the middle of
	 * its bucket (not clamped to the window's min and max, which only
	 * a scan of the window would give).  The 90 daily bars per
	 * monitor, oldest first, {"date","uptime"} as the uptime route's
	 * daily (uptime null: no checks that day), read by an index-only
	 * scan of migration 0016's covering index; a monitor missing a day
	 * takes the slower join that leaves it null.  The bars are text:
	 * one format string of the 90 {"date":"…","uptime":%s} made once,
	 * filled per monitor by one format() call, so no 90,000 JSON
	 * objects or strings are built one by one; the whole page is text
	 * too (it is only ever sent).
	 */
	[MN_STATUS] = { "monitor_status_page",
	    "WITH t0 AS (SELECT date_trunc('hour', now(), 'UTC')"
	    " - interval '23 hours' AS h24, date_trunc('day', now(), 'UTC')"
	    " AS today), "
	    "t AS (SELECT t0.*, (SELECT string_agg('{\"date\":\"' || to_char(g"
	    " AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '\",\"uptime\":%s}', ','"
	    " ORDER BY g) FROM generate_series(t0.today - interval '89 days',"
	    " t0.today, interval '1 day') g) AS fmt FROM t0), "
	    "s AS (SELECT m.id, m.name, CASE WHEN m.paused THEN 'paused'"
	    " ELSE m.state END AS st, m.state_since, m.last_check,"
	    " m.total_checks - h.base_checks AS c24,"
	    " m.total_ok - h.base_ok AS o24,"
	    " CASE WHEN h.base_checks IS NOT NULL THEN"
	    " monitor_hist_quantile_diff(m.total_hist, h.base_hist, 0.95) END"
	    " AS p95,"
	    " m.total_checks - d30.base_checks AS c30,"
	    " m.total_ok - d30.base_ok AS o30,"
	    " m.total_checks - d90.base_checks AS c90,"
	    " m.total_ok - d90.base_ok AS o90, b.daily"
	    " FROM t CROSS JOIN monitor m"
	    " LEFT JOIN LATERAL (SELECT r.base_checks, r.base_ok, r.base_hist"
	    " FROM monitor_rollup_hour r WHERE r.monitor_id = m.id"
	    " AND r.bucket >= t.h24 ORDER BY r.bucket LIMIT 1) h ON true"
	    " LEFT JOIN LATERAL (SELECT r.base_checks, r.base_ok"
	    " FROM monitor_rollup_day r WHERE r.monitor_id = m.id"
	    " AND r.bucket >= t.today - interval '29 days'"
	    " ORDER BY r.bucket LIMIT 1) d30 ON true"
	    " LEFT JOIN LATERAL (SELECT r.base_checks, r.base_ok"
	    " FROM monitor_rollup_day r WHERE r.monitor_id = m.id"
	    " AND r.bucket >= t.today - interval '89 days'"
	    " ORDER BY r.bucket LIMIT 1) d90 ON true"
	    " LEFT JOIN LATERAL (SELECT array_agg(" BAR_UPTIME " ORDER BY r.bucket)"
	    " AS daily FROM monitor_rollup_day r WHERE r.monitor_id = m.id"
	    " AND r.bucket >= t.today - interval '89 days'"
	    " AND r.bucket <= t.today) b ON true"
	    " WHERE m.project = $1::text) "
	    /* The page is made as text: no JSON value of 90,000 bars is
	     * built, parsed or printed; names go through to_json. */
	    "SELECT '{\"project\":' || to_json($1::text)::text ||"
	    " ',\"generatedAt\":\"' || rfc3339(now()) || '\",\"summary\":{\"up\":'"
	    " || count(*) FILTER (WHERE s.st = 'up') || ',\"down\":'"
	    " || count(*) FILTER (WHERE s.st = 'down') || ',\"paused\":'"
	    " || count(*) FILTER (WHERE s.st = 'paused') || ',\"pending\":'"
	    " || count(*) FILTER (WHERE s.st = 'pending') || '},\"monitors\":['"
	    " || coalesce(string_agg('{\"name\":' || to_json(s.name)::text"
	    " || ',\"state\":\"' || s.st || '\",\"since\":'"
	    " || " JSTR("rfc3339(s.state_since)") " || ',\"lastCheck\":'"
	    " || " JSTR("rfc3339(s.last_check)") " || ',\"uptime\":{\"24h\":'"
	    " || " JNUM("CASE WHEN s.c24 > 0 THEN round(s.o24::numeric / s.c24, 6) END")
	    " || ',\"30d\":' || "
	    JNUM("CASE WHEN s.c30 > 0 THEN round(s.o30::numeric / s.c30, 6) END")
	    " || ',\"90d\":' || "
	    JNUM("CASE WHEN s.c90 > 0 THEN round(s.o90::numeric / s.c90, 6) END")
	    " || '},\"p95\":' || " JNUM("s.p95") " || ',\"daily\":['"
	    " || format(t.fmt, VARIADIC array_replace((CASE"
	    /* 90 rows of 90 distinct whole days in the range: every day. */
	    " WHEN cardinality(s.daily) = 90 THEN s.daily"
	    " ELSE (SELECT array_agg(" BAR_UPTIME " ORDER BY g.d)"
	    " FROM generate_series(t.today - interval '89 days', t.today,"
	    " interval '1 day') g (d) LEFT JOIN monitor_rollup_day r"
	    " ON r.monitor_id = s.id AND r.bucket = g.d) END)::text[],"
	    " NULL, 'null')) || ']}', ',' ORDER BY s.name), '')"
	    " || ']}' FROM s CROSS JOIN t", 1 },
	/* $1 project, $2 monitor, $3 since, $4 cursor (an id), $5 limit. */
	[MN_ALERTS] = { "monitor_alerts",
	    "WITH cur AS (SELECT (" CURSOR_DEC("$4::text") ")::bigint AS k) "
	    "SELECT alert_doc(a)::text, a.id::text"
	    " FROM alert a, cur WHERE a.project = $1::text"
	    " AND ($2::text IS NULL OR a.monitor = $2::text)"
	    " AND ($3::timestamptz IS NULL OR a.at >= $3::timestamptz)"
	    " AND ($4::text IS NULL OR a.id < cur.k)"
	    " ORDER BY a.id DESC LIMIT $5::int", 5 },

	[CH_LIST] = { "channels_list",
	    "SELECT channel_doc(c)::text FROM hub_channel c "
	    "WHERE c.project = $1::text ORDER BY c.name", 1 },
	[CH_GET] = { "channel_get",
	    "SELECT channel_doc(c)::text, c.version FROM hub_channel c "
	    "WHERE c.project = $1::text AND c.name = $2::text", 2 },
	/*
	 * $1 project, $2 name, $3 type, $4 url, $5 headers, $6 secret,
	 * $7 actor, $8 allIncidents (NULL: false, the channel hears only
	 * of the monitors that list it).  The hub's table (migration 0016).
	 */
	[CH_CREATE] = { "channel_create",
	    "INSERT INTO hub_channel AS c (project, name, type, url,"
	    " headers, secret, all_incidents, created_by, updated_by)"
	    " VALUES ($1::text, $2::text, $3::text, $4::text,"
	    " coalesce($5::jsonb, '{}'), nullif($6::text, ''),"
	    " coalesce($8::boolean, false), $7::text, $7::text)"
	    " ON CONFLICT (project, name) DO NOTHING"
	    " RETURNING channel_doc(c)::text, c.version", 8 },
	[CH_LOCK] = { "channel_lock",
	    "SELECT c.id, c.version, coalesce(c.updated_by, c.created_by),"
	    " rfc3339(c.updated_at) FROM hub_channel c WHERE c.project = $1::text"
	    " AND c.name = $2::text FOR UPDATE", 2 },
	/*
	 * $1 id, $2 type, $3 url, $4 headers (NULL: keep them all; a
	 * member null keeps that header's value), $5 secret (NULL: keep;
	 * "": remove), $6 actor, $7 allIncidents (NULL: keep).
	 */
	[CH_UPDATE] = { "channel_update",
	    "UPDATE hub_channel AS c SET type = $2::text,"
	    " url = $3::text, headers = CASE WHEN $4::jsonb IS NULL"
	    " THEN c.headers ELSE (SELECT coalesce(jsonb_object_agg(h.key,"
	    " CASE WHEN jsonb_typeof(h.value) = 'null' THEN c.headers -> h.key"
	    " ELSE h.value END), '{}') FROM jsonb_each($4::jsonb) h"
	    " WHERE jsonb_typeof(h.value) <> 'null' OR c.headers ? h.key) END,"
	    " secret = CASE WHEN $5::text IS NULL THEN c.secret"
	    " ELSE nullif($5::text, '') END,"
	    " all_incidents = coalesce($7::boolean, c.all_incidents),"
	    " version = c.version + 1, updated_at = now(), updated_by = $6::text"
	    " WHERE c.id = $1::bigint RETURNING channel_doc(c)::text,"
	    " c.version", 7 },
	/* Columns: monitors using it (then nothing deleted), version. */
	[CH_DELETE] = { "channel_delete",
	    "WITH u AS (SELECT string_agg(m.name, ', ' ORDER BY m.name) AS names"
	    " FROM monitor_channel mc JOIN monitor m ON m.id = mc.monitor_id"
	    " WHERE mc.channel_id = $1::bigint), "
	    "d AS (DELETE FROM hub_channel c WHERE c.id = $1::bigint"
	    " AND (SELECT names FROM u) IS NULL RETURNING c.version) "
	    "SELECT (SELECT names FROM u), (SELECT version FROM d)", 1 },
};
static const struct stmt_set monitors_stmts = { "monitors", defs, MN__COUNT };

/* ------------------------------------------------------------------ */
/* Small helpers */

static const char *
header(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}

static void
not_found(struct req *r, const char *what, const char *name)
{
	http_error(r, 404, "not_found", "%s \"%s\" not found in project "
	    "\"%s\"", what, name, api_param(r, "project"));
}

static void
bad_name(struct req *r, const char *field, const char *v)
{
	api_invalid(r, "%s: \"%s\" is not a valid name: 1-75 characters of "
	    "[a-zA-Z0-9_.-], no \"..\", not starting or ending with \".\"",
	    field, v);
}

/*
 * If-Match: 1 with the version, 0 when absent, 2 for "*", -1 after
 * answering 400.
 */
static int
if_match(struct req *r, long *v)
{
	const char	*h = header(r, "HTTP_IF_MATCH");
	char		*end;

	if (h == NULL)
		return 0;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strcmp(h, "*") == 0)
		return 2;
	if (h[0] == 'W' && h[1] == '/')
		h += 2;
	if (*h == '"')
		h++;
	*v = strtol(h, &end, 10);
	if (end == h || *v < 0 || (*end != '"' && *end != '\0')) {
		http_error(r, 400, "bad_request", "If-Match: expected one "
		    "version such as \"3\", got \"%.64s\"", h);
		return -1;
	}
	return 1;
}

/*
 * The lock rule of every document (SPEC §4), against the row a LOCK
 * statement took (id, version, updated_by, updated_at).  bodyv is the
 * body's metadata.version, -1 when absent.  0 to go on, -1 after
 * answering 412, 409 or 428.
 */
static int
version_ok(struct req *r, const char *what, const char *name, long bodyv,
    const PGresult *lock)
{
	struct json_object	*x;
	long			 cur = api_val_long(lock, 1), want;
	int			 im;
	char			 msg[256];

	if ((im = if_match(r, &want)) == -1)
		return -1;
	if (im == 2)
		return 0;
	if (im == 1) {
		if (want == cur)
			return 0;
		x = json_object_new_object();
		json_object_object_add(x, "currentVersion",
		    json_object_new_int64(cur));
		snprintf(msg, sizeof(msg), "%s \"%s\" is at version %ld, not "
		    "%ld: reload and apply your change again", what, name,
		    cur, want);
		http_error_obj(r, 412, "version_mismatch", msg, x);
		return -1;
	}
	if (bodyv >= 0) {
		/* Stale only when someone else wrote since. */
		if (bodyv == cur || strcmp(api_val(lock, 2), r->actor) == 0)
			return 0;
		x = json_object_new_object();
		json_object_object_add(x, "currentVersion",
		    json_object_new_int64(cur));
		json_object_object_add(x, "changedBy",
		    json_object_new_string(api_val(lock, 2)));
		json_object_object_add(x, "changedAt",
		    json_object_new_string(api_val(lock, 3)));
		snprintf(msg, sizeof(msg), "%s \"%s\" was changed by %s at %s "
		    "(version %ld) since your version %ld: reload and apply "
		    "your change again", what, name, api_val(lock, 2),
		    api_val(lock, 3), cur, bodyv);
		http_error_obj(r, 409, "version_conflict", msg, x);
		return -1;
	}
	if (!r->cfg->dashboards.require_version)
		return 0;
	http_error(r, 428, "version_required", "updating %s \"%s\" needs the "
	    "version it replaces: send If-Match: \"<version>\" (the ETag of "
	    "your GET) or metadata.version", what, name);
	return -1;
}

/* One row per element, streamed as a JSON array. */
static void
send_rows(struct req *r, PGresult *res)
{
	int	i, n = PQntuples(res);

	http_begin(r, 200, "application/json");
	FCGX_PutChar('[', r->fcgi->out);
	for (i = 0; i < n; i++) {
		if (i > 0)
			FCGX_PutChar(',', r->fcgi->out);
		FCGX_PutStr(PQgetvalue(res, i, 0), PQgetlength(res, i, 0),
		    r->fcgi->out);
	}
	FCGX_PutChar(']', r->fcgi->out);
}

static void
list(struct req *r, size_t stmt)
{
	const char	*p[1] = { api_param(r, "project") };
	PGresult	*res;

	if ((res = api_run(r, &monitors_stmts, stmt, 1, p)) == NULL)
		return;
	send_rows(r, res);
	PQclear(res);
}

/* A document by a GET statement (doc, version): 200 with its ETag. */
static void
get_doc(struct req *r, size_t stmt, const char *what)
{
	const char	*p[2] = { api_param(r, "project"), api_param(r, "name") };
	PGresult	*res;

	if ((res = api_run(r, &monitors_stmts, stmt, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, what, p[1]);
	else {
		http_header(r, "ETag", "\"%ld\"", api_val_long(res, 1));
		api_send_col(r, 200, res, 0);
	}
	PQclear(res);
}

/* RFC 3339 (as PostgreSQL will read it): 0, or -1 after a 400. */
static int
time_param(struct req *r, const char *key, const char **out)
{
	const char	*s = http_query(r, key), *e;
	struct tm	 tm;

	*out = s;
	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) != NULL) {
		if (*e == '.')
			for (e++; isdigit((unsigned char)*e); e++)
				;
		if (strcmp(e, "Z") == 0 || ((*e == '+' || *e == '-') &&
		    strptime(e + 1, "%H:%M", &tm) != NULL &&
		    strlen(e) == 6))
			return 0;
	}
	http_error(r, 400, "bad_request", "%s: expected an RFC 3339 time "
	    "such as 2026-11-21T10:00:00Z, got \"%.64s\"", key, s);
	return -1;
}

static int
monitor_id(struct req *r, const char *name, char *buf, size_t len)
{
	const char	*p[2] = { api_param(r, "project"), name };
	PGresult	*res;
	int		 rc = -1;

	if ((res = api_run(r, &monitors_stmts, MN_ID, 2, p)) == NULL)
		return -1;
	if (PQntuples(res) == 0)
		not_found(r, "monitor", name);
	else {
		snprintf(buf, len, "%s", api_val(res, 0));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Documents: the common envelope */

struct envelope {
	const char		*name;
	long			 version;	/* -1 absent */
	struct json_object	*spec;
	const char		*kind;		/* NULL absent */
	const char		*project;	/* NULL absent */
	int64_t			 md_version;
};

static const struct api_field envelope_md_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct envelope, name) },
	{ .name = "project", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct envelope, project) },
	{ .name = "version", .type = API_INT, .flags = API_NULL_ABSENT,
	  .max = 0x7fffffff, .at = API_AT(struct envelope, md_version) },
	{ .name = "createdAt", .type = API_ANY },
	{ .name = "updatedAt", .type = API_ANY },
};
static const struct api_body envelope_md_body = {
	API_FIELDS(envelope_md_fields),
	"metadata has name, project and version", NULL };

/* Server-owned members (status) pass, so a GET can be sent back. */
static const struct api_field envelope_fields[] = {
	{ .name = "kind", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct envelope, kind) },
	{ .name = "metadata", .type = API_OBJECT, .flags = API_REQUIRED,
	  .body = &envelope_md_body, .expect = "must be an object with name" },
	{ .name = "spec", .type = API_OBJECT, .flags = API_REQUIRED,
	  .at = API_AT(struct envelope, spec), .expect = "must be an object" },
	{ .name = "status", .type = API_ANY },
};
static const struct api_body envelope_body = { API_FIELDS(envelope_fields),
	"a document has kind, metadata and spec", NULL };

/*
 * {"kind","metadata":{"name","project","version",…},"spec",…}: kind
 * (case-insensitive), the name (from the path on PUT, where a
 * different one is refused), the project (empty: the path's), the
 * version the edit is based on.  Members the server owns are ignored
 * so a GET can be sent back.  0, or -1 after a 400.
 */
static int
envelope_parse(struct req *r, const char *kind, const char *path_name,
    struct envelope *e)
{
	const char	*project = api_param(r, "project");

	memset(e, 0, sizeof(*e));
	e->md_version = -1;
	if (!json_object_is_type(r->json, json_type_object)) {
		api_invalid(r, "the body must be a %s document: a JSON "
		    "object with kind, metadata and spec", kind);
		return -1;
	}
	if (api_body(r, &envelope_body, e) == -1)
		return -1;
	e->version = (long)e->md_version;
	if (e->kind != NULL && strcasecmp(e->kind, kind) != 0) {
		api_invalid(r, "kind: expected \"%s\", got \"%.64s\"", kind,
		    e->kind);
		return -1;
	}
	if (path_name != NULL) {
		if (e->name != NULL && strcmp(e->name, path_name) != 0) {
			api_invalid(r, "metadata.name: \"%s\" differs from "
			    "the name in the path (\"%s\")", e->name,
			    path_name);
			return -1;
		}
		e->name = path_name;
	} else if (e->name == NULL) {
		api_invalid(r, "metadata.name: required");
		return -1;
	} else if (!validate_name(e->name)) {
		bad_name(r, "metadata.name", e->name);
		return -1;
	}
	if (e->project != NULL && *e->project != '\0' &&
	    strcmp(e->project, project) != 0) {
		api_invalid(r, "metadata.project: \"%s\" differs from the "
		    "project in the path (\"%s\")", e->project, project);
		return -1;
	}
	return 0;
}

/* http(s)://host…; 0, or -1 after a 400 naming field. */
static int
check_url(struct req *r, const char *field, const char *url)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL;
	int	 rc = -1;

	if (strlen(url) > MAX_URL) {
		api_invalid(r, "%s: longer than %d characters", field, MAX_URL);
		return -1;
	}
	if ((u = curl_url()) == NULL) {
		http_error(r, 500, "internal_error", "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0))
		api_invalid(r, "%s: \"%.200s\" is not an http:// or https:// "
		    "URL", field, url);
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0')
		api_invalid(r, "%s: \"%.200s\" has no host", field, url);
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/*
 * headers: an object of string values (null allowed when nullok, for
 * "keep the stored value"), names HTTP tokens, values without CR, LF.
 */
static int
check_headers(struct req *r, const char *field, struct json_object *h,
    int nullok)
{
	const char	*c, *val;
	int		 n = 0;

	if (!json_object_is_type(h, json_type_object)) {
		api_invalid(r, "%s: must be an object of header names and "
		    "values", field);
		return -1;
	}
	json_object_object_foreach(h, k, v) {
		if (++n > MAX_HEADERS) {
			api_invalid(r, "%s: at most %d headers", field,
			    MAX_HEADERS);
			return -1;
		}
		if (*k == '\0')
			goto badname;
		for (c = k; *c != '\0'; c++)
			if (!isalnum((unsigned char)*c) &&
			    strchr("!#$%&'*+-.^_`|~", *c) == NULL)
				goto badname;
		if (nullok && json_object_is_type(v, json_type_null))
			continue;
		if ((val = api_json_str(v)) == NULL ||
		    strpbrk(val, "\r\n") != NULL) {
			api_invalid(r, "%s.%s: must be a string without line "
			    "breaks", field, k);
			return -1;
		}
		continue;
badname:
		api_invalid(r, "%s: \"%.64s\" is not a header name", field, k);
		return -1;
	}
	return 0;
}

/* A duration member: 1 set, 0 absent (or "" when emptyok), -1 after a 400. */
static int
duration_member(struct req *r, struct json_object *o, const char *key,
    const char *path, int emptyok, const char **s, int64_t *ms)
{
	int	rc;

	if ((rc = api_str_member(r, o, key, path, API_NULL_ABSENT, s)) != 1)
		return rc;
	if (emptyok && **s == '\0')
		return 0;
	if (config_parse_duration(*s, ms) == -1 || *ms <= 0) {
		api_invalid(r, "%s: \"%.64s\" is not a duration such as "
		    "\"500ms\", \"10s\", \"5m\", \"24h\" or \"14d\"", path, *s);
		return -1;
	}
	return 1;
}

static int
bool_member(struct req *r, struct json_object *o, const char *key,
    const char *path, int def, int *b)
{
	struct json_object	*v;

	*b = def;
	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		api_invalid(r, "%s: must be true or false", path);
		return -1;
	}
	*b = json_object_get_boolean(v);
	return 0;
}

static int
int_member(struct req *r, struct json_object *o, const char *key,
    const char *path, int def, int lo, int hi, int *n)
{
	struct json_object	*v;
	int64_t			 x;

	*n = def;
	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	x = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || x < lo || x > hi) {
		api_invalid(r, "%s: must be an integer from %d to %d", path,
		    lo, hi);
		return -1;
	}
	*n = (int)x;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Monitors */

struct monitor_in {
	struct envelope	 env;
	const char	*spec;		/* normalised, serialised */
	char		 every[24];	/* ms */
	int		 paused;
	const char	*channels;	/* text[] literal */
	struct json_object *norm;	/* owns spec */
};

static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
    "PATCH", "DELETE", "OPTIONS", NULL };

static int
monitor_expect(struct req *r, struct json_object *spec, int64_t timeout,
    struct json_object *out)
{
	static const char *const keys[] = { "status", "bodyContains",
	    "maxLatency", NULL };
	struct json_object	*e = NULL, *st, *v, *arr;
	const char		*s;
	int64_t			 ms;
	size_t			 i, n;
	int			 rc;

	arr = json_object_new_array();
	json_object_object_add(out, "status", arr);
	if (json_object_object_get_ex(spec, "expect", &e) &&
	    !json_object_is_type(e, json_type_null)) {
		if (!json_object_is_type(e, json_type_object)) {
			api_invalid(r, "spec.expect: must be an object with "
			    "status, bodyContains and maxLatency");
			return -1;
		}
		if (api_only_members(r, e, "spec.expect.", keys, "expect has "
		    "status, bodyContains and maxLatency") == -1)
			return -1;
	} else
		e = NULL;
	if (e != NULL && json_object_object_get_ex(e, "status", &st) &&
	    !json_object_is_type(st, json_type_null)) {
		if (!json_object_is_type(st, json_type_array) ||
		    (n = json_object_array_length(st)) == 0 || n > 32) {
			api_invalid(r, "spec.expect.status: must be a list of "
			    "1 to 32 status patterns such as \"2xx\" or "
			    "\"301\"");
			return -1;
		}
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(st, i);
			s = api_json_str(v);
			if (s == NULL || strlen(s) != 3 || s[0] < '1' ||
			    s[0] > '5' || !((isdigit((unsigned char)s[1]) &&
			    isdigit((unsigned char)s[2])) ||
			    (s[1] == 'x' && s[2] == 'x'))) {
				api_invalid(r, "spec.expect.status[%zu]: "
				    "\"%.16s\" is not a status pattern: NNN "
				    "(\"301\") or Nxx (\"2xx\")", i,
				    s != NULL ? s : "(not a string)");
				return -1;
			}
			json_object_array_add(arr, json_object_new_string(s));
		}
	} else
		json_object_array_add(arr, json_object_new_string("2xx"));
	s = "";
	if (e != NULL && api_str_member(r, e, "bodyContains",
	    "spec.expect.bodyContains", API_NULL_ABSENT, &s) == -1)
		return -1;
	json_object_object_add(out, "bodyContains",
	    json_object_new_string(s != NULL ? s : ""));
	s = "";
	if (e != NULL && (rc = duration_member(r, e, "maxLatency",
	    "spec.expect.maxLatency", 1, &s, &ms)) != 0) {
		if (rc == -1)
			return -1;
		if (ms > timeout) {
			api_invalid(r, "spec.expect.maxLatency: \"%s\" is "
			    "longer than the timeout", s);
			return -1;
		}
	} else
		s = "";
	json_object_object_add(out, "maxLatency", json_object_new_string(s));
	return 0;
}

/*
 * The body of POST and PUT; path_name NULL for POST.  Fills every
 * default, so the stored spec says all the checker does.  0, or -1
 * after a 400 naming the field.
 */
static int
monitor_parse(struct req *r, const char *path_name, struct monitor_in *in)
{
	static const char *const keys[] = { "url", "method", "headers",
	    "body", "interval", "timeout", "followRedirects", "expect",
	    "failureThreshold", "successThreshold", "tlsExpiryWarning",
	    "paused", "channels", NULL };
	struct json_object	*spec, *n, *v, *ex, *arr;
	const char		*s, *iv, *to, *tw;
	char			 buf[32], *lit;
	int64_t			 every, timeout, ms;
	int			 rc, b, ft, st;
	size_t			 i, j, len, o;

	memset(in, 0, sizeof(*in));
	if (envelope_parse(r, "Monitor", path_name, &in->env) == -1)
		return -1;
	spec = in->env.spec;
	if (api_only_members(r, spec, "spec.", keys, "see the Monitor "
	    "document in dashcgi's README") == -1)
		return -1;
	in->norm = n = json_object_new_object();

	if ((rc = api_str_member(r, spec, "url", "spec.url", API_NULL_ABSENT,
	    &s)) == -1)
		return -1;
	if (rc == 0) {
		api_invalid(r, "spec.url: required, the http:// or https:// "
		    "URL to check");
		return -1;
	}
	if (check_url(r, "spec.url", s) == -1)
		return -1;
	json_object_object_add(n, "url", json_object_new_string(s));

	if ((rc = api_str_member(r, spec, "method", "spec.method",
	    API_NULL_ABSENT, &s)) == -1)
		return -1;
	if (rc == 0)
		s = "GET";
	for (i = 0; methods[i] != NULL && strcmp(methods[i], s) != 0; i++)
		;
	if (methods[i] == NULL) {
		api_invalid(r, "spec.method: \"%.16s\" is not one of GET, "
		    "HEAD, POST, PUT, PATCH, DELETE, OPTIONS", s);
		return -1;
	}
	json_object_object_add(n, "method", json_object_new_string(s));

	if (json_object_object_get_ex(spec, "headers", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (check_headers(r, "spec.headers", v, 0) == -1)
			return -1;
		json_object_object_add(n, "headers", json_object_get(v));
	} else
		json_object_object_add(n, "headers", json_object_new_object());
	if (api_str_member(r, spec, "body", "spec.body", API_NULL_ABSENT,
	    &s) == -1)
		return -1;
	json_object_object_add(n, "body", json_object_new_string(s ? s : ""));

	if ((rc = duration_member(r, spec, "interval", "spec.interval", 0,
	    &iv, &every)) == -1)
		return -1;
	if (rc == 0) {
		iv = "60s";
		every = 60000;
	}
	if (every < r->cfg->monitors.min_interval) {
		api_invalid(r, "spec.interval: \"%s\" is shorter than "
		    "monitors.min_interval (%lld ms)", iv,
		    (long long)r->cfg->monitors.min_interval);
		return -1;
	}
	json_object_object_add(n, "interval", json_object_new_string(iv));
	if ((rc = duration_member(r, spec, "timeout", "spec.timeout", 0,
	    &to, &timeout)) == -1)
		return -1;
	if (rc == 0) {
		/* 10s, or half a shorter interval. */
		timeout = every > 20000 ? 10000 : every / 2;
		snprintf(buf, sizeof(buf), "%lldms", (long long)timeout);
		to = buf;
	} else if (timeout >= every) {
		api_invalid(r, "spec.timeout: \"%s\" must be shorter than "
		    "spec.interval (\"%s\")", to, iv);
		return -1;
	}
	json_object_object_add(n, "timeout", json_object_new_string(to));
	if (bool_member(r, spec, "followRedirects", "spec.followRedirects",
	    1, &b) == -1)
		return -1;
	json_object_object_add(n, "followRedirects",
	    json_object_new_boolean(b));

	ex = json_object_new_object();
	json_object_object_add(n, "expect", ex);
	if (monitor_expect(r, spec, timeout, ex) == -1)
		return -1;

	if (int_member(r, spec, "failureThreshold", "spec.failureThreshold",
	    3, 1, MAX_THRESHOLD, &ft) == -1 ||
	    int_member(r, spec, "successThreshold", "spec.successThreshold",
	    1, 1, MAX_THRESHOLD, &st) == -1)
		return -1;
	json_object_object_add(n, "failureThreshold", json_object_new_int(ft));
	json_object_object_add(n, "successThreshold", json_object_new_int(st));
	if ((rc = duration_member(r, spec, "tlsExpiryWarning",
	    "spec.tlsExpiryWarning", 1, &tw, &ms)) == -1)
		return -1;
	json_object_object_add(n, "tlsExpiryWarning",
	    json_object_new_string(rc == 1 ? tw : "14d"));
	if (bool_member(r, spec, "paused", "spec.paused", 0,
	    &in->paused) == -1)
		return -1;
	json_object_object_add(n, "paused",
	    json_object_new_boolean(in->paused));

	arr = json_object_new_array();
	json_object_object_add(n, "channels", arr);
	len = 3;
	if (json_object_object_get_ex(spec, "channels", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_array) ||
		    json_object_array_length(v) > MAX_CHANNELS) {
			api_invalid(r, "spec.channels: must be a list of at "
			    "most %d channel names", MAX_CHANNELS);
			return -1;
		}
		for (i = 0; i < json_object_array_length(v); i++) {
			s = api_json_str(json_object_array_get_idx(v, i));
			if (s == NULL || !validate_name(s)) {
				api_invalid(r, "spec.channels[%zu]: not a "
				    "channel name", i);
				return -1;
			}
			for (j = 0; j < i; j++)
				if (strcmp(s, api_json_str(
				    json_object_array_get_idx(v, j))) == 0) {
					api_invalid(r, "spec.channels[%zu]: "
					    "\"%s\" is listed twice", i, s);
					return -1;
				}
			json_object_array_add(arr, json_object_new_string(s));
			len += strlen(s) + 1;
		}
	}
	/* Names follow the name rule: nothing to quote in the literal. */
	lit = arena_alloc(r->arena, len);
	o = 0;
	lit[o++] = '{';
	for (i = 0; i < json_object_array_length(arr); i++) {
		s = json_object_get_string(json_object_array_get_idx(arr, i));
		o += (size_t)snprintf(lit + o, len - o, "%s%s", i ? "," : "", s);
	}
	lit[o++] = '}';
	lit[o] = '\0';
	in->channels = lit;
	snprintf(in->every, sizeof(in->every), "%lld", (long long)every);
	in->spec = json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN);
	return 0;
}

/* Every listed channel exists?  0, or -1 after a 400 naming it. */
static int
channels_exist(struct req *r, const char *channels)
{
	const char	*p[2] = { api_param(r, "project"), channels };
	PGresult	*res;
	int		 rc = -1;

	if ((res = api_run(r, &monitors_stmts, MN_CHANNELS_MISSING, 2,
	    p)) == NULL)
		return -1;
	if (PQntuples(res) > 0)
		api_invalid(r, "spec.channels[%s]: channel \"%s\" does not "
		    "exist in project \"%s\"", api_val(res, 1),
		    api_val(res, 0), p[0]);
	else
		rc = 0;
	PQclear(res);
	return rc;
}

static struct json_object *
versions(long oldv, long newv)
{
	struct json_object	*o = json_object_new_object();

	if (oldv >= 0)
		json_object_object_add(o, "oldVersion",
		    json_object_new_int64(oldv));
	json_object_object_add(o, "newVersion", json_object_new_int64(newv));
	return o;
}

/* Audit row, ETag and the document (col 0; version col 1). */
static void
answer_doc(struct req *r, int status, const char *name, const PGresult *res,
    long oldv)
{
	long	v = api_val_long(res, 1);

	if (audit_change(r, api_param(r, "project"), name, v,
	    versions(oldv, v)) == -1)
		return;
	http_header(r, "ETag", "\"%ld\"", v);
	api_send_col(r, status, res, 0);
}

static void
api_monitors_list(struct req *r)
{
	list(r, MN_LIST);
}

static void
api_monitor_get(struct req *r)
{
	get_doc(r, MN_GET, "monitor");
}

static void
api_monitor_create(struct req *r)
{
	struct monitor_in	 in;
	const char		*p[7];
	PGresult		*res = NULL;

	if (monitor_parse(r, NULL, &in) == -1 ||
	    channels_exist(r, in.channels) == -1)
		goto out;
	p[0] = api_param(r, "project");
	p[1] = in.env.name;
	p[2] = in.spec;
	p[3] = in.every;
	p[4] = in.paused ? "t" : "f";
	p[5] = r->actor;
	p[6] = in.channels;
	if ((res = api_run(r, &monitors_stmts, MN_CREATE, 7, p)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		http_error(r, 409, "conflict", "monitor \"%s\" already exists "
		    "in project \"%s\"", in.env.name, p[0]);
		goto out;
	}
	answer_doc(r, 200, in.env.name, res, -1);
out:
	PQclear(res);
	json_object_put(in.norm);
}

static void
api_monitor_update(struct req *r)
{
	struct monitor_in	 in;
	const char		*p[7], *name = api_param(r, "name");
	PGresult		*lock = NULL, *res = NULL;

	memset(&in, 0, sizeof(in));
	p[0] = api_param(r, "project");
	p[1] = name;
	if ((lock = api_run(r, &monitors_stmts, MN_LOCK, 2, p)) == NULL)
		goto out;
	if (PQntuples(lock) == 0) {
		not_found(r, "monitor", name);
		goto out;
	}
	if (monitor_parse(r, name, &in) == -1 ||
	    version_ok(r, "monitor", name, in.env.version, lock) == -1 ||
	    channels_exist(r, in.channels) == -1)
		goto out;
	p[0] = api_val(lock, 0);
	p[1] = in.spec;
	p[2] = in.every;
	p[3] = in.paused ? "t" : "f";
	p[4] = r->actor;
	p[5] = api_param(r, "project");
	p[6] = in.channels;
	if ((res = api_run(r, &monitors_stmts, MN_UPDATE, 7, p)) == NULL)
		goto out;
	answer_doc(r, 200, name, res, api_val_long(lock, 1));
out:
	PQclear(res);
	PQclear(lock);
	json_object_put(in.norm);
}

/* DELETE by a LOCK and a DELETE statement; If-Match honoured. */
static void
delete_doc(struct req *r, size_t lock_stmt, size_t del_stmt, const char *what)
{
	const char		*p[2], *name = api_param(r, "name");
	struct json_object	*d;
	PGresult		*lock = NULL, *res = NULL;
	long			 want, cur;
	int			 im;

	if ((im = if_match(r, &want)) == -1)
		return;
	p[0] = api_param(r, "project");
	p[1] = name;
	if ((lock = api_run(r, &monitors_stmts, lock_stmt, 2, p)) == NULL)
		goto out;
	if (PQntuples(lock) == 0) {
		not_found(r, what, name);
		goto out;
	}
	cur = api_val_long(lock, 1);
	if (im == 1 && want != cur) {
		d = json_object_new_object();
		json_object_object_add(d, "currentVersion",
		    json_object_new_int64(cur));
		http_error_obj(r, 412, "version_mismatch", "the version in "
		    "If-Match is not the current one", d);
		goto out;
	}
	p[0] = api_val(lock, 0);
	if ((res = api_run(r, &monitors_stmts, del_stmt, 1, p)) == NULL)
		goto out;
	if (del_stmt == CH_DELETE && !api_val_null(res, 0)) {
		http_error(r, 409, "conflict", "channel \"%s\" is used by "
		    "monitors %s; remove it from them first", name,
		    api_val(res, 0));
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "version", json_object_new_int64(cur));
	if (audit_change(r, api_param(r, "project"), name, cur, d) == -1)
		goto out;
	http_send(r, 204, NULL, NULL, 0);
out:
	PQclear(res);
	PQclear(lock);
}

static void
api_monitor_delete(struct req *r)
{
	delete_doc(r, MN_LOCK, MN_DELETE, "monitor");
}

static void
api_monitor_results(struct req *r)
{
	const char	*p[5];
	char		 id[32];

	if (time_param(r, "since", &p[1]) == -1 ||
	    time_param(r, "until", &p[2]) == -1 ||
	    monitor_id(r, api_param(r, "name"), id, sizeof(id)) == -1)
		return;
	p[0] = id;
	p[3] = http_query(r, "cursor");
	api_list(r, &monitors_stmts, MN_RESULTS, 5, p, NULL);
}

static void
api_monitor_uptime(struct req *r)
{
	const char	*p[2] = { api_param(r, "project"), api_param(r, "name") };
	PGresult	*res;

	if ((res = api_run(r, &monitors_stmts, MN_UPTIME, 2, p)) == NULL)
		return;
	if (!api_val_bool(res, 0))
		not_found(r, "monitor", p[1]);
	else
		api_send_col(r, 200, res, 1);
	PQclear(res);
}

/*
 * Run one check now, in this worker (the schedule is not touched),
 * and record it like the checker does.
 */
static void
api_monitor_check(struct req *r)
{
	const char		*p[2] = { api_param(r, "project"),
				    api_param(r, "name") };
	struct check_spec	 s;
	struct check_result	 cr;
	struct check_params	 pp;
	struct json_object	*d;
	PGresult		*res, *rec = NULL;
	char			 loc[256];

	if ((res = api_run(r, &monitors_stmts, MN_SPEC, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		not_found(r, "monitor", p[1]);
		goto out;
	}
	if (check_spec_from_row(res, 0, 0, &s) == -1) {
		http_error(r, 500, "internal_error", "monitor \"%s\" has a stored "
		    "duration that does not parse", p[1]);
		goto out;
	}
	s.allow_private = r->cfg->monitors.allow_private;
	check_run_once(&s, &cr);
	if (r->cfg->monitors.location != NULL &&
	    r->cfg->monitors.location[0] != '\0')
		snprintf(loc, sizeof(loc), "%s", r->cfg->monitors.location);
	else if (gethostname(loc, sizeof(loc) - 1) == -1)
		snprintf(loc, sizeof(loc), "unknown");
	loc[sizeof(loc) - 1] = '\0';
	check_record_params(&s, &cr, loc, &pp);
	if ((rec = api_run(r, &monitors_stmts, MN_RECORD,
	    CHECK_RECORD_NPARAMS, pp.p)) == NULL)
		goto out;
	if (api_val_null(rec, 0)) {	/* deleted meanwhile */
		not_found(r, "monitor", p[1]);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "ok", json_object_new_boolean(cr.ok));
	if (cr.error != NULL)
		json_object_object_add(d, "error",
		    json_object_new_string(cr.error));
	if (audit_change(r, p[0], p[1], AUDIT_NO_VERSION, d) == -1)
		goto out;
	api_send_col(r, 200, rec, 0);
out:
	PQclear(rec);
	PQclear(res);
}

static void
api_status_page(struct req *r)
{
	const char	*p[1] = { api_param(r, "project") };
	PGresult	*res;

	if ((res = api_run(r, &monitors_stmts, MN_STATUS, 1, p)) == NULL)
		return;
	api_send_col(r, 200, res, 0);
	PQclear(res);
}

static void
api_alerts(struct req *r)
{
	const char	*p[5];

	p[0] = api_param(r, "project");
	p[1] = http_query(r, "monitor");
	if (p[1] != NULL && !validate_name(p[1])) {
		http_error(r, 400, "bad_request", "monitor: \"%.64s\" is not "
		    "a monitor name", p[1]);
		return;
	}
	if (time_param(r, "since", &p[2]) == -1)
		return;
	p[3] = http_query(r, "cursor");
	api_list(r, &monitors_stmts, MN_ALERTS, 5, p, NULL);
}

/* ------------------------------------------------------------------ */
/* Notification channels */

struct channel_in {
	struct envelope	 env;
	const char	*type, *url, *headers, *secret;
	const char	*all;		/* "t", "f" or NULL (absent) */
};

/*
 * spec: {"type","url","headers","secret","allIncidents"}; put: absent
 * headers, secret and allIncidents keep what is stored (secretSet,
 * which GET returns, is ignored).  0, or -1 after a 400.
 */
static int
channel_parse(struct req *r, const char *path_name, struct channel_in *in)
{
	static const char *const keys[] = { "type", "url", "headers",
	    "secret", "secretSet", "allIncidents", NULL };
	struct json_object	*spec, *v;
	int			 rc;

	memset(in, 0, sizeof(*in));
	if (envelope_parse(r, "NotificationChannel", path_name,
	    &in->env) == -1)
		return -1;
	spec = in->env.spec;
	if (api_only_members(r, spec, "spec.", keys, "a channel has type, "
	    "url, headers and secret") == -1)
		return -1;
	if ((rc = api_str_member(r, spec, "type", "spec.type",
	    API_NULL_ABSENT, &in->type)) == -1)
		return -1;
	if (rc == 0 || (strcmp(in->type, "webhook") != 0 &&
	    strcmp(in->type, "slack") != 0)) {
		api_invalid(r, "spec.type: must be \"webhook\" or \"slack\"");
		return -1;
	}
	if ((rc = api_str_member(r, spec, "url", "spec.url", API_NULL_ABSENT,
	    &in->url)) == -1)
		return -1;
	if (rc == 0) {
		api_invalid(r, "spec.url: required");
		return -1;
	}
	if (check_url(r, "spec.url", in->url) == -1)
		return -1;
	if (json_object_object_get_ex(spec, "headers", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (check_headers(r, "spec.headers", v, path_name != NULL) == -1)
			return -1;
		in->headers = json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN);
	}
	if (api_str_member(r, spec, "secret", "spec.secret", API_NULL_ABSENT,
	    &in->secret) == -1)
		return -1;
	if (json_object_object_get_ex(spec, "allIncidents", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			api_invalid(r, "spec.allIncidents: must be true or "
			    "false");
			return -1;
		}
		in->all = json_object_get_boolean(v) ? "t" : "f";
	}
	return 0;
}

static void
api_channels_list(struct req *r)
{
	list(r, CH_LIST);
}

static void
api_channel_get(struct req *r)
{
	get_doc(r, CH_GET, "channel");
}

static void
api_channel_create(struct req *r)
{
	struct channel_in	 in;
	const char		*p[8];
	PGresult		*res;

	if (channel_parse(r, NULL, &in) == -1)
		return;
	p[0] = api_param(r, "project");
	p[1] = in.env.name;
	p[2] = in.type;
	p[3] = in.url;
	p[4] = in.headers;
	p[5] = in.secret;
	p[6] = r->actor;
	p[7] = in.all;
	if ((res = api_run(r, &monitors_stmts, CH_CREATE, 8, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		http_error(r, 409, "conflict", "channel \"%s\" already exists "
		    "in project \"%s\"", in.env.name, p[0]);
	else
		answer_doc(r, 200, in.env.name, res, -1);
	PQclear(res);
}

static void
api_channel_update(struct req *r)
{
	struct channel_in	 in;
	const char		*p[7], *name = api_param(r, "name");
	PGresult		*lock = NULL, *res = NULL;

	p[0] = api_param(r, "project");
	p[1] = name;
	if ((lock = api_run(r, &monitors_stmts, CH_LOCK, 2, p)) == NULL)
		goto out;
	if (PQntuples(lock) == 0) {
		not_found(r, "channel", name);
		goto out;
	}
	if (channel_parse(r, name, &in) == -1 ||
	    version_ok(r, "channel", name, in.env.version, lock) == -1)
		goto out;
	p[0] = api_val(lock, 0);
	p[1] = in.type;
	p[2] = in.url;
	p[3] = in.headers;
	p[4] = in.secret;
	p[5] = r->actor;
	p[6] = in.all;
	if ((res = api_run(r, &monitors_stmts, CH_UPDATE, 7, p)) == NULL)
		goto out;
	answer_doc(r, 200, name, res, api_val_long(lock, 1));
out:
	PQclear(res);
	PQclear(lock);
}

static void
api_channel_delete(struct req *r)
{
	delete_doc(r, CH_LOCK, CH_DELETE, "channel");
}

/* ------------------------------------------------------------------ */

#define MONITOR	ROUTE_PROJECT "/monitors/{name}"
#define CHANNEL	ROUTE_PROJECT "/channels/{name}"

static const struct route routes[] = {
	{ "GET",  ROUTE_PROJECT "/monitors", api_monitors_list, R_API,
	    ROLE_VIEWER, NULL },
	{ "POST", ROUTE_PROJECT "/monitors", api_monitor_create,
	    R_API | R_JSON, ROLE_EDITOR, "monitor.create" },
	{ "GET",  MONITOR, api_monitor_get, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  MONITOR, api_monitor_update, R_API | R_JSON, ROLE_EDITOR,
	    "monitor.update" },
	{ "DELETE", MONITOR, api_monitor_delete, R_API, ROLE_EDITOR,
	    "monitor.delete" },
	{ "GET",  MONITOR "/results", api_monitor_results, R_API,
	    ROLE_VIEWER, NULL },
	{ "GET",  MONITOR "/uptime", api_monitor_uptime, R_API, ROLE_VIEWER,
	    NULL },
	{ "POST", MONITOR "/check", api_monitor_check, R_API, ROLE_EDITOR,
	    "monitor.check" },
	{ "GET",  ROUTE_PROJECT "/status", api_status_page, R_API,
	    ROLE_VIEWER, NULL },
	{ "GET",  ROUTE_PROJECT "/alerts", api_alerts, R_API, ROLE_VIEWER,
	    NULL },
	{ "GET",  ROUTE_PROJECT "/channels", api_channels_list, R_API,
	    ROLE_VIEWER, NULL },
	{ "POST", ROUTE_PROJECT "/channels", api_channel_create,
	    R_API | R_JSON, ROLE_ADMIN, "channel.create" },
	{ "GET",  CHANNEL, api_channel_get, R_API, ROLE_VIEWER, NULL },
	{ "PUT",  CHANNEL, api_channel_update, R_API | R_JSON, ROLE_ADMIN,
	    "channel.update" },
	{ "DELETE", CHANNEL, api_channel_delete, R_API, ROLE_ADMIN,
	    "channel.delete" },
};

static const struct stmt_set *const stmt_sets[] = { &monitors_stmts, NULL };

/* $1: monitors.retention as an interval; 0 keeps results forever. */
static int
retention_param(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->monitors.retention <= 0)
		return 0;
	snprintf(buf, len, "%lld milliseconds",
	    (long long)cfg->monitors.retention);
	return 1;
}

/* Each job waits for migration 0009 (maintenance also runs against a
 * schema whose later migrations are pending). */
static const struct job jobs[] = {
	{ "monitor_partitions", "created",
	  "SELECT partition_ensure('check_result', 1, 'month')"
	  " + partition_ensure('monitor_rollup_minute', 2, 'day')",
	  NULL, NULL, 9 },
	{ "monitor_retention", "dropped_partitions",
	  "SELECT partition_drop_before('check_result',"
	  " now() - $1::interval)", retention_param,
	  "monitors.retention is 0: results are kept forever", 9 },
	{ "monitor_rollup_retention", "removed",
	  "SELECT monitor_rollup_retention()", NULL, NULL, 9 },
};

static const struct proc_kind procs[] = {
	{ "checker", 0, checker_count, checker_proc_main },
};

const struct module monitors_module = {
	.name = "monitors",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = jobs,
	.njobs = sizeof(jobs) / sizeof(jobs[0]),
	.procs = procs,
	.nprocs = sizeof(procs) / sizeof(procs[0]),
	.demo = &monitors_demo,
};
