/*
 * Clocks and timestamps.
 */
#ifndef KEEL_CORE_CLOCK_H
#define KEEL_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_RFC3339_LEN 24 /* 2026-11-27T15:42:00.123Z */

/* Wall-clock nanoseconds since the epoch. */
uint64_t keel_clock_realtime_ns(void);

/* Monotonic nanoseconds, for durations only. */
uint64_t keel_clock_mono_ns(void);

/* RFC 3339 UTC with milliseconds into out[KEEL_RFC3339_LEN + 1]. */
void keel_clock_format(uint64_t ms_since_epoch, char *out);

#define KEEL_RFC3339_US_LEN 27 /* 2026-11-27T15:42:00.123456Z */

/*
 * Parse an RFC 3339 date-time ("2026-11-27T15:42:00Z", "...00.5+01:00";
 * years 0001..9999, a real calendar day, seconds up to 60, an offset of at
 * most 23:59) into microseconds since the epoch; digits of the fraction past
 * the sixth are dropped.  Returns false on anything else.
 */
bool keel_clock_parse_rfc3339(const char *s, int64_t *us_out);

/* RFC 3339 UTC with microseconds into out[KEEL_RFC3339_US_LEN + 1] (years 0001..9999). */
void keel_clock_format_us(int64_t us_since_epoch, char *out);

#endif
