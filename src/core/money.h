/*
 * Money amounts: strict decimal text <-> integer minor units.
 *
 * On the wire an amount is a JSON string holding a decimal with exactly the
 * currency's minor-unit digits ("12.30" for EUR with 2, "1200" for JPY with
 * 0, "1.234" for KWD with 3); in memory and in PostgreSQL it is a count of
 * minor units in an int64_t (bigint).  Every conversion here is integer
 * arithmetic: no floating point, no strtod(), nothing that depends on the
 * locale.  ISO 4217 currencies have 0 to 4 minor-unit digits; other counts
 * are refused.
 */
#ifndef KEEL_CORE_MONEY_H
#define KEEL_CORE_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_MONEY_MINOR_MAX 4 /* most minor-unit digits (ISO 4217) */

/* Longest canonical text, without the NUL: "-922337203685477.5808". */
#define KEEL_MONEY_STRLEN 21

/*
 * Parse s, an amount with exactly minor_units (0..4) fractional digits, into
 * minor units.  Accepted, and nothing else:
 *
 *     ['-'] int ['.' frac]
 *
 * '-' only when allow_negative; int is one or more ASCII digits without a
 * leading zero unless it is exactly "0"; '.' and frac (exactly minor_units
 * ASCII digits) iff minor_units > 0.  So "0.05", "-12.30", "1200" (0
 * digits); not "", "+1.00", " 1.00", "1.00 ", "01.00", ".5", "5.", "1.0",
 * "1e3", "1,00".  A negative zero ("-0", "-0.00") is refused: it is not a
 * value, and zero has one spelling.  The value must fit an int64_t:
 * "-92233720368547758.08" (INT64_MIN, when negatives are allowed) and
 * "92233720368547758.07" (INT64_MAX) for 2 digits are the extremes.
 * Returns false, leaving *out alone, on anything else.
 */
bool keel_money_parse(const char *s, int minor_units, bool allow_negative, int64_t *out);

/*
 * The canonical text of minor (the text keel_money_parse() reads back as
 * minor) into buf, snprintf-like: at most size - 1 characters and a NUL
 * (when size > 0); returns the length of the whole text, so a return of
 * size or more means it was cut.  buf[KEEL_MONEY_STRLEN + 1] always
 * suffices.  minor_units outside 0..4 writes "" and returns 0.
 */
size_t keel_money_format(int64_t minor, int minor_units, char *buf, size_t size);

/*
 * The rule an amount with minor_units digits breaks, for a 422 field
 * message: "must be a decimal string with exactly 2 fractional digits",
 * or "must be a string of digits without a fractional part" for 0.  A
 * static string; never NULL.
 */
const char *keel_money_rule(int minor_units);

/* *out = a + b; false, leaving *out alone, when the sum does not fit int64_t. */
bool keel_money_add(int64_t a, int64_t b, int64_t *out);

#endif
