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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http.h"
#include "kt.h"
#include "kt_wait.h"
#include "otlp.h"
#include "prom.h"

static const char *receiver_base;

static int
setup(void **state)
{
	(void)state;
	if (!kt_db_migrated("observe"))
		return -1;
	receiver_base = otlp_start();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	otlp_stop();
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

/* Scrapes of one keel: the first, and the latest of a wait for counters to move. */
typedef struct scrapes {
	const char *base;
	char *before, *after;
} scrapes;

/* How much the sample of name and labels grew from before to after. */
static double
grown(const scrapes *s, const char *name, const char *labels)
{
	return value(s->after, name, labels) - value(s->before, name, labels);
}

/*
 * A fresh scrape shows every request of metrics_parse_and_counters_move counted: keel counts
 * a request in its completion callback, which may run just after the client has the response.
 */
static bool
requests_counted(void *arg)
{
	scrapes *s = arg;
	const char *n = "keel_http_requests_total";

	free(s->after);
	s->after = scrape(s->base);
	return grown(s, n, "route=\"/readyz\",method=\"GET\",status=\"2xx\"") >= 3 &&
	       grown(s, n, "route=\"-\",method=\"-\",status=\"4xx\"") >= 1 &&
	       grown(s, n, "route=\"/api/v1/tenants\",method=\"POST\",status=\"2xx\"") >= 1 &&
	       grown(s, n, "route=\"/api/v1/auth/login\",method=\"POST\",status=\"2xx\"") >= 1 &&
	       grown(s, n, "route=\"/api/v1/auth/login\",method=\"POST\",status=\"4xx\"") >= 1;
}

static void
metrics_parse_and_counters_move(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(NULL, NULL);
	scrapes s = {.base = k->base, .before = scrape(k->base)};

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
	if (!kt_wait_until(requests_counted, &s, KT_WAIT_MS))
		fail_msg("the requests were not all counted in %d ms:\n%s", KT_WAIT_MS, s.after);
	char *after = s.after;
	const char *ready = "route=\"/readyz\",method=\"GET\",status=\"2xx\"";

	assert_true(grown(&s, "keel_http_requests_total", ready) == 3);
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
	free(s.before);
	free(after);
	assert_int_equal(kt_keel_stop(k), 0);
}

/* keel (a kt_keel) has logged "listening": every listener of it is open. */
static bool
all_listening(void *k)
{
	char *log = kt_keel_log(k);
	bool yes = log != NULL && strstr(log, "\"msg\":\"listening\"") != NULL;

	free(log);
	return yes;
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

	/* keel answers on its API listener before it opens the metrics listener */
	if (!kt_wait_until(all_listening, k, KT_WAIT_MS))
		fail_msg("keel never logged that it listens, in %d ms", KT_WAIT_MS);
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
	json_t *s = otlp_span("0af7651916cd43dd8448eb211c80319c", "GET /readyz");

	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "parentSpanId")), "b7ad6b7169203331");
	assert_int_equal(json_integer_value(json_object_get(s, "kind")), 2);
	assert_string_equal(otlp_attr(s, "http.route"), "/readyz");
	assert_string_equal(otlp_attr(s, "http.response.status_code"), "200");
	json_decref(s);
	assert_int_equal(kt_keel_stop(k), 0);
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
	json_t *server = otlp_span("5af7651916cd43dd8448eb211c80319c", "POST /api/v1/tenants");

	assert_non_null(server);
	const char *server_id = json_string_value(json_object_get(server, "spanId"));
	json_t *children = otlp_children("5af7651916cd43dd8448eb211c80319c", server_id, 2);
	size_t i;
	json_t *c;
	bool commit = false;
	unsigned long long from = otlp_time(server, "startTimeUnixNano");
	unsigned long long to = otlp_time(server, "endTimeUnixNano");

	assert_true(json_array_size(children) >= 2);
	json_array_foreach(children, i, c)
	{
		assert_int_equal(json_integer_value(json_object_get(c, "kind")), 3);
		assert_string_equal(otlp_attr(c, "db.system"), "postgresql");
		assert_string_equal(otlp_attr(c, "db.operation.name"),
		                    json_string_value(json_object_get(c, "name")));
		assert_string_not_equal(json_string_value(json_object_get(c, "spanId")), server_id);
		unsigned long long start = otlp_time(c, "startTimeUnixNano");
		unsigned long long end = otlp_time(c, "endTimeUnixNano");

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

/* The log line of kt_keel's log whose msg is msg (a new reference), or NULL. */
static json_t *
log_line(const char *log, const char *msg)
{
	for (const char *line = log; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		json_t *j = json_loadb(line, end ? (size_t)(end - line) : strlen(line), 0, NULL);

		if (j != NULL && json_string_value(json_object_get(j, "msg")) != NULL &&
		    strcmp(json_string_value(json_object_get(j, "msg")), msg) == 0)
			return j;
		json_decref(j);
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * A line a handler logs carries its request's ids: the refresh-token reuse warning names
 * the request, its trace and its span, as the access line of the same request does.
 */
static void
log_lines_of_a_request_carry_its_ids(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(NULL, NULL);
	const char *pw = "correct horse battery staple";
	char *tenant = kt_signup(k->base, "logged", pw);
	char *body = kt_strf("{\"tenant\":\"logged\",\"email\":\"owner@logged.test\","
	                     "\"password\":\"%s\"}",
	                     pw);
	kt_resp *r = kt_api(k->base, "POST", NULL, body, "/api/v1/auth/login");

	kt_assert_status(r, 200);
	char *refresh = kt_strf("{\"refresh_token\":\"%s\"}", kt_jstr(r->json, "refresh_token"));

	kt_resp_free(r);
	r = kt_api(k->base, "POST", NULL, refresh, "/api/v1/auth/refresh");
	kt_assert_status(r, 200);
	kt_resp_free(r);
	const char *h[] = {"traceparent: 00-8af7651916cd43dd8448eb211c80319c-d7ad6b7169203331-01",
	                   "X-Request-ID: reuse-1", "Content-Type: application/json", NULL};

	r = kt_request(k->base, "POST", "/api/v1/auth/refresh", h, refresh, strlen(refresh));
	kt_assert_status(r, 401);
	char *tp = kt_header(r, "traceparent");
	char span[17];

	snprintf(span, sizeof(span), "%.16s", tp + 36);
	kt_resp_free(r);
	char *log;

	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	json_t *line = log_line(log, "refresh token reused; revoking its family");

	assert_non_null(line);
	assert_string_equal(json_string_value(json_object_get(line, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(line, "request_id")), "reuse-1");
	assert_string_equal(json_string_value(json_object_get(line, "trace_id")),
	                    "8af7651916cd43dd8448eb211c80319c");
	assert_string_equal(json_string_value(json_object_get(line, "span_id")), span);
	json_decref(line);
	free(tp);
	free(log);
	free(refresh);
	free(body);
	free(tenant);
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
	json_t *s = otlp_span("11111111111111111111111111111111", "GET /healthz");

	assert_non_null(s);
	json_decref(s);
	assert_null(otlp_span("33333333333333333333333333333333", "GET /healthz"));
	assert_null(otlp_span(own, "GET /healthz"));
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
	    cmocka_unit_test(log_lines_of_a_request_carry_its_ids),
	    cmocka_unit_test(the_sampler_is_honoured),
	};

	return cmocka_run_group_tests_name("observe", tests, setup, teardown);
}
