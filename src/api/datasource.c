/*
 * datasource.c -- dashcgi as its own Prometheus-compatible datasource:
 * the subset of Prometheus's HTTP API that Perses's Prometheus plugin
 * reads (query_range, query, series, labels, label values, metadata,
 * -/healthy), at /proxy/globaldatasources/dashcgi/… (every project the
 * caller reads) and /proxy/projects/{p}/datasources/dashcgi/… (one).
 *
 * Owns: the request parameters (GET query or form POST, as Prometheus
 * takes them), the 11,000-point cap, Prometheus's envelope and errors.
 * The query is parsed here (promql.c) and evaluated in PostgreSQL over
 * the series families modules register (ds_metric, migrations/0011,
 * 0026): one row per result series, its labels (JSON), step times
 * (microseconds) and values (PostgreSQL's float8 text) as arrays, which
 * C writes out as Prometheus's JSON as PostgreSQL sends them
 * (single-row mode: memory does not grow with the answer).
 * Never: name a module's tables, or evaluate anything in C (C only
 * rewrites the text of times and values).
 */
#include "autoconf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "module.h"
#include "promql.h"

#define MAX_POINTS	11000	/* per series, as Prometheus */
#define DEFAULT_SPAN	3600.0	/* labels/series without start: the last hour */

enum {
	DSQ_EVAL, DSQ_SERIES, DSQ_LABELS, DSQ_VALUES, DSQ_METADATA,
	DSQ__COUNT
};

/* $1 user, $2 admin, $3 project or NULL: the projects read. */
#define PROJECTS "ds_projects($1::text, $2::boolean, $3::text)"

static const struct stmt_def defs[DSQ__COUNT] = {
	/* $4 query, $5 start, $6 end, $7 step (microseconds), $8 instant.
	 * Rows: labels, first step and step (when every step has a value)
	 * or step times, values (put_matrix(), put_vector()). */
	[DSQ_EVAL] = { "ds_eval",
	    "SELECT labels, t0, dt, t, v FROM ds_eval(" PROJECTS ", $4::jsonb,"
	    " $5::bigint, $6::bigint, $7::bigint, $8::boolean)", 8 },
	/* $4 selectors (a JSON array of parsed queries). */
	[DSQ_SERIES] = { "ds_series",
	    "SELECT s::text FROM ds_series(" PROJECTS ", $4::jsonb) s"
	    " ORDER BY s::text", 4 },
	[DSQ_LABELS] = { "ds_labels",
	    "SELECT coalesce(json_agg(k ORDER BY k), '[]')::text FROM ("
	    " SELECT DISTINCT jsonb_object_keys(s) AS k"
	    " FROM ds_series(" PROJECTS ", $4::jsonb) s) x", 4 },
	/* $5 label name. */
	[DSQ_VALUES] = { "ds_label_values",
	    "SELECT coalesce(json_agg(v ORDER BY v), '[]')::text FROM ("
	    " SELECT DISTINCT s->>$5::text AS v"
	    " FROM ds_series(" PROJECTS ", $4::jsonb) s"
	    " WHERE s ? $5::text) x", 5 },
	[DSQ_METADATA] = { "ds_metadata",
	    "SELECT coalesce(json_object_agg(name, json_build_array("
	    " json_build_object('type', type, 'help', help, 'unit', unit))"
	    " ORDER BY name), '{}')::text FROM ds_metric", 0 },
};
static const struct stmt_set ds_stmts = { "datasource", defs, DSQ__COUNT };

/* {"status":"error","errorType":…,"error":…}, Prometheus's envelope. */
static void
prom_error(struct req *r, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
prom_error(struct req *r, int status, const char *type, const char *fmt, ...)
{
	struct json_object	*o = json_object_new_object();
	va_list			 ap;
	char			 msg[512];
	const char		*s;
	size_t			 len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "errorType", json_object_new_string(type));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	r->error_code = type;
	http_send_json(r, status, s, len);
	json_object_put(o);
}

/* A failed statement, as Prometheus words it: bad input is bad_data. */
static void
prom_db_error(struct req *r, PGresult *res)
{
	const char	*st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char	*m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
			    NULL;
	const char	*code, *msg;
	int		 status;

	if (st != NULL && strncmp(st, "22", 2) == 0) {
		prom_error(r, 400, "bad_data", "invalid parameter \"query\": %s",
		    m ? m : "invalid value");
		return;
	}
	status = db_http_status(res, &code, &msg);
	prom_error(r, status >= 500 && status != 503 ? 500 : status,
	    status == 503 ? "unavailable" : "internal", "%s", msg);
}

/* The request's parameters: the query string, then a form body. */
static int
read_params(struct req *r)
{
	if (strcmp(r->method, "POST") != 0)
		return 0;
	if (http_read_body(r, "application/x-www-form-urlencoded") == -1)
		return -1;
	if (http_parse_form(r, r->body) == -1) {
		prom_error(r, 400, "bad_data", "malformed form body");
		return -1;
	}
	return 0;
}

/* A time: unix seconds (fraction allowed) or RFC 3339, as Prometheus. */
static int
parse_time(const char *s, double *out)
{
	struct tm	 tm;
	char		*end;
	const char	*p;
	double		 frac = 0;
	long		 off = 0;

	errno = 0;
	*out = strtod(s, &end);
	if (end != s && *end == '\0' && errno == 0 && isfinite(*out))
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		frac = strtod(p, &end);
		p = end;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		off = (strtol(p + 1, NULL, 10) * 60 + strtol(p + 4, NULL, 10)) *
		    60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	*out = (double)timegm(&tm) - (double)off + frac;
	return 0;
}

/* A step or timeout: seconds (fraction allowed) or a duration. */
static int
parse_step(const char *s, double *out)
{
	static const struct { char u; double mult; } units[] = {
		{ 'y', 31536000 }, { 'w', 604800 }, { 'd', 86400 },
		{ 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	char	*end;
	double	 n, total = 0;
	size_t	 i;

	errno = 0;
	*out = strtod(s, &end);
	if (end != s && *end == '\0' && errno == 0 && isfinite(*out))
		return 0;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return -1;
		n = strtod(s, &end);
		s = end;
		if (s[0] == 'm' && s[1] == 's') {
			total += n / 1000;
			s += 2;
			continue;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*s == units[i].u)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		total += n * units[i].mult;
		s++;
	}
	*out = total;
	return 0;
}

/* A parsed query as the JSON ds_eval reads. */
static struct json_object *
query_json(const struct pq_query *q)
{
	struct json_object	*o = json_object_new_object(), *a, *m;
	size_t			 i;

	json_object_object_add(o, "metric", q->metric ?
	    json_object_new_string(q->metric) : NULL);
	a = json_object_new_array();
	for (i = 0; i < q->nm; i++) {
		m = json_object_new_array();
		json_object_array_add(m, json_object_new_string(q->m[i].label));
		json_object_array_add(m, json_object_new_string(
		    pq_op_name(q->m[i].op)));
		json_object_array_add(m, json_object_new_string(q->m[i].value));
		json_object_array_add(a, m);
	}
	json_object_object_add(o, "matchers", a);
	json_object_object_add(o, "agg", q->agg != PQ_NONE ?
	    json_object_new_string(pq_agg_name(q->agg)) : NULL);
	json_object_object_add(o, "grouping", q->grouping == PQ_ALL ? NULL :
	    json_object_new_string(q->grouping == PQ_BY ? "by" : "without"));
	a = json_object_new_array();
	for (i = 0; i < q->nlabels; i++)
		json_object_array_add(a, json_object_new_string(q->labels[i]));
	json_object_object_add(o, "labels", a);
	return o;
}

static const char *
json_text(struct req *r, struct json_object *o)
{
	const char	*s = arena_strdup(r->arena,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

/* The statement's first three parameters: who reads which projects. */
static void
who(struct req *r, const char **p)
{
	p[0] = r->actor;
	p[1] = r->admin ? "true" : "false";
	p[2] = api_param(r, "project");
}

/* A row's column 0 as it is (series, labels, values, metadata). */
static int
put_text(struct req *r, PGresult *res, int k)
{
	FCGX_PutStr(PQgetvalue(res, k, 0), PQgetlength(res, k, 0),
	    r->fcgi->out);
	return 0;
}

/*
 * A step time, microseconds since the epoch, as Prometheus writes it:
 * unix seconds, the fraction without trailing zeros (what 0011's
 * ds_ts() made of it).
 */
static void
put_time(struct req *r, long long us)
{
	unsigned long long	 a = us < 0 ? 0ULL - (unsigned long long)us :
				    (unsigned long long)us;
	char			 b[48], f[8];
	int			 n, i;

	if (a % 1000000 == 0)
		n = snprintf(b, sizeof(b), "%s%llu", us < 0 ? "-" : "",
		    a / 1000000);
	else {
		snprintf(f, sizeof(f), "%06llu", a % 1000000);
		for (i = 5; f[i] == '0'; i--)
			f[i] = '\0';
		n = snprintf(b, sizeof(b), "%s%llu.%s", us < 0 ? "-" : "",
		    a / 1000000, f);
	}
	FCGX_PutStr(b, n, r->fcgi->out);
}

/*
 * A value, one element of PostgreSQL's float8[] text (float8out: the
 * shortest text that reads back the same double), as Prometheus
 * writes it: a JSON string, infinities as "+Inf" and "-Inf".  A NULL
 * element is JSON null, as json_build_array() made it.
 */
static void
put_value(struct req *r, const char *s, size_t n)
{
	if (n == 4 && memcmp(s, "NULL", 4) == 0)
		FCGX_PutS("null", r->fcgi->out);
	else if (n == 8 && memcmp(s, "Infinity", 8) == 0)
		FCGX_PutS("\"+Inf\"", r->fcgi->out);
	else if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
		FCGX_PutS("\"-Inf\"", r->fcgi->out);
	else {
		FCGX_PutChar('"', r->fcgi->out);
		FCGX_PutStr(s, (int)n, r->fcgi->out);
		FCGX_PutChar('"', r->fcgi->out);
	}
}

/* The next element of an array's text ("{a,b}"): *s moves past it. */
static int
next_elem(const char **s, const char **e, size_t *n)
{
	const char	*p = *s;

	if (*p == '{')
		p++;
	if (*p == '}' || *p == '\0')
		return 0;
	*e = p;
	*n = strcspn(p, ",}");
	p += *n;
	if (*p == ',')
		p++;
	*s = p;
	return 1;
}

/*
 * One result series: {"metric":labels,"values":[[t,"v"],…]}, or for an
 * instant query {"metric":labels,"value":[t,"v"]} (one step).  The
 * times are those of array t, or when t is NULL t0, t0 + dt, … (a value
 * at every step).  -1 when the arrays do not pair up (nothing of the
 * kind should come).
 */
static int
put_series(struct req *r, PGresult *res, int k, int instant)
{
	const char	*ts = PQgetvalue(res, k, 3), *vs = PQgetvalue(res, k, 4);
	const char	*te, *ve;
	size_t		 tn, vn, i = 0;
	char		*end;
	long long	 us, t0 = 0, dt = 0;
	int		 dense = PQgetisnull(res, k, 3);

	if (dense) {
		t0 = strtoll(PQgetvalue(res, k, 1), NULL, 10);
		dt = strtoll(PQgetvalue(res, k, 2), NULL, 10);
		if (PQgetisnull(res, k, 1) || PQgetisnull(res, k, 2) || dt <= 0)
			return -1;
		ts = vs;	/* one step per value */
	}

	FCGX_PutS("{\"metric\":", r->fcgi->out);
	FCGX_PutStr(PQgetvalue(res, k, 0), PQgetlength(res, k, 0),
	    r->fcgi->out);
	FCGX_PutS(instant ? ",\"value\":" : ",\"values\":[", r->fcgi->out);
	while (next_elem(&ts, &te, &tn)) {
		if (!next_elem(&vs, &ve, &vn))
			return -1;
		if (dense)
			us = t0 + (long long)i * dt;
		else {
			errno = 0;
			us = strtoll(te, &end, 10);
			if (end != te + tn || errno != 0)
				return -1;
		}
		if (i++ > 0) {
			if (instant)
				return -1;
			FCGX_PutChar(',', r->fcgi->out);
		}
		FCGX_PutChar('[', r->fcgi->out);
		put_time(r, us);
		FCGX_PutChar(',', r->fcgi->out);
		put_value(r, ve, vn);
		FCGX_PutChar(']', r->fcgi->out);
	}
	if (next_elem(&vs, &ve, &vn) || i == 0)
		return -1;
	FCGX_PutS(instant ? "}" : "]}", r->fcgi->out);
	return 0;
}

static int
put_matrix(struct req *r, PGresult *res, int k)
{
	return put_series(r, res, k, 0);
}

static int
put_vector(struct req *r, PGresult *res, int k)
{
	return put_series(r, res, k, 1);
}

/*
 * Run statement stmt and answer its rows, each written by put, as the
 * members of a JSON array inside Prometheus's success envelope: head,
 * the rows comma-separated, tail.  Rows come one at a time (libpq's
 * single-row mode), so a worker's memory does not grow with the answer
 * (a query_range of many series is many rows).  The first result
 * decides the status; a failure after the 200 is out can only be
 * logged, and the envelope is left unclosed so that no client takes a
 * cut answer for a whole one.
 */
static void
answer(struct req *r, int stmt, int n, const char **p, const char *head,
    const char *tail, int (*put)(struct req *, PGresult *, int))
{
	PGresult	*res;
	size_t		 rows = 0;
	int		 k, ended = 0;

	if (db_stream(&ds_stmts, (size_t)stmt, n, p) == -1) {
		prom_db_error(r, NULL);
		return;
	}
	while ((res = db_stream_next()) != NULL) {
		switch (ended ? PGRES_FATAL_ERROR : PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
		case PGRES_TUPLES_OK:
			for (k = 0; k < PQntuples(res) && !ended; k++) {
				if (rows++ == 0) {
					http_begin(r, 200, "application/json");
					FCGX_PutS(head, r->fcgi->out);
				} else
					FCGX_PutChar(',', r->fcgi->out);
				if (put(r, res, k) == -1) {
					log_error("%s: row %zu is not a series "
					    "of times and values, the answer is "
					    "cut short", defs[stmt].name, rows);
					ended = 1;
				}
			}
			if (PQresultStatus(res) == PGRES_TUPLES_OK && !ended) {
				ended = 1;
				if (rows == 0) {
					http_begin(r, 200, "application/json");
					FCGX_PutS(head, r->fcgi->out);
				}
				FCGX_PutS(tail, r->fcgi->out);
			}
			break;
		default:
			if (ended)
				break;	/* drained after a bad row */
			ended = 1;
			if (rows == 0)
				prom_db_error(r, res);
			else
				log_error("%s failed after %zu rows, the answer "
				    "is cut short: %s", defs[stmt].name, rows,
				    PQresultErrorMessage(res));
			break;
		}
		PQclear(res);
	}
	if (ended)
		return;
	/* No end came: the connection went away between results. */
	if (rows == 0)
		prom_db_error(r, NULL);
	else
		log_error("%s: the connection ended after %zu rows, the answer "
		    "is cut short", defs[stmt].name, rows);
}

/*
 * Seconds as whole microseconds, through the millisecond text the
 * evaluation always had ("%.3f": Prometheus's precision); -1 beyond
 * what a timestamp holds (±9e12 s, past year 200,000).
 */
static int
usec_of(double x, long long *out)
{
	char		 b[40], *dot, *end;
	long long	 whole, ms;

	if (!(x > -9e12 && x < 9e12))
		return -1;
	snprintf(b, sizeof(b), "%.3f", x);
	if ((dot = strchr(b, '.')) == NULL)
		return -1;
	*dot = '\0';
	whole = strtoll(b, &end, 10);
	ms = strtoll(dot + 1, NULL, 10);
	*out = (llabs(whole) * 1000 + ms) * 1000;
	if (b[0] == '-')
		*out = -*out;
	return 0;
}

static void
evaluate(struct req *r, int instant)
{
	struct pq_query	 q;
	const char	*p[8], *s;
	char		 err[PQ_ERR_MAX], b[3][32];
	double		 start, end, step = 1;
	long long	 us[3];
	int		 i;

	if (read_params(r) == -1)
		return;
	if ((s = http_query(r, "query")) == NULL || *s == '\0') {
		prom_error(r, 400, "bad_data", "invalid parameter \"query\": "
		    "the query is empty");
		return;
	}
	if (pq_parse(r->arena, s, &q, err) == -1) {
		prom_error(r, 400, "bad_data", "invalid parameter \"query\": "
		    "%s", err);
		return;
	}
	if (instant) {
		start = (double)time(NULL);
		if ((s = http_query(r, "time")) != NULL && *s != '\0' &&
		    parse_time(s, &start) == -1) {
			prom_error(r, 400, "bad_data", "invalid parameter "
			    "\"time\": cannot parse \"%s\" to a valid "
			    "timestamp", s);
			return;
		}
		end = start;
	} else {
		static const char *const names[] = { "start", "end", "step" };
		double	*v[] = { &start, &end, &step };

		for (i = 0; i < 3; i++) {
			s = http_query(r, names[i]);
			if (s == NULL || *s == '\0' || (i < 2 ?
			    parse_time(s, v[i]) : parse_step(s, v[i])) == -1) {
				prom_error(r, 400, "bad_data", "invalid "
				    "parameter \"%s\": cannot parse \"%s\" to "
				    "a valid %s", names[i], s ? s : "",
				    i < 2 ? "timestamp" : "duration");
				return;
			}
		}
		if (end < start) {
			prom_error(r, 400, "bad_data", "invalid parameter "
			    "\"end\": end timestamp must not be before start "
			    "time");
			return;
		}
		if (step <= 0) {
			prom_error(r, 400, "bad_data", "invalid parameter "
			    "\"step\": zero or negative query resolution step "
			    "widths are not accepted. Try a positive integer");
			return;
		}
		if ((end - start) / step > MAX_POINTS) {
			prom_error(r, 400, "bad_data", "exceeded maximum "
			    "resolution of 11,000 points per timeseries. Try "
			    "decreasing the query resolution (?step=XX)");
			return;
		}
	}
	if (usec_of(start, &us[0]) == -1 || usec_of(end, &us[1]) == -1) {
		prom_error(r, 400, "bad_data", "invalid parameter \"%s\": "
		    "out of the range of timestamps", instant ? "time" :
		    usec_of(start, &us[0]) == -1 ? "start" : "end");
		return;
	}
	if (usec_of(step, &us[2]) == -1 || us[2] <= 0) {
		prom_error(r, 400, "bad_data", "invalid parameter \"step\": "
		    "at least 1ms and at most 9e12s (Prometheus's precision "
		    "is the millisecond)");
		return;
	}
	who(r, p);
	p[3] = json_text(r, query_json(&q));
	for (i = 0; i < 3; i++) {
		snprintf(b[i], sizeof(b[i]), "%lld", us[i]);
		p[4 + i] = b[i];
	}
	p[7] = instant ? "true" : "false";
	answer(r, DSQ_EVAL, 8, p, instant ?
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	    "\"result\":[" :
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
	    "\"result\":[", "]}}", instant ? put_vector : put_matrix);
}

static void
api_query_range(struct req *r)
{
	evaluate(r, 0);
}

static void
api_query(struct req *r)
{
	evaluate(r, 1);
}

/*
 * The selectors of match[] (series requires one; labels and values
 * take any), as the JSON array ds_series reads; NULL after answering.
 * No selector means every family.
 */
static const char *
selectors(struct req *r, int required)
{
	struct json_object	*a = json_object_new_array();
	struct pq_query		 q;
	char			 err[PQ_ERR_MAX];
	size_t			 i;

	for (i = 0; i < r->nqs; i++) {
		if (strcmp(r->qs[i].key, "match[]") != 0)
			continue;
		if (pq_parse(r->arena, r->qs[i].val, &q, err) == -1) {
			json_object_put(a);
			prom_error(r, 400, "bad_data", "invalid parameter "
			    "\"match[]\": %s", err);
			return NULL;
		}
		if (q.agg != PQ_NONE) {
			json_object_put(a);
			prom_error(r, 400, "bad_data", "invalid parameter "
			    "\"match[]\": an aggregation is not a series "
			    "selector");
			return NULL;
		}
		json_object_array_add(a, query_json(&q));
	}
	if (json_object_array_length(a) == 0) {
		if (required) {
			json_object_put(a);
			prom_error(r, 400, "bad_data", "no match[] parameter "
			    "provided");
			return NULL;
		}
		memset(&q, 0, sizeof(q));
		json_object_array_add(a, query_json(&q));
	}
	return json_text(r, a);
}

#define DATA_HEAD	"{\"status\":\"success\",\"data\":"

/* series, labels and label values: who asks, then the selectors. */
static void
by_selectors(struct req *r, int stmt, int required, const char *head,
    const char *tail)
{
	const char	*p[5];

	if (read_params(r) == -1)
		return;
	who(r, p);
	if ((p[3] = selectors(r, required)) == NULL)
		return;
	p[4] = api_param(r, "label");
	answer(r, stmt, stmt == DSQ_VALUES ? 5 : 4, p, head, tail, put_text);
}

static void
api_series(struct req *r)
{
	by_selectors(r, DSQ_SERIES, 1, DATA_HEAD "[", "]}");
}

static void
api_labels(struct req *r)
{
	by_selectors(r, DSQ_LABELS, 0, DATA_HEAD, "}");
}

static void
api_label_values(struct req *r)
{
	by_selectors(r, DSQ_VALUES, 0, DATA_HEAD, "}");
}

static void
api_metadata(struct req *r)
{
	answer(r, DSQ_METADATA, 0, NULL, DATA_HEAD, "}", put_text);
}

static void
api_healthy(struct req *r)
{
	static const char	 body[] = "Prometheus Server is Healthy.\n";

	http_send(r, 200, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

#define G	"/proxy/globaldatasources/dashcgi"
#define PD	"/proxy/projects/{project}/datasources/dashcgi"

static const struct route routes[] = {
	{ "GET",  G "/api/v1/query_range", api_query_range, R_API, ROLE_NONE, NULL },
	{ "POST", G "/api/v1/query_range", api_query_range, R_API, ROLE_NONE, NULL },
	{ "GET",  G "/api/v1/query", api_query, R_API, ROLE_NONE, NULL },
	{ "POST", G "/api/v1/query", api_query, R_API, ROLE_NONE, NULL },
	{ "GET",  G "/api/v1/series", api_series, R_API, ROLE_NONE, NULL },
	{ "POST", G "/api/v1/series", api_series, R_API, ROLE_NONE, NULL },
	{ "GET",  G "/api/v1/labels", api_labels, R_API, ROLE_NONE, NULL },
	{ "POST", G "/api/v1/labels", api_labels, R_API, ROLE_NONE, NULL },
	{ "GET",  G "/api/v1/label/{label}/values", api_label_values, R_API,
	    ROLE_NONE, NULL },
	{ "GET",  G "/api/v1/metadata", api_metadata, R_API, ROLE_NONE, NULL },
	{ "GET",  G "/-/healthy", api_healthy, R_AUTH, ROLE_NONE, NULL },
	{ "GET",  PD "/api/v1/query_range", api_query_range, R_API, ROLE_VIEWER,
	    NULL },
	{ "POST", PD "/api/v1/query_range", api_query_range, R_API, ROLE_VIEWER,
	    NULL },
	{ "GET",  PD "/api/v1/query", api_query, R_API, ROLE_VIEWER, NULL },
	{ "POST", PD "/api/v1/query", api_query, R_API, ROLE_VIEWER, NULL },
	{ "GET",  PD "/api/v1/series", api_series, R_API, ROLE_VIEWER, NULL },
	{ "POST", PD "/api/v1/series", api_series, R_API, ROLE_VIEWER, NULL },
	{ "GET",  PD "/api/v1/labels", api_labels, R_API, ROLE_VIEWER, NULL },
	{ "POST", PD "/api/v1/labels", api_labels, R_API, ROLE_VIEWER, NULL },
	{ "GET",  PD "/api/v1/label/{label}/values", api_label_values, R_API,
	    ROLE_VIEWER, NULL },
	{ "GET",  PD "/api/v1/metadata", api_metadata, R_API, ROLE_VIEWER,
	    NULL },
	{ "GET",  PD "/-/healthy", api_healthy, R_API, ROLE_VIEWER, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &ds_stmts, NULL };

const struct module datasource_module = {
	.name = "datasource",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
};
