/*
 * validate.c -- the Perses rules for dashboard documents.
 *
 * Owns: the shape of a Dashboard as a stock Perses server accepts it,
 * plugin schemas aside: the model's rules (perses/perses
 * pkg/model/api/v1 and perses/spec go/: kind, metadata, spec.display,
 * datasources, variables, annotations, panels, Grid and Tabs layouts
 * and their $refs, durations, timezone, links, queryBatching) and the
 * server's (internal/api/validate: variable names, variables used but
 * not defined, dependency cycles, one default datasource per kind and
 * the HTTP and SQL proxies of datasources);
 * the name and duration syntaxes; the bound on JSON numbers; the two
 * normalisations Perses makes on the way in (kind in any letter case
 * becomes "Dashboard", duplicate tags are dropped), made to a document
 * that passes and to no other; and the wording of
 * every failure: "<field path>: <what is wrong>", the first violation
 * only, checked in the order kind, metadata, spec.display,
 * spec.duration, spec.refreshInterval, spec.timezone,
 * spec.queryBatching, spec.links, spec.datasources, spec.variables,
 * spec.annotations, spec.panels, spec.layouts, numbers.
 * Never: keep memory past a call (the allocations are a transient
 * hash set and the variable graph), change the document beyond the
 * two normalisations, touch the database, or refuse a member it does
 * not know (Perses plugins add their own; Go's decoder ignores them).
 *
 * JSON null counts as absent, as it does for Perses (Go's decoder
 * leaves the zero value), and a required string that is absent, null
 * or "" is "required".  The cost is linear in the document: one pass
 * for the rules and one for the numbers; panel $refs are resolved with
 * json-c's own hash lookup, variable names live in a hash set and the
 * dependency graph is sorted in linear time, never by nested scans.
 *
 * Where dashcgi knowingly differs from Perses: member names are
 * matched exactly (Go's decoder also takes "Spec" for "spec"); spec
 * null or {} and a grid item without content are refused (Perses
 * stores the first two as its defaults and panics on the third); x,
 * y, width and height must not be negative; integers beyond 64 bits
 * are refused (json-c keeps no text for them, Go reads them as
 * floats); and variables are known from the dashboard alone (Perses
 * also counts its project and global variables, which dashcgi does
 * not have).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <json-c/linkhash.h>

#include "text.h"
#include "validate.h"

#define MAX_TAGS	20
#define MAX_TAG_CHARS	50
#define MAX_PANELS	10000
#define MAX_QUOTED	64	/* bytes of a client's value quoted back */
#define MAX_DEPTH	72	/* path segments: json-c nests at most 64 */
#define MAX_DIGITS	40	/* significant digits of a JSON number */
#define MAX_EXP		308	/* |exponent| of a JSON number (float64's) */
#define ZONEINFO	"/usr/share/zoneinfo/"
#define PANEL_REF	"#/spec/panels/"

#define NAME_RULE	"must be 1 to 75 characters of [a-zA-Z0-9_.-], " \
			"without \"..\" and not starting or ending with \".\""

/*
 * Where the check stands, as a stack of segments rendered only when
 * something fails: the happy path never formats a string.
 */
struct vctx {
	struct {
		const char	*key;	/* NULL: an array index */
		size_t		 idx;
	}		 seg[MAX_DEPTH];
	int		 depth;
	char		*err;
	size_t		 errlen;
	/* The normalisations, made only once the document passes. */
	int		 fix_kind;
	struct json_object	*dedup_tags;	/* tags with duplicates */
};

static void
push(struct vctx *v, const char *key)
{
	/* Depth is fixed by the rules below, never by the input. */
	if (v->depth < MAX_DEPTH) {
		v->seg[v->depth].key = key;
		v->seg[v->depth].idx = 0;
	}
	v->depth++;
}

static void
push_idx(struct vctx *v, size_t idx)
{
	if (v->depth < MAX_DEPTH) {
		v->seg[v->depth].key = NULL;
		v->seg[v->depth].idx = idx;
	}
	v->depth++;
}

static void
pop(struct vctx *v, int n)
{
	v->depth -= n;
}

/* The body of fail(): the path, then the message. */
__attribute__((format(printf, 2, 0)))
static int
vfail(struct vctx *v, const char *fmt, va_list ap)
{
	size_t	 n = 0;
	int	 i, w;

	if (v->err == NULL || v->errlen == 0)
		return -1;
	v->err[0] = '\0';
	for (i = 0; i < v->depth && i < MAX_DEPTH && n < v->errlen; i++) {
		if (v->seg[i].key != NULL)
			w = snprintf(v->err + n, v->errlen - n, "%s%s",
			    i > 0 ? "." : "", v->seg[i].key);
		else
			w = snprintf(v->err + n, v->errlen - n, "[%zu]",
			    v->seg[i].idx);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < v->errlen) {
		w = snprintf(v->err + n, v->errlen - n, "%s",
		    v->depth > 0 ? ": " : "");
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < v->errlen)
		vsnprintf(v->err + n, v->errlen - n, fmt, ap);
	n = strlen(v->err);
	v->err[text_utf8_trim(v->err, n)] = '\0';
	return -1;
}

/*
 * "path: message".  Clients' strings reach the message, so a cut made
 * by the buffer's end must not split a UTF-8 character: the message
 * goes back out in a JSON body.
 */
__attribute__((format(printf, 2, 3)))
static int
fail(struct vctx *v, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfail(v, fmt, ap);
	va_end(ap);
	return -1;
}

/* fail() one segment deeper: at the member key of the current object. */
__attribute__((format(printf, 3, 4)))
static int
fail_at(struct vctx *v, const char *key, const char *fmt, ...)
{
	va_list	 ap;

	push(v, key);
	va_start(ap, fmt);
	vfail(v, fmt, ap);
	va_end(ap);
	pop(v, 1);
	return -1;
}

/* At most MAX_QUOTED bytes of s, whole characters, for "%.*s". */
static int
qlen(const char *s)
{
	size_t	 n = strlen(s);

	return (int)(n > MAX_QUOTED ? text_utf8_trim(s, MAX_QUOTED) : n);
}

/* A member, or NULL when absent or JSON null. */
static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object	*m;

	return json_object_object_get_ex(o, key, &m) ? m : NULL;
}

/*
 * NULL for a string usable as a C string, else what is wrong with it:
 * "a\u0000b" must not pass as "a".
 */
static const char *
not_string(struct json_object *o)
{
	if (!json_object_is_type(o, json_type_string))
		return "must be a string";
	if ((size_t)json_object_get_string_len(o) !=
	    strlen(json_object_get_string(o)))
		return "must not contain \\u0000";
	return NULL;
}

/*
 * A JSON integer as Go's int decodes it: integral (1.0 is refused
 * too) and within 64 bits.  json-c saturates what does not fit, so
 * the two saturated values stand for "out of range".
 */
static int
is_go_int(struct json_object *o, int64_t *out)
{
	int64_t	 n;

	if (!json_object_is_type(o, json_type_int))
		return 0;
	n = json_object_get_int64(o);
	if (n == INT64_MIN ||
	    json_object_get_uint64(o) > (uint64_t)INT64_MAX)
		return 0;
	*out = n;
	return 1;
}

/*
 * The member key of o as a required, non-empty string; *out borrows
 * from the document.
 */
static int
need_string(struct vctx *v, struct json_object *o, const char *key,
    const char **out)
{
	struct json_object	*m = get(o, key);
	const char		*bad;

	*out = NULL;
	if (m == NULL || (json_object_is_type(m, json_type_string) &&
	    json_object_get_string_len(m) == 0))
		return fail_at(v, key, "required");
	if ((bad = not_string(m)) != NULL)
		return fail_at(v, key, "%s", bad);
	*out = json_object_get_string(m);
	return 0;
}

/* A member that must be present and a JSON object. */
static int
need_object(struct vctx *v, struct json_object *o, const char *key,
    struct json_object **out)
{
	struct json_object	*m = get(o, key);

	*out = NULL;
	if (m == NULL)
		return fail_at(v, key, "required");
	if (!json_object_is_type(m, json_type_object))
		return fail_at(v, key, "must be an object");
	*out = m;
	return 0;
}

/*
 * NULL when the (not null) value m is of type t, else what is wrong
 * (json_type_int: a Go int; json_type_string: without \u0000).
 */
static const char *
bad_type(struct json_object *m, enum json_type t)
{
	int64_t	 n;

	switch (t) {
	case json_type_string:
		return not_string(m);
	case json_type_int:
		return is_go_int(m, &n) ? NULL : "must be an integer";
	case json_type_boolean:
		return json_object_is_type(m, t) ? NULL :
		    "must be true or false";
	case json_type_object:
		return json_object_is_type(m, t) ? NULL : "must be an object";
	default:
		return json_object_is_type(m, t) ? NULL : "must be an array";
	}
}

/* An optional member that, when present and not null, is of type t. */
static int
opt_typed(struct vctx *v, struct json_object *o, const char *key,
    enum json_type t, struct json_object **out)
{
	struct json_object	*m = get(o, key), *dummy;
	const char		*bad;

	if (out == NULL)
		out = &dummy;
	*out = NULL;
	if (m == NULL)
		return 0;
	if ((bad = bad_type(m, t)) != NULL)
		return fail_at(v, key, "%s", bad);
	*out = m;
	return 0;
}

/*
 * The optional members of an object that matter, as a table: each
 * that is present and not null is checked for its type (unless the
 * type is json_type_null), then by its function.  One pass over what
 * the client sent, so an absent member costs no hash lookup; the
 * first violation is the first in the document.
 */
struct member {
	const char	*key;
	enum json_type	 type;
	int		(*check)(struct vctx *, struct json_object *);
};

static int
check_members(struct vctx *v, struct json_object *o,
    const struct member *tab, size_t n)
{
	const char	*bad;
	size_t		 i;
	int		 rc;

	json_object_object_foreach(o, key, m) {
		if (m == NULL)
			continue;
		/* The first byte settles most: a call only for a likely hit. */
		for (i = 0; i < n && (key[0] != tab[i].key[0] ||
		    strcmp(key, tab[i].key) != 0); i++)
			;
		if (i == n)
			continue;
		if (tab[i].type != json_type_null &&
		    (bad = bad_type(m, tab[i].type)) != NULL)
			return fail_at(v, key, "%s", bad);
		if (tab[i].check != NULL) {
			push(v, key);
			rc = tab[i].check(v, m);
			pop(v, 1);
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

#define CHECK_MEMBERS(v, o, tab)					\
	check_members((v), (o), (tab), sizeof(tab) / sizeof((tab)[0]))

/* A required member following validate_name(). */
static int
need_name(struct vctx *v, struct json_object *o, const char *key,
    const char **out)
{
	if (need_string(v, o, key, out) == -1)
		return -1;
	if (!validate_name(*out))
		return fail_at(v, key, NAME_RULE);
	return 0;
}

/* An optional integer member >= min. */
static int
opt_int_min(struct vctx *v, struct json_object *o, const char *key,
    int64_t min)
{
	struct json_object	*m = get(o, key);
	int64_t			 n;

	if (m == NULL)
		return 0;
	if (!is_go_int(m, &n) || n < min)
		return fail_at(v, key, "must be an integer >= %lld",
		    (long long)min);
	return 0;
}

/* A plugin object ({"kind": ..., "spec": any}): its kind is required. */
static int
plugin_kind(struct vctx *v, struct json_object *p)
{
	const char	*kind;

	return need_string(v, p, "kind", &kind);
}

/*
 * An optional plugin: when present, its kind is required (Perses'
 * Plugin.validate); with required, the plugin itself is (there is no
 * plugin without a kind).
 */
static int
check_plugin(struct vctx *v, struct json_object *o, int required)
{
	struct json_object	*p;
	int			 rc;

	if (required) {
		if (need_object(v, o, "plugin", &p) == -1)
			return -1;
	} else if (opt_typed(v, o, "plugin", json_type_object, &p) == -1)
		return -1;
	if (p == NULL)
		return 0;
	push(v, "plugin");
	rc = plugin_kind(v, p);
	pop(v, 1);
	return rc;
}

/*
 * Bytes of the Unicode white space (Go's unicode.IsSpace, which
 * strings.TrimSpace uses) at s, or 0.
 */
static size_t
space_at(const unsigned char *s, size_t n)
{
	unsigned int	 c;

	if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;		/* U+0085, U+00A0 */
	if (n < 3 || (s[0] & 0xf0) != 0xe0)
		return 0;
	c = (s[0] & 0x0fU) << 12 | (s[1] & 0x3fU) << 6 | (s[2] & 0x3fU);
	if (c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	    c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000)
		return 3;
	return 0;
}

/* Does s (n bytes) end with white space? */
static int
space_at_end(const char *s, size_t n)
{
	size_t	 i, k;

	for (k = 1; k <= 3 && k <= n; k++) {
		i = n - k;
		if (space_at((const unsigned char *)s + i, k) == k)
			return 1;
	}
	return 0;
}

int
validate_name(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > 75 || s[0] == '.' || s[n - 1] == '.' ||
	    strstr(s, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("_.-", s[i])))
			return 0;
	return 1;
}

/*
 * Prometheus' model.ParseDuration, which Perses uses: "0", or one or
 * more <digits><unit> with the units in the order y w d h m s ms, each
 * at most once, the total within int64 milliseconds.
 */
int
validate_duration_ms(const char *s, int64_t *ms)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "y", 365ULL * 24 * 3600 * 1000 },
		{ "w", 7ULL * 24 * 3600 * 1000 },
		{ "d", 24ULL * 3600 * 1000 },
		{ "h", 3600ULL * 1000 },
		{ "m", 60ULL * 1000 },
		{ "s", 1000 },
		{ "ms", 1 },
	};
	const size_t	 nunits = sizeof(units) / sizeof(units[0]);
	uint64_t	 total = 0, n;
	size_t		 next = 0, u, ulen;

	if (s == NULL || *s == '\0')
		return 0;
	if (strcmp(s, "0") == 0) {
		if (ms != NULL)
			*ms = 0;
		return 1;
	}
	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return 0;
		for (n = 0; *s >= '0' && *s <= '9'; s++) {
			if (n > (UINT64_MAX - 9) / 10)
				return 0;
			n = n * 10 + (uint64_t)(*s - '0');
		}
		/* "ms" before "m": the longest unit that matches. */
		ulen = s[0] == 'm' && s[1] == 's' ? 2 : 1;
		for (u = next; u < nunits; u++)
			if (strlen(units[u].unit) == ulen &&
			    strncmp(s, units[u].unit, ulen) == 0)
				break;
		if (u == nunits)
			return 0;	/* unknown, repeated or out of order */
		if (n > (uint64_t)INT64_MAX / units[u].ms)
			return 0;
		n *= units[u].ms;
		if (total > (uint64_t)INT64_MAX - n)
			return 0;
		total += n;
		next = u + 1;
		s += ulen;
	}
	if (ms != NULL)
		*ms = (int64_t)total;
	return 1;
}

int
validate_duration(const char *s)
{
	return validate_duration_ms(s, NULL);
}

/*
 * What Go's time.LoadLocation loads, as Perses' validateTimezone
 * calls it: "" and "local" (Perses' own), "UTC" and "Local" (Go's),
 * else a TZif file of the system's zoneinfo.  Go refuses names with
 * ".." or a leading slash or backslash; the character set below is
 * narrower still (every zoneinfo name fits it), so a name never
 * leaves the zoneinfo directory nor opens a device.
 */
int
validate_timezone(const char *s)
{
	char		 path[sizeof(ZONEINFO) + 256];
	unsigned char	 magic[4];
	struct stat	 st;
	size_t		 i, n = strlen(s);
	int		 fd, ok;

	if (n == 0 || strcmp(s, "local") == 0 || strcmp(s, "UTC") == 0 ||
	    strcmp(s, "Local") == 0)
		return 1;
	if (n > 255 || s[0] == '/' || s[n - 1] == '/' ||
	    strstr(s, "..") != NULL || strstr(s, "//") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("/_+-.", s[i])))
			return 0;
	snprintf(path, sizeof(path), ZONEINFO "%s", s);
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

static int
check_duration(struct vctx *v, struct json_object *spec, const char *key)
{
	struct json_object	*d;
	const char		*s;

	if (opt_typed(v, spec, key, json_type_string, &d) == -1)
		return -1;
	if (d == NULL)
		return 0;
	s = json_object_get_string(d);
	/* Perses' DurationString: "" is no duration, not a bad one. */
	if (*s != '\0' && !validate_duration(s))
		return fail_at(v, key, "invalid duration \"%.*s\" (expected "
		    "e.g. \"30s\", \"5m\", \"1h30m\", \"7d\")", qlen(s), s);
	return 0;
}

/*
 * Tags as Perses holds them, a set: a duplicate is not refused but
 * dropped (drop_duplicate_tags(), once the document passes), and the
 * limit counts distinct tags.  Each tag is compared with the distinct
 * ones before it, at most MAX_TAGS of them: linear in the array.
 */
static int
check_tags(struct vctx *v, struct json_object *meta)
{
	struct json_object	*tags, *t;
	const char		*s, *bad;
	size_t			 keep[MAX_TAGS], nkeep = 0, i, j, k, len, n;

	if (opt_typed(v, meta, "tags", json_type_array, &tags) == -1)
		return -1;
	if (tags == NULL)
		return 0;
	push(v, "tags");
	n = json_object_array_length(tags);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tags, i);
		push_idx(v, i);
		if (t == NULL || (bad = not_string(t)) != NULL)
			return fail(v, "%s", t == NULL ? "must be a string" :
			    bad);
		s = json_object_get_string(t);
		len = strlen(s);
		for (j = 0; j < len; j += k)
			if ((k = space_at((const unsigned char *)s + j,
			    len - j)) == 0)
				break;
		if (j == len)
			return fail(v, "must not be empty");
		if (space_at((const unsigned char *)s, len) != 0 ||
		    space_at_end(s, len))
			return fail(v, "must not start or end with white "
			    "space");
		if ((j = text_utf8_chars(s, len)) > MAX_TAG_CHARS)
			return fail(v, "must be 1 to %d characters (got %zu)",
			    MAX_TAG_CHARS, j);
		pop(v, 1);
		for (j = 0; j < nkeep; j++)
			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(tags, keep[j])), s) == 0)
				break;
		if (j < nkeep) {
			v->dedup_tags = tags;
			continue;
		}
		if (nkeep == MAX_TAGS)
			return fail(v, "at most %d tags", MAX_TAGS);
		keep[nkeep++] = i;
	}
	pop(v, 1);
	return 0;
}

/* The first of each tag kept, in order; at most MAX_TAGS are distinct. */
static void
drop_duplicate_tags(struct json_object *tags)
{
	const char	*s;
	size_t		 i, j;

	for (i = 0; i < json_object_array_length(tags); ) {
		s = json_object_get_string(json_object_array_get_idx(tags, i));
		for (j = 0; j < i; j++)
			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(tags, j)), s) == 0)
				break;
		if (j < i)
			json_object_array_del_idx(tags, i, 1);
		else
			i++;
	}
}

static int
check_metadata(struct vctx *v, struct json_object *doc)
{
	struct json_object	*meta, *proj, *t;
	const char		*s, *bad, *when[] = { "createdAt", "updatedAt" };
	size_t			 i;
	int			 rc = -1, depth = v->depth;

	if (need_object(v, doc, "metadata", &meta) == -1)
		return -1;
	push(v, "metadata");
	if (need_name(v, meta, "name", &s) == -1)
		goto out;
	/* Absent or "": the server takes the project from the path. */
	if ((proj = get(meta, "project")) != NULL) {
		push(v, "project");
		if ((bad = not_string(proj)) != NULL) {
			fail(v, "%s", bad);
			goto out;
		}
		if (json_object_get_string_len(proj) != 0 &&
		    !validate_name(json_object_get_string(proj))) {
			fail(v, NAME_RULE);
			goto out;
		}
		pop(v, 1);
	}
	/* The server sets them; Go still decodes what a client sends. */
	for (i = 0; i < 2; i++) {
		if (opt_typed(v, meta, when[i], json_type_string, &t) == -1)
			goto out;
		if (t != NULL && !text_rfc3339(json_object_get_string(t))) {
			fail_at(v, when[i], "must be an RFC 3339 time");
			goto out;
		}
	}
	if (check_tags(v, meta) == -1)
		goto out;
	rc = 0;
out:
	v->depth = depth;
	return rc;
}

/* Perses' common.Display. */
static int
display_members(struct vctx *v, struct json_object *d)
{
	static const struct member	 tab[] = {
		{ "name", json_type_string, NULL },
		{ "description", json_type_string, NULL },
	};

	return CHECK_MEMBERS(v, d, tab);
}

/* An optional "display" member, a common.Display. */
static int
check_display(struct vctx *v, struct json_object *o)
{
	struct json_object	*d;
	int			 rc;

	if (opt_typed(v, o, "display", json_type_object, &d) == -1)
		return -1;
	if (d == NULL)
		return 0;
	push(v, "display");
	rc = display_members(v, d);
	pop(v, 1);
	return rc;
}

static int
check_timezone(struct vctx *v, struct json_object *spec)
{
	struct json_object	*tz;
	const char		*s;

	if (opt_typed(v, spec, "timezone", json_type_string, &tz) == -1)
		return -1;
	if (tz == NULL || validate_timezone(s = json_object_get_string(tz)))
		return 0;
	return fail_at(v, "timezone", "\"%.*s\" is not a valid timezone "
	    "(an IANA name such as \"Europe/Paris\", \"UTC\" or \"local\")",
	    qlen(s), s);
}

static int
check_query_batching(struct vctx *v, struct json_object *spec)
{
	static const char *const modes[] = { "", "off", "panel", "viewport",
	    "dashboard" };
	struct json_object	*q, *m;
	const char		*s;
	size_t			 i;
	int			 rc = -1;

	if (opt_typed(v, spec, "queryBatching", json_type_object, &q) == -1)
		return -1;
	if (q == NULL)
		return 0;
	push(v, "queryBatching");
	if (opt_typed(v, q, "mode", json_type_string, &m) == -1)
		goto out;
	if (m != NULL) {
		s = json_object_get_string(m);
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (strcmp(s, modes[i]) == 0)
				break;
		if (i == sizeof(modes) / sizeof(modes[0])) {
			fail_at(v, "mode", "must be \"off\", \"panel\", "
			    "\"viewport\" or \"dashboard\" (got \"%.*s\")",
			    qlen(s), s);
			goto out;
		}
	}
	rc = opt_int_min(v, q, "maxPerRequest", 0);
out:
	pop(v, 1);
	return rc;
}

/* Each element of the array a, an object, to f. */
static int
each_elem(struct vctx *v, struct json_object *a,
    int (*f)(struct vctx *, struct json_object *, void *), void *arg)
{
	struct json_object	*e;
	size_t			 i, n = json_object_array_length(a);
	int			 rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		e = json_object_array_get_idx(a, i);
		push_idx(v, i);
		if (e == NULL || !json_object_is_type(e, json_type_object))
			rc = fail(v, "must be an object");
		else
			rc = f(v, e, arg);
		pop(v, 1);
	}
	return rc;
}

/* A member that, when present, is an array of objects: each to f. */
static int
each_object(struct vctx *v, struct json_object *o, const char *key,
    int (*f)(struct vctx *, struct json_object *, void *), void *arg)
{
	struct json_object	*a;
	int			 rc;

	if (opt_typed(v, o, key, json_type_array, &a) == -1)
		return -1;
	if (a == NULL)
		return 0;
	push(v, key);
	rc = each_elem(v, a, f, arg);
	pop(v, 1);
	return rc;
}

static int
check_link(struct vctx *v, struct json_object *l, void *arg)
{
	static const struct member	 tab[] = {
		{ "name", json_type_string, NULL },
		{ "url", json_type_string, NULL },
		{ "tooltip", json_type_string, NULL },
		{ "renderVariables", json_type_boolean, NULL },
		{ "targetBlank", json_type_boolean, NULL },
	};

	(void)arg;
	return CHECK_MEMBERS(v, l, tab);
}

static int
links(struct vctx *v, struct json_object *a)
{
	return each_elem(v, a, check_link, NULL);
}

/* Perses' AnnotationSpec: its display.name is required. */
static int
check_annotation(struct vctx *v, struct json_object *a, void *arg)
{
	static const struct member	 tab[] = {
		{ "description", json_type_string, NULL },
		{ "color", json_type_string, NULL },
		{ "hidden", json_type_boolean, NULL },
	};
	struct json_object	*d;
	const char		*s;
	int			 rc = -1;

	(void)arg;
	if (need_object(v, a, "display", &d) == -1)
		return -1;
	push(v, "display");
	if (need_string(v, d, "name", &s) == -1 ||
	    CHECK_MEMBERS(v, d, tab) == -1)
		goto out;
	pop(v, 1);
	return check_plugin(v, a, 0);
out:
	pop(v, 1);
	return rc;
}

static int
annotations(struct vctx *v, struct json_object *a)
{
	return each_elem(v, a, check_annotation, NULL);
}

/*
 * A datasource proxy, as Perses' server finds and checks it
 * (datasource.ValidateAndExtract, perses/spec go/datasource/proxy):
 * the first object under the plugin's spec, objects only (not
 * arrays), with a "kind" of HTTPProxy or SQLProxy in any letter case;
 * its "spec", when present, must then decode as that proxy's config.
 */
static int
str_in(const char *s, const char *const *set, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

/* A member that, when present, is an array of strings. */
static int
opt_strings(struct vctx *v, struct json_object *o, const char *key,
    size_t *count)
{
	struct json_object	*a, *e;
	size_t			 i, n;

	*count = 0;
	if (opt_typed(v, o, key, json_type_array, &a) == -1)
		return -1;
	n = a != NULL ? json_object_array_length(a) : 0;
	for (i = 0; i < n; i++)
		if ((e = json_object_array_get_idx(a, i)) != NULL &&
		    not_string(e) != NULL) {
			push(v, key);
			push_idx(v, i);
			fail(v, "must be a string");
			pop(v, 2);
			return -1;
		}
	*count = n;
	return 0;
}

/*
 * What Go's url.Parse refuses and a client can get wrong: control
 * characters, a "%" without two hex digits, an empty scheme.
 */
static int
url_ok(const char *s)
{
	const char	*p;

	if (s[0] == ':')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p == '%' && !(isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2])))
			return 0;
	}
	return 1;
}

static int
check_endpoint(struct vctx *v, struct json_object *e, void *arg)
{
	static const char *const methods[] = { "GET", "POST", "DELETE",
	    "PUT", "PATCH" };
	const char	*s;

	(void)arg;
	if (need_string(v, e, "method", &s) == -1)
		return -1;
	if (!str_in(s, methods, sizeof(methods) / sizeof(methods[0])))
		return fail_at(v, "method", "must be GET, POST, DELETE, PUT or "
		    "PATCH (got \"%.*s\")", qlen(s), s);
	return need_string(v, e, "endpointPattern", &s);
}

static int
check_http_proxy(struct vctx *v, struct json_object *c)
{
	struct json_object	*u, *h;
	size_t			 allow, drop;
	const char		*s;

	if ((u = get(c, "url")) == NULL)
		return fail_at(v, "url", "required");
	if (opt_typed(v, c, "url", json_type_string, NULL) == -1)
		return -1;
	if (!url_ok(s = json_object_get_string(u)))
		return fail_at(v, "url", "\"%.*s\" is not a URL", qlen(s), s);
	if (check_duration(v, c, "timeout") == -1 ||
	    each_object(v, c, "allowedEndpoints", check_endpoint,
	    NULL) == -1 ||
	    opt_typed(v, c, "headers", json_type_object, &h) == -1 ||
	    opt_typed(v, c, "secret", json_type_string, NULL) == -1 ||
	    opt_typed(v, c, "oauthPassthrough", json_type_boolean,
	    NULL) == -1 ||
	    opt_strings(v, c, "allowHeaders", &allow) == -1 ||
	    opt_strings(v, c, "dropHeaders", &drop) == -1)
		return -1;
	if (h != NULL) {
		push(v, "headers");
		json_object_object_foreach(h, k, m) {
			if (m != NULL && not_string(m) != NULL) {
				fail_at(v, k, "must be a string");
				pop(v, 1);
				return -1;
			}
		}
		pop(v, 1);
	}
	if (allow > 0 && drop > 0)
		return fail_at(v, "dropHeaders", "cannot be set with "
		    "allowHeaders");
	return 0;
}

static int
check_sql_proxy(struct vctx *v, struct json_object *c)
{
	static const char *const ssl[] = { "disable", "allow", "prefer",
	    "require", "verify-full", "verify-ca" };
	static const char *const cfg[] = { "mysql", "mariadb", "postgres" };
	struct json_object	*drv, *sub[3], *m;
	const char		*d, *s;
	size_t			 i, nsub = 0;
	int			 rc = 0;

	if (opt_typed(v, c, "driver", json_type_string, &drv) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (opt_typed(v, c, cfg[i], json_type_object, &sub[i]) == -1)
			return -1;
		nsub += sub[i] != NULL;
	}
	/* No driver: the first config present names it, as Perses does. */
	d = drv != NULL ? json_object_get_string(drv) : "";
	for (i = 0; *d == '\0' && i < 3; i++)
		if (sub[i] != NULL)
			d = cfg[i];
	if (*d == '\0')
		return fail_at(v, "driver", "required");
	for (i = 0; i < 3 && strcmp(d, cfg[i]) != 0; i++)
		;
	if (i == 3)
		return fail_at(v, "driver", "must be \"mysql\", \"mariadb\" or "
		    "\"postgres\" (got \"%.*s\")", qlen(d), d);
	if (nsub > (sub[i] != NULL))
		return fail_at(v, "driver", "\"%s\" cannot be set with another "
		    "driver's config", d);
	if (need_string(v, c, "host", &s) == -1 ||
	    need_string(v, c, "database", &s) == -1 ||
	    opt_typed(v, c, "secret", json_type_string, NULL) == -1)
		return -1;
	for (i = 0; i < 2 && rc == 0; i++) {
		if ((m = sub[i]) == NULL)
			continue;
		push(v, cfg[i]);
		rc = check_duration(v, m, "timeout") == -1 ||
		    check_duration(v, m, "readTimeout") == -1 ||
		    check_duration(v, m, "writeTimeout") == -1 ||
		    opt_typed(v, m, "maxAllowedPacket", json_type_int,
		    NULL) == -1 ? -1 : 0;
		pop(v, 1);
	}
	if (rc == 0 && (m = sub[2]) != NULL) {
		push(v, "postgres");
		if (check_duration(v, m, "connect_timeout") == -1 ||
		    opt_typed(v, m, "max_conns", json_type_int, NULL) == -1 ||
		    opt_typed(v, m, "prepare_threshold", json_type_int,
		    NULL) == -1 ||
		    opt_typed(v, m, "options", json_type_string, NULL) == -1 ||
		    opt_typed(v, m, "ssl_mode", json_type_string, &drv) == -1)
			rc = -1;
		else if (drv != NULL &&
		    *(s = json_object_get_string(drv)) != '\0' &&
		    !str_in(s, ssl, sizeof(ssl) / sizeof(ssl[0])))
			rc = fail_at(v, "ssl_mode", "unknown ssl mode \"%.*s\"",
			    qlen(s), s);
		pop(v, 1);
	}
	return rc;
}

/* 1: a proxy was found and checked (rc in *rc), 0: none here. */
static int
find_proxy(struct vctx *v, struct json_object *o, int *rc)
{
	struct json_object	*kind = NULL, *spec = NULL;
	const char		*k, *speckey = NULL;

	if (!json_object_is_type(o, json_type_object))
		return 0;
	json_object_object_foreach(o, key, m) {
		if (strcasecmp(key, "kind") == 0 && m != NULL &&
		    json_object_is_type(m, json_type_string) &&
		    (strcasecmp(json_object_get_string(m), "HTTPProxy") == 0 ||
		    strcasecmp(json_object_get_string(m), "SQLProxy") == 0))
			kind = m;
		else if (strcasecmp(key, "spec") == 0 && spec == NULL) {
			spec = m;
			speckey = key;
		}
	}
	if (kind != NULL) {
		*rc = 0;
		if (speckey == NULL)
			return 1;	/* Perses: nothing to check */
		k = json_object_get_string(kind);
		push(v, speckey);
		if (spec == NULL || !json_object_is_type(spec,
		    json_type_object))
			*rc = spec == NULL ? fail(v, "required") :
			    fail(v, "must be an object");
		else
			*rc = (k[0] == 'H' || k[0] == 'h') ?
			    check_http_proxy(v, spec) :
			    check_sql_proxy(v, spec);
		pop(v, 1);
		return 1;
	}
	json_object_object_foreach(o, key2, m2) {
		push(v, key2);
		if (m2 != NULL && find_proxy(v, m2, rc)) {
			pop(v, 1);
			return 1;
		}
		pop(v, 1);
	}
	return 0;
}

/*
 * spec.datasources: name -> datasource spec.  At most one default
 * per plugin kind, as Perses' server checks (validateDashboardSpec).
 */
static int
check_datasources(struct vctx *v, struct json_object *spec)
{
	struct json_object	*dss, *def, *pl, *k;
	struct lh_table		*defaults = NULL;
	const char		*kind;
	int			 rc = -1, depth = v->depth, prc;

	if (opt_typed(v, spec, "datasources", json_type_object, &dss) == -1)
		return -1;
	if (dss == NULL)
		return 0;
	push(v, "datasources");
	json_object_object_foreach(dss, name, ds) {
		push(v, name);
		if (ds == NULL || !json_object_is_type(ds, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (check_display(v, ds) == -1 ||
		    opt_typed(v, ds, "default", json_type_boolean,
		    &def) == -1 || check_plugin(v, ds, 0) == -1)
			goto out;
		if ((pl = get(ds, "plugin")) != NULL &&
		    (k = get(pl, "spec")) != NULL) {
			push(v, "plugin");
			push(v, "spec");
			if (find_proxy(v, k, &prc) && prc == -1)
				goto out;
			pop(v, 2);
		}
		if (def != NULL && json_object_get_boolean(def)) {
			pl = get(ds, "plugin");
			kind = pl != NULL && (k = get(pl, "kind")) != NULL ?
			    json_object_get_string(k) : "";
			if (defaults == NULL &&
			    (defaults = lh_kchar_table_new(16, NULL)) == NULL) {
				fail(v, "out of memory");
				goto out;
			}
			if (lh_table_lookup_ex(defaults, kind, NULL)) {
				fail_at(v, "default", "a second default "
				    "datasource of kind \"%.*s\"",
				    qlen(kind), kind);
				goto out;
			}
			if (lh_table_insert(defaults, kind, NULL) != 0) {
				fail(v, "out of memory");
				goto out;
			}
		}
		pop(v, 1);
	}
	rc = 0;
out:
	if (defaults != NULL)
		lh_table_free(defaults);
	v->depth = depth;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Variables */

/*
 * The variable graph: names to indices, and for each variable the
 * indices it uses (edges), so that undefined names and cycles are
 * found in time linear in the references.
 */
struct vgraph {
	struct lh_table	*names;		/* name -> (index + 1) */
	size_t		 n;
	size_t		*from, *to;	/* edge e: variable to[e] uses from[e] */
	size_t		 nedges, cap;
	const char	*undef;		/* the first undefined name used */
	size_t		 undef_len, undef_idx;	/* its length, its user */
};

/* Go's strconv.Atoi succeeds: an optional sign, digits, in 64 bits. */
static int
atoi_ok(const char *s, size_t n)
{
	uint64_t	 x = 0;
	size_t		 i = 0;
	int		 neg = 0;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > (uint64_t)INT64_MAX + (uint64_t)neg)
			return 0;
	}
	return 1;
}

static int
is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/*
 * Perses' server rule for a variable name (validateVariableName):
 * ^\w*?[^0-9]\w*$ -- word characters but for at most one, and not
 * only digits -- and no "__" prefix (builtin variables have it).
 */
static const char *
var_name_rule(const char *s)
{
	size_t	 i, nonword = 0, nondigit = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (!is_word(s[i]))
			nonword++;
		if (s[i] < '0' || s[i] > '9')
			nondigit++;
	}
	if (atoi_ok(s, i))
		return "must not be only digits (\"$1\" is a regexp "
		    "placeholder, not a variable)";
	if (nonword > 1 || nondigit == 0)
		return "must be word characters [a-zA-Z0-9_], with at most "
		    "one other character, and not only digits";
	if (s[0] == '_' && s[1] == '_')
		return "must not start with \"__\" (the prefix of builtin "
		    "variables)";
	return NULL;
}

/* An edge: variable `by` uses the variable named s[0..n). */
static int
use_var(struct vgraph *g, size_t by, const char *s, size_t n)
{
	char	 name[80];
	void	*val;
	size_t	*nf, *nt;

	/* "$1" is a placeholder (Perses skips what Atoi parses). */
	if (atoi_ok(s, n))
		return 0;
	/* Longer than any name: undefined, and builtin only if "__". */
	if (n >= sizeof(name) ||
	    (snprintf(name, sizeof(name), "%.*s", (int)n, s),
	    !lh_table_lookup_ex(g->names, name, &val))) {
		if (g->undef == NULL && !(n >= 2 && s[0] == '_' &&
		    s[1] == '_')) {
			/* Kept for the message; the document outlives it. */
			g->undef = s;
			g->undef_len = n;
			g->undef_idx = by;
		}
		return 0;
	}
	if (g->nedges == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		if ((nf = reallocarray(g->from, g->cap, sizeof(*nf))) == NULL)
			return -1;
		g->from = nf;
		if ((nt = reallocarray(g->to, g->cap, sizeof(*nt))) == NULL)
			return -1;
		g->to = nt;
	}
	g->from[g->nedges] = (size_t)(uintptr_t)val - 1;
	g->to[g->nedges++] = by;
	return 0;
}

/* Every $name in s, as Perses' \$(\w+). */
static int
scan_uses(struct vgraph *g, size_t by, const char *s)
{
	const char	*p;

	for (p = s; (p = strchr(p, '$')) != NULL; ) {
		const char	*w = ++p;

		while (is_word(*p))
			p++;
		if (p > w && use_var(g, by, w, (size_t)(p - w)) == -1)
			return -1;
	}
	return 0;
}

/* The string values (not keys) under o, as Perses' reflection walk. */
static int
scan_tree(struct vgraph *g, size_t by, struct json_object *o)
{
	size_t	 i, n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		return scan_uses(g, by, json_object_get_string(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (scan_tree(g, by,
			    json_object_array_get_idx(o, i)) == -1)
				return -1;
		return 0;
	case json_type_object: {
		json_object_object_foreach(o, k, m) {
			(void)k;
			if (scan_tree(g, by, m) == -1)
				return -1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* A ListVariable's own rules (Perses' ListSpec.Validate and types). */
static int
check_list_var(struct vctx *v, struct json_object *vs)
{
	static const char *const sorts[] = { "none", "alphabetical-asc",
	    "alphabetical-desc", "numerical-asc", "numerical-desc",
	    "alphabetical-ci-asc", "alphabetical-ci-desc" };
	struct json_object	*dv, *e, *all, *multi, *custom, *sort;
	const char		*s;
	size_t			 i, n;

	if (opt_typed(v, vs, "allowAllValue", json_type_boolean, &all) == -1 ||
	    opt_typed(v, vs, "allowMultiple", json_type_boolean,
	    &multi) == -1 ||
	    opt_typed(v, vs, "customAllValue", json_type_string,
	    &custom) == -1 ||
	    opt_typed(v, vs, "capturingRegexp", json_type_string, NULL) == -1 ||
	    opt_typed(v, vs, "sort", json_type_string, &sort) == -1)
		return -1;
	if (sort != NULL && *(s = json_object_get_string(sort)) != '\0') {
		for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
			if (strcmp(s, sorts[i]) == 0)
				break;
		if (i == sizeof(sorts) / sizeof(sorts[0]))
			return fail_at(v, "sort", "unknown sort method "
			    "\"%.*s\"", qlen(s), s);
	}
	if (custom != NULL && json_object_get_string_len(custom) > 0 &&
	    (all == NULL || !json_object_get_boolean(all)))
		return fail_at(v, "customAllValue", "cannot be set unless "
		    "allowAllValue is true");
	if ((dv = get(vs, "defaultValue")) != NULL) {
		if (json_object_is_type(dv, json_type_array)) {
			n = json_object_array_length(dv);
			for (i = 0; i < n; i++) {
				e = json_object_array_get_idx(dv, i);
				/* Go's []string takes null as "". */
				if (e != NULL && not_string(e) != NULL) {
					push(v, "defaultValue");
					push_idx(v, i);
					fail(v, "must be a string");
					pop(v, 2);
					return -1;
				}
			}
			/* One value is taken as the single value. */
			if (n > 1 && (multi == NULL ||
			    !json_object_get_boolean(multi)))
				return fail_at(v, "defaultValue", "a list of "
				    "values needs allowMultiple true");
		} else if (not_string(dv) != NULL)
			return fail_at(v, "defaultValue", "must be a string "
			    "or an array of strings");
	}
	return check_plugin(v, vs, 0);
}

static int
check_text_var(struct vctx *v, struct json_object *vs)
{
	struct json_object	*val, *c;

	if (opt_typed(v, vs, "value", json_type_string, &val) == -1 ||
	    opt_typed(v, vs, "constant", json_type_boolean, &c) == -1)
		return -1;
	if (c != NULL && json_object_get_boolean(c) &&
	    (val == NULL || json_object_get_string_len(val) == 0))
		return fail_at(v, "value", "required for a constant text "
		    "variable");
	return 0;
}

/*
 * Kahn's sort of the graph: what is left when no variable is free of
 * unbuilt dependencies is a cycle; returns the index of one variable
 * on it, or -1 when there is none.
 */
static ssize_t
find_cycle(struct vgraph *g)
{
	size_t	*indeg, *start, *adj, *queue, i, e, head = 0, tail = 0;
	ssize_t	 r = -2;

	indeg = calloc(g->n + 1, sizeof(*indeg));
	start = calloc(g->n + 1, sizeof(*start));
	adj = calloc(g->nedges + 1, sizeof(*adj));
	queue = calloc(g->n + 1, sizeof(*queue));
	if (indeg == NULL || start == NULL || adj == NULL || queue == NULL)
		goto out;
	/* Adjacency by counting sort: start[i] .. start[i+1] of adj. */
	for (e = 0; e < g->nedges; e++) {
		start[g->from[e]]++;
		indeg[g->to[e]]++;
	}
	for (i = 0, e = 0; i <= g->n; i++) {
		size_t	 c = i < g->n ? start[i] : 0;

		start[i] = e;
		e += c;
	}
	for (e = 0; e < g->nedges; e++)
		adj[start[g->from[e]]++] = g->to[e];
	for (i = g->n; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	for (i = 0; i < g->n; i++)
		if (indeg[i] == 0)
			queue[tail++] = i;
	while (head < tail)
		for (i = queue[head++], e = start[i]; e < start[i + 1]; e++)
			if (--indeg[adj[e]] == 0)
				queue[tail++] = adj[e];
	r = -1;
	for (i = 0; i < g->n && r == -1; i++)
		if (indeg[i] != 0)
			r = (ssize_t)i;
out:
	free(indeg);
	free(start);
	free(adj);
	free(queue);
	return r;
}

/* A variable's display (Perses' variable.Display). */
static int
var_display(struct vctx *v, struct json_object *d)
{
	static const struct member	 tab[] = {
		{ "name", json_type_string, NULL },
		{ "description", json_type_string, NULL },
		{ "hidden", json_type_boolean, NULL },
	};

	return CHECK_MEMBERS(v, d, tab);
}

static int
check_variables(struct vctx *v, struct json_object *spec)
{
	static const struct member	 var_members[] = {
		{ "display", json_type_object, var_display },
	};
	struct json_object	*vars, *var, *vspec, *x;
	struct vgraph		 g;
	const char		*name, *kind, *bad;
	size_t			 i, n;
	ssize_t			 c;
	int			 rc = -1, depth = v->depth, list;

	memset(&g, 0, sizeof(g));
	if (opt_typed(v, spec, "variables", json_type_array, &vars) == -1)
		return -1;
	if (vars == NULL || (n = json_object_array_length(vars)) == 0)
		return 0;
	push(v, "variables");
	/*
	 * Keys are borrowed from the document, which outlives the set.
	 * Small to start and grown by json-c as names arrive, so a huge
	 * array of junk never buys a huge table.
	 */
	if ((g.names = lh_kchar_table_new(64, NULL)) == NULL) {
		fail(v, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		var = json_object_array_get_idx(vars, i);
		push_idx(v, i);
		if (var == NULL || !json_object_is_type(var, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (need_string(v, var, "kind", &kind) == -1)
			goto out;
		if (strcmp(kind, "ListVariable") != 0 &&
		    strcmp(kind, "TextVariable") != 0) {
			fail_at(v, "kind", "must be \"ListVariable\" or "
			    "\"TextVariable\"");
			goto out;
		}
		list = kind[0] == 'L';
		if (need_object(v, var, "spec", &vspec) == -1)
			goto out;
		push(v, "spec");
		if (need_name(v, vspec, "name", &name) == -1)
			goto out;
		if ((bad = var_name_rule(name)) != NULL) {
			fail_at(v, "name", "%s", bad);
			goto out;
		}
		if (lh_table_lookup_ex(g.names, name, NULL)) {
			fail_at(v, "name", "duplicate variable \"%s\"", name);
			goto out;
		}
		if (lh_table_insert(g.names, name,
		    (void *)(uintptr_t)(i + 1)) != 0) {
			fail(v, "out of memory");
			goto out;
		}
		if (CHECK_MEMBERS(v, vspec, var_members) == -1 ||
		    (list ? check_list_var(v, vspec) :
		    check_text_var(v, vspec)) == -1)
			goto out;
		pop(v, 2);
	}
	/* Every name is known: now what each variable uses. */
	g.n = n;
	for (i = 0; i < n; i++) {
		vspec = get(json_object_array_get_idx(vars, i), "spec");
		kind = json_object_get_string(get(json_object_array_get_idx(
		    vars, i), "kind"));
		if (kind[0] == 'T')
			x = get(vspec, "value");
		else
			x = (x = get(vspec, "plugin")) != NULL ?
			    get(x, "spec") : NULL;
		if (x != NULL && scan_tree(&g, i, x) == -1) {
			fail(v, "out of memory");
			goto out;
		}
	}
	if (g.undef != NULL) {
		name = json_object_get_string(get(get(json_object_array_get_idx(
		    vars, g.undef_idx), "spec"), "name"));
		push_idx(v, g.undef_idx);
		fail(v, "variable \"%.*s\" is used in the variable \"%s\" but "
		    "not defined", g.undef_len > MAX_QUOTED ? MAX_QUOTED :
		    (int)g.undef_len, g.undef, name);
		goto out;
	}
	if ((c = find_cycle(&g)) == -2) {
		fail(v, "out of memory");
		goto out;
	}
	if (c >= 0) {
		name = json_object_get_string(get(get(json_object_array_get_idx(
		    vars, (size_t)c), "spec"), "name"));
		fail(v, "circular dependency detected (variable \"%s\" "
		    "depends on itself through the variables it uses)", name);
		goto out;
	}
	rc = 0;
out:
	if (g.names != NULL)
		lh_table_free(g.names);
	free(g.from);
	free(g.to);
	v->depth = depth;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Panels and layouts */

static int
query_spec(struct vctx *v, struct json_object *qs)
{
	static const struct member	 tab[] = {
		{ "name", json_type_string, NULL },
		{ "plugin", json_type_object, plugin_kind },
	};

	return CHECK_MEMBERS(v, qs, tab);
}

static int
check_query(struct vctx *v, struct json_object *q, void *arg)
{
	static const struct member	 tab[] = {
		{ "kind", json_type_string, NULL },
		{ "spec", json_type_object, query_spec },
	};

	(void)arg;
	return CHECK_MEMBERS(v, q, tab);
}

static int
queries(struct vctx *v, struct json_object *a)
{
	return each_elem(v, a, check_query, NULL);
}

/* Perses' PanelDisplay: a common.Display with hideHeader. */
static int
panel_display(struct vctx *v, struct json_object *d)
{
	static const struct member	 tab[] = {
		{ "name", json_type_string, NULL },
		{ "description", json_type_string, NULL },
		{ "hideHeader", json_type_boolean, NULL },
	};

	return CHECK_MEMBERS(v, d, tab);
}

/* A panel's spec; its plugin is required. */
static int
panel_spec(struct vctx *v, struct json_object *pspec)
{
	static const struct member	 tab[] = {
		{ "display", json_type_object, panel_display },
		{ "queries", json_type_array, queries },
		{ "links", json_type_array, links },
		{ "annotations", json_type_array, annotations },
	};

	if (check_plugin(v, pspec, 1) == -1)
		return -1;
	return CHECK_MEMBERS(v, pspec, tab);
}

static int
check_panels(struct vctx *v, struct json_object *spec,
    struct json_object **panels)
{
	struct json_object	*pspec;
	size_t			 n;
	int			 rc = -1, depth = v->depth;

	if (opt_typed(v, spec, "panels", json_type_object, panels) == -1)
		return -1;
	if (*panels == NULL)
		return 0;
	push(v, "panels");
	if ((n = (size_t)json_object_object_length(*panels)) > MAX_PANELS) {
		fail(v, "at most %d panels (got %zu)", MAX_PANELS, n);
		goto out;
	}
	json_object_object_foreach(*panels, key, p) {
		if (!validate_name(key)) {
			fail(v, "panel key \"%.*s\" %s", qlen(key), key,
			    NAME_RULE);
			goto out;
		}
		push(v, key);
		/* Perses keeps "kind" of a panel as it is: any string. */
		if (p == NULL || !json_object_is_type(p, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (opt_typed(v, p, "kind", json_type_string, NULL) == -1 ||
		    need_object(v, p, "spec", &pspec) == -1)
			goto out;
		push(v, "spec");
		if (panel_spec(v, pspec) == -1)
			goto out;
		pop(v, 2);
	}
	rc = 0;
out:
	v->depth = depth;
	return rc;
}

/*
 * A grid item.  Perses decodes x, y, width and height as Go ints
 * (integral, 64 bits, absent = 0); none may be negative here, 0 is
 * allowed (Grafana migrations emit it).  Its $ref must match Perses'
 * JSONRef pattern, ^#?/([a-zA-Z0-9_-]+)(/[a-zA-Z0-9_-]+)*$; in a Grid
 * it must point at spec/panels/<key> of an existing panel, as Perses'
 * verifyAndSetJSONReferences checks (it does not for Tabs).
 */
struct items {
	int			 grid;	/* a Grid: the $ref names a panel */
	struct json_object	*panels;	/* NULL: there are none */
};

/* x, y, width, height: Go ints, here not negative. */
static int
not_negative(struct vctx *v, struct json_object *n)
{
	int64_t	 i;

	if (!is_go_int(n, &i) || i < 0)
		return fail(v, "must be an integer >= 0");
	return 0;
}

static int
check_item(struct vctx *v, struct json_object *item, void *arg)
{
	static const struct member	 place[] = {
		{ "x", json_type_null, not_negative },
		{ "y", json_type_null, not_negative },
		{ "width", json_type_null, not_negative },
		{ "height", json_type_null, not_negative },
	};
	const struct items	*it = arg;
	struct json_object	*content;
	const char		*ref, *p, *key;
	int			 ok;

	if (CHECK_MEMBERS(v, item, place) == -1 ||
	    need_object(v, item, "content", &content) == -1)
		return -1;
	push(v, "content");
	if (need_string(v, content, "$ref", &ref) == -1) {
		pop(v, 1);
		return -1;
	}
	push(v, "$ref");
	p = ref + (ref[0] == '#');
	/* Segments of [a-zA-Z0-9_-]+, each after a "/". */
	ok = *p == '/';
	while (ok && *p == '/') {
		p++;
		if (!(ok = is_word(*p) || *p == '-'))
			break;
		while (is_word(*p) || *p == '-')
			p++;
	}
	if (!ok || *p != '\0')
		return fail(v, "must be \"" PANEL_REF "<panel>\" (got "
		    "\"%.*s\")", qlen(ref), ref);
	/* Perses resolves a Grid's $ref only: a tab's may point anywhere. */
	if (!it->grid) {
		pop(v, 2);
		return 0;
	}
	p = ref + (ref[0] == '#');
	if (strncmp(p, "/spec/panels/", 13) != 0 ||
	    strchr(p + 13, '/') != NULL)
		return fail(v, "must be \"" PANEL_REF "<panel>\" (got "
		    "\"%.*s\")", qlen(ref), ref);
	key = p + 13;
	/* One hash lookup per item: the document stays O(n). */
	if (it->panels == NULL ||
	    !json_object_object_get_ex(it->panels, key, NULL))
		return fail(v, "no panel \"%.*s\"", qlen(key), key);
	pop(v, 2);
	return 0;
}

static int
check_collapsible(struct vctx *v, struct json_object *lspec)
{
	struct json_object	*d, *c;
	int			 rc = -1;

	if (opt_typed(v, lspec, "display", json_type_object, &d) == -1)
		return -1;
	if (d == NULL)
		return 0;
	push(v, "display");
	if (opt_typed(v, d, "title", json_type_string, NULL) == -1 ||
	    opt_typed(v, d, "collapse", json_type_object, &c) == -1)
		goto out;
	if (c != NULL) {
		push(v, "collapse");
		rc = opt_typed(v, c, "open", json_type_boolean, NULL);
		pop(v, 1);
	} else
		rc = 0;
out:
	pop(v, 1);
	return rc;
}

static int
check_tab(struct vctx *v, struct json_object *tab, void *arg)
{
	if (opt_typed(v, tab, "name", json_type_string, NULL) == -1)
		return -1;
	return each_object(v, tab, "items", check_item, arg);
}

static int
check_layouts(struct vctx *v, struct json_object *spec,
    struct json_object *panels)
{
	struct json_object	*layouts, *l, *lspec;
	const char		*kind;
	/* Perses checks no $ref of a Tabs layout for its panel. */
	struct items		 grid = { 1, panels }, tabs = { 0, panels };
	size_t			 i, n;
	int			 rc = -1, depth = v->depth;

	if (opt_typed(v, spec, "layouts", json_type_array, &layouts) == -1)
		return -1;
	n = layouts != NULL ? json_object_array_length(layouts) : 0;
	push(v, "layouts");
	for (i = 0; i < n; i++) {
		l = json_object_array_get_idx(layouts, i);
		push_idx(v, i);
		if (l == NULL || !json_object_is_type(l, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (need_string(v, l, "kind", &kind) == -1)
			goto out;
		if (strcmp(kind, "Grid") != 0 && strcmp(kind, "Tabs") != 0) {
			fail_at(v, "kind", "must be \"Grid\" or \"Tabs\"");
			goto out;
		}
		/* Go decodes an absent spec as an empty one. */
		if (opt_typed(v, l, "spec", json_type_object, &lspec) == -1)
			goto out;
		if (lspec == NULL) {
			pop(v, 1);
			continue;
		}
		push(v, "spec");
		if (check_collapsible(v, lspec) == -1)
			goto out;
		if (kind[0] == 'G') {
			if (opt_typed(v, lspec, "repeatVariable",
			    json_type_string, NULL) == -1 ||
			    each_object(v, lspec, "items", check_item,
			    &grid) == -1)
				goto out;
		} else if (opt_typed(v, lspec, "defaultTab", json_type_int,
		    NULL) == -1 ||
		    each_object(v, lspec, "tabs", check_tab, &tabs) == -1)
			goto out;
		pop(v, 2);
	}
	rc = 0;
out:
	v->depth = depth;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Numbers */

/*
 * A number's text within MAX_DIGITS significant digits and an
 * exponent within +-MAX_EXP.  PostgreSQL's numeric takes 1e131071 and
 * prints it as 131072 digits: a 9-byte body would cost every reader
 * 128 KiB.  Go's float64 refuses exponents past 308 as well.
 */
static int
number_ok(const char *s)
{
	size_t	 digits = 0;
	long	 e = 0;
	int	 lead = 1, neg = 0;

	if (*s == '-')
		s++;
	for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
		if (*s == '.')
			continue;
		if (lead && *s == '0')
			continue;
		lead = 0;
		digits++;
	}
	if (digits > MAX_DIGITS)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			neg = *s++ == '-';
		for (; *s >= '0' && *s <= '9'; s++)
			if ((e = e * 10 + (*s - '0')) > MAX_EXP)
				return 0;
		(void)neg;
	}
	return 1;
}

/* One number: 1 when within bounds. */
static int
one_number_ok(struct json_object *o)
{
	if (json_object_is_type(o, json_type_double))
		return number_ok(json_object_get_string(o));
	/* Ints json-c saturated (beyond 64 bits) have lost their text. */
	return json_object_get_int64(o) != INT64_MIN &&
	    json_object_get_uint64(o) != UINT64_MAX;
}

/*
 * 1 when every number under o is within bounds.  No path is kept:
 * this is the common case, and check_numbers() runs only to name the
 * culprit.
 */
static int
numbers_ok(struct json_object *o)
{
	size_t	 i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
	case json_type_int:
		return one_number_ok(o);
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!numbers_ok(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, m) {
			(void)k;
			if (!numbers_ok(m))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* The first number out of bounds, named by its path. */
static int
check_numbers(struct vctx *v, struct json_object *o)
{
	size_t	 i, n;
	int	 rc = 0;

	switch (json_object_get_type(o)) {
	case json_type_double:
	case json_type_int:
		if (one_number_ok(o))
			return 0;
		if (json_object_is_type(o, json_type_int))
			return fail(v, "an integer beyond 64 bits");
		return fail(v, "a number of more than %d significant "
		    "digits or with an exponent beyond +-%d", MAX_DIGITS,
		    MAX_EXP);
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n && rc == 0; i++) {
			push_idx(v, i);
			rc = check_numbers(v, json_object_array_get_idx(o, i));
			pop(v, 1);
		}
		return rc;
	case json_type_object: {
		json_object_object_foreach(o, k, m) {
			push(v, k);
			rc = check_numbers(v, m);
			pop(v, 1);
			if (rc == -1)
				return -1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */

/*
 * The text of a document, for what its parsed form has lost: json-c
 * turns a lone UTF-16 surrogate escape into U+FFFD and cuts a member
 * name at \u0000, so only the text shows them.  PostgreSQL's jsonb
 * refuses both (and \u0000 in a value): create refused what the parsed
 * tree let validate pass.  The text is known to be valid JSON
 * (http_parse_json() took it), so the walk only follows its structure.
 */
struct tctx {
	struct vctx	 v;
	const char	*p, *e;
	char		 keys[MAX_DEPTH][MAX_QUOTED + 1];
};

static int	text_value(struct tctx *);

static void
text_ws(struct tctx *t)
{
	while (t->p < t->e && (*t->p == ' ' || *t->p == '\t' ||
	    *t->p == '\n' || *t->p == '\r'))
		t->p++;
}

static unsigned
hex4(const char *s)
{
	unsigned	 v = 0;
	int		 i;

	for (i = 0; i < 4; i++)
		v = v << 4 | (unsigned)(s[i] <= '9' ? s[i] - '0' :
		    (s[i] | 0x20) - 'a' + 10);
	return v;
}

/*
 * Skip the string at t->p (its opening quote); -1 naming what is
 * wrong in it.  A member name's fault is reported at its object.
 */
static int
text_string(struct tctx *t, int key)
{
	const char	*what = key ? "member name" : "string";
	unsigned	 cp, lo;

	for (t->p++; t->p < t->e && *t->p != '"'; t->p++) {
		if (*t->p != '\\')
			continue;
		if (++t->p >= t->e || *t->p != 'u' || t->e - t->p < 5)
			continue;
		cp = hex4(t->p + 1);
		t->p += 4;
		if (cp == 0)
			return fail(&t->v, "a %s holds \\u0000, which "
			    "PostgreSQL cannot store", what);
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail(&t->v, "a %s holds a lone UTF-16 low "
			    "surrogate \\u%04x", what, cp);
		if (cp < 0xd800 || cp > 0xdbff)
			continue;
		lo = t->e - t->p >= 7 && t->p[1] == '\\' && t->p[2] == 'u' ?
		    hex4(t->p + 3) : 0;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(&t->v, "a %s holds a lone UTF-16 high "
			    "surrogate \\u%04x", what, cp);
		t->p += 6;
	}
	t->p++;
	return 0;
}

/* The member name starting at s (its quote), cut, as a path segment. */
static const char *
text_key(struct tctx *t, const char *s)
{
	char	*k = t->keys[t->v.depth < MAX_DEPTH ? t->v.depth :
		    MAX_DEPTH - 1];
	size_t	 n = 0;

	for (s++; s + n < t->e && s[n] != '"' && n < MAX_QUOTED; n++)
		if (s[n] == '\\' && s + n + 1 < t->e)
			n++;
	n = n > MAX_QUOTED ? MAX_QUOTED : n;
	memcpy(k, s, n);
	k[text_utf8_trim(k, n)] = '\0';
	return k;
}

static int
text_container(struct tctx *t, char close)
{
	const char	*name;
	size_t		 i;

	t->p++;
	text_ws(t);
	for (i = 0; t->p < t->e && *t->p != close; i++) {
		if (close == '}') {
			name = t->p;
			if (text_string(t, 1) == -1)
				return -1;
			text_ws(t);
			t->p++;				/* ':' */
			text_ws(t);
			push(&t->v, text_key(t, name));
		} else
			push_idx(&t->v, i);
		if (text_value(t) == -1)
			return -1;
		pop(&t->v, 1);
		text_ws(t);
		if (t->p < t->e && *t->p == ',') {
			t->p++;
			text_ws(t);
		}
	}
	t->p++;
	return 0;
}

static int
text_value(struct tctx *t)
{
	if (t->p >= t->e)
		return 0;
	switch (*t->p) {
	case '{':
		return text_container(t, '}');
	case '[':
		return text_container(t, ']');
	case '"':
		return text_string(t, 0);
	default:
		while (t->p < t->e && strchr(",]} \t\r\n", *t->p) == NULL)
			t->p++;
		return 0;
	}
}

int
validate_json_text(const char *text, size_t len, char *err, size_t errlen)
{
	struct tctx	 t;
	const char	*s = text, *e = text + len;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* Most documents have no \u escape at all. */
	while ((s = memchr(s, '\\', (size_t)(e - s))) != NULL &&
	    s + 1 < e && s[1] != 'u')
		s += 2;
	if (s == NULL || s + 1 >= e)
		return 0;
	memset(&t.v, 0, sizeof(t.v));
	t.v.err = err;
	t.v.errlen = errlen;
	t.p = text;
	t.e = e;
	text_ws(&t);
	return text_value(&t);
}

/*
 * kind: "Dashboard" in any letter case (Perses' GetKind lowers it),
 * written back as "Dashboard".
 */
static int
check_kind(struct vctx *v, struct json_object *doc)
{
	const char	*k;

	if (need_string(v, doc, "kind", &k) == -1)
		return -1;
	if (strcasecmp(k, "Dashboard") != 0)
		return fail_at(v, "kind", "must be \"Dashboard\"");
	v->fix_kind = strcmp(k, "Dashboard") != 0;
	return 0;
}

int
validate_dashboard(struct json_object *doc, char *err, size_t errlen)
{
	struct vctx		 v;
	struct json_object	*spec, *panels = NULL;
	int			 rc = -1;

	memset(&v, 0, sizeof(v));
	v.err = err;
	v.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (!json_object_is_type(doc, json_type_object))
		return fail(&v, "the document must be a JSON object");
	if (check_kind(&v, doc) == -1 ||
	    check_metadata(&v, doc) == -1 ||
	    need_object(&v, doc, "spec", &spec) == -1)
		goto out;
	push(&v, "spec");
	/*
	 * Perses' "spec cannot be empty".  Its decoder fills in duration
	 * "1h" before it compares, so a stock server takes {} and refuses
	 * only an absent spec; the SPEC (and templates) hold {} empty.
	 */
	if (json_object_object_length(spec) == 0) {
		fail(&v, "must not be empty");
		goto out;
	}
	if (check_display(&v, spec) == -1 ||
	    check_duration(&v, spec, "duration") == -1 ||
	    check_duration(&v, spec, "refreshInterval") == -1 ||
	    check_timezone(&v, spec) == -1 ||
	    check_query_batching(&v, spec) == -1 ||
	    each_object(&v, spec, "links", check_link, NULL) == -1 ||
	    check_datasources(&v, spec) == -1 ||
	    check_variables(&v, spec) == -1 ||
	    each_object(&v, spec, "annotations", check_annotation,
	    NULL) == -1 ||
	    check_panels(&v, spec, &panels) == -1 ||
	    check_layouts(&v, spec, panels) == -1)
		goto out;
	pop(&v, 1);
	if (!numbers_ok(doc) && check_numbers(&v, doc) == -1)
		goto out;
	/* Accepted: now, and only now, as Perses would store it. */
	if (v.fix_kind)
		json_object_object_add(doc, "kind",
		    json_object_new_string("Dashboard"));
	if (v.dedup_tags != NULL)
		drop_duplicate_tags(v.dedup_tags);
	rc = 0;
out:
	return rc;
}
