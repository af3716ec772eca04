/*
 * Unit tests for src/db/json_text.c: PostgreSQL's JSON text made compact, as jansson's
 * JSON_COMPACT writes it, strings left byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

/* keel_db_json_compact() of src into a buffer of exactly the room it asks for. */
static char *
compact(const char *src)
{
	size_t len = strlen(src);
	char *dst = malloc(len + 1);
	size_t n = keel_db_json_compact(dst, src, len);

	assert_int_equal(n, strlen(dst));
	return dst;
}

#define assert_compact(src, want)                                                                  \
	do {                                                                                           \
		char *got_ = compact(src);                                                                 \
		assert_string_equal(got_, (want));                                                         \
		free(got_);                                                                                \
	} while (0)

/* What json_build_object() and jsonb write, and what jansson writes for the same value. */
static void
postgresql_styles_become_janssons_compact_style(void **state)
{
	(void)state;
	const char *pg = "{\"id\" : \"0193a0a0-0000-7000-8000-000000000001\", \"version\" : 1,"
	                 " \"settings\" : {\"a\": [1, 2, {\"b\": null}], \"c\": true},"
	                 " \"description\" : \"\", \"parent_id\" : null,"
	                 " \"created_at\" : \"2026-12-07T16:05:31.123Z\"}";
	json_error_t err;
	json_t *v = json_loads(pg, 0, &err);
	char *want = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_non_null(v);
	assert_compact(pg, want);
	free(want);
	json_decref(v);
	assert_compact("[1, 2]", "[1,2]");
	assert_compact("{}", "{}");
	assert_compact("", "");
	assert_compact(" \n\t\r{ \"a\" :\n 1 }\n", "{\"a\":1}");
}

/* White space inside strings, escaped quotes and backslashes stay; so does any UTF-8. */
static void
strings_are_copied_byte_for_byte(void **state)
{
	(void)state;
	assert_compact("{\"a b\" : \"x : y, z\"}", "{\"a b\":\"x : y, z\"}");
	assert_compact("[\"say \\\"hi\\\" , ok\", \"c:\\\\\", \" \"]",
	               "[\"say \\\"hi\\\" , ok\",\"c:\\\\\",\" \"]");
	assert_compact("[\"\\\\\" , \"\\\\\\\"  \"]", "[\"\\\\\",\"\\\\\\\"  \"]");
	assert_compact("{\"name\" : \"Zürich — 東京 \\u0000 \\n\"}",
	               "{\"name\":\"Zürich — 東京 \\u0000 \\n\"}");
	/* long strings go word by word: quotes and backslashes at every offset of a word */
	for (int at = 0; at < 24; at++) {
		char src[64], want[64];

		memset(src, 'x', sizeof(src));
		src[0] = '[';
		src[1] = '"';
		src[2 + at] = '\\';
		src[3 + at] = '"';
		memcpy(src + 40, "\" , 1]", 7);
		memcpy(want, src, 40);
		memcpy(want + 40, "\",1]", 5);
		assert_compact(src, want);
	}
}

/* Every offset of quotes and escapes within a word gives jansson's output. */
static void
any_word_boundary(void **state)
{
	(void)state;
	for (int pad = 0; pad < 20; pad++) {
		char *src = malloc(4 * (size_t)pad + 64), *p = src;

		p += sprintf(p, "[%*s\"%.*s\\\"b\\\\\" , \"%.*s\" ,\n{\"k%.*s\" : 1} ]", pad, "", pad,
		             "aaaaaaaaaaaaaaaaaaaa", pad, "cccccccccccccccccccc", pad,
		             "dddddddddddddddddddd");
		json_error_t err;
		json_t *v = json_loads(src, 0, &err);

		if (v == NULL)
			fail_msg("%s: %s", src, err.text);
		char *want = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

		assert_compact(src, want);
		free(want);
		json_decref(v);
		free(src);
	}
}

/* Only len bytes are read: a string cut short (no closing quote) ends the copy. */
static void
reads_only_len_bytes(void **state)
{
	(void)state;
	const char *src = "{\"a\" : \"unterminated and long string ";
	char dst[64];
	size_t n = keel_db_json_compact(dst, src, 12);

	assert_int_equal(n, 10);
	assert_string_equal(dst, "{\"a\":\"unte");
	n = keel_db_json_compact(dst, "[\"ab\\", 5);
	assert_string_equal(dst, "[\"ab\\");
	assert_int_equal(n, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(postgresql_styles_become_janssons_compact_style),
	    cmocka_unit_test(strings_are_copied_byte_for_byte),
	    cmocka_unit_test(any_word_boundary),
	    cmocka_unit_test(reads_only_len_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
