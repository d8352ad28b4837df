/*
 * log.c -- one line per event on stderr, logfmt or JSON.
 *
 * Owns: the process-wide threshold, format and process tag.
 * Never: allocate memory, or call anything that is not async-signal
 * tolerant in the write path (a line is one write(2)).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level	 threshold = LOG_INFO;
static enum log_format	 format = LOG_LOGFMT;
static char		 proc[32] = "main";
static pid_t		 mypid;		/* set with the process tag */

static const char *const level_names[] = { "debug", "info", "warn", "error" };

const char *
log_level_name(enum log_level l)
{
	return (l <= LOG_ERROR) ? level_names[l] : "?";
}

void
log_setup(enum log_level l, enum log_format f, const char *p)
{
	threshold = l;
	format = f;
	if (p != NULL)
		log_set_proc(p);
}

/* Called first thing after fork, so the cached pid is the child's. */
void
log_set_proc(const char *p)
{
	snprintf(proc, sizeof(proc), "%s", p);
	mypid = getpid();
}

int
log_enabled(enum log_level l)
{
	return l >= threshold;
}

static void
put(struct logline *l, const char *s, size_t n)
{
	/* Keep room for the closing "}\n". */
	if (l->len + n + 3 > sizeof(l->buf)) {
		n = sizeof(l->buf) - 3 - l->len;
		if ((ssize_t)n <= 0)
			return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
puts_(struct logline *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Does a logfmt value need quotes? */
static int
needs_quote(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v; v++)
		if (*v <= ' ' || *v == '"' || *v == '=' || *v == '\\' ||
		    (unsigned char)*v >= 0x7f)
			return 1;
	return 0;
}

static void
put_escaped(struct logline *l, const char *v)
{
	char	 esc[8];

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			esc[0] = '\\'; esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c == '\t') {
			put(l, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else
			put(l, (const char *)&c, 1);
	}
}

static void
key(struct logline *l, const char *k)
{
	if (l->json) {
		puts_(l, ",\"");
		put_escaped(l, k);
		puts_(l, "\":");
	} else {
		puts_(l, " ");
		puts_(l, k);
		puts_(l, "=");
	}
}

void
log_str(struct logline *l, const char *k, const char *v)
{
	if (l->skip)
		return;
	if (v == NULL)
		v = "";
	key(l, k);
	if (l->json || needs_quote(v)) {
		puts_(l, "\"");
		put_escaped(l, v);
		puts_(l, "\"");
	} else
		puts_(l, v);
}

void
log_int(struct logline *l, const char *k, long long v)
{
	char	 b[32];

	if (l->skip)
		return;
	key(l, k);
	snprintf(b, sizeof(b), "%lld", v);
	puts_(l, b);
}

void
log_dbl(struct logline *l, const char *k, double v)
{
	char	 b[64];

	if (l->skip)
		return;
	key(l, k);
	snprintf(b, sizeof(b), "%.3f", v);
	puts_(l, b);
}

void
log_begin(struct logline *l, enum log_level lv, const char *msg)
{
	struct timeval	 tv;
	struct tm	 tm;
	char		 ts[96];

	l->len = 0;
	l->json = (format == LOG_JSON);
	l->skip = !log_enabled(lv);
	if (l->skip)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
	if (l->json) {
		puts_(l, "{\"ts\":\"");
		puts_(l, ts);
		puts_(l, "\"");
	} else {
		puts_(l, "ts=");
		puts_(l, ts);
	}
	log_str(l, "level", log_level_name(lv));
	log_str(l, "proc", proc);
	log_int(l, "pid", (long long)(mypid ? mypid : getpid()));
	log_str(l, "msg", msg);
}

void
log_end(struct logline *l)
{
	ssize_t	 w;
	size_t	 off = 0;
	int	 saved = errno;

	if (l->skip)
		return;
	if (l->json)
		l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	while (off < l->len) {
		w = write(STDERR_FILENO, l->buf + off, l->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void
logf_(enum log_level lv, const char *fmt, ...)
{
	struct logline	 l;
	char		 msg[LOG_LINE_MAX / 2];
	va_list		 ap;

	if (!log_enabled(lv))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_begin(&l, lv, msg);
	log_end(&l);
}
