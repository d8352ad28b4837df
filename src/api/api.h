/*
 * api.h -- every handler named in the route table (router.c).
 *
 * A handler receives a request whose route policy (identity, role,
 * database, body) has already been enforced, and answers exactly once
 * through the http_send and http_error families.  A change handler
 * (route.action set) runs inside a transaction and must call
 * audit_change() once before answering success.
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

/* projects.c */
void	api_me(struct req *);
void	api_projects_list(struct req *);
void	api_project_create(struct req *);
void	api_project_get(struct req *);
void	api_project_update(struct req *);
void	api_project_delete(struct req *);
void	api_members_list(struct req *);
void	api_member_put(struct req *);
void	api_member_delete(struct req *);

/* preferences.c */
void	api_prefs_get(struct req *);
void	api_prefs_put(struct req *);

/* dashboards.c */
void	api_dashboards_list_all(struct req *);
void	api_dashboards_list(struct req *);
void	api_dashboard_create(struct req *);
void	api_dashboard_get(struct req *);
void	api_dashboard_update(struct req *);
void	api_dashboard_delete(struct req *);
void	api_dashboard_versions(struct req *);
void	api_dashboard_version_get(struct req *);
void	api_dashboard_version_restore(struct req *);
void	api_dashboard_state_get(struct req *);
void	api_dashboard_state_put(struct req *);
void	api_trash_list(struct req *);
void	api_trash_restore(struct req *);
void	api_project_export(struct req *);
void	api_project_import(struct req *);

/* templates.c */
void	api_templates_list(struct req *);
void	api_template_create(struct req *);
void	api_template_get(struct req *);
void	api_template_update(struct req *);
void	api_template_delete(struct req *);
void	api_dashboard_from_template(struct req *);

/* shares.c */
void	api_share_create(struct req *);
void	api_shares_list(struct req *);
void	api_share_revoke(struct req *);
void	api_shared_get(struct req *);

/* audit.c */
void	api_audit_list(struct req *);

#endif
