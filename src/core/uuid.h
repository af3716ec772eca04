/*
 * UUIDs: version 7 generation (time-ordered) and strict text parsing.
 */
#ifndef KEEL_CORE_UUID_H
#define KEEL_CORE_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_UUID_STRLEN 36

typedef struct keel_uuid {
	uint8_t b[16];
} keel_uuid;

/*
 * A new version 7 UUID: 48 bits of Unix milliseconds, 12 bits of
 * sub-millisecond time (RFC 9562 method 3), 62 random bits.  Successive
 * UUIDs made by one thread are strictly increasing.
 */
void keel_uuid_v7(keel_uuid *out);

/* Canonical lowercase 8-4-4-4-12 text into out[KEEL_UUID_STRLEN + 1]. */
void keel_uuid_format(const keel_uuid *u, char *out);

/* Parse exactly 8-4-4-4-12 hex (either case); false on anything else. */
bool keel_uuid_parse(const char *s, keel_uuid *out);

/* keel_uuid_parse without the result: is s a well-formed UUID? */
bool keel_uuid_valid(const char *s);

/* Milliseconds since the epoch stored in a v7 UUID. */
uint64_t keel_uuid_v7_millis(const keel_uuid *u);

#endif
