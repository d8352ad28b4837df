/*
 * test_config.c -- config.c: every type, every default, every
 * environment override, and every way a file can be wrong, with the
 * exact message a user would read.
 *
 * Files are written to a mkdtemp() directory which is also the working
 * directory, so messages read "dashcgi.yaml:LINE:COL: …" as in the docs.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

/* Where conf/ is when neither DASHCGI_SRCDIR nor srcdir is set. */
#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

static char		 dir[] = "/tmp/test_config.XXXXXX";
static char		 err[1024];
static struct config	 C;

static void
write_file(const char *name, const char *text)
{
	FILE	*fp;

	if ((fp = fopen(name, "w")) == NULL) {
		perror(name);
		exit(99);
	}
	fputs(text, fp);
	fclose(fp);
}

/* Load text as dashcgi.yaml into C (freeing what C held). */
static int
load(const char *yaml)
{
	config_free(&C);
	write_file("dashcgi.yaml", yaml);
	return config_load(&C, "dashcgi.yaml", err, sizeof(err));
}

static void
good(const char *yaml, const char *what)
{
	int	 rc = load(yaml);

	if (!ok(rc == 0, "loads: %s", what))
		printf("#   error: %s\n", err);
}

static void
bad(const char *yaml, const char *msg)
{
	int	 rc = load(yaml);

	ok(rc == -1, "refused: %s", msg);
	is_str(err, msg, "message for: %s", msg);
	ok(C.origins == NULL && C.listen == NULL, "cfg is freed on failure");
}

/* The config_print() output, malloc'd. */
static char *
printed(const struct config *c)
{
	char	*s = NULL;
	size_t	 len;
	FILE	*fp;

	if ((fp = open_memstream(&s, &len)) == NULL)
		exit(99);
	config_print(c, fp);
	fclose(fp);
	return s;
}

/* The printed values only, without the "  # origin" comments. */
static char *
printed_values(const struct config *c)
{
	char	*s = printed(c), *r, *w, *hash, *eol;

	for (r = w = s; *r != '\0'; r = eol) {
		if ((hash = strstr(r, "  # ")) == NULL)
			break;
		eol = strchr(hash, '\n');
		eol = eol ? eol + 1 : hash + strlen(hash);
		memmove(w, r, (size_t)(hash - r));
		w += hash - r;
		*w++ = '\n';
	}
	*w = '\0';
	return s;
}

/* The line of config_print() output for key, malloc'd. */
static char *
printed_line(const struct config *c, const char *key)
{
	char	*s = printed(c), *p, *nl, *line = NULL;
	size_t	 klen = strlen(key);

	for (p = s; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
			break;
		}
	}
	free(s);
	return line;
}

static void
line_is(const char *key, const char *want, const char *what)
{
	char	*line = printed_line(&C, key);

	is_str(line, want, "print: %s", what);
	free(line);
}

static const struct config_key *
key(const char *name)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

static const struct config_origin *
origin(const char *name)
{
	return &C.origins[key(name) - config_keys];
}

static void
clear_env(void)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (config_keys[i].env != NULL)
			unsetenv(config_keys[i].env);
}

static void
test_table(void)
{
	const struct config_key	*k;
	size_t			 i, j, want;
	int			 sizes = 1, unique = 1, defs = 1, bounds = 1;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		switch (k->type) {
		case CT_INT:
			want = k->size == sizeof(long) ? sizeof(long) :
			    sizeof(int);
			break;
		case CT_BOOL:
			want = sizeof(bool);
			break;
		case CT_DURATION:
		case CT_SIZE:
			want = sizeof(int64_t);
			break;
		case CT_MODE:
			want = sizeof(unsigned);
			break;
		case CT_STRLIST:
			want = sizeof(char **);
			break;
		case CT_STRING:
		case CT_SSLMODE:
		case CT_LISTEN:
			want = sizeof(char *);
			break;
		default:
			want = sizeof(int);	/* the enums */
			break;
		}
		if (k->size != want) {
			sizes = 0;
			printf("# %s: size %zu, want %zu\n", k->name,
			    k->size, want);
		}
		if (k->def == NULL || k->name == NULL)
			defs = 0;
		if (k->type == CT_INT && k->min > k->max)
			bounds = 0;
		for (j = 0; j < i; j++)
			if (strcmp(k->name, config_keys[j].name) == 0 ||
			    (k->env != NULL && config_keys[j].env != NULL &&
			    strcmp(k->env, config_keys[j].env) == 0))
				unique = 0;
	}
	ok(config_nkeys == 57, "57 keys (got %zu)", config_nkeys);
	ok(sizes, "every key's target has the size of its type");
	ok(defs, "every key has a name and a default");
	ok(bounds, "integer bounds are sane");
	ok(unique, "names and environment variables are unique");
	ok(!key("listen")->reload && !key("socket_mode")->reload,
	    "listen and socket_mode need a restart");
	for (i = 0, j = 0; i < config_nkeys; i++)
		j += config_keys[i].reload;
	is_int(j, config_nkeys - 2, "every other key is reloadable");
	ok(key("database.password")->secret && key("database.url")->secret,
	    "password and url are secret");
}

static void
check_defaults(const struct config *c, const char *what)
{
	is_str(c->listen, "unix:/run/dashcgi.sock", "%s: listen", what);
	is_int(c->socket_mode, 0660, "%s: socket_mode", what);
	is_int(c->workers, 4, "%s: workers", what);
	is_int(c->max_requests, 0, "%s: max_requests", what);
	is_int(c->shutdown_timeout, 10000, "%s: shutdown_timeout", what);
	is_int(c->max_body, 4 << 20, "%s: max_body", what);
	is_int(c->max_page_bytes, 8 << 20, "%s: max_page_bytes", what);
	is_int(c->log_level, LOG_INFO, "%s: log.level", what);
	is_int(c->log_format, LOG_LOGFMT, "%s: log.format", what);
	is_str(c->database.url, "", "%s: database.url", what);
	is_str(c->database.host, "/var/run/postgresql",
	    "%s: database.host", what);
	is_int(c->database.port, 5432, "%s: database.port", what);
	is_str(c->database.name, "dashcgi", "%s: database.name", what);
	is_str(c->database.user, "dashcgi", "%s: database.user", what);
	is_str(c->database.password, "", "%s: database.password", what);
	is_str(c->database.password_file, "",
	    "%s: database.password_file", what);
	is_str(c->database.sslmode, "prefer", "%s: database.sslmode", what);
	is_int(c->database.connect_timeout, 10000,
	    "%s: database.connect_timeout", what);
	is_int(c->database.statement_timeout, 30000,
	    "%s: database.statement_timeout", what);
	is_int(c->database.max_lifetime, 0, "%s: database.max_lifetime",
	    what);
	is_int(c->auth.mode, AUTH_REMOTE_USER, "%s: auth.mode", what);
	is_int(c->auth.anonymous_role, ROLE_VIEWER,
	    "%s: auth.anonymous_role", what);
	ok(c->auth.admins != NULL && c->auth.admins[0] == NULL,
	    "%s: auth.admins is an empty list", what);
	is_int(c->auth.nadmins, 0, "%s: auth.nadmins", what);
	ok(c->dashboards.require_version,
	    "%s: dashboards.require_version", what);
	is_int(c->dashboards.history_limit, 100,
	    "%s: dashboards.history_limit", what);
	is_int(c->dashboards.trash_retention, 30LL * 86400 * 1000,
	    "%s: dashboards.trash_retention", what);
	is_int(c->dashboards.max_document_bytes, 8LL * 1024 * 1024,
	    "%s: dashboards.max_document_bytes", what);
	is_int(c->shares.default_ttl, 24LL * 3600 * 1000,
	    "%s: shares.default_ttl", what);
	is_int(c->shares.max_ttl, 30LL * 86400 * 1000, "%s: shares.max_ttl",
	    what);
	is_str(c->shares.url_prefix, "/shared/", "%s: shares.url_prefix",
	    what);
	is_int(c->shares.cleanup_grace, 7LL * 86400 * 1000,
	    "%s: shares.cleanup_grace", what);
	is_int(c->audit.retention, 400LL * 86400 * 1000,
	    "%s: audit.retention", what);
	is_str(c->slo.default_project, "default", "%s: slo.default_project",
	    what);
	is_int(c->slo.resolution, 300000, "%s: slo.resolution", what);
	is_int(c->slo.raw_retention, 35LL * 86400 * 1000,
	    "%s: slo.raw_retention", what);
	is_int(c->slo.rollup_retention, 400LL * 86400 * 1000,
	    "%s: slo.rollup_retention", what);
}

static void
test_defaults(void)
{
	size_t	 i;
	int	 all = 1;

	config_free(&C);
	ok(config_load(&C, NULL, err, sizeof(err)) == 0,
	    "defaults load: %s", err);
	ok(C.path == NULL, "no path without a file");
	check_defaults(&C, "built-in");
	for (i = 0; i < config_nkeys; i++)
		if (C.origins[i].src != SRC_DEFAULT)
			all = 0;
	ok(all, "every origin is the default");

	good("", "an empty file");
	check_defaults(&C, "empty file");
	good("# nothing\n\n   # but comments\n", "a file of comments");
	check_defaults(&C, "comments only");
	good("---\n", "an empty document");
	check_defaults(&C, "empty document");
	good("database:\nlog:\n", "empty sections");
	check_defaults(&C, "empty sections");
}

/* conf/dashcgi.yaml sets every key, to its default. */
static void
test_sample(void)
{
	struct config	 d = { 0 };
	char		 path[PATH_MAX], *a, *b;
	const char	*src;
	size_t		 i;
	int		 all = 1;

	if ((src = getenv("DASHCGI_SRCDIR")) == NULL &&
	    (src = getenv("srcdir")) == NULL)
		src = TEST_SRCDIR;
	snprintf(path, sizeof(path), "%s/conf/dashcgi.yaml", src);
	if (access(path, R_OK) == -1) {
		ok(1, "sample config # SKIP %s not found", path);
		return;
	}
	config_free(&C);
	if (!ok(config_load(&C, path, err, sizeof(err)) == 0,
	    "conf/dashcgi.yaml loads"))
		printf("#   error: %s\n", err);
	if (C.origins == NULL)
		return;
	for (i = 0; i < config_nkeys; i++)
		if (C.origins[i].src != SRC_FILE) {
			all = 0;
			printf("# not in conf/dashcgi.yaml: %s\n",
			    config_keys[i].name);
		}
	ok(all, "conf/dashcgi.yaml sets every key");
	check_defaults(&C, "sample");
	config_load(&d, NULL, err, sizeof(err));
	a = printed_values(&C);
	b = printed_values(&d);
	is_str(a, b, "sample values print as the defaults do");
	free(a);
	free(b);
	config_free(&d);
}

static void
test_types(void)
{
	char	 buf[512], path[200];

	/* CT_STRING */
	good("database:\n  name: \"my db\"\n  user: ~\n  host: 'h'\n",
	    "strings");
	is_str(C.database.name, "my db", "quoted string");
	is_str(C.database.user, "", "null string is empty");
	is_str(C.database.host, "h", "single-quoted string");
	good("database: {name: 12345, user: \"true\"}\n", "scalars as text");
	is_str(C.database.name, "12345", "a number is text for a string");
	bad("database:\n  name: [a]\n",
	    "dashcgi.yaml:2:9: database.name: expected a string, got a list");
	bad("database:\n  name: \"a\\0b\"\n",
	    "dashcgi.yaml:2:9: database.name: a NUL byte is not allowed");

	/* CT_INT */
	good("workers: 8\nmax_requests: 100000\n", "integers");
	is_int(C.workers, 8, "workers 8");
	is_int(C.max_requests, 100000, "max_requests 100000");
	good("workers: \"16\"\n", "a quoted integer");
	is_int(C.workers, 16, "workers \"16\"");
	good("workers: 1024\ndatabase: {port: 65535}\n", "upper bounds");
	is_int(C.database.port, 65535, "port 65535");
	good("workers: 1\ndatabase: {port: 1}\n", "lower bounds");
	good("dashboards: {history_limit: 0}\n", "history_limit 0");
	is_int(C.dashboards.history_limit, 0, "history_limit 0 (all)");
	good("dashboards: {history_limit: 9223372036854775807}\n",
	    "history_limit LONG_MAX");
	is_int(C.dashboards.history_limit, LONG_MAX, "LONG_MAX kept");
	bad("workers: four\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got \"four\"");
	bad("workers: 0\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got \"0\"");
	bad("workers: 1025\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got \"1025\"");
	bad("workers: 0x10\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got \"0x10\"");
	bad("workers: 4.0\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got \"4.0\"");
	bad("workers: +4\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got \"+4\"");
	bad("max_requests: -1\n", "dashcgi.yaml:1:15: max_requests: "
	    "expected an integer >= 0, got \"-1\"");
	bad("max_requests: 99999999999999999999\n", "dashcgi.yaml:1:15: "
	    "max_requests: expected an integer >= 0, "
	    "got \"99999999999999999999\"");
	bad("database:\n  port: 65536\n", "dashcgi.yaml:2:9: database.port: "
	    "expected an integer 1..65535, got \"65536\"");
	bad("database:\n  port: 0\n", "dashcgi.yaml:2:9: database.port: "
	    "expected an integer 1..65535, got \"0\"");
	bad("workers:\n", "dashcgi.yaml:1:9: workers: "
	    "expected an integer 1..1024, got \"\"");

	/* CT_BOOL */
	good("dashboards: {require_version: false}\n", "false");
	ok(!C.dashboards.require_version, "require_version false");
	good("dashboards: {require_version: no}\n", "no");
	ok(!C.dashboards.require_version, "require_version no");
	good("dashboards: {require_version: off}\n", "off");
	ok(!C.dashboards.require_version, "require_version off");
	good("dashboards: {require_version: yes}\n", "yes");
	ok(C.dashboards.require_version, "require_version yes");
	good("dashboards: {require_version: on}\n", "on");
	ok(C.dashboards.require_version, "require_version on");
	good("dashboards: {require_version: True}\n", "True");
	ok(C.dashboards.require_version, "require_version True");
	bad("dashboards:\n  require_version: maybe\n", "dashcgi.yaml:2:20: "
	    "dashboards.require_version: expected true or false, "
	    "got \"maybe\"");
	bad("dashboards:\n  require_version: 1\n", "dashcgi.yaml:2:20: "
	    "dashboards.require_version: expected true or false, got \"1\"");

	/* CT_DURATION */
	good("shutdown_timeout: 500ms\ndatabase: {max_lifetime: 5m}\n"
	    "audit: {retention: 0}\n", "durations");
	is_int(C.shutdown_timeout, 500, "500ms");
	is_int(C.database.max_lifetime, 300000, "5m");
	is_int(C.audit.retention, 0, "0");
	good("shares: {default_ttl: 1h, max_ttl: 1h}\n", "ttl 1h = max 1h");
	is_int(C.shares.default_ttl, 3600000, "1h");
	bad("shutdown_timeout: 10\n", "dashcgi.yaml:1:19: shutdown_timeout: "
	    "expected a duration such as 500ms, 10s, 5m, 24h or 30d, "
	    "got \"10\"");
	bad("shutdown_timeout: -1s\n", "dashcgi.yaml:1:19: shutdown_timeout: "
	    "expected a duration such as 500ms, 10s, 5m, 24h or 30d, "
	    "got \"-1s\"");
	bad("shutdown_timeout: 1.5s\n", "dashcgi.yaml:1:19: "
	    "shutdown_timeout: expected a duration such as 500ms, 10s, 5m, "
	    "24h or 30d, got \"1.5s\"");
	bad("shutdown_timeout: 1w\n", "dashcgi.yaml:1:19: shutdown_timeout: "
	    "expected a duration such as 500ms, 10s, 5m, 24h or 30d, "
	    "got \"1w\"");
	bad("shares:\n  default_ttl: 0\n", "dashcgi.yaml:2:16: "
	    "shares.default_ttl: expected a non-zero duration such as 500ms, "
	    "10s, 5m, 24h or 30d, got \"0\"");
	bad("shares:\n  default_ttl: 31d\n", "dashcgi.yaml:2:16: "
	    "shares.default_ttl (31d) is longer than shares.max_ttl (30d)");
	bad("shares:\n  max_ttl: 1h\n", "dashcgi.yaml:2:12: "
	    "shares.default_ttl (1d) is longer than shares.max_ttl (1h)");

	/* CT_SIZE */
	good("max_body: 512KiB\n", "512KiB");
	is_int(C.max_body, 512 * 1024, "512KiB");
	good("max_body: 1GiB\n", "1GiB");
	is_int(C.max_body, 1LL << 30, "1GiB");
	good("max_body: 2MB\n", "2MB");
	is_int(C.max_body, 2000000, "2MB");
	good("max_body: 65536\n", "bytes");
	is_int(C.max_body, 65536, "65536");
	good("max_body: 100B\n", "100B");
	is_int(C.max_body, 100, "100B");
	bad("max_body: 4M\n", "dashcgi.yaml:1:11: max_body: expected a "
	    "non-zero size such as 65536, 512KiB or 4MiB, got \"4M\"");
	bad("max_body: 0\n", "dashcgi.yaml:1:11: max_body: expected a "
	    "non-zero size such as 65536, 512KiB or 4MiB, got \"0\"");
	bad("max_body: 1.5MiB\n", "dashcgi.yaml:1:11: max_body: expected a "
	    "non-zero size such as 65536, 512KiB or 4MiB, got \"1.5MiB\"");

	/* CT_MODE */
	good("socket_mode: \"0600\"\n", "mode 0600");
	is_int(C.socket_mode, 0600, "0600");
	good("socket_mode: 0666\n", "unquoted mode");
	is_int(C.socket_mode, 0666, "0666 unquoted is still octal");
	good("socket_mode: \"660\"\n", "mode without leading 0");
	is_int(C.socket_mode, 0660, "660");
	bad("socket_mode: \"0800\"\n", "dashcgi.yaml:1:14: socket_mode: "
	    "expected an octal file mode such as \"0660\", at most 0777, "
	    "got \"0800\"");
	bad("socket_mode: \"1777\"\n", "dashcgi.yaml:1:14: socket_mode: "
	    "expected an octal file mode such as \"0660\", at most 0777, "
	    "got \"1777\"");
	bad("socket_mode: rw\n", "dashcgi.yaml:1:14: socket_mode: "
	    "expected an octal file mode such as \"0660\", at most 0777, "
	    "got \"rw\"");

	/* CT_LOGLEVEL, CT_LOGFORMAT */
	good("log: {level: debug, format: json}\n", "debug, json");
	is_int(C.log_level, LOG_DEBUG, "debug");
	is_int(C.log_format, LOG_JSON, "json");
	good("log: {level: warn}\n", "warn");
	is_int(C.log_level, LOG_WARN, "warn");
	good("log: {level: error}\n", "error");
	is_int(C.log_level, LOG_ERROR, "error");
	bad("log:\n  level: verbose\n", "dashcgi.yaml:2:10: log.level: "
	    "expected one of debug, info, warn, error, got \"verbose\"");
	bad("log:\n  level: INFO\n", "dashcgi.yaml:2:10: log.level: "
	    "expected one of debug, info, warn, error, got \"INFO\"");
	bad("log:\n  format: text\n", "dashcgi.yaml:2:11: log.format: "
	    "expected one of logfmt, json, got \"text\"");

	/* CT_AUTHMODE, CT_ROLE */
	good("auth: {mode: anonymous, anonymous_role: editor}\n",
	    "anonymous editor");
	is_int(C.auth.mode, AUTH_ANONYMOUS, "anonymous");
	is_int(C.auth.anonymous_role, ROLE_EDITOR, "editor");
	good("auth: {anonymous_role: admin}\n", "admin");
	is_int(C.auth.anonymous_role, ROLE_ADMIN, "admin");
	bad("auth:\n  mode: basic\n", "dashcgi.yaml:2:9: auth.mode: "
	    "expected one of remote_user, anonymous, got \"basic\"");
	bad("auth:\n  anonymous_role: none\n", "dashcgi.yaml:2:19: "
	    "auth.anonymous_role: expected one of viewer, editor, admin, "
	    "got \"none\"");

	/* CT_SSLMODE */
	good("database: {sslmode: verify-full}\n", "verify-full");
	is_str(C.database.sslmode, "verify-full", "sslmode verify-full");
	good("database: {sslmode: disable}\n", "disable");
	is_str(C.database.sslmode, "disable", "sslmode disable");
	bad("database:\n  sslmode: on\n", "dashcgi.yaml:2:12: "
	    "database.sslmode: expected one of disable, allow, prefer, "
	    "require, verify-ca, verify-full, got \"on\"");

	/* CT_STRLIST */
	good("auth:\n  admins: [alice, \"bob\"]\n", "flow list");
	is_int(C.auth.nadmins, 2, "two admins");
	is_str(C.auth.admins[0], "alice", "admins[0]");
	is_str(C.auth.admins[1], "bob", "admins[1]");
	ok(C.auth.admins[2] == NULL, "admins is NULL-terminated");
	good("auth:\n  admins:\n    - carol\n    - dave\n    - erin\n",
	    "block list");
	is_int(C.auth.nadmins, 3, "three admins");
	is_str(C.auth.admins[2], "erin", "admins[2]");
	good("auth:\n  admins: []\n", "empty list");
	is_int(C.auth.nadmins, 0, "no admins");
	good("auth:\n  admins:\n", "null list");
	ok(C.auth.admins != NULL && C.auth.nadmins == 0, "null is empty");
	bad("auth:\n  admins: alice\n", "dashcgi.yaml:2:11: auth.admins: "
	    "expected a list of strings such as [alice, bob], got a scalar");
	bad("auth:\n  admins: {alice: 1}\n", "dashcgi.yaml:2:11: "
	    "auth.admins: expected a list of strings such as [alice, bob], "
	    "got a mapping");
	bad("auth:\n  admins: [a, [b]]\n", "dashcgi.yaml:2:15: auth.admins: "
	    "expected a non-empty string as list item 2, got a list");
	bad("auth:\n  admins: [a, \"\"]\n", "dashcgi.yaml:2:15: auth.admins: "
	    "expected a non-empty string as list item 2, got an empty or "
	    "invalid value");

	/* CT_LISTEN */
	good("listen: unix:/tmp/x.sock\n", "unix socket");
	is_str(C.listen, "unix:/tmp/x.sock", "unix:/tmp/x.sock");
	good("listen: 127.0.0.1:9000\n", "IPv4");
	is_str(C.listen, "127.0.0.1:9000", "127.0.0.1:9000");
	good("listen: localhost:9000\n", "host name");
	good("listen: \"[::1]:9000\"\n", "IPv6");
	is_str(C.listen, "[::1]:9000", "[::1]:9000");
	good("listen: \"[fe80::1%eth0]:65535\"\n", "IPv6 with a zone");
#define LISTEN_BAD(v) "dashcgi.yaml:1:9: listen: expected unix:/absolute/path, " \
	"HOST:PORT or [IPv6]:PORT with a port 1..65535, got \"" v "\""
	bad("listen: unix:run/x.sock\n", LISTEN_BAD("unix:run/x.sock"));
	bad("listen: 9000\n", LISTEN_BAD("9000"));
	bad("listen: :9000\n", LISTEN_BAD(":9000"));
	bad("listen: host:0\n", LISTEN_BAD("host:0"));
	bad("listen: host:65536\n", LISTEN_BAD("host:65536"));
	bad("listen: \"host:\"\n", LISTEN_BAD("host:"));
	bad("listen: ::1:9000\n", LISTEN_BAD("::1:9000"));
	bad("listen: \"[::1]9000\"\n", LISTEN_BAD("[::1]9000"));
	bad("listen: \"[zz]:1\"\n", LISTEN_BAD("[zz]:1"));
	bad("listen: \"ho st:1\"\n", LISTEN_BAD("ho st:1"));
	memset(path, 'a', sizeof(path));
	path[sizeof(path) - 1] = '\0';
	path[0] = '/';
	snprintf(buf, sizeof(buf), "listen: unix:%s\n", path);
	ok(load(buf) == -1, "a unix path longer than sun_path is refused");
}

static void
test_structure(void)
{
	bad("workers: {a: 1}\n", "dashcgi.yaml:1:10: workers: "
	    "expected an integer 1..1024, got a mapping");
	bad("database:\n  port:\n    - 1\n", "dashcgi.yaml:3:5: database.port: "
	    "expected an integer 1..65535, got a list");
	bad("workers: 4\n\ndatabse:\n  host: db\n",
	    "dashcgi.yaml:4:3: unknown key \"databse.host\" "
	    "(did you mean \"database.host\"?)");
	bad("# c\nlisten: unix:/x\nfrobnicate: 1\n",
	    "dashcgi.yaml:3:1: unknown key \"frobnicate\"");
	bad("database:\n  host: x\n  prot: 5432\n", "dashcgi.yaml:3:3: "
	    "unknown key \"database.prot\" (did you mean \"database.port\"?)");
	bad("port: 5432\n", "dashcgi.yaml:1:1: unknown key \"port\" "
	    "(did you mean \"database.port\"?)");
	bad("log.level: debug\n", "dashcgi.yaml:1:1: unknown key "
	    "\"log.level\" (write dotted names as nested mappings)");
	bad("workers: 4\nworkers: 5\n", "dashcgi.yaml:2:1: duplicate key "
	    "\"workers\" (first at line 1, column 1)");
	bad("database:\n  port: 1\n  name: x\n  port: 2\n",
	    "dashcgi.yaml:4:3: duplicate key \"database.port\" "
	    "(first at line 2, column 3)");
	bad("log: {level: info}\nlog: {format: json}\n",
	    "dashcgi.yaml:2:1: duplicate key \"log\" "
	    "(first at line 1, column 1)");
	bad("log: info\n", "dashcgi.yaml:1:6: log: expected a mapping of "
	    "log.* keys, got a scalar");
	bad("- workers\n", "dashcgi.yaml:1:1: expected a mapping of keys at "
	    "the top level, got a list");
	bad("? [a]\n: 1\n", "dashcgi.yaml:1:3: expected a key name, got a "
	    "list");
	bad("workers: 4\n---\nworkers: 5\n", "dashcgi.yaml:3:1: only one "
	    "YAML document is allowed");

	/* libyaml's own words and position. */
	bad("workers: [1, 2\n", "dashcgi.yaml:2:1: YAML syntax error: "
	    "did not find expected ',' or ']' (while parsing a flow "
	    "sequence at line 1, column 10)");
	bad("log:\n  level: info\n format: json\n", "dashcgi.yaml:3:2: "
	    "YAML syntax error: did not find expected key (while parsing "
	    "a block mapping at line 1, column 1)");
	bad("workers: \"4\n", "dashcgi.yaml:2:1: YAML syntax error: found "
	    "unexpected end of stream (while scanning a quoted scalar at "
	    "line 1, column 10)");
	bad("workers: *nope\n", "dashcgi.yaml:1:10: YAML syntax error: "
	    "found undefined alias");
	bad("a:\tb: c\n", "dashcgi.yaml:1:5: YAML syntax error: mapping "
	    "values are not allowed in this context");
	bad("workers: \xff\n", "dashcgi.yaml: byte 9: invalid leading "
	    "UTF-8 octet (0xff)");

	/* The file itself. */
	config_free(&C);
	ok(config_load(&C, "missing.yaml", err, sizeof(err)) == -1,
	    "a missing file is an error");
	is_str(err, "missing.yaml: No such file or directory",
	    "missing file message");
	ok(config_load(&C, ".", err, sizeof(err)) == -1,
	    "a directory is an error");
	is_str(err, ".: Is a directory", "directory message");

	/* Anchors and aliases are fine; they are just YAML. */
	good("shares:\n  default_ttl: &t 7d\n  max_ttl: *t\n", "aliases");
	is_int(C.shares.max_ttl, 7LL * 86400 * 1000, "alias value");
}

static void
test_env(void)
{
	static const struct {
		const char	*var, *val, *key;
	} cases[] = {
		{ "DATABASE_URL", "postgres://u@db/x", "database.url" },
		{ "DB_HOST", "db.example", "database.host" },
		{ "DB_PORT", "6432", "database.port" },
		{ "DB_NAME", "dash", "database.name" },
		{ "DB_USER", "dashuser", "database.user" },
		{ "DB_PASSWORD", "pw", "database.password" },
		{ "DB_SSLMODE", "require", "database.sslmode" },
		{ "DB_CONNECT_TIMEOUT", "5", "database.connect_timeout" },
		{ "DB_QUERY_TIMEOUT", "2m", "database.statement_timeout" },
		{ "DB_CONN_MAX_LIFETIME", "300", "database.max_lifetime" },
		{ "DB_MAX_OPEN_CONNS", "8", "workers" },
		{ "DB_MIGRATE_URL", "dbname=x user=owner",
		    "database.migrate_url" },
		{ "DASHCGI_LISTEN", "127.0.0.1:9000", "listen" },
	};
	const struct config_origin	*o;
	size_t				 i;
	int				 n = 0;

	for (i = 0; i < config_nkeys; i++)
		n += config_keys[i].env != NULL;
	is_int(n, sizeof(cases) / sizeof(cases[0]),
	    "every environment variable is tested");

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_str(key(cases[i].key)->env, cases[i].var, "%s overrides %s",
		    cases[i].var, cases[i].key);
		setenv(cases[i].var, cases[i].val, 1);
	}
	config_free(&C);
	ok(config_load(&C, NULL, err, sizeof(err)) == 0,
	    "environment loads: %s", err);
	is_str(C.database.url, "postgres://u@db/x", "DATABASE_URL");
	is_str(C.database.host, "db.example", "DB_HOST");
	is_int(C.database.port, 6432, "DB_PORT");
	is_str(C.database.name, "dash", "DB_NAME");
	is_str(C.database.user, "dashuser", "DB_USER");
	is_str(C.database.password, "pw", "DB_PASSWORD");
	is_str(C.database.sslmode, "require", "DB_SSLMODE");
	is_int(C.database.connect_timeout, 5000,
	    "DB_CONNECT_TIMEOUT bare 5 is seconds");
	is_int(C.database.statement_timeout, 120000,
	    "DB_QUERY_TIMEOUT takes a duration");
	is_int(C.database.max_lifetime, 300000,
	    "DB_CONN_MAX_LIFETIME bare 300 is seconds");
	is_int(C.workers, 8, "DB_MAX_OPEN_CONNS");
	is_str(C.listen, "127.0.0.1:9000", "DASHCGI_LISTEN");
	is_str(C.database.migrate_url, "dbname=x user=owner",
	    "DB_MIGRATE_URL");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o = origin(cases[i].key);
		ok(o->src == SRC_ENV && o->env != NULL &&
		    strcmp(o->env, cases[i].var) == 0,
		    "origin of %s is env %s", cases[i].key, cases[i].var);
	}
	line_is("workers", "workers: 8  # env DB_MAX_OPEN_CONNS",
	    "an env origin");

	/* The environment wins over the file. */
	good("workers: 2\ndatabase:\n  port: 1234\n", "file under env");
	is_int(C.workers, 8, "env beats file for workers");
	is_int(C.database.port, 6432, "env beats file for port");
	clear_env();

	/* Set but empty means unset. */
	setenv("DB_PORT", "", 1);
	setenv("DASHCGI_LISTEN", "", 1);
	good("database:\n  port: 1234\n", "empty env is ignored");
	is_int(C.database.port, 1234, "empty DB_PORT leaves the file value");
	is_str(C.listen, "unix:/run/dashcgi.sock", "empty DASHCGI_LISTEN");
	clear_env();

	/* Bad values name the variable. */
	setenv("DB_PORT", "x", 1);
	config_free(&C);
	ok(config_load(&C, NULL, err, sizeof(err)) == -1, "bad DB_PORT");
	is_str(err, "environment DB_PORT: expected an integer 1..65535, "
	    "got \"x\"", "DB_PORT message");
	clear_env();
	setenv("DB_CONNECT_TIMEOUT", "-5", 1);
	ok(config_load(&C, NULL, err, sizeof(err)) == -1,
	    "bad DB_CONNECT_TIMEOUT");
	is_str(err, "environment DB_CONNECT_TIMEOUT: expected a duration "
	    "such as 500ms, 10s, 5m, 24h or 30d, or a number of seconds, "
	    "got \"-5\"", "DB_CONNECT_TIMEOUT message");
	clear_env();
	setenv("DB_CONNECT_TIMEOUT", "99999999999999999", 1);
	ok(config_load(&C, NULL, err, sizeof(err)) == -1,
	    "overflowing seconds are refused");
	clear_env();
	setenv("DB_SSLMODE", "yes", 1);
	ok(config_load(&C, NULL, err, sizeof(err)) == -1, "bad DB_SSLMODE");
	is_str(err, "environment DB_SSLMODE: expected one of disable, allow, "
	    "prefer, require, verify-ca, verify-full, got \"yes\"",
	    "DB_SSLMODE message");
	clear_env();
	setenv("DB_MAX_OPEN_CONNS", "0", 1);
	ok(config_load(&C, NULL, err, sizeof(err)) == -1,
	    "DB_MAX_OPEN_CONNS=0");
	is_str(err, "environment DB_MAX_OPEN_CONNS: expected an integer "
	    "1..1024, got \"0\"", "DB_MAX_OPEN_CONNS message");
	clear_env();
	/* Bare seconds are for the environment only. */
	bad("database:\n  connect_timeout: 5\n", "dashcgi.yaml:2:20: "
	    "database.connect_timeout: expected a duration such as 500ms, "
	    "10s, 5m, 24h or 30d, got \"5\"");
}

static void
test_password_file(void)
{
	write_file("pw", "s3cret\n");
	good("database:\n  password: fromyaml\n  password_file: pw\n",
	    "password_file");
	is_str(C.database.password, "s3cret", "one newline stripped");
	is_str(C.database.password_file, "pw", "password_file kept");
	ok(origin("database.password")->src == SRC_FILE,
	    "password origin is the file setting");
	line_is("database.password", "database.password: ****  # read from "
	    "pw (database.password_file)", "origin names the file");

	write_file("pw", "s3cret\r\n");
	good("database: {password_file: pw}\n", "CRLF");
	is_str(C.database.password, "s3cret", "CRLF stripped");
	write_file("pw", "s3cret");
	good("database: {password_file: pw}\n", "no newline");
	is_str(C.database.password, "s3cret", "nothing to strip");
	write_file("pw", "s3cret\n\n");
	good("database: {password_file: pw}\n", "two newlines");
	is_str(C.database.password, "s3cret\n", "only one newline stripped");
	write_file("pw", "");
	good("database: {password_file: pw}\n", "empty password file");
	is_str(C.database.password, "", "empty password");

	write_file("pw", "fromfile\n");
	setenv("DB_PASSWORD", "fromenv", 1);
	good("database: {password_file: pw}\n", "DB_PASSWORD and file");
	is_str(C.database.password, "fromenv", "DB_PASSWORD wins");
	clear_env();

	bad("database:\n  password_file: /nonexistent/pw\n",
	    "dashcgi.yaml:2:18: database.password_file: cannot read "
	    "\"/nonexistent/pw\": No such file or directory");
	unlink("pw");
}

static void
test_print(void)
{
	char	*out, *p, *line;
	size_t	 i, nlines = 0;
	int	 order = 1;

	good("listen: unix:/tmp/x.sock\ndatabase:\n  password: hunter2\n"
	    "  url: postgres://u:secret@h/db\n", "secrets");
	out = printed(&C);
	ok(strstr(out, "hunter2") == NULL, "password never printed");
	ok(strstr(out, "secret") == NULL, "url password never printed");
	/* Every key, in table order, at the start of its line. */
	for (p = out, i = 0; *p != '\0'; i++) {
		if (i >= config_nkeys || strncmp(p, config_keys[i].name,
		    strlen(config_keys[i].name)) != 0 ||
		    p[strlen(config_keys[i].name)] != ':')
			order = 0;
		nlines++;
		p = strchr(p, '\n');
		p = p ? p + 1 : "";
	}
	ok(order, "every key printed in table order");
	is_int(nlines, config_nkeys, "one line per key");
	free(out);

	line_is("listen", "listen: unix:/tmp/x.sock  # dashcgi.yaml:1:9",
	    "a file origin");
	line_is("database.port", "database.port: 5432  # default",
	    "a default");
	line_is("database.password", "database.password: ****  # "
	    "dashcgi.yaml:3:13", "password masked");
	line_is("database.url", "database.url: postgres://u:****@h/db  # "
	    "dashcgi.yaml:4:8", "url password masked");
	line_is("socket_mode", "socket_mode: \"0660\"  # default", "mode");
	line_is("shares.default_ttl", "shares.default_ttl: 1d  # default",
	    "duration");
	line_is("max_body", "max_body: 4MiB  # default", "size");

	good("database:\n  url: \"postgresql://u@h/db?sslmode=require&"
	    "password=secret&x=1\"\n", "url with password param");
	line = printed_line(&C, "database.url");
	is_str(line, "database.url: postgresql://u@h/db?sslmode=require&"
	    "password=****&x=1  # dashcgi.yaml:2:8", "query password masked");
	free(line);
	good("database:\n  url: \"host=h password='se cret' user=u\"\n",
	    "keyword/value conninfo");
	line = printed_line(&C, "database.url");
	is_str(line, "database.url: \"host=h password=**** user=u\"  # "
	    "dashcgi.yaml:2:8", "keyword password masked");
	free(line);
	good("database:\n  url: postgres://u@h/db\n", "url, no password");
	line_is("database.url", "database.url: postgres://u@h/db  # "
	    "dashcgi.yaml:2:8", "url without password unchanged");
	good("database:\n  password: \"\"\n", "empty password");
	line_is("database.password", "database.password: \"\"  # "
	    "dashcgi.yaml:2:13", "empty password printed as empty");

	good("auth:\n  admins: [alice, \"b c\"]\n  mode: anonymous\n"
	    "max_body: 1000\nshutdown_timeout: 1500ms\n", "assorted");
	line_is("auth.admins", "auth.admins: [alice, \"b c\"]  # "
	    "dashcgi.yaml:2:11", "list");
	line_is("auth.mode", "auth.mode: anonymous  # dashcgi.yaml:3:9",
	    "enum");
	line_is("max_body", "max_body: 1KB  # dashcgi.yaml:4:11",
	    "decimal size");
	line_is("shutdown_timeout", "shutdown_timeout: 1500ms  # "
	    "dashcgi.yaml:5:19", "ms duration");
}

static void
test_parse_functions(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		int64_t		 ms;
	} dur[] = {
		{ "0", 0, 0 }, { "0s", 0, 0 }, { "0ms", 0, 0 },
		{ "500ms", 0, 500 }, { "10s", 0, 10000 }, { "5m", 0, 300000 },
		{ "24h", 0, 86400000 }, { "30d", 0, 2592000000LL },
		{ "9223372036854775807ms", 0, INT64_MAX },
		{ "10", -1, 0 }, { "-1s", -1, 0 }, { "", -1, 0 },
		{ "s", -1, 0 }, { "1h30m", -1, 0 }, { "1.5s", -1, 0 },
		{ " 1s", -1, 0 }, { "1s ", -1, 0 }, { "1S", -1, 0 },
		{ "9223372036854775807s", -1, 0 },
		{ "106751991167301d", -1, 0 },
		{ "99999999999999999999ms", -1, 0 },
	};
	static const struct {
		const char	*in;
		int		 rc;
		int64_t		 b;
	} sz[] = {
		{ "0", 0, 0 }, { "512", 0, 512 }, { "10B", 0, 10 },
		{ "512KiB", 0, 524288 }, { "4MiB", 0, 4194304 },
		{ "1GiB", 0, 1073741824 }, { "1KB", 0, 1000 },
		{ "3MB", 0, 3000000 }, { "2GB", 0, 2000000000 },
		{ "8589934591GiB", 0, 8589934591LL << 30 },
		{ "8589934592GiB", -1, 0 }, { "-1", -1, 0 }, { "4mib", -1, 0 },
		{ "4M", -1, 0 }, { "1.5MiB", -1, 0 }, { "", -1, 0 },
		{ "KiB", -1, 0 }, { "4 MiB", -1, 0 },
		{ "99999999999999999999", -1, 0 },
	};
	int64_t	 v;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
		v = -42;
		rc = config_parse_duration(dur[i].in, &v);
		is_int(rc, dur[i].rc, "duration \"%s\" %s", dur[i].in,
		    dur[i].rc ? "refused" : "accepted");
		if (rc == 0 && dur[i].rc == 0)
			is_int(v, dur[i].ms, "duration \"%s\" value",
			    dur[i].in);
	}
	for (i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		v = -42;
		rc = config_parse_size(sz[i].in, &v);
		is_int(rc, sz[i].rc, "size \"%s\" %s", sz[i].in,
		    sz[i].rc ? "refused" : "accepted");
		if (rc == 0 && sz[i].rc == 0)
			is_int(v, sz[i].b, "size \"%s\" value", sz[i].in);
	}
}

/* Runs f with stderr captured; returns what it wrote, malloc'd. */
static char *
capture_stderr(void (*f)(const struct config *, const struct config *),
    const struct config *a, const struct config *b)
{
	char	*s;
	int	 saved, fd;
	off_t	 len;

	fflush(stderr);
	saved = dup(2);
	if ((fd = open("stderr.txt", O_RDWR | O_CREAT | O_TRUNC, 0600)) ==
	    -1)
		exit(99);
	dup2(fd, 2);
	f(a, b);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = lseek(fd, 0, SEEK_END);
	s = calloc(1, (size_t)len + 1);
	if (s == NULL || pread(fd, s, (size_t)len, 0) != len)
		exit(99);
	close(fd);
	unlink("stderr.txt");
	return s;
}

static void
test_reload(void)
{
	struct config	 a = { 0 }, b = { 0 };
	char		*out;

	write_file("a.yaml", "listen: unix:/tmp/a.sock\nworkers: 2\n");
	write_file("b.yaml", "listen: unix:/tmp/b.sock\nworkers: 3\n"
	    "socket_mode: \"0600\"\n");
	ok(config_load(&a, "a.yaml", err, sizeof(err)) == 0, "old config");
	ok(config_load(&b, "b.yaml", err, sizeof(err)) == 0, "new config");
	out = capture_stderr(config_reload_warnings, &a, &b);
	ok(strstr(out, "listen changed") != NULL, "listen change warned");
	ok(strstr(out, "socket_mode changed") != NULL,
	    "socket_mode change warned");
	ok(strstr(out, "workers") == NULL, "workers is reloadable");
	free(out);
	out = capture_stderr(config_reload_warnings, &a, &a);
	is_str(out, "", "no change, no warning");
	free(out);
	config_free(&a);
	config_free(&b);
	unlink("a.yaml");
	unlink("b.yaml");
}

static void
test_free(void)
{
	struct config	 z;

	memset(&z, 0, sizeof(z));
	config_free(&z);
	config_free(&z);
	ok(1, "config_free on a zeroed struct, twice");
	ok(config_load(&z, NULL, err, sizeof(err)) == 0, "load");
	config_free(&z);
	config_free(&z);
	ok(z.origins == NULL && z.listen == NULL, "config_free zeroes");
	ok(config_load(&z, "missing.yaml", NULL, 0) == -1,
	    "a NULL err buffer is allowed");
}

int
main(void)
{
	char	 cwd[PATH_MAX];

	clear_env();
	if (getcwd(cwd, sizeof(cwd)) == NULL || mkdtemp(dir) == NULL ||
	    chdir(dir) == -1) {
		perror("setup");
		return 99;
	}
	/* Relative srcdirs must still work after the chdir. */
	if (getenv("DASHCGI_SRCDIR") == NULL) {
		const char	*s = getenv("srcdir");
		char		 abs[PATH_MAX * 2];

		snprintf(abs, sizeof(abs), "%s/%s", cwd,
		    s != NULL ? s : TEST_SRCDIR);
		if (s == NULL || s[0] != '/')
			setenv("DASHCGI_SRCDIR", abs, 1);
	}

	test_table();
	test_defaults();
	test_sample();
	test_types();
	test_structure();
	test_env();
	test_password_file();
	test_print();
	test_parse_functions();
	test_reload();
	test_free();

	config_free(&C);
	unlink("dashcgi.yaml");
	if (chdir(cwd) == -1 || rmdir(dir) == -1)
		ok(0, "remove %s: %s", dir, strerror(errno));
	return done_testing();
}
