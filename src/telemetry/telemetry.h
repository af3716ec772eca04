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

#endif
