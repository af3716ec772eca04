/*
 * keel audit: maintain | prune.
 *
 *   keel audit maintain [--months N]            partitions for this month and the next N
 *   keel audit prune --keep DURATION [--dry-run]  drop partitions entirely older than that
 *
 * Both connect as the owner role (KEEL_MIGRATE_DATABASE_URL or the PG*
 * variables): only the owner of audit.logs may attach, detach and drop its
 * partitions.  Both are safe to run at any time, next to traffic and next to
 * each other (src/audit/audit_maint.c); a run that finds another one in
 * progress waits for it, and SIGINT or SIGTERM stop the wait.
 */
#include "audit/audit.h"
#include "cmd/cmd.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_MIN_MS (24LL * 3600 * 1000) /* --keep below a day is surely a mistake */

static void
usage(void)
{
	fprintf(stderr,
	        "usage: keel audit maintain [--months N]\n"
	        "       keel audit prune --keep DURATION [--dry-run]   (DURATION: 400d, ...)\n");
}

/* SIGINT and SIGTERM are blocked (main.c): a pending one cancels the run. */
static bool
signal_pending(void *ctx)
{
	(void)ctx;
	sigset_t set;

	return sigpending(&set) == 0 && (sigismember(&set, SIGINT) || sigismember(&set, SIGTERM));
}

static int
run(const keel_config *cfg, bool prune, const keel_audit_opts *o)
{
	keel_db_opts dbo = keel_cmd_db_opts(cfg, true);
	keel_db *db;
	char err[512];
	int n = 0;

	dbo.application_name = "keel audit";
	if (keel_db_open(&dbo, &db, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keel audit: %s\n", err);
		return 1;
	}
	keel_err e = prune ? keel_audit_prune(db, o, &n) : keel_audit_maintain(db, o, &n);

	keel_db_close(db);
	if (e == KEEL_EDENIED)
		fprintf(stderr, "keel audit: permission denied: run it as the owner of audit.logs "
		                "(KEEL_MIGRATE_DATABASE_URL)\n");
	else if (e == KEEL_ECONFLICT)
		fprintf(stderr, "keel audit: stopped before it was done\n");
	else if (e != KEEL_OK)
		fprintf(stderr, "keel audit: %s failed (%s); see the log line above\n",
		        prune ? "prune" : "maintain", keel_err_name(e));
	return e == KEEL_OK ? 0 : 1;
}

int
keel_cmd_audit(const keel_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {{"months", required_argument, NULL, 'm'},
	                                         {"keep", required_argument, NULL, 'k'},
	                                         {"dry-run", no_argument, NULL, 'n'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	keel_audit_opts o = {.months_ahead = cfg->audit_months_ahead,
	                     .keep_ms = -1,
	                     .wait = true,
	                     .out = stdout,
	                     .cancelled = signal_pending};
	bool months_given = false;
	char *end;
	int c;

	if (argc < 2 || (strcmp(argv[1], "maintain") != 0 && strcmp(argv[1], "prune") != 0)) {
		usage();
		return 2;
	}
	bool prune = strcmp(argv[1], "prune") == 0;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': {
			long months = strtol(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end != '\0' || months > 120) {
				fprintf(stderr, "keel audit: --months must be an integer from 0 to 120\n");
				return 2;
			}
			o.months_ahead = (int)months;
			months_given = true;
			break;
		}
		case 'k':
			if (!keel_duration_parse(optarg, &o.keep_ms) || o.keep_ms < KEEP_MIN_MS) {
				fprintf(stderr, "keel audit: --keep must be a duration of at least 1d, like "
				                "400d\n");
				return 2;
			}
			break;
		case 'n':
			o.dry_run = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc || (prune && (o.keep_ms < 0 || months_given)) ||
	    (!prune && (o.keep_ms >= 0 || o.dry_run))) {
		usage();
		return 2;
	}
	return run(cfg, prune, &o);
}
