/*
 * Postings at the same time, over real HTTP: gapless numbers under concurrent postings of one
 * journal (the failed ones consume none, nor does one rolled back), no deadlock between
 * postings that touch the same accounts in opposite orders, and one reversal of two racing.
 *
 * The races are forced, not left to luck: a session of the test holds the row the postings
 * need (the journal's counter, the entry being reversed) until PostgreSQL shows requests
 * waiting for it (kt_wait_lock_waiters), then lets go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kt_fin.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
#define ENTRIES  "/api/v1/journal-entries"
#define N        50

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;  /* keel_owner: the test's own session (locks) */
static PGconn *app; /* keel_app */
static kt_tenant A;
static int seq;

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

typedef struct book {
	char *org, *cash, *bank, *sales, *inactive;
} book;

static char *
account(const book *b, const char *code, const char *type)
{
	char c[32];

	snprintf(c, sizeof(c), "%s-%d", code, ++seq);
	return kt_fin_account(app, A.id, b->org, c, type, NULL, false);
}

static book
book_new(void)
{
	book b = {0};
	char code[32];

	snprintf(code, sizeof(code), "JP%d", ++seq);
	b.org = kt_org_make(&cl, A.owner.token, code);
	kt_fin_ledger(app, A.id, b.org, "EUR");
	b.cash = account(&b, "1000", "asset");
	b.bank = account(&b, "1100", "asset");
	b.sales = account(&b, "4000", "income");
	b.inactive = account(&b, "1900", "asset");
	free(kt_fin_year(app, A.id, b.org, "FY26", "2026-01-01", "2026-12-31", "month"));
	kt_pg_set_tenant(app, A.id);
	char *sql = kt_strf("UPDATE fin.accounts SET status = 'inactive' WHERE id = '%s'", b.inactive);

	kt_pg_exec(app, sql);
	free(sql);
	return b;
}

static void
book_free(book *b)
{
	free(b->org);
	free(b->cash);
	free(b->bank);
	free(b->sales);
	free(b->inactive);
}

/* A draft (as the member): debit dr dam, credit cr cam on date; its id. */
static char *
draft(const book *b, const char *date, const char *dr, const char *dam, const char *cr,
      const char *cam)
{
	char *body = kt_strf("{\"journal\":\"general\",\"date\":\"%s\",\"lines\":[{\"account_id\":"
	                     "\"%s\",\"debit\":\"%s\"},{\"account_id\":\"%s\",\"credit\":\"%s\"}]}",
	                     date, dr, dam, cr, cam);
	kt_resp *r =
	    api("POST", A.member.token, NULL, body, "/api/v1/organizations/%s/journal-entries", b->org);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* Hold the row sql selects FOR UPDATE in a transaction of pg's (tenant A). */
static void
hold(const char *sql)
{
	kt_pg_set_tenant(pg, A.id);
	kt_pg_exec(pg, "BEGIN");
	kt_pg_exec(pg, sql);
}

static void
gapless_numbers_under_concurrent_postings(void **state)
{
	(void)state;
	book b = book_new();
	char *ids[N];
	bool fails[N];
	kt_async q[N];

	/* the counter row exists once the first entry is posted */
	char *first = draft(&b, "2026-03-01", b.cash, "1.00", b.sales, "1.00");
	kt_resp *r = api("POST", A.admin.token, NULL, NULL, ENTRIES "/%s/post", first);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* a posting rolled back consumes no number */
	char *rolled = draft(&b, "2026-03-01", b.cash, "1.00", b.sales, "1.00");
	char *sql = kt_strf("SELECT fin.post_entry('%s')", rolled);

	kt_pg_set_tenant(app, A.id);
	kt_pg_exec(app, "BEGIN");
	kt_pg_exec(app, sql);
	kt_pg_exec(app, "ROLLBACK");
	free(sql);
	for (int i = 0; i < N; i++) {
		fails[i] = i % 5 == 2;
		ids[i] = i % 10 == 2   ? draft(&b, "2026-03-02", b.cash, "1.00", b.sales, "0.99")
		         : i % 10 == 7 ? draft(&b, "2026-03-02", b.inactive, "1.00", b.sales, "1.00")
		                       : draft(&b, "2026-03-02", b.cash, "1.00", b.sales, "1.00");
	}
	sql = kt_strf("SELECT last FROM fin.entry_counters WHERE organization_id = '%s' FOR UPDATE",
	              b.org);
	hold(sql);
	free(sql);
	for (int i = 0; i < N; i++) {
		q[i] = (kt_async){.base = srv->base, .method = "POST", .token = A.admin.token};
		snprintf(q[i].path, sizeof(q[i].path), ENTRIES "/%s/post", ids[i]);
		kt_async_start(&q[i]);
	}
	kt_wait_lock_waiters(pg, 2);
	kt_pg_exec(pg, "COMMIT");
	int posted = 0;

	for (int i = 0; i < N; i++) {
		r = kt_async_finish(&q[i]);
		if (r->status != (fails[i] ? 422 : 200))
			fail_msg("entry %d: %ld %s", i, r->status, r->body);
		posted += r->status == 200;
		kt_resp_free(r);
	}
	assert_int_equal(posted, N - N / 5);
	/* numbers 1..posted + 1 (the first one), each once, no gap */
	char *check = kt_strf("SELECT count(*) FROM (SELECT sequence, number, row_number() OVER"
	                      " (ORDER BY sequence) AS n FROM fin.journal_entries WHERE"
	                      " organization_id = '%s' AND status = 'posted') s WHERE sequence = n"
	                      " AND number = 'GEN-FY26-' || lpad(n::text, 6, '0')",
	                      b.org);

	assert_int_equal(kt_pg_tenant_long(pg, A.id, check, NULL), posted + 1);
	free(check);
	check = kt_strf("SELECT last FROM fin.entry_counters WHERE organization_id = '%s'", b.org);
	assert_int_equal(kt_pg_tenant_long(pg, A.id, check, NULL), posted + 1);
	free(check);
	/* the rolled-back one posts now, with the next number */
	r = api("POST", A.admin.token, NULL, NULL, ENTRIES "/%s/post", rolled);
	kt_assert_status(r, 200);
	char *want = kt_strf("GEN-FY26-%06d", posted + 2);

	assert_string_equal(kt_jstr(r->json, "number"), want);
	free(want);
	kt_resp_free(r);
	for (int i = 0; i < N; i++)
		free(ids[i]);
	free(rolled);
	free(first);
	book_free(&b);
}

#define M 24

static void
opposite_orders_never_deadlock(void **state)
{
	(void)state;
	book b = book_new();
	kt_async q[M];
	char *bodies[M];

	for (int i = 0; i < M; i++) {
		const char *x = i % 2 ? b.cash : b.bank, *y = i % 2 ? b.bank : b.cash;

		bodies[i] = kt_strf("{\"journal\":\"general\",\"date\":\"2026-04-0%d\",\"post\":true,"
		                    "\"lines\":[{\"account_id\":\"%s\",\"debit\":\"2.00\"},{\"account_id\":"
		                    "\"%s\",\"credit\":\"1.00\"},{\"account_id\":\"%s\",\"credit\":"
		                    "\"1.00\"}]}",
		                    1 + i % 9, x, y, b.sales);
	}
	/* one draft posted first makes the counter row, which the test holds meanwhile */
	char *first = draft(&b, "2026-04-01", b.cash, "1.00", b.sales, "1.00");
	kt_resp *r = api("POST", A.admin.token, NULL, NULL, ENTRIES "/%s/post", first);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *sql = kt_strf(
	    "SELECT last FROM fin.entry_counters WHERE organization_id = '%s' FOR UPDATE", b.org);

	hold(sql);
	free(sql);
	for (int i = 0; i < M; i++) {
		q[i] = (kt_async){
		    .base = srv->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), "/api/v1/organizations/%s/journal-entries", b.org);
		kt_async_start(&q[i]);
	}
	kt_wait_lock_waiters(pg, 2);
	kt_pg_exec(pg, "COMMIT");
	for (int i = 0; i < M; i++) {
		r = kt_async_finish(&q[i]);
		if (r->status != 201)
			fail_msg("posting %d: %ld %s", i, r->status, r->body);
		kt_resp_free(r);
		free(bodies[i]);
	}
	sql = kt_strf("SELECT count(*) FROM fin.postings WHERE organization_id = '%s'", b.org);
	assert_int_equal(kt_pg_tenant_long(pg, A.id, sql, NULL), 2 + 3 * M);
	free(sql);
	free(first);
	book_free(&b);
}

static void
two_racing_reversals_make_one(void **state)
{
	(void)state;
	book b = book_new();
	char *id = draft(&b, "2026-05-01", b.cash, "3.00", b.sales, "3.00");
	kt_resp *r = api("POST", A.admin.token, NULL, NULL, ENTRIES "/%s/post", id);
	kt_async q[2];

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *sql = kt_strf("SELECT id FROM fin.journal_entries WHERE id = '%s' FOR UPDATE", id);

	hold(sql);
	free(sql);
	/*
	 * The second is sent once the first waits: a worker waiting in the database serves no
	 * other connection, so two sent together could meet on one worker, one behind the other.
	 */
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){.base = srv->base,
		                  .method = "POST",
		                  .token = A.admin.token,
		                  .body = "{\"date\":\"2026-05-02\"}"};
		snprintf(q[i].path, sizeof(q[i].path), ENTRIES "/%s/reverse", id);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(pg, i + 1);
	}
	kt_pg_exec(pg, "COMMIT");
	kt_resp *a = kt_async_finish(&q[0]), *c = kt_async_finish(&q[1]);
	kt_resp *won = a->status == 201 ? a : c, *lost = a->status == 201 ? c : a;

	kt_assert_status(won, 201);
	kt_assert_status(lost, 409);
	assert_string_equal(kt_jstr(lost->json, "detail"), "the entry is reversed");
	sql = kt_strf("SELECT count(*) FROM fin.journal_entries WHERE reverses_id = '%s'", id);
	assert_int_equal(kt_pg_tenant_long(pg, A.id, sql, NULL), 1);
	free(sql);
	kt_resp_free(a);
	kt_resp_free(c);
	free(id);
	book_free(&b);
}

static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

static int
setup(void **state)
{
	(void)state;
	/* requests wait on locks the test holds for as long as the test needs: no statement timeout */
	const char *env[] = {"KEEL_WORKERS=8", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};

	if ((srv = kt_fixture_start("fin_posting", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_make(&cl, &A, "fin-posting", PASSWORD);
	A.owner.token = kt_tenant_login(&cl, &A, "owner");
	kt_tenant_user(&cl, &A, &A.admin, "admin", "admin");
	kt_tenant_user(&cl, &A, &A.member, "member", "member");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	kt_tenant_free(&A);
	return status;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(gapless_numbers_under_concurrent_postings),
	    cmocka_unit_test(opposite_orders_never_deadlock),
	    cmocka_unit_test(two_racing_reversals_make_one),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_posting", tests, setup, teardown);
}
