/*
 * UUID version 7.
 *
 * Randomness comes from getrandom(2).  Ordering within one thread is made
 * strict by remembering the last 60-bit timestamp (ms << 12 | sub-ms) in
 * thread-local state and bumping it when the clock has not moved past it, so
 * ids a worker creates in a burst still sort in creation order.
 */
#include "core/str.h"
#include "core/uuid.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static _Thread_local uint64_t last_stamp;

static void
fill_random(void *p, size_t n)
{
	unsigned char *q = p;

	while (n > 0) {
		ssize_t got = getrandom(q, n, 0);

		if (got < 0) {
			perror("keel: getrandom");
			abort();
		}
		q += got;
		n -= (size_t)got;
	}
}

void
keel_uuid_v7(keel_uuid *out)
{
	uint64_t ns = keel_clock_realtime_ns();
	uint64_t ms = ns / 1000000;
	uint64_t frac = ((ns % 1000000) << 12) / 1000000; /* 12 bits of the millisecond */
	uint64_t stamp = (ms << 12) | frac;

	if (stamp <= last_stamp)
		stamp = last_stamp + 1;
	last_stamp = stamp;
	ms = stamp >> 12;
	frac = stamp & 0xFFF;

	fill_random(out->b + 8, 8);
	for (int i = 0; i < 6; i++)
		out->b[i] = (uint8_t)(ms >> (40 - 8 * i));
	out->b[6] = (uint8_t)(0x70 | (frac >> 8));
	out->b[7] = (uint8_t)(frac & 0xFF);
	out->b[8] = (uint8_t)(0x80 | (out->b[8] & 0x3F));
}

void
keel_uuid_format(const keel_uuid *u, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u->b[i] >> 4];
		*p++ = hex[u->b[i] & 0xF];
	}
	*p = '\0';
}

bool
keel_uuid_parse(const char *s, keel_uuid *out)
{
	keel_uuid u;
	int byte = 0;

	for (int i = 0; i < KEEL_UUID_STRLEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		int hi = keel_hex_digit(s[i]);
		int lo = hi < 0 ? -1 : keel_hex_digit(s[i + 1]);

		if (lo < 0)
			return false;
		u.b[byte++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	if (s[KEEL_UUID_STRLEN] != '\0')
		return false;
	if (out != NULL)
		*out = u;
	return true;
}

bool
keel_uuid_valid(const char *s)
{
	return keel_uuid_parse(s, NULL);
}

uint64_t
keel_uuid_v7_millis(const keel_uuid *u)
{
	uint64_t ms = 0;

	for (int i = 0; i < 6; i++)
		ms = ms << 8 | u->b[i];
	return ms;
}
