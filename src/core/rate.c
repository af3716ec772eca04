/*
 * Exchange-rate text: the grammar of rate.h, checked character by character.
 */
#include "core/rate.h"

#include <string.h>

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The length of the run of digits at s. */
static size_t
digits(const char *s)
{
	size_t n = 0;

	while (is_digit(s[n]))
		n++;
	return n;
}

bool
keel_rate_parse(const char *s, char *out)
{
	size_t int_len = digits(s), frac_len = 0, end;
	bool nonzero = false;

	if (int_len == 0 || int_len > KEEL_RATE_INT_MAX || (int_len > 1 && s[0] == '0'))
		return false;
	end = int_len;
	if (s[end] == '.') {
		frac_len = digits(s + end + 1);
		if (frac_len == 0 || frac_len > KEEL_RATE_FRAC_MAX)
			return false;
		end += 1 + frac_len;
	}
	if (s[end] != '\0')
		return false;
	for (size_t i = 0; i < end; i++)
		nonzero = nonzero || (is_digit(s[i]) && s[i] != '0');
	if (!nonzero)
		return false;
	while (frac_len > 0 && s[int_len + frac_len] == '0')
		frac_len--;
	end = frac_len > 0 ? int_len + 1 + frac_len : int_len;
	memcpy(out, s, end);
	out[end] = '\0';
	return true;
}

const char *
keel_rate_rule(void)
{
	return "must be a positive decimal string with at most 12 integer and 12 fractional digits, "
	       "without a sign, exponent or leading zero";
}
