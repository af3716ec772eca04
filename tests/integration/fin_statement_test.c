/*
 * The Finance statements and CSV answers against the real binary and PostgreSQL: the balance
 * sheet (GET /api/v1/organizations/{id}/balance-sheet), the income statement
 * (GET /api/v1/organizations/{id}/income-statement), and Accept: text/csv on the trial
 * balance, the account ledger and the journal-entry list.
 *
 * The books are made by SQL as keel_app through migration 0012's own functions (kt_fin.h):
 * small ones worked out by hand below (twice: once left open, once with its first year
 * closed by a closing entry), and random ones (fixed seed) whose figures the test works out
 * itself from the lines it posted.  Closed years are closed as keel closes them: every
 * period through its route, then POST /api/v1/fiscal-years/{id}/close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/money.h"
#include "fin/fin_int.h"
#include "kt.h"
#include "kt_fin.h"

#define PASSWORD "correct horse battery staple"
#define BS       "/api/v1/organizations/%s/balance-sheet?%s"
#define IS       "/api/v1/organizations/%s/income-statement?%s"
#define CSV      "text/csv; charset=utf-8"

static kt_keel *srv;
static kt_client cl;   /* requests to srv */
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app: the books */
static kt_tenant A, B; /* A: the books; B: the other tenant */

/* ---- HTTP ---- */

static kt_resp *get_as(const char *token, const char *accept, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* GET with Accept: accept (NULL: no Accept header). */
static kt_resp *
get_as(const char *token, const char *accept, const char *fmt, ...)
{
	va_list ap;
	char *h = accept != NULL ? kt_strf("Accept: %s", accept) : NULL;
	const char *extra[] = {h, NULL};

	va_start(ap, fmt);
	kt_resp *r = kt_vcall(&cl, "GET", token, h != NULL ? extra : NULL, NULL, fmt, ap);

	va_end(ap);
	free(h);
	return r;
}

#define get(token, ...) get_as((token), NULL, __VA_ARGS__)

/* Fail unless r answered 200 with exactly want (compact JSON). */
static void
assert_body(kt_resp *r, const char *want)
{
	kt_assert_status(r, 200);
	kt_assert_compact_body(r);
	if (strcmp(r->body, want) != 0)
		fail_msg("body\n%s\nwanted\n%s", r->body, want);
}

/* Fail unless r answered 200 text/csv with exactly want. */
static void
assert_csv(kt_resp *r, const char *want)
{
	kt_assert_status(r, 200);
	kt_assert_header(r, "Content-Type", CSV);
	kt_assert_header(r, "Vary", "Accept");
	if (r->len != strlen(want) || memcmp(r->body, want, r->len) != 0)
		fail_msg("CSV\n%s\nwanted\n%s", r->body, want);
}

/* An amount member of o in minor units (2 digits); fails the test when it is not one. */
static int64_t
amount(const json_t *o, const char *key)
{
	int64_t v = 0;

	if (!keel_money_parse(kt_jstr(o, key), 2, true, &v))
		fail_msg("%s is not an amount: %s", key, kt_jstr(o, key));
	return v;
}

/* ---- the books ---- */

/* sql as tenant on app, its result dropped. */
static void
app_sql(const char *sql, const char *const *p)
{
	PQclear(kt_pg_tenant_query(app, A.id, sql, p));
}

/*
 * Close the fiscal year year_id as keel closes one: retained the ledger's retained-earnings
 * account, every period closed, then POST /api/v1/fiscal-years/{id}/close.  The closing
 * entry it posts must have exactly the n lines given (account, debit, credit), in any order.
 */
static void
year_close(const char *org, const char *year_id, const char *retained, int n,
           const kt_fin_line *lines)
{
	app_sql("UPDATE fin.ledgers SET retained_earnings_account_id = $2 WHERE organization_id = $1 "
	        "RETURNING organization_id",
	        (const char *[]){org, retained, NULL});
	PGresult *p = kt_pg_tenant_query(
	    app, A.id, "SELECT id FROM fin.periods WHERE fiscal_year_id = $1 ORDER BY start_date",
	    (const char *[]){year_id, NULL});

	for (int i = 0; i < PQntuples(p); i++) {
		kt_resp *r = kt_call(&cl, "POST", A.admin.token, NULL, NULL, "/api/v1/periods/%s/close",
		                     PQgetvalue(p, i, 0));

		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	PQclear(p);
	kt_resp *r =
	    kt_call(&cl, "POST", A.admin.token, NULL, NULL, "/api/v1/fiscal-years/%s/close", year_id);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	for (int i = 0; i < n; i++) {
		char dr[24], cr[24];

		snprintf(dr, sizeof(dr), "%lld", lines[i].debit);
		snprintf(cr, sizeof(cr), "%lld", lines[i].credit);
		long got = kt_pg_tenant_long(
		    app, A.id,
		    "SELECT count(*) FROM fin.journal_lines l JOIN fin.journal_entries e "
		    "ON e.id = l.entry_id WHERE e.organization_id = $1 AND e.kind = 'closing' "
		    "AND e.status = 'posted' AND l.account_id = $2 AND l.debit = $3 AND l.credit = $4",
		    (const char *[]){org, lines[i].account_id, dr, cr, NULL});

		if (got != 1)
			fail_msg("closing line %d (%s Dr %s Cr %s): %ld found", i, lines[i].account_id, dr, cr,
			         got);
	}
	long all = kt_pg_tenant_long(app, A.id,
	                             "SELECT count(*) FROM fin.journal_lines l JOIN "
	                             "fin.journal_entries e ON e.id = l.entry_id WHERE "
	                             "e.organization_id = $1 AND e.kind = 'closing'",
	                             (const char *[]){org, NULL});

	assert_int_equal(all, n);
}

/* A posted entry of two lines. */
static void
entry2(const char *org, const char *date, const char *dr, const char *cr, long long amount)
{
	free(kt_fin_entry(app, A.id, org, "general", date, 2,
	                  (kt_fin_line[]){{dr, amount, 0, NULL}, {cr, 0, amount, NULL}}, true));
}

/*
 * The small books (EUR), worked by hand:
 *   1 Assets (group) > 11 Cash, 12 Bank; 21 Loan; 31 Capital, 32 Retained earnings;
 *   4 Income (group) > 41 Sales; 51 Rent.  FY25 and FY26, calendar years.
 *   2025-01-10 11 Dr 1000.00 / 31 Cr     2025-03-01 11 Dr 300.00 / 41 Cr
 *   2025-04-01 51 Dr 100.00 / 11 Cr      2025-06-01 12 Dr 500.00 / 21 Cr   (FY25 result 200.00)
 *   2026-02-01 11 Dr 80.00 / 41 Cr       2026-03-01 51 Dr 30.00 / 12 Cr    (FY26 result 50.00)
 *   2026-03-05 draft 11 Dr 9.99 / 41 Cr (never counts)
 * With close: FY25 closed on 2025-12-31 by 41 Dr 300.00, 51 Cr 100.00, 32 Cr 200.00.
 */
typedef struct books {
	char *org;
	char *g1, *a11, *a12, *a21, *a31, *a32, *g4, *a41, *a51;
} books;

static books U, C; /* U: no year closed; C: FY25 closed */

static void
books_make(books *b, const char *code, bool close)
{
	b->org = kt_org_make(&cl, A.owner.token, code);
	kt_fin_ledger(app, A.id, b->org, "EUR");
	b->g1 = kt_fin_account(app, A.id, b->org, "1", "asset", NULL, true);
	b->a11 = kt_fin_account(app, A.id, b->org, "11", "asset", b->g1, false);
	b->a12 = kt_fin_account(app, A.id, b->org, "12", "asset", b->g1, false);
	b->a21 = kt_fin_account(app, A.id, b->org, "21", "liability", NULL, false);
	b->a31 = kt_fin_account(app, A.id, b->org, "31", "equity", NULL, false);
	b->a32 = kt_fin_account(app, A.id, b->org, "32", "equity", NULL, false);
	b->g4 = kt_fin_account(app, A.id, b->org, "4", "income", NULL, true);
	b->a41 = kt_fin_account(app, A.id, b->org, "41", "income", b->g4, false);
	b->a51 = kt_fin_account(app, A.id, b->org, "51", "expense", NULL, false);
	char *fy25 = kt_fin_year(app, A.id, b->org, "FY25", "2025-01-01", "2025-12-31", "month");

	free(kt_fin_year(app, A.id, b->org, "FY26", "2026-01-01", "2026-12-31", "month"));
	entry2(b->org, "2025-01-10", b->a11, b->a31, 100000);
	entry2(b->org, "2025-03-01", b->a11, b->a41, 30000);
	entry2(b->org, "2025-04-01", b->a51, b->a11, 10000);
	entry2(b->org, "2025-06-01", b->a12, b->a21, 50000);
	entry2(b->org, "2026-02-01", b->a11, b->a41, 8000);
	entry2(b->org, "2026-03-01", b->a51, b->a12, 3000);
	free(kt_fin_entry(app, A.id, b->org, "general", "2026-03-05", 2,
	                  (kt_fin_line[]){{b->a11, 999, 0, NULL}, {b->a41, 0, 999, NULL}}, false));
	if (close)
		year_close(b->org, fy25, b->a32, 3,
		           (kt_fin_line[]){{b->a41, 30000, 0, NULL},
		                           {b->a51, 0, 10000, NULL},
		                           {b->a32, 0, 20000, NULL}});
	free(fy25);
}

static void
books_free(books *b)
{
	char **all[] = {&b->org, &b->g1,  &b->a11, &b->a12, &b->a21,
	                &b->a31, &b->a32, &b->g4,  &b->a41, &b->a51};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(*all[i]);
}

/* One statement row as keel renders it. */
static char *
row(const char *id, const char *code, const char *balance)
{
	return kt_strf("{\"account_id\":\"%s\",\"code\":\"%s\",\"name\":\"Account %s\","
	               "\"balance\":\"%s\"}",
	               id, code, code, balance);
}

/* ---- the small books ---- */

static void
balance_sheet_of_small_books(void **state)
{
	(void)state;
	char *r1 = row(U.g1, "1", "1750.00"), *r11 = row(U.a11, "11", "1280.00"),
	     *r12 = row(U.a12, "12", "470.00"), *r21 = row(U.a21, "21", "500.00"),
	     *r31 = row(U.a31, "31", "1000.00");
	char *want = kt_strf(
	    "{\"as_of\":\"2026-03-31\",\"currency\":\"EUR\",\"assets\":\"1750.00\","
	    "\"liabilities\":\"500.00\",\"equity\":\"1000.00\",\"result_of_unclosed_years\":"
	    "\"200.00\",\"current_year_result\":\"50.00\",\"sections\":[{\"type\":\"asset\","
	    "\"accounts\":[%s,%s,%s],\"total\":\"1750.00\"},{\"type\":\"liability\",\"accounts\":[%s],"
	    "\"total\":\"500.00\"},{\"type\":\"equity\",\"accounts\":[%s],\"total\":\"1000.00\"}]}",
	    r1, r11, r12, r21, r31);
	kt_resp *r = get(A.viewer.token, BS, U.org, "as_of=2026-03-31");

	assert_body(r, want);
	kt_resp_free(r);
	/* the first year's end: its result is the current year's; before any posting: nothing */
	r = get(A.viewer.token, BS, U.org, "as_of=2025-12-31");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "assets"), "1700.00");
	assert_string_equal(kt_jstr(r->json, "result_of_unclosed_years"), "0.00");
	assert_string_equal(kt_jstr(r->json, "current_year_result"), "200.00");
	kt_resp_free(r);
	r = get(A.viewer.token, BS, U.org, "as_of=2024-06-30");
	assert_body(r,
	            "{\"as_of\":\"2024-06-30\",\"currency\":\"EUR\",\"assets\":\"0.00\","
	            "\"liabilities\":\"0.00\",\"equity\":\"0.00\",\"result_of_unclosed_years\":"
	            "\"0.00\",\"current_year_result\":\"0.00\",\"sections\":[{\"type\":\"asset\","
	            "\"accounts\":[],\"total\":\"0.00\"},{\"type\":\"liability\",\"accounts\":[],"
	            "\"total\":\"0.00\"},{\"type\":\"equity\",\"accounts\":[],\"total\":\"0.00\"}]}");
	kt_resp_free(r);
	free(want);
	free(r1);
	free(r11);
	free(r12);
	free(r21);
	free(r31);
}

static void
income_statement_of_small_books(void **state)
{
	(void)state;
	char *r4 = row(U.g4, "4", "80.00"), *r41 = row(U.a41, "41", "80.00"),
	     *r51 = row(U.a51, "51", "30.00");
	char *want = kt_strf(
	    "{\"from\":\"2026-01-01\",\"to\":\"2026-03-31\",\"currency\":\"EUR\",\"income\":"
	    "\"80.00\",\"expense\":\"30.00\",\"result\":\"50.00\",\"sections\":[{\"type\":\"income\","
	    "\"accounts\":[%s,%s],\"total\":\"80.00\"},{\"type\":\"expense\",\"accounts\":[%s],"
	    "\"total\":\"30.00\"}]}",
	    r4, r41, r51);
	kt_resp *r = get(A.viewer.token, IS, U.org, "from=2026-01-01&to=2026-03-31");

	assert_body(r, want);
	kt_resp_free(r);
	/* one day: that day's postings only (the rent of 2026-03-01) */
	r = get(A.viewer.token, IS, U.org, "from=2026-03-01&to=2026-03-01");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "income"), "0.00");
	assert_string_equal(kt_jstr(r->json, "result"), "-30.00");
	assert_int_equal(json_array_size(json_object_get(
	                     json_array_get(json_object_get(r->json, "sections"), 0), "accounts")),
	                 0);
	kt_resp_free(r);
	free(want);
	free(r4);
	free(r41);
	free(r51);
}

/* C's first year is closed: its result is in equity, and no statement counts the closing. */
static void
closing_entries_are_left_out(void **state)
{
	(void)state;
	kt_resp *r = get(A.viewer.token, IS, C.org, "from=2025-01-01&to=2025-12-31");

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "income"), "300.00");
	assert_string_equal(kt_jstr(r->json, "expense"), "100.00");
	assert_string_equal(kt_jstr(r->json, "result"), "200.00");
	kt_resp_free(r);
	/* after the close: the first year's result is retained earnings, no longer unclosed */
	char *r31 = row(C.a31, "31", "1000.00"), *r32 = row(C.a32, "32", "200.00");
	char *eq =
	    kt_strf("{\"type\":\"equity\",\"accounts\":[%s,%s],\"total\":\"1200.00\"}", r31, r32);

	r = get(A.viewer.token, BS, C.org, "as_of=2026-03-31");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "assets"), "1750.00");
	assert_string_equal(kt_jstr(r->json, "equity"), "1200.00");
	assert_string_equal(kt_jstr(r->json, "result_of_unclosed_years"), "0.00");
	assert_string_equal(kt_jstr(r->json, "current_year_result"), "50.00");
	char *got = json_dumps(json_array_get(json_object_get(r->json, "sections"), 2), JSON_COMPACT);

	assert_string_equal(got, eq);
	free(got);
	kt_resp_free(r);
	/* at the closed year's last day: as before the close, the closing left out */
	r = get(A.viewer.token, BS, C.org, "as_of=2025-12-31");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "assets"), "1700.00");
	assert_string_equal(kt_jstr(r->json, "equity"), "1000.00");
	assert_string_equal(kt_jstr(r->json, "result_of_unclosed_years"), "0.00");
	assert_string_equal(kt_jstr(r->json, "current_year_result"), "200.00");
	assert_int_equal(json_array_size(json_object_get(
	                     json_array_get(json_object_get(r->json, "sections"), 2), "accounts")),
	                 1);
	kt_resp_free(r);
	free(r31);
	free(r32);
	free(eq);
}

/* ---- random books ---- */

#define R_LEAVES  11
#define R_ENTRIES 70
#define R_LINES   (R_ENTRIES * 4 + R_LEAVES)

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* The leaves: type and group (index into R.groups, -1: none). */
static const struct {
	const char *type;
	int group;
} leaf_kinds[R_LEAVES] = {{"asset", 0},     {"asset", 0},    {"asset", -1},  {"liability", -1},
                          {"liability", 1}, {"equity", -1},  {"equity", -1}, {"income", 2},
                          {"income", 2},    {"expense", -1}, {"expense", 3}};
static const char *const group_types[4] = {"asset", "liability", "income", "expense"};
#define R_RETAINED 6 /* the equity leaf the close moves the result to */

typedef struct rline {
	char date[11];
	int leaf;
	long long debit, credit;
	bool closing;
} rline;

static struct {
	char *org, *fy25;
	char *group[4];
	char *leaf[R_LEAVES];
	rline line[R_LINES];
	int nlines;
} R;

static bool
is_type(int leaf, const char *type)
{
	return strcmp(leaf_kinds[leaf].type, type) == 0;
}

static bool
is_result(int leaf)
{
	return is_type(leaf, "income") || is_type(leaf, "expense");
}

/* A random day of 2025 or of 2026's first half. */
static void
random_day(char *out)
{
	int y = rnd(3) == 0 ? 2026 : 2025, m = y == 2026 ? 1 + (int)rnd(6) : 1 + (int)rnd(12);

	char t[32];

	snprintf(t, sizeof(t), "%04d-%02d-%02d", y, m, 1 + (int)rnd(28));
	memcpy(out, t, 11);
}

/* A random balanced entry of 2..4 lines, posted and kept in R.line. */
static void
random_entry(void)
{
	int n = 2 + (int)rnd(3);
	kt_fin_line l[4];
	rline *rl = &R.line[R.nlines];
	long long net = 0; /* debit - credit of the lines so far */
	char date[11];

	random_day(date);
	for (int i = 0; i < n - 1; i++) {
		long long v = 1 + rnd(500000);
		bool debit = rnd(2) == 0;

		l[i] = (kt_fin_line){R.leaf[rnd(R_LEAVES)], debit ? v : 0, debit ? 0 : v, NULL};
		net += debit ? v : -v;
	}
	if (net == 0) { /* the last line must move something */
		l[0].debit += l[0].debit > 0;
		l[0].credit += l[0].credit > 0;
		net += l[0].debit > 0 ? 1 : -1;
	}
	l[n - 1] = (kt_fin_line){R.leaf[rnd(R_LEAVES)], net < 0 ? -net : 0, net > 0 ? net : 0, NULL};
	for (int i = 0; i < n; i++) {
		int leaf = 0;

		while (strcmp(R.leaf[leaf], l[i].account_id) != 0)
			leaf++;
		rl[i] = (rline){.leaf = leaf, .debit = l[i].debit, .credit = l[i].credit};
		memcpy(rl[i].date, date, 11);
	}
	free(kt_fin_entry(app, A.id, R.org, "general", date, n, l, true));
	R.nlines += n;
}

/* Close 2025: each result leaf's 2025 balance moved to retained earnings, dated 2025-12-31. */
static void
random_close(void)
{
	kt_fin_line l[R_LEAVES];
	long long bal[R_LEAVES] = {0}, total = 0;
	int n = 0;

	for (int i = 0; i < R.nlines; i++)
		if (strncmp(R.line[i].date, "2025", 4) == 0)
			bal[R.line[i].leaf] += R.line[i].debit - R.line[i].credit;
	for (int leaf = 0; leaf < R_LEAVES; leaf++) {
		if (!is_result(leaf) || bal[leaf] == 0)
			continue;
		l[n] = (kt_fin_line){R.leaf[leaf], bal[leaf] < 0 ? -bal[leaf] : 0,
		                     bal[leaf] > 0 ? bal[leaf] : 0, NULL};
		total += bal[leaf];
		n++;
	}
	if (total != 0)
		l[n++] =
		    (kt_fin_line){R.leaf[R_RETAINED], total > 0 ? total : 0, total < 0 ? -total : 0, NULL};
	for (int i = 0; i < n; i++) {
		int leaf = 0;

		while (strcmp(R.leaf[leaf], l[i].account_id) != 0)
			leaf++;
		R.line[R.nlines + i] = (rline){.date = "2025-12-31",
		                               .leaf = leaf,
		                               .debit = l[i].debit,
		                               .credit = l[i].credit,
		                               .closing = true};
	}
	year_close(R.org, R.fy25, R.leaf[R_RETAINED], n, l);
	R.nlines += n;
}

/* The statement of R a query names: as_of=... the balance sheet, else the income statement. */
static char *
answer(const char *query)
{
	kt_resp *r = strncmp(query, "as_of=", 6) == 0 ? get(A.viewer.token, BS, R.org, query)
	                                              : get(A.viewer.token, IS, R.org, query);

	kt_assert_status(r, 200);
	char *body = strdup(r->body);

	kt_resp_free(r);
	return body;
}

/* Statements of 2025, asked before its close (from postings) and after (from snapshots). */
static const char *const q2025[] = {
    "as_of=2024-12-31",
    "as_of=2025-01-31",
    "as_of=2025-03-15",
    "as_of=2025-06-30",
    "as_of=2025-11-30",
    "as_of=2025-12-30",
    "as_of=2025-12-31",
    "from=2025-01-01&to=2025-12-31",
    "from=2025-02-01&to=2025-02-28",
    "from=2025-01-15&to=2025-07-15",
    "from=2025-03-01&to=2025-05-31",
    "from=2024-06-01&to=2025-12-31",
    "from=2025-12-01&to=2025-12-31",
};
static char *before_close[KEEL_NELEM(q2025)];

static void
rbooks_make(void)
{
	char code[8];

	R.org = kt_org_make(&cl, A.owner.token, "RAND");
	kt_fin_ledger(app, A.id, R.org, "EUR");
	for (int g = 0; g < 4; g++) {
		snprintf(code, sizeof(code), "G%d", g);
		R.group[g] = kt_fin_account(app, A.id, R.org, code, group_types[g], NULL, true);
	}
	for (int i = 0; i < R_LEAVES; i++) {
		int g = leaf_kinds[i].group;

		snprintf(code, sizeof(code), "L%02d", i);
		R.leaf[i] = kt_fin_account(app, A.id, R.org, code, leaf_kinds[i].type,
		                           g >= 0 ? R.group[g] : NULL, false);
	}
	R.fy25 = kt_fin_year(app, A.id, R.org, "FY25", "2025-01-01", "2025-12-31", "month");
	free(kt_fin_year(app, A.id, R.org, "FY26", "2026-01-01", "2026-12-31", "month"));
	for (int e = 0; e < R_ENTRIES; e++)
		random_entry();
	for (size_t q = 0; q < KEEL_NELEM(q2025); q++)
		before_close[q] = answer(q2025[q]);
	random_close();
}

static void
rbooks_free(void)
{
	for (size_t q = 0; q < KEEL_NELEM(q2025); q++)
		free(before_close[q]);
	free(R.org);
	free(R.fy25);
	for (int g = 0; g < 4; g++)
		free(R.group[g]);
	for (int i = 0; i < R_LEAVES; i++)
		free(R.leaf[i]);
}

/* The figures of the balance sheet at as_of, worked from R.line. */
typedef struct bs_figures {
	long long assets, liabilities, equity, unclosed, current;
} bs_figures;

static bs_figures
bs_model(const char *as_of)
{
	const char *fy = strcmp(as_of, "2026-01-01") >= 0 ? "2026-01-01" : "2025-01-01";
	bs_figures f = {0};

	for (int i = 0; i < R.nlines; i++) {
		const rline *l = &R.line[i];
		long long dc = l->debit - l->credit;

		if (strcmp(l->date, as_of) > 0 || (l->closing && strcmp(l->date, fy) >= 0))
			continue;
		if (is_type(l->leaf, "asset"))
			f.assets += dc;
		else if (is_type(l->leaf, "liability"))
			f.liabilities -= dc;
		else if (is_type(l->leaf, "equity"))
			f.equity -= dc;
		else if (strcmp(l->date, fy) >= 0)
			f.current -= dc;
		else
			f.unclosed -= dc;
	}
	return f;
}

/* The sum of the leaf accounts' balances in a section; fails unless it is its total. */
static void
check_section(const json_t *section)
{
	const json_t *accounts = json_object_get(section, "accounts");
	int64_t sum = 0;

	for (size_t i = 0; i < json_array_size(accounts); i++) {
		const json_t *a = json_array_get(accounts, i);

		if (kt_jstr(a, "code")[0] == 'L')
			sum += amount(a, "balance");
	}
	assert_int_equal(sum, amount(section, "total"));
}

static void
balance_sheet_balances_on_random_books(void **state)
{
	(void)state;
	const char *fixed[] = {"2024-12-31", "2025-12-30", "2025-12-31",
	                       "2026-01-01", "2026-06-30", "2027-03-01"};

	for (int i = 0; i < 26; i++) {
		char as_of[11];

		if (i < 6)
			snprintf(as_of, sizeof(as_of), "%s", fixed[i]);
		else
			random_day(as_of);
		char q[64];

		snprintf(q, sizeof(q), "as_of=%s", as_of);
		kt_resp *r = get(A.viewer.token, BS, R.org, q);
		bs_figures f = bs_model(as_of);

		kt_assert_status(r, 200);
		int64_t a = amount(r->json, "assets"), l = amount(r->json, "liabilities"),
		        e = amount(r->json, "equity"), u = amount(r->json, "result_of_unclosed_years"),
		        c = amount(r->json, "current_year_result");

		/* the balance equation, from the answer alone */
		if (a != l + e + u + c)
			fail_msg("as_of %s: assets %lld != %lld + %lld + %lld + %lld", as_of, (long long)a,
			         (long long)l, (long long)e, (long long)u, (long long)c);
		/* and every figure as the lines make it */
		assert_int_equal(a, f.assets);
		assert_int_equal(l, f.liabilities);
		assert_int_equal(e, f.equity);
		assert_int_equal(u, f.unclosed);
		assert_int_equal(c, f.current);
		const json_t *sections = json_object_get(r->json, "sections");

		assert_int_equal(json_array_size(sections), 3);
		for (size_t s = 0; s < 3; s++)
			check_section(json_array_get(sections, s));
		assert_int_equal(amount(json_array_get(sections, 0), "total"), a);
		/* the current year's result is the income statement's from the year's start */
		if (strcmp(as_of, "2025-01-01") >= 0) {
			snprintf(q, sizeof(q), "from=%s&to=%s",
			         strcmp(as_of, "2026-01-01") >= 0 ? "2026-01-01" : "2025-01-01", as_of);
			kt_resp *is = get(A.viewer.token, IS, R.org, q);

			kt_assert_status(is, 200);
			assert_int_equal(amount(is->json, "result"), c);
			assert_int_equal(amount(is->json, "income") - amount(is->json, "expense"), c);
			kt_resp_free(is);
		}
		kt_resp_free(r);
	}
}

/* Fail unless R's statement of query answers want, byte for byte. */
static void
assert_answer(const char *query, const char *want, const char *when)
{
	char *got = answer(query);

	if (strcmp(got, want) != 0)
		fail_msg("%s, %s:\n%s\nwanted (from the postings alone)\n%s", query, when, got, want);
	free(got);
}

/* Close (or, with reason, reopen) R's period of 2026 number month (1-based) through its route. */
static void
r_period(int month, const char *reason)
{
	char start[11];

	snprintf(start, sizeof(start), "2026-%02d-01", month);
	char *id = kt_pg_tenant_value(
	    app, A.id, "SELECT id FROM fin.periods WHERE organization_id = $1 AND start_date = $2",
	    (const char *[]){R.org, start, NULL});
	char *body = reason != NULL ? kt_strf("{\"reason\":\"%s\"}", reason) : NULL;
	kt_resp *r = kt_call(&cl, "POST", reason != NULL ? A.owner.token : A.admin.token, NULL, body,
	                     "/api/v1/periods/%s/%s", id, reason != NULL ? "reopen" : "close");

	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(body);
	free(id);
}

/*
 * Statements over closed periods read their snapshots, and answer exactly as the postings
 * alone would: 2025's, asked before its periods and year were closed (setup), again now; 2026's
 * with none, one, three and six of its months closed.
 */
static void
statements_from_snapshots_equal_from_postings(void **state)
{
	(void)state;
	static const char *const q2026[] = {
	    "as_of=2026-01-31",
	    "as_of=2026-02-15",
	    "as_of=2026-03-31",
	    "as_of=2026-06-30",
	    "as_of=2026-12-31",
	    "as_of=2027-03-01",
	    "from=2026-01-01&to=2026-12-31",
	    "from=2025-06-01&to=2026-03-31",
	    "from=2026-02-01&to=2026-02-28",
	    "from=2026-01-10&to=2026-05-20",
	    "from=2025-01-01&to=2026-12-31",
	};
	char *open[KEEL_NELEM(q2026)];
	char when[32];

	for (size_t q = 0; q < KEEL_NELEM(q2025); q++)
		assert_answer(q2025[q], before_close[q], "2025 closed");
	for (size_t q = 0; q < KEEL_NELEM(q2026); q++)
		open[q] = answer(q2026[q]);
	for (int m = 1; m <= 6; m++) {
		r_period(m, NULL);
		if (m != 1 && m != 3 && m != 6)
			continue;
		snprintf(when, sizeof(when), "2026 closed to month %d", m);
		for (size_t q = 0; q < KEEL_NELEM(q2026); q++)
			assert_answer(q2026[q], open[q], when);
	}
	for (int m = 6; m >= 1; m--)
		r_period(m, "back to the books as they were");
	for (size_t q = 0; q < KEEL_NELEM(q2026); q++)
		free(open[q]);
}

/* ---- refusals, roles, tenants ---- */

/* The balance sheet (bs) or the income statement of org with query. */
static kt_resp *
stmt_get(const char *token, bool bs, const char *org, const char *query)
{
	return bs ? get(token, BS, org, query) : get(token, IS, org, query);
}

static void
statement_refusals(void **state)
{
	(void)state;
	struct {
		bool bs;
		const char *query, *field;
	} bad[] = {
	    {true, "", "as_of"},
	    {true, "as_of=2026-02-30", "as_of"},
	    {true, "as_of=2026-3-1", "as_of"},
	    {true, "as_of=2026-03-31T00:00:00Z", "as_of"},
	    {false, "to=2026-03-31", "from"},
	    {false, "from=2026-03-01", "to"},
	    {false, "from=2026-13-01&to=2026-03-31", "from"},
	    {false, "from=2026-04-01&to=2026-03-31", "from"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r = stmt_get(A.viewer.token, bad[i].bs, U.org, bad[i].query);

		kt_assert_problem(r, 400, NULL, bad[i].field);
		kt_resp_free(r);
	}
	/* another tenant's organization, no UUID, nobody's: 404; no ledger: 409 */
	char *b_org = kt_org_make(&cl, B.owner.token, "BORG");
	char *bare = kt_org_make(&cl, A.owner.token, "BARE");
	const char *ids[] = {b_org, "not-a-uuid", "01900000-0000-7000-8000-000000000000"};
	const char *queries[] = {"as_of=2026-03-31", "from=2026-01-01&to=2026-03-31"};

	for (size_t p = 0; p < 2; p++) {
		for (size_t i = 0; i < 3; i++) {
			kt_resp *r = stmt_get(A.viewer.token, p == 0, ids[i], queries[p]);

			kt_assert_problem(r, 404, NULL, NULL);
			kt_resp_free(r);
		}
		kt_resp *r = stmt_get(A.viewer.token, p == 0, bare, queries[p]);

		kt_assert_problem(r, 409, NULL, NULL);
		kt_resp_free(r);
		/* the other tenant does not see A's books */
		r = stmt_get(B.owner.token, p == 0, U.org, queries[p]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		/* every role reads; nobody without a token */
		const char *tokens[] = {A.owner.token, A.admin.token, A.member.token, A.viewer.token};

		for (size_t i = 0; i < 4; i++) {
			r = stmt_get(tokens[i], p == 0, U.org, queries[p]);
			kt_assert_status(r, 200);
			kt_resp_free(r);
		}
		r = stmt_get(NULL, p == 0, U.org, queries[p]);
		kt_assert_problem(r, 401, NULL, NULL);
		kt_resp_free(r);
	}
	free(b_org);
	free(bare);
}

/* ---- CSV ---- */

/*
 * The CSV books (EUR, FY26), names and memos that need quoting or the formula guard:
 *   1000 'Cash, "petty"' (asset), 2000 '=1+2' (asset), 3000 'Zürich € fund' (equity),
 *   4000 '-minus<LF>sales' (income).
 *   E1 2026-01-05 memo 'Say "hi"<LF>there': 1000 Dr 12.50 / 3000 Cr 12.50
 *   E2 2026-01-06 memo 'Sale': 1000 Dr 100.00 (line memo '@once') / 4000 Cr 60.00 / 2000 Cr 40.00
 *   E3 2026-01-07 draft: 2000 Dr 1.00 / 4000 Cr 1.00
 */
static struct {
	char *org, *a[4], *e[3];
} V;

/* Entry id's memo, and its first line's, then posted. */
static void
memos_and_post(const char *id, const char *memo, const char *line_memo, bool post)
{
	app_sql("UPDATE fin.journal_entries SET memo = $2 WHERE id = $1 RETURNING id",
	        (const char *[]){id, memo, NULL});
	app_sql("UPDATE fin.journal_lines SET memo = $2 WHERE entry_id = $1 AND line_no = 1 "
	        "RETURNING id",
	        (const char *[]){id, line_memo, NULL});
	if (post)
		app_sql("SELECT fin.post_entry($1)", (const char *[]){id, NULL});
}

static void
csv_books_make(void)
{
	const char *codes[] = {"1000", "2000", "3000", "4000"};
	const char *types[] = {"asset", "asset", "equity", "income"};
	const char *names[] = {"Cash, \"petty\"", "=1+2", "Zürich € fund", "-minus\nsales"};

	V.org = kt_org_make(&cl, A.owner.token, "CSVB");
	kt_fin_ledger(app, A.id, V.org, "EUR");
	for (int i = 0; i < 4; i++) {
		V.a[i] = kt_fin_account(app, A.id, V.org, codes[i], types[i], NULL, false);
		app_sql("UPDATE fin.accounts SET name = $2 WHERE id = $1 RETURNING id",
		        (const char *[]){V.a[i], names[i], NULL});
	}
	free(kt_fin_year(app, A.id, V.org, "FY26", "2026-01-01", "2026-12-31", "month"));
	V.e[0] = kt_fin_entry(app, A.id, V.org, "general", "2026-01-05", 2,
	                      (kt_fin_line[]){{V.a[0], 1250, 0, NULL}, {V.a[2], 0, 1250, NULL}}, false);
	memos_and_post(V.e[0], "Say \"hi\"\nthere", "", true);
	V.e[1] = kt_fin_entry(
	    app, A.id, V.org, "general", "2026-01-06", 3,
	    (kt_fin_line[]){{V.a[0], 10000, 0, NULL}, {V.a[3], 0, 6000, NULL}, {V.a[1], 0, 4000, NULL}},
	    false);
	memos_and_post(V.e[1], "Sale", "@once", true);
	V.e[2] = kt_fin_entry(app, A.id, V.org, "general", "2026-01-07", 2,
	                      (kt_fin_line[]){{V.a[1], 100, 0, NULL}, {V.a[3], 0, 100, NULL}}, false);
}

static void
csv_books_free(void)
{
	free(V.org);
	for (int i = 0; i < 4; i++)
		free(V.a[i]);
	for (int i = 0; i < 3; i++)
		free(V.e[i]);
}

#define TB "/api/v1/organizations/%s/trial-balance?from=2026-01-01&to=2026-01-31"

static void
csv_trial_balance(void **state)
{
	(void)state;
	char *want = kt_strf("account_id,code,name,type,is_group,opening,debit,credit,closing\r\n"
	                     "%s,1000,\"Cash, \"\"petty\"\"\",asset,false,0.00,112.50,0.00,112.50\r\n"
	                     "%s,2000,'=1+2,asset,false,0.00,0.00,40.00,-40.00\r\n"
	                     "%s,3000,Zürich € fund,equity,false,0.00,0.00,12.50,-12.50\r\n"
	                     "%s,4000,\"'-minus\nsales\",income,false,0.00,0.00,60.00,-60.00\r\n",
	                     V.a[0], V.a[1], V.a[2], V.a[3]);
	kt_resp *r = get_as(A.viewer.token, "text/csv", TB, V.org);

	assert_csv(r, want);
	kt_resp_free(r);
	free(want);
}

#define LEDGER "/api/v1/accounts/%s/ledger?from=2026-01-01%s"

static void
csv_account_ledger(void **state)
{
	(void)state;
	char *e1 = kt_strf(
	    "%s,GEN-FY26-000001,2026-01-05,\"Say \"\"hi\"\"\nthere\",12.50,0.00,12.50\r\n", V.e[0]);
	char *e2 = kt_strf("%s,GEN-FY26-000002,2026-01-06,'@once,100.00,0.00,112.50\r\n", V.e[1]);
	const char *head = "entry_id,number,date,memo,debit,credit,balance\r\n";
	char *want = kt_strf("%s%s%s", head, e1, e2);
	kt_resp *r = get_as(A.viewer.token, "text/csv", LEDGER, V.a[0], "");

	assert_csv(r, want);
	assert_null(kt_header(r, "Keel-Next-Cursor"));
	kt_resp_free(r);
	free(want);
	/* one posting a page: the next cursor in Keel-Next-Cursor, as next_cursor in JSON */
	r = get_as(A.viewer.token, "text/csv", LEDGER, V.a[0], "&limit=1");
	want = kt_strf("%s%s", head, e1);
	assert_csv(r, want);
	free(want);
	char *next = kt_header(r, "Keel-Next-Cursor");
	kt_resp *j = get(A.viewer.token, LEDGER, V.a[0], "&limit=1");

	assert_non_null(next);
	assert_string_equal(next, kt_jstr(j->json, "next_cursor"));
	kt_resp_free(j);
	kt_resp_free(r);
	char *more = kt_strf("&limit=1&cursor=%s", next);

	r = get_as(A.viewer.token, "text/csv", LEDGER, V.a[0], more);
	want = kt_strf("%s%s", head, e2);
	assert_csv(r, want);
	free(want);
	free(more);
	free(next);
	next = kt_header(r, "Keel-Next-Cursor");
	kt_resp_free(r);
	more = kt_strf("&limit=1&cursor=%s", next);
	r = get_as(A.viewer.token, "text/csv", LEDGER, V.a[0], more);
	assert_csv(r, head);
	assert_null(kt_header(r, "Keel-Next-Cursor"));
	kt_resp_free(r);
	free(more);
	free(next);
	free(e1);
	free(e2);
}

/* A reference RFC 4180 reader: text into records of fields (at most 16 x 32), their count. */
typedef struct csv_doc {
	char *field[16][32];
	int nfields[16];
	int nrecords;
} csv_doc;

static void
csv_read(const char *p, size_t len, csv_doc *d)
{
	const char *end = p + len;
	char buf[4096];

	memset(d, 0, sizeof(*d));
	while (p < end) {
		size_t n = 0;

		if (*p == '"') {
			for (p++; p < end && !(*p == '"' && (p + 1 >= end || p[1] != '"')); p++) {
				p += *p == '"';
				buf[n++] = *p;
			}
			p++;
		} else {
			for (; p < end && *p != ',' && *p != '\r'; p++)
				buf[n++] = *p;
		}
		assert_true(d->nrecords < 16 && d->nfields[d->nrecords] < 32 && n < sizeof(buf));
		d->field[d->nrecords][d->nfields[d->nrecords]++] = strndup(buf, n);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		assert_true(end - p >= 2 && p[0] == '\r' && p[1] == '\n');
		p += 2;
		d->nrecords++;
	}
}

static void
csv_free(csv_doc *d)
{
	for (int r = 0; r < 16; r++)
		for (int f = 0; f < d->nfields[r]; f++)
			free(d->field[r][f]);
}

#define ENTRIES "/api/v1/organizations/%s/journal-entries?%s"

static const char *const entry_columns =
    "id,organization_id,journal,kind,number,date,memo,currency,status,reverses_id,"
    "reversed_by_id,posted_at,posted_by,version,created_at,updated_at,lines.id,"
    "lines.account_id,lines.debit,lines.credit,lines.currency,lines.rate,lines.functional_debit,"
    "lines.functional_credit,lines.division_id,lines.memo\r\n";

/* Fail unless record rec of d is line li of entry (its JSON, with lines) in every column. */
static void
check_line_record(const csv_doc *d, int rec, const json_t *entry, int li)
{
	const char *entry_fields[] = {
	    "id",       "organization_id", "journal", "kind",        "number",         "date",
	    "memo",     "currency",        "status",  "reverses_id", "reversed_by_id", "posted_at",
	    "posted_by"};
	const json_t *line = json_array_get(json_object_get(entry, "lines"), (size_t)li);
	const char *line_fields[] = {"id",
	                             "account_id",
	                             "debit",
	                             "credit",
	                             "currency",
	                             "rate",
	                             "functional_debit",
	                             "functional_credit",
	                             "division_id",
	                             "memo"};

	assert_int_equal(d->nfields[rec], 26);
	for (int f = 0; f < 13; f++) {
		const char *v = json_string_value(json_object_get(entry, entry_fields[f]));
		const char *want = v == NULL ? "" : v;

		if (f == 6 && (want[0] == '@' || want[0] == '='))
			continue; /* guarded: checked below */
		assert_string_equal(d->field[rec][f], want);
	}
	char version[24];

	snprintf(version, sizeof(version), "%lld",
	         (long long)json_integer_value(json_object_get(entry, "version")));
	assert_string_equal(d->field[rec][13], version);
	for (int f = 0; f < 10; f++) {
		const char *v = json_string_value(json_object_get(line, line_fields[f]));
		const char *want = v == NULL ? "" : v;

		if (f == 9 && want[0] == '@') {
			assert_true(d->field[rec][16 + f][0] == '\'');
			assert_string_equal(d->field[rec][16 + f] + 1, want);
			continue;
		}
		assert_string_equal(d->field[rec][16 + f], want);
	}
}

static void
csv_journal_entries(void **state)
{
	(void)state;
	kt_resp *r = get_as(A.viewer.token, "text/csv", ENTRIES, V.org, "");
	kt_resp *full[3];
	csv_doc d;

	kt_assert_status(r, 200);
	kt_assert_header(r, "Content-Type", CSV);
	assert_int_equal(strncmp(r->body, entry_columns, strlen(entry_columns)), 0);
	csv_read(r->body, r->len, &d);
	/* a record per line, in the list's order: E1 (2 lines), E2 (3), the draft E3 (2) */
	assert_int_equal(d.nrecords, 1 + 2 + 3 + 2);
	for (int e = 0, rec = 1; e < 3; e++) {
		full[e] = get(A.viewer.token, "/api/v1/journal-entries/%s", V.e[e]);
		kt_assert_status(full[e], 200);
		for (int li = 0; li < (e == 1 ? 3 : 2); li++)
			check_line_record(&d, rec++, full[e]->json, li);
	}
	assert_string_equal(d.field[1][6], "Say \"hi\"\nthere");
	assert_string_equal(d.field[3][25], "'@once");
	assert_string_equal(d.field[6][4], ""); /* the draft has no number */
	csv_free(&d);
	kt_resp_free(r);
	/* two entries a page: the next cursor in Keel-Next-Cursor; the last page without */
	r = get_as(A.viewer.token, "text/csv", ENTRIES, V.org, "limit=2");
	csv_read(r->body, r->len, &d);
	assert_int_equal(d.nrecords, 1 + 2 + 3);
	csv_free(&d);
	char *next = kt_header(r, "Keel-Next-Cursor");
	char *q = kt_strf("limit=2&cursor=%s", next);

	assert_non_null(next);
	kt_resp_free(r);
	r = get_as(A.viewer.token, "text/csv", ENTRIES, V.org, q);
	csv_read(r->body, r->len, &d);
	assert_int_equal(d.nrecords, 1 + 2);
	assert_string_equal(d.field[1][0], V.e[2]);
	assert_null(kt_header(r, "Keel-Next-Cursor"));
	csv_free(&d);
	kt_resp_free(r);
	free(q);
	free(next);
	for (int e = 0; e < 3; e++)
		kt_resp_free(full[e]);
}

/* The CSV of path (with query q), page after page of ?limit=limit: the header once. */
static char *
csv_pages(const char *path, const char *q, int limit)
{
	char *all = NULL, *cursor = NULL;

	for (;;) {
		char *query = cursor != NULL ? kt_strf("%s&limit=%d&cursor=%s", q, limit, cursor)
		                             : kt_strf("%s&limit=%d", q, limit);
		kt_resp *r = get_as(A.viewer.token, "text/csv", "%s?%s", path, query);

		kt_assert_status(r, 200);
		const char *body = r->body;

		if (all != NULL)
			body = strstr(body, "\r\n") + 2; /* the header again */
		char *joined = kt_strf("%s%s", all != NULL ? all : "", body);

		free(all);
		all = joined;
		free(cursor);
		cursor = kt_header(r, "Keel-Next-Cursor");
		kt_resp_free(r);
		free(query);
		if (cursor == NULL)
			return all;
	}
}

/* The number of CRLF-ended records of text (no field of it holds a line break). */
static int
csv_records(const char *text)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, "\r\n")) != NULL; p += 2)
		n++;
	return n;
}

/*
 * Without ?limit= or ?cursor=, the CSV of an account ledger and of the entry list is the whole
 * result, streamed (chunked, no Content-Length) a page at a time: byte for byte the pages
 * a client would fetch one by one, every posting or line once, the balance running across
 * the pages.
 */
static void
csv_streams_whole_results(void **state)
{
	(void)state;
	char *org = kt_org_make(&cl, A.owner.token, "BIG");

	kt_fin_ledger(app, A.id, org, "EUR");
	char *cash = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	char *sales = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
	kt_fin_line *l = calloc(900, sizeof(*l));

	free(kt_fin_year(app, A.id, org, "FY26", "2026-01-01", "2026-12-31", "month"));
	for (int e = 0; e < 3; e++) { /* three entries of 899 postings to cash each */
		for (int i = 0; i < 899; i++)
			l[i] = (kt_fin_line){cash, 100 + i, 0, NULL};
		l[899] = (kt_fin_line){sales, 0, 899 * 100 + 899 * 898 / 2, NULL};
		free(kt_fin_entry(app, A.id, org, "sales", "2026-02-01", 900, l, true));
	}
	for (int e = 0; e < 230; e++) {
		char date[11];

		snprintf(date, sizeof(date), "2026-03-%02d", 1 + e % 28);
		free(kt_fin_entry(app, A.id, org, "general", date, 2,
		                  (kt_fin_line[]){{cash, 1 + e, 0, NULL}, {sales, 0, 1 + e, NULL}}, true));
	}
	/* the ledger: 3 x 899 + 230 postings, more than two pages of a stream */
	char *path = kt_strf("/api/v1/accounts/%s/ledger", cash);
	kt_resp *r = get_as(A.viewer.token, "text/csv", "%s?from=2026-01-01", path);
	char *paged = csv_pages(path, "from=2026-01-01", 200);

	kt_assert_status(r, 200);
	kt_assert_header(r, "Content-Type", CSV);
	assert_non_null(strcasestr(r->headers, "Transfer-Encoding: chunked"));
	assert_null(kt_header(r, "Keel-Next-Cursor"));
	assert_int_equal(csv_records(r->body), 1 + 3 * 899 + 230);
	assert_string_equal(r->body, paged);
	/* the last balance: every posting counted once */
	long long total = 3LL * (899 * 100 + 899 * 898 / 2) + 230 * 231 / 2;
	char *last = kt_strf(",%lld.%02lld\r\n", total / 100, total % 100);

	assert_true(r->len > strlen(last));
	assert_string_equal(r->body + r->len - strlen(last), last);
	free(last);
	free(paged);
	kt_resp_free(r);
	free(path);
	/* the entries with their lines: 3 x 900 + 230 x 2 records, more than two pages */
	path = kt_strf("/api/v1/organizations/%s/journal-entries", org);
	r = get_as(A.viewer.token, "text/csv", "%s?status=posted", path);
	paged = csv_pages(path, "status=posted", 50);
	kt_assert_status(r, 200);
	assert_non_null(strcasestr(r->headers, "Transfer-Encoding: chunked"));
	assert_int_equal(csv_records(r->body), 1 + 3 * 900 + 230 * 2);
	assert_string_equal(r->body, paged);
	free(paged);
	kt_resp_free(r);
	free(path);
	free(l);
	free(cash);
	free(sales);
	free(org);
}

/* Which Accept gets CSV; problems stay problem+json; the same roles and tenants as JSON. */
static void
csv_negotiation(void **state)
{
	(void)state;
	struct {
		const char *accept;
		bool csv;
	} cases[] = {
	    {NULL, false},
	    {"application/json", false},
	    {"*/*", false},
	    {"text/html", false},
	    {"text/csv;q=0", false},
	    {"text/csv;q=0.5, application/json", false},
	    {"text/csv, application/json", false},
	    {"text/csv", true},
	    {"TEXT/CSV", true},
	    {"text/*", true},
	    {"text/csv, */*", true},
	    {"application/json;q=0.5, text/csv", true},
	    {"application/json; q=0.4, text/csv; q=0.9", true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = get_as(A.viewer.token, cases[i].accept, TB, V.org);

		kt_assert_status(r, 200);
		kt_assert_header(r, "Content-Type", cases[i].csv ? CSV : "application/json");
		kt_assert_header(r, "Vary", "Accept");
		kt_resp_free(r);
	}
	/* problems: bad query, another tenant's organization, no token */
	kt_resp *r =
	    get_as(A.viewer.token, "text/csv",
	           "/api/v1/organizations/%s/trial-balance?from=2026-02-30&to=2026-03-01", V.org);

	kt_assert_problem(r, 400, NULL, "from");
	kt_resp_free(r);
	r = get_as(B.owner.token, "text/csv", TB, V.org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = get_as(B.owner.token, "text/csv", LEDGER, V.a[0], "");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = get_as(B.owner.token, "text/csv", ENTRIES, V.org, "");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = get_as(NULL, "text/csv", TB, V.org);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
}

/* /openapi.json lists text/csv beside JSON on the three routes, and the next cursor's header. */
static void
openapi_lists_csv(void **state)
{
	(void)state;
	kt_resp *r = get(NULL, "/openapi.json");
	const json_t *paths = json_object_get(r->json, "paths");
	const char *csv[] = {"/api/v1/organizations/{id}/trial-balance", "/api/v1/accounts/{id}/ledger",
	                     "/api/v1/organizations/{id}/journal-entries"};

	kt_assert_status(r, 200);
	for (int i = 0; i < 3; i++) {
		const json_t *ok = json_object_get(
		    json_object_get(json_object_get(json_object_get(paths, csv[i]), "get"), "responses"),
		    "200");
		const json_t *content = json_object_get(ok, "content");

		assert_non_null(json_object_get(content, "application/json"));
		assert_non_null(json_object_get(content, "text/csv"));
		assert_true((json_object_get(json_object_get(ok, "headers"), "Keel-Next-Cursor") != NULL) ==
		            (i > 0));
	}
	const json_t *bs = json_object_get(
	    json_object_get(json_object_get(json_object_get(json_object_get(paths, "/api/v1/"
	                                                                           "organizations/{id}/"
	                                                                           "balance-sheet"),
	                                                    "get"),
	                                    "responses"),
	                    "200"),
	    "content");

	assert_non_null(json_object_get(bs, "application/json"));
	assert_null(json_object_get(bs, "text/csv"));
	kt_resp_free(r);
}

/* ---- plans ---- */

/*
 * Fail unless st's plan (EXPLAIN EXECUTE with p bound as text, custom and generic) reads
 * fin.postings only by index-only scans: postings_date_idx once, postings_closing_idx once.
 */
static void
check_plan(PGconn *c, const keel_stmt *st, const char *const *p)
{
	PGresult *res = PQprepare(c, st->name, st->sql, st->nparams, NULL);
	char *sql = kt_strf("EXPLAIN EXECUTE %s(", st->name);

	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	for (int i = 0; i < st->nparams; i++) {
		char *lit = PQescapeLiteral(c, p[i], strlen(p[i]));
		char *next = kt_strf("%s%s%s", sql, lit, i + 1 < st->nparams ? ", " : ")");

		PQfreemem(lit);
		free(sql);
		sql = next;
	}
	for (int mode = 0; mode < 2; mode++) {
		int date_idx = 0, closing_idx = 0, other = 0;

		kt_pg_exec(c, mode == 0 ? "SET LOCAL plan_cache_mode = force_custom_plan"
		                        : "SET LOCAL plan_cache_mode = force_generic_plan");
		res = PQexec(c, sql);
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		for (int r = 0; r < PQntuples(res); r++) {
			const char *line = PQgetvalue(res, r, 0);

			if (strstr(line, " on postings ") == NULL)
				continue;
			if (strstr(line, "Index Only Scan using postings_date_idx on postings") != NULL)
				date_idx++;
			else if (strstr(line, "Index Only Scan using postings_closing_idx on postings") != NULL)
				closing_idx++;
			else
				other++;
		}
		if (date_idx != 1 || closing_idx != 1 || other != 0) {
			for (int r = 0; r < PQntuples(res); r++)
				puts(PQgetvalue(res, r, 0));
			fail_msg("%s (%s plan): postings not read from the two indexes alone", st->name,
			         mode == 0 ? "custom" : "generic");
		}
		PQclear(res);
	}
	free(sql);
	sql = kt_strf("DEALLOCATE %s", st->name);
	kt_pg_exec(c, sql);
	free(sql);
}

/*
 * The statements as keel runs them (keel_app, the tenant's settings, row-level security)
 * read the postings by index-only scans: all of them from postings_date_idx, the closing
 * entries' from postings_closing_idx; never a posting's row.  Sequential and bitmap scans are
 * off: the books are small enough that reading them whole could be cheaper.
 */
static void
statements_read_postings_from_indexes(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();

	kt_pg_exec(pg, "VACUUM (ANALYZE) fin.postings");
	kt_pg_set_tenant(c, A.id);
	kt_pg_exec(c, "BEGIN");
	kt_pg_exec(c, "SET LOCAL enable_seqscan = off");
	kt_pg_exec(c, "SET LOCAL enable_bitmapscan = off");
	check_plan(c, &fin_statement_balance_sheet_stmt,
	           (const char *[]){R.org, "2026-03-31", "2", "EUR"});
	check_plan(c, &fin_statement_income_stmt,
	           (const char *[]){R.org, "2025-01-01", "2", "EUR", "2025-12-31"});
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
}

/* Last: keel stops on SIGTERM with exit status 0, its log free of sanitizer reports. */
static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

/* ---- the group ---- */

static int
setup(void **state)
{
	(void)state;
	if ((srv = kt_fixture_start("fin_statement", NULL, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "fin-stmt-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-stmt-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	books_make(&U, "OPEN", false);
	books_make(&C, "CLOSED", true);
	rbooks_make();
	csv_books_make();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	books_free(&U);
	books_free(&C);
	rbooks_free();
	csv_books_free();
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(balance_sheet_of_small_books),
	    cmocka_unit_test(income_statement_of_small_books),
	    cmocka_unit_test(closing_entries_are_left_out),
	    cmocka_unit_test(statements_from_snapshots_equal_from_postings),
	    cmocka_unit_test(balance_sheet_balances_on_random_books),
	    cmocka_unit_test(statement_refusals),
	    cmocka_unit_test(csv_trial_balance),
	    cmocka_unit_test(csv_account_ledger),
	    cmocka_unit_test(csv_journal_entries),
	    cmocka_unit_test(csv_streams_whole_results),
	    cmocka_unit_test(csv_negotiation),
	    cmocka_unit_test(openapi_lists_csv),
	    cmocka_unit_test(statements_read_postings_from_indexes),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_statement", tests, setup, teardown);
}
