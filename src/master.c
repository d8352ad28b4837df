/*
 * master.c -- open the socket, fork the workers, keep them alive.
 *
 * Modelled on nginx's master loop: handlers set sig_atomic_t flags;
 * the loop sleeps in ppoll() with the signals unblocked only there
 * (an atomic sigsuspend with a timeout), reaps with waitpid(WNOHANG),
 * and on stop re-sends SIGTERM with a growing delay before SIGKILL.
 * Crash-loop budget after spawn-fcgi/multiwatch: a worker that dies
 * within FAST_FAIL_MS of its start counts against its slot; the count
 * resets when one stays up.  Exit status 2 means "fatal configuration"
 * and is never respawned.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "module.h"
#include "worker.h"

#define FAST_FAIL_MS		5000
#define FAST_FAIL_BUDGET	5
#define RESPAWN_MAX_DELAY_MS	5000
#define CRASH_COOLDOWN_MS	10000	/* a crash-looping slot rests this long */
#define LISTEN_BACKLOG		1024

struct mslot {
	int		 kind;		/* index into kinds[] */
	unsigned	 gen;		/* configuration generation */
	pid_t		 pid;
	int		 wanted;	/* part of the current generation */
	int		 retiring;	/* asked to stop; do not respawn */
	int64_t		 started_ms;
	int64_t		 respawn_at_ms;
	int		 fast_fails;
};

static volatile sig_atomic_t	 sig_child, sig_stop, sig_reload;

static struct mslot	 slots[METRICS_MAX_SLOTS];
/* Every module's process kinds, in the order of modules[]. */
#define MAX_KINDS	16
static const struct proc_kind	*kinds[MAX_KINDS];
static int			 nkinds;
/*
 * The configuration in force (generation gen), and during a reload the
 * new one (pending, generation gen + 1): its processes start beside the
 * old ones, which retire only once a new worker has connected to the
 * database.  A new generation that cannot serve (its workers exit 2 or
 * crash) is dropped and the old one goes on.
 */
static struct config	*cfg, *pending;
static unsigned		 gen;
static int64_t		 pending_since;
#define RELOAD_WAIT_MIN_MS	10000
static int		 lfd = -1;
static char		*unix_path;	/* ours to unlink at exit */
static int		 fatal_exits, other_losses;

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		sig_child = 1;
		break;
	case SIGHUP:
		sig_reload = 1;
		break;
	default:
		sig_stop = 1;
		break;
	}
}

/* systemd socket activation: fd 3 when LISTEN_PID names us. */
static int
inherited_socket(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
		return -1;
	if (atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (atoi(fds) > 1)
		log_warn("systemd passed %s sockets; using the first",
		    fds);
	return 3;
}

static int
open_unix(const char *path, unsigned mode)
{
	struct sockaddr_un	 sun;
	int			 fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("listen: socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A stale socket from a crash is removed; a live one is not ours. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			log_error("listen: %s is in use by another process",
			    path);
			return -1;
		}
		close(probe);
		if (errno == ECONNREFUSED)
			unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_error("listen: cannot bind %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (chmod(path, mode) == -1)
		log_warn("listen: chmod %o %s: %s", mode, path,
		    strerror(errno));
	unix_path = strdup(path);
	return fd;
}

static int
open_tcp(const char *spec)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256], *port;
	int		 fd = -1, on = 1, rc;

	snprintf(host, sizeof(host), "%s", spec);
	if ((port = strrchr(host, ':')) == NULL)
		return -1;
	*port++ = '\0';
	if (host[0] == '[') {		/* [::1]:9000 */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0) {
		log_error("listen: %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		log_error("listen: cannot bind %s: %s", spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int
open_listener(const struct config *c)
{
	int	 fd;

	if ((fd = inherited_socket()) >= 0) {
		log_info("using the socket passed by systemd");
		return fd;
	}
	if (strncmp(c->listen, "unix:", 5) == 0)
		fd = open_unix(c->listen + 5, c->socket_mode);
	else
		fd = open_tcp(c->listen);
	if (fd >= 0 && listen(fd, LISTEN_BACKLOG) == -1) {
		log_error("listen: %s: %s", c->listen, strerror(errno));
		close(fd);
		fd = -1;
	}
	return fd;
}

static void
collect_kinds(void)
{
	size_t	 m, k;

	for (m = 0; m < nmodules; m++)
		for (k = 0; k < modules[m]->nprocs && nkinds < MAX_KINDS; k++)
			kinds[nkinds++] = &modules[m]->procs[k];
}

static int
live_count(void)
{
	int	 i, n = 0;

	for (i = 0; i < METRICS_MAX_SLOTS; i++)
		if (slots[i].pid > 0)
			n++;
	return n;
}

/* Slots of processes that serve requests, wanted or alive: without
 * any, the service is gone and the master exits. */
static int
serving_count(void)
{
	int	 i, n = 0;

	for (i = 0; i < METRICS_MAX_SLOTS; i++)
		if ((slots[i].wanted || slots[i].pid > 0) &&
		    kinds[slots[i].kind]->serves)
			n++;
	return n;
}

static void
spawn(int i)
{
	struct worker_slot	*ws = metrics_slot(i);
	struct logline		 l;
	pid_t			 pid;

	const struct proc_kind	*k = kinds[slots[i].kind];
	char			 msg[48];

	memset(ws, 0, sizeof(*ws));
	snprintf(ws->kind, sizeof(ws->kind), "%s", k->name);
	ws->serves = k->serves;
	pid = fork();
	if (pid == -1) {
		log_error("fork: %s; retrying in 1s", strerror(errno));
		slots[i].respawn_at_ms = now_ms() + 1000;
		return;
	}
	if (pid == 0) {
		const struct config *c = slots[i].gen == gen ? cfg : pending;
		/* A new generation logs as its configuration says. */
		log_setup(c->log_level, c->log_format, NULL);
		k->main(i, c, lfd);		/* never returns */
	}
	ws->pid = pid;
	slots[i].pid = pid;
	slots[i].retiring = 0;
	slots[i].started_ms = now_ms();
	slots[i].respawn_at_ms = 0;
	snprintf(msg, sizeof(msg), "%s started", k->name);
	log_begin(&l, LOG_INFO, msg);
	log_int(&l, "worker_pid", pid);
	log_int(&l, "slot", i);
	log_str(&l, "kind", k->name);
	log_end(&l);
}

/* Claim free slots for generation g of configuration c: each kind's count. */
static void
want_procs(const struct config *c, unsigned g)
{
	int	 i = 0, k, n;

	for (k = 0; k < nkinds; k++) {
		for (n = kinds[k]->count(c); i < METRICS_MAX_SLOTS && n > 0;
		    i++) {
			if (slots[i].pid != 0 || slots[i].wanted)
				continue;
			memset(&slots[i], 0, sizeof(slots[i]));
			slots[i].kind = k;
			slots[i].gen = g;
			slots[i].wanted = 1;
			spawn(i);
			n--;
		}
		if (n > 0)
			log_error("no free slot for %d more %s processes", n,
			    kinds[k]->name);
	}
}

static void
signal_all(int sig)
{
	int	 i;

	for (i = 0; i < METRICS_MAX_SLOTS; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

static void
reaped(int i, pid_t pid, int status)
{
	struct mslot	*s = &slots[i];
	struct logline	 l;
	int64_t		 now = now_ms(), lived = now - s->started_ms;
	enum { STOPPED, FATAL, RECYCLED, CRASHED } why;
	static const char *const reasons[] = { "stopped",
	    "fatal configuration", "max_requests", "crashed" };
	const char	*kn = kinds[s->kind]->name;
	char		 msg[48];
	int		 respawn = 0, delay = 0;

	metrics_slot(i)->pid = 0;
	metrics_slot(i)->busy = 0;
	s->pid = 0;

	if (s->retiring || sig_stop || !s->wanted) {
		why = STOPPED;
		s->wanted = 0;
	} else if (WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_FATALCONF) {
		why = FATAL;
		s->wanted = 0;
	} else if (WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_RECYCLED) {
		why = RECYCLED;
		respawn = 1;
	} else {
		why = CRASHED;
		respawn = 1;
		if (lived < FAST_FAIL_MS) {
			s->fast_fails++;
			delay = 100 << (s->fast_fails - 1 > 6 ? 6 :
			    s->fast_fails - 1);
			if (delay > RESPAWN_MAX_DELAY_MS)
				delay = RESPAWN_MAX_DELAY_MS;
		} else
			s->fast_fails = 0;
	}

	snprintf(msg, sizeof(msg), "%s exited", kn);
	log_begin(&l, why == CRASHED ? LOG_WARN : LOG_INFO, msg);
	log_int(&l, "worker_pid", pid);
	log_int(&l, "slot", i);
	if (WIFEXITED(status))
		log_int(&l, "status", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_int(&l, "signal", WTERMSIG(status));
	log_str(&l, "reason", reasons[why]);
	log_str(&l, "kind", kn);
	log_int(&l, "uptime_ms", lived);
	log_end(&l);

	if (why == FATAL) {
		log_error("not respawning %s: fatal configuration "
		    "(exit status 2)", kn);
		if (kinds[s->kind]->serves)
			fatal_exits++;
		return;
	}
	if (!respawn)
		return;
	if (s->fast_fails > FAST_FAIL_BUDGET) {
		/* Not abandoned for good: what made it crash (the disk,
		 * the network, a peer) may pass.  It rests, then the
		 * budget starts again. */
		log_error("crash loop: %s slot %d died %d times within "
		    "%d ms of starting; not respawning it for %d ms", kn, i,
		    s->fast_fails, FAST_FAIL_MS, CRASH_COOLDOWN_MS);
		s->fast_fails = 0;
		s->respawn_at_ms = now + CRASH_COOLDOWN_MS;
		if (kinds[s->kind]->serves)
			other_losses++;
		return;
	}
	metrics_worker_restart();
	s->respawn_at_ms = now + delay;
	if (delay > 0)
		log_warn("respawning %s slot %d in %d ms", kn, i, delay);
}

static void
reap(void)
{
	pid_t	 pid;
	int	 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < METRICS_MAX_SLOTS; i++)
			if (slots[i].pid == pid)
				break;
		if (i == METRICS_MAX_SLOTS)
			continue;
		reaped(i, pid, status);
	}
}

static void
respawn_due(int64_t now, int64_t *next)
{
	int	 i;

	for (i = 0; i < METRICS_MAX_SLOTS; i++) {
		if (!slots[i].wanted || slots[i].pid != 0)
			continue;
		if (slots[i].respawn_at_ms <= now)
			spawn(i);
		else if (slots[i].respawn_at_ms < *next)
			*next = slots[i].respawn_at_ms;
	}
}

/* Ask every process of generations other than g to stop. */
static void
retire_others(unsigned g)
{
	int	 i;

	for (i = 0; i < METRICS_MAX_SLOTS; i++) {
		if (slots[i].gen == g)
			continue;
		if (slots[i].pid > 0) {
			slots[i].retiring = 1;
			metrics_slot(i)->retiring = 1;
			kill(slots[i].pid, SIGTERM);
		}
		slots[i].wanted = 0;
	}
}

/*
 * SIGHUP: a valid file starts a new generation beside the old one; a
 * broken one changes nothing.  A reload during a reload drops the
 * generation still pending.
 */
static void
reload(const char *path)
{
	struct config	*nc;
	struct logline	 l;
	char		 err[1024];

	if ((nc = calloc(1, sizeof(*nc))) == NULL) {
		log_error("reload: out of memory");
		return;
	}
	if (config_load(nc, path, err, sizeof(err)) == -1) {
		free(nc);
		log_begin(&l, LOG_ERROR,
		    "reload failed, keeping the old configuration");
		log_str(&l, "error", err);
		log_end(&l);
		return;
	}
	config_reload_warnings(cfg, nc);
	/* Settings that cannot change without a restart stay as they are. */
	free(nc->listen);
	nc->listen = strdup(cfg->listen);
	nc->socket_mode = cfg->socket_mode;
	if (pending != NULL) {
		log_warn("reload: dropping the generation still starting");
		retire_others(gen);
		config_free(pending);
		free(pending);
	}
	pending = nc;
	pending_since = now_ms();
	want_procs(pending, gen + 1);
	log_begin(&l, LOG_INFO, "reload: new generation starting");
	log_int(&l, "workers", pending->workers);
	log_end(&l);
}

/*
 * A pending generation takes over once one of its workers holds a
 * database connection, or after a wait when the database is away for
 * every generation alike.  It is dropped when none of its workers is
 * left to try (exit 2: the database refused the new login).
 */
static void
reload_progress(int64_t now, int64_t *next)
{
	struct logline	 l;
	int64_t		 wait;
	int		 i, alive = 0, connected = 0;

	if (pending == NULL)
		return;
	for (i = 0; i < METRICS_MAX_SLOTS; i++) {
		if (slots[i].gen != gen + 1 || !kinds[slots[i].kind]->serves)
			continue;
		if (slots[i].wanted || slots[i].pid > 0)
			alive++;
		if (slots[i].pid > 0 && metrics_slot(i)->db_up)
			connected++;
	}
	wait = 2 * pending->database.connect_timeout;
	if (wait < RELOAD_WAIT_MIN_MS)
		wait = RELOAD_WAIT_MIN_MS;
	if (alive == 0) {
		log_begin(&l, LOG_ERROR, "reload failed: no worker of the new "
		    "configuration could start (see the exits above); keeping "
		    "the old configuration");
		log_end(&l);
		retire_others(gen);
		config_free(pending);
		free(pending);
		pending = NULL;
		fatal_exits = 0;	/* those were the new generation's */
		return;
	}
	if (connected == 0 && now - pending_since < wait) {
		if (now + 100 < *next)
			*next = now + 100;
		return;
	}
	if (connected == 0)
		log_warn("reload: no new worker reached the database within "
		    "%lld ms; switching anyway", (long long)wait);
	gen++;
	retire_others(gen);
	config_free(cfg);
	free(cfg);
	cfg = pending;
	pending = NULL;
	log_setup(cfg->log_level, cfg->log_format, NULL);
	log_begin(&l, LOG_INFO, "configuration reloaded");
	log_int(&l, "workers", cfg->workers);
	log_end(&l);
}

int
master_main(struct config *c, const char *path)
{
	struct sigaction	 sa;
	struct timespec		 ts;
	sigset_t		 mask, empty;
	int64_t			 now, next, stop_deadline = 0, resend_at = 0;
	int			 resend_delay = 50, code = 0, i;
	struct logline		 l;

	cfg = c;
	log_set_proc("master");
	if ((lfd = open_listener(cfg)) == -1)
		return 1;
	if (metrics_init() == -1)
		return 1;
	db_check_limits();	/* a statement table too big: exit 2 now */
	collect_kinds();

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigemptyset(&empty);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	log_begin(&l, LOG_INFO, "master started");
	log_str(&l, "version", PACKAGE_VERSION);
	log_str(&l, "listen", cfg->listen);
	log_int(&l, "workers", cfg->workers);
	log_end(&l);
	if (cfg->auth.mode == AUTH_ANONYMOUS)
		log_warn("auth.mode is anonymous: every caller gets the %s "
		    "role without logging in; do not expose this server",
		    cfg->auth.anonymous_role == ROLE_ADMIN ? "admin" :
		    cfg->auth.anonymous_role == ROLE_EDITOR ? "editor" :
		    "viewer");
	want_procs(cfg, gen);

	for (;;) {
		now = now_ms();
		next = now + 1000;
		if (sig_child) {
			sig_child = 0;
			reap();
		}
		if (sig_stop && stop_deadline == 0) {
			log_info("stopping: asking %d workers to finish",
			    live_count());
			for (i = 0; i < METRICS_MAX_SLOTS; i++) {
				slots[i].wanted = 0;
				if (slots[i].pid > 0)
					metrics_slot(i)->retiring = 1;
			}
			signal_all(SIGTERM);
			stop_deadline = now + cfg->shutdown_timeout;
			resend_at = now + resend_delay;
		}
		if (sig_stop) {
			if (live_count() == 0)
				break;
			if (now >= stop_deadline) {
				log_warn("shutdown_timeout reached; killing %d "
				    "workers", live_count());
				signal_all(SIGKILL);
				stop_deadline = now + 1000000;
			} else if (now >= resend_at) {
				/* A signal may have landed just before accept. */
				signal_all(SIGTERM);
				resend_delay *= 2;
				resend_at = now + resend_delay;
			}
			if (resend_at < next)
				next = resend_at;
			if (stop_deadline < next)
				next = stop_deadline;
		} else {
			if (sig_reload) {
				sig_reload = 0;
				reload(path);
			}
			reload_progress(now, &next);
			respawn_due(now, &next);
			if (serving_count() == 0) {
				code = (fatal_exits > 0 && other_losses == 0) ?
				    2 : 1;
				log_error("no workers left; exiting with "
				    "status %d", code);
				if (live_count() == 0)
					break;
				/* Stop the other kinds, then exit. */
				sig_stop = 1;
				continue;
			}
		}
		if (sig_child)
			continue;
		if (next < now)
			next = now;
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = ((next - now) % 1000) * 1000000;
		/* Signals are delivered only inside this wait. */
		(void)ppoll(NULL, 0, &ts, &empty);
	}

	if (unix_path != NULL) {
		unlink(unix_path);
		free(unix_path);
	}
	close(lfd);
	log_info("master exiting with status %d", code);
	if (pending != NULL) {
		config_free(pending);
		free(pending);
	}
	config_free(cfg);
	free(cfg);
	return code;
}
