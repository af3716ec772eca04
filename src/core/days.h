/*
 * Leave days: strict decimal text with at most two decimals <-> hundredths of a day.
 *
 * On the wire a day amount is a JSON string ("2.5", "1.67", "20", "-1.5" for a correction);
 * in PostgreSQL it is numeric (the hr.days domain: at most two decimals, below 10,000 either
 * way).  Integer arithmetic only: no floating point, no strtod(), nothing locale-dependent.
 */
#ifndef KEEL_CORE_DAYS_H
#define KEEL_CORE_DAYS_H

#include <stdbool.h>
#include <stdint.h>

/* The largest amount, in hundredths: 9999.99 days. */
#define KEEL_DAYS_MAX 999999

/*
 * Parse s into hundredths of a day.  Accepted, and nothing else:
 *
 *     ['-'] int ['.' frac]
 *
 * '-' only when allow_negative; int is 1..4 ASCII digits without a leading zero unless it is
 * exactly "0"; frac 1 or 2 ASCII digits.  So "2", "2.5", "1.67", "0.5", "-3"; not "", "+1",
 * " 1", "01", ".5", "5.", "1.234", "1e3", "1,5", "10000".  A negative zero ("-0", "-0.0")
 * is refused: zero has one sign.  Returns false, leaving *out alone, on anything else.
 */
bool keel_days_parse(const char *s, bool allow_negative, int32_t *out);

/* The rule keel_days_parse() applies, for a 422 field message. */
#define KEEL_DAYS_RULE "must be a decimal string of days with at most two decimals, below 10000"

#endif
