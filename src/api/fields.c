/*
 * fields.c -- api_fields(), the field-table body checker common.h
 * declares: one walk of a JSON object against a const table of its
 * members, typed values out, one message naming the member in.
 *
 * Owns: the wording of every generic refusal of a body member (wrong
 * type, out of bounds, not one of the values, unknown, required).
 * Never: answer a request, touch the database or the configuration
 * (rules that need them stay in the module, after the table), or keep
 * anything (it is pure, for the fuzz target, and lives apart from
 * common.c so that target links without the database layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/common.h"
#include "text.h"
#include "validate.h"

#define PATH_MAX_LEN	256	/* longer paths are cut, never overrun */
#define SHOWN_MAX	80	/* bytes of a refused value in a message */
#define TIME_WANTED	"expected an RFC 3339 time such as " \
			"\"2030-01-02T15:04:05Z\""
#define DURATION_WANTED	"expected a duration such as \"30m\", \"24h\" or " \
			"\"7d\""

struct walk {
	char	*err;
	size_t	 len;
};

static int
fail(struct walk *w, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<path>: <fmt>" into the error buffer; always -1. */
static int
fail(struct walk *w, const char *path, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	n = snprintf(w->err, w->len, "%s: ", path);
	if (n >= 0 && (size_t)n < w->len) {
		va_start(ap, fmt);
		vsnprintf(w->err + n, w->len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A refused value as JSON text, cut whole characters short. */
static const char *
shown(struct json_object *v, char *buf, size_t len)
{
	const char	*s = json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t		 n = strlen(s);

	if (n < len) {
		memcpy(buf, s, n + 1);
		return buf;
	}
	n = text_utf8_trim(s, len - 4);
	memcpy(buf, s, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

/* The expected wording, or the type's own. */
static int
wrong(struct walk *w, const char *path, const struct api_field *f,
    const char *own, struct json_object *v)
{
	char	 b[SHOWN_MAX + 1];

	if (f->expect != NULL)
		return fail(w, path, "%s", f->expect);
	if (v == NULL)
		return fail(w, path, "%s", own);
	return fail(w, path, "%s, got %s", own, shown(v, b, sizeof(b)));
}

static int	value(struct walk *, const char *, const struct api_field *,
		    struct json_object *, void *);

/* must be "a", "b" or "c" */
static int
wrong_enum(struct walk *w, const char *path, const struct api_field *f,
    struct json_object *v)
{
	char	 msg[256];
	size_t	 i, o = 0;

	o = (size_t)snprintf(msg, sizeof(msg), "must be ");
	for (i = 0; f->values[i] != NULL && o < sizeof(msg); i++)
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s\"%s\"",
		    i == 0 ? "" : f->values[i + 1] == NULL ? " or " : ", ",
		    f->values[i]);
	return wrong(w, path, f, msg, v);
}

static void
put(void *dst, const struct api_field *f, const void *v, size_t n)
{
	if (dst != NULL && f->at != 0)
		memcpy((char *)dst + f->at - 1, v, n);
}

static int
v_string(struct walk *w, const char *path, const struct api_field *f,
    struct json_object *v, void *dst)
{
	const char	*s;
	size_t		 n;

	if (!json_object_is_type(v, json_type_string)) {
		switch (f->type) {
		case API_ENUM:
			return wrong_enum(w, path, f, v);
		case API_TIME:
			return wrong(w, path, f, TIME_WANTED, v);
		case API_DURATION:
			return wrong(w, path, f, DURATION_WANTED, v);
		default:
			return wrong(w, path, f, f->min > 0 ? "must be a "
			    "non-empty string" : "must be a string", NULL);
		}
	}
	s = json_object_get_string(v);
	if ((n = strlen(s)) != (size_t)json_object_get_string_len(v))
		return fail(w, path, "must not contain NUL characters");
	switch (f->type) {
	case API_ENUM: {
		size_t	 i;

		for (i = 0; f->values[i] != NULL; i++)
			if (strcmp(s, f->values[i]) == 0)
				break;
		if (f->values[i] == NULL)
			return wrong_enum(w, path, f, v);
		break;
	}
	case API_TIME:
		if (!text_rfc3339(s))
			return wrong(w, path, f, TIME_WANTED, v);
		break;
	case API_DURATION: {
		int64_t	 ms;

		if (!validate_duration_ms(s, &ms))
			return wrong(w, path, f, DURATION_WANTED, v);
		/* "0s" is no lifetime: as wrong as "soon". */
		if (ms < f->min)
			return wrong(w, path, f, DURATION_WANTED, v);
		if (f->max > 0 && ms > f->max)
			return fail(w, path, "at most %" PRId64 " ms, got "
			    "%.32s", f->max, s);
		put(dst, f, &ms, sizeof(ms));
		return 0;
	}
	default:
		n = text_utf8_chars(s, n);
		if (f->min > 0 && n < (size_t)f->min)
			return f->min == 1 ? fail(w, path, "must be a "
			    "non-empty string") : fail(w, path, "at least %"
			    PRId64 " characters, got %zu", f->min, n);
		if (f->max > 0 && n > (size_t)f->max)
			return fail(w, path, "at most %" PRId64 " characters, "
			    "got %zu", f->max, n);
		if (f->check != NULL && !f->check(s)) {
			char	 b[SHOWN_MAX + 1];

			return f->expect != NULL ? fail(w, path, "%s",
			    f->expect) : fail(w, path, "%s is not %s",
			    shown(v, b, sizeof(b)), f->rule);
		}
		break;
	}
	put(dst, f, &s, sizeof(s));
	return 0;
}

static int
v_int(struct walk *w, const char *path, const struct api_field *f,
    struct json_object *v, void *dst)
{
	char	 msg[96];
	int64_t	 n;

	snprintf(msg, sizeof(msg), "must be an integer from %" PRId64 " to %"
	    PRId64, f->min, f->max);
	if (!json_object_is_type(v, json_type_int))
		return wrong(w, path, f, msg, v);
	errno = 0;
	n = json_object_get_int64(v);
	/* json-c clamps what int64 cannot hold, and says so in errno. */
	if (errno != 0 || n < f->min || n > f->max)
		return wrong(w, path, f, msg, v);
	put(dst, f, &n, sizeof(n));
	return 0;
}

static int
v_array(struct walk *w, const char *path, const struct api_field *f,
    struct json_object *v, void *dst)
{
	char	 p[PATH_MAX_LEN];
	size_t	 i, n;

	if (!json_object_is_type(v, json_type_array))
		return wrong(w, path, f, "must be an array", NULL);
	n = json_object_array_length(v);
	if (f->max > 0 && n > (size_t)f->max)
		return fail(w, path, "at most %" PRId64 " entries, got %zu",
		    f->max, n);
	if (n < (size_t)f->min)
		return fail(w, path, "at least %" PRId64 " entries, got %zu",
		    f->min, n);
	for (i = 0; f->elem != NULL && i < n; i++) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		/* Elements are checked, not kept: the array is. */
		if (value(w, p, f->elem, json_object_array_get_idx(v, i),
		    NULL) == -1)
			return -1;
	}
	put(dst, f, &v, sizeof(v));
	return 0;
}

static int
value(struct walk *w, const char *path, const struct api_field *f,
    struct json_object *v, void *dst)
{
	int	 b;

	switch (f->type) {
	case API_STRING:
	case API_ENUM:
	case API_TIME:
	case API_DURATION:
		return v_string(w, path, f, v, dst);
	case API_INT:
		return v_int(w, path, f, v, dst);
	case API_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return wrong(w, path, f, "must be true or false",
			    NULL);
		b = json_object_get_boolean(v);
		put(dst, f, &b, sizeof(b));
		return 0;
	case API_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			return wrong(w, path, f, "must be an object", NULL);
		if (f->body != NULL && api_fields(v, f->body, dst, path,
		    w->err, w->len) == -1)
			return -1;
		put(dst, f, &v, sizeof(v));
		return 0;
	case API_ARRAY:
		return v_array(w, path, f, v, dst);
	case API_ANY:
		put(dst, f, &v, sizeof(v));
		return 0;
	}
	return fail(w, path, "unknown field type");
}

/* "<path>.<name>", or the name alone at the top; a long name is cut
 * to 64 bytes, never inside a character. */
static void
join(char *p, size_t len, const char *path, const char *name)
{
	snprintf(p, len, "%s%s%.*s", path, *path != '\0' ? "." : "",
	    (int)text_utf8_trim(name, strnlen(name, 64)), name);
}

int
api_fields(struct json_object *o, const struct api_body *b, void *dst,
    const char *path, char *err, size_t len)
{
	struct walk		 w = { err, len };
	struct json_object	*v;
	char			 p[PATH_MAX_LEN];
	size_t			 k;

	err[0] = '\0';
	if (!json_object_is_type(o, json_type_object)) {
		if (*path == '\0' && b->shape != NULL) {
			snprintf(err, len, "%s", b->shape);
			return -1;
		}
		return fail(&w, *path ? path : "the body", "must be an object");
	}
	if (b->members != NULL) {
		json_object_object_foreach(o, key, val) {
			(void)val;
			for (k = 0; k < b->nfields; k++)
				if (strcmp(key, b->fields[k].name) == 0)
					break;
			if (k == b->nfields) {
				join(p, sizeof(p), path, key);
				return fail(&w, p, "unknown field (%s)",
				    b->members);
			}
		}
	}
	for (k = 0; k < b->nfields; k++) {
		const struct api_field	*f = &b->fields[k];

		join(p, sizeof(p), path, f->name);
		if (!json_object_object_get_ex(o, f->name, &v) ||
		    (json_object_is_type(v, json_type_null) &&
		    (f->flags & API_NULL_ABSENT))) {
			if (!(f->flags & API_REQUIRED))
				continue;
			/* The values say more than "required". */
			if (f->type == API_ENUM && f->expect == NULL)
				return wrong_enum(&w, p, f, NULL);
			return f->expect != NULL ? fail(&w, p, "required, %s",
			    f->expect) : fail(&w, p, "required");
		}
		if (value(&w, p, f, v, dst) == -1)
			return -1;
	}
	return 0;
}
