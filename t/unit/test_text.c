/*
 * test_text.c -- the shared text checks: RFC 3339 date-times and
 * UTF-8 counted and cut by characters.
 */
#include <string.h>

#include "text.h"
#include "tap.h"

int
main(void)
{
	static const char *const good[] = {
		"2026-12-02T08:00:00Z", "2026-12-02t08:00:00z",
		"2026-12-02T08:00:00.1Z", "2026-12-02T08:00:00.123456789Z",
		"2026-12-02T08:00:00+01:00", "2026-12-02T08:00:00-23:59",
		"2024-02-29T00:00:00Z", "2000-02-29T23:59:59Z",
		"2016-12-31T23:59:60Z", "0001-01-01T00:00:00Z",
	};
	static const char *const bad[] = {
		"", "yesterday", "2026-12-02", "2026-12-02 08:00:00Z",
		"2026-12-02T08:00:00", "2026-12-02T08:00Z",
		"2026-12-02T08:00:00.Z", "2026-12-02T08:00:00.1234567890Z",
		"2026-12-02T08:00:00+24:00", "2026-12-02T08:00:00+01:60",
		"2026-12-02T08:00:00+0100", "2026-13-02T08:00:00Z",
		"2026-00-02T08:00:00Z", "2026-04-31T08:00:00Z",
		"2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-12-02T24:00:00Z", "2026-12-02T08:60:00Z",
		"2026-12-02T08:00:61Z", "0000-01-01T00:00:00Z",
		"2026-12-02T08:00:00Zjunk", "+2026-12-02T08:00:00Z",
	};
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(text_rfc3339(good[i]), "RFC 3339: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!text_rfc3339(bad[i]), "not RFC 3339: \"%s\"", bad[i]);

	is_int((int)text_utf8_chars("abc", 3), 3, "ASCII: one byte a character");
	is_int((int)text_utf8_chars("\xc3\xa9t\xc3\xa9", 5), 3, "été: 3 characters");
	is_int((int)text_utf8_chars("\xf0\x9f\x98\x80", 4), 1, "an emoji: 1");
	is_int((int)text_utf8_chars("\xc3\xa9t\xc3\xa9", 4), 3,
	    "counts the bytes given, not to the NUL");
	is_int((int)text_utf8_trim("abc", 2), 2, "ASCII is cut anywhere");
	is_int((int)text_utf8_trim("a\xc3\xa9", 2), 1,
	    "a cut inside é goes back before it");
	is_int((int)text_utf8_trim("a\xc3\xa9", 3), 3, "a whole é stays");
	is_int((int)text_utf8_trim("\xf0\x9f\x98\x80z", 3), 0,
	    "a cut inside a 4-byte character drops it");
	is_int((int)text_utf8_trim("", 0), 0, "empty");
	return done_testing();
}
