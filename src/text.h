/*
 * text.h -- the small text checks every module shares: RFC 3339
 * timestamps, and counting or cutting UTF-8 by characters.
 *
 * Owns: one copy of each (they were written three and five times).
 * Never: allocate, or accept what PostgreSQL's lenient input would
 * turn into something else ("yesterday" is no timestamp here).
 */
#ifndef DASHCGI_TEXT_H
#define DASHCGI_TEXT_H

#include <stddef.h>

/*
 * RFC 3339 section 5.6 date-time, in full: YYYY-MM-DD, "T" (or "t"),
 * HH:MM:SS with a leap second allowed, an optional fraction of 1 to 9
 * digits, then "Z" (or "z") or an offset +HH:MM / -HH:MM of at most
 * 23:59; the date a real one (leap years included).  1 if s is one.
 */
int	text_rfc3339(const char *s);

/* Characters, not bytes, of the first len bytes of valid UTF-8. */
size_t	text_utf8_chars(const char *s, size_t len);

/* The length of s[0..n) cut back so that no character is split. */
size_t	text_utf8_trim(const char *s, size_t n);

#endif
