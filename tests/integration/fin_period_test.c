/*
 * Fiscal years and periods end to end: the real keel binary over HTTP against a freshly
 * migrated database of this program's own.
 *
 * What is tested: creating a fiscal year (months and quarters: the exact body, Location,
 * ETag, the rows, the audit row, the event), its validation (400/422, nothing written), the
 * 409s (overlapping years, a name used, no ledger), reading and listing years and periods
 * (start_date order, keyset pages), the period actions close, reopen and lock with their
 * order rules and their 409s naming the state, the role matrix, another tenant's ids (404),
 * the rules PostgreSQL enforces against raw SQL as keel_app, and a close racing a posting
 * into the same period, both ways round, also when the posting's transaction made its draft.
 *
 * keel starts once for the group and the tenants and users are made once (password hashing
 * is slow under ASan); each test makes its own organizations and never relies on another
 * test's rows.  Ledgers, accounts and entries, which other parts own, are made by SQL as
 * keel_app (kt_fin.h); fiscal years through the route under test.
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
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

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
db_long(const char *tenant_id, const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, tenant_id, sql, (const char *[]){p1, NULL});
}

static long
year_count(const char *org)
{
	return db_long(A.id, "SELECT count(*) FROM fin.fiscal_years WHERE organization_id = $1", org);
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

/* Events of type about subject whose data is the JSON data. */
static long
event_count(const char *subject, const char *type, const char *data)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM events.outbox WHERE subject = $1"
	                         " AND type = $2 AND data::jsonb = $3::jsonb",
	                         (const char *[]){subject, type, data, NULL});
}

/* ---- making things ---- */

/* A new organization of A (admin), without a ledger. */
static char *
org_bare(void)
{
	char code[32];

	snprintf(code, sizeof(code), "P%d", ++seq);
	return kt_org_make(&cl, A.admin.token, code);
}

/* A new organization of A with a ledger in EUR. */
static char *
org_new(void)
{
	char *org = org_bare();

	kt_fin_ledger(app, A.id, org, "EUR");
	return org;
}

static char *
year_body(const char *name, const char *start, const char *end, const char *period)
{
	return kt_strf("{\"name\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\",\"period\":\"%s\"}",
	               name, start, end, period);
}

static kt_resp *
year_post(const char *token, const char *org, const char *name, const char *start, const char *end,
          const char *period)
{
	char *body = year_body(name, start, end, period);
	kt_resp *r = api("POST", token, body, "/api/v1/organizations/%s/fiscal-years", org);

	free(body);
	return r;
}

/* A fiscal year made through the route (fails the test unless 201): its answer's JSON. */
static json_t *
year_make(const char *org, const char *name, const char *start, const char *end, const char *period)
{
	kt_resp *r = year_post(A.admin.token, org, name, start, end, period);

	kt_assert_status(r, 201);
	json_t *year = json_incref(r->json);

	kt_resp_free(r);
	return year;
}

/* The id of period i (0-based) of a year's JSON. */
static const char *
period_id(const json_t *year, size_t i)
{
	return kt_jstr(json_array_get(json_object_get(year, "periods"), i), "id");
}

/* POST /api/v1/periods/{id}/<action> as token (reason: reopen's body, else no body). */
static kt_resp *
act(const char *token, const char *id, const char *action, const char *reason)
{
	char *body = reason != NULL ? kt_strf("{\"reason\":\"%s\"}", reason) : NULL;
	kt_resp *r = api("POST", token, body, "/api/v1/periods/%s/%s", id, action);

	free(body);
	return r;
}

/* act(), failing the test unless status. */
static void
act_expect(const char *token, const char *id, const char *action, const char *reason, long status)
{
	kt_resp *r = act(token, id, action, reason);

	if (r->status != status)
		fail_msg("%s %s: HTTP %ld, expected %ld; body: %s", action, id, r->status, status, r->body);
	kt_resp_free(r);
}

/* A 409 problem whose detail contains want. */
static void
assert_conflict(kt_resp *r, const char *want)
{
	kt_assert_problem(r, 409, NULL, NULL);
	const char *detail = kt_jstr(r->json, "detail");

	if (strstr(detail, want) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", detail, want);
}

/* Two postable accounts of org: their ids (malloc'd) in *debit and *credit. */
static void
accounts_make(const char *org, char **debit, char **credit)
{
	*debit = kt_fin_account(app, A.id, org, "1000", "asset", NULL, false);
	*credit = kt_fin_account(app, A.id, org, "4000", "income", NULL, false);
}

/* A balanced draft entry of org dated date in the general journal: its id. */
static char *
draft_make(const char *org, const char *debit, const char *credit, const char *date, bool post)
{
	kt_fin_line lines[] = {{debit, 1000, 0, NULL}, {credit, 0, 1000, NULL}};

	return kt_fin_entry(app, A.id, org, "general", date, 2, lines, post);
}

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	/* a close waits on a posting the test holds for as long as the test needs: no statement timeout
	 */
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};

	if ((srv = kt_fixture_start("fin_period", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "period-a", PASSWORD);
	kt_tenant_make(&cl, &B, "period-b", PASSWORD);
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

/* ---- fiscal years: success ---- */

/* Every field of a period as the API renders it, open and never closed. */
static void
check_open_period(const json_t *p, const char *org, const char *year_id, const char *name,
                  const char *start, const char *end)
{
	assert_int_equal(json_object_size(p), 11);
	assert_true(kt_is_uuid_v7(kt_jstr(p, "id")));
	assert_string_equal(kt_jstr(p, "organization_id"), org);
	assert_string_equal(kt_jstr(p, "fiscal_year_id"), year_id);
	assert_string_equal(kt_jstr(p, "name"), name);
	assert_string_equal(kt_jstr(p, "start_date"), start);
	assert_string_equal(kt_jstr(p, "end_date"), end);
	assert_string_equal(kt_jstr(p, "status"), "open");
	assert_true(json_is_null(json_object_get(p, "closed_at")));
	assert_true(json_is_null(json_object_get(p, "closed_by")));
	assert_int_equal(json_integer_value(json_object_get(p, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(p, "updated_at")));
}

/* Every field of a fiscal year but its periods. */
static void
check_year(const json_t *y, const char *org, const char *name, const char *start, const char *end,
           const char *period, size_t periods)
{
	assert_int_equal(json_object_size(y), 11);
	assert_true(kt_is_uuid_v7(kt_jstr(y, "id")));
	assert_string_equal(kt_jstr(y, "organization_id"), org);
	assert_string_equal(kt_jstr(y, "name"), name);
	assert_string_equal(kt_jstr(y, "start_date"), start);
	assert_string_equal(kt_jstr(y, "end_date"), end);
	assert_string_equal(kt_jstr(y, "period"), period);
	assert_string_equal(kt_jstr(y, "status"), "open");
	assert_int_equal(json_integer_value(json_object_get(y, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(y, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(y, "updated_at")));
	assert_int_equal(json_array_size(json_object_get(y, "periods")), periods);
}

static void
year_create_answers_201_with_its_months(void **state)
{
	(void)state;
	char *org = org_new();
	kt_resp *r = year_post(A.admin.token, org, "FY2026", "2026-01-01", "2026-12-31", "month");

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	const json_t *y = r->json;
	const char *id = kt_jstr(y, "id");
	char *location = kt_strf("/api/v1/fiscal-years/%s", id);
	static const char *const ends[] = {"31", "28", "31", "30", "31", "30",
	                                   "31", "31", "30", "31", "30", "31"};

	check_year(y, org, "FY2026", "2026-01-01", "2026-12-31", "month", 12);
	for (int m = 0; m < 12; m++) {
		char name[16], start[16], end[16];

		snprintf(name, sizeof(name), "2026-%02d", m + 1);
		snprintf(start, sizeof(start), "2026-%02d-01", m + 1);
		snprintf(end, sizeof(end), "2026-%02d-%s", m + 1, ends[m]);
		check_open_period(json_array_get(json_object_get(y, "periods"), (size_t)m), org, id, name,
		                  start, end);
	}
	kt_assert_header(r, "Location", location);
	kt_assert_header(r, "ETag", "\"1\"");
	/* the rows */
	assert_db_text(A.id,
	               "SELECT name || ' ' || start_date || ' ' || end_date || ' ' || period"
	               " || ' ' || status FROM fin.fiscal_years WHERE id = $1",
	               id, "FY2026 2026-01-01 2026-12-31 month open");
	assert_db_text(A.id,
	               "SELECT string_agg(name || ':' || status, ',' ORDER BY start_date)"
	               " FROM fin.periods WHERE fiscal_year_id = $1",
	               id,
	               "2026-01:open,2026-02:open,2026-03:open,2026-04:open,2026-05:open,2026-06:open,"
	               "2026-07:open,2026-08:open,2026-09:open,2026-10:open,2026-11:open,2026-12:open");
	/* the audit rows: the year and its twelve periods, by the admin */
	assert_int_equal(audit_count(id, "fiscal_years", "INSERT", A.admin.id), 1);
	assert_int_equal(db_long(A.id,
	                         "SELECT count(*) FROM audit.logs WHERE table_name = 'periods'"
	                         " AND action = 'INSERT' AND new ->> 'fiscal_year_id' = $1",
	                         id),
	                 12);
	/* the event: the year with its periods, as the answer */
	assert_int_equal(event_count(id, "keel.fiscal_year.created", r->body), 1);
	kt_resp *g = api("GET", A.viewer.token, NULL, "/api/v1/fiscal-years/%s", id);

	kt_assert_status(g, 200);
	assert_string_equal(g->body, r->body);
	kt_assert_header(g, "ETag", "\"1\"");
	kt_resp_free(g);
	free(location);
	free(org);
	kt_resp_free(r);
}

static void
year_of_quarters_names_them_by_the_year(void **state)
{
	(void)state;
	char *org = org_new();
	json_t *y = year_make(org, "FY26", "2026-04-01", "2027-03-31", "quarter");
	const char *id = kt_jstr(y, "id");
	json_t *periods = json_object_get(y, "periods");

	check_year(y, org, "FY26", "2026-04-01", "2027-03-31", "quarter", 4);
	check_open_period(json_array_get(periods, 0), org, id, "FY26-Q1", "2026-04-01", "2026-06-30");
	check_open_period(json_array_get(periods, 1), org, id, "FY26-Q2", "2026-07-01", "2026-09-30");
	check_open_period(json_array_get(periods, 2), org, id, "FY26-Q3", "2026-10-01", "2026-12-31");
	check_open_period(json_array_get(periods, 3), org, id, "FY26-Q4", "2027-01-01", "2027-03-31");
	/* the longest year: 24 months; the shortest: one month */
	json_decref(year_make(org, "FY27-28", "2027-04-01", "2029-03-31", "month"));
	json_t *one = year_make(org, "M", "2029-04-01", "2029-04-30", "month");

	check_year(one, org, "M", "2029-04-01", "2029-04-30", "month", 1);
	assert_int_equal(
	    db_long(A.id, "SELECT count(*) FROM fin.periods WHERE organization_id = $1", org),
	    4 + 24 + 1);
	json_decref(one);
	json_decref(y);
	free(org);
}

/* A body of the create and the field its 422 names. */
typedef struct bad_year {
	const char *body;
	const char *field;
} bad_year;

static void
year_create_rejects_invalid_input(void **state)
{
	(void)state;
	char *org = org_new();
	static const bad_year cases[] = {
	    {"{\"name\":\"FY 26\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "name"},
	    {"{\"name\":\"FY2026-2027\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "name"},
	    {"{\"name\":\"\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "name"},
	    {"{\"name\":26,\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "name"},
	    {"{\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\",\"period\":\"month\"}",
	     "name"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-02-30\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "start_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-1-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "start_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01T00:00:00Z\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "start_date"},
	    {"{\"name\":\"X\",\"start_date\":null,\"end_date\":\"2026-12-31\",\"period\":\"month\"}",
	     "start_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-02\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\"}",
	     "start_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-13-31\","
	     "\"period\":\"month\"}",
	     "end_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-30\","
	     "\"period\":\"month\"}",
	     "end_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-03-01\",\"end_date\":\"2026-02-28\","
	     "\"period\":\"month\"}",
	     "end_date"},
	    /* 25 months */
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2028-01-31\","
	     "\"period\":\"month\"}",
	     "end_date"},
	    /* 13 months are no whole number of quarters (fin.create_fiscal_year's rule) */
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2027-01-31\","
	     "\"period\":\"quarter\"}",
	     "end_date"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"week\"}",
	     "period"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\"}", "period"},
	    {"{\"name\":\"X\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	     "\"period\":\"month\",\"status\":\"closed\"}",
	     "status"},
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		kt_resp *r =
		    api("POST", A.admin.token, cases[i].body, "/api/v1/organizations/%s/fiscal-years", org);

		if (r->status != 422 || !kt_has_field_error(r, cases[i].field))
			fail_msg("%s: HTTP %ld, expected 422 naming %s; body: %s", cases[i].body, r->status,
			         cases[i].field, r->body);
		kt_assert_problem(r, 422, NULL, cases[i].field);
		kt_resp_free(r);
	}
	static const char *const malformed[] = {"{\"name\":", "[]", "\"FY\"", ""};

	for (size_t i = 0; i < NELEM(malformed); i++) {
		kt_resp *r =
		    api("POST", A.admin.token, malformed[i], "/api/v1/organizations/%s/fiscal-years", org);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(year_count(org), 0);
	free(org);
}

static void
year_create_refuses_overlaps_and_names_used(void **state)
{
	(void)state;
	char *org = org_new(), *other = org_new();

	json_decref(year_make(org, "FY30", "2030-01-01", "2030-12-31", "month"));
	kt_resp *r = year_post(A.admin.token, org, "FY31", "2030-12-01", "2031-11-30", "month");

	assert_conflict(r, "overlap");
	kt_resp_free(r);
	r = year_post(A.admin.token, org, "FY29", "2029-01-01", "2030-01-31", "month");
	assert_conflict(r, "overlap");
	kt_resp_free(r);
	r = year_post(A.admin.token, org, "FY30", "2031-01-01", "2031-12-31", "month");
	kt_assert_problem(r, 409, NULL, "name");
	kt_resp_free(r);
	assert_int_equal(year_count(org), 1);
	/* another organization has its own years and names */
	json_decref(year_make(other, "FY30", "2030-01-01", "2030-12-31", "quarter"));
	/* the next year, adjacent, is no overlap */
	json_decref(year_make(org, "FY31", "2031-01-01", "2031-12-31", "month"));
	assert_int_equal(year_count(org), 2);
	free(org);
	free(other);
}

static void
year_create_replays_an_idempotency_key(void **state)
{
	(void)state;
	char *org = org_new();
	char *body = year_body("FY40", "2040-01-01", "2040-12-31", "quarter");
	const char *key[] = {"Idempotency-Key: fy40-create", NULL};
	kt_resp *r1 = kt_call(&cl, "POST", A.admin.token, key, body,
	                      "/api/v1/organizations/%s/fiscal-years", org);
	kt_resp *r2 = kt_call(&cl, "POST", A.admin.token, key, body,
	                      "/api/v1/organizations/%s/fiscal-years", org);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	assert_int_equal(year_count(org), 1);
	kt_resp_free(r1);
	kt_resp_free(r2);
	free(body);
	free(org);
}

/* Every organization-scoped route of this part answers 404 and 409 as the organization is. */
static void
org_routes_need_the_organization_and_its_ledger(void **state)
{
	(void)state;
	char *bare = org_bare();
	char *theirs = kt_org_make(&cl, B.owner.token, "PB1");
	const char *orgs[] = {bare, theirs, "not-a-uuid", "0190a5e0-0000-7000-8000-000000000000"};
	const long want[] = {409, 404, 404, 404};

	kt_fin_ledger(app, B.id, theirs, "EUR");
	for (size_t i = 0; i < NELEM(orgs); i++) {
		kt_resp *r = year_post(A.admin.token, orgs[i], "FY", "2026-01-01", "2026-12-31", "month");

		kt_assert_problem(r, want[i], NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, "/api/v1/organizations/%s/fiscal-years", orgs[i]);
		kt_assert_problem(r, want[i], NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, "/api/v1/organizations/%s/periods", orgs[i]);
		kt_assert_problem(r, want[i], NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = year_post(A.admin.token, bare, "FY", "2026-01-01", "2026-12-31", "month");

	assert_non_null(strstr(kt_jstr(r->json, "detail"), "ledger"));
	kt_resp_free(r);
	assert_int_equal(year_count(bare), 0);
	free(bare);
	free(theirs);
}

/* Every item of a list walked page by page with limit: a JSON array. */
static json_t *
list_all(const char *token, const char *path, int limit)
{
	json_t *all = json_array();
	char *cursor = NULL;

	for (int pages = 0; pages < 100; pages++) {
		kt_resp *r = cursor ? api("GET", token, NULL, "%s?limit=%d&cursor=%s", path, limit, cursor)
		                    : api("GET", token, NULL, "%s?limit=%d", path, limit);

		kt_assert_status(r, 200);
		kt_assert_compact_body(r);
		json_t *data = json_object_get(r->json, "data");
		json_t *next = json_object_get(r->json, "next_cursor");

		assert_int_equal(json_object_size(r->json), 2);
		assert_true(json_array_size(data) <= (size_t)limit);
		json_array_extend(all, data);
		free(cursor);
		cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		if (cursor == NULL)
			assert_true(json_is_null(next));
		kt_resp_free(r);
		if (cursor == NULL)
			return all;
	}
	fail_msg("the list did not end");
	return NULL;
}

static void
lists_walk_years_and_periods_by_start_date(void **state)
{
	(void)state;
	char *org = org_new();
	/* made out of order: the lists are in date order all the same */
	json_t *y26 = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	json_t *y24 = year_make(org, "FY24", "2024-01-01", "2024-12-31", "month");
	json_t *y25 = year_make(org, "FY25", "2025-01-01", "2025-12-31", "quarter");
	char *years_path = kt_strf("/api/v1/organizations/%s/fiscal-years", org);
	char *periods_path = kt_strf("/api/v1/organizations/%s/periods", org);
	json_t *years = list_all(A.viewer.token, years_path, 1);
	const json_t *made[] = {y24, y25, y26};

	assert_int_equal(json_array_size(years), 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(json_equal(json_array_get(years, i), made[i]));
	for (int limit = 1; limit <= 200; limit = limit * 5 + 2) {
		json_t *periods = list_all(A.viewer.token, periods_path, limit);
		size_t i = 0;

		assert_int_equal(json_array_size(periods), 28);
		for (size_t y = 0; y < 3; y++) {
			json_t *own = json_object_get(made[y], "periods");

			for (size_t k = 0; k < json_array_size(own); k++, i++)
				assert_true(json_equal(json_array_get(periods, i), json_array_get(own, k)));
		}
		json_decref(periods);
	}
	/* a full last page has a cursor that leads to an empty page */
	kt_resp *r = api("GET", A.viewer.token, NULL, "%s?limit=3", years_path);

	kt_assert_status(r, 200);
	const char *next = kt_jstr(r->json, "next_cursor");
	kt_resp *r2 = api("GET", A.viewer.token, NULL, "%s?cursor=%s", years_path, next);

	kt_assert_status(r2, 200);
	assert_string_equal(r2->body, "{\"data\":[],\"next_cursor\":null}");
	/* a years cursor is no periods cursor */
	kt_resp *r3 = api("GET", A.viewer.token, NULL, "%s?cursor=%s", periods_path, next);

	kt_assert_problem(r3, 400, NULL, NULL);
	kt_resp_free(r);
	kt_resp_free(r2);
	kt_resp_free(r3);
	static const char *const bad[] = {"limit=0", "limit=201", "limit=x", "cursor=abc", "cursor=AQ"};

	for (size_t i = 0; i < NELEM(bad); i++) {
		r = api("GET", A.viewer.token, NULL, "%s?%s", years_path, bad[i]);
		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, "%s?%s", periods_path, bad[i]);
		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	json_decref(years);
	json_decref(y24);
	json_decref(y25);
	json_decref(y26);
	free(years_path);
	free(periods_path);
	free(org);
}

static void
year_get_is_404_for_ids_not_the_tenants(void **state)
{
	(void)state;
	char *theirs = kt_org_make(&cl, B.owner.token, "PB2");

	kt_fin_ledger(app, B.id, theirs, "EUR");
	char *their_year = kt_fin_year(app, B.id, theirs, "FYB", "2026-01-01", "2026-12-31", "month");
	const char *ids[] = {their_year, "not-a-uuid", "0190a5e0-0000-7000-8000-000000000000"};

	for (size_t i = 0; i < NELEM(ids); i++) {
		kt_resp *r = api("GET", A.owner.token, NULL, "/api/v1/fiscal-years/%s", ids[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = api("GET", B.owner.token, NULL, "/api/v1/fiscal-years/%s", their_year);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(their_year);
	free(theirs);
}

/* ---- periods: close, reopen, lock ---- */

/* A period's answer after an action: status, version, and the close's time and user. */
static void
check_acted(const kt_resp *r, const json_t *before, const char *status, long version,
            const char *closed_by)
{
	const json_t *p = r->json;

	assert_int_equal(json_object_size(p), 11);
	assert_string_equal(kt_jstr(p, "id"), kt_jstr(before, "id"));
	assert_string_equal(kt_jstr(p, "name"), kt_jstr(before, "name"));
	assert_string_equal(kt_jstr(p, "start_date"), kt_jstr(before, "start_date"));
	assert_string_equal(kt_jstr(p, "end_date"), kt_jstr(before, "end_date"));
	assert_string_equal(kt_jstr(p, "fiscal_year_id"), kt_jstr(before, "fiscal_year_id"));
	assert_string_equal(kt_jstr(p, "organization_id"), kt_jstr(before, "organization_id"));
	assert_string_equal(kt_jstr(p, "status"), status);
	assert_int_equal(json_integer_value(json_object_get(p, "version")), version);
	assert_string_equal(kt_jstr(p, "closed_by"), closed_by);
	assert_true(kt_is_rfc3339_ms(kt_jstr(p, "closed_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(p, "updated_at")));
	char *etag = kt_strf("\"%ld\"", version);

	kt_assert_header(r, "ETag", etag);
	free(etag);
}

static void
period_actions_answer_the_period_with_rows_audit_and_events(void **state)
{
	(void)state;
	char *org = org_new();
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	const json_t *jan = json_array_get(json_object_get(y, "periods"), 0);
	const char *id = kt_jstr(jan, "id");

	/* close (admin) */
	kt_resp *r = act(A.admin.token, id, "close", NULL);

	kt_assert_status(r, 200);
	kt_assert_compact_body(r);
	check_acted(r, jan, "closed", 2, A.admin.id);
	kt_resp_free(r);
	assert_db_text(A.id, "SELECT status FROM fin.periods WHERE id = $1", id, "closed");
	assert_db_text(A.id, "SELECT closed_by::text FROM fin.periods WHERE id = $1", id, A.admin.id);
	assert_int_equal(audit_count(id, "periods", "UPDATE", A.admin.id), 1);
	r = api("GET", A.viewer.token, NULL, "/api/v1/organizations/%s/periods?limit=1", org);
	kt_assert_status(r, 200);
	char *closed = json_dumps(json_array_get(json_object_get(r->json, "data"), 0), JSON_COMPACT);

	assert_int_equal(event_count(id, "keel.period.closed", closed), 1);
	kt_resp_free(r);
	free(closed);
	/* reopen (owner) with a reason: the audit row holds it */
	r = act(A.owner.token, id, "reopen", "an invoice was missed");
	kt_assert_status(r, 200);
	check_acted(r, jan, "open", 3, A.admin.id);
	assert_int_equal(event_count(id, "keel.period.reopened", r->body), 1);
	kt_resp_free(r);
	assert_int_equal(db_long(A.id,
	                         "SELECT count(*) FROM audit.logs WHERE record_id = $1"
	                         " AND action = 'UPDATE' AND new ->> 'status' = 'open'"
	                         " AND new ->> 'reopen_reason' = 'an invoice was missed'",
	                         id),
	                 1);
	assert_int_equal(audit_count(id, "periods", "UPDATE", A.owner.id), 1);
	/* close again (the owner may too), then lock (owner) */
	act_expect(A.owner.token, id, "close", NULL, 200);
	assert_db_text(A.id, "SELECT closed_by::text FROM fin.periods WHERE id = $1", id, A.owner.id);
	r = act(A.owner.token, id, "lock", NULL);
	kt_assert_status(r, 200);
	check_acted(r, jan, "locked", 5, A.owner.id);
	assert_int_equal(event_count(id, "keel.period.locked", r->body), 1);
	kt_resp_free(r);
	assert_db_text(A.id, "SELECT status || ' ' || version FROM fin.periods WHERE id = $1", id,
	               "locked 5");
	/* the year as read now shows it */
	r = api("GET", A.viewer.token, NULL, "/api/v1/fiscal-years/%s", kt_jstr(y, "id"));
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "periods"), 0), "status"),
	                    "locked");
	kt_resp_free(r);
	json_decref(y);
	free(org);
}

static void
period_actions_follow_the_order_rules(void **state)
{
	(void)state;
	char *org = org_new();
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	const char *jan = period_id(y, 0), *feb = period_id(y, 1), *mar = period_id(y, 2);
	kt_resp *r;

	/* close in order */
	r = act(A.admin.token, feb, "close", NULL);
	assert_conflict(r, "an earlier period is still open");
	kt_resp_free(r);
	act_expect(A.admin.token, jan, "close", NULL, 200);
	/* a repeated action names the state */
	r = act(A.admin.token, jan, "close", NULL);
	assert_conflict(r, "the period is closed");
	kt_resp_free(r);
	r = act(A.owner.token, feb, "reopen", "why not");
	assert_conflict(r, "the period is open");
	kt_resp_free(r);
	r = act(A.owner.token, feb, "lock", NULL);
	assert_conflict(r, "the period is open");
	kt_resp_free(r);
	act_expect(A.admin.token, feb, "close", NULL, 200);
	/* reopen only the latest closed one */
	r = act(A.owner.token, jan, "reopen", "too early");
	assert_conflict(r, "only the latest closed period can be reopened");
	kt_resp_free(r);
	/* lock earliest first */
	r = act(A.owner.token, feb, "lock", NULL);
	assert_conflict(r, "an earlier period is not locked");
	kt_resp_free(r);
	act_expect(A.owner.token, jan, "lock", NULL, 200);
	r = act(A.owner.token, jan, "lock", NULL);
	assert_conflict(r, "the period is locked");
	kt_resp_free(r);
	/* nothing leaves locked */
	r = act(A.owner.token, jan, "reopen", "locked");
	assert_conflict(r, "the period is locked");
	kt_resp_free(r);
	r = act(A.admin.token, jan, "close", NULL);
	assert_conflict(r, "the period is locked");
	kt_resp_free(r);
	/* the latest closed one reopens, then a later one closes after it only */
	act_expect(A.owner.token, feb, "reopen", "adjustments", 200);
	r = act(A.admin.token, mar, "close", NULL);
	assert_conflict(r, "an earlier period is still open");
	kt_resp_free(r);
	act_expect(A.admin.token, feb, "close", NULL, 200);
	act_expect(A.admin.token, mar, "close", NULL, 200);
	/* a closed fiscal year's periods are not reopened (the year marked closed by the owner
	 * role: only the year close, which needs every period closed, closes one) */
	char *sql =
	    kt_strf("UPDATE fin.fiscal_years SET status = 'closed' WHERE id = '%s'", kt_jstr(y, "id"));

	kt_pg_set_tenant(pg, A.id);
	kt_pg_exec(pg, sql);
	free(sql);
	r = act(A.owner.token, mar, "reopen", "the year is closed");
	assert_conflict(r, "the fiscal year is closed");
	kt_resp_free(r);
	assert_db_text(A.id,
	               "SELECT string_agg(status, ',' ORDER BY start_date) FROM fin.periods"
	               " WHERE fiscal_year_id = $1 AND start_date < '2026-05-01'",
	               kt_jstr(y, "id"), "locked,closed,closed,open");
	json_decref(y);
	free(org);
}

static void
reopen_needs_a_reason(void **state)
{
	(void)state;
	char *org = org_new();
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-03-31", "month");
	const char *jan = period_id(y, 0);
	char *long_reason = kt_repeat("r", 501), *max_reason = kt_repeat("r", 500);
	char *too_long = kt_strf("{\"reason\":\"%s\"}", long_reason);
	const bad_year cases[] = {
	    {"{}", "reason"},
	    {"{\"reason\":\"\"}", "reason"},
	    {"{\"reason\":\"   \"}", "reason"},
	    {"{\"reason\":null}", "reason"},
	    {"{\"reason\":5}", "reason"},
	    {"{\"reason\":\"x\",\"force\":true}", "force"},
	    {too_long, "reason"},
	};

	act_expect(A.admin.token, jan, "close", NULL, 200);
	for (size_t i = 0; i < NELEM(cases); i++) {
		kt_resp *r = api("POST", A.owner.token, cases[i].body, "/api/v1/periods/%s/reopen", jan);

		kt_assert_problem(r, 422, NULL, cases[i].field);
		kt_resp_free(r);
	}
	kt_resp *r = api("POST", A.owner.token, "{\"reason\":", "/api/v1/periods/%s/reopen", jan);

	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.owner.token, NULL, "/api/v1/periods/%s/reopen", jan);
	assert_true(r->status == 400 || r->status == 415);
	kt_resp_free(r);
	assert_db_text(A.id, "SELECT status FROM fin.periods WHERE id = $1", jan, "closed");
	act_expect(A.owner.token, jan, "reopen", max_reason, 200);
	assert_db_text(A.id, "SELECT char_length(reopen_reason)::text FROM fin.periods WHERE id = $1",
	               jan, "500");
	free(long_reason);
	free(max_reason);
	free(too_long);
	json_decref(y);
	free(org);
}

static void
roles_close_admin_reopen_and_lock_owner(void **state)
{
	(void)state;
	char *org = org_new();
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-03-31", "month");
	const char *jan = period_id(y, 0);
	kt_resp *r;

	/* creating a year: admin and owner */
	r = year_post(A.member.token, org, "FY27", "2027-01-01", "2027-12-31", "month");
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = year_post(A.viewer.token, org, "FY27", "2027-01-01", "2027-12-31", "month");
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = year_post(NULL, org, "FY27", "2027-01-01", "2027-12-31", "month");
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	json_decref(year_make(org, "FY27", "2027-01-01", "2027-12-31", "month"));
	r = year_post(A.owner.token, org, "FY28", "2028-01-01", "2028-12-31", "quarter");
	kt_assert_status(r, 201);
	kt_resp_free(r);
	/* reading: everyone of the tenant */
	const char *readers[] = {A.viewer.token, A.member.token, A.admin.token, A.owner.token};

	for (size_t i = 0; i < NELEM(readers); i++) {
		r = api("GET", readers[i], NULL, "/api/v1/organizations/%s/fiscal-years", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, "/api/v1/organizations/%s/periods", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, "/api/v1/fiscal-years/%s", kt_jstr(y, "id"));
		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	r = api("GET", NULL, NULL, "/api/v1/organizations/%s/periods", org);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	/* close: admin */
	act_expect(A.viewer.token, jan, "close", NULL, 403);
	act_expect(A.member.token, jan, "close", NULL, 403);
	act_expect(NULL, jan, "close", NULL, 401);
	act_expect(A.admin.token, jan, "close", NULL, 200);
	/* reopen and lock: owner */
	act_expect(A.admin.token, jan, "reopen", "admin", 403);
	act_expect(A.member.token, jan, "reopen", "member", 403);
	act_expect(A.admin.token, jan, "lock", NULL, 403);
	act_expect(A.viewer.token, jan, "lock", NULL, 403);
	assert_db_text(A.id, "SELECT status || ' ' || version FROM fin.periods WHERE id = $1", jan,
	               "closed 2");
	act_expect(A.owner.token, jan, "reopen", "owner", 200);
	act_expect(A.admin.token, jan, "close", NULL, 200);
	act_expect(A.owner.token, jan, "lock", NULL, 200);
	json_decref(y);
	free(org);
}

static void
period_actions_are_404_for_ids_not_the_tenants(void **state)
{
	(void)state;
	char *theirs = kt_org_make(&cl, B.owner.token, "PB3");

	kt_fin_ledger(app, B.id, theirs, "EUR");
	char *their_year = kt_fin_year(app, B.id, theirs, "FYB", "2026-01-01", "2026-12-31", "month");
	char *their_jan = kt_pg_tenant_value(
	    pg, B.id, "SELECT id::text FROM fin.periods WHERE fiscal_year_id = $1 AND name = '2026-01'",
	    (const char *[]){their_year, NULL});
	const char *ids[] = {their_jan, their_year, "not-a-uuid",
	                     "0190a5e0-0000-7000-8000-000000000000"};
	static const char *const actions[] = {"close", "reopen", "lock"};

	for (size_t i = 0; i < NELEM(ids); i++)
		for (size_t k = 0; k < NELEM(actions); k++) {
			kt_resp *r = act(A.owner.token, ids[i], actions[k], k == 1 ? "theirs" : NULL);

			kt_assert_problem(r, 404, NULL, NULL);
			kt_resp_free(r);
		}
	assert_int_equal(kt_pg_tenant_long(pg, B.id,
	                                   "SELECT count(*) FROM fin.periods WHERE status <> 'open'"
	                                   " OR version <> 1",
	                                   NULL),
	                 0);
	/* their own owner may */
	kt_resp *r = act(B.owner.token, their_jan, "close", NULL);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(their_jan);
	free(their_year);
	free(theirs);
}

/* ---- the database's rules, against raw SQL as keel_app ---- */

/* Run sql as keel_app in tenant A: fails the test unless PostgreSQL refuses it with state. */
static void
refused(const char *state, const char *sql)
{
	kt_pg_set_tenant(app, A.id);
	PGresult *res = PQexec(app, sql);
	const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || got == NULL || strcmp(got, state) != 0)
		fail_msg("%s: %s (SQLSTATE %s), expected SQLSTATE %s", sql,
		         PQresultStatus(res) == PGRES_FATAL_ERROR ? PQresultErrorMessage(res) : "succeeded",
		         got ? got : "none", state);
	PQclear(res);
}

static void
the_database_refuses_what_breaks_the_periods(void **state)
{
	(void)state;
	char *org = org_new();
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	const char *jan = period_id(y, 0), *feb = period_id(y, 1);
	char *sql;

	/* an overlapping year, however it is inserted */
	sql = kt_strf("SELECT fin.create_fiscal_year(audit.uuid_v7(now()), '%s', 'FYX',"
	              " '2026-06-01', '2027-05-31', 'month')",
	              org);
	refused("23P01", sql);
	free(sql);
	sql = kt_strf("INSERT INTO fin.fiscal_years (tenant_id, id, organization_id, name,"
	              " start_date, end_date, period) VALUES (core.current_tenant_id(),"
	              " audit.uuid_v7(now()), '%s', 'FYX', '2025-07-01', '2026-01-31', 'month')",
	              org);
	refused("23P01", sql);
	free(sql);
	/* a year longer than 24 months */
	sql = kt_strf("INSERT INTO fin.fiscal_years (tenant_id, id, organization_id, name,"
	              " start_date, end_date, period) VALUES (core.current_tenant_id(),"
	              " audit.uuid_v7(now()), '%s', 'FYL', '2030-01-01', '2032-01-31', 'month')",
	              org);
	refused("23514", sql);
	free(sql);
	/* an overlapping period */
	sql = kt_strf("INSERT INTO fin.periods (tenant_id, id, organization_id, fiscal_year_id, name,"
	              " start_date, end_date) VALUES (core.current_tenant_id(), audit.uuid_v7(now()),"
	              " '%s', '%s', 'extra', '2026-01-15', '2026-01-20')",
	              org, kt_jstr(y, "id"));
	refused("23P01", sql);
	free(sql);
	/* closing out of order */
	sql = kt_strf("UPDATE fin.periods SET status = 'closed' WHERE id = '%s'", feb);
	refused("KF409", sql);
	free(sql);
	/* changing a period's dates: keel_app may not, and the trigger would not let it */
	sql = kt_strf("UPDATE fin.periods SET end_date = '2026-02-28' WHERE id = '%s'", jan);
	refused("42501", sql);
	free(sql);
	/* reopening a locked period, or unlocking it */
	act_expect(A.admin.token, jan, "close", NULL, 200);
	act_expect(A.owner.token, jan, "lock", NULL, 200);
	sql =
	    kt_strf("UPDATE fin.periods SET status = 'open', reopen_reason = 'x' WHERE id = '%s'", jan);
	refused("KF409", sql);
	free(sql);
	sql = kt_strf("UPDATE fin.periods SET status = 'closed' WHERE id = '%s'", jan);
	refused("KF409", sql);
	free(sql);
	/* deleting periods or years: not granted */
	sql = kt_strf("DELETE FROM fin.periods WHERE id = '%s'", feb);
	refused("42501", sql);
	free(sql);
	assert_db_text(A.id,
	               "SELECT string_agg(status, ',' ORDER BY start_date) FROM fin.periods"
	               " WHERE fiscal_year_id = $1 AND start_date < '2026-03-01'",
	               kt_jstr(y, "id"), "locked,open");
	assert_int_equal(year_count(org), 1);
	json_decref(y);
	free(org);
}

/* ---- a close racing a posting ---- */

/* A keel_app connection in tenant A with a transaction begun. */
static PGconn *
begin_app(void)
{
	PGconn *c = kt_pg_app();

	kt_pg_set_tenant(c, A.id);
	kt_pg_exec(c, "BEGIN");
	return c;
}

static void
a_close_waits_for_a_posting_in_flight(void **state)
{
	(void)state;
	char *org = org_new(), *debit, *credit;
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	const char *jan = period_id(y, 0);

	accounts_make(org, &debit, &credit);
	char *entry = draft_make(org, debit, credit, "2026-01-31", false);
	PGconn *c = begin_app();
	char *sql = kt_strf("SELECT fin.post_entry('%s')", entry);

	kt_pg_exec(c, sql);
	kt_async q = {.base = srv->base, .method = "POST", .token = A.admin.token};

	snprintf(q.path, sizeof(q.path), "/api/v1/periods/%s/close", jan);
	kt_async_start(&q);
	kt_wait_lock_waiters(c, 1);
	assert_db_text(A.id, "SELECT status FROM fin.periods WHERE id = $1", jan, "open");
	kt_pg_exec(c, "COMMIT");
	kt_resp *r = kt_async_finish(&q);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "closed");
	assert_db_text(A.id, "SELECT status || ' ' || number FROM fin.journal_entries WHERE id = $1",
	               entry, "posted GEN-FY26-000001");
	kt_resp_free(r);
	/* and a posting now finds the period closed */
	char *late = draft_make(org, debit, credit, "2026-01-15", false);

	free(sql);
	sql = kt_strf("SELECT fin.post_entry('%s')", late);
	refused("KF422", sql);
	PQfinish(c);
	free(sql);
	free(late);
	free(entry);
	free(debit);
	free(credit);
	json_decref(y);
	free(org);
}

static void
a_posting_waits_for_a_close_in_flight_and_then_fails(void **state)
{
	(void)state;
	char *org = org_new(), *debit, *credit;
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	const char *jan = period_id(y, 0);

	accounts_make(org, &debit, &credit);
	free(draft_make(org, debit, credit, "2026-01-10", true));
	char *entry = draft_make(org, debit, credit, "2026-01-20", false);
	const char *counter_sql = "SELECT string_agg(journal || ':' || last, ',') FROM"
	                          " fin.entry_counters WHERE organization_id = $1";

	assert_db_text(A.id, counter_sql, org, "general:1");
	PGconn *closer = begin_app(), *poster = kt_pg_app();
	char *sql = kt_strf("UPDATE fin.periods SET status = 'closed', closed_at = now(),"
	                    " version = version + 1 WHERE id = '%s'",
	                    jan);

	kt_pg_exec(closer, sql);
	kt_pg_set_tenant(poster, A.id);
	const char *p[] = {entry};

	assert_int_equal(
	    PQsendQueryParams(poster, "SELECT fin.post_entry($1)", 1, NULL, p, NULL, NULL, 0), 1);
	kt_wait_lock_waiters(closer, 1);
	kt_pg_exec(closer, "COMMIT");
	PGresult *res = PQgetResult(poster);
	const char *state_got = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(state_got);
	assert_string_equal(state_got, "KF422");
	assert_non_null(strstr(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), "closed"));
	PQclear(res);
	while ((res = PQgetResult(poster)) != NULL)
		PQclear(res);
	assert_db_text(A.id, "SELECT status FROM fin.journal_entries WHERE id = $1", entry, "draft");
	assert_db_text(A.id, counter_sql, org, "general:1");
	assert_int_equal(
	    db_long(A.id, "SELECT count(*) FROM fin.postings WHERE organization_id = $1", org), 2);
	PQfinish(closer);
	PQfinish(poster);
	free(sql);
	free(entry);
	free(debit);
	free(credit);
	json_decref(y);
	free(org);
}

/* Whether the period (arg) is closed, as committed. */
static bool
period_closed(void *arg)
{
	char *status = kt_pg_tenant_value(pg, A.id, "SELECT status FROM fin.periods WHERE id = $1",
	                                  (const char *[]){arg, NULL});
	bool closed = status != NULL && strcmp(status, "closed") == 0;

	free(status);
	return closed;
}

/*
 * A posting whose transaction made its draft too (as a create with post: true does) holds
 * the ledger's row FOR KEY SHARE (the entry's foreign key) from the insert on: a close must
 * not wait for that, or the posting, waiting for the close's period, deadlocks with it.
 */
static void
a_close_does_not_wait_for_a_draft_made_in_a_posting_transaction(void **state)
{
	(void)state;
	char *org = org_new(), *debit, *credit;
	json_t *y = year_make(org, "FY26", "2026-01-01", "2026-12-31", "month");
	char *jan = strdup(period_id(y, 0));

	accounts_make(org, &debit, &credit);
	char *entry = kt_pg_tenant_value(pg, A.id, "SELECT audit.uuid_v7(now())::text", NULL);
	PGconn *c = begin_app();
	const char *p[] = {entry, org, debit, credit, NULL};
	PGresult *res = PQexecParams(
	    c,
	    "INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, date,"
	    " currency) VALUES (core.current_tenant_id(), $1, $2, 'general', '2026-01-20', 'EUR')",
	    2, NULL, p, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	res = PQexecParams(c,
	                   "INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id,"
	                   " line_no, account_id, debit, credit, currency, functional_debit,"
	                   " functional_credit) VALUES"
	                   " (core.current_tenant_id(), audit.uuid_v7(now()), $2, $1, 1, $3, 500, 0,"
	                   " 'EUR', 500, 0),"
	                   " (core.current_tenant_id(), audit.uuid_v7(now()), $2, $1, 2, $4, 0, 500,"
	                   " 'EUR', 0, 500)",
	                   4, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	kt_async q = {.base = srv->base, .method = "POST", .token = A.admin.token};

	snprintf(q.path, sizeof(q.path), "/api/v1/periods/%s/close", jan);
	kt_async_start(&q);
	bool closed = kt_wait_until(period_closed, jan, KT_WAIT_MS);

	if (!closed)
		kt_pg_exec(c, "ROLLBACK"); /* let the close go, then fail */
	kt_resp *r = kt_async_finish(&q);

	assert_true(closed);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	res = PQexecParams(c, "SELECT fin.post_entry($1)", 1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "KF422");
	PQclear(res);
	kt_pg_exec(c, "ROLLBACK");
	PQfinish(c);
	free(entry);
	free(jan);
	free(debit);
	free(credit);
	json_decref(y);
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
	    cmocka_unit_test(year_create_answers_201_with_its_months),
	    cmocka_unit_test(year_of_quarters_names_them_by_the_year),
	    cmocka_unit_test(year_create_rejects_invalid_input),
	    cmocka_unit_test(year_create_refuses_overlaps_and_names_used),
	    cmocka_unit_test(year_create_replays_an_idempotency_key),
	    cmocka_unit_test(org_routes_need_the_organization_and_its_ledger),
	    cmocka_unit_test(lists_walk_years_and_periods_by_start_date),
	    cmocka_unit_test(year_get_is_404_for_ids_not_the_tenants),
	    cmocka_unit_test(period_actions_answer_the_period_with_rows_audit_and_events),
	    cmocka_unit_test(period_actions_follow_the_order_rules),
	    cmocka_unit_test(reopen_needs_a_reason),
	    cmocka_unit_test(roles_close_admin_reopen_and_lock_owner),
	    cmocka_unit_test(period_actions_are_404_for_ids_not_the_tenants),
	    cmocka_unit_test(the_database_refuses_what_breaks_the_periods),
	    cmocka_unit_test(a_close_waits_for_a_posting_in_flight),
	    cmocka_unit_test(a_posting_waits_for_a_close_in_flight_and_then_fails),
	    cmocka_unit_test(a_close_does_not_wait_for_a_draft_made_in_a_posting_transaction),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("fin_period", tests, setup, teardown);
}
