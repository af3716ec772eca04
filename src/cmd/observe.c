/*
 * serve's observability glue: the metrics registry, the span exporter, and
 * the observers that http and db call.
 *
 * Label values come only from bounded sets: route templates (or "-" for an
 * unmatched request), methods of matched routes, status classes, statement
 * names.  Tracing follows OpenTelemetry's environment: an exporter runs when
 * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set;
 * OTEL_TRACES_SAMPLER (parentbased_traceidratio, the default, or
 * traceidratio, parentbased_always_on, always_on, parentbased_always_off,
 * always_off) and OTEL_TRACES_SAMPLER_ARG choose what new traces record;
 * a caller's sampled flag always wins for parent-based samplers.
 */
#include "cmd/cmd_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/trace.h"
#include "access/access.h"

#include <stdlib.h>
#include <string.h>

/* The share of new traces sampled, from OTEL_TRACES_SAMPLER and _ARG. */
static double
sampler_ratio(void)
{
	const char *sampler = getenv("OTEL_TRACES_SAMPLER");
	const char *arg = getenv("OTEL_TRACES_SAMPLER_ARG");
	double ratio = 1.0;

	if (sampler == NULL || strstr(sampler, "traceidratio") != NULL) {
		char *end;

		if (arg != NULL) {
			ratio = strtod(arg, &end);
			if (end == arg || *end != '\0' || ratio < 0 || ratio > 1) {
				keel_log_warn("OTEL_TRACES_SAMPLER_ARG must be a number in 0..1; using 1");
				ratio = 1.0;
			}
		}
		return ratio;
	}
	if (strstr(sampler, "always_off") != NULL)
		return 0.0;
	return 1.0; /* always_on, parentbased_always_on */
}

/* The families serve declares up front (the relay's are declared by its collector). */
static const struct {
	const char *name;
	keel_metric_type type;
	const char *help;
} families[] = {
    {"keel_http_requests_total", KEEL_METRIC_COUNTER,
     "HTTP requests by route template, method and status class."},
    {"keel_http_request_duration_seconds", KEEL_METRIC_HISTOGRAM,
     "HTTP request latency by route and method."},
    {"keel_http_requests_in_flight", KEEL_METRIC_GAUGE, "Requests being processed."},
    {"keel_db_query_duration_seconds", KEEL_METRIC_HISTOGRAM,
     "PostgreSQL round trips by the statement they carried."},
    {"keel_db_connections", KEEL_METRIC_GAUGE,
     "Connections of the pool by state: idle, busy, closed."},
    {"keel_spans_dropped_total", KEEL_METRIC_COUNTER,
     "Spans dropped because the export queue was full or no exporter runs."},
    {"keel_build_info", KEEL_METRIC_GAUGE, "Build information; the value is always 1."},
};

observe *
observe_create(void)
{
	observe *o = keel_xcalloc(1, sizeof(*o));
	const char *traces = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	keel_tracer_opts to = {
	    .endpoint = traces ? traces : getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
	    .traces_endpoint_given = traces != NULL,
	    .headers = getenv("OTEL_EXPORTER_OTLP_HEADERS"),
	    .service_name = getenv("OTEL_SERVICE_NAME"),
	    .service_version = KEEL_VERSION,
	    .resource_attributes = getenv("OTEL_RESOURCE_ATTRIBUTES"),
	    .queue = 4096,
	};

	o->metrics = keel_metrics_create();
	o->tracer = keel_tracer_create(&to);
	o->trace_ratio = sampler_ratio();
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		keel_metrics_declare(o->metrics, families[i].name, families[i].type, families[i].help);
	keel_metrics_set(o->metrics, "keel_build_info", "version=\"" KEEL_VERSION "\"", 1);
	keel_metrics_collector(o->metrics, keel_metrics_process, NULL);
	return o;
}

void
observe_destroy(observe *o)
{
	if (o == NULL)
		return;
	keel_tracer_destroy(o->tracer);
	keel_metrics_destroy(o->metrics);
	free(o);
}

static const char *
status_class(int status)
{
	static const char *const classes[] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

	return status >= 100 && status < 600 ? classes[status / 100] : classes[0];
}

/* The request's server span, when its trace is sampled. */
static void
record_span(observe *o, keel_req *req, int status, double seconds)
{
	const keel_route *route = keel_req_route(req);
	const keel_principal *p = keel_access_principal(req);
	keel_span s = {.kind = KEEL_SPAN_SERVER, .error = status >= 500 || status == 0};
	uint64_t end = keel_clock_realtime_ns();
	char name[160];

	keel_req_trace_ids(req, s.trace_id, s.span_id, s.parent_id, &s.has_parent);
	s.end_unix_ns = end;
	s.start_unix_ns = end - (uint64_t)(seconds * 1e9);
	keel_span_attr(&s, "http.request.method", keel_req_method(req));
	keel_span_attr(&s, "http.route", route ? route->path : "-");
	keel_span_attr_int(&s, "http.response.status_code", status);
	keel_span_attr(&s, "keel.request_id", keel_req_id(req));
	keel_span_attr(&s, "keel.tenant_id", p->tenant_id);
	keel_span_attr(&s, "keel.user_id", p->user_id);
	snprintf(name, sizeof(name), "%s %s", keel_req_method(req), route ? route->path : "-");
	if (!keel_tracer_record(o->tracer, &s, name))
		keel_metrics_add(o->metrics, "keel_spans_dropped_total", "", 1);
}

void
observe_request(void *ctx, keel_req *req, int status, double seconds)
{
	observe *o = ctx;
	const keel_route *route = keel_req_route(req);
	keel_arena *a = keel_req_arena(req);
	const char *path = keel_metrics_label(a, route ? route->path : "-");
	const char *method = route ? route->method : "-";

	keel_metrics_add(o->metrics, "keel_http_requests_total",
	                 keel_arena_printf(a, "route=\"%s\",method=\"%s\",status=\"%s\"", path, method,
	                                   status_class(status)),
	                 1);
	keel_metrics_observe(o->metrics, "keel_http_request_duration_seconds",
	                     keel_arena_printf(a, "route=\"%s\",method=\"%s\"", path, method), seconds);
	if (keel_req_sampled(req))
		record_span(o, req, status, seconds);
}

/*
 * A child span of the request for one PostgreSQL round trip, named by the
 * statement it carried (a pipeline is one span: one round trip is what it costs).
 */
static void
record_query_span(observe *o, const char *statement, double seconds, const keel_trace_ref *parent)
{
	keel_span s = {.kind = KEEL_SPAN_CLIENT, .has_parent = true};
	uint64_t end = keel_clock_realtime_ns();

	memcpy(s.trace_id, parent->trace_id, 16);
	memcpy(s.parent_id, parent->span_id, 8);
	keel_trace_new_id(s.span_id, 8);
	s.end_unix_ns = end;
	s.start_unix_ns = end - (uint64_t)(seconds * 1e9);
	keel_span_attr(&s, "db.system", "postgresql");
	keel_span_attr(&s, "db.operation.name", statement);
	if (!keel_tracer_record(o->tracer, &s, statement))
		keel_metrics_add(o->metrics, "keel_spans_dropped_total", "", 1);
}

void
observe_query(void *ctx, const char *statement, double seconds, const keel_trace_ref *parent)
{
	observe *o = ctx;
	char labels[96];

	snprintf(labels, sizeof(labels), "statement=\"%.64s\"", statement);
	keel_metrics_observe(o->metrics, "keel_db_query_duration_seconds", labels, seconds);
	if (parent != NULL && parent->sampled)
		record_query_span(o, statement, seconds, parent);
}

void
observe_produce(void *ctx, const keel_produce_span *p)
{
	observe *o = ctx;
	keel_span s = {.kind = KEEL_SPAN_PRODUCER,
	               .has_parent = true,
	               .start_unix_ns = p->start_unix_ns,
	               .end_unix_ns = p->end_unix_ns,
	               .error = !p->ok};
	char name[160];

	memcpy(s.trace_id, p->parent->trace_id, 16);
	memcpy(s.parent_id, p->parent->span_id, 8);
	memcpy(s.span_id, p->span_id, 8);
	keel_span_attr(&s, "messaging.system", "kafka");
	keel_span_attr(&s, "messaging.operation.type", "publish");
	keel_span_attr(&s, "messaging.destination.name", p->topic);
	snprintf(name, sizeof(name), "publish %s", p->topic);
	if (!keel_tracer_record(o->tracer, &s, name))
		keel_metrics_add(o->metrics, "keel_spans_dropped_total", "", 1);
}

void
observe_pool(keel_metrics *m, void *ctx)
{
	keel_db_pool_stats st;

	keel_db_pool_stats_get(ctx, &st);
	keel_metrics_set(m, "keel_db_connections", "state=\"idle\"", st.idle);
	keel_metrics_set(m, "keel_db_connections", "state=\"busy\"", st.busy);
	keel_metrics_set(m, "keel_db_connections", "state=\"closed\"", st.closed);
}

void
observe_server(keel_metrics *m, void *ctx)
{
	keel_metrics_set(m, "keel_http_requests_in_flight", "", keel_server_inflight(ctx));
}

void
observe_relay(keel_metrics *m, void *ctx)
{
	keel_relay_stats st;

	keel_metrics_declare(m, "keel_outbox_pending", KEEL_METRIC_GAUGE,
	                     "Events in the outbox not yet published (-1: not counted yet).");
	keel_metrics_declare(m, "keel_relay_delivery_errors_total", KEEL_METRIC_COUNTER,
	                     "Events the broker did not acknowledge (they are retried).");
	keel_metrics_declare(m, "keel_relay_published_total", KEEL_METRIC_COUNTER,
	                     "Events the broker acknowledged.");
	keel_relay_stats_get(ctx, &st);
	keel_metrics_set(m, "keel_outbox_pending", "", (double)st.outbox_pending);
	/* counters are read from the relay: set them to its running totals */
	keel_metrics_set(m, "keel_relay_delivery_errors_total", "", (double)st.delivery_errors);
	keel_metrics_set(m, "keel_relay_published_total", "", (double)st.published);
}
