/*
 * dashboards.c -- the dashboards routes: Perses Dashboard documents,
 * optimistic locking, version history, states, the trash, export and
 * import.
 *
 * Owns: the dashboards statement table (defs[]) and the mapping of
 * each handler's one result row to an answer.  PostgreSQL builds every
 * document (dashboard_doc(), dashboard_version_doc()), once, when it
 * is written: the rows keep the text (migrations/0020) and reads
 * stream it; C validates input, picks the statement, and streams the
 * text it gets.
 * Every write is one statement: a data-modifying CTE that locks the
 * row, checks the version in its WHERE clause (If-Match: the current
 * version; a body metadata.version: no version after it by another
 * user, decided from the locked row, see STALE), copies the superseded
 * version into dashboard_version and trims history, so of N writers
 * holding the same version exactly one wins, and no version is lost.
 * Lists return a row per item for api_list(), which streams them.
 * Never: parse or re-serialise a stored document in C; build SQL from
 * input; answer success for a change without its audit row (dispatch
 * commits only then).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "module.h"
#include "validate.h"

#define CHANGE_MESSAGE_MAX	1000	/* characters of X-Change-Message */
#define ETAGS_MAX		32	/* versions read from If-None-Match */

/*
 * SQL shared by several statements.  Parameter numbers are part of
 * each fragment: a statement using one lays out its $n to match.
 */

/* A LIKE pattern matching x literally (backslash is LIKE's escape). */
#define LIKE_ESC(x)							\
	"replace(replace(replace(" x ", '\\', '\\\\'), '%', '\\%'), '_', '\\_')"

/*
 * metadata.tags of a document as text[] ('{}' when absent), duplicates
 * dropped and the first of each kept, as Perses stores them: the
 * document itself is stored as the client sent it (exact numbers).
 */
#define TAGS_OF(doc)							\
	"CASE WHEN jsonb_typeof(" doc " -> 'metadata' -> 'tags') = 'array'" \
	" THEN ARRAY(SELECT e.t FROM jsonb_array_elements_text(" doc	\
	" -> 'metadata' -> 'tags') WITH ORDINALITY e (t, n)"		\
	" GROUP BY e.t ORDER BY min(e.n)) ELSE '{}'::text[] END"

/* The live dashboard named by $1 (project) and $2 (name), locked. */
#define CUR_LOCKED							\
	"cur AS (SELECT d.* FROM dashboard d"				\
	" WHERE d.project = $1::text AND d.name = $2::text"		\
	" AND d.deleted_at IS NULL FOR UPDATE)"

/* The version cur held goes to history, only if upd changed it. */
#define HIST								\
	"hist AS (INSERT INTO dashboard_version (dashboard_id, version,"\
	" spec, tags, state, updated_at, updated_by, message, restored_from,"\
	" doc) SELECT c.id, c.version, c.spec, c.tags, c.state,"	\
	" c.updated_at, c.updated_by, c.message, c.restored_from, c.doc" \
	" FROM cur c JOIN upd u ON u.id = c.id)"

/*
 * Keep the newest `limit` superseded versions (0 = all).  Versions
 * grow by one per change, so those older than new - limit go; the row
 * hist inserts (new - 1) is never among them.  The DELETE is planned
 * for its values on every call (migrations/0020: a generic plan made
 * while history was tiny scanned all of it ever after), so it runs in
 * dashboard_trim_history(); a query must read `trimmed` (TRIMMED) for
 * it to run.
 */
#define TRIM(limit)							\
	"trimmed AS (SELECT dashboard_trim_history(u.id, u.version,"	\
	" " limit "::bigint) AS n FROM upd u)"
#define TRIMMED	" CROSS JOIN (SELECT count(*) FROM trimmed) tr"

/*
 * stale: one row (v, vby, vat): the newest version after `base` that
 * someone other than `who` wrote, with its author and time, read from
 * cur, the locked row -- the current version if another user wrote
 * it, else other_version, the newest by someone other than the
 * current author, which migrations/0006 keeps on the row.  A base
 * beyond the current version is no version of this dashboard (it was
 * deleted and made again): stale as of the current version.  NULLs
 * when the edit is not stale, or base is NULL.
 */
#define STALE(base, who)						\
	"stale AS (SELECT s.v, s.vby, s.vat FROM cur c LEFT JOIN LATERAL ("\
	" SELECT c.version, c.updated_by, c.updated_at"			\
	" WHERE " base " > c.version"					\
	" OR (c.version > " base " AND c.updated_by <> " who ")"	\
	" UNION ALL SELECT c.other_version, c.other_by, c.other_at"	\
	" WHERE c.other_version > " base				\
	" ORDER BY 1 DESC LIMIT 1) s (v, vby, vat) ON true)"

/* List filters: $2 name prefix, $3 tag, $4 states; live rows only. */
#define LIST_WHERE							\
	" AND d.deleted_at IS NULL"					\
	" AND d.state = ANY ($4::text[])"				\
	" AND ($2::text IS NULL OR d.name LIKE " LIKE_ESC("$2::text")	\
	" || '%')"							\
	" AND ($3::text IS NULL OR d.tags @> ARRAY[$3::text])"

/* Across projects: $1 one project or NULL, $7 all, else $6's roles. */
#define LIST_VISIBLE							\
	" AND ($1::text IS NULL OR d.project = $1::text)"		\
	" AND ($7::boolean OR EXISTS (SELECT 1 FROM project_member m"	\
	" WHERE m.project = d.project AND m.user_name = $6::text))"

/* ?q=: trigram similarity or substring, both served by the GIN index. */
#define SEARCH_MATCH(q)							\
	" AND (d.display_name % " q " OR d.display_name ILIKE '%' || "	\
	LIKE_ESC(q) " || '%')"

/*
 * A list item: the document, or with $5 (metadata_only) kind, metadata
 * and an empty spec, as Perses sends them (the Perses UI reads
 * spec.display of every item and fails on a missing spec).  Both are
 * rendered when the row is written (migrations/0020).
 */
#define LIST_ITEM(d)							\
	"CASE WHEN $5::boolean THEN " d ".list_doc ELSE " d ".doc END"

enum {
	DS_GET, DS_GET_CUR, DS_LIST, DS_SEARCH, DS_LIST_ALL, DS_SEARCH_ALL, DS_CREATE,
	DS_UPDATE, DS_DELETE, DS_VERSIONS, DS_RESTORE, DS_STATE_GET,
	DS_STATE_PUT, DS_TRASH, DS_UNTRASH, DS_EXPORT, DS_IMPORT, DS__COUNT
};

static const struct stmt_def defs[DS__COUNT] = {
	/*
	 * The hot path, one statement: does the project exist, the
	 * caller's role ($3), the current version, and the document --
	 * current, or version $4, as stored when it was written --
	 * unless its version is one the client holds ($5 If-None-Match
	 * versions, $6 "*"): then NULL, a 304.  The dashboard is looked
	 * at only when the caller may read the project ($7, or a role):
	 * a refusal costs the same whether it exists or not, and however
	 * big it is (issue 16, item 4).  dashboard_get() (migrations/0020)
	 * is PL/pgSQL so that its plans stay cached behind a pooler too.
	 */
	[DS_GET] = { "dash_get",
	    "SELECT * FROM dashboard_get($1::text, $2::text, $3::text,"
	    " $4::int, $5::int[], $6::boolean, $7::boolean)", 7,
	    STMT_READONLY },
	/*
	 * The same for the current version ($4 NULL) as a named prepared
	 * statement, where one is kept: the plain join, without the
	 * function call and its result store around it.
	 */
	[DS_GET_CUR] = { "dash_get_cur",
	    "SELECT EXISTS (SELECT 1 FROM project j WHERE j.name = $1::text),"
	    " a.r, x.version, x.version, x.doc"
	    " FROM (SELECT (SELECT m.role FROM project_member m"
	    " WHERE m.project = $1::text AND m.user_name = $3::text) AS r) a"
	    " LEFT JOIN LATERAL (SELECT d.version, CASE WHEN $6::boolean"
	    " OR d.version = ANY ($5::int[]) THEN NULL ELSE d.doc END AS doc"
	    " FROM dashboard d WHERE ($7::boolean OR a.r IS NOT NULL)"
	    " AND $4::int IS NULL AND d.project = $1::text"
	    " AND d.name = $2::text AND d.deleted_at IS NULL) x ON true", 7,
	    STMT_READONLY },

	/*
	 * Lists, for api_list(): a row per item and its key.  $1-$5 as
	 * LIST_WHERE and LIST_ITEM say; across projects $6 and $7 as
	 * LIST_VISIBLE says; with ?q= the query; then the cursor's fields;
	 * last the rows (NULL: all).
	 */
	[DS_LIST] = { "dash_list",
	    "SELECT " LIST_ITEM("d") ", d.name FROM dashboard d"
	    " WHERE d.project = $1::text" LIST_WHERE
	    " AND ($6::text IS NULL OR d.name > $6::text)"
	    " ORDER BY d.name LIMIT $7::int", 7, STMT_READONLY },
	[DS_SEARCH] = { "dash_search",
	    "SELECT " LIST_ITEM("m") ", m.sim::text || '/' || m.k"
	    " FROM (SELECT d.doc, d.list_doc, d.name AS k,"
	    " similarity(d.display_name, $6::text) AS sim FROM dashboard d"
	    " WHERE d.project = $1::text" LIST_WHERE SEARCH_MATCH("$6::text")
	    ") m WHERE $7::real IS NULL OR m.sim < $7::real"
	    " OR (m.sim = $7::real AND m.k > $8::text)"
	    " ORDER BY m.sim DESC, m.k LIMIT $9::int", 9, STMT_READONLY },
	[DS_LIST_ALL] = { "dash_list_all",
	    "SELECT " LIST_ITEM("d") ", d.project || '/' || d.name"
	    " FROM dashboard d WHERE true" LIST_VISIBLE LIST_WHERE
	    " AND ($8::text IS NULL"
	    " OR (d.project, d.name) > ($8::text, $9::text))"
	    " ORDER BY d.project, d.name LIMIT $10::int", 10, STMT_READONLY },
	[DS_SEARCH_ALL] = { "dash_search_all",
	    "SELECT " LIST_ITEM("m") ","
	    " m.sim::text || '/' || m.pr || '/' || m.k"
	    " FROM (SELECT d.doc, d.list_doc, d.project AS pr, d.name AS k,"
	    " similarity(d.display_name, $8::text) AS sim FROM dashboard d"
	    " WHERE true" LIST_VISIBLE LIST_WHERE SEARCH_MATCH("$8::text")
	    ") m WHERE $9::real IS NULL OR m.sim < $9::real"
	    " OR (m.sim = $9::real AND (m.pr, m.k) > ($10::text, $11::text))"
	    " ORDER BY m.sim DESC, m.pr, m.k LIMIT $12::int", 12, STMT_READONLY },

	/* A name taken by a live dashboard: no row, the caller says 409. */
	[DS_CREATE] = { "dash_create",
	    "INSERT INTO dashboard (project, name, spec, tags, created_by,"
	    " updated_by, message, state)"
	    " VALUES ($1::text, $2::text, $3::jsonb -> 'spec',"
	    " " TAGS_OF("$3::jsonb") ", $4::text, $4::text, $5::text,"
	    " $6::text)"
	    " ON CONFLICT (project, name) WHERE deleted_at IS NULL DO NOTHING"
	    " RETURNING version, doc", 6 },

	/*
	 * The lock, the version check and the write, in one statement.
	 * $3 If-Match: the current version must be $3.  $8 the body's
	 * metadata.version, the version the edit is based on: stale only
	 * when a version after it was written by someone else than the
	 * caller ($5) -- see STALE.  Both NULL: last write wins.  Under
	 * READ COMMITTED a writer that waited for the lock sees the
	 * committed row (EvalPlanQual), so cur is the row that is current
	 * when upd does or does not run: of N writers holding version n
	 * (and N users for $8) exactly one updates, the others learn the
	 * new version and who wrote it.
	 */
	[DS_UPDATE] = { "dash_update",
	    "WITH " CUR_LOCKED ", " STALE("$8::int", "$5::text") ","
	    " upd AS (UPDATE dashboard d SET spec = $4::jsonb -> 'spec',"
	    " tags = " TAGS_OF("$4::jsonb") ", version = d.version + 1,"
	    " updated_at = now(), updated_by = $5::text, message = $6::text,"
	    " restored_from = NULL FROM cur, stale"
	    " WHERE d.id = cur.id AND ($3::int IS NULL OR cur.version = $3::int)"
	    " AND stale.v IS NULL"
	    " RETURNING d.id, d.version, d.doc),"
	    " " HIST ", " TRIM("$7")
	    " SELECT c.version, u.version, u.doc, s.v, s.vby, rfc3339(s.vat)"
	    " FROM cur c CROSS JOIN stale s LEFT JOIN upd u ON u.id = c.id"
	    TRIMMED, 8 },

	/* To the trash: version and history unchanged. */
	[DS_DELETE] = { "dash_delete",
	    "WITH cur AS (SELECT d.id, d.version FROM dashboard d"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL FOR UPDATE),"
	    " del AS (UPDATE dashboard d SET deleted_at = now(),"
	    " deleted_by = $4::text FROM cur WHERE d.id = cur.id"
	    " AND ($3::int IS NULL OR cur.version = $3::int) RETURNING d.id)"
	    " SELECT c.version, EXISTS (SELECT 1 FROM del) FROM cur c", 4 },

	/*
	 * The current version first, then history, newest first; $3 the
	 * cursor, $4 the rows (NULL: all).  For api_list(): no row when
	 * the dashboard is missing, a NULL one when the cursor is past
	 * its last version.
	 */
	[DS_VERSIONS] = { "dash_versions",
	    "SELECT h.doc, h.version::text FROM dashboard d"
	    " LEFT JOIN LATERAL (SELECT x.version,"
	    " jsonb_build_object('version', x.version,"
	    " 'updatedAt', rfc3339(x.updated_at), 'updatedBy', x.updated_by,"
	    " 'message', x.message, 'restoredFrom', x.restored_from)::text"
	    " AS doc FROM (SELECT d.version, d.updated_at, d.updated_by,"
	    " d.message, d.restored_from UNION ALL"
	    " SELECT v.version, v.updated_at, v.updated_by, v.message,"
	    " v.restored_from FROM dashboard_version v"
	    " WHERE v.dashboard_id = d.id) x"
	    " WHERE $3::int IS NULL OR x.version < $3::int"
	    " ORDER BY x.version DESC LIMIT $4::int) h ON true"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NULL", 4, STMT_READONLY },

	/* A new version with version $4's spec and tags. */
	[DS_RESTORE] = { "dash_restore",
	    "WITH " CUR_LOCKED ","
	    " src AS (SELECT v.spec, v.tags FROM dashboard_version v"
	    " JOIN cur c ON v.dashboard_id = c.id WHERE v.version = $4::int"
	    " UNION ALL SELECT c.spec, c.tags FROM cur c"
	    " WHERE c.version = $4::int),"
	    " upd AS (UPDATE dashboard d SET spec = s.spec, tags = s.tags,"
	    " version = d.version + 1, updated_at = now(),"
	    " updated_by = $5::text, message = $6::text,"
	    " restored_from = $4::int FROM cur, src s"
	    " WHERE d.id = cur.id AND ($3::int IS NULL OR cur.version = $3::int)"
	    " RETURNING d.id, d.version, d.doc),"
	    " " HIST ", " TRIM("$7")
	    " SELECT c.version, EXISTS (SELECT 1 FROM src), u.version, u.doc"
	    " FROM cur c LEFT JOIN upd u ON u.id = c.id" TRIMMED, 7 },

	[DS_STATE_GET] = { "dash_state_get",
	    "SELECT version, jsonb_build_object('state', state, 'version',"
	    " version)::text FROM dashboard WHERE project = $1::text"
	    " AND name = $2::text AND deleted_at IS NULL", 2 },

	/* A state change is a version: $5 the states it may come from. */
	[DS_STATE_PUT] = { "dash_state_put",
	    "WITH " CUR_LOCKED ","
	    " upd AS (UPDATE dashboard d SET state = $4::text,"
	    " version = d.version + 1, updated_at = now(),"
	    " updated_by = $6::text, message = $7::text, restored_from = NULL"
	    " FROM cur WHERE d.id = cur.id"
	    " AND ($3::int IS NULL OR cur.version = $3::int)"
	    " AND cur.state = ANY ($5::text[])"
	    " RETURNING d.id, d.version, d.state),"
	    " " HIST ", " TRIM("$8")
	    " SELECT c.version, c.state, u.version,"
	    " jsonb_build_object('state', u.state, 'version', u.version)::text"
	    " FROM cur c LEFT JOIN upd u ON u.id = c.id" TRIMMED, 8 },

	/*
	 * Newest first; the key is (deleted_at in microseconds, id); $4
	 * the rows (NULL: all).
	 */
	[DS_TRASH] = { "dash_trash",
	    "SELECT jsonb_build_object('name', d.name, 'version', d.version,"
	    " 'deletedAt', rfc3339(d.deleted_at),"
	    " 'deletedBy', d.deleted_by)::text,"
	    " (extract(epoch FROM d.deleted_at) * 1000000)::bigint::text"
	    " || '/' || d.id FROM dashboard d"
	    " WHERE d.project = $1::text AND d.deleted_at IS NOT NULL"
	    " AND ($2::bigint IS NULL OR (d.deleted_at, d.id) <"
	    " (timestamptz 'epoch' + $2::bigint * interval '1 microsecond',"
	    " $3::bigint))"
	    " ORDER BY d.deleted_at DESC, d.id DESC LIMIT $4::int", 4 },

	/* The most recently deleted generation of the name, if free. */
	[DS_UNTRASH] = { "dash_untrash",
	    "WITH t AS (SELECT d.id FROM dashboard d"
	    " WHERE d.project = $1::text AND d.name = $2::text"
	    " AND d.deleted_at IS NOT NULL"
	    " ORDER BY d.deleted_at DESC, d.id DESC LIMIT 1 FOR UPDATE),"
	    " live AS (SELECT 1 FROM dashboard d WHERE d.project = $1::text"
	    " AND d.name = $2::text AND d.deleted_at IS NULL),"
	    " r AS (UPDATE dashboard d SET deleted_at = NULL, deleted_by = NULL"
	    " FROM t WHERE d.id = t.id AND NOT EXISTS (SELECT 1 FROM live)"
	    " RETURNING d.version, d.doc)"
	    " SELECT EXISTS (SELECT 1 FROM t), EXISTS (SELECT 1 FROM live),"
	    " r.version, r.doc FROM (VALUES (1)) AS one (o)"
	    " LEFT JOIN r ON true", 2 },

	[DS_EXPORT] = { "dash_export",
	    "SELECT d.doc FROM dashboard d"
	    " WHERE d.project = $1::text AND d.deleted_at IS NULL"
	    " ORDER BY d.name", 1, STMT_READONLY },

	/*
	 * Import: the NDJSON body ($2), already checked line by line in C,
	 * split and parsed here (once: doc is materialised).  Each line
	 * creates, updates (spec or tags differ: a new version and a
	 * history row) or leaves a dashboard as it is.  $4 (dry run)
	 * computes the same plan and writes nothing.  Returns the plan's
	 * counts and what was written, which differ only if a name was
	 * taken concurrently.
	 */
	[DS_IMPORT] = { "dash_import",
	    "WITH doc AS MATERIALIZED (SELECT l.t::jsonb AS j"
	    " FROM string_to_table($2::text, E'\\n') AS l (t)"
	    " WHERE btrim(l.t, E' \\t\\r') <> ''),"
	    " src AS (SELECT j -> 'metadata' ->> 'name' AS name,"
	    " j -> 'spec' AS spec, " TAGS_OF("j") " AS tags FROM doc),"
	    " cur AS (SELECT d.* FROM dashboard d JOIN src s"
	    " ON d.project = $1::text AND d.name = s.name"
	    " AND d.deleted_at IS NULL FOR UPDATE OF d),"
	    " plan AS (SELECT s.*, c.id, CASE WHEN c.id IS NULL THEN 'create'"
	    " WHEN c.spec = s.spec AND c.tags = s.tags THEN 'unchanged'"
	    " ELSE 'update' END AS action"
	    " FROM src s LEFT JOIN cur c ON c.name = s.name),"
	    " upd AS (UPDATE dashboard d SET spec = p.spec, tags = p.tags,"
	    " version = d.version + 1, updated_at = now(),"
	    " updated_by = $3::text, message = $6::text, restored_from = NULL"
	    " FROM plan p WHERE NOT $4::boolean AND p.action = 'update'"
	    " AND d.id = p.id RETURNING d.id, d.version,"
	    " octet_length(d.doc) AS len),"
	    " " HIST ", " TRIM("$5") ","
	    " ins AS (INSERT INTO dashboard (project, name, spec, tags,"
	    " created_by, updated_by, message)"
	    " SELECT $1::text, p.name, p.spec, p.tags, $3::text, $3::text,"
	    " $6::text FROM plan p WHERE NOT $4::boolean"
	    " AND p.action = 'create'"
	    " ON CONFLICT (project, name) WHERE deleted_at IS NULL DO NOTHING"
	    " RETURNING name, octet_length(doc) AS len),"
	    " big AS (SELECT w.name, w.len FROM (SELECT p.name, u.len"
	    " FROM upd u JOIN plan p ON p.id = u.id UNION ALL"
	    " SELECT i.name, i.len FROM ins i UNION ALL"
	    " SELECT p.name, octet_length(p.spec::text) FROM plan p"
	    " WHERE $4::boolean AND p.action <> 'unchanged') w"
	    " ORDER BY w.len DESC, w.name LIMIT 1)"
	    " SELECT n.created, n.updated, n.unchanged,"
	    " (SELECT count(*) FROM ins), (SELECT count(*) FROM upd),"
	    " jsonb_build_object('created', n.created, 'updated', n.updated,"
	    " 'unchanged', n.unchanged)::text,"
	    " (SELECT name FROM big), (SELECT len FROM big)"
	    " FROM (SELECT count(*) FILTER (WHERE action = 'create') AS created,"
	    " count(*) FILTER (WHERE action = 'update') AS updated,"
	    " count(*) FILTER (WHERE action = 'unchanged') AS unchanged"
	    " FROM plan) n" TRIMMED, 6 },
};
static const struct stmt_set dashboards_stmts = { "dashboards", defs, DS__COUNT };

/* ------------------------------------------------------------------ */
/* Small helpers */

/* A request header as nginx passes it (HTTP_IF_MATCH), or NULL. */
static const char *
header(const struct req *r, const char *param)
{
	return FCGX_GetParam(param, r->fcgi->envp);
}

/*
 * If-None-Match as the SQL wants it: the versions it names as an
 * int[] literal ("{3,4}", NULL if none) and whether it says "*".
 * Tags that are not versions of ours simply never match.
 */
static const char *
if_none_match(struct req *r, int *star)
{
	const char	*h = header(r, "HTTP_IF_NONE_MATCH"), *s, *e;
	char		*out;
	size_t		 o = 0, n = 0, len;
	long		 v;
	int		 rc;

	*star = 0;
	if (h == NULL)
		return NULL;
	out = arena_alloc(r->arena, ETAGS_MAX * 12 + 3);
	out[o++] = '{';
	for (s = h; *s != '\0' && n < ETAGS_MAX; s = *e ? e + 1 : e) {
		e = s + strcspn(s, ",");
		len = (size_t)(e - s);
		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 1 && *s == '*')
			*star = 1;
		else if ((rc = api_parse_etag(s, len, &v)) == 0 || rc == 1)
			o += (size_t)snprintf(out + o, 13, "%s%ld", n++ ?
			    "," : "", v);
	}
	out[o++] = '}';
	return n > 0 ? out : NULL;
}

/*
 * X-Change-Message: at most CHANGE_MESSAGE_MAX characters of UTF-8.
 * 0 with *msg (NULL when absent or empty), or -1 after answering 400.
 */
static int
change_message(struct req *r, const char **msg)
{
	const unsigned char	*s;
	const char		*h = header(r, "HTTP_X_CHANGE_MESSAGE");
	size_t			 chars = 0;
	int			 more;

	*msg = NULL;
	if (h == NULL || *h == '\0')
		return 0;
	for (s = (const unsigned char *)h; *s != '\0'; chars++) {
		if (*s < 0x80)
			more = 0;
		else if ((*s & 0xe0) == 0xc0 && *s >= 0xc2)
			more = 1;
		else if ((*s & 0xf0) == 0xe0)
			more = 2;
		else if ((*s & 0xf8) == 0xf0 && *s <= 0xf4)
			more = 3;
		else
			goto bad;
		for (s++; more > 0; more--, s++)
			if ((*s & 0xc0) != 0x80)
				goto bad;
	}
	if (chars > CHANGE_MESSAGE_MAX) {
		http_error(r, 400, "bad_request", "X-Change-Message: at most "
		    "%d characters, got %zu", CHANGE_MESSAGE_MAX, chars);
		return -1;
	}
	*msg = h;
	return 0;
bad:
	http_error(r, 400, "bad_request", "X-Change-Message: not valid UTF-8");
	return -1;
}

/* A bigint key field: optional "-", 1 to 18 digits. */
static int
is_int(const char *s)
{
	size_t	 n;

	if (*s == '-')
		s++;
	n = strspn(s, "0123456789");
	return n > 0 && n <= 18 && s[n] == '\0';
}

static const char *
limit_text(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%ld", cfg->dashboards.history_limit);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Lists: limit, opaque keyset cursors, the Link header */

/*
 * ?cursor=: the previous page's last key, "/"-separated fields.
 * Fills want fields (NULL each when there is no cursor).  0, or -1
 * after answering 400.
 */
static int
list_cursor(struct req *r, const char **f, size_t want)
{
	const char	*c = http_query(r, "cursor");
	char		*s, *sl;
	size_t		 i;

	for (i = 0; i < want; i++)
		f[i] = NULL;
	if (c == NULL)
		return 0;
	if ((s = api_b64url_decode(r->arena, c)) == NULL)
		goto bad;
	for (i = 0; i < want; i++) {
		f[i] = s;
		sl = strchr(s, '/');
		if ((sl == NULL) != (i == want - 1))
			goto bad;
		if (sl != NULL) {
			*sl = '\0';
			s = sl + 1;
		}
	}
	return 0;
bad:
	http_error(r, 400, "bad_request", "cursor: \"%.64s\" is not a cursor "
	    "of this list (use the Link header of the previous page)", c);
	return -1;
}

/* ?state=: default draft and active. */
static const char *
list_states(struct req *r)
{
	static const struct {
		const char	*q, *arr;
	} st[] = {
		{ "draft", "{draft}" }, { "active", "{active}" },
		{ "archived", "{archived}" },
		{ "all", "{draft,active,archived}" },
	};
	const char	*s = http_query(r, "state");
	size_t		 i;

	if (s == NULL)
		return "{draft,active}";
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (strcmp(s, st[i].q) == 0)
			return st[i].arr;
	http_error(r, 400, "bad_request", "state: expected draft, active, "
	    "archived or all, got \"%.32s\"", s);
	return NULL;
}

/* A boolean query parameter: 1, 0 (also when absent), or -1 after 400. */
static int
query_bool(struct req *r, const char *key)
{
	const char	*s = http_query(r, key);

	if (s == NULL || strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		return 0;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || *s == '\0')
		return 1;
	http_error(r, 400, "bad_request", "%s: expected true or false, got "
	    "\"%.32s\"", key, s);
	return -1;
}

/* An optional text filter: empty is the same as absent. */
static const char *
query_text(struct req *r, const char *key)
{
	const char	*s = http_query(r, key);

	return s != NULL && *s != '\0' ? s : NULL;
}

/*
 * Both dashboard lists.  Parameters, in statement order: $1 project
 * (or the ?project= filter), $2 name, $3 tag, $4 states, $5 metadata
 * only; across projects $6 caller, $7 sees all; with ?q= the query;
 * then the cursor's similarity (with ?q=), project (across projects)
 * and name; last the rows, which api_list() fills.
 */
static void
list(struct req *r, int all)
{
	const char	*p[12], *cur[3], *q;
	size_t		 n = 0, nk, i;
	int		 meta, search, stmt;
	char		*end;
	double		 sim;

	p[n++] = all ? query_text(r, "project") : api_param(r, "project");
	p[n++] = query_text(r, "name");
	p[n++] = query_text(r, "tag");
	if ((p[n++] = list_states(r)) == NULL)
		return;
	if ((meta = query_bool(r, "metadata_only")) == -1)
		return;
	p[n++] = meta ? "t" : "f";
	q = query_text(r, "q");
	search = q != NULL;
	nk = (size_t)(search + all + 1);
	if (list_cursor(r, cur, nk) == -1)
		return;
	if (cur[0] != NULL) {
		/* Keys are names and similarities: refuse anything else. */
		for (i = search; i < nk; i++)
			if (!validate_name(cur[i]))
				goto badcursor;
		/* A similarity as PostgreSQL prints a real, 0 to 1. */
		if (search) {
			errno = 0;
			sim = strtod(cur[0], &end);
			if (cur[0][strspn(cur[0], "0123456789.e-")] != '\0' ||
			    errno != 0 || *end != '\0' || end == cur[0] ||
			    !(sim >= 0 && sim <= 1))
				goto badcursor;
		}
	}
	if (all) {
		p[n++] = r->actor;
		p[n++] = r->admin || r->cfg->auth.mode == AUTH_ANONYMOUS ?
		    "t" : "f";
	}
	if (search)
		p[n++] = q;
	for (i = 0; i < nk; i++)
		p[n++] = cur[i];
	p[n++] = NULL;		/* the rows */
	stmt = all ? (search ? DS_SEARCH_ALL : DS_LIST_ALL) :
	    (search ? DS_SEARCH : DS_LIST);
	api_list(r, &dashboards_stmts, (size_t)stmt, (int)n, p, NULL);
	return;
badcursor:
	http_error(r, 400, "bad_request", "cursor: not a cursor of this list "
	    "(use the Link header of the previous page)");
}

static void
api_dashboards_list(struct req *r)
{
	list(r, 0);
}

static void
api_dashboards_list_all(struct req *r)
{
	list(r, 1);
}

/* ------------------------------------------------------------------ */
/* Documents in */

struct doc {
	const char	*name;		/* metadata.name */
	long		 version;	/* metadata.version, -1 if absent */
};

/*
 * Check a client's Dashboard for `project` (the path's), parsed from
 * text: its project is the path's or empty, it passes the Perses rules
 * (validate_json_text() and validate_dashboard()), it has a name
 * (equal to want_name when given).  0 with d filled, or -1 with the
 * answer's code and text in code/err.
 */
static int
doc_check(struct json_object *doc, const char *text, size_t textlen,
    const char *project, const char *want_name, struct doc *d,
    const char **code, char *err, size_t errlen)
{
	struct json_object	*meta = NULL, *o;
	const char		*s;
	int64_t			 v;

	d->name = NULL;
	d->version = -1;
	*code = "bad_request";
	if (json_object_is_type(doc, json_type_object) &&
	    json_object_object_get_ex(doc, "metadata", &meta) &&
	    json_object_is_type(meta, json_type_object) &&
	    json_object_object_get_ex(meta, "project", &o) &&
	    json_object_is_type(o, json_type_string) &&
	    *(s = json_object_get_string(o)) != '\0' &&
	    strcmp(s, project) != 0) {
		snprintf(err, errlen, "metadata.project: \"%.80s\" differs "
		    "from the project in the path, \"%s\"", s, project);
		return -1;
	}
	*code = "validation_failed";
	if (validate_json_text(text, textlen, err, errlen) == -1 ||
	    validate_dashboard(doc, err, errlen) == -1)
		return -1;
	/* What the rules above promise; checked again, cheaply, for us. */
	if (meta == NULL || !json_object_object_get_ex(meta, "name", &o) ||
	    !json_object_is_type(o, json_type_string)) {
		snprintf(err, errlen, "metadata.name: required");
		return -1;
	}
	d->name = json_object_get_string(o);
	if (want_name != NULL && strcmp(d->name, want_name) != 0) {
		*code = "bad_request";
		snprintf(err, errlen, "metadata.name: \"%.80s\" differs from "
		    "the dashboard name in the path, \"%s\"", d->name,
		    want_name);
		return -1;
	}
	if (json_object_object_get_ex(meta, "version", &o) &&
	    !json_object_is_type(o, json_type_null)) {
		errno = 0;
		v = json_object_get_int64(o);
		if (!json_object_is_type(o, json_type_int) || errno != 0 ||
		    v < 0 || v > INT_MAX) {
			*code = "bad_request";
			snprintf(err, errlen, "metadata.version: expected a "
			    "non-negative integer");
			return -1;
		}
		d->version = (long)v;
	}
	return 0;
}

static struct json_object *
versions_obj(long oldv, long newv)
{
	struct json_object	*o = json_object_new_object();

	if (oldv >= 0)
		json_object_object_add(o, "oldVersion",
		    json_object_new_int64(oldv));
	json_object_object_add(o, "newVersion", json_object_new_int64(newv));
	return o;
}

/* 412 with currentVersion: If-Match named another version. */
static void
version_error(struct req *r, int status, const char *name, long want,
    long cur)
{
	struct json_object	*x = json_object_new_object();
	char			 msg[256];

	json_object_object_add(x, "currentVersion", json_object_new_int64(cur));
	if (want < 0)
		snprintf(msg, sizeof(msg), "dashboard \"%s\" is at version "
		    "%ld; If-Match names no version it can be (a weak tag "
		    "W/\"N\" never matches If-Match): send the ETag of your "
		    "GET", name, cur);
	else
		snprintf(msg, sizeof(msg), "dashboard \"%s\" is at version "
		    "%ld, not %ld: it was changed since you loaded it; reload "
		    "and apply your change again", name, cur, want);
	http_error_obj(r, status, "version_mismatch", msg, x);
}

/*
 * 409 version_conflict: another user wrote version v (by, at) after
 * the version base that the edit is based on.  The message is what the
 * Perses UI shows, so it says who and when.
 */
static void
conflict_error(struct req *r, const char *name, long base, long cur,
    long v, const char *by, const char *at)
{
	struct json_object	*x = json_object_new_object();
	char			 msg[512];

	json_object_object_add(x, "currentVersion", json_object_new_int64(cur));
	json_object_object_add(x, "changedBy", json_object_new_string(by));
	json_object_object_add(x, "changedAt", json_object_new_string(at));
	if (base > cur)
		snprintf(msg, sizeof(msg), "dashboard \"%s\" has no version "
		    "%ld: it is at version %ld, written by %.128s at %s (was it "
		    "deleted and created again?); reload it and apply your "
		    "change again", name, base, cur, by, at);
	else
		snprintf(msg, sizeof(msg), "dashboard \"%s\" was changed by "
		    "%.128s at %s (version %ld) after version %ld, which your "
		    "change is based on; reload it and apply your change again",
		    name, by, at, v, base);
	http_error_obj(r, 409, "version_conflict", msg, x);
}

static void
not_found(struct req *r, const char *project, const char *name)
{
	http_error(r, 404, "not_found", "dashboard \"%s\" not found in "
	    "project \"%s\"", name, project);
}

/*
 * A document of len bytes that a write would store: 0, or -1 after
 * answering 413 when it is over dashboards.max_document_bytes (the
 * answer is an error, so dispatch rolls the write back).
 */
static int
doc_size_ok(struct req *r, const char *name, long long len)
{
	long long	 max = (long long)r->cfg->dashboards.max_document_bytes;

	if (len <= max)
		return 0;
	http_error(r, 413, "document_too_large", "dashboard \"%s\" would "
	    "be a document of %lld bytes as stored, over "
	    "dashboards.max_document_bytes (%lld bytes)", name, len, max);
	return -1;
}

/*
 * The end of every change that leaves a new document: its size
 * checked, its one audit row, then the document PostgreSQL rendered
 * (column doc) with its version (column ver) as the ETag.  det is
 * consumed.
 */
static void
answer_change(struct req *r, const char *project, const char *name,
    const PGresult *res, int ver, int doc, struct json_object *det)
{
	if (doc_size_ok(r, name, PQgetlength(res, 0, doc)) == -1) {
		json_object_put(det);
		return;
	}
	if (audit_change(r, project, name, api_val_long(res, ver), det) == -1)
		return;
	http_header(r, "ETag", "\"%ld\"", api_val_long(res, ver));
	api_send_col(r, 200, res, doc);
}

/* ------------------------------------------------------------------ */
/* One dashboard */

static void
api_dashboard_create(struct req *r)
{
	const char	*project = api_param(r, "project"), *code, *msg, *p[6];
	const char	*state = http_query(r, "state");
	char		 err[VALIDATE_ERR_MAX];
	struct doc	 d;
	PGresult	*res;

	/* A dashboard starts active, or as a draft when asked to. */
	if (state == NULL)
		state = "active";
	if (strcmp(state, "active") != 0 && strcmp(state, "draft") != 0) {
		http_error(r, 400, "bad_request", "state: a new dashboard is "
		    "\"active\" or \"draft\", got \"%.64s\"", state);
		return;
	}
	if (doc_check(r->json, r->body, r->body_len, project, NULL, &d,
	    &code, err, sizeof(err)) == -1) {
		http_error(r, 400, code, "%s", err);
		return;
	}
	if (change_message(r, &msg) == -1)
		return;
	p[0] = project;
	p[1] = d.name;
	p[2] = r->body;
	p[3] = r->actor;
	p[4] = msg;
	p[5] = state;
	if ((res = api_run(r, &dashboards_stmts, DS_CREATE, 6, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		http_error(r, 409, "conflict", "dashboard \"%s\" already "
		    "exists in project \"%s\"", d.name, project);
		goto out;
	}
	answer_change(r, project, d.name, res, 0, 1,
	    versions_obj(-1, api_val_long(res, 0)));
out:
	PQclear(res);
}

/*
 * A document by DS_GET: the current one, or version `version`.  With
 * inline_role the row's project and role facts decide access here (the
 * statement reads the dashboard only when they allow it); without it
 * router.c decided before.
 */
static void
get_doc(struct req *r, const char *version, int inline_role)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*p[7];
	PGresult	*res;
	long		 v;
	int		 star;

	if (version != NULL && api_parse_version(version, strlen(version),
	    &v) == -1) {
		http_error(r, 400, "bad_request", "version: expected a "
		    "non-negative integer, got \"%.32s\"", version);
		return;
	}
	p[0] = project;
	p[1] = name;
	p[2] = r->actor;
	p[3] = version;
	p[4] = if_none_match(r, &star);
	p[5] = star ? "t" : "f";
	p[6] = !inline_role || r->admin ||
	    r->cfg->auth.mode == AUTH_ANONYMOUS ? "t" : "f";
	if ((res = api_run(r, &dashboards_stmts, version == NULL &&
	    r->cfg->database.prepared_statements != PREPARED_UNNAMED ?
	    DS_GET_CUR : DS_GET, 7, p)) == NULL)
		return;
	if (inline_role && authz_decide(r, project, api_val_bool(res, 0),
	    api_val(res, 1)) == -1)
		goto out;
	if (api_val_null(res, 2)) {
		not_found(r, project, name);
		goto out;
	}
	if (api_val_null(res, 3)) {
		http_error(r, 404, "not_found", "dashboard \"%s\" has no "
		    "version %s (history keeps the newest versions only)",
		    name, version);
		goto out;
	}
	http_header(r, "ETag", "\"%ld\"", api_val_long(res, 3));
	if (api_val_null(res, 4))
		http_send(r, 304, NULL, NULL, 0);
	else
		api_send_col(r, 200, res, 4);
out:
	PQclear(res);
}

static void
api_dashboard_get(struct req *r)
{
	get_doc(r, http_query(r, "version"), 1);
}

static void
api_dashboard_version_get(struct req *r)
{
	get_doc(r, api_param(r, "version"), 0);
}

static void
api_dashboard_update(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*code, *msg, *p[8];
	char		 err[VALIDATE_ERR_MAX], want[24], lim[24];
	struct doc	 d;
	PGresult	*res;
	long		 cur;
	int		 im, fail;

	if (doc_check(r->json, r->body, r->body_len, project, name, &d,
	    &code, err, sizeof(err)) == -1) {
		http_error(r, 400, code, "%s", err);
		return;
	}
	if ((im = api_if_match(r, want, sizeof(want))) == -1 ||
	    change_message(r, &msg) == -1)
		return;
	/*
	 * If-Match decides, strictly (412); without it the body's version
	 * is the base of the edit, stale only when someone else wrote a
	 * version after it (409) -- what the Perses UI (the version it
	 * loaded, on every save from that tab) and percli (always 0) need;
	 * with neither, 428 unless last write wins.  "If-Match: *" is an
	 * explicit last write wins.
	 */
	if (im == 1)
		fail = 412;
	else if (header(r, "HTTP_IF_MATCH") != NULL)
		fail = 0;
	else if (d.version >= 0) {
		snprintf(want, sizeof(want), "%ld", d.version);
		fail = 409;
	} else if (r->cfg->dashboards.require_version) {
		http_error(r, 428, "version_required", "updating dashboard "
		    "\"%s\" needs the version it replaces: send If-Match: "
		    "\"<version>\" (the ETag of your GET) or "
		    "metadata.version", name);
		return;
	} else
		fail = 0;
	p[0] = project;
	p[1] = name;
	p[2] = fail == 412 ? want : NULL;
	p[3] = r->body;
	p[4] = r->actor;
	p[5] = msg;
	p[6] = limit_text(r->cfg, lim, sizeof(lim));
	p[7] = fail == 409 ? want : NULL;
	if ((res = api_run(r, &dashboards_stmts, DS_UPDATE, 8, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		not_found(r, project, name);
		goto out;
	}
	cur = api_val_long(res, 0);
	if (api_val_null(res, 1)) {
		if (fail == 409 && !api_val_null(res, 3))
			conflict_error(r, name, d.version, cur,
			    api_val_long(res, 3), api_val(res, 4),
			    api_val(res, 5));
		else
			version_error(r, 412, name, atol(want), cur);
		goto out;
	}
	answer_change(r, project, name, res, 1, 2,
	    versions_obj(cur, api_val_long(res, 1)));
out:
	PQclear(res);
}

static void
api_dashboard_delete(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*p[4];
	char		 want[24];
	struct json_object *det;
	PGresult	*res;
	int		 im;

	if ((im = api_if_match(r, want, sizeof(want))) == -1)
		return;
	p[0] = project;
	p[1] = name;
	p[2] = im == 1 ? want : NULL;
	p[3] = r->actor;
	if ((res = api_run(r, &dashboards_stmts, DS_DELETE, 4, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		not_found(r, project, name);
		goto out;
	}
	if (!api_val_bool(res, 1)) {
		version_error(r, 412, name, atol(want), api_val_long(res, 0));
		goto out;
	}
	det = json_object_new_object();
	json_object_object_add(det, "version",
	    json_object_new_int64(api_val_long(res, 0)));
	if (audit_change(r, project, name, api_val_long(res, 0), det) == -1)
		goto out;
	http_send(r, 204, NULL, NULL, 0);
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* History */

/* api_list()'s answer for a dashboard that is not there. */
static void
list_gone(struct req *r)
{
	not_found(r, api_param(r, "project"), api_param(r, "name"));
}

static void
api_dashboard_versions(struct req *r)
{
	const char	*p[4], *cur;
	long		 v;

	if (list_cursor(r, &cur, 1) == -1)
		return;
	if (cur != NULL && api_parse_version(cur, strlen(cur), &v) == -1) {
		http_error(r, 400, "bad_request", "cursor: not a cursor of "
		    "this list (use the Link header of the previous page)");
		return;
	}
	p[0] = api_param(r, "project");
	p[1] = api_param(r, "name");
	p[2] = cur;
	api_list(r, &dashboards_stmts, DS_VERSIONS, 4, p, list_gone);
}

static void
api_dashboard_version_restore(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*from = api_param(r, "version"), *msg, *p[7];
	char		 want[24], lim[24];
	struct json_object *det;
	PGresult	*res;
	long		 v;
	int		 im;

	if (api_parse_version(from, strlen(from), &v) == -1) {
		http_error(r, 400, "bad_request", "version: expected a "
		    "non-negative integer, got \"%.32s\"", from);
		return;
	}
	if ((im = api_if_match(r, want, sizeof(want))) == -1 ||
	    change_message(r, &msg) == -1)
		return;
	p[0] = project;
	p[1] = name;
	p[2] = im == 1 ? want : NULL;
	p[3] = from;
	p[4] = r->actor;
	p[5] = msg;
	p[6] = limit_text(r->cfg, lim, sizeof(lim));
	if ((res = api_run(r, &dashboards_stmts, DS_RESTORE, 7, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		not_found(r, project, name);
		goto out;
	}
	if (!api_val_bool(res, 1)) {
		http_error(r, 404, "not_found", "dashboard \"%s\" has no "
		    "version %ld (history keeps the newest versions only)",
		    name, v);
		goto out;
	}
	if (api_val_null(res, 2)) {
		version_error(r, 412, name, atol(want), api_val_long(res, 0));
		goto out;
	}
	det = versions_obj(api_val_long(res, 0), api_val_long(res, 2));
	json_object_object_add(det, "restoredFrom", json_object_new_int64(v));
	answer_change(r, project, name, res, 2, 3, det);
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* States */

/* Where each state may be reached from (text[] literals). */
static const struct {
	const char	*to;
	const char	*from;
} transitions[] = {
	{ "draft",	"{}" },
	{ "active",	"{draft,archived}" },
	{ "archived",	"{draft,active}" },
};

static void
api_dashboard_state_get(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*p[2];
	PGresult	*res;

	p[0] = project;
	p[1] = name;
	if ((res = api_run(r, &dashboards_stmts, DS_STATE_GET, 2, p)) == NULL)
		return;
	if (PQntuples(res) == 0)
		not_found(r, project, name);
	else {
		http_header(r, "ETag", "\"%ld\"", api_val_long(res, 0));
		api_send_col(r, 200, res, 1);
	}
	PQclear(res);
}

static void
api_dashboard_state_put(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*to = NULL, *msg, *p[8];
	char		 want[24], lim[24];
	struct json_object *o, *det;
	PGresult	*res;
	size_t		 i;
	int		 im;

	if (json_object_is_type(r->json, json_type_object) &&
	    json_object_object_get_ex(r->json, "state", &o) &&
	    json_object_is_type(o, json_type_string))
		to = json_object_get_string(o);
	for (i = 0; to != NULL && i < sizeof(transitions) /
	    sizeof(transitions[0]); i++)
		if (strcmp(to, transitions[i].to) == 0)
			break;
	if (to == NULL || i == sizeof(transitions) / sizeof(transitions[0])) {
		http_error(r, 400, "bad_request", "state: expected \"draft\", "
		    "\"active\" or \"archived\"");
		return;
	}
	if ((im = api_if_match(r, want, sizeof(want))) == -1 ||
	    change_message(r, &msg) == -1)
		return;
	p[0] = project;
	p[1] = name;
	p[2] = im == 1 ? want : NULL;
	p[3] = to;
	p[4] = transitions[i].from;
	p[5] = r->actor;
	p[6] = msg;
	p[7] = limit_text(r->cfg, lim, sizeof(lim));
	if ((res = api_run(r, &dashboards_stmts, DS_STATE_PUT, 8, p)) == NULL)
		return;
	if (PQntuples(res) == 0) {
		not_found(r, project, name);
		goto out;
	}
	if (api_val_null(res, 2)) {
		if (im == 1 && api_val_long(res, 0) != atol(want))
			version_error(r, 412, name, atol(want),
			    api_val_long(res, 0));
		else
			http_error(r, 409, "invalid_transition", "dashboard "
			    "\"%s\" cannot go from state \"%s\" to \"%s\"",
			    name, api_val(res, 1), to);
		goto out;
	}
	det = versions_obj(api_val_long(res, 0), api_val_long(res, 2));
	json_object_object_add(det, "from",
	    json_object_new_string(api_val(res, 1)));
	json_object_object_add(det, "to", json_object_new_string(to));
	answer_change(r, project, name, res, 2, 3, det);
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* The trash */

static void
api_trash_list(struct req *r)
{
	const char	*p[4], *cur[2];

	if (list_cursor(r, cur, 2) == -1)
		return;
	if (cur[0] != NULL && (!is_int(cur[0]) || !is_int(cur[1]))) {
		http_error(r, 400, "bad_request", "cursor: not a cursor of "
		    "this list (use the Link header of the previous page)");
		return;
	}
	p[0] = api_param(r, "project");
	p[1] = cur[0];
	p[2] = cur[1];
	api_list(r, &dashboards_stmts, DS_TRASH, 4, p, NULL);
}

static void
api_trash_restore(struct req *r)
{
	const char	*project = api_param(r, "project");
	const char	*name = api_param(r, "name");
	const char	*p[2];
	struct json_object *det;
	PGresult	*res;

	p[0] = project;
	p[1] = name;
	if ((res = api_run(r, &dashboards_stmts, DS_UNTRASH, 2, p)) == NULL)
		return;
	if (!api_val_bool(res, 0)) {
		http_error(r, 404, "not_found", "dashboard \"%s\" is not in "
		    "the trash of project \"%s\"", name, project);
		goto out;
	}
	if (api_val_null(res, 2)) {
		http_error(r, 409, "conflict", "a live dashboard \"%s\" exists "
		    "in project \"%s\": delete or rename it first", name,
		    project);
		goto out;
	}
	det = json_object_new_object();
	json_object_object_add(det, "version",
	    json_object_new_int64(api_val_long(res, 2)));
	answer_change(r, project, name, res, 2, 3, det);
out:
	PQclear(res);
}

/* ------------------------------------------------------------------ */
/* Export and import */

static void
api_project_export(struct req *r)
{
	const char	*project = api_param(r, "project"), *p[1];
	PGresult	*res;
	int		 i, n;

	p[0] = project;
	if ((res = api_run(r, &dashboards_stmts, DS_EXPORT, 1, p)) == NULL)
		return;
	http_header(r, "Content-Disposition", "attachment; "
	    "filename=\"%s.ndjson\"", project);
	http_begin(r, 200, "application/x-ndjson");
	/* One document a line, each written as it comes. */
	for (i = 0, n = PQntuples(res); i < n; i++) {
		FCGX_PutStr(PQgetvalue(res, i, 0), PQgetlength(res, i, 0),
		    r->fcgi->out);
		FCGX_PutChar('\n', r->fcgi->out);
	}
	PQclear(res);
}

struct seen {
	const char	*name;
	size_t		 line;
};

static int
seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int		 c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * All or nothing: every line is checked here first (the first bad one
 * is the answer, naming its line), then one statement plans and writes
 * the lot.  A dry run runs the same statement with its writes off.
 */
static void
api_project_import(struct req *r)
{
	const char	*project = api_param(r, "project"), *code, *err, *msg;
	const char	*p[6], *s, *nl, *end = r->body + r->body_len;
	char		 verr[VALIDATE_ERR_MAX], lim[24];
	struct json_object *doc, *det;
	struct seen	*names = NULL;
	struct doc	 d;
	PGresult	*res = NULL;
	size_t		 lineno, len, n = 0, cap = 0, i, dup;
	int		 dry;

	if ((dry = query_bool(r, "dry_run")) == -1 ||
	    change_message(r, &msg) == -1)
		return;
	for (s = r->body, lineno = 1; s < end; s = nl + 1, lineno++) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		len = (size_t)(nl - s);
		if (strspn(s, " \t\r") >= len)
			continue;
		if ((doc = http_parse_json(r->arena, s, len, &err)) == NULL) {
			http_error(r, 400, "invalid_json", "line %zu: invalid "
			    "JSON: %s", lineno, err);
			return;
		}
		if (doc_check(doc, s, len, project, NULL, &d, &code, verr,
		    sizeof(verr)) == -1) {
			http_error(r, 400, code, "line %zu: %s", lineno, verr);
			json_object_put(doc);
			return;
		}
		if (n == cap) {
			struct seen *nn;
			cap = cap ? cap * 2 : 64;
			nn = arena_alloc(r->arena, cap * sizeof(*nn));
			if (n > 0)
				memcpy(nn, names, n * sizeof(*nn));
			names = nn;
		}
		names[n].name = arena_strdup(r->arena, d.name);
		names[n++].line = lineno;
		json_object_put(doc);
	}
	/*
	 * One line per dashboard: a second one would be a second truth.
	 * Sorted by (name, line), a repeat follows its first line; the
	 * answer names the earliest repeat in the file.
	 */
	if (n > 1)
		qsort(names, n, sizeof(*names), seen_cmp);
	for (i = 1, dup = 0; i < n; i++)
		if (strcmp(names[i - 1].name, names[i].name) == 0 &&
		    (dup == 0 || names[i].line < names[dup].line))
			dup = i;
	if (dup > 0) {
		for (i = dup; i > 0 && strcmp(names[i - 1].name,
		    names[dup].name) == 0; i--)
			;
		http_error(r, 400, "bad_request", "line %zu: dashboard \"%s\" "
		    "is already on line %zu", names[dup].line, names[dup].name,
		    names[i].line);
		return;
	}
	p[0] = project;
	p[1] = r->body;
	p[2] = r->actor;
	p[3] = dry ? "t" : "f";
	p[4] = limit_text(r->cfg, lim, sizeof(lim));
	p[5] = msg;
	if ((res = api_run(r, &dashboards_stmts, DS_IMPORT, 6, p)) == NULL)
		return;
	if (!dry && (strcmp(api_val(res, 0), api_val(res, 3)) != 0 ||
	    strcmp(api_val(res, 1), api_val(res, 4)) != 0)) {
		http_error(r, 409, "conflict", "dashboards of this import "
		    "were created or changed at the same time; nothing was "
		    "imported, try again");
		goto out;
	}
	if (!api_val_null(res, 7) && doc_size_ok(r, api_val(res, 6),
	    strtoll(api_val(res, 7), NULL, 10)) == -1)
		goto out;
	det = json_object_new_object();
	json_object_object_add(det, "created",
	    json_object_new_int64(api_val_long(res, 0)));
	json_object_object_add(det, "updated",
	    json_object_new_int64(api_val_long(res, 1)));
	json_object_object_add(det, "unchanged",
	    json_object_new_int64(api_val_long(res, 2)));
	json_object_object_add(det, "dryRun", json_object_new_boolean(dry));
	if (audit_change(r, project, NULL, AUDIT_NO_VERSION, det) == -1)
		goto out;
	api_send_col(r, 200, res, 5);
out:
	PQclear(res);
}

static const struct route routes[] = {
	{ "GET",  "/api/v1/dashboards",	api_dashboards_list_all, R_API,
	    ROLE_NONE, NULL },
	{ "GET",  ROUTE_PROJECT "/dashboards", api_dashboards_list, R_API, ROLE_VIEWER,
	    NULL },
	{ "POST", ROUTE_PROJECT "/dashboards", api_dashboard_create, R_API | R_JSON,
	    ROLE_EDITOR, "dashboard.create" },
	{ "GET",  ROUTE_DASHBOARD, api_dashboard_get,
	    R_API | R_ROLE_INLINE, ROLE_VIEWER, NULL },
	{ "PUT",  ROUTE_DASHBOARD, api_dashboard_update, R_API | R_JSON,
	    ROLE_EDITOR, "dashboard.update" },
	{ "DELETE", ROUTE_DASHBOARD, api_dashboard_delete, R_API,
	    ROLE_EDITOR, "dashboard.delete" },
	{ "GET",  ROUTE_DASHBOARD "/versions", api_dashboard_versions, R_API,
	    ROLE_VIEWER, NULL },
	{ "GET",  ROUTE_DASHBOARD "/versions/{version}", api_dashboard_version_get, R_API,
	    ROLE_VIEWER, NULL },
	{ "POST", ROUTE_DASHBOARD "/versions/{version}/restore",
	    api_dashboard_version_restore, R_API, ROLE_EDITOR,
	    "dashboard.restore" },
	{ "GET",  ROUTE_DASHBOARD "/state", api_dashboard_state_get, R_API,
	    ROLE_VIEWER, NULL },
	{ "PUT",  ROUTE_DASHBOARD "/state", api_dashboard_state_put, R_API | R_JSON,
	    ROLE_EDITOR, "dashboard.state" },
	{ "GET",  ROUTE_PROJECT "/trash", api_trash_list, R_API, ROLE_VIEWER, NULL },
	{ "POST", ROUTE_PROJECT "/trash/{name}/restore", api_trash_restore, R_API,
	    ROLE_EDITOR, "dashboard.untrash" },
	{ "GET",  ROUTE_PROJECT "/export", api_project_export, R_API, ROLE_VIEWER,
	    NULL },
	{ "POST", ROUTE_PROJECT "/import", api_project_import, R_API | R_BODY,
	    ROLE_EDITOR, "dashboard.import" },
};

static const struct stmt_set *const stmt_sets[] = { &dashboards_stmts, NULL };

static int
p_trash(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->dashboards.trash_retention <= 0)
		return 0;
	snprintf(buf, len, "%lld", (long long)cfg->dashboards.trash_retention);
	return 1;
}

/*
 * Every purged dashboard leaves its audit row, in the same statement,
 * through audit_write() (migration 0014), the one audit insert.
 */
static const struct job jobs[] = {
	{ "trash_purge", "purged",
	  "WITH d AS ("
	  " DELETE FROM dashboard"
	  " WHERE deleted_at < now() - $1::bigint * interval '1 millisecond'"
	  " RETURNING project, name, version, deleted_at, deleted_by)"
	  " SELECT count(audit_write('system', 'dashboard.purge', project,"
	  "  name, version, 'success', NULL, NULL,"
	  "  jsonb_build_object('reason', 'trash_retention',"
	  "  'deletedAt', deleted_at, 'deletedBy', deleted_by))) FROM d",
	  p_trash, "dashboards.trash_retention is 0: trash kept", 14 },
};

const struct module dashboards_module = {
	.name = "dashboards",
	.routes = MODULE_ROUTES(routes),
	.stmts = stmt_sets,
	.jobs = jobs,
	.njobs = sizeof(jobs) / sizeof(jobs[0]),
};
