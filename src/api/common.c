/*
 * common.c -- the helpers common.h declares, shared by the resource
 * modules under src/api/ (projects, preferences, dashboards,
 * templates, audit).
 *
 * Owns: one copy of each helper; what each does and who frees what is
 * said in common.h.  api_list() owns how every list goes out: whole
 * and streamed a row at a time, or a page and its Link.
 * Never: keep state between calls, name a resource in a message, or
 * map a database error itself (db_http_status() does).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "arena.h"
#include "log.h"
#include "router.h"

const char *
api_param(const struct req *r, const char *name)
{
	return router_param(r->route, r->params, r->nparams, name);
}

void
api_invalid(struct req *r, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_error(r, 400, "validation_failed", "%s", msg);
}

/*
 * Answer a result that is not TUPLES_OK (res may be NULL: the database
 * is away) and clear it.
 */
static void
answer_failed(struct req *r, const struct stmt_def *def, PGresult *res)
{
	const char	*code, *msg;
	int		 st;

	if (res != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_FATAL_ERROR:
		case PGRES_NONFATAL_ERROR:
			break;
		default:
			log_error("%s: unexpected result %s", def->name,
			    PQresStatus(PQresultStatus(res)));
			break;
		}
	}
	st = db_http_status(res, &code, &msg);
	if (st == 500)
		log_error("%s failed: %s", def->name, res != NULL ?
		    PQresultErrorMessage(res) : "no result");
	http_error(r, st, code, "%s", msg);
	PQclear(res);
}

PGresult *
api_run(struct req *r, const struct stmt_set *set, size_t i, int nparams,
    const char *const *params)
{
	PGresult	*res;

	res = db_run(set, i, nparams, params);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	answer_failed(r, &set->defs[i], res);
	return NULL;
}

void
api_send_col(struct req *r, int status, const PGresult *res, int col)
{
	http_send_json(r, status, PQgetvalue(res, 0, col),
	    (size_t)PQgetlength(res, 0, col));
}

int
api_val_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col);
}

const char *
api_val(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

long
api_val_long(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? -1 : strtol(PQgetvalue(res, 0, col),
	    NULL, 10);
}

int
api_val_bool(const PGresult *res, int col)
{
	return !PQgetisnull(res, 0, col) && PQgetvalue(res, 0, col)[0] == 't';
}

const char *
api_json_str(struct json_object *v)
{
	const char	*s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

int
api_str_member(struct req *r, struct json_object *o, const char *key,
    const char *path, enum api_null null, const char **s)
{
	struct json_object	*v;

	*s = NULL;
	if (!json_object_object_get_ex(o, key, &v) ||
	    (null == API_NULL_ABSENT &&
	    json_object_is_type(v, json_type_null)))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		api_invalid(r, "%s: must be a string", path);
		return -1;
	}
	if ((*s = api_json_str(v)) == NULL) {
		api_invalid(r, "%s: must not contain NUL characters", path);
		return -1;
	}
	return 1;
}

int
api_object(struct req *r, struct json_object *o, const struct api_body *b,
    void *dst, const char *path)
{
	char	 err[512];

	if (api_fields(o, b, dst, path, err, sizeof(err)) == 0)
		return 0;
	http_error(r, 400, "validation_failed", "%s", err);
	return -1;
}

int
api_body(struct req *r, const struct api_body *b, void *dst)
{
	return api_object(r, r->json, b, dst, "");
}

int
api_only_members(struct req *r, struct json_object *o, const char *prefix,
    const char *const *keys, const char *what)
{
	size_t	 i;

	json_object_object_foreach(o, k, v) {
		(void)v;
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (keys[i] == NULL) {
			api_invalid(r, "%s%s: unknown field (%s)", prefix, k,
			    what);
			return -1;
		}
	}
	return 0;
}

int
api_limit_parse(const char *s, int *n)
{
	char	*end;
	long	 l;

	/* strtol would take blanks and a sign; out of range is > MAX. */
	if (*s < '0' || *s > '9')
		return -1;
	l = strtol(s, &end, 10);
	if (*end != '\0' || l < 1 || l > API_LIST_MAX)
		return -1;
	*n = (int)l;
	return 0;
}

/*
 * A class 22 failure when a cursor was given: only the cursor can be
 * malformed data in a list statement.  1 after answering 400, else 0.
 */
static int
bad_cursor(struct req *r, const PGresult *res)
{
	const char	*st;

	if (http_query(r, "cursor") == NULL || res == NULL ||
	    PQresultStatus(res) != PGRES_FATAL_ERROR ||
	    (st = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL ||
	    strncmp(st, "22", 2) != 0)
		return 0;
	http_error(r, 400, "bad_request", "cursor: not a cursor this list "
	    "returned (use the Link header of the previous page)");
	return 1;
}

/* Row row's item as the next element of the array; n counts them. */
static void
put_item(struct req *r, const PGresult *res, int row, size_t *n)
{
	if (PQgetisnull(res, row, 0))
		return;		/* the parent's "I exist, with none" row */
	if ((*n)++ > 0)
		FCGX_PutChar(',', r->fcgi->out);
	FCGX_PutStr(PQgetvalue(res, row, 0), PQgetlength(res, row, 0),
	    r->fcgi->out);
}

/*
 * The whole list, a row at a time.  The first result decides the
 * answer; once the 200 is out, a failure can only be logged, and the
 * array is left unclosed so that no client takes a broken list for a
 * short one.
 */
static void
list_stream(struct req *r, const struct stmt_set *set, size_t i,
    int nparams, const char **p, void (*gone)(struct req *))
{
	PGresult	*res;
	size_t		 rows = 0, n = 0;
	int		 k, ended = 0;

	if (db_stream(set, i, nparams, p) == -1) {
		answer_failed(r, &set->defs[i], NULL);
		return;
	}
	while ((res = db_stream_next()) != NULL) {
		if (PQresultStatus(res) != PGRES_SINGLE_TUPLE)
			ended = 1;
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
		case PGRES_TUPLES_OK:
			/* One row each, but the end could carry rows too. */
			for (k = 0; k < PQntuples(res); k++) {
				if (rows++ == 0) {
					http_begin(r, 200, "application/json");
					FCGX_PutChar('[', r->fcgi->out);
				}
				put_item(r, res, k, &n);
			}
			if (PQresultStatus(res) == PGRES_TUPLES_OK) {
				if (rows > 0)
					FCGX_PutChar(']', r->fcgi->out);
				else if (gone != NULL)
					gone(r);
				else
					http_send_json(r, 200, "[]", 2);
			}
			PQclear(res);
			break;
		default:
			if (rows == 0) {
				if (bad_cursor(r, res))
					PQclear(res);
				else
					answer_failed(r, &set->defs[i], res);
				break;
			}
			log_error("%s failed after %zu rows, the answer is cut "
			    "short: %s", set->defs[i].name, rows,
			    PQresultErrorMessage(res));
			PQclear(res);
			break;
		}
	}
	if (ended)
		return;
	/* No end came: the connection went away between results. */
	if (rows == 0)
		answer_failed(r, &set->defs[i], NULL);
	else
		log_error("%s: the connection ended after %zu rows, the answer "
		    "is cut short", set->defs[i].name, rows);
}

/*
 * A page: at most `limit` items and at most max_page_bytes of them
 * (the first always goes; `bytes` is the page's size with the next
 * item's comma).  The statement returns limit + 1 rows at most, read
 * whole: single-row mode measured half the req/s for pages of 100
 * (make bench, "GET list metadata_only").  When a row beyond the page
 * came (the extra row, or an item over the budget), Link continues
 * after the last item the page holds.
 */
static void
list_page(struct req *r, const struct stmt_set *set, size_t i,
    int nparams, const char **p, int limit, void (*gone)(struct req *))
{
	PGresult	*res;
	size_t		 budget, bytes = 1, len;
	int		 nt, k, n = 0, last = -1, more = 0;

	budget = (size_t)r->cfg->max_page_bytes;
	res = db_run(set, i, nparams, p);
	if (bad_cursor(r, res)) {
		PQclear(res);
		return;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		answer_failed(r, &set->defs[i], res);
		return;
	}
	if ((nt = PQntuples(res)) == 0 && gone != NULL) {
		gone(r);
		PQclear(res);
		return;
	}
	/* The rows of the page: [0, nt), items among them numbered n. */
	for (k = 0; k < nt; k++) {
		if (PQgetisnull(res, k, 0))
			continue;	/* not an item */
		len = (size_t)PQgetlength(res, k, 0);
		if (n == limit || (n > 0 && bytes + len + 1 > budget)) {
			more = 1;
			break;
		}
		bytes += len + 1;
		n++;
		last = k;
	}
	nt = k;
	if (more && last >= 0)
		api_link_next(r, PQgetvalue(res, last, 1));
	http_begin(r, 200, "application/json");
	FCGX_PutChar('[', r->fcgi->out);
	for (k = 0, n = 0; k < nt; k++) {
		if (PQgetisnull(res, k, 0))
			continue;
		if (n++ > 0)
			FCGX_PutChar(',', r->fcgi->out);
		FCGX_PutStr(PQgetvalue(res, k, 0), PQgetlength(res, k, 0),
		    r->fcgi->out);
	}
	FCGX_PutChar(']', r->fcgi->out);
	PQclear(res);
}

void
api_list(struct req *r, const struct stmt_set *set, size_t i, int nparams,
    const char **p, void (*gone)(struct req *))
{
	const char	*s;
	char		 rows[16];
	int		 limit;

	if ((s = http_query(r, "limit")) == NULL) {
		p[nparams - 1] = NULL;
		list_stream(r, set, i, nparams, p, gone);
		return;
	}
	if (api_limit_parse(s, &limit) == -1) {
		http_error(r, 400, "bad_request", "limit: expected an integer "
		    "from 1 to %d, got \"%.32s\"", API_LIST_MAX, s);
		return;
	}
	/* One row more than the page: it tells whether another follows. */
	snprintf(rows, sizeof(rows), "%d", limit + 1);
	p[nparams - 1] = rows;
	list_page(r, set, i, nparams, p, limit, gone);
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
api_b64url_encode(struct arena *a, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	char			*out = arena_alloc(a, (n + 2) / 3 * 4 + 1), *o;
	size_t			 i;
	unsigned long		 w;

	for (o = out, i = 0; i + 2 < n; i += 3) {
		w = (unsigned long)u[i] << 16 | u[i + 1] << 8 | u[i + 2];
		*o++ = b64url[w >> 18 & 63];
		*o++ = b64url[w >> 12 & 63];
		*o++ = b64url[w >> 6 & 63];
		*o++ = b64url[w & 63];
	}
	if (i < n) {
		w = (unsigned long)u[i] << 16 | (i + 1 < n ? u[i + 1] << 8 : 0);
		*o++ = b64url[w >> 18 & 63];
		*o++ = b64url[w >> 12 & 63];
		if (i + 1 < n)
			*o++ = b64url[w >> 6 & 63];
	}
	*o = '\0';
	return out;
}

char *
api_b64url_decode(struct arena *a, const char *s)
{
	size_t		 n = strlen(s), i, k = 0;
	unsigned long	 w = 0;
	const char	*c;
	char		*out;
	int		 bits = 0;

	if (n % 4 == 1)
		return NULL;
	out = arena_alloc(a, n * 3 / 4 + 1);
	for (i = 0; i < n; i++) {
		if ((c = strchr(b64url, s[i])) == NULL)
			return NULL;
		w = w << 6 | (unsigned long)(c - b64url);
		if ((bits += 6) >= 8) {
			bits -= 8;
			if ((out[k++] = (char)(w >> bits & 0xff)) == '\0')
				return NULL;
		}
	}
	if (w & ((1UL << bits) - 1))
		return NULL;	/* non-canonical trailing bits */
	out[k] = '\0';
	return out;
}

void
api_link_next(struct req *r, const char *key)
{
	char		*q, *pair, *save = NULL, *k, *out;
	size_t		 o = 0, qlen = strlen(r->query);

	out = arena_alloc(r->arena, qlen + 2);
	q = arena_strdup(r->arena, r->query);
	for (pair = strtok_r(q, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		k = arena_strndup(r->arena, pair, strcspn(pair, "="));
		if (http_urldecode(k, 1) == 0 && strcmp(k, "cursor") == 0)
			continue;
		o += (size_t)snprintf(out + o, qlen + 2 - o, "%s&", pair);
	}
	http_header(r, "Link", "<%s?%scursor=%s>; rel=\"next\"", r->path, out,
	    api_b64url_encode(r->arena, key, strlen(key)));
}

int
api_parse_version(const char *s, size_t len, long *out)
{
	long	 v = 0;
	size_t	 i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 2147483647L)		/* INT_MAX: a PostgreSQL integer */
		return -1;
	*out = v;
	return 0;
}

int
api_parse_etag(const char *s, size_t len, long *v)
{
	size_t	 i;
	int	 weak = 0;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 2 && s[0] == 'W' && s[1] == '/')
		s += 2, len -= 2, weak = 1;
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
		s++, len -= 2;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	if (len == 0)
		return -1;
	if (api_parse_version(s, len, v) == -1)
		return 2;
	return weak;
}

int
api_if_match(struct req *r, char *buf, size_t len)
{
	const char	*h = FCGX_GetParam("HTTP_IF_MATCH", r->fcgi->envp);
	long		 v;
	int		 rc;

	if (h == NULL)
		return 0;
	while (*h == ' ' || *h == '\t')
		h++;
	if (*h == '*' && h[1 + strspn(h + 1, " \t")] == '\0')
		return 0;
	if ((rc = api_parse_etag(h, strlen(h), &v)) == -1) {
		http_error(r, 400, "bad_request", "If-Match: expected one "
		    "version such as \"3\", got \"%.64s\"", h);
		return -1;
	}
	/* Weak tags never match If-Match (RFC 9110 13.1.1). */
	snprintf(buf, len, "%ld", rc == 0 ? v : -1L);
	return 1;
}
