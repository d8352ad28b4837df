/*
 * modules.c -- the one list of modules (module.h).
 *
 * Order matters in two places: the route table is read in this order
 * (no two modules may claim one method and pattern; router.c checks),
 * and maintenance runs the jobs in this order (core first: its audit
 * partitions must exist before any job writes an audit row).
 */
#include "module.h"

extern const struct module core_module, validate_module, projects_module,
	preferences_module, dashboards_module, templates_module,
	shares_module, auditlog_module, slo_module, monitors_module,
	datasource_module, alerts_module, perses_module, hub_module,
	dsproxy_module;

const struct module *const modules[] = {
	&core_module,
	&validate_module,
	&projects_module,
	&preferences_module,
	&dashboards_module,
	&templates_module,
	&shares_module,
	&auditlog_module,
	&slo_module,
	&monitors_module,
	&datasource_module,
	&alerts_module,
	&perses_module,
	&hub_module,
	/* last: its {*rest} rows must not take the fixed ones above */
	&dsproxy_module,
};
const size_t nmodules = sizeof(modules) / sizeof(modules[0]);
