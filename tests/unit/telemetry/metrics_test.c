/* Unit tests for src/telemetry/metrics.c, checked with the strict parser of tests/support/prom.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "telemetry/telemetry.h"

/* Render m and check it; returns the text in arena a. */
static const char *
render_checked(keel_metrics *m, keel_arena *a)
{
	keel_buf out;

	keel_buf_init(&out, a);
	keel_metrics_render(m, &out);
	char *err = prom_check(out.data);

	if (err != NULL)
		fail_msg("%s\n%s", err, out.data);
	return out.data;
}

static void
counters_gauges_histograms(void **state)
{
	(void)state;
	keel_metrics *m = keel_metrics_create();
	keel_arena *a = keel_arena_create(0);

	keel_metrics_declare(m, "keel_http_requests_total", KEEL_METRIC_COUNTER, "Requests.");
	keel_metrics_declare(m, "keel_in_flight", KEEL_METRIC_GAUGE, "In flight.");
	keel_metrics_declare(m, "keel_latency_seconds", KEEL_METRIC_HISTOGRAM, "Latency.");
	keel_metrics_add(m, "keel_http_requests_total", "route=\"/a\",status=\"2xx\"", 1);
	keel_metrics_add(m, "keel_http_requests_total", "route=\"/a\",status=\"2xx\"", 2);
	keel_metrics_add(m, "keel_http_requests_total", "route=\"/a\",status=\"4xx\"", 1);
	keel_metrics_add(m, "keel_http_requests_total", "route=\"/a\",status=\"4xx\"",
	                 -5); /* ignored */
	keel_metrics_set(m, "keel_in_flight", "", 3);
	keel_metrics_set(m, "keel_in_flight", "", 2);
	keel_metrics_observe(m, "keel_latency_seconds", "route=\"/a\"", 0.0007);
	keel_metrics_observe(m, "keel_latency_seconds", "route=\"/a\"", 0.2);
	keel_metrics_observe(m, "keel_latency_seconds", "route=\"/a\"", 30);
	keel_metrics_add(m, "undeclared_total", "", 1); /* ignored, not invented */

	const char *text = render_checked(m, a);

	assert_true(prom_value(text, "keel_http_requests_total", "route=\"/a\",status=\"2xx\"") == 3);
	assert_true(prom_value(text, "keel_http_requests_total", "route=\"/a\",status=\"4xx\"") == 1);
	assert_true(prom_value(text, "keel_in_flight", "") == 2);
	assert_true(prom_value(text, "keel_latency_seconds_bucket", "route=\"/a\",le=\"0.001\"") == 1);
	assert_true(prom_value(text, "keel_latency_seconds_bucket", "route=\"/a\",le=\"0.25\"") == 2);
	assert_true(prom_value(text, "keel_latency_seconds_bucket", "route=\"/a\",le=\"+Inf\"") == 3);
	assert_true(prom_value(text, "keel_latency_seconds_count", "route=\"/a\"") == 3);
	assert_true(fabs(prom_value(text, "keel_latency_seconds_sum", "route=\"/a\"") - 30.2007) <
	            1e-9);
	assert_null(strstr(text, "undeclared_total"));
	keel_arena_destroy(a);
	keel_metrics_destroy(m);
}

static void
process_gauges_and_label_escaping(void **state)
{
	(void)state;
	keel_metrics *m = keel_metrics_create();
	keel_arena *a = keel_arena_create(0);

	keel_metrics_collector(m, keel_metrics_process, NULL);
	keel_metrics_declare(m, "keel_build_info", KEEL_METRIC_GAUGE, "Build.");
	char *labels = keel_arena_printf(a, "version=\"%s\"", keel_metrics_label(a, "a\"b\\c\nd"));

	keel_metrics_set(m, "keel_build_info", labels, 1);
	const char *text = render_checked(m, a);

	assert_true(prom_value(text, "process_resident_memory_bytes", "") > 1024 * 1024);
	assert_true(prom_value(text, "process_open_fds", "") >= 3);
	assert_true(prom_value(text, "keel_uptime_seconds", "") >= 0);
	assert_non_null(strstr(text, "keel_build_info{version=\"a\\\"b\\\\c\\nd\"} 1\n"));
	keel_arena_destroy(a);
	keel_metrics_destroy(m);
}

static void
the_parser_rejects_what_prometheus_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "x 1\n",                                                            /* no TYPE */
	    "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",                   /* duplicate series */
	    "# TYPE x counter\nx{1a=\"1\"} 1\n",                                /* bad label name */
	    "# TYPE x counter\nx{a=\"\\q\"} 1\n",                               /* bad escape */
	    "# TYPE x counter\nx one\n",                                        /* bad value */
	    "# TYPE x counter\nx 1",                                            /* no final newline */
	    "# TYPE x counter\nx 1\n# TYPE x counter\n",                        /* TYPE twice */
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n", /* not cumulative */
	    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n",         /* count mismatch */
	    "# TYPE x gauge\n\nx 1\n",                                          /* empty line */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = prom_check(bad[i]);

		if (err == NULL)
			fail_msg("accepted invalid exposition #%zu:\n%s", i, bad[i]);
		free(err);
	}
	assert_null(prom_check("# HELP x y\n# TYPE x counter\nx{a=\"b\"} 1.5e3\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counters_gauges_histograms),
	    cmocka_unit_test(process_gauges_and_label_escaping),
	    cmocka_unit_test(the_parser_rejects_what_prometheus_rejects),
	};

	return cmocka_run_group_tests_name("telemetry_metrics", tests, NULL, NULL);
}
