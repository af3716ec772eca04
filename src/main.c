/*
 * keel: command dispatch only.
 *
 * The configuration is loaded here, once, before any thread starts; it is
 * the process's only global state and is read-only afterwards.
 */
#include "cmd/cmd.h"
#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "telemetry/telemetry.h"

#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

static void
usage(FILE *out)
{
	fprintf(out, "usage: keel COMMAND [ARGS]\n\n"
	             "commands:\n"
	             "  serve [--listen ADDR] [--services all|NAME,...] [--migrate]\n"
	             "  migrate up [--to VERSION] [--dry-run] [--dir DIR]\n"
	             "  migrate down [N] | status | verify [--dir DIR]\n"
	             "  migrate create NAME --module MODULE [--dir DIR]\n"
	             "  tenant create --name NAME --slug SLUG --owner-email EMAIL\n"
	             "                [--owner-password-file FILE]\n"
	             "  tenant suspend SLUG [--reason TEXT] | resume SLUG\n"
	             "  audit maintain [--months N] | prune --keep DURATION [--dry-run]\n"
	             "  relay [--drain]\n"
	             "  maintain\n"
	             "  fin verify [--tenant SLUG]\n"
	             "  help\n\n"
	             "configuration (environment):\n");
	keel_config_describe(out);
}

int
main(int argc, char **argv)
{
	keel_config cfg;
	char err[512];

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	/* Signals are taken by sigwait() in the main thread; every thread inherits the mask. */
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (sodium_init() < 0) {
		fprintf(stderr, "keel: could not initialise libsodium\n");
		return 1;
	}
	json_set_alloc_funcs(keel_xmalloc, free);
	keel_telemetry_global_init();
	if (keel_config_load(&cfg, environ, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keel: configuration: %s\n", err);
		return 2;
	}
	keel_log_set_level(cfg.log_level);

	int status;

	if (strcmp(argv[1], "serve") == 0)
		status = keel_cmd_serve(&cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "migrate") == 0)
		status = keel_cmd_migrate(&cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "tenant") == 0)
		status = keel_cmd_tenant(&cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "audit") == 0)
		status = keel_cmd_audit(&cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "relay") == 0)
		status = keel_cmd_relay(&cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "maintain") == 0)
		status = keel_cmd_maintain(&cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "fin") == 0)
		status = keel_cmd_fin(&cfg, argc - 1, argv + 1);
	else {
		fprintf(stderr, "keel: unknown command \"%s\"\n", argv[1]);
		usage(stderr);
		status = 2;
	}
	keel_config_free(&cfg);
	keel_telemetry_global_cleanup();
	return status;
}
