/* Unit tests for src/core/log.c: JSON lines and the request context of a thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static int log_fd; /* where the log writes: a temporary file ... */
static FILE *out;  /* ... read back through a descriptor of its own */

static int
setup(void **state)
{
	(void)state;
	char path[] = "/tmp/keel-log-test.XXXXXX";

	log_fd = mkstemp(path);
	if (log_fd < 0)
		return -1;
	out = fopen(path, "r");
	unlink(path);
	keel_log_set_fd(log_fd);
	keel_log_set_level(KEEL_LOG_INFO);
	return out != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	keel_log_set_fd(STDERR_FILENO);
	close(log_fd);
	fclose(out);
	return 0;
}

/* The lines written since the last call, parsed (a JSON array of objects). */
static json_t *
lines(void)
{
	json_t *all = json_array();
	char buf[4096];

	while (fgets(buf, sizeof(buf), out) != NULL) {
		json_error_t e;
		json_t *j = json_loads(buf, 0, &e);

		if (j == NULL || !json_is_object(j))
			fail_msg("not a JSON object: %s (%s)", buf, e.text);
		json_array_append_new(all, j);
	}
	clearerr(out);
	return all;
}

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
lines_are_json_with_level_and_message(void **state)
{
	(void)state;
	keel_log_warn("disk %d%% full", 93);
	keel_log_debug("below the threshold");
	keel_log_json(KEEL_LOG_ERROR, "with fields", json_pack("{s:i}", "attempt", 3));
	json_t *l = lines();

	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(str(json_array_get(l, 0), "level"), "warn");
	assert_string_equal(str(json_array_get(l, 0), "msg"), "disk 93% full");
	assert_non_null(str(json_array_get(l, 0), "ts"));
	assert_string_equal(str(json_array_get(l, 1), "level"), "error");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "attempt")), 3);
	json_decref(l);
}

static void *
other_thread(void *arg)
{
	(void)arg;
	keel_log_info("from another thread");
	return NULL;
}

/*
 * While a context is set, the thread's lines carry its ids (a line's own value wins, and
 * NULL members are left out); other threads' lines do not; clearing ends it.
 */
static void
the_request_context_joins_the_lines_of_its_thread(void **state)
{
	(void)state;
	keel_log_context ctx = {.request_id = "req-1",
	                        .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
	                        .span_id = "00f067aa0ba902b7"};
	pthread_t t;

	keel_log_context_set(&ctx);
	keel_log_error("database error");
	keel_log_json(KEEL_LOG_INFO, "own id", json_pack("{s:s}", "request_id", "mine"));
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, NULL);
	ctx.tenant_id = "01a21dff-1e4d-7c01-adc4-7ae2269332e8";
	keel_log_info("after sign-in");
	keel_log_context_set(NULL);
	keel_log_info("no request");
	json_t *l = lines();

	assert_int_equal(json_array_size(l), 5);
	json_t *a = json_array_get(l, 0), *b = json_array_get(l, 1), *c = json_array_get(l, 2),
	       *d = json_array_get(l, 3), *e = json_array_get(l, 4);

	assert_string_equal(str(a, "request_id"), "req-1");
	assert_string_equal(str(a, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(str(a, "span_id"), "00f067aa0ba902b7");
	assert_null(json_object_get(a, "tenant_id"));
	assert_string_equal(str(b, "request_id"), "mine");
	assert_string_equal(str(b, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(str(c, "msg"), "from another thread");
	assert_null(json_object_get(c, "request_id"));
	assert_string_equal(str(d, "tenant_id"), "01a21dff-1e4d-7c01-adc4-7ae2269332e8");
	assert_null(json_object_get(e, "request_id"));
	assert_null(json_object_get(e, "trace_id"));
	json_decref(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lines_are_json_with_level_and_message),
	    cmocka_unit_test(the_request_context_joins_the_lines_of_its_thread),
	};

	return cmocka_run_group_tests_name("log", tests, setup, teardown);
}
