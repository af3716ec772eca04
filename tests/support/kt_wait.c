/*
 * kt_wait: polling for a state, lock waiters in pg_locks, requests on a
 * thread of their own (see kt_wait.h).
 */
#include "kt_wait.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
kt_wait_until(bool (*cond)(void *arg), void *arg, long long timeout_ms)
{
	for (long long until = kt_now_ms() + timeout_ms;; usleep(10000)) {
		if (cond(arg))
			return true;
		if (kt_now_ms() > until)
			return cond(arg);
	}
}

/* The first value of sql on c, as a number; fails the test on error. */
static long
pg_long(PGconn *c, const char *sql)
{
	char *v = kt_pg_value(c, sql);
	long n = v != NULL ? atol(v) : -1;

	free(v);
	return n;
}

/*
 * Sessions of c's database waiting for a lock.  pg_stat_activity is read once per
 * transaction and kept (PostgreSQL's statistics snapshot): inside the transaction that holds
 * the locks, a session that connected later would never show; the snapshot is dropped first.
 */
static long
lock_waiters(PGconn *c)
{
	kt_pg_exec(c, "SELECT pg_stat_clear_snapshot()");
	return pg_long(c, "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a"
	                  " ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()");
}

void
kt_wait_lock_waiters(PGconn *c, int n)
{
	for (long long until = kt_now_ms() + KT_WAIT_MS;; usleep(10000)) {
		long got = lock_waiters(c);

		if (got >= n)
			return;
		if (kt_now_ms() > until)
			fail_msg("%ld sessions waited for a lock in %d ms, expected %d", got, KT_WAIT_MS, n);
	}
}

void
kt_wait_xact_waiter(PGconn *c)
{
	for (long long until = kt_now_ms() + KT_WAIT_MS;; usleep(10000)) {
		long got = pg_long(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid'"
		                      " AND NOT granted"
		                      " AND transactionid::text = pg_current_xact_id()::text");

		if (got > 0)
			return;
		if (kt_now_ms() > until)
			fail_msg("no session waited for this transaction in %d ms", KT_WAIT_MS);
	}
}

static void *
async_run(void *arg)
{
	kt_async *q = arg;
	const char *h[3];
	char *auth = q->token != NULL ? kt_strf("Authorization: Bearer %s", q->token) : NULL;
	int n = 0;

	if (auth != NULL)
		h[n++] = auth;
	if (q->body != NULL)
		h[n++] = "Content-Type: application/json";
	h[n] = NULL;
	q->resp = kt_request_from(q->source, q->base, q->method, q->path, h, q->body,
	                          q->body != NULL ? strlen(q->body) : 0);
	free(auth);
	return NULL;
}

void
kt_async_start(kt_async *q)
{
	q->resp = NULL;
	assert_int_equal(pthread_create(&q->thread, NULL, async_run, q), 0);
}

kt_resp *
kt_async_finish(kt_async *q)
{
	assert_int_equal(pthread_join(q->thread, NULL), 0);
	return q->resp;
}
