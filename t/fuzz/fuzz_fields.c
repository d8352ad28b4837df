/*
 * fuzz_fields.c -- fuzz target: the field-table body checker,
 * api_fields() (src/api/fields.c), fed what http_parse_json() makes of
 * the input, against a table with a row of every type, nested objects
 * and an array of objects (the shapes the modules declare).
 * Properties:
 *   - it answers 0 with an empty message or -1 with a message, never
 *     anything else, and the message is well-formed UTF-8 that fits
 *     the buffer and names a member (or is the body's shape).  The
 *     message echoes member names and refused values, so an input
 *     json-c let through with a lone surrogate (issue 16 item 15,
 *     fuzz_json.c's tag "utf8") shows up here too: FUZZ_KNOWN=utf8
 *     skips that check;
 *   - what it accepts holds what the table promises: strings within
 *     their bounds in characters and without NUL bytes, the enum one
 *     of its values, integers and durations within their bounds, the
 *     time a valid RFC 3339 time, arrays within their length;
 *   - checking again gives the same answer (no state).
 *
 * Owns: the arena, the copy and the document of one input.
 * Never: keep anything from one input to the next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/common.h"
#include "arena.h"
#include "http.h"
#include "text.h"
#include "validate.h"
#include "fuzz.h"

struct in {
	const char		*name;
	const char		*role;
	int64_t			 count;
	int			 flag;
	int64_t			 ttl;
	const char		*at;
	struct json_object	*refs;
	const char		*label;
};

static const char *const roles[] = { "viewer", "editor", "admin", NULL };

static const struct api_field ref_fields[] = {
	{ .name = "project", .type = API_STRING, .flags = API_REQUIRED,
	  .check = validate_name, .rule = API_NAME_RULE },
	{ .name = "name", .type = API_STRING, .flags = API_REQUIRED,
	  .check = validate_name, .expect = "must be " API_NAME_RULE },
};
static const struct api_body ref_body = { API_FIELDS(ref_fields),
	"an entry has project and name", NULL };
static const struct api_field ref = { .type = API_OBJECT, .body = &ref_body };

static const struct api_field inner_fields[] = {
	{ .name = "label", .type = API_STRING, .max = 8,
	  .at = API_AT(struct in, label) },
};
/* Open, like a Perses document's. */
static const struct api_body inner_body = { API_FIELDS(inner_fields), NULL,
	NULL };

static const struct api_field fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_REQUIRED,
	  .min = 1, .max = 5, .at = API_AT(struct in, name) },
	{ .name = "role", .type = API_ENUM, .flags = API_NULL_ABSENT,
	  .values = roles, .at = API_AT(struct in, role) },
	{ .name = "count", .type = API_INT, .flags = API_NULL_ABSENT,
	  .min = -3, .max = 1000, .at = API_AT(struct in, count) },
	{ .name = "flag", .type = API_BOOL, .at = API_AT(struct in, flag) },
	{ .name = "ttl", .type = API_DURATION, .min = 1, .max = 86400000,
	  .at = API_AT(struct in, ttl) },
	{ .name = "at", .type = API_TIME, .at = API_AT(struct in, at) },
	{ .name = "refs", .type = API_ARRAY, .max = 4, .elem = &ref,
	  .at = API_AT(struct in, refs) },
	{ .name = "inner", .type = API_OBJECT, .flags = API_NULL_ABSENT,
	  .body = &inner_body },
	{ .name = "createdAt", .type = API_ANY },
};
static const struct api_body body = { API_FIELDS(fields),
	"a sample has name, role, count, flag, ttl, at, refs and inner",
	"the body must be a JSON object" };

static int
in_values(const char *s)
{
	size_t	 i;

	for (i = 0; roles[i] != NULL; i++)
		if (strcmp(s, roles[i]) == 0)
			return 1;
	return 0;
}

static void
check_accepted(const struct in *v)
{
	size_t	 n;

	FUZZ_CHECK(v->name != NULL, "a required member is missing");
	n = strlen(v->name);
	FUZZ_CHECK(n > 0 && text_utf8_chars(v->name, n) <= 5,
	    "name \"%s\" out of its bounds", v->name);
	FUZZ_CHECK(v->role == NULL || in_values(v->role), "role \"%s\"",
	    v->role);
	FUZZ_CHECK(v->count == -100 || (v->count >= -3 && v->count <= 1000),
	    "count %lld", (long long)v->count);
	FUZZ_CHECK(v->flag == 0 || v->flag == 1 || v->flag == 7, "flag %d",
	    v->flag);
	FUZZ_CHECK(v->ttl == -1 || (v->ttl >= 1 && v->ttl <= 86400000),
	    "ttl %lld", (long long)v->ttl);
	FUZZ_CHECK(v->at == NULL || text_rfc3339(v->at), "at \"%s\"", v->at);
	FUZZ_CHECK(v->refs == NULL || json_object_array_length(v->refs) <= 4,
	    "refs too long");
	FUZZ_CHECK(v->label == NULL ||
	    text_utf8_chars(v->label, strlen(v->label)) <= 8, "label");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena		 a = { 0 };
	struct json_object	*o;
	struct in		 v, again;
	const char		*perr;
	char			*text = fuzz_cstr(data, size), err[512], err2[512];
	size_t			 n;
	int			 rc;

	if ((o = http_parse_json(&a, text, size, &perr)) == NULL)
		goto out;
	memset(&v, 0, sizeof(v));
	v.count = -100;
	v.flag = 7;
	v.ttl = -1;
	memset(err, 'x', sizeof(err));
	rc = api_fields(o, &body, &v, "", err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -1, "api_fields answered %d", rc);
	n = strnlen(err, sizeof(err));
	FUZZ_CHECK(n < sizeof(err), "the message is not terminated");
	if (!fuzz_known("utf8"))
		FUZZ_CHECK(fuzz_utf8_ok(err, n), "the message is not UTF-8 "
		    "(tag utf8): %s", err);
	if (rc == 0) {
		FUZZ_CHECK(n == 0, "accepted, with a message: %s", err);
		check_accepted(&v);
	} else
		FUZZ_CHECK(n > 0 && (strchr(err, ':') != NULL ||
		    strcmp(err, body.shape) == 0),
		    "a refusal that names nothing: \"%s\"", err);

	memset(&again, 0, sizeof(again));
	FUZZ_CHECK(api_fields(o, &body, &again, "", err2, sizeof(err2)) == rc &&
	    strcmp(err, err2) == 0, "a second check differs: %s / %s", err,
	    err2);
	json_object_put(o);
out:
	arena_free(&a);
	free(text);
	return 0;
}
