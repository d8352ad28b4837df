/*
 * evaluator.c -- the evaluator process kind (SPEC §7, §10): every
 * hub.interval it evaluates the alert rules of every type
 * (hub_evaluate() in migration 0015, under the evaluator advisory
 * lock, so one session across all hosts evaluates and another takes
 * over within an interval when it dies), and all the time it delivers
 * the notifications the incident triggers enqueued.
 *
 * Owns: the delivery loop.  Due notifications are claimed with a lease
 * (FOR UPDATE SKIP LOCKED, next_attempt_at pushed past the transfer's
 * timeout), sent concurrently with libcurl's multi interface (a slow
 * or dead channel holds only its own transfer), and each result is
 * recorded as soon as it is known: sent, or the backoff of 10 s
 * doubling to 5 min, or failed after hub.notify_max_attempts.  A
 * process that dies between send and record loses nothing: the lease
 * ends and the row is sent again (at least once; the Idempotency-Key
 * header, the row id, lets the receiver drop the repeat).
 * Never: deliver a row it has not claimed; block on one transfer;
 * evaluate without the lock; keep state another host needs.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "evaluator.h"
#include "log.h"
#include "proc.h"
#include "module.h"

#define INFLIGHT_MAX	64		/* transfers at once */
#define LEASE_EXTRA_MS	2000		/* beyond notify_timeout */
#define POLL_MS		250		/* look for due rows this often */

extern const struct module	hub_module;

static volatile sig_atomic_t	 stop;

struct delivery {
	CURL			*h;
	struct curl_slist	*hdrs;
	char			*body;
	char			 id[40];
	double			 t0;
	char			 err[CURL_ERROR_SIZE];
};

static struct delivery	 inflight[INFLIGHT_MAX];
static int		 ninflight;

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

int
evaluator_count(const struct config *cfg)
{
	return cfg->hub.evaluators;
}

/* Discard what the receiver answers: only the status matters. */
static size_t
sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One pass of hub_evaluate(); logs what it did. */
static void
evaluate(int *holding, const struct config *cfg)
{
	PGresult	*res;
	const char	*p[1];
	char		 resol[24];
	long		 n;
	double		 t0 = now_ms();
	struct logline	 l;

	snprintf(resol, sizeof(resol), "%lld",
	    (long long)(cfg->slo.resolution / 1000));
	p[0] = resol;
	res = db_run(&hub_stmts, EV_STMT_EVALUATE, 1, p);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("evaluator: evaluation failed: %s", res != NULL ?
		    PQresultErrorMessage(res) : "no database");
		if (res != NULL)
			PQclear(res);
		return;
	}
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (n < 0) {
		if (*holding != 0)
			log_info("evaluator: another evaluator holds the lock "
			    "(key %s); standing by", EVALUATOR_LOCK_KEY);
		*holding = 0;
		return;
	}
	if (*holding != 1)
		log_info("evaluator: holding the evaluator lock (key %s)",
		    EVALUATOR_LOCK_KEY);
	*holding = 1;
	log_begin(&l, LOG_INFO, "rules evaluated");
	log_int(&l, "rules", n);
	log_dbl(&l, "duration_ms", now_ms() - t0);
	log_end(&l);
}

/*
 * The channel's stored headers (a JSON object of strings, checked when
 * the channel was written: names are HTTP tokens, values have no line
 * breaks) and, when it has a secret, the body's signature.  The headers
 * this deliverer sets itself are not overridden.
 */
static void
channel_headers(struct delivery *d, const char *headers, const char *sig)
{
	static const char *const own[] = { "Content-Type", "Idempotency-Key",
	    "Expect", "X-Dashcgi-Signature", NULL };
	struct json_object	*h;
	char			 line[8192];
	int			 k;

	if (*headers != '\0' && (h = json_tokener_parse(headers)) != NULL) {
		if (json_object_is_type(h, json_type_object)) {
			json_object_object_foreach(h, name, v) {
				for (k = 0; own[k] != NULL &&
				    strcasecmp(own[k], name) != 0; k++)
					;
				if (own[k] != NULL ||
				    !json_object_is_type(v, json_type_string))
					continue;
				if ((size_t)snprintf(line, sizeof(line),
				    "%s: %s", name, json_object_get_string(v)) <
				    sizeof(line))
					d->hdrs = curl_slist_append(d->hdrs,
					    line);
			}
		}
		json_object_put(h);
	}
	if (*sig != '\0') {
		snprintf(line, sizeof(line), "X-Dashcgi-Signature: sha256=%s",
		    sig);
		d->hdrs = curl_slist_append(d->hdrs, line);
	}
}

/* Claim due rows and start their transfers. */
static void
claim(CURLM *multi, const struct config *cfg)
{
	PGresult		*res;
	const char		*p[2];
	char			 lim[16], lease[32], idk[80];
	struct delivery		*d;
	int			 i, j, n;

	if (ninflight >= INFLIGHT_MAX)
		return;
	snprintf(lim, sizeof(lim), "%d", INFLIGHT_MAX - ninflight);
	snprintf(lease, sizeof(lease), "%lld",
	    (long long)cfg->hub.notify_timeout + LEASE_EXTRA_MS);
	p[0] = lim;
	p[1] = lease;
	res = db_run(&hub_stmts, EV_STMT_CLAIM, 2, p);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("evaluator: claiming notifications failed: %s",
		    res != NULL ? PQresultErrorMessage(res) : "no database");
		if (res != NULL)
			PQclear(res);
		return;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		for (j = 0; j < INFLIGHT_MAX && inflight[j].h != NULL; j++)
			;
		if (j == INFLIGHT_MAX)
			break;	/* cannot happen: the limit was ours */
		d = &inflight[j];
		memset(d, 0, sizeof(*d));
		if ((d->h = curl_easy_init()) == NULL ||
		    (d->body = strdup(PQgetvalue(res, i, 2))) == NULL) {
			log_error("evaluator: out of memory");
			if (d->h != NULL)
				curl_easy_cleanup(d->h);
			d->h = NULL;
			continue;
		}
		snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(res, i, 0));
		snprintf(idk, sizeof(idk), "Idempotency-Key: %s", d->id);
		d->hdrs = curl_slist_append(d->hdrs,
		    "Content-Type: application/json");
		d->hdrs = curl_slist_append(d->hdrs, idk);
		d->hdrs = curl_slist_append(d->hdrs, "Expect:");
		channel_headers(d, PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
		curl_easy_setopt(d->h, CURLOPT_URL, PQgetvalue(res, i, 1));
		curl_easy_setopt(d->h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(d->h, CURLOPT_POSTFIELDS, d->body);
		curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->hdrs);
		curl_easy_setopt(d->h, CURLOPT_TIMEOUT_MS,
		    (long)cfg->hub.notify_timeout);
		curl_easy_setopt(d->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(d->h, CURLOPT_USERAGENT, "dashcgi-evaluator");
		curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(d->h, CURLOPT_ERRORBUFFER, d->err);
		curl_easy_setopt(d->h, CURLOPT_PRIVATE, d);
		d->t0 = now_ms();
		curl_multi_add_handle(multi, d->h);
		ninflight++;
	}
	PQclear(res);
}

static void
finish(CURLM *multi, struct delivery *d, CURLcode cc,
    const struct config *cfg)
{
	PGresult	*res;
	const char	*p[6];
	char		 st[16], max[16], ms[16], err[CURL_ERROR_SIZE + 64];
	long		 code = 0;
	int		 ok;
	struct logline	 l;

	curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &code);
	ok = cc == CURLE_OK && code >= 200 && code < 300;
	if (cc != CURLE_OK)
		snprintf(err, sizeof(err), "%s", d->err[0] != '\0' ? d->err :
		    curl_easy_strerror(cc));
	else if (!ok)
		snprintf(err, sizeof(err), "HTTP %ld", code);
	snprintf(st, sizeof(st), "%ld", code);
	snprintf(max, sizeof(max), "%d", cfg->hub.notify_max_attempts);
	snprintf(ms, sizeof(ms), "%d", (int)(now_ms() - d->t0));
	p[0] = d->id;
	p[1] = ok ? "t" : "f";
	p[2] = ok ? NULL : err;
	p[3] = max;
	p[4] = code > 0 ? st : NULL;
	p[5] = ms;
	res = db_run(&hub_stmts, EV_STMT_RESULT, 6, p);
	log_begin(&l, ok ? LOG_INFO : LOG_WARN, ok ? "notification sent" :
	    "notification attempt failed");
	log_str(&l, "notification", d->id);
	if (!ok)
		log_str(&l, "error", err);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1)
		log_str(&l, "status", PQgetvalue(res, 0, 0));
	log_end(&l);
	/* Not recorded: the lease ends and the row is sent again. */
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		log_error("evaluator: recording notification %s failed: %s",
		    d->id, res != NULL ? PQresultErrorMessage(res) :
		    "no database");
	if (res != NULL)
		PQclear(res);
	curl_multi_remove_handle(multi, d->h);
	curl_easy_cleanup(d->h);
	curl_slist_free_all(d->hdrs);
	free(d->body);
	memset(d, 0, sizeof(*d));
	ninflight--;
}

void
evaluator_main(int slot, const struct config *cfg, int lfd)
{
	CURLM			*multi;
	CURLMsg			*m;
	double			 next_eval, wait;
	int			 running, left, holding = -1;

	(void)slot;
	proc_child_init("evaluator", lfd, on_stop);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_error("evaluator: libcurl could not be initialised");
		exit(1);
	}
	db_init(cfg);
	log_info("evaluator process started; interval %lld ms",
	    (long long)cfg->hub.interval);
	next_eval = now_ms();
	while (!stop) {
		db_tick();
		if (db_ready() && db_module_ready(&hub_module)) {
			if (now_ms() >= next_eval) {
				evaluate(&holding, cfg);
				next_eval += cfg->hub.interval;
				/* A slow pass: the next one at once, once. */
				if (next_eval < now_ms())
					next_eval = now_ms();
			}
			claim(multi, cfg);
		} else if (db_fatal()) {
			log_error("evaluator: the database refuses our login; "
			    "stopping");
			exit(2);
		}
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct delivery	*d;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&d);
			finish(multi, d, m->data.result, cfg);
		}
		wait = next_eval - now_ms();
		if (wait > POLL_MS)
			wait = POLL_MS;
		if (wait < 1)
			wait = 1;
		curl_multi_poll(multi, NULL, 0, (int)wait, NULL);
	}
	/* In-flight rows keep their lease and are sent again later. */
	exit(0);
}
