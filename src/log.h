/*
 * log.h -- one line per event on stderr, logfmt or JSON.
 *
 * Owns: formatting and escaping of log lines.  A line is built with
 * log_begin(), fields are appended, log_end() writes it with a single
 * write(2) so lines from concurrent workers never interleave.
 * Never: allocate, or log secrets (callers pass masked values).
 */
#ifndef DASHCGI_LOG_H
#define DASHCGI_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT = 0, LOG_JSON };

#define LOG_LINE_MAX 4096

struct logline {
	char	 buf[LOG_LINE_MAX];
	size_t	 len;
	int	 json;
	int	 skip;		/* below the threshold: build nothing */
};

void	log_setup(enum log_level, enum log_format, const char *proc);
void	log_set_proc(const char *proc);
int	log_enabled(enum log_level);

void	log_begin(struct logline *, enum log_level, const char *msg);
void	log_str(struct logline *, const char *key, const char *val);
void	log_int(struct logline *, const char *key, long long val);
void	log_dbl(struct logline *, const char *key, double val);
void	log_end(struct logline *);

/* A whole line with a formatted msg and nothing else. */
void	logf_(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_debug(...)	logf_(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	logf_(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	logf_(LOG_WARN, __VA_ARGS__)
#define log_error(...)	logf_(LOG_ERROR, __VA_ARGS__)

const char *log_level_name(enum log_level);

#endif
