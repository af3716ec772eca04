/*
 * The Finance reports against the real binary and PostgreSQL: the trial balance
 * (GET /api/v1/organizations/{id}/trial-balance) and the account ledger
 * (GET /api/v1/accounts/{id}/ledger).
 *
 * The books are made by SQL as keel_app through migration 0012's own functions (kt_fin.h):
 * a small ledger whose every figure is worked out by hand below, and a random one (fixed
 * seed) whose figures the test works out itself from the lines it posted.  Drafts must not
 * count, reversals must.  The plans of the reports' statements are checked as keel runs
 * them (keel_app, row-level security, the statement's own text).
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
#include "fin/fin_int.h"
#include "kt.h"
#include "kt_fin.h"

#define PASSWORD "correct horse battery staple"
#define TB       "/api/v1/organizations/%s/trial-balance?%s"
#define LG       "/api/v1/accounts/%s/ledger?%s"

static kt_keel *srv;
static kt_client cl;   /* requests to srv */
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app: the books */
static kt_tenant A, B; /* A: the books; B: the other tenant */

/* ---- HTTP ---- */

static kt_resp *get(const char *token, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static kt_resp *
get(const char *token, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_resp *r = kt_vcall(&cl, "GET", token, NULL, NULL, fmt, ap);

	va_end(ap);
	return r;
}

/* Fail unless r answered 200 with exactly want (compact JSON). */
static void
assert_body(kt_resp *r, const char *want)
{
	kt_assert_status(r, 200);
	kt_assert_compact_body(r);
	if (strcmp(r->body, want) != 0)
		fail_msg("body\n%s\nwanted\n%s", r->body, want);
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
app_sql(const char *tenant, const char *sql, const char *const *p)
{
	PQclear(kt_pg_tenant_query(app, tenant, sql, p));
}

/* A posted entry of two lines whose entry memo and first line's memo are given. */
static char *
entry_with_memos(const char *org, const char *date, const kt_fin_line *lines, const char *memo,
                 const char *line_memo)
{
	char *id = kt_fin_entry(app, A.id, org, "general", date, 2, lines, false);

	app_sql(A.id, "UPDATE fin.journal_entries SET memo = $2 WHERE id = $1 RETURNING id",
	        (const char *[]){id, memo, NULL});
	app_sql(
	    A.id,
	    "UPDATE fin.journal_lines SET memo = $2 WHERE entry_id = $1 AND line_no = 1 RETURNING id",
	    (const char *[]){id, line_memo, NULL});
	app_sql(A.id, "SELECT fin.post_entry($1)", (const char *[]){id, NULL});
	return id;
}

/* The reversal of entry on date (memo: the database's default).  Its id. */
static char *
reverse(const char *entry, const char *date)
{
	char *id = kt_pg_tenant_value(app, A.id, "SELECT audit.uuid_v7(clock_timestamp())::text", NULL);

	app_sql(A.id, "SELECT fin.reverse_entry($1, $2, $3, NULL)",
	        (const char *[]){entry, id, date, NULL});
	return id;
}

/*
 * The small ledger (EUR), worked by hand:
 *   1 Assets (group) > 11 Cash and bank (group) > 111 Cash, 112 Bank; 1 > 12 Receivables;
 *   3 Equity; 4 Income (group) > 41 Sales; 9 Expenses (never used).
 *   E1 2026-01-10 GEN-FY26-000001  111 Dr 1000.00 / 3 Cr        ("Capital", line "Opening cash")
 *   E2 2026-02-05 SAL-FY26-000001  12 Dr 500.00 / 41 Cr
 *   E5 2026-02-20 GEN-FY26-000002  111 Dr 50.00 / 41 Cr        ("Cash sale")
 *   E3 2026-03-15 CSH-FY26-000001  112 Dr 300.00 / 12 Cr
 *   E4 2026-03-20 draft            111 Dr 9.99 / 41 Cr          (never counts)
 *   R  2026-03-25 GEN-FY26-000003  reverses E5: 111 Cr 50.00 / 41 Dr
 */
typedef struct small_books {
	char *org;
	char *g1, *g11, *a111, *a112, *a12, *a3, *g4, *a41, *a9;
	char *e1, *e5, *rev;
} small_books;

static small_books S;

static void
small_books_make(void)
{
	S.org = kt_org_make(&cl, A.owner.token, "SMALL");
	kt_fin_ledger(app, A.id, S.org, "EUR");
	S.g1 = kt_fin_account(app, A.id, S.org, "1", "asset", NULL, true);
	S.g11 = kt_fin_account(app, A.id, S.org, "11", "asset", S.g1, true);
	S.a111 = kt_fin_account(app, A.id, S.org, "111", "asset", S.g11, false);
	S.a112 = kt_fin_account(app, A.id, S.org, "112", "asset", S.g11, false);
	S.a12 = kt_fin_account(app, A.id, S.org, "12", "asset", S.g1, false);
	S.a3 = kt_fin_account(app, A.id, S.org, "3", "equity", NULL, false);
	S.g4 = kt_fin_account(app, A.id, S.org, "4", "income", NULL, true);
	S.a41 = kt_fin_account(app, A.id, S.org, "41", "income", S.g4, false);
	S.a9 = kt_fin_account(app, A.id, S.org, "9", "expense", NULL, false);
	free(kt_fin_year(app, A.id, S.org, "FY26", "2026-01-01", "2026-12-31", "month"));

	S.e1 = entry_with_memos(S.org, "2026-01-10",
	                        (kt_fin_line[]){{S.a111, 100000, 0, NULL}, {S.a3, 0, 100000, NULL}},
	                        "Capital", "Opening cash");
	free(kt_fin_entry(app, A.id, S.org, "sales", "2026-02-05", 2,
	                  (kt_fin_line[]){{S.a12, 50000, 0, NULL}, {S.a41, 0, 50000, NULL}}, true));
	S.e5 = entry_with_memos(S.org, "2026-02-20",
	                        (kt_fin_line[]){{S.a111, 5000, 0, NULL}, {S.a41, 0, 5000, NULL}},
	                        "Cash sale", "");
	free(kt_fin_entry(app, A.id, S.org, "cash", "2026-03-15", 2,
	                  (kt_fin_line[]){{S.a112, 30000, 0, NULL}, {S.a12, 0, 30000, NULL}}, true));
	free(kt_fin_entry(app, A.id, S.org, "general", "2026-03-20", 2,
	                  (kt_fin_line[]){{S.a111, 999, 0, NULL}, {S.a41, 0, 999, NULL}}, false));
	S.rev = reverse(S.e5, "2026-03-25");
}

static void
small_books_free(void)
{
	char **all[] = {&S.org, &S.g1,  &S.g11, &S.a111, &S.a112, &S.a12, &S.a3,
	                &S.g4,  &S.a41, &S.a9,  &S.e1,   &S.e5,   &S.rev};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(*all[i]);
}

/* One trial balance row as keel renders it. */
static char *
tb_row(const char *id, const char *code, const char *type, bool group, const char *opening,
       const char *debit, const char *credit, const char *closing)
{
	return kt_strf("{\"account_id\":\"%s\",\"code\":\"%s\",\"name\":\"Account %s\",\"type\":\"%s\","
	               "\"is_group\":%s,\"opening\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\","
	               "\"closing\":\"%s\"}",
	               id, code, code, type, group ? "true" : "false", opening, debit, credit, closing);
}

static void
trial_balance_of_a_small_ledger(void **state)
{
	(void)state;
	char *rows[] = {
	    tb_row(S.g1, "1", "asset", true, "1550.00", "300.00", "350.00", "1500.00"),
	    tb_row(S.g11, "11", "asset", true, "1050.00", "300.00", "50.00", "1300.00"),
	    tb_row(S.a111, "111", "asset", false, "1050.00", "0.00", "50.00", "1000.00"),
	    tb_row(S.a112, "112", "asset", false, "0.00", "300.00", "0.00", "300.00"),
	    tb_row(S.a12, "12", "asset", false, "500.00", "0.00", "300.00", "200.00"),
	    tb_row(S.a3, "3", "equity", false, "-1000.00", "0.00", "0.00", "-1000.00"),
	    tb_row(S.g4, "4", "income", true, "-550.00", "50.00", "0.00", "-500.00"),
	    tb_row(S.a41, "41", "income", false, "-550.00", "50.00", "0.00", "-500.00"),
	};
	char *want = kt_strf(
	    "{\"currency\":\"EUR\",\"from\":\"2026-03-01\",\"to\":\"2026-03-31\",\"accounts\":[%s,%s,"
	    "%s,%s,%s,%s,%s,%s],\"totals\":{\"opening\":\"0.00\",\"debit\":\"350.00\",\"credit\":"
	    "\"350.00\",\"closing\":\"0.00\"}}",
	    rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7]);
	kt_resp *r = get(A.viewer.token,
	                 "/api/v1/organizations/%s/trial-balance?from=2026-03-01"
	                 "&to=2026-03-31",
	                 S.org);

	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		free(rows[i]);
}

/* A range before any posting lists nothing; one day counts that day's postings only. */
static void
trial_balance_ranges(void **state)
{
	(void)state;
	kt_resp *r = get(A.viewer.token,
	                 "/api/v1/organizations/%s/trial-balance?from=2025-01-01&to=2025-12-31", S.org);

	assert_body(r, "{\"currency\":\"EUR\",\"from\":\"2025-01-01\",\"to\":\"2025-12-31\","
	               "\"accounts\":[],\"totals\":{\"opening\":\"0.00\",\"debit\":\"0.00\","
	               "\"credit\":\"0.00\",\"closing\":\"0.00\"}}");
	kt_resp_free(r);
	/* 2026-03-20 holds only the draft: every account with a balance, no movement */
	r = get(A.viewer.token, "/api/v1/organizations/%s/trial-balance?from=2026-03-20&to=2026-03-20",
	        S.org);
	kt_assert_status(r, 200);
	json_t *accounts = json_object_get(r->json, "accounts");
	json_t *totals = json_object_get(r->json, "totals");

	assert_int_equal(json_array_size(accounts), 8);
	for (size_t i = 0; i < json_array_size(accounts); i++) {
		json_t *a = json_array_get(accounts, i);

		assert_int_equal(amount(a, "debit") + amount(a, "credit"), 0);
		assert_int_equal(amount(a, "opening"), amount(a, "closing"));
	}
	assert_string_equal(kt_jstr(totals, "debit"), "0.00");
	assert_string_equal(kt_jstr(json_array_get(accounts, 2), "closing"), "1050.00"); /* 111 */
	kt_resp_free(r);
}

/* ---- the account ledger of the small books ---- */

static char *
ledger_item(const char *entry, const char *number, const char *date, const char *memo,
            const char *debit, const char *credit, const char *balance)
{
	return kt_strf("{\"entry_id\":\"%s\",\"number\":\"%s\",\"date\":\"%s\",\"memo\":\"%s\","
	               "\"debit\":\"%s\",\"credit\":\"%s\",\"balance\":\"%s\"}",
	               entry, number, date, memo, debit, credit, balance);
}

static void
account_ledger_of_a_small_ledger(void **state)
{
	(void)state;
	char *e1 = ledger_item(S.e1, "GEN-FY26-000001", "2026-01-10", "Opening cash", "1000.00", "0.00",
	                       "1000.00");
	char *e5 =
	    ledger_item(S.e5, "GEN-FY26-000002", "2026-02-20", "Cash sale", "50.00", "0.00", "1050.00");
	char *rv = ledger_item(S.rev, "GEN-FY26-000003", "2026-03-25", "Reversal of GEN-FY26-000002",
	                       "0.00", "50.00", "1000.00");
	char *want =
	    kt_strf("{\"opening\":\"0.00\",\"data\":[%s,%s,%s],\"next_cursor\":null}", e1, e5, rv);
	kt_resp *r = get(A.viewer.token, "/api/v1/accounts/%s/ledger", S.a111);

	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	/* from mid-year: the opening is the balance before it, the balance runs from it */
	want = kt_strf("{\"opening\":\"1050.00\",\"data\":[%s],\"next_cursor\":null}", rv);
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?from=2026-03-01", S.a111);
	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	want = kt_strf("{\"opening\":\"0.00\",\"data\":[%s,%s],\"next_cursor\":null}", e1, e5);
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?to=2026-02-28", S.a111);
	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	/* the entry's memo when the line has none; an unused account: nothing */
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?from=2026-01-01&to=2026-12-31", S.a3);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "data"), 0), "memo"),
	                    "Capital");
	kt_resp_free(r);
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger", S.a9);
	assert_body(r, "{\"opening\":\"0.00\",\"data\":[],\"next_cursor\":null}");
	kt_resp_free(r);
	/* a full page has a cursor; the page after it the rest */
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?limit=2", S.a111);
	kt_assert_status(r, 200);
	char *next = strdup(kt_jstr(r->json, "next_cursor"));

	kt_resp_free(r);
	want = kt_strf("{\"opening\":\"0.00\",\"data\":[%s],\"next_cursor\":null}", rv);
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?limit=2&cursor=%s", S.a111, next);
	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	free(next);
	free(e1);
	free(e5);
	free(rv);
}

/* ---- the random books: a property ---- */

#define R_LEAVES  10
#define R_GROUPS  4
#define R_ENTRIES 120
#define R_DAYS    186 /* six months of 31 model days: month * 31 + day - 1 */
#define R_DIVS    3   /* none, D1, D2 */

/* What the test posted, per leaf, day and division: debits and credits in minor units. */
typedef struct rbooks {
	char *org, *div[R_DIVS];
	char *group[R_GROUPS]; /* G1 > G11 > leaves 0..2; G1 > leaf 3; G2 > leaves 4..6, G3 (empty) */
	char *leaf[R_LEAVES];
	int leaf_parent[R_LEAVES]; /* index into group, -1: none */
	int64_t debit[R_LEAVES][R_DAYS][R_DIVS], credit[R_LEAVES][R_DAYS][R_DIVS];
	int busiest; /* the leaf with most postings */
	int postings[R_LEAVES];
} rbooks;

static rbooks R;

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const groups_parent_code[R_GROUPS][2] = {
    {"G1", NULL}, {"G11", "G1"}, {"G2", NULL}, {"G3", NULL}};

static void
rbooks_accounts(void)
{
	for (int g = 0; g < R_GROUPS; g++) {
		const char *parent = g == 1 ? R.group[0] : NULL;

		R.group[g] =
		    kt_fin_account(app, A.id, R.org, groups_parent_code[g][0], "asset", parent, true);
	}
	for (int i = 0; i < R_LEAVES; i++) {
		char code[16];

		R.leaf_parent[i] = i < 3 ? 1 : i == 3 ? 0 : i < 7 ? 2 : -1;
		snprintf(code, sizeof(code), "L%02d", i);
		R.leaf[i] = kt_fin_account(app, A.id, R.org, code, "asset",
		                           R.leaf_parent[i] >= 0 ? R.group[R.leaf_parent[i]] : NULL, false);
	}
}

/* Record a line of day d in the model. */
static void
model_add(const kt_fin_line *l, int leaf, int day, int div)
{
	R.debit[leaf][day][div] += l->debit;
	R.credit[leaf][day][div] += l->credit;
	R.postings[leaf]++;
}

/* One random balanced entry of 2..5 lines; posted unless a draft; sometimes reversed. */
static void
rbooks_entry(void)
{
	static const char *const journals[] = {"general", "sales", "cash"};
	kt_fin_line lines[5];
	int leaf[5], div[5], n = 1 + (int)rnd(3);
	int month = (int)rnd(6), dom = 1 + (int)rnd(28), day = month * 31 + dom - 1;
	int64_t total = 0;
	char date[32];

	for (int i = 0; i < 5; i++) {
		leaf[i] = (int)rnd(R_LEAVES);
		div[i] = (int)rnd(R_DIVS);
		lines[i] = (kt_fin_line){R.leaf[leaf[i]], 0, 0, div[i] > 0 ? R.div[div[i]] : NULL};
	}
	for (int i = 0; i < n; i++)
		total += lines[i].debit = 1 + rnd(100000);
	if (total >= 2 && rnd(2) == 0) { /* two credit lines */
		lines[n].credit = 1 + (int64_t)rnd((unsigned)total - 1);
		lines[n + 1].credit = total - lines[n].credit;
		n += 2;
	} else {
		lines[n++].credit = total;
	}
	snprintf(date, sizeof(date), "2026-%02d-%02d", month + 1, dom);
	bool post = rnd(10) != 0;
	char *id = kt_fin_entry(app, A.id, R.org, journals[rnd(3)], date, n, lines, post);

	for (int i = 0; post && i < n; i++)
		model_add(&lines[i], leaf[i], day, div[i]);
	if (post && rnd(8) == 0) {
		free(reverse(id, "2026-06-30"));
		for (int i = 0; i < n; i++) {
			kt_fin_line sw = {lines[i].account_id, lines[i].credit, lines[i].debit, NULL};

			model_add(&sw, leaf[i], R_DAYS - 2, div[i]);
		}
	}
	free(id);
}

static void
rbooks_make(void)
{
	R.org = kt_org_make(&cl, A.owner.token, "RANDOM");
	R.div[0] = NULL;
	R.div[1] = kt_div_make(&cl, A.owner.token, R.org, NULL, "D1");
	R.div[2] = kt_div_make(&cl, A.owner.token, R.org, NULL, "D2");
	kt_fin_ledger(app, A.id, R.org, "EUR");
	rbooks_accounts();
	free(kt_fin_year(app, A.id, R.org, "FY26", "2026-01-01", "2026-12-31", "month"));
	for (int e = 0; e < R_ENTRIES; e++)
		rbooks_entry();
	R.busiest = 0;
	for (int i = 1; i < R_LEAVES; i++)
		if (R.postings[i] > R.postings[R.busiest])
			R.busiest = i;
}

static void
rbooks_free(void)
{
	free(R.org);
	for (int i = 0; i < R_DIVS; i++)
		free(R.div[i]);
	for (int g = 0; g < R_GROUPS; g++)
		free(R.group[g]);
	for (int i = 0; i < R_LEAVES; i++)
		free(R.leaf[i]);
}

/* The model's figures of leaf over days [from, to] (model days) of division div (-1: all). */
typedef struct figures {
	int64_t opening, debit, credit;
	bool any; /* a posting up to to */
} figures;

static figures
model_leaf(int leaf, int from, int to, int div)
{
	figures f = {0};

	for (int d = 0; d <= to; d++)
		for (int v = 0; v < R_DIVS; v++) {
			if (div >= 0 && v != div)
				continue;
			int64_t dr = R.debit[leaf][d][v], cr = R.credit[leaf][d][v];

			f.any = f.any || dr != 0 || cr != 0;
			if (d < from)
				f.opening += dr - cr;
			else {
				f.debit += dr;
				f.credit += cr;
			}
		}
	return f;
}

/* The trial balance's row of account id, or NULL. */
static json_t *
tb_find(json_t *tb, const char *id)
{
	json_t *accounts = json_object_get(tb, "accounts");

	for (size_t i = 0; i < json_array_size(accounts); i++)
		if (strcmp(kt_jstr(json_array_get(accounts, i), "account_id"), id) == 0)
			return json_array_get(accounts, i);
	return NULL;
}

static void
assert_figures(json_t *row, figures f, const char *what)
{
	bool shown = f.opening != 0 || f.debit != 0 || f.credit != 0;

	if (!shown) {
		if (row != NULL)
			fail_msg("%s: listed without a balance or a movement", what);
		return;
	}
	if (row == NULL)
		fail_msg("%s: not listed", what);
	if (amount(row, "opening") != f.opening || amount(row, "debit") != f.debit ||
	    amount(row, "credit") != f.credit ||
	    amount(row, "closing") != f.opening + f.debit - f.credit)
		fail_msg("%s: %s %s %s %s, wanted %lld %lld %lld", what, kt_jstr(row, "opening"),
		         kt_jstr(row, "debit"), kt_jstr(row, "credit"), kt_jstr(row, "closing"),
		         (long long)f.opening, (long long)f.debit, (long long)f.credit);
}

static void
figures_add(figures *sum, figures f)
{
	sum->opening += f.opening;
	sum->debit += f.debit;
	sum->credit += f.credit;
}

/* Whether leaf is under group g (at any depth). */
static bool
under(int leaf, int g)
{
	for (int p = R.leaf_parent[leaf]; p >= 0; p = p == 1 ? 0 : -1)
		if (p == g)
			return true;
	return false;
}

/* Check tb (of division div, -1: all) against the model: every leaf, every group, totals. */
static void
check_tb(json_t *tb, int from, int to, int div)
{
	figures total = {0};
	char what[64];

	for (int i = 0; i < R_LEAVES; i++) {
		figures f = model_leaf(i, from, to, div);

		snprintf(what, sizeof(what), "division %d, leaf L%02d", div, i);
		assert_figures(tb_find(tb, R.leaf[i]), f, what);
		figures_add(&total, f);
	}
	for (int g = 0; g < R_GROUPS; g++) {
		figures sum = {0};

		for (int i = 0; i < R_LEAVES; i++)
			if (under(i, g))
				figures_add(&sum, model_leaf(i, from, to, div));
		snprintf(what, sizeof(what), "division %d, group %s", div, groups_parent_code[g][0]);
		json_t *row = tb_find(tb, R.group[g]);

		/* a group is listed when one of its leaves is */
		bool leaf_shown = false;

		for (int i = 0; i < R_LEAVES; i++) {
			figures f = model_leaf(i, from, to, div);

			leaf_shown = leaf_shown || (under(i, g) && (f.opening || f.debit || f.credit));
		}
		if (leaf_shown && row == NULL)
			fail_msg("%s: not listed", what);
		if (leaf_shown)
			assert_true(amount(row, "opening") == sum.opening &&
			            amount(row, "debit") == sum.debit && amount(row, "credit") == sum.credit);
		else
			assert_null(row);
	}
	json_t *t = json_object_get(tb, "totals");

	assert_true(amount(t, "opening") == total.opening && amount(t, "debit") == total.debit &&
	            amount(t, "credit") == total.credit &&
	            amount(t, "closing") == total.opening + total.debit - total.credit);
	if (div < 0) {
		assert_true(amount(t, "debit") == amount(t, "credit"));
		assert_string_equal(kt_jstr(t, "closing"), "0.00");
		assert_string_equal(kt_jstr(t, "opening"), "0.00");
	}
}

static kt_resp *
tb_get(const char *org, const char *from, const char *to, const char *div)
{
	return get(A.viewer.token, "/api/v1/organizations/%s/trial-balance?from=%s&to=%s%s%s", org,
	           from, to, div != NULL ? "&division_id=" : "", div != NULL ? div : "");
}

/* Each group's row equals the sum of its direct children's rows in tb. */
static void
check_rollup_from_children(json_t *tb)
{
	json_t *accounts = json_object_get(tb, "accounts");

	for (int g = 0; g < R_GROUPS; g++) {
		json_t *row = tb_find(tb, R.group[g]);
		int64_t sums[4] = {0};
		const char *keys[] = {"opening", "debit", "credit", "closing"};

		if (row == NULL)
			continue;
		for (size_t i = 0; i < json_array_size(accounts); i++) {
			json_t *child = json_array_get(accounts, i);
			bool is_child = false;

			for (int l = 0; l < R_LEAVES; l++)
				is_child = is_child || (R.leaf_parent[l] == g &&
				                        strcmp(kt_jstr(child, "account_id"), R.leaf[l]) == 0);
			is_child =
			    is_child || (g == 0 && strcmp(kt_jstr(child, "account_id"), R.group[1]) == 0);
			for (int k = 0; is_child && k < 4; k++)
				sums[k] += amount(child, keys[k]);
		}
		for (int k = 0; k < 4; k++)
			assert_true(amount(row, keys[k]) == sums[k]);
	}
}

static void
trial_balance_property_on_random_books(void **state)
{
	(void)state;
	/* 2026-03-01 .. 2026-05-31 in model days */
	int from = 2 * 31, to = 4 * 31 + 30;
	kt_resp *all = tb_get(R.org, "2026-03-01", "2026-05-31", NULL);

	kt_assert_status(all, 200);
	check_tb(all->json, from, to, -1);
	check_rollup_from_children(all->json);
	/* the divisions' reports and the postings without one add up to the whole */
	kt_resp *divs[R_DIVS] = {NULL};

	for (int v = 1; v < R_DIVS; v++) {
		divs[v] = tb_get(R.org, "2026-03-01", "2026-05-31", R.div[v]);
		kt_assert_status(divs[v], 200);
		check_tb(divs[v]->json, from, to, v);
		check_rollup_from_children(divs[v]->json);
	}
	for (int i = 0; i < R_LEAVES; i++) {
		figures sum = model_leaf(i, from, to, 0);

		for (int v = 1; v < R_DIVS; v++) {
			json_t *row = tb_find(divs[v]->json, R.leaf[i]);

			if (row != NULL)
				figures_add(&sum, (figures){amount(row, "opening"), amount(row, "debit"),
				                            amount(row, "credit"), true});
		}
		json_t *row = tb_find(all->json, R.leaf[i]);

		if (row == NULL)
			assert_true(sum.opening == 0 && sum.debit == 0 && sum.credit == 0);
		else
			assert_true(amount(row, "opening") == sum.opening &&
			            amount(row, "debit") == sum.debit && amount(row, "credit") == sum.credit);
	}
	for (int v = 1; v < R_DIVS; v++)
		kt_resp_free(divs[v]);
	kt_resp_free(all);
	/* the whole year */
	all = tb_get(R.org, "2026-01-01", "2026-12-31", NULL);
	kt_assert_status(all, 200);
	check_tb(all->json, 0, R_DAYS - 1, -1);
	kt_resp_free(all);
}

/* Every page of the busiest leaf's ledger from..to with limit, concatenated; *opening its. */
static json_t *
ledger_pages(const char *query, int limit, const char **opening_out, int *pages)
{
	json_t *all = json_array();
	char *cursor = NULL;

	*pages = 0;
	do {
		kt_resp *r =
		    get(A.viewer.token, "/api/v1/accounts/%s/ledger?%s&limit=%d%s%s", R.leaf[R.busiest],
		        query, limit, cursor ? "&cursor=" : "", cursor ? cursor : "");

		kt_assert_status(r, 200);
		free(cursor);
		cursor =
		    kt_json_str(r->json, "next_cursor") ? strdup(kt_jstr(r->json, "next_cursor")) : NULL;
		if (*pages == 0)
			*opening_out = strdup(kt_jstr(r->json, "opening"));
		else
			assert_string_equal(kt_jstr(r->json, "opening"), *opening_out);
		json_array_extend(all, json_object_get(r->json, "data"));
		assert_true(json_array_size(json_object_get(r->json, "data")) <= (size_t)limit);
		(*pages)++;
		kt_resp_free(r);
	} while (cursor != NULL && *pages < 1000);
	return all;
}

static void
account_ledger_pages_equal_one_page(void **state)
{
	(void)state;
	const char *opening7, *opening200;
	int pages7, pages200;
	json_t *small = ledger_pages("from=2026-02-01&to=2026-06-30", 7, &opening7, &pages7);
	json_t *big = ledger_pages("from=2026-02-01&to=2026-06-30", 200, &opening200, &pages200);
	figures f = model_leaf(R.busiest, 31, R_DAYS - 1, -1);

	assert_true(pages7 > 3);
	assert_int_equal(pages200, 1);
	assert_true(json_equal(small, big));
	assert_string_equal(opening7, opening200);
	/* the running balance, from the opening; in date and number order */
	int64_t balance = f.opening;
	int64_t opening = 0;

	assert_true(keel_money_parse(opening7, 2, true, &opening));
	assert_int_equal(opening, f.opening);
	for (size_t i = 0; i < json_array_size(big); i++) {
		json_t *it = json_array_get(big, i);

		balance += amount(it, "debit") - amount(it, "credit");
		assert_int_equal(amount(it, "balance"), balance);
		if (i > 0) {
			json_t *prev = json_array_get(big, i - 1);
			int c = strcmp(kt_jstr(prev, "date"), kt_jstr(it, "date"));

			assert_true(c < 0 ||
			            (c == 0 && strcmp(kt_jstr(prev, "number"), kt_jstr(it, "number")) <= 0));
		}
	}
	assert_int_equal(balance, f.opening + f.debit - f.credit);
	/* the closing is the trial balance's */
	kt_resp *tb = tb_get(R.org, "2026-02-01", "2026-06-30", NULL);

	assert_int_equal(amount(tb_find(tb->json, R.leaf[R.busiest]), "closing"), balance);
	kt_resp_free(tb);
	json_decref(small);
	json_decref(big);
	free((char *)opening7);
	free((char *)opening200);
}

/* Amounts in the ledger's currency's minor units: none for JPY. */
static void
reports_in_a_currency_without_minor_units(void **state)
{
	(void)state;
	char *org = kt_org_make(&cl, A.owner.token, "YEN");

	kt_fin_ledger(app, A.id, org, "JPY");
	char *cash = kt_fin_account(app, A.id, org, "100", "asset", NULL, false);
	char *equity = kt_fin_account(app, A.id, org, "300", "equity", NULL, false);

	free(kt_fin_year(app, A.id, org, "FY26", "2026-04-01", "2027-03-31", "quarter"));
	char *e = kt_fin_entry(app, A.id, org, "general", "2026-04-02", 2,
	                       (kt_fin_line[]){{cash, 1200, 0, NULL}, {equity, 0, 1200, NULL}}, true);
	kt_resp *r = get(A.viewer.token, TB, org, "from=2026-04-02&to=2026-04-02");
	char *rows[] = {tb_row(cash, "100", "asset", false, "0", "1200", "0", "1200"),
	                tb_row(equity, "300", "equity", false, "0", "0", "1200", "-1200")};
	char *want = kt_strf(
	    "{\"currency\":\"JPY\",\"from\":\"2026-04-02\",\"to\":\"2026-04-02\",\"accounts\":[%s,%s],"
	    "\"totals\":{\"opening\":\"0\",\"debit\":\"1200\",\"credit\":\"1200\",\"closing\":\"0\"}}",
	    rows[0], rows[1]);

	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	/* an account whose postings net to zero before from, with none after: not listed */
	char *other = kt_fin_account(app, A.id, org, "900", "asset", NULL, false);
	char *e2 = kt_fin_entry(app, A.id, org, "general", "2026-04-05", 2,
	                        (kt_fin_line[]){{other, 500, 0, NULL}, {equity, 0, 500, NULL}}, true);

	free(reverse(e2, "2026-04-06"));
	r = get(A.viewer.token, TB, org, "from=2026-04-07&to=2026-04-07");
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "accounts")), 2);
	assert_null(tb_find(r->json, other));
	kt_resp_free(r);
	free(other);
	free(e2);
	want = kt_strf("{\"opening\":\"1200\",\"data\":[],\"next_cursor\":null}");
	r = get(A.viewer.token, LG, cash, "from=2026-04-03");
	assert_body(r, want);
	kt_resp_free(r);
	free(want);
	free(rows[0]);
	free(rows[1]);
	free(e);
	free(cash);
	free(equity);
	free(org);
}

/* ---- refusals ---- */

static void
trial_balance_refusals(void **state)
{
	(void)state;
	struct {
		const char *query;
		long status;
		const char *field;
	} bad[] = {
	    {"to=2026-03-31", 400, "from"},
	    {"from=2026-03-01", 400, "to"},
	    {"from=2026-02-30&to=2026-03-31", 400, "from"},
	    {"from=2026-3-1&to=2026-03-31", 400, "from"},
	    {"from=2026-03-01&to=2026-03-31T00:00:00Z", 400, "to"},
	    {"from=2026-04-01&to=2026-03-31", 400, "from"},
	    {"from=2026-03-01&to=2026-03-31&division_id=nope", 400, "division_id"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r = get(A.viewer.token, TB, S.org, bad[i].query);

		kt_assert_problem(r, bad[i].status, NULL, bad[i].field);
		kt_resp_free(r);
	}
	/* a division of another organization, or no division at all: 422 */
	const char *divs[] = {R.div[1], "01900000-0000-7000-8000-000000000000"};

	for (size_t i = 0; i < 2; i++) {
		kt_resp *r = get(A.viewer.token,
		                 "/api/v1/organizations/%s/trial-balance?from=2026-03-01"
		                 "&to=2026-03-31&division_id=%s",
		                 S.org, divs[i]);

		kt_assert_problem(r, 422, NULL, "division_id");
		kt_resp_free(r);
	}
	/* another tenant's organization, no UUID, nobody's: 404; no ledger: 409 */
	char *b_org = kt_org_make(&cl, B.owner.token, "BORG");
	char *bare = kt_org_make(&cl, A.owner.token, "BARE");
	const char *ids[] = {b_org, "not-a-uuid", "01900000-0000-7000-8000-000000000000"};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r = get(A.viewer.token, TB, ids[i], "from=2026-03-01&to=2026-03-31");

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = get(A.viewer.token, TB, bare, "from=2026-03-01&to=2026-03-31");

	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	/* every role reads; nobody without a token */
	const char *tokens[] = {A.owner.token, A.admin.token, A.member.token, A.viewer.token};

	for (size_t i = 0; i < 4; i++) {
		r = get(tokens[i], TB, S.org, "from=2026-03-01&to=2026-03-31");
		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	r = get(NULL, TB, S.org, "from=2026-03-01&to=2026-03-31");
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	free(b_org);
	free(bare);
}

static void
account_ledger_refusals(void **state)
{
	(void)state;
	/* ... cursors: not base64url; kind 0x10 and 2 bytes; our kind (0x4c) and 2 bytes */
	const char *bad[] = {"from=2026-02-30", "to=20260301", "from=2026-04-01&to=2026-03-31",
	                     "limit=0",         "limit=201",   "cursor=!!",
	                     "cursor=EAAA",     "cursor=TAAA"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r = get(A.viewer.token, LG, S.a111, bad[i]);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	/* a cursor of another list (organizations, in id order) */
	kt_resp *r = get(A.viewer.token, "/api/v1/organizations?limit=1");

	kt_assert_status(r, 200);
	char *other = strdup(kt_jstr(r->json, "next_cursor"));

	kt_resp_free(r);
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?cursor=%s", S.a111, other);
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	free(other);
	/* a cursor of ours, cut short by one byte */
	r = get(A.viewer.token, LG, S.a111, "limit=1");
	kt_assert_status(r, 200);
	char *ours = strdup(kt_jstr(r->json, "next_cursor"));

	kt_resp_free(r);
	ours[strlen(ours) - 2] = '\0';
	r = get(A.viewer.token, "/api/v1/accounts/%s/ledger?cursor=%s", S.a111, ours);
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	free(ours);
	/* a group account: 422; another tenant's account, no UUID, nobody's: 404 */
	r = get(A.viewer.token, LG, S.g11, "");
	kt_assert_problem(r, 422, NULL, NULL);
	kt_resp_free(r);
	PGconn *b_app = kt_pg_app();
	char *b_org = kt_org_make(&cl, B.owner.token, "BLEDGER");

	kt_fin_ledger(b_app, B.id, b_org, "EUR");
	char *b_acct = kt_fin_account(b_app, B.id, b_org, "100", "asset", NULL, false);
	const char *ids[] = {b_acct, "not-a-uuid", "01900000-0000-7000-8000-000000000000"};

	for (size_t i = 0; i < 3; i++) {
		r = get(A.viewer.token, LG, ids[i], "");
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	r = get(B.owner.token, LG, b_acct, "");
	assert_body(r, "{\"opening\":\"0.00\",\"data\":[],\"next_cursor\":null}");
	kt_resp_free(r);
	r = get(NULL, LG, S.a111, "");
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	PQfinish(b_app);
	free(b_org);
	free(b_acct);
}

/* ---- plans ---- */

/* The plan's text of EXPLAIN EXECUTE name(p...) on c, as keel binds p (text literals). */
static char *
plan_of(PGconn *c, const keel_stmt *st, const char *const *p)
{
	char *sql = kt_strf("EXPLAIN EXECUTE %s(", st->name);

	for (int i = 0; i < st->nparams; i++) {
		char *lit = p[i] != NULL ? PQescapeLiteral(c, p[i], strlen(p[i])) : NULL;
		char *next =
		    kt_strf("%s%s%s", sql, lit != NULL ? lit : "NULL", i + 1 < st->nparams ? ", " : ")");

		PQfreemem(lit);
		free(sql);
		sql = next;
	}
	PGresult *res = PQexec(c, sql);
	size_t len = 0;
	char *plan = calloc(1, 1);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	for (int i = 0; i < PQntuples(res); i++) {
		plan = realloc(plan, len + strlen(PQgetvalue(res, i, 0)) + 2);
		len += (size_t)sprintf(plan + len, "%s\n", PQgetvalue(res, i, 0));
	}
	PQclear(res);
	free(sql);
	return plan;
}

/*
 * Whether plan reads fin.postings only by an index-only scan of index, whose index condition
 * holds the tenant, the organization and every one of conds; and no other scan of postings.
 */
static bool
postings_read_by(const char *plan, const char *index, const char *const *conds)
{
	char *only = kt_strf("Index Only Scan using %s on postings", index);
	int scans = 0;
	bool ok = true;

	for (const char *l = plan; *l != '\0'; l = strchr(l, '\n') + 1) {
		char *line = strndup(l, strcspn(l, "\n"));

		if (strstr(line, " on postings ") != NULL) {
			scans++;
			ok = ok && strstr(line, only) != NULL;
			/* the next line is its index condition */
			const char *next = strchr(l, '\n') + 1;
			char *cond = strndup(next, strcspn(next, "\n"));

			ok = ok && strstr(cond, "Index Cond: ((tenant_id = ") != NULL &&
			     strstr(cond, "(organization_id = ") != NULL;
			for (const char *const *c = conds; *c != NULL; c++)
				ok = ok && strstr(cond, *c) != NULL;
			free(cond);
		}
		free(line);
	}
	free(only);
	return ok && scans == 1;
}

static void
check_plan(PGconn *c, const keel_stmt *st, const char *const *p, const char *index,
           const char *const *conds)
{
	PGresult *res = PQprepare(c, st->name, st->sql, st->nparams, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("prepare %s: %s", st->name, PQerrorMessage(c));
	PQclear(res);
	for (int i = 0; i < 2; i++) {
		kt_pg_exec(c, i == 0 ? "SET LOCAL plan_cache_mode = force_custom_plan"
		                     : "SET LOCAL plan_cache_mode = force_generic_plan");
		char *plan = plan_of(c, st, p);

		if (!postings_read_by(plan, index, conds)) {
			fputs(plan, stdout);
			fail_msg("%s (%s plan): postings not read from %s alone (plan above)", st->name,
			         i == 0 ? "custom" : "generic", index);
		}
		free(plan);
	}
	char *sql = kt_strf("DEALLOCATE %s", st->name);

	kt_pg_exec(c, sql);
	free(sql);
}

/*
 * The reports' statements, as keel runs them (keel_app, the tenant's settings, row-level
 * security): each reads the postings from its index alone (an index-only scan), the tenant
 * and the organization leading its index condition; the ledger's page from its keyset
 * position.  Sequential and bitmap scans are off: the test's books are small enough that
 * reading them whole could be cheaper, which is not what this looks for.
 */
static void
report_statements_read_postings_from_their_indexes(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();

	kt_pg_exec(pg, "VACUUM (ANALYZE) fin.postings");
	kt_pg_exec(c, "BEGIN");
	PGresult *set = PQexecParams(c, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
	                             (const char *[]){A.id}, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(set), PGRES_TUPLES_OK);
	PQclear(set);
	kt_pg_exec(c, "SET LOCAL enable_seqscan = off");
	kt_pg_exec(c, "SET LOCAL enable_bitmapscan = off");
	check_plan(c, &fin_report_trial_balance_stmt,
	           (const char *[]){R.org, "2026-03-01", "2026-05-31", NULL, "EUR", "2"},
	           "postings_date_idx", (const char *[]){"(date <= ", NULL});
	check_plan(c, &fin_report_trial_balance_stmt,
	           (const char *[]){R.org, "2026-03-01", "2026-05-31", R.div[1], "EUR", "2"},
	           "postings_date_idx", (const char *[]){"(date <= ", NULL});
	check_plan(c, &fin_report_opening_stmt,
	           (const char *[]){R.leaf[R.busiest], R.org, "2026-03-01"}, "postings_account_idx",
	           (const char *[]){"(account_id = ", "(date < ", NULL});
	check_plan(
	    c, &fin_report_ledger_stmt,
	    (const char *[]){R.leaf[R.busiest], R.org, "2026-01-01", "infinity", "2026-03-01",
	                     "general", "3", "1", "0", "50", "2"},
	    "postings_account_idx",
	    (const char *[]){"(account_id = ", "ROW(date, journal, sequence, line_no) > ROW(", NULL});
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
	if ((srv = kt_fixture_start("fin_report", NULL, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "fin-report-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-report-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	small_books_make();
	rbooks_make();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	small_books_free();
	rbooks_free();
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(trial_balance_of_a_small_ledger),
	    cmocka_unit_test(trial_balance_ranges),
	    cmocka_unit_test(account_ledger_of_a_small_ledger),
	    cmocka_unit_test(trial_balance_property_on_random_books),
	    cmocka_unit_test(account_ledger_pages_equal_one_page),
	    cmocka_unit_test(trial_balance_refusals),
	    cmocka_unit_test(account_ledger_refusals),
	    cmocka_unit_test(reports_in_a_currency_without_minor_units),
	    cmocka_unit_test(report_statements_read_postings_from_their_indexes),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_report", tests, setup, teardown);
}
