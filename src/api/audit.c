/*
 * audit.c -- (being written) handlers of the audit routes.
 */
#include "api/api.h"
#include "db.h"
#include "http.h"

void
api_audit_list(struct req *r)
{
	http_error(r, 501, "not_implemented", "not implemented yet");
}

