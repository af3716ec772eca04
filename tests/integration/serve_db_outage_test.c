/*
 * PostgreSQL going away and coming back while keel runs: /readyz turns 503
 * and back to 200 by itself, without restarting keel.  Stops the shared test
 * cluster, so CTest runs it alone (RUN_SERIAL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt.h"

static long
readyz(const kt_keel *k)
{
	kt_resp *r = kt_request(k->base, "GET", "/readyz", NULL, NULL, 0);
	long status = r->status;

	kt_resp_free(r);
	return status;
}

/* Poll /readyz until it answers want; returns the milliseconds it took, or -1. */
static long long
wait_for(const kt_keel *k, long want, long long limit_ms)
{
	long long t0 = kt_now_ms();

	while (kt_now_ms() - t0 < limit_ms) {
		if (readyz(k) == want)
			return kt_now_ms() - t0;
		usleep(100000);
	}
	return -1;
}

static void
readyz_follows_the_database(void **state)
{
	(void)state;
	char *out;
	const char *up[] = {"migrate", "up", NULL};

	kt_db_fresh("outage");
	assert_int_equal(kt_keel_run(up, NULL, &out), 0);
	free(out);

	const char *env[] = {"KEEL_DB_CONNECT_TIMEOUT=2s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);

	assert_int_equal(readyz(k), 200);
	assert_int_equal(kt_dev_db("stop"), 0);
	assert_true(wait_for(k, 503, 10000) >= 0);

	/* the process itself stays alive and answers */
	kt_resp *r = kt_request(k->base, "GET", "/healthz", NULL, NULL, 0);

	assert_int_equal(r->status, 200);
	kt_resp_free(r);

	assert_int_equal(kt_dev_db("start"), 0);
	assert_true(wait_for(k, 200, 15000) >= 0);
	assert_int_equal(kt_keel_stop(k), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(readyz_follows_the_database),
	};

	return cmocka_run_group_tests_name("serve_db_outage", tests, NULL, NULL);
}
