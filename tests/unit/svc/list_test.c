/*
 * Unit tests for the list renderer of src/svc/page.c: {"data":[...],"next_cursor":...} in
 * the compact style of every body, whether the items come as PostgreSQL's JSON text or as
 * jansson values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "svc/svc.h"

static void
an_empty_list(void **state)
{
	(void)state;
	keel_arena *a = keel_arena_create(1024);
	keel_svc_list l;

	keel_svc_list_begin(&l, a);
	assert_string_equal(keel_svc_list_end(&l, NULL), "{\"data\":[],\"next_cursor\":null}");
	assert_int_equal(l.count, 0);
	assert_int_equal(l.out.len, strlen(l.out.data));
	keel_arena_destroy(a);
}

/* PostgreSQL's items are made compact; jansson's are dumped compact; a cursor is a string. */
static void
items_of_both_kinds_in_one_style(void **state)
{
	(void)state;
	keel_arena *a = keel_arena_create(64);
	keel_svc_list l;
	json_t *item = json_pack("{s:s, s:[i, i]}", "id", "b", "n", 1, 2);

	keel_svc_list_begin(&l, a);
	keel_svc_list_add(&l, "{\"id\" : \"a b\", \"settings\" : {\"k\": [1, 2]}}");
	keel_svc_list_add_json(&l, item);
	for (int i = 0; i < 40; i++) /* the buffer grows past its first block */
		keel_svc_list_add(&l, "{\"id\" : \"c\"}");
	const char *text = keel_svc_list_end(&l, "Abc_-1");
	const char *head = "{\"data\":[{\"id\":\"a b\",\"settings\":{\"k\":[1,2]}},"
	                   "{\"id\":\"b\",\"n\":[1,2]},{\"id\":\"c\"},";

	assert_int_equal(l.count, 42);
	assert_memory_equal(text, head, strlen(head));
	assert_string_equal(text + strlen(text) - strlen("{\"id\":\"c\"}],\"next_cursor\":\"Abc_-1\"}"),
	                    "{\"id\":\"c\"}],\"next_cursor\":\"Abc_-1\"}");
	assert_int_equal(l.out.len, strlen(text));
	/* the whole text is JSON whose compact rendering is itself */
	json_t *v = json_loads(text, 0, NULL);
	char *again = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_string_equal(again, text);
	free(again);
	json_decref(v);
	json_decref(item);
	keel_arena_destroy(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(an_empty_list),
	    cmocka_unit_test(items_of_both_kinds_in_one_style),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
