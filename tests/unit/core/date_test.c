/* Unit tests for src/core/date.c: strict YYYY-MM-DD dates and calendar arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/date.h"

static void
parses_to(const char *s, int32_t want)
{
	int32_t days = 42;

	if (!keel_date_parse(s, &days))
		fail_msg("\"%s\" was refused", s);
	if (days != want)
		fail_msg("\"%s\" parsed as %d, not %d", s, days, want);
}

static void
parse_accepts_calendar_days(void **state)
{
	(void)state;
	parses_to("1970-01-01", 0);
	parses_to("1970-01-02", 1);
	parses_to("1969-12-31", -1);
	parses_to("2026-12-07", 20794);
	parses_to("2000-02-29", 11016); /* divisible by 400: a leap year */
	parses_to("2024-02-29", 19782);
	parses_to("1904-02-29", -24048);
	parses_to("0004-02-29", -718008);
	parses_to("0001-01-01", KEEL_DATE_MIN);
	parses_to("9999-12-31", KEEL_DATE_MAX);
	parses_to("2024-12-31", 20088);
}

static void
parse_refuses_everything_else(void **state)
{
	static const char *const bad[] = {
	    "",
	    "0000-01-01",
	    "0000-12-31",
	    "2023-02-29",
	    "1900-02-29", /* divisible by 100, not by 400: no leap day */
	    "2100-02-29",
	    "2024-02-30",
	    "2024-04-31",
	    "2024-06-31",
	    "2024-09-31",
	    "2024-11-31",
	    "2024-01-32",
	    "2024-00-10",
	    "2024-13-01",
	    "2024-01-00",
	    "2024-1-01",
	    "2024-01-1",
	    "24-01-01",
	    "02024-01-01",
	    "10000-01-01",
	    "2024-01-01T00:00:00Z",
	    "2024-01-01 ",
	    " 2024-01-01",
	    "2024-01-01\n",
	    "+2024-01-01",
	    "-2024-01-01",
	    "2024/01/01",
	    "2024-01_01",
	    "20240101",
	    "2024-01",
	    "2024",
	    "2024-+1-01",
	    "2024- 1-01",
	    "2024-0a-01",
	    "\xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa4-01-01", /* Arabic-Indic digits */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int32_t days = 42;

		if (keel_date_parse(bad[i], &days))
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(days, 42);
	}
}

/* Every day of 1900..2100: parse, format and ymd agree with each other and with timegm(). */
static void
every_day_of_two_centuries_round_trips(void **state)
{
	int32_t first = keel_date_from_ymd(1900, 1, 1), last = keel_date_from_ymd(2100, 12, 31);
	struct tm tm = {.tm_year = 0, .tm_mon = 0, .tm_mday = 1};

	(void)state;
	assert_int_equal(first, (int32_t)(timegm(&tm) / 86400));
	assert_int_equal(last - first + 1, 73414); /* 201 years, 49 leap days */
	for (int32_t days = first; days <= last; days++) {
		char text[KEEL_DATE_STRLEN + 1], want[32];
		time_t t = (time_t)days * 86400;
		struct tm g;
		int32_t back = 0;
		int y, m, d;

		gmtime_r(&t, &g);
		snprintf(want, sizeof(want), "%04d-%02d-%02d", g.tm_year + 1900, g.tm_mon + 1, g.tm_mday);
		assert_int_equal(keel_date_format(days, text, sizeof(text)), KEEL_DATE_STRLEN);
		assert_string_equal(text, want);
		assert_true(keel_date_parse(text, &back));
		assert_int_equal(back, days);
		keel_date_ymd(days, &y, &m, &d);
		assert_int_equal(y, g.tm_year + 1900);
		assert_int_equal(m, g.tm_mon + 1);
		assert_int_equal(d, g.tm_mday);
		assert_int_equal(keel_date_from_ymd(y, m, d), days);
		assert_int_equal(keel_date_weekday(days), g.tm_wday == 0 ? 7 : g.tm_wday);
	}
}

static void
format_covers_years_1_to_9999_only(void **state)
{
	char buf[KEEL_DATE_STRLEN + 1];

	(void)state;
	assert_int_equal(keel_date_format(KEEL_DATE_MIN, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "0001-01-01");
	assert_int_equal(keel_date_format(KEEL_DATE_MAX, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "9999-12-31");
	assert_int_equal(keel_date_format(KEEL_DATE_MIN - 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(keel_date_format(KEEL_DATE_MAX + 1, buf, sizeof(buf)), 0);
	assert_int_equal(keel_date_format(INT32_MIN, buf, sizeof(buf)), 0);
	assert_int_equal(keel_date_format(INT32_MAX, buf, sizeof(buf)), 0);
	/* cut like snprintf */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(keel_date_format(0, buf, 5), 10);
	assert_string_equal(buf, "1970");
	assert_int_equal(buf[5], 'x');
	assert_int_equal(keel_date_format(0, NULL, 0), 10);
}

static void
weekday_of_known_dates(void **state)
{
	static const struct {
		int y, m, d, wd;
	} w[] = {
	    {2026, 12, 7, 1}, {2026, 12, 13, 7}, {1970, 1, 1, 4}, {2000, 1, 1, 6},
	    {2024, 2, 29, 4}, {1969, 12, 31, 3}, {1, 1, 1, 1},    {9999, 12, 31, 5},
	    {1900, 1, 1, 1},  {1582, 10, 15, 5}, /* the first Gregorian day, proleptically too */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (keel_date_weekday(keel_date_from_ymd(w[i].y, w[i].m, w[i].d)) != w[i].wd)
			fail_msg("%04d-%02d-%02d is not weekday %d", w[i].y, w[i].m, w[i].d, w[i].wd);
	/* the ends of int32_t have weekdays too, one after the other */
	assert_int_equal(keel_date_weekday(INT32_MIN), keel_date_weekday(INT32_MIN + 7));
	assert_int_equal(keel_date_weekday(INT32_MIN) % 7 + 1, keel_date_weekday(INT32_MIN + 1));
	assert_int_equal(keel_date_weekday(INT32_MAX - 1) % 7 + 1, keel_date_weekday(INT32_MAX));
}

static void
add_months_clamps_to_the_month_end(void **state)
{
	static const struct {
		const char *from;
		int months;
		const char *want;
	} a[] = {
	    {"2024-01-31", 1, "2024-02-29"},       {"2023-01-31", 1, "2023-02-28"},
	    {"2024-03-31", -1, "2024-02-29"},      {"2024-01-31", 2, "2024-03-31"},
	    {"2024-01-31", 3, "2024-04-30"},       {"2024-02-29", 12, "2025-02-28"},
	    {"2024-02-29", 48, "2028-02-29"},      {"2024-05-15", 0, "2024-05-15"},
	    {"2024-11-30", 1, "2024-12-30"},       {"2024-12-31", 1, "2025-01-31"},
	    {"2025-01-15", -1, "2024-12-15"},      {"2025-01-15", -13, "2023-12-15"},
	    {"2025-01-15", -24, "2023-01-15"},     {"1900-01-31", 1, "1900-02-28"},
	    {"2000-01-31", 1, "2000-02-29"},       {"0001-01-01", 119987, "9999-12-01"},
	    {"9999-12-31", -119987, "0001-01-31"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		int32_t from = 0, want = 0;

		assert_true(keel_date_parse(a[i].from, &from));
		assert_true(keel_date_parse(a[i].want, &want));
		if (keel_date_add_months(from, a[i].months) != want)
			fail_msg("%s %+d months is not %s", a[i].from, a[i].months, a[i].want);
	}
}

static void
from_ymd_rolls_over_without_validation(void **state)
{
	int y, m, d;

	(void)state;
	assert_int_equal(keel_date_from_ymd(2024, 3, 0), keel_date_from_ymd(2024, 2, 29));
	assert_int_equal(keel_date_from_ymd(2024, 2, 30), keel_date_from_ymd(2024, 3, 1));
	assert_int_equal(keel_date_from_ymd(2024, 13, 1), keel_date_from_ymd(2025, 1, 1));
	assert_int_equal(keel_date_from_ymd(2024, 0, 1), keel_date_from_ymd(2023, 12, 1));
	assert_int_equal(keel_date_from_ymd(0, 3, 1), KEEL_DATE_MIN - 306);
	/* any int32_t is a day, and comes back */
	keel_date_ymd(INT32_MIN, &y, &m, &d);
	assert_int_equal(keel_date_from_ymd(y, m, d), INT32_MIN);
	keel_date_ymd(INT32_MAX, &y, &m, &d);
	assert_int_equal(keel_date_from_ymd(y, m, d), INT32_MAX);
	keel_date_ymd(-1, &y, &m, &d);
	assert_true(y == 1969 && m == 12 && d == 31);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_accepts_calendar_days),
	    cmocka_unit_test(parse_refuses_everything_else),
	    cmocka_unit_test(every_day_of_two_centuries_round_trips),
	    cmocka_unit_test(format_covers_years_1_to_9999_only),
	    cmocka_unit_test(weekday_of_known_dates),
	    cmocka_unit_test(add_months_clamps_to_the_month_end),
	    cmocka_unit_test(from_ymd_rolls_over_without_validation),
	};

	return cmocka_run_group_tests_name("core_date", tests, NULL, NULL);
}
