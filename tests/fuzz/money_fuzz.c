/*
 * Fuzz the money and date text that finance, HR and projects read from
 * requests: src/core/money.c and src/core/date.c.
 *
 * The input up to its first NUL is a C string given to each parser; the
 * bytes after the NUL, when there are any, are numbers for the formatters
 * and the arithmetic.  Each answer is compared with a plain reading of its
 * contract written here:
 *   - keel_money_parse() accepts, for every minor_units 0..4 and both
 *     allow_negative values, exactly ['-'] digits ['.' digits] with the
 *     grammar of money.h, at the value the digits spell (computed in
 *     __int128, so an overflow of int64_t is seen, not suffered);
 *     keel_money_format() writes every text it accepts back unchanged, and
 *     any int64_t as sign, digits and point placed by hand, cut like
 *     snprintf(); minor_units outside 0..4 is refused;
 *   - keel_money_add() is the __int128 sum when that fits int64_t;
 *   - keel_date_parse() accepts exactly YYYY-MM-DD of a real calendar day
 *     (timegm() and gmtime_r() give the same day back) of years 0001..9999,
 *     at the day timegm() gives; keel_date_format() writes it back, and any
 *     day as gmtime_r() spells it; keel_date_weekday() agrees with tm_wday,
 *     keel_date_ymd() with gmtime_r(), keel_date_add_months() with the
 *     month's end timegm() finds;
 *   - keel_rate_parse() accepts exactly int ['.' frac] of rate.h (1..12
 *     digits each, no leading zero, not zero) and writes the text without
 *     the fraction's trailing zeros, which it reads back unchanged.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/date.h"
#include "core/money.h"
#include "core/rate.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The first n bytes of the numbers (zeros past their end). */
static uint64_t
take(const uint8_t *p, size_t len, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | (i < len ? p[i] : 0);
	return v;
}

/* ---- money ---- */

/* money.h's grammar and value; false when s is not an amount with mu digits. */
static bool
ref_money(const char *s, int mu, bool allow_negative, int64_t *out)
{
	bool neg = s[0] == '-';
	size_t i = neg, int_start = i, int_len, frac_len = 0;
	__int128 v = 0;

	if (neg && !allow_negative)
		return false;
	while (is_digit(s[i]))
		i++;
	int_len = i - int_start;
	if (int_len == 0 || (int_len > 1 && s[int_start] == '0'))
		return false;
	if (s[i] == '.') {
		for (i++; is_digit(s[i]); i++)
			frac_len++;
		if (mu == 0)
			return false;
	} else if (mu > 0) {
		return false;
	}
	if (s[i] != '\0' || frac_len != (size_t)mu || int_len + frac_len > 30)
		return false;
	for (size_t k = int_start; k < i; k++)
		if (s[k] != '.')
			v = v * 10 + (s[k] - '0');
	if (neg)
		v = -v;
	if ((neg && v == 0) || v < INT64_MIN || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static void
money_parse_check(const char *s)
{
	for (int mu = 0; mu <= KEEL_MONEY_MINOR_MAX; mu++) {
		for (int neg = 0; neg <= 1; neg++) {
			int64_t got = 0, want = 0;
			bool ok = keel_money_parse(s, mu, neg, &got);
			bool ref = ref_money(s, mu, neg, &want);
			char text[KEEL_MONEY_STRLEN + 1];

			FZ_CHECK(ok == ref, "keel_money_parse(\"%s\", %d, %d) %s", s, mu, neg,
			         ok ? "accepted" : "refused");
			if (!ok)
				continue;
			FZ_CHECK(got == want, "\"%s\" (%d digits) parsed as %lld, not %lld", s, mu,
			         (long long)got, (long long)want);
			size_t len = keel_money_format(got, mu, text, sizeof(text));

			FZ_CHECK(len == strlen(s) && strcmp(text, s) == 0,
			         "\"%s\" (%d digits) formats back as \"%s\" (length %zu)", s, mu, text, len);
		}
	}
	int64_t v;

	FZ_CHECK(!keel_money_parse(s, -1, true, &v) && !keel_money_parse(s, 5, true, &v),
	         "keel_money_parse(\"%s\") accepted a digit count outside 0..4", s);
}

/* v with mu digits as written by hand: sign, magnitude, point. */
static void
ref_money_format(int64_t v, int mu, char *out)
{
	unsigned long long mag = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%0*llu", mu + 1, mag);

	*out = '\0';
	if (v < 0)
		strcat(out, "-");
	strncat(out, digits, (size_t)(n - mu));
	if (mu > 0) {
		strcat(out, ".");
		strcat(out, digits + n - mu);
	}
}

static void
money_format_check(int64_t v, size_t cut)
{
	for (int mu = 0; mu <= KEEL_MONEY_MINOR_MAX; mu++) {
		char text[KEEL_MONEY_STRLEN + 1], want[48], small[KEEL_MONEY_STRLEN + 1];
		int64_t back = 0;
		size_t len = keel_money_format(v, mu, text, sizeof(text));

		ref_money_format(v, mu, want);
		FZ_CHECK(len == strlen(want) && strcmp(text, want) == 0,
		         "%lld with %d digits formats as \"%s\" (length %zu), not \"%s\"", (long long)v, mu,
		         text, len, want);
		FZ_CHECK(keel_money_parse(text, mu, true, &back) && back == v,
		         "\"%s\" does not parse back to %lld", text, (long long)v);
		FZ_CHECK(keel_money_parse(text, mu, false, &back) == (v >= 0),
		         "\"%s\" without negatives: the wrong verdict", text);
		memset(small, 'x', sizeof(small));
		size_t size = cut % (sizeof(small) + 1);

		FZ_CHECK(keel_money_format(v, mu, small, size) == len, "a cut format changed the length");
		FZ_CHECK(size == 0 ? small[0] == 'x'
		                   : strlen(small) == (len < size ? len : size - 1) &&
		                         memcmp(small, want, strlen(small)) == 0,
		         "%lld cut to %zu bytes is \"%.*s\"", (long long)v, size, (int)sizeof(small),
		         small);
	}
}

static void
money_add_check(int64_t a, int64_t b)
{
	__int128 sum = (__int128)a + b;
	int64_t got = 7;
	bool fits = sum >= INT64_MIN && sum <= INT64_MAX;

	FZ_CHECK(keel_money_add(a, b, &got) == fits, "keel_money_add(%lld, %lld): the wrong verdict",
	         (long long)a, (long long)b);
	FZ_CHECK(fits ? got == (int64_t)sum : got == 7, "keel_money_add(%lld, %lld) gave %lld",
	         (long long)a, (long long)b, (long long)got);
}

/* ---- dates ---- */

/* YYYY-MM-DD of a real day of years 0001..9999, by timegm(); false otherwise. */
static bool
ref_date(const char *s, int32_t *days)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return false;
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d}, back;
	time_t t = timegm(&tm);

	gmtime_r(&t, &back);
	if (y < 1 || back.tm_year != y - 1900 || back.tm_mon != m - 1 || back.tm_mday != d)
		return false; /* timegm() moved it: no such day */
	*days = (int32_t)(t / 86400);
	return true;
}

static void
date_parse_check(const char *s)
{
	int32_t got = 0, want = 0;
	bool ok = keel_date_parse(s, &got);
	bool ref = ref_date(s, &want);
	char text[KEEL_DATE_STRLEN + 1];

	FZ_CHECK(ok == ref, "keel_date_parse(\"%s\") %s", s, ok ? "accepted" : "refused");
	if (!ok)
		return;
	FZ_CHECK(got == want, "\"%s\" parsed as %d, not %d", s, got, want);
	FZ_CHECK(keel_date_format(got, text, sizeof(text)) == KEEL_DATE_STRLEN && strcmp(text, s) == 0,
	         "\"%s\" formats back as \"%s\"", s, text);
}

/* The last day of month m (0-based, any value) of year y (tm's years), by timegm(). */
static int
ref_month_end(int y, int m)
{
	struct tm tm = {.tm_year = y, .tm_mon = m + 1, .tm_mday = 0};
	time_t t = timegm(&tm);

	gmtime_r(&t, &tm);
	return tm.tm_mday;
}

static void
date_days_check(int32_t days, int months)
{
	time_t t = (time_t)days * 86400;
	struct tm g;
	char text[KEEL_DATE_STRLEN + 1], want[32];
	int32_t back = 0;
	int y, m, d;

	gmtime_r(&t, &g);
	snprintf(want, sizeof(want), "%04d-%02d-%02d", g.tm_year + 1900, g.tm_mon + 1, g.tm_mday);
	FZ_CHECK(keel_date_format(days, text, sizeof(text)) == KEEL_DATE_STRLEN &&
	             strcmp(text, want) == 0 && keel_date_parse(text, &back) && back == days,
	         "day %d formats as \"%s\", not \"%s\", or does not parse back", days, text, want);
	keel_date_ymd(days, &y, &m, &d);
	FZ_CHECK(y == g.tm_year + 1900 && m == g.tm_mon + 1 && d == g.tm_mday &&
	             keel_date_from_ymd(y, m, d) == days,
	         "day %d is %d-%d-%d, not %s", days, y, m, d, want);
	FZ_CHECK(keel_date_weekday(days) == (g.tm_wday == 0 ? 7 : g.tm_wday),
	         "day %d (%s) is not weekday %d", days, want, keel_date_weekday(days));
	/* the target month's first, by timegm(), then the day clamped to its end */
	struct tm first = {.tm_year = g.tm_year, .tm_mon = g.tm_mon + months, .tm_mday = 1};
	time_t tf = timegm(&first);

	gmtime_r(&tf, &first);
	int end = ref_month_end(first.tm_year, first.tm_mon);

	first.tm_mday = g.tm_mday < end ? g.tm_mday : end;
	int32_t moved = (int32_t)(timegm(&first) / 86400);

	FZ_CHECK(keel_date_add_months(days, months) == moved, "%s %+d months is day %d, not %d", want,
	         months, keel_date_add_months(days, months), moved);
}

static void
date_range_check(int32_t days)
{
	char text[KEEL_DATE_STRLEN + 1] = "x";
	bool inside = days >= KEEL_DATE_MIN && days <= KEEL_DATE_MAX;

	FZ_CHECK(keel_date_format(days, text, sizeof(text)) == (inside ? KEEL_DATE_STRLEN : 0) &&
	             (inside || text[0] == '\0'),
	         "day %d: format wrote \"%s\"", days, text);
}

/* ---- rates ---- */

/* rate.h's grammar; its canonical text into out. */
static bool
ref_rate(const char *s, char *out)
{
	size_t i = 0, n = 0, keep;
	bool nonzero = false;

	while (is_digit(s[i]))
		nonzero |= s[i++] != '0';
	if (i == 0 || i > 12 || (i > 1 && s[0] == '0'))
		return false;
	keep = i;
	if (s[i] == '.') {
		for (i++; is_digit(s[i]); i++, n++)
			if (s[i] != '0') {
				nonzero = true;
				keep = i + 1;
			}
		if (n == 0 || n > 12)
			return false;
	}
	if (s[i] != '\0' || !nonzero)
		return false;
	memcpy(out, s, keep);
	out[keep] = '\0';
	return true;
}

static void
rate_parse_check(const char *s)
{
	char got[KEEL_RATE_STRLEN + 1], want[64], again[KEEL_RATE_STRLEN + 1];
	bool ok = keel_rate_parse(s, got);

	FZ_CHECK(ok == ref_rate(s, want), "keel_rate_parse(\"%s\") = %d", s, ok);
	if (!ok)
		return;
	FZ_CHECK(strcmp(got, want) == 0, "keel_rate_parse(\"%s\") wrote %s, not %s", s, got, want);
	FZ_CHECK(keel_rate_parse(got, again) && strcmp(got, again) == 0,
	         "keel_rate_parse(\"%s\") is not canonical", got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FZ_CHECK(s != NULL, "out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	money_parse_check(s);
	date_parse_check(s);
	rate_parse_check(s);

	size_t skip = strlen(s) + 1;

	if (skip < size) {
		const uint8_t *n = data + skip;
		size_t len = size - skip;
		int64_t a = (int64_t)take(n, len, 8), b = (int64_t)take(n + 8, len > 8 ? len - 8 : 0, 8);
		uint32_t r = (uint32_t)b;

		money_format_check(a, (size_t)(b >> 32 & 0xff));
		money_add_check(a, b);
		date_range_check((int32_t)r);
		/* a day of years 0001..9999, moved by up to +-32767 months */
		date_days_check((int32_t)(KEEL_DATE_MIN + r % (KEEL_DATE_MAX - KEEL_DATE_MIN + 1)),
		                (int16_t)(a & 0xffff));
	}
	free(s);
	return 0;
}
