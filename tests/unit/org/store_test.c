/*
 * Unit tests for the organization list's statement choice and parameters
 * (org_store_list_call in src/org/org_store.c: the LIKE pattern of ?q= and
 * whether the trigram index can serve it) and the code rule of
 * src/org/org_api.c (org_code_valid).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/arena.h"
#include "org/org_int.h"

#define ID "018f2a4c-5b6d-7e8f-9a0b-1c2d3e4f5a6b"

static keel_arena *arena;

static int
arena_up(void **state)
{
	(void)state;
	arena = keel_arena_create(4096);
	return arena != NULL ? 0 : -1;
}

static int
arena_down(void **state)
{
	(void)state;
	keel_arena_destroy(arena);
	return 0;
}

/* org_store_list_call for status and q: the statement's name; *pattern gets params[3]. */
static const char *
list_stmt(const char *status, const char *q, const char **pattern)
{
	org_list_call call;

	org_store_list_call(arena, status, q, ID, 25, &call);
	assert_string_equal(call.params[0], ID);
	assert_ptr_equal(call.params[1], call.limit);
	assert_string_equal(call.limit, "25");
	if (status != NULL)
		assert_string_equal(call.params[2], status);
	else
		assert_null(call.params[2]);
	*pattern = call.params[3];
	return call.st->name;
}

static void
statement_follows_status_and_q(void **state)
{
	(void)state;
	const char *pat;

	assert_string_equal(list_stmt(NULL, NULL, &pat), "org_list");
	assert_null(pat);
	assert_string_equal(list_stmt("active", NULL, &pat), "org_list_status");
	assert_null(pat);
	assert_string_equal(list_stmt(NULL, "acme", &pat), "org_list_q");
	assert_string_equal(list_stmt("archived", "acme", &pat), "org_list_status_q");
}

static void
q_without_a_trigram_reads_rows(void **state)
{
	(void)state;
	const char *pat;

	/* no three letters or digits in a row: the trigram index finds nothing to use */
	assert_string_equal(list_stmt(NULL, "ab", &pat), "org_list_q_rows");
	assert_string_equal(list_stmt(NULL, "a-b-c", &pat), "org_list_q_rows");
	assert_string_equal(list_stmt("active", "é é", &pat), "org_list_status_q_rows");
	assert_string_equal(list_stmt(NULL, "%_%", &pat), "org_list_q_rows");
	/* three in a row anywhere will do */
	assert_string_equal(list_stmt(NULL, "a-bc1", &pat), "org_list_q");
	assert_string_equal(list_stmt(NULL, "x 007", &pat), "org_list_q");
}

static void
q_is_a_lowercase_substring_with_wildcards_escaped(void **state)
{
	(void)state;
	const char *pat;

	list_stmt(NULL, "AcMe", &pat);
	assert_string_equal(pat, "%acme%");
	list_stmt(NULL, "50%_off\\", &pat);
	assert_string_equal(pat, "%50\\%\\_off\\\\%");
	list_stmt(NULL, "", &pat);
	assert_string_equal(pat, "%%");
	/* bytes past ASCII pass unchanged (the statement lowercases them in SQL) */
	list_stmt(NULL, "CAFÉ", &pat);
	assert_string_equal(pat, "%cafÉ%");
}

static void
codes_follow_the_rule(void **state)
{
	(void)state;
	const char *good[] = {"A", "z", "0", "Ab_1-x", "A-", "a_", "01234567890123456789012345678901",
	                      NULL};
	const char *bad[] = {
	    "", "-a", "_a", "a b", "a.b", "a/b", "é", "012345678901234567890123456789012", NULL};

	for (const char *const *c = good; *c != NULL; c++)
		if (!org_code_valid(*c))
			fail_msg("\"%s\" was refused", *c);
	for (const char *const *c = bad; *c != NULL; c++)
		if (org_code_valid(*c))
			fail_msg("\"%s\" was accepted", *c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(statement_follows_status_and_q),
	    cmocka_unit_test(q_without_a_trigram_reads_rows),
	    cmocka_unit_test(q_is_a_lowercase_substring_with_wildcards_escaped),
	    cmocka_unit_test(codes_follow_the_rule),
	};

	return cmocka_run_group_tests(tests, arena_up, arena_down);
}
