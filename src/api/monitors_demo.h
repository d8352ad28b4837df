/*
 * monitors_demo.h -- the uptime monitors' part of `dashcgi demo-data`
 * (monitors_demo.c); slo_demo.c owns the command and its options.
 */
#ifndef DASHCGI_MONITORS_DEMO_H
#define DASHCGI_MONITORS_DEMO_H

#include <libpq-fe.h>

struct config;

/* --monitors N and --monitor-target URL together, or neither: 0, or
 * -1 after a message on stderr (exit 2). */
int	monitors_demo_check(long n, const char *target);

/* N monitors of target in project, 90 days of roll-ups ending at at
 * (RFC 3339; NULL: now), on db in its own transaction; prints a
 * summary line.  0, or -1 after logging. */
int	monitors_demo(const struct config *, PGconn *db, const char *project,
	    long n, long seed, const char *target, const char *at);

#endif
