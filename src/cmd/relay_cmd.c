/*
 * keel relay: the outbox relay as a process of its own.
 *
 * The same relay as the thread `keel serve` runs when KEEL_KAFKA_BROKERS is
 * set (src/events/relay.c); as a process it can run on its own machines, as
 * many times as wanted (they share the work).  --drain publishes what is
 * pending, deletes what the retention allows, and exits: for catching up
 * after brokers were not configured, and for the benchmark.
 */
#include "cmd/cmd_int.h"
#include "core/log.h"
#include "events/events.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

keel_relay_opts
keel_cmd_relay_opts(const keel_config *cfg)
{
	return (keel_relay_opts){
	    .db =
	        {
	            .conninfo = cfg->relay_database_url,
	            .connect_timeout_ms = cfg->db_connect_timeout_ms,
	            .statement_timeout_ms = cfg->db_statement_timeout_ms,
	            .application_name = "keel relay",
	        },
	    .brokers = cfg->kafka_brokers,
	    .security_protocol = cfg->kafka_security_protocol,
	    .sasl_mechanism = cfg->kafka_sasl_mechanism,
	    .sasl_username = cfg->kafka_sasl_username,
	    .sasl_password = cfg->kafka_sasl_password,
	    .ssl_ca_file = cfg->kafka_ssl_ca_file,
	    .ssl_cert_file = cfg->kafka_ssl_cert_file,
	    .ssl_key_file = cfg->kafka_ssl_key_file,
	    .topic_prefix = cfg->kafka_topic_prefix,
	    .message_timeout_ms = cfg->kafka_message_timeout_ms,
	    .batch = cfg->relay_batch,
	    .poll_interval_ms = cfg->relay_poll_interval_ms,
	    .retention_ms = cfg->events_retention_ms,
	    .backlog_warn = cfg->relay_backlog_warn,
	};
}

static void
usage(void)
{
	fprintf(stderr, "usage: keel relay [--drain]\n");
}

/* Wait for SIGINT/SIGTERM, or for the relay to end by itself (--drain); true on a signal. */
static bool
wait_signal_or_done(const keel_relay *r)
{
	sigset_t set;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (!keel_relay_done(r))
		if (sigtimedwait(&set, NULL, &tick) > 0)
			return true;
	return false;
}

int
keel_cmd_relay(const keel_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"drain", no_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	keel_relay_opts o = keel_cmd_relay_opts(cfg);
	keel_relay *relay;
	char err[512];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'd') {
			usage();
			return 2;
		}
		o.drain = true;
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (cfg->kafka_brokers == NULL) {
		fprintf(stderr, "keel relay: KEEL_KAFKA_BROKERS is not set (see keel help)\n");
		return 2;
	}
	/* produce spans go where OTEL_EXPORTER_OTLP_* says, as from serve */
	observe *obs = observe_create();

	o.on_produce = observe_produce;
	o.on_produce_ctx = obs;
	if (keel_relay_create(&o, &relay, err, sizeof(err)) != KEEL_OK) {
		keel_log_error("configuration: %s", err);
		observe_destroy(obs);
		return 2;
	}
	int status = 0;

	if (keel_relay_start(relay) != KEEL_OK) {
		keel_log_error("relay: could not start its thread");
		status = 1;
	} else if (wait_signal_or_done(relay)) {
		keel_log_info("relay: stopping; events not yet acknowledged stay in the outbox");
	}
	keel_relay_destroy(relay);
	observe_destroy(obs); /* sends the spans still queued */
	return status;
}
