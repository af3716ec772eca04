/*
 * Unit tests for the two steps of offloaded work (keel_req_offload in req.c):
 * what the handler's call records for the server, and the inline run of a
 * request without a connection.  The server's side (suspend, queue, resume,
 * the finish step on a worker, 503 when the queue is full or the pool stops)
 * is http_server_test's and hash_queue_test's, over real connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http_int.h"

typedef struct steps {
	char order[8]; /* "r" for run, "f" for finish, in the order they ran */
	int status;    /* what finish answers */
} steps;

static void
run(void *arg)
{
	steps *s = arg;

	strcat(s->order, "r");
}

static keel_err
finish(keel_req *req, void *arg)
{
	steps *s = arg;

	strcat(s->order, "f");
	return keel_req_json(req, s->status, json_object());
}

static keel_err
finish_fails(keel_req *req, void *arg)
{
	(void)arg;
	return keel_req_fail(req, KEEL_ECONFLICT, NULL, "taken");
}

/* Without a connection to suspend, both steps run at once, run first; finish answers. */
static void
no_connection_runs_both_steps_inline(void **state)
{
	(void)state;
	keel_req *req = req_new(NULL, "POST", "/x");
	steps s = {.status = 201};

	assert_int_equal(keel_req_offload(req, NULL, run, finish, &s), KEEL_OK);
	assert_string_equal(s.order, "rf");
	assert_true(keel_req_answered(req));
	assert_int_equal(req->status, 201);
	req_free(req);

	req = req_new(NULL, "POST", "/x");
	memset(&s, 0, sizeof(s));
	assert_int_equal(keel_req_offload(req, NULL, run, finish_fails, &s), KEEL_ECONFLICT);
	assert_int_equal(req->err, KEEL_ECONFLICT);
	req_free(req);
}

/* With a connection, the call only records the work: nothing runs until the server queues it. */
static void
with_a_connection_the_server_takes_the_work(void **state)
{
	(void)state;
	int conn;
	keel_req *req = req_new((struct MHD_Connection *)&conn, "POST", "/x");
	steps s = {.status = 200};

	assert_int_equal(keel_req_offload(req, NULL, run, finish, &s), KEEL_OK);
	assert_string_equal(s.order, "");
	assert_int_equal(req->state, REQ_OFFLOAD);
	assert_false(keel_req_answered(req));
	assert_ptr_equal(req->offload_run, run);
	assert_ptr_equal(req->offload_finish, finish);
	assert_ptr_equal(req->offload_arg, &s);
	req_free(req);
}

/* A step that asks for work and then answers anyway is answered: the work is forgotten. */
static void
an_answer_after_an_offload_wins(void **state)
{
	(void)state;
	int conn;
	keel_req *req = req_new((struct MHD_Connection *)&conn, "POST", "/x");
	steps s = {0};

	assert_int_equal(keel_req_offload(req, NULL, run, finish, &s), KEEL_OK);
	keel_req_fail(req, KEEL_EINVAL, NULL, "changed its mind");
	assert_int_equal(req->state, REQ_ANSWERED);
	assert_true(keel_req_answered(req));
	assert_string_equal(s.order, "");
	req_free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(no_connection_runs_both_steps_inline),
	    cmocka_unit_test(with_a_connection_the_server_takes_the_work),
	    cmocka_unit_test(an_answer_after_an_offload_wins),
	};

	return cmocka_run_group_tests_name("http_offload", tests, NULL, NULL);
}
