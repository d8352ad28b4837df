/*
 * errors.c -- the table of error codes (errors.h), in status order.
 */
#include <string.h>

#include "errors.h"

const struct error_code error_codes[] = {
	{ "bad_request", 400, "a parameter, header or body is malformed; "
	    "the message names it" },
	{ "invalid_json", 400, "the body is not JSON (the parser's message "
	    "and byte offset)" },
	{ "validation_failed", 400, "the document breaks a rule; the message "
	    "starts with the field's path" },
	{ "unauthorized", 401, "no identity from the web server" },
	{ "forbidden", 403, "the caller's role is too weak (audited)" },
	{ "endpoint_not_allowed", 403, "a proxied datasource's "
	    "allowedEndpoints do not name this method and path (audited)" },
	{ "not_found", 404, "no such resource, or a project the caller has "
	    "no role in" },
	{ "method_not_allowed", 405, "the path exists with other methods "
	    "(Allow lists them)" },
	{ "conflict", 409, "the resource exists, or is referenced" },
	{ "invalid_transition", 409, "a state change the resource's life "
	    "cycle does not allow" },
	{ "version_conflict", 409, "another user changed it after the "
	    "version the edit is based on (currentVersion, changedBy, "
	    "changedAt)" },
	{ "version_mismatch", 412, "If-Match names another version "
	    "(currentVersion)" },
	{ "payload_too_large", 413, "the body is over max_body" },
	{ "document_too_large", 413, "the document a write would store is "
	    "over dashboards.max_document_bytes" },
	{ "unsupported_media_type", 415, "the Content-Type is not the one "
	    "the route takes" },
	{ "version_required", 428, "a write without If-Match or "
	    "metadata.version while dashboards.require_version is true" },
	{ "internal_error", 500, "a bug: logged with the request id" },
	{ "database_unavailable", 503, "the database is away; retry" },
	{ "database_timeout", 503, "the database did not answer within "
	    "statement_timeout" },
	{ "migrations_pending", 503, "a statement of the route's module "
	    "could not be prepared (schema behind the code)" },
	{ "prepared_statements_unsupported", 503, "the pooler in front of "
	    "PostgreSQL cannot keep named prepared statements; set "
	    "database.prepared_statements: unnamed" },
	{ "commit_outcome_unknown", 503, "the answer to COMMIT was lost and "
	    "the change's fate could not be learnt; read before retrying" },
	{ "partition_missing", 503, "a time-partitioned table has no "
	    "partition for the row; run dashcgi maintenance" },
};
const size_t nerror_codes = sizeof(error_codes) / sizeof(error_codes[0]);

int
error_status(const char *code)
{
	size_t	 i;

	for (i = 0; i < nerror_codes; i++)
		if (strcmp(error_codes[i].code, code) == 0)
			return error_codes[i].status;
	return -1;
}
