/* Unit tests for src/core/trace.c (W3C Trace Context). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/trace.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void
parses_valid_headers(void **state)
{
	(void)state;
	uint8_t t[16], p[8];
	bool sampled = false;
	char hex[33];

	assert_true(keel_traceparent_parse(GOOD, t, p, &sampled));
	assert_true(sampled);
	keel_trace_hex(t, 16, hex);
	assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
	keel_trace_hex(p, 8, hex);
	assert_string_equal(hex, "00f067aa0ba902b7");
	assert_true(keel_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", t,
	                                   p, &sampled));
	assert_false(sampled);
	/* a later version may append fields */
	assert_true(keel_traceparent_parse(
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", t, p, &sampled));
}

static void
rejects_malformed_headers(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",         /* no flags */
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",    /* v00 with extra */
	    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* version ff */
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      /* zero trace id */
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      /* zero parent */
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      /* uppercase */
	    "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",      /* dash moved */
	    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",      /* separators */
	    "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* version not hex */
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra", /* no dash after */
	};
	uint8_t t[16], p[8];
	bool sampled;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (keel_traceparent_parse(bad[i], t, p, &sampled))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(keel_traceparent_parse(NULL, t, p, &sampled));
}

static void
formats_and_samples(void **state)
{
	(void)state;
	uint8_t t[16], s[8];
	char out[KEEL_TRACEPARENT_LEN + 1];
	bool sampled;
	uint8_t t2[16], p2[8];

	keel_trace_new_id(t, 16);
	keel_trace_new_id(s, 8);
	keel_traceparent_format(t, s, true, out);
	assert_int_equal(strlen(out), KEEL_TRACEPARENT_LEN);
	assert_true(keel_traceparent_parse(out, t2, p2, &sampled));
	assert_memory_equal(t, t2, 16);
	assert_memory_equal(s, p2, 8);
	assert_true(sampled);

	/* the ratio sampler follows the last 8 bytes of the trace id */
	uint8_t low[16] = {0}, high[16];

	low[15] = 1;
	memset(high, 0xff, sizeof(high));
	assert_true(keel_trace_ratio_sampled(low, 0.01));
	assert_false(keel_trace_ratio_sampled(high, 0.99));
	assert_true(keel_trace_ratio_sampled(high, 1.0));
	assert_false(keel_trace_ratio_sampled(low, 0.0));
	int hits = 0;

	for (int i = 0; i < 4000; i++) {
		keel_trace_new_id(t, 16);
		hits += keel_trace_ratio_sampled(t, 0.25);
	}
	assert_in_range(hits, 800, 1200); /* about a quarter; 10 sigma apart from the bounds */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_valid_headers),
	    cmocka_unit_test(rejects_malformed_headers),
	    cmocka_unit_test(formats_and_samples),
	};

	return cmocka_run_group_tests_name("core_trace", tests, NULL, NULL);
}
