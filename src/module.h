/*
 * module.h -- what a module brings to the daemon, after nginx's
 * ngx_module_t: its routes, its prepared statements, its maintenance
 * jobs, the process kinds it runs and its part of demo-data.
 *
 * Owns: the descriptor types and the one list of modules (modules.c).
 * The router, the database layer, maintenance, the master and
 * demo-data walk that list; none of them names a module.  Adding a
 * subsystem is its own source file(s), one line in modules.c and its
 * migrations.
 * Never: hold state; a descriptor is const data.
 */
#ifndef DASHCGI_MODULE_H
#define DASHCGI_MODULE_H

#include <stddef.h>

#include "config.h"
#include "router.h"

struct stmt_set;
struct demo;

/*
 * A maintenance job: one statement, run in its own transaction by
 * "dashcgi maintenance" and by the maintenance process kind.  It
 * returns one row with one count.  A job that needs a migration names
 * it in requires: until the schema has it, the job is skipped with a
 * log line (the jobs run on whatever schema the database has).
 */
typedef int (*job_param_fn)(const struct config *, char *buf, size_t len);
struct job {
	const char	*name;
	const char	*counted;	/* what the count is, for the log */
	const char	*sql;
	job_param_fn	 param;		/* fills $1; 0 = skip; NULL: no $1 */
	const char	*skipped;	/* logged when param says skip */
	int		 requires;	/* least migration version; 0: any */
};

/*
 * A kind of child process of the master.  count() says how many this
 * configuration wants; main() never returns: exit 0 to be respawned
 * (recycled), 2 for a fatal configuration (never respawned), anything
 * else counts as a crash against the slot's budget.
 */
struct proc_kind {
	const char	*name;		/* "worker", "maintenance", … */
	int		 serves;	/* accepts FastCGI requests */
	int		(*count)(const struct config *);
	void		(*main)(int slot, const struct config *, int lfd)
			    __attribute__((noreturn));
};

struct module {
	const char			*name;
	const struct route		*routes;
	size_t				 nroutes;
	/* NULL-terminated; prepared on every connection.  A module whose
	 * statements are not all prepared answers 503 on its routes. */
	const struct stmt_set *const	*stmts;
	const struct job		*jobs;
	size_t				 njobs;
	const struct proc_kind		*procs;
	size_t				 nprocs;
	/* Its part of `dashcgi demo-data` (demo.h): flags and data. */
	const struct demo		*demo;
	unsigned			 flags;
};

/* Every database route depends on the statements of a MOD_CORE module. */
#define MOD_CORE	0x1

#define MODULE_ROUTES(a)	(a), (sizeof(a) / sizeof((a)[0]))

extern const struct module *const	modules[];
extern const size_t			nmodules;

#endif
