/*
 * Intercompany entries against the real binary and PostgreSQL: POST and GET
 * /api/v1/intercompany-entries.  A pair of posted general entries, one per organization, each
 * converted into its own ledger's currency at the rate in force (a EUR sender, a USD receiver,
 * amounts in EUR and in a third currency); atomicity (each kind of refusal of one side is a 422
 * naming that side, and nothing is written on either: no rows, no number, no event); roles,
 * tenants, malformed bodies, Idempotency-Key; two intercompany entries racing between the same
 * organizations, either way round (consecutive numbers, no deadlock); and what the database
 * must refuse to keel_app by raw SQL (changing or removing a link, linking entries of other
 * organizations, drafts, one organization twice).
 *
 * Ledgers, accounts and fiscal years are made by SQL through migration 0012's functions
 * (kt_fin.h); the rates through their route; the intercompany entries through this part's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "kt.h"
#include "kt_fin.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
#define IC       "/api/v1/intercompany-entries"

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app */
static kt_tenant A, B; /* B: the other tenant */

/* An organization's books: its ledger and the accounts an intercompany entry uses. */
typedef struct books {
	char *org;
	char *receivable, *payable, *bank, *expense, *bank_usd;
} books;

static books S, R; /* the sender (EUR) and the receiver (USD) of most tests */

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

/* sql's count among tenant A's rows, without parameters. */
static long
count0(const char *sql)
{
	return kt_pg_tenant_long(pg, A.id, sql, NULL);
}

static long
count_of(const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, A.id, sql, (const char *[]){p1, NULL});
}

/* sql as keel_app in tenant A with up to three parameters; it must return rows. */
static void
app_exec(const char *sql, const char *p1, const char *p2, const char *p3)
{
	PQclear(kt_pg_tenant_query(app, A.id, sql, (const char *[]){p1, p2, p3, NULL}));
}

/* A ledger in currency with its accounts and FY26; its intercompany accounts set unless bare. */
static void
books_make(books *b, const char *code, const char *currency, bool bare)
{
	b->org = kt_org_make(&cl, A.owner.token, code);
	kt_fin_ledger(app, A.id, b->org, currency);
	b->bank = kt_fin_account(app, A.id, b->org, "1000", "asset", NULL, false);
	b->receivable = kt_fin_account(app, A.id, b->org, "1300", "asset", NULL, false);
	b->payable = kt_fin_account(app, A.id, b->org, "2300", "liability", NULL, false);
	b->expense = kt_fin_account(app, A.id, b->org, "6000", "expense", NULL, false);
	kt_resp *r = api("POST", A.admin.token,
	                 "{\"code\":\"1100\",\"name\":\"Bank USD\",\"type\":\"asset\","
	                 "\"currency\":\"USD\"}",
	                 "/api/v1/organizations/%s/accounts", b->org);

	kt_assert_status(r, 201);
	b->bank_usd = strdup(kt_jstr(r->json, "id"));
	kt_resp_free(r);
	if (!bare)
		app_exec("UPDATE fin.ledgers SET intercompany_receivable_account_id = $2,"
		         " intercompany_payable_account_id = $3 WHERE organization_id = $1 RETURNING id",
		         b->org, b->receivable, b->payable);
	free(kt_fin_year(app, A.id, b->org, "FY26", "2026-01-01", "2026-12-31", "month"));
}

static void
books_free(books *b)
{
	free(b->org);
	free(b->receivable);
	free(b->payable);
	free(b->bank);
	free(b->expense);
	free(b->bank_usd);
}

static void
rate_make(const char *from, const char *to, const char *rate, const char *date)
{
	char *body = kt_strf("{\"from\":\"%s\",\"to\":\"%s\",\"rate\":\"%s\",\"date\":\"%s\"}", from,
	                     to, rate, date);
	kt_resp *r = api("POST", A.admin.token, body, "/api/v1/exchange-rates");

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);
}

/* The body of an intercompany entry from f to t (accounts: f's bank credited, t's expense). */
static char *
ic_body(const books *f, const books *t, const char *date, const char *amount, const char *currency)
{
	return kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	               "\"date\":\"%s\",\"memo\":\"Management fee\",\"amount\":\"%s\","
	               "\"currency\":\"%s\",\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	               f->org, t->org, date, amount, currency, f->bank, t->expense);
}

static kt_resp *
ic_post(const char *token, const char *body)
{
	return api("POST", token, body, IC);
}

/* GET a journal entry: 200, the answer. */
static kt_resp *
entry_get(const char *id)
{
	kt_resp *r = api("GET", A.viewer.token, NULL, "/api/v1/journal-entries/%s", id);

	kt_assert_status(r, 200);
	return r;
}

static void
assert_line(const kt_resp *e, size_t i, const char *account, const char *debit, const char *credit,
            const char *currency, const char *fdebit, const char *fcredit)
{
	const json_t *l = json_array_get(json_object_get(e->json, "lines"), i);

	if (l == NULL)
		fail_msg("no line %zu in %s", i, e->body);
	assert_string_equal(kt_jstr(l, "account_id"), account);
	assert_string_equal(kt_jstr(l, "debit"), debit);
	assert_string_equal(kt_jstr(l, "credit"), credit);
	assert_string_equal(kt_jstr(l, "currency"), currency);
	assert_string_equal(kt_jstr(l, "functional_debit"), fdebit);
	assert_string_equal(kt_jstr(l, "functional_credit"), fcredit);
}

/* The entry id: posted general entry of org with number and exactly two lines. */
static kt_resp *
assert_entry(const char *id, const char *org, const char *number)
{
	kt_resp *e = entry_get(id);

	assert_string_equal(kt_jstr(e->json, "organization_id"), org);
	assert_string_equal(kt_jstr(e->json, "status"), "posted");
	assert_string_equal(kt_jstr(e->json, "journal"), "general");
	assert_string_equal(kt_jstr(e->json, "kind"), "normal");
	assert_string_equal(kt_jstr(e->json, "memo"), "Management fee");
	if (number != NULL)
		assert_string_equal(kt_jstr(e->json, "number"), number);
	assert_int_equal(json_array_size(json_object_get(e->json, "lines")), 2);
	return e;
}

static long
events(const char *type, const char *subject)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM events.outbox WHERE type = $1 AND subject = $2",
	                         (const char *[]){type, subject, NULL});
}

/* What one intercompany entry writes, in tenant A: compared before and after a refusal. */
typedef struct written {
	long entries, lines, links, events, audits, numbers;
} written;

static written
written_now(void)
{
	return (written){
	    .entries = count0("SELECT count(*) FROM fin.journal_entries"),
	    .lines = count0("SELECT count(*) FROM fin.journal_lines"),
	    .links = count0("SELECT count(*) FROM fin.intercompany_entries"),
	    .events = count0("SELECT count(*) FROM events.outbox"),
	    .audits = count0("SELECT count(*) FROM audit.logs WHERE schema_name = 'fin'"),
	    .numbers = count0("SELECT coalesce(sum(last), 0) FROM fin.entry_counters"),
	};
}

/* body is refused with 422 naming field (and, when also is not NULL, that one too); nothing
 * written. */
static void
refused(const char *body, const char *field, const char *also)
{
	written before = written_now();
	kt_resp *r = ic_post(A.admin.token, body);

	kt_assert_problem(r, 422, NULL, field);
	if (also != NULL)
		kt_assert_field_error(r, also);
	kt_resp_free(r);
	written after = written_now();

	assert_int_equal(after.entries, before.entries);
	assert_int_equal(after.lines, before.lines);
	assert_int_equal(after.links, before.links);
	assert_int_equal(after.events, before.events);
	assert_int_equal(after.audits, before.audits);
	assert_int_equal(after.numbers, before.numbers);
}

/* ---- tests ---- */

static void
pair_in_two_currencies(void **state)
{
	(void)state;
	char *body = ic_body(&S, &R, "2026-03-15", "100.00", "EUR");
	kt_resp *r = ic_post(A.admin.token, body);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	assert_int_equal(json_object_size(r->json), 3);
	const char *id = kt_jstr(r->json, "id"), *from = kt_jstr(r->json, "from_entry_id");
	const char *to = kt_jstr(r->json, "to_entry_id");

	assert_true(kt_is_uuid_v7(id));
	char *loc = kt_strf(IC "/%s", id);

	kt_assert_header(r, "Location", loc);
	free(loc);
	/* the sender books EUR at par; the receiver converts at EUR->USD 1.1 */
	kt_resp *e = assert_entry(from, S.org, NULL);

	assert_line(e, 0, S.receivable, "100.00", "0.00", "EUR", "100.00", "0.00");
	assert_line(e, 1, S.bank, "0.00", "100.00", "EUR", "0.00", "100.00");
	assert_string_equal(kt_jstr(e->json, "currency"), "EUR");
	kt_resp_free(e);
	e = assert_entry(to, R.org, NULL);
	assert_line(e, 0, R.expense, "100.00", "0.00", "EUR", "110.00", "0.00");
	assert_line(e, 1, R.payable, "0.00", "100.00", "EUR", "0.00", "110.00");
	kt_resp_free(e);
	/* the link as GET reads it, its audit row and the three events */
	kt_resp *g = api("GET", A.viewer.token, NULL, IC "/%s", id);

	kt_assert_status(g, 200);
	assert_string_equal(g->body, r->body);
	kt_resp_free(g);
	assert_int_equal(count_of("SELECT count(*) FROM audit.logs WHERE schema_name = 'fin' AND"
	                          " table_name = 'intercompany_entries' AND action = 'INSERT' AND"
	                          " record_id = $1::uuid",
	                          id),
	                 1);
	assert_int_equal(events("keel.intercompany_entry.created", id), 1);
	char *data = kt_pg_tenant_value(pg, A.id,
	                                "SELECT data::text FROM events.outbox WHERE type = $1 AND"
	                                " subject = $2",
	                                (const char *[]){"keel.intercompany_entry.created", id, NULL});
	json_t *dj = json_loads(data, 0, NULL);

	assert_non_null(dj);
	assert_string_equal(kt_jstr(dj, "id"), id);
	assert_string_equal(kt_jstr(dj, "from_entry_id"), from);
	assert_string_equal(kt_jstr(dj, "to_entry_id"), to);
	json_decref(dj);
	free(data);
	char topic[64];

	keel_events_topic("keel", "keel.intercompany_entry.created", topic, sizeof(topic));
	assert_string_equal(topic, "keel.intercompany_entries");
	assert_int_equal(events("keel.journal_entry.posted", from), 1);
	assert_int_equal(events("keel.journal_entry.posted", to), 1);
	assert_int_equal(count_of("SELECT count(*) FROM fin.intercompany_entries WHERE id = $1 AND"
	                          " created_by IS NOT NULL",
	                          id),
	                 1);
	kt_resp_free(r);
	free(body);
}

static void
pair_in_a_third_currency(void **state)
{
	(void)state;
	/* GBP: 1.15 into EUR, 1.27 into USD, the rates in force on the date (not the later ones) */
	char *body = ic_body(&S, &R, "2026-04-10", "50.00", "GBP");
	kt_resp *r = ic_post(A.admin.token, body);

	kt_assert_status(r, 201);
	kt_resp *e = assert_entry(kt_jstr(r->json, "from_entry_id"), S.org, NULL);

	assert_line(e, 0, S.receivable, "50.00", "0.00", "GBP", "57.50", "0.00");
	assert_line(e, 1, S.bank, "0.00", "50.00", "GBP", "0.00", "57.50");
	kt_resp_free(e);
	e = assert_entry(kt_jstr(r->json, "to_entry_id"), R.org, NULL);
	assert_line(e, 0, R.expense, "50.00", "0.00", "GBP", "63.50", "0.00");
	assert_line(e, 1, R.payable, "0.00", "50.00", "GBP", "0.00", "63.50");
	kt_resp_free(e);
	kt_resp_free(r);
	free(body);
}

/*
 * Each kind of refusal of one side: 422 naming that side, nothing written on either.  On a
 * fresh pair, whose first intercompany entry after all of them is still number 000001 on both
 * sides.  The refusals found at posting are put on the side posted second, so the other side's
 * entry was posted in the transaction before it was rolled back.
 */
static void
one_side_refused_writes_nothing(void **state)
{
	(void)state;
	books f, t, bare;

	books_make(&f, "ICF", "EUR", false);
	books_make(&t, "ICT", "USD", false);
	books_make(&bare, "ICBARE", "EUR", true);
	char *noledger = kt_org_make(&cl, A.owner.token, "ICNOLEDGER");
	bool t_late = strcmp(f.org, t.org) < 0; /* t's entry is posted second */
	books *late = t_late ? &t : &f;
	const char *late_org = t_late ? "to_organization_id" : "from_organization_id";
	const char *late_acct = t_late ? "to_account_id" : "from_account_id";
	char *body;

	/* a sender without an intercompany receivable; a receiver without a ledger */
	body = ic_body(&bare, &t, "2026-03-15", "10.00", "EUR");
	refused(body, "from_organization_id", NULL);
	free(body);
	body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	               "\"date\":\"2026-03-15\",\"amount\":\"10.00\",\"currency\":\"EUR\","
	               "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	               f.org, noledger, f.bank, t.expense);
	refused(body, "to_organization_id", NULL);
	free(body);
	/* an account of the other organization on each side */
	body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	               "\"date\":\"2026-03-15\",\"amount\":\"10.00\",\"currency\":\"EUR\","
	               "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	               f.org, t.org, t.bank, f.expense);
	refused(body, "from_account_id", "to_account_id");
	free(body);
	/* no rate in force: JPY has none into EUR nor USD */
	body = ic_body(&f, &t, "2026-03-15", "1000", "JPY");
	refused(body, "from_organization_id", "to_organization_id");
	free(body);
	/* the largest amount in EUR is past the largest amount once converted into USD */
	body = ic_body(&f, &t, "2026-03-15", "92233720368547758.07", "EUR");
	refused(body, "to_organization_id", NULL);
	free(body);
	/* no rate in force yet on the date: EUR->USD starts 2026-01-01 in this tenant */
	body = ic_body(&f, &t, "2025-06-15", "10.00", "EUR");
	refused(body, "to_organization_id", NULL);
	free(body);
	/* an account restricted to USD given a EUR line, on the side posted second */
	body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	               "\"date\":\"2026-03-15\",\"amount\":\"10.00\",\"currency\":\"EUR\","
	               "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	               f.org, t.org, t_late ? f.bank : f.bank_usd, t_late ? t.bank_usd : t.expense);
	refused(body, late_acct, NULL);
	free(body);
	/* an inactive account on the side posted second */
	app_exec("UPDATE fin.accounts SET status = 'inactive' WHERE id = $1 RETURNING id",
	         late->expense, NULL, NULL);
	app_exec("UPDATE fin.accounts SET status = 'inactive' WHERE id = $1 RETURNING id", late->bank,
	         NULL, NULL);
	body = ic_body(&f, &t, "2026-03-15", "10.00", "EUR");
	refused(body, late_acct, NULL);
	free(body);
	app_exec("UPDATE fin.accounts SET status = 'active' WHERE id IN ($1, $2) RETURNING id",
	         late->expense, late->bank, NULL);
	/* the intercompany account inactive: the side's organization is named */
	app_exec("UPDATE fin.accounts SET status = 'inactive' WHERE id IN ($1, $2) RETURNING id",
	         late->receivable, late->payable, NULL);
	refused(body = ic_body(&f, &t, "2026-03-15", "10.00", "EUR"), late_org, NULL);
	free(body);
	app_exec("UPDATE fin.accounts SET status = 'active' WHERE id IN ($1, $2) RETURNING id",
	         late->receivable, late->payable, NULL);
	/* a date in no period of either, and in a closed period of the side posted second */
	body = ic_body(&f, &t, "2027-06-15", "10.00", "EUR");
	refused(body, t_late ? "from_organization_id" : "to_organization_id", NULL);
	free(body);
	app_exec("UPDATE fin.periods SET status = 'closed' WHERE organization_id = $1"
	         " AND start_date < '2026-02-01' RETURNING id",
	         late->org, NULL, NULL);
	body = ic_body(&f, &t, "2026-01-20", "10.00", "EUR");
	refused(body, late_org, NULL);
	free(body);
	/* nothing was numbered: the first intercompany entry is 000001 on both sides */
	body = ic_body(&f, &t, "2026-03-15", "10.00", "EUR");
	kt_resp *r = ic_post(A.admin.token, body);

	kt_assert_status(r, 201);
	kt_resp_free(assert_entry(kt_jstr(r->json, "from_entry_id"), f.org, "GEN-FY26-000001"));
	kt_resp_free(assert_entry(kt_jstr(r->json, "to_entry_id"), t.org, "GEN-FY26-000001"));
	kt_resp_free(r);
	free(body);
	free(noledger);
	books_free(&f);
	books_free(&t);
	books_free(&bare);
}

static void
roles_and_tenants(void **state)
{
	(void)state;
	char *body = ic_body(&S, &R, "2026-05-05", "1.00", "EUR");
	kt_resp *r;

	r = ic_post(A.member.token, body);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = ic_post(A.viewer.token, body);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = ic_post(NULL, body);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	/* another tenant's admin: A's organizations are none of B's (422, as ids in bodies are) */
	r = ic_post(B.admin.token, body);
	kt_assert_problem(r, 422, NULL, "from_organization_id");
	kt_assert_field_error(r, "to_organization_id");
	kt_resp_free(r);
	r = ic_post(A.admin.token, body);
	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	r = api("GET", A.member.token, NULL, IC "/%s", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("GET", NULL, NULL, IC "/%s", id);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", B.admin.token, NULL, IC "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, IC "/not-a-uuid");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, IC "/%s", S.org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	/* B's organization on one side of A's entry, B's account on the other */
	char *borg = kt_org_make(&cl, B.owner.token, "ICB");
	char *b2 = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	                   "\"date\":\"2026-05-05\",\"amount\":\"1.00\",\"currency\":\"EUR\","
	                   "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	                   S.org, borg, S.bank, R.expense);

	refused(b2, "to_organization_id", NULL);
	free(b2);
	kt_fin_ledger(app, B.id, borg, "EUR");
	char *bacct = kt_fin_account(app, B.id, borg, "1000", "asset", NULL, false);

	b2 = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	             "\"date\":\"2026-05-05\",\"amount\":\"1.00\",\"currency\":\"EUR\","
	             "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	             S.org, R.org, bacct, R.expense);
	refused(b2, "from_account_id", NULL);
	free(b2);
	free(bacct);
	free(borg);
	free(id);
	free(body);
}

/* A body with member name set to the JSON value (text), the others valid. */
static char *
body_with(const char *name, const char *value)
{
	const char *names[] = {
	    "from_organization_id", "to_organization_id", "date", "amount", "currency",
	    "from_account_id",      "to_account_id"};
	const char *values[] = {S.org, R.org, "2026-05-06", "1.00", "EUR", S.bank, R.expense};
	char *out = strdup("{");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *next;

		if (strcmp(names[i], name) == 0)
			next = kt_strf("%s%s\"%s\":%s", out, i ? "," : "", names[i], value);
		else
			next = kt_strf("%s%s\"%s\":\"%s\"", out, i ? "," : "", names[i], values[i]);
		free(out);
		out = next;
	}
	bool more = strcmp(name, "memo") == 0 || strcmp(name, "extra") == 0;
	char *tail = more ? kt_strf(",\"%s\":%s", name, value) : strdup("");
	char *done = kt_strf("%s%s}", out, tail);

	free(tail);
	free(out);
	return done;
}

static void
malformed_bodies(void **state)
{
	(void)state;
	struct {
		const char *name, *value, *field;
	} cases[] = {
	    {"from_organization_id", "\"not-a-uuid\"", "from_organization_id"},
	    {"to_organization_id", "\"00000000-0000-7000-8000-000000000000\"", "to_organization_id"},
	    {"to_account_id", "12", "to_account_id"},
	    {"date", "\"2026-02-30\"", "date"},
	    {"amount", "\"1.5\"", "amount"},
	    {"amount", "\"-1.00\"", "amount"},
	    {"amount", "\"0.00\"", "amount"},
	    {"amount", "1.00", "amount"},
	    {"amount", "\"1e3\"", "amount"},
	    {"currency", "\"eur\"", "currency"},
	    {"currency", "\"XXX\"", "currency"},
	    {"memo", "7", "memo"},
	    {"extra", "true", "extra"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = body_with(cases[i].name, cases[i].value);

		refused(body, cases[i].field, NULL);
		free(body);
	}
	/* one organization on both sides; a field missing; not JSON; not an object */
	char *body = body_with("to_organization_id", "null");

	refused(body, "to_organization_id", NULL);
	free(body);
	body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	               "\"date\":\"2026-05-06\",\"amount\":\"1.00\",\"currency\":\"EUR\","
	               "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
	               S.org, S.org, S.bank, S.expense);
	refused(body, "to_organization_id", NULL);
	free(body);
	body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
	               "\"date\":\"2026-05-06\",\"amount\":\"1.00\",\"currency\":\"EUR\","
	               "\"from_account_id\":\"%s\"}",
	               S.org, R.org, S.bank);
	refused(body, "to_account_id", NULL);
	free(body);
	kt_resp *r = ic_post(A.admin.token, "{\"from_organization_id\":");

	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	r = ic_post(A.admin.token, "[]");
	assert_true(r->status == 400 || r->status == 422);
	kt_resp_free(r);
}

static void
idempotency_key_replays(void **state)
{
	(void)state;
	char *body = ic_body(&S, &R, "2026-05-07", "3.00", "EUR");
	const char *h[] = {"Idempotency-Key: ic-key-1", NULL};
	kt_resp *r1 = kt_call(&cl, "POST", A.admin.token, h, body, IC);
	long links = count0("SELECT count(*) FROM fin.intercompany_entries");
	kt_resp *r2 = kt_call(&cl, "POST", A.admin.token, h, body, IC);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r2->body, r1->body);
	assert_int_equal(count0("SELECT count(*) FROM fin.intercompany_entries"), links);
	assert_int_equal(events("keel.intercompany_entry.created", kt_jstr(r1->json, "id")), 1);
	kt_resp_free(r1);
	kt_resp_free(r2);
	free(body);
}

/* sql as keel_app in tenant t with params: PostgreSQL must refuse it with sqlstate (constraint). */
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

#define LINK_INSERT                                                                                \
	"INSERT INTO fin.intercompany_entries (tenant_id, id, from_organization_id,"                   \
	" to_organization_id, from_entry_id, to_entry_id) VALUES (core.current_tenant_id(),"           \
	" gen_random_uuid(), $1, $2, $3, $4)"

static void
raw_sql_refusals(void **state)
{
	(void)state;
	char *body = ic_body(&S, &R, "2026-05-08", "4.00", "EUR");
	kt_resp *r = ic_post(A.admin.token, body);

	kt_assert_status(r, 201);
	const char *id = kt_jstr(r->json, "id"), *from = kt_jstr(r->json, "from_entry_id");
	const char *to = kt_jstr(r->json, "to_entry_id");
	kt_fin_line l[] = {{.account_id = S.bank, .debit = 100},
	                   {.account_id = S.expense, .credit = 100}};
	kt_fin_line m[] = {{.account_id = R.bank, .debit = 100},
	                   {.account_id = R.expense, .credit = 100}};
	char *s_posted = kt_fin_entry(app, A.id, S.org, "general", "2026-05-08", 2, l, true);
	char *s_posted2 = kt_fin_entry(app, A.id, S.org, "general", "2026-05-08", 2, l, true);
	char *r_posted2 = kt_fin_entry(app, A.id, R.org, "general", "2026-05-08", 2, m, true);
	char *s_draft = kt_fin_entry(app, A.id, S.org, "general", "2026-05-08", 2, l, false);
	char *s_sales = kt_fin_entry(app, A.id, S.org, "sales", "2026-05-08", 2, l, true);
	char *r_posted = kt_fin_entry(app, A.id, R.org, "general", "2026-05-08", 2, m, true);
	char *r_other_day = kt_fin_entry(app, A.id, R.org, "general", "2026-05-09", 2, m, true);

	/* a link never changes and is never removed */
	assert_refused(&A,
	               "UPDATE fin.intercompany_entries SET to_entry_id = from_entry_id WHERE id = $1",
	               (const char *[]){id, NULL}, "42501", NULL);
	assert_refused(&A, "DELETE FROM fin.intercompany_entries WHERE id = $1",
	               (const char *[]){id, NULL}, "42501", NULL);
	/* entries of other organizations than the link names */
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, R.org, r_posted, r_posted2, NULL},
	               "23503", "intercompany_entries_from_entry_fkey");
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, R.org, s_posted, s_posted2, NULL},
	               "23503", "intercompany_entries_to_entry_fkey");
	/* one organization twice; a draft; another journal; two dates; an entry linked already */
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, S.org, s_posted, s_posted2, NULL},
	               "23514", "intercompany_entries_sides");
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, R.org, s_draft, r_posted, NULL},
	               "KF422", "intercompany_entries_posted");
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, R.org, s_sales, r_posted, NULL},
	               "KF422", "intercompany_entries_posted");
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, R.org, s_posted, r_other_day, NULL},
	               "KF422", "intercompany_entries_posted");
	assert_refused(&A, LINK_INSERT, (const char *[]){S.org, R.org, from, r_posted, NULL}, "KF409",
	               "intercompany_entries_once");
	assert_refused(&A, LINK_INSERT, (const char *[]){R.org, S.org, to, s_posted, NULL}, "KF409",
	               "intercompany_entries_once");
	/* from another tenant: A's entries are none of B's (the trigger sees none) */
	assert_refused(&B, LINK_INSERT, (const char *[]){S.org, R.org, s_posted, r_posted, NULL},
	               "KF422", "intercompany_entries_posted");
	/* a row of another tenant than the transaction's: row-level security */
	assert_refused(&B,
	               "INSERT INTO fin.intercompany_entries (tenant_id, id, from_organization_id,"
	               " to_organization_id, from_entry_id, to_entry_id) VALUES ($1, gen_random_uuid(),"
	               " $2, $3, $4, $5)",
	               (const char *[]){A.id, S.org, R.org, s_posted, r_posted, NULL}, "42501", NULL);
	/* the rows stay as they were; a valid link by SQL is accepted (the rule is the database's) */
	assert_int_equal(count_of("SELECT count(*) FROM fin.intercompany_entries WHERE id = $1 AND"
	                          " to_entry_id <> from_entry_id",
	                          id),
	                 1);
	kt_pg_set_tenant(app, A.id);
	PGresult *res = PQexecParams(app, LINK_INSERT, 4, NULL,
	                             (const char *[]){S.org, R.org, s_posted, r_posted}, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	kt_resp_free(r);
	free(body);
	free(s_posted);
	free(s_posted2);
	free(r_posted2);
	free(s_draft);
	free(s_sales);
	free(r_posted);
	free(r_other_day);
}

/* The number of the journal entry id. */
static long
number_of(const char *id)
{
	return count_of("SELECT sequence FROM fin.journal_entries WHERE id = $1", id);
}

static long
last_number(const books *b)
{
	return count_of("SELECT max(last) FROM fin.entry_counters WHERE organization_id = $1"
	                " AND journal = 'general'",
	                b->org);
}

/*
 * Two intercompany entries racing, x from xf to xt and y the other way round, while the
 * counter of lo's general journal is held here: x is sent first and waits for it, then y.
 * When the counter is let go x goes on first.  Had y posted its sender's entry first, it
 * would hold one counter while waiting for the other, which x holds while waiting for y's: a
 * deadlock.  Both must post, each ledger numbering them n + 1 and n + 2.
 */
static void
race(const books *lo, const books *xf, const books *xt)
{
	kt_async q[2];
	char *bodies[2] = {ic_body(xf, xt, "2026-06-01", "5.00", "EUR"),
	                   ic_body(xt, xf, "2026-06-01", "6.00", "EUR")};
	long f_last = last_number(xf), t_last = last_number(xt), f_nums = 0, t_nums = 0;
	char *sql = kt_strf("SELECT last FROM fin.entry_counters WHERE organization_id = '%s'"
	                    " AND journal = 'general' FOR UPDATE",
	                    lo->org);

	kt_pg_set_tenant(pg, A.id);
	kt_pg_exec(pg, "BEGIN");
	kt_pg_exec(pg, sql);
	free(sql);
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){
		    .base = srv->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), IC);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(pg, i + 1);
	}
	kt_pg_exec(pg, "COMMIT");
	for (int i = 0; i < 2; i++) {
		kt_resp *r = kt_async_finish(&q[i]);

		if (r->status != 201)
			fail_msg("intercompany entry %d: %ld %s", i, r->status, r->body);
		const char *fe = kt_jstr(r->json, "from_entry_id"), *te = kt_jstr(r->json, "to_entry_id");

		f_nums += number_of(i == 0 ? fe : te);
		t_nums += number_of(i == 0 ? te : fe);
		kt_resp_free(r);
		free(bodies[i]);
	}
	assert_int_equal(f_nums, 2 * f_last + 3);
	assert_int_equal(t_nums, 2 * t_last + 3);
	assert_int_equal(last_number(xf), f_last + 2);
	assert_int_equal(last_number(xt), t_last + 2);
}

/*
 * Two intercompany entries between the same organizations, one each way, racing: no deadlock
 * whichever is sent first (entries are posted in the organizations' id order), consecutive
 * numbers in each ledger.
 */
static void
concurrent_pairs_both_post(void **state)
{
	(void)state;
	const books *lo = strcmp(S.org, R.org) < 0 ? &S : &R, *hi = lo == &S ? &R : &S;
	/* the counters exist once each ledger has posted in the journal */
	char *first = ic_body(&S, &R, "2026-06-01", "1.00", "EUR");
	kt_resp *r = ic_post(A.admin.token, first);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(first);
	race(lo, lo, hi);
	race(lo, hi, lo);
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
	if ((srv = kt_fixture_start("fin_ic", NULL, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "fin-ic-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-ic-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	kt_tenant_user(&cl, &B, &B.admin, "admin", "admin");
	books_make(&S, "ICS", "EUR", false);
	books_make(&R, "ICR", "USD", false);
	rate_make("EUR", "USD", "1.1", "2026-01-01");
	rate_make("EUR", "USD", "1.3", "2026-12-01");
	rate_make("GBP", "EUR", "1.15", "2026-01-01");
	rate_make("GBP", "USD", "1.27", "2026-01-01");
	rate_make("GBP", "EUR", "2", "2026-04-11");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	books_free(&S);
	books_free(&R);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pair_in_two_currencies),
	    cmocka_unit_test(pair_in_a_third_currency),
	    cmocka_unit_test(one_side_refused_writes_nothing),
	    cmocka_unit_test(roles_and_tenants),
	    cmocka_unit_test(malformed_bodies),
	    cmocka_unit_test(idempotency_key_replays),
	    cmocka_unit_test(raw_sql_refusals),
	    cmocka_unit_test(concurrent_pairs_both_post),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_ic", tests, setup, teardown);
}
