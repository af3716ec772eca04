/* Unit tests for src/core/rate.c: strict exchange-rate text -> canonical numeric text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/rate.h"

static const char *const accepted[][2] = {
    {"1", "1"},
    {"150", "150"},
    {"1.5", "1.5"},
    {"1.50", "1.5"},
    {"2.000", "2"},
    {"0.5", "0.5"},
    {"0.000000000001", "0.000000000001"},
    {"1.085000000000", "1.085"},
    {"999999999999.999999999999", "999999999999.999999999999"},
    {"10", "10"},
    {"100.010", "100.01"},
};

static const char *const refused[] = {
    "",
    "0",
    "0.0",
    "0.000000000000",
    "00",
    "01.5",
    "01",
    ".5",
    "5.",
    "+1",
    "-1",
    "1e3",
    "1E3",
    " 1",
    "1 ",
    "1,5",
    "1..5",
    "1.5.",
    "0x10",
    "inf",
    "nan",
    "1.0000000000001",
    "0.0000000000001",
    "1000000000000",
    "1000000000000.5",
    "１",
};

static void
test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		char out[KEEL_RATE_STRLEN + 1];

		if (!keel_rate_parse(accepted[i][0], out))
			fail_msg("refused %s", accepted[i][0]);
		assert_string_equal(out, accepted[i][1]);
	}
}

static void
test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char out[KEEL_RATE_STRLEN + 1] = "untouched";

		if (keel_rate_parse(refused[i], out))
			fail_msg("accepted \"%s\"", refused[i]);
		assert_string_equal(out, "untouched");
	}
}

/* 12 fractional digits pass, 13 do not, whatever the digits. */
static void
test_fraction_limit(void **state)
{
	char s[64], out[KEEL_RATE_STRLEN + 1];

	(void)state;
	for (int d = 1; d <= 9; d++) {
		snprintf(s, sizeof(s), "1.%012d", d);
		assert_true(keel_rate_parse(s, out));
		snprintf(s, sizeof(s), "1.%013d", d);
		assert_false(keel_rate_parse(s, out));
	}
}

/* The canonical text is a rate, its own canonical text, and never longer than the limit. */
static void
test_canonical_fixed_point(void **state)
{
	char s[64], a[KEEL_RATE_STRLEN + 1], b[KEEL_RATE_STRLEN + 1];
	uint32_t x = 12345;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		snprintf(s, sizeof(s), "%u.%0*u", x % 1000000u, (int)(x >> 28) % 12 + 1,
		         (x >> 8) % 1000000u);
		if (!keel_rate_parse(s, a))
			continue; /* zero */
		assert_true(strlen(a) <= KEEL_RATE_STRLEN);
		assert_true(keel_rate_parse(a, b));
		assert_string_equal(a, b);
		assert_true(strncmp(a, s, strlen(a)) == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_fraction_limit),
	    cmocka_unit_test(test_canonical_fixed_point),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
