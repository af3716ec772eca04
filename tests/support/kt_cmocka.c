/*
 * kt_cmocka: a failing group setup or teardown fails the program.
 *
 * cmocka 1.1.5 prints "[  FAILED  ] GROUP TEARDOWN" when a group teardown
 * returns non-zero (or fails an assertion) but leaves it out of the count it
 * returns, so main() exits 0 and the failure is hidden: a keel stopped in a
 * teardown with a leak report or a crash would pass.  Every test program is
 * linked with -Wl,--wrap=_cmocka_run_group_tests (keel_add_test in
 * tests/CMakeLists.txt), so cmocka_run_group_tests_name() lands here: the
 * group's fixtures run through checked_* below, and each one that fails adds
 * one to the count main() returns (at most 255, the largest exit status).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

static CMFixtureFunction real_setup, real_teardown;
static int fixture_failures;

/*
 * Run a fixture, counting it failed unless it returns 0.  The count goes up
 * first: a failed assertion inside the fixture jumps back into cmocka and
 * never returns here.
 */
static int
fixture_run(CMFixtureFunction fixture, void **state)
{
	fixture_failures++;
	int rc = fixture(state);

	if (rc == 0)
		fixture_failures--;
	return rc;
}

static int
checked_setup(void **state)
{
	return fixture_run(real_setup, state);
}

static int
checked_teardown(void **state)
{
	return fixture_run(real_teardown, state);
}

int
__wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                               const size_t num_tests, CMFixtureFunction group_setup,
                               CMFixtureFunction group_teardown)
{
	real_setup = group_setup;
	real_teardown = group_teardown;
	fixture_failures = 0;
	int failed = __real__cmocka_run_group_tests(group_name, tests, num_tests,
	                                            group_setup ? checked_setup : NULL,
	                                            group_teardown ? checked_teardown : NULL);

	if (fixture_failures > 0) {
		fflush(stdout);
		fprintf(stderr, "[  FAILED  ] %s: %d group fixture(s) failed\n", group_name,
		        fixture_failures);
		failed += fixture_failures;
	}
	/* main() returns this as its exit status, of which 8 bits remain: 256 failures are not 0 */
	return failed > 255 ? 255 : failed;
}
