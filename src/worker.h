/*
 * worker.h -- one pre-forked worker: accept, route, answer, repeat.
 *
 * Owns: the FastCGI accept loop, the per-request pipeline (route,
 * identity, database readiness, body) and the request log line.
 * Never: return; a worker ends with exit(0) (stopped or recycled)
 * or exit(2) (fatal configuration, not to be respawned).
 */
#ifndef DASHCGI_WORKER_H
#define DASHCGI_WORKER_H

#include "config.h"

#define EXIT_RECYCLED	0
#define EXIT_FATALCONF	2

/* The worker process kind: workers of them. */
int	worker_count(const struct config *);
__attribute__((noreturn))
void	worker_main(int slot, const struct config *, int listen_fd);

#endif
