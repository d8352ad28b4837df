/*
 * maintenance.h -- "dashcgi maintenance": the hourly housekeeping run
 * by dashcgi-maintenance.timer.
 *
 * Owns: the maintenance advisory lock and the walk over the modules'
 * jobs; the maintenance process kind that runs them on a timer.
 * Never: run concurrently with itself (a second run exits 0 at once).
 */
#ifndef DASHCGI_MAINTENANCE_H
#define DASHCGI_MAINTENANCE_H

#include "config.h"

/*
 * argv[0] is "maintenance".  Runs every job, each in its own
 * transaction, logging what each did.  Returns the process exit code:
 * 0 all jobs done (or another run holds the lock), 1 a job failed or
 * the database is unreachable, 2 usage error.
 */
int	maintenance_main(const struct config *cfg, int argc, char **argv);

/* The maintenance process kind (maintenance.interval > 0: one). */
int	maintenance_count(const struct config *);
__attribute__((noreturn))
void	maintenance_proc_main(int slot, const struct config *, int lfd);

#endif
