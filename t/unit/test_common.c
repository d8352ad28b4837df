/*
 * test_common.c -- the pure helpers of src/api/common.c: ?limit=,
 * base64url cursors, JSON strings and row 0 accessors.
 */
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api/common.h"
#include "arena.h"
#include "text.h"
#include "tap.h"

static void
test_limit(void)
{
	static const char *const bad[] = { "", "0", "1001", "abc", "+1",
	    " 1", "1 ", "-1", "5x", "1.5", "0x10",
	    "99999999999999999999999999" };
	size_t	 i;
	int	 n;

	n = 0;
	ok(api_limit_parse("1", &n) == 0 && n == 1, "limit 1");
	ok(api_limit_parse("1000", &n) == 0 && n == 1000, "limit 1000");
	ok(api_limit_parse("007", &n) == 0 && n == 7, "leading zeros");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 42;
		ok(api_limit_parse(bad[i], &n) == -1 && n == 42,
		    "limit \"%s\" is refused, *n untouched", bad[i]);
	}
}

static void
test_b64url(void)
{
	static const struct {
		const char	*plain, *enc;
	} v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "m001", "bTAwMQ" },
		{ "a/b", "YS9i" }, { "\xff\xfe\xfd", "__79" },
		{ "2024-01-01T00:00:00.000000Z|5",
		  "MjAyNC0wMS0wMVQwMDowMDowMC4wMDAwMDBafDU" },
	};
	static const char *const bad[] = {
		"A",		/* a length no encoding has */
		"Zg==",		/* padding */
		"Zh",		/* non-canonical trailing bits */
		"Zm9+",		/* base64, not base64url */
		"Zm9 v",	/* a blank */
		"AA",		/* decodes to a NUL byte */
		"Zm9vAA",	/* a NUL byte inside */
	};
	struct arena	 a = { 0 };
	size_t		 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		is_str(api_b64url_encode(&a, v[i].plain, strlen(v[i].plain)),
		    v[i].enc, "encode \"%s\"", v[i].enc);
		is_str(api_b64url_decode(&a, v[i].enc), v[i].plain,
		    "decode \"%s\"", v[i].enc);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(api_b64url_decode(&a, bad[i]) == NULL,
		    "decode \"%s\" is refused", bad[i]);
	arena_free(&a);
}

static void
test_json_str(void)
{
	struct json_object	*o;

	o = json_object_new_string("abc");
	is_str(api_json_str(o), "abc", "a string");
	json_object_put(o);
	o = json_object_new_string_len("a\0b", 3);
	ok(api_json_str(o) == NULL, "a string with a NUL byte is refused");
	json_object_put(o);
	o = json_object_new_int(5);
	ok(api_json_str(o) == NULL, "a number is not a string");
	json_object_put(o);
	ok(api_json_str(NULL) == NULL, "JSON null is not a string");
}

static void
test_val(void)
{
	PGresAttDesc	 att[4];
	PGresult	*res;
	int		 i;

	memset(att, 0, sizeof(att));
	for (i = 0; i < 4; i++)
		att[i].name = (char *)"c";
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	if (!ok(res != NULL && PQsetResultAttrs(res, 4, att) &&
	    PQsetvalue(res, 0, 0, (char *)"42", 2) &&
	    PQsetvalue(res, 0, 1, (char *)"t", 1) &&
	    PQsetvalue(res, 0, 2, (char *)"f", 1) &&
	    PQsetvalue(res, 0, 3, NULL, -1), "a result to read")) {
		PQclear(res);
		return;
	}
	is_int(api_val_long(res, 0), 42, "a number");
	is_str(api_val(res, 0), "42", "its text");
	ok(!api_val_null(res, 0), "not NULL");
	ok(api_val_bool(res, 1), "true");
	ok(!api_val_bool(res, 2), "false");
	ok(api_val_null(res, 3), "SQL NULL");
	ok(api_val(res, 3) == NULL, "SQL NULL has no text");
	is_int(api_val_long(res, 3), -1, "SQL NULL as a number");
	ok(!api_val_bool(res, 3), "SQL NULL is not true");
	PQclear(res);
}

/* A body of every type, nested, as a module would declare it. */
struct sample {
	const char		*name;
	const char		*role;
	int64_t			 count;
	int			 flag;
	int64_t			 ttl;
	const char		*at;
	struct json_object	*tags;
	const char		*inner;
};

static int
no_x(const char *s)
{
	return strchr(s, 'x') == NULL;
}

static const char *const roles[] = { "viewer", "editor", "admin", NULL };
static const struct api_field inner_fields[] = {
	{ .name = "label", .type = API_STRING, .flags = API_REQUIRED,
	  .at = API_AT(struct sample, inner) },
};
static const struct api_body inner_body = { API_FIELDS(inner_fields),
	"an inner has label", NULL };
static const struct api_field tag = { .type = API_STRING, .max = 3 };
static const struct api_field sample_fields[] = {
	{ .name = "name", .type = API_STRING, .flags = API_REQUIRED,
	  .min = 1, .max = 5, .check = no_x, .rule = "free of x",
	  .at = API_AT(struct sample, name) },
	{ .name = "role", .type = API_ENUM, .values = roles,
	  .at = API_AT(struct sample, role) },
	{ .name = "count", .type = API_INT, .flags = API_NULL_ABSENT,
	  .min = 1, .max = 10, .at = API_AT(struct sample, count) },
	{ .name = "flag", .type = API_BOOL, .at = API_AT(struct sample, flag) },
	{ .name = "ttl", .type = API_DURATION, .min = 1,
	  .at = API_AT(struct sample, ttl) },
	{ .name = "at", .type = API_TIME, .at = API_AT(struct sample, at) },
	{ .name = "tags", .type = API_ARRAY, .max = 2, .elem = &tag,
	  .at = API_AT(struct sample, tags) },
	{ .name = "inner", .type = API_OBJECT, .body = &inner_body },
	{ .name = "ignored", .type = API_ANY },
};
static const struct api_body sample_body = { API_FIELDS(sample_fields),
	"a sample has name, role, …", "the body must be a sample" };

/* 0 and the filled sample, or -1 and the message in err. */
static int
check(const char *json, struct sample *out, char *err, size_t len)
{
	static struct json_object	*o;
	int				 rc;

	/* The previous document goes; this one lives for the checks. */
	json_object_put(o);
	o = json_tokener_parse(json);
	memset(out, 0, sizeof(*out));
	out->count = -1;
	rc = api_fields(o, &sample_body, out, "", err, len);
	/* Strings point into o: keep it for the caller's checks. */
	return rc;
}

static void
test_fields(void)
{
	static const struct {
		const char	*json, *msg;
	} bad[] = {
		{ "[1]", "the body must be a sample" },
		{ "{}", "name: required" },
		{ "{\"name\":\"a\",\"colour\":1}",
		  "colour: unknown field (a sample has name, role, …)" },
		{ "{\"name\":7}", "name: must be a non-empty string" },
		{ "{\"name\":\"\"}", "name: must be a non-empty string" },
		{ "{\"name\":\"abcdef\"}", "name: at most 5 characters, got 6" },
		{ "{\"name\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}",
		  "name: at most 5 characters, got 6" },
		{ "{\"name\":\"axb\"}", "name: \"axb\" is not free of x" },
		{ "{\"name\":\"a\\u0000b\"}",
		  "name: must not contain NUL characters" },
		{ "{\"name\":\"a\",\"role\":\"owner\"}",
		  "role: must be \"viewer\", \"editor\" or \"admin\", "
		  "got \"owner\"" },
		{ "{\"name\":\"a\",\"role\":null}",
		  "role: must be \"viewer\", \"editor\" or \"admin\"" },
		{ "{\"name\":\"a\",\"count\":0}",
		  "count: must be an integer from 1 to 10, got 0" },
		{ "{\"name\":\"a\",\"count\":1.5}",
		  "count: must be an integer from 1 to 10, got 1.5" },
		{ "{\"name\":\"a\",\"count\":11}",
		  "count: must be an integer from 1 to 10, got 11" },
		{ "{\"name\":\"a\",\"count\":-9223372036854775809}",
		  "count: must be an integer from 1 to 10, got "
		  "-9223372036854775808" },
		{ "{\"name\":\"a\",\"flag\":\"yes\"}",
		  "flag: must be true or false" },
		{ "{\"name\":\"a\",\"ttl\":\"0s\"}",
		  "ttl: expected a duration such as \"30m\", \"24h\" or \"7d\", "
		  "got \"0s\"" },
		{ "{\"name\":\"a\",\"ttl\":60}",
		  "ttl: expected a duration such as \"30m\", \"24h\" or \"7d\", "
		  "got 60" },
		{ "{\"name\":\"a\",\"at\":\"2030-02-30T00:00:00Z\"}",
		  "at: expected an RFC 3339 time such as "
		  "\"2030-01-02T15:04:05Z\", got \"2030-02-30T00:00:00Z\"" },
		{ "{\"name\":\"a\",\"tags\":\"x\"}", "tags: must be an array" },
		{ "{\"name\":\"a\",\"tags\":[\"a\",\"b\",\"c\"]}",
		  "tags: at most 2 entries, got 3" },
		{ "{\"name\":\"a\",\"tags\":[\"a\",5]}",
		  "tags[1]: must be a string" },
		{ "{\"name\":\"a\",\"tags\":[\"abcd\"]}",
		  "tags[0]: at most 3 characters, got 4" },
		{ "{\"name\":\"a\",\"inner\":[]}", "inner: must be an object" },
		{ "{\"name\":\"a\",\"inner\":{}}", "inner.label: required" },
		{ "{\"name\":\"a\",\"inner\":{\"label\":\"l\",\"x\":1}}",
		  "inner.x: unknown field (an inner has label)" },
	};
	struct sample		 s;
	struct json_object	*o;
	char			 err[512], big[200];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(check(bad[i].json, &s, err, sizeof(err)) == -1,
		    "refused: %s", bad[i].json);
		is_str(err, bad[i].msg, "... names the member and the rule");
	}

	ok(check("{\"name\":\"abc\",\"role\":\"admin\",\"count\":10,"
	    "\"flag\":true,\"ttl\":\"1h30m\",\"at\":\"2030-01-02T15:04:05Z\","
	    "\"tags\":[\"a\",\"bc\"],\"inner\":{\"label\":\"in\"},"
	    "\"ignored\":{\"any\":[1]}}", &s, err, sizeof(err)) == 0,
	    "a full sample passes (%s)", err);
	is_str(s.name, "abc", "name lands at its offset");
	is_str(s.role, "admin", "role");
	ok(s.count == 10, "count 10");
	ok(s.flag == 1, "flag true");
	ok(s.ttl == 5400000, "ttl 1h30m is 5400000 ms");
	is_str(s.at, "2030-01-02T15:04:05Z", "at");
	ok(json_object_array_length(s.tags) == 2, "tags: the array");
	is_str(s.inner, "in", "a nested member lands in the same struct");

	ok(check("{\"name\":\"a\",\"count\":null}", &s, err, sizeof(err)) == 0,
	    "null counts as absent where the row says so");
	ok(s.count == -1 && s.role == NULL && s.tags == NULL,
	    "absent members leave the caller's defaults");

	/* A message never overruns the buffer, however long the value. */
	ok(check("{\"name\":\"a\",\"role\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &s, big, 40) == -1,
	    "a long refused value");
	ok(strlen(big) == 39, "the message is cut to the buffer");
	ok(check("{\"name\":\"a\",\"role\":\"\u00e9\u00e9\u00e9\u00e9\u00e9"
	    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}", &s, err,
	    sizeof(err)) == -1, "a long non-ASCII refused value");
	ok(strstr(err, "...") != NULL && strchr(err, '\xc3') != NULL &&
	    text_utf8_trim(err, strlen(err)) == strlen(err),
	    "shown cut short on a character boundary: %s", err);
	ok(check("{\"name\":\"a\"}", &s, err, sizeof(err)) == 0 &&
	    api_fields(NULL, &sample_body, NULL, "", err, sizeof(err)) == -1,
	    "no body at all is not an object");
	o = json_tokener_parse("{\"name\":\"a\"}");
	ok(api_fields(o, &sample_body, NULL, "", err, sizeof(err)) == 0,
	    "dst NULL: check only");
	json_object_put(o);
	check("null", &s, err, sizeof(err));
}

int
main(void)
{
	test_limit();
	test_b64url();
	test_json_str();
	test_val();
	test_fields();
	return done_testing();
}
