/*
 * fuzz_query.c -- fuzz target: query strings and percent-decoding,
 * http_parse_query() and http_urldecode().  The input is a
 * QUERY_STRING (cut at a NUL byte, as a CGI parameter is).
 * Properties:
 *   - http_urldecode() agrees with the plain reading of RFC 3986 and
 *     the form encoding written below (reference()), in both modes;
 *   - a parsed query has at most HTTP_MAX_QUERY pairs, each key and
 *     value the decoding of its part, and http_query() finds the first
 *     pair of a key; a query is refused only for too many pairs or a
 *     part that does not decode.
 *
 * Owns: the arena and the copies of one input.
 * Never: keep anything from one input to the next.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http.h"
#include "fuzz.h"

static int
hex(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 :
	    -1;
}

/* %XX is a byte, but not %00; '+' is a space in forms; else as is. */
static int
reference(const char *in, char *out, int plus)
{
	const unsigned char	*s = (const unsigned char *)in;
	int			 c;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if (hex(s[1]) < 0 || hex(s[2]) < 0)
				return -1;
			if ((c = hex(s[1]) << 4 | hex(s[2])) == 0)
				return -1;
			*out++ = (char)c;
			s += 2;
		} else
			*out++ = *s == '+' && plus ? ' ' : (char)*s;
	}
	*out = '\0';
	return 0;
}

static void
check_decode(const char *s, int plus)
{
	char	*got = strdup(s), *want = malloc(strlen(s) + 1);
	int	 rc, rrc;

	if (got == NULL || want == NULL)
		abort();
	rc = http_urldecode(got, plus);
	rrc = reference(s, want, plus);
	FUZZ_CHECK(rc == rrc, "\"%s\" (plus %d): %d, expected %d", s, plus,
	    rc, rrc);
	if (rc == 0)
		FUZZ_CHECK(strcmp(got, want) == 0, "\"%s\" (plus %d) decodes "
		    "to \"%s\", expected \"%s\"", s, plus, got, want);
	free(want);
	free(got);
}

/* Read q as the contract does; compare with what the parser made (rc). */
static void
check_query(struct req *r, const char *q, int rc)
{
	char		*copy = strdup(q), *pair, *save = NULL, *eq;
	char		*k, *v;
	size_t		 n = 0, i;
	int		 want = 0;

	if (copy == NULL)
		abort();
	for (pair = strtok_r(copy, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		if (n == HTTP_MAX_QUERY) {
			want = -1;
			break;
		}
		if ((eq = strchr(pair, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = pair + strlen(pair);
		k = malloc(strlen(pair) + 1);
		v = malloc(strlen(eq) + 1);
		if (k == NULL || v == NULL)
			abort();
		if (reference(pair, k, 1) == -1 || reference(eq, v, 1) == -1)
			want = -1;
		else if (rc == 0) {
			FUZZ_CHECK(n < r->nqs && strcmp(r->qs[n].key, k) == 0 &&
			    strcmp(r->qs[n].val, v) == 0, "pair %zu of \"%s\" "
			    "is not \"%s\"=\"%s\"", n, q, k, v);
			for (i = 0; strcmp(r->qs[i].key, k) != 0; i++)
				continue;
			FUZZ_CHECK(http_query(r, k) == r->qs[i].val,
			    "http_query(\"%s\") is not the first pair", k);
		}
		free(k);
		free(v);
		if (want == -1)
			break;
		n++;
	}
	FUZZ_CHECK(rc == want, "\"%s\": %d, expected %d", q, rc, want);
	if (rc == 0)
		FUZZ_CHECK(r->nqs == n && n <= HTTP_MAX_QUERY,
		    "\"%s\": %zu pairs, expected %zu", q, r->nqs, n);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena	 a = { 0 };
	struct req	*r;
	char		*q = fuzz_cstr(data, size);
	int		 rc;

	check_decode(q, 0);
	check_decode(q, 1);

	/* Only the arena and the pairs matter to the parser. */
	if ((r = calloc(1, sizeof(*r))) == NULL)
		abort();
	r->arena = &a;
	rc = http_parse_query(r, q);
	check_query(r, q, rc);

	free(r);
	arena_free(&a);
	free(q);
	return 0;
}
