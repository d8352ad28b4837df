/*
 * api.h -- every handler named in the route table (router.c).
 *
 * A handler receives a request whose route policy (identity, database,
 * JSON body) has already been enforced, and must answer exactly once
 * through the http_send and http_error families.
 */
#ifndef DASHCGI_API_H
#define DASHCGI_API_H

struct req;

/* health.c */
void	api_live(struct req *);
void	api_ready(struct req *);
void	api_health(struct req *);
void	api_metrics(struct req *);
void	api_metrics_health(struct req *);

/* validate.c */
void	api_validate_dashboard(struct req *);

#endif
