/*
 * Money amounts: strict decimal text <-> integer minor units (money.h).
 *
 * The magnitude is accumulated in a uint64_t against a limit (INT64_MAX, or
 * INT64_MAX + 1 for a negative amount), checked before each step, so no
 * arithmetic ever overflows and INT64_MIN is reachable.
 */
#include "core/money.h"

#include <string.h>

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

/* *v = *v * 10 + (c - '0'); false when that passes limit. */
static bool
money_push(uint64_t *v, char c, uint64_t limit)
{
	uint64_t d = (uint64_t)(c - '0');

	if (*v > (limit - d) / 10)
		return false;
	*v = *v * 10 + d;
	return true;
}

/* The digits of s[*i..] up to a non-digit (n < 0) or exactly n of them, into *v. */
static bool
money_digits(const char *s, size_t *i, int n, uint64_t *v, uint64_t limit)
{
	int count = 0;

	for (; digit(s[*i]) && (n < 0 || count < n); (*i)++, count++)
		if (!money_push(v, s[*i], limit))
			return false;
	return n < 0 ? count > 0 : count == n;
}

bool
keel_money_parse(const char *s, int minor_units, bool allow_negative, int64_t *out)
{
	bool neg = s[0] == '-';
	size_t i = neg;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;

	if (minor_units < 0 || minor_units > KEEL_MONEY_MINOR_MAX || (neg && !allow_negative))
		return false;
	if (s[i] == '0' && digit(s[i + 1]))
		return false; /* a leading zero */
	if (!money_digits(s, &i, -1, &v, limit))
		return false;
	if (minor_units > 0 && (s[i++] != '.' || !money_digits(s, &i, minor_units, &v, limit)))
		return false;
	if (s[i] != '\0' || (neg && v == 0))
		return false;
	*out = !neg ? (int64_t)v : v == limit ? INT64_MIN : -(int64_t)v;
	return true;
}

/* Copy text (len characters) into buf as snprintf() would; returns len. */
static size_t
money_copy(const char *text, size_t len, char *buf, size_t size)
{
	if (size > 0) {
		size_t keep = len < size ? len : size - 1;

		memcpy(buf, text, keep);
		buf[keep] = '\0';
	}
	return len;
}

size_t
keel_money_format(int64_t minor, int minor_units, char *buf, size_t size)
{
	char text[KEEL_MONEY_STRLEN + 1], *p = text + sizeof(text);
	uint64_t v = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;

	if (minor_units < 0 || minor_units > KEEL_MONEY_MINOR_MAX)
		return money_copy("", 0, buf, size);
	*--p = '\0';
	/* digits from the last; at least one before the point */
	for (int n = 0; n <= minor_units || v > 0; n++, v /= 10) {
		if (minor_units > 0 && n == minor_units)
			*--p = '.';
		*--p = (char)('0' + v % 10);
	}
	if (minor < 0)
		*--p = '-';
	return money_copy(p, (size_t)(text + sizeof(text) - 1 - p), buf, size);
}

const char *
keel_money_rule(int minor_units)
{
	static const char *const rules[] = {
	    "must be a string of digits without a fractional part",
	    "must be a decimal string with exactly 1 fractional digit",
	    "must be a decimal string with exactly 2 fractional digits",
	    "must be a decimal string with exactly 3 fractional digits",
	    "must be a decimal string with exactly 4 fractional digits",
	};

	if (minor_units < 0 || minor_units > KEEL_MONEY_MINOR_MAX)
		return "must be a decimal string";
	return rules[minor_units];
}

bool
keel_money_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		return false;
	*out = sum;
	return true;
}
