/*
 * promql.c -- the PromQL subset of promql.h: a hand-written recursive
 * descent parser over one line of text.
 *
 * Positions in messages are 1-based columns in bytes, as Prometheus
 * reports them ("1:12: parse error: unexpected character '+'").
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "promql.h"

struct parser {
	struct arena	*a;
	const char	*q, *p;
	char		*err;
};

static int
fail(struct parser *ps, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct parser *ps, const char *at, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	n = snprintf(ps->err, PQ_ERR_MAX, "1:%d: parse error: ",
	    (int)(at - ps->q) + 1);
	if (n < 0 || n >= PQ_ERR_MAX)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, PQ_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* What stands at p, for messages: a character, or "end of input". */
static const char *
what(struct parser *ps, const char *p)
{
	if (*p == '\0')
		return "end of input";
	if (isprint((unsigned char)*p))
		return arena_printf(ps->a, "character '%c'", *p);
	return arena_printf(ps->a, "byte 0x%02x", (unsigned char)*p);
}

static void
skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	    *ps->p == '\r')
		ps->p++;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels take no ':'. */
static const char *
ident(struct parser *ps, int colon)
{
	const char	*s = ps->p;

	if (!(isalpha((unsigned char)*s) || *s == '_' || (colon && *s == ':')))
		return NULL;
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_' ||
	    (colon && *ps->p == ':'))
		ps->p++;
	return arena_strndup(ps->a, s, (size_t)(ps->p - s));
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append code point cp as UTF-8; -1 for surrogates and beyond U+10FFFF. */
static int
put_utf8(char *o, size_t *n, unsigned long cp)
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	if (cp < 0x80)
		o[(*n)++] = (char)cp;
	else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | (cp >> 6));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | (cp >> 12));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | (cp >> 18));
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
	return 0;
}

/* A quoted string with Go's escapes, or a `raw` one.  NULL on error. */
static const char *
string(struct parser *ps)
{
	const char	*start = ps->p, *e;
	char		 quote = *ps->p, *o;
	size_t		 n = 0;
	unsigned long	 cp;
	int		 i, d, len;

	if (quote != '"' && quote != '\'' && quote != '`') {
		fail(ps, ps->p, "expected a quoted string, got %s",
		    what(ps, ps->p));
		return NULL;
	}
	/* The decoded text is never longer than the source. */
	o = arena_alloc(ps->a, strlen(ps->p) + 1);
	ps->p++;
	while (*ps->p != quote) {
		if (*ps->p == '\0' || (*ps->p == '\n' && quote != '`')) {
			fail(ps, start, "unterminated quoted string");
			return NULL;
		}
		if (*ps->p != '\\' || quote == '`') {
			o[n++] = *ps->p++;
			continue;
		}
		e = ps->p++;
		switch (*ps->p) {
		case 'a': o[n++] = '\a'; ps->p++; break;
		case 'b': o[n++] = '\b'; ps->p++; break;
		case 'f': o[n++] = '\f'; ps->p++; break;
		case 'n': o[n++] = '\n'; ps->p++; break;
		case 'r': o[n++] = '\r'; ps->p++; break;
		case 't': o[n++] = '\t'; ps->p++; break;
		case 'v': o[n++] = '\v'; ps->p++; break;
		case '\\': o[n++] = '\\'; ps->p++; break;
		case '"':
		case '\'':
			if (*ps->p != quote) {
				fail(ps, e, "unknown escape sequence");
				return NULL;
			}
			o[n++] = *ps->p++;
			break;
		case 'x':
		case 'u':
		case 'U':
			len = *ps->p == 'x' ? 2 : *ps->p == 'u' ? 4 : 8;
			ps->p++;
			for (cp = 0, i = 0; i < len; i++, ps->p++) {
				if ((d = hexval((unsigned char)*ps->p)) < 0) {
					fail(ps, e, "invalid escape sequence");
					return NULL;
				}
				cp = cp * 16 + (unsigned long)d;
			}
			if (len == 2)
				o[n++] = (char)cp;
			else if (put_utf8(o, &n, cp) == -1) {
				fail(ps, e, "escape sequence is an invalid "
				    "Unicode code point");
				return NULL;
			}
			break;
		default:
			if (*ps->p >= '0' && *ps->p <= '7') {
				for (cp = 0, i = 0; i < 3; i++, ps->p++) {
					if (*ps->p < '0' || *ps->p > '7') {
						fail(ps, e, "invalid escape "
						    "sequence");
						return NULL;
					}
					cp = cp * 8 + (unsigned long)(*ps->p - '0');
				}
				if (cp > 255) {
					fail(ps, e, "octal escape value > 255");
					return NULL;
				}
				o[n++] = (char)cp;
				break;
			}
			fail(ps, e, "unknown escape sequence");
			return NULL;
		}
	}
	ps->p++;
	o[n] = '\0';
	return o;
}

/* "{" [matcher {"," matcher} [","]] "}"; ps->p at "{". */
static int
matchers(struct parser *ps, struct pq_query *out)
{
	const char		*at;
	struct pq_matcher	*m;

	ps->p++;
	for (;;) {
		skip_ws(ps);
		if (*ps->p == '}') {
			ps->p++;
			return 0;
		}
		at = ps->p;
		if (out->nm == PQ_MAX_MATCHERS)
			return fail(ps, at, "more than %d label matchers",
			    PQ_MAX_MATCHERS);
		m = &out->m[out->nm];
		if ((m->label = ident(ps, 0)) == NULL)
			return fail(ps, at, "unexpected %s in label matching, "
			    "expected label", what(ps, at));
		skip_ws(ps);
		at = ps->p;
		if (ps->p[0] == '=' && ps->p[1] == '~')
			m->op = PQ_RE, ps->p += 2;
		else if (ps->p[0] == '!' && ps->p[1] == '~')
			m->op = PQ_NRE, ps->p += 2;
		else if (ps->p[0] == '!' && ps->p[1] == '=')
			m->op = PQ_NE, ps->p += 2;
		else if (ps->p[0] == '=')
			m->op = PQ_EQ, ps->p += 1;
		else
			return fail(ps, at, "unexpected %s in label matching, "
			    "expected one of \"=\", \"!=\", \"=~\", \"!~\"",
			    what(ps, at));
		skip_ws(ps);
		if ((m->value = string(ps)) == NULL)
			return -1;
		/* __name__="x" is the metric name spelt as a matcher. */
		if (strcmp(m->label, "__name__") == 0 && m->op == PQ_EQ) {
			if (out->metric != NULL &&
			    strcmp(out->metric, m->value) != 0)
				return fail(ps, at, "metric name must not be "
				    "set twice: \"%s\" or \"%s\"", out->metric,
				    m->value);
			out->metric = m->value;
		} else
			out->nm++;
		skip_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == '}') {
			ps->p++;
			return 0;
		}
		return fail(ps, ps->p, "unexpected %s in label matching, "
		    "expected \",\" or \"}\"", what(ps, ps->p));
	}
}

static int
selector(struct parser *ps, struct pq_query *out)
{
	const char	*at = ps->p, *name;
	size_t		 k;
	int		 nonempty = 0;

	skip_ws(ps);
	at = ps->p;
	if ((name = ident(ps, 1)) != NULL)
		out->metric = name;
	skip_ws(ps);
	if (*ps->p == '{' && matchers(ps, out) == -1)
		return -1;
	if (out->metric == NULL && name == NULL && ps->p == at)
		return fail(ps, at, "unexpected %s, expected a metric name or "
		    "\"{\"", what(ps, at));
	/* Prometheus: a selector must have a name or a matcher that does
	 * not match the empty string (for a regex we know "" and ".*"). */
	for (k = 0; k < out->nm; k++)
		if ((out->m[k].op == PQ_EQ && *out->m[k].value != '\0') ||
		    (out->m[k].op == PQ_NE && *out->m[k].value == '\0') ||
		    (out->m[k].op == PQ_RE && *out->m[k].value != '\0' &&
		    strcmp(out->m[k].value, ".*") != 0))
			nonempty = 1;
	if (out->metric == NULL && !nonempty)
		return fail(ps, at, "vector selector must contain at least "
		    "one non-empty matcher");
	return 0;
}

/* "by" or "without" then "(" [label {"," label} [","]] ")". */
static int
grouping(struct parser *ps, struct pq_query *out)
{
	const char	*at = ps->p, *l;

	if (strncmp(ps->p, "by", 2) == 0 && !isalnum((unsigned char)ps->p[2]) &&
	    ps->p[2] != '_')
		out->grouping = PQ_BY, ps->p += 2;
	else if (strncmp(ps->p, "without", 7) == 0 &&
	    !isalnum((unsigned char)ps->p[7]) && ps->p[7] != '_')
		out->grouping = PQ_WITHOUT, ps->p += 7;
	else
		return 0;
	skip_ws(ps);
	if (*ps->p != '(')
		return fail(ps, ps->p, "unexpected %s in grouping opts, "
		    "expected \"(\"", what(ps, ps->p));
	ps->p++;
	for (;;) {
		skip_ws(ps);
		if (*ps->p == ')') {
			ps->p++;
			return 1;
		}
		at = ps->p;
		if (out->nlabels == PQ_MAX_LABELS)
			return fail(ps, at, "more than %d grouping labels",
			    PQ_MAX_LABELS);
		if ((l = ident(ps, 0)) == NULL)
			return fail(ps, at, "unexpected %s in grouping opts, "
			    "expected label", what(ps, at));
		out->labels[out->nlabels++] = l;
		skip_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != ')')
			return fail(ps, ps->p, "unexpected %s in grouping "
			    "opts, expected \",\" or \")\"", what(ps, ps->p));
	}
}

static const char *const agg_names[] = {
	[PQ_NONE] = "", [PQ_SUM] = "sum", [PQ_AVG] = "avg",
	[PQ_MIN] = "min", [PQ_MAX] = "max", [PQ_COUNT] = "count",
};

int
pq_parse(struct arena *a, const char *q, struct pq_query *out, char *err)
{
	struct parser	 ps = { a, q, q, err };
	const char	*at, *save;
	size_t		 i, len;
	int		 g;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	skip_ws(&ps);
	if (*ps.p == '\0')
		return fail(&ps, ps.p, "no expression found in input");
	/* An aggregation, if a name of one is followed by "(", by or
	 * without; otherwise the name is a metric. */
	for (i = PQ_SUM; i <= PQ_COUNT; i++) {
		len = strlen(agg_names[i]);
		if (strncmp(ps.p, agg_names[i], len) != 0 ||
		    isalnum((unsigned char)ps.p[len]) || ps.p[len] == '_' ||
		    ps.p[len] == ':')
			continue;
		save = ps.p;
		ps.p += len;
		skip_ws(&ps);
		if (*ps.p == '(' || strncmp(ps.p, "by", 2) == 0 ||
		    strncmp(ps.p, "without", 7) == 0) {
			out->agg = (enum pq_agg)i;
			break;
		}
		ps.p = save;
	}
	if (out->agg != PQ_NONE) {
		if ((g = grouping(&ps, out)) == -1)
			return -1;
		skip_ws(&ps);
		if (*ps.p != '(')
			return fail(&ps, ps.p, "unexpected %s, expected \"(\"",
			    what(&ps, ps.p));
		ps.p++;
		if (selector(&ps, out) == -1)
			return -1;
		skip_ws(&ps);
		if (*ps.p != ')')
			return fail(&ps, ps.p, "unexpected %s, expected \")\"; "
			    "only a series selector may be aggregated",
			    what(&ps, ps.p));
		ps.p++;
		skip_ws(&ps);
		at = ps.p;
		if (g == 0 && (g = grouping(&ps, out)) == -1)
			return -1;
		else if (g == 1 && grouping(&ps, out) != 0)
			return fail(&ps, at, "grouping given twice");
	} else if (selector(&ps, out) == -1)
		return -1;
	skip_ws(&ps);
	if (*ps.p != '\0')
		return fail(&ps, ps.p, "unexpected %s; this datasource "
		    "answers series selectors and sum, avg, min, max, count "
		    "by/without", what(&ps, ps.p));
	return 0;
}

const char *
pq_op_name(enum pq_op op)
{
	static const char *const n[] = { "=", "!=", "=~", "!~" };

	return (unsigned)op < 4 ? n[op] : "?";
}

const char *
pq_agg_name(enum pq_agg a)
{
	return (unsigned)a <= PQ_COUNT ? agg_names[a] : "?";
}
