/*
 * main.c -- command-line dispatch: serve, check-config, migrate,
 * maintenance, check-sql, routes, demo-data, version, help.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "demo.h"
#include "log.h"
#include "maintenance.h"
#include "master.h"
#include "migrate.h"
#include "router.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/dashcgi/dashcgi.yaml"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dashcgi [-c FILE] [serve]\n"
	    "       dashcgi [-c FILE] check-config\n"
	    "       dashcgi [-c FILE] migrate up [--to VERSION] | down [--steps N]"
	    " | status | verify | new NAME\n"
	    "       dashcgi [-c FILE] maintenance\n"
	    "       dashcgi [-c FILE] check-sql\n"
	    "       dashcgi [-c FILE] demo-data [--project P] [--slos N]"
	    " [--days N] [--seed N] [--at TIME]\n"
	    "           [--monitors N --monitor-target URL]\n"
	    "       dashcgi routes\n"
	    "       dashcgi version | --version\n"
	    "       dashcgi help | --help\n"
	    "\n"
	    "FILE defaults to %s.  See dashcgi(8) and dashcgi.yaml(5).\n",
	    DEFAULT_CONFIG);
}

int
main(int argc, char *argv[])
{
	const char	*path = DEFAULT_CONFIG, *cmd;
	struct config	*cfg;
	char		 err[1024];
	int		 i = 1, rc;

	if (argc > 1 && (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0)) {
		printf("dashcgi %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (i < argc && strcmp(argv[i], "-c") == 0) {
		if (i + 1 >= argc) {
			fprintf(stderr, "dashcgi: -c needs a file name\n");
			usage(stderr);
			return 2;
		}
		path = argv[i + 1];
		i += 2;
	}
	cmd = i < argc ? argv[i] : "serve";
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("dashcgi %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "routes") == 0) {
		routes_print(stdout);
		return 0;
	}
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "check-config") != 0 &&
	    strcmp(cmd, "migrate") != 0 && strcmp(cmd, "maintenance") != 0 &&
	    strcmp(cmd, "check-sql") != 0 && strcmp(cmd, "demo-data") != 0) {
		fprintf(stderr, "dashcgi: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if ((strcmp(cmd, "serve") == 0 || strcmp(cmd, "check-config") == 0 ||
	    strcmp(cmd, "maintenance") == 0 || strcmp(cmd, "check-sql") == 0) &&
	    i + 1 < argc) {
		fprintf(stderr, "dashcgi: %s takes no arguments, got \"%s\"\n",
		    cmd, argv[i + 1]);
		return 2;
	}

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		fprintf(stderr, "dashcgi: out of memory\n");
		return 1;
	}
	if (config_load(cfg, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "dashcgi: %s\n", err);
		free(cfg);
		return 2;
	}
	log_setup(cfg->log_level, cfg->log_format, cmd);

	if (strcmp(cmd, "check-config") == 0) {
		config_print(cfg, stdout);
		rc = 0;
	} else if (strcmp(cmd, "migrate") == 0)
		rc = migrate_main(cfg, argc - i, argv + i);
	else if (strcmp(cmd, "maintenance") == 0)
		rc = maintenance_main(cfg, argc - i, argv + i);
	else if (strcmp(cmd, "check-sql") == 0)
		rc = db_check_sql(cfg);
	else if (strcmp(cmd, "demo-data") == 0)
		rc = demo_main(cfg, argc - i, argv + i);
	else
		return master_main(cfg, path);	/* owns cfg */
	config_free(cfg);
	free(cfg);
	return rc;
}
