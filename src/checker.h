/*
 * checker.h -- uptime checks (SPEC §9): one HTTP(S) check with its
 * timing phases, TLS expiry and address guard, and the checker process
 * kind that claims due monitors and runs them with libcurl's multi
 * interface.
 *
 * Owns: the libcurl options of a check, its verdict (ok or one error
 * code), the claim and record statements' parameters, the checker's
 * schedule in memory (claimed checks waiting for their due time).
 * Never: connect to an address the guard refuses (the guard runs on
 * every socket curl opens, so names, redirects and IPv6 all pass it);
 * run a check that another checker claimed; keep a result out of the
 * database other than by losing it (logged).
 */
#ifndef DASHCGI_CHECKER_H
#define DASHCGI_CHECKER_H

#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

/* What one check does.  Strings are borrowed from the caller. */
struct check_spec {
	const char	*monitor_id;
	const char	*due;		/* timestamptz text; NULL on demand */
	const char	*url;
	const char	*method;
	const char	*headers;	/* "Name: value" lines, or NULL */
	const char	*body;		/* "" = none */
	const char	*statuses;	/* "2xx,301" */
	const char	*body_contains;	/* "" = none */
	int64_t		 timeout_ms;
	int64_t		 max_latency_ms;	/* 0 = none */
	int64_t		 tls_warning_ms;	/* 0 = none */
	int		 follow;
	int		 allow_private;
};

/* Its outcome; times are milliseconds, -1 when the phase did not run. */
struct check_result {
	char		 at[40];	/* start, RFC 3339 with ms */
	int		 ok;
	long		 status;	/* 0: no complete response */
	double		 total_ms, dns_ms, connect_ms, tls_ms, first_byte_ms;
	const char	*error;		/* NULL, or the error code */
	char		 message[256];
	char		 tls_expires[40];	/* "" unknown */
};

/*
 * The columns a check needs, from a monitor row m (spec jsonb), in
 * the order check_spec_from_row() reads them.
 */
#define CHECK_SPEC_COLUMNS \
	"m.id::text, m.spec ->> 'url', coalesce(m.spec ->> 'method', 'GET'), " \
	"(SELECT string_agg(h.key || ': ' || h.value, E'\\n') " \
	" FROM jsonb_each_text(m.spec -> 'headers') h), " \
	"coalesce(m.spec ->> 'body', ''), " \
	"coalesce((SELECT string_agg(s, ',') FROM " \
	" jsonb_array_elements_text(m.spec -> 'expect' -> 'status') s), '2xx'), " \
	"coalesce(m.spec -> 'expect' ->> 'bodyContains', ''), " \
	"coalesce(m.spec ->> 'timeout', '10s'), " \
	"coalesce(m.spec -> 'expect' ->> 'maxLatency', ''), " \
	"coalesce(m.spec ->> 'tlsExpiryWarning', ''), " \
	"coalesce((m.spec ->> 'followRedirects')::boolean, true)"
#define CHECK_SPEC_NCOLUMNS	11

/*
 * Records one result: the raw row, the roll-ups and the state machine
 * (monitor_record() in migration 0009), one statement.  Its one
 * column is the result document.
 */
#define CHECK_RECORD_SQL \
	"SELECT monitor_record($1::bigint, $2::timestamptz, $3::timestamptz," \
	" $4::text, $5::boolean, $6::integer, $7::real, $8::real, $9::real," \
	" $10::real, $11::real, $12::text, $13::text, $14::timestamptz)::text"
#define CHECK_RECORD_NPARAMS	14

/* Text buffers behind the record statement's parameters. */
struct check_params {
	const char	*p[CHECK_RECORD_NPARAMS];
	char		 status[16], total[32], dns[32], conn[32], tls[32],
			 fb[32];
};

/*
 * Fill a check_spec from columns col.. of row row (CHECK_SPEC_COLUMNS)
 * of a result; strings are borrowed from it.  0, or -1 when a stored
 * duration does not parse.
 */
struct pg_result;
int	check_spec_from_row(const struct pg_result *, int row, int col,
	    struct check_spec *);

/* Parameters of CHECK_RECORD_SQL; pointers into s, r and pp. */
void	check_record_params(const struct check_spec *s,
	    const struct check_result *r, const char *location,
	    struct check_params *pp);

/* The check, synchronously (the worker's POST …/check). */
void	check_run_once(const struct check_spec *, struct check_result *);

/* Pure helpers, unit-tested. */
int	check_addr_blocked(const struct sockaddr *);
int	check_status_match(const char *patterns, long status);

/* The checker process kind. */
int	checker_count(const struct config *);
__attribute__((noreturn))
void	checker_proc_main(int slot, const struct config *, int lfd);

#endif
