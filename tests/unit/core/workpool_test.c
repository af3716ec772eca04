/* Unit tests for src/core/workpool.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/workpool.h"

typedef struct gate {
	pthread_mutex_t lock;
	pthread_cond_t open_cond;
	bool open;
	int started; /* jobs that reached the gate (under lock; open_cond announces each) */
	atomic_int ran;
	atomic_int done;
	atomic_int cancelled;
} gate;

/* Blocks until the test opens the gate: keeps the worker busy on purpose. */
static void
wait_gate(void *arg)
{
	gate *g = arg;

	pthread_mutex_lock(&g->lock);
	g->started++;
	pthread_cond_broadcast(&g->open_cond);
	while (!g->open)
		pthread_cond_wait(&g->open_cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	atomic_fetch_add(&g->ran, 1);
}

/*
 * Wait until n jobs have reached the gate: a worker has taken them off the queue.  The
 * deadline only bounds the wait (a loaded machine may take long to run a thread).
 */
static void
wait_started(gate *g, int n)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&g->lock);
	while (g->started < n && rc == 0)
		rc = pthread_cond_timedwait(&g->open_cond, &g->lock, &until);
	bool started = g->started >= n;

	pthread_mutex_unlock(&g->lock);
	if (!started)
		fail_msg("no worker took the job in 60 s");
}

static void
count_done(void *arg)
{
	gate *g = arg;

	atomic_fetch_add(&g->done, 1);
}

static void
open_gate(gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->open_cond);
	pthread_mutex_unlock(&g->lock);
}

static void
full_queue_refuses_at_once(void **state)
{
	(void)state;
	gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .open_cond = PTHREAD_COND_INITIALIZER};
	keel_workpool *p = keel_workpool_create(1, 2, 0);
	keel_job job = {.run = wait_gate, .done = count_done, .arg = &g};

	assert_true(keel_workpool_submit(p, &job)); /* taken by the worker */
	wait_started(&g, 1);
	assert_int_equal(keel_workpool_waiting(p), 0);
	assert_true(keel_workpool_submit(p, &job)); /* queued */
	assert_true(keel_workpool_submit(p, &job)); /* queued: the queue holds 2 */
	assert_int_equal(keel_workpool_waiting(p), 2);
	assert_false(keel_workpool_submit(p, &job)); /* full: refused, not blocked */
	open_gate(&g);
	keel_workpool_destroy(p); /* finishes what was queued */
	assert_int_equal(g.started, 3);
	assert_int_equal(atomic_load(&g.ran), 3);
	assert_int_equal(atomic_load(&g.done), 3);
}

static void
many_jobs_on_many_threads(void **state)
{
	(void)state;
	gate g = {
	    .lock = PTHREAD_MUTEX_INITIALIZER, .open_cond = PTHREAD_COND_INITIALIZER, .open = true};
	keel_workpool *p = keel_workpool_create(4, 1000, 10);
	keel_job job = {.run = wait_gate, .done = count_done, .arg = &g};
	int accepted = 0;

	for (int i = 0; i < 500; i++)
		accepted += keel_workpool_submit(p, &job);
	keel_workpool_destroy(p);
	assert_int_equal(accepted, 500);
	assert_int_equal(atomic_load(&g.ran), 500);
	assert_int_equal(atomic_load(&g.done), 500);
}

static void
count_cancel(void *arg)
{
	gate *g = arg;

	atomic_fetch_add(&g->cancelled, 1);
}

/* Wait (at most 60 s) until the pool's one worker has taken every queued job. */
static void
wait_taken(keel_workpool *p)
{
	for (uint64_t until = keel_clock_mono_ns() + 60000000000u; keel_workpool_waiting(p) > 0;) {
		assert_true(keel_clock_mono_ns() < until);
		usleep(1000);
	}
}

/* A reservation holds a place: the queue is full with waiting jobs and reservations together. */
static void
reservations_hold_places(void **state)
{
	(void)state;
	gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .open_cond = PTHREAD_COND_INITIALIZER};
	keel_workpool *p = keel_workpool_create(1, 2, 0);
	keel_job job = {.run = wait_gate, .done = count_done, .arg = &g};

	assert_true(keel_workpool_submit(p, &job)); /* taken by the worker */
	wait_taken(p);
	assert_true(keel_workpool_reserve(p));
	assert_true(keel_workpool_submit(p, &job)); /* queued: one waits, one is reserved */
	assert_false(keel_workpool_reserve(p));
	assert_false(keel_workpool_submit(p, &job));
	keel_workpool_release(p);
	assert_true(keel_workpool_reserve(p)); /* the place given back */
	assert_true(keel_workpool_submit_reserved(p, &job));
	assert_int_equal(keel_workpool_waiting(p), 2);
	open_gate(&g);
	keel_workpool_destroy(p);
	assert_int_equal(atomic_load(&g.ran), 3);
	assert_int_equal(atomic_load(&g.done), 3);
}

typedef struct stopper {
	keel_workpool *pool;
	uint64_t deadline_ns;
	pthread_t thread;
} stopper;

static void *
stop_run(void *arg)
{
	stopper *s = arg;

	keel_workpool_stop(s->pool, s->deadline_ns);
	return NULL;
}

/* Wait (at most 60 s) until p refuses new work, i.e. keel_workpool_stop has begun. */
static void
wait_stopping(keel_workpool *p)
{
	for (uint64_t until = keel_clock_mono_ns() + 60000000000u; keel_workpool_reserve(p);) {
		keel_workpool_release(p);
		assert_true(keel_clock_mono_ns() < until);
		usleep(1000);
	}
}

/*
 * A stopping pool takes no new work but runs what is queued and what was
 * reserved before, then its threads end.
 */
static void
stop_runs_what_was_queued_or_reserved(void **state)
{
	(void)state;
	gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .open_cond = PTHREAD_COND_INITIALIZER};
	keel_workpool *p = keel_workpool_create(1, 4, 0);
	keel_job job = {.run = wait_gate, .done = count_done, .cancel = count_cancel, .arg = &g};
	stopper s = {.pool = p, .deadline_ns = keel_clock_mono_ns() + 600000000000u};

	assert_true(keel_workpool_submit(p, &job)); /* taken by the worker */
	wait_taken(p);
	assert_true(keel_workpool_submit(p, &job)); /* queued */
	assert_true(keel_workpool_reserve(p));
	assert_int_equal(pthread_create(&s.thread, NULL, stop_run, &s), 0);
	wait_stopping(p);
	assert_false(keel_workpool_submit(p, &job));         /* no new work */
	assert_true(keel_workpool_submit_reserved(p, &job)); /* but what was promised */
	open_gate(&g);
	assert_int_equal(pthread_join(s.thread, NULL), 0);
	assert_int_equal(atomic_load(&g.ran), 3);
	assert_int_equal(atomic_load(&g.done), 3);
	assert_int_equal(atomic_load(&g.cancelled), 0);
	assert_false(keel_workpool_submit(p, &job));
	keel_workpool_destroy(p); /* stopped already: nothing more */
}

/*
 * Past the stop's deadline, the jobs still waiting are cancelled (not run),
 * a reservation can no longer be submitted into, and the running job is
 * finished before the stop returns.
 */
static void
stop_cancels_what_waits_past_its_deadline(void **state)
{
	(void)state;
	gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .open_cond = PTHREAD_COND_INITIALIZER};
	keel_workpool *p = keel_workpool_create(1, 4, 0);
	keel_job job = {.run = wait_gate, .done = count_done, .cancel = count_cancel, .arg = &g};
	stopper s = {.pool = p, .deadline_ns = keel_clock_mono_ns()};

	assert_true(keel_workpool_submit(p, &job)); /* taken by the worker */
	wait_taken(p);
	assert_true(keel_workpool_submit(p, &job));
	assert_true(keel_workpool_submit(p, &job));
	assert_true(keel_workpool_reserve(p));
	assert_int_equal(pthread_create(&s.thread, NULL, stop_run, &s), 0);
	for (uint64_t until = keel_clock_mono_ns() + 60000000000u; atomic_load(&g.cancelled) < 2;) {
		assert_true(keel_clock_mono_ns() < until);
		usleep(1000);
	}
	assert_false(keel_workpool_submit_reserved(p, &job));
	assert_int_equal(atomic_load(&g.ran), 0); /* the first job still runs */
	open_gate(&g);
	assert_int_equal(pthread_join(s.thread, NULL), 0);
	assert_int_equal(atomic_load(&g.ran), 1);
	assert_int_equal(atomic_load(&g.done), 1);
	assert_int_equal(atomic_load(&g.cancelled), 2);
	keel_workpool_destroy(p);
}

/* The nice value of the thread a job runs on, read by the job itself. */
static void
read_nice(void *arg)
{
	errno = 0;
	*(int *)arg = getpriority(PRIO_PROCESS, (id_t)gettid());
	assert_int_equal(errno, 0);
}

/*
 * Hashing yields to request handling: workers of a pool made with nice 10 run
 * at nice 10 (or at the process's own, when that is already lower priority),
 * and only they do: the rest of the process keeps its priority.
 */
static void
nice_lowers_only_the_workers(void **state)
{
	(void)state;
	errno = 0;
	int base = getpriority(PRIO_PROCESS, (id_t)gettid());

	assert_int_equal(errno, 0);
	for (int want = 0; want <= 10; want += 10) {
		int seen = -100;
		keel_workpool *p = keel_workpool_create(1, 1, want);
		keel_job job = {.run = read_nice, .arg = &seen};

		assert_true(keel_workpool_submit(p, &job));
		keel_workpool_destroy(p);
		assert_int_equal(seen, want > base ? want : base);
	}
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)gettid()), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_queue_refuses_at_once),
	    cmocka_unit_test(many_jobs_on_many_threads),
	    cmocka_unit_test(reservations_hold_places),
	    cmocka_unit_test(stop_runs_what_was_queued_or_reserved),
	    cmocka_unit_test(stop_cancels_what_waits_past_its_deadline),
	    cmocka_unit_test(nice_lowers_only_the_workers),
	};

	return cmocka_run_group_tests_name("core_workpool", tests, NULL, NULL);
}
