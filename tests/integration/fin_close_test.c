/*
 * Closing with snapshots and the fiscal-year close, end to end: the real keel binary over
 * HTTP against a freshly migrated database of this program's own.
 *
 * What is tested: a period's close stores the snapshot of its postings per account and
 * division (fin.period_balances, migration 0014), its reopening discards it, its locking keeps
 * it; nobody writes the snapshots by SQL (keel_app has no grant, the owner role meets the
 * trigger); `keel fin verify` passes on untouched books and names a posting tampered with as
 * the owner role; the fiscal-year close (its 409s, roles, another tenant's ids), its closing
 * entry moving income and expense per account and division to retained earnings, the next
 * year's opening equal to the closed year's closing; and the trial balance reading closed
 * periods from their snapshots answers exactly as from the postings alone (a property over
 * random books, ranges and closed prefixes).
 *
 * keel starts once for the group; each test makes its own organizations.  Ledgers, accounts and
 * entries, which other parts own, are made by SQL as keel_app (kt_fin.h); periods are closed,
 * reopened and locked and years closed through the routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kt_fin.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"

static kt_keel *srv;
static kt_client cl; /* requests to srv */
static PGconn *pg;   /* keel_owner */
static PGconn *app;  /* keel_app, for the rows other parts own */
static kt_tenant A, B;
static int seq; /* makes codes unique within the program */

#define api(method, token, body, ...) kt_call(&cl, method, token, NULL, body, __VA_ARGS__)

/* ---- the database ---- */

#define assert_db_text(tenant_id, sql, p1, want)                                                   \
	do {                                                                                           \
		char *v_ = kt_pg_tenant_value(pg, (tenant_id), (sql), (const char *[]){(p1), NULL});       \
		const char *w_ = (want);                                                                   \
		if ((v_ == NULL) != (w_ == NULL) || (v_ != NULL && strcmp(v_, w_) != 0))                   \
			fail_msg("%s: \"%s\", expected \"%s\"", (sql), v_ ? v_ : "NULL", w_ ? w_ : "NULL");    \
		free(v_);                                                                                  \
	} while (0)

static long
db_long(const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, A.id, sql, (const char *[]){p1, NULL});
}

/* sql on c (scoped to A) fails with SQLSTATE state. */
static void
refused(PGconn *c, const char *state, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *sql = kt_vstrf(fmt, ap);

	va_end(ap);
	kt_pg_set_tenant(c, A.id);
	PGresult *res = PQexec(c, sql);
	const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || got == NULL || strcmp(got, state) != 0)
		fail_msg("%s: %s, expected SQLSTATE %s", sql, got ? got : "success", state);
	PQclear(res);
	free(sql);
}

/*
 * A period's snapshot: "code/has division/debit/credit" rows, "/closing" appended to the
 * closing entries' sums, in code order.
 */
static char *
snapshot(const char *period)
{
	return kt_pg_tenant_value(
	    pg, A.id,
	    "SELECT coalesce(string_agg(a.code || '/' || (b.division_id IS NOT NULL)::text || '/'"
	    " || b.debit || '/' || b.credit || CASE WHEN b.closing THEN '/closing' ELSE '' END, ','"
	    " ORDER BY a.code, b.division_id NULLS FIRST, b.closing), '')"
	    " FROM fin.period_balances b JOIN fin.accounts a ON a.id = b.account_id"
	    " WHERE b.period_id = $1",
	    (const char *[]){period, NULL});
}

/*
 * The rows of a period's snapshot per account (fin.period_account_balances) that are not its
 * rows per division summed, and the sums that have no such row.
 */
static long
account_rows_astray(const char *period)
{
	return kt_pg_tenant_long(
	    pg, A.id,
	    "SELECT count(*) FROM (SELECT account_id, closing, debit, credit"
	    " FROM fin.period_account_balances WHERE period_id = $1) w"
	    " FULL JOIN (SELECT account_id, closing, sum(debit) AS debit, sum(credit) AS credit"
	    " FROM fin.period_balances WHERE period_id = $1 GROUP BY account_id, closing) d"
	    " ON d.account_id = w.account_id AND d.closing = w.closing"
	    " WHERE w.debit IS DISTINCT FROM d.debit OR w.credit IS DISTINCT FROM d.credit",
	    (const char *[]){period, NULL});
}

/* The snapshot is want, and its rows per account are its rows per division summed. */
#define assert_snapshot(period, want)                                                              \
	do {                                                                                           \
		char *s_ = snapshot(period);                                                               \
		if (strcmp(s_, (want)) != 0)                                                               \
			fail_msg("snapshot of %s: \"%s\", expected \"%s\"", (period), s_, (want));             \
		free(s_);                                                                                  \
		assert_int_equal(account_rows_astray(period), 0);                                          \
	} while (0)

/* Events of type about subject. */
static long
event_count(const char *subject, const char *type)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM events.outbox WHERE subject = $1 AND type = $2",
	                         (const char *[]){subject, type, NULL});
}

/* Events of type about subject whose data is the JSON data. */
static long
event_data_count(const char *subject, const char *type, const char *data)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM events.outbox WHERE subject = $1"
	                         " AND type = $2 AND data::jsonb = $3::jsonb",
	                         (const char *[]){subject, type, data, NULL});
}

/* Audit rows of record id in table with action by actor. */
static long
audit_count(const char *id, const char *table, const char *action, const char *actor)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM audit.logs WHERE record_id = $1"
	                         " AND table_name = $2 AND action = $3 AND actor_id = $4",
	                         (const char *[]){id, table, action, actor, NULL});
}

/* ---- making things ---- */

/* A new organization of A with a ledger in EUR. */
static char *
org_new(void)
{
	char code[32];

	snprintf(code, sizeof(code), "C%d", ++seq);
	char *org = kt_org_make(&cl, A.admin.token, code);

	kt_fin_ledger(app, A.id, org, "EUR");
	return org;
}

/* A fiscal year through the route: its JSON. */
static json_t *
year_make(const char *org, const char *name, const char *start, const char *end)
{
	char *body = kt_strf("{\"name\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	                     "\"period\":\"month\"}",
	                     name, start, end);
	kt_resp *r = api("POST", A.admin.token, body, "/api/v1/organizations/%s/fiscal-years", org);

	kt_assert_status(r, 201);
	json_t *year = json_incref(r->json);

	kt_resp_free(r);
	free(body);
	return year;
}

static const char *
period_id(const json_t *year, size_t i)
{
	return kt_jstr(json_array_get(json_object_get(year, "periods"), i), "id");
}

/* POST /api/v1/periods/{id}/<action> as token, failing the test unless status. */
static void
act(const char *token, const char *id, const char *action, long status)
{
	const char *body = strcmp(action, "reopen") == 0 ? "{\"reason\":\"corrections\"}" : NULL;
	kt_resp *r = api("POST", token, body, "/api/v1/periods/%s/%s", id, action);

	if (r->status != status)
		fail_msg("%s %s: HTTP %ld, expected %ld; body: %s", action, id, r->status, status, r->body);
	kt_resp_free(r);
}

static kt_resp *
year_close(const char *token, const char *id)
{
	return api("POST", token, NULL, "/api/v1/fiscal-years/%s/close", id);
}

/* A 409 problem whose detail contains want. */
static void
assert_conflict(kt_resp *r, const char *want)
{
	kt_assert_problem(r, 409, NULL, NULL);
	const char *detail = kt_jstr(r->json, "detail");

	if (strstr(detail, want) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", detail, want);
	kt_resp_free(r);
}

/* A posted two-line entry: debit one account, credit another, amount, optional division. */
static void
post2(const char *org, const char *date, const char *dr, const char *cr, long long amount,
      const char *div)
{
	kt_fin_line lines[] = {{dr, amount, 0, div}, {cr, 0, amount, div}};

	free(kt_fin_entry(app, A.id, org, "general", date, 2, lines, true));
}

/* `keel fin verify` with an optional --tenant: its exit status, *out its output. */
static int
verify(const char *slug, char **out)
{
	const char *args[] = {"fin", "verify", slug ? "--tenant" : NULL, slug, NULL};

	return kt_keel_run(args, NULL, out);
}

static void
verify_ok(void)
{
	char *out = NULL;
	int status = verify(NULL, &out);

	if (status != 0)
		fail_msg("keel fin verify: exit %d: %s", status, out);
	assert_non_null(strstr(out, "match their postings"));
	free(out);
}

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("fin_close", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "close-a", PASSWORD);
	kt_tenant_make(&cl, &B, "close-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

/* ---- snapshots ---- */

static void
snapshots_follow_close_reopen_and_lock(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	char *div = kt_div_make(&cl, A.admin.token, org, NULL, "D1");
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-03-31");
	const char *jan = period_id(y, 0), *feb = period_id(y, 1);

	post2(org, "2026-01-05", cash, sales, 1000, div);
	post2(org, "2026-01-31", cash, sales, 250, NULL);
	post2(org, "2026-01-20", cash, sales, 5, NULL);
	post2(org, "2026-02-01", cash, sales, 70, NULL);
	assert_snapshot(jan, "");
	act(A.admin.token, jan, "close", 200);
	assert_snapshot(jan, "1000/false/255/0,1000/true/1000/0,4000/false/0/255,4000/true/0/1000");
	assert_snapshot(feb, "");
	act(A.owner.token, jan, "reopen", 200);
	assert_snapshot(jan, "");
	post2(org, "2026-01-10", cash, sales, 1, div);
	act(A.admin.token, jan, "close", 200);
	assert_snapshot(jan, "1000/false/255/0,1000/true/1001/0,4000/false/0/255,4000/true/0/1001");
	act(A.admin.token, feb, "close", 200);
	assert_snapshot(feb, "1000/false/70/0,4000/false/0/70");
	act(A.owner.token, jan, "lock", 200);
	assert_snapshot(jan, "1000/false/255/0,1000/true/1001/0,4000/false/0/255,4000/true/0/1001");
	/* a month without postings has an empty snapshot */
	act(A.admin.token, period_id(y, 2), "close", 200);
	assert_snapshot(period_id(y, 2), "");
	verify_ok();
	json_decref(y);
	free(div);
	free(sales);
	free(cash);
	free(org);
}

/* A close that waited for a posting in flight counts it in the snapshot. */
static void
a_close_after_a_posting_in_flight_counts_it(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-02-28");
	const char *jan = period_id(y, 0);
	kt_fin_line lines[] = {{cash, 4200, 0, NULL}, {sales, 0, 4200, NULL}};
	char *entry = kt_fin_entry(app, A.id, org, "general", "2026-01-31", 2, lines, false);
	PGconn *c = kt_pg_app();
	char *sql = kt_strf("SELECT fin.post_entry('%s')", entry);

	post2(org, "2026-01-02", cash, sales, 100, NULL);
	kt_pg_set_tenant(c, A.id);
	kt_pg_exec(c, "BEGIN");
	kt_pg_exec(c, sql);
	kt_async q = {.base = srv->base, .method = "POST", .token = A.admin.token};

	snprintf(q.path, sizeof(q.path), "/api/v1/periods/%s/close", jan);
	kt_async_start(&q);
	kt_wait_lock_waiters(c, 1);
	kt_pg_exec(c, "COMMIT");
	kt_resp *r = kt_async_finish(&q);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_snapshot(jan, "1000/false/4300/0,4000/false/0/4300");
	verify_ok();
	PQfinish(c);
	free(sql);
	free(entry);
	json_decref(y);
	free(sales);
	free(cash);
	free(org);
}

static void
the_database_refuses_what_breaks_the_snapshots(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-02-28");
	const char *jan = period_id(y, 0);

	post2(org, "2026-01-05", cash, sales, 300, NULL);
	act(A.admin.token, jan, "close", 200);
	/* keel_app: no grant */
	refused(app, "42501",
	        "INSERT INTO fin.period_balances (tenant_id, organization_id, period_id, account_id,"
	        " debit, credit) VALUES ('%s', '%s', '%s', '%s', 1, 0)",
	        A.id, org, jan, cash);
	refused(app, "42501", "UPDATE fin.period_balances SET debit = 1 WHERE period_id = '%s'", jan);
	refused(app, "42501", "DELETE FROM fin.period_balances WHERE period_id = '%s'", jan);
	refused(app, "42501", "UPDATE fin.period_account_balances SET debit = 1 WHERE period_id = '%s'",
	        jan);
	refused(app, "42501", "DELETE FROM fin.period_account_balances WHERE period_id = '%s'", jan);
	refused(app, "42501", "SELECT fin.period_snapshot_take('%s', '%s')", A.id, jan);
	refused(app, "42501", "SELECT * FROM fin.verify_snapshots()");
	/* the owner role meets the trigger */
	refused(pg, "KF409", "UPDATE fin.period_balances SET debit = 1 WHERE period_id = '%s'", jan);
	refused(pg, "KF409", "DELETE FROM fin.period_balances WHERE period_id = '%s'", jan);
	refused(pg, "KF409", "UPDATE fin.period_account_balances SET debit = 1 WHERE period_id = '%s'",
	        jan);
	refused(pg, "KF409", "DELETE FROM fin.period_account_balances WHERE period_id = '%s'", jan);
	assert_snapshot(jan, "1000/false/300/0,4000/false/0/300");
	/* keel_app makes no closing entry, nor turns a draft into one */
	refused(app, "KF422",
	        "INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, kind, date,"
	        " currency) VALUES ('%s', audit.uuid_v7(now()), '%s', 'adjustment', 'closing',"
	        " '2026-01-31', 'EUR')",
	        A.id, org);
	kt_fin_line lines[] = {{cash, 5, 0, NULL}, {sales, 0, 5, NULL}};
	char *draft = kt_fin_entry(app, A.id, org, "adjustment", "2026-02-10", 2, lines, false);

	refused(app, "KF422", "UPDATE fin.journal_entries SET kind = 'closing' WHERE id = '%s'", draft);
	/* nor posts into the closed period, nor closes a year by the function's back door */
	refused(app, "KF422",
	        "UPDATE fin.journal_entries SET date = '2026-01-31' WHERE id = '%s';"
	        " SELECT fin.post_entry('%s')",
	        draft, draft);
	assert_int_equal(db_long("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                         " AND kind = 'closing'",
	                         org),
	                 0);
	free(draft);
	json_decref(y);
	free(sales);
	free(cash);
	free(org);
}

static void
verify_names_a_posting_tampered_by_the_owner(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-02-28");
	const char *jan = period_id(y, 0);
	char *out = NULL;

	post2(org, "2026-01-05", cash, sales, 300, NULL);
	post2(org, "2026-01-06", cash, sales, 200, NULL);
	post2(org, "2026-02-06", cash, sales, 200, NULL);
	act(A.admin.token, jan, "close", 200);
	verify_ok();
	assert_int_equal(verify("close-a", &out), 0);
	free(out);
	/* an attacker with the owner role changes a posted line of the closed month */
	char *tamper = kt_strf("BEGIN; ALTER TABLE fin.postings DISABLE TRIGGER USER;"
	                       " UPDATE fin.postings SET debit = debit + 7 WHERE account_id = '%s'"
	                       " AND date = '2026-01-06';"
	                       " ALTER TABLE fin.postings ENABLE TRIGGER USER; COMMIT",
	                       cash);

	kt_pg_set_tenant(pg, A.id);
	kt_pg_exec(pg, tamper);
	free(tamper);
	assert_int_equal(verify(NULL, &out), 1);
	if (strstr(out, "period 2026-01, account 1000, division -: the snapshot says debit 500"
	                " credit 0, the postings sum to debit 507 credit 0") == NULL ||
	    strstr(out, org) == NULL || strstr(out, "tenant close-a") == NULL)
		fail_msg("keel fin verify: %s", out);
	free(out);
	assert_int_equal(verify("close-a", &out), 1);
	free(out);
	/* the other tenant's books are untouched */
	assert_int_equal(verify("close-b", &out), 0);
	free(out);
	/* usage and an unknown tenant */
	assert_int_equal(verify("nobody-here", &out), 1);
	assert_non_null(strstr(out, "no tenant"));
	free(out);
	const char *bad[] = {"fin", "check", NULL};

	assert_int_equal(kt_keel_run(bad, NULL, &out), 2);
	free(out);
	/* the posting put back: the books verify again */
	tamper = kt_strf("BEGIN; ALTER TABLE fin.postings DISABLE TRIGGER USER;"
	                 " UPDATE fin.postings SET debit = debit - 7 WHERE account_id = '%s'"
	                 " AND date = '2026-01-06';"
	                 " ALTER TABLE fin.postings ENABLE TRIGGER USER; COMMIT",
	                 cash);
	kt_pg_exec(pg, tamper);
	free(tamper);
	verify_ok();
	/* the snapshot of all divisions, which reports without a division read, is checked too */
	tamper = kt_strf("BEGIN; ALTER TABLE fin.period_account_balances DISABLE TRIGGER USER;"
	                 " UPDATE fin.period_account_balances SET credit = credit + %s"
	                 " WHERE account_id = '%s' AND period_id = '%s';"
	                 " ALTER TABLE fin.period_account_balances ENABLE TRIGGER USER; COMMIT",
	                 "1", sales, jan);
	kt_pg_exec(pg, tamper);
	free(tamper);
	assert_int_equal(verify("close-a", &out), 1);
	if (strstr(out, "period 2026-01, account 4000, division all: the snapshot says debit 0"
	                " credit 501, the postings sum to debit 0 credit 500") == NULL)
		fail_msg("keel fin verify: %s", out);
	free(out);
	tamper = kt_strf("BEGIN; ALTER TABLE fin.period_account_balances DISABLE TRIGGER USER;"
	                 " UPDATE fin.period_account_balances SET credit = credit - 1"
	                 " WHERE account_id = '%s' AND period_id = '%s';"
	                 " ALTER TABLE fin.period_account_balances ENABLE TRIGGER USER; COMMIT",
	                 sales, jan);
	kt_pg_exec(pg, tamper);
	free(tamper);
	verify_ok();
	json_decref(y);
	free(sales);
	free(cash);
	free(org);
}

/* ---- the fiscal-year close ---- */

/* The trial balance of org from..to (division: NULL for all): its JSON. */
static json_t *
tb(const char *org, const char *from, const char *to, const char *div)
{
	kt_resp *r =
	    api("GET", A.viewer.token, NULL, "/api/v1/organizations/%s/trial-balance?from=%s&to=%s%s%s",
	        org, from, to, div ? "&division_id=" : "", div ? div : "");

	kt_assert_status(r, 200);
	json_t *j = json_incref(r->json);

	kt_resp_free(r);
	return j;
}

/* The figure key of account id in a trial balance; "0" when it is not listed. */
static const char *
tb_figure(const json_t *t, const char *id, const char *key)
{
	json_t *accounts = json_object_get(t, "accounts");

	for (size_t i = 0; i < json_array_size(accounts); i++)
		if (strcmp(kt_jstr(json_array_get(accounts, i), "account_id"), id) == 0)
			return kt_jstr(json_array_get(accounts, i), key);
	return "0.00";
}

/* Every account's closing in closed equals its opening in next. */
static void
assert_opening_is_closing(const json_t *closed, const json_t *next)
{
	json_t *accounts = json_object_get(closed, "accounts");

	for (size_t i = 0; i < json_array_size(accounts); i++) {
		const char *id = kt_jstr(json_array_get(accounts, i), "account_id");

		assert_string_equal(tb_figure(closed, id, "closing"), tb_figure(next, id, "opening"));
	}
	assert_string_equal(kt_jstr(json_object_get(closed, "totals"), "closing"),
	                    kt_jstr(json_object_get(next, "totals"), "opening"));
}

static void
year_close_moves_income_and_expense_to_retained_earnings(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *re = kt_fin_account(app, A.id, org, "3000", "equity", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	char *rent = kt_fin_account(app, A.id, org, "6000", "expense", NULL, false);
	char *d1 = kt_div_make(&cl, A.admin.token, org, NULL, "D1");
	char *d2 = kt_div_make(&cl, A.admin.token, org, NULL, "D2");
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-03-31");
	json_t *y2 = year_make(org, "FY27", "2026-04-01", "2026-06-30");
	const char *year = kt_jstr(y, "id");

	post2(org, "2026-01-05", cash, sales, 100000, d1);
	post2(org, "2026-02-10", rent, cash, 30000, d2);
	post2(org, "2026-03-31", cash, sales, 5000, NULL);
	post2(org, "2026-03-15", rent, cash, 1000, d1);
	post2(org, "2026-04-02", cash, sales, 700, d1);
	for (int i = 0; i < 3; i++)
		act(A.admin.token, period_id(y, i), "close", 200);
	char *sql = kt_strf("UPDATE fin.ledgers SET retained_earnings_account_id = '%s'"
	                    " WHERE organization_id = '%s'",
	                    re, org);

	kt_pg_set_tenant(app, A.id);
	kt_pg_exec(app, sql);
	free(sql);
	json_t *before = tb(org, "2026-01-01", "2026-03-31", NULL);
	kt_resp *r = year_close(A.admin.token, year);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "closed");
	assert_string_equal(kt_jstr(r->json, "id"), year);
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	assert_int_equal(event_data_count(year, "keel.fiscal_year.closed", r->body), 1);
	assert_int_equal(audit_count(year, "fiscal_years", "UPDATE", A.admin.id), 1);
	kt_assert_header(r, "ETag", "\"2\"");
	kt_resp_free(r);
	/* one closing entry, posted in the adjustment journal on the year's last day */
	char *entry =
	    kt_pg_tenant_value(pg, A.id,
	                       "SELECT id::text FROM fin.journal_entries WHERE organization_id = $1"
	                       " AND kind = 'closing' AND journal = 'adjustment' AND status = 'posted'"
	                       " AND date = '2026-03-31' AND number = 'ADJ-FY26-000001'",
	                       (const char *[]){org, NULL});

	assert_non_null(entry);
	assert_int_equal(db_long("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                         " AND kind = 'closing'",
	                         org),
	                 1);
	assert_int_equal(event_count(entry, "keel.journal_entry.posted"), 1);
	assert_int_equal(audit_count(entry, "journal_entries", "INSERT", A.admin.id), 1);
	/* four balances out (sales D1 and none, rent D1 and D2), one line per division in */
	assert_db_text(A.id,
	               "SELECT string_agg(a.code || ':' || coalesce(d.code, '-') || ':' || l.debit"
	               " || ':' || l.credit, ',' ORDER BY l.line_no) FROM fin.journal_lines l"
	               " JOIN fin.accounts a ON a.id = l.account_id LEFT JOIN org.divisions d"
	               " ON d.id = l.division_id WHERE l.entry_id = $1",
	               entry,
	               "4000:-:5000:0,4000:D1:100000:0,6000:D1:0:1000,6000:D2:0:30000,3000:-:0:5000,"
	               "3000:D1:0:99000,3000:D2:30000:0");
	/* income and expense are zero at the year's end, per account and division */
	assert_int_equal(
	    db_long("SELECT count(*) FROM (SELECT 1 FROM fin.postings p JOIN fin.accounts a"
	            " ON a.id = p.account_id WHERE p.organization_id = $1 AND a.type IN"
	            " ('income', 'expense') AND p.date <= '2026-03-31'"
	            " GROUP BY p.account_id, p.division_id HAVING sum(p.debit - p.credit) <> 0) z",
	            org),
	    0);
	/* retained earnings got the result, per division: D1 1000.00 - 10.00, D2 -300.00, none 50 */
	assert_db_text(A.id,
	               "SELECT string_agg(coalesce(d.code, '-') || ':' || sum, ',' ORDER BY d.code"
	               " NULLS FIRST) FROM (SELECT p.division_id, sum(p.credit - p.debit) FROM"
	               " fin.postings p WHERE p.account_id = $1 GROUP BY p.division_id) s"
	               " LEFT JOIN org.divisions d ON d.id = s.division_id",
	               re, "-:5000,D1:99000,D2:-30000");
	/* the year's trial balance totals did not move; the last month's snapshot holds it */
	json_t *after = tb(org, "2026-01-01", "2026-03-31", NULL);

	assert_string_equal(kt_jstr(json_object_get(before, "totals"), "opening"),
	                    kt_jstr(json_object_get(after, "totals"), "opening"));
	assert_string_equal(tb_figure(after, sales, "closing"), "0.00");
	assert_string_equal(tb_figure(after, rent, "closing"), "0.00");
	assert_string_equal(tb_figure(after, re, "closing"), "-740.00");
	assert_string_equal(tb_figure(after, cash, "closing"), "740.00");
	verify_ok();
	/* the next year's opening is the closed year's closing, whole and per division */
	json_t *next = tb(org, "2026-04-01", "2026-06-30", NULL);

	assert_opening_is_closing(after, next);
	json_decref(next);
	json_decref(after);
	const char *divs[] = {d1, d2};

	for (int i = 0; i < 2; i++) {
		json_t *c = tb(org, "2026-01-01", "2026-03-31", divs[i]);
		json_t *n = tb(org, "2026-04-01", "2026-06-30", divs[i]);

		assert_string_equal(tb_figure(c, sales, "closing"), "0.00");
		assert_string_equal(tb_figure(c, rent, "closing"), "0.00");
		assert_opening_is_closing(c, n);
		json_decref(c);
		json_decref(n);
	}
	/* a closed year's periods are not reopened; the year stays closed; nothing else posts */
	r = api("POST", A.owner.token, "{\"reason\":\"late invoice\"}", "/api/v1/periods/%s/reopen",
	        period_id(y, 2));
	assert_conflict(r, "the fiscal year is closed");
	assert_conflict(year_close(A.admin.token, year), "the fiscal year is closed");
	refused(app, "42501", "UPDATE fin.fiscal_years SET status = 'open' WHERE id = '%s'", year);
	refused(pg, "KF409", "UPDATE fin.fiscal_years SET status = 'open' WHERE id = '%s'", year);
	refused(app, "KF409",
	        "SELECT fin.reverse_entry('%s', audit.uuid_v7(now()), '2026-04-03', NULL)", entry);
	kt_fin_line lines[] = {{cash, 5, 0, NULL}, {sales, 0, 5, NULL}};
	char *late = kt_fin_entry(app, A.id, org, "general", "2026-03-31", 2, lines, false);

	refused(app, "KF422", "SELECT fin.post_entry('%s')", late);
	free(late);
	free(entry);
	json_decref(before);
	json_decref(y2);
	json_decref(y);
	free(d2);
	free(d1);
	free(rent);
	free(sales);
	free(re);
	free(cash);
	free(org);
}

static void
year_close_refusals_roles_and_isolation(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *re = kt_fin_account(app, A.id, org, "3000", "equity", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-02-28");
	const char *year = kt_jstr(y, "id");
	kt_resp *r;

	post2(org, "2026-01-05", cash, sales, 100, NULL);
	/* 404: not a UUID, nobody's, another tenant's */
	r = year_close(A.admin.token, "not-a-uuid");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = year_close(A.admin.token, "0191e5a0-0000-7000-8000-000000000000");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = year_close(B.owner.token, year);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	/* roles: admin and up */
	r = year_close(A.member.token, year);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = year_close(A.viewer.token, year);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	/* 409: a period open; no retained-earnings account; the last period locked */
	assert_conflict(year_close(A.admin.token, year), "a period of the fiscal year is open");
	act(A.admin.token, period_id(y, 0), "close", 200);
	assert_conflict(year_close(A.admin.token, year), "a period of the fiscal year is open");
	act(A.admin.token, period_id(y, 1), "close", 200);
	assert_conflict(year_close(A.admin.token, year), "no retained-earnings account");
	char *sql = kt_strf("UPDATE fin.ledgers SET retained_earnings_account_id = '%s'"
	                    " WHERE organization_id = '%s'",
	                    re, org);

	kt_pg_set_tenant(app, A.id);
	kt_pg_exec(app, sql);
	free(sql);
	act(A.owner.token, period_id(y, 0), "lock", 200);
	act(A.owner.token, period_id(y, 1), "lock", 200);
	assert_conflict(year_close(A.admin.token, year), "last period is locked");
	assert_int_equal(db_long("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                         " AND kind = 'closing'",
	                         org),
	                 0);
	assert_db_text(A.id, "SELECT status FROM fin.fiscal_years WHERE id = $1", year, "open");
	/* a year without income or expense closes without an entry (the owner may too) */
	json_t *y2 = year_make(org, "FY27", "2026-03-01", "2026-03-31");

	act(A.admin.token, period_id(y2, 0), "close", 200);
	r = year_close(A.owner.token, kt_jstr(y2, "id"));
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "closed");
	kt_resp_free(r);
	assert_int_equal(db_long("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                         " AND kind = 'closing'",
	                         org),
	                 0);
	json_decref(y2);
	json_decref(y);
	free(sales);
	free(re);
	free(cash);
	free(org);
}

/* More balances than one entry holds: several closing entries, each balanced, in order. */
static void
year_close_splits_many_balances_over_entries(void **state)
{
	(void)state;
	enum { N = 501 };
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *re = kt_fin_account(app, A.id, org, "3000", "equity", NULL, false);
	char *income[N];
	kt_fin_line lines[N + 1];
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-01-31");

	for (int i = 0; i < N; i++) {
		char code[16];

		snprintf(code, sizeof(code), "4%03d", i);
		income[i] = kt_fin_account(app, A.id, org, code, "income", NULL, false);
		lines[i] = (kt_fin_line){income[i], 0, 1 + i, NULL};
	}
	lines[N] = (kt_fin_line){cash, (long long)N * (N + 1) / 2, 0, NULL};
	free(kt_fin_entry(app, A.id, org, "general", "2026-01-10", N + 1, lines, true));
	act(A.admin.token, period_id(y, 0), "close", 200);
	char *sql = kt_strf("UPDATE fin.ledgers SET retained_earnings_account_id = '%s'"
	                    " WHERE organization_id = '%s'",
	                    re, org);

	kt_pg_set_tenant(app, A.id);
	kt_pg_exec(app, sql);
	free(sql);
	kt_resp *r = year_close(A.admin.token, kt_jstr(y, "id"));

	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_db_text(A.id,
	               "SELECT string_agg(e.number || ':' || (SELECT count(*) FROM fin.journal_lines l"
	               " WHERE l.entry_id = e.id), ',' ORDER BY e.number) FROM fin.journal_entries e"
	               " WHERE e.organization_id = $1 AND e.kind = 'closing'",
	               org, "ADJ-FY26-000001:501,ADJ-FY26-000002:2");
	assert_int_equal(
	    db_long("SELECT count(*) FROM events.outbox WHERE type = 'keel.journal_entry.posted'"
	            " AND data->>'kind' = 'closing' AND data->>'organization_id' = $1",
	            org),
	    2);
	assert_int_equal(db_long("SELECT count(*) FROM (SELECT 1 FROM fin.postings p JOIN"
	                         " fin.accounts a ON a.id = p.account_id WHERE p.organization_id = $1"
	                         " AND a.type = 'income' GROUP BY p.account_id"
	                         " HAVING sum(p.debit - p.credit) <> 0) z",
	                         org),
	                 0);
	assert_db_text(A.id, "SELECT sum(credit - debit)::text FROM fin.postings WHERE account_id = $1",
	               re, "125751");
	verify_ok();
	for (int i = 0; i < N; i++)
		free(income[i]);
	json_decref(y);
	free(re);
	free(cash);
	free(org);
}

/* A reopening that arrives while a year close is in flight waits for it, then finds it closed. */
static void
a_reopen_waits_for_a_year_close_in_flight(void **state)
{
	(void)state;
	char *org = org_new();
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *re = kt_fin_account(app, A.id, org, "3000", "equity", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-01-31");
	char *sql = kt_strf("UPDATE fin.ledgers SET retained_earnings_account_id = '%s'"
	                    " WHERE organization_id = '%s'",
	                    re, org);

	post2(org, "2026-01-05", cash, sales, 100, NULL);
	act(A.admin.token, period_id(y, 0), "close", 200);
	kt_pg_set_tenant(app, A.id);
	kt_pg_exec(app, sql);
	free(sql);
	PGconn *c = kt_pg_app();

	kt_pg_set_tenant(c, A.id);
	kt_pg_exec(c, "BEGIN");
	sql = kt_strf("SELECT fin.close_fiscal_year('%s', audit.uuid_v7(now()))", kt_jstr(y, "id"));
	kt_pg_exec(c, sql);
	free(sql);
	kt_async q = {.base = srv->base,
	              .method = "POST",
	              .token = A.owner.token,
	              .body = "{\"reason\":\"late invoice\"}"};

	snprintf(q.path, sizeof(q.path), "/api/v1/periods/%s/reopen", period_id(y, 0));
	kt_async_start(&q);
	kt_wait_lock_waiters(c, 1);
	kt_pg_exec(c, "COMMIT");
	assert_conflict(kt_async_finish(&q), "the fiscal year is closed");
	assert_db_text(A.id, "SELECT status FROM fin.periods WHERE id = $1", period_id(y, 0), "closed");
	assert_snapshot(
	    period_id(y, 0),
	    "1000/false/100/0,3000/false/0/100/closing,4000/false/0/100,4000/false/100/0/closing");
	PQfinish(c);
	json_decref(y);
	free(sales);
	free(re);
	free(cash);
	free(org);
}

/* ---- the trial balance from snapshots ---- */

#define TB_MONTHS 6

static unsigned rnd_state = 20260101;

static int
rnd(int n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (int)((rnd_state >> 16) % (unsigned)n);
}

static char *
tb_text(const char *org, const char *from, const char *to, const char *div)
{
	kt_resp *r =
	    api("GET", A.viewer.token, NULL, "/api/v1/organizations/%s/trial-balance?from=%s&to=%s%s%s",
	        org, from, to, div ? "&division_id=" : "", div ? div : "");

	kt_assert_status(r, 200);
	char *text = strdup(r->body);

	kt_resp_free(r);
	return text;
}

/*
 * Random books over six months (leaves under a group, two divisions and none), random ranges
 * (whole months, and days inside months) answered with every period open; then for random
 * prefixes of closed periods the same ranges answer byte for byte the same.
 */
static void
trial_balance_from_snapshots_equals_from_postings(void **state)
{
	(void)state;
	char *org = org_new();
	char *grp = kt_fin_account(app, A.id, org, "1", "asset", NULL, true);
	char *acct[4] = {kt_fin_account(app, A.id, org, "10", "asset", grp, false),
	                 kt_fin_account(app, A.id, org, "11", "asset", grp, false),
	                 kt_fin_account(app, A.id, org, "40", "income", NULL, false),
	                 kt_fin_account(app, A.id, org, "60", "expense", NULL, false)};
	char *divs[3] = {NULL, kt_div_make(&cl, A.admin.token, org, NULL, "T1"),
	                 kt_div_make(&cl, A.admin.token, org, NULL, "T2")};
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-06-30");

	for (int i = 0; i < 60; i++) {
		char date[32];
		int dr = rnd(4), cr = (dr + 1 + rnd(3)) % 4;

		snprintf(date, sizeof(date), "2026-%02d-%02d", 1 + rnd(TB_MONTHS), 1 + rnd(28));
		post2(org, date, acct[dr], acct[cr], 1 + rnd(100000), divs[rnd(3)]);
	}
	enum { RANGES = 8 };
	char from[RANGES][32], to[RANGES][32];
	char *want[RANGES][3];

	for (int k = 0; k < RANGES; k++) {
		int m1 = 1 + rnd(TB_MONTHS), m2 = m1 + rnd(TB_MONTHS - m1 + 1);
		bool whole = k % 2 == 0;

		snprintf(from[k], sizeof(from[k]), "2026-%02d-%02d", m1, whole ? 1 : 1 + rnd(28));
		snprintf(to[k], sizeof(to[k]), "2026-%02d-%02d", m2, whole ? 28 : 1 + rnd(28));
		if (strcmp(from[k], to[k]) > 0)
			snprintf(to[k], sizeof(to[k]), "%s", from[k]);
		if (whole && m2 != 2)
			snprintf(to[k] + 8, 3, "%d", m2 == 4 || m2 == 6 ? 30 : 31);
		for (int d = 0; d < 3; d++)
			want[k][d] = tb_text(org, from[k], to[k], divs[d]);
	}
	int closed = 0;

	for (int round = 0; round < 4; round++) {
		int target = round == 3 ? TB_MONTHS : 1 + rnd(TB_MONTHS);

		while (closed > target)
			act(A.owner.token, period_id(y, (size_t)--closed), "reopen", 200);
		while (closed < target)
			act(A.admin.token, period_id(y, (size_t)closed++), "close", 200);
		for (int k = 0; k < RANGES; k++)
			for (int d = 0; d < 3; d++) {
				char *got = tb_text(org, from[k], to[k], divs[d]);

				if (strcmp(got, want[k][d]) != 0)
					fail_msg("%d periods closed, %s..%s division %s:\n%s\nexpected\n%s", closed,
					         from[k], to[k], divs[d] ? divs[d] : "all", got, want[k][d]);
				free(got);
			}
	}
	assert_true(
	    db_long("SELECT count(*) FROM fin.period_balances WHERE organization_id = $1", org) > 0);
	for (int k = 0; k < RANGES; k++)
		for (int d = 0; d < 3; d++)
			free(want[k][d]);
	json_decref(y);
	free(divs[1]);
	free(divs[2]);
	for (int i = 0; i < 4; i++)
		free(acct[i]);
	free(grp);
	free(org);
}

static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(snapshots_follow_close_reopen_and_lock),
	    cmocka_unit_test(a_close_after_a_posting_in_flight_counts_it),
	    cmocka_unit_test(the_database_refuses_what_breaks_the_snapshots),
	    cmocka_unit_test(verify_names_a_posting_tampered_by_the_owner),
	    cmocka_unit_test(year_close_moves_income_and_expense_to_retained_earnings),
	    cmocka_unit_test(year_close_refusals_roles_and_isolation),
	    cmocka_unit_test(year_close_splits_many_balances_over_entries),
	    cmocka_unit_test(a_reopen_waits_for_a_year_close_in_flight),
	    cmocka_unit_test(trial_balance_from_snapshots_equals_from_postings),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_close", tests, setup, teardown);
}
