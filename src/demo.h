/*
 * demo.h -- `dashcgi demo-data` (demo.c): the command walks the
 * modules' demo hooks (module.h), in the order of modules[]; each
 * module owns its flags and its part of the data.
 *
 * Owns: the hook's types, the command's own flags (--project, --days,
 * --seed, --at: every part reads them), the end of the data, and the
 * one statement runner the parts use.
 * Never: name a module (the list in modules.c does).
 */
#ifndef DASHCGI_DEMO_H
#define DASHCGI_DEMO_H

#include <stddef.h>

#include <libpq-fe.h>

struct config;
struct stmt_def;

enum demo_flag_kind {
	DEMO_STRING,		/* --flag VALUE: a const char * */
	DEMO_LONG,		/* --flag N, min..max: a long */
	DEMO_SET		/* --flag: a long set to 1 */
};

/* A flag of demo-data; off is where it lands in its owner's options. */
struct demo_flag {
	const char		*flag;
	enum demo_flag_kind	 kind;
	size_t			 off;
	long			 min, max;
	const char		*help;
};

#define DEMO_FLAG(type, f, k, m, lo, hi, h) \
	{ (f), (k), offsetof(type, m), (lo), (hi), (h) }

/* What every part is given: the command's flags and the connection. */
struct demo_run {
	const struct config	*cfg;
	PGconn			*db;
	const char		*project;
	long			 seed;
	long			 days;
	const char		*at;	/* --at as given; NULL: now */
	/* The end of the data: the slo.resolution step after the one
	 * holding --at (or now), as PostgreSQL prints a timestamptz. */
	const char		*end;
};

/*
 * A module's part of demo-data.  Its options are size bytes that start
 * as defaults, filled by its flags; check() (NULL: none) refuses a
 * combination before anything is written (0, or -1 after a message on
 * stderr: exit 2); run() writes the part, or nothing when its flags
 * ask for none (0, or -1 after logging: exit 1).
 */
struct demo {
	const struct demo_flag	*flags;
	size_t			 nflags;
	size_t			 size;
	const void		*defaults;
	int			(*check)(const void *opts);
	int			(*run)(const struct demo_run *, const void *opts);
};

/* argv[0] is "demo-data".  The exit status: 0, 1 or 2. */
int	demo_main(const struct config *, int argc, char **argv);

/* One statement of a part (d->nparams of p) on db: 0, or -1 after
 * logging its name and the server's message.  *out, when wanted, is
 * the caller's to PQclear. */
int	demo_exec(PGconn *db, const struct stmt_def *d, const char *const *p,
	    PGresult **out);

/* A statement without parameters or rows (BEGIN, ANALYZE, …): 0, or -1
 * after logging. */
int	demo_cmd(PGconn *db, const char *sql);

#endif
