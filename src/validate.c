/*
 * validate.c -- the Perses rules for dashboard documents.
 *
 * Owns: the shape of a Dashboard as Perses accepts it (kind, metadata,
 * spec.display, durations, variables, panels, grid layouts and their
 * $refs), the name and duration syntaxes, and the wording of every
 * failure: "<field path>: <what is wrong>", the first violation only,
 * checked in the order kind, metadata, spec.display, spec.duration,
 * spec.refreshInterval, spec.variables, spec.panels, spec.layouts.
 * Never: allocate beyond a transient hash set, modify the document,
 * touch the database, or refuse a member it does not know (Perses
 * plugins add their own).
 *
 * JSON null counts as absent, as it does for Perses (Go's decoder
 * leaves the zero value), and a required string that is absent, null
 * or "" is "required".  The cost is one pass over the document: panel
 * $refs are resolved with json-c's own hash lookup and variable names
 * are checked for duplicates in a hash set, never by nested scans.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/linkhash.h>

#include "validate.h"

#define MAX_TAGS	20
#define MAX_TAG_CHARS	50
#define MAX_PANELS	10000
#define MAX_QUOTED	64	/* bytes of a client's value quoted back */
#define MAX_DEPTH	12	/* path segments; the deepest rule needs 8 */
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

/* Cut s (length n) back to the last whole UTF-8 character. */
static size_t
utf8_trim(const char *s, size_t n)
{
	size_t	 i = n, need;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return 0;
	need = ((unsigned char)s[i - 1] & 0xe0) == 0xc0 ? 2 :
	    ((unsigned char)s[i - 1] & 0xf0) == 0xe0 ? 3 :
	    ((unsigned char)s[i - 1] & 0xf8) == 0xf0 ? 4 : 1;
	return n - (i - 1) >= need ? n : i - 1;
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
	if (n < v->errlen) {
		va_start(ap, fmt);
		vsnprintf(v->err + n, v->errlen - n, fmt, ap);
		va_end(ap);
	}
	n = strlen(v->err);
	v->err[utf8_trim(v->err, n)] = '\0';
	return -1;
}

/* At most MAX_QUOTED bytes of s, whole characters, for "%.*s". */
static int
qlen(const char *s)
{
	size_t	 n = strlen(s);

	return (int)(n > MAX_QUOTED ? utf8_trim(s, MAX_QUOTED) : n);
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
 * The member key of o as a required, non-empty string; *out borrows
 * from the document.
 */
static int
need_string(struct vctx *v, struct json_object *o, const char *key,
    const char **out)
{
	struct json_object	*m = get(o, key);
	const char		*bad;
	int			 rc = 0;

	*out = NULL;
	push(v, key);
	if (m == NULL || (json_object_is_type(m, json_type_string) &&
	    json_object_get_string_len(m) == 0))
		rc = fail(v, "required");
	else if ((bad = not_string(m)) != NULL)
		rc = fail(v, "%s", bad);
	else
		*out = json_object_get_string(m);
	pop(v, 1);
	return rc;
}

/* A member that must be present and a JSON object. */
static int
need_object(struct vctx *v, struct json_object *o, const char *key,
    struct json_object **out)
{
	struct json_object	*m = get(o, key);
	int			 rc = 0;

	*out = NULL;
	push(v, key);
	if (m == NULL)
		rc = fail(v, "required");
	else if (!json_object_is_type(m, json_type_object))
		rc = fail(v, "must be an object");
	else
		*out = m;
	pop(v, 1);
	return rc;
}

/* An optional member that, when present, is of type t. */
static int
opt_typed(struct vctx *v, struct json_object *o, const char *key,
    enum json_type t, struct json_object **out)
{
	struct json_object	*m = get(o, key);
	const char		*bad;

	*out = NULL;
	if (m == NULL)
		return 0;
	if (t == json_type_string)
		bad = not_string(m);
	else if (!json_object_is_type(m, t))
		bad = t == json_type_object ? "must be an object" :
		    "must be an array";
	else
		bad = NULL;
	if (bad != NULL) {
		push(v, key);
		fail(v, "%s", bad);
		pop(v, 1);
		return -1;
	}
	*out = m;
	return 0;
}

/* A required string among a fixed set of kinds. */
static int
need_kind(struct vctx *v, struct json_object *o, const char *a,
    const char *b)
{
	const char	*k;
	int		 rc;

	if (need_string(v, o, "kind", &k) == -1)
		return -1;
	if (strcmp(k, a) == 0 || (b != NULL && strcmp(k, b) == 0))
		return 0;
	push(v, "kind");
	if (b == NULL)
		rc = fail(v, "must be \"%s\"", a);
	else
		rc = fail(v, "must be \"%s\" or \"%s\"", a, b);
	pop(v, 1);
	return rc;
}

/* A required member following validate_name(). */
static int
need_name(struct vctx *v, struct json_object *o, const char *key,
    const char **out)
{
	int	 rc = 0;

	if (need_string(v, o, key, out) == -1)
		return -1;
	if (!validate_name(*out)) {
		push(v, key);
		rc = fail(v, NAME_RULE);
		pop(v, 1);
	}
	return rc;
}

/* An integer member >= min; doubles are refused as Go's int is. */
static int
need_int(struct vctx *v, struct json_object *o, const char *key,
    int64_t min)
{
	struct json_object	*m = get(o, key);
	int			 rc = 0;

	push(v, key);
	if (m == NULL)
		rc = fail(v, "required");
	else if (!json_object_is_type(m, json_type_int) ||
	    json_object_get_int64(m) < min)
		rc = fail(v, "must be an integer >= %lld", (long long)min);
	pop(v, 1);
	return rc;
}

/* Characters, not bytes: json-c has already checked the UTF-8. */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
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

static int
check_duration(struct vctx *v, struct json_object *spec, const char *key)
{
	struct json_object	*d;
	const char		*s;
	int			 rc = 0;

	if (opt_typed(v, spec, key, json_type_string, &d) == -1)
		return -1;
	if (d == NULL)
		return 0;
	s = json_object_get_string(d);
	if (!validate_duration(s)) {
		push(v, key);
		rc = fail(v, "invalid duration \"%.*s\" (expected e.g. "
		    "\"30s\", \"5m\", \"1h30m\", \"7d\")", qlen(s), s);
		pop(v, 1);
	}
	return rc;
}

static int
check_metadata(struct vctx *v, struct json_object *doc)
{
	struct json_object	*meta, *proj, *tags, *t, *u;
	const char		*s, *bad;
	size_t			 i, j, n;
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
	if (opt_typed(v, meta, "tags", json_type_array, &tags) == -1)
		goto out;
	n = tags != NULL ? json_object_array_length(tags) : 0;
	push(v, "tags");
	if (n > MAX_TAGS) {
		fail(v, "at most %d tags (got %zu)", MAX_TAGS, n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tags, i);
		push_idx(v, i);
		if ((bad = not_string(t)) != NULL) {
			fail(v, "%s", bad);
			goto out;
		}
		s = json_object_get_string(t);
		j = utf8_chars(s, strlen(s));
		if (j < 1 || j > MAX_TAG_CHARS) {
			fail(v, "must be 1 to %d characters (got %zu)",
			    MAX_TAG_CHARS, j);
			goto out;
		}
		/* At most 20: a pairwise check is cheaper than a set. */
		for (j = 0; j < i; j++) {
			u = json_object_array_get_idx(tags, j);
			if (strcmp(json_object_get_string(u), s) == 0) {
				fail(v, "duplicate tag \"%.*s\"", qlen(s), s);
				goto out;
			}
		}
		pop(v, 1);
	}
	rc = 0;
out:
	v->depth = depth;
	return rc;
}

static int
check_display(struct vctx *v, struct json_object *spec)
{
	struct json_object	*d, *m;
	int			 rc;

	if (opt_typed(v, spec, "display", json_type_object, &d) == -1)
		return -1;
	if (d == NULL)
		return 0;
	push(v, "display");
	rc = opt_typed(v, d, "name", json_type_string, &m) == -1 ||
	    opt_typed(v, d, "description", json_type_string, &m) == -1 ?
	    -1 : 0;
	pop(v, 1);
	return rc;
}

static int
check_variables(struct vctx *v, struct json_object *spec)
{
	struct json_object	*vars, *var, *vspec;
	struct lh_table		*seen = NULL;
	const char		*name;
	size_t			 i, n;
	int			 rc = -1, depth = v->depth;

	if (opt_typed(v, spec, "variables", json_type_array, &vars) == -1)
		return -1;
	if (vars == NULL || (n = json_object_array_length(vars)) == 0)
		return 0;
	push(v, "variables");
	/* Keys are borrowed from the document, which outlives the set. */
	/*
	 * Small to start and grown by json-c as names arrive, so a
	 * huge array of junk never buys a huge table.
	 */
	if ((seen = lh_kchar_table_new(64, NULL)) == NULL) {
		fail(v, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		var = json_object_array_get_idx(vars, i);
		push_idx(v, i);
		if (!json_object_is_type(var, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (need_kind(v, var, "ListVariable", "TextVariable") == -1 ||
		    need_object(v, var, "spec", &vspec) == -1)
			goto out;
		push(v, "spec");
		if (need_name(v, vspec, "name", &name) == -1)
			goto out;
		if (lh_table_lookup_ex(seen, name, NULL)) {
			push(v, "name");
			fail(v, "duplicate variable \"%s\"", name);
			goto out;
		}
		if (lh_table_insert(seen, name, NULL) != 0) {
			fail(v, "out of memory");
			goto out;
		}
		pop(v, 2);
	}
	rc = 0;
out:
	if (seen != NULL)
		lh_table_free(seen);
	v->depth = depth;
	return rc;
}

static int
check_panels(struct vctx *v, struct json_object *spec,
    struct json_object **panels)
{
	struct json_object	*pspec, *plugin;
	const char		*kind;
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
		if (!json_object_is_type(p, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (need_kind(v, p, "Panel", NULL) == -1 ||
		    need_object(v, p, "spec", &pspec) == -1)
			goto out;
		push(v, "spec");
		if (need_object(v, pspec, "plugin", &plugin) == -1)
			goto out;
		push(v, "plugin");
		if (need_string(v, plugin, "kind", &kind) == -1)
			goto out;
		pop(v, 3);
	}
	rc = 0;
out:
	v->depth = depth;
	return rc;
}

static int
check_item(struct vctx *v, struct json_object *item,
    struct json_object *panels)
{
	struct json_object	*content;
	const char		*ref, *key;

	if (!json_object_is_type(item, json_type_object))
		return fail(v, "must be an object");
	if (need_int(v, item, "x", 0) == -1 ||
	    need_int(v, item, "y", 0) == -1 ||
	    need_int(v, item, "width", 1) == -1 ||
	    need_int(v, item, "height", 1) == -1 ||
	    need_object(v, item, "content", &content) == -1)
		return -1;
	push(v, "content");
	if (need_string(v, content, "$ref", &ref) == -1)
		return -1;
	push(v, "$ref");
	if (strncmp(ref, PANEL_REF, sizeof(PANEL_REF) - 1) != 0)
		return fail(v, "must be \"" PANEL_REF "<panel>\" "
		    "(got \"%.*s\")", qlen(ref), ref);
	key = ref + sizeof(PANEL_REF) - 1;
	/* One hash lookup per item: the document stays O(n). */
	if (panels == NULL || !json_object_object_get_ex(panels, key, NULL))
		return fail(v, "no panel \"%.*s\"", qlen(key), key);
	pop(v, 2);
	return 0;
}

static int
check_layouts(struct vctx *v, struct json_object *spec,
    struct json_object *panels)
{
	struct json_object	*layouts, *l, *lspec, *items;
	size_t			 i, j, n, m;
	int			 rc = -1, depth = v->depth;

	if (opt_typed(v, spec, "layouts", json_type_array, &layouts) == -1)
		return -1;
	n = layouts != NULL ? json_object_array_length(layouts) : 0;
	push(v, "layouts");
	for (i = 0; i < n; i++) {
		l = json_object_array_get_idx(layouts, i);
		push_idx(v, i);
		if (!json_object_is_type(l, json_type_object)) {
			fail(v, "must be an object");
			goto out;
		}
		if (need_kind(v, l, "Grid", NULL) == -1 ||
		    need_object(v, l, "spec", &lspec) == -1)
			goto out;
		push(v, "spec");
		/* Go's decoder leaves absent items nil: an empty grid. */
		if (opt_typed(v, lspec, "items", json_type_array, &items) == -1)
			goto out;
		m = items != NULL ? json_object_array_length(items) : 0;
		push(v, "items");
		for (j = 0; j < m; j++) {
			push_idx(v, j);
			if (check_item(v, json_object_array_get_idx(items, j),
			    panels) == -1)
				goto out;
			pop(v, 1);
		}
		pop(v, 3);
	}
	rc = 0;
out:
	v->depth = depth;
	return rc;
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
	if (need_kind(&v, doc, "Dashboard", NULL) == -1 ||
	    check_metadata(&v, doc) == -1 ||
	    need_object(&v, doc, "spec", &spec) == -1)
		goto out;
	push(&v, "spec");
	if (json_object_object_length(spec) == 0) {
		fail(&v, "must not be empty");
		goto out;
	}
	if (check_display(&v, spec) == -1 ||
	    check_duration(&v, spec, "duration") == -1 ||
	    check_duration(&v, spec, "refreshInterval") == -1 ||
	    check_variables(&v, spec) == -1 ||
	    check_panels(&v, spec, &panels) == -1 ||
	    check_layouts(&v, spec, panels) == -1)
		goto out;
	rc = 0;
out:
	return rc;
}
