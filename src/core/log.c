/*
 * JSON-lines logger.
 *
 * The level and the output descriptor are part of the configuration: set once
 * in main before any thread starts, read-only afterwards.
 */
#include "core/log.h"
#include "core/alloc.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static keel_log_level log_level = KEEL_LOG_INFO;
static _Thread_local const keel_log_context *log_context;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
keel_log_set_level(keel_log_level level)
{
	log_level = level;
}

void
keel_log_set_fd(int fd)
{
	log_fd = fd;
}

bool
keel_log_enabled(keel_log_level level)
{
	return level >= log_level;
}

bool
keel_log_level_parse(const char *s, keel_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (keel_log_level)i;
			return true;
		}
	}
	return false;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return; /* nowhere left to report it */
		p += w;
		n -= (size_t)w;
	}
}

void
keel_log_context_set(const keel_log_context *ctx)
{
	log_context = ctx;
}

/* The context's ids the line does not set itself. */
static void
add_context(json_t *line)
{
	const keel_log_context *c = log_context;
	const char *keys[] = {"request_id", "trace_id", "span_id", "tenant_id"};
	const char *values[] = {c->request_id, c->trace_id, c->span_id, c->tenant_id};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = values[i] != NULL ? json_string(values[i]) : NULL;

		if (v != NULL && json_object_get(line, keys[i]) == NULL)
			json_object_set_new(line, keys[i], v);
		else
			json_decref(v);
	}
}

void
keel_log_json(keel_log_level level, const char *msg, json_t *fields)
{
	if (!keel_log_enabled(level)) {
		json_decref(fields);
		return;
	}
	char ts[KEEL_RFC3339_LEN + 1];

	keel_clock_format(keel_clock_realtime_ns() / 1000000, ts);
	json_t *line = json_object();

	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(level_names[level]));
	json_t *m = json_string(msg);

	json_object_set_new(line, "msg", m != NULL ? m : json_string("(message not valid UTF-8)"));
	if (fields != NULL) {
		json_object_update(line, fields);
		json_decref(fields);
	}
	if (log_context != NULL)
		add_context(line);
	char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	json_decref(line);
	if (text == NULL)
		return;
	size_t len = strlen(text);

	text[len] = '\n'; /* replaces the NUL: written with its length below */
	write_all(log_fd, text, len + 1);
	free(text);
}

void
keel_log(keel_log_level level, const char *fmt, ...)
{
	if (!keel_log_enabled(level))
		return;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	keel_log_json(level, msg, NULL);
}
