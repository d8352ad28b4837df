/*
 * slo.h -- what the SLO module (src/api/slo.c, slo_demo.c) offers
 * outside its routes: its part of the demo-data command.
 *
 * Owns: nothing but these declarations.
 * Never: declare a handler (they are static to slo.c).
 */
#ifndef DASHCGI_API_SLO_H
#define DASHCGI_API_SLO_H

#include "demo.h"

/* The SLO fleet of `dashcgi demo-data` (slo_demo.c), the module's
 * demo hook: --slos N. */
extern const struct demo	slo_demo;

#endif
