/*
 * slo.h -- what the SLO module (src/api/slo.c, slo_demo.c) offers
 * outside its routes: the demo-data command.
 *
 * Owns: nothing but these declarations.
 * Never: declare a handler (they are static to slo.c).
 */
#ifndef DASHCGI_API_SLO_H
#define DASHCGI_API_SLO_H

#include "config.h"

/*
 * dashcgi demo-data [--project P] [--slos N] [--days D] [--seed S]:
 * argv[0] is "demo-data".  Exit status: 0, 1 (runtime), 2 (usage).
 */
int	slo_demo_main(const struct config *, int argc, char **argv);

#endif
