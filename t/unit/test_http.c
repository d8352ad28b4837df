/*
 * test_http.c -- the pure parts of request handling: percent-decoding,
 * query strings, and the JSON body parser's limits and messages.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http.h"
#include "tap.h"

static char *
nested(int depth)
{
	char	*s = malloc((size_t)depth * 2 + 1);
	int	 i;

	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth * 2 - 1 - i] = ']';
	}
	s[depth * 2] = '\0';
	return s;
}

static void
test_json(void)
{
	struct arena		 a = { 0 };
	struct json_object	*o;
	const char		*err;
	char			*s;

	s = "{\"a\":[1,2,{\"b\":null}]}";
	o = http_parse_json(&a, s, strlen(s), &err);
	ok(o != NULL && err == NULL, "a valid document parses");
	json_object_put(o);

	o = http_parse_json(&a, "{\"a\": 1,}", 9, &err);
	ok(o == NULL && err != NULL, "a trailing comma is refused");
	ok(err && strstr(err, "at offset 8") != NULL,
	    "the message gives the byte offset: %s", err ? err : "");

	o = http_parse_json(&a, "{\"a\": 1", 7, &err);
	ok(o == NULL && err && strstr(err, "end of JSON input at offset 7"),
	    "truncated input names the end: %s", err ? err : "");

	o = http_parse_json(&a, "{} x", 4, &err);
	ok(o == NULL && err && strstr(err, "at offset 3"),
	    "trailing data is refused: %s", err ? err : "");

	o = http_parse_json(&a, "{}  \n", 5, &err);
	ok(o != NULL, "trailing whitespace is fine");
	json_object_put(o);

	o = http_parse_json(&a, "", 0, &err);
	ok(o == NULL && err && strstr(err, "empty"), "an empty body is refused");

	o = http_parse_json(&a, "\"\xff\xfe\"", 4, &err);
	ok(o == NULL && err != NULL, "invalid UTF-8 is refused: %s",
	    err ? err : "");

	s = nested(64);
	o = http_parse_json(&a, s, strlen(s), &err);
	ok(o != NULL, "64 levels of nesting are accepted%s%s",
	    err ? ": " : "", err ? err : "");
	json_object_put(o);
	free(s);

	s = nested(65);
	o = http_parse_json(&a, s, strlen(s), &err);
	ok(o == NULL && err && strstr(err, "nesting deeper than 64"),
	    "65 levels are refused as too deep: %s", err ? err : "");
	free(s);

	o = http_parse_json(&a, "{\"a\":tru}", 9, &err);
	ok(o == NULL && err && strstr(err, "offset"),
	    "a bad literal names an offset: %s", err ? err : "");
	arena_free(&a);
}

static void
test_urldecode(void)
{
	char	 a[] = "a%20b+c%2Fd", b[] = "x%2", c[] = "x%00y", d[] = "%e2%82%ac";

	ok(http_urldecode(a, 1) == 0, "a plain escape decodes");
	is_str(a, "a b c/d", "%%20, + and %%2F decode in a query");
	ok(http_urldecode(b, 0) == -1, "a truncated escape is refused");
	ok(http_urldecode(c, 0) == -1, "an encoded NUL is refused");
	ok(http_urldecode(d, 0) == 0 && strcmp(d, "\xe2\x82\xac") == 0,
	    "multi-byte UTF-8 decodes");
}

static void
test_query(void)
{
	struct arena	 a = { 0 };
	struct req	 r;

	memset(&r, 0, sizeof(r));
	r.arena = &a;
	ok(http_parse_query(&r, "name=api&tag=a%20b&flag&limit=10") == 0,
	    "a query string parses");
	is_int(r.nqs, 4, "four pairs");
	is_str(http_query(&r, "tag"), "a b", "values are decoded");
	is_str(http_query(&r, "flag"), "", "a key without = has an empty value");
	is_str(http_query(&r, "limit"), "10", "the last pair is kept");
	ok(http_query(&r, "missing") == NULL, "absent keys are NULL");
	ok(http_parse_query(&r, "a=%zz") == -1, "a bad escape is refused");
	arena_free(&a);
}

int
main(void)
{
	test_json();
	test_urldecode();
	test_query();
	return done_testing();
}
