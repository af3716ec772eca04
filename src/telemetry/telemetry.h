/*
 * keel telemetry: Prometheus metrics (and, with the observability issue,
 * traces).
 *
 * Metrics live in one registry created by serve and passed to whoever
 * records; nothing here is global.  A series is a family name plus a
 * preformatted label string such as `route="/api/v1/users",method="GET"`:
 * callers must only ever build label values from bounded sets (route
 * templates, methods, status classes, statement names), never from raw
 * paths, ids or user input, so the number of series stays small.
 */
#ifndef KEEL_TELEMETRY_TELEMETRY_H
#define KEEL_TELEMETRY_TELEMETRY_H

#include "core/str.h"

typedef struct keel_metrics keel_metrics;

typedef enum keel_metric_type {
	KEEL_METRIC_COUNTER,
	KEEL_METRIC_GAUGE,
	KEEL_METRIC_HISTOGRAM,
} keel_metric_type;

keel_metrics *keel_metrics_create(void);
void keel_metrics_destroy(keel_metrics *m);

/* Declare a family (name, type, help); aborts on a second, different declaration. */
void keel_metrics_declare(keel_metrics *m, const char *name, keel_metric_type type,
                          const char *help);

/* Add v (>= 0) to a counter series. */
void keel_metrics_add(keel_metrics *m, const char *name, const char *labels, double v);

/* Set a gauge series. */
void keel_metrics_set(keel_metrics *m, const char *name, const char *labels, double v);

/* Record one observation (seconds) in a histogram series. */
void keel_metrics_observe(keel_metrics *m, const char *name, const char *labels, double v);

/* Called at each scrape before rendering, to refresh gauges that are read, not pushed. */
void keel_metrics_collector(keel_metrics *m, void (*collect)(keel_metrics *m, void *ctx),
                            void *ctx);

/* The registry in Prometheus text format 0.0.4, appended to out. */
void keel_metrics_render(keel_metrics *m, keel_buf *out);

/* Escape a label value (\, ", newline) into out; returns out. */
char *keel_metrics_label(keel_arena *a, const char *value);

/* Gauges of this process: resident memory, open fds, start time, uptime, build info. */
void keel_metrics_process(keel_metrics *m, void *ctx);

/* ---- traces (trace_export.c) ---- */

#include <stdbool.h>
#include <stdint.h>

#define KEEL_SPAN_ATTRS 8

enum { KEEL_SPAN_INTERNAL = 1, KEEL_SPAN_SERVER = 2, KEEL_SPAN_CLIENT = 3, KEEL_SPAN_PRODUCER = 4 };

/* One finished span; attribute strings are copied when it is recorded. */
typedef struct keel_span {
	uint8_t trace_id[16], span_id[8], parent_id[8];
	bool has_parent;
	int kind;
	uint64_t start_unix_ns, end_unix_ns;
	bool error;
	int nattrs;
	const char *attr_key[KEEL_SPAN_ATTRS];
	const char *attr_value[KEEL_SPAN_ATTRS];
	long long attr_int[KEEL_SPAN_ATTRS];
	bool attr_is_int[KEEL_SPAN_ATTRS];
} keel_span;

void keel_span_attr(keel_span *s, const char *key, const char *value);
void keel_span_attr_int(keel_span *s, const char *key, long long value);

typedef struct keel_tracer keel_tracer;

typedef struct keel_tracer_opts {
	const char *endpoint;       /* OTLP/HTTP base URL, or the traces URL itself; NULL: none */
	bool traces_endpoint_given; /* endpoint is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) */
	const char *headers;        /* OTEL_EXPORTER_OTLP_HEADERS: "k=v,k2=v2" */
	const char *service_name;   /* OTEL_SERVICE_NAME, default "keel" */
	const char *service_version;
	const char *resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES: "k=v,..." */
	int queue;                       /* spans that may wait; more are dropped */
	int64_t timeout_ms;              /* per export request */
} keel_tracer_opts;

typedef struct keel_tracer_stats_t {
	uint64_t queued, dropped, exported, failed;
} keel_tracer_stats_t;

/* Process-wide set-up of the HTTP client (libcurl); call once from main before threads. */
void keel_telemetry_global_init(void);
void keel_telemetry_global_cleanup(void);

/* Start the exporter thread when an endpoint is given. */
keel_tracer *keel_tracer_create(const keel_tracer_opts *o);

/* Send what is queued (bounded by the export timeout), then stop. */
void keel_tracer_destroy(keel_tracer *t);

/* Queue a finished span named name; false (and counted as dropped) when the queue is full. */
bool keel_tracer_record(keel_tracer *t, const keel_span *span, const char *name);

void keel_tracer_stats(keel_tracer *t, keel_tracer_stats_t *out);

#endif
