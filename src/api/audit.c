/*
 * audit.c (api/) -- GET /api/v1/audit: the audit log, read back.
 *
 * Owns: the query parameters of the audit list, their validation, the
 * keyset cursor ("at|id" in base64url) and the one page statement.
 * Who sees what is decided in that statement: global administrators
 * every row, everybody else the rows of projects they administer.
 * Nobody else may read the log at all (403, itself audited).
 * Never: write to audit_log (src/audit.c does, and only INSERTs), or
 * filter rows in C: what a caller may see is one SQL predicate.
 *
 * The query: project, actor, action, resource, result match exactly;
 * since <= at < until (RFC 3339), so adjacent windows never share a
 * row; limit 1..1000 (100); cursor from the previous page's Link.  An
 * empty value is no filter; an unknown or repeated parameter is 400,
 * so a typo never widens the answer silently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "text.h"
#include "module.h"
#include "validate.h"

/*
 * The Link header repeats the query string; the request's header
 * buffer (struct req.hdrs) must hold it whole.
 */
#define QUERY_MAX	640
/* Decoded cursor: an RFC 3339 time with microseconds, '|', an id. */
#define CURSOR_MAX	64

/*
 * The rows' time and the cursor's: UTC with microseconds, so that
 * a cursor names its row's `at` exactly and reads back as the same
 * timestamptz.
 */
#define AT_TEXT(c) \
	"to_char(" c " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The filters and the keyset, shared by both branches of the page. */
#define FILTERS \
	" AND ($3::text IS NULL OR a.project = $3::text)" \
	" AND ($4::text IS NULL OR a.actor = $4::text)" \
	" AND ($5::text IS NULL OR a.action = $5::text)" \
	" AND ($6::text IS NULL OR a.resource = $6::text)" \
	" AND ($7::text IS NULL OR a.result = $7::text)" \
	" AND ($8::timestamptz IS NULL OR a.at >= $8::timestamptz)" \
	" AND ($9::timestamptz IS NULL OR a.at < $9::timestamptz)" \
	" AND ($10::timestamptz IS NULL" \
	"  OR (a.at, a.id) < ($10::timestamptz, $11::bigint))" \
	" ORDER BY a.at DESC, a.id DESC LIMIT $12::int + 1"

enum { AL_MAY, AL_PAGE, AL__COUNT };

/*
 * $1 caller, $2 global administrator, $3..$9 filters (NULL: any),
 * $10/$11 the cursor (at, id) or NULL, $12 the limit, $13 admin of
 * every project (auth.mode anonymous with anonymous_role admin).
 *
 * A global administrator's page is one newest-first walk of the log;
 * anyone else's is built project by project (LATERAL, each limited to
 * limit + 1) and merged, so a project admin's page costs what their
 * own projects hold, whatever the size of the others.  Each branch is
 * gated by $2 alone, which PostgreSQL tests once, not per row.
 * limit + 1 rows tell whether another page follows; the row at
 * position `limit` gives its cursor.
 */
static const struct stmt_def defs[AL__COUNT] = {
	/* Only for a malformed query: may the caller read the log at all? */
	[AL_MAY] = { "auditlog_may",
	    "SELECT $2::boolean OR $3::boolean OR EXISTS (SELECT 1"
	    " FROM project_member WHERE user_name = $1::text"
	    " AND role = 'admin')", 3 },
	[AL_PAGE] = { "auditlog_page",
	    "WITH scope AS ("
	    " SELECT m.project COLLATE \"default\" AS project"
	    " FROM project_member m"
	    " WHERE m.user_name = $1::text AND m.role = 'admin'"
	    " UNION"
	    " SELECT p.name COLLATE \"default\" FROM project p"
	    " WHERE $13::boolean),"
	    " page AS ("
	    " (SELECT a.* FROM audit_log a WHERE $2::boolean" FILTERS ")"
	    " UNION ALL"
	    " (SELECT x.* FROM scope s CROSS JOIN LATERAL"
	    "  (SELECT a.* FROM audit_log a"
	    "   WHERE NOT $2::boolean AND a.project = s.project" FILTERS ") x"
	    "  WHERE $3::text IS NULL OR s.project = $3::text)),"
	    " q AS ("
	    " SELECT p.*, " AT_TEXT("p.at") " AS at_text,"
	    " row_number() OVER (ORDER BY p.at DESC, p.id DESC) AS rn"
	    " FROM page p)"
	    " SELECT $2::boolean OR $13::boolean OR EXISTS (SELECT 1 FROM scope),"
	    " coalesce(jsonb_agg(jsonb_build_object("
	    "  'id', q.id, 'at', q.at_text, 'actor', q.actor,"
	    "  'action', q.action, 'project', q.project,"
	    "  'resource', q.resource, 'resourceVersion', q.resource_version,"
	    "  'result', q.result, 'clientIp', host(q.client_ip),"
	    "  'requestId', q.request_id, 'details', q.details)"
	    "  ORDER BY q.rn) FILTER (WHERE q.rn <= $12::int), '[]'),"
	    " coalesce(max(q.rn) > $12::int, false),"
	    " min(q.at_text) FILTER (WHERE q.rn = $12::int),"
	    " min(q.id) FILTER (WHERE q.rn = $12::int)"
	    " FROM q", 13, STMT_READONLY },
};
static const struct stmt_set auditlog_stmts = { "auditlog", defs, AL__COUNT };

/* The query parameters, in the statement's order ($3..). */
static const char *const filters[] = {
	"project", "actor", "action", "resource", "result", "since", "until",
};
#define NFILTERS	(sizeof(filters) / sizeof(filters[0]))

/*
 * The cursor: "at|id" of the last row of the previous page.  Splits
 * it into the arena and checks both halves.  0, or -1 if malformed.
 */
static int
cursor_decode(struct req *r, const char *s, const char **at,
    const char **id)
{
	char		*txt, *bar, *end;
	long long	 v;

	if (strlen(s) > (CURSOR_MAX + 2) / 3 * 4 ||
	    (txt = api_b64url_decode(r->arena, s)) == NULL ||
	    *txt == '\0' || strlen(txt) > CURSOR_MAX)
		return -1;
	if ((bar = strchr(txt, '|')) == NULL)
		return -1;
	*bar++ = '\0';
	if (!text_rfc3339(txt) || *bar < '0' || *bar > '9')
		return -1;
	errno = 0;
	v = strtoll(bar, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1)
		return -1;
	*at = txt;
	*id = bar;
	return 0;
}

/*
 * Every query parameter: known, given once, valid.  Fills p[2..10]
 * and the limit.  0, or -1 with the reason in err (for a 400).
 */
static int
parse_query(struct req *r, const char **p, int *limit, char *err,
    size_t errlen)
{
	const char	*v;
	size_t		 i, j;

	if (strlen(r->query) > QUERY_MAX) {
		snprintf(err, errlen, "query string too long: at most %d "
		    "bytes", QUERY_MAX);
		return -1;
	}
	for (i = 0; i < r->nqs; i++) {
		for (j = 0; j < NFILTERS; j++)
			if (strcmp(r->qs[i].key, filters[j]) == 0)
				break;
		if (j == NFILTERS && strcmp(r->qs[i].key, "limit") != 0 &&
		    strcmp(r->qs[i].key, "cursor") != 0) {
			snprintf(err, errlen, "unknown query parameter "
			    "\"%s\"; known: project, actor, action, resource, "
			    "result, since, until, limit, cursor",
			    r->qs[i].key);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(r->qs[i].key, r->qs[j].key) == 0) {
				snprintf(err, errlen, "query parameter \"%s\" "
				    "given twice", r->qs[i].key);
				return -1;
			}
	}

	/* An empty value is no filter, as a blank form field means. */
	for (j = 0; j < NFILTERS; j++) {
		v = http_query(r, filters[j]);
		p[2 + j] = v != NULL && *v != '\0' ? v : NULL;
	}
	if (p[2] != NULL && !validate_name(p[2])) {
		snprintf(err, errlen, "project: \"%s\" is not a project name",
		    p[2]);
		return -1;
	}
	if (p[6] != NULL && strcmp(p[6], "success") != 0 &&
	    strcmp(p[6], "denied") != 0 && strcmp(p[6], "failure") != 0) {
		snprintf(err, errlen, "result: must be success, denied or "
		    "failure, not \"%s\"", p[6]);
		return -1;
	}
	for (j = 7; j <= 8; j++)
		if (p[j] != NULL && !text_rfc3339(p[j])) {
			snprintf(err, errlen, "%s: \"%s\" is not an RFC 3339 "
			    "time such as 2006-01-02T15:04:05Z",
			    filters[j - 2], p[j]);
			return -1;
		}

	*limit = API_LIST_DEFAULT;
	if ((v = http_query(r, "limit")) != NULL && *v != '\0' &&
	    api_limit_parse(v, limit) == -1) {
		snprintf(err, errlen, "limit: must be an integer from 1 to %d, "
		    "not \"%s\"", API_LIST_MAX, v);
		return -1;
	}

	p[9] = p[10] = NULL;
	if ((v = http_query(r, "cursor")) != NULL && *v != '\0' &&
	    cursor_decode(r, v, &p[9], &p[10]) == -1) {
		snprintf(err, errlen, "cursor: not a cursor from this list's "
		    "Link header");
		return -1;
	}
	return 0;
}

/*
 * The Link to the next page: this request's query string, as the
 * client wrote it, with the cursor replaced.
 */
static void
link_next(struct req *r, const char *at, const char *id)
{
	const char	*key = arena_printf(r->arena, "%s|%s", at, id);

	/* Never a cursor cursor_decode() would refuse. */
	if (strlen(key) <= CURSOR_MAX)
		api_link_next(r, key);
}

static void
deny(struct req *r, const char *project)
{
	authz_deny(r, project, NULL, "reading the audit log takes the admin "
	    "role in a project, or a global administrator");
}

/*
 * A malformed query from someone who may not read the log is refused
 * as forbidden, as a route's role is checked before its input.
 */
static void
bad_query(struct req *r, const char *admin, const char *anon_admin,
    const char *err)
{
	const char	*p[3] = { r->actor, admin, anon_admin };
	PGresult	*res;

	if ((res = api_run(r, &auditlog_stmts, AL_MAY, 3, p)) == NULL)
		return;
	if (!api_val_bool(res, 0))
		deny(r, NULL);
	else
		http_error(r, 400, "bad_request", "%s", err);
	PQclear(res);
}

static void
api_audit_list(struct req *r)
{
	const char	*p[13] = { NULL };
	char		 lim[16], err[256];
	PGresult	*res = NULL;
	int		 limit;

	/* Who asks: $1, $2 and $13. */
	p[0] = r->actor;
	p[1] = r->admin ? "t" : "f";
	p[12] = r->cfg->auth.mode == AUTH_ANONYMOUS &&
	    r->cfg->auth.anonymous_role == ROLE_ADMIN ? "t" : "f";
	if (parse_query(r, p, &limit, err, sizeof(err)) == -1) {
		bad_query(r, p[1], p[12], err);
		goto out;
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	p[11] = lim;

	if ((res = api_run(r, &auditlog_stmts, AL_PAGE, 13, p)) == NULL)
		goto out;
	if (!api_val_bool(res, 0)) {
		deny(r, p[2]);
		goto out;
	}
	if (api_val_bool(res, 2))
		link_next(r, PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	api_send_col(r, 200, res, 1);
out:
	PQclear(res);
}

static const struct route routes[] = {
	{ "GET",  "/api/v1/audit",	api_audit_list, R_API, ROLE_NONE, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &auditlog_stmts, NULL };

const struct module auditlog_module = {
	.name = "auditlog",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
