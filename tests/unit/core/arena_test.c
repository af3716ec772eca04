/* Unit tests for src/core/arena.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/arena.h"

static void
alloc_is_aligned_and_distinct(void **state)
{
	(void)state;
	keel_arena *a = keel_arena_create(0);
	char *prev = NULL;

	for (size_t n = 1; n < 3000; n += 7) {
		char *p = keel_arena_alloc(a, n);

		assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
		memset(p, 0xAB, n); /* ASan catches any overlap or overflow */
		assert_ptr_not_equal(p, prev);
		prev = p;
	}
	assert_true(keel_arena_used(a) > 3000);
	keel_arena_destroy(a);
}

static void
big_allocations_get_own_blocks(void **state)
{
	(void)state;
	keel_arena *a = keel_arena_create(1024);
	char *small = keel_arena_alloc(a, 16);
	char *big = keel_arena_alloc(a, 1 << 20);
	char *small2 = keel_arena_alloc(a, 16);

	memset(big, 1, 1 << 20);
	memset(small, 2, 16);
	memset(small2, 3, 16);
	assert_int_equal(big[0], 1);
	assert_int_equal(big[(1 << 20) - 1], 1);
	assert_int_equal(small[15], 2);
	keel_arena_destroy(a);
}

static int order[4];
static int norder;

static void
record(void *arg)
{
	order[norder++] = (int)(intptr_t)arg;
}

static void
defers_run_newest_first(void **state)
{
	(void)state;
	keel_arena *a = keel_arena_create(0);

	norder = 0;
	keel_arena_defer(a, record, (void *)1);
	keel_arena_defer(a, record, (void *)2);
	keel_arena_defer(a, record, (void *)3);
	assert_int_equal(norder, 0);
	keel_arena_destroy(a);
	assert_int_equal(norder, 3);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
}

static void
strings_and_printf(void **state)
{
	(void)state;
	keel_arena *a = keel_arena_create(0);

	assert_string_equal(keel_arena_strdup(a, "keel"), "keel");
	assert_string_equal(keel_arena_strndup(a, "keelson", 4), "keel");
	assert_string_equal(keel_arena_strndup(a, "ab", 10), "ab");
	assert_string_equal(keel_arena_printf(a, "%s-%d", "x", 42), "x-42");
	char *zero = keel_arena_calloc(a, 100, 3);

	for (int i = 0; i < 300; i++)
		assert_int_equal(zero[i], 0);
	keel_arena_destroy(a);
	keel_arena_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(alloc_is_aligned_and_distinct),
	    cmocka_unit_test(big_allocations_get_own_blocks),
	    cmocka_unit_test(defers_run_newest_first),
	    cmocka_unit_test(strings_and_printf),
	};

	return cmocka_run_group_tests_name("core_arena", tests, NULL, NULL);
}
