/*
 * The keel binary end to end: migrate, serve, health, readiness, the access
 * log, configuration errors, secrets kept out of everything keel prints and
 * graceful shutdown on SIGTERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

static int
setup_db(void **state)
{
	(void)state;
	kt_db_fresh("serve");
	return 0;
}

static void
refuses_unmigrated_database_then_migrates(void **state)
{
	(void)state;
	const char *args[] = {"serve", NULL};
	char *out;

	/* pending migrations: serve refuses to start */
	assert_int_equal(kt_keel_run(args, NULL, &out), 1);
	assert_non_null(strstr(out, "pending"));
	free(out);

	const char *up[] = {"migrate", "up", NULL};

	assert_int_equal(kt_keel_run(up, NULL, &out), 0);
	assert_non_null(strstr(out, "applied 0001_core_tenancy.up.sql"));
	free(out);
	assert_int_equal(kt_keel_run(up, NULL, &out), 0);
	assert_non_null(strstr(out, "nothing to apply"));
	free(out);
}

static void
health_and_readiness(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(NULL, NULL);
	kt_resp *r = kt_request(k->base, "GET", "/healthz", NULL, NULL, 0);

	assert_int_equal(r->status, 200);
	assert_string_equal(json_string_value(json_object_get(r->json, "status")), "ok");
	kt_resp_free(r);

	r = kt_request(k->base, "GET", "/readyz", NULL, NULL, 0);
	assert_int_equal(r->status, 200);
	json_t *checks = json_object_get(r->json, "checks");

	assert_string_equal(json_string_value(json_object_get(checks, "database")), "ok");
	assert_string_equal(json_string_value(json_object_get(checks, "migrations")), "current");
	kt_resp_free(r);

	r = kt_request(k->base, "POST", "/readyz", NULL, NULL, 0);
	assert_int_equal(r->status, 405);
	kt_resp_free(r);
	assert_int_equal(kt_keel_stop(k), 0);
}

static void
sigterm_stops_cleanly_and_logs(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(NULL, NULL);
	const char *h[] = {"X-Request-ID: log-check-1",
	                   "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	                   NULL};
	kt_resp *r = kt_request(k->base, "GET", "/readyz?password=hunter2", h, NULL, 0);

	kt_resp_free(r);
	r = kt_request(k->base, "GET", "/api/v1/secret-path-xyz", NULL, NULL, 0);
	kt_resp_free(r);
	char *log;

	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_non_null(strstr(log, "\"msg\":\"received SIGTERM; finishing requests in flight\""));
	assert_non_null(strstr(log, "\"msg\":\"stopped\""));
	/* every line is a JSON object with ts, level and msg */
	bool saw_access = false, saw_404 = false;

	for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);

		if (j == NULL)
			fail_msg("log line is not JSON: %s", line);
		assert_non_null(json_object_get(j, "ts"));
		assert_non_null(json_object_get(j, "level"));
		const char *msg = json_string_value(json_object_get(j, "msg"));

		assert_non_null(msg);
		if (strcmp(msg, "request") == 0) {
			const char *rid = json_string_value(json_object_get(j, "request_id"));
			const char *route = json_string_value(json_object_get(j, "route"));

			if (strcmp(rid, "log-check-1") == 0) {
				saw_access = true;
				assert_string_equal(json_string_value(json_object_get(j, "trace_id")),
				                    "4bf92f3577b34da6a3ce929d0e0e4736");
				assert_int_equal(strlen(json_string_value(json_object_get(j, "span_id"))), 16);
				assert_string_equal(route, "/readyz");
				assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
				assert_true(json_is_number(json_object_get(j, "duration_ms")));
			}
			if (json_integer_value(json_object_get(j, "status")) == 404) {
				saw_404 = true;
				assert_string_equal(route, "-");
			}
		}
		json_decref(j);
	}
	assert_true(saw_access);
	assert_true(saw_404);
	free(log);
}

static void
raw_paths_and_queries_stay_out_of_logs(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(NULL, NULL);
	kt_resp *r = kt_request(k->base, "GET", "/readyz?password=hunter2", NULL, NULL, 0);

	kt_resp_free(r);
	r = kt_request(k->base, "GET", "/api/v1/secret-path-xyz", NULL, NULL, 0);
	kt_resp_free(r);
	char *log;

	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_null(strstr(log, "hunter2"));
	assert_null(strstr(log, "secret-path-xyz"));
	free(log);
}

static void
configuration_errors(void **state)
{
	(void)state;
	char *out;
	const char *args[] = {"serve", NULL};
	const char *typo[] = {"KEEL_LISTN=127.0.0.1:1", NULL};
	const char *bad[] = {"KEEL_WORKERS=lots", NULL};
	const char *svc[] = {"serve", "--services", "nope", NULL};

	assert_int_equal(kt_keel_run(args, typo, &out), 2);
	assert_non_null(strstr(out, "unknown setting KEEL_LISTN"));
	free(out);
	assert_int_equal(kt_keel_run(args, bad, &out), 2);
	assert_non_null(strstr(out, "KEEL_WORKERS"));
	free(out);
	assert_int_equal(kt_keel_run(svc, NULL, &out), 2);
	assert_non_null(strstr(out, "unknown service"));
	free(out);
	const char *nocmd[] = {"frobnicate", NULL};

	assert_int_equal(kt_keel_run(nocmd, NULL, &out), 2);
	free(out);
}

static void
unreachable_database_at_start_is_503_not_a_crash(void **state)
{
	(void)state;
	char env0[128];

	snprintf(env0, sizeof(env0), "KEEL_DATABASE_URL=host=127.0.0.1 port=%d connect_timeout=1",
	         kt_free_port());
	const char *env[] = {env0, "KEEL_DB_CONNECT_TIMEOUT=1s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	kt_resp *r = kt_request(k->base, "GET", "/readyz", NULL, NULL, 0);

	assert_int_equal(r->status, 503);
	char *ra = kt_header(r, "Retry-After");

	assert_non_null(ra);
	free(ra);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r->json, "checks"), "database")),
	    "unreachable");
	kt_resp_free(r);
	r = kt_request(k->base, "GET", "/healthz", NULL, NULL, 0);
	assert_int_equal(r->status, 200);
	kt_resp_free(r);
	assert_int_equal(kt_keel_stop(k), 0);
}

/*
 * serve warns when a round trip's deadline (statement + connect timeout) could outlast the
 * request timeout, and not with the defaults (5 s + 5 s < 30 s).
 */
static void
timeouts_that_let_a_round_trip_outlast_a_request_are_warned_of(void **state)
{
	(void)state;
	const char *tight[] = {"KEEL_REQUEST_TIMEOUT=8s", NULL};
	const char *needle = "KEEL_REQUEST_TIMEOUT should exceed KEEL_DB_STATEMENT_TIMEOUT";
	kt_keel *k = kt_keel_start(tight, NULL);
	char *log;

	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_non_null(strstr(log, needle));
	free(log);
	k = kt_keel_start(NULL, NULL);
	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_null(strstr(log, needle));
	free(log);
}

/* Fail when text (what keel printed for what) shows one of the secrets of the next test. */
static void
expect_no_secret(const char *what, const char *text)
{
	static const char *const secrets[] = {"Pw-app-5d2Qx", "Pw-owner-8kT3m", "jwt-prev-Rz4-32",
	                                      "kafka-Vb7-pass"};

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(text, secrets[i]) != NULL)
			fail_msg("%s shows the secret \"%s\":\n%s", what, secrets[i], text);
}

/*
 * Secrets given to keel (database URLs with passwords, a previous access-token key, a Kafka
 * password) appear in nothing it prints: not keel help, not a configuration error, not the
 * log of a serve whose databases cannot be reached (libpq's errors name the host, and keel
 * logs them), not a failed `keel migrate status`.
 */
static void
secrets_never_reach_the_output(void **state)
{
	(void)state;
	int port = kt_free_port();
	char *app = kt_strf("KEEL_DATABASE_URL=postgresql://keel_app:Pw-app-5d2Qx@127.0.0.1:%d/keel"
	                    "?connect_timeout=1",
	                    port);
	char *owner = kt_strf("KEEL_MIGRATE_DATABASE_URL=postgresql://keel_owner:Pw-owner-8kT3m@"
	                      "127.0.0.1:%d/keel?connect_timeout=1",
	                      port);
	const char *env[] = {app,
	                     owner,
	                     "KEEL_JWT_PREVIOUS_SECRET=jwt-prev-Rz4-32-bytes-and-then-some",
	                     "KEEL_KAFKA_SASL_PASSWORD=kafka-Vb7-pass",
	                     "KEEL_DB_CONNECT_TIMEOUT=1s",
	                     NULL};
	const char *invalid[] = {app, owner, "KEEL_JWT_PREVIOUS_SECRET=jwt-prev-Rz4-32-bytes",
	                         "KEEL_WORKERS=lots", NULL};
	char *out;

	assert_int_equal(kt_keel_run((const char *[]){"help", NULL}, env, &out), 0);
	expect_no_secret("keel help", out);
	free(out);
	assert_int_equal(kt_keel_run((const char *[]){"serve", NULL}, invalid, &out), 2);
	assert_non_null(strstr(out, "KEEL_WORKERS"));
	expect_no_secret("a configuration error", out);
	free(out);
	assert_int_equal(kt_keel_run((const char *[]){"migrate", "status", NULL}, env, &out), 1);
	expect_no_secret("keel migrate status", out);
	free(out);
	kt_keel *k = kt_keel_start(env, NULL);
	kt_resp *r = kt_request(k->base, "GET", "/readyz", NULL, NULL, 0);

	assert_int_equal(r->status, 503);
	kt_resp_free(r);
	assert_int_equal(kt_keel_stop_log(k, &out), 0);
	assert_non_null(strstr(out, "could not connect")); /* the failures were logged */
	expect_no_secret("the log of serve", out);
	free(out);
	free(app);
	free(owner);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(refuses_unmigrated_database_then_migrates),
	    cmocka_unit_test(health_and_readiness),
	    cmocka_unit_test(sigterm_stops_cleanly_and_logs),
	    cmocka_unit_test(raw_paths_and_queries_stay_out_of_logs),
	    cmocka_unit_test(configuration_errors),
	    cmocka_unit_test(timeouts_that_let_a_round_trip_outlast_a_request_are_warned_of),
	    cmocka_unit_test(unreachable_database_at_start_is_503_not_a_crash),
	    cmocka_unit_test(secrets_never_reach_the_output),
	};

	return cmocka_run_group_tests_name("serve", tests, setup_db, NULL);
}
