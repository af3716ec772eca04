/*
 * group_fixture_probe: one passing test in a group whose setup or teardown
 * fails as argv[1] says, for tests/support/group_fixture_check (which expects
 * a non-zero exit from every failing case and 0 from "none").
 *
 *   none               the fixtures succeed
 *   setup-returns      the group setup returns -1
 *   setup-asserts      the group setup fails an assertion
 *   teardown-returns   the group teardown returns -1
 *   teardown-asserts   the group teardown fails an assertion
 *   256-failures       256 tests fail (an exit status keeps 8 bits of a count)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

static const char *mode = "none";

static int
fixture(const char *name)
{
	const char *rest = strncmp(mode, name, strlen(name)) == 0 ? mode + strlen(name) : "";

	if (strcmp(rest, "-returns") == 0)
		return -1;
	if (strcmp(rest, "-asserts") == 0)
		fail_msg("%s fails on purpose", name);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	return fixture("setup");
}

static int
teardown(void **state)
{
	(void)state;
	return fixture("teardown");
}

static void
passes(void **state)
{
	(void)state;
	assert_true(1);
}

static void
fails(void **state)
{
	(void)state;
	fail_msg("fails on purpose");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(passes),
	};
	struct CMUnitTest failing[256];

	if (argc > 1)
		mode = argv[1];
	if (strcmp(mode, "256-failures") == 0) {
		for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++)
			failing[i] = (struct CMUnitTest)cmocka_unit_test(fails);
		return cmocka_run_group_tests_name("group_fixture_probe", failing, NULL, NULL);
	}
	return cmocka_run_group_tests_name("group_fixture_probe", tests, setup, teardown);
}
