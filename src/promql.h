/*
 * promql.h -- the query language dashcgi's own datasource answers: a
 * narrow, exact subset of PromQL.
 *
 *   query    := [agg] selector | agg "(" selector ")"
 *   agg      := ("sum"|"avg"|"min"|"max"|"count")
 *               [("by"|"without") "(" [label {"," label}] ")"]
 *               "(" selector ")" [("by"|"without") "(" labels ")"]
 *   selector := name ["{" [matcher {"," matcher} [","]] "}"]
 *             | "{" matcher {"," matcher} [","] "}"
 *   matcher  := label ("=" | "!=" | "=~" | "!~") string
 *   string   := "…" | '…' (Go escapes: \" \' \\ \n \t \r \a \b \f \v
 *               \xHH \uHHHH \UHHHHHHHH \ooo) | `raw`
 *
 * Owns: parsing into a struct pq_query whose strings live in the
 * caller's arena.  Anything else (functions, binary operators, ranges,
 * offsets, numbers) is refused with a message naming the position,
 * as Prometheus's "1:12: parse error: …".
 * Never: evaluate, touch the database, or allocate outside the arena.
 */
#ifndef DASHCGI_PROMQL_H
#define DASHCGI_PROMQL_H

#include <stddef.h>

#include "arena.h"

#define PQ_MAX_MATCHERS	16
#define PQ_MAX_LABELS	16
#define PQ_ERR_MAX	256

enum pq_op { PQ_EQ = 0, PQ_NE, PQ_RE, PQ_NRE };
enum pq_agg { PQ_NONE = 0, PQ_SUM, PQ_AVG, PQ_MIN, PQ_MAX, PQ_COUNT };
enum pq_grouping { PQ_ALL = 0, PQ_BY, PQ_WITHOUT };

struct pq_matcher {
	const char	*label;
	enum pq_op	 op;
	const char	*value;
};

struct pq_query {
	enum pq_agg		 agg;
	enum pq_grouping	 grouping;
	const char		*labels[PQ_MAX_LABELS];	/* by/without */
	size_t			 nlabels;
	const char		*metric;	/* NULL: only matchers */
	struct pq_matcher	 m[PQ_MAX_MATCHERS];	/* __name__ folded
							   into metric when = */
	size_t			 nm;
};

/*
 * Parse q (NUL-terminated).  0, or -1 with "1:COL: parse error: …"
 * in err (PQ_ERR_MAX bytes).
 */
int		 pq_parse(struct arena *, const char *q, struct pq_query *,
		    char *err);

const char	*pq_op_name(enum pq_op);
const char	*pq_agg_name(enum pq_agg);

#endif
