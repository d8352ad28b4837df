/*
 * validate.c -- POST /api/validate/dashboards, as Perses answers it:
 * 200 with an empty body, or 400 validation_failed naming the first
 * violation ("spec.panels.p1.spec.plugin.kind: required").
 *
 * Owns: the HTTP face of validate_dashboard().
 * Never: hold its own rules (validate.c is the one place the Perses
 * rules live, shared with create, update and import), or touch the
 * database: validation works while PostgreSQL is away.
 */
#include "http.h"
#include "module.h"
#include "validate.h"

static void
api_validate_dashboard(struct req *r)
{
	char	 err[VALIDATE_ERR_MAX];

	if (validate_dashboard(r->json, err, sizeof(err)) == -1) {
		http_error(r, 400, "validation_failed", "%s", err);
		return;
	}
	http_send(r, 200, NULL, "", 0);
}

static const struct route routes[] = {
	{ "POST", "/api/validate/dashboards", api_validate_dashboard,
	    R_AUTH | R_JSON, ROLE_NONE, NULL },
};

const struct module validate_module = {
	.name = "validate",
	.routes = MODULE_ROUTES(routes),
};
