/*
 * http.h -- one FastCGI request: its validated inputs and its answer.
 *
 * Owns: struct req and the response writing.  All strings in a req
 * come from its arena (copied out of libfcgi's params, which die at
 * FCGX_Finish_r), and live until the request ends.
 * Never: keep anything across requests; write a body before headers.
 */
#ifndef DASHCGI_HTTP_H
#define DASHCGI_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "arena.h"
#include "config.h"

#define HTTP_MAX_PARAMS		8
#define HTTP_MAX_QUERY		32
#define HTTP_JSON_DEPTH		64
#define HTTP_REQUEST_ID_MAX	128

struct route;

struct kv {
	const char	*key;
	const char	*val;
};

struct req {
	FCGX_Request		*fcgi;
	struct arena		*arena;
	const struct config	*cfg;

	const char		*method;
	const char		*path;		/* decoded, no query */
	const char		*query;		/* raw, may be "" */
	struct kv		 qs[HTTP_MAX_QUERY];
	size_t			 nqs;
	const char		*params[HTTP_MAX_PARAMS];	/* path {…} */
	size_t			 nparams;
	const char		*remote_user;	/* NULL when absent */
	const char		*remote_addr;
	const char		*content_type;
	/* On the response and the log line: the client's plain
	 * X-Request-Id, else own_id. */
	char			 request_id[HTTP_REQUEST_ID_MAX + 1];
	char			 own_id[33];	/* always the server's */
	int			 client_id;	/* request_id is the client's */

	const struct route	*route;
	int			 route_id;	/* metrics row, 0 unmatched */

	char			*body;		/* NUL-terminated */
	size_t			 body_len;
	struct json_object	*json;		/* parsed body, owned */

	/* Who is asking (authz.c fills these before the handler runs). */
	const char		*actor;		/* user, "anonymous", "share:<id>" */
	enum role		 role;		/* on the route's {project} */
	int			 admin;		/* global administrator */

	/* A change: one transaction, committed with its audit row. */
	int			 tx;
	int			 audited;
	struct {				/* answer held until COMMIT */
		int		 set, status;
		const char	*ctype;
		char		*body;
		size_t		 len;
	}			 held;
	struct {				/* 403 to audit after ROLLBACK */
		int		 set;
		const char	*project, *resource, *reason;
	}			 denied;

	int			 status;	/* what was sent */
	int			 headers_sent;
	char			 hdrs[1024];	/* extra response headers */
	size_t			 hdrs_len;
	const char		*error_code;	/* for the log line */
};

/* In a new process (a worker after fork): forget the parent's state. */
void	 http_fork_reset(void);
/* Fill a req from libfcgi's params.  0, or an HTTP status to answer. */
int	 http_req_init(struct req *, FCGX_Request *, struct arena *,
	    const struct config *);
/* Decode application/x-www-form-urlencoded in place; -1 if malformed. */
int	 http_urldecode(char *s, int plus_is_space);
int	 http_parse_query(struct req *, const char *query);
/* A form body's pairs, after the query string's; -1 if malformed. */
int	 http_parse_form(struct req *, const char *body);
const char *http_query(const struct req *, const char *key);

/*
 * Body: checks Content-Type (415), size (413), reads, parses JSON with
 * depth and UTF-8 validation (400).  Returns 0, or -1 after sending
 * the error answer.
 */
int	 http_read_json(struct req *);
/* The same checks for any body of the given Content-Type, unparsed. */
int	 http_read_body(struct req *, const char *ctype);
/* The JSON parser alone, for unit tests: NULL with *err in arena. */
struct json_object *http_parse_json(struct arena *, const char *buf,
	    size_t len, const char **err);

/* Extra response header; sent with the next http_send*. */
void	 http_header(struct req *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 http_send(struct req *, int status, const char *ctype,
	    const char *body, size_t len);
void	 http_send_json(struct req *, int status, const char *json, size_t len);
/* Headers now, body streamed by the caller with FCGX_PutStr. */
void	 http_begin(struct req *, int status, const char *ctype);
/* {"status":N,"code":code,"message":…[,extra members]}: no "error"
 * member, which the Perses UI would show instead of the message. */
void	 http_error(struct req *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 http_error_obj(struct req *, int status, const char *code,
	    const char *message, struct json_object *extra);

const char *http_reason(int status);

/* Send the answer held back during a transaction (after COMMIT). */
void	 http_release(struct req *);
/* Forget a held answer and its extra headers (the change failed). */
void	 http_discard(struct req *);

#endif
