/*
 * hub_demo.h -- `dashcgi demo-data --incidents` (src/api/hub_demo.c),
 * called by the demo-data command of src/api/slo_demo.c.
 *
 * Owns: nothing but this declaration.
 */
#ifndef DASHCGI_API_HUB_DEMO_H
#define DASHCGI_API_HUB_DEMO_H

#include <libpq-fe.h>

#include "config.h"

/*
 * The incident hub's demo history in project (after its SLOs were
 * made): channels, an integration key, rules of every type, 24
 * incidents with their timelines and notifications over the last
 * min(days, 14) days to end, and the last hour's events.  One
 * transaction on db; the project's earlier hub data is replaced.
 * Deterministic for a seed and an end.  0, or -1 after logging.
 */
int	hub_demo(const struct config *, PGconn *db, const char *project,
	    long seed, long days, const char *end);

#endif
