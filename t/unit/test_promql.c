/*
 * test_promql.c -- the datasource's PromQL subset: what it accepts,
 * into what, and what it refuses with Prometheus-style positions.
 */
#include <string.h>

#include "arena.h"
#include "promql.h"
#include "tap.h"

static struct arena	 a;
static char		 err[PQ_ERR_MAX];

static int
parse(const char *q, struct pq_query *out)
{
	return pq_parse(&a, q, out, err);
}

static void
refused(const char *q, const char *want)
{
	struct pq_query	 out;

	ok(parse(q, &out) == -1 && strstr(err, want) != NULL,
	    "refused: %s -> %s (got \"%s\")", q, want, err);
}

int
main(void)
{
	struct pq_query	 q;

	ok(parse("slo_sli_ratio", &q) == 0 && q.agg == PQ_NONE &&
	    strcmp(q.metric, "slo_sli_ratio") == 0 && q.nm == 0,
	    "a bare metric name");
	ok(parse(" slo_burn_rate { slo = \"checkout\" , window=~'1h|5m', "
	    "sli!=\"a\", x!~`b.*`, } ", &q) == 0 && q.nm == 4,
	    "four matchers, spaces and a trailing comma");
	ok(q.m[0].op == PQ_EQ && strcmp(q.m[0].label, "slo") == 0 &&
	    strcmp(q.m[0].value, "checkout") == 0, "= with its label and value");
	ok(q.m[1].op == PQ_RE && strcmp(q.m[1].value, "1h|5m") == 0, "=~");
	ok(q.m[2].op == PQ_NE, "!=");
	ok(q.m[3].op == PQ_NRE && strcmp(q.m[3].value, "b.*") == 0,
	    "!~ with a raw string");
	ok(parse("x{a=\"\\u00e9\\x41\\101\\n\\\"\"}", &q) == 0 &&
	    strcmp(q.m[0].value, "\xc3\xa9" "AA\n\"") == 0,
	    "Go escapes: \\u, \\x, octal, \\n, \\\"");
	ok(parse("{__name__=\"monitor_up\",monitor=\"a\"}", &q) == 0 &&
	    q.metric != NULL && strcmp(q.metric, "monitor_up") == 0 &&
	    q.nm == 1, "__name__= is the metric name");
	ok(parse("{project=\"shop\"}", &q) == 0 && q.metric == NULL &&
	    q.nm == 1, "matchers without a name");
	ok(parse("sum by (slo, sli) (slo_burn_rate)", &q) == 0 &&
	    q.agg == PQ_SUM && q.grouping == PQ_BY && q.nlabels == 2 &&
	    strcmp(q.labels[1], "sli") == 0, "sum by (…) (…)");
	ok(parse("max(monitor_latency_seconds{quantile=\"0.95\"}) by "
	    "(monitor)", &q) == 0 && q.agg == PQ_MAX && q.grouping == PQ_BY &&
	    q.nlabels == 1, "the grouping after the argument");
	ok(parse("avg without (sli) (x)", &q) == 0 &&
	    q.grouping == PQ_WITHOUT, "without");
	ok(parse("count(x)", &q) == 0 && q.agg == PQ_COUNT &&
	    q.grouping == PQ_ALL, "count of everything");
	ok(parse("min by () (x)", &q) == 0 && q.grouping == PQ_BY &&
	    q.nlabels == 0, "an empty grouping");
	ok(parse("sum_total", &q) == 0 && q.agg == PQ_NONE &&
	    strcmp(q.metric, "sum_total") == 0,
	    "a metric whose name begins like an aggregation");
	ok(parse("sum", &q) == 0 && q.agg == PQ_NONE &&
	    strcmp(q.metric, "sum") == 0, "a metric named sum");
	ok(parse("job:up:sum", &q) == 0, "colons in a metric name");

	refused("", "1:1: parse error: no expression found");
	refused("rate(x[5m])", "1:5: parse error: unexpected character '('");
	refused("x[5m]", "1:2: parse error: unexpected character '['");
	refused("sum(a) + sum(b)", "1:8: parse error: unexpected character '+'");
	refused("x{a=\"b}", "1:5: parse error: unterminated quoted string");
	refused("x{a=b}", "1:5: parse error: expected a quoted string");
	refused("x{a==\"b\"}", "1:5: parse error: expected a quoted string");
	refused("x{a<\"b\"}", "1:4: parse error: unexpected character '<' in "
	    "label matching");
	refused("x{1a=\"b\"}", "1:3: parse error: unexpected character '1' in "
	    "label matching, expected label");
	refused("{a=\"\"}", "vector selector must contain at least one "
	    "non-empty matcher");
	refused("{a=~\"\"}", "1:1: parse error: vector selector must contain");
	refused("x{a=\"\\q\"}", "1:6: parse error: unknown escape sequence");
	refused("x{a=\"\\ud800\"}", "invalid Unicode code point");
	refused("sum by (a (x)", "expected \",\" or \")\"");
	refused("sum by (a) (x) by (b)", "grouping given twice");
	refused("sum(sum(x))", "1:8: parse error: unexpected character '('");
	refused("x{__name__=\"a\",__name__=\"b\"}",
	    "metric name must not be set twice");
	refused("42", "1:1: parse error: unexpected character '4'");

	arena_free(&a);
	return done_testing();
}
