/*
 * validate.h -- the Perses rules for documents clients send.
 *
 * Owns: every check of a dashboard document's shape and names that a
 * stock Perses server makes (plugin schemas aside), each failure
 * reported as "field.path: what is wrong", the path written the way a
 * client would find it (spec.layouts[0].spec.items[2]...), and the two
 * normalisations Perses makes of what it accepts: "kind" in any letter
 * case is written back as "Dashboard", and a duplicate of an earlier
 * metadata.tags entry is removed from the array (tags are a set); a
 * document that is refused is not changed at all.
 * Never: keep memory past a call (the allocations are a transient hash
 * set and the variable dependency graph), change the document beyond
 * those two normalisations, or touch the database.  The one file it
 * reads is the zoneinfo file of a spec.timezone.
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
 * A name Go's time.LoadLocation loads, as Perses checks spec.timezone:
 * "", "local", "UTC", "Local" or a TZif file under /usr/share/zoneinfo
 * (no "..", no leading "/": it never leaves that directory).
 */
int	validate_timezone(const char *);

/*
 * A Perses Dashboard document: kind, metadata (name, project, tags,
 * times), spec (display, durations, timezone, queryBatching, links,
 * datasources, variables and their dependencies, annotations, panels,
 * Grid and Tabs layouts and their $refs) and the size of every number.
 * Returns 0, or -1 with the first violation in err as "field.path:
 * what is wrong" (cut to errlen on a UTF-8 boundary, never cut at
 * VALIDATE_ERR_MAX).  metadata.project may be absent or "": the caller
 * fills it from the request path.  An accepted document is normalised
 * in place (kind, duplicate tags); a refused one is left as it was.  A
 * caller that stores it must store the object, not the text it was
 * parsed from, for the normalisation to reach storage.
 */
int	validate_dashboard(struct json_object *doc, char *err,
	    size_t errlen);

/*
 * The text a document was parsed from (len bytes of valid JSON), for
 * what json-c does not keep: 0, or -1 with "field.path: what" in err
 * when a string or member name holds \u0000 or a lone UTF-16
 * surrogate escape, which PostgreSQL's jsonb refuses (json-c would
 * pass U+FFFD, or a member name cut short).  Every caller of
 * validate_dashboard() that stores or judges a client's text calls
 * this on the same text first.
 */
int	validate_json_text(const char *text, size_t len, char *err,
	    size_t errlen);

#endif
