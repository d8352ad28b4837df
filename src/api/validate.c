/*
 * validate.c -- POST /api/validate/dashboards, as Perses answers it:
 * 200 with an empty body, or 400 validation_failed naming the first
 * violation ("spec.panels.p1.spec.plugin.kind: required").
 *
 * Owns: the HTTP face of validate_dashboard(), and the one member the
 * server owns but Perses' decoder still types: metadata.version (on
 * create and update dashboards.c checks it, with its own code).
 * Never: hold the document rules (validate.c is the one place the
 * Perses rules live, shared with create, update and import), or touch
 * the database: validation works while PostgreSQL is away.
 */
#include <json-c/json.h>

#include "http.h"
#include "module.h"
#include "validate.h"

static void
api_validate_dashboard(struct req *r)
{
	struct json_object	*meta, *ver;
	char			 err[VALIDATE_ERR_MAX];

	/* The same two checks, in the same order, as create and update. */
	if (validate_json_text(r->body, r->body_len, err,
	    sizeof(err)) == -1 ||
	    validate_dashboard(r->json, err, sizeof(err)) == -1) {
		http_error(r, 400, "validation_failed", "%s", err);
		return;
	}
	/* Go's uint64: an integer, not negative, when not null. */
	if (json_object_object_get_ex(r->json, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "version", &ver) &&
	    ver != NULL && (!json_object_is_type(ver, json_type_int) ||
	    json_object_get_int64(ver) < 0)) {
		http_error(r, 400, "validation_failed", "metadata.version: "
		    "must be an integer >= 0");
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
