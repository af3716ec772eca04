/*
 * keel_periodic: runs at once, again after retry_ms when a run failed and
 * every_ms when it worked, and a stop wakes a sleeping thread and waits for
 * a run in progress.  No wall-clock bounds: runs are counted, and a stop
 * during a day-long sleep must simply return.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>

#include "core/periodic.h"

#define DAY_MS (24LL * 3600 * 1000)

typedef struct counter {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int runs;
	int fail_first; /* runs that return false before the others return true */
	bool saw_stopping;
} counter;

static bool
count_run(void *arg, keel_periodic *p)
{
	counter *c = arg;
	bool stopping = keel_periodic_stopping(p); /* before the run is counted: no stop asked yet */

	pthread_mutex_lock(&c->lock);
	c->saw_stopping |= stopping;
	bool ok = ++c->runs > c->fail_first;

	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void
wait_runs(counter *c, int n)
{
	pthread_mutex_lock(&c->lock);
	while (c->runs < n)
		pthread_cond_wait(&c->changed, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static void
runs_at_once_then_waits_its_period(void **state)
{
	(void)state;
	counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false};
	keel_periodic *p = keel_periodic_start("test", count_run, &c, DAY_MS, DAY_MS);

	assert_non_null(p);
	wait_runs(&c, 1);
	keel_periodic_stop(p); /* wakes the day-long sleep */
	assert_int_equal(c.runs, 1);
	assert_false(c.saw_stopping);
}

static void
failed_runs_are_retried_sooner(void **state)
{
	(void)state;
	counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 3, false};
	keel_periodic *p = keel_periodic_start("test", count_run, &c, DAY_MS, 1);

	assert_non_null(p);
	wait_runs(&c, 4); /* three failures retried after 1 ms, then a success */
	keel_periodic_stop(p);
	assert_int_equal(c.runs, 4); /* after the success it sleeps a day */
}

static void
stop_of_nothing_is_a_no_op(void **state)
{
	(void)state;
	keel_periodic_stop(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(runs_at_once_then_waits_its_period),
	    cmocka_unit_test(failed_runs_are_retried_sooner),
	    cmocka_unit_test(stop_of_nothing_is_a_no_op),
	};

	return cmocka_run_group_tests_name("core_periodic", tests, NULL, NULL);
}
