/*
 * metrics.h -- counters in memory shared by the master and every worker.
 *
 * Owns: one anonymous MAP_SHARED mapping created by the master before
 * the first fork, so any worker can report the whole process tree.
 * Updates are lock-free atomic adds; readers tolerate torn snapshots
 * across counters (each counter itself is read atomically).
 * Never: allocate per request, or take a lock.
 */
#ifndef DASHCGI_METRICS_H
#define DASHCGI_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define METRICS_MAX_ROUTES	256	/* route table rows + "unmatched" */
#define METRICS_MAX_SLOTS	2048	/* two generations of 1024 workers */
#define METRICS_NBUCKETS	13
/* Every module's statements (db.c refuses to start with more). */
#define METRICS_MAX_STMTS	512

enum metrics_method {
	MM_GET = 0, MM_HEAD, MM_POST, MM_PUT, MM_DELETE, MM_PATCH, MM_OTHER,
	MM__COUNT
};

struct worker_slot {
	pid_t		 pid;		/* 0: free */
	char		 kind[16];	/* "worker", "maintenance", … */
	int		 serves;	/* a FastCGI worker */
	int		 busy;
	int		 db_up;
	int		 retiring;	/* master: asked to stop */
	uint64_t	 requests;
};

int	 metrics_init(void);		/* master, before fork */
struct worker_slot *metrics_slot(int);
int	 metrics_nslots(void);

void	 metrics_request(int route, enum metrics_method, int status,
	    double seconds);
void	 metrics_db_error(void);
/*
 * Statement g (db.c's global index) ran for seconds, on a replica or
 * not; sqlstate: NULL when it succeeded, "" when it failed without one
 * (connection lost).
 */
void	 metrics_statement(int g, double seconds, const char *sqlstate,
	    int replica);
void	 metrics_replica_fallback(void);
/*
 * Read-your-writes across workers: when a user (by hash) last had a
 * change committed, CLOCK_MONOTONIC ms; 0 never.  Collisions only make
 * another user read the primary for a while.
 */
#define METRICS_RYW_SLOTS	4096
void	 metrics_ryw_mark(uint32_t hash, int64_t ms);
int64_t	 metrics_ryw_get(uint32_t hash);
typedef const char *(*metrics_stmt_name_fn)(int stmt);
void	 metrics_write_statements(FILE *, metrics_stmt_name_fn, int nstmts);
void	 metrics_worker_restart(void);
/* One dashboard view the Perses UI reported, with its failed queries. */
void	 metrics_dashboard_view(uint64_t render_errors);

struct metrics_snapshot {
	int	 workers_total, workers_busy, db_up;
	uint64_t requests_total, db_errors, worker_restarts;
	uint64_t dashboard_views, dashboard_render_errors;
};
void	 metrics_snapshot(struct metrics_snapshot *);

/* Prometheus text exposition format 0.0.4.  route_name(i) labels rows. */
typedef const char *(*metrics_route_name_fn)(int route);
void	 metrics_write_prometheus(FILE *, metrics_route_name_fn, int nroutes,
	    const char *version);

enum metrics_method metrics_method(const char *);
const char *metrics_method_name(enum metrics_method);

#endif
