/*
 * test_common.c -- the pure helpers of src/api/common.c: ?limit=,
 * base64url cursors, JSON strings and row 0 accessors.
 */
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api/common.h"
#include "arena.h"
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

int
main(void)
{
	test_limit();
	test_b64url();
	test_json_str();
	test_val();
	return done_testing();
}
