/*
 * hub.c -- the incident hub (SPEC §10): events and their one-minute
 * metric windows, incidents and their transitions, PagerDuty Events v2
 * and Alertmanager (webhook v4) ingest, alert rules, integration keys;
 * the module descriptor that also brings the evaluator process kind
 * (src/evaluator.c) and the partition jobs of raw_event.
 *
 * Owns: the hub statement table (the evaluator's statements too, so
 * check-sql prepares them), the validation of every body the hub
 * takes, and integration-key generation ("dik_" + 43 base64url
 * characters from getrandom).  PostgreSQL decides dedup (the partial
 * unique index of migration 0010 is the arbiter), allowed transitions
 * (hub_transition_ok), writes the timeline and enqueues notifications
 * (triggers on incident, so every path does it in its own
 * transaction), aggregates metrics and builds every document.
 * Never: store or log an integration key (only its sha256 reaches a
 * table); take part of an event batch (one statement: all or none);
 * build response JSON in C beyond the 202 counters.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "api/common.h"
#include "api/hub_demo.h"
#include "audit.h"
#include "db.h"
#include "evaluator.h"
#include "http.h"
#include "log.h"
#include "module.h"
#include "validate.h"

#define KEY_PREFIX	"dik_"
#define KEY_BYTES	32
#define KEY_B64_LEN	43
#define KEY_LEN		(sizeof(KEY_PREFIX) - 1 + KEY_B64_LEN)
#define TOPIC_MAX	200
#define TITLE_MAX	1000
#define DEDUP_MAX	255
#define SOURCE_MAX	200
#define UUID_LEN	36
#define DAY		86400

enum {
	HB_EVENTS_INGEST, HB_EVENTS_LIST,
	HB_INC_LIST, HB_INC_GET, HB_TRIGGER, HB_INC_STATUS,
	HB_PD_EVENT,
	HB_AM_INGEST,
	HB_RULE_LIST, HB_RULE_GET, HB_RULE_CREATE, HB_RULE_UPDATE,
	HB_RULE_DELETE,
	HB_KEY_CREATE, HB_KEY_LIST, HB_KEY_REVOKE,
	HB_EV_EVALUATE, HB_EV_CLAIM, HB_EV_RESULT,
	HB_CH_LIST, HB_CH_PUT, HB_CH_DELETE,
	HB__COUNT
};
_Static_assert((int)HB_EV_EVALUATE == (int)EV_STMT_EVALUATE &&
    (int)HB_EV_CLAIM == (int)EV_STMT_CLAIM &&
    (int)HB_EV_RESULT == (int)EV_STMT_RESULT,
    "evaluator.h names the evaluator's statements of this table");

/*
 * Keyset paging, newest first, on (time, id): a row's cursor key is
 * "microseconds/id"; AFTER(c) keeps the rows past the cursor text c
 * (decoded), idtype the id's type.
 */
#define KEYSET_KEY(ts, id)						\
	"(extract(epoch FROM " ts ") * 1000000)::bigint::text || '/' || " id
#define KEYSET_AFTER(ts, id, c, idtype)					\
	"(" ts ", " id ") < (timestamptz 'epoch' + split_part(" c ", '/', 1)" \
	"::bigint * interval '1 microsecond', split_part(" c ", '/', 2)::" \
	idtype ")"
/* The documents of a project's rows, as one JSON array. */
#define DOCS(doc, order, from)						\
	"SELECT coalesce(jsonb_agg(" doc " ORDER BY " order "), '[]')::text" \
	" FROM " from " WHERE project = $1::text"

static const struct stmt_def defs[HB__COUNT] = {
	/*
	 * $1 project, $2 the events as one JSON array (validated in C).
	 * Events and their metric windows in one statement: all or none.
	 * The upsert goes in key order so two batches that share windows
	 * take their row locks in one order (no deadlock).
	 */
	[HB_EVENTS_INGEST] = { "hub_events_ingest",
	    "WITH ev AS MATERIALIZED (SELECT e ->> 'topic' AS topic,"
	    " coalesce((e ->> 'at')::timestamptz, now()) AS at,"
	    " coalesce(e -> 'data', '{}') AS data"
	    " FROM jsonb_array_elements($2::jsonb) e),"
	    " ins AS (INSERT INTO raw_event (project, at, topic, level, data)"
	    " SELECT $1::text, at, topic, lower(data ->> 'level'), data FROM ev"
	    " RETURNING 1),"
	    " m AS (SELECT coalesce(data ->> 'windowKey', data ->> 'service',"
	    " '') AS wk, coalesce(data ->> 'metric', CASE WHEN topic LIKE"
	    " '%.metrics' THEN coalesce(data ->> 'name', left(topic, -8))"
	    " END) AS mt, date_trunc('minute', at) AS ws,"
	    " (data ->> 'value')::float8 AS v FROM ev"
	    " WHERE jsonb_typeof(data -> 'value') = 'number'"
	    " UNION ALL SELECT coalesce(data ->> 'windowKey', data ->> 'service',"
	    " ''), 'errors', date_trunc('minute', at), 1 FROM ev"
	    " WHERE data ->> 'level' IN ('error', 'ERROR')),"
	    " agg AS (INSERT INTO metrics_agg AS a (project, window_key,"
	    " metric_type, window_start, count, sum, min, max)"
	    " SELECT $1::text, wk, mt, ws, count(*), sum(v), min(v), max(v)"
	    " FROM m WHERE mt IS NOT NULL AND mt <> ''"
	    " GROUP BY wk, mt, ws ORDER BY wk, mt, ws"
	    " ON CONFLICT (project, window_key, metric_type, window_start)"
	    " DO UPDATE SET count = a.count + excluded.count,"
	    " sum = a.sum + excluded.sum, min = least(a.min, excluded.min),"
	    " max = greatest(a.max, excluded.max) RETURNING 1)"
	    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM agg)",
	    2 },

	/*
	 * $1 project, $2 topic, $3 level, $4 since, $5 until, $6 cursor
	 * ("micros/id" of the last row), $7 limit.  Newest first.
	 */
	[HB_EVENTS_LIST] = { "hub_events_list",
	    "WITH cur AS (SELECT " CURSOR_DEC("$6::text") " AS k)"
	    " SELECT jsonb_build_object('id', e.id, 'topic', e.topic,"
	    " 'at', to_char(e.at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'data', e.data)::text,"
	    " " KEYSET_KEY("e.at", "e.id")
	    " FROM raw_event e, cur WHERE e.project = $1::text"
	    " AND ($2::text IS NULL OR e.topic = $2::text)"
	    " AND ($3::text IS NULL OR e.level = lower($3::text))"
	    " AND ($4::timestamptz IS NULL OR e.at >= $4::timestamptz)"
	    " AND ($5::timestamptz IS NULL OR e.at < $5::timestamptz)"
	    " AND ($6::text IS NULL OR "
	    KEYSET_AFTER("e.at", "e.id", "cur.k", "bigint") ")"
	    " ORDER BY e.at DESC, e.id DESC LIMIT $7::int", 7 },

	/* $1 project, $2 status, $3 severity, $4 since, $5 cursor, $6 limit. */
	[HB_INC_LIST] = { "hub_incidents_list",
	    "WITH cur AS (SELECT " CURSOR_DEC("$5::text") " AS k)"
	    " SELECT incident_doc(i)::text, " KEYSET_KEY("i.first_seen", "i.id")
	    " FROM incident i, cur WHERE i.project = $1::text"
	    " AND ($2::text IS NULL OR i.status = $2::text)"
	    " AND ($3::text IS NULL OR i.severity = $3::text)"
	    " AND ($4::timestamptz IS NULL OR i.last_seen >= $4::timestamptz)"
	    " AND ($5::text IS NULL OR "
	    KEYSET_AFTER("i.first_seen", "i.id", "cur.k", "uuid") ")"
	    " ORDER BY i.first_seen DESC, i.id DESC LIMIT $6::int", 6 },

	[HB_INC_GET] = { "hub_incident_get",
	    "SELECT incident_full_doc(i)::text, i.version FROM incident i"
	    " WHERE i.project = $1::text AND i.id = $2::uuid", 2 },

	/*
	 * $1 project, $2 dedup key (NULL: a new one), $3 title, $4
	 * severity, $5 source, $6 metadata (PagerDuty: its payload), $7
	 * actor.  A new incident or the open one counted again: its id,
	 * whether new, version, document and dedup key.  The API and
	 * PagerDuty ingest both trigger with it.
	 */
	[HB_TRIGGER] = { "hub_trigger",
	    "SELECT t.id, t.created, t.version, t.doc::text,"
	    " t.doc ->> 'dedupKey' FROM hub_trigger($1::text, $2::text,"
	    " $3::text, $4::text, $5::text, $6::jsonb, $7::text) t", 7 },

	/*
	 * $1 project, $2 id, $3 new status, $4 the version If-Match named,
	 * $5 actor, $6 note.  cur locks the row, so the version and the
	 * transition are judged on the newest one.
	 */
	[HB_INC_STATUS] = { "hub_incident_status",
	    "WITH cur AS (SELECT i.id, i.status, i.version FROM incident i"
	    " WHERE i.project = $1::text AND i.id = $2::uuid FOR UPDATE),"
	    " upd AS (UPDATE incident i SET status = $3::text,"
	    " version = i.version + 1, updated_at = now(),"
	    " resolved_at = CASE WHEN $3::text = 'resolved' THEN now()"
	    " WHEN $3::text = 'open' THEN NULL ELSE i.resolved_at END,"
	    " last_actor = $5::text, last_note = $6::text FROM cur"
	    " WHERE i.id = cur.id AND cur.version = $4::int"
	    " AND hub_transition_ok(cur.status, $3::text)"
	    " RETURNING i.version, incident_doc(i) AS doc)"
	    " SELECT c.id IS NOT NULL AS found, c.status, c.version,"
	    " u.version AS new_version, u.doc::text AS doc"
	    " FROM (VALUES (1)) one (o) LEFT JOIN cur c ON true"
	    " LEFT JOIN upd u ON true", 6 },

	/*
	 * One PagerDuty event, run alone as its own transaction with its
	 * audit row (migrations/0025): $1 the routing key, $2 the action,
	 * $3 the dedup key (NULL: a new one), $4 title, $5 severity, $6
	 * source, $7 metadata, $8 the audit action, $9 client address,
	 * $10 request id, $11 the client's.  project NULL: no live key.
	 */
	[HB_PD_EVENT] = { "hub_pd_event",
	    "SELECT e.project, e.actor, e.dedup_key FROM hub_pd_event($1::text,"
	    " $2::text, $3::text, $4::text, $5::text, $6::text, $7::jsonb,"
	    " $8::text, $9::inet, $10::text, $11::text) e", 11 },

	/*
	 * $1 project, $2 the alerts (validated in C), $3 actor.  Firing
	 * alerts trigger, resolved ones resolve, in the payload's order.
	 */
	[HB_AM_INGEST] = { "hub_am_ingest",
	    "WITH a AS (SELECT x.n, x.a FROM jsonb_array_elements($2::jsonb)"
	    " WITH ORDINALITY x (a, n)),"
	    " f AS (SELECT a.n, t.created FROM a, LATERAL hub_trigger($1::text,"
	    " a.a ->> 'fingerprint', coalesce(a.a #>> '{annotations,summary}',"
	    " a.a #>> '{labels,alertname}', a.a ->> 'fingerprint'),"
	    " CASE lower(a.a #>> '{labels,severity}')"
	    " WHEN 'critical' THEN 'critical' WHEN 'page' THEN 'critical'"
	    " WHEN 'high' THEN 'high' WHEN 'error' THEN 'high'"
	    " WHEN 'warning' THEN 'medium' WHEN 'medium' THEN 'medium'"
	    " WHEN 'low' THEN 'low' WHEN 'info' THEN 'low' ELSE 'high' END,"
	    " 'alertmanager', jsonb_build_object('labels', a.a -> 'labels',"
	    " 'annotations', a.a -> 'annotations', 'startsAt',"
	    " a.a -> 'startsAt', 'generatorURL', a.a -> 'generatorURL'),"
	    " $3::text) t WHERE a.a ->> 'status' = 'firing'),"
	    " r AS (SELECT a.n, hub_key_transition($1::text,"
	    " a.a ->> 'fingerprint', 'resolved', $3::text,"
	    " 'resolved by Alertmanager') AS k FROM a"
	    " WHERE a.a ->> 'status' = 'resolved')"
	    " SELECT (SELECT count(*) FILTER (WHERE created) FROM f),"
	    " (SELECT count(*) FILTER (WHERE NOT created) FROM f),"
	    " (SELECT coalesce(sum(k), 0) FROM r)", 3 },

	[HB_RULE_LIST] = { "hub_rules_list",
	    DOCS("alert_rule_doc(r)", "r.name", "alert_rule r"), 1 },
	[HB_RULE_GET] = { "hub_rule_get",
	    "SELECT alert_rule_doc(r)::text, r.version FROM alert_rule r"
	    " WHERE r.project = $1::text AND r.name = $2::text", 2 },
	/* No row: the name is taken. */
	[HB_RULE_CREATE] = { "hub_rule_create",
	    "INSERT INTO alert_rule AS r (project, name, spec, created_by,"
	    " updated_by) VALUES ($1::text, $2::text, $3::jsonb, $4::text,"
	    " $4::text) ON CONFLICT (project, name) DO NOTHING"
	    " RETURNING alert_rule_doc(r)::text, r.version", 4 },
	/*
	 * $5 the version replaced (NULL: any).  found and the current
	 * version tell 404 from 412.  A changed rule starts pending anew.
	 */
	[HB_RULE_UPDATE] = { "hub_rule_update",
	    "WITH cur AS (SELECT r.version FROM alert_rule r"
	    " WHERE r.project = $1::text AND r.name = $2::text FOR UPDATE),"
	    " upd AS (UPDATE alert_rule r SET spec = $3::jsonb,"
	    " version = r.version + 1, updated_at = now(), updated_by = $4::text,"
	    " pending_since = NULL FROM cur WHERE r.project = $1::text"
	    " AND r.name = $2::text AND ($5::int IS NULL OR cur.version = $5::int)"
	    " RETURNING alert_rule_doc(r)::text AS doc, r.version)"
	    " SELECT EXISTS (SELECT 1 FROM cur), (SELECT version FROM cur),"
	    " (SELECT doc FROM upd), (SELECT version FROM upd)", 5 },
	[HB_RULE_DELETE] = { "hub_rule_delete",
	    "DELETE FROM alert_rule WHERE project = $1::text AND name = $2::text"
	    " RETURNING version", 2 },

	/* $1 project, $2 name, $3 the key (hashed here), $4 actor. */
	[HB_KEY_CREATE] = { "hub_key_create",
	    "INSERT INTO integration_key (project, name, key_hash, created_by)"
	    " VALUES ($1::text, $2::text, sha256(convert_to($3::text, 'UTF8')),"
	    " $4::text) RETURNING id, jsonb_build_object('id', id, 'name', name,"
	    " 'key', $3::text, 'createdAt', rfc3339(created_at),"
	    " 'createdBy', created_by)::text", 4 },
	[HB_KEY_LIST] = { "hub_key_list",
	    DOCS("jsonb_build_object('id', k.id, 'name', k.name, 'createdAt',"
	    " rfc3339(k.created_at), 'createdBy', k.created_by, 'lastUsedAt',"
	    " rfc3339(k.last_used_at), 'revokedAt', rfc3339(k.revoked_at))",
	    "k.created_at, k.id", "integration_key k"), 1 },
	[HB_KEY_REVOKE] = { "hub_key_revoke",
	    "UPDATE integration_key SET revoked_at = coalesce(revoked_at, now())"
	    " WHERE project = $1::text AND id = $2::uuid RETURNING id", 2 },

	/* The evaluator's (src/evaluator.c). */
	/*
	 * $1 slo.resolution (s): slo_burn rules see the windows the SLO
	 * API shows.  -1: another session holds the evaluator lock.
	 */
	[HB_EV_EVALUATE] = { "hub_evaluate",
	    "SELECT hub_evaluate(" EVALUATOR_LOCK_KEY "::bigint,"
	    " $1::int * interval '1 second')", 1 },
	/*
	 * Claim up to $1 due notifications for $2 ms (the lease: a
	 * deliverer that dies before recording a result leaves them to be
	 * claimed again when it ends).  SKIP LOCKED: deliverers on other
	 * hosts take other rows.
	 */
	[HB_EV_CLAIM] = { "hub_notify_claim",
	    "UPDATE alert_notification n SET attempts = n.attempts + 1,"
	    " next_attempt_at = now() + $2::bigint * interval '1 millisecond'"
	    " WHERE n.id IN (SELECT id FROM alert_notification"
	    " WHERE status = 'pending' AND next_attempt_at <= now()"
	    " ORDER BY next_attempt_at LIMIT $1::int FOR UPDATE SKIP LOCKED)"
	    " RETURNING n.id, n.url, n.body, n.attempts,"
	    /* the channel's stored headers and the body's signature */
	    " (SELECT c.headers::text FROM hub_channel c"
	    " WHERE c.project = n.project AND c.name = n.channel),"
	    " (SELECT encode(hmac_sha256(convert_to(c.secret, 'UTF8'),"
	    " convert_to(n.body, 'UTF8')), 'hex') FROM hub_channel c"
	    " WHERE c.project = n.project AND c.name = n.channel"
	    " AND c.secret <> '')", 2 },
	/*
	 * $1 id, $2 delivered, $3 error, $4 notify_max_attempts, $5 HTTP
	 * status, $6 milliseconds.  Backoff: 10 s doubling to 5 min.
	 */
	[HB_EV_RESULT] = { "hub_notify_result",
	    "UPDATE alert_notification SET"
	    " status = CASE WHEN $2::boolean THEN 'sent'"
	    " WHEN attempts >= $4::int THEN 'failed' ELSE 'pending' END,"
	    " sent_at = CASE WHEN $2::boolean THEN now() END,"
	    " last_error = CASE WHEN $2::boolean THEN last_error ELSE $3::text END,"
	    " next_attempt_at = CASE WHEN $2::boolean THEN next_attempt_at ELSE"
	    " now() + least(interval '10 seconds' * power(2, attempts - 1),"
	    " interval '5 minutes') END,"
	    " history = history || jsonb_build_object('at', rfc3339(now()),"
	    " 'attempt', attempts, 'ok', $2::boolean, 'httpStatus', $5::int,"
	    " 'error', $3::text, 'ms', $6::int)"
	    " WHERE id = $1::uuid AND status = 'pending'"
	    " RETURNING status", 6 },

	[HB_CH_LIST] = { "hub_channels_list",
	    DOCS("hub_channel_doc(c)", "c.name", "hub_channel c"), 1 },
	/* Create or replace; created tells 201 from 200. */
	[HB_CH_PUT] = { "hub_channel_put",
	    "INSERT INTO hub_channel AS c (project, name, type, url,"
	    " all_incidents, created_by) VALUES ($1::text, $2::text, $3::text,"
	    " $4::text, $5::boolean, $6::text)"
	    " ON CONFLICT (project, name) DO UPDATE SET type = excluded.type,"
	    " url = excluded.url, all_incidents = excluded.all_incidents,"
	    /* the version the monitors' route locks on (If-Match) */
	    " version = c.version + 1, updated_at = now(),"
	    " updated_by = excluded.created_by"
	    " RETURNING (c.xmax = 0), hub_channel_doc(c)::text", 6 },
	[HB_CH_DELETE] = { "hub_channel_delete",
	    "DELETE FROM hub_channel WHERE project = $1::text AND name = $2::text"
	    " RETURNING name", 2 },
};
const struct stmt_set hub_stmts = { "hub", defs, HB__COUNT };

/* ------------------------------------------------------------------ */
/* Small helpers */

static const char *
header(const struct req *r, const char *param)
{
	return FCGX_GetParam(param, r->fcgi->envp);
}

static int
uuid_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != UUID_LEN)
		return 0;
	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int
one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static const char *const severities[] = { "low", "medium", "high",
    "critical", NULL };
static const char *const statuses[] = { "open", "investigating",
    "resolved", "closed", NULL };

static int
digits(const char *s, int n)
{
	int	 v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * RFC 3339 date-time to seconds since the epoch; -1 when s is not
 * one.  PostgreSQL's timestamptz input takes far more ("now",
 * "tomorrow", no offset), hence this check before it sees the value.
 */
static int
rfc3339_time(const char *s, time_t *out)
{
	struct tm	 tm;
	int		 off = 0, sign;
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -1;
	if ((tm.tm_year = digits(s, 4)) < 1 || (tm.tm_mon = digits(s + 5,
	    2)) < 1 || tm.tm_mon > 12 || (tm.tm_mday = digits(s + 8, 2)) < 1 ||
	    tm.tm_mday > 31 || (tm.tm_hour = digits(s + 11, 2)) < 0 ||
	    tm.tm_hour > 23 || (tm.tm_min = digits(s + 14, 2)) < 0 ||
	    tm.tm_min > 59 || (tm.tm_sec = digits(s + 17, 2)) < 0 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	s += 19;
	if (*s == '.') {
		s++;
		if (strspn(s, "0123456789") < 1 || strspn(s, "0123456789") > 9)
			return -1;
		s += strspn(s, "0123456789");
	}
	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0')
		off = 0;
	else if ((s[0] == '+' || s[0] == '-') && s[3] == ':' && s[6] == '\0' &&
	    digits(s + 1, 2) >= 0 && digits(s + 1, 2) <= 23 &&
	    digits(s + 4, 2) >= 0 && digits(s + 4, 2) <= 59) {
		sign = s[0] == '-' ? -1 : 1;
		off = sign * (digits(s + 1, 2) * 3600 + digits(s + 4, 2) * 60);
	} else
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	/* timegm normalises 31 February: refuse what it moved. */
	{
		struct tm	 back;

		gmtime_r(&t, &back);
		if (back.tm_mday != tm.tm_mday && tm.tm_sec != 60)
			return -1;
	}
	*out = t - off;
	return 0;
}

/* A rule duration: digits and one unit (ms, s, m, h, d), as PostgreSQL's
 * interval input reads it. */
static int
duration_ok(const char *s)
{
	size_t	 n = strspn(s, "0123456789");

	return n > 0 && n <= 6 && (strcmp(s + n, "ms") == 0 ||
	    strcmp(s + n, "s") == 0 || strcmp(s + n, "m") == 0 ||
	    strcmp(s + n, "h") == 0 || strcmp(s + n, "d") == 0);
}

/* A query time (?since=): RFC 3339, else 400.  0 or -1. */
static int
query_time(struct req *r, const char *key, const char **v)
{
	time_t	 t;

	*v = http_query(r, key);
	if (*v == NULL || rfc3339_time(*v, &t) == 0)
		return 0;
	http_error(r, 400, "bad_request", "%s: \"%.64s\" is not an RFC 3339 "
	    "date-time such as 2026-01-02T15:04:05Z", key, *v);
	return -1;
}

/* A query parameter from set, else 400 naming the set.  0 or -1. */
static int
query_enum(struct req *r, const char *key, const char *const *set,
    const char **v)
{
	const char	*list = "";

	*v = http_query(r, key);
	if (*v == NULL || one_of(*v, set))
		return 0;
	for (; *set != NULL; set++)
		list = arena_printf(r->arena, "%s%s%s", list,
		    *list != '\0' ? ", " : "", *set);
	http_error(r, 400, "bad_request", "%s: must be one of %s", key, list);
	return -1;
}

/* Run one statement that returns one row; NULL after answering. */
static PGresult *
run1(struct req *r, size_t stmt, int n, const char *const *p)
{
	PGresult	*res;

	if ((res = api_run(r, &hub_stmts, stmt, n, p)) == NULL ||
	    PQntuples(res) == 1)
		return res;
	log_error("%s: %d rows, expected 1", defs[stmt].name, PQntuples(res));
	http_error(r, 500, "internal_error", "internal error");
	PQclear(res);
	return NULL;
}

/* 404 for the thing called what, named name, in the path's project. */
static void
not_found(struct req *r, const char *what, const char *name)
{
	http_error(r, 404, "not_found", "%s \"%.64s\" not found in project "
	    "\"%s\"", what, name, api_param(r, "project"));
}

/* One row's document (column 0) with its version (column 1) as the
 * ETag, or 404 for what; p is project and key. */
static void
send_versioned(struct req *r, size_t stmt, const char *const *p,
    const char *what)
{
	PGresult	*res;

	if ((res = api_run(r, &hub_stmts, stmt, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, what, p[1]);
	else {
		http_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 1));
		api_send_col(r, 200, res, 0);
	}
	PQclear(res);
}

/* A project's documents, one JSON array (the DOCS statements). */
static void
send_docs(struct req *r, size_t stmt)
{
	const char	*p[1];
	PGresult	*res;

	p[0] = api_param(r, "project");
	if ((res = run1(r, stmt, 1, p)) == NULL)
		return;
	api_send_col(r, 200, res, 0);
	PQclear(res);
}

/*
 * DELETE of the project's row named by the path parameter param: 204
 * after the audit row (with the version the statement returns when
 * versioned), or 404 for what.
 */
static void
delete_one(struct req *r, size_t stmt, const char *param, int versioned,
    const char *what)
{
	const char	*p[2];
	PGresult	*res;

	p[0] = api_param(r, "project");
	p[1] = api_param(r, param);
	if ((res = api_run(r, &hub_stmts, stmt, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, what, p[1]);
	else if (audit_change(r, p[0], p[1], versioned ?
	    api_val_long(res, 0) : AUDIT_NO_VERSION, NULL) == 0)
		http_send(r, 204, NULL, NULL, 0);
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* Events */

/*
 * One event, where names it in a message ("line 3", "[2]").  Returns
 * 0, or -1 after answering 400.
 */
static int
check_event(struct req *r, struct json_object *e, const char *where,
    time_t now)
{
	static const char *const keys[] = { "topic", "at", "data", NULL };
	struct json_object	*v;
	const char		*s;
	time_t			 t, lo;

	if (!json_object_is_type(e, json_type_object)) {
		api_invalid(r, "%s: an event must be an object "
		    "{\"topic\",\"at\",\"data\"}", where);
		return -1;
	}
	json_object_object_foreach(e, k, val) {
		(void)val;
		if (!one_of(k, keys)) {
			api_invalid(r, "%s: %s: unknown field (an event has "
			    "topic, at and data)", where, k);
			return -1;
		}
	}
	if (!json_object_object_get_ex(e, "topic", &v) ||
	    (s = api_json_str(v)) == NULL || *s == '\0' ||
	    strlen(s) > TOPIC_MAX) {
		api_invalid(r, "%s: topic: required, a string of 1 to %d "
		    "characters", where, TOPIC_MAX);
		return -1;
	}
	if (json_object_object_get_ex(e, "at", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if ((s = api_json_str(v)) == NULL ||
		    rfc3339_time(s, &t) == -1) {
			api_invalid(r, "%s: at: must be an RFC 3339 date-time "
			    "such as 2026-01-02T15:04:05Z", where);
			return -1;
		}
		/* raw_event has partitions from yesterday (UTC) on. */
		lo = now - now % DAY - DAY;
		if (t < lo || t > now + DAY) {
			api_invalid(r, "%s: at: \"%s\" is outside the accepted "
			    "range (from yesterday 00:00 UTC to one day "
			    "ahead)", where, s);
			return -1;
		}
	}
	if (json_object_object_get_ex(e, "data", &v) &&
	    !json_object_is_type(v, json_type_object)) {
		api_invalid(r, "%s: data: must be an object", where);
		return -1;
	}
	return 0;
}

/*
 * POST …/events: a JSON array or NDJSON.  Every event is checked here
 * (so the 400 names the bad line) before one statement stores them
 * all with their metric windows.  Not a change route: events are
 * data, not configuration, and one statement is atomic by itself.
 */
static void
api_events_post(struct req *r)
{
	struct json_object	*o, *e;
	const char		*ct = r->content_type, *err, *p[2];
	char			*buf, *line, *nl, where[32];
	size_t			 i, n = 0, len, o_len = 0;
	time_t			 now = time(NULL);
	int			 ndjson;
	PGresult		*res;

	if (ct != NULL && strncasecmp(ct, "application/x-ndjson", 20) == 0)
		ndjson = 1;
	else if (ct != NULL && strncasecmp(ct, "application/json", 16) == 0)
		ndjson = 0;
	else {
		http_error(r, 415, "unsupported_media_type", "Content-Type "
		    "must be application/json (an array of events) or "
		    "application/x-ndjson, got \"%s\"", ct ? ct : "");
		return;
	}
	if (http_read_body(r, ndjson ? "application/x-ndjson" :
	    "application/json") == -1)
		return;
	if (!ndjson) {
		if ((o = http_parse_json(r->arena, r->body, r->body_len,
		    &err)) == NULL) {
			http_error(r, 400, "invalid_json", "invalid JSON body: "
			    "%s", err);
			return;
		}
		if (!json_object_is_type(o, json_type_array)) {
			json_object_put(o);
			api_invalid(r, "the body must be a JSON array of events "
			    "(or NDJSON with Content-Type "
			    "application/x-ndjson)");
			return;
		}
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			snprintf(where, sizeof(where), "[%zu]", i);
			if (check_event(r, json_object_array_get_idx(o, i),
			    where, now) == -1) {
				json_object_put(o);
				return;
			}
		}
		json_object_put(o);
		p[1] = r->body;
	} else {
		/* The lines, checked, become one JSON array. */
		buf = arena_alloc(r->arena, r->body_len + 3);
		buf[o_len++] = '[';
		for (line = r->body, i = 1; line != NULL && *line != '\0';
		    line = nl, i++) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			len = strlen(line);
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
			if (strspn(line, " \t") == len)
				continue;
			snprintf(where, sizeof(where), "line %zu", i);
			if ((e = http_parse_json(r->arena, line, len,
			    &err)) == NULL) {
				http_error(r, 400, "invalid_json", "line %zu: "
				    "invalid JSON: %s", i, err);
				return;
			}
			if (check_event(r, e, where, now) == -1) {
				json_object_put(e);
				return;
			}
			json_object_put(e);
			if (n++ > 0)
				buf[o_len++] = ',';
			memcpy(buf + o_len, line, len);
			o_len += len;
		}
		buf[o_len++] = ']';
		buf[o_len] = '\0';
		p[1] = buf;
	}
	if (n == 0) {
		api_invalid(r, "the body holds no events");
		return;
	}
	p[0] = api_param(r, "project");
	if ((res = run1(r, HB_EVENTS_INGEST, 2, p)) == NULL)
		return;
	buf = arena_printf(r->arena, "{\"accepted\":%s,\"windows\":%s}",
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	http_send_json(r, 202, buf, strlen(buf));
}

static void
api_events_list(struct req *r)
{
	const char	*p[7];

	p[0] = api_param(r, "project");
	p[1] = http_query(r, "topic");
	p[2] = http_query(r, "level");
	if (query_time(r, "since", &p[3]) == -1 ||
	    query_time(r, "until", &p[4]) == -1)
		return;
	p[5] = http_query(r, "cursor");
	api_list(r, &hub_stmts, HB_EVENTS_LIST, 7, p, NULL);
}

/* ------------------------------------------------------------------ */
/* Incidents */

static void
api_incidents_list(struct req *r)
{
	const char	*p[6];

	p[0] = api_param(r, "project");
	if (query_enum(r, "status", statuses, &p[1]) == -1 ||
	    query_enum(r, "severity", severities, &p[2]) == -1 ||
	    query_time(r, "since", &p[3]) == -1)
		return;
	p[4] = http_query(r, "cursor");
	api_list(r, &hub_stmts, HB_INC_LIST, 6, p, NULL);
}

static void
api_incident_get(struct req *r)
{
	const char	*p[2];

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "id");
	if (!uuid_ok(p[1]))
		not_found(r, "incident", p[1]);
	else
		send_versioned(r, HB_INC_GET, p, "incident");
}

/* Answer a trigger: 201 new (Location), 200 the open one counted. */
static void
trigger_answer(struct req *r, PGresult *res, const char *project)
{
	struct json_object	*d;
	int			 created = api_val_bool(res, 1);
	const char		*id = api_val(res, 0);

	d = json_object_new_object();
	json_object_object_add(d, "deduplicated",
	    json_object_new_boolean(!created));
	if (audit_change(r, project, id, api_val_long(res, 2), d) == -1)
		return;
	http_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 2));
	if (created)
		http_header(r, "Location", "/api/v1/projects/%s/incidents/%s",
		    project, id);
	api_send_col(r, created ? 201 : 200, res, 3);
}

struct incident_in {
	const char		*title;
	const char		*severity;
	const char		*dedup;		/* NULL: absent */
	const char		*source;	/* NULL: "api" */
	struct json_object	*metadata;	/* NULL: absent */
};

static const struct api_field incident_fields[] = {
	{ .name = "title", .type = API_STRING, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .min = 1, .max = TITLE_MAX,
	  .at = API_AT(struct incident_in, title) },
	{ .name = "severity", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = severities,
	  .at = API_AT(struct incident_in, severity) },
	{ .name = "dedupKey", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .min = 1, .max = DEDUP_MAX, .at = API_AT(struct incident_in, dedup) },
	{ .name = "source", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .min = 1, .max = SOURCE_MAX,
	  .at = API_AT(struct incident_in, source) },
	{ .name = "metadata", .type = API_OBJECT, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct incident_in, metadata) },
};
static const struct api_body incident_body = { API_FIELDS(incident_fields),
	"an incident has title, severity, dedupKey, source and metadata",
	"the body must be an incident: {\"title\",\"severity\","
	"\"dedupKey\",\"source\",\"metadata\"}" };

static void
api_incident_create(struct req *r)
{
	struct incident_in	 in = { NULL, NULL, NULL, "api", NULL };
	const char		*p[7];
	PGresult		*res;

	if (api_body(r, &incident_body, &in) == -1)
		return;
	p[0] = api_param(r, "project");
	p[1] = in.dedup;
	p[2] = in.title;
	p[3] = in.severity;
	p[4] = in.source;
	p[5] = in.metadata == NULL ? NULL : json_object_to_json_string_ext(
	    in.metadata, JSON_C_TO_STRING_PLAIN);
	p[6] = r->actor;
	if ((res = run1(r, HB_TRIGGER, 7, p)) == NULL)
		return;
	trigger_answer(r, res, p[0]);
	PQclear(res);
}

/* The version If-Match names: 1 set, -1 answered (400 or 428). */
static int
if_match_version(struct req *r, char *buf, size_t len, int required)
{
	const char	*h = header(r, "HTTP_IF_MATCH");
	char		*end;
	long		 v;
	size_t		 n;

	if (h == NULL || strcmp(h, "*") == 0) {
		if (!required)
			return 0;
		http_error(r, 428, "version_required", "If-Match: "
		    "required, the version this change replaces (the ETag of "
		    "the GET)");
		return -1;
	}
	while (*h == ' ')
		h++;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h = arena_strndup(r->arena, h + 1, n - 2);
	}
	errno = 0;
	v = strtol(h, &end, 10);
	if (*h < '0' || *h > '9' || *end != '\0' || errno != 0 || v > 2147483647) {
		http_error(r, 400, "bad_request", "If-Match: expected one "
		    "version such as \"3\"");
		return -1;
	}
	snprintf(buf, len, "%ld", v);
	return 1;
}

struct status_in {
	const char	*status;
	const char	*note;		/* NULL: absent */
};

static const struct api_field status_fields[] = {
	{ .name = "status", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = statuses,
	  .at = API_AT(struct status_in, status) },
	{ .name = "note", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .min = 1, .max = TITLE_MAX, .at = API_AT(struct status_in, note) },
};
static const struct api_body status_body = { API_FIELDS(status_fields),
	"a status change has status and note",
	"the body must be {\"status\",\"note\"}" };

static void
api_incident_status(struct req *r)
{
	struct status_in	 in = { NULL, NULL };
	struct json_object	*d;
	const char		*p[6], *cur;
	char			 ver[24];
	PGresult		*res;

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "id");
	if (!uuid_ok(p[1])) {
		not_found(r, "incident", p[1]);
		return;
	}
	if (api_body(r, &status_body, &in) == -1)
		return;
	p[2] = in.status;
	p[5] = in.note;
	if (if_match_version(r, ver, sizeof(ver), 1) == -1)
		return;
	p[3] = ver;
	p[4] = r->actor;
	if ((res = run1(r, HB_INC_STATUS, 6, p)) == NULL)
		return;
	if (!api_val_bool(res, 0)) {
		not_found(r, "incident", p[1]);
		goto out;
	}
	if (strcmp(api_val(res, 2), ver) != 0) {
		http_header(r, "ETag", "\"%s\"", api_val(res, 2));
		http_error(r, 412, "version_mismatch", "incident \"%s\" is "
		    "at version %s, not %s: read it again", p[1],
		    api_val(res, 2), ver);
		goto out;
	}
	if (api_val_null(res, 4)) {
		cur = api_val(res, 1);
		http_error(r, 409, "invalid_transition", "an incident cannot "
		    "go from %s to %s (allowed: open -> investigating -> "
		    "resolved -> closed, open -> resolved, resolved -> open)",
		    cur, p[2]);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "from",
	    json_object_new_string(api_val(res, 1)));
	json_object_object_add(d, "to", json_object_new_string(p[2]));
	if (p[5] != NULL)
		json_object_object_add(d, "note", json_object_new_string(p[5]));
	if (audit_change(r, p[0], p[1], api_val_long(res, 3), d) == -1)
		goto out;
	http_header(r, "ETag", "\"%s\"", api_val(res, 3));
	api_send_col(r, 200, res, 4);
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* PagerDuty Events API v2 */

/*
 * Statement stmt of a change in one statement (R_ONE_STMT): one row,
 * committed with its audit row when it answers; else NULL after
 * answering why (503 commit_outcome_unknown when the answer was lost
 * and it may have been applied, as a lost COMMIT answer is).
 */
static PGresult *
run_alone(struct req *r, size_t stmt, int n, const char *const *p)
{
	PGresult	*res;
	const char	*code, *msg;
	int		 outcome, st;

	res = db_run_alone(&hub_stmts, stmt, n, p, &outcome);
	if (outcome == DB_COMMITTED && PQntuples(res) == 1) {
		db_wrote();
		return res;
	}
	if (outcome == DB_OUTCOME_UNKNOWN)
		http_error(r, 503, "commit_outcome_unknown", "the answer to "
		    "the change was lost and it may have been applied; read "
		    "the resource before retrying");
	else if (outcome == DB_COMMITTED) {
		log_error("%s: %d rows, expected 1", defs[stmt].name,
		    PQntuples(res));
		http_error(r, 500, "internal_error", "internal error");
	} else {
		st = db_http_status(res, &code, &msg);
		if (st == 500)
			log_error("%s failed: %s", defs[stmt].name, res != NULL ?
			    PQresultErrorMessage(res) : "no result");
		http_error(r, st, code, "%s", msg);
	}
	PQclear(res);
	return NULL;
}

/*
 * A trigger's metadata: its payload and the client, client_url and
 * links PagerDuty carries beside it, as JSON text in the arena.
 */
static const char *
pd_metadata(struct req *r, struct json_object *o, struct json_object *pl)
{
	static const char *const extra[] = { "client", "client_url",
	    "links" };
	struct json_object	*d, *v;
	const char		*s;
	size_t			 i;

	d = json_object_new_object();
	json_object_object_add(d, "payload", json_object_get(pl));
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (json_object_object_get_ex(o, extra[i], &v))
			json_object_object_add(d, extra[i], json_object_get(v));
	s = arena_strdup(r->arena, json_object_to_json_string_ext(d,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(d);
	return s;
}

static void
pd_error(struct req *r, const char *msg)
{
	struct json_object	*x = json_object_new_object();

	json_object_object_add(x, "errors", json_object_new_array());
	json_object_array_add(json_object_object_get(x, "errors"),
	    json_object_new_string(msg));
	http_error_obj(r, 400, "validation_failed", msg, x);
}

/*
 * POST /v2/enqueue: PagerDuty's body, the routing key an integration
 * key.  Its answer keeps PagerDuty's shape (202 {"status":"success",
 * "message","dedup_key"}) so their clients work unchanged.
 */
static void
api_pd_enqueue(struct req *r)
{
	static const char *const pd_sev[] = { "critical", "error", "warning",
	    "info", NULL };
	static const char *const our_sev[] = { "critical", "high", "medium",
	    "low" };
	struct json_object	*o = r->json, *pl = NULL, *v, *d;
	const char		*key, *action, *dedup = NULL, *p[11];
	const char		*summary = NULL, *sev = NULL, *src = NULL;
	char			*body;
	size_t			 i;
	PGresult		*res;
	int			 trig;

	if (!json_object_is_type(o, json_type_object)) {
		pd_error(r, "the body must be a PagerDuty Events API v2 "
		    "event object");
		return;
	}
	if (!json_object_object_get_ex(o, "routing_key", &v) ||
	    (key = api_json_str(v)) == NULL) {
		pd_error(r, "routing_key: required");
		return;
	}
	if (!json_object_object_get_ex(o, "event_action", &v) ||
	    (action = api_json_str(v)) == NULL ||
	    (strcmp(action, "trigger") != 0 &&
	    strcmp(action, "acknowledge") != 0 &&
	    strcmp(action, "resolve") != 0)) {
		pd_error(r, "event_action: must be trigger, acknowledge "
		    "or resolve");
		return;
	}
	trig = strcmp(action, "trigger") == 0;
	if (json_object_object_get_ex(o, "dedup_key", &v) &&
	    !json_object_is_type(v, json_type_null) &&
	    ((dedup = api_json_str(v)) == NULL || *dedup == '\0' ||
	    strlen(dedup) > DEDUP_MAX)) {
		pd_error(r, "dedup_key: must be a string of 1 to 255 "
		    "characters");
		return;
	}
	if (!trig && dedup == NULL) {
		pd_error(r, arena_printf(r->arena, "dedup_key: required for %s",
		    action));
		return;
	}
	if (trig) {
		if (!json_object_object_get_ex(o, "payload", &pl) ||
		    !json_object_is_type(pl, json_type_object)) {
			pd_error(r, "payload: required for trigger");
			return;
		}
		if (!json_object_object_get_ex(pl, "summary", &v) ||
		    (summary = api_json_str(v)) == NULL || *summary == '\0' ||
		    strlen(summary) > 1024) {
			pd_error(r, "payload.summary: required, 1 to 1024 "
			    "characters");
			return;
		}
		if (!json_object_object_get_ex(pl, "source", &v) ||
		    (src = api_json_str(v)) == NULL || *src == '\0' ||
		    strlen(src) > SOURCE_MAX) {
			pd_error(r, "payload.source: required");
			return;
		}
		if (!json_object_object_get_ex(pl, "severity", &v) ||
		    (sev = api_json_str(v)) == NULL || !one_of(sev, pd_sev)) {
			pd_error(r, "payload.severity: must be critical, "
			    "error, warning or info");
			return;
		}
		for (i = 0; pd_sev[i] != NULL; i++)
			if (strcmp(sev, pd_sev[i]) == 0)
				sev = our_sev[i];
	}
	/* Shaped like our keys?  Anything else cannot match. */
	if (strlen(key) != KEY_LEN || strncmp(key, KEY_PREFIX,
	    sizeof(KEY_PREFIX) - 1) != 0) {
		pd_error(r, "routing_key: not a valid integration key");
		return;
	}
	p[0] = key;
	p[1] = action;
	p[2] = dedup;
	p[3] = summary;
	p[4] = sev;
	p[5] = src;
	p[6] = trig ? pd_metadata(r, o, pl) : NULL;
	p[7] = r->route->action;
	audit_request_ids(r, &p[8], &p[9], &p[10]);
	if ((res = run_alone(r, HB_PD_EVENT, 11, p)) == NULL)
		return;
	if (api_val_null(res, 0)) {
		/* Nothing was written: the key is not a live one. */
		pd_error(r, "routing_key: not a valid integration key");
		goto out;
	}
	r->actor = arena_strdup(r->arena, api_val(res, 1));
	r->audited++;
	d = json_object_new_object();
	json_object_object_add(d, "status", json_object_new_string("success"));
	json_object_object_add(d, "message",
	    json_object_new_string("Event processed"));
	json_object_object_add(d, "dedup_key",
	    json_object_new_string(api_val(res, 2)));
	body = arena_strdup(r->arena, json_object_to_json_string_ext(d,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(d);
	http_send_json(r, 202, body, strlen(body));
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* Alertmanager webhook (version 4) */

static void
api_alertmanager(struct req *r)
{
	struct json_object	*o = r->json, *alerts, *a, *v, *d;
	const char		*s, *p[3];
	char			*body;
	size_t			 i, n;
	PGresult		*res;

	if (!json_object_is_type(o, json_type_object)) {
		api_invalid(r, "the body must be an Alertmanager webhook "
		    "payload (version 4)");
		return;
	}
	if (!json_object_object_get_ex(o, "version", &v) ||
	    (s = api_json_str(v)) == NULL || strcmp(s, "4") != 0) {
		api_invalid(r, "version: must be \"4\" (the Alertmanager "
		    "webhook payload version)");
		return;
	}
	if (!json_object_object_get_ex(o, "alerts", &alerts) ||
	    !json_object_is_type(alerts, json_type_array)) {
		api_invalid(r, "alerts: required, an array");
		return;
	}
	n = json_object_array_length(alerts);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(alerts, i);
		if (!json_object_is_type(a, json_type_object)) {
			api_invalid(r, "alerts[%zu]: must be an object", i);
			return;
		}
		if (!json_object_object_get_ex(a, "status", &v) ||
		    (s = api_json_str(v)) == NULL ||
		    (strcmp(s, "firing") != 0 && strcmp(s, "resolved") != 0)) {
			api_invalid(r, "alerts[%zu].status: must be firing or "
			    "resolved", i);
			return;
		}
		if (!json_object_object_get_ex(a, "fingerprint", &v) ||
		    (s = api_json_str(v)) == NULL || *s == '\0' ||
		    strlen(s) > DEDUP_MAX) {
			api_invalid(r, "alerts[%zu].fingerprint: required, a "
			    "string", i);
			return;
		}
		if (json_object_object_get_ex(a, "labels", &v) &&
		    !json_object_is_type(v, json_type_object)) {
			api_invalid(r, "alerts[%zu].labels: must be an object",
			    i);
			return;
		}
		if (json_object_object_get_ex(a, "annotations", &v) &&
		    !json_object_is_type(v, json_type_object)) {
			api_invalid(r, "alerts[%zu].annotations: must be an "
			    "object", i);
			return;
		}
	}
	p[0] = api_param(r, "project");
	p[1] = json_object_to_json_string_ext(alerts, JSON_C_TO_STRING_PLAIN);
	p[2] = r->actor;
	if ((res = run1(r, HB_AM_INGEST, 3, p)) == NULL)
		return;
	d = json_object_new_object();
	json_object_object_add(d, "alerts", json_object_new_int((int)n));
	if (json_object_object_get_ex(o, "groupKey", &v) &&
	    api_json_str(v) != NULL)
		json_object_object_add(d, "groupKey", json_object_get(v));
	if (audit_change(r, p[0], "alertmanager", AUDIT_NO_VERSION, d) == -1)
		goto out;
	body = arena_printf(r->arena, "{\"alerts\":%zu,\"opened\":%s,"
	    "\"deduplicated\":%s,\"resolved\":%s}", n, PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	http_send_json(r, 202, body, strlen(body));
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* Alert rules */

/* A number member; 1 set, 0 absent, -1 answered. */
static int
num_field(struct req *r, struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double)) {
		api_invalid(r, "spec.%s: must be a number", key);
		return -1;
	}
	return 1;
}

/* A duration member (default def when absent); 0 or -1 answered. */
static int
dur_field(struct req *r, struct json_object *spec, const char *key,
    const char *def)
{
	const char	*s;

	if (api_str_member(r, spec, key, key, API_NULL_ABSENT, &s) == -1)
		return -1;
	if (s == NULL) {
		json_object_object_add(spec, key, json_object_new_string(def));
		return 0;
	}
	if (!duration_ok(s)) {
		api_invalid(r, "spec.%s: \"%s\" is not a duration such as "
		    "\"30s\", \"5m\", \"1h\"", key, s);
		return -1;
	}
	return 0;
}

/* A monitor_down selector: a monitor name in which * stands for any
 * characters ("*", "shop-*"). */
static int
monitor_selector_ok(const char *s)
{
	size_t	 n = strlen(s);

	return n > 0 && n <= 75 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-*") == n;
}

/*
 * An AlertRule document: {"kind":"AlertRule","metadata":{"name"},
 * "spec":{…}}.  Fills the defaults into spec (severity high but for
 * slo_burn rules, enabled true, channels [], for 0s, window 5m,
 * aggregate avg) so the stored document says what the evaluator does.  Returns the spec as text,
 * or NULL after answering 400.
 */
static const char *
rule_parse(struct req *r, const char *path_name, const char **name)
{
	static const char *const top[] = { "kind", "metadata", "spec",
	    "status", NULL };
	static const char *const common[] = { "type", "severity", "channels",
	    "enabled", "description", "for", NULL };
	static const char *const th[] = { "metric", "windowKey", "window",
	    "aggregate", "op", "threshold", NULL };
	static const char *const aggs[] = { "avg", "sum", "max", "min",
	    "count", NULL };
	static const char *const ops[] = { ">", ">=", "<", "<=", NULL };
	static const char *const types[] = { "threshold", "slo_burn",
	    "monitor_down", NULL };
	struct json_object	*o = r->json, *md, *spec, *v, *e;
	const char		*s, *type;
	size_t			 i, n;

	if (!json_object_is_type(o, json_type_object) ||
	    api_only_members(r, o, "", top, "an AlertRule has kind, metadata "
	    "and spec") == -1) {
		if (!r->headers_sent && !r->held.set)
			api_invalid(r, "the body must be an AlertRule document");
		return NULL;
	}
	if (json_object_object_get_ex(o, "kind", &v) &&
	    ((s = api_json_str(v)) == NULL || strcmp(s, "AlertRule") != 0)) {
		api_invalid(r, "kind: must be \"AlertRule\"");
		return NULL;
	}
	*name = path_name;
	if (json_object_object_get_ex(o, "metadata", &md) &&
	    json_object_is_type(md, json_type_object) &&
	    json_object_object_get_ex(md, "name", &v)) {
		if ((s = api_json_str(v)) == NULL) {
			api_invalid(r, "metadata.name: must be a string");
			return NULL;
		}
		if (path_name != NULL && strcmp(s, path_name) != 0) {
			api_invalid(r, "metadata.name: \"%s\" differs from the "
			    "rule in the path (\"%s\")", s, path_name);
			return NULL;
		}
		*name = s;
	}
	if (*name == NULL || !validate_name(*name)) {
		api_invalid(r, "metadata.name: required, 1-75 characters of "
		    "[a-zA-Z0-9_.-]");
		return NULL;
	}
	if (!json_object_object_get_ex(o, "spec", &spec) ||
	    !json_object_is_type(spec, json_type_object)) {
		api_invalid(r, "spec: required, an object");
		return NULL;
	}
	if (!json_object_object_get_ex(spec, "type", &v) ||
	    (type = api_json_str(v)) == NULL) {
		api_invalid(r, "spec.type: required: threshold, slo_burn or "
		    "monitor_down");
		return NULL;
	}
	if (!one_of(type, types)) {
		api_invalid(r, "spec.type: \"%s\" is not threshold, slo_burn "
		    "or monitor_down", type);
		return NULL;
	}
	json_object_object_foreach(spec, k, val) {
		(void)val;
		if (one_of(k, common))
			continue;
		if ((strcmp(type, "threshold") == 0 && one_of(k, th)) ||
		    (strcmp(type, "slo_burn") == 0 && strcmp(k, "slo") == 0) ||
		    (strcmp(type, "monitor_down") == 0 &&
		    strcmp(k, "monitors") == 0))
			continue;
		api_invalid(r, "spec.%s: unknown field for a %s rule", k, type);
		return NULL;
	}
	if (api_str_member(r, spec, "severity", "spec.severity",
	    API_NULL_ABSENT, &s) == -1)
		return NULL;
	/* slo_burn without one: critical for page alerts, medium for
	 * ticket alerts (SPEC §10). */
	if (s == NULL && strcmp(type, "slo_burn") != 0)
		json_object_object_add(spec, "severity",
		    json_object_new_string("high"));
	else if (s != NULL && !one_of(s, severities)) {
		api_invalid(r, "spec.severity: must be low, medium, high or "
		    "critical");
		return NULL;
	}
	if (!json_object_object_get_ex(spec, "enabled", &v))
		json_object_object_add(spec, "enabled",
		    json_object_new_boolean(1));
	else if (!json_object_is_type(v, json_type_boolean)) {
		api_invalid(r, "spec.enabled: must be true or false");
		return NULL;
	}
	if (!json_object_object_get_ex(spec, "channels", &v))
		json_object_object_add(spec, "channels",
		    json_object_new_array());
	else {
		if (!json_object_is_type(v, json_type_array)) {
			api_invalid(r, "spec.channels: must be an array of "
			    "channel names");
			return NULL;
		}
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(v, i);
			if ((s = api_json_str(e)) == NULL ||
			    !validate_name(s)) {
				api_invalid(r, "spec.channels[%zu]: must be a "
				    "channel name", i);
				return NULL;
			}
		}
	}
	if (dur_field(r, spec, "for", "0s") == -1)
		return NULL;
	if (strcmp(type, "threshold") == 0) {
		if (api_str_member(r, spec, "metric", "spec.metric",
		    API_NULL_ABSENT, &s) == -1)
			return NULL;
		if (s == NULL || *s == '\0') {
			api_invalid(r, "spec.metric: required, the metric name");
			return NULL;
		}
		if (api_str_member(r, spec, "windowKey", "spec.windowKey",
		    API_NULL_ABSENT, &s) == -1)
			return NULL;
		if (dur_field(r, spec, "window", "5m") == -1)
			return NULL;
		if (api_str_member(r, spec, "aggregate", "spec.aggregate",
		    API_NULL_ABSENT, &s) == -1)
			return NULL;
		if (s == NULL)
			json_object_object_add(spec, "aggregate",
			    json_object_new_string("avg"));
		else if (!one_of(s, aggs)) {
			api_invalid(r, "spec.aggregate: must be avg, sum, max, "
			    "min or count");
			return NULL;
		}
		if (api_str_member(r, spec, "op", "spec.op", API_NULL_ABSENT,
		    &s) == -1)
			return NULL;
		if (s == NULL || !one_of(s, ops)) {
			api_invalid(r, "spec.op: required, one of >, >=, <, <=");
			return NULL;
		}
		if (num_field(r, spec, "threshold") != 1) {
			if (!r->headers_sent && !r->held.set)
				api_invalid(r, "spec.threshold: required, a "
				    "number");
			return NULL;
		}
	} else if (strcmp(type, "slo_burn") == 0) {
		if (api_str_member(r, spec, "slo", "spec.slo", API_NULL_ABSENT,
		    &s) == -1)
			return NULL;
		if (s == NULL || !validate_name(s)) {
			api_invalid(r, "spec.slo: required, an SLO name");
			return NULL;
		}
	} else {
		if (!json_object_object_get_ex(spec, "monitors", &v) ||
		    !json_object_is_type(v, json_type_array) ||
		    (n = json_object_array_length(v)) == 0) {
			api_invalid(r, "spec.monitors: required, a non-empty "
			    "array of monitor names or [\"*\"]");
			return NULL;
		}
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(v, i);
			if ((s = api_json_str(e)) == NULL ||
			    !monitor_selector_ok(s)) {
				api_invalid(r, "spec.monitors[%zu]: must be a "
				    "monitor name, a name with * wildcards "
				    "(\"shop-*\") or \"*\"", i);
				return NULL;
			}
		}
	}
	return json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
}

static void
api_rules_list(struct req *r)
{
	send_docs(r, HB_RULE_LIST);
}

static void
api_rule_get(struct req *r)
{
	const char	*p[2];

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	send_versioned(r, HB_RULE_GET, p, "alert rule");
}

static void
api_rule_create(struct req *r)
{
	const char	*p[4], *name;
	PGresult	*res;

	p[0] = api_param(r, "project");
	if ((p[2] = rule_parse(r, NULL, &name)) == NULL)
		return;
	p[1] = name;
	p[3] = r->actor;
	if ((res = api_run(r, &hub_stmts, HB_RULE_CREATE, 4, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		http_error(r, 409, "conflict", "alert rule \"%s\" already "
		    "exists", name);
		goto out;
	}
	if (audit_change(r, p[0], name, api_val_long(res, 1), NULL) == -1)
		goto out;
	http_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 1));
	http_header(r, "Location", "/api/v1/projects/%s/alert-rules/%s", p[0],
	    name);
	api_send_col(r, 201, res, 0);
out:
	PQclear(res);
}

static void
api_rule_update(struct req *r)
{
	const char	*p[5], *name;
	char		 ver[24];
	PGresult	*res;
	int		 im;

	p[0] = api_param(r, "project");
	if ((p[2] = rule_parse(r, api_param(r, "name"), &name)) == NULL)
		return;
	p[1] = name;
	p[3] = r->actor;
	if ((im = if_match_version(r, ver, sizeof(ver), 0)) == -1)
		return;
	p[4] = im == 1 ? ver : NULL;
	if ((res = run1(r, HB_RULE_UPDATE, 5, p)) == NULL)
		return;
	if (!api_val_bool(res, 0)) {
		not_found(r, "alert rule", name);
		goto out;
	}
	if (api_val_null(res, 2)) {
		http_error(r, 412, "version_mismatch", "alert rule \"%s\" "
		    "is at version %s, not %s", name, api_val(res, 1), ver);
		goto out;
	}
	if (audit_change(r, p[0], name, api_val_long(res, 3), NULL) == -1)
		goto out;
	http_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 3));
	api_send_col(r, 200, res, 2);
out:
	PQclear(res);
}

static void
api_rule_delete(struct req *r)
{
	delete_one(r, HB_RULE_DELETE, "name", 1, "alert rule");
}

/* ------------------------------------------------------------------ */
/* Integration keys */

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A new key in buf (KEY_LEN + 1); -1 (fail closed) without randomness. */
static int
key_new(char *buf)
{
	unsigned char	 raw[KEY_BYTES];
	size_t		 got = 0, i, o;
	ssize_t		 n;
	unsigned long	 w;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("getrandom failed: %s", n == -1 ?
			    strerror(errno) : "no bytes");
			explicit_bzero(raw, sizeof(raw));
			return -1;
		}
		got += (size_t)n;
	}
	memcpy(buf, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	o = sizeof(KEY_PREFIX) - 1;
	/* 32 bytes: ten groups of three and two left (43 characters). */
	for (i = 0; i + 2 < sizeof(raw); i += 3) {
		w = (unsigned long)raw[i] << 16 | raw[i + 1] << 8 | raw[i + 2];
		buf[o++] = b64url_chars[w >> 18 & 63];
		buf[o++] = b64url_chars[w >> 12 & 63];
		buf[o++] = b64url_chars[w >> 6 & 63];
		buf[o++] = b64url_chars[w & 63];
	}
	w = (unsigned long)raw[i] << 16 | raw[i + 1] << 8;
	buf[o++] = b64url_chars[w >> 18 & 63];
	buf[o++] = b64url_chars[w >> 12 & 63];
	buf[o++] = b64url_chars[w >> 6 & 63];
	buf[o] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

static void
api_keys_list(struct req *r)
{
	send_docs(r, HB_KEY_LIST);
}

struct key_in {
	const char	*name;
};

static const struct api_field key_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .min = 1, .max = TITLE_MAX,
	  .at = API_AT(struct key_in, name) },
};
static const struct api_body key_body = { API_FIELDS(key_fields),
	"an integration key has a name", "the body must be {\"name\"}" };

static void
api_key_create(struct req *r)
{
	struct key_in		 in = { NULL };
	struct json_object	*d;
	const char		*p[4];
	char			 key[KEY_LEN + 1];
	PGresult		*res;

	if (api_body(r, &key_body, &in) == -1)
		return;
	p[0] = api_param(r, "project");
	p[1] = in.name;
	if (key_new(key) == -1) {
		http_error(r, 500, "internal_error", "no randomness for a key");
		return;
	}
	p[2] = key;
	p[3] = r->actor;
	res = run1(r, HB_KEY_CREATE, 4, p);
	explicit_bzero(key, sizeof(key));
	if (res == NULL)
		return;
	d = json_object_new_object();
	json_object_object_add(d, "name", json_object_new_string(p[1]));
	if (audit_change(r, p[0], api_val(res, 0), AUDIT_NO_VERSION, d) == 0) {
		http_header(r, "Cache-Control", "no-store");
		api_send_col(r, 201, res, 1);
	}
	PQclear(res);
}

static void
api_key_revoke(struct req *r)
{
	if (!uuid_ok(api_param(r, "id")))
		not_found(r, "integration key", api_param(r, "id"));
	else
		delete_one(r, HB_KEY_REVOKE, "id", 0, "integration key");
}

/* ------------------------------------------------------------------ */
/* Notification channels of the hub */

static void
api_channels_list(struct req *r)
{
	send_docs(r, HB_CH_LIST);
}

/* PUT …/hub-channels/{name} {"type","url","allIncidents"}: create or replace. */
struct channel_in {
	const char	*name;		/* NULL: the path's */
	const char	*type;
	const char	*url;
	int		 all;
};

static const char *const channel_types[] = { "webhook", "slack", NULL };

static const struct api_field channel_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct channel_in, name) },
	{ .name = "type", .type = API_ENUM, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .values = channel_types,
	  .at = API_AT(struct channel_in, type) },
	{ .name = "url", .type = API_STRING, .flags = API_REQUIRED |
	  API_NULL_ABSENT, .min = 1, .max = 2000,
	  .at = API_AT(struct channel_in, url) },
	{ .name = "allIncidents", .type = API_BOOL,
	  .at = API_AT(struct channel_in, all) },
};
static const struct api_body channel_body = { API_FIELDS(channel_fields),
	"a channel has type, url and allIncidents", "the body must be a "
	"channel: {\"type\",\"url\",\"allIncidents\"}" };

static void
api_channel_put(struct req *r)
{
	struct channel_in	 in = { NULL, NULL, NULL, 1 };
	const char		*p[6];
	PGresult		*res;
	int			 created;

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	if (!validate_name(p[1])) {
		api_invalid(r, "name: \"%s\" is not a valid name: 1-75 "
		    "characters of [a-zA-Z0-9_.-]", p[1]);
		return;
	}
	if (api_body(r, &channel_body, &in) == -1)
		return;
	if (in.name != NULL && strcmp(in.name, p[1]) != 0) {
		api_invalid(r, "name: \"%s\" differs from the channel in the "
		    "path", in.name);
		return;
	}
	if (strncmp(in.url, "http://", 7) != 0 &&
	    strncmp(in.url, "https://", 8) != 0) {
		api_invalid(r, "url: required, an http:// or https:// URL");
		return;
	}
	p[2] = in.type;
	p[3] = in.url;
	p[4] = in.all ? "t" : "f";
	p[5] = r->actor;
	if ((res = run1(r, HB_CH_PUT, 6, p)) == NULL)
		return;
	created = api_val_bool(res, 0);
	if (audit_change(r, p[0], p[1], AUDIT_NO_VERSION, NULL) == 0)
		api_send_col(r, created ? 201 : 200, res, 1);
	PQclear(res);
}

static void
api_channel_delete(struct req *r)
{
	delete_one(r, HB_CH_DELETE, "name", 0, "channel");
}

/* ------------------------------------------------------------------ */
/* The module */

static const struct route routes[] = {
	{ "POST", ROUTE_PROJECT "/events", api_events_post, R_API,
	    ROLE_EDITOR, NULL },
	{ "GET", ROUTE_PROJECT "/events", api_events_list, R_API,
	    ROLE_VIEWER, NULL },
	{ "GET", ROUTE_PROJECT "/incidents", api_incidents_list, R_API,
	    ROLE_VIEWER, NULL },
	{ "POST", ROUTE_PROJECT "/incidents", api_incident_create,
	    R_API | R_JSON, ROLE_EDITOR, "incident.trigger" },
	{ "GET", ROUTE_PROJECT "/incidents/{id}", api_incident_get, R_API,
	    ROLE_VIEWER, NULL },
	{ "PUT", ROUTE_PROJECT "/incidents/{id}/status", api_incident_status,
	    R_API | R_JSON, ROLE_EDITOR, "incident.status" },
	{ "POST", "/v2/enqueue", api_pd_enqueue, R_DB | R_JSON | R_ONE_STMT,
	    ROLE_NONE, "incident.enqueue" },
	{ "POST", ROUTE_PROJECT "/alertmanager", api_alertmanager,
	    R_API | R_JSON, ROLE_EDITOR, "incident.alertmanager" },
	{ "GET", ROUTE_PROJECT "/alert-rules", api_rules_list, R_API,
	    ROLE_VIEWER, NULL },
	{ "POST", ROUTE_PROJECT "/alert-rules", api_rule_create,
	    R_API | R_JSON, ROLE_EDITOR, "alert_rule.create" },
	{ "GET", ROUTE_PROJECT "/alert-rules/{name}", api_rule_get, R_API,
	    ROLE_VIEWER, NULL },
	{ "PUT", ROUTE_PROJECT "/alert-rules/{name}", api_rule_update,
	    R_API | R_JSON, ROLE_EDITOR, "alert_rule.update" },
	{ "DELETE", ROUTE_PROJECT "/alert-rules/{name}", api_rule_delete,
	    R_API, ROLE_EDITOR, "alert_rule.delete" },
	{ "GET", ROUTE_PROJECT "/integrations", api_keys_list, R_API,
	    ROLE_ADMIN, NULL },
	{ "POST", ROUTE_PROJECT "/integrations", api_key_create,
	    R_API | R_JSON, ROLE_ADMIN, "integration.create" },
	{ "DELETE", ROUTE_PROJECT "/integrations/{id}", api_key_revoke,
	    R_API, ROLE_ADMIN, "integration.revoke" },
	{ "GET", ROUTE_PROJECT "/hub-channels", api_channels_list, R_API,
	    ROLE_VIEWER, NULL },
	{ "PUT", ROUTE_PROJECT "/hub-channels/{name}", api_channel_put,
	    R_API | R_JSON, ROLE_EDITOR, "hub_channel.put" },
	{ "DELETE", ROUTE_PROJECT "/hub-channels/{name}", api_channel_delete,
	    R_API, ROLE_EDITOR, "hub_channel.delete" },
};

static const struct stmt_set *const stmt_sets[] = { &hub_stmts, NULL };

/* Event partitions a week ahead; past hub.events_retention dropped. */
static int
p_retention(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", (long long)cfg->hub.events_retention);
	return cfg->hub.events_retention > 0;
}

/* Each job waits for migration 0010 (maintenance may meet a schema
 * that is behind: a partial upgrade; t/10 applies 0001 alone). */
static const struct job jobs[] = {
	{ "hub_event_partitions", "created",
	  "SELECT hub_event_partitions(7)", NULL, NULL, 10 },
	{ "hub_event_retention", "dropped_partitions",
	  "SELECT partition_drop_before('raw_event',"
	  " now() - $1::bigint * interval '1 millisecond')",
	  p_retention, "hub.events_retention is 0 (keep forever)", 10 },
	{ "hub_metrics_retention", "deleted",
	  "SELECT hub_metrics_drop_before(now() -"
	  " $1::bigint * interval '1 millisecond')",
	  p_retention, "hub.events_retention is 0 (keep forever)", 10 },
};

static const struct proc_kind procs[] = {
	{ "evaluator", 0, evaluator_count, evaluator_main },
};

const struct module hub_module = {
	.name = "hub",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = jobs,
	.njobs = sizeof(jobs) / sizeof(jobs[0]),
	.procs = procs,
	.nprocs = sizeof(procs) / sizeof(procs[0]),
	.demo = &hub_demo,
};
