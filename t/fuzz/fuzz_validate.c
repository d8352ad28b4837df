/*
 * fuzz_validate.c -- fuzz target: the Perses dashboard validator,
 * validate_dashboard(), on whatever http_parse_json() accepts (which
 * is what POST /api/v1/validate/dashboards hands it).  Properties:
 *   - a refusal has a message that fits VALIDATE_ERR_MAX (the header
 *     promises it is never cut there) and, when the body was, is
 *     well-formed UTF-8;
 *   - with a smaller buffer (its size taken from the input's length)
 *     the verdict is the same and the message is a prefix of the
 *     whole one, cut on a character boundary, within the buffer (the
 *     buffer is exactly that size, so a write past it is an ASan
 *     report);
 *   - an accepted document is an object of kind "Dashboard" (written
 *     back so whatever its letter case), whose metadata.name passes
 *     validate_name() (all of it: "a\u0000b" is not "a"), whose tags
 *     are distinct and at most 20, and whose spec is a non-empty
 *     object (what dashboards.c and templates.c rely on);
 *   - a refused document is not modified; an accepted one only by the
 *     two normalisations, so validating it again accepts it and leaves
 *     it as it is (idempotent).
 *
 * Owns: the arena, the document and the buffers of one input.
 * Never: keep anything from one input to the next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "http.h"
#include "validate.h"
#include "fuzz.h"

/* Far more than any message needs: a long one is caught, not cut. */
#define BIG_ERR		(16 * VALIDATE_ERR_MAX)

static void
check_accepted(struct json_object *doc)
{
	struct json_object	*kind, *meta, *name, *spec, *tags;
	size_t			 i, j, n;

	FUZZ_CHECK(json_object_is_type(doc, json_type_object),
	    "accepted a %s", json_type_to_name(json_object_get_type(doc)));
	FUZZ_CHECK(json_object_object_get_ex(doc, "kind", &kind) &&
	    json_object_is_type(kind, json_type_string) &&
	    strcmp(json_object_get_string(kind), "Dashboard") == 0,
	    "accepted without kind Dashboard");
	FUZZ_CHECK(json_object_object_get_ex(doc, "metadata", &meta) &&
	    json_object_is_type(meta, json_type_object) &&
	    json_object_object_get_ex(meta, "name", &name) &&
	    json_object_is_type(name, json_type_string) &&
	    validate_name(json_object_get_string(name)) &&
	    strlen(json_object_get_string(name)) ==
	    (size_t)json_object_get_string_len(name),
	    "accepted without a valid metadata.name");
	FUZZ_CHECK(json_object_object_get_ex(doc, "spec", &spec) &&
	    json_object_is_type(spec, json_type_object) &&
	    json_object_object_length(spec) > 0,
	    "accepted without a non-empty spec");
	if (json_object_object_get_ex(meta, "tags", &tags) &&
	    json_object_is_type(tags, json_type_array)) {
		n = json_object_array_length(tags);
		FUZZ_CHECK(n <= 20, "accepted %zu tags", n);
		for (i = 0; i < n; i++)
			for (j = 0; j < i; j++)
				FUZZ_CHECK(strcmp(json_object_get_string(
				    json_object_array_get_idx(tags, i)),
				    json_object_get_string(
				    json_object_array_get_idx(tags, j))) != 0,
				    "accepted duplicate tags");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena		 a = { 0 };
	struct json_object	*doc;
	const char		*perr;
	char			*body = fuzz_cstr(data, size);
	char			*before = NULL, *big = NULL, *small = NULL;
	size_t			 smalllen = 1 + size % 97, n = 0, m;
	int			 rc, rc2;

	if ((doc = http_parse_json(&a, body, size, &perr)) == NULL)
		goto out;
	if ((before = strdup(json_object_to_json_string_ext(doc,
	    JSON_C_TO_STRING_PLAIN))) == NULL)
		abort();
	if ((big = malloc(BIG_ERR)) == NULL ||
	    (small = malloc(smalllen)) == NULL)
		abort();

	rc = validate_dashboard(doc, big, BIG_ERR);
	FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
	if (rc == 0)
		check_accepted(doc);
	else {
		n = strlen(big);
		FUZZ_CHECK(n > 0, "refused without a message");
		FUZZ_CHECK(n < VALIDATE_ERR_MAX, "a %zu-byte message does "
		    "not fit VALIDATE_ERR_MAX: %s", n, big);
		/* Else the client's own bytes are quoted back: that is
		 * http_parse_json()'s to refuse (fuzz_json, tag utf8). */
		if (fuzz_utf8_ok(body, size))
			FUZZ_CHECK(fuzz_utf8_ok(big, n), "message not UTF-8: "
			    "%s", big);
	}

	if (rc == -1)
		FUZZ_CHECK(strcmp(before, json_object_to_json_string_ext(doc,
		    JSON_C_TO_STRING_PLAIN)) == 0, "a refused document was "
		    "modified");
	/* From here on an accepted document is the normalised one. */
	free(before);
	if ((before = strdup(json_object_to_json_string_ext(doc,
	    JSON_C_TO_STRING_PLAIN))) == NULL)
		abort();
	rc2 = validate_dashboard(doc, small, smalllen);
	FUZZ_CHECK(rc2 == rc, "verdict %d with %zu bytes of room, %d with "
	    "%d", rc2, smalllen, rc, BIG_ERR);
	if (rc == -1) {
		m = strlen(small);
		/* Cut only if it must be, by at most a character. */
		FUZZ_CHECK(m < smalllen && strncmp(small, big, m) == 0 &&
		    (fuzz_utf8_ok(small, m) || !fuzz_utf8_ok(big, n)) &&
		    (n < smalllen ? m == n : m + 4 >= smalllen),
		    "cut to %zu bytes: \"%s\" of \"%s\"", smalllen, small,
		    big);
	}

	FUZZ_CHECK(strcmp(before, json_object_to_json_string_ext(doc,
	    JSON_C_TO_STRING_PLAIN)) == 0, "the document was modified by "
	    "a second validation");
out:
	free(small);
	free(big);
	free(before);
	json_object_put(doc);
	arena_free(&a);
	free(body);
	return 0;
}
