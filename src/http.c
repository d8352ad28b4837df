/*
 * http.c -- validated request inputs and the response writer.
 *
 * Owns: turning libfcgi's params and stdin into a struct req whose
 * strings live in the request arena; the one error body format; the
 * JSON body parser (json-c with a depth limit and UTF-8 validation).
 * Never: trust a client header for identity (REMOTE_USER only comes
 * from the FastCGI params nginx sets), or keep libfcgi's pointers.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "errors.h"
#include "http.h"
#include "log.h"

static const struct {
	int		 code;
	const char	*reason;
} reasons[] = {
	{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
	{ 304, "Not Modified" }, { 400, "Bad Request" },
	{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 409, "Conflict" },
	{ 412, "Precondition Failed" }, { 413, "Payload Too Large" },
	{ 415, "Unsupported Media Type" }, { 428, "Precondition Required" },
	{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
	{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
};

const char *
http_reason(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].reason;
	return "Unknown";
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
http_urldecode(char *s, int plus_is_space)
{
	char	*w = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((hi = hexval((unsigned char)s[1])) < 0 ||
			    (lo = hexval((unsigned char)s[2])) < 0)
				return -1;
			if (hi == 0 && lo == 0)
				return -1;	/* no NUL smuggling */
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else if (*s == '+' && plus_is_space)
			*w++ = ' ';
		else
			*w++ = *s;
	}
	*w = '\0';
	return 0;
}

/* Append the pairs of an application/x-www-form-urlencoded text. */
static int
parse_pairs(struct req *r, const char *query)
{
	char	*q, *pair, *save = NULL, *eq;

	if (query == NULL || *query == '\0')
		return 0;
	q = arena_strdup(r->arena, query);
	for (pair = strtok_r(q, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		if (r->nqs == HTTP_MAX_QUERY)
			return -1;
		if ((eq = strchr(pair, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = pair + strlen(pair);
		if (http_urldecode(pair, 1) == -1 || http_urldecode(eq, 1) == -1)
			return -1;
		r->qs[r->nqs].key = pair;
		r->qs[r->nqs].val = eq;
		r->nqs++;
	}
	return 0;
}

int
http_parse_query(struct req *r, const char *query)
{
	r->nqs = 0;
	return parse_pairs(r, query);
}

int
http_parse_form(struct req *r, const char *body)
{
	return parse_pairs(r, body);
}

const char *
http_query(const struct req *r, const char *key)
{
	size_t	 i;

	for (i = 0; i < r->nqs; i++)
		if (strcmp(r->qs[i].key, key) == 0)
			return r->qs[i].val;
	return NULL;
}

/* A client-supplied request id is kept only if it is short and plain. */
static int
request_id_ok(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && strchr("-_.:", *s) == NULL)
			return 0;
	return n > 0 && n <= HTTP_REQUEST_ID_MAX;
}

/*
 * Random bytes for request ids, drawn from the kernel 256 at a time
 * (one getrandom(2) per 16 requests, not one per request).  Per
 * process: http_fork_reset() empties it in each new worker, so no two
 * workers ever hand out the same ids.
 */
static unsigned char	 idpool[256];
static size_t		 idpool_used = sizeof(idpool);

void
http_fork_reset(void)
{
	idpool_used = sizeof(idpool);
}

static void
request_id_new(char *buf)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 raw[16];
	size_t			 i;

	if (idpool_used + sizeof(raw) > sizeof(idpool)) {
		if (getrandom(idpool, sizeof(idpool), 0) != sizeof(idpool))
			memset(idpool, 0, sizeof(idpool));
		idpool_used = 0;
	}
	memcpy(raw, idpool + idpool_used, sizeof(raw));
	idpool_used += sizeof(raw);
	for (i = 0; i < sizeof(raw); i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 0xf];
	}
	buf[2 * sizeof(raw)] = '\0';
}

static const char *
param(struct req *r, const char *name)
{
	const char	*v = FCGX_GetParam(name, r->fcgi->envp);

	return v == NULL ? NULL : arena_strdup(r->arena, v);
}

int
http_req_init(struct req *r, FCGX_Request *f, struct arena *a,
    const struct config *cfg)
{
	const char	*uri, *q, *id;

	memset(r, 0, sizeof(*r));
	r->fcgi = f;
	r->arena = a;
	r->cfg = cfg;
	r->status = 0;

	/* The audit log keeps own_id; a client's id only beside it. */
	request_id_new(r->own_id);
	id = FCGX_GetParam("HTTP_X_REQUEST_ID", f->envp);
	if ((r->client_id = id != NULL && request_id_ok(id)))
		snprintf(r->request_id, sizeof(r->request_id), "%s", id);
	else
		snprintf(r->request_id, sizeof(r->request_id), "%s",
		    r->own_id);

	r->method = param(r, "REQUEST_METHOD");
	r->remote_user = param(r, "REMOTE_USER");
	if (r->remote_user != NULL && *r->remote_user == '\0')
		r->remote_user = NULL;
	r->remote_addr = param(r, "REMOTE_ADDR");
	r->content_type = param(r, "CONTENT_TYPE");
	if ((uri = param(r, "REQUEST_URI")) == NULL)
		uri = param(r, "DOCUMENT_URI");
	if (r->method == NULL || uri == NULL || *uri != '/') {
		r->method = r->method ? r->method : "?";
		r->path = uri ? uri : "?";
		return 400;
	}
	if ((q = strchr(uri, '?')) != NULL) {
		r->path = arena_strndup(a, uri, (size_t)(q - uri));
		r->query = q + 1;
	} else {
		r->path = uri;
		r->query = "";
	}
	if (http_parse_query(r, r->query) == -1)
		return 400;
	return 0;
}

void
http_header(struct req *r, const char *name, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	size_t	 room = sizeof(r->hdrs) - r->hdrs_len;

	n = snprintf(r->hdrs + r->hdrs_len, room, "%s: ", name);
	if (n < 0 || (size_t)n >= room)
		goto full;
	r->hdrs_len += (size_t)n;
	room -= (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(r->hdrs + r->hdrs_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= room)
		goto full;
	r->hdrs_len += (size_t)n;
	memcpy(r->hdrs + r->hdrs_len, "\r\n", 2);
	r->hdrs_len += 2;
	return;
full:
	/* Never emit half a header. */
	r->hdrs[r->hdrs_len] = '\0';
	log_error("response header %s dropped: header buffer full", name);
}

void
http_begin(struct req *r, int status, const char *ctype)
{
	if (r->headers_sent) {
		log_error("headers already sent (status %d, then %d)",
		    r->status, status);
		return;
	}
	r->status = status;
	r->headers_sent = 1;
	FCGX_FPrintF(r->fcgi->out, "Status: %d %s\r\nX-Request-Id: %s\r\n",
	    status, http_reason(status), r->request_id);
	if (ctype != NULL)
		FCGX_FPrintF(r->fcgi->out, "Content-Type: %s\r\n", ctype);
	FCGX_PutStr(r->hdrs, (int)r->hdrs_len, r->fcgi->out);
	FCGX_PutStr("\r\n", 2, r->fcgi->out);
}

void
http_send(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	/* Inside a change nothing leaves before COMMIT: hold it. */
	if (r->tx) {
		if (r->held.set) {
			log_error("second answer (%d) to one request ignored",
			    status);
			return;
		}
		r->held.set = 1;
		r->held.status = status;
		r->held.ctype = ctype ? arena_strdup(r->arena, ctype) : NULL;
		r->held.body = arena_strndup(r->arena, body ? body : "", len);
		r->held.len = len;
		r->status = status;
		return;
	}
	if (status != 204 && status != 304)
		http_header(r, "Content-Length", "%zu", len);
	http_begin(r, status, len > 0 || status >= 400 ? ctype : NULL);
	if (len > 0 && status != 204 && status != 304)
		FCGX_PutStr(body, (int)len, r->fcgi->out);
}

void
http_release(struct req *r)
{
	if (!r->held.set)
		return;
	r->held.set = 0;
	r->tx = 0;
	http_send(r, r->held.status, r->held.ctype, r->held.body,
	    r->held.len);
}

void
http_discard(struct req *r)
{
	r->held.set = 0;
	r->hdrs_len = 0;
	r->status = 0;
	r->error_code = NULL;
}

void
http_send_json(struct req *r, int status, const char *json, size_t len)
{
	http_send(r, status, "application/json", json, len);
}

void
http_error_obj(struct req *r, int status, const char *code,
    const char *message, struct json_object *extra)
{
	struct json_object	*o = json_object_new_object();
	const char		*s;
	size_t			 len;
	int			 want = error_status(code);

	/* The table (errors.c) and the answer must agree. */
	if (want != status)
		log_error("error code %s answered with status %d; the error "
		    "table says %d", code, status, want);
	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "message", json_object_new_string(message));
	if (extra != NULL) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(extra);
	}
	s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	r->error_code = arena_strdup(r->arena, code);
	http_send_json(r, status, s, len);
	json_object_put(o);
}

void
http_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_error_obj(r, status, code, msg, NULL);
}

/* "application/json" or "application/json; charset=utf-8". */
static int
is_type(const char *ct, const char *want)
{
	size_t			 n = strlen(want);

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/*
 * RFC 8259, strictly, with the offset of the first offence.  json-c
 * 0.16 in strict mode still accepts NaN and Infinity, single quotes,
 * raw control characters in strings, "01", "1." and ill-formed UTF-8
 * (overlong forms, surrogates, code points past U+10FFFF), so every
 * body passes this check before json-c builds the tree.  Depth counts
 * as json-c does: a scalar inside N containers is N + 1 deep.
 */
struct jcheck {
	const unsigned char	*b, *p, *e;
	int			 depth;
	const char		*what;
};

static const char *jc_value(struct jcheck *);

static void
jc_ws(struct jcheck *c)
{
	while (c->p < c->e && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int
jc_digits(struct jcheck *c)
{
	const unsigned char	*s = c->p;

	while (c->p < c->e && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s;
}

static const char *
jc_number(struct jcheck *c)
{
	if (*c->p == '-')
		c->p++;
	if (c->p < c->e && *c->p == '0') {
		c->p++;
		if (c->p < c->e && *c->p >= '0' && *c->p <= '9')
			return "leading zero in a number";
	} else if (!jc_digits(c))
		return "invalid number";
	if (c->p < c->e && *c->p == '.') {
		c->p++;
		if (!jc_digits(c))
			return "invalid number: digits must follow \".\"";
	}
	if (c->p < c->e && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->e && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!jc_digits(c))
			return "invalid number: digits must follow the exponent";
	}
	return NULL;
}

/* One UTF-8 sequence at c->p (lead byte >= 0x80), RFC 3629. */
static const char *
jc_utf8(struct jcheck *c)
{
	const unsigned char	*p = c->p;
	size_t			 n, i;
	unsigned int		 cp;

	if (*p >= 0xc2 && *p <= 0xdf) {
		n = 1; cp = *p & 0x1f;
	} else if (*p >= 0xe0 && *p <= 0xef) {
		n = 2; cp = *p & 0x0f;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 3; cp = *p & 0x07;
	} else
		return "invalid UTF-8";
	if ((size_t)(c->e - p) <= n)
		return "invalid UTF-8";
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return "invalid UTF-8";
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return "invalid UTF-8";
	c->p += n + 1;
	return NULL;
}

static const char *
jc_string(struct jcheck *c)
{
	const char	*err;
	int		 i;

	c->p++;
	while (c->p < c->e && *c->p != '"') {
		if (*c->p < 0x20)
			return "control character in a string";
		if (*c->p == '\\') {
			if (++c->p == c->e)
				break;
			if (*c->p == 'u') {
				for (i = 1; i <= 4; i++)
					if (c->p + i >= c->e ||
					    !isxdigit(c->p[i]))
						return "invalid \\u escape";
				c->p += 5;
			} else if (*c->p != '\0' &&
			    strchr("\"\\/bfnrt", *c->p) != NULL)
				c->p++;
			else
				return "invalid escape in a string";
		} else if (*c->p >= 0x80) {
			if ((err = jc_utf8(c)) != NULL)
				return err;
		} else
			c->p++;
	}
	if (c->p == c->e)
		return "unexpected end of JSON input";
	c->p++;
	return NULL;
}

static const char *
jc_container(struct jcheck *c, unsigned char close)
{
	const char	*err;

	if (++c->depth > HTTP_JSON_DEPTH)
		return "JSON nesting deeper than 64";
	c->p++;
	jc_ws(c);
	if (c->p < c->e && *c->p == close)
		goto done;
	for (;;) {
		if (close == '}') {
			if (c->p == c->e)
				return "unexpected end of JSON input";
			if (*c->p != '"')
				return "expected a member name in double quotes";
			if ((err = jc_string(c)) != NULL)
				return err;
			jc_ws(c);
			if (c->p == c->e)
				return "unexpected end of JSON input";
			if (*c->p != ':')
				return "expected ':' after a member name";
			c->p++;
			jc_ws(c);
		}
		if ((err = jc_value(c)) != NULL)
			return err;
		jc_ws(c);
		if (c->p == c->e)
			return "unexpected end of JSON input";
		if (*c->p == close)
			break;
		if (*c->p != ',')
			return close == '}' ? "expected ',' or '}'" :
			    "expected ',' or ']'";
		c->p++;
		jc_ws(c);
	}
done:
	c->p++;
	c->depth--;
	return NULL;
}

static const char *
jc_literal(struct jcheck *c, const char *lit)
{
	size_t	 n = strlen(lit);

	if ((size_t)(c->e - c->p) < n || memcmp(c->p, lit, n) != 0)
		return "invalid literal (JSON has true, false and null)";
	c->p += n;
	return NULL;
}

static const char *
jc_value(struct jcheck *c)
{
	if (c->p == c->e)
		return "unexpected end of JSON input";
	if (*c->p != '{' && *c->p != '[' && c->depth + 1 > HTTP_JSON_DEPTH)
		return "JSON nesting deeper than 64";
	switch (*c->p) {
	case '{':
		return jc_container(c, '}');
	case '[':
		return jc_container(c, ']');
	case '"':
		return jc_string(c);
	case 't':
		return jc_literal(c, "true");
	case 'f':
		return jc_literal(c, "false");
	case 'n':
		return jc_literal(c, "null");
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return jc_number(c);
		return "unexpected character";
	}
}

/* NULL if buf is one JSON text; else why, with *off where. */
static const char *
json_check(const char *buf, size_t len, size_t *off)
{
	struct jcheck	 c;
	const char	*err;

	c.b = c.p = (const unsigned char *)buf;
	c.e = c.b + len;
	c.depth = 0;
	jc_ws(&c);
	if ((err = jc_value(&c)) == NULL) {
		jc_ws(&c);
		if (c.p != c.e)
			err = "unexpected data after the JSON value";
	}
	*off = (size_t)(c.p - c.b);
	return err;
}

/*
 * buf[len] must be '\0' (request bodies are): json-c needs a byte
 * after a top-level scalar to know it has ended.
 */
struct json_object *
http_parse_json(struct arena *a, const char *buf, size_t len,
    const char **err)
{
	struct json_tokener	*tok;
	struct json_object	*o = NULL;
	enum json_tokener_error	 jerr;
	const char		*why;
	size_t			 off;

	*err = NULL;
	if (len == 0) {
		*err = "empty body: expected a JSON document";
		return NULL;
	}
	if (len >= INT_MAX) {
		*err = "body too large to parse";
		return NULL;
	}
	if ((why = json_check(buf, len, &off)) != NULL) {
		*err = arena_printf(a, "%s at offset %zu", why, off);
		return NULL;
	}
	if ((tok = json_tokener_new_ex(HTTP_JSON_DEPTH)) == NULL) {
		*err = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	if (o == NULL) {
		/* Valid JSON json-c has no object for: the literal null. */
		if (jerr == json_tokener_success)
			*err = "the body is JSON null: expected an object";
		else
			*err = arena_printf(a, "%s at offset %zu",
			    json_tokener_error_desc(jerr),
			    json_tokener_get_parse_end(tok));
	}
	json_tokener_free(tok);
	return o;
}

int
http_read_body(struct req *r, const char *ctype)
{
	const char	*cl;
	char		*end;
	long long	 want = -1;
	size_t		 cap, got = 0;
	int		 n;
	int64_t		 max = r->cfg->max_body;

	if (!is_type(r->content_type, ctype)) {
		http_error(r, 415, "unsupported_media_type",
		    "Content-Type must be %s, got \"%s\"", ctype,
		    r->content_type ? r->content_type : "");
		return -1;
	}
	cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgi->envp);
	if (cl != NULL && *cl != '\0') {
		errno = 0;
		want = strtoll(cl, &end, 10);
		if (errno != 0 || *end != '\0' || want < 0) {
			http_error(r, 400, "bad_request",
			    "invalid Content-Length \"%s\"", cl);
			return -1;
		}
	}
	if (want > max) {
		http_error(r, 413, "payload_too_large", "request body of %lld "
		    "bytes exceeds max_body (%lld bytes)", want,
		    (long long)max);
		return -1;
	}
	/* Without a length, read at most max_body + 1 to detect excess. */
	cap = want >= 0 ? (size_t)want : (size_t)max + 1;
	r->body = arena_alloc(r->arena, cap + 1);
	while (got < cap) {
		n = FCGX_GetStr(r->body + got, (int)(cap - got > 65536 ?
		    65536 : cap - got), r->fcgi->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if ((int64_t)got > max) {
		http_error(r, 413, "payload_too_large", "request body exceeds "
		    "max_body (%lld bytes)", (long long)max);
		return -1;
	}
	if (want >= 0 && got != (size_t)want) {
		http_error(r, 400, "bad_request", "request body ended after "
		    "%zu of %lld bytes", got, want);
		return -1;
	}
	r->body[got] = '\0';
	r->body_len = got;
	return 0;
}

int
http_read_json(struct req *r)
{
	const char	*err;

	if (http_read_body(r, "application/json") == -1)
		return -1;
	if ((r->json = http_parse_json(r->arena, r->body, r->body_len,
	    &err)) == NULL) {
		http_error(r, 400, "invalid_json", "invalid JSON body: %s", err);
		return -1;
	}
	return 0;
}
