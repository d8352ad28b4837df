/*
 * checker.c -- the uptime checks (SPEC §9) and the checker process
 * kind that runs them.
 *
 * A checker claims due monitors with one statement (FOR UPDATE SKIP
 * LOCKED, moving next_due on by the interval in the same statement),
 * so no two checkers, on one host or many, ever run the same check.
 * Claimed checks wait in memory for their due time (the claim looks
 * two seconds ahead), then run on libcurl's multi interface, at most
 * monitors.concurrency at once.  Results are recorded in batches, each
 * one statement (monitor_record() per result: raw row, roll-ups,
 * state, alert) on a session of their own, so that neither claims nor
 * starts ever wait for a record.
 *
 * Owns: libcurl (the checker's multi handle; the worker's easy handle
 * of a check run on demand), the address guard, the verdict of a
 * check, the checker's two database sessions.
 * Never: connect where the guard says no; wait for the database's
 * answers (statements are sent, and read when the sockets say so:
 * curl_multi_poll waits for those, the checks' sockets and the next
 * due time; only a reconnection blocks, briefly); retry a check (a
 * missed due time is run once, by the claim's arithmetic).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "checker.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "proc.h"

#define BODY_MAX	(1024 * 1024)	/* bytes kept for bodyContains */
/*
 * Claims look this far ahead, so that a claim slow to come back (a
 * loaded database) still leaves its checks time to start on the dot.
 * Claimed checks wait in memory: pausing a monitor stops its checks
 * from this long after.
 */
#define CLAIM_AHEAD	"2 seconds"
#define CLAIM_EVERY_MS	500		/* between claims when idle */
/* Checks claimed and not yet started, at most. */
#define WAITING_MAX(conc)	((conc) * 4 < 1000 ? 1000 : (conc) * 4)
/* Results in one record statement: at most; enough to send at once;
 * else the oldest waits this long for company. */
#define RECORD_BATCH_MAX	200
#define RECORD_BATCH_MIN	32
#define RECORD_LINGER_MS	100
/* Results held while the database is away, at most. */
#define RESULTS_MAX(conc)	((conc) * 8 < 10000 ? 10000 : (conc) * 8)
#define DRAIN_MS	5000		/* in-flight checks on SIGTERM */
/* Reconnections back off to this: a refused connection costs little,
 * and checks due meanwhile wait for the claims to come back. */
#define RECONNECT_MAX_MS 2000
#define PARTITIONS_EVERY_S 3600

/* The one in-flight or waiting check. */
struct check {
	struct check_spec	 spec;
	struct check_result	 res;
	char			*strs;		/* owns spec's strings */
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*body;
	size_t			 body_len;
	int			 blocked;
	char			 blocked_addr[INET6_ADDRSTRLEN];
	int64_t			 due_ms;	/* epoch ms */
	int64_t			 done_ms;	/* when it ended */
	char			 errbuf[CURL_ERROR_SIZE];
	struct check		*next;
};

static volatile sig_atomic_t	stop;

static int64_t
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fmt_ms(int64_t ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		s = (time_t)(ms / 1000);

	gmtime_r(&s, &tm);
	/* Bounded fields: the compiler can see the text fits. */
	snprintf(buf, len, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
	    (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
	    (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
	    (unsigned)tm.tm_sec % 100u, (unsigned)(ms % 1000) % 1000u);
}

/* ------------------------------------------------------------------ */
/* The address guard */

static int
v4_blocked(uint32_t a)
{
	return (a >> 24) == 0 ||		/* 0.0.0.0/8 "this network" */
	    (a >> 24) == 10 ||			/* 10/8 */
	    (a >> 22) == (100 << 2 | 1) ||	/* 100.64/10 shared (CGNAT) */
	    (a >> 24) == 127 ||			/* loopback */
	    (a >> 16) == (169 << 8 | 254) ||	/* link-local */
	    (a >> 20) == (172 << 4 | 1) ||	/* 172.16/12 */
	    (a >> 8) == (192u << 16 | 0 << 8 | 0) ||	/* 192.0.0/24 */
	    (a >> 16) == (192u << 8 | 168) ||	/* 192.168/16 */
	    (a >> 17) == (198u << 7 | 9) ||	/* 198.18/15 benchmarking */
	    (a >> 28) >= 14;			/* multicast, reserved, bcast */
}

/*
 * Is this an address a monitor may not reach: loopback, private,
 * shared, link-local, multicast, reserved or unspecified, IPv4 or IPv6
 * (with IPv4 inside IPv6 judged as IPv4)?
 */
int
check_addr_blocked(const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;
	const uint8_t			*b;
	static const uint8_t		 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };
	static const uint8_t		 nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const uint8_t		 zero[16];
	uint32_t			 a;

	switch (sa->sa_family) {
	case AF_INET:
		s4 = (const struct sockaddr_in *)(const void *)sa;
		return v4_blocked(ntohl(s4->sin_addr.s_addr));
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		b = s6->sin6_addr.s6_addr;
		if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0 ||
		    memcmp(b, zero, 12) == 0) {
			/* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d, ::a.b.c.d (and
			 * :: and ::1, which are 0.0.0.0/8 here) */
			a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			    (uint32_t)b[14] << 8 | b[15];
			return v4_blocked(a);
		}
		return (b[0] & 0xfe) == 0xfc ||		/* fc00::/7 ULA */
		    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
		    (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0::/10 */
		    b[0] == 0xff ||			/* multicast */
		    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d &&
		    b[3] == 0xb8);			/* 2001:db8::/32 doc */
	default:
		return 1;	/* a family we do not judge is refused */
	}
}

/* Does status match one of "2xx,301"? */
int
check_status_match(const char *patterns, long status)
{
	const char	*p = patterns;
	char		 s[4];
	size_t		 i, n;

	if (status < 100 || status > 999)
		return 0;
	snprintf(s, sizeof(s), "%ld", status);
	while (*p != '\0') {
		n = strcspn(p, ",");
		if (n == 3) {
			for (i = 0; i < 3; i++)
				if (p[i] != s[i] && !(i > 0 &&
				    (p[i] == 'x' || p[i] == 'X')))
					break;
			if (i == 3)
				return 1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* One check */

static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct check	*c = arg;
	const void	*ad;

	(void)purpose;
	if (!c->spec.allow_private && check_addr_blocked(&a->addr)) {
		c->blocked = 1;
		ad = a->family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)(void *)
		    &a->addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)(void *)
		    &a->addr)->sin_addr;
		if (inet_ntop(a->family, ad, c->blocked_addr,
		    sizeof(c->blocked_addr)) == NULL)
			snprintf(c->blocked_addr, sizeof(c->blocked_addr), "?");
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct check	*c = arg;
	size_t		 len = size * n, room;
	char		*nb;

	if (c->spec.body_contains[0] == '\0' || c->body_len >= BODY_MAX)
		return len;
	room = BODY_MAX - c->body_len;
	if (room > len)
		room = len;
	if ((nb = realloc(c->body, c->body_len + room + 1)) == NULL)
		return len;	/* kept so far is what gets searched */
	c->body = nb;
	memcpy(c->body + c->body_len, data, room);
	c->body_len += room;
	c->body[c->body_len] = '\0';
	return len;
}

static const char *
cstr_dup(char **pos, const char *s)
{
	char	*d = *pos;
	size_t	 n = strlen(s) + 1;

	memcpy(d, s, n);
	*pos += n;
	return d;
}

/* A check owning copies of spec's strings; NULL on ENOMEM. */
static struct check *
check_new(const struct check_spec *s)
{
	struct check	*c;
	const char	*f[8] = { s->monitor_id, s->due ? s->due : "", s->url,
			    s->method, s->headers ? s->headers : "", s->body,
			    s->statuses, s->body_contains };
	size_t		 i, n = 0;
	char		*pos;

	for (i = 0; i < 8; i++)
		n += strlen(f[i]) + 1;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->strs = malloc(n)) == NULL) {
		free(c);
		return NULL;
	}
	c->spec = *s;
	pos = c->strs;
	c->spec.monitor_id = cstr_dup(&pos, f[0]);
	c->spec.due = cstr_dup(&pos, f[1]);
	if (s->due == NULL)
		c->spec.due = NULL;
	c->spec.url = cstr_dup(&pos, f[2]);
	c->spec.method = cstr_dup(&pos, f[3]);
	c->spec.headers = cstr_dup(&pos, f[4]);
	c->spec.body = cstr_dup(&pos, f[5]);
	c->spec.statuses = cstr_dup(&pos, f[6]);
	c->spec.body_contains = cstr_dup(&pos, f[7]);
	return c;
}

static void
check_free(struct check *c)
{
	if (c == NULL)
		return;
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	free(c->body);
	free(c->strs);
	free(c);
}

/* The easy handle of a check.  -1 when libcurl refuses (ENOMEM). */
static int
check_setup(struct check *c)
{
	const struct check_spec	*s = &c->spec;
	const char		*h, *e;
	char			 line[8192];
	size_t			 n;
	CURL			*k;

	if ((k = c->easy = curl_easy_init()) == NULL)
		return -1;
	for (h = s->headers; h != NULL && *h != '\0'; h = *e ? e + 1 : e) {
		e = h + strcspn(h, "\n");
		n = (size_t)(e - h) < sizeof(line) - 1 ? (size_t)(e - h) :
		    sizeof(line) - 1;
		memcpy(line, h, n);
		line[n] = '\0';
		c->hdrs = curl_slist_append(c->hdrs, line);
	}
	curl_easy_setopt(k, CURLOPT_PRIVATE, c);
	curl_easy_setopt(k, CURLOPT_URL, s->url);
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(k, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(k, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
	curl_easy_setopt(k, CURLOPT_REDIR_PROTOCOLS,
	    CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
	/* The environment's proxies would hide the address connected. */
	curl_easy_setopt(k, CURLOPT_PROXY, "");
	curl_easy_setopt(k, CURLOPT_USERAGENT, "dashcgi-checker/"
	    PACKAGE_VERSION);
	curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(k, CURLOPT_FOLLOWLOCATION, s->follow ? 1L : 0L);
	curl_easy_setopt(k, CURLOPT_MAXREDIRS, 10L);
	/* Every check measures DNS, connect and TLS afresh. */
	curl_easy_setopt(k, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(k, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(k, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
	curl_easy_setopt(k, CURLOPT_CERTINFO, 1L);
	/* OpenSSL's variable for another CA bundle, as curl(1) honours it
	 * (an internal CA; the tests' own certificate). */
	if ((h = getenv("SSL_CERT_FILE")) != NULL && *h != '\0')
		curl_easy_setopt(k, CURLOPT_CAINFO, h);
	curl_easy_setopt(k, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(k, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(k, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf);
	if (c->hdrs != NULL)
		curl_easy_setopt(k, CURLOPT_HTTPHEADER, c->hdrs);
	if (strcmp(s->method, "HEAD") == 0)
		curl_easy_setopt(k, CURLOPT_NOBODY, 1L);
	else if (strcmp(s->method, "GET") != 0)
		curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, s->method);
	if (s->body[0] != '\0')
		curl_easy_setopt(k, CURLOPT_POSTFIELDS, s->body);
	fmt_ms(wall_ms(), c->res.at, sizeof(c->res.at));
	return 0;
}

static double
phase(CURL *k, CURLINFO what)
{
	curl_off_t	us = 0;

	if (curl_easy_getinfo(k, what, &us) != CURLE_OK || us <= 0)
		return -1;
	return us / 1000.0;
}

/* "Expire date:Jan  1 00:00:00 2027 GMT" of the leaf certificate. */
static void
tls_expiry(struct check *c)
{
	struct curl_certinfo	*ci = NULL;
	struct curl_slist	*l;
	struct tm		 tm;
	const char		*v;
	time_t			 t;

	if (curl_easy_getinfo(c->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK ||
	    ci == NULL || ci->num_of_certs < 1)
		return;
	for (l = ci->certinfo[0]; l != NULL; l = l->next) {
		if (strncasecmp(l->data, "Expire date:", 12) != 0)
			continue;
		memset(&tm, 0, sizeof(tm));
		v = l->data + 12;
		while (*v == ' ')
			v++;
		if (strptime(v, "%b %d %H:%M:%S %Y", &tm) == NULL)
			return;
		t = timegm(&tm);
		fmt_ms((int64_t)t * 1000, c->res.tls_expires,
		    sizeof(c->res.tls_expires));
		if (c->spec.tls_warning_ms > 0 && c->res.error == NULL &&
		    ((int64_t)t * 1000 - wall_ms()) < c->spec.tls_warning_ms)
			snprintf(c->res.message, sizeof(c->res.message),
			    "the certificate expires %s", c->res.tls_expires);
		return;
	}
}

static void
fail(struct check *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct check *c, const char *code, const char *fmt, ...)
{
	va_list	ap;

	c->res.ok = 0;
	c->res.error = code;
	va_start(ap, fmt);
	vsnprintf(c->res.message, sizeof(c->res.message), fmt, ap);
	va_end(ap);
}

/* The verdict, once curl is done with the transfer. */
static void
check_done(struct check *c, CURLcode rc)
{
	struct check_result	*r = &c->res;
	CURL			*k = c->easy;
	double			 dns, conn, tls, fb, tot;
	long			 code = 0;

	dns = phase(k, CURLINFO_NAMELOOKUP_TIME_T);
	conn = phase(k, CURLINFO_CONNECT_TIME_T);
	tls = phase(k, CURLINFO_APPCONNECT_TIME_T);
	fb = phase(k, CURLINFO_STARTTRANSFER_TIME_T);
	tot = phase(k, CURLINFO_TOTAL_TIME_T);
	/* curl's times are from the start; the phases are differences. */
	r->dns_ms = dns;
	r->connect_ms = conn >= 0 ? conn - (dns > 0 ? dns : 0) : -1;
	r->tls_ms = tls >= 0 && conn >= 0 ? tls - conn : -1;
	r->first_byte_ms = fb >= 0 ? fb - (tls >= 0 ? tls : conn >= 0 ?
	    conn : 0) : -1;
	r->total_ms = tot;
	r->ok = 1;
	r->error = NULL;
	r->status = 0;
	if (c->blocked) {
		fail(c, "blocked_address", "%s is a loopback, private, "
		    "link-local, multicast or unspecified address "
		    "(monitors.allow_private is false)", c->blocked_addr);
		return;
	}
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		fail(c, "timeout", "no answer within %lld ms",
		    (long long)c->spec.timeout_ms);
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		fail(c, "dns", "%s", c->errbuf[0] ? c->errbuf :
		    curl_easy_strerror(rc));
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		fail(c, "tls", "%s", c->errbuf[0] ? c->errbuf :
		    curl_easy_strerror(rc));
		return;
	case CURLE_TOO_MANY_REDIRECTS:
		fail(c, "status", "more than 10 redirects");
		return;
	default:
		fail(c, "connect", "%s", c->errbuf[0] ? c->errbuf :
		    curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &code);
	r->status = code;
	tls_expiry(c);
	if (!check_status_match(c->spec.statuses, code))
		fail(c, "status", "status %ld is not one of %s", code,
		    c->spec.statuses);
	else if (c->spec.body_contains[0] != '\0' && (c->body == NULL ||
	    strstr(c->body, c->spec.body_contains) == NULL))
		fail(c, "body", "the body does not contain \"%.64s\"",
		    c->spec.body_contains);
	else if (c->spec.max_latency_ms > 0 && tot > c->spec.max_latency_ms)
		fail(c, "latency", "%.0f ms is over maxLatency %lld ms", tot,
		    (long long)c->spec.max_latency_ms);
}

void
check_run_once(const struct check_spec *s, struct check_result *r)
{
	struct check	*c;
	CURLcode	 rc;

	memset(r, 0, sizeof(*r));
	if ((c = check_new(s)) == NULL || check_setup(c) == -1) {
		fmt_ms(wall_ms(), r->at, sizeof(r->at));
		r->error = "connect";
		r->total_ms = r->dns_ms = r->connect_ms = r->tls_ms =
		    r->first_byte_ms = -1;
		snprintf(r->message, sizeof(r->message), "out of memory");
		check_free(c);
		return;
	}
	rc = curl_easy_perform(c->easy);
	check_done(c, rc);
	*r = c->res;
	check_free(c);
}

static int
parse_ms(const char *s, int64_t *ms)
{
	if (s == NULL || *s == '\0') {
		*ms = 0;
		return 0;
	}
	return config_parse_duration(s, ms);
}

int
check_spec_from_row(const struct pg_result *cres, int row, int col,
    struct check_spec *s)
{
	PGresult	*res = (PGresult *)(uintptr_t)cres;

	memset(s, 0, sizeof(*s));
	s->monitor_id = PQgetvalue(res, row, col);
	s->url = PQgetvalue(res, row, col + 1);
	s->method = PQgetvalue(res, row, col + 2);
	s->headers = PQgetisnull(res, row, col + 3) ? NULL :
	    PQgetvalue(res, row, col + 3);
	s->body = PQgetvalue(res, row, col + 4);
	s->statuses = PQgetvalue(res, row, col + 5);
	s->body_contains = PQgetvalue(res, row, col + 6);
	s->follow = PQgetvalue(res, row, col + 10)[0] == 't';
	if (parse_ms(PQgetvalue(res, row, col + 7), &s->timeout_ms) == -1 ||
	    parse_ms(PQgetvalue(res, row, col + 8), &s->max_latency_ms) == -1 ||
	    parse_ms(PQgetvalue(res, row, col + 9), &s->tls_warning_ms) == -1)
		return -1;
	if (s->timeout_ms <= 0)
		s->timeout_ms = 10000;
	return 0;
}

static const char *
fmt_time(char *buf, size_t len, double ms)
{
	if (ms < 0)
		return NULL;
	snprintf(buf, len, "%.3f", ms);
	return buf;
}

void
check_record_params(const struct check_spec *s, const struct check_result *r,
    const char *location, struct check_params *pp)
{
	pp->p[0] = s->monitor_id;
	pp->p[1] = r->at;
	pp->p[2] = s->due;
	pp->p[3] = location;
	pp->p[4] = r->error == NULL ? "t" : "f";
	snprintf(pp->status, sizeof(pp->status), "%ld", r->status);
	pp->p[5] = r->status > 0 ? pp->status : NULL;
	pp->p[6] = fmt_time(pp->total, sizeof(pp->total), r->total_ms);
	pp->p[7] = fmt_time(pp->dns, sizeof(pp->dns), r->dns_ms);
	pp->p[8] = fmt_time(pp->conn, sizeof(pp->conn), r->connect_ms);
	pp->p[9] = fmt_time(pp->tls, sizeof(pp->tls), r->tls_ms);
	pp->p[10] = fmt_time(pp->fb, sizeof(pp->fb), r->first_byte_ms);
	pp->p[11] = r->error;
	pp->p[12] = r->message[0] != '\0' ? r->message : NULL;
	pp->p[13] = r->tls_expires[0] != '\0' ? r->tls_expires : NULL;
}

/* ------------------------------------------------------------------ */
/* The checker process */

/*
 * $1 how many.  Takes the due monitors no other checker holds and
 * moves each one's next_due on in the same statement: due + k *
 * interval, the first such time after now, so the phase never drifts
 * and a missed due time is run once.  The due time goes back to the
 * record statement to the microsecond, as it is in next_due.
 */
static const char claim_sql[] =
    "WITH due AS (SELECT m.id, m.next_due AS due FROM monitor m"
    " WHERE NOT m.paused AND m.next_due <= now() + interval '" CLAIM_AHEAD "'"
    " ORDER BY m.next_due LIMIT $1::int FOR UPDATE SKIP LOCKED), "
    "upd AS (UPDATE monitor m SET next_due = due.due + m.every *"
    " (greatest(0, floor(extract(epoch FROM now() - due.due)"
    " / extract(epoch FROM m.every))) + 1)"
    " FROM due WHERE m.id = due.id"
    " RETURNING m.*, due.due AS claimed_due) "
    "SELECT to_char(m.claimed_due AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " (extract(epoch FROM m.claimed_due) * 1000)::bigint, "
    CHECK_SPEC_COLUMNS " FROM upd m";

/*
 * Many results in one statement (one transaction, one commit): the
 * parameters of CHECK_RECORD_SQL as arrays, one element per result,
 * the location ($4) once.  A monitor row another transaction holds is
 * skipped, not waited for (FOR UPDATE SKIP LOCKED before
 * monitor_record() locks it): a batch holds many monitor rows, and
 * waiting for one while holding the others could deadlock with a
 * statement that updates many monitors.  A result already in
 * check_result (the same monitor and start time: a batch whose commit
 * was acknowledged by a connection that broke before the answer came)
 * is not recorded twice.  Its one column: the 1-based positions of the
 * results skipped (to be sent again), NULL when none; results of
 * monitors deleted meanwhile are dropped.
 */
static const char record_batch_sql[] =
    "SELECT array_agg(x.i ORDER BY x.i) FILTER (WHERE l.held IS NULL"
    " AND l.alive)"
    " FROM unnest($1::bigint[], $2::timestamptz[],"
    " $3::timestamptz[], $5::boolean[], $6::integer[], $7::real[],"
    " $8::real[], $9::real[], $10::real[], $11::real[], $12::text[],"
    " $13::text[], $14::timestamptz[]) WITH ORDINALITY"
    " AS x(m, at, due, ok, st, tot, dns, con, tls, fb, err, msg, tlsx, i)"
    " CROSS JOIN LATERAL (SELECT (SELECT h.id FROM monitor h"
    " WHERE h.id = x.m FOR UPDATE SKIP LOCKED) AS held,"
    " EXISTS (SELECT 1 FROM monitor a WHERE a.id = x.m) AS alive) l"
    " LEFT JOIN LATERAL (SELECT monitor_record(x.m, x.at, x.due,"
    " $4::text, x.ok, x.st, x.tot, x.dns, x.con, x.tls, x.fb, x.err,"
    " x.msg, x.tlsx) AS doc WHERE l.held IS NOT NULL AND NOT EXISTS"
    " (SELECT 1 FROM check_result c WHERE c.monitor_id = x.m"
    " AND c.at = x.at)) r ON true";

static const char partitions_sql[] =
    "SELECT partition_ensure('check_result', 1, 'month')"
    " + partition_ensure('monitor_rollup_minute', 2, 'day')";

/* What a session has in flight. */
enum sess_stmt { SS_NONE, SS_CLAIM, SS_PARTS, SS_RECORD };

/*
 * One of the checker's two database sessions: claims (and partitions)
 * on one, results on the other, so that neither waits for the other
 * and the loop that starts checks waits for neither.  At most one
 * statement in flight, sent without waiting (non-blocking libpq) and
 * read when its socket is readable (curl_multi_poll watches it).
 */
struct session {
	const char	*name;
	PGconn		*db;
	enum sess_stmt	 inflight;
	PGresult	*res;		/* its first result, when read */
	int		 flushing;	/* the statement is not all sent */
	int		 fresh;		/* connected since last asked */
	int64_t		 retry_ms, backoff_ms;
};

/* A FIFO of checks (done ones waiting to be recorded). */
struct queue {
	struct check	*head, **tail;
	int		 n;
};

struct checker {
	const struct config	*cfg;
	CURLM			*multi;
	struct session		 claims, records;
	int64_t			 next_claim_ms, next_parts_ms;
	struct check		*waiting;	/* sorted by due_ms */
	int			 nwaiting, inflight;
	int			 claim_want;	/* the claim in flight's $1 */
	struct queue		 done;		/* results to record */
	struct queue		 sending;	/* the batch in flight */
	int			 solo;		/* next results one by one */
	char			 location[256];
	long			 lost;		/* results not recorded */
};

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void
q_init(struct queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->n = 0;
}

static void
q_push(struct queue *q, struct check *c)
{
	c->next = NULL;
	*q->tail = c;
	q->tail = &c->next;
	q->n++;
}

static struct check *
q_pop(struct queue *q)
{
	struct check	*c;

	if ((c = q->head) == NULL)
		return NULL;
	if ((q->head = c->next) == NULL)
		q->tail = &q->head;
	c->next = NULL;
	q->n--;
	return c;
}

/* Put all of from back in front of to (a batch to be sent again). */
static void
q_requeue(struct queue *to, struct queue *from)
{
	if (from->head == NULL)
		return;
	*from->tail = to->head;
	if (to->head == NULL)
		to->tail = from->tail;
	to->head = from->head;
	to->n += from->n;
	q_init(from);
}

static void
sess_lost(struct session *s)
{
	log_warn("checker: lost the database connection (%s session); "
	    "reconnecting", s->name);
	PQfinish(s->db);
	s->db = NULL;
	PQclear(s->res);
	s->res = NULL;
	s->inflight = SS_NONE;
	s->flushing = 0;
	s->retry_ms = wall_ms() + s->backoff_ms;
}

/* 1 when the session is connected (now or already), else 0. */
static int
sess_connect(struct checker *k, struct session *s)
{
	if (s->db != NULL)
		return 1;
	if (wall_ms() < s->retry_ms)
		return 0;
	if ((s->db = db_open(k->cfg, "dashcgi-checker")) == NULL ||
	    PQsetnonblocking(s->db, 1) == -1) {
		if (s->db != NULL)
			PQfinish(s->db);
		s->db = NULL;
		s->retry_ms = wall_ms() + s->backoff_ms;
		if ((s->backoff_ms *= 2) > RECONNECT_MAX_MS)
			s->backoff_ms = RECONNECT_MAX_MS;
		return 0;
	}
	s->backoff_ms = 500;
	s->fresh = 1;
	log_info("checker: connected to the database (%s session)", s->name);
	return 1;
}

static void
sess_flush(struct session *s)
{
	int	rc;

	if ((rc = PQflush(s->db)) == -1)
		sess_lost(s);
	else
		s->flushing = rc == 1;
}

/* Send a statement; 0, or -1 (logged; a lost session dropped). */
static int
sess_send(struct session *s, enum sess_stmt what, const char *sql, int n,
    const char *const *p)
{
	if (!PQsendQueryParams(s->db, sql, n, NULL, p, NULL, NULL, 0)) {
		log_error("checker: %s session: %s", s->name,
		    PQerrorMessage(s->db));
		if (PQstatus(s->db) == CONNECTION_BAD)
			sess_lost(s);
		return -1;
	}
	s->inflight = what;
	sess_flush(s);
	return s->db != NULL ? 0 : -1;
}

/*
 * Read what the socket has.  1 when the statement in flight is over:
 * *out is its result when it returned rows, else NULL (an error,
 * logged; or the session lost, s->db NULL).  0 while it runs.
 */
static int
sess_read(struct session *s, PGresult **out)
{
	PGresult	*res;
	const char	*f;

	*out = NULL;
	if (s->db == NULL || s->inflight == SS_NONE)
		return 0;
	if (s->flushing) {
		sess_flush(s);
		if (s->db == NULL)
			return 1;
	}
	if (!PQconsumeInput(s->db)) {
		sess_lost(s);
		return 1;
	}
	while (!PQisBusy(s->db)) {
		if ((res = PQgetResult(s->db)) != NULL) {
			if (s->res == NULL)
				s->res = res;
			else
				PQclear(res);
			continue;
		}
		/* The end of the statement. */
		res = s->res;
		s->res = NULL;
		s->inflight = SS_NONE;
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
			*out = res;
			return 1;
		}
		f = res != NULL ? PQresultErrorField(res,
		    PG_DIAG_MESSAGE_PRIMARY) : NULL;
		log_error("checker: %s session: %s", s->name,
		    f != NULL ? f : PQerrorMessage(s->db));
		PQclear(res);
		if (PQstatus(s->db) == CONNECTION_BAD)
			sess_lost(s);
		return 1;
	}
	return 0;
}

static void
enqueue(struct checker *k, struct check *c)
{
	struct check	**pp = &k->waiting;

	while (*pp != NULL && (*pp)->due_ms <= c->due_ms)
		pp = &(*pp)->next;
	c->next = *pp;
	*pp = c;
	k->nwaiting++;
}

/* Send a claim, or the partitions' upkeep, when it is time. */
static void
claim_send(struct checker *k)
{
	struct session	*s = &k->claims;
	const char	*p[1];
	char		 n[16];
	int		 want;
	int64_t		 now = wall_ms();

	if (s->inflight != SS_NONE || !sess_connect(k, s))
		return;
	if (s->fresh) {
		s->fresh = 0;
		k->next_parts_ms = 0;
	}
	/* Results need this month's partitions; maintenance may not run. */
	if (now >= k->next_parts_ms) {
		k->next_parts_ms = now + PARTITIONS_EVERY_S * 1000LL;
		(void)sess_send(s, SS_PARTS, partitions_sql, 0, NULL);
		return;
	}
	if (now < k->next_claim_ms)
		return;
	/* Checks wait in memory for at most CLAIM_AHEAD; a few times
	 * concurrency of them is a bound, not a rate. */
	want = WAITING_MAX(k->cfg->monitors.concurrency) - k->inflight -
	    k->nwaiting;
	if (want <= 0)
		return;
	if (want > 1000)
		want = 1000;
	snprintf(n, sizeof(n), "%d", want);
	p[0] = n;
	k->next_claim_ms = now + CLAIM_EVERY_MS;
	k->claim_want = want;
	(void)sess_send(s, SS_CLAIM, claim_sql, 1, p);
}

static void
claimed(struct checker *k, PGresult *res)
{
	struct check_spec	 s;
	struct check		*c;
	int			 i, got;

	got = PQntuples(res);
	for (i = 0; i < got; i++) {
		if (check_spec_from_row(res, i, 2, &s) == -1) {
			log_error("checker: monitor %s has a bad duration in "
			    "its spec; skipped", PQgetvalue(res, i, 2));
			continue;
		}
		s.due = PQgetvalue(res, i, 0);
		s.allow_private = k->cfg->monitors.allow_private;
		if ((c = check_new(&s)) == NULL) {
			log_error("checker: out of memory");
			break;
		}
		c->due_ms = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		enqueue(k, c);
	}
	/* A full batch: more may be due; claim again at once. */
	if (got == k->claim_want)
		k->next_claim_ms = wall_ms();
}

static void
claim_read(struct checker *k)
{
	PGresult	*res;
	enum sess_stmt	 what = k->claims.inflight;

	if (!sess_read(&k->claims, &res))
		return;
	if (res == NULL) {
		if (what == SS_PARTS)	/* try again in a while */
			k->next_parts_ms = wall_ms() + 60000;
		return;
	}
	if (what == SS_CLAIM)
		claimed(k, res);
	PQclear(res);
}

static void
start_due(struct checker *k)
{
	struct check	*c;
	int64_t		 now = wall_ms();

	while ((c = k->waiting) != NULL && c->due_ms <= now &&
	    k->inflight < k->cfg->monitors.concurrency) {
		k->waiting = c->next;
		k->nwaiting--;
		c->next = NULL;
		if (check_setup(c) == -1 ||
		    curl_multi_add_handle(k->multi, c->easy) != CURLM_OK) {
			log_error("checker: cannot start the check of monitor "
			    "%s", c->spec.monitor_id);
			check_free(c);
			continue;
		}
		k->inflight++;
	}
}

static void
lose(struct checker *k, struct check *c)
{
	struct logline	l;

	k->lost++;
	log_begin(&l, LOG_WARN, "check result lost");
	log_str(&l, "monitor_id", c->spec.monitor_id);
	log_str(&l, "due", c->spec.due);
	log_int(&l, "lost", k->lost);
	log_end(&l);
	check_free(c);
}

/* One element of a PostgreSQL array literal: NULL, or quoted. */
static void
array_elem(FILE *f, const char *v, int first)
{
	if (!first)
		fputc(',', f);
	if (v == NULL) {
		fputs("NULL", f);
		return;
	}
	fputc('"', f);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

/*
 * The parameters of record_batch_sql for the checks of q: arrays of
 * CHECK_RECORD_SQL's parameters, the location once.  0, or -1 (ENOMEM;
 * what was made is freed).
 */
static int
batch_params(const struct checker *k, const struct queue *q,
    char *buf[CHECK_RECORD_NPARAMS])
{
	struct check_params	 pp;
	const struct check	*c;
	FILE			*f[CHECK_RECORD_NPARAMS];
	size_t			 len;
	int			 i, rc = 0;

	for (i = 0; i < CHECK_RECORD_NPARAMS; i++) {
		buf[i] = NULL;
		f[i] = NULL;
		if (i != 3 && (f[i] = open_memstream(&buf[i], &len)) == NULL)
			rc = -1;
		else if (f[i] != NULL)
			fputc('{', f[i]);
	}
	for (c = q->head; rc == 0 && c != NULL; c = c->next) {
		check_record_params(&c->spec, &c->res, k->location, &pp);
		for (i = 0; i < CHECK_RECORD_NPARAMS; i++)
			if (i != 3)
				array_elem(f[i], pp.p[i], c == q->head);
	}
	for (i = 0; i < CHECK_RECORD_NPARAMS; i++) {
		if (f[i] == NULL)
			continue;
		fputc('}', f[i]);
		if (ferror(f[i]))
			rc = -1;
		if (fclose(f[i]) != 0)
			rc = -1;
	}
	if (rc == -1)
		for (i = 0; i < CHECK_RECORD_NPARAMS; i++) {
			free(buf[i]);
			buf[i] = NULL;
		}
	return rc;
}

/*
 * Send the results waiting, up to RECORD_BATCH_MAX in one statement,
 * when there are enough of them or the oldest has waited long enough
 * (fewer, bigger transactions); all of them when stopping.  After a
 * batch failed on a bad row, the results it held go one by one.
 */
static void
record_send(struct checker *k, int now_all)
{
	struct session	*s = &k->records;
	struct check	*c;
	const char	*p[CHECK_RECORD_NPARAMS];
	char		*buf[CHECK_RECORD_NPARAMS];
	int		 i, max;

	if (k->done.n == 0 || s->inflight != SS_NONE || !sess_connect(k, s))
		return;
	if (!now_all && k->done.n < RECORD_BATCH_MIN && wall_ms() -
	    k->done.head->done_ms < RECORD_LINGER_MS)
		return;
	max = k->solo > 0 ? 1 : RECORD_BATCH_MAX;
	while (k->sending.n < max && (c = q_pop(&k->done)) != NULL)
		q_push(&k->sending, c);
	if (k->solo > 0)
		k->solo--;
	if (batch_params(k, &k->sending, buf) == -1) {
		log_error("checker: out of memory");
		while ((c = q_pop(&k->sending)) != NULL)
			lose(k, c);
		return;
	}
	for (i = 0; i < CHECK_RECORD_NPARAMS; i++)
		p[i] = buf[i];
	p[3] = k->location;
	if (sess_send(s, SS_RECORD, record_batch_sql, CHECK_RECORD_NPARAMS,
	    p) == -1 && s->db != NULL) {
		/* Refused, not lost: each goes alone. */
		k->solo = k->sending.n;
		q_requeue(&k->done, &k->sending);
	} else if (s->db == NULL)
		q_requeue(&k->done, &k->sending);
	for (i = 0; i < CHECK_RECORD_NPARAMS; i++)
		free(buf[i]);
}

/*
 * The batch is in: the results at the positions the statement names
 * (their monitors were held elsewhere) go back to wait for the next
 * batch, the others are done.
 */
static void
recorded(struct checker *k, const char *skipped)
{
	struct queue	 again;
	struct check	*c;
	struct logline	 l;
	const char	*p = skipped;
	char		*e;
	long		 pos = 0, next;

	q_init(&again);
	next = p != NULL && *p == '{' ? strtol(p + 1, &e, 10) : 0;
	if (next > 0)
		p = e;
	while ((c = q_pop(&k->sending)) != NULL) {
		if (++pos == next) {
			c->done_ms = wall_ms();
			q_push(&again, c);
			next = *p == ',' ? strtol(p + 1, &e, 10) : 0;
			if (next > 0)
				p = e;
			continue;
		}
		if (log_enabled(LOG_DEBUG)) {
			log_begin(&l, LOG_DEBUG, "check done");
			log_str(&l, "monitor_id", c->spec.monitor_id);
			log_str(&l, "due", c->spec.due);
			log_str(&l, "at", c->res.at);
			log_str(&l, "error", c->res.error);
			log_dbl(&l, "total_ms", c->res.total_ms);
			log_end(&l);
		}
		check_free(c);
	}
	q_requeue(&k->done, &again);
}

static void
record_read(struct checker *k)
{
	PGresult	*res;
	struct check	*c;

	if (!sess_read(&k->records, &res))
		return;
	if (res != NULL) {
		recorded(k, PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
		    PQgetvalue(res, 0, 0) : NULL);
		PQclear(res);
	} else if (k->records.db == NULL) {
		/* Sent again after the reconnection (not twice: see
		 * record_batch_sql). */
		q_requeue(&k->done, &k->sending);
	} else if (k->sending.n > 1) {
		/* A row the database refused: find it alone. */
		k->solo = k->sending.n;
		q_requeue(&k->done, &k->sending);
	} else
		while ((c = q_pop(&k->sending)) != NULL)
			lose(k, c);
}

static void
reap(struct checker *k)
{
	struct check	*c;
	CURLMsg		*m;
	int		 left;

	while ((m = curl_multi_info_read(k->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		c = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&c);
		curl_multi_remove_handle(k->multi, m->easy_handle);
		k->inflight--;
		if (c == NULL)
			continue;
		check_done(c, m->data.result);
		/* Only the spec and the result are kept for the record. */
		curl_easy_cleanup(c->easy);
		c->easy = NULL;
		free(c->body);
		c->body = NULL;
		if (k->done.n + k->sending.n >= RESULTS_MAX(
		    k->cfg->monitors.concurrency)) {
			lose(k, c);
			continue;
		}
		c->done_ms = wall_ms();
		q_push(&k->done, c);
	}
}

/* The sessions' sockets for curl_multi_poll; how many. */
static unsigned
sess_fds(struct checker *k, struct curl_waitfd *fd)
{
	struct session	*s[2] = { &k->claims, &k->records };
	unsigned	 n = 0;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (s[i]->db == NULL || s[i]->inflight == SS_NONE ||
		    PQsocket(s[i]->db) < 0)
			continue;
		fd[n].fd = PQsocket(s[i]->db);
		fd[n].events = CURL_WAIT_POLLIN |
		    (s[i]->flushing ? CURL_WAIT_POLLOUT : 0);
		fd[n].revents = 0;
		n++;
	}
	return n;
}

int
checker_count(const struct config *cfg)
{
	return cfg->monitors.checkers;
}

void
checker_proc_main(int slot, const struct config *cfg, int lfd)
{
	struct checker		 k;
	struct check		*c;
	struct curl_waitfd	 fd[2];
	int64_t			 now, wait, drain_until = 0;
	int			 running;
	unsigned		 nfd;

	(void)slot;
	proc_child_init("checker", lfd, on_stop);

	memset(&k, 0, sizeof(k));
	k.cfg = cfg;
	k.claims.name = "claim";
	k.records.name = "record";
	k.claims.backoff_ms = k.records.backoff_ms = 500;
	q_init(&k.done);
	q_init(&k.sending);
	if (cfg->monitors.location != NULL && cfg->monitors.location[0])
		snprintf(k.location, sizeof(k.location), "%s",
		    cfg->monitors.location);
	else if (gethostname(k.location, sizeof(k.location) - 1) == -1)
		snprintf(k.location, sizeof(k.location), "unknown");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (k.multi = curl_multi_init()) == NULL) {
		log_error("checker: libcurl failed to initialise");
		exit(1);
	}
	log_info("checker started; concurrency %d, location %s, "
	    "allow_private %s", cfg->monitors.concurrency, k.location,
	    cfg->monitors.allow_private ? "true" : "false");

	for (;;) {
		if (stop && drain_until == 0) {
			/* Stop claiming; what waits is dropped (its due time
			 * is past for the schedule), what runs may finish and
			 * what is done is recorded. */
			drain_until = wall_ms() + DRAIN_MS;
			while ((c = k.waiting) != NULL) {
				k.waiting = c->next;
				check_free(c);
			}
			k.nwaiting = 0;
		}
		if (drain_until != 0 && ((k.inflight == 0 && k.done.n == 0 &&
		    k.sending.n == 0) || wall_ms() >= drain_until))
			break;
		/* Starting due checks comes first; the database's answers
		 * are read when they are there, never waited for. */
		if (drain_until == 0) {
			start_due(&k);
			claim_read(&k);
			claim_send(&k);
			start_due(&k);
		}
		record_read(&k);
		record_send(&k, drain_until != 0);
		now = wall_ms();
		wait = k.next_claim_ms - now;
		if (k.claims.inflight != SS_NONE || drain_until != 0)
			wait = 1000;
		if (k.waiting != NULL && k.waiting->due_ms - now < wait)
			wait = k.waiting->due_ms - now;
		if (k.claims.db == NULL && k.claims.retry_ms - now < wait)
			wait = k.claims.retry_ms - now;
		if (k.done.n > 0 && k.records.inflight == SS_NONE) {
			if (k.records.db == NULL) {
				if (k.records.retry_ms - now < wait)
					wait = k.records.retry_ms - now;
			} else if (k.done.head->done_ms + RECORD_LINGER_MS -
			    now < wait)
				wait = k.done.head->done_ms +
				    RECORD_LINGER_MS - now;
		}
		if (wait > 1000)
			wait = 1000;
		if (wait < 0)
			wait = 0;
		nfd = sess_fds(&k, fd);
		curl_multi_poll(k.multi, fd, nfd, (int)wait, NULL);
		curl_multi_perform(k.multi, &running);
		reap(&k);
	}
	log_info("checker stopping; %d checks abandoned, %d results not "
	    "recorded", k.inflight, k.done.n + k.sending.n);
	if (k.claims.db != NULL)
		PQfinish(k.claims.db);
	if (k.records.db != NULL)
		PQfinish(k.records.db);
	exit(0);
}
