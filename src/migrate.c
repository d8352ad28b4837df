/*
 * migrate.c -- "dashcgi migrate": applies and reverts the SQL files of
 * the migrations directory and records them in schema_migrations.
 *
 * Owns: reading and validating the directory (NNNN_name.up.sql and
 * NNNN_name.down.sql), the schema_migrations table, the migrate
 * advisory lock (a session lock held until the connection closes, so
 * two migrators never interleave and each file is applied once), the
 * login as the schema's owner (database.migrate_url) and, after every
 * up, the service role's grants (dashcgi_grant_service() of migration
 * 0019), and the plain output of status, verify and new on stdout.
 * Never: send SQL built from input -- the file bodies are the only text
 * not sent as a parameterised statement; apply a file outside its own
 * transaction; change the database from status, verify or new.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/local/share/dashcgi"
#endif

/*
 * The advisory lock key: the first 8 bytes of sha256('dashcgi.migrate')
 * as a signed bigint,
 *   SELECT ('x' || left(encode(sha256('dashcgi.migrate'), 'hex'), 16))::bit(64)::bigint;
 * written out so that an operator can recognise it in pg_locks.
 */
#define MIGRATE_LOCK_KEY	"-1881118143683784363"

#define VERSION_DIGITS_MIN	4
#define VERSION_DIGITS_MAX	9
#define MNAME_MAX		63
#define MFILE_MAX		(256 * 1024 * 1024)	/* far beyond any real file */

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Every statement the migrator sends besides the file bodies. */
static const char SQL_NO_TIMEOUT[] =
    "SELECT set_config('statement_timeout', '0', false)";
static const char SQL_TRY_LOCK[] =
    "SELECT pg_try_advisory_lock($1::bigint)";
static const char SQL_LOCK[] =
    "SELECT pg_advisory_lock($1::bigint)";
static const char SQL_HAS_TABLE[] =
    "SELECT to_regclass('schema_migrations') IS NOT NULL";
static const char SQL_CREATE_TABLE[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " duration_ms numeric NOT NULL DEFAULT 0)";
static const char SQL_APPLIED[] =
    "SELECT version, name, checksum,"
    " to_char(applied_at AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS applied_at,"
    " duration_ms::text AS duration_ms"
    " FROM schema_migrations ORDER BY version";
static const char SQL_CHECKSUM[] =
    "SELECT encode(sha256($1::bytea), 'hex')";
/* now() is the start of the file's transaction, so this is its duration. */
static const char SQL_RECORD[] =
    "INSERT INTO schema_migrations"
    " (version, name, checksum, applied_at, duration_ms)"
    " VALUES ($1::integer, $2::text, encode(sha256($3::bytea), 'hex'),"
    " clock_timestamp(),"
    " round((extract(epoch FROM clock_timestamp() - now()) * 1000)::numeric, 3))";
static const char SQL_HAS_GRANT[] =
    "SELECT to_regprocedure('dashcgi_grant_service(name)') IS NOT NULL";
static const char SQL_FORGET[] =
    "DELETE FROM schema_migrations WHERE version = $1::integer";

struct mfile {
	int	 version;
	char	*name;		/* "init" */
	char	*up;		/* path of NNNN_name.up.sql, or NULL */
	char	*down;		/* path of NNNN_name.down.sql, or NULL */
};

/* The directory's migrations sorted by version; mset_free() releases. */
struct mset {
	const char	*dir;
	struct mfile	*v;
	size_t		 n;
};

/* schema_migrations, sorted by version; alist_free() releases. */
struct applied {
	int	 version;
	char	*name;
	char	*checksum;
	char	*applied_at;
	char	*duration_ms;
};

struct alist {
	struct applied	*v;
	size_t		 n;
};

static const char	*cur_file;	/* names the file in notices */

static const char *
migrations_dir(void)
{
	const char	*d = getenv("DASHCGI_MIGRATIONS_DIR");

	return (d != NULL && *d != '\0') ? d : PKGDATADIR "/migrations";
}

static const char *
base(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dashcgi [-c FILE] migrate up [--to VERSION]\n"
	    "       dashcgi [-c FILE] migrate down [--steps N]\n"
	    "       dashcgi [-c FILE] migrate status | verify\n"
	    "       dashcgi [-c FILE] migrate new NAME\n"
	    "migrations are read from $DASHCGI_MIGRATIONS_DIR, else %s\n",
	    PKGDATADIR "/migrations");
}

/* A positive version or count from the command line; -1 if not one. */
static int
parse_posint(const char *s)
{
	char	*end;
	long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 999999999)
		return -1;
	return (int)v;
}

static int
valid_mname(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > MNAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Split "0001_init.up.sql".  Returns 0 and fills version, the name
 * (into name, namelen bytes) and isup; -1 if the name is malformed.
 */
static int
parse_fname(const char *f, int *version, char *name, size_t namelen,
    int *isup)
{
	const char	*p = f, *n0, *dot;
	long		 v = 0;
	size_t		 nd = 0, nl;

	while (*p >= '0' && *p <= '9') {
		if (++nd > VERSION_DIGITS_MAX)
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	if (nd < VERSION_DIGITS_MIN || v < 1 || *p++ != '_')
		return -1;
	n0 = p;
	if ((dot = strchr(n0, '.')) == NULL)
		return -1;
	nl = (size_t)(dot - n0);
	if (!valid_mname(n0, nl) || nl >= namelen)
		return -1;
	if (strcmp(dot, ".up.sql") == 0)
		*isup = 1;
	else if (strcmp(dot, ".down.sql") == 0)
		*isup = 0;
	else
		return -1;
	memcpy(name, n0, nl);
	name[nl] = '\0';
	*version = (int)v;
	return 0;
}

static char *
join(const char *dir, const char *f)
{
	size_t	 n = strlen(dir) + strlen(f) + 2;
	char	*s;

	if ((s = malloc(n)) != NULL)
		snprintf(s, n, "%s/%s", dir, f);
	return s;
}

static void
mset_free(struct mset *ms)
{
	size_t	 i;

	for (i = 0; i < ms->n; i++) {
		free(ms->v[i].name);
		free(ms->v[i].up);
		free(ms->v[i].down);
	}
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

static int
mfile_cmp(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static struct mfile *
mset_find(const struct mset *ms, int version)
{
	size_t	 i;

	for (i = 0; i < ms->n; i++)
		if (ms->v[i].version == version)
			return &ms->v[i];
	return NULL;
}

/*
 * Read the directory.  Names ending in ".sql" must be well-formed
 * migration files; other entries (README, editor backups) are ignored.
 * Every problem is logged before failing, so one run shows them all.
 */
static int
mset_load(struct mset *ms, const char *dir)
{
	DIR		*d = NULL;
	struct dirent	*de;
	struct mfile	*m, *nv;
	char		 name[MNAME_MAX + 1], **slot;
	size_t		 i, fl;
	int		 version, isup, bad = 0, rc = -1;

	ms->dir = dir;
	ms->v = NULL;
	ms->n = 0;
	if ((d = opendir(dir)) == NULL) {
		log_error("migrations directory %s: %s", dir, strerror(errno));
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				log_error("%s: %s", dir, strerror(errno));
				goto out;
			}
			break;
		}
		fl = strlen(de->d_name);
		if (de->d_name[0] == '.' || fl < 4 ||
		    strcmp(de->d_name + fl - 4, ".sql") != 0)
			continue;
		if (parse_fname(de->d_name, &version, name, sizeof(name),
		    &isup) == -1) {
			log_error("%s/%s: not a migration file name; expected "
			    "NNNN_name.up.sql or NNNN_name.down.sql with "
			    "NNNN >= 0001 and name of [a-z0-9_]",
			    dir, de->d_name);
			bad++;
			continue;
		}
		if ((m = mset_find(ms, version)) == NULL) {
			nv = reallocarray(ms->v, ms->n + 1, sizeof(*nv));
			if (nv == NULL) {
				log_error("out of memory");
				goto out;
			}
			ms->v = nv;
			m = &ms->v[ms->n++];
			memset(m, 0, sizeof(*m));
			m->version = version;
			if ((m->name = strdup(name)) == NULL) {
				log_error("out of memory");
				goto out;
			}
		} else if (strcmp(m->name, name) != 0) {
			log_error("%s/%s: version %04d is already used by "
			    "%04d_%s", dir, de->d_name, version, version,
			    m->name);
			bad++;
			continue;
		}
		slot = isup ? &m->up : &m->down;
		if (*slot != NULL) {
			/* Same number, other spelling: 0002_x and 00002_x. */
			log_error("%s/%s: duplicate of %s", dir, de->d_name,
			    base(*slot));
			bad++;
			continue;
		}
		if ((*slot = join(dir, de->d_name)) == NULL) {
			log_error("out of memory");
			goto out;
		}
	}
	if (ms->n > 0)
		qsort(ms->v, ms->n, sizeof(*ms->v), mfile_cmp);
	for (i = 0; i < ms->n; i++)
		if (ms->v[i].up == NULL) {
			log_error("%s: has no matching %04d_%s.up.sql",
			    ms->v[i].down, ms->v[i].version, ms->v[i].name);
			bad++;
		}
	if (bad == 0)
		rc = 0;
out:
	if (d != NULL)
		closedir(d);
	if (rc == -1)
		mset_free(ms);
	return rc;
}

/* The whole file, NUL-terminated; the caller frees.  NULL after logging. */
static char *
read_file(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, *ret = NULL;
	size_t		 off = 0, size;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_error("%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		log_error("%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MFILE_MAX) {
		log_error("%s: not a regular file of at most %d bytes",
		    path, MFILE_MAX);
		goto out;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL) {
		log_error("%s: out of memory", path);
		goto out;
	}
	while (off < size) {
		r = read(fd, buf + off, size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_error("%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	buf[off] = '\0';
	/* The body goes to PQexec as a C string. */
	if (memchr(buf, '\0', off) != NULL) {
		log_error("%s: contains a NUL byte", path);
		goto out;
	}
	*lenp = off;
	ret = buf;
	buf = NULL;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return ret;
}

static void
log_pgerror(const char *what, const PGresult *res)
{
	struct logline	 l;
	const char	*f;

	log_begin(&l, LOG_ERROR, what);
	f = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	log_str(&l, "error", f != NULL ? f : PQresultErrorMessage(res));
	if ((f = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL)
		log_str(&l, "sqlstate", f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) != NULL)
		log_str(&l, "detail", f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) != NULL)
		log_str(&l, "hint", f);
	log_end(&l);
}

/*
 * One parameterised statement.  Returns the result when its status is
 * want (the caller PQclear()s it); otherwise logs, clears and returns
 * NULL.  lens and fmts may be NULL for text parameters.
 */
static PGresult *
run(PGconn *db, const char *what, const char *sql, int n,
    const char *const *vals, const int *lens, const int *fmts,
    ExecStatusType want)
{
	PGresult	*res;
	ExecStatusType	 st;

	res = PQexecParams(db, sql, n, NULL, vals, lens, fmts, 0);
	if (res == NULL) {
		log_error("%s: %s", what, PQerrorMessage(db));
		return NULL;
	}
	switch ((st = PQresultStatus(res))) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		if (st == want)
			return res;
		log_error("%s: unexpected result %s", what, PQresStatus(st));
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		log_pgerror(what, res);
		break;
	default:
		log_error("%s: unexpected result %s", what, PQresStatus(st));
		break;
	}
	PQclear(res);
	return NULL;
}

/* A statement whose result is of no interest beyond success. */
static int
run_cmd(PGconn *db, const char *what, const char *sql, int n,
    const char *const *vals, ExecStatusType want)
{
	PGresult	*res;

	if ((res = run(db, what, sql, n, vals, NULL, NULL, want)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Notices go through the log like everything else, naming the file. */
static void
notice(void *arg, const PGresult *res)
{
	struct logline	 l;
	const char	*sev, *msg;
	enum log_level	 lv = LOG_INFO;

	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		lv = LOG_WARN;
	else if (sev != NULL &&
	    (strcmp(sev, "DEBUG") == 0 || strcmp(sev, "LOG") == 0))
		lv = LOG_DEBUG;
	log_begin(&l, lv, msg != NULL ? msg : "notice");
	log_str(&l, "severity", sev);
	if (cur_file != NULL)
		log_str(&l, "file", cur_file);
	log_end(&l);
}

static int
two_roles(const struct config *cfg)
{
	return cfg->database.migrate_url != NULL &&
	    *cfg->database.migrate_url != '\0';
}

/*
 * The service's login role: the user a libpq URI or conninfo names
 * (NULL when it names none, or cannot be parsed), else database.user.
 * Returns a malloc'ed string or NULL.
 */
static char *
conninfo_user(const char *url, const char *dflt)
{
	PQconninfoOption	*opts, *o;
	char			*err = NULL, *user = NULL;

	if (url == NULL || *url == '\0')
		return dflt != NULL && *dflt != '\0' ? strdup(dflt) : NULL;
	if ((opts = PQconninfoParse(url, &err)) == NULL) {
		PQfreemem(err);
		return NULL;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "user") == 0 && o->val != NULL &&
		    *o->val != '\0')
			user = strdup(o->val);
	PQconninfoFree(opts);
	return user;
}

/*
 * With two roles, give the service role(s) their privileges: the
 * workers' login and, when it differs, that of database.direct_url
 * (maintenance).  dashcgi_grant_service() (migration 0019) does the
 * granting and refuses a service that is a superuser, a member of the
 * owner or the schema's owner.  0 when done or not needed, -1 logged.
 */
static int
grant_service(PGconn *db, const struct config *cfg)
{
	const struct { const char *url, *dflt, *key; } src[2] = {
		{ cfg->database.url, cfg->database.user, "database.url" },
		{ cfg->database.direct_url, NULL, "database.direct_url" },
	};
	char		*role[2] = { NULL, NULL };
	const char	*p[1];
	PGresult	*res;
	int		 i, k, rc = -1;

	if (!two_roles(cfg))
		return 0;
	/* Before 0019 (migrate up --to) there is nothing to grant. */
	if ((res = run(db, "grant the service role", SQL_HAS_GRANT, 0, NULL,
	    NULL, NULL, PGRES_TUPLES_OK)) == NULL)
		return -1;
	k = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!k)
		return 0;
	for (i = 0; i < 2; i++) {
		role[i] = conninfo_user(src[i].url, src[i].dflt);
		if (role[i] == NULL && src[i].url != NULL &&
		    *src[i].url != '\0') {
			log_error("%s names no user: name the service's role "
			    "in it (user=...), so that migrate can grant it "
			    "its privileges", src[i].key);
			goto out;
		}
	}
	for (i = 0; i < 2; i++) {
		if (role[i] == NULL || (i == 1 && role[0] != NULL &&
		    strcmp(role[0], role[1]) == 0))
			continue;
		p[0] = role[i];
		if ((res = run(db, "grant the service role",
		    "SELECT dashcgi_grant_service($1::name)", 1, p, NULL, NULL,
		    PGRES_TUPLES_OK)) == NULL)
			goto out;
		log_info("migrate up: service role %s: %s", role[i],
		    PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	rc = 0;
out:
	free(role[0]);
	free(role[1]);
	return rc;
}

/*
 * Connect for a migrate command.  Migrations may legitimately run longer
 * than the service's statement_timeout; a file cut short would only be
 * rolled back, so the limit is lifted for this session.  With lock set,
 * waits for the migrate lock (held until PQfinish).
 */
static PGconn *
session_open(const struct config *cfg, int lock)
{
	PGconn		*db;
	PGresult	*res = NULL;
	const char	*key[1] = { MIGRATE_LOCK_KEY };
	struct config	 owner;
	int		 ok = 0;

	/* As the schema's owner when it is not the service (README). */
	if (two_roles(cfg)) {
		owner = *cfg;
		owner.database.direct_url = cfg->database.migrate_url;
		cfg = &owner;
	}
	if ((db = db_open(cfg, "dashcgi-migrate")) == NULL)
		return NULL;
	PQsetNoticeReceiver(db, notice, NULL);
	if (run_cmd(db, "disable statement_timeout", SQL_NO_TIMEOUT, 0, NULL,
	    PGRES_TUPLES_OK) == -1)
		goto out;
	if (!lock) {
		ok = 1;
		goto out;
	}
	res = run(db, "migrate lock", SQL_TRY_LOCK, 1, key, NULL, NULL,
	    PGRES_TUPLES_OK);
	if (res == NULL)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		log_info("another migrate holds the lock (key %s); waiting",
		    MIGRATE_LOCK_KEY);
		if (run_cmd(db, "migrate lock", SQL_LOCK, 1, key,
		    PGRES_TUPLES_OK) == -1)
			goto out;
	}
	ok = 1;
out:
	if (res != NULL)
		PQclear(res);
	if (!ok) {
		PQfinish(db);
		db = NULL;
	}
	return db;
}

static void
alist_free(struct alist *al)
{
	size_t	 i;

	for (i = 0; i < al->n; i++) {
		free(al->v[i].name);
		free(al->v[i].checksum);
		free(al->v[i].applied_at);
		free(al->v[i].duration_ms);
	}
	free(al->v);
	al->v = NULL;
	al->n = 0;
}

static struct applied *
alist_find(const struct alist *al, int version)
{
	size_t	 i;

	for (i = 0; i < al->n; i++)
		if (al->v[i].version == version)
			return &al->v[i];
	return NULL;
}

/* Does schema_migrations exist?  1 yes, 0 no, -1 error (logged). */
static int
has_table(PGconn *db)
{
	PGresult	*res;
	int		 yes;

	res = run(db, "schema_migrations", SQL_HAS_TABLE, 0, NULL, NULL,
	    NULL, PGRES_TUPLES_OK);
	if (res == NULL)
		return -1;
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

/* schema_migrations rows; none when the table does not exist yet. */
static int
alist_load(PGconn *db, struct alist *al)
{
	PGresult	*res = NULL;
	struct applied	*a;
	int		 i, n, rc = -1, fv, fn, fc, fa, fd;

	al->v = NULL;
	al->n = 0;
	if ((i = has_table(db)) != 1) {
		rc = i;
		goto out;
	}
	res = run(db, "schema_migrations", SQL_APPLIED, 0, NULL, NULL, NULL,
	    PGRES_TUPLES_OK);
	if (res == NULL)
		goto out;
	fv = PQfnumber(res, "version");
	fn = PQfnumber(res, "name");
	fc = PQfnumber(res, "checksum");
	fa = PQfnumber(res, "applied_at");
	fd = PQfnumber(res, "duration_ms");
	if ((n = PQntuples(res)) > 0 &&
	    (al->v = calloc((size_t)n, sizeof(*al->v))) == NULL) {
		log_error("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		a = &al->v[al->n++];
		a->version = atoi(PQgetvalue(res, i, fv));
		a->name = strdup(PQgetvalue(res, i, fn));
		a->checksum = strdup(PQgetvalue(res, i, fc));
		a->applied_at = strdup(PQgetvalue(res, i, fa));
		a->duration_ms = strdup(PQgetvalue(res, i, fd));
		if (a->name == NULL || a->checksum == NULL ||
		    a->applied_at == NULL || a->duration_ms == NULL) {
			log_error("out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	if (res != NULL)
		PQclear(res);
	if (rc == -1)
		alist_free(al);
	return rc;
}

/* SHA-256 of a file's bytes, as PostgreSQL computes it, into out[65]. */
static int
checksum(PGconn *db, const char *path, char out[65])
{
	PGresult	*res = NULL;
	char		*body;
	size_t		 len;
	const char	*vals[1];
	int		 lens[1], fmts[1] = { 1 }, rc = -1;

	if ((body = read_file(path, &len)) == NULL)
		return -1;
	vals[0] = body;
	lens[0] = (int)len;
	res = run(db, "checksum", SQL_CHECKSUM, 1, vals, lens, fmts,
	    PGRES_TUPLES_OK);
	if (res == NULL)
		goto out;
	snprintf(out, 65, "%s", PQgetvalue(res, 0, 0));
	rc = 0;
out:
	if (res != NULL)
		PQclear(res);
	free(body);
	return rc;
}

/* 1-based character position in body -> line and column, both 1-based. */
static void
linecol(const char *body, long pos, long *line, long *col)
{
	const unsigned char	*p = (const unsigned char *)body;
	long			 ch = 0;

	*line = 1;
	*col = 0;
	for (; *p != '\0'; p++) {
		if ((*p & 0xc0) == 0x80)	/* UTF-8 continuation */
			continue;
		if (++ch == pos)
			break;
		if (*p == '\n') {
			(*line)++;
			*col = 0;
		} else
			(*col)++;
	}
	(*col)++;
}

/* "file:line:col: message" plus PostgreSQL's own fields. */
static void
report_file_error(const char *path, const char *body, const PGresult *res)
{
	struct logline	 l;
	char		 msg[LOG_LINE_MAX / 2];
	const char	*primary, *pos, *f;
	long		 line, col;

	primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (primary == NULL)
		primary = PQresultErrorMessage(res);
	pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	if (pos != NULL && atol(pos) > 0) {
		linecol(body, atol(pos), &line, &col);
		snprintf(msg, sizeof(msg), "%s:%ld:%ld: %s", path, line, col,
		    primary);
	} else
		snprintf(msg, sizeof(msg), "%s: %s", path, primary);
	log_begin(&l, LOG_ERROR, msg);
	if ((f = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL)
		log_str(&l, "sqlstate", f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) != NULL)
		log_str(&l, "detail", f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) != NULL)
		log_str(&l, "hint", f);
	if ((f = PQresultErrorField(res, PG_DIAG_CONTEXT)) != NULL)
		log_str(&l, "context", f);
	log_end(&l);
}

/*
 * A body that starts COPY ... FROM STDIN or TO STDOUT leaves the
 * connection in copy mode; end it so ROLLBACK can run.
 */
static void
abort_copy(PGconn *db, ExecStatusType st)
{
	PGresult	*res;
	char		*buf;

	if (st == PGRES_COPY_IN)
		PQputCopyEnd(db, "migrations cannot COPY FROM STDIN");
	else if (st == PGRES_COPY_OUT)
		while (PQgetCopyData(db, &buf, 0) > 0)
			PQfreemem(buf);
	while ((res = PQgetResult(db)) != NULL)
		PQclear(res);
}

static int
body_ok(PGconn *db, PGresult *res, const char *path, const char *body)
{
	ExecStatusType	 st;

	if (res == NULL) {
		log_error("%s: %s", path, PQerrorMessage(db));
		return 0;
	}
	switch ((st = PQresultStatus(res))) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:		/* only comments: a valid no-op */
		return 1;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		report_file_error(path, body, res);
		return 0;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
		log_error("%s: COPY to or from the client is not supported "
		    "in a migration", path);
		abort_copy(db, st);
		return 0;
	default:
		log_error("%s: unexpected result %s", path, PQresStatus(st));
		return 0;
	}
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Apply (up) or revert (down) one migration in its own transaction
 * together with its schema_migrations row.  On any error the
 * transaction is rolled back and the reason logged.
 */
static int
apply_one(PGconn *db, const struct mfile *m, int up)
{
	const char	*path = up ? m->up : m->down;
	const char	*vals[3];
	char		*body, vbuf[16];
	size_t		 len;
	PGresult	*res = NULL;
	PGTransactionStatusType ts;
	int		 lens[3] = { 0, 0, 0 }, fmts[3] = { 0, 0, 1 }, rc = -1;
	double		 t0 = now_ms();
	struct logline	 l;

	if ((body = read_file(path, &len)) == NULL)
		return -1;
	if (run_cmd(db, "BEGIN", "BEGIN", 0, NULL, PGRES_COMMAND_OK) == -1)
		goto out;
	cur_file = path;
	res = PQexec(db, body);
	cur_file = NULL;
	if (!body_ok(db, res, path, body))
		goto out;
	PQclear(res);
	res = NULL;
	if (PQtransactionStatus(db) != PQTRANS_INTRANS) {
		log_error("%s: the file ended the migration's transaction "
		    "(a COMMIT or ROLLBACK in it?); check the database by "
		    "hand, nothing was recorded", path);
		goto out;
	}
	snprintf(vbuf, sizeof(vbuf), "%d", m->version);
	vals[0] = vbuf;
	vals[1] = m->name;
	vals[2] = body;
	lens[2] = (int)len;
	if (up)
		res = run(db, "record migration", SQL_RECORD, 3, vals, lens,
		    fmts, PGRES_COMMAND_OK);
	else
		res = run(db, "forget migration", SQL_FORGET, 1, vals, NULL,
		    NULL, PGRES_COMMAND_OK);
	if (res == NULL)
		goto out;
	PQclear(res);
	res = NULL;
	if (run_cmd(db, "COMMIT", "COMMIT", 0, NULL, PGRES_COMMAND_OK) == -1)
		goto out;
	log_begin(&l, LOG_INFO, up ? "migration applied" :
	    "migration reverted");
	log_str(&l, "file", base(path));
	log_int(&l, "version", m->version);
	log_dbl(&l, "duration_ms", now_ms() - t0);
	log_end(&l);
	rc = 0;
out:
	if (res != NULL)
		PQclear(res);
	ts = PQtransactionStatus(db);
	if (rc == -1 && (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)) {
		if (run_cmd(db, "ROLLBACK", "ROLLBACK", 0, NULL,
		    PGRES_COMMAND_OK) == 0)
			log_error("%s: rolled back; migration %04d not applied",
			    base(path), m->version);
	}
	free(body);
	return rc;
}

static int
cmd_up(const struct config *cfg, int argc, char **argv)
{
	struct mset	 ms = { NULL, NULL, 0 };
	struct alist	 al = { NULL, 0 };
	PGconn		*db = NULL;
	size_t		 i;
	int		 to = 0, maxv = 0, n = 0, i2, k, rc = EXIT_RUNTIME;
	const char	*arg;

	for (i2 = 2; i2 < argc; i2++) {
		arg = NULL;
		if (strcmp(argv[i2], "--to") == 0 && i2 + 1 < argc)
			arg = argv[++i2];
		else if (strncmp(argv[i2], "--to=", 5) == 0)
			arg = argv[i2] + 5;
		if (arg == NULL || (to = parse_posint(arg)) == -1) {
			log_error("migrate up: %s: expected --to VERSION "
			    "(a positive number)", argv[i2]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (mset_load(&ms, migrations_dir()) == -1)
		goto out;
	if (to != 0 && mset_find(&ms, to) == NULL) {
		log_error("migrate up --to %d: no such migration in %s", to,
		    ms.dir);
		rc = EXIT_USAGE;
		goto out;
	}
	if ((db = session_open(cfg, 1)) == NULL)
		goto out;
	/* Under the lock, so two first runs cannot race to create it. */
	if ((k = has_table(db)) == -1)
		goto out;
	if (k == 0 && run_cmd(db, "create schema_migrations",
	    SQL_CREATE_TABLE, 0, NULL, PGRES_COMMAND_OK) == -1)
		goto out;
	if (alist_load(db, &al) == -1)
		goto out;
	for (i = 0; i < al.n; i++) {
		if (al.v[i].version > maxv)
			maxv = al.v[i].version;
		if (mset_find(&ms, al.v[i].version) == NULL)
			log_warn("migration %04d_%s is applied but has no "
			    "file in %s", al.v[i].version, al.v[i].name,
			    ms.dir);
	}
	/*
	 * A pending file older than the newest applied one was merged out
	 * of order; applying it now could depend on a state it never saw.
	 */
	for (i = 0; i < ms.n; i++)
		if (ms.v[i].version < maxv &&
		    alist_find(&al, ms.v[i].version) == NULL) {
			log_error("%s: pending but older than the applied "
			    "version %04d; renumber it after %04d",
			    ms.v[i].up, maxv, maxv);
			goto out;
		}
	for (i = 0; i < ms.n; i++) {
		if (to != 0 && ms.v[i].version > to)
			break;
		if (alist_find(&al, ms.v[i].version) != NULL)
			continue;
		if (apply_one(db, &ms.v[i], 1) == -1)
			goto out;
		n++;
		maxv = ms.v[i].version;
	}
	if (n == 0)
		log_info("migrate up: nothing to do, at version %04d", maxv);
	else
		log_info("migrate up: %d applied, now at version %04d", n,
		    maxv);
	/*
	 * The audit log takes rows only in existing monthly partitions:
	 * every migrate makes sure this month's and the next are there,
	 * not only the run that created the table.
	 */
	if (run_cmd(db, "audit partitions",
	    "SELECT audit_ensure_partitions(1) WHERE to_regprocedure("
	    "'audit_ensure_partitions(integer)') IS NOT NULL", 0, NULL,
	    PGRES_TUPLES_OK) == -1)
		goto out;
	/* Every run, so what later migrations made is granted too. */
	if (grant_service(db, cfg) == -1)
		goto out;
	rc = EXIT_OK;
out:
	if (db != NULL)
		PQfinish(db);
	alist_free(&al);
	mset_free(&ms);
	return rc;
}

static int
cmd_down(const struct config *cfg, int argc, char **argv)
{
	struct mset	 ms = { NULL, NULL, 0 };
	struct alist	 al = { NULL, 0 };
	PGconn		*db = NULL;
	struct mfile	*m;
	char		 sum[65];
	size_t		 i, k;
	int		 steps = 1, i2, rc = EXIT_RUNTIME;
	const char	*arg;

	for (i2 = 2; i2 < argc; i2++) {
		arg = NULL;
		if (strcmp(argv[i2], "--steps") == 0 && i2 + 1 < argc)
			arg = argv[++i2];
		else if (strncmp(argv[i2], "--steps=", 8) == 0)
			arg = argv[i2] + 8;
		if (arg == NULL || (steps = parse_posint(arg)) == -1) {
			log_error("migrate down: %s: expected --steps N "
			    "(a positive number)", argv[i2]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (mset_load(&ms, migrations_dir()) == -1)
		goto out;
	if ((db = session_open(cfg, 1)) == NULL)
		goto out;
	if (alist_load(db, &al) == -1)
		goto out;
	if (al.n == 0) {
		log_info("migrate down: nothing is applied");
		rc = EXIT_OK;
		goto out;
	}
	if ((size_t)steps > al.n) {
		log_info("migrate down: only %zu applied; reverting all", al.n);
		steps = (int)al.n;
	}
	/* Every step must be revertible before the first one runs. */
	for (k = 0; k < (size_t)steps; k++) {
		i = al.n - 1 - k;
		m = mset_find(&ms, al.v[i].version);
		if (m == NULL || m->down == NULL) {
			log_error("migrate down: %04d_%s has no down file in "
			    "%s; nothing reverted", al.v[i].version,
			    al.v[i].name, ms.dir);
			goto out;
		}
		if (checksum(db, m->up, sum) == -1)
			goto out;
		if (strcmp(sum, al.v[i].checksum) != 0)
			log_warn("%s changed since it was applied; its down "
			    "file may not match what is in the database",
			    m->up);
	}
	for (k = 0; k < (size_t)steps; k++) {
		i = al.n - 1 - k;
		if (apply_one(db, mset_find(&ms, al.v[i].version), 0) == -1)
			goto out;
	}
	i = al.n - (size_t)steps;
	log_info("migrate down: %d reverted, now at version %04d", steps,
	    i > 0 ? al.v[i - 1].version : 0);
	rc = EXIT_OK;
out:
	if (db != NULL)
		PQfinish(db);
	alist_free(&al);
	mset_free(&ms);
	return rc;
}

/*
 * Compare an applied row with its file.  Returns NULL when they agree,
 * else a short marker and fills why.
 */
static const char *
compare(PGconn *db, const struct mset *ms, const struct applied *a,
    char *why, size_t whylen, int *dberr)
{
	const struct mfile	*m = mset_find(ms, a->version);
	char			 sum[65];

	*dberr = 0;
	if (m == NULL || m->up == NULL) {
		snprintf(why, whylen, "%s/%04d_%s.up.sql: applied, but the "
		    "file is missing", ms->dir, a->version, a->name);
		return "MISSING";
	}
	if (strcmp(m->name, a->name) != 0) {
		snprintf(why, whylen, "%s: applied as %04d_%s",
		    m->up, a->version, a->name);
		return "RENAMED";
	}
	if (checksum(db, m->up, sum) == -1) {
		*dberr = 1;
		return NULL;
	}
	if (strcmp(sum, a->checksum) != 0) {
		snprintf(why, whylen, "%s: changed since it was applied "
		    "(applied sha256 %.12s..., file sha256 %.12s...)",
		    m->up, a->checksum, sum);
		return "CHANGED";
	}
	return NULL;
}

static int
cmd_status(const struct config *cfg, int argc, char **argv)
{
	struct mset	 ms = { NULL, NULL, 0 };
	struct alist	 al = { NULL, 0 };
	PGconn		*db = NULL;
	struct applied	*a;
	struct mfile	*m;
	const char	*mark;
	char		 why[512];
	size_t		 i, j, pending = 0;
	int		 rc = EXIT_RUNTIME, dberr, v, cur = 0;

	if (argc != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (mset_load(&ms, migrations_dir()) == -1)
		goto out;
	if ((db = session_open(cfg, 0)) == NULL)
		goto out;
	if (alist_load(db, &al) == -1)
		goto out;
	printf("%-8s %-32s %-8s %-20s %s\n", "VERSION", "NAME", "STATE",
	    "APPLIED_AT", "NOTE");
	/* Merge the two sorted lists. */
	for (i = 0, j = 0; i < ms.n || j < al.n; ) {
		if (j >= al.n || (i < ms.n && ms.v[i].version < al.v[j].version))
			v = ms.v[i].version;
		else
			v = al.v[j].version;
		m = (i < ms.n && ms.v[i].version == v) ? &ms.v[i++] : NULL;
		a = (j < al.n && al.v[j].version == v) ? &al.v[j++] : NULL;
		if (a == NULL) {
			printf("%04d     %-32s %-8s\n", v, m->name, "pending");
			pending++;
			continue;
		}
		cur = v;
		mark = compare(db, &ms, a, why, sizeof(why), &dberr);
		if (dberr)
			goto out;
		printf("%04d     %-32s %-8s %-20s %s\n", v, a->name, "applied",
		    a->applied_at, mark != NULL ? mark : "");
	}
	printf("at version %04d, %zu pending\n", cur, pending);
	rc = EXIT_OK;
out:
	if (db != NULL)
		PQfinish(db);
	alist_free(&al);
	mset_free(&ms);
	return rc;
}

static int
cmd_verify(const struct config *cfg, int argc, char **argv)
{
	struct mset	 ms = { NULL, NULL, 0 };
	struct alist	 al = { NULL, 0 };
	PGconn		*db = NULL;
	char		 why[512];
	size_t		 i, bad = 0;
	int		 rc = EXIT_RUNTIME, dberr;

	if (argc != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (mset_load(&ms, migrations_dir()) == -1)
		goto out;
	if ((db = session_open(cfg, 0)) == NULL)
		goto out;
	if (alist_load(db, &al) == -1)
		goto out;
	for (i = 0; i < al.n; i++) {
		if (compare(db, &ms, &al.v[i], why, sizeof(why),
		    &dberr) != NULL) {
			log_error("verify: %s", why);
			bad++;
		}
		if (dberr)
			goto out;
	}
	if (bad > 0) {
		log_error("verify: %zu of %zu applied migrations do not match "
		    "%s", bad, al.n, ms.dir);
		goto out;
	}
	printf("verify: %zu applied migrations match %s\n", al.n, ms.dir);
	rc = EXIT_OK;
out:
	if (db != NULL)
		PQfinish(db);
	alist_free(&al);
	mset_free(&ms);
	return rc;
}

/* Create path with text; fails if it exists.  0 or -1 after logging. */
static int
write_new(const char *path, const char *text)
{
	size_t	 len = strlen(text), off = 0;
	ssize_t	 w;
	int	 fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			log_error("%s: %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	rc = 0;
out:
	if (close(fd) == -1 && rc == 0) {
		log_error("%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == -1)
		unlink(path);
	return rc;
}

static int
cmd_new(const struct config *cfg, int argc, char **argv)
{
	struct mset	 ms = { NULL, NULL, 0 };
	char		 up[PATH_MAX], down[PATH_MAX], text[512];
	int		 next, rc = EXIT_RUNTIME;

	if (argc != 3 || !valid_mname(argv[2], strlen(argv[2]))) {
		log_error("migrate new: expected NAME of 1-%d characters "
		    "of [a-z0-9_]", MNAME_MAX);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (mset_load(&ms, migrations_dir()) == -1)
		goto out;
	next = ms.n > 0 ? ms.v[ms.n - 1].version + 1 : 1;
	if ((size_t)snprintf(up, sizeof(up), "%s/%04d_%s.up.sql", ms.dir,
	    next, argv[2]) >= sizeof(up) ||
	    (size_t)snprintf(down, sizeof(down), "%s/%04d_%s.down.sql",
	    ms.dir, next, argv[2]) >= sizeof(down)) {
		log_error("migrate new: path too long");
		goto out;
	}
	snprintf(text, sizeof(text),
	    "-- %04d_%s.up.sql\n"
	    "--\n"
	    "-- Applied by \"dashcgi migrate up\" in one transaction with its\n"
	    "-- schema_migrations row: no CREATE INDEX CONCURRENTLY, no VACUUM,\n"
	    "-- no COMMIT.  Never edit this file once it has been applied\n"
	    "-- anywhere (\"migrate verify\" checks); write a new migration.\n\n",
	    next, argv[2]);
	if (write_new(up, text) == -1)
		goto out;
	snprintf(text, sizeof(text),
	    "-- %04d_%s.down.sql\n"
	    "--\n"
	    "-- Reverts %04d_%s.up.sql completely, so that up, down, up\n"
	    "-- round-trips.  Applied by \"dashcgi migrate down\" in one\n"
	    "-- transaction.\n\n",
	    next, argv[2], next, argv[2]);
	if (write_new(down, text) == -1) {
		unlink(up);
		goto out;
	}
	printf("%s\n%s\n", up, down);
	rc = EXIT_OK;
out:
	mset_free(&ms);
	return rc;
}

int
migrate_latest_version(void)
{
	struct mset	 ms = { NULL, NULL, 0 };
	int		 v = 0;

	if (mset_load(&ms, migrations_dir()) == -1) {
		log_warn("migrations directory unusable: /ready will not "
		    "check the schema version");
		return 0;
	}
	if (ms.n > 0)
		v = ms.v[ms.n - 1].version;
	mset_free(&ms);
	return v;
}

static const struct {
	const char	*name;
	int		(*fn)(const struct config *, int, char **);
} subcmds[] = {
	{ "up",		cmd_up },
	{ "down",	cmd_down },
	{ "status",	cmd_status },
	{ "verify",	cmd_verify },
	{ "new",	cmd_new },
};

int
migrate_main(const struct config *cfg, int argc, char **argv)
{
	size_t	 i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
		if (strcmp(argv[1], subcmds[i].name) == 0)
			return subcmds[i].fn(cfg, argc, argv);
	log_error("migrate: unknown subcommand \"%s\"", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
