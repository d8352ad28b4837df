/*
 * worker.c -- the accept loop and the request pipeline.
 *
 * Signals: SIGTERM/SIGINT/SIGQUIT only set a flag.  They are blocked
 * while a request is handled, so no read or write of the request is
 * interrupted; they are unblocked only around the accept, which they
 * interrupt (FCGI_FAIL_ACCEPT_ON_INTR).  A signal landing between the
 * flag test and accept(2) is caught by the master re-sending SIGTERM.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "arena.h"
#include "audit.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "module.h"
#include "router.h"
#include "worker.h"

static volatile sig_atomic_t	 stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* A login or database the server refuses: never respawn us (exit 2). */
static void
exit_if_fatal(void)
{
	if (db_fatal()) {
		log_error("the database refused this configuration; exiting "
		    "with status 2");
		exit(EXIT_FATALCONF);
	}
}

/* Only interrupts an idle accept so that the loop can reconnect. */
static void
on_alarm(int sig)
{
	(void)sig;
}

/*
 * A repeating SIGALRM every ms milliseconds.  It keeps running while a
 * request is handled (SIGALRM is blocked then, so a tick that falls
 * there waits, and wakes the accept after it at once or is taken as the
 * signal mask opens); it is set again only when its period changes: no
 * system call per request.
 */
static void
arm_tick(int64_t ms)
{
	static int64_t		 armed = -1;
	struct itimerval	 it;

	if (ms == armed)
		return;
	armed = ms;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	it.it_interval = it.it_value;
	setitimer(ITIMER_REAL, &it, NULL);
}

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Everything between the route table and the handler: the policy
 * flags of the row are enforced here and nowhere else.
 */
static void	change(struct req *);
static void	change_alone(struct req *);

static void
dispatch(struct req *r)
{
	char		*buf, allow[128];
	const char	*code, *msg;
	size_t		 i;
	int		 id;

	buf = arena_strdup(r->arena, r->path);
	id = router_match(r->method, buf, r->params, &r->nparams,
	    HTTP_MAX_PARAMS, allow, sizeof(allow));
	if (id == ROUTER_NOT_FOUND) {
		http_error(r, 404, "not_found", "no such resource: %s",
		    r->path);
		return;
	}
	if (id == ROUTER_BAD_METHOD) {
		http_header(r, "Allow", "%s", allow);
		http_error(r, 405, "method_not_allowed", "method %s is not "
		    "allowed here; allowed: %s", r->method, allow);
		return;
	}
	r->route = router_route((size_t)id);
	r->route_id = id + 1;
	for (i = 0; i < r->nparams; i++)
		if (http_urldecode((char *)r->params[i], 0) == -1) {
			http_error(r, 400, "bad_request", "malformed percent "
			    "escape in the path");
			return;
		}

	if (r->cfg->auth.mode == AUTH_ANONYMOUS && r->remote_user == NULL)
		r->remote_user = "anonymous";
	db_request_user(r->remote_user);
	if ((r->route->flags & R_AUTH) && r->remote_user == NULL) {
		http_error(r, 401, "unauthorized", "authentication required: "
		    "no REMOTE_USER from the web server");
		return;
	}
	if (r->route->flags & R_DB) {
		if (!db_ready()) {
			(void)db_http_status(NULL, &code, &msg);
			http_error(r, 503, code, "%s", msg);
			return;
		}
		/* Only this route's module (and the core) must be whole:
		 * a broken statement elsewhere does not take it down. */
		if (!db_module_ready(router_module((size_t)id)) &&
		    db_pooler_conflict() != NULL) {
			http_error(r, 503, "prepared_statements_unsupported",
			    "%s", db_pooler_conflict());
			return;
		}
		if (!db_module_ready(router_module((size_t)id))) {
			http_error(r, 503, "migrations_pending", "the %s module "
			    "is unavailable: a statement it needs could not be "
			    "prepared (is the schema behind this version of "
			    "dashcgi? run 'dashcgi migrate up')",
			    router_module((size_t)id)->name);
			return;
		}
	}
	if (r->route->flags & (R_DB | R_AUTH)) {
		if (authz_route(r) == -1)
			return;
	}
	if ((r->route->flags & R_JSON) && http_read_json(r) == -1)
		return;
	if ((r->route->flags & R_BODY) && http_read_body(r, "application/x-ndjson") == -1)
		return;
	if (r->route->action == NULL) {
		r->route->fn(r);
		if (!r->headers_sent)
			http_error(r, 500, "internal_error", "the handler gave "
			    "no answer");
		return;
	}
	if (r->route->flags & R_ONE_STMT)
		change_alone(r);
	else
		change(r);
}

/*
 * A change in one statement (R_ONE_STMT): the handler's db_run_alone()
 * commits it with its audit row in one round trip and only then
 * answers; nothing here can roll it back, so a success without its
 * audit row is the handler's bug, logged.
 */
static void
change_alone(struct req *r)
{
	r->route->fn(r);
	if (!r->headers_sent) {
		http_error(r, 500, "internal_error", "the handler gave no "
		    "answer");
		return;
	}
	if (r->status < 400 && r->audited != 1)
		log_error("route %s %s answered %d with %d audit rows",
		    r->route->method, r->route->pattern, r->status,
		    r->audited);
}

/*
 * A change: BEGIN, the handler, then COMMIT only if it succeeded and
 * wrote its audit row; the answer is held until then, so a client
 * never sees success for something that was not committed.
 */
static void
change(struct req *r)
{
	int	 ok;

	if (db_begin() == -1) {
		http_error(r, 503, "database_unavailable", "the database is "
		    "unavailable");
		return;
	}
	r->tx = 1;
	r->route->fn(r);
	ok = r->held.set && r->held.status < 400;
	if (ok && r->audited != 1) {
		log_error("route %s %s answered %d with %d audit rows; "
		    "rolling back", r->route->method, r->route->pattern,
		    r->held.status, r->audited);
		ok = 0;
		http_discard(r);
		r->tx = 0;
		db_rollback();
		http_error(r, 500, "internal_error", "the change was not "
		    "recorded and has been rolled back");
		return;
	}
	if (!ok) {
		db_rollback();
		r->tx = 0;
		if (r->denied.set) {
			struct json_object *d = json_object_new_object();
			json_object_object_add(d, "reason",
			    json_object_new_string(r->denied.reason));
			json_object_object_add(d, "method",
			    json_object_new_string(r->method));
			json_object_object_add(d, "route",
			    json_object_new_string(r->route->pattern));
			audit_event(r, r->route->action, r->denied.project,
			    r->denied.resource, AUDIT_NO_VERSION, "denied", d);
		}
		if (r->held.set)
			http_release(r);
		else
			http_error(r, 500, "internal_error", "the handler gave "
			    "no answer");
		return;
	}
	switch (db_commit()) {
	case DB_COMMITTED:
		db_wrote();
		break;
	case DB_NOT_APPLIED:
		http_discard(r);
		r->tx = 0;
		db_rollback();
		http_error(r, 503, "database_unavailable", "the change could "
		    "not be committed; it has not been applied");
		return;
	default:
		/* Never "not applied" when it may have been. */
		http_discard(r);
		r->tx = 0;
		db_rollback();
		http_error(r, 503, "commit_outcome_unknown", "the answer to "
		    "COMMIT was lost and the database could not be asked "
		    "whether the change was applied; read the resource "
		    "before retrying");
		return;
	}
	http_release(r);
}

/*
 * One request, answered and finished: FCGX_Finish_r writes what is
 * left of the answer and the end-of-request record together, so nginx
 * has the whole answer before the log line is written (one write fewer
 * than flushing first).  Everything logged was copied into the arena
 * by http_req_init(): nothing here reads libfcgi's params after
 * FCGX_Finish_r.  It shuts our side down and reads until nginx closes
 * its own.  Closing at once instead (three system calls fewer) was
 * tried and undone: with it, nginx answered 502 to one /live request
 * of 24,181 in t/33 and to one GET of a bench, most likely a reset of
 * the connection while input was still unread.
 */
static void
handle(FCGX_Request *f, const struct config *cfg, struct arena *a)
{
	struct req	 r;
	struct logline	 l;
	const char	*secret;
	double		 t0 = now_s(), dt;
	int		 st;

	if ((st = http_req_init(&r, f, a, cfg)) != 0)
		http_error(&r, st, "bad_request", "malformed request URI or "
		    "query string");
	else
		dispatch(&r);
	/* Count the time to hand the answer to nginx too. */
	FCGX_Finish_r(f);
	dt = now_s() - t0;
	metrics_request(r.route_id, metrics_method(r.method), r.status, dt);

	log_begin(&l, r.status >= 500 ? LOG_WARN : LOG_INFO, "request");
	log_str(&l, "method", r.method);
	log_str(&l, "route", router_metrics_name(r.route_id));
	/* A share token in the path is a credential: keep it out, also
	 * when the request matched no route. */
	secret = router_secret_pattern(r.path);
	log_str(&l, "path", secret != NULL ? secret : r.path);
	log_int(&l, "status", r.status);
	log_dbl(&l, "duration_ms", dt * 1e3);
	log_str(&l, "request_id", r.request_id);
	if (r.remote_user != NULL)
		log_str(&l, "user", r.remote_user);
	if (r.error_code != NULL)
		log_str(&l, "error", r.error_code);
	log_end(&l);
	if (r.json != NULL)
		json_object_put(r.json);
}

int
worker_count(const struct config *cfg)
{
	return cfg->workers;
}

void
worker_main(int slotno, const struct config *cfg, int lfd)
{
	struct worker_slot	*slot = metrics_slot(slotno);
	struct sigaction	 sa;
	sigset_t		 block;
	FCGX_Request		 req;
	struct arena		 arena = { 0 };
	long			 served = 0;
	int			 rc;

	log_set_proc("worker");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: interrupt accept */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	/* The master blocked these before fork; only ours stay blocked. */
	{
		sigset_t	 rest;
		sigemptyset(&rest);
		sigaddset(&rest, SIGCHLD);
		sigaddset(&rest, SIGHUP);
		sigprocmask(SIG_UNBLOCK, &rest, NULL);
	}
	/* If the master dies without stopping us, stop too. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		exit(0);

	http_fork_reset();
	FCGX_Init();
	FCGX_InitRequest(&req, lfd, FCGI_FAIL_ACCEPT_ON_INTR);
	db_init(cfg);
	(void)db_ready();
	exit_if_fatal();
	if (slot != NULL)
		slot->db_up = db_is_up();

	while (!stop) {
		/*
		 * A ticking timer, and SIGALRM unblocked only inside the
		 * accept: libfcgi reads the request's parameters inside
		 * FCGX_Accept_r, so a peer that stalls mid-request blocks
		 * a read there; the tick makes it fail, libfcgi drops that
		 * connection and accepts again, and the next tick brings
		 * an idle accept back to us (-EINTR).  Only a read blocked
		 * waiting for data is interrupted: nginx sends a request's
		 * records at once.  Without a database connection the tick
		 * is a second at most, to reconnect before the next request.
		 */
		arm_tick(db_is_up() ? cfg->read_timeout :
		    cfg->read_timeout < 1000 ? cfg->read_timeout : 1000);
		sigprocmask(SIG_UNBLOCK, &block, NULL);
		rc = stop ? -EINTR : FCGX_Accept_r(&req);
		sigprocmask(SIG_BLOCK, &block, NULL);
		if (rc < 0) {
			if (stop)
				continue;
			if (rc == -EINTR) {
				db_tick();
				if (slot != NULL)
					slot->db_up = db_is_up();
				exit_if_fatal();
				continue;
			}
			log_error("FastCGI accept failed: %s", strerror(-rc));
			usleep(100000);
			continue;
		}
		if (slot != NULL)
			slot->busy = 1;
		handle(&req, cfg, &arena);
		if (db_in_transaction()) {
			log_error("a transaction outlived its request; "
			    "rolling back");
			db_rollback();
		}
		arena_reset(&arena);
		if (slot != NULL) {
			slot->busy = 0;
			slot->requests++;
			slot->db_up = db_is_up();
		}
		exit_if_fatal();
		if (cfg->max_requests > 0 && ++served >= cfg->max_requests) {
			log_info("served max_requests (%ld); exiting to be "
			    "replaced", cfg->max_requests);
			break;
		}
		db_tick();
	}
	db_shutdown();
	arena_free(&arena);
	exit(EXIT_RECYCLED);
}
