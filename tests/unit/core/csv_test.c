/* Unit tests for src/core/csv.c: RFC 4180 fields and the spreadsheet guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/csv.h"

/* One field written as text (guard) or as it is, alone in its record. */
static const char *
one(keel_arena *a, const char *s, size_t n, bool text)
{
	keel_buf b;

	keel_buf_init(&b, a);
	(text ? keel_csv_text : keel_csv_field)(&b, true, s, n);
	keel_csv_end(&b);
	return b.data;
}

static void
fields_are_quoted_only_when_they_must_be(void **state)
{
	keel_arena *a = keel_arena_create(0);

	(void)state;
	assert_string_equal(one(a, "plain", 5, false), "plain\r\n");
	assert_string_equal(one(a, "", 0, false), "\r\n");
	assert_string_equal(one(a, "a,b", 3, false), "\"a,b\"\r\n");
	assert_string_equal(one(a, "say \"hi\"", 8, false), "\"say \"\"hi\"\"\"\r\n");
	assert_string_equal(one(a, "\"", 1, false), "\"\"\"\"\r\n");
	assert_string_equal(one(a, "two\nlines", 9, false), "\"two\nlines\"\r\n");
	assert_string_equal(one(a, "cr\r", 3, false), "\"cr\r\"\r\n");
	assert_string_equal(one(a, " spaced ", 8, false), " spaced \r\n");
	assert_string_equal(one(a, "Zürich €", strlen("Zürich €"), false), "Zürich €\r\n");
	keel_arena_destroy(a);
}

static void
money_and_numbers_are_never_changed(void **state)
{
	keel_arena *a = keel_arena_create(0);

	(void)state;
	assert_string_equal(one(a, "-12.50", 6, false), "-12.50\r\n");
	assert_string_equal(one(a, "+1", 2, false), "+1\r\n");
	assert_string_equal(one(a, "=1+2", 4, false), "=1+2\r\n");
	keel_arena_destroy(a);
}

static void
text_that_a_spreadsheet_would_run_is_guarded(void **state)
{
	keel_arena *a = keel_arena_create(0);

	(void)state;
	assert_string_equal(one(a, "=HYPERLINK(\"x\")", 15, true), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
	assert_string_equal(one(a, "+1", 2, true), "'+1\r\n");
	assert_string_equal(one(a, "-1", 2, true), "'-1\r\n");
	assert_string_equal(one(a, "@sum", 4, true), "'@sum\r\n");
	assert_string_equal(one(a, "\tx", 2, true), "'\tx\r\n");
	assert_string_equal(one(a, "\rx", 2, true), "\"'\rx\"\r\n");
	assert_string_equal(one(a, "'quoted", 7, true), "''quoted\r\n");
	assert_string_equal(one(a, "a=1", 3, true), "a=1\r\n");
	assert_string_equal(one(a, "", 0, true), "\r\n");
	assert_false(keel_csv_guarded("", 0));
	assert_false(keel_csv_guarded("\0=", 2));
	keel_arena_destroy(a);
}

static void
records_separate_fields_with_commas(void **state)
{
	keel_arena *a = keel_arena_create(0);
	keel_buf b;

	(void)state;
	keel_buf_init(&b, a);
	keel_csv_field(&b, true, "id", 2);
	keel_csv_text(&b, false, "Cash, petty", 11);
	keel_csv_field(&b, false, "", 0);
	keel_csv_end(&b);
	keel_csv_field(&b, true, "a\0b", 3);
	keel_csv_end(&b);
	assert_int_equal(b.len, strlen("id,\"Cash, petty\",\r\n") + 5);
	assert_memory_equal(b.data, "id,\"Cash, petty\",\r\na\0b\r\n", b.len);
	keel_arena_destroy(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fields_are_quoted_only_when_they_must_be),
	    cmocka_unit_test(money_and_numbers_are_never_changed),
	    cmocka_unit_test(text_that_a_spreadsheet_would_run_is_guarded),
	    cmocka_unit_test(records_separate_fields_with_commas),
	};

	return cmocka_run_group_tests_name("core_csv", tests, NULL, NULL);
}
