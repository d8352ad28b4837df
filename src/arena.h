/*
 * arena.h -- per-request memory: many small allocations, one release.
 *
 * Owns: its blocks.  Everything allocated from an arena lives until
 * arena_reset()/arena_free(); nothing from it may outlive the request.
 */
#ifndef DASHCGI_ARENA_H
#define DASHCGI_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block	*head;
	size_t			 total;	/* bytes handed out, for limits */
};

void	*arena_alloc(struct arena *, size_t);	/* zeroed; aborts on OOM */
char	*arena_strdup(struct arena *, const char *);
char	*arena_strndup(struct arena *, const char *, size_t);
char	*arena_printf(struct arena *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 arena_reset(struct arena *);	/* keep the first block */
void	 arena_free(struct arena *);

#endif
