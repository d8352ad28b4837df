/*
 * errors.h -- the one table of the error codes dashcgi answers with,
 * each with its HTTP status and what it means to a client.
 *
 * Owns: error_codes[] in errors.c.  http_error() logs an ERROR when a
 * code is answered with another status than the table's, and
 * t/04-error-codes.t checks every literal code in the sources against
 * it, so the code a client sees and its status cannot drift apart.
 * Never: word messages (each module words its own, naming the field).
 */
#ifndef DASHCGI_ERRORS_H
#define DASHCGI_ERRORS_H

#include <stddef.h>

struct error_code {
	const char	*code;
	int		 status;
	const char	*meaning;
};

extern const struct error_code	error_codes[];
extern const size_t		nerror_codes;

/* The status of code, or -1 when the table does not know it. */
int	error_status(const char *code);

#endif
