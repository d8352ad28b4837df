/*
 * common.h -- the small helpers the resource modules under src/api/
 * share: path parameters, the 400 that names a field, running a
 * statement and answering its failure, row 0 of a result, string
 * members of a JSON body, lists (streamed whole, or paged by ?limit=),
 * base64url keyset cursors and the Link to the next page.
 *
 * Owns: one copy of each of these, the SQL fragment that reads a
 * cursor (CURSOR_DEC), and how a list goes out (api_list: streamed
 * whole, or a page and its Link).  Answers go
 * out through http_error() and http_send_json(); a failed statement
 * through db_http_status(), the one SQLSTATE mapping.
 * Never: keep state, know a resource or word its messages (each module
 * keeps its statement table, its rules and its wording), decide who
 * may call a route, or build response JSON.
 *
 * Memory: nothing returned here is the caller's to free.  Strings are
 * borrowed from the request (its arena, freed when the request ends),
 * from a PGresult (valid until PQclear) or from a json_object (valid
 * while it lives); a PGresult passed in stays the caller's.
 */
#ifndef DASHCGI_API_COMMON_H
#define DASHCGI_API_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "db.h"
#include "http.h"

#define API_LIST_DEFAULT	100	/* ?limit= when absent */
#define API_LIST_MAX		1000	/* the largest ?limit= */

/*
 * The opaque cursor of a list: base64url of the last row's sort key
 * (api_list() makes it), read back by PostgreSQL.  A cursor that does
 * not decode fails the statement with SQLSTATE class 22, which
 * api_list() answers as a bad cursor.
 */
#define CURSOR_DEC(c) \
	"convert_from(decode(rpad(translate(" c ", '-_', '+/'), " \
	"(length(" c ") + 3) / 4 * 4, '='), 'base64'), 'UTF8')"

/* A path parameter ({project}), decoded, borrowed; NULL if none. */
const char	*api_param(const struct req *, const char *name);

/* 400 validation_failed; the message starts with the field's path. */
void		 api_invalid(struct req *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * Run statement i of set.  Anything but PGRES_TUPLES_OK is answered
 * through db_http_status() (a 500 is logged with the statement's
 * name), cleared, and NULL returned; otherwise the result is the
 * caller's to PQclear().
 */
PGresult	*api_run(struct req *, const struct stmt_set *, size_t i,
		    int nparams, const char *const *params);

/* Column col of row 0, the JSON PostgreSQL built, as the body. */
void		 api_send_col(struct req *, int status, const PGresult *,
		    int col);

/*
 * Row 0, column col: is it SQL NULL; its text (NULL for SQL NULL,
 * borrowed from the result); as a number (-1 for SQL NULL); as a
 * boolean (false for SQL NULL).
 */
int		 api_val_null(const PGresult *, int col);
const char	*api_val(const PGresult *, int col);
long		 api_val_long(const PGresult *, int col);
int		 api_val_bool(const PGresult *, int col);

/*
 * v as a C string, borrowed from v: NULL unless v is a JSON string
 * without embedded NULs (which C would silently cut short).
 */
const char	*api_json_str(struct json_object *v);

/* What api_str_member() makes of a JSON null: a wrong type, or absent. */
enum api_null {
	API_NULL_REFUSED,
	API_NULL_ABSENT
};

/*
 * String member key of object o; path names it in the 400.  Returns 1
 * with *s set (borrowed from o), 0 when absent (*s NULL), -1 after
 * answering 400 for another type or an embedded NUL.
 */
int		 api_str_member(struct req *, struct json_object *o,
		    const char *key, const char *path, enum api_null,
		    const char **s);

/*
 * Refuse a member of object o that is not in keys (NULL-terminated):
 * a typo must not pass silently.  0, or -1 after answering 400
 * "<prefix><member>: unknown field (<what>)".
 */
int		 api_only_members(struct req *, struct json_object *o,
		    const char *prefix, const char *const *keys,
		    const char *what);

/*
 * The field table of a body (kcgi's validator tables are the model): a
 * const row per member -- its name, its type, whether it is required,
 * its bounds, its enum values, where it goes -- and one call,
 * api_body(), that reads r->json against the table and answers 400
 * validation_failed naming the member ("role: must be \"viewer\",
 * \"editor\" or \"admin\", got \"owner\"").  Handlers then see only
 * typed, checked values and keep just the rules that need the
 * database or the configuration.
 *
 * What lands at .at (offsetof + 1 via API_AT; 0: checked, not kept),
 * borrowed from the body (valid while r->json lives):
 *   API_STRING, API_ENUM, API_TIME	const char *
 *   API_INT, API_DURATION		int64_t (milliseconds for a duration)
 *   API_BOOL				int
 *   API_OBJECT, API_ARRAY, API_ANY	struct json_object *
 * A member that is absent (or null, with API_NULL_ABSENT) leaves its
 * destination as the caller set it: set the defaults first.
 *
 * Bounds (min, max; both 0: none): characters of a string, the value of
 * an integer or of a duration in milliseconds, the elements of an
 * array.  API_STRING may also name a rule (check, and rule the text
 * saying it); API_ENUM its NULL-terminated values; API_OBJECT the
 * table of its members (body; NULL: any object); API_ARRAY the field
 * each element must pass (elem).  API_ANY takes any value: a member the
 * server owns and ignores (createdAt of a document sent back).
 *
 * Messages are "<path>: <what is wrong>"; expect, when set, replaces
 * the wording of a wrong type or a broken rule ("must be a valid name:
 * …") and is added to "<path>: required, <expect>".  Bounds keep their
 * own wording ("at most 100 entries, got 101").
 */
enum api_type {
	API_STRING, API_ENUM, API_INT, API_BOOL, API_DURATION, API_TIME,
	API_OBJECT, API_ARRAY, API_ANY
};

#define API_REQUIRED	0x1	/* absent is refused */
#define API_NULL_ABSENT	0x2	/* JSON null counts as absent */

#define API_AT(type, member)	(offsetof(type, member) + 1)

struct api_body;

struct api_field {
	const char		*name;
	enum api_type		 type;
	unsigned		 flags;
	size_t			 at;
	int64_t			 min, max;
	const char *const	*values;		/* API_ENUM */
	int			(*check)(const char *);	/* API_STRING */
	const char		*rule;			/* what check wants */
	const char		*expect;
	const struct api_body	*body;			/* API_OBJECT */
	const struct api_field	*elem;			/* API_ARRAY */
};

struct api_body {
	const struct api_field	*fields;
	size_t			 nfields;
	/*
	 * Said after "<member>: unknown field (…)": the members this body
	 * has.  NULL: unknown members pass (a Perses document's, which
	 * is not dashcgi's to close).
	 */
	const char		*members;
	/* The whole 400 when the body is not an object (top level). */
	const char		*shape;
};

#define API_FIELDS(a)	(a), (sizeof(a) / sizeof((a)[0]))

/*
 * Check object o against body b, filling dst (may be NULL: check
 * only), path prefixing every member's name ("" at the top).  Members
 * are checked in the table's order, after the unknown ones.  0, or -1
 * with the message in err (len bytes, at least 1).  Pure: no request,
 * no database; the fuzz target t/fuzz/fuzz_fields.c drives it.
 */
int		 api_fields(struct json_object *o, const struct api_body *b,
		    void *dst, const char *path, char *err, size_t len);

/* api_fields() on r->json: 0, or -1 after answering its 400. */
int		 api_body(struct req *, const struct api_body *, void *dst);

/* api_fields() on o, a member at path of a body (or a document the
 * handler made from one): 0, or -1 after answering its 400. */
int		 api_object(struct req *, struct json_object *o,
		    const struct api_body *, void *dst, const char *path);

/* A name (validate_name()), as API_STRING's rule says it. */
#define API_NAME_RULE	"a valid name: 1-75 characters of [a-zA-Z0-9_.-], no \"..\", " \
	"not starting or ending with \".\""

/* ?limit= as text: decimal digits, 1 to API_LIST_MAX.  0 with *n, or -1. */
int		 api_limit_parse(const char *s, int *n);

/*
 * A list (SPEC §4: complete without ?limit=, paged with it).  The
 * statement returns one row per item, in list order: column 0 the
 * item as JSON text, column 1 its key (the text the cursor of the page
 * after it encodes).  Its last parameter, p[nparams - 1], is filled
 * here: the number of rows to return -- ?limit= + 1, the extra row
 * telling whether another page follows -- or NULL for all of them.
 *
 * Without ?limit= the rows are streamed as PostgreSQL sends them
 * (db_stream(): memory stays flat whatever their number).  With it the
 * page holds at most ?limit= items and at most max_page_bytes of them
 * (the first always goes), and goes out with
 * Link: <path?{query less cursor}&cursor=C>; rel="next" when another
 * follows, C the base64url of the last key the page holds.
 *
 * A list under a parent that may be missing (a dashboard's versions or
 * share links) returns no row at all when the parent is missing --
 * then gone() answers (NULL: the list is empty) -- and one row with a
 * NULL item when the parent has none: such rows are not items.  When
 * a cursor was given, a class 22 failure of the statement (a cursor
 * that did not decode) is answered 400 naming the cursor.
 */
void		 api_list(struct req *, const struct stmt_set *, size_t i,
		    int nparams, const char **p, void (*gone)(struct req *));

/* Unpadded base64url of n bytes of s, in the arena. */
char		*api_b64url_encode(struct arena *, const char *s, size_t n);

/*
 * The text s encodes, in the arena: NULL unless s is unpadded,
 * canonical base64url of text without NUL bytes.
 */
char		*api_b64url_decode(struct arena *, const char *s);

/*
 * Link: <path?{the request's query less its cursor}&cursor=C>;
 * rel="next", C the base64url of key (the last row's sort key).
 */
void		 api_link_next(struct req *, const char *key);

/*
 * Versions and entity tags, as every versioned resource uses them
 * (dashboards, datasources, variables).  ETags are "N", N a version.
 */

/* A version: decimal digits, 0 to INT_MAX.  0 with *out, or -1. */
int		 api_parse_version(const char *s, size_t len, long *out);

/*
 * One entity tag: "N", W/"N" or a bare N, blanks around it aside.
 * 0 with *v: strong.  1 with *v: weak (matches If-None-Match, never
 * If-Match: RFC 9110 13.1.1).  2: digits beyond INT_MAX, no version of
 * ours.  -1: not a version tag at all.
 */
int		 api_parse_etag(const char *s, size_t len, long *v);

/*
 * If-Match.  0 when absent or "*" (any current version); 1 with the
 * version in buf; 1 with "-1" in buf when the tag can never match
 * (weak, or beyond the integer range): the write then fails its
 * version check, 412; -1 after answering 400 (not a version tag).
 */
int		 api_if_match(struct req *, char *buf, size_t len);

#endif
