/* Unit tests for src/core/clock.c: RFC 3339 parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

/* s parses to want microseconds since the epoch. */
static void
parses_to(const char *s, int64_t want)
{
	int64_t us = 0;

	if (!keel_clock_parse_rfc3339(s, &us))
		fail_msg("\"%s\" was rejected", s);
	if (us != want)
		fail_msg("\"%s\" parsed to %lld, expected %lld", s, (long long)us, (long long)want);
}

static void
rejects(const char *s)
{
	int64_t us;

	if (keel_clock_parse_rfc3339(s, &us))
		fail_msg("\"%s\" was accepted", s);
}

static void
parse_accepts_rfc3339_date_times(void **state)
{
	(void)state;
	parses_to("1970-01-01T00:00:00Z", 0);
	parses_to("2026-11-27T15:42:00Z", 1795794120LL * 1000000);
	parses_to("2026-11-27T15:42:00.123Z", 1795794120LL * 1000000 + 123000);
	parses_to("2026-11-27T15:42:00.1234567Z", 1795794120LL * 1000000 + 123456); /* digits dropped */
	parses_to("2026-11-27t15:42:00z", 1795794120LL * 1000000);
	parses_to("2026-11-27T16:42:00+01:00", 1795794120LL * 1000000);
	parses_to("2026-11-27T10:12:00-05:30", 1795794120LL * 1000000);
	parses_to("1969-12-31T23:59:59.5Z", -500000);
	parses_to("2024-02-29T00:00:00Z", 1709164800LL * 1000000);   /* a leap day */
	parses_to("2000-02-29T00:00:00Z", 951782400LL * 1000000);    /* 400-year rule */
	parses_to("2016-12-31T23:59:60Z", 1483228800LL * 1000000);   /* leap second */
	parses_to("0001-01-01T00:00:00Z", -62135596800LL * 1000000); /* first year */
	parses_to("9999-12-31T23:59:59.999999Z", 253402300799LL * 1000000 + 999999);
}

static void
parse_rejects_everything_else(void **state)
{
	(void)state;
	const char *bad[] = {"",
	                     "2026-11-27",
	                     "2026-11-27T15:42Z",
	                     "2026-11-27 15:42:00Z",
	                     "2026-11-27T15:42:00",
	                     "2026-11-27T15:42:00+0100",
	                     "2026-11-27T15:42:00+24:00",
	                     "2026-11-27T15:42:00+01:60",
	                     "2026-11-27T15:42:00.Z",
	                     "2026-11-27T15:42:00ZZ",
	                     "2026-11-27T15:42:00Z ",
	                     " 2026-11-27T15:42:00Z",
	                     "2026-13-01T00:00:00Z",
	                     "2026-00-01T00:00:00Z",
	                     "2026-11-31T00:00:00Z",
	                     "2026-02-29T00:00:00Z", /* not a leap year */
	                     "1900-02-29T00:00:00Z", /* nor this (100-year rule) */
	                     "2026-11-00T00:00:00Z",
	                     "2026-11-27T24:00:00Z",
	                     "2026-11-27T23:60:00Z",
	                     "2026-11-27T23:59:61Z",
	                     "0000-01-01T00:00:00Z",
	                     "+2026-11-27T15:42:00Z",
	                     "2026-1-27T15:42:00Z",
	                     "yesterday",
	                     "1795794120"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rejects(bad[i]);
}

static void
format_us_round_trips(void **state)
{
	(void)state;
	const char *texts[] = {"1970-01-01T00:00:00.000000Z", "2026-11-27T15:42:00.123456Z",
	                       "1969-12-31T23:59:59.500000Z", "2024-02-29T23:59:59.999999Z",
	                       "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
	                       "2000-03-01T00:00:00.000001Z"};
	char out[KEEL_RFC3339_US_LEN + 1];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		int64_t us;

		assert_true(keel_clock_parse_rfc3339(texts[i], &us));
		keel_clock_format_us(us, out);
		assert_string_equal(out, texts[i]);
	}
}

/*
 * Any int64_t is safe to format (UBSan would stop the program on an overflow) and stays
 * within out; the text is meaningful only for years 0001..9999 (the callers refuse
 * instants outside them), as the instants either side of the epoch and of a second show.
 */
static void
format_us_takes_every_int64(void **state)
{
	(void)state;
	const int64_t values[] = {INT64_MIN, INT64_MIN + 1, -1000001,      -1000000, -999999, -1, 0,
	                          1,         999999,        INT64_MAX - 1, INT64_MAX};
	char out[KEEL_RFC3339_US_LEN + 1];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		memset(out, 'x', sizeof(out));
		keel_clock_format_us(values[i], out);
		assert_true(strlen(out) <= KEEL_RFC3339_US_LEN);
	}
	keel_clock_format_us(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
	keel_clock_format_us(-1000001, out);
	assert_string_equal(out, "1969-12-31T23:59:58.999999Z");
}

/* Every day of 1900..2100 agrees with the C library's calendar. */
static void
format_us_agrees_with_gmtime(void **state)
{
	(void)state;
	char out[KEEL_RFC3339_US_LEN + 1], want[64];

	for (int64_t day = -25567; day <= 47482; day++) {
		time_t t = (time_t)(day * 86400 + 3723);
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT01:02:03.000007Z", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday);
		keel_clock_format_us(((int64_t)t) * 1000000 + 7, out);
		assert_string_equal(out, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_accepts_rfc3339_date_times),
	    cmocka_unit_test(parse_rejects_everything_else),
	    cmocka_unit_test(format_us_round_trips),
	    cmocka_unit_test(format_us_takes_every_int64),
	    cmocka_unit_test(format_us_agrees_with_gmtime),
	};

	return cmocka_run_group_tests_name("core_clock", tests, NULL, NULL);
}
