/*
 * Journal entries end to end: the real keel binary over HTTP against a freshly migrated
 * database of this program's own.
 *
 * What is tested: every route's success answer (status, the whole body, Location, ETag), the
 * rows, the audit rows and the events it leaves; every 4xx (bad bodies and amounts, ids of
 * another organization or tenant, the role matrix, If-Match, states); posting (numbers, the
 * precise 422s of fin.post_entry); reversal (dated on its own date, once, never of a
 * reversal); the list's filters and order; and the database's own rules over raw SQL as
 * keel_app: posted entries, their lines, the counters and the postings never change, and a
 * posted entry that does not balance is refused at COMMIT.
 *
 * Ledgers, accounts and fiscal years are made by SQL (kt_fin.h): their routes are not this
 * program's subject.  Each test makes its own organization and never relies on another's rows.
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

#define PASSWORD "correct horse battery staple"
#define ENTRIES  "/api/v1/journal-entries"

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;  /* keel_owner */
static PGconn *app; /* keel_app */
static kt_tenant A, B;
static int seq;

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

/* An organization with a EUR ledger, accounts and the fiscal year FY26 (2026, months). */
typedef struct book {
	const kt_tenant *t;
	char *org;
	char *cash, *bank, *sales, *group, *div;
} book;

static char *
account(const book *b, const char *code, const char *type, bool group)
{
	char c[32];

	snprintf(c, sizeof(c), "%s-%d", code, ++seq);
	return kt_fin_account(app, b->t->id, b->org, c, type, NULL, group);
}

static book
book_new(const kt_tenant *t)
{
	book b = {.t = t};
	char code[32];

	snprintf(code, sizeof(code), "JE%d", ++seq);
	b.org = kt_org_make(&cl, t->owner.token, code);
	kt_fin_ledger(app, t->id, b.org, "EUR");
	b.cash = account(&b, "1000", "asset", false);
	b.bank = account(&b, "1100", "asset", false);
	b.sales = account(&b, "4000", "income", false);
	b.group = account(&b, "1", "asset", true);
	snprintf(code, sizeof(code), "D%d", ++seq);
	b.div = kt_div_make(&cl, t->owner.token, b.org, NULL, code);
	free(kt_fin_year(app, t->id, b.org, "FY26", "2026-01-01", "2026-12-31", "month"));
	return b;
}

static void
book_free(book *b)
{
	free(b->org);
	free(b->cash);
	free(b->bank);
	free(b->sales);
	free(b->group);
	free(b->div);
}

/* Two lines: debit dr, credit cr, amount each. */
static char *
body2(const char *journal, const char *date, const char *dr, const char *cr, const char *amount,
      const char *extra)
{
	return kt_strf("{\"journal\":\"%s\",\"date\":\"%s\",\"lines\":[{\"account_id\":\"%s\","
	               "\"debit\":\"%s\"},{\"account_id\":\"%s\",\"credit\":\"%s\"}]%s%s}",
	               journal, date, dr, amount, cr, amount, extra ? "," : "", extra ? extra : "");
}

/* fmt with @1 and @2 replaced by a1 and a2, malloc'd. */
static char *
subst(const char *fmt, const char *a1, const char *a2)
{
	kt_grow g = {calloc(1, 1), 0};

	for (const char *c = fmt; *c != '\0'; c++) {
		const char *v = c[0] == '@' && c[1] == '1' ? a1 : c[0] == '@' && c[1] == '2' ? a2 : NULL;

		if (v != NULL) {
			kt_grow_add((char *)v, 1, strlen(v), &g);
			c++;
		} else {
			kt_grow_add((char *)c, 1, 1, &g);
		}
	}
	return g.p;
}

/* A body with the given lines text. */
static char *
body_lines(const char *lines)
{
	return kt_strf("{\"journal\":\"general\",\"date\":\"2026-03-15\",\"lines\":[%s]}", lines);
}

static kt_resp *
create(const book *b, const char *token, const char *body)
{
	return api("POST", token, NULL, body, "/api/v1/organizations/%s/journal-entries", b->org);
}

/* A draft (or posted: admin) of amount from cash to sales on date; its id. */
static char *
entry_make(const book *b, const char *date, const char *amount, bool post)
{
	char *body = body2("general", date, b->cash, b->sales, amount, post ? "\"post\":true" : NULL);
	kt_resp *r = create(b, post ? b->t->admin.token : b->t->member.token, body);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* sql (one parameter) as keel_app in tenant t; fails the test unless it succeeds. */
static void
app_run(const kt_tenant *t, const char *sql, const char *p1)
{
	const char *params[] = {p1};

	kt_pg_set_tenant(app, t->id);
	PGresult *res = PQexecParams(app, sql, 1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(app));
	PQclear(res);
}

static long
count(const kt_tenant *t, const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, NULL});
}

static long
events(const kt_tenant *t, const char *type, const char *subject)
{
	return kt_pg_tenant_long(pg, t->id,
	                         "SELECT count(*) FROM events.outbox WHERE type = $1 AND subject = $2",
	                         (const char *[]){type, subject, NULL});
}

/* The data of the last event of type about subject, parsed. */
static json_t *
event_data(const kt_tenant *t, const char *type, const char *subject)
{
	char *text = kt_pg_tenant_value(pg, t->id,
	                                "SELECT data::text FROM events.outbox WHERE type = $1 AND "
	                                "subject = $2 ORDER BY seq DESC LIMIT 1",
	                                (const char *[]){type, subject, NULL});
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	free(text);
	assert_non_null(j);
	return j;
}

static long
audits(const kt_tenant *t, const char *table, const char *action, const char *record)
{
	return kt_pg_tenant_long(pg, t->id,
	                         "SELECT count(*) FROM audit.logs WHERE schema_name = 'fin' AND "
	                         "table_name = $1 AND action = $2 AND (record_id = $3::uuid OR "
	                         "new->>'entry_id' = $3::text OR old->>'entry_id' = $3::text)",
	                         (const char *[]){table, action, record, NULL});
}

/*
 * The entry as the API must render it: the fields given, the ids and times taken from got
 * (which the server chose), compared whole.
 */
static void
assert_entry(const json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);
	const char *copy[] = {"id", "created_at", "updated_at", "posted_at", NULL};
	size_t i;
	json_t *line;

	assert_non_null(want);
	for (const char *const *k = copy; *k != NULL; k++)
		if (json_object_get(want, *k) == NULL)
			json_object_set(want, *k, json_object_get(got, *k));
	json_array_foreach(json_object_get(want, "lines"), i, line) json_object_set(
	    line, "id", json_object_get(json_array_get(json_object_get(got, "lines"), i), "id"));
	if (!json_equal(want, got)) {
		char *w = json_dumps(want, JSON_SORT_KEYS), *g = json_dumps(got, JSON_SORT_KEYS);

		fail_msg("entry\n got %s\nwant %s", g, w);
	}
	json_decref(want);
}

static char *
line_text(const char *account, const char *debit, const char *credit, const char *division)
{
	return kt_strf("{\"account_id\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\",\"currency\":\"EUR\","
	               "\"rate\":\"1\",\"functional_debit\":\"%s\",\"functional_credit\":\"%s\","
	               "\"division_id\":%s%s%s,\"memo\":\"\"}",
	               account, debit, credit, debit, credit, division ? "\"" : "",
	               division ? division : "null", division ? "\"" : "");
}

/* ---- creating drafts ---- */

static void
create_draft_answers_201_with_the_entry(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *body = kt_strf("{\"journal\":\"sales\",\"date\":\"2026-03-15\",\"memo\":\"Invoice 7\","
	                     "\"currency\":\"EUR\",\"lines\":[{\"account_id\":\"%s\",\"debit\":"
	                     "\"120.50\",\"division_id\":\"%s\"},{\"account_id\":\"%s\",\"credit\":"
	                     "\"120.50\",\"currency\":\"EUR\",\"memo\":\"net\"}]}",
	                     b.cash, b.div, b.sales);
	kt_resp *r = create(&b, A.member.token, body);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	const char *id = kt_jstr(r->json, "id");
	char *loc = kt_strf("/api/v1/journal-entries/%s", id);

	assert_true(kt_is_uuid_v7(id));
	kt_assert_header(r, "Location", loc);
	kt_assert_header(r, "ETag", "\"1\"");
	assert_true(kt_is_rfc3339_ms(kt_jstr(r->json, "created_at")));
	char *l1 = line_text(b.cash, "120.50", "0.00", b.div);
	char *l2 = line_text(b.sales, "0.00", "120.50", NULL);
	char *want = kt_strf(
	    "{\"organization_id\":\"%s\",\"journal\":\"sales\",\"kind\":\"normal\",\"number\":null,"
	    "\"date\":\"2026-03-15\",\"memo\":\"Invoice 7\",\"currency\":\"EUR\",\"status\":\"draft\","
	    "\"reverses_id\":null,\"reversed_by_id\":null,\"posted_at\":null,\"posted_by\":null,"
	    "\"lines\":[%s,%s],\"version\":1}",
	    b.org, l1, l2);
	json_t *w = json_loads(want, 0, NULL);

	json_object_set_new(json_array_get(json_object_get(w, "lines"), 1), "memo", json_string("net"));
	char *want2 = json_dumps(w, 0);

	assert_entry(r->json, want2);
	/* the rows, their audit rows, the event */
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1", id),
	                 2);
	assert_int_equal(count(&A,
	                       "SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1 AND line_no "
	                       "= 1 AND debit = 12050 AND credit = 0 AND functional_debit = 12050",
	                       id),
	                 1);
	assert_int_equal(audits(&A, "journal_entries", "INSERT", id), 1);
	assert_int_equal(audits(&A, "journal_lines", "INSERT", id), 2);
	assert_int_equal(events(&A, "keel.journal_entry.created", id), 1);
	json_t *data = event_data(&A, "keel.journal_entry.created", id);

	assert_true(json_equal(data, r->json));
	/* GET reads the same */
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, ENTRIES "/%s", id);

	kt_assert_status(g, 200);
	assert_true(json_equal(g->json, r->json));
	kt_assert_header(g, "ETag", "\"1\"");
	json_decref(data);
	json_decref(w);
	free(want2);
	free(want);
	free(l1);
	free(l2);
	free(loc);
	kt_resp_free(g);
	kt_resp_free(r);
	free(body);
	book_free(&b);
}

static void
create_with_post_by_an_admin_posts_it_with_its_number(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *body = body2("general", "2026-02-28", b.cash, b.sales, "10.00", "\"post\":true");
	kt_resp *r = create(&b, A.admin.token, body);

	kt_assert_status(r, 201);
	const char *id = kt_jstr(r->json, "id");
	char *l1 = line_text(b.cash, "10.00", "0.00", NULL);
	char *l2 = line_text(b.sales, "0.00", "10.00", NULL);
	char *want = kt_strf("{\"organization_id\":\"%s\",\"journal\":\"general\",\"kind\":\"normal\","
	                     "\"number\":\"GEN-FY26-000001\",\"date\":\"2026-02-28\",\"memo\":\"\","
	                     "\"currency\":\"EUR\",\"status\":\"posted\",\"reverses_id\":null,"
	                     "\"reversed_by_id\":null,\"posted_by\":\"%s\",\"lines\":[%s,%s],"
	                     "\"version\":2}",
	                     b.org, A.admin.id, l1, l2);

	assert_entry(r->json, want);
	assert_true(kt_is_rfc3339_ms(kt_jstr(r->json, "posted_at")));
	kt_assert_header(r, "ETag", "\"2\"");
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.postings WHERE entry_id = $1", id), 2);
	assert_int_equal(events(&A, "keel.journal_entry.posted", id), 1);
	assert_int_equal(events(&A, "keel.journal_entry.created", id), 0);
	json_t *data = event_data(&A, "keel.journal_entry.posted", id);

	assert_true(json_equal(data, r->json));
	json_decref(data);
	/* the next posting of the journal and year is number 2; another journal starts at 1 */
	free(body);
	body = body2("general", "2026-01-02", b.cash, b.sales, "1.00", "\"post\":true");
	kt_resp *r2 = create(&b, A.owner.token, body);

	kt_assert_status(r2, 201);
	assert_string_equal(kt_jstr(r2->json, "number"), "GEN-FY26-000002");
	free(body);
	body = body2("cash", "2026-01-02", b.cash, b.sales, "1.00", "\"post\":true");
	kt_resp *r3 = create(&b, A.owner.token, body);

	kt_assert_status(r3, 201);
	assert_string_equal(kt_jstr(r3->json, "number"), "CSH-FY26-000001");
	kt_resp_free(r3);
	kt_resp_free(r2);
	free(want);
	free(l1);
	free(l2);
	kt_resp_free(r);
	free(body);
	book_free(&b);
}

static void
idempotency_key_replays_the_first_create(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *body = body2("general", "2026-03-01", b.cash, b.sales, "5.00", NULL);
	const char *h[] = {"Idempotency-Key: je-key-1", NULL};
	kt_resp *r1 =
	    api("POST", A.member.token, h, body, "/api/v1/organizations/%s/journal-entries", b.org);
	kt_resp *r2 =
	    api("POST", A.member.token, h, body, "/api/v1/organizations/%s/journal-entries", b.org);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	assert_int_equal(
	    count(&A, "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1", b.org), 1);
	kt_resp_free(r1);
	kt_resp_free(r2);
	free(body);
	book_free(&b);
}

/* Each body is 422 naming field, and nothing is written. */
static void
assert_refused(const book *b, const char *body, const char *field)
{
	long before =
	    count(b->t, "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1", b->org);
	kt_resp *r = create(b, b->t->admin.token, body);

	if (r->status != 422 || !kt_has_field_error(r, field))
		fail_msg("%s: %ld %s, expected 422 naming %s", body, r->status, r->body, field);
	kt_assert_problem(r, 422, NULL, field);
	assert_int_equal(
	    count(b->t, "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1", b->org),
	    before);
	kt_resp_free(r);
}

static void
bad_amounts_are_422_naming_the_line(void **state)
{
	(void)state;
	book b = book_new(&A);
	const char *bad[] = {"\"1e3\"",   "\"-0\"",    "\"-1.00\"", "\"1.0\"",
	                     "\"1.000\"", "\"01.00\"", "12",        "\"\"",
	                     "\"0.00\"",  "\"+1.00\"", "\" 1.00\"", "\"92233720368547758.08\"",
	                     "true",      "\"1,00\""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":%s},{\"account_id\":\"%s\","
		                      "\"credit\":\"1.00\"}",
		                      b.cash, bad[i], b.sales);
		char *body = body_lines(lines);

		assert_refused(&b, body, "lines[0].debit");
		free(body);
		free(lines);
		lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"1.00\"},{\"account_id\":\"%s\","
		                "\"credit\":%s}",
		                b.cash, b.sales, bad[i]);
		body = body_lines(lines);
		assert_refused(&b, body, "lines[1].credit");
		free(body);
		free(lines);
	}
	/* the largest amount is taken, but two of them do not add up */
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"92233720368547758.07\"},"
	                      "{\"account_id\":\"%s\",\"credit\":\"92233720368547758.07\"}",
	                      b.cash, b.sales);
	char *body = body_lines(lines);
	kt_resp *r = create(&b, A.member.token, body);

	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "lines"), 0), "debit"),
	                    "92233720368547758.07");
	kt_resp_free(r);
	free(body);
	free(lines);
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"92233720368547758.07\"},"
	                "{\"account_id\":\"%s\",\"debit\":\"0.01\"},"
	                "{\"account_id\":\"%s\",\"credit\":\"1.00\"}",
	                b.cash, b.bank, b.sales);
	body = body_lines(lines);
	assert_refused(&b, body, "lines");
	free(body);
	free(lines);
	book_free(&b);
}

static void
bad_lines_are_422_naming_the_field(void **state)
{
	(void)state;
	book b = book_new(&A);
	book other = book_new(&A);
	book theirs = book_new(&B);
	struct {
		const char *lines_fmt; /* @1: the first account, @2 the second */
		const char *a1, *a2;
		const char *field;
	} cases[] = {
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\"}", b.cash, NULL, "lines"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\",\"credit\":\"1.00\"},{\"account_id\":\"@2\","
	     "\"credit\":\"1.00\"}",
	     b.cash, b.sales, "lines[0].credit"},
	    {"{\"account_id\":\"@1\"},{\"account_id\":\"@2\",\"credit\":\"1.00\"}", b.cash, b.sales,
	     "lines[0].debit"},
	    {"{\"account_id\":\"@1\",\"debit\":null,\"credit\":null},{\"account_id\":\"@2\","
	     "\"credit\":\"1.00\"}",
	     b.cash, b.sales, "lines[0].debit"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\"},{\"account_id\":\"@2\",\"credit\":\"1.00\"}",
	     b.cash, other.sales, "lines[1].account_id"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\"},{\"account_id\":\"@2\",\"credit\":\"1.00\"}",
	     b.cash, theirs.sales, "lines[1].account_id"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\",\"division_id\":\"@2\"},{\"account_id\":\"@1\","
	     "\"credit\":\"1.00\"}",
	     b.cash, other.div, "lines[0].division_id"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\",\"division_id\":\"@2\"},{\"account_id\":\"@1\","
	     "\"credit\":\"1.00\"}",
	     b.cash, theirs.div, "lines[0].division_id"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\",\"bogus\":1},{\"account_id\":\"@2\","
	     "\"credit\":\"1.00\"}",
	     b.cash, b.sales, "lines[0].bogus"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\",\"currency\":\"USD\"},{\"account_id\":\"@2\","
	     "\"credit\":\"1.00\"}",
	     b.cash, b.sales, "lines[0].currency"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\",\"rate\":\"1\"},{\"account_id\":\"@2\","
	     "\"credit\":\"1.00\"}",
	     b.cash, b.sales, "lines[0].rate"},
	    {"{\"account_id\":\"not-a-uuid\",\"debit\":\"1.00\"},{\"account_id\":\"@1\","
	     "\"credit\":\"1.00\"}",
	     b.cash, NULL, "lines[0].account_id"},
	    {"{\"account_id\":\"@1\",\"debit\":\"1.00\"},7", b.cash, NULL, "lines[1]"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *lines = subst(cases[i].lines_fmt, cases[i].a1, cases[i].a2);
		char *body = body_lines(lines);

		assert_refused(&b, body, cases[i].field);
		free(body);
		free(lines);
	}
	/* another organization's division is named with its line, the other lines pass */
	/* 1001 lines */
	char *one = kt_strf("{\"account_id\":\"%s\",\"debit\":\"1.00\"},", b.cash);
	char *many = kt_repeat(one, 1001);

	many[strlen(many) - 1] = '\0';
	char *body = body_lines(many);

	assert_refused(&b, body, "lines");
	free(body);
	free(many);
	free(one);
	/* the entry's own fields */
	const char *top[][2] = {
	    {"{\"journal\":\"general\",\"date\":\"2026-02-30\",\"lines\":[]}", "date"},
	    {"{\"journal\":\"ledger\",\"date\":\"2026-02-03\",\"lines\":[]}", "journal"},
	    {"{\"date\":\"2026-02-03\",\"lines\":[]}", "journal"},
	    {"{\"journal\":\"general\",\"date\":\"2026-2-3\",\"lines\":[]}", "date"},
	    {"{\"journal\":\"general\",\"date\":\"2026-02-03\",\"lines\":{}}", "lines"},
	    {"{\"journal\":\"general\",\"date\":\"2026-02-03\",\"lines\":[],\"extra\":1}", "extra"},
	    {"{\"journal\":\"general\",\"date\":\"2026-02-03\",\"lines\":[],\"post\":\"yes\"}", "post"},
	};

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		assert_refused(&b, top[i][0], top[i][1]);
	/* a currency other than the ledger's, without a rate in force: its lines are named */
	char *fx = body2("general", "2026-03-01", b.cash, b.sales, "1.00", "\"currency\":\"USD\"");
	kt_resp *r = create(&b, A.member.token, fx);

	kt_assert_problem(r, 422, NULL, "lines[0].currency");
	kt_resp_free(r);
	free(fx);
	/* malformed JSON and a body that is no object: 400 */
	r = create(&b, A.member.token, "{\"journal\":");
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	r = create(&b, A.member.token, "[1]");
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	book_free(&theirs);
	book_free(&other);
	book_free(&b);
}

static void
a_thousand_lines_post_in_one_entry(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *one = kt_strf("{\"account_id\":\"%s\",\"debit\":\"1.00\"},", b.cash);
	char *many = kt_repeat(one, 999);
	char *body = kt_strf("{\"journal\":\"general\",\"date\":\"2026-06-30\",\"post\":true,"
	                     "\"lines\":[%s{\"account_id\":\"%s\",\"credit\":\"999.00\"}]}",
	                     many, b.sales);
	kt_resp *r = create(&b, A.admin.token, body);

	kt_assert_status(r, 201);
	const char *id = kt_jstr(r->json, "id");
	json_t *last = json_array_get(json_object_get(r->json, "lines"), 999);

	assert_int_equal(json_array_size(json_object_get(r->json, "lines")), 1000);
	assert_string_equal(kt_jstr(last, "credit"), "999.00");
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.postings WHERE entry_id = $1", id), 1000);
	assert_int_equal(count(&A,
	                       "SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1 AND line_no "
	                       "= 1000 AND credit = 99900",
	                       id),
	                 1);
	kt_resp_free(r);
	free(body);
	free(many);
	free(one);
	book_free(&b);
}

static void
organizations_without_a_ledger_or_of_another_tenant(void **state)
{
	(void)state;
	char code[32];

	snprintf(code, sizeof(code), "NL%d", ++seq);
	char *org = kt_org_make(&cl, A.owner.token, code);
	book b = book_new(&A);
	char *body = body2("general", "2026-03-01", b.cash, b.sales, "1.00", NULL);
	kt_resp *r =
	    api("POST", A.member.token, NULL, body, "/api/v1/organizations/%s/journal-entries", org);

	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, "/api/v1/organizations/%s/journal-entries", org);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	/* another tenant's organization, and a path that is no UUID: 404 */
	r = api("POST", B.admin.token, NULL, body, "/api/v1/organizations/%s/journal-entries", b.org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", B.admin.token, NULL, NULL, "/api/v1/organizations/%s/journal-entries", b.org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.member.token, NULL, body, "/api/v1/organizations/nope/journal-entries");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(body);
	free(org);
	book_free(&b);
}

/* ---- reading, changing, deleting ---- */

static void
another_tenants_entry_and_bad_ids_are_404(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *draft = entry_make(&b, "2026-03-01", "1.00", false);
	char *posted = entry_make(&b, "2026-03-01", "1.00", true);
	const char *ids[] = {draft, posted, "not-a-uuid", "01890000-0000-7000-8000-000000000000"};

	for (size_t i = 0; i < 4; i++) {
		kt_resp *r = api("GET", B.admin.token, NULL, NULL, ENTRIES "/%s", ids[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", B.admin.token, NULL, "{\"memo\":\"x\"}", ENTRIES "/%s", ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", B.admin.token, NULL, NULL, ENTRIES "/%s", ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", B.admin.token, NULL, NULL, ENTRIES "/%s/post", ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", B.admin.token, NULL, "{\"date\":\"2026-03-02\"}", ENTRIES "/%s/reverse",
		        ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.journal_entries WHERE id = $1", draft), 1);
	assert_int_equal(
	    count(&A, "SELECT count(*) FROM fin.journal_entries WHERE reverses_id = $1", posted), 0);
	free(draft);
	free(posted);
	book_free(&b);
}

static void
patch_changes_a_draft_and_replaces_its_lines(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-03-01", "1.00", false);
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"3.00\"},{\"account_id\":\"%s\","
	                      "\"debit\":\"4.00\"},{\"account_id\":\"%s\",\"credit\":\"7.00\"}",
	                      b.cash, b.bank, b.sales);
	char *body = kt_strf("{\"journal\":\"adjustment\",\"date\":\"2026-04-30\",\"memo\":\"m\","
	                     "\"lines\":[%s]}",
	                     lines);
	const char *h[] = {"If-Match: \"1\"", NULL};
	kt_resp *r = api("PATCH", A.member.token, h, body, ENTRIES "/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	char *l1 = line_text(b.cash, "3.00", "0.00", NULL),
	     *l2 = line_text(b.bank, "4.00", "0.00", NULL),
	     *l3 = line_text(b.sales, "0.00", "7.00", NULL);
	char *want =
	    kt_strf("{\"id\":\"%s\",\"organization_id\":\"%s\",\"journal\":\"adjustment\","
	            "\"kind\":\"normal\",\"number\":null,\"date\":\"2026-04-30\",\"memo\":\"m\","
	            "\"currency\":\"EUR\",\"status\":\"draft\",\"reverses_id\":null,"
	            "\"reversed_by_id\":null,\"posted_at\":null,\"posted_by\":null,"
	            "\"lines\":[%s,%s,%s],\"version\":2}",
	            id, b.org, l1, l2, l3);

	assert_entry(r->json, want);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1", id),
	                 3);
	assert_int_equal(audits(&A, "journal_lines", "DELETE", id), 2);
	assert_int_equal(audits(&A, "journal_entries", "UPDATE", id), 1);
	assert_int_equal(events(&A, "keel.journal_entry.updated", id), 1);
	kt_resp_free(r);
	/* a stale version: 412; memo alone keeps the lines */
	r = api("PATCH", A.member.token, h, "{\"memo\":\"n\"}", ENTRIES "/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.member.token, NULL, "{\"memo\":\"n\"}", ENTRIES "/%s", id);
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "lines")), 3);
	kt_resp_free(r);
	/* nothing to change, bad lines, unknown fields: 422 */
	r = api("PATCH", A.member.token, NULL, "{}", ENTRIES "/%s", id);
	kt_assert_problem(r, 422, NULL, NULL);
	kt_resp_free(r);
	char *bad = kt_strf("{\"lines\":[{\"account_id\":\"%s\",\"debit\":\"1.0\"},{\"account_id\":"
	                    "\"%s\",\"credit\":\"1.00\"}]}",
	                    b.cash, b.sales);

	r = api("PATCH", A.member.token, NULL, bad, ENTRIES "/%s", id);
	kt_assert_problem(r, 422, NULL, "lines[0].debit");
	kt_resp_free(r);
	r = api("PATCH", A.member.token, NULL, "{\"currency\":\"EUR\"}", ENTRIES "/%s", id);
	kt_assert_problem(r, 422, NULL, "currency");
	kt_resp_free(r);
	assert_int_equal(count(&A, "SELECT version FROM fin.journal_entries WHERE id = $1", id), 3);
	free(bad);
	free(want);
	free(l1);
	free(l2);
	free(l3);
	free(body);
	free(lines);
	free(id);
	book_free(&b);
}

static void
delete_removes_a_draft(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-03-01", "1.00", false);
	const char *stale[] = {"If-Match: \"2\"", NULL};
	const char *now[] = {"If-Match: \"1\"", NULL};
	kt_resp *r = api("DELETE", A.member.token, stale, NULL, ENTRIES "/%s", id);

	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.member.token, now, NULL, ENTRIES "/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.journal_entries WHERE id = $1", id), 0);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1", id),
	                 0);
	assert_int_equal(audits(&A, "journal_entries", "DELETE", id), 1);
	assert_int_equal(events(&A, "keel.journal_entry.deleted", id), 1);
	json_t *data = event_data(&A, "keel.journal_entry.deleted", id);

	assert_string_equal(kt_jstr(data, "status"), "draft");
	assert_int_equal(json_array_size(json_object_get(data, "lines")), 2);
	json_decref(data);
	r = api("DELETE", A.member.token, NULL, NULL, ENTRIES "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(id);
	book_free(&b);
}

static void
posted_entries_never_change_over_http(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-03-01", "1.00", true);
	kt_resp *r = api("PATCH", A.owner.token, NULL, "{\"memo\":\"x\"}", ENTRIES "/%s", id);

	kt_assert_problem(r, 409, NULL, NULL);
	assert_string_equal(kt_jstr(r->json, "detail"), "the entry is posted");
	kt_resp_free(r);
	r = api("DELETE", A.owner.token, NULL, NULL, ENTRIES "/%s", id);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.owner.token, NULL, NULL, ENTRIES "/%s/post", id);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_string_equal(kt_jstr(r->json, "detail"), "the entry is posted");
	kt_resp_free(r);
	assert_int_equal(count(&A, "SELECT version FROM fin.journal_entries WHERE id = $1", id), 2);
	free(id);
	book_free(&b);
}

/* ---- posting ---- */

static void
post_answers_200_with_the_number(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-05-31", "2.50", false);
	kt_resp *r = api("POST", A.admin.token, NULL, NULL, ENTRIES "/%s/post", id);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "number"), "GEN-FY26-000001");
	assert_string_equal(kt_jstr(r->json, "status"), "posted");
	assert_string_equal(kt_jstr(r->json, "posted_by"), A.admin.id);
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_int_equal(events(&A, "keel.journal_entry.posted", id), 1);
	assert_int_equal(audits(&A, "journal_entries", "UPDATE", id), 1);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.postings WHERE entry_id = $1", id), 2);
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, ENTRIES "/%s", id);

	assert_true(json_equal(g->json, r->json));
	kt_resp_free(g);
	kt_resp_free(r);
	free(id);
	book_free(&b);
}

/* Post id as admin: 422 naming field, detail containing text; the entry stays a draft. */
static void
assert_post_refused(const book *b, const char *id, const char *field, const char *text)
{
	kt_resp *r = api("POST", b->t->admin.token, NULL, NULL, ENTRIES "/%s/post", id);

	kt_assert_problem(r, 422, NULL, field);
	if (strstr(kt_jstr(r->json, "detail"), text) == NULL)
		fail_msg("detail %s, expected %s", kt_jstr(r->json, "detail"), text);
	kt_resp_free(r);
	assert_int_equal(count(b->t,
	                       "SELECT count(*) FROM fin.journal_entries WHERE id = $1 AND status = "
	                       "'draft'",
	                       id),
	                 1);
}

static void
post_refuses_what_cannot_be_posted(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *lines, *body, *id;
	kt_resp *r;

	/* unbalanced, the difference named */
	lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"10.00\"},{\"account_id\":\"%s\","
	                "\"credit\":\"9.95\"}",
	                b.cash, b.sales);
	body = body_lines(lines);
	r = create(&b, A.member.token, body);
	kt_assert_status(r, 201);
	id = strdup(kt_jstr(r->json, "id"));
	kt_resp_free(r);
	assert_post_refused(&b, id, "lines", "differ by 0.05 EUR");
	/* the same with post: true is refused as a whole: nothing is written */
	free(body);
	body = kt_strf("{\"journal\":\"general\",\"date\":\"2026-03-15\",\"post\":true,\"lines\":[%s]}",
	               lines);
	assert_refused(&b, body, "lines");
	free(body);
	free(lines);
	free(id);
	/* an inactive account, a group account, a missing division */
	char *inactive = account(&b, "1200", "asset", false);
	char *divided = account(&b, "1300", "asset", false);

	app_run(&A, "UPDATE fin.accounts SET status = 'inactive' WHERE id = $1", inactive);
	app_run(&A, "UPDATE fin.accounts SET requires_division = true WHERE id = $1", divided);
	struct {
		const char *account, *field, *text;
	} cases[] = {
	    {inactive, "lines[1].account_id", "is inactive"},
	    {b.group, "lines[1].account_id", "is a group account"},
	    {divided, "lines[1].division_id", "requires a division"},
	};

	for (size_t i = 0; i < 3; i++) {
		body = body2("general", "2026-03-15", b.cash, cases[i].account, "1.00", NULL);
		r = create(&b, A.member.token, body);
		kt_assert_status(r, 201);
		id = strdup(kt_jstr(r->json, "id"));
		kt_resp_free(r);
		assert_post_refused(&b, id, cases[i].field, cases[i].text);
		free(id);
		free(body);
	}
	/* no period, a closed period */
	id = entry_make(&b, "2027-01-01", "1.00", false);
	assert_post_refused(&b, id, "date", "no fiscal period contains 2027-01-01");
	free(id);
	app_run(&A,
	        "UPDATE fin.periods SET status = 'closed' WHERE organization_id = $1 AND name = "
	        "'2026-01'",
	        b.org);
	id = entry_make(&b, "2026-01-31", "1.00", false);
	assert_post_refused(&b, id, "date", "the period 2026-01 is closed");
	free(id);
	/* none of the refusals took a number */
	id = entry_make(&b, "2026-02-01", "1.00", true);
	char *number =
	    kt_pg_tenant_value(pg, A.id, "SELECT number FROM fin.journal_entries WHERE id = $1",
	                       (const char *[]){id, NULL});

	assert_string_equal(number, "GEN-FY26-000001");
	free(number);
	free(id);
	free(inactive);
	free(divided);
	book_free(&b);
}

/* ---- reversal ---- */

static void
reverse_makes_a_posted_reversal_on_its_own_date(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *lines = kt_strf("{\"account_id\":\"%s\",\"debit\":\"7.00\",\"division_id\":\"%s\"},"
	                      "{\"account_id\":\"%s\",\"credit\":\"7.00\",\"memo\":\"x\"}",
	                      b.cash, b.div, b.sales);
	char *body = kt_strf("{\"journal\":\"sales\",\"date\":\"2026-03-15\",\"post\":true,"
	                     "\"lines\":[%s]}",
	                     lines);
	kt_resp *o = create(&b, A.admin.token, body);

	kt_assert_status(o, 201);
	const char *id = kt_jstr(o->json, "id");
	kt_resp *r =
	    api("POST", A.admin.token, NULL, "{\"date\":\"2026-04-02\"}", ENTRIES "/%s/reverse", id);

	kt_assert_status(r, 201);
	const char *rid = kt_jstr(r->json, "id");
	char *loc = kt_strf("/api/v1/journal-entries/%s", rid);

	kt_assert_header(r, "Location", loc);
	char *l1 = line_text(b.cash, "0.00", "7.00", b.div),
	     *l2 = line_text(b.sales, "7.00", "0.00", NULL);
	char *want = kt_strf("{\"organization_id\":\"%s\",\"journal\":\"sales\",\"kind\":\"reversal\","
	                     "\"number\":\"SAL-FY26-000002\",\"date\":\"2026-04-02\","
	                     "\"memo\":\"Reversal of SAL-FY26-000001\",\"currency\":\"EUR\","
	                     "\"status\":\"posted\",\"reverses_id\":\"%s\",\"reversed_by_id\":null,"
	                     "\"posted_by\":\"%s\",\"lines\":[%s,%s],\"version\":2}",
	                     b.org, id, A.admin.id, l1, l2);
	json_t *w = json_loads(want, 0, NULL);

	json_object_set_new(json_array_get(json_object_get(w, "lines"), 1), "memo", json_string("x"));
	char *want2 = json_dumps(w, 0);

	assert_entry(r->json, want2);
	/* the postings are dated on the reversal's own date, not the original's */
	assert_int_equal(count(&A,
	                       "SELECT count(*) FROM fin.postings WHERE entry_id = $1 AND date = "
	                       "'2026-04-02' AND kind = 'reversal'",
	                       rid),
	                 2);
	/* the original now reads reversed_by_id */
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, ENTRIES "/%s", id);

	assert_string_equal(kt_jstr(g->json, "reversed_by_id"), rid);
	assert_int_equal(json_integer_value(json_object_get(g->json, "version")), 2);
	assert_int_equal(events(&A, "keel.journal_entry.posted", rid), 1);
	assert_int_equal(events(&A, "keel.journal_entry.reversed", id), 1);
	json_t *data = event_data(&A, "keel.journal_entry.reversed", id);

	assert_true(json_equal(data, g->json));
	json_decref(data);
	/* twice: 409; a reversal's reversal: 409; a draft's: 409 */
	kt_resp *again =
	    api("POST", A.admin.token, NULL, "{\"date\":\"2026-04-03\"}", ENTRIES "/%s/reverse", id);

	kt_assert_problem(again, 409, NULL, NULL);
	assert_string_equal(kt_jstr(again->json, "detail"), "the entry is reversed");
	kt_resp_free(again);
	again =
	    api("POST", A.admin.token, NULL, "{\"date\":\"2026-04-03\"}", ENTRIES "/%s/reverse", rid);
	kt_assert_problem(again, 409, NULL, NULL);
	assert_string_equal(kt_jstr(again->json, "detail"), "the entry is a reversal");
	kt_resp_free(again);
	char *draft = entry_make(&b, "2026-03-01", "1.00", false);

	again =
	    api("POST", A.admin.token, NULL, "{\"date\":\"2026-04-03\"}", ENTRIES "/%s/reverse", draft);
	kt_assert_problem(again, 409, NULL, NULL);
	assert_string_equal(kt_jstr(again->json, "detail"), "the entry is draft");
	kt_resp_free(again);
	assert_int_equal(
	    count(&A, "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1", b.org), 3);
	free(draft);
	json_decref(w);
	free(want2);
	free(want);
	free(l1);
	free(l2);
	free(loc);
	kt_resp_free(g);
	kt_resp_free(r);
	kt_resp_free(o);
	free(body);
	free(lines);
	book_free(&b);
}

static void
reverse_refuses_a_closed_date_and_bad_bodies(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-02-10", "1.00", true);

	app_run(&A,
	        "UPDATE fin.periods SET status = 'closed' WHERE organization_id = $1 AND name = "
	        "'2026-01'",
	        b.org);
	kt_resp *r =
	    api("POST", A.admin.token, NULL, "{\"date\":\"2026-01-15\"}", ENTRIES "/%s/reverse", id);

	kt_assert_problem(r, 422, NULL, "date");
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"date\":\"2026-13-01\"}", ENTRIES "/%s/reverse", id);
	kt_assert_problem(r, 422, NULL, "date");
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"memo\":\"m\"}", ENTRIES "/%s/reverse", id);
	kt_assert_problem(r, 422, NULL, "date");
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"date\":\"2026-02-11\",\"x\":1}", ENTRIES "/%s/reverse",
	        id);
	kt_assert_problem(r, 422, NULL, "x");
	kt_resp_free(r);
	assert_int_equal(
	    count(&A, "SELECT count(*) FROM fin.journal_entries WHERE reverses_id = $1", id), 0);
	/* the memo given is the reversal's; a retry with the same Idempotency-Key replays it */
	const char *key[] = {"Idempotency-Key: je-reverse-1", NULL};

	r = api("POST", A.admin.token, key, "{\"date\":\"2026-02-11\",\"memo\":\"undo\"}",
	        ENTRIES "/%s/reverse", id);
	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "memo"), "undo");
	kt_resp *again = api("POST", A.admin.token, key, "{\"date\":\"2026-02-11\",\"memo\":\"undo\"}",
	                     ENTRIES "/%s/reverse", id);

	kt_assert_status(again, 201);
	assert_string_equal(again->body, r->body);
	assert_int_equal(events(&A, "keel.journal_entry.reversed", id), 1);
	kt_resp_free(again);
	kt_resp_free(r);
	free(id);
	book_free(&b);
}

/* ---- roles ---- */

static void
role_matrix(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *body = body2("general", "2026-03-01", b.cash, b.sales, "1.00", NULL);
	char *posting = body2("general", "2026-03-01", b.cash, b.sales, "1.00", "\"post\":true");
	kt_resp *r = create(&b, A.viewer.token, body);

	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = create(&b, A.member.token, posting);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = create(&b, NULL, body);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(
	    count(&A, "SELECT count(*) FROM fin.journal_entries WHERE organization_id = $1", b.org), 0);
	char *id = entry_make(&b, "2026-03-01", "1.00", false);

	r = api("PATCH", A.viewer.token, NULL, "{\"memo\":\"v\"}", ENTRIES "/%s", id);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.viewer.token, NULL, NULL, ENTRIES "/%s", id);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.member.token, NULL, NULL, ENTRIES "/%s/post", id);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, ENTRIES "/%s", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, "/api/v1/organizations/%s/journal-entries", b.org);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, NULL, ENTRIES "/%s/post", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("POST", A.member.token, NULL, "{\"date\":\"2026-03-02\"}", ENTRIES "/%s/reverse", id);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.owner.token, NULL, "{\"date\":\"2026-03-02\"}", ENTRIES "/%s/reverse", id);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(id);
	free(body);
	free(posting);
	book_free(&b);
}

/* ---- the list ---- */

static char *
list_ids(const book *b, const char *query)
{
	kt_resp *r = api("GET", b->t->viewer.token, NULL, NULL,
	                 "/api/v1/organizations/%s/journal-entries%s", b->org, query);
	kt_grow g = {calloc(1, 1), 0};
	size_t i;
	json_t *o;

	kt_assert_status(r, 200);
	json_array_foreach(json_object_get(r->json, "data"), i, o)
	{
		assert_null(json_object_get(o, "lines"));
		const char *part = kt_jstr(o, "memo");

		kt_grow_add((char *)part, 1, strlen(part), &g);
		kt_grow_add(" ", 1, 1, &g);
	}
	kt_resp_free(r);
	return g.p;
}

/* The memos of the whole list, walked in pages of limit. */
static char *
walk(const book *b, int limit)
{
	kt_grow pages = {calloc(1, 1), 0};
	char *cursor = NULL;

	for (int n = 0; n < 20; n++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL,
		                 "/api/v1/organizations/%s/journal-entries?limit=%d%s%s", b->org, limit,
		                 cursor ? "&cursor=" : "", cursor ? cursor : "");
		size_t i;
		json_t *o;

		kt_assert_status(r, 200);
		assert_true(json_array_size(json_object_get(r->json, "data")) <= (size_t)limit);
		json_array_foreach(json_object_get(r->json, "data"), i, o)
		{
			kt_grow_add((char *)kt_jstr(o, "memo"), 1, strlen(kt_jstr(o, "memo")), &pages);
			kt_grow_add(" ", 1, 1, &pages);
		}
		free(cursor);
		const char *next = kt_json_str(r->json, "next_cursor");

		cursor = next ? strdup(next) : NULL;
		kt_resp_free(r);
		if (cursor == NULL)
			break;
	}
	free(cursor);
	return pages.p;
}

static void
make_memo(const book *b, const char *journal, const char *date, const char *memo, bool post,
          const char *account)
{
	char *extra = kt_strf("\"memo\":\"%s\"%s", memo, post ? ",\"post\":true" : "");
	char *body = body2(journal, date, account ? account : b->cash, b->sales, "1.00", extra);
	kt_resp *r = create(b, b->t->admin.token, body);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);
	free(extra);
}

static void
list_orders_by_date_then_number_and_filters(void **state)
{
	(void)state;
	book b = book_new(&A);

	make_memo(&b, "general", "2026-03-02", "d1", false, NULL);
	make_memo(&b, "general", "2026-03-02", "g2", true, NULL);
	make_memo(&b, "general", "2026-03-02", "d2", false, NULL);
	make_memo(&b, "sales", "2026-03-02", "s1", true, b.bank);
	make_memo(&b, "general", "2026-03-01", "g1", true, NULL);
	make_memo(&b, "cash", "2026-03-02", "c1", true, NULL);
	make_memo(&b, "general", "2026-03-03", "g3", true, NULL);
	char *all = list_ids(&b, "");

	assert_string_equal(all, "g1 c1 g2 d1 d2 s1 g3 ");
	/* page by page, every row once, in order, whatever the page size */
	for (int limit = 1; limit <= 4; limit++) {
		char *pages = walk(&b, limit);

		assert_string_equal(pages, all);
		free(pages);
	}
	char *s;

	assert_string_equal(s = list_ids(&b, "?status=draft"), "d1 d2 ");
	free(s);
	assert_string_equal(s = list_ids(&b, "?journal=general&status=posted"), "g1 g2 g3 ");
	free(s);
	assert_string_equal(s = list_ids(&b, "?from=2026-03-02&to=2026-03-02"), "c1 g2 d1 d2 s1 ");
	free(s);
	char *q = kt_strf("?account_id=%s", b.bank);

	assert_string_equal(s = list_ids(&b, q), "s1 ");
	free(s);
	free(q);
	/* bad filters and cursors: 400 */
	const char *bad[] = {"?status=open",  "?journal=x", "?from=2026-3-1", "?to=x",
	                     "?account_id=1", "?limit=0",   "?cursor=abc"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL,
		                 "/api/v1/organizations/%s/journal-entries%s", b.org, bad[i]);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	free(all);
	book_free(&b);
}

/* ---- the database's rules, over raw SQL as keel_app ---- */

/* sql as keel_app in tenant: fails the test unless PostgreSQL refuses it. */
static void
assert_sql_refused(const char *tenant, const char *sql, const char *p1)
{
	const char *params[] = {p1};

	kt_pg_set_tenant(app, tenant);
	PGresult *res = PQexecParams(app, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		fail_msg("%s was not refused", sql);
	PQclear(res);
}

static void
posted_rows_never_change_over_sql(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-03-01", "1.00", true);
	char *sql = kt_strf("INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id,"
	                    " line_no, account_id, debit, credit, currency, functional_debit,"
	                    " functional_credit) VALUES (core.current_tenant_id(),"
	                    " audit.uuid_v7(clock_timestamp()), '%s', $1, 3, '%s', 1, 0, 'EUR', 1, 0)",
	                    b.org, b.cash);
	char *entry =
	    kt_strf("INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal,"
	            " date, currency, status) VALUES (core.current_tenant_id(),"
	            " audit.uuid_v7(clock_timestamp()), '%s', 'general', '2026-03-01',"
	            " 'EUR', 'posted')",
	            b.org);

	assert_sql_refused(A.id, "UPDATE fin.journal_entries SET memo = 'x' WHERE id = $1", id);
	assert_sql_refused(A.id, "DELETE FROM fin.journal_entries WHERE id = $1", id);
	assert_sql_refused(A.id, "UPDATE fin.journal_lines SET memo = 'x' WHERE entry_id = $1", id);
	assert_sql_refused(A.id, "DELETE FROM fin.journal_lines WHERE entry_id = $1", id);
	assert_sql_refused(A.id, sql, id);
	assert_sql_refused(A.id, entry, NULL);
	assert_sql_refused(A.id, "UPDATE fin.entry_counters SET last = 0 WHERE organization_id = $1",
	                   b.org);
	assert_sql_refused(A.id, "DELETE FROM fin.entry_counters WHERE organization_id = $1", b.org);
	assert_sql_refused(
	    A.id, "INSERT INTO fin.postings SELECT * FROM fin.postings WHERE entry_id = $1", id);
	assert_sql_refused(A.id, "UPDATE fin.postings SET debit = 0 WHERE entry_id = $1", id);
	assert_sql_refused(A.id, "DELETE FROM fin.postings WHERE entry_id = $1", id);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.journal_lines WHERE entry_id = $1", id),
	                 2);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.postings WHERE entry_id = $1", id), 2);
	assert_int_equal(count(&A, "SELECT version FROM fin.journal_entries WHERE id = $1", id), 2);
	free(sql);
	free(entry);
	free(id);
	book_free(&b);
}

/*
 * Books keep what they name: a division that lines name is not deleted, nor the organization
 * with a ledger, whichever foreign key refuses first (deleting the organization deletes its
 * divisions before it).
 */
static void
books_keep_their_organization_and_divisions(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *body = kt_strf("{\"journal\":\"general\",\"date\":\"2026-05-04\",\"lines\":["
	                     "{\"account_id\":\"%s\",\"debit\":\"5.00\",\"division_id\":\"%s\"},"
	                     "{\"account_id\":\"%s\",\"credit\":\"5.00\"}]}",
	                     b.cash, b.div, b.sales);
	kt_resp *r = create(&b, A.admin.token, body);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", b.div);
	kt_assert_problem(r, 409, "conflict", NULL);
	assert_string_equal(kt_jstr(r->json, "detail"), "journal lines name the division");
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/organizations/%s", b.org);
	kt_assert_problem(r, 409, "conflict", NULL);
	assert_string_equal(kt_jstr(r->json, "detail"), "the organization keeps books (a ledger)");
	kt_resp_free(r);
	/* both are still there */
	r = api("GET", A.viewer.token, NULL, NULL, "/api/v1/divisions/%s", b.div);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, "/api/v1/organizations/%s", b.org);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(body);
	book_free(&b);
}

static void
an_unbalanced_posting_is_refused_at_commit(void **state)
{
	(void)state;
	book b = book_new(&A);
	char *id = entry_make(&b, "2026-03-01", "1.00", false);
	const char *p[] = {id};
	PGresult *res;

	kt_pg_set_tenant(app, A.id);
	kt_pg_exec(app, "BEGIN");
	res = PQexecParams(app,
	                   "UPDATE fin.journal_lines SET debit = 200, functional_debit = 200"
	                   " WHERE entry_id = $1 AND line_no = 1",
	                   1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	res = PQexecParams(app, "UPDATE fin.journal_entries SET status = 'posted' WHERE id = $1", 1,
	                   NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK); /* the check is deferred */
	PQclear(res);
	res = PQexec(app, "COMMIT");
	assert_int_not_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	assert_non_null(strstr(PQresultErrorMessage(res), "balances"));
	PQclear(res);
	assert_int_equal(count(&A,
	                       "SELECT count(*) FROM fin.journal_entries WHERE id = $1 AND status = "
	                       "'draft'",
	                       id),
	                 1);
	assert_int_equal(count(&A, "SELECT count(*) FROM fin.postings WHERE entry_id = $1", id), 0);
	free(id);
	book_free(&b);
}

static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("fin_entry", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "fin-entry-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-entry-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	kt_tenant_user(&cl, &B, &B.admin, "admin", "admin");
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
	    cmocka_unit_test(create_draft_answers_201_with_the_entry),
	    cmocka_unit_test(create_with_post_by_an_admin_posts_it_with_its_number),
	    cmocka_unit_test(idempotency_key_replays_the_first_create),
	    cmocka_unit_test(bad_amounts_are_422_naming_the_line),
	    cmocka_unit_test(bad_lines_are_422_naming_the_field),
	    cmocka_unit_test(a_thousand_lines_post_in_one_entry),
	    cmocka_unit_test(organizations_without_a_ledger_or_of_another_tenant),
	    cmocka_unit_test(another_tenants_entry_and_bad_ids_are_404),
	    cmocka_unit_test(patch_changes_a_draft_and_replaces_its_lines),
	    cmocka_unit_test(delete_removes_a_draft),
	    cmocka_unit_test(posted_entries_never_change_over_http),
	    cmocka_unit_test(post_answers_200_with_the_number),
	    cmocka_unit_test(post_refuses_what_cannot_be_posted),
	    cmocka_unit_test(reverse_makes_a_posted_reversal_on_its_own_date),
	    cmocka_unit_test(reverse_refuses_a_closed_date_and_bad_bodies),
	    cmocka_unit_test(role_matrix),
	    cmocka_unit_test(list_orders_by_date_then_number_and_filters),
	    cmocka_unit_test(posted_rows_never_change_over_sql),
	    cmocka_unit_test(books_keep_their_organization_and_divisions),
	    cmocka_unit_test(an_unbalanced_posting_is_refused_at_commit),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_entry", tests, setup, teardown);
}
