/*
 * validate.h -- the Perses rules for documents clients send.
 *
 * Owns: every check of a dashboard document's shape and names, each
 * failure reported as "field.path: what is wrong", the path written
 * the way a client would find it (spec.layouts[0].spec.items[2]...).
 * Never: allocate beyond the caller's buffer, or touch the database.
 */
#ifndef DASHCGI_VALIDATE_H
#define DASHCGI_VALIDATE_H

#include <stddef.h>

#include <json-c/json.h>

/* 1-75 of [a-zA-Z0-9_.-], no "..", not starting or ending with ".". */
int	validate_name(const char *);

/* A Perses/Prometheus duration: "1h", "30m", "1d", "1h30m", "500ms". */
int	validate_duration(const char *);

/*
 * A Perses Dashboard document: kind, metadata (name, project, tags),
 * spec (display, duration, variables, panels, layouts and their $refs).
 * Returns 0, or -1 with the first violation in err.
 */
int	validate_dashboard(struct json_object *doc, char *err, size_t errlen);

#endif
