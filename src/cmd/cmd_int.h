/*
 * Private to src/cmd: the observability glue of serve and relay (observe.c),
 * and retention (retention.c), shared by serve's upkeep and `keel maintain`.
 */
#ifndef KEEL_CMD_CMD_INT_H
#define KEEL_CMD_CMD_INT_H

#include "cmd/cmd.h"
#include "events/events.h"
#include "http/http.h"
#include "telemetry/telemetry.h"

typedef struct observe {
	keel_metrics *metrics;
	keel_tracer *tracer;
	double trace_ratio; /* OTEL_TRACES_SAMPLER(_ARG): share of new traces sampled */
} observe;

/* The registry with keel's families, and the exporter per OTEL_* (none when unset). */
observe *observe_create(void);
void observe_destroy(observe *o);

/* keel_server_opts.observe: request count, latency, and the server span. */
void observe_request(void *ctx, keel_req *req, int status, double seconds);

/* keel_db_opts.observe: round-trip latency by statement, and a child span of a traced request. */
void observe_query(void *ctx, const char *statement, double seconds, const keel_trace_ref *parent);

/* keel_relay_opts.on_produce: a Kafka produce of a traced change, as a producer span. */
void observe_produce(void *ctx, const keel_produce_span *span);

/* Collectors run at each scrape: ctx is the pool, the server, the relay. */
void observe_pool(keel_metrics *m, void *ctx);
void observe_server(keel_metrics *m, void *ctx);
void observe_relay(keel_metrics *m, void *ctx);

/* ---- retention (retention.c): on an owner connection (keel_owner) ---- */

#define KEEL_RETENTION_TABLES   4
#define KEEL_RETENTION_BATCH    1000                 /* rows deleted per statement */
#define KEEL_RETENTION_EVERY_MS (24LL * 3600 * 1000) /* serve: after a run that worked */
#define KEEL_RETENTION_RETRY_MS (5LL * 60 * 1000)    /* serve: after one that failed */

typedef struct keel_retention_opts {
	int64_t security_events_keep_ms; /* KEEL_SECURITY_EVENTS_RETENTION */
	int batch;                       /* rows per statement, each its own transaction */
	bool wait;                       /* another run holds the lock: wait (else KEEL_ECONFLICT) */
	FILE *out;                       /* "waiting for another run" goes here; may be NULL */
	/* Polled while waiting and between statements; true stops the run (may be NULL). */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
} keel_retention_opts;

/* Rows deleted per table, in the order of keel_retention_table(). */
typedef struct keel_retention_counts {
	long deleted[KEEL_RETENTION_TABLES];
} keel_retention_counts;

/* The options from the configuration: its retention, a batch of KEEL_RETENTION_BATCH. */
keel_retention_opts keel_retention_opts_of(const keel_config *cfg);

/* Name of table i (0 <= i < KEEL_RETENTION_TABLES), "schema.table". */
const char *keel_retention_table(int i);

/*
 * Delete what is past its retention in every table (migration 0010 has the
 * rules), a batch per transaction; *out counts the rows, also logged as one
 * info line.  KEEL_ECONFLICT when another run holds the lock and o->wait is
 * false, or when cancelled; KEEL_EDENIED when db is not the owner;
 * KEEL_EUNAVAIL when the database is gone.  What was deleted before an error
 * stays deleted (and counted).
 */
keel_err keel_retention_run(keel_db *db, const keel_retention_opts *o, keel_retention_counts *out);

typedef struct keel_retention_upkeep keel_retention_upkeep;

/*
 * Start a thread that runs keel_retention_run at once and then every day
 * (again after KEEL_RETENTION_RETRY_MS after a failure, which is logged,
 * never fatal), each time on a fresh connection made with owner (copied).
 * NULL when the thread cannot start (logged).
 */
keel_retention_upkeep *keel_retention_upkeep_start(const keel_db_opts *owner,
                                                   const keel_retention_opts *run);

/* Stop the thread (a run in progress ends after its current statement) and free u; NULL: no-op. */
void keel_retention_upkeep_stop(keel_retention_upkeep *u);

#endif
