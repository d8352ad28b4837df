/*
 * config.c -- the configuration: defaults, the YAML file, the
 * environment, in that order, all driven by config_keys[].
 *
 * Owns: config_keys[], the one table from which parsing, defaults,
 * environment overrides, reload rules and check-config output come
 * (conf/dashcgi.yaml and dashcgi.yaml(5) document the same rows);
 * struct config and every string it points to.
 * Never: exit, touch the network or the database, keep global state,
 * print a secret, or let an unknown key or a bad value pass: a typo
 * must stop the server rather than run it half configured.
 */

#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "log.h"

#define RELOAD	true		/* SIGHUP applies a new value */
#define RESTART	false		/* a new value needs a restart */
#define SECRET	true
#define PLAIN	false

#define KEY(n, t, f, d, e, r, s, lo, hi) {				\
	.name = (n), .type = (t), .off = offsetof(struct config, f),	\
	.def = (d), .env = (e), .reload = (r), .secret = (s),		\
	.min = (lo), .max = (hi),					\
	.size = sizeof(((struct config *)0)->f) }

/*
 * Defaults are YAML text and go through the same parser as the file,
 * so a default can never be something the file could not say.
 */
const struct config_key config_keys[] = {
	KEY("listen", CT_LISTEN, listen,
	    "unix:/run/dashcgi.sock", "DASHCGI_LISTEN", RESTART, PLAIN, 0, 0),
	KEY("socket_mode", CT_MODE, socket_mode,
	    "\"0660\"", NULL, RESTART, PLAIN, 0, 0),
	KEY("workers", CT_INT, workers,
	    "4", "DB_MAX_OPEN_CONNS", RELOAD, PLAIN, 1, 1024),
	KEY("max_requests", CT_INT, max_requests,
	    "0", NULL, RELOAD, PLAIN, 0, LONG_MAX),
	KEY("shutdown_timeout", CT_DURATION, shutdown_timeout,
	    "10s", NULL, RELOAD, PLAIN, 0, 0),
	KEY("max_body", CT_SIZE, max_body,
	    "4MiB", NULL, RELOAD, PLAIN, 1, 0),
	KEY("max_page_bytes", CT_SIZE, max_page_bytes,
	    "8MiB", NULL, RELOAD, PLAIN, 1, 0),
	KEY("read_timeout", CT_DURATION, read_timeout,
	    "10s", NULL, RELOAD, PLAIN, 1, 0),
	KEY("log.level", CT_LOGLEVEL, log_level,
	    "info", NULL, RELOAD, PLAIN, 0, 0),
	KEY("log.format", CT_LOGFORMAT, log_format,
	    "logfmt", NULL, RELOAD, PLAIN, 0, 0),
	KEY("database.url", CT_STRING, database.url,
	    "\"\"", "DATABASE_URL", RELOAD, SECRET, 0, 0),
	KEY("database.host", CT_STRING, database.host,
	    "/var/run/postgresql", "DB_HOST", RELOAD, PLAIN, 0, 0),
	KEY("database.port", CT_INT, database.port,
	    "5432", "DB_PORT", RELOAD, PLAIN, 1, 65535),
	KEY("database.name", CT_STRING, database.name,
	    "dashcgi", "DB_NAME", RELOAD, PLAIN, 0, 0),
	KEY("database.user", CT_STRING, database.user,
	    "dashcgi", "DB_USER", RELOAD, PLAIN, 0, 0),
	KEY("database.password", CT_STRING, database.password,
	    "\"\"", "DB_PASSWORD", RELOAD, SECRET, 0, 0),
	KEY("database.password_file", CT_STRING, database.password_file,
	    "\"\"", NULL, RELOAD, PLAIN, 0, 0),
	KEY("database.sslmode", CT_SSLMODE, database.sslmode,
	    "prefer", "DB_SSLMODE", RELOAD, PLAIN, 0, 0),
	KEY("database.connect_timeout", CT_DURATION, database.connect_timeout,
	    "10s", "DB_CONNECT_TIMEOUT", RELOAD, PLAIN, 0, 0),
	KEY("database.statement_timeout", CT_DURATION,
	    database.statement_timeout,
	    "30s", "DB_QUERY_TIMEOUT", RELOAD, PLAIN, 0, 0),
	KEY("database.max_lifetime", CT_DURATION, database.max_lifetime,
	    "0", "DB_CONN_MAX_LIFETIME", RELOAD, PLAIN, 0, 0),
	KEY("auth.mode", CT_AUTHMODE, auth.mode,
	    "remote_user", NULL, RELOAD, PLAIN, 0, 0),
	KEY("auth.anonymous_role", CT_ROLE, auth.anonymous_role,
	    "viewer", NULL, RELOAD, PLAIN, 0, 0),
	KEY("auth.admins", CT_STRLIST, auth.admins,
	    "[]", NULL, RELOAD, PLAIN, 0, 0),
	KEY("dashboards.require_version", CT_BOOL, dashboards.require_version,
	    "true", NULL, RELOAD, PLAIN, 0, 0),
	KEY("dashboards.history_limit", CT_INT, dashboards.history_limit,
	    "100", NULL, RELOAD, PLAIN, 0, LONG_MAX),
	KEY("dashboards.trash_retention", CT_DURATION,
	    dashboards.trash_retention,
	    "30d", NULL, RELOAD, PLAIN, 0, 0),
	KEY("dashboards.max_document_bytes", CT_SIZE,
	    dashboards.max_document_bytes,
	    "8MiB", NULL, RELOAD, PLAIN, 1, 0),
	KEY("dashboards.local_datasources", CT_BOOL,
	    dashboards.local_datasources,
	    "true", NULL, RELOAD, PLAIN, 0, 0),
	KEY("shares.default_ttl", CT_DURATION, shares.default_ttl,
	    "24h", NULL, RELOAD, PLAIN, 1, 0),
	KEY("shares.max_ttl", CT_DURATION, shares.max_ttl,
	    "30d", NULL, RELOAD, PLAIN, 1, 0),
	KEY("shares.url_prefix", CT_STRING, shares.url_prefix,
	    "/shared/", NULL, RELOAD, PLAIN, 0, 0),
	KEY("shares.cleanup_grace", CT_DURATION, shares.cleanup_grace,
	    "7d", NULL, RELOAD, PLAIN, 0, 0),
	KEY("audit.retention", CT_DURATION, audit.retention,
	    "400d", NULL, RELOAD, PLAIN, 0, 0),
	KEY("maintenance.interval", CT_DURATION, maintenance.interval,
	    "0", NULL, RELOAD, PLAIN, 0, 0),
	KEY("hub.evaluators", CT_INT, hub.evaluators,
	    "1", NULL, RELOAD, PLAIN, 0, 16),
	KEY("hub.interval", CT_DURATION, hub.interval,
	    "15s", NULL, RELOAD, PLAIN, 100, 0),
	KEY("hub.events_retention", CT_DURATION, hub.events_retention,
	    "14d", NULL, RELOAD, PLAIN, 0, 0),
	KEY("hub.notify_timeout", CT_DURATION, hub.notify_timeout,
	    "10s", NULL, RELOAD, PLAIN, 100, 0),
	KEY("hub.notify_max_attempts", CT_INT, hub.notify_max_attempts,
	    "8", NULL, RELOAD, PLAIN, 1, 100),
	KEY("slo.default_project", CT_STRING, slo.default_project,
	    "default", NULL, RELOAD, PLAIN, 0, 0),
	KEY("slo.resolution", CT_DURATION, slo.resolution,
	    "5m", NULL, RELOAD, PLAIN, 1000, 0),
	KEY("slo.raw_retention", CT_DURATION, slo.raw_retention,
	    "35d", NULL, RELOAD, PLAIN, 1, 0),
	KEY("slo.rollup_retention", CT_DURATION, slo.rollup_retention,
	    "400d", NULL, RELOAD, PLAIN, 1, 0),
	/* Scaling the database side (db.c): poolers and replicas. */
	KEY("database.pooler", CT_POOLER, database.pooler,
	    "none", NULL, RELOAD, PLAIN, 0, 0),
	KEY("database.prepared_statements", CT_PREPARED,
	    database.prepared_statements,
	    "named", NULL, RELOAD, PLAIN, 0, 0),
	KEY("database.direct_url", CT_STRING, database.direct_url,
	    "\"\"", NULL, RELOAD, SECRET, 0, 0),
	KEY("database.migrate_url", CT_STRING, database.migrate_url,
	    "\"\"", "DB_MIGRATE_URL", RELOAD, SECRET, 0, 0),
	KEY("database.replicas", CT_STRLIST, database.replicas,
	    "[]", NULL, RELOAD, PLAIN, 0, 0),
	KEY("database.replica_max_lag", CT_DURATION,
	    database.replica_max_lag,
	    "5s", NULL, RELOAD, PLAIN, 0, 0),
	KEY("database.read_your_writes", CT_DURATION,
	    database.read_your_writes,
	    "5s", NULL, RELOAD, PLAIN, 0, 0),
	KEY("monitors.checkers", CT_INT, monitors.checkers,
	    "1", NULL, RELOAD, PLAIN, 0, 64),
	KEY("monitors.concurrency", CT_INT, monitors.concurrency,
	    "256", NULL, RELOAD, PLAIN, 1, 10000),
	KEY("monitors.min_interval", CT_DURATION, monitors.min_interval,
	    "10s", NULL, RELOAD, PLAIN, 1, 0),
	KEY("monitors.allow_private", CT_BOOL, monitors.allow_private,
	    "false", NULL, RELOAD, PLAIN, 0, 0),
	KEY("monitors.retention", CT_DURATION, monitors.retention,
	    "90d", NULL, RELOAD, PLAIN, 0, 0),
	KEY("monitors.location", CT_STRING, monitors.location,
	    "\"\"", NULL, RELOAD, PLAIN, 0, 0),
};
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

/* Value names, indexed by the enum value they stand for. */
static const char *const loglevel_names[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info",
	[LOG_WARN] = "warn", [LOG_ERROR] = "error", NULL
};
static const char *const logformat_names[] = {
	[LOG_LOGFMT] = "logfmt", [LOG_JSON] = "json", NULL
};
static const char *const authmode_names[] = {
	[AUTH_REMOTE_USER] = "remote_user", [AUTH_ANONYMOUS] = "anonymous",
	NULL
};
static const char *const role_names[] = {
	[ROLE_NONE] = "none", [ROLE_VIEWER] = "viewer",
	[ROLE_EDITOR] = "editor", [ROLE_ADMIN] = "admin", NULL
};
/* Stored as the string libpq takes; the index means nothing. */
static const char *const pooler_names[] = {
	[POOLER_NONE] = "none", [POOLER_PGBOUNCER] = "pgbouncer", NULL
};
static const char *const prepared_names[] = {
	[PREPARED_NAMED] = "named", [PREPARED_UNNAMED] = "unnamed", NULL
};
static const char *const sslmode_names[] = {
	"disable", "allow", "prefer", "require", "verify-ca", "verify-full",
	NULL
};

struct unit {
	const char	*sfx;
	int64_t		 mult;
};

static const struct unit duration_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
	{ "h", 3600 * 1000 }, { "d", 86400 * 1000 }, { NULL, 0 }
};
static const struct unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "KB", 1000 }, { "MB", 1000 * 1000 }, { "GB", 1000 * 1000 * 1000 },
	{ "KiB", 1 << 10 }, { "MiB", 1 << 20 }, { "GiB", 1 << 30 },
	{ NULL, 0 }
};

/* Longest dotted name we build while walking the file. */
#define NAME_LEN	128
/* Room for a "path:line:col: " or "environment VAR: " prefix. */
#define PREFIX_LEN	(PATH_MAX + 64)
/* Room for one "expected …, got …" explanation. */
#define WHY_LEN		256
/* A password file larger than this is a mistake, not a password. */
#define PASSWORD_MAX	4096

struct loader {
	struct config	*cfg;
	const char	*path;		/* as given, for messages */
	char		*err;
	size_t		 errlen;
};

static int
fail(struct loader *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int
fail_at(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct loader *L, const char *fmt, ...)
{
	va_list ap;

	if (L->err != NULL && L->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(L->err, L->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* "path:line:col: …" with libyaml's 0-based mark printed 1-based. */
static int
fail_at(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail(L, "%s:%zu:%zu: %s", L->path,
	    n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

static ssize_t
key_index(const char *name)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Is name a section ("database") that holds keys ("database.port")? */
static bool
is_section(const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < config_nkeys; i++)
		if (strncmp(config_keys[i].name, name, len) == 0 &&
		    config_keys[i].name[len] == '.')
			return true;
	return false;
}

static const char *const *
enum_names(enum config_type t, int *first)
{
	*first = 0;
	switch (t) {
	case CT_LOGLEVEL:
		return loglevel_names;
	case CT_LOGFORMAT:
		return logformat_names;
	case CT_AUTHMODE:
		return authmode_names;
	case CT_ROLE:
		*first = ROLE_VIEWER;	/* "none" is not a role to give */
		return role_names;
	case CT_SSLMODE:
		return sslmode_names;
	case CT_POOLER:
		return pooler_names;
	case CT_PREPARED:
		return prepared_names;
	default:
		return NULL;
	}
}

/* What a key accepts, for "expected …" messages. */
static void
describe(const struct config_key *k, bool env, char *buf, size_t len)
{
	const char *const	*names;
	int			 first, i;
	size_t			 n;

	switch (k->type) {
	case CT_STRING:
		snprintf(buf, len, "a string");
		break;
	case CT_INT:
		if (k->max >= INT_MAX)
			snprintf(buf, len, "an integer >= %lld", k->min);
		else
			snprintf(buf, len, "an integer %lld..%lld",
			    k->min, k->max);
		break;
	case CT_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case CT_DURATION:
		snprintf(buf, len, "a %sduration such as 500ms, 10s, 5m, "
		    "24h or 30d%s", k->min > 0 ? "non-zero " : "",
		    env ? ", or a number of seconds" : "");
		break;
	case CT_SIZE:
		snprintf(buf, len, "a %ssize such as 65536, 512KiB or 4MiB",
		    k->min > 0 ? "non-zero " : "");
		break;
	case CT_MODE:
		snprintf(buf, len, "an octal file mode such as \"0660\", "
		    "at most 0777");
		break;
	case CT_STRLIST:
		snprintf(buf, len, "a list of strings such as [alice, bob]");
		break;
	case CT_LISTEN:
		snprintf(buf, len, "unix:/absolute/path, HOST:PORT or "
		    "[IPv6]:PORT with a port 1..65535");
		break;
	default:
		names = enum_names(k->type, &first);
		n = (size_t)snprintf(buf, len, "one of");
		for (i = first; names[i] != NULL && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s %s",
			    i == first ? "" : ",", names[i]);
		break;
	}
}

/* got "…", escaped and cut short, so a message stays one sane line. */
static void
quote_got(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t	 i, n = 0;

	if (buflen < 16) {
		if (buflen > 0)
			buf[0] = '\0';
		return;
	}
	buf[n++] = '"';
	for (i = 0; i < len && n + 8 < buflen && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			n += (size_t)snprintf(buf + n, buflen - n, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(buf + n, buflen - n,
			    "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	if (i < len)
		n += (size_t)snprintf(buf + n, buflen - n, "...");
	snprintf(buf + n, buflen - n, "\"");
}

static int
expected(const struct config_key *k, bool env, const char *s, size_t len,
    char *why, size_t whylen)
{
	char	 what[160], got[96];

	describe(k, env, what, sizeof(what));
	if (k->secret)
		snprintf(got, sizeof(got), "a value (not shown)");
	else
		quote_got(s, len, got, sizeof(got));
	snprintf(why, whylen, "expected %s, got %s", what, got);
	return -1;
}

/* Decimal digits only: no sign, no base prefix, no spaces. */
static int
parse_digits(const char **pp, int64_t *v)
{
	const char	*p = *pp;
	int64_t		 n = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	*pp = p;
	*v = n;
	return 0;
}

static int
parse_scaled(const char *s, const struct unit *u, int64_t *out)
{
	int64_t	 n;

	if (parse_digits(&s, &n) == -1)
		return -1;
	for (; u->sfx != NULL; u++) {
		if (strcmp(s, u->sfx) != 0)
			continue;
		if (n > INT64_MAX / u->mult)
			return -1;
		*out = n * u->mult;
		return 0;
	}
	return -1;
}

int
config_parse_duration(const char *s, int64_t *ms)
{
	const char	*p = s;
	int64_t		 n;

	/* A unit is required, but "0" means the same in all of them. */
	if (parse_digits(&p, &n) == 0 && *p == '\0' && n == 0) {
		*ms = 0;
		return 0;
	}
	return parse_scaled(s, duration_units, ms);
}

int
config_parse_size(const char *s, int64_t *bytes)
{
	return parse_scaled(s, size_units, bytes);
}

static int
parse_ll(const char *s, bool neg, long long *v)
{
	const char	*p = s;
	int64_t		 n;

	if (neg && *p == '-')
		p++;
	if (parse_digits(&p, &n) == -1 || *p != '\0')
		return -1;
	*v = (s[0] == '-') ? -(long long)n : (long long)n;
	return 0;
}

static int
parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	size_t	 i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*v = true;
			return 0;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(s, no[i]) == 0) {
			*v = false;
			return 0;
		}
	return -1;
}

/* "0660", "660", "0600": octal, at most 0777. */
static int
parse_mode(const char *s, unsigned *mode)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (*s == '\0' || strlen(s) > 4)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned long)(s[i] - '0');
	}
	if (v > 0777)
		return -1;
	*mode = (unsigned)v;
	return 0;
}

/* "unix:/abs/path", "HOST:PORT" or "[v6]:PORT"; the master binds it. */
static int
valid_listen(const char *s)
{
	struct in6_addr	 a6;
	const char	*host, *end, *port;
	char		 buf[INET6_ADDRSTRLEN + 32];
	long long	 p;
	size_t		 len;

	if (strncmp(s, "unix:", 5) == 0) {
		s += 5;
		return (s[0] == '/' &&
		    strlen(s) < sizeof(((struct sockaddr_un *)0)->sun_path)) ?
		    0 : -1;
	}
	if (s[0] == '[') {
		host = s + 1;
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			return -1;
		port = end + 2;
		len = (size_t)(end - host);
		if (len == 0 || len >= sizeof(buf))
			return -1;
		memcpy(buf, host, len);
		buf[len] = '\0';
		/* A zone ("fe80::1%eth0") is the kernel's business. */
		buf[strcspn(buf, "%")] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return -1;
	} else {
		if ((end = strchr(s, ':')) == NULL || end == s)
			return -1;
		port = end + 1;
		/* A bare IPv6 address needs brackets. */
		if (end - s > 253 || strchr(port, ':') != NULL)
			return -1;
		for (host = s; host < end; host++)
			if (!isalnum((unsigned char)*host) &&
			    strchr(".-_", *host) == NULL)
				return -1;
	}
	if (parse_ll(port, false, &p) == -1 || p < 1 || p > 65535)
		return -1;
	return 0;
}

static void
store_int(void *p, size_t size, long long v)
{
	if (size == sizeof(long))
		*(long *)p = (long)v;
	else
		*(int *)p = (int)v;
}

static int
store_string(char **dst, const char *s)
{
	char	*c;

	if ((c = strdup(s)) == NULL)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

static void
strv_free(char **v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static size_t
strv_len(char *const *v)
{
	size_t	 n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* Free a secret's memory only after wiping it. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/*
 * The per-type parser: one scalar's text into its field.  The file,
 * the defaults and the environment all come through here.  From the
 * environment a bare integer duration is seconds, as the deployments
 * that set DB_CONNECT_TIMEOUT=5 mean it.
 */
static int
parse_scalar(struct config *cfg, const struct config_key *k,
    const char *s, size_t len, bool env, char *why, size_t whylen)
{
	void			*p = (char *)cfg + k->off;
	const char *const	*names;
	long long		 ll;
	int64_t			 v;
	bool			 b;
	unsigned		 mode;
	int			 first, i;

	if (strlen(s) != len) {
		snprintf(why, whylen, "a NUL byte is not allowed");
		return -1;
	}

	switch (k->type) {
	case CT_STRING:
		break;
	case CT_INT:
		if (parse_ll(s, k->min < 0, &ll) == -1 ||
		    ll < k->min || ll > k->max)
			return expected(k, env, s, len, why, whylen);
		store_int(p, k->size, ll);
		return 0;
	case CT_BOOL:
		if (parse_bool(s, &b) == -1)
			return expected(k, env, s, len, why, whylen);
		*(bool *)p = b;
		return 0;
	case CT_DURATION:
		if (env && parse_ll(s, false, &ll) == 0) {
			if (ll > INT64_MAX / 1000)
				return expected(k, env, s, len, why, whylen);
			v = ll * 1000;
		} else if (config_parse_duration(s, &v) == -1)
			return expected(k, env, s, len, why, whylen);
		if (v < k->min)
			return expected(k, env, s, len, why, whylen);
		*(int64_t *)p = v;
		return 0;
	case CT_SIZE:
		if (config_parse_size(s, &v) == -1 || v < k->min)
			return expected(k, env, s, len, why, whylen);
		*(int64_t *)p = v;
		return 0;
	case CT_MODE:
		if (parse_mode(s, &mode) == -1)
			return expected(k, env, s, len, why, whylen);
		*(unsigned *)p = mode;
		return 0;
	case CT_LISTEN:
		if (valid_listen(s) == -1)
			return expected(k, env, s, len, why, whylen);
		break;
	case CT_STRLIST:
		/* Only parse_node() knows how to read a list. */
		return expected(k, env, s, len, why, whylen);
	default:
		names = enum_names(k->type, &first);
		for (i = first; names[i] != NULL; i++)
			if (strcmp(s, names[i]) == 0)
				break;
		if (names[i] == NULL)
			return expected(k, env, s, len, why, whylen);
		if (k->type != CT_SSLMODE) {
			store_int(p, k->size, i);
			return 0;
		}
		break;
	}

	/* The string types keep their text. */
	if (k->secret) {
		char	*c;

		if ((c = strdup(s)) == NULL)
			goto nomem;
		free_secret(*(char **)p);
		*(char **)p = c;
	} else if (store_string((char **)p, s) == -1)
		goto nomem;
	return 0;
nomem:
	snprintf(why, whylen, "out of memory");
	return -1;
}

/* A plain empty, "~" or "null": YAML's null, e.g. "password:". */
static bool
is_null(const yaml_node_t *n)
{
	const char	*s = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

static int
parse_list(struct config *cfg, const struct config_key *k,
    yaml_document_t *doc, yaml_node_t *n, yaml_node_t **bad,
    char *why, size_t whylen)
{
	char		***dst = (char ***)((char *)cfg + k->off);
	char		**v = NULL;
	yaml_node_item_t *it;
	yaml_node_t	*item;
	size_t		 nitems = 0;
	int		 rc = -1;

	if (n->type == YAML_SEQUENCE_NODE)
		nitems = (size_t)(n->data.sequence.items.top -
		    n->data.sequence.items.start);
	else if (!is_null(n)) {
		char	what[160];

		describe(k, false, what, sizeof(what));
		snprintf(why, whylen, "expected %s, got %s", what,
		    node_kind(n));
		goto out;
	}
	/* Always an array, so users of the list never test for NULL. */
	if ((v = calloc(nitems + 1, sizeof(*v))) == NULL)
		goto nomem;
	nitems = 0;
	if (n->type == YAML_SEQUENCE_NODE)
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			item = yaml_document_get_node(doc, *it);
			*bad = item;
			if (item->type != YAML_SCALAR_NODE || is_null(item) ||
			    item->data.scalar.length == 0 ||
			    strlen((char *)item->data.scalar.value) !=
			    item->data.scalar.length) {
				snprintf(why, whylen, "expected a non-empty "
				    "string as list item %zu, got %s",
				    nitems + 1, item->type == YAML_SCALAR_NODE ?
				    "an empty or invalid value" :
				    node_kind(item));
				goto out;
			}
			if ((v[nitems++] =
			    strdup((char *)item->data.scalar.value)) == NULL)
				goto nomem;
		}
	strv_free(*dst);
	*dst = v;
	v = NULL;
	rc = 0;
	goto out;
nomem:
	snprintf(why, whylen, "out of memory");
out:
	strv_free(v);
	return rc;
}

/*
 * One YAML node into key k.  On error *bad is the node to point at
 * and why says what was wrong.
 */
static int
parse_node(struct config *cfg, const struct config_key *k,
    yaml_document_t *doc, yaml_node_t *n, yaml_node_t **bad,
    char *why, size_t whylen)
{
	char	 what[160];

	*bad = n;
	if (k->type == CT_STRLIST)
		return parse_list(cfg, k, doc, n, bad, why, whylen);
	if (n->type != YAML_SCALAR_NODE) {
		describe(k, false, what, sizeof(what));
		snprintf(why, whylen, "expected %s, got %s", what,
		    node_kind(n));
		return -1;
	}
	if (k->type == CT_STRING && is_null(n))
		return parse_scalar(cfg, k, "", 0, false, why, whylen);
	return parse_scalar(cfg, k, (const char *)n->data.scalar.value,
	    n->data.scalar.length, false, why, whylen);
}

static int
yaml_fail(struct loader *L, const char *path, const yaml_parser_t *p)
{
	const char	*problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail(L, "%s: out of memory", path);
	case YAML_READER_ERROR:
		if (p->problem_value != -1)
			return fail(L, "%s: byte %zu: %s (0x%x)", path,
			    p->problem_offset, problem, p->problem_value);
		return fail(L, "%s: byte %zu: %s", path,
		    p->problem_offset, problem);
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
	case YAML_COMPOSER_ERROR:
		if (p->context != NULL)
			return fail(L, "%s:%zu:%zu: YAML syntax error: %s "
			    "(%s at line %zu, column %zu)", path,
			    p->problem_mark.line + 1,
			    p->problem_mark.column + 1, problem,
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
		return fail(L, "%s:%zu:%zu: YAML syntax error: %s", path,
		    p->problem_mark.line + 1, p->problem_mark.column + 1,
		    problem);
	default:
		return fail(L, "%s: YAML error", path);
	}
}

/* Classic edit distance, for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
	size_t	 row[NAME_LEN + 1], i, j, prev, tmp, la, lb;

	la = strlen(a);
	lb = strlen(b);
	if (la > NAME_LEN || lb > NAME_LEN)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The closest known name, or one whose last part matches ("port"). */
static const char *
suggest(const char *name)
{
	const char	*best = NULL, *dot, *last;
	size_t		 i, d, bestd = 3;

	for (i = 0; i < config_nkeys; i++) {
		if ((d = distance(name, config_keys[i].name)) < bestd) {
			bestd = d;
			best = config_keys[i].name;
		}
	}
	if (best != NULL)
		return best;
	last = (dot = strrchr(name, '.')) ? dot + 1 : name;
	for (i = 0; i < config_nkeys; i++) {
		dot = strrchr(config_keys[i].name, '.');
		if (dot != NULL && strcmp(dot + 1, last) == 0)
			return config_keys[i].name;
	}
	return NULL;
}

/*
 * An unknown name: when it holds a mapping, name its first leaf so the
 * message reads "databse.host" at the line of host, as the user wrote it.
 */
static int
unknown(struct loader *L, yaml_document_t *doc, yaml_node_t *kn,
    yaml_node_t *vn, const char *name, int depth)
{
	yaml_node_t	*k2;
	const char	*hint;
	char		 sub[NAME_LEN];
	int		 n;

	if (depth < 4 && vn->type == YAML_MAPPING_NODE &&
	    vn->data.mapping.pairs.start < vn->data.mapping.pairs.top) {
		yaml_node_pair_t *p = vn->data.mapping.pairs.start;

		k2 = yaml_document_get_node(doc, p->key);
		if (k2->type == YAML_SCALAR_NODE) {
			n = snprintf(sub, sizeof(sub), "%s.%s", name,
			    (char *)k2->data.scalar.value);
			if (n > 0 && (size_t)n < sizeof(sub))
				return unknown(L, doc, k2,
				    yaml_document_get_node(doc, p->value),
				    sub, depth + 1);
		}
	}
	if ((hint = suggest(name)) != NULL)
		return fail_at(L, kn, "unknown key \"%s\" (did you mean "
		    "\"%s\"?)", name, hint);
	return fail_at(L, kn, "unknown key \"%s\"", name);
}

static int
walk_mapping(struct loader *L, yaml_document_t *doc, yaml_node_t *map,
    const char *prefix)
{
	yaml_node_pair_t	*pair, *q;
	yaml_node_t		*kn, *vn, *qk, *bad;
	const char		*key;
	char			 name[NAME_LEN], why[WHY_LEN];
	ssize_t			 ki;
	int			 n;

	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		kn = yaml_document_get_node(doc, pair->key);
		vn = yaml_document_get_node(doc, pair->value);
		if (kn->type != YAML_SCALAR_NODE)
			return fail_at(L, kn, "expected a key name, got %s",
			    node_kind(kn));
		key = (const char *)kn->data.scalar.value;
		if (strlen(key) != kn->data.scalar.length || *key == '\0')
			return fail_at(L, kn, "empty or invalid key name");
		/* One spelling per key: nesting, never "log.level:". */
		if (strchr(key, '.') != NULL)
			return fail_at(L, kn, "unknown key \"%s%s\" (write "
			    "dotted names as nested mappings)", prefix, key);

		/* libyaml takes the last of duplicates; we refuse. */
		for (q = map->data.mapping.pairs.start; q < pair; q++) {
			qk = yaml_document_get_node(doc, q->key);
			if (qk->type == YAML_SCALAR_NODE &&
			    qk->data.scalar.length == kn->data.scalar.length &&
			    memcmp(qk->data.scalar.value, key,
			    kn->data.scalar.length) == 0)
				return fail_at(L, kn, "duplicate key \"%s%s\" "
				    "(first at line %zu, column %zu)", prefix,
				    key, qk->start_mark.line + 1,
				    qk->start_mark.column + 1);
		}

		n = snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (n < 0 || (size_t)n >= sizeof(name))
			return fail_at(L, kn, "unknown key \"%.60s...\"",
			    name);

		if ((ki = key_index(name)) >= 0) {
			if (parse_node(L->cfg, &config_keys[ki], doc, vn,
			    &bad, why, sizeof(why)) == -1)
				return fail_at(L, bad, "%s: %s", name, why);
			L->cfg->origins[ki] = (struct config_origin){
			    .src = SRC_FILE,
			    .line = (unsigned)vn->start_mark.line + 1,
			    .col = (unsigned)vn->start_mark.column + 1 };
		} else if (is_section(name)) {
			if (vn->type == YAML_MAPPING_NODE) {
				char	sub[NAME_LEN + 1];

				/* name is shorter than NAME_LEN: fits. */
				snprintf(sub, sizeof(sub), "%s.", name);
				if (walk_mapping(L, doc, vn, sub) == -1)
					return -1;
			} else if (!is_null(vn))
				return fail_at(L, vn, "%s: expected a mapping "
				    "of %s.* keys, got %s", name, name,
				    node_kind(vn));
		} else
			return unknown(L, doc, kn, vn, name, 0);
	}
	return 0;
}

static int
load_defaults(struct loader *L)
{
	const struct config_key	*k;
	yaml_parser_t		 parser;
	yaml_document_t		 doc;
	yaml_node_t		*root, *bad;
	char			 why[WHY_LEN];
	size_t			 i;
	int			 rc;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (!yaml_parser_initialize(&parser))
			return fail(L, "out of memory");
		yaml_parser_set_input_string(&parser,
		    (const unsigned char *)k->def, strlen(k->def));
		if (!yaml_parser_load(&parser, &doc)) {
			yaml_fail(L, k->name, &parser);
			yaml_parser_delete(&parser);
			return -1;
		}
		rc = 0;
		if ((root = yaml_document_get_root_node(&doc)) == NULL)
			rc = fail(L, "built-in default of %s is empty",
			    k->name);
		else if (parse_node(L->cfg, k, &doc, root, &bad, why,
		    sizeof(why)) == -1)
			rc = fail(L, "built-in default of %s: %s", k->name,
			    why);
		yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
load_file(struct loader *L)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*root;
	struct stat	 st;
	FILE		*fp;
	bool		 have_parser = false, have_doc = false;
	int		 rc = -1;

	if ((fp = fopen(L->path, "re")) == NULL) {
		fail(L, "%s: %s", L->path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(fp), &st) == -1) {
		fail(L, "%s: %s", L->path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fail(L, "%s: %s", L->path, strerror(EISDIR));
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		fail(L, "out of memory");
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_file(&parser, fp);

	if (!yaml_parser_load(&parser, &doc)) {
		yaml_fail(L, L->path, &parser);
		goto out;
	}
	have_doc = true;
	/* No root: empty or only comments, i.e. all defaults. */
	if ((root = yaml_document_get_root_node(&doc)) != NULL) {
		if (root->type == YAML_MAPPING_NODE) {
			if (walk_mapping(L, &doc, root, "") == -1)
				goto out;
		} else if (!is_null(root)) {
			fail_at(L, root, "expected a mapping of keys at the "
			    "top level, got %s", node_kind(root));
			goto out;
		}
	}
	yaml_document_delete(&doc);
	have_doc = false;

	/* A second document would be silently ignored; refuse it. */
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_fail(L, L->path, &parser);
		goto out;
	}
	have_doc = true;
	if ((root = yaml_document_get_root_node(&doc)) != NULL) {
		fail_at(L, root, "only one YAML document is allowed");
		goto out;
	}
	rc = 0;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	if (fp != NULL)
		fclose(fp);
	return rc;
}

static int
load_env(struct loader *L)
{
	const struct config_key	*k;
	const char		*v;
	char			 why[WHY_LEN];
	size_t			 i;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		/* Set but empty is how compose files say "not set". */
		if (k->env == NULL || (v = getenv(k->env)) == NULL ||
		    *v == '\0')
			continue;
		if (parse_scalar(L->cfg, k, v, strlen(v), true, why,
		    sizeof(why)) == -1)
			return fail(L, "environment %s: %s", k->env, why);
		L->cfg->origins[i] = (struct config_origin){
		    .src = SRC_ENV, .env = k->env };
	}
	return 0;
}

/* "path:line:col: " or "environment VAR: " or "", for key ki. */
static void
origin_prefix(const struct loader *L, size_t ki, char *buf, size_t len)
{
	const struct config_origin *o = &L->cfg->origins[ki];

	switch (o->src) {
	case SRC_FILE:
		snprintf(buf, len, "%s:%u:%u: ", L->path, o->line, o->col);
		break;
	case SRC_ENV:
		snprintf(buf, len, "environment %s: ", o->env);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

/*
 * database.password_file wins over database.password from the file,
 * but not over DB_PASSWORD: the environment overrides the file, as for
 * every other key.  Read on every load, so SIGHUP picks up a rotation.
 */
static bool
password_from_file(const struct config *cfg, size_t pwi)
{
	return cfg->database.password_file != NULL &&
	    cfg->database.password_file[0] != '\0' &&
	    cfg->origins[pwi].src != SRC_ENV;
}

static int
load_password_file(struct loader *L)
{
	struct config	*cfg = L->cfg;
	const char	*pf = cfg->database.password_file;
	char		 buf[PASSWORD_MAX + 1], pre[PREFIX_LEN];
	char		*pw = NULL;
	size_t		 len = 0;
	ssize_t		 pwi, pfi, n;
	int		 fd = -1, rc = -1, saved;

	pwi = key_index("database.password");
	pfi = key_index("database.password_file");
	if (!password_from_file(cfg, (size_t)pwi))
		return 0;
	origin_prefix(L, (size_t)pfi, pre, sizeof(pre));

	if ((fd = open(pf, O_RDONLY | O_CLOEXEC)) == -1)
		goto syserr;
	while (len < sizeof(buf)) {
		if ((n = read(fd, buf + len, sizeof(buf) - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto syserr;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PASSWORD_MAX) {
		fail(L, "%sdatabase.password_file: \"%s\" is longer than %d "
		    "bytes", pre, pf, PASSWORD_MAX);
		goto out;
	}
	/* Editors and `echo` add one newline; the password has none. */
	if (len > 0 && buf[len - 1] == '\n')
		if (--len > 0 && buf[len - 1] == '\r')
			len--;
	if (memchr(buf, '\0', len) != NULL) {
		fail(L, "%sdatabase.password_file: \"%s\" contains a NUL "
		    "byte", pre, pf);
		goto out;
	}
	if ((pw = strndup(buf, len)) == NULL) {
		fail(L, "out of memory");
		goto out;
	}
	free_secret(cfg->database.password);
	cfg->database.password = pw;
	cfg->origins[pwi] = cfg->origins[pfi];
	rc = 0;
	goto out;
syserr:
	saved = errno;
	fail(L, "%sdatabase.password_file: cannot read \"%s\": %s", pre, pf,
	    strerror(saved));
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	return rc;
}

static char	*value_string(const struct config *,
		    const struct config_key *, bool);

/*
 * slo.resolution: whole seconds that divide an hour, so every step
 * falls in one hourly roll-up.
 */
static int
check_slo(struct loader *L)
{
	const struct config	*cfg = L->cfg;
	char			 pre[PREFIX_LEN];

	if (cfg->slo.resolution % 1000 == 0 &&
	    3600000 % cfg->slo.resolution == 0)
		return 0;
	origin_prefix(L, (size_t)key_index("slo.resolution"), pre,
	    sizeof(pre));
	return fail(L, "%sslo.resolution: must be whole seconds that divide "
	    "an hour (such as 10s, 1m, 5m, 15m, 1h)", pre);
}

/* Rules that span keys. */
static int
check(struct loader *L)
{
	const struct config	*cfg = L->cfg;
	char			 pre[PREFIX_LEN], *a, *b;
	ssize_t			 di, mi;
	int			 rc;

	if (check_slo(L) == -1)
		return -1;
	if (cfg->shares.default_ttl <= cfg->shares.max_ttl)
		return 0;
	di = key_index("shares.default_ttl");
	mi = key_index("shares.max_ttl");
	/* Point at whichever of the two the user wrote. */
	origin_prefix(L, (size_t)(cfg->origins[di].src == SRC_DEFAULT ?
	    mi : di), pre, sizeof(pre));
	a = value_string(cfg, &config_keys[di], false);
	b = value_string(cfg, &config_keys[mi], false);
	rc = fail(L, "%sshares.default_ttl (%s) is longer than "
	    "shares.max_ttl (%s)", pre, a ? a : "?", b ? b : "?");
	free(a);
	free(b);
	return rc;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct loader	 L = { cfg, path, err, errlen };
	int		 rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((cfg->origins = calloc(config_nkeys,
	    sizeof(*cfg->origins))) == NULL) {
		fail(&L, "out of memory");
		goto out;
	}
	if (load_defaults(&L) == -1)
		goto out;
	if (path != NULL) {
		if ((cfg->path = strdup(path)) == NULL) {
			fail(&L, "out of memory");
			goto out;
		}
		if (load_file(&L) == -1)
			goto out;
	}
	if (load_env(&L) == -1 || load_password_file(&L) == -1 ||
	    check(&L) == -1)
		goto out;
	cfg->auth.nadmins = strv_len(cfg->auth.admins);
	cfg->database.nreplicas = strv_len(cfg->database.replicas);
	rc = 0;
out:
	if (rc == -1)
		config_free(cfg);
	return rc;
}

void
config_free(struct config *cfg)
{
	const struct config_key	*k;
	void			*p;
	size_t			 i;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		p = (char *)cfg + k->off;
		switch (k->type) {
		case CT_STRING:
		case CT_SSLMODE:
		case CT_LISTEN:
			if (k->secret)
				free_secret(*(char **)p);
			else
				free(*(char **)p);
			break;
		case CT_STRLIST:
			strv_free(*(char ***)p);
			break;
		default:
			break;
		}
	}
	free(cfg->path);
	free(cfg->origins);
	memset(cfg, 0, sizeof(*cfg));
}

/* Print a string as a plain YAML scalar when that is unambiguous. */
static void
put_string(const char *s, FILE *fp)
{
	static const char *const words[] = { "true", "false", "yes", "no",
	    "on", "off", "null", "y", "n", NULL };
	const char	*p;
	bool		 plain, digits = true;
	size_t		 i;

	plain = *s != '\0' && (isalnum((unsigned char)*s) ||
	    strchr("/._", *s) != NULL) && s[strlen(s) - 1] != ':';
	for (p = s; plain && *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			digits = false;
		if (!isalnum((unsigned char)*p) &&
		    strchr("/._:@+=-*?&", *p) == NULL)
			plain = false;
	}
	for (i = 0; plain && words[i] != NULL; i++)
		if (strcasecmp(s, words[i]) == 0)
			plain = false;
	if (plain && !digits) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			fprintf(fp, "\\x%02x", (unsigned char)*p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

/*
 * Mask the password of a libpq connection string: the user:PASSWORD@
 * of a URI, and any password= parameter, in either syntax.
 */
static void
mask_conninfo(const char *s, FILE *fp)
{
	const char	*p = s, *auth, *end, *at, *colon, *v;
	bool		 uri;
	size_t		 n;

	uri = strncmp(s, "postgres://", 11) == 0 ||
	    strncmp(s, "postgresql://", 13) == 0;
	if (uri) {
		auth = strstr(s, "://") + 3;
		end = auth + strcspn(auth, "/?#");
		at = NULL;
		for (v = auth; v < end; v++)
			if (*v == '@')
				at = v;
		if (at != NULL &&
		    (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL) {
			fwrite(s, 1, (size_t)(colon + 1 - s), fp);
			fputs("****", fp);
			p = at;
		}
	}
	while ((v = strstr(p, "password")) != NULL) {
		/* Only the parameter, not a word that ends in it. */
		if (v != s && strchr(uri ? "?&" : " \t\n", v[-1]) == NULL) {
			fwrite(p, 1, (size_t)(v + 8 - p), fp);
			p = v + 8;
			continue;
		}
		v += 8;
		while (!uri && (*v == ' ' || *v == '\t'))
			v++;
		if (*v != '=') {
			fwrite(p, 1, (size_t)(v - p), fp);
			p = v;
			continue;
		}
		v++;
		while (!uri && (*v == ' ' || *v == '\t'))
			v++;
		fwrite(p, 1, (size_t)(v - p), fp);
		fputs("****", fp);
		if (uri)
			n = strcspn(v, "&#");
		else if (*v == '\'') {
			for (n = 1; v[n] != '\0' && v[n] != '\''; n++)
				if (v[n] == '\\' && v[n + 1] != '\0')
					n++;
			if (v[n] == '\'')
				n++;
		} else
			n = strcspn(v, " \t\n");
		p = v + n;
	}
	fputs(p, fp);
}

/* The masked copy, malloc'd; NULL when out of memory. */
static char *
masked_conninfo(const char *s)
{
	FILE	*fp;
	char	*m = NULL;
	size_t	 len;

	if ((fp = open_memstream(&m, &len)) == NULL)
		return NULL;
	mask_conninfo(s, fp);
	if (fclose(fp) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

static void
put_duration(int64_t ms, FILE *fp)
{
	const struct unit	*u;
	size_t			 i;

	if (ms == 0) {
		fputs("0", fp);
		return;
	}
	/* The largest unit that says it exactly. */
	for (i = sizeof(duration_units) / sizeof(duration_units[0]) - 1;
	    i-- > 0;) {
		u = &duration_units[i];
		if (ms % u->mult == 0) {
			fprintf(fp, "%" PRId64 "%s", ms / u->mult, u->sfx);
			return;
		}
	}
}

static void
put_size(int64_t b, FILE *fp)
{
	static const char *const order[] = { "GiB", "MiB", "KiB", "GB",
	    "MB", "KB", NULL };
	const struct unit	*u;
	size_t			 i;

	for (i = 0; b != 0 && order[i] != NULL; i++)
		for (u = size_units; u->sfx != NULL; u++)
			if (strcmp(u->sfx, order[i]) == 0 && b % u->mult == 0) {
				fprintf(fp, "%" PRId64 "%s", b / u->mult,
				    u->sfx);
				return;
			}
	fprintf(fp, "%" PRId64, b);
}

static void
put_value(const struct config *cfg, const struct config_key *k, bool mask,
    FILE *fp)
{
	const void		*p = (const char *)cfg + k->off;
	const char *const	*names;
	const char		*s;
	char *const		*v;
	char			*m;
	int			 first, e;
	size_t			 i;

	switch (k->type) {
	case CT_STRING:
	case CT_SSLMODE:
	case CT_LISTEN:
		if ((s = *(char *const *)p) == NULL)
			s = "";
		if (!mask || !k->secret || *s == '\0')
			put_string(s, fp);
		else if (strcmp(k->name, "database.url") == 0) {
			if ((m = masked_conninfo(s)) == NULL)
				fputs("****", fp);
			else
				put_string(m, fp);
			free(m);
		} else
			fputs("****", fp);
		break;
	case CT_INT:
		if (k->size == sizeof(long))
			fprintf(fp, "%ld", *(const long *)p);
		else
			fprintf(fp, "%d", *(const int *)p);
		break;
	case CT_BOOL:
		fputs(*(const bool *)p ? "true" : "false", fp);
		break;
	case CT_DURATION:
		put_duration(*(const int64_t *)p, fp);
		break;
	case CT_SIZE:
		put_size(*(const int64_t *)p, fp);
		break;
	case CT_MODE:
		fprintf(fp, "\"%04o\"", *(const unsigned *)p);
		break;
	case CT_STRLIST:
		fputc('[', fp);
		v = *(char **const *)p;
		for (i = 0; v != NULL && v[i] != NULL; i++) {
			if (i > 0)
				fputs(", ", fp);
			put_string(v[i], fp);
		}
		fputc(']', fp);
		break;
	default:
		names = enum_names(k->type, &first);
		e = *(const int *)p;
		for (i = 0; names[i] != NULL && i < (size_t)e; i++)
			continue;
		fputs(e >= 0 && names[i] != NULL ? names[e] : "?", fp);
		break;
	}
}

/* The value as text, malloc'd; NULL when out of memory. */
static char *
value_string(const struct config *cfg, const struct config_key *k,
    bool mask)
{
	FILE	*fp;
	char	*s = NULL;
	size_t	 len;

	if ((fp = open_memstream(&s, &len)) == NULL)
		return NULL;
	put_value(cfg, k, mask, fp);
	if (fclose(fp) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void
config_print(const struct config *cfg, FILE *fp)
{
	const struct config_key		*k;
	const struct config_origin	*o;
	ssize_t				 pwi;
	size_t				 i;

	pwi = key_index("database.password");
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		fprintf(fp, "%s: ", k->name);
		put_value(cfg, k, true, fp);
		fputs("  # ", fp);
		if (cfg->origins != NULL && (ssize_t)i == pwi &&
		    password_from_file(cfg, i)) {
			fprintf(fp, "read from %s (database.password_file)\n",
			    cfg->database.password_file);
			continue;
		}
		o = cfg->origins != NULL ? &cfg->origins[i] : NULL;
		if (o == NULL || o->src == SRC_DEFAULT)
			fputs("default", fp);
		else if (o->src == SRC_FILE)
			fprintf(fp, "%s:%u:%u", cfg->path ? cfg->path : "?",
			    o->line, o->col);
		else
			fprintf(fp, "env %s", o->env);
		fputc('\n', fp);
	}
}

void
config_reload_warnings(const struct config *oldc, const struct config *newc)
{
	const struct config_key	*k;
	char			*a, *b;
	size_t			 i;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->reload)
			continue;
		a = value_string(oldc, k, false);
		b = value_string(newc, k, false);
		if (a == NULL || b == NULL)
			log_warn("config reload: cannot compare %s; a change "
			    "takes effect only after a restart", k->name);
		else if (strcmp(a, b) != 0) {
			if (k->secret)
				log_warn("config reload: %s changed; this "
				    "takes effect only after a restart",
				    k->name);
			else
				log_warn("config reload: %s changed from %s "
				    "to %s; this takes effect only after a "
				    "restart", k->name, a, b);
		}
		free(a);
		free(b);
	}
}
