/*
 * The OTLP/HTTP span exporter of src/telemetry against a receiver inside the
 * test: keel's own HTTP server with a POST /v1/traces route that keeps what
 * it is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/trace.h"
#include "http/http.h"
#include "kt.h"
#include "kt_wait.h"
#include "telemetry/telemetry.h"

static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *got;       /* array of the request bodies received */
static char got_auth[64]; /* the Authorization header of the last one */

static keel_err
receive(keel_req *req, void *ctx)
{
	json_t *body;

	(void)ctx;
	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	const char *auth = keel_req_header(req, "Authorization");

	pthread_mutex_lock(&got_lock);
	json_array_append(got, body);
	snprintf(got_auth, sizeof(got_auth), "%s", auth ? auth : "");
	pthread_mutex_unlock(&got_lock);
	return keel_req_json(req, 200, json_object());
}

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/v1/traces",
     .handler = receive,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .min_role = 0,
     .summary = "receiver"},
};

typedef struct receiver {
	keel_router *router;
	keel_server *server;
	char base[64];
} receiver;

static receiver *
receiver_start(void)
{
	receiver *r = calloc(1, sizeof(*r));
	char listen[32], err[128];

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", kt_free_port());
	snprintf(r->base, sizeof(r->base), "http://%s", listen);
	r->router = keel_router_create();
	keel_router_add_all(r->router, routes, 1, NULL);
	keel_server_opts o = {
	    .listen = listen, .workers = 1, .max_connections = 16, .request_timeout_ms = 5000};

	r->server = keel_server_create(&o, r->router);
	assert_int_equal(keel_server_start(r->server, err, sizeof(err)), KEEL_OK);
	return r;
}

static void
receiver_stop(receiver *r)
{
	keel_server_destroy(r->server);
	keel_router_destroy(r->router);
	free(r);
}

/* A server span with a parent and a child client span of it. */
static void
record_pair(keel_tracer *t, const uint8_t trace[16], const uint8_t parent[8])
{
	keel_span server = {.kind = KEEL_SPAN_SERVER,
	                    .has_parent = true,
	                    .start_unix_ns = 1700000000000000000ull,
	                    .end_unix_ns = 1700000000002000000ull};
	keel_span child = {.kind = KEEL_SPAN_CLIENT,
	                   .has_parent = true,
	                   .start_unix_ns = 1700000000000500000ull,
	                   .end_unix_ns = 1700000000001000000ull};

	memcpy(server.trace_id, trace, 16);
	memcpy(server.parent_id, parent, 8);
	keel_trace_new_id(server.span_id, 8);
	keel_span_attr(&server, "http.route", "/api/v1/organizations/{id}");
	keel_span_attr(&server, "http.request.method", "GET");
	keel_span_attr_int(&server, "http.response.status_code", 200);
	memcpy(child.trace_id, trace, 16);
	memcpy(child.parent_id, server.span_id, 8);
	keel_trace_new_id(child.span_id, 8);
	keel_span_attr(&child, "db.system", "postgresql");
	assert_true(keel_tracer_record(t, &server, "GET /api/v1/organizations/{id}"));
	assert_true(keel_tracer_record(t, &child, "org_get"));
}

static json_t *
find_span(json_t *bodies, const char *name)
{
	size_t i, j, k;
	json_t *body, *rs, *ss;

	json_array_foreach(bodies, i, body)
	{
		json_array_foreach(json_object_get(body, "resourceSpans"), j, rs)
		{
			json_array_foreach(json_object_get(rs, "scopeSpans"), k, ss)
			{
				size_t m;
				json_t *span;

				json_array_foreach(
				    json_object_get(ss, "spans"), m,
				    span) if (strcmp(json_string_value(json_object_get(span, "name")), name) ==
				              0) return span;
			}
		}
	}
	return NULL;
}

static const char *
attr_of(json_t *span, const char *key, const char *kind)
{
	size_t i;
	json_t *a;

	json_array_foreach(
	    json_object_get(span, "attributes"), i,
	    a) if (strcmp(json_string_value(json_object_get(a, "key")), key) ==
	           0) return json_string_value(json_object_get(json_object_get(a, "value"), kind));
	return NULL;
}

static void
spans_reach_the_receiver_linked_and_described(void **state)
{
	(void)state;
	receiver *r = receiver_start();
	keel_tracer_opts o = {.endpoint = r->base,
	                      .headers = "Authorization=Bearer abc,X-Ignored",
	                      .service_name = "keel-test",
	                      .service_version = "9.9",
	                      .resource_attributes = "deployment.environment=test",
	                      .queue = 64};
	keel_tracer *t = keel_tracer_create(&o);
	uint8_t trace[16], parent[8];
	char trace_hex[33], parent_hex[17];

	got = json_array();
	keel_trace_new_id(trace, 16);
	keel_trace_new_id(parent, 8);
	keel_trace_hex(trace, 16, trace_hex);
	keel_trace_hex(parent, 8, parent_hex);
	record_pair(t, trace, parent);
	keel_tracer_destroy(t); /* flushes */

	json_t *server = find_span(got, "GET /api/v1/organizations/{id}");
	json_t *child = find_span(got, "org_get");

	assert_non_null(server);
	assert_non_null(child);
	assert_string_equal(json_string_value(json_object_get(server, "traceId")), trace_hex);
	assert_string_equal(json_string_value(json_object_get(server, "parentSpanId")), parent_hex);
	assert_string_equal(json_string_value(json_object_get(child, "parentSpanId")),
	                    json_string_value(json_object_get(server, "spanId")));
	assert_int_equal(json_integer_value(json_object_get(server, "kind")), KEEL_SPAN_SERVER);
	assert_string_equal(json_string_value(json_object_get(server, "startTimeUnixNano")),
	                    "1700000000000000000");
	assert_string_equal(attr_of(server, "http.route", "stringValue"), "/api/v1/organizations/{id}");
	assert_string_equal(attr_of(server, "http.response.status_code", "intValue"), "200");
	assert_string_equal(attr_of(child, "db.system", "stringValue"), "postgresql");
	json_t *resource = json_object_get(
	    json_array_get(json_object_get(json_array_get(got, 0), "resourceSpans"), 0), "resource");

	assert_string_equal(attr_of(resource, "service.name", "stringValue"), "keel-test");
	assert_string_equal(attr_of(resource, "deployment.environment", "stringValue"), "test");
	assert_string_equal(got_auth, "Bearer abc");
	json_decref(got);
	receiver_stop(r);
}

/*
 * Names and attribute values reach the receiver exactly, whatever they hold: quotes,
 * backslashes and control characters are escaped, UTF-8 passes, and a value that is not
 * UTF-8 is replaced rather than spoiling the batch (the receiver would reject all of it).
 */
static void
strings_are_escaped_and_the_batch_stays_valid(void **state)
{
	(void)state;
	receiver *r = receiver_start();
	keel_tracer_opts o = {.endpoint = r->base, .service_version = "1\"2", .queue = 64};
	keel_tracer *t = keel_tracer_create(&o);
	keel_span s = {.kind = KEEL_SPAN_INTERNAL, .start_unix_ns = 1, .end_unix_ns = 2};
	const char *odd = "q\" b\\ n\n t\t c\x01 \xc3\xa9 /{id}";

	got = json_array();
	keel_trace_new_id(s.trace_id, 16);
	keel_trace_new_id(s.span_id, 8);
	keel_span_attr(&s, "odd", odd);
	keel_span_attr(&s, "not.utf8", "a\xff\xfe");
	keel_span_attr_int(&s, "negative", -42);
	char long_value[401];

	for (int i = 0; i < 200; i++) /* 200 two-byte characters: longer than a value is kept */
		memcpy(long_value + 2 * i, "\xc3\xa9", 2);
	long_value[400] = '\0';
	keel_span_attr(&s, "long", long_value);
	assert_true(keel_tracer_record(t, &s, "name \"quoted\" \\ \x1f"));
	keel_tracer_destroy(t);

	assert_int_equal(json_array_size(got), 1); /* the receiver parsed the batch */
	json_t *span = find_span(got, "name \"quoted\" \\ \x1f");

	assert_non_null(span);
	assert_string_equal(attr_of(span, "odd", "stringValue"), odd);
	assert_string_equal(attr_of(span, "not.utf8", "stringValue"), "(not valid UTF-8)");
	assert_string_equal(attr_of(span, "negative", "intValue"), "-42");
	/* cut to fit, at a character boundary: still text, a prefix of whole characters */
	const char *cut = attr_of(span, "long", "stringValue");

	assert_non_null(cut);
	assert_true(strlen(cut) >= 100 && strlen(cut) < 400 && strlen(cut) % 2 == 0);
	assert_memory_equal(cut, long_value, strlen(cut));
	json_t *scope = json_object_get(
	    json_array_get(
	        json_object_get(
	            json_array_get(json_object_get(json_array_get(got, 0), "resourceSpans"), 0),
	            "scopeSpans"),
	        0),
	    "scope");

	assert_string_equal(json_string_value(json_object_get(scope, "version")), "1\"2");
	json_decref(got);
	receiver_stop(r);
}

/* A receiver that takes connections into its backlog and never answers. */
static int
silent_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Every one of hung_tracer's 200 spans is counted as dropped or as failed. */
static bool
all_counted(void *arg)
{
	keel_tracer_stats_t st;

	keel_tracer_stats(arg, &st);
	return st.dropped + st.failed == 200;
}

/* A tracer exporting to a receiver that never answers (url), with 200 spans recorded. */
static keel_tracer *
hung_tracer(const char *url, int64_t timeout_ms)
{
	keel_tracer_opts o = {.endpoint = url, .queue = 32, .timeout_ms = timeout_ms};
	keel_tracer *t = keel_tracer_create(&o);
	uint8_t trace[16];

	keel_trace_new_id(trace, 16);
	for (int i = 0; i < 200; i++) {
		keel_span s = {.kind = KEEL_SPAN_SERVER};

		memcpy(s.trace_id, trace, 16);
		keel_trace_new_id(s.span_id, 8);
		keel_tracer_record(t, &s, "x");
	}
	return t;
}

/*
 * Recording never waits for the network.  The receiver takes the connection and never answers,
 * and an export gives up only after a minute: the exporter stays stuck on its first batch all
 * the while, so had recording waited for room in the queue, no record could have returned
 * before an export failed.  They all return with none failed, the spans past the room dropped.
 * Then the receiver goes away (its pending connection is reset): the exporter fails what it
 * holds, and every span is counted as either dropped or failed.
 */
static void
a_hung_receiver_drops_and_never_blocks(void **state)
{
	(void)state;
	char url[64];
	int port, fd = silent_listener(&port);
	keel_tracer_stats_t st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	keel_tracer *t = hung_tracer(url, 60000);

	keel_tracer_stats(t, &st);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.exported, 0);
	/* the exporter holds at most its first batch (32); the ring holds 32 more */
	assert_true(st.dropped >= 200 - 32 - 32);
	close(fd);
	if (!kt_wait_until(all_counted, t, KT_WAIT_MS))
		fail_msg("spans neither dropped nor failed %d ms after the receiver went", KT_WAIT_MS);
	keel_tracer_stats(t, &st);
	assert_int_equal(st.exported, 0);
	keel_tracer_destroy(t);

	/* still hung at the end: stopping waits for the export timeout (500 ms), not longer */
	fd = silent_listener(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	t = hung_tracer(url, 500);
	keel_tracer_destroy(t); /* a hang here is the test's timeout */
	close(fd);

	/* no endpoint: everything is dropped and counted */
	keel_tracer_opts none = {.queue = 8};

	t = keel_tracer_create(&none);
	keel_span s = {.kind = KEEL_SPAN_SERVER};

	assert_false(keel_tracer_record(t, &s, "x"));
	keel_tracer_stats(t, &st);
	assert_int_equal(st.dropped, 1);
	keel_tracer_destroy(t);
}

int
main(void)
{
	keel_log_set_level(KEEL_LOG_ERROR);
	keel_telemetry_global_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(spans_reach_the_receiver_linked_and_described),
	    cmocka_unit_test(strings_are_escaped_and_the_batch_stays_valid),
	    cmocka_unit_test(a_hung_receiver_drops_and_never_blocks),
	};
	int failed = cmocka_run_group_tests_name("trace_export", tests, NULL, NULL);

	keel_telemetry_global_cleanup();
	return failed;
}
