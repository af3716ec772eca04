/*
 * Clocks and timestamps.
 */
#ifndef KEEL_CORE_CLOCK_H
#define KEEL_CORE_CLOCK_H

#include <stdint.h>

#define KEEL_RFC3339_LEN 24 /* 2026-11-27T15:42:00.123Z */

/* Wall-clock nanoseconds since the epoch. */
uint64_t keel_clock_realtime_ns(void);

/* Monotonic nanoseconds, for durations only. */
uint64_t keel_clock_mono_ns(void);

/* RFC 3339 UTC with milliseconds into out[KEEL_RFC3339_LEN + 1]. */
void keel_clock_format(uint64_t ms_since_epoch, char *out);

#endif
