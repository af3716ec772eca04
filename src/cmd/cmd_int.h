/*
 * Private to src/cmd: the observability glue of serve and relay (observe.c).
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

#endif
