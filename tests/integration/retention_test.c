/*
 * Retention end to end: the real keel binary (`keel maintain`, and `keel
 * serve`'s upkeep) against a freshly migrated database of this program's own.
 *
 * What is tested: for each table kept only for a while (idempotency keys,
 * sign-in failures per address, security events, refresh tokens), rows
 * back-dated just past their limit go and rows just inside it, and fresh
 * ones, stay, in every tenant; a backlog of many batches goes entirely;
 * refresh tokens go when expired or revoked more than a day ago, while a
 * spent one (what reuse detection needs) stays until it expires; a run waits
 * for one in progress; serve's
 * upkeep does the same at start, with the owner's connection, and says so
 * without it; KEEL_SECURITY_EVENTS_RETENTION is validated (a bad value stops
 * keel naming it) and honoured (a shorter one deletes more); keel_app cannot
 * call the retention functions.
 *
 * Rows are written and read back as keel_owner, which row-level security
 * filters like everyone else: every statement among a tenant's rows names
 * its tenant first.  Each test writes rows of its own (its own labels and
 * client addresses), and every test leaves no row past its limit behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt.h"

typedef struct tenant {
	char *id, *user_id;
} tenant;

static PGconn *pg; /* keel_owner */
static tenant A, B;

/* ---- rows, back-dated ---- */

/*
 * Each test writes rows of its own, numbered n: idempotency keys "k<n>-...", security events
 * "e<n>@...", the refresh token family 00000000-0000-0000-0000-<n, 12 digits>, and the client
 * addresses 10.<n>.0.0/24.
 */

/* sql among t's rows, whose one value is a label list; malloc'd ("" for none). */
static char *
value_in(const tenant *t, const char *sql)
{
	char *v = kt_pg_tenant_value(pg, t->id, sql, NULL);

	return v != NULL ? v : strdup("");
}

/* Run sql (an INSERT ... RETURNING) among t's rows; frees sql. */
static void
insert_in(const tenant *t, char *sql)
{
	PQclear(kt_pg_tenant_query(pg, t->id, sql, NULL));
	free(sql);
}

/* Idempotency keys k<n>-old (24 hours and 5 minutes old), k<n>-inside (23h55m), k<n>-fresh. */
static void
keys_seed(const tenant *t, int n)
{
	insert_in(t,
	          kt_strf("INSERT INTO core.idempotency_keys (tenant_id, key, route, request_hash,"
	                  " created_at) SELECT core.current_tenant_id(), 'k%d-' || k, 'POST /x', 'h',"
	                  " now() - age FROM (VALUES ('old', interval '24 hours 5 minutes'),"
	                  " ('inside', '23 hours 55 minutes'), ('fresh', '0')) v (k, age)"
	                  " RETURNING 1",
	                  n));
}

/* The labels of t's keys k<n>-..., sorted, comma-separated. */
static char *
keys_left(const tenant *t, int n)
{
	char *sql = kt_strf("SELECT string_agg(split_part(key, '-', 2), ',' ORDER BY key)"
	                    " FROM core.idempotency_keys WHERE key LIKE 'k%d-%%'",
	                    n);
	char *v = value_in(t, sql);

	free(sql);
	return v;
}

/* Failures of 10.<n>.0.1 (65 minutes old), .2 (55 minutes) and .3 (now): no tenant's. */
static void
failures_seed(int n)
{
	char *sql = kt_strf("INSERT INTO auth.address_failures (client_addr, occurred_at) VALUES"
	                    " ('10.%d.0.1', now() - interval '65 minutes'),"
	                    " ('10.%d.0.2', now() - interval '55 minutes'), ('10.%d.0.3', now())",
	                    n, n, n);

	kt_pg_exec(pg, sql);
	free(sql);
}

/* The last octets of the failures of 10.<n>.0.0/24 left, sorted. */
static char *
failures_left(int n)
{
	char *sql = kt_strf("SELECT coalesce(string_agg(split_part(host(client_addr), '.', 4), ','"
	                    " ORDER BY client_addr), '') FROM auth.address_failures"
	                    " WHERE client_addr << '10.%d.0.0/24'",
	                    n);
	char *v = kt_pg_value(pg, sql);

	free(sql);
	return v;
}

/* Security events e<n>@<age>.test of t, one per age of ages ("400 days 1 hour,..."). */
static void
events_seed(const tenant *t, int n, const char *ages)
{
	insert_in(t, kt_strf("INSERT INTO auth.security_events (tenant_id, id, occurred_at, kind,"
	                     " email) SELECT core.current_tenant_id(), gen_random_uuid(),"
	                     " now() - a::interval, 'sign_in_failed',"
	                     " 'e%d@' || replace(a, ' ', '') || '.test'"
	                     " FROM unnest('{%s}'::text[]) a RETURNING 1",
	                     n, ages));
}

/* The ages of t's events e<n>@... left ("400days1hour"), oldest first. */
static char *
events_left(const tenant *t, int n)
{
	char *sql =
	    kt_strf("SELECT string_agg(split_part(split_part(email, '@', 2), '.', 1), ','"
	            " ORDER BY occurred_at) FROM auth.security_events WHERE email LIKE 'e%d@%%'",
	            n);
	char *v = value_in(t, sql);

	free(sql);
	return v;
}

/*
 * Refresh tokens of t's user in family n: expired 25 and 23 hours ago, revoked 25 and 23
 * hours ago (expiring in a month), spent two days ago (neither revoked nor expired: what
 * reuse detection needs), and fresh.
 */
static void
tokens_seed(const tenant *t, int n)
{
	insert_in(t,
	          kt_strf("INSERT INTO auth.refresh_tokens (tenant_id, id, user_id, family_id,"
	                  " token_hash, created_at, expires_at, used_at, revoked_at)"
	                  " SELECT core.current_tenant_id(), gen_random_uuid(), '%s',"
	                  " '00000000-0000-0000-0000-%012d', sha256(convert_to(k || %d, 'UTF8')),"
	                  " now() - interval '40 days', now() + e, now() + u, now() + r"
	                  " FROM (VALUES ('a', interval '-25 hours', NULL::interval, NULL::interval),"
	                  " ('b', '-23 hours', NULL, NULL), ('c', '30 days', NULL, '-25 hours'),"
	                  " ('d', '30 days', NULL, '-23 hours'), ('e', '30 days', '-2 days', NULL),"
	                  " ('f', '30 days', NULL, NULL)) v (k, e, u, r) RETURNING 1",
	                  t->user_id, n, n));
}

/* The kinds of t's tokens of family n left, sorted: expired-past, ..., spent, fresh. */
static char *
tokens_left(const tenant *t, int n)
{
	char *sql = kt_strf(
	    "SELECT string_agg(kind, ',' ORDER BY kind) FROM (SELECT CASE"
	    " WHEN used_at IS NOT NULL THEN 'spent'"
	    " WHEN revoked_at IS NOT NULL THEN 'revoked-' || CASE WHEN revoked_at < now() - interval"
	    " '24 hours' THEN 'past' ELSE 'inside' END"
	    " WHEN expires_at < now() THEN 'expired-' || CASE WHEN expires_at < now() - interval"
	    " '24 hours' THEN 'past' ELSE 'inside' END ELSE 'fresh' END AS kind"
	    " FROM auth.refresh_tokens WHERE family_id = '00000000-0000-0000-0000-%012d') k",
	    n);
	char *v = value_in(t, sql);

	free(sql);
	return v;
}

static void
assert_str(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

#define EVENT_AGES "400 days 1 hour,399 days 23 hours,0 days"

/* Rows n of every table, in both tenants. */
static void
seed_all(int n)
{
	const tenant *ts[] = {&A, &B};

	for (int i = 0; i < 2; i++) {
		keys_seed(ts[i], n);
		events_seed(ts[i], n, EVENT_AGES);
		tokens_seed(ts[i], n);
	}
	failures_seed(n);
}

/* All rows n are there (so that the assertions after a run can fail). */
static void
assert_all_there(int n)
{
	const tenant *ts[] = {&A, &B};

	for (int i = 0; i < 2; i++) {
		assert_str(keys_left(ts[i], n), "fresh,inside,old");
		assert_str(events_left(ts[i], n), "400days1hour,399days23hours,0days");
		assert_str(tokens_left(ts[i], n),
		           "expired-inside,expired-past,fresh,revoked-inside,revoked-past,spent");
	}
	assert_str(failures_left(n), "1,2,3");
}

/* Exactly the rows n past their limit are gone, in both tenants. */
static void
assert_only_old_gone(int n)
{
	const tenant *ts[] = {&A, &B};

	for (int i = 0; i < 2; i++) {
		assert_str(keys_left(ts[i], n), "fresh,inside");
		assert_str(events_left(ts[i], n), "399days23hours,0days");
		assert_str(tokens_left(ts[i], n), "expired-inside,fresh,revoked-inside,spent");
	}
	assert_str(failures_left(n), "2,3");
}

/* What a run deleted when only the rows of one seed_all were past their limit. */
#define SEED_DELETED                                                                               \
	"core.idempotency_keys 2, auth.address_failures 1, auth.security_events 2,"                    \
	" auth.refresh_tokens 4"

/* `keel maintain` with extra env (may be NULL); its exit status, its output in *out. */
static int
maintain(const char *const *env, char **out)
{
	const char *args[] = {"maintain", NULL};

	return kt_keel_run(args, env, out);
}

/* ---- tests ---- */

static void
maintain_deletes_exactly_the_rows_past_their_limit(void **state)
{
	(void)state;
	char *out;

	seed_all(1);
	assert_all_there(1);
	assert_int_equal(maintain(NULL, &out), 0);
	if (strstr(out, "retention: deleted " SEED_DELETED "\n") == NULL)
		fail_msg("keel maintain said:\n%s", out);
	free(out);
	assert_only_old_gone(1);

	/* again: nothing more goes */
	assert_int_equal(maintain(NULL, &out), 0);
	assert_non_null(strstr(out, "retention: deleted core.idempotency_keys 0,"
	                            " auth.address_failures 0, auth.security_events 0,"
	                            " auth.refresh_tokens 0\n"));
	free(out);
	assert_only_old_gone(1);
}

/* A backlog of many batches (KEEL_RETENTION_BATCH is 1000), across tenants, goes entirely. */
static void
a_backlog_of_many_batches_goes_entirely(void **state)
{
	(void)state;
	char *out;

	insert_in(&A, strdup("INSERT INTO core.idempotency_keys (tenant_id, key, route, request_hash,"
	                     " created_at) SELECT core.current_tenant_id(), 'k2-old-' || i, 'POST /x',"
	                     " 'h', now() - interval '2 days' FROM generate_series(1, 1500) i"
	                     " RETURNING 1"));
	insert_in(&B, strdup("INSERT INTO core.idempotency_keys (tenant_id, key, route, request_hash,"
	                     " created_at) SELECT core.current_tenant_id(), 'k2-old-' || i, 'POST /x',"
	                     " 'h', now() - interval '2 days' FROM generate_series(1, 700) i"
	                     " RETURNING 1"));
	kt_pg_exec(pg, "INSERT INTO auth.address_failures (client_addr, occurred_at)"
	               " SELECT '10.2.0.1', now() - interval '2 hours' FROM generate_series(1, 2500)");
	failures_seed(2);
	keys_seed(&A, 2);
	assert_int_equal(maintain(NULL, &out), 0);
	if (strstr(out, "retention: deleted core.idempotency_keys 2201, auth.address_failures 2501,") ==
	    NULL)
		fail_msg("keel maintain said:\n%s", out);
	free(out);
	assert_str(keys_left(&A, 2), "fresh,inside");
	assert_str(keys_left(&B, 2), "");
	assert_str(failures_left(2), "2,3");
}

/* Security events go after KEEL_SECURITY_EVENTS_RETENTION: a shorter one deletes more. */
static void
security_events_retention_is_honoured(void **state)
{
	(void)state;
	const char *short_keep[] = {"KEEL_SECURITY_EVENTS_RETENTION=2d", NULL};
	char *out;

	events_seed(&A, 3, "2 days 1 hour,1 day 23 hours,0 days");
	assert_int_equal(maintain(NULL, &out), 0); /* 400d: all stay */
	free(out);
	assert_str(events_left(&A, 3), "2days1hour,1day23hours,0days");
	assert_int_equal(maintain(short_keep, &out), 0);
	free(out);
	assert_str(events_left(&A, 3), "1day23hours,0days");
}

/*
 * A bad KEEL_SECURITY_EVENTS_RETENTION stops keel (maintain and serve) with a message naming
 * it; keel help describes it.
 */
static void
security_events_retention_is_validated(void **state)
{
	(void)state;
	const char *bad[] = {"soon", "400", "12h", "-5d", "36501d", ""};
	const char *serve[] = {"serve", NULL};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *env0 = kt_strf("KEEL_SECURITY_EVENTS_RETENTION=%s", bad[i]);
		const char *env[] = {env0, NULL};
		char *out;

		assert_int_equal(maintain(env, &out), 2);
		if (strstr(out, "KEEL_SECURITY_EVENTS_RETENTION") == NULL)
			fail_msg("for \"%s\" keel said:\n%s", bad[i], out);
		free(out);
		assert_int_equal(kt_keel_run(serve, env, &out), 2);
		assert_non_null(strstr(out, "KEEL_SECURITY_EVENTS_RETENTION"));
		free(out);
		free(env0);
	}
	/* keel help lists it, with the command */
	const char *help[] = {"help", NULL};
	char *text;

	assert_int_equal(kt_keel_run(help, NULL, &text), 0);
	assert_non_null(strstr(text, "KEEL_SECURITY_EVENTS_RETENTION"));
	assert_non_null(strstr(text, "\n  maintain\n"));
	free(text);
	/* the bounds themselves are accepted */
	const char *low[] = {"KEEL_SECURITY_EVENTS_RETENTION=1d", NULL};
	const char *high[] = {"KEEL_SECURITY_EVENTS_RETENTION=36500d", NULL};
	char *out;

	assert_int_equal(maintain(low, &out), 0);
	free(out);
	assert_int_equal(maintain(high, &out), 0);
	free(out);
}

/*
 * True once a `keel maintain` is polling for the retention lock (the test holds it): idle after
 * a try for an advisory lock while holding none.  The audit step before it takes and releases a
 * lock of its own with the same statement, but holds that lock while idle after its try.
 */
static bool
maintain_waiting(void)
{
	char *n = kt_pg_value(pg, "SELECT count(*) FROM pg_stat_activity a"
	                          " WHERE a.application_name = 'keel maintain' AND a.state = 'idle'"
	                          " AND a.query LIKE '%pg_try_advisory_lock%'"
	                          " AND NOT EXISTS (SELECT FROM pg_locks l"
	                          "                 WHERE l.pid = a.pid AND l.locktype = 'advisory')");
	bool waiting = strcmp(n, "0") != 0;

	free(n);
	return waiting;
}

/* A run waits for the one in progress (here: the test holding the lock), then does its job. */
static void
a_run_waits_for_the_one_in_progress(void **state)
{
	(void)state;
	const char *args[] = {"maintain", NULL};
	char *out;

	seed_all(6);
	kt_pg_exec(pg, "SELECT pg_advisory_lock(hashtextextended('keel retention', 0))");
	kt_run *r = kt_keel_spawn(args, NULL);

	for (long long until = kt_now_ms() + 30000; !maintain_waiting() && kt_now_ms() < until;)
		usleep(50000);
	assert_true(maintain_waiting());
	assert_all_there(6); /* nothing deleted while the lock is held */
	kt_pg_exec(pg, "SELECT pg_advisory_unlock(hashtextextended('keel retention', 0))");
	assert_int_equal(kt_keel_wait(r, 60000, &out), 0);
	assert_non_null(strstr(out, "waiting for another retention run to finish"));
	assert_non_null(strstr(out, "retention: deleted " SEED_DELETED "\n"));
	free(out);
	assert_only_old_gone(6);
}

/* The poll of serve's upkeep: true once tenant B's rows n past their limit are gone. */
static bool
old_rows_gone(int n)
{
	char *k = keys_left(&B, n), *f = failures_left(n), *t = tokens_left(&B, n);
	bool gone = strcmp(k, "fresh,inside") == 0 && strcmp(f, "2,3") == 0 &&
	            strcmp(t, "expired-inside,fresh,revoked-inside,spent") == 0;

	free(k);
	free(f);
	free(t);
	return gone;
}

static void
serve_deletes_at_start_with_the_owner_connection(void **state)
{
	(void)state;
	char *log;

	seed_all(4);
	assert_all_there(4);
	kt_keel *k = kt_keel_start(NULL, NULL);

	for (long long until = kt_now_ms() + 30000; !old_rows_gone(4) && kt_now_ms() < until;)
		usleep(50000);
	/* the run ends with its log line: wait for it too */
	for (long long until = kt_now_ms() + 30000; kt_now_ms() < until; usleep(50000)) {
		log = kt_keel_log(k);
		bool done = strstr(log, "retention: rows deleted") != NULL;

		free(log);
		if (done)
			break;
	}
	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	char *line = strstr(log, "\"msg\":\"retention: rows deleted\"");
	bool counted = line != NULL && strstr(line, "\"core.idempotency_keys\":2") != NULL &&
	               strstr(line, "\"auth.address_failures\":1") != NULL &&
	               strstr(line, "\"auth.security_events\":2") != NULL &&
	               strstr(line, "\"auth.refresh_tokens\":4") != NULL;

	if (!counted)
		printf("serve logged:\n%s", log);
	free(log);
	assert_true(counted);
	assert_only_old_gone(4);
}

static void
serve_without_the_owner_connection_says_so(void **state)
{
	(void)state;
	char *url = strdup(getenv("KEEL_MIGRATE_DATABASE_URL")), *log;

	seed_all(5);
	unsetenv("KEEL_MIGRATE_DATABASE_URL");
	kt_keel *k = kt_keel_start(NULL, NULL);

	setenv("KEEL_MIGRATE_DATABASE_URL", url, 1);
	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_non_null(strstr(log, "retention: KEEL_MIGRATE_DATABASE_URL is not set"));
	assert_null(strstr(log, "retention: rows deleted"));
	free(log);
	free(url);
	assert_all_there(5);
	/* and `keel maintain` then does the job */
	assert_int_equal(maintain(NULL, &log), 0);
	assert_non_null(strstr(log, "retention: deleted " SEED_DELETED "\n"));
	free(log);
	assert_only_old_gone(5);
}

/* keel_app may not call the retention functions: they delete across tenants. */
static void
the_app_role_cannot_run_retention(void **state)
{
	(void)state;
	PGconn *app = kt_pg_app();
	const char *calls[] = {"SELECT core.retention_idempotency_keys(NULL, 10)",
	                       "SELECT auth.retention_address_failures(10)",
	                       "SELECT auth.retention_security_events(interval '1 day', NULL, 10)",
	                       "SELECT auth.retention_refresh_tokens(NULL, 10)"};

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		PGresult *r = PQexec(app, calls[i]);

		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
		PQclear(r);
	}
	PQfinish(app);
	/* nor can the owner keep security events less than the throttle's window */
	PGresult *r =
	    PQexec(pg, "SELECT auth.retention_security_events(interval '1 minute', NULL, 10)");

	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
}

/* ---- setup ---- */

/* A tenant and its owner, made in SQL as keel_owner. */
static void
tenant_make(tenant *t, const char *slug)
{
	char *sql = kt_strf("SELECT id FROM core.create_tenant(gen_random_uuid(), 'Tenant %s', '%s')",
	                    slug, slug);

	t->id = kt_pg_value(pg, sql);
	free(sql);
	sql = kt_strf("INSERT INTO auth.users (tenant_id, id, email, password_hash, role)"
	              " VALUES (core.current_tenant_id(), gen_random_uuid(), 'owner@%s.test', 'x',"
	              " 'owner') RETURNING id",
	              slug);
	t->user_id = kt_pg_tenant_value(pg, t->id, sql, NULL);
	free(sql);
	kt_pg_exec(pg, "RESET app.tenant_id");
}

static int
setup(void **state)
{
	(void)state;
	if (!kt_db_migrated("retention"))
		return -1;
	pg = kt_pg_owner();
	tenant_make(&A, "retention-a");
	tenant_make(&B, "retention-b");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	PQfinish(pg);
	free(A.id);
	free(A.user_id);
	free(B.id);
	free(B.user_id);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(maintain_deletes_exactly_the_rows_past_their_limit),
	    cmocka_unit_test(a_backlog_of_many_batches_goes_entirely),
	    cmocka_unit_test(security_events_retention_is_honoured),
	    cmocka_unit_test(security_events_retention_is_validated),
	    cmocka_unit_test(a_run_waits_for_the_one_in_progress),
	    cmocka_unit_test(serve_deletes_at_start_with_the_owner_connection),
	    cmocka_unit_test(serve_without_the_owner_connection_says_so),
	    cmocka_unit_test(the_app_role_cannot_run_retention),
	};

	return cmocka_run_group_tests_name("retention", tests, setup, teardown);
}
