/*
 * fuzz_resource.c -- fuzz target: the datasource and variable rules,
 * validate_datasource_spec() and validate_variable_spec() (and
 * validate_variable_name() on a "name" member), on whatever
 * http_parse_json() accepts, taken as the document's spec.  Properties:
 *   - a refusal leaves *norm NULL and has a message that fits
 *     VALIDATE_ERR_MAX and, when the body was, is well-formed UTF-8;
 *   - with a smaller buffer the verdict is the same and the message is
 *     a prefix of the whole one, cut on a character boundary, within
 *     the buffer (exactly that size, so a write past it is an ASan
 *     report);
 *   - an accepted spec's normal form is what perses.c relies on (a
 *     datasource: "default" a boolean and a non-empty plugin.kind; a
 *     variable: kind ListVariable or TextVariable with a spec object),
 *     and is accepted again unchanged (normalising is idempotent);
 *   - the input is not modified.
 *
 * Owns: the arena, the document, the normal forms and the buffers of
 * one input.
 * Never: keep anything from one input to the next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "http.h"
#include "validate.h"
#include "validate_resource.h"
#include "fuzz.h"

#define BIG_ERR		(16 * VALIDATE_ERR_MAX)
#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

typedef int (*spec_fn)(struct json_object *, struct json_object **, char *,
    size_t);

static const char *
text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_FLAGS);
}

/* Refusals agree whatever the room; a cut keeps whole characters. */
static void
check_cut(const char *big, const char *small, size_t smalllen, int utf8)
{
	size_t	 n = strlen(big), m = strlen(small);

	FUZZ_CHECK(n > 0, "refused without a message");
	FUZZ_CHECK(n < VALIDATE_ERR_MAX, "a %zu-byte message does not fit "
	    "VALIDATE_ERR_MAX: %s", n, big);
	if (utf8)
		FUZZ_CHECK(fuzz_utf8_ok(big, n), "message not UTF-8: %s", big);
	FUZZ_CHECK(m < smalllen && strncmp(small, big, m) == 0 &&
	    (fuzz_utf8_ok(small, m) || !fuzz_utf8_ok(big, n)) &&
	    (n < smalllen ? m == n : m + 4 >= smalllen),
	    "cut to %zu bytes: \"%s\" of \"%s\"", smalllen, small, big);
}

static void
check_norm_ds(struct json_object *n)
{
	struct json_object	*d, *pl, *k;

	FUZZ_CHECK(json_object_object_get_ex(n, "default", &d) &&
	    json_object_is_type(d, json_type_boolean), "no boolean default: "
	    "%s", text(n));
	FUZZ_CHECK(json_object_object_get_ex(n, "plugin", &pl) &&
	    json_object_object_get_ex(pl, "kind", &k) &&
	    json_object_is_type(k, json_type_string) &&
	    *json_object_get_string(k) != '\0', "no plugin.kind: %s", text(n));
}

static void
check_norm_var(struct json_object *n)
{
	struct json_object	*k, *s;

	FUZZ_CHECK(json_object_object_get_ex(n, "kind", &k) &&
	    (strcmp(json_object_get_string(k), "ListVariable") == 0 ||
	    strcmp(json_object_get_string(k), "TextVariable") == 0) &&
	    json_object_object_get_ex(n, "spec", &s) &&
	    json_object_is_type(s, json_type_object), "bad kind or spec: %s",
	    text(n));
}

static void
one(spec_fn fn, void (*check)(struct json_object *),
    struct json_object *doc, char *big, char *small, size_t smalllen,
    int utf8)
{
	struct json_object	*norm, *again, *n2;
	char			*first;
	int			 rc, rc2;

	rc = fn(doc, &norm, big, BIG_ERR);
	FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
	rc2 = fn(doc, &n2, small, smalllen);
	FUZZ_CHECK(rc2 == rc, "verdict %d with %zu bytes of room, %d with "
	    "%d", rc2, smalllen, rc, BIG_ERR);
	json_object_put(n2);
	if (rc == -1) {
		FUZZ_CHECK(norm == NULL, "refused with a normal form");
		check_cut(big, small, smalllen, utf8);
		return;
	}
	check(norm);
	if ((first = strdup(text(norm))) == NULL)
		abort();
	FUZZ_CHECK(fn(norm, &again, big, BIG_ERR) == 0, "its normal form is "
	    "refused: %s: %s", first, big);
	FUZZ_CHECK(strcmp(first, text(again)) == 0, "normalising twice "
	    "changes it: %s then %s", first, text(again));
	json_object_put(again);
	json_object_put(norm);
	free(first);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena		 a = { 0 };
	struct json_object	*doc, *name;
	const char		*perr;
	char			*body = fuzz_cstr(data, size);
	char			*before = NULL, *big = NULL, *small = NULL;
	size_t			 smalllen = 1 + size % 97;
	int			 utf8 = fuzz_utf8_ok(body, size), rc, rc2;

	if ((doc = http_parse_json(&a, body, size, &perr)) == NULL)
		goto out;
	if ((before = strdup(text(doc))) == NULL ||
	    (big = malloc(BIG_ERR)) == NULL ||
	    (small = malloc(smalllen)) == NULL)
		abort();
	if (json_object_is_type(doc, json_type_object)) {
		one(validate_datasource_spec, check_norm_ds, doc, big, small,
		    smalllen, utf8);
		one(validate_variable_spec, check_norm_var, doc, big, small,
		    smalllen, utf8);
		if (json_object_object_get_ex(doc, "name", &name) &&
		    json_object_is_type(name, json_type_string)) {
			rc = validate_variable_name(json_object_get_string(name),
			    big, BIG_ERR);
			rc2 = validate_variable_name(
			    json_object_get_string(name), small, smalllen);
			FUZZ_CHECK(rc == rc2, "name verdicts %d and %d", rc,
			    rc2);
			if (rc == -1)
				check_cut(big, small, smalllen, utf8);
		}
	}
	FUZZ_CHECK(strcmp(before, text(doc)) == 0, "the document was modified");
out:
	free(small);
	free(big);
	free(before);
	json_object_put(doc);
	arena_free(&a);
	free(body);
	return 0;
}
