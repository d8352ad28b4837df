/*
 * config.h -- the configuration: one table of keys (config.c) drives
 * parsing, defaults, environment overrides, reload rules, check-config
 * output and the documentation check.
 *
 * Owns: struct config and everything it points to (config_free()).
 * Never: touch the network or the database; exit the process.
 */
#ifndef DASHCGI_CONFIG_H
#define DASHCGI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

enum auth_mode { AUTH_REMOTE_USER = 0, AUTH_ANONYMOUS };
/* database.pooler: what sits between the workers and PostgreSQL. */
enum db_pooler { POOLER_NONE = 0, POOLER_PGBOUNCER };
/* database.prepared_statements: server-side names, or SQL every time. */
enum db_prepared { PREPARED_NAMED = 0, PREPARED_UNNAMED };
/* Project roles in rising order; ROLE_GLOBAL_ADMIN only in the route
 * table (auth.admins), never stored or configured. */
enum role { ROLE_NONE = 0, ROLE_VIEWER, ROLE_EDITOR, ROLE_ADMIN,
	ROLE_GLOBAL_ADMIN };

/* Where a key's effective value came from, for check-config. */
enum config_source { SRC_DEFAULT = 0, SRC_FILE, SRC_ENV };

struct config_origin {
	enum config_source	 src;
	unsigned		 line;		/* SRC_FILE: 1-based */
	unsigned		 col;		/* SRC_FILE: 1-based */
	const char		*env;		/* SRC_ENV: variable name */
};

/* All durations are milliseconds, all sizes bytes. */
struct config {
	char		*path;			/* the file read, or NULL */

	char		*listen;
	unsigned	 socket_mode;
	int		 workers;
	long		 max_requests;
	int64_t		 shutdown_timeout;
	int64_t		 max_body;
	int64_t		 max_page_bytes;	/* a list page's items */
	int64_t		 read_timeout;	/* on the FastCGI socket, ms */
	enum log_level	 log_level;
	enum log_format	 log_format;

	struct {
		char	*url;
		char	*host;
		int	 port;
		char	*name;
		char	*user;
		char	*password;
		char	*password_file;
		char	*sslmode;
		int64_t	 connect_timeout;
		int64_t	 statement_timeout;
		int64_t	 max_lifetime;
		enum db_pooler	 pooler;
		enum db_prepared prepared_statements;
		char	*direct_url;	/* sessions: migrate, maintenance */
		char	*migrate_url;	/* migrate, as the schema's owner */
		char	**replicas;	/* NULL-terminated conninfo/URLs */
		size_t	 nreplicas;
		int64_t	 replica_max_lag;
		int64_t	 read_your_writes;	/* primary after own write */
	} database;

	struct {
		enum auth_mode	 mode;
		enum role	 anonymous_role;
		char		**admins;	/* NULL-terminated */
		size_t		 nadmins;
	} auth;

	struct {
		bool	 require_version;
		long	 history_limit;
		int64_t	 trash_retention;
		int64_t	 max_document_bytes;	/* a stored document */
		bool	 local_datasources;	/* proxy spec.datasources */
	} dashboards;

	struct {
		int64_t	 default_ttl;
		int64_t	 max_ttl;
		char	*url_prefix;
		int64_t	 cleanup_grace;
	} shares;

	struct {
		int64_t	 retention;
	} audit;

	struct {
		int64_t	 interval;	/* 0: no maintenance process */
	} maintenance;

	struct {
		int	 evaluators;		/* evaluator processes here */
		int64_t	 interval;		/* alert-rule evaluation */
		int64_t	 events_retention;	/* 0: keep forever */
		int64_t	 notify_timeout;
		int	 notify_max_attempts;
	} hub;

	struct {
		char	*default_project;	/* /api/seed without ?project= */
		int64_t	 resolution;		/* points aligned to this (ms) */
		int64_t	 raw_retention;		/* ms */
		int64_t	 rollup_retention;	/* ms */
	} slo;

	struct {
		int	 checkers;	/* checker processes on this host */
		int	 concurrency;	/* checks in flight per checker */
		int64_t	 min_interval;
		bool	 allow_private;	/* may targets be loopback, private… */
		int64_t	 retention;	/* raw results; 0 = keep */
		char	*location;	/* "": the host name */
	} monitors;

	struct config_origin	*origins;	/* one per config_keys[] row */
};

enum config_type {
	CT_STRING, CT_INT, CT_BOOL, CT_DURATION, CT_SIZE, CT_MODE,
	CT_LOGLEVEL, CT_LOGFORMAT, CT_AUTHMODE, CT_ROLE, CT_SSLMODE,
	CT_STRLIST, CT_LISTEN, CT_POOLER, CT_PREPARED
};

struct config_key {
	const char		*name;		/* dotted: "database.port" */
	enum config_type	 type;
	size_t			 off;		/* offsetof(struct config, …) */
	const char		*def;		/* default, as YAML text */
	const char		*env;		/* overriding variable or NULL */
	bool			 reload;	/* may change on SIGHUP */
	bool			 secret;	/* masked by check-config */
	long long		 min, max;	/* CT_INT bounds; CT_SIZE and
						   CT_DURATION: min only */
	size_t			 size;		/* sizeof the target: CT_INT
						   stores an int or a long */
};

extern const struct config_key	config_keys[];
extern const size_t		config_nkeys;

/*
 * Load defaults, then the file (path may be NULL for defaults only),
 * then the environment.  On failure returns -1 and writes one message
 * "file:line:col: key: what was wrong" into err; cfg is then freed.
 * The caller owns cfg on success and releases it with config_free().
 */
int	config_load(struct config *cfg, const char *path, char *err, size_t errlen);
void	config_free(struct config *);

/* The effective configuration with sources, password masked. */
void	config_print(const struct config *, FILE *);

/* Keys whose change on reload cannot take effect; logged by the master. */
void	config_reload_warnings(const struct config *oldc, const struct config *newc);

/* "500ms", "10s", "5m", "24h", "30d"; "0" alone is 0.  Result in ms. */
int	config_parse_duration(const char *, int64_t *ms);
/* "512", "512KiB", "4MiB", "1GiB" (also KB/MB/GB = powers of 1000). */
int	config_parse_size(const char *, int64_t *bytes);

#endif
