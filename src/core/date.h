/*
 * Calendar dates: strict YYYY-MM-DD text <-> days since 1970-01-01.
 *
 * A date is a day of the proleptic Gregorian calendar, held as an int32_t
 * count of days since 1970-01-01 (negative before), the way PostgreSQL's
 * date is a day count.  Integer arithmetic only.
 */
#ifndef KEEL_CORE_DATE_H
#define KEEL_CORE_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_DATE_STRLEN 10      /* 2026-12-07 */
#define KEEL_DATE_MIN    -719162 /* 0001-01-01 */
#define KEEL_DATE_MAX    2932896 /* 9999-12-31 */

/*
 * Parse exactly "YYYY-MM-DD" (ASCII digits, years 0001..9999, months
 * 01..12, a day that exists in that month: 2024-02-29 and 2000-02-29 do,
 * 2023-02-29 and 1900-02-29 do not) into days since 1970-01-01.  Nothing
 * else: no signs, spaces, shorter fields or trailing text (a time of day
 * is refused).  Returns false, leaving *days alone, on anything else.
 */
bool keel_date_parse(const char *s, int32_t *days);

/*
 * "YYYY-MM-DD" of days into buf, snprintf-like: at most size - 1
 * characters and a NUL (when size > 0); returns the length of the whole
 * text (KEEL_DATE_STRLEN), so buf[KEEL_DATE_STRLEN + 1] always suffices.
 * A day outside KEEL_DATE_MIN..KEEL_DATE_MAX (years 0001..9999) writes ""
 * and returns 0.
 */
size_t keel_date_format(int32_t days, char *buf, size_t size);

/* ISO 8601 weekday of days: 1 = Monday .. 7 = Sunday. */
int keel_date_weekday(int32_t days);

/*
 * days moved by months calendar months (negative: back), the day of the
 * month kept, or clamped to the last day of the target month when that
 * month is shorter: 2024-01-31 + 1 = 2024-02-29, 2024-03-31 - 1 =
 * 2024-02-29.  The result must fit an int32_t (any date of years
 * 0001..9999 moved by less than 100000 years does).
 */
int32_t keel_date_add_months(int32_t days, int months);

/* Year, month (1..12) and day (1..31) of days; any int32_t is a day. */
void keel_date_ymd(int32_t days, int *y, int *m, int *d);

/*
 * Days since 1970-01-01 of year y, month m, day d, without validation: a
 * month outside 1..12 runs into a neighbouring year (m = 13 is January of
 * y + 1), a day past the month's end into the next month (d = 0 is the
 * previous month's last day).  The result must fit an int32_t.
 */
int32_t keel_date_from_ymd(int y, int m, int d);

#endif
