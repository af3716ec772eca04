/*
 * Leave days (days.h).
 */
#include "core/days.h"

#include <stddef.h>

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool
keel_days_parse(const char *s, bool allow_negative, int32_t *out)
{
	if (s == NULL)
		return false;
	bool negative = *s == '-';

	if (negative && !allow_negative)
		return false;
	const char *p = s + negative;
	int32_t whole = 0;
	int n = 0;

	for (; is_digit(p[n]); n++) {
		if (n == 4)
			return false;
		whole = whole * 10 + (p[n] - '0');
	}
	if (n == 0 || (n > 1 && p[0] == '0'))
		return false;
	p += n;
	int32_t frac = 0;

	if (*p == '.') {
		p++;
		if (!is_digit(p[0]))
			return false;
		frac = (p[0] - '0') * 10;
		p++;
		if (is_digit(*p))
			frac += *p++ - '0';
	}
	if (*p != '\0')
		return false;
	int32_t v = whole * 100 + frac;

	if (negative && v == 0)
		return false;
	*out = negative ? -v : v;
	return true;
}
