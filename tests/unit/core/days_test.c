/* Unit tests for src/core/days.c: strict leave-day text -> hundredths of a day. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/days.h"

/* Accepted with and without negatives, at the value given in hundredths. */
static const struct {
	const char *text;
	int32_t hundredths;
} accepted[] = {
    {"0", 0},     {"2", 200},     {"2.5", 250},     {"2.50", 250},       {"1.67", 167},
    {"0.5", 50},  {"0.05", 5},    {"0.01", 1},      {"0.0", 0},          {"0.00", 0},
    {"20", 2000}, {"10.1", 1010}, {"9999", 999900}, {"9999.99", 999999}, {"1000", 100000},
};

/* Accepted only when negatives are, at minus the value. */
static const struct {
	const char *text;
	int32_t hundredths;
} negative[] = {
    {"-3", -300}, {"-1.5", -150}, {"-0.01", -1}, {"-9999.99", -999999}, {"-0.5", -50},
};

/* Refused either way: the comment's examples, then the edges of each rule. */
static const char *const refused[] = {
    "",    "+1",   " 1",    "1 ",       "01",     "00",    ".5",  "5.",   "1.234",
    "1e3", "1E3",  "1,5",   "10000",    "-10000", "12345", "-0",  "-0.0", "-0.00",
    "-",   "--1",  "1-",    "1..5",     "1.5.",   "0x10",  "inf", "nan",  "-01",
    "-.5", "1.",   "1.000", "9999.999", "0.001",  "１",    "2\t", "\n2",  "2.5 days",
    "- 1", "1.-5", "1.+5",  "0.",       "00.5",   "-00",
};

static void
test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		for (int neg = 0; neg <= 1; neg++) {
			int32_t out = -12345;

			if (!keel_days_parse(accepted[i].text, neg, &out))
				fail_msg("\"%s\" refused (negatives %d)", accepted[i].text, neg);
			assert_int_equal(out, accepted[i].hundredths);
		}
	}
}

static void
test_negative(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(negative) / sizeof(negative[0]); i++) {
		int32_t out = 7;

		if (keel_days_parse(negative[i].text, false, &out))
			fail_msg("\"%s\" accepted without negatives", negative[i].text);
		assert_int_equal(out, 7); /* left alone */
		if (!keel_days_parse(negative[i].text, true, &out))
			fail_msg("\"%s\" refused with negatives", negative[i].text);
		assert_int_equal(out, negative[i].hundredths);
	}
}

static void
test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		for (int neg = 0; neg <= 1; neg++) {
			int32_t out = 7;

			if (keel_days_parse(refused[i], neg, &out))
				fail_msg("\"%s\" accepted (negatives %d)", refused[i], neg);
			assert_int_equal(out, 7);
		}
	}
	int32_t out = 7;

	assert_false(keel_days_parse(NULL, true, &out));
	assert_int_equal(out, 7);
}

/* The bounds: KEEL_DAYS_MAX either way, one hundredth more is refused. */
static void
test_bounds(void **state)
{
	int32_t out = 0;

	(void)state;
	assert_int_equal(KEEL_DAYS_MAX, 999999);
	assert_true(keel_days_parse("9999.99", false, &out));
	assert_int_equal(out, KEEL_DAYS_MAX);
	assert_true(keel_days_parse("-9999.99", true, &out));
	assert_int_equal(out, -KEEL_DAYS_MAX);
	assert_false(keel_days_parse("10000", true, &out));
	assert_false(keel_days_parse("10000.00", true, &out));
	assert_false(keel_days_parse("-10000", true, &out));
	assert_false(keel_days_parse("99999", true, &out));
	assert_int_equal(out, -KEEL_DAYS_MAX);
}

/* Every amount 0..9999.99 written as "%d.%02d" (and its shorter forms) reads back. */
static void
test_every_hundredth(void **state)
{
	char s[32];

	(void)state;
	for (int32_t v = 0; v <= KEEL_DAYS_MAX; v++) {
		int32_t out = -1;

		snprintf(s, sizeof(s), "%d.%02d", v / 100, v % 100);
		assert_true(keel_days_parse(s, false, &out));
		assert_int_equal(out, v);
		if (v % 10 == 0) {
			snprintf(s, sizeof(s), "%d.%d", v / 100, v % 100 / 10);
			assert_true(keel_days_parse(s, false, &out));
			assert_int_equal(out, v);
		}
		if (v % 100 == 0) {
			snprintf(s, sizeof(s), "%d", v / 100);
			assert_true(keel_days_parse(s, false, &out));
			assert_int_equal(out, v);
		}
		if (v > 0) {
			snprintf(s, sizeof(s), "-%d.%02d", v / 100, v % 100);
			assert_true(keel_days_parse(s, true, &out));
			assert_int_equal(out, -v);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),        cmocka_unit_test(test_negative),
	    cmocka_unit_test(test_refused),         cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_every_hundredth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
