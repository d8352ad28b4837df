/*
 * fuzz.h -- what every fuzz target shares: the libFuzzer entry points
 * and the one way a target reports a broken promise.
 *
 * A target is a file t/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput
 * (and optionally LLVMFuzzerInitialize).  It is linked twice: with
 * clang's -fsanitize=fuzzer by `make fuzz`, and with t/fuzz/replay.c
 * by `make check`, which replays t/fuzz/corpus/<name>/ under any
 * compiler.  Targets keep nothing from one input to the next, free
 * everything they allocate, and abort() on a violated property so that
 * both drivers see it as a crash.
 */
#ifndef DASHCGI_FUZZ_H
#define DASHCGI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

/* A property the code promises, checked on every input. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property violated: %s: ",	\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * A property that fails today for a reported, unfixed reason can be
 * skipped while fuzzing for other bugs: FUZZ_KNOWN="utf8 scalar" skips
 * the checks tagged "utf8" and "scalar".  make check never sets it, so
 * the reproducers kept in the corpus fail there until the fix.
 */
static inline int
fuzz_known(const char *tag)
{
	const char	*k = getenv("FUZZ_KNOWN"), *p;
	size_t		 n = strlen(tag);

	for (p = k; p != NULL && (p = strstr(p, tag)) != NULL; p += n)
		if ((p == k || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
	return 0;
}

#define FUZZ_FAIL(...) do {						\
	fprintf(stderr, "%s:%d: property violated: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

/* The input as a C string, as the servers' callers hold it. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Well-formed UTF-8 (no overlongs, surrogates or cut sequences). */
static inline int
fuzz_utf8_ok(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;
	uint32_t		 c;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			n = 1;
			c = p[i] & 0x1f;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			n = 2;
			c = p[i] & 0x0f;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			n = 3;
			c = p[i] & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;	/* cut short */
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

#endif
