/*
 * shares.c -- share links (SPEC §4 "Share links"): create, list and
 * revoke the links of a dashboard (editors), and the login-free read
 * GET /api/v1/shared/{token}.
 *
 * Owns: the shares statement table, token generation (256 bits from
 * getrandom, "dsh_" + 43 base64url characters) and the validation of
 * a create request.  PostgreSQL hashes tokens (sha256), parses and
 * tests CIDRs (cidr, inet <<= cidr), decides expiry and use counts,
 * builds every document, and writes the audit row of every shared
 * read in the read's own statement (migrations/0004_share_links,
 * 0014_audit_write: misses of unknown tokens are counted per client
 * network and minute, the first of each audited).
 * Never: store, log or audit a token (it leaves this process once, in
 * the 201 body; the database gets it only as a statement parameter,
 * stores its sha256() and echoes it into that body); tell a share-link
 * client why it was refused (every refusal is the same 404, the audit
 * row holds the reason); serve a shared document without its audit row.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "api/common.h"
#include "audit.h"
#include "db.h"
#include "http.h"
#include "text.h"
#include "module.h"
#include "log.h"
#include "validate.h"

#define TOKEN_PREFIX		"dsh_"
#define TOKEN_BYTES		32	/* 256 random bits */
#define TOKEN_B64_LEN		43	/* ceil(256 / 6), no padding */
#define TOKEN_LEN		(sizeof(TOKEN_PREFIX) - 1 + TOKEN_B64_LEN)
#define NOTE_MAX		500	/* characters */
#define CIDRS_MAX		100
#define UUID_LEN		36

enum {
	SH_CREATE, SH_LIST, SH_REVOKE, SH_OPEN, SH__COUNT
};

static const struct stmt_def defs[SH__COUNT] = {
	/*
	 * $1 project, $2 dashboard, $3 expiresAt or NULL, $4 lifetime in
	 * ms (when $3 is NULL), $5 token, $6 allowedCidrs (JSON array),
	 * $7 pin the current version, $8 maxUses or NULL, $9 note, $10
	 * creator, $11 shares.max_ttl in ms, $12 shares.url_prefix.  The
	 * expiry is checked against now() here, where it is stored; no
	 * link row unless the dashboard is live and the expiry is in
	 * (now, now + max_ttl].  A bad CIDR fails the statement with
	 * 22P02 naming it (share_cidrs).
	 */
	[SH_CREATE] = { "share_create",
	    "WITH d AS (SELECT d.id, d.version FROM dashboard d"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL),"
	    " e AS (SELECT coalesce($3::timestamptz,"
	    " now() + $4::bigint * interval '1 millisecond') AS at),"
	    " ins AS (INSERT INTO share_token (dashboard_id, token_hash,"
	    " allowed_cidrs, pinned_version, max_uses, expires_at, note,"
	    " created_by)"
	    " SELECT d.id, sha256(convert_to($5::text, 'UTF8')),"
	    " share_cidrs($6::jsonb), CASE WHEN $7::boolean THEN d.version END,"
	    " $8::int, e.at, $9::text, $10::text FROM d, e"
	    " WHERE e.at > now()"
	    " AND e.at <= now() + $11::bigint * interval '1 millisecond'"
	    " RETURNING *)"
	    " SELECT EXISTS (SELECT 1 FROM d) AS found,"
	    " e.at > now() AS future,"
	    " e.at <= now() + $11::bigint * interval '1 millisecond' AS within,"
	    " i.id,"
	    " jsonb_build_object('id', i.id, 'token', $5::text,"
	    " 'url', $12::text || $5::text,"
	    " 'expiresAt', rfc3339(i.expires_at),"
	    " 'allowedCidrs', to_jsonb(i.allowed_cidrs),"
	    " 'pinnedVersion', i.pinned_version, 'maxUses', i.max_uses,"
	    " 'note', i.note)::text AS doc,"
	    " jsonb_build_object('dashboard', $2::text,"
	    " 'expiresAt', rfc3339(i.expires_at),"
	    " 'allowedCidrs', to_jsonb(i.allowed_cidrs),"
	    " 'pinnedVersion', i.pinned_version,"
	    " 'maxUses', i.max_uses)::text AS details"
	    " FROM e LEFT JOIN ins i ON true", 12 },

	/*
	 * Newest first, keyset paging on (created_at, id): $3 the last
	 * key's created_at in microseconds since the epoch, $4 its id, $5
	 * the rows (NULL: all).  For api_list(): a row per link and its
	 * key; no row when the dashboard is missing, one NULL row when it
	 * has no link (after the cursor).
	 */
	[SH_LIST] = { "share_list",
	    "SELECT l.doc, l.k FROM dashboard d LEFT JOIN LATERAL ("
	    " SELECT (share_link_doc(s) || share_link_uses(s))::text AS doc,"
	    " (extract(epoch FROM s.created_at) * 1000000)::bigint::text"
	    " || '/' || s.id AS k FROM share_token s"
	    " WHERE s.dashboard_id = d.id AND ($3::bigint IS NULL"
	    " OR (s.created_at, s.id) <"
	    " (timestamptz 'epoch' + $3::bigint * interval '1 microsecond',"
	    " $4::uuid))"
	    " ORDER BY s.created_at DESC, s.id DESC LIMIT $5::int) l ON true"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL", 5, STMT_READONLY },

	/*
	 * Revoke link $3 of dashboard $1/$2, once: the lock makes a
	 * concurrent second revoke see the first and change nothing.
	 */
	[SH_REVOKE] = { "share_revoke",
	    "WITH d AS (SELECT d.id FROM dashboard d"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL),"
	    " link AS (SELECT s.id FROM share_token s"
	    " JOIN d ON s.dashboard_id = d.id WHERE s.id = $3::uuid"
	    " FOR UPDATE OF s),"
	    " rev AS (UPDATE share_token s SET revoked_at = now(),"
	    " revoked_by = $4::text FROM link"
	    " WHERE s.id = link.id AND s.revoked_at IS NULL RETURNING s.id)"
	    " SELECT EXISTS (SELECT 1 FROM d) AS found,"
	    " EXISTS (SELECT 1 FROM link) AS link,"
	    " EXISTS (SELECT 1 FROM rev) AS revoked", 4 },

	/*
	 * GET /api/v1/shared/{token} in one round trip: $1 the token
	 * (NULL when malformed), $2 the client address (NULL when not an
	 * IP), $3 the server's request id, $4 malformed, $5 the client's
	 * request id.  No lock: the refusal is decided on the statement's
	 * snapshot.  use touches the link's row only when it must: a link
	 * with maxUses takes a use with the max_uses test in its own WHERE
	 * (of N concurrent readers of a link with k uses left, exactly k
	 * succeed: a waiting UPDATE re-tests the newest row); a link
	 * without takes the views since its last touch at most once a
	 * minute (share_link_uses() adds those after it from the audit
	 * log), so views of one link do not queue on its row.  miss
	 * counts a token no link has per client network and minute; only
	 * the first of each (network, minute) is audited.  Every other
	 * attempt writes exactly one audit row, through audit_write(), with
	 * its true reason.  Only a miss commits asynchronously (a crash
	 * may lose that last moment's miss counts); every view and
	 * refusal of a real link is durable before it is answered, and
	 * that flush is most of a view's cost (make bench: "GET
	 * shared/{token} vs SQL" runs this statement alone, with one
	 * pgbench client per worker).  Returns ok and the document: the
	 * pinned version, or the current one.
	 */
	[SH_OPEN] = { "share_open",
	    "WITH cur AS MATERIALIZED (SELECT s.id, s.pinned_version,"
	    " s.max_uses, d AS dr, share_refusal(s, d, $2::inet) AS refusal"
	    " FROM share_token s JOIN dashboard d ON d.id = s.dashboard_id"
	    " WHERE s.token_hash = sha256(convert_to($1::text, 'UTF8'))),"
	    " doc AS (SELECT c.id, v.version, v.body FROM cur c"
	    " CROSS JOIN LATERAL ("
	    " SELECT (c.dr).version AS version,"
	    " (c.dr).doc AS body"
	    " WHERE c.pinned_version IS NULL"
	    " OR c.pinned_version = (c.dr).version"
	    " UNION ALL"
	    " SELECT h.version, h.doc"
	    " FROM dashboard_version h WHERE h.dashboard_id = (c.dr).id"
	    " AND h.version = c.pinned_version"
	    " AND c.pinned_version <> (c.dr).version) v"
	    " WHERE c.refusal IS NULL),"
	    " use AS (UPDATE share_token s SET use_count = s.use_count + 1"
	    " + CASE WHEN s.max_uses IS NULL AND s.last_used_at IS NOT NULL"
	    " THEN (SELECT count(*) FROM audit_log a"
	    " WHERE a.actor = 'share:' || s.id AND a.at > s.last_used_at"
	    " AND a.action = 'share.view') ELSE 0 END,"
	    " last_used_at = now() FROM doc"
	    " WHERE s.id = doc.id AND s.revoked_at IS NULL"
	    " AND s.expires_at > now()"
	    " AND CASE WHEN s.max_uses IS NULL THEN s.last_used_at IS NULL"
	    " OR s.last_used_at <= now() - interval '1 minute'"
	    " ELSE s.use_count < s.max_uses END"
	    " RETURNING s.id),"
	    " out AS (SELECT c.id, (c.dr).project AS project,"
	    " (c.dr).name AS dashboard, c.pinned_version, doc.version,"
	    " doc.body, ok.ok,"
	    " CASE WHEN ok.ok THEN NULL"
	    " WHEN c.id IS NULL THEN 'unknown'"
	    " WHEN c.refusal IS NOT NULL THEN c.refusal"
	    " WHEN doc.id IS NULL THEN 'version_gone'"
	    " ELSE 'exhausted' END AS reason"
	    " FROM (VALUES (1)) AS one (o) LEFT JOIN cur c ON true"
	    " LEFT JOIN doc ON doc.id = c.id LEFT JOIN use u ON u.id = c.id"
	    " CROSS JOIN LATERAL (SELECT doc.id IS NOT NULL"
	    " AND (c.max_uses IS NULL OR u.id IS NOT NULL) AS ok) ok),"
	    " miss AS (INSERT INTO share_miss AS m (network, minute, malformed)"
	    " SELECT share_network($2::inet), date_trunc('minute', now()),"
	    " CASE WHEN $4::boolean THEN 1 ELSE 0 END FROM out o"
	    " WHERE o.id IS NULL"
	    " ON CONFLICT (network, minute) DO UPDATE"
	    " SET misses = m.misses + 1,"
	    " malformed = m.malformed + EXCLUDED.malformed"
	    " RETURNING m.misses = 1 AS first)"
	    " SELECT o.ok, CASE WHEN o.ok THEN o.body END AS doc,"
	    " CASE WHEN o.id IS NOT NULL OR (SELECT first FROM miss)"
	    " THEN audit_write(coalesce('share:' || o.id, 'anonymous'),"
	    " CASE WHEN o.ok THEN 'share.view' ELSE 'share.denied' END,"
	    " o.project, o.id::text, CASE WHEN o.ok THEN o.version END,"
	    " CASE WHEN o.ok THEN 'success' ELSE 'denied' END,"
	    " $2::inet, $3::text,"
	    " jsonb_strip_nulls(jsonb_build_object('reason', o.reason,"
	    " 'dashboard', o.dashboard,"
	    " 'pinnedVersion', o.pinned_version,"
	    " 'malformed', CASE WHEN $4::boolean THEN true END,"
	    " 'network', CASE WHEN o.id IS NULL"
	    " THEN share_network($2::inet)::text END,"
	    " 'counted', CASE WHEN o.id IS NULL THEN true END)),"
	    " $5::text) END AS audit_id,"
	    /* Only the count of misses of unknown tokens may be lost in a
	     * crash; every view and refusal of a real link is durable. */
	    " set_config('synchronous_commit', CASE WHEN o.id IS NULL"
	    " THEN 'off' ELSE 'on' END, true) AS sync"
	    " FROM out o",
	    5 },
};
static const struct stmt_set shares_stmts = { "shares", defs, SH__COUNT };

/* ------------------------------------------------------------------ */
/* Small helpers */

/* The characters of a token after its prefix (base64url, unpadded). */
static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
dashboard_not_found(struct req *r)
{
	http_error(r, 404, "not_found", "dashboard \"%s\" not found in "
	    "project \"%s\"", api_param(r, "name"), api_param(r, "project"));
}

/*
 * Run one of our statements: api_run(), and every one of them returns
 * exactly one row.  NULL after answering; else the caller's result to
 * PQclear.
 */
static PGresult *
run(struct req *r, size_t stmt, int n, const char *const *p)
{
	PGresult	*res;

	if ((res = api_run(r, &shares_stmts, stmt, n, p)) == NULL ||
	    PQntuples(res) == 1)
		return res;
	log_error("%s: %d rows, expected 1", defs[stmt].name, PQntuples(res));
	http_error(r, 500, "internal_error", "internal error");
	PQclear(res);
	return NULL;
}

/* Column `name` of row 0: its text, or NULL for SQL NULL. */
static const char *
col(const PGresult *res, const char *name)
{
	int	 c = PQfnumber(res, name);

	return c < 0 ? NULL : api_val(res, c);
}

static int
col_bool(const PGresult *res, const char *name)
{
	int	 c = PQfnumber(res, name);

	return c >= 0 && api_val_bool(res, c);
}

/* Column `name` of row 0 as the body. */
static void
send_col(struct req *r, int status, const PGresult *res, const char *name)
{
	api_send_col(r, status, res, PQfnumber(res, name));
}

/*
 * A new token in buf (TOKEN_LEN + 1).  Fails closed: -1 when the
 * kernel cannot give 256 random bits, never a weaker token.  The
 * encoding passes through the arena a; that copy is wiped here.
 */
static int
token_new(struct arena *a, char *buf)
{
	unsigned char	 raw[TOKEN_BYTES];
	char		*enc;
	size_t		 got = 0;
	ssize_t		 n;
	int		 rc = -1;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("getrandom failed: %s", n == -1 ?
			    strerror(errno) : "no bytes");
			goto out;
		}
		got += (size_t)n;
	}
	memcpy(buf, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	enc = api_b64url_encode(a, (const char *)raw, sizeof(raw));
	memcpy(buf + sizeof(TOKEN_PREFIX) - 1, enc, TOKEN_B64_LEN + 1);
	explicit_bzero(enc, TOKEN_B64_LEN);
	rc = 0;
out:
	explicit_bzero(raw, sizeof(raw));
	return rc;
}

/* Shaped like a token we issue?  (Else it cannot match: skip the hash.) */
static int
token_wellformed(const char *s)
{
	size_t	 p = sizeof(TOKEN_PREFIX) - 1;

	return s != NULL && strlen(s) == TOKEN_LEN &&
	    strncmp(s, TOKEN_PREFIX, p) == 0 &&
	    strspn(s + p, b64url_chars) == TOKEN_B64_LEN;
}

/* 8-4-4-4-12 hexadecimal digits. */
static int
uuid_ok(const char *s)
{
	size_t	 i;

	if (strlen(s) != UUID_LEN)
		return 0;
	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * The client address for the CIDR test and the audit row: REMOTE_ADDR
 * as nginx resolved it (realip), an IPv4-mapped IPv6 address as the
 * IPv4 address it is (so 10.0.0.0/8 matches ::ffff:10.1.2.3), NULL
 * when it is not an IP address at all (a unix socket peer): such a
 * client passes no CIDR.
 */
static const char *
client_addr(const struct req *r, char *buf, size_t len)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	const char	*a = r->remote_addr;

	if (a == NULL)
		return NULL;
	if (inet_pton(AF_INET, a, &a4) == 1)
		return a;
	if (inet_pton(AF_INET6, a, &a6) != 1)
		return NULL;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
		return inet_ntop(AF_INET, &a4, buf, (socklen_t)len);
	}
	return a;
}

/* A duration in the config's syntax ("30d", "1d12h", "1500ms"). */
static const char *
duration_text(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char	*unit;
		int64_t		 ms;
	} units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && o < len; i++) {
		if (ms / units[i].ms == 0)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%lld%s",
		    (long long)(ms / units[i].ms), units[i].unit);
		ms %= units[i].ms;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "0s");
	return buf;
}

/* ------------------------------------------------------------------ */
/* Create */

/* What a create request asks for, validated. */
struct share_in {
	const char		*expires_at;	/* RFC 3339, or NULL: ttl_ms */
	int64_t			 expires_in;	/* -1: not given */
	struct json_object	*cidrs;		/* NULL: any network */
	int			 pin;
	int64_t			 max_uses;	/* 0: no limit */
	const char		*note;
};

static const struct api_field cidr = { .type = API_STRING,
	.expect = "must be a string such as \"10.0.0.0/8\"" };

/*
 * The members of POST …/shares, each optional (null = absent).  Only
 * the shape of allowedCidrs: PostgreSQL's cidr type judges each
 * network.  Whether expiresAt lies in the future, and within max_ttl,
 * is the SQL's.
 */
static const struct api_field create_fields[] = {
	{ .name = "expiresIn", .type = API_DURATION, .flags = API_NULL_ABSENT,
	  .min = 1, .at = API_AT(struct share_in, expires_in) },
	{ .name = "expiresAt", .type = API_TIME, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct share_in, expires_at) },
	{ .name = "allowedCidrs", .type = API_ARRAY, .flags = API_NULL_ABSENT,
	  .max = CIDRS_MAX, .elem = &cidr,
	  .expect = "must be an array of networks such as "
	  "[\"10.0.0.0/8\", \"2001:db8::/32\"]",
	  .at = API_AT(struct share_in, cidrs) },
	{ .name = "pinVersion", .type = API_BOOL, .flags = API_NULL_ABSENT,
	  .at = API_AT(struct share_in, pin) },
	{ .name = "maxUses", .type = API_INT, .flags = API_NULL_ABSENT,
	  .min = 1, .max = INT_MAX,
	  .expect = "must be an integer from 1 to 2147483647, or null for "
	  "no limit", .at = API_AT(struct share_in, max_uses) },
	{ .name = "note", .type = API_STRING, .flags = API_NULL_ABSENT,
	  .max = NOTE_MAX, .at = API_AT(struct share_in, note) },
};
static const struct api_body create_body = { API_FIELDS(create_fields),
	"a share link has expiresIn or expiresAt, allowedCidrs, pinVersion, "
	"maxUses and note",
	"the body must be a JSON object {\"expiresIn\" or \"expiresAt\", "
	"\"allowedCidrs\", \"pinVersion\", \"maxUses\", \"note\"}" };

/*
 * The body of POST …/shares through the field table, then the rules of
 * the configuration.  0 with in filled (defaults for what is absent),
 * or -1 after answering 400 naming the member.
 */
static int
create_input(struct req *r, struct share_in *in)
{
	char	 max[32];

	memset(in, 0, sizeof(*in));
	in->expires_in = -1;
	in->note = "";
	if (api_body(r, &create_body, in) == -1)
		return -1;
	if (in->expires_in != -1 && in->expires_at != NULL) {
		api_invalid(r, "expiresIn, expiresAt: give one of them, not "
		    "both");
		return -1;
	}
	if (in->expires_in > r->cfg->shares.max_ttl) {
		api_invalid(r, "expiresIn: \"%.32s\" is longer than "
		    "shares.max_ttl (%s)", json_object_get_string(
		    json_object_object_get(r->json, "expiresIn")),
		    duration_text(r->cfg->shares.max_ttl, max, sizeof(max)));
		return -1;
	}
	return 0;
}

/*
 * The statement failed.  A bad CIDR is 22P02 from share_cidrs(), whose
 * message names the element: a 400 like every other bad field.
 */
static void
create_failed(struct req *r, PGresult *res)
{
	const char	*st, *msg, *code;
	int		 status;

	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
		log_error("%s: %d rows, expected 1", defs[SH_CREATE].name,
		    PQntuples(res));
		http_error(r, 500, "internal_error", "internal error");
		return;
	}
	st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (st != NULL && strcmp(st, "22P02") == 0 && msg != NULL &&
	    strncmp(msg, "allowedCidrs", 12) == 0) {
		api_invalid(r, "%s", msg);
		return;
	}
	status = db_http_status(res, &code, &msg);
	if (status == 500)
		log_error("%s failed: %s", defs[SH_CREATE].name, res != NULL ?
		    PQresultErrorMessage(res) : "no result");
	http_error(r, status, code, "%s", msg);
}

static void
api_share_create(struct req *r)
{
	struct share_in		 in;
	struct json_object	*details;
	const char		*p[12], *id;
	char			 token[TOKEN_LEN + 1], ttl[24], max[24], a[32];
	char			 uses[24];
	PGresult		*res = NULL;

	memset(token, 0, sizeof(token));
	if (create_input(r, &in) == -1)
		goto out;
	if (token_new(r->arena, token) == -1) {
		http_error(r, 500, "internal_error", "no random bytes for a "
		    "share token; nothing was created");
		goto out;
	}
	snprintf(ttl, sizeof(ttl), "%lld", (long long)(in.expires_in != -1 ?
	    in.expires_in : r->cfg->shares.default_ttl));
	if (in.max_uses > 0)
		snprintf(uses, sizeof(uses), "%lld", (long long)in.max_uses);
	snprintf(max, sizeof(max), "%lld", (long long)r->cfg->shares.max_ttl);
	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	p[2] = in.expires_at;
	p[3] = in.expires_at == NULL ? ttl : NULL;
	p[4] = token;
	p[5] = in.cidrs != NULL ? json_object_to_json_string_ext(in.cidrs,
	    JSON_C_TO_STRING_PLAIN) : "[]";
	p[6] = in.pin ? "t" : "f";
	p[7] = in.max_uses > 0 ? uses : NULL;
	p[8] = in.note;
	p[9] = r->actor;
	p[10] = max;
	p[11] = r->cfg->shares.url_prefix;
	res = db_run(&shares_stmts, SH_CREATE, 12, p);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1) {
		create_failed(r, res);
		goto out;
	}
	if (!col_bool(res, "found")) {
		dashboard_not_found(r);
		goto out;
	}
	if (!col_bool(res, "future")) {
		api_invalid(r, "expiresAt: \"%.64s\" is not in the future",
		    in.expires_at ? in.expires_at : "");
		goto out;
	}
	if (!col_bool(res, "within")) {
		api_invalid(r, "expiresAt: \"%.64s\" is further away than "
		    "shares.max_ttl (%s) from now", in.expires_at ?
		    in.expires_at : "", duration_text(r->cfg->shares.max_ttl,
		    a, sizeof(a)));
		goto out;
	}
	if ((id = col(res, "id")) == NULL) {
		log_error("%s: no link row and no reason", defs[SH_CREATE].name);
		http_error(r, 500, "internal_error", "internal error");
		goto out;
	}
	/* Small, built by PostgreSQL; never holds the token. */
	if ((details = json_tokener_parse(col(res, "details"))) == NULL) {
		log_error("%s: details are not JSON", defs[SH_CREATE].name);
		http_error(r, 500, "internal_error", "internal error");
		goto out;
	}
	if (audit_change(r, p[0], id, AUDIT_NO_VERSION, details) == -1)
		goto out;
	http_header(r, "Cache-Control", "no-store");
	send_col(r, 201, res, "doc");
out:
	explicit_bzero(token, sizeof(token));
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* List */

/*
 * ?cursor=: base64url of "<created_at µs>/<id>" from the previous
 * page's Link header.  Fills micros and id (NULL without a cursor).
 * 0, or -1 after answering 400.
 */
static int
list_cursor(struct req *r, const char **micros, const char **id)
{
	const char	*c = http_query(r, "cursor");
	char		*buf, *sl;
	size_t		 nd;

	*micros = *id = NULL;
	if (c == NULL)
		return 0;
	/* 80 characters decode to 60 bytes: the longest key is 56. */
	if (strlen(c) > 80 || (buf = api_b64url_decode(r->arena, c)) == NULL ||
	    (sl = strchr(buf, '/')) == NULL)
		goto bad;
	*sl = '\0';
	nd = strspn(buf + (buf[0] == '-'), "0123456789");
	if (nd == 0 || nd > 18 || buf[(buf[0] == '-') + nd] != '\0' ||
	    !uuid_ok(sl + 1))
		goto bad;
	*micros = buf;
	*id = sl + 1;
	return 0;
bad:
	http_error(r, 400, "bad_request", "cursor: \"%.64s\" is not a cursor "
	    "of this list (use the Link header of the previous page)", c);
	return -1;
}

static void
api_shares_list(struct req *r)
{
	const char	*p[5];

	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	if (list_cursor(r, &p[2], &p[3]) == -1)
		return;
	api_list(r, &shares_stmts, SH_LIST, 5, p, dashboard_not_found);
}

/* ------------------------------------------------------------------ */
/* Revoke */

static void
api_share_revoke(struct req *r)
{
	struct json_object	*d;
	const char		*p[4], *id = api_param(r, "id");
	PGresult		*res;
	int			 revoked;

	if (!uuid_ok(id)) {
		http_error(r, 400, "bad_request", "id: \"%.64s\" is not a share "
		    "link id (a UUID such as "
		    "\"7d444840-9dc0-11d1-b245-5ffdce74fad2\")", id);
		return;
	}
	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	p[2] = id;
	p[3] = r->actor;
	if ((res = run(r, SH_REVOKE, 4, p)) == NULL)
		return;
	if (!col_bool(res, "found")) {
		dashboard_not_found(r);
		goto out;
	}
	if (!col_bool(res, "link")) {
		http_error(r, 404, "not_found", "share link \"%s\" not found "
		    "on dashboard \"%s\"", id, p[1]);
		goto out;
	}
	/* Idempotent: revoking a revoked link is a success, audited too. */
	revoked = col_bool(res, "revoked");
	d = json_object_new_object();
	json_object_object_add(d, "dashboard", json_object_new_string(p[1]));
	json_object_object_add(d, "alreadyRevoked",
	    json_object_new_boolean(!revoked));
	if (audit_change(r, p[0], id, AUDIT_NO_VERSION, d) == -1)
		goto out;
	http_send(r, 204, NULL, NULL, 0);
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* The shared read */

/*
 * GET /api/v1/shared/{token}: one statement (SH_OPEN) hashes the
 * token, decides, takes a use, writes the audit row and returns the
 * document.  Every refusal answers the same bytes and headers.
 */
static void
api_shared_get(struct req *r)
{
	const char	*p[5], *tok = api_param(r, "token");
	char		 addr[INET6_ADDRSTRLEN];
	int		 wellformed = token_wellformed(tok);
	PGresult	*res;

	/* On every answer, errors included: nothing here may be cached,
	 * and a page showing it must not hand its URL on. */
	http_header(r, "Cache-Control", "no-store");
	http_header(r, "Referrer-Policy", "no-referrer");
	p[0] = wellformed ? tok : NULL;
	p[1] = client_addr(r, addr, sizeof(addr));
	p[2] = r->own_id;
	p[3] = wellformed ? "f" : "t";
	p[4] = r->client_id ? r->request_id : NULL;
	if ((res = run(r, SH_OPEN, 5, p)) == NULL)
		return;
	if (col_bool(res, "ok"))
		send_col(r, 200, res, "doc");
	else
		http_error(r, 404, "not_found", "share link not found");
	PQclear(res);
}

static const struct route routes[] = {
	{ "POST", ROUTE_DASHBOARD "/shares", api_share_create, R_API | R_JSON,
	    ROLE_EDITOR, "share.create" },
	{ "GET",  ROUTE_DASHBOARD "/shares", api_shares_list, R_API, ROLE_EDITOR,
	    NULL },
	{ "DELETE", ROUTE_DASHBOARD "/shares/{id}", api_share_revoke, R_API, ROLE_EDITOR,
	    "share.revoke" },
	{ "GET",  "/api/v1/shared/{token}", api_shared_get,
	    R_DB | R_SECRET_PATH, ROLE_NONE, NULL },
};

static const struct stmt_set *const stmt_sets[] = { &shares_stmts, NULL };

/* Links stay listed (as expired) for a while; 0 removes them at once. */
static int
p_grace(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", (long long)cfg->shares.cleanup_grace);
	return 1;
}

static const struct job jobs[] = {
	{ "expired_tokens", "deleted",
	  "SELECT cleanup_expired_tokens("
	  "$1::bigint * interval '1 millisecond')", p_grace, NULL, 0 },
	/* The miss counts go with the audit rows they stand for. */
	{ "share_misses", "deleted",
	  "SELECT share_miss_trim($1::bigint * interval '1 millisecond')",
	  audit_retention_param,
	  "audit.retention is 0: share-link miss counts kept", 14 },
};

const struct module shares_module = {
	.name = "shares",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = jobs,
	.njobs = sizeof(jobs) / sizeof(jobs[0]),
};
