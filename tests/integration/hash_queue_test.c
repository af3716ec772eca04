/*
 * Sign-ins when the hashing queue is full, through the real binary: keel
 * runs with one hashing thread, a queue of two and slow hashing parameters,
 * so a handful of clients fill the queue.  A sign-in refused for a full
 * queue (503) leaves no attempt on record against its account, and a SIGTERM
 * while sign-ins wait for their hash stops keel cleanly: every client gets an
 * answer or a closed connection, and keel exits 0 (under ASan: no memory
 * error, no libmicrohttpd panic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt.h"
#include "prom.h"

#define PASSWORD "correct horse battery staple"
#define CLIENTS  16
#define WAIT_MS  60000 /* the longest any state is waited for */

/*
 * One hashing thread, two waiting places, hashes of about a third of a
 * second (several times that on a loaded machine, still far from a client's
 * 30 s): a full queue takes longer to run than the stop gives it
 * (KEEL_SHUTDOWN_TIMEOUT).
 */
static const char *const slow_hashing[] = {
    "KEEL_HASH_WORKERS=1",    "KEEL_HASH_QUEUE=2",           "KEEL_PASSWORD_MEMORY_KIB=19456",
    "KEEL_PASSWORD_PASSES=6", "KEEL_SHUTDOWN_TIMEOUT=200ms", NULL};

static int
setup_db(void **state)
{
	(void)state;
	return kt_db_migrated("hash_queue") ? 0 : -1;
}

/* Clients sending one request (each a password hash) at once, each on a thread of its own. */
typedef struct crowd crowd;

typedef struct client {
	crowd *crowd;
	pthread_t thread;
	long status; /* of its last request; 0: the connection closed without an answer */
} client;

struct crowd {
	const char *base, *path, *token, *body;
	int n;
	bool repeat;      /* send again and again until stop */
	atomic_bool stop; /* for repeat */
	atomic_int finished;
	atomic_int busy;          /* 503s answered */
	atomic_int busy_no_retry; /* 503s without Retry-After */
	client clients[CLIENTS];
};

static void *
client_run(void *arg)
{
	client *c = arg;
	crowd *w = c->crowd;

	do {
		kt_resp *r = kt_api(w->base, "POST", w->token, w->body, "%s", w->path);
		char *ra = kt_header(r, "Retry-After");

		c->status = r->status;
		if (r->status == 503) {
			atomic_fetch_add(&w->busy, 1);
			atomic_fetch_add(&w->busy_no_retry, ra == NULL);
		}
		free(ra);
		kt_resp_free(r);
	} while (w->repeat && !atomic_load(&w->stop));
	atomic_fetch_add(&w->finished, 1);
	return NULL;
}

static void
crowd_start(crowd *w)
{
	for (int i = 0; i < w->n; i++) {
		w->clients[i].crowd = w;
		assert_int_equal(pthread_create(&w->clients[i].thread, NULL, client_run, &w->clients[i]),
		                 0);
	}
}

/* Wait for every client; a repeating crowd is told to stop first. */
static void
crowd_join(crowd *w)
{
	atomic_store(&w->stop, true);
	for (int i = 0; i < w->n; i++)
		assert_int_equal(pthread_join(w->clients[i].thread, NULL), 0);
}

/* Requests keel is working on, from its metrics (this scrape not counted). */
static int
in_flight(const char *base)
{
	kt_resp *r = kt_request(base, "GET", "/metrics", NULL, NULL, 0);

	kt_assert_status(r, 200);
	double v = prom_value(r->body, "keel_http_requests_in_flight", "");

	kt_resp_free(r);
	assert_false(isnan(v));
	return (int)v - 1;
}

/*
 * Wait until a 503 has said the hashing queue is full, and every client of w
 * still waiting (two at least: one behind the hash running) is inside keel, not
 * still connecting.  The finished count is read before the scrape: a client
 * inside keel then has not finished, so as many inside as not finished means
 * all of them.
 */
static void
wait_queue_full(const kt_keel *k, crowd *w)
{
	for (long long until = kt_now_ms() + WAIT_MS;; usleep(10000)) {
		int waiting = w->n - atomic_load(&w->finished);

		if (atomic_load(&w->busy) > 0 && waiting >= 2 && in_flight(k->base) >= waiting)
			return;
		if (waiting == 0)
			fail_msg("every sign-in was answered before the queue was seen full (%d 503s)",
			         atomic_load(&w->busy));
		if (kt_now_ms() > until)
			fail_msg("the hashing queue was not seen full within %d ms", WAIT_MS);
	}
}

/*
 * SIGTERM with sign-ins queued for hashing: the pool finishes or cancels
 * them (503) before the server goes, so keel exits 0 and every client got an
 * answer (a sign-in's own, or 503) or a closed connection.  Before, the stop
 * closed the server under suspended connections: libmicrohttpd's panic, or a
 * hash that finished later resumed a connection already freed.
 */
static void
sigterm_with_sign_ins_queued_stops_cleanly(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(slow_hashing, NULL);
	char *tenant = kt_signup(k->base, "stopping", PASSWORD);
	char *body = kt_sign_in_body("stopping", "owner@stopping.test", PASSWORD);
	static crowd w;

	w = (crowd){.base = k->base, .path = "/api/v1/auth/login", .body = body, .n = CLIENTS};
	crowd_start(&w);
	wait_queue_full(k, &w);

	char *log;
	int code = kt_keel_stop_log(k, &log); /* SIGTERM; SIGKILL (137) after 20 s */

	crowd_join(&w); /* keel is gone: every connection has ended */
	assert_int_equal(code, 0);
	assert_non_null(strstr(log, "\"msg\":\"stopped\""));
	assert_null(strstr(log, "AddressSanitizer"));
	for (int i = 0; i < w.n; i++) {
		long st = w.clients[i].status;

		if (st != 200 && st != 503 && st != 0)
			fail_msg("client %d: HTTP %ld (expected 200, 503 or a closed connection)", i, st);
	}
	assert_int_equal(atomic_load(&w.busy_no_retry), 0);
	free(log);
	free(body);
	free(tenant);
}

/* The attempts on record for email in tenant_id (as the owner, among the tenant's rows). */
static long
attempts_of(const char *tenant_id, const char *email)
{
	PGconn *c = kt_pg_owner();
	const char *params[] = {email, NULL};
	long n = kt_pg_tenant_long(
	    c, tenant_id, "SELECT count(*) FROM auth.sign_in_attempts WHERE lower(email) = lower($1)",
	    params);

	PQfinish(c);
	return n;
}

/*
 * A sign-in refused because the hashing queue is full (503) puts no attempt
 * on record: the account is not throttled for sign-ins it never got to try.
 * Another tenant's owner keeps the queue full (adding a user whose email is
 * taken: a hash, then 409) while the account signs in again and again; more
 * 503s than the account's limit (5) later, it has no attempt left and signs
 * in.  Before, each 503 left its attempt behind, counted against the account
 * for 15 minutes (429).
 */
static void
sign_ins_refused_for_a_full_queue_leave_no_attempt(void **state)
{
	(void)state;
	kt_keel *k = kt_keel_start(slow_hashing, NULL);
	char *tenant = kt_signup(k->base, "busy", PASSWORD);
	char *filler_tenant = kt_signup(k->base, "filler", PASSWORD);
	char *filler_token = kt_login(k->base, "filler", "owner@filler.test", PASSWORD);
	char *taken = kt_strf("{\"email\":\"owner@filler.test\",\"password\":\"%s\"}", PASSWORD);
	char *body = kt_sign_in_body("busy", "owner@busy.test", PASSWORD);
	static crowd filler;
	crowd target = {.base = k->base, .path = "/api/v1/auth/login", .body = body, .n = 1};

	filler = (crowd){.base = k->base,
	                 .path = "/api/v1/users",
	                 .token = filler_token,
	                 .body = taken,
	                 .n = 6,
	                 .repeat = true};
	crowd_start(&filler);
	for (long long until = kt_now_ms() + WAIT_MS; atomic_load(&target.busy) < 8;) {
		client one = {.crowd = &target};

		if (kt_now_ms() > until)
			fail_msg("only %d of 8 sign-ins were refused for a full queue within %d ms",
			         atomic_load(&target.busy), WAIT_MS);
		client_run(&one);
		if (one.status != 200 && one.status != 503)
			fail_msg("sign-in during the flood: HTTP %ld (expected 200 or 503)", one.status);
	}
	crowd_join(&filler);
	assert_int_equal(atomic_load(&target.busy_no_retry), 0);
	assert_int_equal(attempts_of(tenant, "owner@busy.test"), 0);
	free(kt_login(k->base, "busy", "owner@busy.test", PASSWORD)); /* not 429 */
	assert_int_equal(kt_keel_stop(k), 0);
	free(body);
	free(taken);
	free(filler_token);
	free(filler_tenant);
	free(tenant);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sign_ins_refused_for_a_full_queue_leave_no_attempt),
	    cmocka_unit_test(sigterm_with_sign_ins_queued_stops_cleanly),
	};

	return cmocka_run_group_tests_name("hash_queue", tests, setup_db, NULL);
}
