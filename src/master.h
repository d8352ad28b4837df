/*
 * master.h -- the supervising process: socket, workers, signals.
 *
 * Owns: the listening socket, the worker table, reloads.
 * Never: open a database connection, or do real work in a signal
 * handler (handlers set flags; the loop in master_main acts).
 */
#ifndef DASHCGI_MASTER_H
#define DASHCGI_MASTER_H

#include "config.h"

/* Runs until stopped.  Takes ownership of cfg.  Returns an exit code. */
int	master_main(struct config *cfg, const char *path);

#endif
