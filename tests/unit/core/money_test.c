/* Unit tests for src/core/money.c: strict amount text <-> minor units. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/money.h"

/* An amount text, its digit count, and what each sign rule makes of it. */
struct money_case {
	const char *s;
	int minor_units;
	bool ok;      /* accepted when negatives are allowed */
	int64_t want; /* its value then */
};

#define ACCEPT(s, mu, v)                                                                           \
	{                                                                                              \
		s, mu, true, v                                                                             \
	}
#define REJECT(s, mu)                                                                              \
	{                                                                                              \
		s, mu, false, 0                                                                            \
	}

static const struct money_case cases[] = {
    /* 0 digits */
    ACCEPT("0", 0, 0),
    ACCEPT("7", 0, 7),
    ACCEPT("1200", 0, 1200),
    ACCEPT("-1200", 0, -1200),
    ACCEPT("9223372036854775807", 0, INT64_MAX),
    ACCEPT("-9223372036854775808", 0, INT64_MIN),
    ACCEPT("-9223372036854775807", 0, -INT64_MAX),
    REJECT("9223372036854775808", 0),
    REJECT("-9223372036854775809", 0),
    REJECT("18446744073709551616", 0),
    REJECT("99999999999999999999999999", 0),
    REJECT("1200.", 0),
    REJECT("1200.0", 0),
    REJECT("-0", 0),
    REJECT("00", 0),
    REJECT("012", 0),
    REJECT("1e3", 0),
    REJECT("1E3", 0),
    REJECT("0x10", 0),
    /* 1 digit */
    ACCEPT("0.0", 1, 0),
    ACCEPT("12.3", 1, 123),
    ACCEPT("-0.1", 1, -1),
    ACCEPT("922337203685477580.7", 1, INT64_MAX),
    ACCEPT("-922337203685477580.8", 1, INT64_MIN),
    REJECT("922337203685477580.8", 1),
    REJECT("12", 1),
    REJECT("12.30", 1),
    REJECT("-0.0", 1),
    /* 2 digits */
    ACCEPT("0.00", 2, 0),
    ACCEPT("0.05", 2, 5),
    ACCEPT("-0.05", 2, -5),
    ACCEPT("12.30", 2, 1230),
    ACCEPT("-12.30", 2, -1230),
    ACCEPT("100.00", 2, 10000),
    ACCEPT("92233720368547758.07", 2, INT64_MAX),
    ACCEPT("92233720368547758.06", 2, INT64_MAX - 1),
    ACCEPT("-92233720368547758.08", 2, INT64_MIN),
    ACCEPT("-92233720368547758.07", 2, INT64_MIN + 1),
    REJECT("92233720368547758.08", 2),
    REJECT("-92233720368547758.09", 2),
    REJECT("92233720368547759.00", 2),
    REJECT("922337203685477580.70", 2),
    REJECT("184467440737095516.16", 2),
    REJECT("-0.00", 2),
    REJECT("-0", 2),
    REJECT("01.00", 2),
    REJECT("00.00", 2),
    REJECT(".50", 2),
    REJECT("5.", 2),
    REJECT("5", 2),
    REJECT("5.0", 2),
    REJECT("5.000", 2),
    REJECT("12.3", 2),
    REJECT("1e3", 2),
    REJECT("1E3", 2),
    REJECT("1.00e0", 2),
    REJECT(" 1.00", 2),
    REJECT("1.00 ", 2),
    REJECT("1 .00", 2),
    REJECT("+1.00", 2),
    REJECT("--1.00", 2),
    REJECT("-+1.00", 2),
    REJECT("1,00", 2),
    REJECT("1.0a", 2),
    REJECT("0x10", 2),
    REJECT("\xd9\xa1\xd9\xa2", 2), /* Arabic-Indic digits one and two */
    REJECT("\xd9\xa1.\xd9\xa2\xd9\xa2", 2),
    REJECT("\xef\xbc\x91.00", 2), /* a fullwidth digit one */
    REJECT("", 2),
    REJECT("-", 2),
    REJECT(".", 2),
    REJECT("-.00", 2),
    REJECT("1.\t0", 2),
    REJECT("1..00", 2),
    REJECT("NaN", 2),
    REJECT("inf", 2),
    /* 3 digits */
    ACCEPT("1.234", 3, 1234),
    ACCEPT("-0.001", 3, -1),
    ACCEPT("9223372036854775.807", 3, INT64_MAX),
    ACCEPT("-9223372036854775.808", 3, INT64_MIN),
    REJECT("9223372036854775.808", 3),
    REJECT("1.23", 3),
    REJECT("1.2345", 3),
    REJECT("-0.000", 3),
    /* 4 digits */
    ACCEPT("0.0001", 4, 1),
    ACCEPT("12.3456", 4, 123456),
    ACCEPT("922337203685477.5807", 4, INT64_MAX),
    ACCEPT("-922337203685477.5808", 4, INT64_MIN),
    REJECT("922337203685477.5808", 4),
    REJECT("-922337203685477.5809", 4),
    REJECT("1.234", 4),
    REJECT("1.23456", 4),
    REJECT("-0.0000", 4),
};

static void
parse_follows_the_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct money_case *c = &cases[i];

		for (int neg = 0; neg <= 1; neg++) {
			int64_t got = 42;
			bool want_ok = c->ok && (neg || c->s[0] != '-');
			bool ok = keel_money_parse(c->s, c->minor_units, neg, &got);

			if (ok != want_ok)
				fail_msg("\"%s\" with %d digits, negatives %s: %s", c->s, c->minor_units,
				         neg ? "allowed" : "refused", ok ? "accepted" : "refused");
			if (ok && got != c->want)
				fail_msg("\"%s\" parsed as %lld, not %lld", c->s, (long long)got,
				         (long long)c->want);
			if (!ok && got != 42)
				fail_msg("\"%s\" was refused but changed the result", c->s);
		}
	}
}

/* Every accepted text of the table is the canonical one: format gives it back. */
static void
format_inverts_parse_on_the_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[KEEL_MONEY_STRLEN + 1];

		if (!cases[i].ok)
			continue;
		size_t len = keel_money_format(cases[i].want, cases[i].minor_units, buf, sizeof(buf));

		assert_string_equal(buf, cases[i].s);
		assert_int_equal(len, strlen(cases[i].s));
	}
}

static void
digit_counts_outside_0_to_4_are_refused(void **state)
{
	int64_t v = 42;
	char buf[8] = "x";

	(void)state;
	assert_false(keel_money_parse("1", -1, true, &v));
	assert_false(keel_money_parse("1.00000", 5, true, &v));
	assert_false(keel_money_parse("1.00", 5, true, &v));
	assert_int_equal(v, 42);
	assert_int_equal(keel_money_format(100, 5, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(keel_money_format(100, -1, buf, sizeof(buf)), 0);
	assert_string_equal(keel_money_rule(5), "must be a decimal string");
}

static void
format_writes_canonical_text(void **state)
{
	static const struct {
		int64_t v;
		int mu;
		const char *want;
	} f[] = {
	    {0, 0, "0"},
	    {0, 2, "0.00"},
	    {0, 4, "0.0000"},
	    {-5, 2, "-0.05"},
	    {5, 1, "0.5"},
	    {1200, 0, "1200"},
	    {-1, 4, "-0.0001"},
	    {123456, 3, "123.456"},
	    {INT64_MIN, 0, "-9223372036854775808"},
	    {INT64_MIN, 2, "-92233720368547758.08"},
	    {INT64_MAX, 2, "92233720368547758.07"},
	    {INT64_MIN, 4, "-922337203685477.5808"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char buf[KEEL_MONEY_STRLEN + 1];

		assert_int_equal(keel_money_format(f[i].v, f[i].mu, buf, sizeof(buf)), strlen(f[i].want));
		assert_string_equal(buf, f[i].want);
	}
}

/* snprintf's contract: the length of the whole text, a cut one NUL-terminated. */
static void
format_cuts_like_snprintf(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(keel_money_format(-123456, 2, buf, 5), 8);
	assert_string_equal(buf, "-123");
	assert_int_equal(buf[5], 'x');
	assert_int_equal(keel_money_format(-123456, 2, buf, 1), 8);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(keel_money_format(-123456, 2, buf, 0), 8);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(keel_money_format(INT64_MIN, 4, NULL, 0), KEEL_MONEY_STRLEN);
}

/* xorshift64*, a fixed seed: the same values every run. */
static uint64_t
next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

static void
format_and_parse_round_trip(void **state)
{
	uint64_t seed = 0x6b65656c6d6f6e79ULL;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		uint64_t r = next_random(&seed);
		/* every magnitude: shift the bits down by a random amount */
		int64_t v = (int64_t)(r >> (next_random(&seed) % 64));

		if (r & 1)
			v = v == 0 ? INT64_MIN : -v;
		for (int mu = 0; mu <= KEEL_MONEY_MINOR_MAX; mu++) {
			char buf[KEEL_MONEY_STRLEN + 1];
			int64_t back = 0;
			size_t len = keel_money_format(v, mu, buf, sizeof(buf));

			assert_true(len <= KEEL_MONEY_STRLEN);
			assert_int_equal(len, strlen(buf));
			if (!keel_money_parse(buf, mu, true, &back) || back != v)
				fail_msg("%lld formats as \"%s\", which does not parse back", (long long)v, buf);
			assert_true(keel_money_parse(buf, mu, false, &back) == (v >= 0));
		}
	}
}

static void
rule_names_the_digits(void **state)
{
	(void)state;
	assert_string_equal(keel_money_rule(0), "must be a string of digits without a fractional part");
	assert_string_equal(keel_money_rule(1),
	                    "must be a decimal string with exactly 1 fractional digit");
	assert_string_equal(keel_money_rule(2),
	                    "must be a decimal string with exactly 2 fractional digits");
	assert_string_equal(keel_money_rule(4),
	                    "must be a decimal string with exactly 4 fractional digits");
}

static void
add_checks_overflow(void **state)
{
	int64_t v = 42;

	(void)state;
	assert_true(keel_money_add(1230, -5, &v));
	assert_int_equal(v, 1225);
	assert_true(keel_money_add(INT64_MAX, INT64_MIN, &v));
	assert_int_equal(v, -1);
	assert_true(keel_money_add(INT64_MAX - 1, 1, &v));
	assert_true(v == INT64_MAX);
	assert_true(keel_money_add(INT64_MIN + 1, -1, &v));
	assert_true(v == INT64_MIN);
	v = 42;
	assert_false(keel_money_add(INT64_MAX, 1, &v));
	assert_false(keel_money_add(INT64_MIN, -1, &v));
	assert_false(keel_money_add(INT64_MIN, INT64_MIN, &v));
	assert_int_equal(v, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_follows_the_table),
	    cmocka_unit_test(format_inverts_parse_on_the_table),
	    cmocka_unit_test(digit_counts_outside_0_to_4_are_refused),
	    cmocka_unit_test(format_writes_canonical_text),
	    cmocka_unit_test(format_cuts_like_snprintf),
	    cmocka_unit_test(format_and_parse_round_trip),
	    cmocka_unit_test(rule_names_the_digits),
	    cmocka_unit_test(add_checks_overflow),
	};

	return cmocka_run_group_tests_name("core_money", tests, NULL, NULL);
}
