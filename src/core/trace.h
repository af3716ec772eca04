/*
 * W3C Trace Context: trace and span ids, the traceparent header.
 */
#ifndef KEEL_CORE_TRACE_H
#define KEEL_CORE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#define KEEL_TRACE_ID_HEX    32
#define KEEL_SPAN_ID_HEX     16
#define KEEL_TRACEPARENT_LEN 55 /* 00-<32>-<16>-<2> */
#define KEEL_TRACESTATE_MAX  512

/*
 * Parse a traceparent header ("00-<trace id>-<parent id>-<flags>", lowercase
 * hex; a higher version may append fields).  False for anything malformed,
 * for version ff and for all-zero ids: then the header is ignored.
 */
bool keel_traceparent_parse(const char *header, uint8_t trace_id[16], uint8_t parent_id[8],
                            bool *sampled);

/*
 * A span's place in its trace, handed to code that records child spans of it
 * (database round trips, Kafka produce): they share trace_id, take span_id as
 * their parent, and are recorded only when sampled.
 */
typedef struct keel_trace_ref {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	bool sampled;
} keel_trace_ref;

/* Random ids that are not all zero. */
void keel_trace_new_id(uint8_t *id, int len);

/* Lowercase hex of id[0..len) into out[2 * len + 1]. */
void keel_trace_hex(const uint8_t *id, int len, char *out);

/* The traceparent of a span, into out[KEEL_TRACEPARENT_LEN + 1]. */
void keel_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], bool sampled,
                             char *out);

/*
 * The trace-id-ratio sampler of OpenTelemetry: sampled when the trace id's
 * last 8 bytes, as a big-endian integer, fall below ratio * 2^64.
 */
bool keel_trace_ratio_sampled(const uint8_t trace_id[16], double ratio);

#endif
