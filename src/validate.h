/*
 * validate.h -- the Perses rules for documents clients send.
 *
 * Owns: every check of a dashboard document's shape and names, each
 * failure reported as "field.path: what is wrong", the path written
 * the way a client would find it (spec.layouts[0].spec.items[2]...).
 * Never: keep memory past a call (the one allocation is a transient
 * hash set of variable names), modify the document, or touch the
 * database.
 */
#ifndef DASHCGI_VALIDATE_H
#define DASHCGI_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* An error buffer this size always holds the whole message. */
#define VALIDATE_ERR_MAX	512

/* 1-75 of [a-zA-Z0-9_.-], no "..", not starting or ending with ".". */
int	validate_name(const char *);

/* A Perses/Prometheus duration: "1h", "30m", "1d", "1h30m", "500ms". */
int	validate_duration(const char *);
/* The same, 1 with its length in *ms (may be NULL), or 0. */
int	validate_duration_ms(const char *, int64_t *ms);

/*
 * A Perses Dashboard document: kind, metadata (name, project, tags),
 * spec (display, duration, variables, panels, layouts and their $refs).
 * Returns 0, or -1 with the first violation in err as "field.path:
 * what is wrong" (cut to errlen on a UTF-8 boundary, never cut at
 * VALIDATE_ERR_MAX).  metadata.project may be absent or
 * "": the caller fills it from the request path.
 */
int	validate_dashboard(struct json_object *doc, char *err,
	    size_t errlen);

#endif
