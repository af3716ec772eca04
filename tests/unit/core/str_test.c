/* Unit tests for src/core/str.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/str.h"

#define VALID(s)   assert_true(keel_utf8_valid((s), sizeof(s) - 1))
#define INVALID(s) assert_false(keel_utf8_valid((s), sizeof(s) - 1))

static void
utf8_accepts_well_formed(void **state)
{
	(void)state;
	VALID("");
	VALID("plain ascii");
	VALID("caf\xc3\xa9");      /* é */
	VALID("\xe2\x82\xac");     /* € */
	VALID("\xf0\x9f\x9a\xa2"); /* 🚢 */
	VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
	VALID("\xed\x9f\xbf");     /* U+D7FF, just below surrogates */
}

static void
utf8_rejects_ill_formed(void **state)
{
	(void)state;
	INVALID("a\x00z");           /* NUL */
	INVALID("\xc0\xaf");         /* overlong / */
	INVALID("\xe0\x80\xaf");     /* overlong */
	INVALID("\xf0\x80\x80\xaf"); /* overlong */
	INVALID("\xed\xa0\x80");     /* surrogate U+D800 */
	INVALID("\xf4\x90\x80\x80"); /* past U+10FFFF */
	INVALID("\xff");
	INVALID("\x80");     /* lone continuation */
	INVALID("\xc3");     /* truncated */
	INVALID("\xe2\x82"); /* truncated */
	INVALID("\xc3\x28"); /* bad continuation */
}

static void
utf8_length_counts_code_points(void **state)
{
	(void)state;
	assert_int_equal(keel_utf8_length("caf\xc3\xa9", 5), 4);
	assert_int_equal(keel_utf8_length("\xf0\x9f\x9a\xa2!", 5), 2);
	assert_int_equal(keel_utf8_length("", 0), 0);
}

static void
token_sanity(void **state)
{
	(void)state;
	assert_true(keel_token_sane("abc-DEF_1.2", 128));
	assert_false(keel_token_sane("", 128));
	assert_false(keel_token_sane("has space", 128));
	assert_false(keel_token_sane("new\nline", 128));
	assert_false(keel_token_sane("quote\"", 128));
	assert_true(keel_token_sane("abcd", 4));
	assert_false(keel_token_sane("abcde", 4));
}

static void
trim_and_buffer(void **state)
{
	(void)state;
	char s1[] = "  hi there \t\n";
	char s2[] = "   ";
	char s3[] = "x";

	assert_string_equal(keel_str_trim(s1), "hi there");
	assert_string_equal(keel_str_trim(s2), "");
	assert_string_equal(keel_str_trim(s3), "x");

	keel_arena *a = keel_arena_create(0);
	keel_buf b;

	keel_buf_init(&b, a);
	for (int i = 0; i < 1000; i++)
		keel_buf_printf(&b, "%d,", i % 10);
	keel_buf_puts(&b, "end");
	assert_int_equal(b.len, 2003);
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data, "0,1,2,", 6);
	assert_string_equal(b.data + 2000, "end");
	keel_arena_destroy(a);
}

static void
b64url_chars_are_exactly_the_alphabet(void **state)
{
	(void)state;
	assert_true(keel_b64url_chars(""));
	assert_true(keel_b64url_chars("AZaz09-_"));
	assert_false(keel_b64url_chars("ab+c"));
	assert_false(keel_b64url_chars("ab/c"));
	assert_false(keel_b64url_chars("abc="));
	assert_false(keel_b64url_chars("ab c"));
	assert_false(keel_b64url_chars("ab\xff"));
	assert_false(keel_b64url_chars("\xc3\xbf"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(b64url_chars_are_exactly_the_alphabet),
	    cmocka_unit_test(utf8_accepts_well_formed),
	    cmocka_unit_test(utf8_rejects_ill_formed),
	    cmocka_unit_test(utf8_length_counts_code_points),
	    cmocka_unit_test(token_sanity),
	    cmocka_unit_test(trim_and_buffer),
	};

	return cmocka_run_group_tests_name("core_str", tests, NULL, NULL);
}
