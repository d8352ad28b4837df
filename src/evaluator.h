/*
 * evaluator.h -- the evaluator process kind (SPEC §7, §10): alert rules
 * every hub.interval under an advisory lock, and notification delivery.
 */
#ifndef DASHCGI_EVALUATOR_H
#define DASHCGI_EVALUATOR_H

#include "config.h"

/*
 * The advisory lock key: the first 8 bytes of
 * sha256('dashcgi.evaluator') as a signed bigint.
 */
#define EVALUATOR_LOCK_KEY	"-4602630268110497039"

struct stmt_set;
extern const struct stmt_set hub_stmts;

/* The hub statements the evaluator runs (src/api/hub.c). */
enum {
	EV_STMT_EVALUATE = 16, EV_STMT_CLAIM, EV_STMT_RESULT
};

int	evaluator_count(const struct config *);
void	evaluator_main(int slot, const struct config *, int lfd)
	    __attribute__((noreturn));

#endif
