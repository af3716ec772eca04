/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing is
 * strict about what version 00 defines and lenient about later versions'
 * extra fields, as the specification asks.
 */
#include "core/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase is not allowed */
}

/* n bytes from 2n lowercase hex characters; false when any is not hex. */
static bool
unhex(const char *s, uint8_t *out, int n)
{
	for (int i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool
all_zero(const uint8_t *b, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

bool
keel_traceparent_parse(const char *h, uint8_t trace_id[16], uint8_t parent_id[8], bool *sampled)
{
	uint8_t version, flags;

	if (h == NULL || strlen(h) < KEEL_TRACEPARENT_LEN || !unhex(h, &version, 1) || h[2] != '-' ||
	    h[35] != '-' || h[52] != '-' || version == 0xff)
		return false;
	if (version == 0 && h[KEEL_TRACEPARENT_LEN] != '\0')
		return false;
	if (version > 0 && h[KEEL_TRACEPARENT_LEN] != '\0' && h[KEEL_TRACEPARENT_LEN] != '-')
		return false;
	if (!unhex(h + 3, trace_id, 16) || !unhex(h + 36, parent_id, 8) || !unhex(h + 53, &flags, 1))
		return false;
	if (all_zero(trace_id, 16) || all_zero(parent_id, 8))
		return false;
	*sampled = (flags & 1) != 0;
	return true;
}

void
keel_trace_new_id(uint8_t *id, int len)
{
	/*
	 * The kernel's randomness, fetched in blocks: a request makes several ids
	 * (its span, its round trips' spans), and a system call for each cost
	 * more than the rest of recording a span.  Ids are not secrets; a thread
	 * only ever hands out each byte once.  len is at most 16.
	 */
	static _Thread_local struct {
		uint8_t bytes[256]; /* getrandom(2) always fills up to 256 bytes at once */
		size_t used;
	} pool = {.used = sizeof(pool.bytes)};

	do {
		if (pool.used + (size_t)len > sizeof(pool.bytes)) {
			if (getrandom(pool.bytes, sizeof(pool.bytes), 0) != (ssize_t)sizeof(pool.bytes))
				abort();
			pool.used = 0;
		}
		memcpy(id, pool.bytes + pool.used, (size_t)len);
		pool.used += (size_t)len;
	} while (all_zero(id, len));
}

void
keel_trace_hex(const uint8_t *id, int len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < len; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 0xF];
	}
	out[2 * len] = '\0';
}

void
keel_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], bool sampled,
                        char *out)
{
	char t[KEEL_TRACE_ID_HEX + 1], s[KEEL_SPAN_ID_HEX + 1];

	keel_trace_hex(trace_id, 16, t);
	keel_trace_hex(span_id, 8, s);
	snprintf(out, KEEL_TRACEPARENT_LEN + 1, "00-%s-%s-%s", t, s, sampled ? "01" : "00");
}

bool
keel_trace_ratio_sampled(const uint8_t trace_id[16], double ratio)
{
	uint64_t v = 0;

	if (ratio >= 1.0)
		return true;
	if (ratio <= 0.0)
		return false;
	for (int i = 8; i < 16; i++)
		v = v << 8 | trace_id[i];
	return (double)v < ratio * 18446744073709551616.0;
}
