/*
 * hub_demo.c -- `dashcgi demo-data --incidents` (SPEC §8, §10): a
 * believable incident-hub history in the demo project, generated in
 * PostgreSQL.
 *
 * Owns: the plan of the history (HD_PLAN: 24 incidents from ten
 * templates -- threshold, slo_burn and monitor_down rules, a monitor,
 * PagerDuty, Alertmanager and API sources -- with their lifecycles,
 * all from hashes of the seed and times from the end of the data) and
 * the order in which it is played.  The incidents go through the real
 * triggers of migration 0010, so their timelines and notifications
 * (bodies, channels) are what the hub itself would have written; only
 * their times and delivery outcomes are then set to the plan's.
 * Batches of ten incidents are played one after another, so no two
 * incidents with one dedup key are ever open together.
 * Never: leave a notification pending (the evaluator would send the
 * history); keep an integration key anyone could know (the demo's key
 * hashes random bytes); use random() (the seed decides everything but
 * the uuids).
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "api/hub_demo.h"
#include "config.h"
#include "db.h"
#include "demo.h"
#include "evaluator.h"
#include "log.h"

#define HD_BATCHES	3	/* of ten incidents; the last holds the open ones */
#define HD_STEPS	5	/* ack, resolve, reopen, resolve again, close */

struct hub_demo_opts {
	long	 incidents;
};

static const struct hub_demo_opts hub_demo_defaults = { 0 };

static const struct demo_flag hub_demo_flags[] = {
	DEMO_FLAG(struct hub_demo_opts, "--incidents", DEMO_SET, incidents,
	    0, 0, "incident hub history: rules, incidents, notifications"),
};

enum {
	HD_CLEAR, HD_CHANNELS, HD_RULES, HD_PLAN_TABLE, HD_PLAN, HD_INSERT,
	HD_STEP, HD_FIX, HD_FINISH, HD_EVENTS, HD_SUMMARY,
	HD__COUNT
};

static const struct stmt_def hd_sql[HD__COUNT] = {
	/* $1 project: its hub data goes (the timelines and notifications
	 * with the incidents). */
	[HD_CLEAR] = { "hub_demo_clear",
	    "WITH i AS (DELETE FROM incident WHERE project = $1::text),"
	    " r AS (DELETE FROM alert_rule WHERE project = $1::text),"
	    " c AS (DELETE FROM hub_channel WHERE project = $1::text),"
	    " k AS (DELETE FROM integration_key WHERE project = $1::text"
	    " AND created_by = 'demo-data'),"
	    " m AS (DELETE FROM metrics_agg WHERE project = $1::text"
	    " AND metric_type IN ('latency_ms', 'errors', 'p95_ms'))"
	    " DELETE FROM raw_event WHERE project = $1::text"
	    " AND topic IN ('checkout.metrics', 'payments.logs',"
	    " 'search.metrics')", 1 },
	/*
	 * Two channels on a port nothing listens on (the live evaluator's
	 * new notifications fail there, as a broken hook does) and the
	 * integration key the PagerDuty incidents came in with.
	 */
	[HD_CHANNELS] = { "hub_demo_channels",
	    "WITH c AS (INSERT INTO hub_channel (project, name, type, url,"
	    " all_incidents, created_at, created_by) VALUES"
	    " ($1::text, 'ops-webhook', 'webhook', 'http://127.0.0.1:9/hooks/ops',"
	    " true, $2::timestamptz - interval '30 days', 'carol'),"
	    " ($1::text, 'sre-slack', 'slack', 'http://127.0.0.1:9/slack/sre',"
	    " false, $2::timestamptz - interval '30 days', 'carol'))"
	    " INSERT INTO integration_key (project, name, key_hash, created_at,"
	    " created_by, last_used_at) VALUES ($1::text, 'Datadog (demo)',"
	    " sha256(convert_to(gen_random_uuid()::text || gen_random_uuid(),"
	    " 'UTF8')), $2::timestamptz - interval '30 days', 'demo-data',"
	    " $2::timestamptz - interval '2 hours')", 2 },
	/*
	 * $1 project, $2 end.  Three threshold rules (one disabled), an
	 * slo_burn rule for each of the three least healthy SLOs of the
	 * plan (page and ticket alerts choose the severity), two
	 * monitor_down rules.
	 */
	[HD_RULES] = { "hub_demo_rules",
	    "INSERT INTO alert_rule (project, name, spec, created_at,"
	    " created_by, updated_at, updated_by)"
	    " SELECT $1::text, name, spec, $2::timestamptz - interval '21 days',"
	    " 'carol', $2::timestamptz - interval '21 days', 'carol' FROM ("
	    " VALUES ('checkout-latency', jsonb_build_object('type', 'threshold',"
	    " 'metric', 'latency_ms', 'windowKey', 'checkout', 'window', '5m',"
	    " 'aggregate', 'avg', 'op', '>', 'threshold', 250, 'for', '2m',"
	    " 'severity', 'high', 'channels', jsonb_build_array('ops-webhook'),"
	    " 'enabled', true, 'description',"
	    " 'Checkout latency above 250 ms (5 min average)')),"
	    " ('payments-errors', jsonb_build_object('type', 'threshold',"
	    " 'metric', 'errors', 'windowKey', 'payments', 'window', '5m',"
	    " 'aggregate', 'count', 'op', '>', 'threshold', 25, 'for', '1m',"
	    " 'severity', 'critical', 'channels',"
	    " jsonb_build_array('ops-webhook', 'sre-slack'), 'enabled', true,"
	    " 'description', 'Payments errors above 25 in 5 minutes')),"
	    " ('search-p95', jsonb_build_object('type', 'threshold',"
	    " 'metric', 'p95_ms', 'windowKey', 'search', 'window', '15m',"
	    " 'aggregate', 'max', 'op', '>', 'threshold', 1500, 'for', '5m',"
	    " 'severity', 'medium', 'channels', jsonb_build_array('sre-slack'),"
	    " 'enabled', false)),"
	    " ('shop-down', jsonb_build_object('type', 'monitor_down',"
	    " 'monitors', jsonb_build_array('shop-*'), 'for', '1m',"
	    " 'severity', 'high', 'channels',"
	    " jsonb_build_array('ops-webhook', 'sre-slack'), 'enabled', true)),"
	    " ('any-monitor-down', jsonb_build_object('type', 'monitor_down',"
	    " 'monitors', jsonb_build_array('*'), 'for', '5m',"
	    " 'severity', 'medium', 'channels', jsonb_build_array('sre-slack'),"
	    " 'enabled', true))) v (name, spec)"
	    " UNION ALL SELECT $1::text, left('burn-' || s.name, 75),"
	    " jsonb_build_object('type', 'slo_burn', 'slo', s.name, 'for', '0s',"
	    " 'channels', jsonb_build_array(CASE WHEN s.rk = 1"
	    " THEN 'ops-webhook' ELSE 'sre-slack' END), 'enabled', true),"
	    " $2::timestamptz - interval '14 days', 'carol',"
	    " $2::timestamptz - interval '14 days', 'carol'"
	    " FROM (SELECT o.name, row_number() OVER (ORDER BY"
	    " array_position(ARRAY['breached', 'critical', 'moderate', 'minor',"
	    " 'healthy'], substring(o.spec ->> 'description' FROM '\\((\\w+)\\)')),"
	    " o.name) AS rk FROM slo o WHERE o.project = $1::text) s"
	    " WHERE s.rk <= 3", 2 },
	[HD_PLAN_TABLE] = { "hub_demo_plan_table",
	    "CREATE TEMP TABLE hub_demo_plan (i int, batch int, id uuid,"
	    " title text, severity text, source text, dedup_key text, rule text,"
	    " count int, meta jsonb, opener text, last_seen timestamptz,"
	    " steps text[], actors text[], notes text[], times timestamptz[])"
	    " ON COMMIT DROP", 0 },
	/*
	 * $1 project, $2 seed, $3 end, $4 days.  Incident i (1..24) starts
	 * at a time spread over the last min(days, 14) days, oldest first;
	 * u[] are uniform in [0, 1) from the seed.  The four newest stay
	 * open (two acknowledged) and come from sources no live rule or
	 * monitor resolves; the others are resolved, some acknowledged
	 * first, one in seven reopened once, the older half of them closed.
	 */
	[HD_PLAN] = { "hub_demo_plan",
	    "INSERT INTO hub_demo_plan"
	    " WITH u AS (SELECT i, array_agg((abs(hashint8extended(i * 16 + k,"
	    " $2::bigint)) % 1000000)::float8 / 1e6 ORDER BY k) AS u"
	    " FROM generate_series(1, 24) i, generate_series(0, 9) k GROUP BY i),"
	    " burn AS (SELECT row_number() OVER (ORDER BY r.created_at, r.name)"
	    " - 1 AS n, r.name, r.spec ->> 'slo' AS slo FROM alert_rule r"
	    " WHERE r.project = $1::text AND r.spec ->> 'type' = 'slo_burn'),"
	    " pd AS (SELECT 'integration:' || k.id AS actor FROM integration_key k"
	    " WHERE k.project = $1::text AND k.created_by = 'demo-data' LIMIT 1),"
	    " p0 AS (SELECT u.i, u.u, CASE WHEN u.i > 20 THEN 7 + (24 - u.i)"
	    " ELSE 1 + (u.i - 1) % 10 END AS t,"
	    " $3::timestamptz - least($4::int, 14) * interval '1 day'"
	    " * (1 - (u.i - 0.9 + 0.5 * u.u[1]) / 24.0) AS t0 FROM u),"
	    /* Templates 3 and 4 (slo_burn) fall back to 1 without SLOs. */
	    " p1 AS (SELECT p0.*, CASE WHEN p0.t IN (3, 4) AND NOT EXISTS"
	    " (SELECT 1 FROM burn) THEN 1 ELSE p0.t END AS tt FROM p0),"
	    " p2 AS (SELECT p1.*, b.name AS burn, b.slo,"
	    " CASE tt WHEN 1 THEN 'checkout-latency' WHEN 2 THEN 'payments-errors'"
	    " WHEN 3 THEN b.name WHEN 4 THEN b.name WHEN 5 THEN 'shop-down' END"
	    " AS rule,"
	    " CASE WHEN tt <= 5 THEN 'rule' WHEN tt = 6 THEN 'monitor'"
	    " WHEN tt = 7 THEN 'datadog' WHEN tt = 8 THEN 'alertmanager'"
	    " WHEN tt = 9 THEN 'api' ELSE 'cert-check' END AS source,"
	    " (ARRAY['high', 'critical', 'critical', 'medium', 'high', 'high',"
	    " 'high', 'medium', 'low', 'low'])[tt] AS severity,"
	    " CASE WHEN tt <= 5 THEN 'evaluator' WHEN tt = 6"
	    " THEN 'monitor:shop-search' WHEN tt IN (7, 10) THEN"
	    " coalesce((SELECT actor FROM pd), 'integration')"
	    " WHEN tt = 8 THEN 'alice' ELSE 'carol' END AS opener,"
	    " least(p1.t0 + (12 + 170 * p1.u[5] * p1.u[5]) * interval '1 minute',"
	    " $3::timestamptz - interval '10 minutes') AS t_res"
	    " FROM p1 LEFT JOIN burn b ON b.n = p1.i % greatest((SELECT count(*)"
	    " FROM burn), 1)),"
	    " p3 AS (SELECT p2.*,"
	    " CASE rule WHEN 'checkout-latency' THEN 'Checkout latency above 250 ms"
	    " (5 min average)' WHEN 'payments-errors' THEN 'Payments errors above"
	    " 25 in 5 minutes' WHEN 'shop-down' THEN 'shop-down: monitors down"
	    " (shop-*)' ELSE CASE tt WHEN 6 THEN 'Monitor shop-search is down:"
	    " HTTP 503' WHEN 7 THEN 'Disk usage above 90 % on db-2' WHEN 8"
	    " THEN 'Pod payments-api-7d9f restarting (CrashLoopBackOff)' WHEN 9"
	    " THEN 'Nightly export to the data warehouse failed' WHEN 10 THEN"
	    " 'TLS certificate for shop.example.com expires in 7 days'"
	    " ELSE rule || ': SLO ' || slo || ' is burning its error budget'"
	    " END END AS title,"
	    " CASE WHEN rule IS NOT NULL THEN 'rule:' || $1::text || '/' || rule"
	    " WHEN tt = 6 THEN 'monitor:' || $1::text || '/shop-search'"
	    " WHEN tt IN (7, 10) THEN 'pd-' || left(md5($2::text || '/' || i), 12)"
	    " WHEN tt = 8 THEN left(md5('am/' || $2::text || '/' || i), 16)"
	    " ELSE 'export-' || to_char(t0 AT TIME ZONE 'UTC', 'YYYYMMDD') END"
	    " AS dedup_key,"
	    " CASE WHEN tt IN (7, 8, 10) THEN 1 + floor(30 * u[3] * u[3])::int"
	    " ELSE 1 END AS count,"
	    " i <= 20 AS res, CASE WHEN i > 20 THEN i IN (21, 23)"
	    " ELSE u[2] < 0.6 END AS ack,"
	    " i <= 20 AND i % 7 = 3 AS reopen,"
	    " i <= 10 AND u[6] < 0.7 AS closed,"
	    " t0 + (2 + 13 * u[4]) * interval '1 minute' AS t_ack"
	    " FROM p2),"
	    " p4 AS (SELECT p3.*,"
	    " CASE WHEN tt <= 5 THEN 'evaluator' WHEN tt = 6 THEN opener"
	    " WHEN tt IN (7, 10) THEN opener WHEN tt = 8 THEN 'alice'"
	    " ELSE 'carol' END AS resolver,"
	    " CASE WHEN tt <= 5 THEN 'the rule stopped firing' WHEN tt = 6"
	    " THEN 'back up' WHEN tt IN (7, 10) THEN 'resolved via the Events API'"
	    " WHEN tt = 8 THEN 'resolved by Alertmanager'"
	    " ELSE 'export re-run by hand' END AS res_note,"
	    " CASE WHEN i % 2 = 0 THEN 'alice' ELSE 'carol' END AS acker,"
	    " (ARRAY['on it', 'looking into it', 'rolling back the last deploy',"
	    " 'paged the DBA', 'scaling out the pool'])[1 + i % 5] AS ack_note"
	    " FROM p3) "
	    "SELECT i, (i - 1) / 10, gen_random_uuid(), title, severity, source,"
	    " dedup_key, rule, count,"
	    " CASE WHEN rule IS NOT NULL AND tt = 5 THEN jsonb_build_object('rule',"
	    " rule, 'value', 1, 'monitors', jsonb_build_array('shop-api'))"
	    " WHEN rule IS NOT NULL AND tt IN (3, 4) THEN jsonb_build_object('rule',"
	    " rule, 'slo', slo, 'value', round((20 + 40 * u[7])::numeric, 2),"
	    " 'alerts', jsonb_build_array(jsonb_build_object('severity', CASE tt"
	    " WHEN 3 THEN 'page' ELSE 'ticket' END, 'long', CASE tt WHEN 3"
	    " THEN '1h' ELSE '1d' END, 'short', CASE tt WHEN 3 THEN '5m' ELSE"
	    " '2h' END)))"
	    " WHEN rule IS NOT NULL THEN jsonb_build_object('rule', rule, 'value',"
	    " CASE tt WHEN 1 THEN 250 + floor(300 * u[7]) ELSE 26 + floor(40"
	    " * u[7]) END, 'op', '>', 'threshold', CASE tt WHEN 1 THEN 250"
	    " ELSE 25 END, 'window', '5m')"
	    " WHEN tt = 6 THEN jsonb_build_object('monitor', 'shop-search',"
	    " 'error', 'HTTP 503')"
	    " WHEN tt IN (7, 10) THEN jsonb_build_object('payload',"
	    " jsonb_build_object('summary', title, 'source', source,"
	    " 'severity', CASE tt WHEN 7 THEN 'error' ELSE 'info' END))"
	    " WHEN tt = 8 THEN jsonb_build_object('labels', jsonb_build_object("
	    " 'alertname', 'KubePodCrashLooping', 'namespace', 'payments', 'pod',"
	    " 'payments-api-7d9f', 'severity', 'warning'), 'annotations',"
	    " jsonb_build_object('summary', title))"
	    " ELSE jsonb_build_object('job', 'warehouse-export') END,"
	    " opener,"
	    " CASE WHEN res THEN t0 + (t_res - t0) * 0.8"
	    " ELSE greatest(t0, $3::timestamptz - (1 + 20 * u[8])"
	    " * interval '1 minute') END,"
	    " array_remove(ARRAY[CASE WHEN ack THEN 'investigating' END,"
	    " CASE WHEN res THEN 'resolved' END, CASE WHEN reopen THEN 'open' END,"
	    " CASE WHEN reopen THEN 'resolved' END,"
	    " CASE WHEN closed THEN 'closed' END], NULL),"
	    " array_remove(ARRAY[CASE WHEN ack THEN acker END,"
	    " CASE WHEN res THEN resolver END, CASE WHEN reopen THEN 'carol' END,"
	    " CASE WHEN reopen THEN 'carol' END,"
	    " CASE WHEN closed THEN 'carol' END], NULL),"
	    " array_remove(ARRAY[CASE WHEN ack THEN ack_note END,"
	    " CASE WHEN res THEN res_note END,"
	    " CASE WHEN reopen THEN 'still failing for some customers' END,"
	    " CASE WHEN reopen THEN 'fixed for good: cache flushed' END,"
	    " CASE WHEN closed THEN 'postmortem written' END], NULL),"
	    " array_remove(ARRAY[t0, CASE WHEN ack THEN t_ack END,"
	    " CASE WHEN res THEN greatest(t_res, t_ack + interval '3 minutes') END,"
	    " CASE WHEN reopen THEN greatest(t_res, t_ack + interval '3 minutes')"
	    " + interval '6 minutes' END,"
	    " CASE WHEN reopen THEN greatest(t_res, t_ack + interval '3 minutes')"
	    " + interval '31 minutes' END,"
	    " CASE WHEN closed THEN greatest(t_res + interval '40 minutes',"
	    " t_res + ($3::timestamptz - t_res) * (0.3 + 0.5 * u[9])) END], NULL)"
	    " FROM p4", 4 },
	/* $1 project, $2 batch: its incidents open, as triggers see them. */
	[HD_INSERT] = { "hub_demo_insert",
	    "INSERT INTO incident (id, project, title, severity, status, source,"
	    " dedup_key, count, first_seen, last_seen, metadata, rule, version,"
	    " created_by, updated_at, last_actor, last_note)"
	    " SELECT id, $1::text, title, severity, 'open', source, dedup_key,"
	    " count, times[1], times[1], meta, rule, 1, opener, times[1], opener,"
	    " 'opened' FROM hub_demo_plan WHERE batch = $2::int ORDER BY i", 2 },
	/* $1 batch, $2 step: the transition of each incident that has it. */
	[HD_STEP] = { "hub_demo_step",
	    "UPDATE incident i SET status = p.steps[$2::int],"
	    " last_actor = p.actors[$2::int], last_note = p.notes[$2::int],"
	    " version = i.version + 1, updated_at = p.times[$2::int + 1],"
	    " resolved_at = CASE p.steps[$2::int] WHEN 'resolved'"
	    " THEN p.times[$2::int + 1] WHEN 'open' THEN NULL"
	    " ELSE i.resolved_at END"
	    " FROM hub_demo_plan p WHERE i.id = p.id AND p.batch = $1::int"
	    " AND cardinality(p.steps) >= $2::int", 2 },
	/*
	 * $1 batch, $2 step (0: the insert), $3 seed, $4
	 * notify_max_attempts.  What the step wrote gets its time: the
	 * newest timeline entry of each incident that had the step, and
	 * the notifications not yet attempted.  Each notification is
	 * delivered at the first attempt (78 %), after one or two failures
	 * (15 %), or never (failed after the last attempt), its history
	 * spaced by the evaluator's backoff (10 s doubling to 5 min).
	 */
	[HD_FIX] = { "hub_demo_fix",
	    "WITH tl AS (UPDATE incident_timeline t SET at = p.times[$2::int + 1]"
	    " FROM hub_demo_plan p WHERE t.incident_id = p.id"
	    " AND p.batch = $1::int AND cardinality(p.steps) >= $2::int"
	    " AND t.id = (SELECT max(x.id) FROM incident_timeline x"
	    " WHERE x.incident_id = p.id) RETURNING 1),"
	    " due AS (SELECT n.id, p.times[$2::int + 1] AS at0,"
	    " (abs(hashint8extended(p.i * 1000 + $2::int * 10"
	    " + length(n.channel), $3::bigint)) % 1000)::float8 / 1000 AS r"
	    " FROM alert_notification n JOIN hub_demo_plan p ON p.id = n.incident_id"
	    " WHERE p.batch = $1::int AND n.attempts = 0"
	    " AND cardinality(p.steps) >= $2::int),"
	    " o AS (SELECT due.*, CASE WHEN r < 0.78 THEN 1 WHEN r < 0.93"
	    " THEN 2 + (r * 1000)::int % 2 ELSE $4::int END AS att,"
	    " r < 0.93 AS ok FROM due),"
	    " h AS (SELECT o.id, o.at0, o.ok, o.att, max(a.at) AS last_at,"
	    " (array_agg(a.err ORDER BY a.k DESC) FILTER (WHERE a.err IS NOT NULL))[1]"
	    " AS last_error,"
	    " jsonb_agg(jsonb_build_object('at', rfc3339(a.at), 'attempt', a.k,"
	    " 'ok', a.good, 'httpStatus', a.code, 'error', a.err, 'ms', a.ms)"
	    " ORDER BY a.k) AS history"
	    " FROM o, LATERAL (SELECT k, o.at0 + interval '1 second'"
	    " + (SELECT coalesce(sum(least(10 * 2 ^ (j - 1), 300)), 0)"
	    " FROM generate_series(1, k - 1) j) * interval '1 second' AS at,"
	    " o.ok AND k = o.att AS good,"
	    " CASE WHEN o.ok AND k = o.att THEN 200 WHEN NOT o.ok THEN 404"
	    " WHEN k % 2 = 1 THEN 502 END AS code,"
	    " CASE WHEN o.ok AND k = o.att THEN NULL WHEN NOT o.ok THEN 'HTTP 404'"
	    " WHEN k % 2 = 1 THEN 'HTTP 502' ELSE 'Operation timed out after"
	    " 10000 milliseconds with 0 bytes received' END AS err,"
	    " CASE WHEN NOT (o.ok AND k = o.att) AND k % 2 = 0 AND o.ok"
	    " THEN 10000 ELSE 40 + (o.r * 997 * k)::int % 400 END AS ms"
	    " FROM generate_series(1, o.att) k) a"
	    " GROUP BY o.id, o.at0, o.ok, o.att)"
	    " UPDATE alert_notification n SET created_at = h.at0,"
	    " status = CASE WHEN h.ok THEN 'sent' ELSE 'failed' END,"
	    " attempts = h.att, last_error = h.last_error,"
	    " next_attempt_at = h.last_at,"
	    " sent_at = CASE WHEN h.ok THEN h.last_at END, history = h.history"
	    " FROM h WHERE n.id = h.id"
	    " RETURNING (SELECT count(*) FROM tl)", 4 },
	/* Where the incidents end: last seen as planned. */
	[HD_FINISH] = { "hub_demo_finish",
	    "UPDATE incident i SET last_seen = p.last_seen FROM hub_demo_plan p"
	    " WHERE i.id = p.id", 0 },
	/*
	 * $1 end, $2 seed, $3 slo.resolution (s): the events of the hour before the step holding
	 * --at (so that they are the same whenever the command runs; none
	 * after now, nor where raw_event has no partitions), as one JSON
	 * array for the ingest statement:
	 * checkout latency every 10 s, payments logs (3 % errors), search
	 * p95 every 30 s.
	 */
	[HD_EVENTS] = { "hub_demo_events",
	    "SELECT coalesce(jsonb_agg(e ORDER BY at, o), '[]')::text FROM ("
	    " SELECT s.at, x.o, x.e FROM generate_series($1::timestamptz"
	    " - ($3::int + 3600) * interval '1 second', $1::timestamptz"
	    " - ($3::int + 10) * interval '1 second',"
	    " interval '10 seconds') s (at),"
	    " LATERAL (SELECT (abs(hashint8extended(extract(epoch FROM s.at)::bigint,"
	    " $2::bigint)) % 1000)::float8 / 1000 AS r) h,"
	    " LATERAL (VALUES (1, jsonb_build_object('topic', 'checkout.metrics',"
	    " 'at', rfc3339(s.at), 'data', jsonb_build_object('metric',"
	    " 'latency_ms', 'service', 'checkout', 'value', round(140 + 40"
	    " * sin(extract(epoch FROM s.at) / 600.0) + 60 * h.r)))),"
	    " (2, jsonb_build_object('topic', 'payments.logs', 'at', rfc3339(s.at),"
	    " 'data', jsonb_build_object('service', 'payments', 'level',"
	    " CASE WHEN h.r < 0.03 THEN 'error' ELSE 'info' END, 'message',"
	    " CASE WHEN h.r < 0.03 THEN 'card issuer timed out'"
	    " ELSE 'payment captured' END))),"
	    " (3, CASE WHEN extract(second FROM s.at)::int % 30 = 0 THEN"
	    " jsonb_build_object('topic', 'search.metrics', 'at', rfc3339(s.at),"
	    " 'data', jsonb_build_object('metric', 'p95_ms', 'service', 'search',"
	    " 'value', round(600 + 300 * h.r))) END)) x (o, e)"
	    " WHERE x.e IS NOT NULL AND s.at >= date_trunc('day', now()"
	    " AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'"
	    " AND s.at <= now()) ev", 3 },
	/* $1 project: what there is now. */
	[HD_SUMMARY] = { "hub_demo_summary",
	    "SELECT (SELECT count(*) FROM alert_rule WHERE project = $1::text),"
	    " (SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (SELECT"
	    " spec ->> 'type' AS t, count(*) AS n FROM alert_rule"
	    " WHERE project = $1::text GROUP BY 1) x),"
	    " (SELECT count(*) FROM incident WHERE project = $1::text),"
	    " (SELECT string_agg(s || '=' || n, ' ' ORDER BY array_position("
	    " ARRAY['open', 'investigating', 'resolved', 'closed'], s)) FROM"
	    " (SELECT status AS s, count(*) AS n FROM incident"
	    " WHERE project = $1::text GROUP BY 1) x),"
	    " (SELECT count(*) FROM incident_timeline WHERE project = $1::text),"
	    " (SELECT count(*) FROM alert_notification WHERE project = $1::text),"
	    " (SELECT string_agg(s || '=' || n, ' ' ORDER BY s) FROM (SELECT"
	    " status AS s, count(*) AS n FROM alert_notification"
	    " WHERE project = $1::text GROUP BY 1) x),"
	    " (SELECT count(*) FROM raw_event WHERE project = $1::text"
	    " AND topic IN ('checkout.metrics', 'payments.logs',"
	    " 'search.metrics'))", 1 },
};

/* The hub's own event ingest statement (src/api/hub.c). */
static const struct stmt_def *
ingest_stmt(void)
{
	size_t	 i;

	for (i = 0; i < hub_stmts.n; i++)
		if (strcmp(hub_stmts.defs[i].name, "hub_events_ingest") == 0)
			return &hub_stmts.defs[i];
	return NULL;
}

/* The incidents, batch after batch, each step followed by its fix. */
static int
hd_play(PGconn *db, const char *project, const char *seed,
    const char *maxatt)
{
	const char	*p[4];
	char		 b[8], s[8];
	int		 batch, step;

	for (batch = 0; batch < HD_BATCHES; batch++) {
		snprintf(b, sizeof(b), "%d", batch);
		for (step = 0; step <= HD_STEPS; step++) {
			snprintf(s, sizeof(s), "%d", step);
			p[0] = step == 0 ? project : b;
			p[1] = step == 0 ? b : s;
			if (demo_exec(db, &hd_sql[step == 0 ? HD_INSERT :
			    HD_STEP], p, NULL) == -1)
				return -1;
			p[0] = b;
			p[1] = s;
			p[2] = seed;
			p[3] = maxatt;
			if (demo_exec(db, &hd_sql[HD_FIX], p, NULL) == -1)
				return -1;
		}
	}
	return 0;
}

static int
hub_demo_run(const struct demo_run *run, const void *opts)
{
	const struct hub_demo_opts *o = opts;
	const struct config	*cfg = run->cfg;
	const struct stmt_def	*ingest = ingest_stmt();
	PGconn			*db = run->db;
	PGresult		*res = NULL, *ev = NULL;
	const char		*p[4], *project = run->project, *end = run->end;
	char			 sd[24], dd[24], maxatt[16], resol[24];
	int			 rc = -1;

	if (!o->incidents)
		return 0;
	snprintf(sd, sizeof(sd), "%ld", run->seed);
	snprintf(dd, sizeof(dd), "%ld", run->days);
	snprintf(maxatt, sizeof(maxatt), "%d", cfg->hub.notify_max_attempts);
	snprintf(resol, sizeof(resol), "%lld",
	    (long long)(cfg->slo.resolution / 1000));
	if (demo_cmd(db, "BEGIN") == -1)
		goto out;
	p[0] = project;
	p[1] = end;
	if (demo_exec(db, &hd_sql[HD_CLEAR], p, NULL) == -1 ||
	    demo_exec(db, &hd_sql[HD_CHANNELS], p, NULL) == -1 ||
	    demo_exec(db, &hd_sql[HD_RULES], p, NULL) == -1 ||
	    demo_exec(db, &hd_sql[HD_PLAN_TABLE], NULL, NULL) == -1)
		goto fail;
	p[1] = sd;
	p[2] = end;
	p[3] = dd;
	if (demo_exec(db, &hd_sql[HD_PLAN], p, NULL) == -1 ||
	    hd_play(db, project, sd, maxatt) == -1 ||
	    demo_exec(db, &hd_sql[HD_FINISH], NULL, NULL) == -1)
		goto fail;
	p[0] = end;
	p[1] = sd;
	p[2] = resol;
	if (demo_exec(db, &hd_sql[HD_EVENTS], p, &ev) == -1)
		goto fail;
	p[0] = project;
	p[1] = PQgetvalue(ev, 0, 0);
	if (ingest == NULL) {
		log_error("demo-data: no hub_events_ingest statement");
		goto fail;
	}
	if (demo_exec(db, ingest, p, NULL) == -1)
		goto fail;
	if (demo_cmd(db, "COMMIT") == -1)
		goto out;
	if (demo_exec(db, &hd_sql[HD_SUMMARY], p, &res) == -1)
		goto out;
	printf("demo-data: incidents: %s rules (%s), %s incidents (%s), "
	    "%s timeline entries, %s notifications (%s), %s events\n",
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
	    PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7));
	rc = 0;
	goto out;
fail:
	PQclear(PQexec(db, "ROLLBACK"));
out:
	PQclear(res);
	PQclear(ev);
	return rc;
}

const struct demo hub_demo = {
	hub_demo_flags, sizeof(hub_demo_flags) / sizeof(hub_demo_flags[0]),
	sizeof(struct hub_demo_opts), &hub_demo_defaults, NULL, hub_demo_run
};
