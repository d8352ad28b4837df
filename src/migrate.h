/*
 * migrate.h -- "dashcgi migrate": the schema's SQL migrations.
 *
 * Owns: the migrations directory (NNNN_name.up.sql / .down.sql), the
 * schema_migrations table and the migrate advisory lock.
 * Never: run while another migrator holds the lock; apply part of a
 * file (each file is one transaction with its schema_migrations row).
 */
#ifndef DASHCGI_MIGRATE_H
#define DASHCGI_MIGRATE_H

#include "config.h"

/*
 * argv[0] is "migrate"; argv[1] the subcommand:
 *   up [--to VERSION] | down [--steps N] | status | verify | new NAME
 * The directory is $DASHCGI_MIGRATIONS_DIR, else PKGDATADIR/migrations.
 * Returns the process exit code: 0 success, 1 runtime failure (database
 * unreachable, a failed file, a verify mismatch), 2 usage error.
 */
int	migrate_main(const struct config *cfg, int argc, char **argv);

/*
 * The highest version in the migrations directory, read without the
 * database: the schema version the server needs (/ready answers
 * "migrations pending" below it).  0, after logging, when the directory
 * cannot be read or holds malformed names.
 */
int	migrate_latest_version(void);

#endif
