/*
 * Exchange rates: strict decimal text, checked and made canonical for PostgreSQL's numeric.
 *
 * A rate travels as a JSON string of a positive decimal with up to 12 fractional digits
 * ("1.085", "0.006211", "150"); keel never computes with it in C: it hands the canonical
 * text to PostgreSQL, which keeps it as numeric and converts amounts with it exactly.  No
 * floating point, no strtod(), nothing that depends on the locale.
 */
#ifndef KEEL_CORE_RATE_H
#define KEEL_CORE_RATE_H

#include <stdbool.h>
#include <stddef.h>

#define KEEL_RATE_FRAC_MAX 12 /* most fractional digits */
#define KEEL_RATE_INT_MAX  12 /* most integer digits: a rate is below 10^12 */

/* Longest canonical text, without the NUL: 12 digits, '.', 12 digits. */
#define KEEL_RATE_STRLEN (KEEL_RATE_INT_MAX + 1 + KEEL_RATE_FRAC_MAX)

/*
 * Check s, a rate, and write its canonical text into out[KEEL_RATE_STRLEN + 1].  Accepted,
 * and nothing else:
 *
 *     int ['.' frac]
 *
 * int is 1..12 ASCII digits without a leading zero unless it is exactly "0"; frac is 1..12
 * ASCII digits; the value is above zero.  So "1", "1.5", "0.000000000001", "1.50"; not "",
 * "0", "0.000", "01.5", ".5", "5.", "+1", "-1", "1e3", " 1", "1,5", 13 fractional digits.
 * The canonical text drops the fraction's trailing zeros (and a point left alone): "1.50" ->
 * "1.5", "2.000" -> "2"; it is the text PostgreSQL renders the numeric as.  Returns false,
 * leaving out alone, on anything else.
 */
bool keel_rate_parse(const char *s, char *out);

/* The rule a rate breaks, for a 422 field message.  A static string. */
const char *keel_rate_rule(void);

#endif
