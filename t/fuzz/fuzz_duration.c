/*
 * fuzz_duration.c -- fuzz target: the duration and size syntaxes,
 * config_parse_duration(), config_parse_size() (dashcgi.yaml) and
 * validate_duration_ms() (Perses documents).  The input is the string,
 * cut at a NUL byte.  Properties:
 *   - every accepted value is >= 0 (no overflow wraps);
 *   - validate_duration() is validate_duration_ms() without the value;
 *   - the two duration parsers agree: what the configuration accepts
 *     with a unit (one number and one of ms, s, m, h, d) Perses
 *     accepts too, with the same value in milliseconds;
 *   - the configuration's two parsers agree with a plain reading of
 *     their syntax (reference_config(), reference_size() below),
 *     overflow included.
 *
 * Owns: the copy of one input.
 * Never: keep anything from one input to the next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "validate.h"
#include "fuzz.h"

struct unit {
	const char	*sfx;
	int64_t		 mult;
};

/* Digits then exactly a suffix from the table; no sign, no space. */
static int
reference(const char *s, const struct unit *u, int64_t *out)
{
	__int128	 n = 0;
	const char	*p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((n = n * 10 + (*p - '0')) > INT64_MAX)
			return -1;
	for (; u->sfx != NULL; u++)
		if (strcmp(p, u->sfx) == 0) {
			if (n * u->mult > INT64_MAX)
				return -1;
			*out = (int64_t)(n * u->mult);
			return 0;
		}
	return -1;
}

static int
reference_config(const char *s, int64_t *ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }, { NULL, 0 }
	};
	const char	*p = s + strspn(s, "0123456789");

	/* "0" (any number of zeros) alone needs no unit. */
	if (*s != '\0' && *p == '\0' && strspn(s, "0") == strlen(s)) {
		*ms = 0;
		return 0;
	}
	return reference(s, units, ms);
}

static int
reference_size(const char *s, int64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1 }, { "B", 1 }, { "KB", 1000 }, { "MB", 1000000 },
		{ "GB", 1000000000 }, { "KiB", 1024 }, { "MiB", 1048576 },
		{ "GiB", 1073741824 }, { NULL, 0 }
	};

	return reference(s, units, bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = fuzz_cstr(data, size);
	int64_t	 cfg = -1, ref = -1, per = -1;
	int	 crc, rrc, prc;

	crc = config_parse_duration(s, &cfg);
	rrc = reference_config(s, &ref);
	FUZZ_CHECK(crc == rrc, "duration \"%s\": %d, expected %d", s, crc,
	    rrc);
	if (crc == 0)
		FUZZ_CHECK(cfg == ref && cfg >= 0, "duration \"%s\": %lld, "
		    "expected %lld", s, (long long)cfg, (long long)ref);

	prc = validate_duration_ms(s, &per);
	FUZZ_CHECK(prc == 0 || prc == 1, "validate_duration_ms: %d", prc);
	FUZZ_CHECK(validate_duration(s) == prc,
	    "validate_duration and validate_duration_ms disagree on \"%s\"",
	    s);
	if (prc == 1)
		FUZZ_CHECK(per >= 0, "Perses duration \"%s\": %lld", s,
		    (long long)per);
	/* Only "0" may go without a unit in Perses; the configuration
	 * takes "00" too, a difference of no consequence. */
	if (crc == 0 && s[strspn(s, "0123456789")] != '\0')
		FUZZ_CHECK(prc == 1 && per == cfg, "\"%s\": configuration "
		    "%lld ms, Perses %s %lld", s, (long long)cfg,
		    prc ? "" : "refuses", (long long)per);

	cfg = ref = -1;
	crc = config_parse_size(s, &cfg);
	rrc = reference_size(s, &ref);
	FUZZ_CHECK(crc == rrc, "size \"%s\": %d, expected %d", s, crc, rrc);
	if (crc == 0)
		FUZZ_CHECK(cfg == ref && cfg >= 0, "size \"%s\": %lld, "
		    "expected %lld", s, (long long)cfg, (long long)ref);

	free(s);
	return 0;
}
