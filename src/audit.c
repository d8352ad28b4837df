/*
 * audit.c -- audit rows: one per change inside its transaction, one
 * per denial or share-link attempt in its own statement.
 *
 * The row's client_ip is REMOTE_ADDR as nginx resolved it (realip);
 * request_id is the server's own id, client_request_id the
 * X-Request-Id a client sent (kept beside it, never in its place).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "module.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "router.h"

enum { AU_INSERT, AU_PARTITIONS, AU__COUNT };

static const struct stmt_def defs[AU__COUNT] = {
	/* audit_write() (migrations/0014) is the one audit insert. */
	[AU_INSERT] = { "audit_insert",
	    "SELECT audit_write($1::text, $2::text, $3::text, $4::text, "
	    "$5::int, $6::text, $7::inet, $8::text, $9::jsonb, $10::text)",
	    10 },
	/* This month's partition, then the next month's (UTC). */
	[AU_PARTITIONS] = { "audit_partitions_ahead",
	    "SELECT CASE WHEN to_regclass(format('audit_log_%s', to_char("
	    "now() AT TIME ZONE 'UTC', 'YYYY_MM'))) IS NULL THEN 0"
	    " WHEN to_regclass(format('audit_log_%s', to_char("
	    "(now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY_MM')))"
	    " IS NULL THEN 1 ELSE 2 END", 0 },
};
const struct stmt_set audit_stmts = { "audit", defs, AU__COUNT };

/*
 * How far ahead the audit log can take rows: 0 without this month's
 * partition (every change fails), 1 with this month's only, 2 with the
 * next month's too; -1 when the database did not say.
 */
int
audit_partitions_ahead(void)
{
	PGresult	*res;
	int		 n = -1;

	res = db_run(&audit_stmts, AU_PARTITIONS, 0, NULL);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1)
		n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

int
audit_retention_param(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->audit.retention <= 0)
		return 0;
	snprintf(buf, len, "%lld", (long long)cfg->audit.retention);
	return 1;
}

/*
 * Maintenance of the audit log (the core module runs these first:
 * later jobs write audit rows, which need this month's partition).
 * Partitions are kept two months ahead.
 */
const struct job audit_jobs[AUDIT_NJOBS] = {
	{ "audit_partitions", "created",
	  "SELECT audit_ensure_partitions(2)", NULL, NULL, 0 },
	{ "audit_retention", "dropped_partitions",
	  "SELECT audit_drop_partitions_before("
	  "now() - $1::bigint * interval '1 millisecond')",
	  audit_retention_param,
	  "audit.retention is 0: audit log kept forever", 0 },
};

/* Only a literal address reaches the inet column ("unix:" does not). */
static const char *
client_ip(const struct req *r)
{
	unsigned char	 buf[sizeof(struct in6_addr)];
	const char	*a = r->remote_addr;

	if (a == NULL || (inet_pton(AF_INET, a, buf) != 1 &&
	    inet_pton(AF_INET6, a, buf) != 1))
		return NULL;
	return a;
}

void
audit_request_ids(const struct req *r, const char **ip,
    const char **request_id, const char **client_request_id)
{
	*ip = client_ip(r);
	*request_id = r->own_id;
	*client_request_id = r->client_id ? r->request_id : NULL;
}

static PGresult *
insert(struct req *r, const char *action, const char *project,
    const char *resource, long version, const char *result,
    struct json_object *details)
{
	const char	*p[10];
	char		 v[24];
	PGresult	*res;

	if (version >= 0)
		snprintf(v, sizeof(v), "%ld", version);
	p[0] = r->actor ? r->actor : (r->remote_user ? r->remote_user :
	    "anonymous");
	p[1] = action;
	p[2] = project;
	p[3] = resource;
	p[4] = version >= 0 ? v : NULL;
	p[5] = result;
	audit_request_ids(r, &p[6], &p[7], &p[9]);
	p[8] = details ? json_object_to_json_string_ext(details,
	    JSON_C_TO_STRING_PLAIN) : NULL;
	res = db_run(&audit_stmts, AU_INSERT, 10, p);
	if (details != NULL)
		json_object_put(details);
	return res;
}

int
audit_change(struct req *r, const char *project, const char *resource,
    long version, struct json_object *details)
{
	PGresult	*res;
	const char	*code, *msg;
	int		 st;

	if (!r->tx || r->route == NULL || r->route->action == NULL) {
		log_error("audit_change outside a change route (%s)", r->path);
		if (details != NULL)
			json_object_put(details);
		http_error(r, 500, "internal_error", "internal error");
		return -1;
	}
	res = insert(r, r->route->action, project, resource, version,
	    "success", details);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = db_http_status(res, &code, &msg);
		log_error("audit row for %s not written: %s", r->route->action,
		    res ? PQresultErrorMessage(res) : "no connection");
		http_error(r, st, code, "%s", msg);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	r->audited++;
	return 0;
}

void
audit_event(struct req *r, const char *action, const char *project,
    const char *resource, long version, const char *result,
    struct json_object *details)
{
	PGresult	*res;

	res = insert(r, action, project, resource, version, result, details);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "audit row not written");
		log_str(&l, "action", action);
		log_str(&l, "result", result);
		log_str(&l, "request_id", r->request_id);
		log_str(&l, "error", res ? PQresultErrorMessage(res) :
		    "no database connection");
		log_end(&l);
	}
	PQclear(res);
}
