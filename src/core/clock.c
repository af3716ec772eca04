/*
 * Clocks: realtime for ids and timestamps, monotonic for durations, and
 * RFC 3339 text.  Calendar arithmetic is done here (proleptic Gregorian,
 * days from 1970-01-01) rather than with timegm(), which is not POSIX and
 * depends on the width of time_t.
 */
#include "core/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t
keel_clock_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
keel_clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
keel_clock_format(uint64_t ms, char *out)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, KEEL_RFC3339_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
	         (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
	         (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
	         (unsigned)tm.tm_sec % 100u, (unsigned)(ms % 1000));
}

/* Days from 1970-01-01 to y-m-d (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* The inverse: y-m-d of a day number. */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at *p into *out; advances *p. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" and "HH:MM:SS" of an RFC 3339 date-time; seconds since the epoch. */
static bool
parse_date_time(const char **p, int64_t *secs)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec;

	if (!digits(p, 4, &y) || *(*p)++ != '-' || !digits(p, 2, &mo) || *(*p)++ != '-' ||
	    !digits(p, 2, &d) || (**p != 'T' && **p != 't'))
		return false;
	(*p)++;
	if (!digits(p, 2, &h) || *(*p)++ != ':' || !digits(p, 2, &mi) || *(*p)++ != ':' ||
	    !digits(p, 2, &sec))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap_year(y) ? 1 : 0) || h > 23 || mi > 59 || sec > 60)
		return false;
	*secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

bool
keel_clock_parse_rfc3339(const char *s, int64_t *us_out)
{
	const char *p = s;
	int64_t secs, frac = 0;
	int oh, om, fdigits = 0;

	if (!parse_date_time(&p, &secs))
		return false;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, fdigits++)
			if (fdigits < 6)
				frac = frac * 10 + (*p - '0');
		if (fdigits == 0)
			return false;
		for (int i = fdigits; i < 6; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '+' ? 1 : -1;

		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
		secs -= sign * (oh * 3600 + om * 60);
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	*us_out = secs * 1000000 + frac;
	return true;
}

void
keel_clock_format_us(int64_t us, char *out)
{
	/* floor division without negating: every int64_t is defined, even INT64_MIN */
	int64_t secs = us / 1000000 - (us % 1000000 < 0);
	int64_t frac = us % 1000000 + (us % 1000000 < 0 ? 1000000 : 0);
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	int64_t rem = secs % 86400 + (secs % 86400 < 0 ? 86400 : 0), y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(out, KEEL_RFC3339_US_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ",
	         (unsigned)(y % 10000), (unsigned)m % 100u, (unsigned)d % 100u,
	         (unsigned)(rem / 3600) % 100u, (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
	         (unsigned)frac % 1000000u);
}
