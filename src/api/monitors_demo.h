/*
 * monitors_demo.h -- the uptime monitors' part of `dashcgi demo-data`
 * (monitors_demo.c), the monitors module's demo hook; src/demo.c owns
 * the command.
 */
#ifndef DASHCGI_MONITORS_DEMO_H
#define DASHCGI_MONITORS_DEMO_H

#include "demo.h"

/*
 * --monitors N --monitor-target URL (both, or neither): N monitors of
 * the target in the project, 90 days of roll-ups ending at --at (now
 * without it), in their own transaction; a summary line.
 */
extern const struct demo	monitors_demo;

#endif
