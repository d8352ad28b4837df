/*
 * demo.c -- `dashcgi demo-data`: believable data in one project for
 * demos, benchmarks and the web UI's tests, generated in PostgreSQL by
 * the modules that have a demo hook (module.h), in the order of
 * modules[] (the SLO fleet, then the monitors, then the incident hub,
 * which reads the first two).
 *
 * Owns: the command's flags (--project, --days, --seed, --at), the
 * parsing of every module's flags against one table each, the end of
 * the data, and the one statement runner of the parts.
 * Never: name a module; write anything before every flag is checked
 * (a bad flag exits 2 with nothing written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "demo.h"
#include "log.h"
#include "module.h"

/* The command's own flags: every part reads them. */
struct demo_common {
	const char	*project;
	long		 days;
	long		 seed;
	const char	*at;
};

static const struct demo_flag common_flags[] = {
	DEMO_FLAG(struct demo_common, "--project", DEMO_STRING, project, 0, 0,
	    "project to fill (default: slo.default_project)"),
	DEMO_FLAG(struct demo_common, "--days", DEMO_LONG, days, 1, 35,
	    "days of 5-minute points (28)"),
	DEMO_FLAG(struct demo_common, "--seed", DEMO_LONG, seed, 0,
	    2147483647L, "seed of the pseudo-random data (1)"),
	DEMO_FLAG(struct demo_common, "--at", DEMO_STRING, at, 0, 0,
	    "RFC 3339 time the data ends at (default: now)"),
};

static const struct demo common = {
	common_flags, sizeof(common_flags) / sizeof(common_flags[0]),
	0, NULL, NULL, NULL
};

/* The command's table, then each module's, in the order of modules[]. */
static const struct demo *
part(size_t i)
{
	size_t	 m, k = 0;

	if (i == 0)
		return &common;
	for (m = 0; m < nmodules; m++)
		if (modules[m]->demo != NULL && ++k == i)
			return modules[m]->demo;
	return NULL;
}

static void
usage(FILE *f)
{
	const struct demo	*d;
	size_t			 i, k;

	fprintf(f, "usage: dashcgi [-c FILE] demo-data");
	for (i = 0; (d = part(i)) != NULL; i++)
		for (k = 0; k < d->nflags; k++)
			fprintf(f, " [%s%s]", d->flags[k].flag,
			    d->flags[k].kind == DEMO_SET ? "" :
			    d->flags[k].kind == DEMO_LONG ? " N" : " VALUE");
	fprintf(f, "\n");
	for (i = 0; (d = part(i)) != NULL; i++)
		for (k = 0; k < d->nflags; k++)
			fprintf(f, "  %-10s %s\n", d->flags[k].flag,
			    d->flags[k].help);
}

/* The flag named s: its owner's index in *pi, or NULL. */
static const struct demo_flag *
flag_find(const char *s, size_t *pi)
{
	const struct demo	*d;
	size_t			 i, k;

	for (i = 0; (d = part(i)) != NULL; i++)
		for (k = 0; k < d->nflags; k++)
			if (strcmp(s, d->flags[k].flag) == 0) {
				*pi = i;
				return &d->flags[k];
			}
	return NULL;
}

/* argv[0] is the command; opts[i] the options of part(i).  0, or -1
 * after a message (exit 2). */
static int
parse(int argc, char **argv, void **opts)
{
	const struct demo_flag	*f;
	char			*end, *o;
	long			 v;
	size_t			 pi;
	int			 i;

	for (i = 1; i < argc; i++) {
		if ((f = flag_find(argv[i], &pi)) == NULL) {
			fprintf(stderr, "dashcgi: demo-data: unknown option "
			    "\"%s\"\n", argv[i]);
			usage(stderr);
			return -1;
		}
		o = (char *)opts[pi] + f->off;
		if (f->kind == DEMO_SET) {
			*(long *)(void *)o = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "dashcgi: demo-data: %s needs a value\n",
			    f->flag);
			return -1;
		}
		i++;
		if (f->kind == DEMO_STRING) {
			*(const char **)(void *)o = argv[i];
			continue;
		}
		v = strtol(argv[i], &end, 10);
		if (*argv[i] == '\0' || *end != '\0' || v < f->min ||
		    v > f->max) {
			fprintf(stderr, "dashcgi: demo-data: %s: expected an "
			    "integer %ld..%ld, got \"%s\"\n", f->flag, f->min,
			    f->max, argv[i]);
			return -1;
		}
		*(long *)(void *)o = v;
	}
	return 0;
}

int
demo_exec(PGconn *db, const struct stmt_def *d, const char *const *p,
    PGresult **out)
{
	PGresult	*res;

	res = PQexecParams(db, d->sql, d->nparams, NULL, p, NULL, NULL, 0);
	switch (res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	default:
		log_error("demo-data: %s: %s", d->name, res != NULL ?
		    PQresultErrorMessage(res) : PQerrorMessage(db));
		PQclear(res);
		return -1;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int
demo_cmd(PGconn *db, const char *sql)
{
	PGresult	*res = PQexec(db, sql);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	/* The statement's start names it (a DO block is long). */
	if (!ok)
		log_error("demo-data: %.48s: %s", sql, PQerrorMessage(db));
	PQclear(res);
	return ok ? 0 : -1;
}

/* The end of the data: the step after the one holding --at or now.
 * Its text (the caller frees it), or NULL after logging. */
static char *
data_end(const struct config *cfg, PGconn *db, const char *at)
{
	PGresult	*res;
	const char	*p[2];
	char		 resol[24], *end = NULL;

	snprintf(resol, sizeof(resol), "%lld",
	    (long long)(cfg->slo.resolution / 1000));
	p[0] = at;
	p[1] = resol;
	res = PQexecParams(db, "SELECT to_timestamp(floor(extract(epoch"
	    " FROM coalesce($1::timestamptz, now())) / $2::int) * $2::int"
	    " + $2::int)::text", 2, NULL, p, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		log_error("demo-data: --at: %s", PQerrorMessage(db));
	else if ((end = strdup(PQgetvalue(res, 0, 0))) == NULL)
		log_error("demo-data: out of memory");
	PQclear(res);
	return end;
}

int
demo_main(const struct config *cfg, int argc, char **argv)
{
	struct demo_common	 c = { cfg->slo.default_project, 28, 1, NULL };
	struct demo_run		 run;
	const struct demo	*d;
	void			*opts[32] = { &c };
	char			*end = NULL;
	size_t			 i, n;
	int			 rc = 2;

	memset(&run, 0, sizeof(run));
	for (n = 1; (d = part(n)) != NULL; n++) {
		if (n == sizeof(opts) / sizeof(opts[0]) ||
		    (opts[n] = calloc(1, d->size + 1)) == NULL) {
			log_error("demo-data: out of memory");
			goto out;
		}
		if (d->size > 0)
			memcpy(opts[n], d->defaults, d->size);
	}
	if (parse(argc, argv, opts) == -1)
		goto out;
	for (i = 1; i < n; i++)
		if ((d = part(i))->check != NULL && d->check(opts[i]) == -1)
			goto out;
	rc = 1;
	run.cfg = cfg;
	run.project = c.project;
	run.seed = c.seed;
	run.days = c.days;
	run.at = c.at;
	if ((run.db = db_open(cfg, "dashcgi demo-data")) == NULL)
		goto out;
	if (demo_cmd(run.db, "SET statement_timeout = 0") == -1 ||
	    (end = data_end(cfg, run.db, c.at)) == NULL)
		goto out;
	run.end = end;
	for (i = 1; i < n; i++)
		if (part(i)->run(&run, opts[i]) == -1)
			goto out;
	rc = 0;
out:
	if (run.db != NULL)
		PQfinish(run.db);
	free(end);
	for (i = 1; i < n && i < sizeof(opts) / sizeof(opts[0]); i++)
		free(opts[i]);
	return rc;
}
