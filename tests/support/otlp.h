/*
 * An OTLP/HTTP trace receiver for tests: keel's own HTTP server with the one
 * route a JSON-encoding exporter posts to (/v1/traces).  It keeps every span
 * it receives, for the test to look up by trace, name and parent.
 */
#ifndef KEEL_TESTS_OTLP_H
#define KEEL_TESTS_OTLP_H

#include <jansson.h>
#include <stddef.h>

/* Start the receiver on a free loopback port; its base URL ("http://127.0.0.1:N"). */
const char *otlp_start(void);
void otlp_stop(void);

/* The received span of trace named name (a new reference); waits up to 5 s for it, then NULL. */
json_t *otlp_span(const char *trace, const char *name);

/*
 * The received spans of trace whose parent span is parent (a new reference to an array);
 * waits up to 5 s for at least count of them.
 */
json_t *otlp_children(const char *trace, const char *parent, size_t count);

/* The value of a span's attribute (string, or an integer as OTLP/JSON writes it: text). */
const char *otlp_attr(const json_t *span, const char *key);

/* A span's time in Unix nanoseconds (field "startTimeUnixNano" or "endTimeUnixNano"). */
unsigned long long otlp_time(const json_t *span, const char *field);

#endif
