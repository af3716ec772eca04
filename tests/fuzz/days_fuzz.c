/*
 * Fuzz the leave-day text HR reads from requests: src/core/days.c.
 *
 * The input up to its first NUL is a C string given to keel_days_parse(); the bytes after the
 * NUL, when there are any, are a number of hundredths.  Each answer is compared with a plain
 * reading of days.h written here:
 *   - keel_days_parse() accepts, with and without negatives, exactly ['-'] int ['.' frac]
 *     (int 1..4 ASCII digits, no leading zero unless it is "0"; frac 1 or 2 digits; '-' only
 *     with negatives; no negative zero), at the value the digits spell (computed in int64_t
 *     from the text with the point taken out, the fraction padded to two digits), and leaves
 *     its output alone when it refuses;
 *   - every value within KEEL_DAYS_MAX either way, written as sign, whole days, point and two
 *     digits by snprintf(), parses back to itself (the negative ones only with negatives, zero
 *     never with a sign), and one hundredth beyond the bound never parses.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "core/days.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* days.h's grammar and value, read as plainly as possible; false when s is not an amount. */
static bool
ref_days(const char *s, bool allow_negative, int64_t *out)
{
	const char *digits = "0123456789";
	bool neg = s[0] == '-';
	const char *p = s + (neg ? 1 : 0);
	size_t int_len = strspn(p, digits), frac_len = 0;
	char text[8] = {0}; /* the digits without the point, the fraction padded to two */

	if (neg && !allow_negative)
		return false;
	if (int_len < 1 || int_len > 4 || (int_len > 1 && p[0] == '0'))
		return false;
	memcpy(text, p, int_len);
	p += int_len;
	if (*p == '.') {
		frac_len = strspn(p + 1, digits);
		if (frac_len < 1 || frac_len > 2)
			return false;
		memcpy(text + int_len, p + 1, frac_len);
		p += 1 + frac_len;
	}
	if (*p != '\0')
		return false;
	while (frac_len < 2)
		text[int_len + frac_len++] = '0';
	int64_t v = 0;

	for (size_t i = 0; text[i] != '\0'; i++)
		v = v * 10 + (text[i] - '0');
	if (neg && v == 0)
		return false;
	*out = neg ? -v : v;
	return true;
}

static void
parse_check(const char *s)
{
	for (int neg = 0; neg <= 1; neg++) {
		int32_t got = INT32_MIN;
		int64_t want = 0;
		bool ok = keel_days_parse(s, neg, &got);
		bool ref = ref_days(s, neg, &want);

		FZ_CHECK(ok == ref, "keel_days_parse(\"%s\", %d) %s", s, neg, ok ? "accepted" : "refused");
		if (!ok) {
			FZ_CHECK(got == INT32_MIN, "keel_days_parse(\"%s\") refused but wrote %d", s, got);
			continue;
		}
		FZ_CHECK(got == want, "\"%s\" parsed as %d, not %lld", s, got, (long long)want);
		FZ_CHECK(got >= -KEEL_DAYS_MAX && got <= KEEL_DAYS_MAX, "\"%s\" is out of bounds: %d", s,
		         got);
	}
}

/* v hundredths as sign, whole days, point and two digits. */
static void
write_days(int64_t v, char *buf, size_t size)
{
	int64_t mag = v < 0 ? -v : v;

	snprintf(buf, size, "%s%lld.%02lld", v < 0 ? "-" : "", (long long)(mag / 100),
	         (long long)(mag % 100));
}

static void
value_check(int64_t v)
{
	char text[32];
	int32_t got = 0;
	bool inside = v >= -KEEL_DAYS_MAX && v <= KEEL_DAYS_MAX;

	write_days(v, text, sizeof(text));
	FZ_CHECK(keel_days_parse(text, true, &got) == inside && (!inside || got == v),
	         "\"%s\" with negatives: the wrong verdict or value %d", text, got);
	FZ_CHECK(keel_days_parse(text, false, &got) == (inside && v >= 0),
	         "\"%s\" without negatives: the wrong verdict", text);
	if (v == 0)
		FZ_CHECK(!keel_days_parse("-0.00", true, &got), "a negative zero was accepted");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FZ_CHECK(s != NULL, "out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	parse_check(s);

	size_t skip = strlen(s) + 1;

	if (skip < size) {
		uint32_t r = 0;

		for (size_t i = skip; i < size && i < skip + 4; i++)
			r = r << 8 | data[i];
		/* mostly within the bounds and just past them, sometimes anywhere */
		int64_t v = (r & 0x80000000u) != 0
		                ? (int64_t)(int32_t)r
		                : (int64_t)(r % (2 * KEEL_DAYS_MAX + 5)) - (KEEL_DAYS_MAX + 2);

		value_check(v);
	}
	free(s);
	return 0;
}
