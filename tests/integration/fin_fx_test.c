/*
 * Exchange rates and foreign-currency journal lines against the real binary and PostgreSQL:
 * POST|GET /api/v1/exchange-rates (the rate in force on a day, strict rate text, one rate per
 * pair and day, roles, tenants) and journal entries whose lines are in other currencies than
 * the ledger's (a given rate or the rate in force; conversions between 0, 2 and 3 minor digits
 * rounded half to even; the rounding line; a property test whose reference conversion is
 * integer arithmetic written here).  What the database must refuse to keel_app by raw SQL:
 * a foreign line booked at another functional amount than its conversion, and rates changed,
 * deleted or out of range.
 *
 * Ledgers, accounts and fiscal years are made by SQL through migration 0012's functions
 * (kt_fin.h); the rates and the entries, this part's routes, through HTTP.
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

#include "core/money.h"
#include "events/events.h"
#include "kt.h"
#include "kt_fin.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
#define RATES    "/api/v1/exchange-rates"
#define ENTRIES  "/api/v1/organizations/%s/journal-entries"

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app */
static kt_tenant A, B; /* B: the other tenant */

/* An organization's books: its ledger currency, accounts, and rounding account (maybe unset). */
typedef struct books {
	char *org;
	const char *currency;
	char *cash, *sales, *bank_usd, *rounding;
} books;

static books EUR, EUR_NR, JPY, KWD; /* EUR_NR: no rounding account */

static kt_resp *api(const char *method, const char *token, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static kt_resp *
api(const char *method, const char *token, const char *body, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_resp *r = kt_vcall(&cl, method, token, NULL, body, fmt, ap);

	va_end(ap);
	return r;
}

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
count1(const kt_tenant *t, const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, NULL});
}

/* sql as keel_app in t with params: PostgreSQL must refuse it with sqlstate (and constraint). */
static void
assert_refused(const kt_tenant *t, const char *sql, const char *const *params, const char *sqlstate,
               const char *constraint)
{
	int n = 0;

	while (params != NULL && params[n] != NULL)
		n++;
	kt_pg_set_tenant(app, t->id);
	PGresult *res = PQexecParams(app, sql, n, NULL, params, NULL, NULL, 0);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || state == NULL || strcmp(state, sqlstate) != 0)
		fail_msg("%s: %s, expected SQLSTATE %s", sql,
		         PQresultStatus(res) == PGRES_FATAL_ERROR ? state : "accepted", sqlstate);
	if (constraint != NULL && (c == NULL || strcmp(c, constraint) != 0))
		fail_msg("%s: refused by %s, expected %s", sql, c ? c : "(none)", constraint);
	PQclear(res);
}

static void
books_make(books *b, const char *code, const char *currency, bool rounding)
{
	b->org = kt_org_make(&cl, A.owner.token, code);
	b->currency = currency;
	kt_fin_ledger(app, A.id, b->org, currency);
	b->cash = kt_fin_account(app, A.id, b->org, "1000", "asset", NULL, false);
	b->sales = kt_fin_account(app, A.id, b->org, "4000", "income", NULL, false);
	b->rounding = kt_fin_account(app, A.id, b->org, "8990", "expense", NULL, false);
	kt_resp *r = api("POST", A.admin.token,
	                 "{\"code\":\"1100\",\"name\":\"Bank USD\",\"type\":\"asset\","
	                 "\"currency\":\"USD\"}",
	                 "/api/v1/organizations/%s/accounts", b->org);

	kt_assert_status(r, 201);
	b->bank_usd = strdup(kt_jstr(r->json, "id"));
	kt_resp_free(r);
	if (rounding)
		PQclear(kt_pg_tenant_query(app, A.id,
		                           "UPDATE fin.ledgers SET rounding_account_id = $2 "
		                           "WHERE organization_id = $1 RETURNING id",
		                           (const char *[]){b->org, b->rounding, NULL}));
	free(kt_fin_year(app, A.id, b->org, "FY26", "2026-01-01", "2026-12-31", "month"));
}

static void
books_free(books *b)
{
	free(b->org);
	free(b->cash);
	free(b->sales);
	free(b->bank_usd);
	free(b->rounding);
}

/* POST a rate as token: the answer. */
static kt_resp *
rate_post(const char *token, const char *from, const char *to, const char *rate, const char *date)
{
	char *body = kt_strf("{\"from\":\"%s\",\"to\":\"%s\",\"rate\":\"%s\",\"date\":\"%s\"}", from,
	                     to, rate, date);
	kt_resp *r = api("POST", token, body, RATES);

	free(body);
	return r;
}

/* A rate the test needs: 201. */
static void
rate_make(const char *from, const char *to, const char *rate, const char *date)
{
	kt_resp *r = rate_post(A.admin.token, from, to, rate, date);

	kt_assert_status(r, 201);
	kt_resp_free(r);
}

static kt_resp *
rate_get(const char *token, const char *from, const char *to, const char *date)
{
	return api("GET", token, NULL, RATES "?from=%s&to=%s&date=%s", from, to, date);
}

/* The body of r is exactly want. */
static void
assert_body(kt_resp *r, long status, const char *want)
{
	kt_assert_status(r, status);
	kt_assert_compact_body(r);
	if (strcmp(r->body, want) != 0)
		fail_msg("body\n%s\nwanted\n%s", r->body, want);
}

/* POST an entry of b with lines (JSON text of the array's members), post or not. */
static kt_resp *
entry_post(const books *b, const char *date, const char *extra, const char *lines, bool post)
{
	char *body = kt_strf("{\"journal\":\"general\",\"date\":\"%s\",%s\"lines\":[%s],\"post\":%s}",
	                     date, extra ? extra : "", lines, post ? "true" : "false");
	kt_resp *r = api("POST", A.admin.token, body, ENTRIES, b->org);

	free(body);
	return r;
}

static const json_t *
line_of(const kt_resp *r, size_t i)
{
	const json_t *l = json_array_get(json_object_get(r->json, "lines"), i);

	if (l == NULL)
		fail_msg("no line %zu in %s", i, r->body);
	return l;
}

static void
assert_line(const kt_resp *r, size_t i, const char *currency, const char *rate,
            const char *functional_debit, const char *functional_credit)
{
	const json_t *l = line_of(r, i);

	assert_string_equal(kt_jstr(l, "currency"), currency);
	assert_string_equal(kt_jstr(l, "rate"), rate);
	assert_string_equal(kt_jstr(l, "functional_debit"), functional_debit);
	assert_string_equal(kt_jstr(l, "functional_credit"), functional_credit);
}

/* ---- exchange rates ---- */

static void
rate_in_force_on_a_day(void **state)
{
	(void)state;
	kt_resp *r = rate_post(A.admin.token, "CHF", "EUR", "1.0650", "2026-01-10");

	assert_body(r, 201,
	            "{\"from\":\"CHF\",\"to\":\"EUR\",\"rate\":\"1.065\",\"date\":\"2026-01-10\"}");
	kt_resp_free(r);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM fin.exchange_rates WHERE from_currency = $1 "
	                          "AND to_currency = $2 AND rate = 1.065 AND date = '2026-01-10'",
	                          "CHF", "EUR"),
	                 1);
	char *id = kt_pg_tenant_value(
	    pg, A.id, "SELECT id::text FROM fin.exchange_rates WHERE from_currency = $1 AND date = $2",
	    (const char *[]){"CHF", "2026-01-10", NULL});

	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM audit.logs WHERE schema_name = 'fin' AND "
	                          "table_name = 'exchange_rates' AND action = 'INSERT' AND "
	                          "record_id = $1::uuid AND actor_id = $2::uuid",
	                          id, A.admin.id),
	                 1);
	char *data = kt_pg_tenant_value(
	    pg, A.id, "SELECT data::text FROM events.outbox WHERE type = $1 AND subject = $2",
	    (const char *[]){"keel.exchange_rate.created", id, NULL});

	assert_non_null(data);
	json_t *ev = json_loads(data, 0, NULL);

	assert_string_equal(kt_jstr(ev, "rate"), "1.065");
	assert_string_equal(kt_jstr(ev, "date"), "2026-01-10");
	json_decref(ev);
	free(data);
	char topic[64];

	keel_events_topic("keel", "keel.exchange_rate.created", topic, sizeof(topic));
	assert_string_equal(topic, "keel.exchange_rates");
	free(id);
	rate_make("CHF", "EUR", "1.07", "2026-01-20");
	/* before the first: 404; on a rate's day and after: the latest on or before */
	r = rate_get(A.viewer.token, "CHF", "EUR", "2026-01-09");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	const char *days[][2] = {{"2026-01-10", "1.065"},
	                         {"2026-01-19", "1.065"},
	                         {"2026-01-20", "1.07"},
	                         {"2099-12-31", "1.07"}};

	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		char *want =
		    kt_strf("{\"from\":\"CHF\",\"to\":\"EUR\",\"rate\":\"%s\",\"date\":\"%s\"}", days[i][1],
		            strcmp(days[i][1], "1.07") == 0 ? "2026-01-20" : "2026-01-10");

		r = rate_get(A.viewer.token, "CHF", "EUR", days[i][0]);
		assert_body(r, 200, want);
		kt_resp_free(r);
		free(want);
	}
	/* never inverted */
	r = rate_get(A.viewer.token, "EUR", "CHF", "2026-02-01");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	/* one rate per pair and day */
	r = rate_post(A.admin.token, "CHF", "EUR", "1.2", "2026-01-20");
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM fin.exchange_rates WHERE from_currency = $1 "
	                          "AND to_currency = $2",
	                          "CHF", "EUR"),
	                 2);
}

static void
rate_text_is_strict(void **state)
{
	(void)state;
	kt_resp *r = rate_post(A.admin.token, "SEK", "EUR", "0.087654321012", "2026-01-01");

	assert_body(
	    r, 201,
	    "{\"from\":\"SEK\",\"to\":\"EUR\",\"rate\":\"0.087654321012\",\"date\":\"2026-01-01\"}");
	kt_resp_free(r);
	const char *bad[] = {
	    "0.0876543210123", "1e3", "-1", "0", "0.000", "01.5", "", ".5", "5.", "+1", " 1", "1,5",
	    "1000000000000"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = rate_post(A.admin.token, "SEK", "EUR", bad[i], "2026-01-02");
		kt_assert_problem(r, 422, NULL, "rate");
		kt_resp_free(r);
	}
	const char *bodies[][2] = {
	    {"{\"from\":\"SEK\",\"to\":\"EUR\",\"rate\":1.5,\"date\":\"2026-01-02\"}", "rate"},
	    {"{\"from\":\"SEK\",\"to\":\"SEK\",\"rate\":\"1.5\",\"date\":\"2026-01-02\"}", "to"},
	    {"{\"from\":\"XYZ\",\"to\":\"EUR\",\"rate\":\"1.5\",\"date\":\"2026-01-02\"}", "from"},
	    {"{\"from\":\"SEK\",\"to\":\"XYZ\",\"rate\":\"1.5\",\"date\":\"2026-01-02\"}", "to"},
	    {"{\"from\":\"sek\",\"to\":\"EUR\",\"rate\":\"1.5\",\"date\":\"2026-01-02\"}", "from"},
	    {"{\"from\":\"SEK\",\"to\":\"EUR\",\"rate\":\"1.5\",\"date\":\"2026-02-30\"}", "date"},
	    {"{\"from\":\"SEK\",\"to\":\"EUR\",\"rate\":\"1.5\"}", "date"},
	    {"{\"from\":\"SEK\",\"to\":\"EUR\",\"rate\":\"1.5\",\"date\":\"2026-01-02\",\"x\":1}", "x"},
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		r = api("POST", A.admin.token, bodies[i][0], RATES);
		kt_assert_problem(r, 422, NULL, bodies[i][1]);
		kt_resp_free(r);
	}
	r = api("POST", A.admin.token, "{\"from\":", RATES);
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM fin.exchange_rates WHERE from_currency = $1 "
	                          "AND to_currency = $2",
	                          "SEK", "EUR"),
	                 1);
	/* the query of a read */
	const char *queries[][2] = {{"?to=EUR&date=2026-01-02", "from"},
	                            {"?from=SEK&date=2026-01-02", "to"},
	                            {"?from=SEK&to=EUR", "date"},
	                            {"?from=SEK&to=EUR&date=2026-13-01", "date"},
	                            {"?from=sek&to=EUR&date=2026-01-02", "from"}};

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		r = api("GET", A.viewer.token, NULL, RATES "%s", queries[i][0]);
		kt_assert_problem(r, 422, NULL, queries[i][1]);
		kt_resp_free(r);
	}
}

static void
rate_roles_and_tenants(void **state)
{
	(void)state;
	const char *writers[] = {A.member.token, A.viewer.token};

	for (size_t i = 0; i < 2; i++) {
		kt_resp *r = rate_post(writers[i], "NOK", "EUR", "0.085", "2026-01-01");

		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = rate_post(NULL, "NOK", "EUR", "0.085", "2026-01-01");

	kt_assert_status(r, 401);
	kt_resp_free(r);
	r = rate_post(A.owner.token, "NOK", "EUR", "0.085", "2026-01-01");
	kt_assert_status(r, 201);
	kt_resp_free(r);
	r = rate_get(NULL, "NOK", "EUR", "2026-01-01");
	kt_assert_status(r, 401);
	kt_resp_free(r);
	/* another tenant never sees A's rates, and keeps its own for the same pair and day */
	r = rate_get(B.owner.token, "NOK", "EUR", "2026-06-01");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = rate_post(B.owner.token, "NOK", "EUR", "0.09", "2026-01-01");
	kt_assert_status(r, 201);
	kt_resp_free(r);
	r = rate_get(B.owner.token, "NOK", "EUR", "2026-06-01");
	assert_string_equal(kt_jstr(r->json, "rate"), "0.09");
	kt_resp_free(r);
	r = rate_get(A.viewer.token, "NOK", "EUR", "2026-06-01");
	assert_string_equal(kt_jstr(r->json, "rate"), "0.085");
	kt_resp_free(r);
	assert_int_equal(
	    count1(&B, "SELECT count(*) FROM fin.exchange_rates WHERE from_currency = $1", "NOK"), 1);
}

/*
 * Two admins give the same pair a rate for the same day while a third insert of it is in
 * flight: both wait on the day's key; the in-flight one rolls back, one of the two is 201 and
 * the other 409, and one row, one event remain.
 */
static void
same_day_race_keeps_one_rate(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	PGconn *hold = kt_pg_app();
	const char *bodies[] = {
	    "{\"from\":\"GBP\",\"to\":\"EUR\",\"rate\":\"1.15\",\"date\":\"2026-03-03\"}",
	    "{\"from\":\"GBP\",\"to\":\"EUR\",\"rate\":\"1.16\",\"date\":\"2026-03-03\"}"};
	kt_async q[2];

	kt_pg_exec(hold, "BEGIN");
	PQclear(kt_pg_tenant_query(hold, A.id,
	                           "INSERT INTO fin.exchange_rates (tenant_id, id, from_currency,"
	                           " to_currency, rate, date) VALUES (core.current_tenant_id(),"
	                           " gen_random_uuid(), 'GBP', 'EUR', 1.2, '2026-03-03') RETURNING id",
	                           NULL));
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){
		    .base = k->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), RATES);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(hold, i + 1);
	}
	kt_pg_exec(hold, "ROLLBACK");
	PQfinish(hold);
	kt_resp *r0 = kt_async_finish(&q[0]), *r1 = kt_async_finish(&q[1]);
	kt_resp *won = r0->status == 201 ? r0 : r1, *lost = won == r0 ? r1 : r0;

	kt_assert_status(won, 201);
	kt_assert_problem(lost, 409, NULL, NULL);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM fin.exchange_rates WHERE from_currency = $1 "
	                          "AND date = $2::date",
	                          "GBP", "2026-03-03"),
	                 1);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM events.outbox WHERE type = $1 AND "
	                          "data->>'date' = $2",
	                          "keel.exchange_rate.created", "2026-03-03"),
	                 1);
	r0 = rate_get(A.viewer.token, "GBP", "EUR", "2026-03-03");
	assert_string_equal(kt_jstr(r0->json, "rate"), kt_jstr(won->json, "rate"));
	kt_resp_free(r0);
	kt_resp_free(won);
	kt_resp_free(lost);
	kt_keel_stop_clean(&k, NULL);
}

/* ---- foreign-currency lines ---- */

static void
foreign_line_at_a_given_rate_and_at_the_rate_in_force(void **state)
{
	(void)state;
	rate_make("USD", "EUR", "0.9", "2026-02-01");
	rate_make("USD", "EUR", "0.92", "2026-03-01");
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"100.00\",\"currency\":\"USD\","
	                      "\"rate\":\"1.1\"},{\"account_id\":\"%s\",\"credit\":\"110.00\"}",
	                      EUR.bank_usd, EUR.sales);
	kt_resp *r = entry_post(&EUR, "2026-03-05", NULL, lines, true);

	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "status"), "posted");
	assert_line(r, 0, "USD", "1.1", "110.00", "0.00");
	assert_string_equal(kt_jstr(line_of(r, 0), "debit"), "100.00");
	assert_line(r, 1, "EUR", "1", "0.00", "110.00");
	kt_resp_free(r);
	free(lines);
	/* the rate in force: 2026-02-15 takes 0.9, 2026-03-01 takes 0.92 */
	const char *days[][3] = {{"2026-02-15", "0.9", "90.00"}, {"2026-03-01", "0.92", "92.00"}};

	for (size_t i = 0; i < 2; i++) {
		lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"100.00\",\"currency\":\"USD\"},"
		                "{\"account_id\":\"%s\",\"credit\":\"%s\"}",
		                EUR.bank_usd, EUR.sales, days[i][2]);
		r = entry_post(&EUR, days[i][0], NULL, lines, true);
		kt_assert_status(r, 201);
		assert_line(r, 0, "USD", days[i][1], days[i][2], "0.00");
		kt_resp_free(r);
		free(lines);
	}
	/* before the first rate: 422 naming the line's currency */
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"100.00\",\"currency\":\"USD\"},"
	                "{\"account_id\":\"%s\",\"credit\":\"90.00\"}",
	                EUR.bank_usd, EUR.sales);
	r = entry_post(&EUR, "2026-01-31", NULL, lines, false);
	kt_assert_problem(r, 422, NULL, "lines[0].currency");
	kt_resp_free(r);
	free(lines);
	/* the entry's currency is the lines' default: both lines in USD, the account refuses */
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"100.00\"},"
	                "{\"account_id\":\"%s\",\"credit\":\"100.00\"}",
	                EUR.bank_usd, EUR.sales);
	r = entry_post(&EUR, "2026-03-02", "\"currency\":\"USD\",", lines, false);
	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "currency"), "USD");
	assert_line(r, 1, "USD", "0.92", "0.00", "92.00");
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(lines);
	/* an account restricted to USD takes only USD: the precise 422 of posting */
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"92.00\"},"
	                "{\"account_id\":\"%s\",\"credit\":\"92.00\"}",
	                EUR.bank_usd, EUR.sales);
	r = entry_post(&EUR, "2026-03-02", NULL, lines, true);
	kt_assert_problem(r, 422, NULL, "lines[0].account_id");
	kt_resp_free(r);
	free(lines);
	/* a PATCH of a USD entry's lines: they default to USD */
	char *patch = kt_strf("{\"lines\":[{\"account_id\":\"%s\",\"debit\":\"10.00\"},"
	                      "{\"account_id\":\"%s\",\"credit\":\"9.20\",\"currency\":\"EUR\"}]}",
	                      EUR.bank_usd, EUR.sales);

	r = api("PATCH", A.member.token, patch, "/api/v1/journal-entries/%s", id);
	kt_assert_status(r, 200);
	assert_line(r, 0, "USD", "0.92", "9.20", "0.00");
	assert_line(r, 1, "EUR", "1", "0.00", "9.20");
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "/api/v1/journal-entries/%s/post", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(patch);
	free(id);
	/* bad rates and currencies of lines */
	const char *bad[][2] = {
	    {"\"currency\":\"USD\",\"rate\":\"1e3\"", "lines[0].rate"},
	    {"\"currency\":\"USD\",\"rate\":\"0\"", "lines[0].rate"},
	    {"\"currency\":\"USD\",\"rate\":\"1.0000000000001\"", "lines[0].rate"},
	    {"\"currency\":\"USD\",\"rate\":1.5", "lines[0].rate"},
	    {"\"rate\":\"1\"", "lines[0].rate"},
	    {"\"currency\":\"XYZ\",\"rate\":\"1\"", "lines[0].currency"},
	    {"\"currency\":\"usd\"", "lines[0].currency"},
	    {"\"currency\":\"JPY\",\"rate\":\"0.006\"", "lines[0].debit"}, /* "100.00" JPY */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"100.00\",%s},"
		                "{\"account_id\":\"%s\",\"credit\":\"100.00\"}",
		                EUR.cash, bad[i][0], EUR.sales);
		r = entry_post(&EUR, "2026-03-02", NULL, lines, false);
		kt_assert_problem(r, 422, NULL, bad[i][1]);
		kt_resp_free(r);
		free(lines);
	}
	r = entry_post(&EUR, "2026-03-02", "\"currency\":\"XYZ\",", "", false);
	kt_assert_problem(r, 422, NULL, "lines");
	kt_resp_free(r);
}

/* A draft of b with lines of amount in currency at rate: their functional amounts are want. */
static void
assert_conversion(const books *b, const char *currency, const char *amount, const char *rate,
                  const char *want)
{
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"%s\",\"currency\":\"%s\",\"rate\":"
	                      "\"%s\"},{\"account_id\":\"%s\",\"credit\":\"%s\",\"currency\":"
	                      "\"%s\",\"rate\":\"%s\"}",
	                      b->cash, amount, currency, rate, b->sales, amount, currency, rate);
	kt_resp *r = entry_post(b, "2026-04-01", NULL, lines, false);

	kt_assert_status(r, 201);
	if (strcmp(kt_jstr(line_of(r, 0), "functional_debit"), want) != 0)
		fail_msg("%s %s at %s in %s: %s, expected %s", amount, currency, rate, b->currency,
		         kt_jstr(line_of(r, 0), "functional_debit"), want);
	assert_string_equal(kt_jstr(line_of(r, 1), "functional_credit"), want);
	kt_resp_free(r);
	free(lines);
}

static void
conversions_between_minor_digits_are_exact(void **state)
{
	(void)state;
	/* JPY (0) -> EUR (2): 1000 x 0.0061 = 6.10 */
	assert_conversion(&EUR, "JPY", "1000", "0.0061", "6.10");
	assert_conversion(&EUR, "JPY", "1", "0.006211", "0.01");
	/* KWD (3) -> EUR (2): 1.234 x 2.97 = 3.66498 -> 3.66 */
	assert_conversion(&EUR, "KWD", "1.234", "2.97", "3.66");
	/* EUR (2) -> JPY (0): 12.34 x 161.5 = 1992.91 -> 1993 */
	assert_conversion(&JPY, "EUR", "12.34", "161.5", "1993");
	/* KWD (3) -> JPY (0): 1.234 x 480.5 = 592.937 -> 593 */
	assert_conversion(&JPY, "KWD", "1.234", "480.5", "593");
	/* EUR (2) -> KWD (3): 12.34 x 0.33 = 4.0722 -> 4.072 */
	assert_conversion(&KWD, "EUR", "12.34", "0.33", "4.072");
	/* JPY (0) -> KWD (3): 7 x 0.002 = 0.014 */
	assert_conversion(&KWD, "JPY", "7", "0.002", "0.014");
	/* a half goes to the even neighbour */
	assert_conversion(&EUR, "USD", "0.01", "0.5", "0.00");
	assert_conversion(&EUR, "USD", "0.03", "0.5", "0.02");
	assert_conversion(&EUR, "USD", "0.05", "0.5", "0.02");
	assert_conversion(&EUR, "USD", "0.07", "0.5", "0.04");
	assert_conversion(&JPY, "EUR", "0.25", "2", "0");       /* 0.5 */
	assert_conversion(&JPY, "EUR", "0.75", "2", "2");       /* 1.5 */
	assert_conversion(&JPY, "EUR", "1.25", "2", "2");       /* 2.5 */
	assert_conversion(&KWD, "JPY", "1", "0.0025", "0.002"); /* 2.5 minor units */
	assert_conversion(&KWD, "JPY", "1", "0.0035", "0.004"); /* 3.5 */
	/* just past a half goes up, just below goes down */
	assert_conversion(&EUR, "USD", "0.01", "0.500000000001", "0.01");
	assert_conversion(&EUR, "USD", "0.03", "0.499999999999", "0.01");
	/* 12 fractional digits of rate, a large amount: exact */
	assert_conversion(&EUR, "USD", "1000000000.00", "1.123456789012", "1123456789.01");
}

static void
rounding_line_books_the_leftover(void **state)
{
	(void)state;
	/* 0.05 USD at 0.5 = 0.025 -> 0.02 EUR; credit 0.03 EUR: 0.01 goes to rounding, debit */
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\","
	                      "\"rate\":\"0.5\"},{\"account_id\":\"%s\",\"credit\":\"0.03\"}",
	                      EUR.cash, EUR.sales);
	kt_resp *r = entry_post(&EUR, "2026-05-10", NULL, lines, true);

	kt_assert_status(r, 201);
	assert_int_equal(json_array_size(json_object_get(r->json, "lines")), 3);
	assert_line(r, 2, "EUR", "1", "0.01", "0.00");
	assert_string_equal(kt_jstr(line_of(r, 2), "account_id"), EUR.rounding);
	assert_string_equal(kt_jstr(line_of(r, 2), "debit"), "0.01");
	assert_string_equal(kt_jstr(line_of(r, 2), "memo"), "Rounding");
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, "/api/v1/journal-entries/%s", id);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(line_of(r, 2), "account_id"), EUR.rounding);
	kt_resp_free(r);
	/* the posted event carries it, and the trial balance shows it */
	char *data = kt_pg_tenant_value(
	    pg, A.id,
	    "SELECT data::text FROM events.outbox WHERE type = $1 AND subject = $2 ORDER BY seq DESC "
	    "LIMIT 1",
	    (const char *[]){"keel.journal_entry.posted", id, NULL});
	json_t *ev = json_loads(data, 0, NULL);

	assert_int_equal(json_array_size(json_object_get(ev, "lines")), 3);
	json_decref(ev);
	free(data);
	r = api("GET", A.viewer.token, NULL,
	        "/api/v1/organizations/%s/trial-balance?from=2026-05-10&to=2026-05-10", EUR.org);
	kt_assert_status(r, 200);
	json_t *acct;
	size_t i;
	bool seen = false;

	json_array_foreach(json_object_get(r->json, "accounts"), i, acct)
	{
		if (strcmp(kt_jstr(acct, "account_id"), EUR.rounding) == 0) {
			assert_string_equal(kt_jstr(acct, "debit"), "0.01");
			seen = true;
		}
	}
	assert_true(seen);
	assert_string_equal(kt_jstr(json_object_get(r->json, "totals"), "debit"),
	                    kt_jstr(json_object_get(r->json, "totals"), "credit"));
	kt_resp_free(r);
	/* its reversal reverses the rounding line too */
	r = api("POST", A.admin.token, "{\"date\":\"2026-05-11\"}",
	        "/api/v1/journal-entries/%s/reverse", id);
	kt_assert_status(r, 201);
	assert_line(r, 2, "EUR", "1", "0.00", "0.01");
	kt_resp_free(r);
	free(id);
	/* two foreign lines may leave two minor units; a draft posted later gets its line too */
	free(lines);
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\",\"rate\":"
	                "\"0.5\"},{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\","
	                "\"rate\":\"0.5\"},{\"account_id\":\"%s\",\"credit\":\"0.02\"}",
	                EUR.cash, EUR.cash, EUR.sales);
	r = entry_post(&EUR, "2026-05-12", NULL, lines, false);
	kt_assert_status(r, 201);
	assert_int_equal(json_array_size(json_object_get(r->json, "lines")), 3);
	id = strdup(kt_jstr(r->json, "id"));
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "/api/v1/journal-entries/%s/post", id);
	kt_assert_status(r, 200);
	assert_line(r, 3, "EUR", "1", "0.00", "0.02");
	kt_resp_free(r);
	free(id);
	/* three minor units from two foreign lines: unbalanced, 422 */
	free(lines);
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\",\"rate\":"
	                "\"0.5\"},{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\","
	                "\"rate\":\"0.5\"},{\"account_id\":\"%s\",\"credit\":\"0.01\"}",
	                EUR.cash, EUR.cash, EUR.sales);
	r = entry_post(&EUR, "2026-05-12", NULL, lines, true);
	kt_assert_problem(r, 422, NULL, "lines");
	kt_resp_free(r);
	free(lines);
}

static void
leftover_without_rounding_account_is_refused(void **state)
{
	(void)state;
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\","
	                      "\"rate\":\"0.5\"},{\"account_id\":\"%s\",\"credit\":\"0.03\"}",
	                      EUR_NR.cash, EUR_NR.sales);
	long before = count1(&A, "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1",
	                     EUR_NR.org);
	kt_resp *r = entry_post(&EUR_NR, "2026-05-10", NULL, lines, true);

	kt_assert_problem(r, 422, NULL, "lines");
	if (strstr(kt_jstr(r->json, "detail"), "rounding difference of -0.01 EUR") == NULL)
		fail_msg("detail: %s", kt_jstr(r->json, "detail"));
	kt_resp_free(r);
	assert_int_equal(count1(&A,
	                        "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1",
	                        EUR_NR.org),
	                 before);
	/* balanced in the functional currency: posts without a rounding line */
	free(lines);
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"0.05\",\"currency\":\"USD\","
	                "\"rate\":\"0.5\"},{\"account_id\":\"%s\",\"credit\":\"0.02\"}",
	                EUR_NR.cash, EUR_NR.sales);
	r = entry_post(&EUR_NR, "2026-05-10", NULL, lines, true);
	kt_assert_status(r, 201);
	assert_int_equal(json_array_size(json_object_get(r->json, "lines")), 2);
	kt_resp_free(r);
	free(lines);
}

/* ---- the property: random foreign lines at random rates ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* round_half_even(n / 10^k), n >= 0, k >= 0, in integers. */
static __int128
div_half_even(__int128 n, int k)
{
	__int128 d = 1;

	for (int i = 0; i < k; i++)
		d *= 10;
	__int128 q = n / d, r = n % d;

	if (2 * r > d || (2 * r == d && q % 2 != 0))
		q++;
	return q;
}

/* amount (minor units, el digits) x mantissa / 10^scale into ef digits, half to even. */
static int64_t
ref_functional(int64_t amount, int64_t mantissa, int scale, int el, int ef)
{
	__int128 n = (__int128)amount * mantissa;
	int e = ef - el - scale;

	for (; e > 0; e--)
		n *= 10;
	return (int64_t)div_half_even(n, -e);
}

static void
property_random_foreign_lines_balance(void **state)
{
	(void)state;
	static const struct {
		const char *code;
		int units;
	} cur[] = {{"USD", 2}, {"JPY", 0}, {"KWD", 3}, {"CHF", 2}};

	for (int k = 0; k < 40; k++) {
		int n = 1 + (int)(next() % 5);
		char *lines = strdup("");
		int64_t total = 0, want[6];
		int foreign = 0;

		for (int i = 0; i < n; i++) {
			int c = (int)(next() % 4), scale = (int)(next() % 13);
			int64_t amount = 1 + (int64_t)(next() % 100000000);
			int64_t bound = 1000; /* the rate below 1000 */
			char amt[KEEL_MONEY_STRLEN + 1], rate[64], digits[32];

			for (int d = 0; d < scale; d++)
				bound *= 10;
			int64_t mantissa = 1 + (int64_t)(next() % (uint64_t)bound);

			if (next() % 4 == 0) { /* an exact half: an odd amount at 0.5 from 2 digits */
				c = 0;
				scale = 1;
				mantissa = 5;
				amount |= 1;
			}

			keel_money_format(amount, cur[c].units, amt, sizeof(amt));
			snprintf(digits, sizeof(digits), "%0*lld", scale + 1, (long long)mantissa);
			size_t len = strlen(digits), ilen = len - (size_t)scale;

			if (scale > 0)
				snprintf(rate, sizeof(rate), "%.*s.%s", (int)ilen, digits, digits + ilen);
			else
				snprintf(rate, sizeof(rate), "%s", digits);
			want[i] = ref_functional(amount, mantissa, scale, cur[c].units, 2);
			total += want[i];
			foreign++;
			char *more = kt_strf("%s{\"account_id\":\"%s\",\"debit\":\"%s\",\"currency\":\"%s\","
			                     "\"rate\":\"%s\"},",
			                     lines, EUR.cash, amt, cur[c].code, rate);

			free(lines);
			lines = more;
		}
		int64_t delta = (int64_t)(next() % (uint64_t)(2 * foreign + 1)) - foreign;
		char credit[KEEL_MONEY_STRLEN + 1];

		if (total + delta <= 0)
			delta = 0;
		keel_money_format(total + delta, 2, credit, sizeof(credit));
		char *body =
		    kt_strf("%s{\"account_id\":\"%s\",\"credit\":\"%s\"}", lines, EUR.sales, credit);
		kt_resp *r = entry_post(&EUR, "2026-06-15", NULL, body, true);

		kt_assert_status(r, 201);
		size_t nl = json_array_size(json_object_get(r->json, "lines"));
		int64_t debit = 0, credit_sum = 0;

		assert_int_equal(nl, (size_t)foreign + 1 + (delta != 0));
		for (size_t i = 0; i < nl; i++) {
			int64_t d, c;

			assert_true(keel_money_parse(kt_jstr(line_of(r, i), "functional_debit"), 2, false, &d));
			assert_true(
			    keel_money_parse(kt_jstr(line_of(r, i), "functional_credit"), 2, false, &c));
			if (i < (size_t)foreign && d != want[i])
				fail_msg("line %zu: functional %lld, reference %lld (%s)", i, (long long)d,
				         (long long)want[i], body);
			debit += d;
			credit_sum += c;
		}
		assert_int_equal(debit, credit_sum);
		if (delta != 0)
			assert_string_equal(kt_jstr(line_of(r, nl - 1), "account_id"), EUR.rounding);
		kt_resp_free(r);
		free(body);
		free(lines);
	}
	/* every posted entry of the ledger balances in the postings */
	assert_int_equal(count1(&A,
	                        "SELECT count(*) FROM (SELECT entry_id FROM fin.postings WHERE "
	                        "organization_id = $1 GROUP BY entry_id "
	                        "HAVING sum(debit) <> sum(credit)) x",
	                        EUR.org),
	                 0);
}

/* ---- what the database refuses ---- */

static void
raw_sql_refusals(void **state)
{
	(void)state;
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"10.00\",\"currency\":\"USD\","
	                      "\"rate\":\"1.1\"},{\"account_id\":\"%s\",\"credit\":\"11.00\"}",
	                      EUR.cash, EUR.sales);
	kt_resp *r = entry_post(&EUR, "2026-07-01", NULL, lines, false);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(lines);
	/* a foreign line at another functional amount (balanced with its partner) */
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE fin.journal_lines SET functional_debit = 1200 WHERE "
	                           "entry_id = $1 AND line_no = 1 RETURNING id",
	                           (const char *[]){id, NULL}));
	PQclear(
	    kt_pg_tenant_query(app, A.id,
	                       "UPDATE fin.journal_lines SET credit = 1200, functional_credit = 1200"
	                       " WHERE entry_id = $1 AND line_no = 2 RETURNING id",
	                       (const char *[]){id, NULL}));
	assert_refused(&A, "SELECT fin.post_entry($1)", (const char *[]){id, NULL}, "KF422",
	               "journal_lines_postable");
	/* around fin.post_entry: the deferred check at commit */
	assert_refused(&A,
	               "UPDATE fin.journal_entries SET status = 'posted', posted_at = now() "
	               "WHERE id = $1",
	               (const char *[]){id, NULL}, "KF422", "journal_lines_postable");
	/* the rate changed under the line: refused too */
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE fin.journal_lines SET functional_debit = 1100, rate = 1.2 "
	                           "WHERE entry_id = $1 AND line_no = 1 RETURNING id",
	                           (const char *[]){id, NULL}));
	PQclear(
	    kt_pg_tenant_query(app, A.id,
	                       "UPDATE fin.journal_lines SET credit = 1100, functional_credit = 1100"
	                       " WHERE entry_id = $1 AND line_no = 2 RETURNING id",
	                       (const char *[]){id, NULL}));
	assert_refused(&A,
	               "UPDATE fin.journal_entries SET status = 'posted', posted_at = now() "
	               "WHERE id = $1",
	               (const char *[]){id, NULL}, "KF422", "journal_lines_postable");
	/* at its conversion it posts */
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE fin.journal_lines SET functional_debit = 1200 WHERE "
	                           "entry_id = $1 AND line_no = 1 RETURNING id",
	                           (const char *[]){id, NULL}));
	PQclear(
	    kt_pg_tenant_query(app, A.id,
	                       "UPDATE fin.journal_lines SET credit = 1200, functional_credit = 1200"
	                       " WHERE entry_id = $1 AND line_no = 2 RETURNING id",
	                       (const char *[]){id, NULL}));
	PQclear(kt_pg_tenant_query(app, A.id, "SELECT fin.post_entry($1)", (const char *[]){id, NULL}));
	free(id);
	/* rates: never changed or deleted, positive, at most 12 fractional digits, one per day */
	assert_refused(&A, "UPDATE fin.exchange_rates SET rate = 2", NULL, "42501", NULL);
	assert_refused(&A, "DELETE FROM fin.exchange_rates", NULL, "42501", NULL);
	const char *bad[] = {"0", "-1", "0.0000000000001", "1000000000000"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(&A,
		               "INSERT INTO fin.exchange_rates (tenant_id, id, from_currency, to_currency,"
		               " rate, date) VALUES (core.current_tenant_id(), gen_random_uuid(), 'GBP',"
		               " 'EUR', $1::numeric, '2026-01-01')",
		               (const char *[]){bad[i], NULL}, "23514", "exchange_rates_rate_check");
	assert_refused(&A,
	               "INSERT INTO fin.exchange_rates (tenant_id, id, from_currency, to_currency,"
	               " rate, date) VALUES (core.current_tenant_id(), gen_random_uuid(), 'CHF',"
	               " 'EUR', 1, '2026-01-10')",
	               NULL, "23505", "exchange_rates_day_key");
	assert_refused(&A,
	               "INSERT INTO fin.exchange_rates (tenant_id, id, from_currency, to_currency,"
	               " rate, date) VALUES (core.current_tenant_id(), gen_random_uuid(), 'EUR',"
	               " 'EUR', 1, '2026-01-10')",
	               NULL, "23514", "exchange_rates_pair");
	/* another tenant's rows: invisible, and not to be written */
	assert_refused(&A,
	               "INSERT INTO fin.exchange_rates (tenant_id, id, from_currency, to_currency,"
	               " rate, date) VALUES ($1, gen_random_uuid(), 'GBP', 'EUR', 1, '2026-01-10')",
	               (const char *[]){B.id, NULL}, "42501", NULL);
	assert_int_equal(kt_pg_tenant_long(app, B.id,
	                                   "SELECT count(*) FROM fin.exchange_rates WHERE "
	                                   "from_currency = 'CHF'",
	                                   NULL),
	                 0);
	assert_int_equal(kt_pg_tenant_long(app, B.id, "SELECT count(*) FROM fin.exchange_rates", NULL),
	                 1);
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
	if ((srv = kt_fixture_start("fin_fx", NULL, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "fin-fx-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-fx-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	books_make(&EUR, "FXEUR", "EUR", true);
	books_make(&EUR_NR, "FXEURNR", "EUR", false);
	books_make(&JPY, "FXJPY", "JPY", true);
	books_make(&KWD, "FXKWD", "KWD", true);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	books_free(&EUR);
	books_free(&EUR_NR);
	books_free(&JPY);
	books_free(&KWD);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rate_in_force_on_a_day),
	    cmocka_unit_test(rate_text_is_strict),
	    cmocka_unit_test(rate_roles_and_tenants),
	    cmocka_unit_test(same_day_race_keeps_one_rate),
	    cmocka_unit_test(foreign_line_at_a_given_rate_and_at_the_rate_in_force),
	    cmocka_unit_test(conversions_between_minor_digits_are_exact),
	    cmocka_unit_test(rounding_line_books_the_leftover),
	    cmocka_unit_test(leftover_without_rounding_account_is_refused),
	    cmocka_unit_test(property_random_foreign_lines_balance),
	    cmocka_unit_test(raw_sql_refusals),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_fx", tests, setup, teardown);
}
