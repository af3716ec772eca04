/*
 * kt_wait: waiting for a state instead of for time, and requests kept in
 * flight while a test holds what they need.
 *
 * Tests run under ASan on a loaded machine next to other test programs, so a
 * test never sleeps for a fixed time hoping a state has come about, and never
 * fails because something took long: it polls for the state with a generous
 * deadline that only bounds how long it waits.  A race a test means to check
 * is forced, not left to luck: the test holds a lock from a session of its
 * own, starts the requests (kt_async_start), waits until PostgreSQL shows
 * them waiting for locks (kt_wait_lock_waiters), then lets go.
 */
#ifndef KEEL_TESTS_KT_WAIT_H
#define KEEL_TESTS_KT_WAIT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

#include "kt.h"

/* How long a test waits for a state before it fails: generous, see above. */
#define KT_WAIT_MS 60000

/*
 * Poll cond(arg) every 10 ms until it holds (true) or timeout_ms have passed
 * (false; cond is asked once more at the end).
 */
bool kt_wait_until(bool (*cond)(void *arg), void *arg, long long timeout_ms);

/*
 * Wait until n sessions of the current database wait for a lock (c: any
 * connection to it); fails the test after KT_WAIT_MS.
 */
void kt_wait_lock_waiters(PGconn *c, int n);

/*
 * Wait until a session waits for the transaction open on c (a row lock c
 * holds); fails the test after KT_WAIT_MS.
 */
void kt_wait_xact_waiter(PGconn *c);

/*
 * A request sent from another thread, so the test can act while keel waits.
 * Fill in base, method and path (source, token and body as for kt_api: a body
 * goes as application/json), then kt_async_start; kt_async_finish joins the
 * thread and hands over the response (the caller frees it).
 */
typedef struct kt_async {
	const char *base;
	const char *source; /* local address as for kt_request_from; NULL: the system's */
	const char *method, *token, *body;
	char path[256];
	kt_resp *resp;
	pthread_t thread;
} kt_async;

void kt_async_start(kt_async *q);
kt_resp *kt_async_finish(kt_async *q);

#endif
