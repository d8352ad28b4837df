/*
 * fuzz_config.c -- fuzz target: the YAML configuration loader.
 *
 * The input is a whole dashcgi.yaml.  config_load() only reads paths,
 * so the bytes go into a memfd opened as /proc/self/fd/N.  A loaded
 * configuration is then printed with config_print(), as check-config
 * does, so that the YAML quoting and the password masking of
 * database.url see fuzzed strings too.  Properties checked:
 *   - a refusal always comes with a message;
 *   - every loaded integer, duration and size is within the bounds of
 *     its row in config_keys[], and shares.default_ttl <= max_ttl;
 *   - auth.nadmins counts auth.admins;
 *   - check-config never prints a password: neither database.password
 *     nor the one libpq would take from database.url.
 *
 * Owns: the memfd and the printed text of one input.
 * Never: read the caller's environment (every overriding variable is
 * unset first), or keep anything from one input to the next.
 *
 * A fuzzed database.password_file may name any file; the loader reads
 * at most 4 KiB of it.  Run the fuzzer with stdin from /dev/null so
 * that /dev/stdin and /proc/self/fd/0 cannot block.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (config_keys[i].env != NULL)
			unsetenv(config_keys[i].env);
	return 0;
}

/* Occurrences of needle in the n bytes at hay (overlaps counted). */
static size_t
count(const void *hay, size_t n, const char *needle)
{
	const char	*p = hay, *end = p + n, *q;
	size_t		 len = strlen(needle), c = 0;

	while ((q = memmem(p, (size_t)(end - p), needle, len)) != NULL) {
		c++;
		p = q + 1;
	}
	return c;
}

/*
 * A password the check can tell apart from everything else printed:
 * 12 or more of [A-Za-z0-9] starting with a lowercase letter, with an
 * uppercase letter and a digit (no key name, default, origin or
 * normalised number/unit contains one), written once in the file.
 */
static int
distinctive(const char *pw, const uint8_t *data, size_t size)
{
	const char	*p;
	int		 up = 0, dig = 0;

	if (pw == NULL || strlen(pw) < 12 || !islower((unsigned char)*pw))
		return 0;
	for (p = pw; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p))
			return 0;
		up |= isupper((unsigned char)*p) != 0;
		dig |= isdigit((unsigned char)*p) != 0;
	}
	return up && dig && count(data, size, pw) == 1;
}

static void
check_bounds(const struct config *cfg)
{
	const struct config_key	*k;
	const void		*p;
	long long		 v;
	size_t			 i, n;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		p = (const char *)cfg + k->off;
		switch (k->type) {
		case CT_INT:
			v = k->size == sizeof(long) ? *(const long *)p :
			    *(const int *)p;
			FUZZ_CHECK(v >= k->min && (k->max <= k->min ||
			    v <= k->max), "%s = %lld outside %lld..%lld",
			    k->name, v, k->min, k->max);
			break;
		case CT_DURATION:
		case CT_SIZE:
			v = *(const int64_t *)p;
			FUZZ_CHECK(v >= 0 && v >= k->min,
			    "%s = %lld below %lld", k->name, v, k->min);
			break;
		default:
			break;
		}
	}
	FUZZ_CHECK(cfg->shares.default_ttl <= cfg->shares.max_ttl,
	    "default_ttl %lld > max_ttl %lld",
	    (long long)cfg->shares.default_ttl,
	    (long long)cfg->shares.max_ttl);
	for (n = 0; cfg->auth.admins != NULL && cfg->auth.admins[n] != NULL;
	    n++)
		continue;
	FUZZ_CHECK(cfg->auth.nadmins == n, "nadmins %zu, %zu in the list",
	    cfg->auth.nadmins, n);
}

static void
check_masked(const struct config *cfg, const uint8_t *data, size_t size)
{
	PQconninfoOption	*opts = NULL, *o;
	FILE			*fp;
	char			*out = NULL, *perr = NULL;
	size_t			 len = 0;

	if ((fp = open_memstream(&out, &len)) == NULL)
		abort();
	config_print(cfg, fp);
	if (fclose(fp) != 0)
		abort();

	if (distinctive(cfg->database.password, data, size))
		FUZZ_CHECK(count(out, len, cfg->database.password) == 0,
		    "database.password \"%s\" printed:\n%s",
		    cfg->database.password, out);
	if (cfg->database.url != NULL && *cfg->database.url != '\0' &&
	    (opts = PQconninfoParse(cfg->database.url, &perr)) != NULL)
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "password") == 0 &&
			    distinctive(o->val, data, size))
				FUZZ_CHECK(count(out, len, o->val) == 0,
				    "password \"%s\" of database.url \"%s\" "
				    "printed:\n%s", o->val,
				    cfg->database.url, out);
	PQconninfoFree(opts);
	PQfreemem(perr);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	char		 path[64], err[1024];
	int		 fd;

	if ((fd = memfd_create("dashcgi.yaml", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	if (config_load(&cfg, path, err, sizeof(err)) == -1)
		FUZZ_CHECK(err[0] != '\0', "refused without a message");
	else {
		check_bounds(&cfg);
		check_masked(&cfg, data, size);
		config_free(&cfg);
	}
	close(fd);
	return 0;
}
