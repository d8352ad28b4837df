/*
 * validate_resource.c -- the Perses rules for the datasource and
 * variable documents clients send (pkg/model/api/v1 and
 * internal/api/validate in perses/perses), and their normal form: what
 * a Perses server stores after unmarshalling into its model and
 * marshalling back (the members it knows, its non-omitempty booleans
 * always present, one default of a single-value list variable a string).
 *
 * Owns: those rules, each refusal worded "field.path: what is wrong"
 * with the path as a client finds it (spec.plugin.spec.proxy.spec.url).
 * Never: modify the document it checks, keep memory past a call, touch
 * the database, or decide scope rules (at most one default per plugin
 * kind, built-in names: src/api/perses.c and migration 0007 do).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "validate.h"
#include "text.h"
#include "validate_resource.h"

/* The message of a refusal, built up by the checks below. */
struct err {
	char	 msg[VALIDATE_ERR_MAX];
};

/* At most QUOTED bytes of a client's string, whole characters. */
#define QUOTED	64
static int
qlen(const char *s)
{
	size_t	 n = strlen(s);

	return (int)(n > QUOTED ? text_utf8_trim(s, QUOTED) : n);
}

/* "path: message"; a cut by the buffer's end keeps whole characters. */
static int
fail(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct err *e, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->msg[text_utf8_trim(e->msg, strlen(e->msg))] = '\0';
	return -1;
}

/* v as a C string: NULL unless a string without embedded NULs. */
static const char *
str_of(struct json_object *v)
{
	const char	*s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* Member key of o, NULL when absent or JSON null. */
static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* Copy member key of `from` (if present) into `to`, taking a reference. */
static void
keep(struct json_object *to, struct json_object *from, const char *key)
{
	struct json_object	*v;

	if ((v = member(from, key)) != NULL)
		json_object_object_add(to, key, json_object_get(v));
}

/* A string member (absent is fine): 0, or -1 with the message. */
static int
opt_string(struct json_object *o, const char *key, const char *path,
    struct err *e)
{
	struct json_object	*v = member(o, key);

	if (v != NULL && str_of(v) == NULL)
		return fail(e, "%s.%s: must be a string", path, key);
	return 0;
}

/* A boolean member: its value (absent: 0), or -1 with the message. */
static int
opt_bool(struct json_object *o, const char *key, const char *path,
    struct err *e)
{
	struct json_object	*v = member(o, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(e, "%s.%s: must be true or false", path, key);
	return json_object_get_boolean(v) ? 1 : 0;
}

/*
 * display: {name, description} (and hidden for a variable), as its
 * normal form in *out (NULL when absent).
 */
static int
check_display(struct json_object *o, const char *path, int hidden,
    struct json_object **out, struct err *e)
{
	struct json_object	*d = member(o, "display"), *n;
	char			 p[128];
	int			 h = 0;

	*out = NULL;
	if (d == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s.display", path);
	if (!json_object_is_type(d, json_type_object))
		return fail(e, "%s: must be an object with name and "
		    "description", p);
	if (opt_string(d, "name", p, e) == -1 ||
	    opt_string(d, "description", p, e) == -1)
		return -1;
	if (hidden && (h = opt_bool(d, "hidden", p, e)) == -1)
		return -1;
	n = json_object_new_object();
	/* Go's omitempty: an empty string is left out. */
	if (member(d, "name") != NULL &&
	    *json_object_get_string(member(d, "name")) != '\0')
		keep(n, d, "name");
	if (member(d, "description") != NULL &&
	    *json_object_get_string(member(d, "description")) != '\0')
		keep(n, d, "description");
	if (hidden)
		json_object_object_add(n, "hidden", json_object_new_boolean(h));
	*out = n;
	return 0;
}

/* plugin: {kind (non-empty), spec}; its normal form in *out. */
static int
check_plugin(struct json_object *o, const char *path,
    struct json_object **out, struct err *e)
{
	struct json_object	*pl = member(o, "plugin"), *k, *n;

	*out = NULL;
	if (pl == NULL)
		return fail(e, "%s.plugin: required, an object with kind and "
		    "spec", path);
	if (!json_object_is_type(pl, json_type_object))
		return fail(e, "%s.plugin: must be an object with kind and "
		    "spec", path);
	k = member(pl, "kind");
	if (k != NULL && str_of(k) == NULL)
		return fail(e, "%s.plugin.kind: must be a string", path);
	if (k == NULL || *json_object_get_string(k) == '\0')
		return fail(e, "%s.plugin.kind: cannot be empty", path);
	n = json_object_new_object();
	keep(n, pl, "kind");
	json_object_object_add(n, "spec", member(pl, "spec") != NULL ?
	    json_object_get(member(pl, "spec")) : NULL);
	*out = n;
	return 0;
}

/* The member of o named key in any letter case, as Perses finds it. */
static struct json_object *
member_ci(struct json_object *o, const char *key)
{
	json_object_object_foreach(o, k, v) {
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

/*
 * Perses's ValidateAndExtract: the first object in the plugin spec
 * whose "kind" is HTTPProxy (any case) must hold a valid proxy config
 * in its "spec": a url, allowedEndpoints of {endpointPattern, method},
 * string headers, a secret name.  Depth is bounded by the parser's.
 * Returns 1 when found and valid, 0 when none is found, -1 with the
 * message.
 */
static int
check_proxy(struct json_object *v, char *path, size_t plen, struct err *e)
{
	static const char *const methods[] = { "GET", "POST", "DELETE",
	    "PUT", "PATCH", NULL };
	struct json_object	*k, *s, *u, *a, *x, *m, *pat;
	size_t			 len = strlen(path), i, j;
	int			 rc;

	if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++) {
			snprintf(path + len, plen - len, "[%zu]", i);
			if ((rc = check_proxy(json_object_array_get_idx(v, i),
			    path, plen, e)) != 0)
				return rc;
		}
		path[len] = '\0';
		return 0;
	}
	if (!json_object_is_type(v, json_type_object))
		return 0;
	k = member_ci(v, "kind");
	if (k != NULL && json_object_is_type(k, json_type_string) &&
	    strcasecmp(json_object_get_string(k), "HTTPProxy") == 0) {
		s = member_ci(v, "spec");
		if (s == NULL || !json_object_is_type(s, json_type_object))
			return fail(e, "%s.spec: an HTTPProxy needs a spec "
			    "with its url", path);
		u = member(s, "url");
		if (u == NULL || str_of(u) == NULL ||
		    *json_object_get_string(u) == '\0')
			return fail(e, "%s.spec.url: url cannot be empty", path);
		if ((a = member(s, "allowedEndpoints")) != NULL) {
			if (!json_object_is_type(a, json_type_array))
				return fail(e, "%s.spec.allowedEndpoints: must "
				    "be an array", path);
			for (i = 0; i < json_object_array_length(a); i++) {
				x = json_object_array_get_idx(a, i);
				m = json_object_is_type(x, json_type_object) ?
				    member(x, "method") : NULL;
				pat = json_object_is_type(x, json_type_object) ?
				    member(x, "endpointPattern") : NULL;
				if (m == NULL || str_of(m) == NULL ||
				    *json_object_get_string(m) == '\0')
					return fail(e, "%s.spec.allowedEndpoints"
					    "[%zu].method: HTTP method cannot "
					    "be empty", path, i);
				for (j = 0; methods[j] != NULL && strcmp(
				    methods[j], json_object_get_string(m));
				    j++)
					;
				if (methods[j] == NULL)
					return fail(e, "%s.spec.allowedEndpoints"
					    "[%zu].method: \"%.*s\" is not a "
					    "valid http method: GET, POST, "
					    "DELETE, PUT or PATCH", path, i,
					    qlen(json_object_get_string(m)),
					    json_object_get_string(m));
				if (pat == NULL || str_of(pat) == NULL ||
				    *json_object_get_string(pat) == '\0')
					return fail(e, "%s.spec.allowedEndpoints"
					    "[%zu].endpointPattern: HTTP "
					    "endpoint pattern cannot be empty",
					    path, i);
			}
		}
		if ((x = member(s, "headers")) != NULL) {
			if (!json_object_is_type(x, json_type_object))
				return fail(e, "%s.spec.headers: must be an "
				    "object of strings", path);
			json_object_object_foreach(x, hk, hv) {
				if (!json_object_is_type(hv, json_type_string))
					return fail(e, "%s.spec.headers.%.*s: "
					    "must be a string", path, qlen(hk), hk);
			}
		}
		if ((x = member(s, "secret")) != NULL &&
		    !json_object_is_type(x, json_type_string))
			return fail(e, "%s.spec.secret: must be the name of a "
			    "secret", path);
		return 1;
	}
	json_object_object_foreach(v, key, val) {
		snprintf(path + len, plen - len, ".%.*s", qlen(key), key);
		if ((rc = check_proxy(val, path, plen, e)) != 0)
			return rc;
	}
	path[len] = '\0';
	return 0;
}

/*
 * A DatasourceSpec: {display?, default (boolean), plugin {kind, spec}}.
 * Its normal form, as Perses stores it, in *out.
 */
static int
datasource_spec(struct json_object *spec, struct json_object **out,
    struct err *e)
{
	struct json_object	*n, *disp, *pl;
	char			 path[256] = "spec.plugin.spec";
	int			 dflt;

	if ((dflt = opt_bool(spec, "default", "spec", e)) == -1 ||
	    check_display(spec, "spec", 0, &disp, e) == -1)
		return -1;
	if (check_plugin(spec, "spec", &pl, e) == -1) {
		json_object_put(disp);
		return -1;
	}
	n = json_object_new_object();
	if (disp != NULL)
		json_object_object_add(n, "display", disp);
	json_object_object_add(n, "default", json_object_new_boolean(dflt));
	json_object_object_add(n, "plugin", pl);
	*out = n;
	if (member(pl, "spec") != NULL &&
	    check_proxy(member(pl, "spec"), path, sizeof(path), e) == -1)
		return -1;
	return 0;
}

/* A ListVariable's spec (pkg/model/api/v1/variable/list.go). */
static int
check_list_spec(struct json_object *s, struct json_object *n,
    struct err *e)
{
	static const char *const sorts[] = { "none", "alphabetical-asc",
	    "alphabetical-desc", "numerical-asc", "numerical-desc",
	    "alphabetical-ci-asc", "alphabetical-ci-desc", NULL };
	static const char P[] = "spec.spec";
	struct json_object	*dv, *x, *pl;
	size_t			 i = 0;
	int			 all, multi;

	if ((all = opt_bool(s, "allowAllValue", P, e)) == -1 ||
	    (multi = opt_bool(s, "allowMultiple", P, e)) == -1 ||
	    opt_string(s, "customAllValue", P, e) == -1 ||
	    opt_string(s, "capturingRegexp", P, e) == -1 ||
	    opt_string(s, "sort", P, e) == -1)
		return -1;
	if ((x = member(s, "customAllValue")) != NULL &&
	    *json_object_get_string(x) != '\0' && !all)
		return fail(e, "%s.customAllValue: customAllValue cannot be "
		    "set if allowAllValue is not set to true", P);
	if ((x = member(s, "sort")) != NULL &&
	    *json_object_get_string(x) != '\0') {
		for (i = 0; sorts[i] != NULL &&
		    strcmp(sorts[i], json_object_get_string(x)) != 0; i++)
			;
		if (sorts[i] == NULL)
			return fail(e, "%s.sort: unknown sort method \"%.*s\" "
			    "used", P, qlen(json_object_get_string(x)),
			    json_object_get_string(x));
	}
	if ((dv = member(s, "defaultValue")) != NULL) {
		if (json_object_is_type(dv, json_type_array)) {
			for (i = 0; i < json_object_array_length(dv); i++)
				if (str_of(json_object_array_get_idx(dv,
				    i)) == NULL)
					break;
		}
		if (!(json_object_is_type(dv, json_type_string) ||
		    (json_object_is_type(dv, json_type_array) &&
		    i == json_object_array_length(dv))))
			return fail(e, "%s.defaultValue: unable to unmarshal "
			    "defaultValue. Only string or array of string can "
			    "be used", P);
		if (json_object_is_type(dv, json_type_array) && !multi &&
		    json_object_array_length(dv) > 1)
			return fail(e, "%s.defaultValue: you can not use a list "
			    "of default values if allowMultiple is set to "
			    "false", P);
	}
	if (check_plugin(s, P, &pl, e) == -1)
		return -1;
	/* Perses keeps one default of a single-value variable as a string. */
	if (dv != NULL && json_object_is_type(dv, json_type_array) && !multi) {
		if (json_object_array_length(dv) == 1)
			json_object_object_add(n, "defaultValue",
			    json_object_get(json_object_array_get_idx(dv, 0)));
	} else if (dv != NULL && !(json_object_is_type(dv, json_type_string) &&
	    *json_object_get_string(dv) == '\0'))
		keep(n, s, "defaultValue");
	json_object_object_add(n, "allowAllValue",
	    json_object_new_boolean(all));
	json_object_object_add(n, "allowMultiple",
	    json_object_new_boolean(multi));
	if ((x = member(s, "customAllValue")) != NULL &&
	    *json_object_get_string(x) != '\0')
		keep(n, s, "customAllValue");
	if ((x = member(s, "capturingRegexp")) != NULL &&
	    *json_object_get_string(x) != '\0')
		keep(n, s, "capturingRegexp");
	if ((x = member(s, "sort")) != NULL &&
	    *json_object_get_string(x) != '\0')
		keep(n, s, "sort");
	json_object_object_add(n, "plugin", pl);
	return 0;
}

/*
 * A VariableSpec: {kind: ListVariable|TextVariable, spec}.  Its normal
 * form in *out.
 */
static int
variable_spec(struct json_object *spec, struct json_object **out,
    struct err *e)
{
	struct json_object	*k, *s, *n, *inner, *disp, *x;
	const char		*kind;
	int			 constant;

	k = member(spec, "kind");
	if (k != NULL && str_of(k) == NULL)
		return fail(e, "spec.kind: must be a string");
	if (k == NULL || *(kind = json_object_get_string(k)) == '\0')
		return fail(e, "spec.kind: variable.kind cannot be empty");
	if (strcmp(kind, "ListVariable") != 0 &&
	    strcmp(kind, "TextVariable") != 0)
		return fail(e, "spec.kind: unknown variable.kind \"%.*s\" used "
		    "(ListVariable or TextVariable)", qlen(kind), kind);
	if ((s = member(spec, "spec")) == NULL ||
	    !json_object_is_type(s, json_type_object))
		return fail(e, "spec.spec: required, the %s's spec object",
		    kind);
	if (check_display(s, "spec.spec", 1, &disp, e) == -1)
		return -1;
	inner = json_object_new_object();
	if (disp != NULL)
		json_object_object_add(inner, "display", disp);
	if (strcmp(kind, "TextVariable") == 0) {
		if (opt_string(s, "value", "spec.spec", e) == -1 ||
		    (constant = opt_bool(s, "constant", "spec.spec", e)) == -1)
			goto bad;
		x = member(s, "value");
		if (constant && (x == NULL || *json_object_get_string(x) ==
		    '\0')) {
			fail(e, "spec.spec.value: value for a constant text "
			    "variable cannot be empty");
			goto bad;
		}
		json_object_object_add(inner, "value", json_object_new_string(
		    x != NULL ? json_object_get_string(x) : ""));
		if (constant)
			json_object_object_add(inner, "constant",
			    json_object_new_boolean(1));
	} else if (check_list_spec(s, inner, e) == -1)
		goto bad;
	n = json_object_new_object();
	json_object_object_add(n, "kind", json_object_new_string(kind));
	json_object_object_add(n, "spec", inner);
	*out = n;
	return 0;
bad:
	json_object_put(inner);
	return -1;
}

/*
 * Perses's variable name rule on top of the name rule: not only digits
 * (PromQL's "$1" placeholders), at most one character outside \w (the
 * regexp ^\w*?[^0-9]\w*$), and not the "__" of built-in variables.
 */
static int
variable_name(const char *n, struct err *e)
{
	size_t	 i, nonword = 0, digits = 0;

	for (i = 0; n[i] != '\0'; i++) {
		if (n[i] >= '0' && n[i] <= '9')
			digits++;
		else if (!((n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= 'A' && n[i] <= 'Z') || n[i] == '_'))
			nonword++;
	}
	if (digits == i || nonword > 1)
		return fail(e, "metadata.name: variable name '%s' is not valid: "
		    "not only digits, and at most one character other than "
		    "letters, digits and _", n);
	if (strncmp(n, "__", 2) == 0)
		return fail(e, "metadata.name: variable name '%s' can not have "
		    "builtin variable prefix: __", n);
	return 0;
}

/* Copy e's message out, cut on a character boundary. */
static int
refuse(const struct err *e, char *err, size_t errlen)
{
	size_t	 n;

	if (err == NULL || errlen == 0)
		return -1;
	n = strlen(e->msg);
	if (n >= errlen)
		n = text_utf8_trim(e->msg, errlen - 1);
	memcpy(err, e->msg, n);
	err[n] = '\0';
	return -1;
}

int
validate_datasource_spec(struct json_object *spec, struct json_object **norm,
    char *err, size_t errlen)
{
	struct err	 e;

	*norm = NULL;
	e.msg[0] = '\0';
	if (datasource_spec(spec, norm, &e) == 0)
		return 0;
	json_object_put(*norm);
	*norm = NULL;
	return refuse(&e, err, errlen);
}

int
validate_variable_spec(struct json_object *spec, struct json_object **norm,
    char *err, size_t errlen)
{
	struct err	 e;

	*norm = NULL;
	e.msg[0] = '\0';
	if (variable_spec(spec, norm, &e) == 0)
		return 0;
	json_object_put(*norm);
	*norm = NULL;
	return refuse(&e, err, errlen);
}

int
validate_variable_name(const char *name, char *err, size_t errlen)
{
	struct err	 e;

	e.msg[0] = '\0';
	return variable_name(name, &e) == 0 ? 0 : refuse(&e, err, errlen);
}
