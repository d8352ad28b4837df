/*
 * alerts.c -- the dashcgi-alerts datasource: the read half of
 * Alertmanager's v2 API over the incident hub, so Perses's
 * AlertManagerDatasource (and anything else that reads Alertmanager)
 * shows open incidents as alerts.  At
 * /proxy/globaldatasources/dashcgi-alerts/api/v2/… (every project the
 * caller reads) and /proxy/projects/{p}/datasources/dashcgi-alerts/….
 *
 * Owns: the shapes of gettableAlert, alertGroup, silences ([]: silences
 * are not implemented) and status; ?filter= matchers (Alertmanager's
 * label="value" syntax, parsed by promql.c).  PostgreSQL builds the
 * JSON; the hub owns the incidents.
 * Never: change an incident.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "api/common.h"
#include "db.h"
#include "http.h"
#include "module.h"
#include "promql.h"

enum { AL_ALERTS, AL_GROUPS, AL__COUNT };

/*
 * An open or investigating incident as an Alertmanager alert: labels
 * alertname (the rule, else the source), severity, project, dedup_key;
 * the title as the summary; the fingerprint from the dedup key.
 * $1 user, $2 admin, $3 project or NULL, $4 matchers ([[l, op, v]…]).
 */
#define ALERT_ROWS \
	"WITH a AS (SELECT i.first_seen, i.id, jsonb_build_object(" \
	" 'alertname', coalesce(i.rule, i.source), 'severity', i.severity," \
	" 'project', i.project, 'dedup_key', i.dedup_key) AS labels," \
	" json_build_object(" \
	"  'labels', jsonb_build_object('alertname', coalesce(i.rule, i.source)," \
	"   'severity', i.severity, 'project', i.project," \
	"   'dedup_key', i.dedup_key)," \
	"  'annotations', jsonb_build_object('summary', i.title," \
	"   'status', i.status, 'count', i.count::text," \
	"   'incident', i.id::text)," \
	"  'startsAt', to_char(i.first_seen AT TIME ZONE 'UTC'," \
	"   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')," \
	"  'updatedAt', to_char(i.last_seen AT TIME ZONE 'UTC'," \
	"   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')," \
	"  'endsAt', to_char((greatest(i.last_seen, now()) +" \
	"   interval '5 minutes') AT TIME ZONE 'UTC'," \
	"   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')," \
	"  'fingerprint', left(md5(i.project || '/' || i.dedup_key), 16)," \
	"  'generatorURL', '/projects/' || i.project || '/incidents/' || i.id," \
	"  'receivers', json_build_array(json_build_object('name', 'dashcgi'))," \
	"  'status', json_build_object('state', 'active'," \
	"   'silencedBy', json_build_array(), 'inhibitedBy', json_build_array()," \
	"   'mutedBy', json_build_array())) AS alert" \
	" FROM incident i" \
	" WHERE i.project = ANY (ds_projects($1::text, $2::boolean, $3::text))" \
	" AND i.status IN ('open', 'investigating'))"

static const struct stmt_def defs[AL__COUNT] = {
	[AL_ALERTS] = { "alerts_list",
	    ALERT_ROWS
	    " SELECT coalesce(json_agg(alert ORDER BY first_seen DESC, id), '[]')"
	    "::text FROM a WHERE ds_match(labels, $4::jsonb)", 4 },
	/* Grouped as Alertmanager's default route does: by alertname. */
	[AL_GROUPS] = { "alerts_groups",
	    ALERT_ROWS
	    " SELECT coalesce(json_agg(g ORDER BY g->'labels'->>'alertname'),"
	    " '[]')::text FROM (SELECT json_build_object('labels',"
	    " jsonb_build_object('alertname', labels->>'alertname'),"
	    " 'receiver', json_build_object('name', 'dashcgi'),"
	    " 'alerts', json_agg(alert ORDER BY first_seen DESC, id))::jsonb AS g"
	    " FROM a WHERE ds_match(labels, $4::jsonb)"
	    " GROUP BY labels->>'alertname') x", 4 },
};
static const struct stmt_set alerts_stmts = { "alerts", defs, AL__COUNT };

/*
 * Every ?filter= as matchers: Alertmanager takes label="value" (=, !=,
 * =~, !~), one per parameter.  NULL after answering 400.
 */
static const char *
filters(struct req *r)
{
	struct json_object	*a = json_object_new_array(), *m;
	struct pq_query		 q;
	char			 err[PQ_ERR_MAX];
	const char		*s;
	size_t			 i, k;

	for (i = 0; i < r->nqs; i++) {
		if (strcmp(r->qs[i].key, "filter") != 0)
			continue;
		if (pq_parse(r->arena, arena_printf(r->arena, "{%s}",
		    r->qs[i].val), &q, err) == -1 || q.metric != NULL ||
		    q.nm != 1) {
			json_object_put(a);
			http_error(r, 400, "bad_request", "filter: \"%s\" is not "
			    "one matcher like alertname=\"x\"", r->qs[i].val);
			return NULL;
		}
		for (k = 0; k < q.nm; k++) {
			m = json_object_new_array();
			json_object_array_add(m,
			    json_object_new_string(q.m[k].label));
			json_object_array_add(m,
			    json_object_new_string(pq_op_name(q.m[k].op)));
			json_object_array_add(m,
			    json_object_new_string(q.m[k].value));
			json_object_array_add(a, m);
		}
	}
	s = arena_strdup(r->arena, json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return s;
}

static void
list(struct req *r, int stmt)
{
	const char	*p[4];
	PGresult	*res;

	p[0] = r->actor;
	p[1] = r->admin ? "true" : "false";
	p[2] = api_param(r, "project");
	if ((p[3] = filters(r)) == NULL)
		return;
	if ((res = api_run(r, &alerts_stmts, (size_t)stmt, 4, p)) == NULL)
		return;
	api_send_col(r, 200, res, 0);
	PQclear(res);
}

static void
api_alerts(struct req *r)
{
	list(r, AL_ALERTS);
}

static void
api_alert_groups(struct req *r)
{
	list(r, AL_GROUPS);
}

/* Silences are not implemented: nothing is ever silenced. */
static void
api_silences(struct req *r)
{
	http_send_json(r, 200, "[]", 2);
}

static void
api_status(struct req *r)
{
	char	 buf[512];
	int	 n;

	n = snprintf(buf, sizeof(buf), "{\"cluster\":{\"name\":\"dashcgi\","
	    "\"status\":\"disabled\",\"peers\":[]},\"config\":{\"original\":"
	    "\"\"},\"uptime\":\"1970-01-01T00:00:00.000Z\",\"versionInfo\":"
	    "{\"version\":\"%s\",\"revision\":\"\",\"branch\":\"\","
	    "\"buildUser\":\"dashcgi\",\"buildDate\":\"\",\"goVersion\":\"\"}}",
	    PACKAGE_VERSION);
	http_send_json(r, 200, buf, (size_t)n);
}

#define G	"/proxy/globaldatasources/dashcgi-alerts/api/v2"
#define PD	"/proxy/projects/{project}/datasources/dashcgi-alerts/api/v2"

static const struct route routes[] = {
	{ "GET", G "/alerts", api_alerts, R_API, ROLE_NONE, NULL },
	{ "GET", G "/alerts/groups", api_alert_groups, R_API, ROLE_NONE, NULL },
	{ "GET", G "/silences", api_silences, R_AUTH, ROLE_NONE, NULL },
	{ "GET", G "/status", api_status, R_AUTH, ROLE_NONE, NULL },
	{ "GET", PD "/alerts", api_alerts, R_API, ROLE_VIEWER, NULL },
	{ "GET", PD "/alerts/groups", api_alert_groups, R_API, ROLE_VIEWER,
	    NULL },
	{ "GET", PD "/silences", api_silences, R_API, ROLE_VIEWER, NULL },
	{ "GET", PD "/status", api_status, R_API, ROLE_VIEWER, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &alerts_stmts, NULL };

const struct module alerts_module = {
	.name = "alerts",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
