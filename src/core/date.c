/*
 * Calendar dates (date.h).
 *
 * Days to and from year, month and day are Howard Hinnant's algorithms
 * days_from_civil and civil_from_days ("chrono-Compatible Low-Level Date
 * Algorithms", https://howardhinnant.github.io/date_algorithms.html): the
 * year is counted from March, so the leap day is the last of its year, in
 * 400-year eras of 146097 days.  The arithmetic is done in int64_t so no
 * intermediate value overflows for any int32_t day.
 */
#include "core/date.h"

#include <string.h>

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return mdays[m - 1] + (m == 2 && leap(y));
}

/* floor(a / b) for b > 0 */
static int64_t
floor_div(int64_t a, int64_t b)
{
	return (a >= 0 ? a : a - (b - 1)) / b;
}

static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;                                   /* 0..399 */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */

	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;                                      /* 0..146096 */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
	int64_t mp = (5 * doy + 2) / 153;                                    /* 0..11, from March */

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* n ASCII digits at s into *v. */
static bool
date_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* v as n ASCII digits at p (zero-padded). */
static void
date_put(char *p, int64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

bool
keel_date_parse(const char *s, int32_t *days)
{
	int y, m, d;

	if (!date_digits(s, 4, &y) || s[4] != '-' || !date_digits(s + 5, 2, &m) || s[7] != '-' ||
	    !date_digits(s + 8, 2, &d) || s[10] != '\0')
		return false;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return false;
	*days = (int32_t)days_from_civil(y, m, d);
	return true;
}

size_t
keel_date_format(int32_t days, char *buf, size_t size)
{
	char text[KEEL_DATE_STRLEN + 1] = "";
	int64_t y;
	int m, d;

	if (days >= KEEL_DATE_MIN && days <= KEEL_DATE_MAX) {
		civil_from_days(days, &y, &m, &d);
		date_put(text, y, 4);
		text[4] = '-';
		date_put(text + 5, m, 2);
		text[7] = '-';
		date_put(text + 8, d, 2);
	}
	size_t len = strlen(text);

	if (size > 0) {
		size_t keep = len < size ? len : size - 1;

		memcpy(buf, text, keep);
		buf[keep] = '\0';
	}
	return len;
}

int
keel_date_weekday(int32_t days)
{
	/* 1970-01-01 was a Thursday (4) */
	return (int)((days % 7 + 10) % 7) + 1;
}

int32_t
keel_date_add_months(int32_t days, int months)
{
	int64_t y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	int64_t month = y * 12 + (m - 1) + months; /* months since year 0's January */
	int64_t ny = floor_div(month, 12);
	int nm = (int)(month - ny * 12) + 1;
	int nd = d < days_in_month(ny, nm) ? d : days_in_month(ny, nm);

	return (int32_t)days_from_civil(ny, nm, nd);
}

void
keel_date_ymd(int32_t days, int *y, int *m, int *d)
{
	int64_t year;

	civil_from_days(days, &year, m, d);
	*y = (int)year;
}

int32_t
keel_date_from_ymd(int y, int m, int d)
{
	/* months outside 1..12 roll into the year, as the days past the month do */
	int64_t month = (int64_t)y * 12 + (m - 1);
	int64_t ny = floor_div(month, 12);

	return (int32_t)days_from_civil(ny, month - ny * 12 + 1, d);
}
