/*
 * maintenance.h -- "dashcgi maintenance": the hourly housekeeping run
 * by dashcgi-maintenance.timer.
 *
 * Owns: the maintenance advisory lock and the table of jobs.
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

#endif
