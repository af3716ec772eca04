/* Unit tests for src/core/uuid.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"

static void
v7_has_version_variant_and_time(void **state)
{
	(void)state;
	uint64_t before = keel_clock_realtime_ns() / 1000000;
	keel_uuid u;
	char text[KEEL_UUID_STRLEN + 1];

	keel_uuid_v7(&u);
	uint64_t after = keel_clock_realtime_ns() / 1000000;

	assert_int_equal(u.b[6] >> 4, 7);
	assert_int_equal(u.b[8] >> 6, 2);
	assert_true(keel_uuid_v7_millis(&u) >= before);
	assert_true(keel_uuid_v7_millis(&u) <= after);
	keel_uuid_format(&u, text);
	assert_int_equal(strlen(text), 36);
	assert_int_equal(text[14], '7');
	assert_true(strchr("89ab", text[19]) != NULL);
}

static void
v7_strictly_increasing(void **state)
{
	(void)state;
	enum { N = 20000 };
	char *prev = malloc(KEEL_UUID_STRLEN + 1), *cur = malloc(KEEL_UUID_STRLEN + 1);
	keel_uuid u;

	keel_uuid_v7(&u);
	keel_uuid_format(&u, prev);
	for (int i = 0; i < N; i++) {
		keel_uuid_v7(&u);
		keel_uuid_format(&u, cur);
		assert_true(strcmp(prev, cur) < 0); /* text order == byte order == time order */
		char *t = prev;

		prev = cur;
		cur = t;
	}
	free(prev);
	free(cur);
}

static void
parse_round_trip_and_rejects(void **state)
{
	(void)state;
	keel_uuid u, v;
	char text[KEEL_UUID_STRLEN + 1];

	keel_uuid_v7(&u);
	keel_uuid_format(&u, text);
	assert_true(keel_uuid_parse(text, &v));
	assert_memory_equal(u.b, v.b, 16);
	assert_true(keel_uuid_valid("0192F3A4-7B1C-7D2E-8F00-0123456789AB"));
	assert_false(keel_uuid_valid(""));
	assert_false(keel_uuid_valid("not-a-uuid"));
	assert_false(keel_uuid_valid("0192f3a4-7b1c-7d2e-8f00-0123456789a"));   /* short */
	assert_false(keel_uuid_valid("0192f3a4-7b1c-7d2e-8f00-0123456789abc")); /* long */
	assert_false(keel_uuid_valid("0192f3a47b1c-7d2e-8f00-0123456789ab-"));  /* dashes moved */
	assert_false(keel_uuid_valid("0192f3a4-7b1c-7d2e-8f00-0123456789ag"));  /* not hex */
	assert_false(keel_uuid_valid("{0192f3a4-7b1c-7d2e-8f00-0123456789a}"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(v7_has_version_variant_and_time),
	    cmocka_unit_test(v7_strictly_increasing),
	    cmocka_unit_test(parse_round_trip_and_rejects),
	};

	return cmocka_run_group_tests_name("core_uuid", tests, NULL, NULL);
}
