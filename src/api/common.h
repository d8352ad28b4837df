/*
 * common.h -- the small helpers the resource modules under src/api/
 * share: path parameters, the 400 that names a field, running a
 * statement and answering its failure, row 0 of a result, string
 * members of a JSON body, ?limit=, base64url keyset cursors and the
 * Link to the next page.
 *
 * Owns: one copy of each of these, and the two SQL fragments of a
 * cursor that PostgreSQL makes (CURSOR_ENC, CURSOR_DEC).  Answers go
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

#include <json-c/json.h>
#include <libpq-fe.h>

#include "db.h"
#include "http.h"

#define API_LIST_DEFAULT	100	/* ?limit= when absent */
#define API_LIST_MAX		1000	/* the largest ?limit= */

/*
 * The opaque cursor of a list paged in SQL: base64url of the last
 * row's sort key, made and read by PostgreSQL.  encode() wraps lines
 * at 76 characters, so newlines go with the padding.  A cursor that
 * does not decode fails the statement with SQLSTATE class 22, which
 * api_sql_list() answers as a bad cursor.
 */
#define CURSOR_ENC(x) \
	"rtrim(translate(encode(convert_to(" x ", 'UTF8'), 'base64'), " \
	"'+/' || chr(10), '-_'), '=')"
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

/* ?limit= as text: decimal digits, 1 to API_LIST_MAX.  0 with *n, or -1. */
int		 api_limit_parse(const char *s, int *n);

/*
 * A list paged in SQL (CURSOR_ENC, CURSOR_DEC).  The statement's last
 * two parameters are the cursor and the limit, which this fills from
 * ?cursor= and ?limit= (p has room for them); its one row is (JSON
 * array, next cursor or NULL).  Answers the page, with
 * Link: <path?{keep}limit=N&cursor=C>; rel="next" when another
 * follows; or 400 naming limit or cursor; or the database error.
 * keep: query parameters the next page keeps ("category=ml&"), already
 * URL-safe, or "".
 */
void		 api_sql_list(struct req *, const struct stmt_set *, size_t i,
		    int nparams, const char **p, const char *keep);

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

#endif
