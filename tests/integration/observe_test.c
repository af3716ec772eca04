/*
 * Observability of the real binary: /metrics in strict Prometheus text
 * format with counters that move and bounded labels, the separate metrics
 * listener, and server spans exported with OTLP/HTTP to a receiver inside
 * the test, joined to the caller's traceparent and honouring the sampler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http.h"
#include "kt.h"
#include "prom.h"

/* ---- an OTLP/HTTP receiver: keel's own server with one route ---- */

static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *got; /* every span received */

static keel_err
receive(keel_req *req, void *ctx)
{
	json_t *body, *rs, *ss, *span;
	size_t i, j, k;

	(void)ctx;
	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	pthread_mutex_lock(&got_lock);
	json_array_foreach(json_object_get(body, "resourceSpans"), i, rs)
	{
		json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
		{
			json_array_foreach(json_object_get(ss, "spans"), k, span) json_array_append(got, span);
		}
	}
	pthread_mutex_unlock(&got_lock);
	return keel_req_json(req, 200, json_object());
}

static const keel_route receiver_routes[] = {
    {"POST", "/v1/traces", receive, KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY, 0, "receiver"},
};

static keel_router *receiver_router;
static keel_server *receiver;
static char receiver_base[64];

static int
setup(void **state)
{
	char listen[32], err[128];
	char *out;
	const char *up[] = {"migrate", "up", NULL};

	(void)state;
	kt_db_fresh("observe");
	assert_int_equal(kt_keel_run(up, NULL, &out), 0);
	free(out);
	got = json_array();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", kt_free_port());
	snprintf(receiver_base, sizeof(receiver_base), "http://%s", listen);
	receiver_router = keel_router_create();
	keel_router_add_all(receiver_router, receiver_routes, 1, NULL);
	keel_server_opts o = {
	    .listen = listen, .workers = 1, .max_connections = 16, .request_timeout_ms = 5000};

	receiver = keel_server_create(&o, receiver_router);
	assert_int_equal(keel_server_start(receiver, err, sizeof(err)), KEEL_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	keel_server_destroy(receiver);
	keel_router_destroy(receiver_router);
	json_decref(got);
	return 0;
}

/* The metrics text, checked strictly. */
static char *
scrape(const char *base)
{
	kt_resp *r = kt_request(base, "GET", "/metrics", NULL, NULL, 0);
	char *ct = kt_header(r, "Content-Type");

	assert_int_equal(r->status, 200);
	assert_non_null(strstr(ct, "text/plain"));
	free(ct);
	char *err = prom_check(r->body);

	if (err != NULL)
		fail_msg("%s", err);
	char *text = strdup(r->body);

	kt_resp_free(r);
	return text;
}

static double
value(const char *text, const char *name, const char *labels)
{
	double v = prom_value(text, name, labels);

	return isnan(v) ? 0 : v;
}

static void
metrics_parse_and_counters_move(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(NULL, NULL);
	char *before = scrape(k->base);

	for (int i = 0; i < 3; i++)
		kt_resp_free(kt_request(k->base, "GET", "/readyz", NULL, NULL, 0));
	kt_resp_free(kt_request(k->base, "GET", "/api/v1/secret-path-abc123", NULL, NULL, 0));
	const char *signup = "{\"name\":\"Obs\",\"slug\":\"obs\",\"owner_email\":\"o@obs.test\","
	                     "\"owner_password\":\"observe password 1\"}";
	const char *login = "{\"tenant\":\"obs\",\"email\":\"o@obs.test\","
	                    "\"password\":\"observe password 1\"}";
	const char *wrong = "{\"tenant\":\"obs\",\"email\":\"o@obs.test\",\"password\":\"nope\"}";
	const char *json[] = {"Content-Type: application/json", NULL};

	kt_resp_free(kt_request(k->base, "POST", "/api/v1/tenants", json, signup, strlen(signup)));
	kt_resp_free(kt_request(k->base, "POST", "/api/v1/auth/login", json, login, strlen(login)));
	kt_resp_free(kt_request(k->base, "POST", "/api/v1/auth/login", json, wrong, strlen(wrong)));
	usleep(100000); /* completion callbacks run just after the responses */
	char *after = scrape(k->base);
	const char *ready = "route=\"/readyz\",method=\"GET\",status=\"2xx\"";

	assert_true(value(after, "keel_http_requests_total", ready) -
	                value(before, "keel_http_requests_total", ready) ==
	            3);
	assert_true(
	    value(after, "keel_http_requests_total", "route=\"-\",method=\"-\",status=\"4xx\"") >= 1);
	assert_null(strstr(after, "secret-path")); /* raw paths never become labels */
	assert_true(value(after, "keel_http_request_duration_seconds_count",
	                  "route=\"/readyz\",method=\"GET\"") >= 3);
	assert_true(value(after, "keel_sign_ins_total", "outcome=\"success\"") == 1);
	assert_true(value(after, "keel_sign_ins_total", "outcome=\"failure\"") == 1);
	/* one round trip per sign-in ends with the user lookup; writes end with COMMIT */
	assert_true(value(after, "keel_db_query_duration_seconds_count",
	                  "statement=\"auth_user_by_email\"") >= 2);
	assert_true(value(after, "keel_db_query_duration_seconds_count", "statement=\"COMMIT\"") >= 1);
	assert_true(value(after, "keel_db_connections", "state=\"idle\"") +
	                value(after, "keel_db_connections", "state=\"busy\"") >=
	            1);
	assert_true(value(after, "process_resident_memory_bytes", "") > 1e6);
	assert_true(value(after, "process_open_fds", "") > 3);
	assert_true(value(after, "keel_build_info", "version=\"" KEEL_VERSION "\"") == 1);
	assert_true(value(after, "keel_http_requests_in_flight", "") >= 1); /* the scrape itself */
	/* no label carries an id: only route templates, methods, classes and names */
	assert_null(strstr(after, "tenant_id"));
	free(before);
	free(after);
	assert_int_equal(kt_keel_stop(k), 0);
}

static void
metrics_can_live_on_their_own_listener(void **state)
{
	(void)state;
	char env0[64], base[64];
	int port = kt_free_port();

	snprintf(env0, sizeof(env0), "KEEL_METRICS_LISTEN=127.0.0.1:%d", port);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	const char *env[] = {env0, NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	kt_resp *r = kt_request(k->base, "GET", "/metrics", NULL, NULL, 0);

	assert_int_equal(r->status, 404); /* not on the public listener */
	kt_resp_free(r);
	free(scrape(base));
	r = kt_request(k->base, "GET", "/openapi.json", NULL, NULL, 0);
	assert_int_equal(r->status, 200);
	assert_null(json_object_get(json_object_get(r->json, "paths"), "/metrics"));
	assert_non_null(json_object_get(json_object_get(r->json, "paths"), "/readyz"));
	kt_resp_free(r);
	assert_int_equal(kt_keel_stop(k), 0);
}

/* The received span named name whose traceId is trace (waits up to 5 s for the exporter). */
static json_t *
span_for(const char *trace, const char *name)
{
	for (int tries = 0; tries < 100; tries++) {
		size_t i;
		json_t *s;

		pthread_mutex_lock(&got_lock);
		json_array_foreach(got, i, s)
		{
			if (strcmp(json_string_value(json_object_get(s, "traceId")), trace) == 0 &&
			    strcmp(json_string_value(json_object_get(s, "name")), name) == 0) {
				json_incref(s);
				pthread_mutex_unlock(&got_lock);
				return s;
			}
		}
		pthread_mutex_unlock(&got_lock);
		usleep(50000);
	}
	return NULL;
}

static const char *
attr(json_t *span, const char *key)
{
	size_t i;
	json_t *a;

	json_array_foreach(json_object_get(span, "attributes"), i, a)
	{
		if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0) {
			json_t *v = json_object_get(a, "value");

			return json_string_value(json_object_get(v, "stringValue"))
			           ? json_string_value(json_object_get(v, "stringValue"))
			           : json_string_value(json_object_get(v, "intValue"));
		}
	}
	return NULL;
}

static void
server_spans_join_the_callers_trace(void **state)
{
	(void)state;
	char env0[128];

	snprintf(env0, sizeof(env0), "OTEL_EXPORTER_OTLP_ENDPOINT=%s", receiver_base);
	const char *env[] = {env0, "OTEL_SERVICE_NAME=keel-observe-test", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	const char *h[] = {"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	                   NULL};

	kt_resp_free(kt_request(k->base, "GET", "/readyz", h, NULL, 0));
	json_t *s = span_for("0af7651916cd43dd8448eb211c80319c", "GET /readyz");

	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "parentSpanId")), "b7ad6b7169203331");
	assert_int_equal(json_integer_value(json_object_get(s, "kind")), 2);
	assert_string_equal(attr(s, "http.route"), "/readyz");
	assert_string_equal(attr(s, "http.response.status_code"), "200");
	json_decref(s);
	assert_int_equal(kt_keel_stop(k), 0);
}

/* The received spans of trace whose parent is parent (a new reference; waits for count). */
static json_t *
children_of(const char *trace, const char *parent, size_t count)
{
	json_t *found = json_array();

	for (int tries = 0; tries < 100 && json_array_size(found) < count; tries++) {
		size_t i;
		json_t *s;

		json_array_clear(found);
		pthread_mutex_lock(&got_lock);
		json_array_foreach(got, i, s)
		{
			const char *p = json_string_value(json_object_get(s, "parentSpanId"));

			if (strcmp(json_string_value(json_object_get(s, "traceId")), trace) == 0 && p != NULL &&
			    strcmp(p, parent) == 0)
				json_array_append(found, s);
		}
		pthread_mutex_unlock(&got_lock);
		if (json_array_size(found) < count)
			usleep(50000);
	}
	return found;
}

/*
 * Each PostgreSQL round trip of a request is a client span, child of the request's server
 * span: sign-up's transaction ends with its COMMIT round trip, and every child lies within
 * the server span's time.
 */
static void
database_round_trips_are_child_spans(void **state)
{
	(void)state;
	char env0[128];

	snprintf(env0, sizeof(env0), "OTEL_EXPORTER_OTLP_ENDPOINT=%s", receiver_base);
	const char *env[] = {env0, NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	const char *h[] = {"traceparent: 00-5af7651916cd43dd8448eb211c80319c-a7ad6b7169203331-01",
	                   "Content-Type: application/json", NULL};
	const char *body = "{\"name\":\"Traced\",\"slug\":\"traced\","
	                   "\"owner_email\":\"owner@traced.test\","
	                   "\"owner_password\":\"correct horse battery staple\"}";
	kt_resp *r = kt_request(k->base, "POST", "/api/v1/tenants", h, body, strlen(body));

	assert_int_equal(r->status, 201);
	kt_resp_free(r);
	json_t *server = span_for("5af7651916cd43dd8448eb211c80319c", "POST /api/v1/tenants");

	assert_non_null(server);
	const char *server_id = json_string_value(json_object_get(server, "spanId"));
	json_t *children = children_of("5af7651916cd43dd8448eb211c80319c", server_id, 2);
	size_t i;
	json_t *c;
	bool commit = false;
	unsigned long long from =
	                       strtoull(json_string_value(json_object_get(server, "startTimeUnixNano")),
	                                NULL, 10),
	                   to = strtoull(json_string_value(json_object_get(server, "endTimeUnixNano")),
	                                 NULL, 10);

	assert_true(json_array_size(children) >= 2);
	json_array_foreach(children, i, c)
	{
		assert_int_equal(json_integer_value(json_object_get(c, "kind")), 3);
		assert_string_equal(attr(c, "db.system"), "postgresql");
		assert_string_equal(attr(c, "db.operation.name"),
		                    json_string_value(json_object_get(c, "name")));
		assert_string_not_equal(json_string_value(json_object_get(c, "spanId")), server_id);
		unsigned long long start =
		    strtoull(json_string_value(json_object_get(c, "startTimeUnixNano")), NULL, 10);
		unsigned long long end =
		    strtoull(json_string_value(json_object_get(c, "endTimeUnixNano")), NULL, 10);

		/* the clock is read at slightly different moments: allow 1 ms either side */
		assert_true(start + 1000000 >= from && end <= to + 1000000 && start <= end);
		commit = commit || strcmp(json_string_value(json_object_get(c, "name")), "COMMIT") == 0;
	}
	if (!commit)
		fail_msg("no COMMIT among the children: %s", json_dumps(children, JSON_COMPACT));
	json_decref(children);
	json_decref(server);
	assert_int_equal(kt_keel_stop(k), 0);
}

static void
the_sampler_is_honoured(void **state)
{
	(void)state;
	char env0[128];

	snprintf(env0, sizeof(env0), "OTEL_EXPORTER_OTLP_ENDPOINT=%s", receiver_base);
	const char *env[] = {env0, "OTEL_TRACES_SAMPLER=parentbased_traceidratio",
	                     "OTEL_TRACES_SAMPLER_ARG=0", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	const char *sampled[] = {"traceparent: 00-11111111111111111111111111111111-2222222222222222-01",
	                         NULL};
	const char *unsampled[] = {
	    "traceparent: 00-33333333333333333333333333333333-4444444444444444-00", NULL};

	/* ratio 0: new traces are not recorded, but a sampled caller's trace is */
	kt_resp *r = kt_request(k->base, "GET", "/healthz", NULL, NULL, 0);
	char *tp = kt_header(r, "traceparent");

	assert_string_equal(tp + 52, "-00");
	char own[33];

	snprintf(own, sizeof(own), "%.32s", tp + 3);
	free(tp);
	kt_resp_free(r);
	kt_resp_free(kt_request(k->base, "GET", "/healthz", unsampled, NULL, 0));
	kt_resp_free(kt_request(k->base, "GET", "/healthz", sampled, NULL, 0));
	json_t *s = span_for("11111111111111111111111111111111", "GET /healthz");

	assert_non_null(s);
	json_decref(s);
	assert_null(span_for("33333333333333333333333333333333", "GET /healthz"));
	assert_null(span_for(own, "GET /healthz"));
	assert_int_equal(kt_keel_stop(k), 0);
}

int
main(void)
{
	keel_log_set_level(KEEL_LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(metrics_parse_and_counters_move),
	    cmocka_unit_test(metrics_can_live_on_their_own_listener),
	    cmocka_unit_test(server_spans_join_the_callers_trace),
	    cmocka_unit_test(database_round_trips_are_child_spans),
	    cmocka_unit_test(the_sampler_is_honoured),
	};

	return cmocka_run_group_tests_name("observe", tests, setup, teardown);
}
