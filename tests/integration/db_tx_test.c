/*
 * The tenant-scoped transaction helper and the connection pool of src/db,
 * against the real test PostgreSQL as keel_app.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/db.h"
#include "kt.h"

#define TENANT "0192f3a4-7b1c-7d2e-8f00-0123456789ab"
#define USER   "0192f3a4-7b1c-7d2e-8f00-00000000000u"

static const keel_stmt settings = {
    "t_settings",
    "SELECT current_setting('app.tenant_id', true), current_setting('app.user_id', true),"
    " current_setting('app.request_id', true), current_setting('app.trace_id', true),"
    " current_setting('app.client_addr', true)",
    0};
static const keel_stmt insert = {"t_insert", "INSERT INTO public.t (id, note) VALUES ($1, $2)", 2};
static const keel_stmt backend = {"t_backend", "SELECT pg_backend_pid()", 0};
static const keel_stmt sleepy = {"t_sleep", "SELECT pg_sleep(2)", 0};

static keel_db_pool *
pool_with(const char *conninfo, int64_t statement_timeout_ms)
{
	keel_db_opts o = {.conninfo = conninfo,
	                  .connect_timeout_ms = 2000,
	                  .statement_timeout_ms = statement_timeout_ms,
	                  .application_name = "keel test"};

	return keel_db_pool_create(&o, 2);
}

/*
 * What the observer saw: the statement names, joined by spaces, each followed by "+" when
 * the round trip came with a parent span (which must then be the one of `want_trace`).
 */
static char observed[512];
static const keel_trace_ref *want_trace;

static void
observe(void *ctx, const char *statement, double seconds, const keel_trace_ref *parent)
{
	size_t used = strlen(observed);

	(void)ctx;
	assert_true(seconds >= 0 && seconds < 60);
	if (parent != NULL) {
		assert_non_null(want_trace);
		assert_memory_equal(parent->trace_id, want_trace->trace_id, 16);
		assert_memory_equal(parent->span_id, want_trace->span_id, 8);
		assert_int_equal(parent->sampled, want_trace->sampled);
	}
	snprintf(observed + used, sizeof(observed) - used, "%s%s ", statement,
	         parent != NULL ? "+" : "");
}

static void
round_trips_are_observed(void **state)
{
	(void)state;
	keel_db_opts o = {.connect_timeout_ms = 2000, .observe = observe};
	keel_db_pool *pool = keel_db_pool_create(&o, 1);
	keel_arena *a = keel_arena_create(0);
	keel_db *db;
	keel_tx *tx;
	keel_db_pool_stats st;
	const char *p[] = {"300", "observed"};

	observed[0] = '\0';
	keel_db_pool_stats_get(pool, &st);
	assert_int_equal(st.closed, 1);
	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	keel_db_pool_stats_get(pool, &st);
	assert_int_equal(st.busy, 1);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &insert, p, NULL), KEEL_OK);
	assert_int_equal(keel_tx_commit(tx), KEEL_OK);
	assert_string_equal(observed, "t_insert COMMIT ");
	keel_arena_destroy(a);
	keel_db_pool_stats_get(pool, &st);
	assert_int_equal(st.idle, 1);
	keel_db_pool_destroy(pool);
}

/*
 * A transaction begun with a trace hands it with every round trip (for child spans); the
 * next transaction on the same connection, without one, hands none.
 */
static void
round_trips_carry_the_trace(void **state)
{
	(void)state;
	keel_db_opts o = {.connect_timeout_ms = 2000, .observe = observe};
	keel_db_pool *pool = keel_db_pool_create(&o, 1);
	keel_trace_ref trace = {.sampled = true};
	keel_ctx ctx = {.trace = &trace};
	const char *p[] = {"301", "traced"};
	keel_db *db;
	keel_tx *tx;

	keel_trace_new_id(trace.trace_id, 16);
	keel_trace_new_id(trace.span_id, 8);
	want_trace = &trace;
	observed[0] = '\0';
	keel_arena *a = keel_arena_create(0);

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, &ctx, &tx), KEEL_OK);
	assert_non_null(keel_tx_trace(tx));
	assert_int_equal(keel_tx_exec(tx, &insert, p, NULL), KEEL_OK);
	assert_int_equal(keel_tx_commit(tx), KEEL_OK);
	keel_arena_destroy(a);
	assert_string_equal(observed, "t_insert+ COMMIT+ ");

	observed[0] = '\0';
	want_trace = NULL;
	a = keel_arena_create(0);
	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_null(keel_tx_trace(tx));
	p[0] = "302";
	assert_int_equal(keel_tx_exec(tx, &insert, p, NULL), KEEL_OK);
	assert_int_equal(keel_tx_commit(tx), KEEL_OK);
	keel_arena_destroy(a);
	assert_string_equal(observed, "t_insert COMMIT ");
	keel_db_pool_destroy(pool);
}

static int
setup_db(void **state)
{
	(void)state;
	kt_db_fresh("db_tx");
	PGconn *c = kt_pg_owner();

	kt_pg_exec(c, "CREATE TABLE public.t (id int PRIMARY KEY, note text NOT NULL);"
	              "GRANT USAGE ON SCHEMA public TO keel_app;"
	              "GRANT SELECT, INSERT ON public.t TO keel_app;");
	PQfinish(c);
	return 0;
}

static void
settings_live_only_inside_the_transaction(void **state)
{
	(void)state;
	keel_db_pool *pool = pool_with(NULL, 0);
	keel_arena *a = keel_arena_create(0);
	keel_db *db;
	keel_tx *tx;
	keel_res *res;
	keel_ctx ctx = {
	    .tenant_id = TENANT, .user_id = USER, .request_id = "req-1", .client_addr = "192.0.2.7"};

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, &ctx, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &settings, NULL, &res), KEEL_OK);
	assert_int_equal(keel_res_rows(res), 1);
	assert_string_equal(keel_res_get(res, 0, 0), TENANT);
	assert_string_equal(keel_res_get(res, 0, 1), USER);
	assert_string_equal(keel_res_get(res, 0, 2), "req-1");
	assert_string_equal(keel_res_get(res, 0, 3), ""); /* unset members read as '' */
	assert_string_equal(keel_res_get(res, 0, 4), "192.0.2.7");
	assert_int_equal(keel_tx_commit(tx), KEEL_OK);

	/* after COMMIT the same connection carries no tenant */
	assert_int_equal(keel_db_exec(db, a, &settings, NULL, &res), KEEL_OK);
	assert_string_equal(keel_res_get(res, 0, 0), "");
	assert_string_equal(keel_res_get(res, 0, 1), "");
	assert_string_equal(keel_res_get(res, 0, 2), "");
	assert_string_equal(keel_res_get(res, 0, 4), "");
	keel_arena_destroy(a);
	keel_db_pool_destroy(pool);
}

static long
count_rows(const char *where)
{
	PGconn *c = kt_pg_owner();
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM public.t WHERE %s", where);
	char *v = kt_pg_value(c, sql);
	long n = atol(v);

	free(v);
	PQfinish(c);
	return n;
}

static void
uncommitted_work_is_rolled_back_with_the_arena(void **state)
{
	(void)state;
	keel_db_pool *pool = pool_with(NULL, 0);
	keel_arena *a = keel_arena_create(0);
	keel_db *db;
	keel_tx *tx;
	const char *p[] = {"100", "never committed"};

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &insert, p, NULL), KEEL_OK);
	keel_arena_destroy(a); /* no commit: the request failed somewhere */
	assert_int_equal(count_rows("id = 100"), 0);

	/* the connection went back clean and works for the next request */
	a = keel_arena_create(0);
	const char *q[] = {"101", "committed"};

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &insert, q, NULL), KEEL_OK);
	assert_int_equal(keel_tx_commit(tx), KEEL_OK);
	keel_arena_destroy(a);
	assert_int_equal(count_rows("id = 101"), 1);
	keel_db_pool_destroy(pool);
}

static void
errors_map_by_sqlstate(void **state)
{
	(void)state;
	keel_db_pool *pool = pool_with(NULL, 0);
	keel_arena *a = keel_arena_create(0);
	keel_db *db;
	keel_tx *tx;
	const char *p[] = {"200", "first"};
	const char *null_note[] = {"201", NULL};

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &insert, p, NULL), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &insert, p, NULL), KEEL_ECONFLICT);
	assert_string_equal(keel_tx_sqlstate(tx), "23505");
	assert_string_equal(keel_tx_constraint(tx), "t_pkey");
	/* a failed transaction accepts nothing more and commits nothing */
	assert_int_equal(keel_tx_exec(tx, &insert, null_note, NULL), KEEL_EINTERNAL);
	assert_int_equal(keel_tx_commit(tx), KEEL_EINTERNAL);
	keel_tx_rollback(tx);
	assert_int_equal(count_rows("id = 200"), 0);

	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &insert, null_note, NULL), KEEL_EINVAL);
	assert_string_equal(keel_tx_sqlstate(tx), "23502");
	keel_arena_destroy(a);
	keel_db_pool_destroy(pool);
}

static void
reconnects_after_the_backend_dies(void **state)
{
	(void)state;
	keel_db_pool *pool = pool_with(NULL, 0);
	keel_arena *a = keel_arena_create(0);
	keel_db *db;
	keel_res *res;
	keel_tx *tx;

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_db_exec(db, a, &backend, NULL, &res), KEEL_OK);
	char *pid = strdup(keel_res_get(res, 0, 0));

	keel_arena_destroy(a);

	PGconn *c = kt_pg_owner();
	char sql[128];

	/* keel_owner may signal a backend of keel_app only through a superuser... so use the
	 * app role itself: a role can terminate its own sessions. */
	PQfinish(c);
	c = kt_pg_app();
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", pid);
	char *ok = kt_pg_value(c, sql);

	assert_string_equal(ok, "t");
	free(ok);
	PQfinish(c);

	/* the next transaction finds the connection dead, reconnects, and succeeds */
	a = keel_arena_create(0);
	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &backend, NULL, &res), KEEL_OK);
	assert_string_not_equal(keel_res_get(res, 0, 0), pid);
	assert_int_equal(keel_tx_commit(tx), KEEL_OK);
	keel_arena_destroy(a);
	free(pid);
	keel_db_pool_destroy(pool);
}

static void
unreachable_and_slow_database(void **state)
{
	(void)state;
	char conninfo[128];
	keel_db *db;

	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d", kt_free_port());
	keel_db_pool *pool = pool_with(conninfo, 0);
	long long t0 = kt_now_ms();

	assert_int_equal(keel_db_acquire(pool, &db), KEEL_EUNAVAIL);
	assert_true(kt_now_ms() - t0 < 3000);
	keel_db_pool_destroy(pool);

	pool = pool_with(NULL, 100);
	keel_arena *a = keel_arena_create(0);
	keel_tx *tx;

	assert_int_equal(keel_db_acquire_scoped(pool, a, &db), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, NULL, &tx), KEEL_OK);
	assert_int_equal(keel_tx_exec(tx, &sleepy, NULL, NULL), KEEL_EUNAVAIL);
	assert_string_equal(keel_tx_sqlstate(tx), "57014");
	keel_arena_destroy(a);
	keel_db_pool_destroy(pool);
}

int
main(void)
{
	keel_log_set_level(KEEL_LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(settings_live_only_inside_the_transaction),
	    cmocka_unit_test(uncommitted_work_is_rolled_back_with_the_arena),
	    cmocka_unit_test(errors_map_by_sqlstate),
	    cmocka_unit_test(reconnects_after_the_backend_dies),
	    cmocka_unit_test(unreachable_and_slow_database),
	    cmocka_unit_test(round_trips_are_observed),
	    cmocka_unit_test(round_trips_carry_the_trace),
	};

	return cmocka_run_group_tests_name("db_tx", tests, setup_db, NULL);
}
