/*
 * keel maintain: the daily upkeep of the database, as a command.
 *
 *   keel maintain    the audit log's partitions for this month and the next
 *                    KEEL_AUDIT_MONTHS_AHEAD (as `keel audit maintain`), then
 *                    retention: the rows past their time deleted (retention.c)
 *
 * The same work serve's upkeep threads do at start and then daily when given
 * KEEL_MIGRATE_DATABASE_URL; this is for cron when no serve process has the
 * owner's connection.  It connects as the owner role (KEEL_MIGRATE_DATABASE_URL
 * or the PG* variables).  Safe next to traffic, next to serve's upkeep and
 * next to itself: a run that finds another one in progress waits for it, and
 * SIGINT or SIGTERM stop it between two statements.
 */
#include "audit/audit.h"
#include "cmd/cmd_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void
usage(void)
{
	fprintf(stderr, "usage: keel maintain\n");
}

/* SIGINT and SIGTERM are blocked (main.c): a pending one cancels the run. */
static bool
signal_pending(void *ctx)
{
	(void)ctx;
	sigset_t set;

	return sigpending(&set) == 0 && (sigismember(&set, SIGINT) || sigismember(&set, SIGTERM));
}

/* One line: the rows deleted per table. */
static void
counts_print(const keel_retention_counts *c)
{
	printf("retention: deleted");
	for (int i = 0; i < KEEL_RETENTION_TABLES; i++)
		printf("%s %s %ld", i == 0 ? "" : ",", keel_retention_table(i), c->deleted[i]);
	printf("\n");
}

static keel_err
maintain(const keel_config *cfg, keel_db *db)
{
	keel_audit_opts ao = {.months_ahead = cfg->audit_months_ahead,
	                      .wait = true,
	                      .out = stdout,
	                      .cancelled = signal_pending};
	keel_retention_opts ro = keel_retention_opts_of(cfg);
	keel_retention_counts counts;
	int created;

	keel_err err = keel_audit_maintain(db, &ao, &created);

	if (err != KEEL_OK)
		return err;
	ro.wait = true;
	ro.out = stdout;
	ro.cancelled = signal_pending;
	err = keel_retention_run(db, &ro, &counts);
	if (err == KEEL_OK)
		counts_print(&counts);
	return err;
}

int
keel_cmd_maintain(const keel_config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		usage();
		return 2;
	}
	keel_db_opts dbo = keel_cmd_db_opts(cfg, true);
	keel_db *db;
	char why[512];

	dbo.application_name = "keel maintain";
	if (keel_db_open(&dbo, &db, why, sizeof(why)) != KEEL_OK) {
		fprintf(stderr, "keel maintain: %s\n", why);
		return 1;
	}
	keel_err err = maintain(cfg, db);

	keel_db_close(db);
	if (err == KEEL_EDENIED)
		fprintf(stderr, "keel maintain: permission denied: run it as the owner role "
		                "(KEEL_MIGRATE_DATABASE_URL)\n");
	else if (err == KEEL_ECONFLICT)
		fprintf(stderr, "keel maintain: stopped before it was done\n");
	else if (err != KEEL_OK)
		fprintf(stderr, "keel maintain: failed (%s); see the log line above\n", keel_err_name(err));
	return err == KEEL_OK ? 0 : 1;
}
