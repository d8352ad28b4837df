/*
 * fuzz_promql.c -- fuzz target: the datasource's PromQL subset,
 * pq_parse().  The input is the query, cut at a NUL byte.  Properties:
 *   - it returns 0 or -1, and -1 always with a "1:N: parse error: "
 *     message whose column lies within the input (+1 for its end);
 *   - an accepted query has a metric name or a matcher, at most the
 *     table's matchers and labels, every label an identifier, every
 *     operator and aggregation one of the enum's;
 *   - printing an accepted query back (print() below) and parsing that
 *     gives the same query (the parser keeps nothing it drops).
 *
 * Owns: the arena of one input.
 * Never: keep anything from one input to the next.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "promql.h"
#include "fuzz.h"

static int
is_ident(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

/* Back to text: values as \xHH escapes, so any byte survives. */
static char *
print(struct arena *a, const struct pq_query *q)
{
	char	*s = arena_strdup(a, ""), *v;
	size_t	 i;
	const char *p;

	if (q->agg != PQ_NONE) {
		s = arena_printf(a, "%s", pq_agg_name(q->agg));
		if (q->grouping != PQ_ALL) {
			s = arena_printf(a, "%s %s (", s, q->grouping == PQ_BY ?
			    "by" : "without");
			for (i = 0; i < q->nlabels; i++)
				s = arena_printf(a, "%s%s%s", s, i ? "," : "",
				    q->labels[i]);
			s = arena_printf(a, "%s)", s);
		}
		s = arena_printf(a, "%s (", s);
	}
	s = arena_printf(a, "%s%s{", s, q->metric ? q->metric : "");
	for (i = 0; i < q->nm; i++) {
		v = arena_strdup(a, "");
		for (p = q->m[i].value; *p; p++)
			v = arena_printf(a, "%s\\x%02x", v, (unsigned char)*p);
		s = arena_printf(a, "%s%s%s%s\"%s\"", s, i ? "," : "",
		    q->m[i].label, pq_op_name(q->m[i].op), v);
	}
	s = arena_printf(a, "%s}%s", s, q->agg != PQ_NONE ? ")" : "");
	return s;
}

static int
same(const struct pq_query *x, const struct pq_query *y)
{
	size_t	 i;

	if (x->agg != y->agg || x->grouping != y->grouping ||
	    x->nlabels != y->nlabels || x->nm != y->nm ||
	    (x->metric == NULL) != (y->metric == NULL) ||
	    (x->metric && strcmp(x->metric, y->metric) != 0))
		return 0;
	for (i = 0; i < x->nlabels; i++)
		if (strcmp(x->labels[i], y->labels[i]) != 0)
			return 0;
	for (i = 0; i < x->nm; i++)
		if (strcmp(x->m[i].label, y->m[i].label) != 0 ||
		    x->m[i].op != y->m[i].op ||
		    strcmp(x->m[i].value, y->m[i].value) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena	 a = { 0 };
	struct pq_query	 q, q2;
	char		*s = fuzz_cstr(data, size), err[PQ_ERR_MAX], *txt;
	int		 rc, col;
	size_t		 i;

	rc = pq_parse(&a, s, &q, err);
	FUZZ_CHECK(rc == 0 || rc == -1, "pq_parse returned %d", rc);
	if (rc == -1) {
		FUZZ_CHECK(sscanf(err, "1:%d: parse error: ", &col) == 1 &&
		    col >= 1 && (size_t)col <= strlen(s) + 1,
		    "message \"%s\" for \"%s\"", err, s);
		goto out;
	}
	FUZZ_CHECK(q.metric != NULL || q.nm > 0, "empty query \"%s\"", s);
	FUZZ_CHECK(q.nm <= PQ_MAX_MATCHERS && q.nlabels <= PQ_MAX_LABELS,
	    "too many parts in \"%s\"", s);
	FUZZ_CHECK(q.agg <= PQ_COUNT && q.grouping <= PQ_WITHOUT,
	    "bad enum in \"%s\"", s);
	for (i = 0; i < q.nm; i++)
		FUZZ_CHECK(is_ident(q.m[i].label) && q.m[i].op <= PQ_NRE,
		    "matcher %zu of \"%s\"", i, s);
	for (i = 0; i < q.nlabels; i++)
		FUZZ_CHECK(is_ident(q.labels[i]), "label %zu of \"%s\"", i, s);
	txt = print(&a, &q);
	FUZZ_CHECK(pq_parse(&a, txt, &q2, err) == 0 && same(&q, &q2),
	    "\"%s\" printed as \"%s\" does not parse back the same (%s)", s,
	    txt, err);
out:
	arena_free(&a);
	free(s);
	return 0;
}
