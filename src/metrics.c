/*
 * metrics.c -- shared-memory counters and their Prometheus rendering.
 *
 * Status codes are folded into a small fixed set so the table has a
 * fixed size; anything else is counted under its class ("2xx", …).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>

#include "log.h"
#include "metrics.h"

static const int codes[] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415,
	428, 429, 500, 503, 504
};
#define NCODES		(sizeof(codes) / sizeof(codes[0]))
#define NCODESLOTS	(NCODES + 5)	/* + 1xx..5xx classes */

/*
 * Statement errors by SQLSTATE class (PostgreSQL's errcodes appendix),
 * a fixed few so the table has a fixed size; "none" is a lost
 * connection, "other" every class not listed.
 */
static const char *const sqlclasses[] = {
	"08", "22", "23", "25", "26", "40", "42", "53", "54", "55", "57",
	"none", "other"
};
#define NSQLCLASSES	(sizeof(sqlclasses) / sizeof(sqlclasses[0]))

static size_t
sqlclass(const char *st)
{
	size_t	 i;

	if (st == NULL || st[0] == '\0' || st[1] == '\0')
		return NSQLCLASSES - 2;
	for (i = 0; i < NSQLCLASSES - 2; i++)
		if (st[0] == sqlclasses[i][0] && st[1] == sqlclasses[i][1])
			return i;
	return NSQLCLASSES - 1;
}

static const double buckets[METRICS_NBUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 10
};

struct shm {
	_Atomic uint64_t	 requests[METRICS_MAX_ROUTES][MM__COUNT][NCODESLOTS];
	_Atomic uint64_t	 dur_bucket[METRICS_MAX_ROUTES][METRICS_NBUCKETS];
	_Atomic uint64_t	 dur_count[METRICS_MAX_ROUTES];
	_Atomic uint64_t	 dur_sum_ns[METRICS_MAX_ROUTES];
	_Atomic uint64_t	 st_bucket[METRICS_MAX_STMTS][METRICS_NBUCKETS];
	_Atomic uint64_t	 st_count[METRICS_MAX_STMTS];
	_Atomic uint64_t	 st_sum_ns[METRICS_MAX_STMTS];
	_Atomic uint64_t	 st_errors[METRICS_MAX_STMTS][NSQLCLASSES];
	_Atomic uint64_t	 st_replica[METRICS_MAX_STMTS];
	_Atomic uint64_t	 replica_fallbacks;
	_Atomic int64_t		 ryw[METRICS_RYW_SLOTS];
	_Atomic uint64_t	 db_errors;
	_Atomic uint64_t	 worker_restarts;
	_Atomic uint64_t	 dashboard_views;
	_Atomic uint64_t	 dashboard_render_errors;
	struct worker_slot	 slots[METRICS_MAX_SLOTS];
};

static struct shm	*shm;

static const char *const method_names[MM__COUNT] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OTHER"
};

int
metrics_init(void)
{
	void	*p;

	p = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_error("mmap of %zu bytes for metrics failed: %m",
		    sizeof(struct shm));
		return -1;
	}
	shm = p;
	return 0;
}

struct worker_slot *
metrics_slot(int i)
{
	if (shm == NULL || i < 0 || i >= METRICS_MAX_SLOTS)
		return NULL;
	return &shm->slots[i];
}

int
metrics_nslots(void)
{
	return METRICS_MAX_SLOTS;
}

enum metrics_method
metrics_method(const char *m)
{
	int	 i;

	for (i = 0; i < MM_OTHER; i++)
		if (strcmp(m, method_names[i]) == 0)
			return (enum metrics_method)i;
	return MM_OTHER;
}

const char *
metrics_method_name(enum metrics_method m)
{
	return method_names[m < MM__COUNT ? m : MM_OTHER];
}

static size_t
code_slot(int status)
{
	size_t	 i;

	for (i = 0; i < NCODES; i++)
		if (codes[i] == status)
			return i;
	if (status < 100 || status > 599)
		status = 500;
	return NCODES + (size_t)(status / 100 - 1);
}

void
metrics_request(int route, enum metrics_method m, int status, double secs)
{
	size_t	 b;

	if (shm == NULL)
		return;
	if (route < 0 || route >= METRICS_MAX_ROUTES)
		route = 0;
	atomic_fetch_add_explicit(&shm->requests[route][m][code_slot(status)],
	    1, memory_order_relaxed);
	for (b = 0; b < METRICS_NBUCKETS; b++)
		if (secs <= buckets[b]) {
			atomic_fetch_add_explicit(&shm->dur_bucket[route][b],
			    1, memory_order_relaxed);
			break;
		}
	atomic_fetch_add_explicit(&shm->dur_count[route], 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->dur_sum_ns[route],
	    (uint64_t)(secs * 1e9), memory_order_relaxed);
}

void
metrics_db_error(void)
{
	if (shm != NULL)
		atomic_fetch_add_explicit(&shm->db_errors, 1,
		    memory_order_relaxed);
}

void
metrics_statement(int g, double secs, const char *sqlstate, int replica)
{
	size_t	 b;

	if (shm == NULL || g < 0 || g >= METRICS_MAX_STMTS)
		return;
	for (b = 0; b < METRICS_NBUCKETS; b++)
		if (secs <= buckets[b]) {
			atomic_fetch_add_explicit(&shm->st_bucket[g][b], 1,
			    memory_order_relaxed);
			break;
		}
	atomic_fetch_add_explicit(&shm->st_count[g], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->st_sum_ns[g], (uint64_t)(secs * 1e9),
	    memory_order_relaxed);
	if (sqlstate != NULL)
		atomic_fetch_add_explicit(&shm->st_errors[g][sqlclass(sqlstate)],
		    1, memory_order_relaxed);
	if (replica)
		atomic_fetch_add_explicit(&shm->st_replica[g], 1,
		    memory_order_relaxed);
}

void
metrics_ryw_mark(uint32_t h, int64_t ms)
{
	if (shm != NULL)
		atomic_store_explicit(&shm->ryw[h % METRICS_RYW_SLOTS], ms,
		    memory_order_relaxed);
}

int64_t
metrics_ryw_get(uint32_t h)
{
	if (shm == NULL)
		return 0;
	return atomic_load_explicit(&shm->ryw[h % METRICS_RYW_SLOTS],
	    memory_order_relaxed);
}

void
metrics_replica_fallback(void)
{
	if (shm != NULL)
		atomic_fetch_add_explicit(&shm->replica_fallbacks, 1,
		    memory_order_relaxed);
}

/*
 * One labelled series of a histogram; none when nothing was counted.
 * The buckets are summed as read, and +Inf is never below them.
 */
static void
write_histogram(FILE *f, const char *metric, const char *label,
    const char *value, _Atomic uint64_t *bucket, _Atomic uint64_t *count,
    _Atomic uint64_t *sum_ns)
{
	uint64_t	 cnt, cum = 0;
	size_t		 b;

	if ((cnt = atomic_load(count)) == 0)
		return;
	for (b = 0; b < METRICS_NBUCKETS; b++) {
		cum += atomic_load(&bucket[b]);
		fprintf(f, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", metric,
		    label, value, buckets[b], (unsigned long long)cum);
	}
	if (cnt < cum)
		cnt = cum;
	fprintf(f, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", metric, label,
	    value, (unsigned long long)cnt);
	fprintf(f, "%s_sum{%s=\"%s\"} %.9f\n", metric, label, value,
	    (double)atomic_load(sum_ns) / 1e9);
	fprintf(f, "%s_count{%s=\"%s\"} %llu\n", metric, label, value,
	    (unsigned long long)cnt);
}

/*
 * Per statement: a histogram of execution times (the round trip seen
 * by the worker, on whichever connection ran it), errors, and how many
 * ran on a replica.  Statements never run are left out.
 */
void
metrics_write_statements(FILE *f, metrics_stmt_name_fn name, int n)
{
	uint64_t	 v;
	size_t		 c;
	int		 g;

	if (shm == NULL)
		return;
	if (n > METRICS_MAX_STMTS)
		n = METRICS_MAX_STMTS;
	fputs("# HELP dashcgi_db_statement_duration_seconds Time to run a "
	    "statement and receive its result, by statement.\n"
	    "# TYPE dashcgi_db_statement_duration_seconds histogram\n", f);
	for (g = 0; g < n; g++)
		write_histogram(f, "dashcgi_db_statement_duration_seconds",
		    "statement", name(g), shm->st_bucket[g], &shm->st_count[g],
		    &shm->st_sum_ns[g]);
	fputs("# HELP dashcgi_db_statement_errors_total Statements that "
	    "failed, by statement and SQLSTATE class (none: the connection "
	    "was lost).\n"
	    "# TYPE dashcgi_db_statement_errors_total counter\n", f);
	for (g = 0; g < n; g++) {
		if (atomic_load(&shm->st_count[g]) == 0)
			continue;
		for (c = 0; c < NSQLCLASSES; c++) {
			v = atomic_load(&shm->st_errors[g][c]);
			if (v == 0 && c != NSQLCLASSES - 2)
				continue;
			fprintf(f, "dashcgi_db_statement_errors_total{statement="
			    "\"%s\",sqlstate_class=\"%s\"} %llu\n", name(g),
			    sqlclasses[c], (unsigned long long)v);
		}
	}
	fputs("# HELP dashcgi_db_replica_statements_total Statements run on "
	    "a read replica, by statement.\n"
	    "# TYPE dashcgi_db_replica_statements_total counter\n", f);
	for (g = 0; g < n; g++) {
		if ((v = atomic_load(&shm->st_replica[g])) == 0)
			continue;
		fprintf(f, "dashcgi_db_replica_statements_total"
		    "{statement=\"%s\"} %llu\n", name(g),
		    (unsigned long long)v);
	}
	fprintf(f, "# HELP dashcgi_db_replica_fallbacks_total Reads a replica "
	    "could not serve that the primary ran instead.\n"
	    "# TYPE dashcgi_db_replica_fallbacks_total counter\n"
	    "dashcgi_db_replica_fallbacks_total %llu\n",
	    (unsigned long long)atomic_load(&shm->replica_fallbacks));
}

void
metrics_worker_restart(void)
{
	if (shm != NULL)
		atomic_fetch_add_explicit(&shm->worker_restarts, 1,
		    memory_order_relaxed);
}

void
metrics_dashboard_view(uint64_t render_errors)
{
	if (shm == NULL)
		return;
	atomic_fetch_add_explicit(&shm->dashboard_views, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->dashboard_render_errors,
	    render_errors, memory_order_relaxed);
}

/* A slot counts if its process still exists (a SIGKILLed worker
 * cannot clear its own slot; the master does when it reaps). */
static int
slot_live(const struct worker_slot *s)
{
	return s->pid > 0 && (kill(s->pid, 0) == 0);
}

void
metrics_snapshot(struct metrics_snapshot *s)
{
	int	 i, r, m;
	size_t	 c;

	memset(s, 0, sizeof(*s));
	if (shm == NULL)
		return;
	s->db_up = 1;
	for (i = 0; i < METRICS_MAX_SLOTS; i++) {
		const struct worker_slot *w = &shm->slots[i];
		if (w->pid == 0 || w->retiring || !w->serves || !slot_live(w))
			continue;
		s->workers_total++;
		if (w->busy)
			s->workers_busy++;
		if (!w->db_up)
			s->db_up = 0;
	}
	if (s->workers_total == 0)
		s->db_up = 0;
	for (r = 0; r < METRICS_MAX_ROUTES; r++)
		for (m = 0; m < MM__COUNT; m++)
			for (c = 0; c < NCODESLOTS; c++)
				s->requests_total += atomic_load_explicit(
				    &shm->requests[r][m][c],
				    memory_order_relaxed);
	s->db_errors = atomic_load(&shm->db_errors);
	s->worker_restarts = atomic_load(&shm->worker_restarts);
	s->dashboard_views = atomic_load(&shm->dashboard_views);
	s->dashboard_render_errors =
	    atomic_load(&shm->dashboard_render_errors);
}

static void
code_label(size_t c, char *buf, size_t len)
{
	if (c < NCODES)
		snprintf(buf, len, "%d", codes[c]);
	else
		snprintf(buf, len, "%zuxx", c - NCODES + 1);
}

/*
 * Every child of the master by kind and state: busy, idle (live and
 * in the current generation) and retiring (asked to stop, still
 * finishing).  Kinds are listed as the slots name them.
 */
static void
write_processes(FILE *f)
{
	enum { BUSY, IDLE, RETIRING, NSTATES };
	static const char *const st[NSTATES] = { "busy", "idle", "retiring" };
	char	 kind[16][16];
	int	 n[16][NSTATES], nk = 0, i, k, j;

	memset(n, 0, sizeof(n));
	for (i = 0; i < METRICS_MAX_SLOTS; i++) {
		const struct worker_slot *w = &shm->slots[i];
		if (w->pid == 0 || !slot_live(w))
			continue;
		for (k = 0; k < nk; k++)
			if (strncmp(kind[k], w->kind, sizeof(kind[k])) == 0)
				break;
		if (k == nk) {
			if (nk == 16)
				continue;
			snprintf(kind[nk++], sizeof(kind[0]), "%.15s", w->kind);
		}
		n[k][w->retiring ? RETIRING : w->busy ? BUSY : IDLE]++;
	}
	fputs("# HELP dashcgi_processes Children of the master by kind and "
	    "state.\n# TYPE dashcgi_processes gauge\n", f);
	for (k = 0; k < nk; k++)
		for (j = 0; j < NSTATES; j++)
			fprintf(f, "dashcgi_processes{kind=\"%s\",state=\"%s\"} "
			    "%d\n", kind[k], st[j], n[k][j]);
}

void
metrics_write_prometheus(FILE *f, metrics_route_name_fn name, int nroutes,
    const char *version)
{
	struct metrics_snapshot	 s;
	int			 r, m;
	size_t			 c;
	uint64_t		 v;
	char			 code[8];

	if (shm == NULL)
		return;
	if (nroutes > METRICS_MAX_ROUTES)
		nroutes = METRICS_MAX_ROUTES;
	metrics_snapshot(&s);

	fputs("# HELP dashcgi_http_requests_total HTTP requests answered, "
	    "by route, method and status code.\n"
	    "# TYPE dashcgi_http_requests_total counter\n", f);
	for (r = 0; r < nroutes; r++)
		for (m = 0; m < MM__COUNT; m++)
			for (c = 0; c < NCODESLOTS; c++) {
				v = atomic_load_explicit(
				    &shm->requests[r][m][c],
				    memory_order_relaxed);
				if (v == 0)
					continue;
				code_label(c, code, sizeof(code));
				fprintf(f, "dashcgi_http_requests_total{route=\"%s\","
				    "method=\"%s\",code=\"%s\"} %llu\n",
				    name(r), method_names[m], code,
				    (unsigned long long)v);
			}

	fputs("# HELP dashcgi_http_request_duration_seconds Time from "
	    "accept to the last byte, by route.\n"
	    "# TYPE dashcgi_http_request_duration_seconds histogram\n", f);
	for (r = 0; r < nroutes; r++)
		write_histogram(f, "dashcgi_http_request_duration_seconds",
		    "route", name(r), shm->dur_bucket[r], &shm->dur_count[r],
		    &shm->dur_sum_ns[r]);

	fprintf(f, "# HELP dashcgi_db_errors_total Database errors seen by "
	    "workers.\n# TYPE dashcgi_db_errors_total counter\n"
	    "dashcgi_db_errors_total %llu\n",
	    (unsigned long long)s.db_errors);
	fprintf(f, "# HELP dashcgi_db_up Whether every live worker holds a "
	    "working database connection.\n# TYPE dashcgi_db_up gauge\n"
	    "dashcgi_db_up %d\n", s.db_up);
	fprintf(f, "# HELP dashcgi_workers Worker processes by state.\n"
	    "# TYPE dashcgi_workers gauge\n"
	    "dashcgi_workers{state=\"busy\"} %d\n"
	    "dashcgi_workers{state=\"idle\"} %d\n",
	    s.workers_busy, s.workers_total - s.workers_busy);
	write_processes(f);
	fprintf(f, "# HELP dashcgi_worker_restarts_total Workers respawned "
	    "by the master.\n# TYPE dashcgi_worker_restarts_total counter\n"
	    "dashcgi_worker_restarts_total %llu\n",
	    (unsigned long long)s.worker_restarts);
	fprintf(f, "# HELP dashcgi_dashboard_views_total Dashboard views the "
	    "Perses UI reported (POST /api/v1/view).\n"
	    "# TYPE dashcgi_dashboard_views_total counter\n"
	    "dashcgi_dashboard_views_total %llu\n",
	    (unsigned long long)s.dashboard_views);
	fprintf(f, "# HELP dashcgi_dashboard_render_errors_total Panel "
	    "queries that failed in reported dashboard views.\n"
	    "# TYPE dashcgi_dashboard_render_errors_total counter\n"
	    "dashcgi_dashboard_render_errors_total %llu\n",
	    (unsigned long long)s.dashboard_render_errors);
	fprintf(f, "# HELP dashcgi_build_info Build information.\n"
	    "# TYPE dashcgi_build_info gauge\n"
	    "dashcgi_build_info{version=\"%s\"} 1\n", version);
}
