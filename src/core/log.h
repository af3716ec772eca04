/*
 * Structured logging: one JSON object per line on stderr.
 *
 * Every line has "ts", "level" and "msg"; callers add fields as a jansson
 * object.  Lines are written with a single write(2), so lines from several
 * threads never interleave.  Nothing secret is ever passed here: callers log
 * ids and outcomes, never passwords, tokens, hashes or connection strings.
 */
#ifndef KEEL_CORE_LOG_H
#define KEEL_CORE_LOG_H

#include <jansson.h>
#include <stdbool.h>

typedef enum keel_log_level {
	KEEL_LOG_DEBUG = 0,
	KEEL_LOG_INFO = 1,
	KEEL_LOG_WARN = 2,
	KEEL_LOG_ERROR = 3,
} keel_log_level;

/* Set the threshold; called once from main before threads start. */
void keel_log_set_level(keel_log_level level);

/* Send lines to fd instead of stderr (tests); called before threads start. */
void keel_log_set_fd(int fd);

bool keel_log_enabled(keel_log_level level);

/* Parse "debug|info|warn|error"; false when unknown. */
bool keel_log_level_parse(const char *s, keel_log_level *out);

/*
 * The request a thread is working for: while set, every line the thread writes carries
 * these ids (those not NULL) as "request_id", "trace_id", "span_id" and "tenant_id", unless
 * the line sets them itself.  ctx and its strings must stay valid until the context is set
 * again; NULL clears it.  The HTTP server sets it around each handler and offloaded job.
 */
typedef struct keel_log_context {
	const char *request_id, *trace_id, *span_id, *tenant_id;
} keel_log_context;

void keel_log_context_set(const keel_log_context *ctx);

/* Write one line with msg and the members of fields (stolen; may be NULL). */
void keel_log_json(keel_log_level level, const char *msg, json_t *fields);

/* printf-style message without extra fields. */
__attribute__((format(printf, 2, 3))) void keel_log(keel_log_level level, const char *fmt, ...);

#define keel_log_debug(...) keel_log(KEEL_LOG_DEBUG, __VA_ARGS__)
#define keel_log_info(...)  keel_log(KEEL_LOG_INFO, __VA_ARGS__)
#define keel_log_warn(...)  keel_log(KEEL_LOG_WARN, __VA_ARGS__)
#define keel_log_error(...) keel_log(KEEL_LOG_ERROR, __VA_ARGS__)

#endif
