/*
 * hub_demo.h -- `dashcgi demo-data --incidents` (src/api/hub_demo.c),
 * the hub module's demo hook; src/demo.c owns the command.
 *
 * Owns: nothing but this declaration.
 */
#ifndef DASHCGI_API_HUB_DEMO_H
#define DASHCGI_API_HUB_DEMO_H

#include "demo.h"

/*
 * --incidents: the incident hub's demo history in the project (after
 * its SLOs were made): channels, an integration key, rules of every
 * type, 24 incidents with their timelines and notifications over the
 * last min(days, 14) days to the end of the data, and the last hour's
 * events.  One transaction; the project's earlier hub data is
 * replaced.  Deterministic for a seed and an end.
 */
extern const struct demo	hub_demo;

#endif
