/*
 * Revaluation of foreign-currency balances against the real binary and PostgreSQL:
 * POST /api/v1/organizations/{id}/revaluations posts a revaluation entry (journal adjustment,
 * kind revaluation) restating the open foreign balances of revalue accounts at the rates in
 * force on the date, and its reversal on the first day of the next period (migration 0016,
 * fin.revalue).
 *
 * What is tested: the 201 body, the rows, numbers, audit rows and events of both entries; that
 * a settlement after the reversal leaves exactly the realised difference on the gain account
 * (the unrealised one showing at the month's end); only revalue accounts, several currencies
 * and divisions, a payable; a second revaluation after the first's reversal, and twice on one
 * date; roles, tenants, bodies, periods, missing rates; and what PostgreSQL refuses keel_app by
 * raw SQL (a revaluation entry made by hand, a line without an amount outside a revaluation).
 *
 * Ledgers and fiscal years are made by SQL as keel_app (kt_fin.h); accounts, rates and entries
 * through their routes; revaluations through this route.
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
#define ENTRIES  "/api/v1/organizations/%s/journal-entries"
#define REVALUE  "/api/v1/organizations/%s/revaluations"

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app */
static kt_tenant A, B; /* B: the other tenant */
static int seq;        /* makes organization codes unique */

/* An organization's books: ledger in EUR, fiscal year 2026 of months, accounts. */
typedef struct books {
	char *org;
	char *recv_usd; /* asset, USD only, revalue */
	char *recv;     /* asset, any currency, revalue */
	char *pay_usd;  /* liability, USD only, revalue */
	char *stock;    /* asset, any currency, not revalue (inventory) */
	char *bank, *sales, *purchases, *gain, *loss;
} books;

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
count1(const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, A.id, sql, (const char *[]){p1, NULL});
}

static char *
text1(const char *sql, const char *p1)
{
	return kt_pg_tenant_value(pg, A.id, sql, (const char *[]){p1, NULL});
}

#define assert_text(sql, p1, want)                                                                 \
	do {                                                                                           \
		char *v_ = text1((sql), (p1));                                                             \
		if (v_ == NULL || strcmp(v_, (want)) != 0)                                                 \
			fail_msg("%s:\n\"%s\"\nexpected\n\"%s\"", (sql), v_ ? v_ : "NULL", (want));            \
		free(v_);                                                                                  \
	} while (0)

/* sql on c in tenant A with params: PostgreSQL must refuse it with sqlstate (and constraint). */
static void
assert_refused(PGconn *c, const char *sql, const char *const *params, const char *sqlstate,
               const char *constraint)
{
	int n = 0;

	while (params != NULL && params[n] != NULL)
		n++;
	kt_pg_set_tenant(c, A.id);
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *con = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || state == NULL || strcmp(state, sqlstate) != 0)
		fail_msg("%s: %s, expected SQLSTATE %s", sql,
		         PQresultStatus(res) == PGRES_FATAL_ERROR ? state : "accepted", sqlstate);
	if (constraint != NULL && (con == NULL || strcmp(con, constraint) != 0))
		fail_msg("%s: refused by %s, expected %s", sql, con ? con : "(none)", constraint);
	PQclear(res);
}

/* ---- making things ---- */

static char *
account(const char *org, const char *code, const char *type, const char *currency, bool revalue)
{
	char cur[32] = "";

	if (currency != NULL)
		snprintf(cur, sizeof(cur), ",\"currency\":\"%s\"", currency);
	char *body = kt_strf("{\"code\":\"%s\",\"name\":\"Account %s\",\"type\":\"%s\","
	                     "\"revalue\":%s%s}",
	                     code, code, type, revalue ? "true" : "false", cur);
	kt_resp *r = api("POST", A.admin.token, body, "/api/v1/organizations/%s/accounts", org);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

static void
books_make(books *b)
{
	char code[32];

	snprintf(code, sizeof(code), "RV%d", ++seq);
	b->org = kt_org_make(&cl, A.owner.token, code);
	kt_fin_ledger(app, A.id, b->org, "EUR");
	free(kt_fin_year(app, A.id, b->org, "FY26", "2026-01-01", "2026-12-31", "month"));
	b->bank = account(b->org, "1000", "asset", NULL, false);
	b->recv_usd = account(b->org, "1200", "asset", "USD", true);
	b->recv = account(b->org, "1210", "asset", NULL, true);
	b->stock = account(b->org, "1300", "asset", NULL, false);
	b->pay_usd = account(b->org, "2100", "liability", "USD", true);
	b->sales = account(b->org, "4000", "income", NULL, false);
	b->purchases = account(b->org, "5000", "expense", NULL, false);
	b->gain = account(b->org, "7100", "income", NULL, false);
	b->loss = account(b->org, "7200", "expense", NULL, false);
}

static void
books_free(books *b)
{
	free(b->org);
	free(b->bank);
	free(b->recv_usd);
	free(b->recv);
	free(b->stock);
	free(b->pay_usd);
	free(b->sales);
	free(b->purchases);
	free(b->gain);
	free(b->loss);
}

static void
rate_make(const char *from, const char *rate, const char *date)
{
	char *body = kt_strf("{\"from\":\"%s\",\"to\":\"EUR\",\"rate\":\"%s\",\"date\":\"%s\"}", from,
	                     rate, date);
	kt_resp *r = api("POST", A.admin.token, body, "/api/v1/exchange-rates");

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);
}

/* A posted entry of b on date with lines (the JSON array's members): its id. */
static char *
entry(const books *b, const char *date, const char *lines)
{
	char *body = kt_strf("{\"journal\":\"general\",\"date\":\"%s\",\"lines\":[%s],\"post\":true}",
	                     date, lines);
	kt_resp *r = api("POST", A.admin.token, body, ENTRIES, b->org);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* A foreign line: side "debit" or "credit", amount in currency at rate. */
static char *
fx_line(const char *acct, const char *side, const char *amount, const char *currency,
        const char *rate, const char *division)
{
	char div[80] = "";

	if (division != NULL)
		snprintf(div, sizeof(div), ",\"division_id\":\"%s\"", division);
	return kt_strf("{\"account_id\":\"%s\",\"%s\":\"%s\",\"currency\":\"%s\",\"rate\":\"%s\"%s}",
	               acct, side, amount, currency, rate, div);
}

/* A ledger-currency line. */
static char *
line(const char *acct, const char *side, const char *amount, const char *division)
{
	char div[80] = "";

	if (division != NULL)
		snprintf(div, sizeof(div), ",\"division_id\":\"%s\"", division);
	return kt_strf("{\"account_id\":\"%s\",\"%s\":\"%s\"%s}", acct, side, amount, div);
}

/* A two-line entry: a foreign line and its ledger-currency partner. */
static void
entry2(const books *b, const char *date, char *first, char *second)
{
	char *lines = kt_strf("%s,%s", first, second);

	free(entry(b, date, lines));
	free(lines);
	free(first);
	free(second);
}

static kt_resp *
revalue(const char *token, const char *org, const char *date, const char *gain, const char *loss)
{
	char *body = kt_strf("{\"date\":\"%s\",\"gain_account_id\":\"%s\",\"loss_account_id\":\"%s\"}",
	                     date, gain, loss);
	kt_resp *r = api("POST", token, body, REVALUE, org);

	free(body);
	return r;
}

/* A revaluation that must be refused with status and (NULL: no) field, detail containing want. */
static void
assert_revalue_refused(const char *token, const char *org, const char *date, const char *gain,
                       const char *loss, long status, const char *field, const char *want)
{
	kt_resp *r = revalue(token, org, date, gain, loss);

	kt_assert_problem(r, status, NULL, field);
	if (want != NULL && strstr(kt_jstr(r->json, "detail"), want) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", kt_jstr(r->json, "detail"), want);
	kt_resp_free(r);
}

/* The lines of entry id: code/currency/rate/debit/credit/fdebit/fcredit/division code. */
static char *
lines_of(const char *id)
{
	return text1("SELECT string_agg(a.code || '/' || l.currency || '/' || l.rate || '/' || l.debit"
	             " || '/' || l.credit || '/' || l.functional_debit || '/' || l.functional_credit"
	             " || '/' || coalesce(d.code, '-'), ' ' ORDER BY l.line_no)"
	             " FROM fin.journal_lines l JOIN fin.accounts a ON a.id = l.account_id"
	             " LEFT JOIN org.divisions d ON d.id = l.division_id WHERE l.entry_id = $1",
	             id);
}

#define assert_lines(id, want)                                                                     \
	do {                                                                                           \
		char *l_ = lines_of(id);                                                                   \
		if (l_ == NULL || strcmp(l_, (want)) != 0)                                                 \
			fail_msg("lines of %s:\n%s\nexpected\n%s", (id), l_ ? l_ : "NULL", (want));            \
		free(l_);                                                                                  \
	} while (0)

/* The closing balance (debit - credit) of acct in the trial balance 2026-01-01..to. */
static char *
closing(const books *b, const char *acct, const char *to)
{
	kt_resp *r = api("GET", A.viewer.token, NULL,
	                 "/api/v1/organizations/%s/trial-balance?from=2026-01-01&to=%s", b->org, to);
	json_t *row;
	size_t i;
	char *out = strdup("0.00");

	kt_assert_status(r, 200);
	json_array_foreach(json_object_get(r->json, "accounts"), i, row)
	{
		if (strcmp(kt_jstr(row, "account_id"), acct) == 0) {
			free(out);
			out = strdup(kt_jstr(row, "closing"));
		}
	}
	assert_string_equal(kt_jstr(json_object_get(r->json, "totals"), "debit"),
	                    kt_jstr(json_object_get(r->json, "totals"), "credit"));
	kt_resp_free(r);
	return out;
}

#define assert_closing(b, acct, to, want)                                                          \
	do {                                                                                           \
		char *c_ = closing((b), (acct), (to));                                                     \
		if (strcmp(c_, (want)) != 0)                                                               \
			fail_msg("closing balance to %s: %s, expected %s", (to), c_, (want));                  \
		free(c_);                                                                                  \
	} while (0)

static long
event_count(const char *subject, const char *type)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM events.outbox WHERE subject = $1 AND type = $2",
	                         (const char *[]){subject, type, NULL});
}

static long
audit_count(const char *id, const char *table, const char *action)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM audit.logs WHERE record_id = $1"
	                         " AND table_name = $2 AND action = $3 AND actor_id = $4",
	                         (const char *[]){id, table, action, A.admin.id, NULL});
}

/* ---- the revaluation and its reversal ---- */

static void
revaluation_posts_and_reverses(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	char *body = kt_strf("{\"date\":\"2026-01-31\",\"gain_account_id\":\"%s\","
	                     "\"loss_account_id\":\"%s\"}",
	                     b.gain, b.loss);
	const char *key[] = {"Idempotency-Key: reval-once", NULL};
	kt_resp *r = kt_call(&cl, "POST", A.admin.token, key, body, REVALUE, b.org);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	kt_assert_header(r, "ETag", "\"2\"");
	char *id = strdup(kt_jstr(r->json, "id"));
	char *rev = strdup(kt_jstr(r->json, "reversed_by_id"));
	char *loc = kt_strf("/api/v1/journal-entries/%s", id);

	kt_assert_header(r, "Location", loc);
	assert_true(kt_is_uuid_v7(id));
	assert_string_equal(kt_jstr(r->json, "organization_id"), b.org);
	assert_string_equal(kt_jstr(r->json, "journal"), "adjustment");
	assert_string_equal(kt_jstr(r->json, "kind"), "revaluation");
	assert_string_equal(kt_jstr(r->json, "status"), "posted");
	assert_string_equal(kt_jstr(r->json, "number"), "ADJ-FY26-000001");
	assert_string_equal(kt_jstr(r->json, "date"), "2026-01-31");
	assert_string_equal(kt_jstr(r->json, "memo"), "Revaluation at 2026-01-31");
	assert_string_equal(kt_jstr(r->json, "currency"), "EUR");
	assert_string_equal(kt_jstr(r->json, "posted_by"), A.admin.id);
	assert_true(json_is_null(json_object_get(r->json, "reverses_id")));
	json_t *lines = json_object_get(r->json, "lines");

	assert_int_equal(json_array_size(lines), 2);
	json_t *l0 = json_array_get(lines, 0), *l1 = json_array_get(lines, 1);

	assert_string_equal(kt_jstr(l0, "account_id"), b.recv_usd);
	assert_string_equal(kt_jstr(l0, "debit"), "0.00");
	assert_string_equal(kt_jstr(l0, "credit"), "0.00");
	assert_string_equal(kt_jstr(l0, "currency"), "USD");
	assert_string_equal(kt_jstr(l0, "rate"), "1.2");
	assert_string_equal(kt_jstr(l0, "functional_debit"), "10.00");
	assert_string_equal(kt_jstr(l0, "functional_credit"), "0.00");
	assert_string_equal(kt_jstr(l0, "memo"), "USD 100.00 at 1.2");
	assert_string_equal(kt_jstr(l1, "account_id"), b.gain);
	assert_string_equal(kt_jstr(l1, "credit"), "10.00");
	assert_string_equal(kt_jstr(l1, "currency"), "EUR");
	assert_string_equal(kt_jstr(l1, "rate"), "1");
	assert_string_equal(kt_jstr(l1, "functional_credit"), "10.00");
	assert_string_equal(kt_jstr(l1, "memo"), "Unrealised exchange gain");
	kt_resp_free(r);
	/* the same key answers the same, and nothing more is posted */
	r = kt_call(&cl, "POST", A.admin.token, key, body, REVALUE, b.org);
	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "id"), id);
	kt_resp_free(r);
	free(body);
	/* the reversal: posted on the first day of the next period, the sides swapped */
	r = api("GET", A.viewer.token, NULL, "/api/v1/journal-entries/%s", rev);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "kind"), "revaluation");
	assert_string_equal(kt_jstr(r->json, "journal"), "adjustment");
	assert_string_equal(kt_jstr(r->json, "status"), "posted");
	assert_string_equal(kt_jstr(r->json, "reverses_id"), id);
	assert_string_equal(kt_jstr(r->json, "date"), "2026-02-01");
	assert_string_equal(kt_jstr(r->json, "number"), "ADJ-FY26-000002");
	assert_string_equal(kt_jstr(r->json, "memo"), "Reversal of ADJ-FY26-000001");
	kt_resp_free(r);
	assert_lines(id, "1200/USD/1.2/0/0/1000/0/- 7100/EUR/1/0/1000/0/1000/-");
	assert_lines(rev, "1200/USD/1.2/0/0/0/1000/- 7100/EUR/1/1000/0/1000/0/-");
	/* rows: two entries, four postings of kind revaluation, no rounding line */
	assert_int_equal(count1("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                        " AND kind = 'revaluation' AND status = 'posted'",
	                        b.org),
	                 2);
	assert_int_equal(count1("SELECT count(*) FROM fin.postings WHERE organization_id = $1"
	                        " AND kind = 'revaluation'",
	                        b.org),
	                 4);
	/* audit: each entry inserted and posted by the admin, each line inserted */
	assert_int_equal(audit_count(id, "journal_entries", "INSERT"), 1);
	assert_int_equal(audit_count(id, "journal_entries", "UPDATE"), 1);
	assert_int_equal(audit_count(rev, "journal_entries", "INSERT"), 1);
	assert_int_equal(audit_count(rev, "journal_entries", "UPDATE"), 1);
	assert_int_equal(count1("SELECT count(*) FROM audit.logs a JOIN fin.journal_lines l"
	                        " ON a.record_id = l.id WHERE a.table_name = 'journal_lines'"
	                        " AND a.action = 'INSERT' AND l.entry_id = $1",
	                        rev),
	                 2);
	/* events: both posted, the revaluation reversed */
	assert_int_equal(event_count(id, "keel.journal_entry.posted"), 1);
	assert_int_equal(event_count(rev, "keel.journal_entry.posted"), 1);
	assert_int_equal(event_count(id, "keel.journal_entry.reversed"), 1);
	assert_int_equal(
	    kt_pg_tenant_long(pg, A.id,
	                      "SELECT count(*) FROM events.outbox WHERE subject = $1 AND type = $2"
	                      " AND data->>'kind' = 'revaluation' AND data->>'reverses_id' = $3",
	                      (const char *[]){rev, "keel.journal_entry.posted", id, NULL}),
	    1);
	/* the balances: restated at the month's end, back as booked from the reversal on */
	assert_closing(&b, b.recv_usd, "2026-01-31", "120.00");
	assert_closing(&b, b.gain, "2026-01-31", "-10.00");
	assert_closing(&b, b.recv_usd, "2026-02-01", "110.00");
	assert_closing(&b, b.gain, "2026-02-01", "0.00");
	free(loc);
	free(id);
	free(rev);
	books_free(&b);
}

/*
 * A USD receivable booked at 1.10, revalued at the month's end at 1.20 (10.00 unrealised),
 * reversed on the 1st, settled at 1.15 against the rate booked on the original line: the gain
 * account holds exactly the realised 5.00 once settled, the unrealised 10.00 at the month's end.
 */
static void
realised_gain_is_measured_against_the_booked_rate(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	kt_resp *r = revalue(A.admin.token, b.org, "2026-01-31", b.gain, b.loss);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	assert_closing(&b, b.gain, "2026-01-31", "-10.00");
	assert_closing(&b, b.recv_usd, "2026-01-31", "120.00");
	/* settled on 2026-02-10: USD 100.00 in at 1.15 (115.00), the receivable out at 1.10 */
	char *l1 = line(b.bank, "debit", "115.00", NULL);
	char *l2 = fx_line(b.recv_usd, "credit", "100.00", "USD", "1.1", NULL);
	char *l3 = line(b.gain, "credit", "5.00", NULL);
	char *lines = kt_strf("%s,%s,%s", l1, l2, l3);

	free(entry(&b, "2026-02-10", lines));
	free(lines);
	free(l1);
	free(l2);
	free(l3);
	assert_closing(&b, b.gain, "2026-02-10", "-5.00");
	assert_closing(&b, b.recv_usd, "2026-02-10", "0.00");
	assert_closing(&b, b.bank, "2026-02-10", "115.00");
	/* the month's end finds nothing open: the receivable is settled */
	assert_revalue_refused(A.admin.token, b.org, "2026-02-28", b.gain, b.loss, 422, "date",
	                       "nothing to revalue");
	assert_closing(&b, b.gain, "2026-02-28", "-5.00");
	books_free(&b);
}

/*
 * Receivables in GBP (two divisions and none) and JPY, a USD payable (a liability), a USD line
 * on inventory (not revalue, never touched): one line per (account, currency, division), a
 * gain or loss line per division for the net of its differences.
 */
static void
only_revalue_accounts_in_every_currency_and_division(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	char *d1 = kt_div_make(&cl, A.admin.token, b.org, NULL, "D1");
	char *d2 = kt_div_make(&cl, A.admin.token, b.org, NULL, "D2");

	entry2(&b, "2026-01-20", fx_line(b.recv, "debit", "200.00", "GBP", "0.85", d1),
	       line(b.sales, "credit", "170.00", d1));
	entry2(&b, "2026-01-20", fx_line(b.recv, "debit", "10000", "JPY", "0.0065", d2),
	       line(b.sales, "credit", "65.00", d2));
	entry2(&b, "2026-01-20", fx_line(b.recv, "debit", "100.00", "GBP", "0.85", NULL),
	       line(b.sales, "credit", "85.00", NULL));
	entry2(&b, "2026-01-21", fx_line(b.pay_usd, "credit", "150.00", "USD", "1.1", d1),
	       line(b.purchases, "debit", "165.00", d1));
	entry2(&b, "2026-01-22", fx_line(b.stock, "debit", "50.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "55.00", NULL));
	kt_resp *r = revalue(A.admin.token, b.org, "2026-01-31", b.gain, b.loss);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));
	char *rev = strdup(kt_jstr(r->json, "reversed_by_id"));

	assert_int_equal(json_array_size(json_object_get(r->json, "lines")), 7);
	kt_resp_free(r);
	/* GBP at 0.90: +5.00 and +10.00; JPY at 0.0071: +6.00; the payable at 1.20: -15.00 */
	assert_lines(id,
	             "1210/GBP/0.9/0/0/500/0/- 1210/GBP/0.9/0/0/1000/0/D1"
	             " 2100/USD/1.2/0/0/0/1500/D1 1210/JPY/0.0071/0/0/600/0/D2"
	             " 7100/EUR/1/0/500/0/500/- 7200/EUR/1/500/0/500/0/D1 7100/EUR/1/0/600/0/600/D2");
	assert_text("SELECT string_agg(memo, '|' ORDER BY line_no) FROM fin.journal_lines"
	            " WHERE entry_id = $1",
	            id,
	            "GBP 100.00 at 0.9|GBP 200.00 at 0.9|USD -150.00 at 1.2|JPY 10000 at 0.0071|"
	            "Unrealised exchange gain|Unrealised exchange loss|Unrealised exchange gain");
	/* the reversal: every line with its sides swapped, nothing else */
	assert_int_equal(count1("SELECT count(*) FROM fin.journal_lines o JOIN fin.journal_lines r"
	                        " ON r.line_no = o.line_no AND r.account_id = o.account_id"
	                        " AND r.currency = o.currency AND r.rate = o.rate"
	                        " AND r.debit = o.credit AND r.credit = o.debit"
	                        " AND r.functional_debit = o.functional_credit"
	                        " AND r.functional_credit = o.functional_debit"
	                        " AND r.division_id IS NOT DISTINCT FROM o.division_id"
	                        " AND r.entry_id = (SELECT e.id FROM fin.journal_entries e"
	                        " WHERE e.reverses_id = o.entry_id) WHERE o.entry_id = $1",
	                        id),
	                 7);
	assert_int_equal(count1("SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1", rev), 7);
	/* inventory stays at its historical rate */
	assert_int_equal(
	    count1("SELECT count(*) FROM fin.journal_lines l JOIN fin.journal_entries e"
	           " ON e.id = l.entry_id WHERE e.kind = 'revaluation' AND l.account_id = $1",
	           b.stock),
	    0);
	assert_closing(&b, b.stock, "2026-01-31", "55.00");
	assert_closing(&b, b.pay_usd, "2026-01-31", "-180.00");
	assert_closing(&b, b.recv, "2026-01-31", "341.00");
	free(id);
	free(rev);
	free(d1);
	free(d2);
	books_free(&b);
}

/*
 * A second revaluation in a later month, after the first's reversal, restates from the booked
 * rates again; twice on one date restates nothing the second time (422); a later date in the
 * same month restates only what moved since.
 */
static void
revaluations_month_after_month(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	kt_resp *r = revalue(A.admin.token, b.org, "2026-01-31", b.gain, b.loss);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	/* the same date again: its restatement is booked already */
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.gain, b.loss, 422, "date",
	                       "nothing to revalue");
	/* 2026-02-20 at 1.15: 115.00 against the 110.00 booked (January's is reversed) */
	r = revalue(A.admin.token, b.org, "2026-02-20", b.gain, b.loss);
	kt_assert_status(r, 201);
	char *feb = strdup(kt_jstr(r->json, "id"));

	assert_string_equal(kt_jstr(r->json, "number"), "ADJ-FY26-000003");
	kt_resp_free(r);
	assert_lines(feb, "1200/USD/1.15/0/0/500/0/- 7100/EUR/1/0/500/0/500/-");
	/* 2026-02-28 at 1.25: 125.00 against 115.00 (February's first is reversed in March only) */
	r = revalue(A.admin.token, b.org, "2026-02-28", b.gain, b.loss);
	kt_assert_status(r, 201);
	char *feb2 = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	assert_lines(feb2, "1200/USD/1.25/0/0/1000/0/- 7100/EUR/1/0/1000/0/1000/-");
	assert_closing(&b, b.recv_usd, "2026-02-28", "125.00");
	assert_closing(&b, b.gain, "2026-02-28", "-15.00");
	assert_closing(&b, b.recv_usd, "2026-03-01", "110.00");
	assert_closing(&b, b.gain, "2026-03-01", "0.00");
	/* a rate falls: the loss account takes it */
	r = revalue(A.admin.token, b.org, "2026-03-31", b.gain, b.loss);
	kt_assert_status(r, 201);
	char *mar = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	assert_lines(mar, "1200/USD/1.05/0/0/0/500/- 7200/EUR/1/500/0/500/0/-");
	free(feb);
	free(feb2);
	free(mar);
	books_free(&b);
}

/*
 * Two revaluations of one organization on one date at once: they run one after the other (the
 * ledger row), and the second finds the first's restatement booked: one 201, one 422, one pair
 * of entries.
 */
static void
concurrent_revaluations_run_one_at_a_time(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	PGconn *hold = kt_pg_app();
	books b;
	kt_async q[2];

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	char *body = kt_strf("{\"date\":\"2026-01-31\",\"gain_account_id\":\"%s\","
	                     "\"loss_account_id\":\"%s\"}",
	                     b.gain, b.loss);

	kt_pg_exec(hold, "BEGIN");
	PQclear(kt_pg_tenant_query(hold, A.id,
	                           "SELECT 1 FROM fin.ledgers WHERE organization_id = $1"
	                           " FOR NO KEY UPDATE",
	                           (const char *[]){b.org, NULL}));
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){.base = k->base, .method = "POST", .token = A.admin.token, .body = body};
		snprintf(q[i].path, sizeof(q[i].path), REVALUE, b.org);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(hold, i + 1);
	}
	kt_pg_exec(hold, "ROLLBACK");
	PQfinish(hold);
	kt_resp *r0 = kt_async_finish(&q[0]), *r1 = kt_async_finish(&q[1]);
	kt_resp *won = r0->status == 201 ? r0 : r1, *lost = won == r0 ? r1 : r0;

	kt_assert_status(won, 201);
	kt_assert_problem(lost, 422, NULL, "date");
	assert_int_equal(count1("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                        " AND kind = 'revaluation'",
	                        b.org),
	                 2);
	assert_closing(&b, b.gain, "2026-01-31", "-10.00");
	kt_resp_free(won);
	kt_resp_free(lost);
	free(body);
	books_free(&b);
	kt_keel_stop_clean(&k, NULL);
}

/* ---- refusals ---- */

static void
roles_and_tenants(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	assert_revalue_refused(A.member.token, b.org, "2026-01-31", b.gain, b.loss, 403, NULL, NULL);
	assert_revalue_refused(A.viewer.token, b.org, "2026-01-31", b.gain, b.loss, 403, NULL, NULL);
	assert_revalue_refused(NULL, b.org, "2026-01-31", b.gain, b.loss, 401, NULL, NULL);
	/* another tenant's organization is none; so is a malformed or unknown id */
	assert_revalue_refused(B.owner.token, b.org, "2026-01-31", b.gain, b.loss, 404, NULL, NULL);
	assert_revalue_refused(A.admin.token, "not-a-uuid", "2026-01-31", b.gain, b.loss, 404, NULL,
	                       NULL);
	assert_revalue_refused(A.admin.token, "00000000-0000-7000-8000-000000000000", "2026-01-31",
	                       b.gain, b.loss, 404, NULL, NULL);
	/* an organization without a ledger */
	char *bare = kt_org_make(&cl, A.owner.token, "RVBARE");

	assert_revalue_refused(A.admin.token, bare, "2026-01-31", b.gain, b.loss, 409, NULL, NULL);
	free(bare);
	/* another tenant's accounts in the body */
	char *borg = kt_org_make(&cl, B.owner.token, "RVB");

	kt_fin_ledger(app, B.id, borg, "EUR");
	char *bgain = kt_fin_account(app, B.id, borg, "7100", "income", NULL, false);

	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", bgain, b.loss, 422,
	                       "gain_account_id", NULL);
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.gain, bgain, 422,
	                       "loss_account_id", NULL);
	assert_int_equal(count1("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                        " AND kind = 'revaluation'",
	                        b.org),
	                 0);
	/* the owner may */
	kt_resp *r = revalue(A.owner.token, b.org, "2026-01-31", b.gain, b.loss);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(borg);
	free(bgain);
	books_free(&b);
}

static void
bodies_accounts_periods_and_rates(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	/* bodies */
	kt_resp *r = api("POST", A.admin.token, "{\"date\":", REVALUE, b.org);

	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	/* the date member (or none), what follows the accounts, and the field named */
	const char *fields[][3] = {
	    {"\"date\":\"2026-01-31\",", ",\"extra\":1", "extra"},
	    {"\"date\":\"2026-02-30\",", "", "date"},
	    {"\"date\":20260131,", "", "date"},
	    {"", "", "date"},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *body = kt_strf("{%s\"gain_account_id\":\"%s\",\"loss_account_id\":\"%s\"%s}",
		                     fields[i][0], b.gain, b.loss, fields[i][1]);

		r = api("POST", A.admin.token, body, REVALUE, b.org);
		kt_assert_problem(r, 422, NULL, fields[i][2]);
		kt_resp_free(r);
		free(body);
	}
	r = api("POST", A.admin.token,
	        "{\"date\":\"2026-01-31\",\"gain_account_id\":\"x\",\"loss_account_id\":null}", REVALUE,
	        b.org);
	kt_assert_problem(r, 422, NULL, "gain_account_id");
	kt_assert_problem(r, 422, NULL, "loss_account_id");
	kt_resp_free(r);
	/* accounts: income or expense, active, of the organization */
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.bank, b.loss, 422,
	                       "gain_account_id", "income or expense");
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.gain, b.recv_usd, 422,
	                       "loss_account_id", NULL);
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE fin.accounts SET status = 'inactive' WHERE id = $1"
	                           " RETURNING id",
	                           (const char *[]){b.purchases, NULL}));
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.gain, b.purchases, 422,
	                       "loss_account_id", NULL);
	/* periods: none contains the date; none follows the year's last */
	assert_revalue_refused(A.admin.token, b.org, "2025-12-31", b.gain, b.loss, 422, "date",
	                       "no fiscal period contains");
	assert_revalue_refused(A.admin.token, b.org, "2026-12-31", b.gain, b.loss, 422, "date",
	                       "no period follows 2026-12");
	/* a currency with an open balance and no rate in force: named */
	entry2(&b, "2026-01-16", fx_line(b.recv, "debit", "10.00", "CHF", "0.95", NULL),
	       line(b.sales, "credit", "9.50", NULL));
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.gain, b.loss, 422, "date", "CHF");
	/* nothing to restate: before any rate moved */
	entry2(&b, "2026-01-16", fx_line(b.recv, "credit", "10.00", "CHF", "0.95", NULL),
	       line(b.sales, "debit", "9.50", NULL));
	assert_revalue_refused(A.admin.token, b.org, "2026-01-12", b.gain, b.loss, 422, "date",
	                       "nothing to revalue");
	/* a closed period */
	char *jan = text1("SELECT id::text FROM fin.periods WHERE organization_id = $1"
	                  " AND name = '2026-01'",
	                  b.org);

	r = api("POST", A.admin.token, NULL, "/api/v1/periods/%s/close", jan);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_revalue_refused(A.admin.token, b.org, "2026-01-31", b.gain, b.loss, 422, "date",
	                       "closed");
	assert_int_equal(count1("SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1"
	                        " AND kind = 'revaluation'",
	                        b.org),
	                 0);
	free(jan);
	books_free(&b);
}

/* What PostgreSQL refuses whoever asks: revaluation entries and amount-less lines by hand. */
static void
raw_sql_refusals(void **state)
{
	(void)state;
	books b;

	books_make(&b);
	entry2(&b, "2026-01-15", fx_line(b.recv_usd, "debit", "100.00", "USD", "1.1", NULL),
	       line(b.sales, "credit", "110.00", NULL));
	/* keel_app makes no revaluation entry, nor turns a draft into one */
	assert_refused(app,
	               "INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal,"
	               " kind, date, currency) VALUES (core.current_tenant_id(), gen_random_uuid(), $1,"
	               " 'adjustment', 'revaluation', '2026-01-31', 'EUR')",
	               (const char *[]){b.org, NULL}, "KF422", "journal_entries_revaluation");
	char *l1 = fx_line(b.recv_usd, "debit", "1.00", "USD", "1.1", NULL);
	char *l2 = line(b.sales, "credit", "1.10", NULL);
	char *body =
	    kt_strf("{\"journal\":\"adjustment\",\"date\":\"2026-01-31\",\"lines\":[%s,%s]}", l1, l2);
	kt_resp *r = api("POST", A.admin.token, body, ENTRIES, b.org);

	kt_assert_status(r, 201);
	char *draft = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	assert_refused(app, "UPDATE fin.journal_entries SET kind = 'revaluation' WHERE id = $1",
	               (const char *[]){draft, NULL}, "KF422", "journal_entries_fixed");
	/* a line without an amount outside a revaluation: refused on insert and on update */
	assert_refused(app,
	               "INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id,"
	               " line_no, account_id, debit, credit, currency, rate, functional_debit,"
	               " functional_credit) VALUES (core.current_tenant_id(), gen_random_uuid(), $1,"
	               " $2, 3, $3, 0, 0, 'USD', 1.2, 1000, 0)",
	               (const char *[]){b.org, draft, b.recv_usd, NULL}, "KF422",
	               "journal_lines_one_side");
	assert_refused(app,
	               "UPDATE fin.journal_lines SET debit = 0, functional_debit = 10 WHERE entry_id"
	               " = $1 AND line_no = 1",
	               (const char *[]){draft, NULL}, "KF422", "journal_lines_one_side");
	assert_refused(app,
	               "UPDATE fin.journal_lines SET debit = 0, functional_debit = 0 WHERE entry_id"
	               " = $1 AND line_no = 1",
	               (const char *[]){draft, NULL}, "KF422", "journal_lines_one_side");
	/* a normal entry names no entry it reverses */
	assert_refused(app,
	               "INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal,"
	               " date, currency, reverses_id) VALUES (core.current_tenant_id(),"
	               " gen_random_uuid(), $1, 'general', '2026-01-31', 'EUR', $2)",
	               (const char *[]){b.org, draft, NULL}, "23514", "journal_entries_reversal_kind");
	/* the draft still posts as it is */
	PQclear(
	    kt_pg_tenant_query(app, A.id, "SELECT fin.post_entry($1)", (const char *[]){draft, NULL}));
	/* a revaluation (through the function) */
	r = revalue(A.admin.token, b.org, "2026-01-31", b.gain, b.loss);
	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));
	char *rev = strdup(kt_jstr(r->json, "reversed_by_id"));

	kt_resp_free(r);
	/* ... is reversed once: by its own reversal, whose amount-less lines a reversal cannot copy */
	assert_refused(app, "SELECT fin.reverse_entry($1, gen_random_uuid(), '2026-02-02', NULL)",
	               (const char *[]){id, NULL}, "KF409", NULL);
	assert_refused(app, "SELECT fin.reverse_entry($1, gen_random_uuid(), '2026-02-02', NULL)",
	               (const char *[]){rev, NULL}, "KF422", "journal_lines_one_side");
	r = api("POST", A.admin.token, "{\"date\":\"2026-02-02\"}",
	        "/api/v1/journal-entries/%s/reverse", rev);
	kt_assert_problem(r, 422, NULL, NULL);
	kt_resp_free(r);
	/* its lines never change */
	assert_refused(app,
	               "UPDATE fin.journal_lines SET functional_debit = 1 WHERE entry_id = $1"
	               " AND line_no = 1",
	               (const char *[]){id, NULL}, "KF409", "journal_lines_immutable");
	/* even the owner role puts an amount-less line on a revalue account only */
	PQclear(kt_pg_tenant_query(pg, A.id,
	                           "INSERT INTO fin.journal_entries (tenant_id, id, organization_id,"
	                           " journal, kind, date, currency) VALUES (core.current_tenant_id(),"
	                           " '00000000-0000-7000-8000-0000000000aa', $1, 'adjustment',"
	                           " 'revaluation', '2026-01-31', 'EUR') RETURNING id",
	                           (const char *[]){b.org, NULL}));
	assert_refused(pg,
	               "INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id,"
	               " line_no, account_id, debit, credit, currency, rate, functional_debit,"
	               " functional_credit) VALUES (core.current_tenant_id(), gen_random_uuid(), $1,"
	               " '00000000-0000-7000-8000-0000000000aa', 1, $2, 0, 0, 'USD', 1.2, 1000, 0)",
	               (const char *[]){b.org, b.stock, NULL}, "KF422", "journal_lines_one_side");
	/* ... and never without any amount at all (the CHECK) */
	assert_refused(pg,
	               "INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id,"
	               " line_no, account_id, debit, credit, currency, rate, functional_debit,"
	               " functional_credit) VALUES (core.current_tenant_id(), gen_random_uuid(), $1,"
	               " '00000000-0000-7000-8000-0000000000aa', 1, $2, 0, 0, 'USD', 1.2, 0, 0)",
	               (const char *[]){b.org, b.recv_usd, NULL}, "23514", "journal_lines_one_side");
	PQclear(kt_pg_tenant_query(pg, A.id,
	                           "DELETE FROM fin.journal_entries WHERE id ="
	                           " '00000000-0000-7000-8000-0000000000aa' RETURNING id",
	                           (const char *[]){NULL}));
	free(id);
	free(rev);
	free(draft);
	free(body);
	free(l1);
	free(l2);
	books_free(&b);
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
	if ((srv = kt_fixture_start("fin_reval", NULL, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "fin-reval-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-reval-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	/* the tenant's rates, for every test: the latest on or before a date is in force */
	rate_make("USD", "1.1", "2026-01-10");
	rate_make("USD", "1.2", "2026-01-31");
	rate_make("USD", "1.15", "2026-02-15");
	rate_make("USD", "1.25", "2026-02-28");
	rate_make("USD", "1.05", "2026-03-31");
	rate_make("GBP", "0.85", "2026-01-10");
	rate_make("GBP", "0.9", "2026-01-31");
	rate_make("JPY", "0.0065", "2026-01-10");
	rate_make("JPY", "0.0071", "2026-01-31");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(revaluation_posts_and_reverses),
	    cmocka_unit_test(realised_gain_is_measured_against_the_booked_rate),
	    cmocka_unit_test(only_revalue_accounts_in_every_currency_and_division),
	    cmocka_unit_test(revaluations_month_after_month),
	    cmocka_unit_test(concurrent_revaluations_run_one_at_a_time),
	    cmocka_unit_test(roles_and_tenants),
	    cmocka_unit_test(bodies_accounts_periods_and_rates),
	    cmocka_unit_test(raw_sql_refusals),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_reval", tests, setup, teardown);
}
