/*
 * fuzz_json.c -- fuzz target: the JSON request-body parser,
 * http_parse_json(), fed the way http_read_json() feeds it (a
 * NUL-terminated copy of the body, its length without the NUL).
 * Properties:
 *   - exactly one of a document and an error message comes back, and
 *     the message is well-formed UTF-8 that does not call a refusal
 *     "success";
 *   - it accepts exactly the JSON texts of RFC 8259 (read by ref()
 *     below) nested at most HTTP_JSON_DEPTH deep.  The contract gives
 *     malformed JSON a 400 invalid_json with the offset; what slips
 *     past json-c passes POST /api/validate/dashboards and then fails
 *     in PostgreSQL (400 bad_request, no offset).  A difference is
 *     tagged with the rule: "scalar" (a valid bare scalar refused),
 *     "utf8", "control", "number", "literal", "quote", "syntax",
 *     "depth" (something invalid accepted);
 *   - an accepted document has only well-formed UTF-8 strings and
 *     member names (tag "utf8");
 *   - what json-c writes back for a valid document (as templates.c
 *     stores it) parses again to an equal document.
 * FUZZ_KNOWN (fuzz.h) may skip the tagged checks while fuzzing.
 *
 * Owns: the arena, the copies and the documents of one input.
 * Never: keep anything from one input to the next.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "http.h"
#include "fuzz.h"

/* \u0000 is valid JSON: the code that uses a string refuses it. */
static void
check_string(const char *s, size_t len, const char *what)
{
	if (!fuzz_known("utf8"))
		FUZZ_CHECK(fuzz_utf8_ok(s, len), "accepted a %s that is not "
		    "well-formed UTF-8", what);
}

static void
check_strings(struct json_object *o)
{
	size_t	 i, n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		check_string(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o), "string");
		break;
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			check_strings(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			check_string(k, strlen(k), "member name");
			check_strings(v);
		}
		break;
	}
	default:
		break;
	}
}

/*
 * A JSON text as RFC 8259 defines it, read strictly: the reference the
 * parser is compared with.  ref() returns NULL when the text is valid,
 * else the tag of the first rule broken; the tags name the known
 * differences, so that FUZZ_KNOWN can skip them one by one.
 */
struct rj {
	const unsigned char	*p, *end;
	int			 depth;
};

static const char	*rj_value(struct rj *);

static void
rj_ws(struct rj *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int
rj_is(struct rj *r, const char *lit)
{
	size_t	 n = strlen(lit);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return 0;
	r->p += n;
	return 1;
}

static int
rj_digits(struct rj *r)
{
	const unsigned char	*start = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > start;
}

static const char *
rj_number(struct rj *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (!rj_digits(r))
		return "number";
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (!rj_digits(r))
			return "number";
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!rj_digits(r))
			return "number";
	}
	/* "01", "-01": digits may not follow a leading zero. */
	if (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		return "number";
	return NULL;
}

static const char *
rj_string(struct rj *r)
{
	const unsigned char	*start;
	size_t			 i;

	r->p++;		/* the opening quote */
	while (r->p < r->end && *r->p != '"') {
		if (*r->p < 0x20)
			return "control";
		if (*r->p == '\\') {
			if (++r->p == r->end)
				return "syntax";
			if (*r->p == 'u') {
				for (i = 1; i <= 4; i++)
					if (r->p + i >= r->end ||
					    !isxdigit(r->p[i]))
						return "syntax";
				r->p += 5;
			} else if (strchr("\"\\/bfnrt", *r->p) != NULL &&
			    *r->p != '\0')
				r->p++;
			else
				return "syntax";
			continue;
		}
		if (*r->p < 0x80) {
			r->p++;
			continue;
		}
		start = r->p;
		while (r->p < r->end && *r->p >= 0x80)
			r->p++;
		if (!fuzz_utf8_ok((const char *)start, (size_t)(r->p - start)))
			return "utf8";
	}
	if (r->p == r->end)
		return "syntax";
	r->p++;
	return NULL;
}

static const char *
rj_container(struct rj *r, int close)
{
	const char	*e;

	if (++r->depth > HTTP_JSON_DEPTH)
		return "depth";
	r->p++;
	rj_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		return NULL;
	}
	for (;;) {
		if (close == '}') {
			if (r->p < r->end && *r->p == '\'')
				return "quote";
			if (r->p == r->end || *r->p != '"')
				return "syntax";
			if ((e = rj_string(r)) != NULL)
				return e;
			rj_ws(r);
			if (r->p == r->end || *r->p++ != ':')
				return "syntax";
			rj_ws(r);
		}
		if ((e = rj_value(r)) != NULL)
			return e;
		rj_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			rj_ws(r);
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			r->depth--;
			return NULL;
		}
		return "syntax";
	}
}

static const char *
rj_value(struct rj *r)
{
	if (r->p == r->end)
		return "syntax";
	/* json-c counts a scalar as a level too: [[1]] is 3 deep. */
	if (*r->p != '{' && *r->p != '[' && r->depth + 1 > HTTP_JSON_DEPTH)
		return "depth";
	switch (*r->p) {
	case '{':
		return rj_container(r, '}');
	case '[':
		return rj_container(r, ']');
	case '"':
		return rj_string(r);
	case '\'':
		return "quote";		/* JavaScript again */
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return rj_number(r);
	default:
		if (rj_is(r, "true") || rj_is(r, "false") || rj_is(r, "null"))
			return NULL;
		/* NaN, Infinity and friends are JavaScript, not JSON. */
		return "literal";
	}
}

static const char *
ref(const char *buf, size_t len)
{
	struct rj	 r = { (const unsigned char *)buf,
			    (const unsigned char *)buf + len, 0 };
	const char	*e;

	rj_ws(&r);
	if ((e = rj_value(&r)) != NULL)
		return e;
	rj_ws(&r);
	return r.p == r.end ? NULL : "syntax";
}

/* The bytes, a space, a NUL. */
static char *
with_space(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 2)) == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = ' ';
	s[size + 1] = '\0';
	return s;
}

/* Only an object or array ends itself: json-c waits after a scalar. */
static int
bare_scalar(const char *s)
{
	s += strspn(s, " \t\n\r");
	return *s != '{' && *s != '[';
}

/* Just the literal null, give or take white space. */
static int
null_text(const char *s)
{
	s += strspn(s, " \t\n\r");
	if (strncmp(s, "null", 4) != 0)
		return 0;
	s += 4;
	return s[strspn(s, " \t\n\r")] == '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena		 a = { 0 };
	struct json_object	*o, *again = NULL;
	const char		*err, *err2, *e, *s;
	char			*body = fuzz_cstr(data, size), *body2;
	size_t			 len;

	o = http_parse_json(&a, body, size, &err);
	FUZZ_CHECK((o == NULL) != (err == NULL),
	    "document %p with error \"%s\"", (void *)o, err ? err : "");
	if (o == NULL)
		FUZZ_CHECK(*err != '\0' && fuzz_utf8_ok(err, strlen(err)),
		    "empty or non-UTF-8 error message");

	e = ref(body, size);
	/* json-c represents the literal null as no object at all, so a
	 * top-level null is the one valid text it must refuse. */
	if (o == NULL && e == NULL && null_text(body))
		goto out;
	if (o == NULL && e == NULL && !(bare_scalar(body) &&
	    fuzz_known("scalar")))
		FUZZ_FAIL("refused valid JSON: %s%s", err,
		    bare_scalar(body) ? " (tag scalar)" : "");
	if (o != NULL && e != NULL && !fuzz_known(e))
		FUZZ_FAIL("accepted JSON that breaks RFC 8259 (tag %s)", e);
	if (o == NULL && !fuzz_known("scalar"))
		FUZZ_CHECK(strstr(err, "success") == NULL,
		    "refused with \"%s\" (tag scalar)", err);
	if (o == NULL)
		goto out;

	check_strings(o);
	/* What json-c makes of invalid JSON need not survive a round trip
	 * (NaN is not NaN): that JSON was refused above. */
	if (e != NULL)
		goto out;
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
	    &len);
	again = http_parse_json(&a, s, len, &err2);
	/* A bare scalar needs the space that ends it (tag "scalar"). */
	if (again == NULL && bare_scalar(s) && fuzz_known("scalar")) {
		body2 = with_space((const uint8_t *)s, len);
		again = http_parse_json(&a, body2, len + 1, &err2);
		free(body2);
	}
	FUZZ_CHECK(again != NULL, "json-c wrote \"%s\", which does not "
	    "parse: %s%s", s, err2, bare_scalar(s) ? " (tag scalar)" : "");
	FUZZ_CHECK(json_object_equal(o, again), "\"%s\" parses differently",
	    s);
out:
	json_object_put(again);
	json_object_put(o);
	arena_free(&a);
	free(body);
	return 0;
}
