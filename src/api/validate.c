/*
 * validate.c -- POST /api/validate/dashboards, as Perses answers it:
 * 200 with an empty body, or 400 naming the first violation.
 *
 * The foundation checks the document's envelope (kind, metadata name
 * and project, a non-empty spec); the full Perses rule set belongs to
 * the dashboards module.
 */
#include <string.h>

#include "api/api.h"
#include "http.h"

/* Perses name rule: 1-75 of [a-zA-Z0-9_.-], no "..", no leading or
 * trailing ".". */
static int
perses_name_ok(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > 75 || s[0] == '.' || s[n - 1] == '.' ||
	    strstr(s, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("_.-", s[i])))
			return 0;
	return 1;
}

void
api_validate_dashboard(struct req *r)
{
	struct json_object	*kind, *meta, *name, *proj, *spec;
	const char		*v;

	if (!json_object_is_type(r->json, json_type_object)) {
		http_error(r, 400, "bad_request", "the document must be a JSON "
		    "object");
		return;
	}
	if (!json_object_object_get_ex(r->json, "kind", &kind) ||
	    !json_object_is_type(kind, json_type_string) ||
	    strcmp(json_object_get_string(kind), "Dashboard") != 0) {
		http_error(r, 400, "bad_request", "kind: must be \"Dashboard\"");
		return;
	}
	if (!json_object_object_get_ex(r->json, "metadata", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		http_error(r, 400, "bad_request", "metadata: must be an object");
		return;
	}
	if (!json_object_object_get_ex(meta, "name", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    !perses_name_ok(v = json_object_get_string(name))) {
		http_error(r, 400, "bad_request", "metadata.name: must be 1 to "
		    "75 characters of [a-zA-Z0-9_.-], without \"..\" and not "
		    "starting or ending with \".\"");
		return;
	}
	if (json_object_object_get_ex(meta, "project", &proj) &&
	    (!json_object_is_type(proj, json_type_string) ||
	    !perses_name_ok(json_object_get_string(proj)))) {
		http_error(r, 400, "bad_request", "metadata.project: must be 1 "
		    "to 75 characters of [a-zA-Z0-9_.-], without \"..\" and "
		    "not starting or ending with \".\"");
		return;
	}
	if (!json_object_object_get_ex(r->json, "spec", &spec) ||
	    !json_object_is_type(spec, json_type_object) ||
	    json_object_object_length(spec) == 0) {
		http_error(r, 400, "bad_request", "spec: must be a non-empty "
		    "object");
		return;
	}
	http_send(r, 200, NULL, "", 0);
}
