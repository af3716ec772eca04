/*
 * The ledger, the currencies and the chart of accounts end to end: the real keel binary over
 * HTTP against a freshly migrated database of this program's own.
 *
 * What is tested: every route's success answer (status, every field of the body, Location,
 * ETag), the row it leaves, its audit row and its event in the outbox; every refusal (400,
 * 404, 409, 412, 422) with nothing written; the role matrix; another tenant's ids (404 in the
 * path, 422 in a body); keyset pages of the chart in code order; and the database's own rules
 * for keel_app (composite foreign keys, column grants), by raw SQL that PostgreSQL must refuse.
 *
 * keel starts once for the group and the tenants and users are made once; each test makes its
 * own organizations and never relies on another test's rows.  Rows are read back as
 * keel_owner inside the tenant (row-level security filters it like everyone else).
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

#include "fin/fin_int.h"
#include "kt.h"
#include "kt_fin.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
#define ORGS     "/api/v1/organizations"
#define ACCOUNTS "/api/v1/accounts"
#define NIL_UUID "00000000-0000-7000-8000-000000000000"

static kt_keel *srv;
static kt_client cl;   /* requests to srv */
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app, for the rules the database keeps */
static kt_tenant A, B; /* A: most tests; B: the other tenant */
static int seq;        /* makes codes unique within the program */

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("fin_ledger", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "fin-ledger-a", PASSWORD);
	kt_tenant_make(&cl, &B, "fin-ledger-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	kt_tenant_user(&cl, &B, &B.admin, "admin", "admin");
	app = kt_pg_app();
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

/* ---- making things ---- */

static char *
fresh_code(const char *prefix)
{
	return kt_strf("%s%d", prefix, ++seq);
}

/* An organization of t (made by its owner) with a fresh code. */
static char *
org_new(const kt_tenant *t)
{
	char *code = fresh_code("L");
	char *id = kt_org_make(&cl, t->owner.token, code);

	free(code);
	return id;
}

/* An organization of t with a ledger in currency, opened through the API. */
static char *
org_with_ledger(const kt_tenant *t, const char *currency)
{
	char *org = org_new(t);
	char *body = kt_strf("{\"currency\":\"%s\"}", currency);
	kt_resp *r = api("POST", t->owner.token, NULL, body, ORGS "/%s/ledger", org);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);
	return org;
}

/* An account made through the API (parent NULL: top level); fails unless 201.  Its id. */
static char *
account_new(const kt_tenant *t, const char *org, const char *code, const char *type,
            const char *parent, bool is_group)
{
	char *p = parent != NULL ? kt_strf("\"%s\"", parent) : strdup("null");
	char *body =
	    kt_strf("{\"code\":\"%s\",\"name\":\"Account %s\",\"type\":\"%s\",\"parent_id\":%s,"
	            "\"is_group\":%s}",
	            code, code, type, p, is_group ? "true" : "false");
	kt_resp *r = api("POST", t->owner.token, NULL, body, ORGS "/%s/accounts", org);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	free(p);
	return id;
}

/* ---- the database ---- */

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
account_count(const kt_tenant *t, const char *org)
{
	return count_in(t, "SELECT count(*) FROM fin.accounts WHERE organization_id = $1", org, NULL);
}

static long
ledger_count(const kt_tenant *t, const char *org)
{
	return count_in(t, "SELECT count(*) FROM fin.ledgers WHERE organization_id = $1", org, NULL);
}

/* The audit rows of table (fin.<table>) for record id with action, made by actor. */
static long
audit_count(const kt_tenant *t, const char *table, const char *action, const char *id,
            const char *actor)
{
	char *sql = kt_strf("SELECT count(*) FROM audit.logs WHERE schema_name = 'fin'"
	                    " AND table_name = '%s' AND action = '%s' AND record_id = $1"
	                    " AND actor_id = $2",
	                    table, action);
	long n = count_in(t, sql, id, actor);

	free(sql);
	return n;
}

/* The latest event of type about subject has data equal to want (and its topic's type). */
static void
assert_event(const kt_tenant *t, const char *type, const char *subject, const json_t *want)
{
	char *data = kt_pg_tenant_value(pg, t->id,
	                                "SELECT data::text FROM events.outbox WHERE type = $1"
	                                " AND subject = $2 ORDER BY seq DESC LIMIT 1",
	                                (const char *[]){type, subject, NULL});

	if (data == NULL)
		fail_msg("no %s event about %s", type, subject);
	json_t *got = json_loads(data, 0, NULL);

	if (!json_equal(got, want))
		fail_msg("%s event data %s, expected the answer's body", type, data);
	json_decref(got);
	free(data);
}

static long
event_count(const kt_tenant *t, const char *type, const char *subject)
{
	return count_in(t, "SELECT count(*) FROM events.outbox WHERE type = $1 AND subject = $2", type,
	                subject);
}

/*
 * sql as keel_app in tenant t with params (NULL-terminated): PostgreSQL must refuse it with
 * sqlstate, and with constraint when that is not NULL.
 */
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

/* ---- what the API answers ---- */

static const char *const ledger_accounts[] = {"rounding_account_id", "retained_earnings_account_id",
                                              "intercompany_receivable_account_id",
                                              "intercompany_payable_account_id"};

/* A string member that is want (NULL: JSON null). */
static void
assert_str_or_null(const json_t *o, const char *key, const char *want)
{
	const json_t *v = json_object_get(o, key);

	if (want == NULL) {
		if (!json_is_null(v))
			fail_msg("%s is not null", key);
	} else {
		if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
			fail_msg("%s is not \"%s\"", key, want);
	}
}

/* Every field of a ledger; accounts[i] the value of ledger_accounts[i] (NULL: null). */
static void
check_ledger(const json_t *o, const char *org, const char *currency, const char *const accounts[4],
             long version)
{
	assert_string_equal(kt_jstr(o, "organization_id"), org);
	assert_string_equal(kt_jstr(o, "currency"), currency);
	for (int i = 0; i < 4; i++)
		assert_str_or_null(o, ledger_accounts[i], accounts != NULL ? accounts[i] : NULL);
	assert_true(json_is_integer(json_object_get(o, "version")));
	assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 9);
}

/* The ledger's row as the API rendered it. */
static void
check_ledger_row(const kt_tenant *t, const json_t *o)
{
	PGresult *res = kt_pg_tenant_query(
	    pg, t->id,
	    "SELECT id, currency, rounding_account_id, retained_earnings_account_id,"
	    " intercompany_receivable_account_id, intercompany_payable_account_id, version,"
	    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	    " FROM fin.ledgers WHERE organization_id = $1",
	    (const char *[]){kt_jstr(o, "organization_id"), NULL});

	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), kt_jstr(o, "organization_id"));
	assert_string_equal(PQgetvalue(res, 0, 1), kt_jstr(o, "currency"));
	for (int i = 0; i < 4; i++)
		assert_str_or_null(o, ledger_accounts[i],
		                   PQgetisnull(res, 0, 2 + i) ? NULL : PQgetvalue(res, 0, 2 + i));
	assert_int_equal(atol(PQgetvalue(res, 0, 6)),
	                 json_integer_value(json_object_get(o, "version")));
	assert_string_equal(PQgetvalue(res, 0, 7), kt_jstr(o, "created_at"));
	assert_string_equal(PQgetvalue(res, 0, 8), kt_jstr(o, "updated_at"));
	PQclear(res);
}

/* What an account should be. */
typedef struct want_account {
	const char *org, *code, *name, *type, *parent_id, *currency, *status;
	bool is_group, requires_division, revalue;
	long version;
} want_account;

static void
check_account(const json_t *o, const want_account *w)
{
	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "organization_id"), w->org);
	assert_string_equal(kt_jstr(o, "code"), w->code);
	assert_string_equal(kt_jstr(o, "name"), w->name);
	assert_string_equal(kt_jstr(o, "type"), w->type);
	assert_str_or_null(o, "parent_id", w->parent_id);
	assert_true(json_is_boolean(json_object_get(o, "is_group")));
	assert_int_equal(json_is_true(json_object_get(o, "is_group")), w->is_group);
	assert_str_or_null(o, "currency", w->currency);
	assert_true(json_is_boolean(json_object_get(o, "requires_division")));
	assert_int_equal(json_is_true(json_object_get(o, "requires_division")), w->requires_division);
	assert_true(json_is_boolean(json_object_get(o, "revalue")));
	assert_int_equal(json_is_true(json_object_get(o, "revalue")), w->revalue);
	assert_string_equal(kt_jstr(o, "status"), w->status);
	assert_int_equal(json_integer_value(json_object_get(o, "version")), w->version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 14);
}

/* The account's row, rendered as the API does, equals o. */
static void
check_account_row(const kt_tenant *t, const json_t *o)
{
	char *text = kt_pg_tenant_value(
	    pg, t->id,
	    "SELECT json_build_object('id', id, 'organization_id', organization_id, 'code', code,"
	    " 'name', name, 'type', type, 'parent_id', parent_id, 'is_group', is_group,"
	    " 'currency', currency, 'requires_division', requires_division, 'revalue', revalue,"
	    " 'status', status, 'version', version,"
	    " 'created_at', to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " 'updated_at', to_char(updated_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
	    "::text FROM fin.accounts WHERE id = $1",
	    (const char *[]){kt_jstr(o, "id"), NULL});

	assert_non_null(text);
	json_t *row = json_loads(text, 0, NULL);

	if (!json_equal(row, o))
		fail_msg("row %s differs from the answer", text);
	json_decref(row);
	free(text);
}

/* ---- the ledger ---- */

static void
ledger_create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_new(&A);
	kt_resp *r = api("POST", A.admin.token, NULL, "{\"currency\":\"EUR\"}", ORGS "/%s/ledger", org);

	kt_assert_status(r, 201);
	kt_assert_header(r, "ETag", "\"1\"");
	kt_assert_header(r, "Content-Type", "application/json");
	char *location = kt_strf(ORGS "/%s/ledger", org);

	kt_assert_header(r, "Location", location);
	check_ledger(r->json, org, "EUR", NULL, 1);
	check_ledger_row(&A, r->json);
	kt_assert_compact_body(r);
	assert_int_equal(audit_count(&A, "ledgers", "INSERT", org, A.admin.id), 1);
	assert_event(&A, "keel.ledger.created", org, r->json);

	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/ledger", org);

	kt_assert_status(g, 200);
	kt_assert_header(g, "ETag", "\"1\"");
	assert_true(json_equal(g->json, r->json));
	kt_resp_free(g);
	kt_resp_free(r);
	free(location);
	free(org);
}

static void
ledger_patch_sets_and_unsets_its_accounts(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "JPY");
	char *acc[4];

	for (int i = 0; i < 4; i++) {
		char *code = fresh_code("LA");

		acc[i] = account_new(&A, org, code, i < 2 ? "equity" : "asset", NULL, false);
		free(code);
	}
	char *body = kt_strf("{\"rounding_account_id\":\"%s\",\"retained_earnings_account_id\":\"%s\","
	                     "\"intercompany_receivable_account_id\":\"%s\","
	                     "\"intercompany_payable_account_id\":\"%s\"}",
	                     acc[0], acc[1], acc[2], acc[3]);
	const char *match1[] = {"If-Match: \"1\"", NULL};
	kt_resp *r = api("PATCH", A.admin.token, match1, body, ORGS "/%s/ledger", org);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	check_ledger(r->json, org, "JPY", (const char *const *)acc, 2);
	check_ledger_row(&A, r->json);
	assert_int_equal(audit_count(&A, "ledgers", "UPDATE", org, A.admin.id), 1);
	assert_event(&A, "keel.ledger.updated", org, r->json);
	kt_resp_free(r);

	/* null unsets one; the others stay */
	r = api("PATCH", A.admin.token, NULL, "{\"rounding_account_id\":null}", ORGS "/%s/ledger", org);
	kt_assert_status(r, 200);
	const char *want[] = {NULL, acc[1], acc[2], acc[3]};

	check_ledger(r->json, org, "JPY", want, 3);
	check_ledger_row(&A, r->json);
	assert_int_equal(event_count(&A, "keel.ledger.updated", org), 2);
	kt_resp_free(r);
	for (int i = 0; i < 4; i++)
		free(acc[i]);
	free(body);
	free(org);
}

static void
ledger_create_refusals(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *b_org = org_new(&B);
	struct {
		const char *body;
		long status;
		const char *field;
	} cases[] = {
	    {"{\"currency\":\"XXX\"}", 422, "currency"}, /* the right shape, no such currency */
	    {"{\"currency\":\"eur\"}", 422, "currency"},
	    {"{\"currency\":\"EURO\"}", 422, "currency"},
	    {"{\"currency\":978}", 422, "currency"},
	    {"{\"currency\":null}", 422, "currency"},
	    {"{}", 422, "currency"},
	    {"{\"currency\":\"EUR\",\"rounding_account_id\":null}", 422, "rounding_account_id"},
	    {"{\"currency\":", 400, NULL},
	    {"[\"EUR\"]", 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, cases[i].body, ORGS "/%s/ledger", org);

		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
	}
	assert_int_equal(ledger_count(&A, org), 0);

	/* the path: unknown, not a UUID, another tenant's organization */
	const char *paths[] = {NIL_UUID, "not-a-uuid", b_org};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r =
		    api("POST", A.admin.token, NULL, "{\"currency\":\"EUR\"}", ORGS "/%s/ledger", paths[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/ledger", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(ledger_count(&B, b_org), 0);

	/* no ledger yet: GET is 404 saying so; once only: the second is 409 */
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/ledger", org);

	kt_assert_problem(r, 404, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "no ledger"));
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"currency\":\"EUR\"}", ORGS "/%s/ledger", org);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"currency\":\"USD\"}", ORGS "/%s/ledger", org);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM fin.ledgers WHERE id = $1 AND currency = 'EUR'",
	                          org, NULL),
	                 1);
	assert_int_equal(event_count(&A, "keel.ledger.created", org), 1);
	free(b_org);
	free(org);
}

static void
ledger_create_honours_idempotency_key(void **state)
{
	(void)state;
	char *org = org_new(&A);
	const char *key[] = {"Idempotency-Key: ledger-once", NULL};
	kt_resp *r1 = api("POST", A.admin.token, key, "{\"currency\":\"CHF\"}", ORGS "/%s/ledger", org);
	kt_resp *r2 = api("POST", A.admin.token, key, "{\"currency\":\"CHF\"}", ORGS "/%s/ledger", org);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	char *location = kt_strf(ORGS "/%s/ledger", org);

	kt_assert_header(r2, "Location", location);
	free(location);
	assert_int_equal(event_count(&A, "keel.ledger.created", org), 1);
	kt_resp_free(r2);

	/* the same key with another body: 422, nothing written */
	r2 = api("POST", A.admin.token, key, "{\"currency\":\"USD\"}", ORGS "/%s/ledger", org);
	kt_assert_problem(r2, 422, NULL, NULL);
	kt_resp_free(r2);
	kt_resp_free(r1);
	free(org);
}

/*
 * Two creates of one organization's ledger at once: both find no ledger, then wait on the
 * organization's row (held here; the second is sent once the first waits, so that keel has a
 * worker free for it); let go, one opens the ledger and the other is 409.
 */
static void
ledger_create_race_opens_one_ledger(void **state)
{
	(void)state;
	/* a keel of its own whose statements wait for the test's lock as long as it takes */
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	char *org = org_new(&A);
	PGconn *hold = kt_pg_owner();
	const char *bodies[] = {"{\"currency\":\"EUR\"}", "{\"currency\":\"USD\"}"};
	kt_async q[2];

	kt_pg_exec(hold, "BEGIN");
	PGresult *locked =
	    kt_pg_tenant_query(hold, A.id, "SELECT id FROM org.organizations WHERE id = $1 FOR UPDATE",
	                       (const char *[]){org, NULL});

	assert_int_equal(PQntuples(locked), 1);
	PQclear(locked);
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){
		    .base = k->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), ORGS "/%s/ledger", org);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(hold, i + 1);
	}
	kt_pg_exec(hold, "COMMIT");
	PQfinish(hold);
	kt_resp *r0 = kt_async_finish(&q[0]), *r1 = kt_async_finish(&q[1]);
	kt_resp *won = r0->status == 201 ? r0 : r1, *lost = won == r0 ? r1 : r0;

	kt_assert_status(won, 201);
	kt_assert_problem(lost, 409, NULL, NULL);
	assert_int_equal(ledger_count(&A, org), 1);
	assert_int_equal(event_count(&A, "keel.ledger.created", org), 1);
	check_ledger_row(&A, won->json);
	kt_resp_free(r0);
	kt_resp_free(r1);
	free(org);
	kt_keel_stop_clean(&k, NULL);
}

static void
ledger_patch_refusals(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *other = org_with_ledger(&A, "EUR");
	char *b_org = org_with_ledger(&B, "EUR");
	char *code = fresh_code("LP");
	char *mine = account_new(&A, org, code, "asset", NULL, false);
	char *theirs = account_new(&A, other, code, "asset", NULL, false);
	char *foreign = account_new(&B, b_org, code, "asset", NULL, false);
	char *body;
	kt_resp *r;

	/* an account of another organization or tenant, in each field */
	for (int i = 0; i < 4; i++) {
		const char *ids[] = {theirs, foreign, NIL_UUID};

		for (int j = 0; j < 3; j++) {
			body = kt_strf("{\"%s\":\"%s\"}", ledger_accounts[i], ids[j]);
			r = api("PATCH", A.admin.token, NULL, body, ORGS "/%s/ledger", org);
			kt_assert_problem(r, 422, NULL, ledger_accounts[i]);
			kt_resp_free(r);
			free(body);
		}
	}
	struct {
		const char *body;
		long status;
		const char *field;
	} cases[] = {
	    {"{\"currency\":\"USD\"}", 422, "currency"}, /* never changes */
	    {"{\"rounding_account_id\":\"nope\"}", 422, "rounding_account_id"},
	    {"{\"rounding_account_id\":7}", 422, "rounding_account_id"},
	    {"{}", 422, NULL},
	    {"{\"rounding_account_id\":", 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = api("PATCH", A.admin.token, NULL, cases[i].body, ORGS "/%s/ledger", org);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
	}

	/* If-Match of another version: 412 */
	body = kt_strf("{\"rounding_account_id\":\"%s\"}", mine);
	const char *stale[] = {"If-Match: \"7\"", NULL};

	r = api("PATCH", A.admin.token, stale, body, ORGS "/%s/ledger", org);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM fin.ledgers WHERE id = $1 AND version = 1"
	                          " AND rounding_account_id IS NULL",
	                          org, NULL),
	                 1);

	/* no ledger, another tenant's ledger, not a UUID: 404 */
	char *bare = org_new(&A);
	const char *paths[] = {bare, b_org, "x"};

	for (int i = 0; i < 3; i++) {
		r = api("PATCH", A.admin.token, NULL, body, ORGS "/%s/ledger", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(event_count(&A, "keel.ledger.updated", org), 0);

	/* its own account is fine */
	r = api("PATCH", A.admin.token, (const char *[]){"If-Match: \"1\"", NULL}, body,
	        ORGS "/%s/ledger", org);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(bare);
	free(body);
	free(mine);
	free(theirs);
	free(foreign);
	free(code);
	free(b_org);
	free(other);
	free(org);
}

/* ---- currencies ---- */

static void
currencies_are_public_and_in_code_order(void **state)
{
	(void)state;
	kt_resp *r = api("GET", NULL, NULL, NULL, "/api/v1/currencies");

	kt_assert_status(r, 200);
	kt_assert_compact_body(r);
	json_t *data = json_object_get(r->json, "data");

	assert_true(json_is_array(data));
	assert_int_equal(json_array_size(data), 168);
	assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
	assert_int_equal(json_object_size(r->json), 2);
	size_t i;
	json_t *c;
	const char *prev = "";
	int seen = 0;

	json_array_foreach(data, i, c)
	{
		assert_int_equal(json_object_size(c), 3);
		assert_true(strcmp(prev, kt_jstr(c, "code")) < 0);
		prev = kt_jstr(c, "code");
		long units = json_integer_value(json_object_get(c, "minor_units"));

		assert_true(json_is_integer(json_object_get(c, "minor_units")));
		assert_true(json_is_string(json_object_get(c, "name")));
		if (strcmp(prev, "EUR") == 0)
			seen += units == 2 && strcmp(kt_jstr(c, "name"), "Euro") == 0;
		if (strcmp(prev, "JPY") == 0)
			seen += units == 0;
		if (strcmp(prev, "KWD") == 0)
			seen += units == 3;
		if (strcmp(prev, "CLF") == 0)
			seen += units == 4;
	}
	assert_int_equal(seen, 4);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "code"), "AED");
	kt_resp_free(r);

	/* a token changes nothing */
	r = api("GET", A.viewer.token, NULL, NULL, "/api/v1/currencies");
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 168);
	kt_resp_free(r);
}

/* ---- accounts ---- */

static void
account_create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *gcode = fresh_code("1");
	char *code = fresh_code("1.1-x_");
	char *body = kt_strf("{\"code\":\"%s\",\"name\":\" Current assets \",\"type\":\"asset\","
	                     "\"is_group\":true}",
	                     gcode);
	kt_resp *g = api("POST", A.admin.token, NULL, body, ORGS "/%s/accounts", org);

	kt_assert_status(g, 201);
	kt_assert_header(g, "ETag", "\"1\"");
	want_account wg = {.org = org,
	                   .code = gcode,
	                   .name = "Current assets",
	                   .type = "asset",
	                   .status = "active",
	                   .is_group = true,
	                   .version = 1};

	check_account(g->json, &wg);
	char *location = kt_strf(ACCOUNTS "/%s", kt_jstr(g->json, "id"));

	kt_assert_header(g, "Location", location);
	check_account_row(&A, g->json);
	kt_assert_compact_body(g);
	assert_int_equal(audit_count(&A, "accounts", "INSERT", kt_jstr(g->json, "id"), A.admin.id), 1);
	assert_event(&A, "keel.account.created", kt_jstr(g->json, "id"), g->json);
	free(body);

	body = kt_strf("{\"code\":\"%s\",\"name\":\"Bank USD\",\"type\":\"asset\",\"parent_id\":\"%s\","
	               "\"is_group\":false,\"currency\":\"USD\",\"requires_division\":true,"
	               "\"revalue\":true}",
	               code, kt_jstr(g->json, "id"));
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS "/%s/accounts", org);

	kt_assert_status(r, 201);
	want_account wc = {.org = org,
	                   .code = code,
	                   .name = "Bank USD",
	                   .type = "asset",
	                   .parent_id = kt_jstr(g->json, "id"),
	                   .currency = "USD",
	                   .status = "active",
	                   .requires_division = true,
	                   .revalue = true,
	                   .version = 1};

	check_account(r->json, &wc);
	check_account_row(&A, r->json);
	assert_event(&A, "keel.account.created", kt_jstr(r->json, "id"), r->json);

	kt_resp *got = api("GET", A.viewer.token, NULL, NULL, ACCOUNTS "/%s", kt_jstr(r->json, "id"));

	kt_assert_status(got, 200);
	kt_assert_header(got, "ETag", "\"1\"");
	assert_true(json_equal(got->json, r->json));
	kt_resp_free(got);
	kt_resp_free(r);
	kt_resp_free(g);
	free(location);
	free(body);
	free(code);
	free(gcode);
	free(org);
}

static void
account_create_honours_idempotency_key(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *code = fresh_code("I");
	char *body = kt_strf("{\"code\":\"%s\",\"name\":\"n\",\"type\":\"income\"}", code);
	const char *key[] = {"Idempotency-Key: account-once", NULL};
	kt_resp *r1 = api("POST", A.admin.token, key, body, ORGS "/%s/accounts", org);
	kt_resp *r2 = api("POST", A.admin.token, key, body, ORGS "/%s/accounts", org);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	assert_int_equal(account_count(&A, org), 1);
	kt_resp_free(r1);
	kt_resp_free(r2);
	free(body);
	free(code);
	free(org);
}

static void
account_create_refusals(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *other = org_with_ledger(&A, "EUR");
	char *b_org = org_with_ledger(&B, "EUR");
	char *c1 = fresh_code("G"), *c2 = fresh_code("G"), *c3 = fresh_code("G"), *c4 = fresh_code("G");
	char *group = account_new(&A, org, c1, "asset", NULL, true);
	char *leaf = account_new(&A, org, c2, "asset", NULL, false);
	char *other_group = account_new(&A, other, c3, "asset", NULL, true);
	char *foreign_group = account_new(&B, b_org, c4, "asset", NULL, true);
	char *long_name = kt_repeat("a", 201), *long_code = kt_repeat("a", 33);
	char *ok_name = kt_repeat("\xc3\xa9", 200), *ok_code = kt_repeat("b", 32);
	long before = account_count(&A, org);
	struct {
		char *body;
		long status;
		const char *field;
	} cases[] = {
	    {kt_strf("{\"code\":\"-x\",\"name\":\"n\",\"type\":\"asset\"}"), 422, "code"},
	    {kt_strf("{\"code\":\".x\",\"name\":\"n\",\"type\":\"asset\"}"), 422, "code"},
	    {kt_strf("{\"code\":\"a b\",\"name\":\"n\",\"type\":\"asset\"}"), 422, "code"},
	    {kt_strf("{\"code\":\"\xc3\xa9t\xc3\xa9\",\"name\":\"n\",\"type\":\"asset\"}"), 422,
	     "code"},
	    {kt_strf("{\"code\":\"%s\",\"name\":\"n\",\"type\":\"asset\"}", long_code), 422, "code"},
	    {kt_strf("{\"code\":\"\",\"name\":\"n\",\"type\":\"asset\"}"), 422, "code"},
	    {kt_strf("{\"code\":12,\"name\":\"n\",\"type\":\"asset\"}"), 422, "code"},
	    {kt_strf("{\"name\":\"n\",\"type\":\"asset\"}"), 422, "code"},
	    {kt_strf("{\"code\":\"x1\",\"type\":\"asset\"}"), 422, "name"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"  \",\"type\":\"asset\"}"), 422, "name"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"%s\",\"type\":\"asset\"}", long_name), 422, "name"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"cash\"}"), 422, "type"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\"}"), 422, "type"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"is_group\":\"yes\"}"), 422,
	     "is_group"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"revalue\":1}"), 422,
	     "revalue"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"requires_division\":null}"),
	     422, "requires_division"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"currency\":\"XXX\"}"), 422,
	     "currency"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"currency\":\"usd\"}"), 422,
	     "currency"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"status\":\"active\"}"), 422,
	     "status"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"parent_id\":\"p\"}"), 422,
	     "parent_id"},
	    /* the parent: not a group, another type, another organization, another tenant, none */
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"parent_id\":\"%s\"}", leaf),
	     422, "parent_id"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"expense\",\"parent_id\":\"%s\"}",
	             group),
	     422, "parent_id"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"parent_id\":\"%s\"}",
	             other_group),
	     422, "parent_id"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"parent_id\":\"%s\"}",
	             foreign_group),
	     422, "parent_id"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":\"asset\",\"parent_id\":\"%s\"}",
	             NIL_UUID),
	     422, "parent_id"},
	    /* a code already used in the organization */
	    {kt_strf("{\"code\":\"%s\",\"name\":\"n\",\"type\":\"asset\"}", c1), 409, "code"},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"n\",\"type\":"), 400, NULL},
	    {kt_strf("{\"code\":\"x1\",\"name\":\"bad \xff byte\",\"type\":\"asset\"}"), 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, cases[i].body, ORGS "/%s/accounts", org);

		if (r->status != cases[i].status)
			fail_msg("case %zu %s: %ld %s", i, cases[i].body, r->status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
		free(cases[i].body);
	}
	assert_int_equal(account_count(&A, org), before);

	/* the limits themselves, and the same code in another organization, are fine */
	char *body = kt_strf("{\"code\":\"%s\",\"name\":\"%s\",\"type\":\"asset\"}", ok_code, ok_name);
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS "/%s/accounts", org);

	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "name"), ok_name);
	kt_resp_free(r);
	free(body);
	body = kt_strf("{\"code\":\"%s\",\"name\":\"n\",\"type\":\"asset\",\"parent_id\":\"%s\"}", c1,
	               other_group);
	r = api("POST", A.admin.token, NULL, body, ORGS "/%s/accounts", other);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);

	/* the path: unknown, not a UUID, another tenant's organization (404); no ledger (409) */
	char *bare = org_new(&A);
	const char *paths[] = {NIL_UUID, "nope", b_org};

	for (int i = 0; i < 3; i++) {
		r = api("POST", A.admin.token, NULL, "{\"code\":\"z\",\"name\":\"n\",\"type\":\"asset\"}",
		        ORGS "/%s/accounts", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	r = api("POST", A.admin.token, NULL, "{\"code\":\"z\",\"name\":\"n\",\"type\":\"asset\"}",
	        ORGS "/%s/accounts", bare);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/accounts", bare);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(account_count(&A, bare), 0);
	assert_int_equal(account_count(&B, b_org), 1);
	free(bare);
	free(long_name);
	free(long_code);
	free(ok_name);
	free(ok_code);
	free(group);
	free(leaf);
	free(other_group);
	free(foreign_group);
	free(c1);
	free(c2);
	free(c3);
	free(c4);
	free(b_org);
	free(other);
	free(org);
}

/* Every account of a list walked with limit (query: "" or "type=...&"), its codes joined by ' '. */
static char *
list_codes(const char *org, const char *query, int limit)
{
	kt_grow out = {calloc(1, 1), 0};
	char *cursor = NULL;

	for (int pages = 0; pages < 100; pages++) {
		kt_resp *r = cursor != NULL
		                 ? api("GET", A.viewer.token, NULL, NULL,
		                       ORGS "/%s/accounts?%slimit=%d&cursor=%s", org, query, limit, cursor)
		                 : api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/accounts?%slimit=%d",
		                       org, query, limit);

		kt_assert_status(r, 200);
		json_t *data = json_object_get(r->json, "data");
		json_t *next = json_object_get(r->json, "next_cursor");
		size_t i;
		json_t *a;

		assert_true(json_array_size(data) <= (size_t)limit);
		json_array_foreach(data, i, a)
		{
			assert_int_equal(json_object_size(a), 14);
			char *more = kt_strf("%s%s%s", out.p, out.len > 0 ? " " : "", kt_jstr(a, "code"));

			free(out.p);
			out.p = more;
			out.len = strlen(more);
		}
		free(cursor);
		cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		kt_resp_free(r);
		if (cursor == NULL)
			return out.p;
	}
	fail_msg("the list did not end");
	return NULL;
}

static void
account_list_walks_the_chart_in_code_order(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	/* made out of code order, so that id order is not code order */
	char *g = account_new(&A, org, "4000", "income", NULL, true);
	char *x1 = account_new(&A, org, "4100", "income", g, false);
	char *x2 = account_new(&A, org, "1000", "asset", NULL, false);
	char *x3 = account_new(&A, org, "4050", "income", g, false);
	char *x4 = account_new(&A, org, "2000", "liability", NULL, false);
	char *b_org = org_with_ledger(&B, "EUR");
	char *foreign = account_new(&B, b_org, "0001", "asset", NULL, false);
	const int limits[] = {1, 2, 5, 200};

	for (int i = 0; i < 4; i++) {
		char *all = list_codes(org, "", limits[i]);

		assert_string_equal(all, "1000 2000 4000 4050 4100");
		free(all);
	}
	char *q = kt_strf("parent_id=%s&", g);
	char *s = list_codes(org, q, 1);

	assert_string_equal(s, "4050 4100");
	free(s);
	free(q);
	s = list_codes(org, "type=income&", 2);
	assert_string_equal(s, "4000 4050 4100");
	free(s);
	s = list_codes(org, "parent_id=null&", 2);
	assert_string_equal(s, "1000 2000 4000");
	free(s);
	q = kt_strf("type=asset&parent_id=%s&", g);
	s = list_codes(org, q, 2);
	assert_string_equal(s, "");
	free(s);
	free(q);
	s = list_codes(org, "type=income&parent_id=null&", 5);
	assert_string_equal(s, "4000");
	free(s);

	/* refused queries: 400; another tenant's organization or no UUID: 404 */
	const char *bad[] = {"type=cash", "parent_id=x", "cursor=zzz",
	                     "limit=0",   "limit=201",   "cursor=AQ"};

	for (int i = 0; i < 6; i++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/accounts?%s", org, bad[i]);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/accounts", b_org);

	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, ORGS "/x/accounts");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(g);
	free(x1);
	free(x2);
	free(x3);
	free(x4);
	free(foreign);
	free(b_org);
	free(org);
}

static void
account_patch_changes_the_four_fields(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *code = fresh_code("P");
	char *id = account_new(&A, org, code, "liability", NULL, false);
	const char *match1[] = {"If-Match: \"1\"", NULL};
	kt_resp *r = api("PATCH", A.admin.token, match1,
	                 "{\"name\":\" Payables \",\"status\":\"inactive\","
	                 "\"requires_division\":true,\"revalue\":true}",
	                 ACCOUNTS "/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	want_account w = {.org = org,
	                  .code = code,
	                  .name = "Payables",
	                  .type = "liability",
	                  .status = "inactive",
	                  .requires_division = true,
	                  .revalue = true,
	                  .version = 2};

	check_account(r->json, &w);
	check_account_row(&A, r->json);
	assert_int_equal(audit_count(&A, "accounts", "UPDATE", id, A.admin.id), 1);
	assert_event(&A, "keel.account.updated", id, r->json);
	kt_resp_free(r);

	r = api("PATCH", A.admin.token, NULL, "{\"status\":\"active\",\"revalue\":false}",
	        ACCOUNTS "/%s", id);
	kt_assert_status(r, 200);
	w.status = "active";
	w.revalue = false;
	w.version = 3;
	check_account(r->json, &w);
	check_account_row(&A, r->json);
	kt_resp_free(r);

	char *long_name = kt_repeat("n", 201);
	char *long_body = kt_strf("{\"name\":\"%s\"}", long_name);
	struct {
		const char *body;
		long status;
		const char *field;
	} cases[] = {
	    {"{\"code\":\"C1\"}", 422, "code"},
	    {"{\"type\":\"asset\"}", 422, "type"},
	    {"{\"parent_id\":null}", 422, "parent_id"},
	    {"{\"currency\":\"USD\"}", 422, "currency"},
	    {"{\"is_group\":true}", 422, "is_group"},
	    {"{\"status\":\"closed\"}", 422, "status"},
	    {"{\"status\":null}", 422, "status"},
	    {"{\"name\":\"\"}", 422, "name"},
	    {long_body, 422, "name"},
	    {"{\"revalue\":\"true\"}", 422, "revalue"},
	    {"{}", 422, NULL},
	    {"{\"name\":\"\xff\"}", 400, NULL},
	    {"{\"name\":", 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = api("PATCH", A.admin.token, NULL, cases[i].body, ACCOUNTS "/%s", id);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
	}
	r = api("PATCH", A.admin.token, match1, "{\"name\":\"late\"}", ACCOUNTS "/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT version FROM fin.accounts WHERE id = $1", id, NULL), 3);

	/* another tenant's account, none, not a UUID: 404 */
	char *b_org = org_with_ledger(&B, "EUR");
	char *foreign = account_new(&B, b_org, code, "asset", NULL, false);
	const char *paths[] = {foreign, NIL_UUID, "nope"};

	for (int i = 0; i < 3; i++) {
		r = api("PATCH", A.admin.token, NULL, "{\"name\":\"x\"}", ACCOUNTS "/%s", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, NULL, ACCOUNTS "/%s", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(count_in(&B, "SELECT version FROM fin.accounts WHERE id = $1", foreign, NULL),
	                 1);
	free(foreign);
	free(b_org);
	free(long_body);
	free(long_name);
	free(id);
	free(code);
	free(org);
}

static void
account_delete_removes_an_unused_account(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *code = fresh_code("D");
	char *id = account_new(&A, org, code, "expense", NULL, false);
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, ACCOUNTS "/%s", id);

	kt_assert_status(g, 200);
	kt_resp *r = api("DELETE", A.admin.token, (const char *[]){"If-Match: \"2\"", NULL}, NULL,
	                 ACCOUNTS "/%s", id);

	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, (const char *[]){"If-Match: \"1\"", NULL}, NULL,
	        ACCOUNTS "/%s", id);
	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	assert_int_equal(account_count(&A, org), 0);
	assert_int_equal(audit_count(&A, "accounts", "DELETE", id, A.admin.id), 1);
	assert_event(&A, "keel.account.deleted", id, g->json);
	r = api("DELETE", A.admin.token, NULL, NULL, ACCOUNTS "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, ACCOUNTS "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);

	/* another tenant's account and no UUID: 404, and it stays */
	char *b_org = org_with_ledger(&B, "EUR");
	char *foreign = account_new(&B, b_org, code, "asset", NULL, false);

	r = api("DELETE", A.admin.token, NULL, NULL, ACCOUNTS "/%s", foreign);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, ACCOUNTS "/x");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(account_count(&B, b_org), 1);
	kt_resp_free(g);
	free(foreign);
	free(b_org);
	free(id);
	free(code);
	free(org);
}

/* DELETE of id answers 409 with a detail holding words; the account stays. */
static void
assert_delete_refused(const char *org, const char *id, const char *words)
{
	long before = account_count(&A, org);
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, ACCOUNTS "/%s", id);

	kt_assert_problem(r, 409, NULL, NULL);
	if (strstr(kt_jstr(r->json, "detail"), words) == NULL)
		fail_msg("detail \"%s\" does not say \"%s\"", kt_jstr(r->json, "detail"), words);
	kt_resp_free(r);
	assert_int_equal(account_count(&A, org), before);
	assert_int_equal(event_count(&A, "keel.account.deleted", id), 0);
}

static void
account_delete_refuses_an_account_in_use(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *group = account_new(&A, org, "5", "expense", NULL, true);
	char *child = account_new(&A, org, "5.1", "expense", group, false);
	char *bank = account_new(&A, org, "1", "asset", NULL, false);
	char *drafted = account_new(&A, org, "6", "expense", NULL, false);
	char *rounding = account_new(&A, org, "7", "expense", NULL, false);
	char *body = kt_strf("{\"rounding_account_id\":\"%s\"}", rounding);
	kt_resp *r = api("PATCH", A.admin.token, NULL, body, ORGS "/%s/ledger", org);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(kt_fin_year(app, A.id, org, "FY26", "2026-01-01", "2026-12-31", "month"));
	kt_fin_line draft[] = {{drafted, 100, 0, NULL}, {bank, 0, 100, NULL}};
	kt_fin_line posted[] = {{child, 250, 0, NULL}, {bank, 0, 250, NULL}};

	free(kt_fin_entry(app, A.id, org, "general", "2026-03-02", 2, draft, false));
	free(kt_fin_entry(app, A.id, org, "general", "2026-03-03", 2, posted, true));

	assert_delete_refused(org, group, "child accounts");
	assert_delete_refused(org, child, "journal lines");
	assert_delete_refused(org, drafted, "journal lines");
	assert_delete_refused(org, bank, "journal lines");
	assert_delete_refused(org, rounding, "rounding account");

	/* once the ledger lets go, it goes */
	r = api("PATCH", A.admin.token, NULL, "{\"rounding_account_id\":null}", ORGS "/%s/ledger", org);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, ACCOUNTS "/%s", rounding);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	free(body);
	free(group);
	free(child);
	free(bank);
	free(drafted);
	free(rounding);
	free(org);
}

/* ---- roles ---- */

static void
viewer_and_member_read_but_only_admin_writes(void **state)
{
	(void)state;
	char *org = org_new(&A);
	const char *readers[] = {A.viewer.token, A.member.token};
	kt_resp *r;

	for (int i = 0; i < 2; i++) {
		r = api("POST", readers[i], NULL, "{\"currency\":\"EUR\"}", ORGS "/%s/ledger", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(ledger_count(&A, org), 0);
	r = api("POST", A.admin.token, NULL, "{\"currency\":\"EUR\"}", ORGS "/%s/ledger", org);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	char *code = fresh_code("R");
	char *id = account_new(&A, org, code, "asset", NULL, false);
	char *acc = kt_strf("{\"code\":\"%s-2\",\"name\":\"n\",\"type\":\"asset\"}", code);

	for (int i = 0; i < 2; i++) {
		r = api("PATCH", readers[i], NULL, "{\"rounding_account_id\":null}", ORGS "/%s/ledger",
		        org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", readers[i], NULL, acc, ORGS "/%s/accounts", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", readers[i], NULL, "{\"name\":\"x\"}", ACCOUNTS "/%s", id);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", readers[i], NULL, NULL, ACCOUNTS "/%s", id);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, NULL, ORGS "/%s/ledger", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, NULL, ORGS "/%s/accounts", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, NULL, ACCOUNTS "/%s", id);
		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	assert_int_equal(account_count(&A, org), 1);
	assert_int_equal(count_in(&A, "SELECT version FROM fin.accounts WHERE id = $1", id, NULL), 1);
	assert_int_equal(count_in(&A, "SELECT version FROM fin.ledgers WHERE id = $1", org, NULL), 1);

	/* no token: 401 everywhere but the currencies */
	r = api("GET", NULL, NULL, NULL, ORGS "/%s/ledger", org);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", NULL, NULL, NULL, ORGS "/%s/accounts", org);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", NULL, NULL, NULL, ACCOUNTS "/%s", id);
	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);

	/* the admin writes: PATCH and DELETE of the account */
	r = api("PATCH", A.admin.token, NULL, "{\"name\":\"x\"}", ACCOUNTS "/%s", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, ACCOUNTS "/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	free(acc);
	free(id);
	free(code);
	free(org);
}

/* ---- the database's own rules, for keel_app ---- */

static void
the_database_refuses_what_breaks_the_chart(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	char *other = org_with_ledger(&A, "EUR");
	char *leaf = account_new(&A, org, "100", "asset", NULL, false);
	char *group = account_new(&A, org, "200", "asset", NULL, true);
	char *elsewhere = account_new(&A, other, "100", "asset", NULL, false);
	const char *insert = "INSERT INTO fin.accounts (tenant_id, id, organization_id, code, name,"
	                     " type, parent_id) VALUES (core.current_tenant_id(),"
	                     " audit.uuid_v7(clock_timestamp()), $1, $2, 'n', $3, $4)";

	/* a child of a leaf, of a group of another type */
	assert_refused(&A, insert, (const char *[]){org, "101", "asset", leaf, NULL}, "23503",
	               "accounts_parent_fkey");
	assert_refused(&A, insert, (const char *[]){org, "201", "expense", group, NULL}, "23503",
	               "accounts_parent_fkey");
	/* code, type, parent, group flag and currency are fixed: column grants */
	const char *fixed[] = {"code = 'zz'", "type = 'expense'", "parent_id = NULL",
	                       "currency = 'USD'", "is_group = true"};

	for (int i = 0; i < 5; i++) {
		char *sql = kt_strf("UPDATE fin.accounts SET %s WHERE id = $1", fixed[i]);

		assert_refused(&A, sql, (const char *[]){leaf, NULL}, "42501", NULL);
		free(sql);
	}
	/* a ledger's currency never changes; its accounts are its organization's */
	assert_refused(&A, "UPDATE fin.ledgers SET currency = 'USD' WHERE id = $1",
	               (const char *[]){org, NULL}, "42501", NULL);
	assert_refused(&A, "UPDATE fin.ledgers SET rounding_account_id = $2 WHERE id = $1",
	               (const char *[]){org, elsewhere, NULL}, "23503",
	               "ledgers_rounding_account_fkey");
	assert_int_equal(
	    count_in(&A,
	             "SELECT count(*) FROM fin.accounts WHERE organization_id = $1 AND code = '100'"
	             " AND type = 'asset' AND parent_id IS NULL",
	             org, NULL),
	    1);
	free(leaf);
	free(group);
	free(elsewhere);
	free(other);
	free(org);
}

/* Scans of the code index in a plan tree, and those with the cursor in their index condition. */
static void
code_index_scans(const json_t *node, int *scans, int *from_cursor)
{
	const char *index = json_string_value(json_object_get(node, "Index Name"));
	const char *cond = json_string_value(json_object_get(node, "Index Cond"));
	size_t i;
	json_t *child;

	if (index != NULL && strcmp(index, "accounts_code_key") == 0) {
		(*scans)++;
		*from_cursor += cond != NULL && strstr(cond, "code >") != NULL;
	}
	json_array_foreach(json_object_get(node, "Plans"), i, child)
	{
		code_index_scans(child, scans, from_cursor);
	}
}

/*
 * The generic plan of the list statement keel runs for filter f (taken from the module, bound
 * as it binds it: prepared without parameter types, as keel_app in a transaction of tenant A),
 * for a page after code 1500: it reads the code index from the cursor on, not from the start.
 */
static void
assert_list_plan_starts_at_cursor(const char *org, const fin_account_filter *f)
{
	const keel_stmt *st = fin_store_account_list_stmt(f);
	PGresult *res;

	kt_pg_exec(app, "BEGIN");
	kt_pg_exec(app, "SET LOCAL plan_cache_mode = force_generic_plan");
	kt_pg_set_tenant(app, A.id);
	res = PQprepare(app, st->name, st->sql, st->nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("prepare %s: %s", st->name, PQerrorMessage(app));
	PQclear(res);
	char *ex = kt_strf("EXPLAIN (FORMAT JSON) EXECUTE %s('1500', '50', '%s', %s, NULL)", st->name,
	                   org, f->type != NULL ? "'income'" : "NULL");

	res = PQexec(app, ex);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", ex, PQerrorMessage(app));
	json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	int scans = 0, from_cursor = 0;

	code_index_scans(json_object_get(json_array_get(doc, 0), "Plan"), &scans, &from_cursor);
	if (scans != 1 || from_cursor != 1)
		fail_msg("%s: %d scans of accounts_code_key, %d from the cursor: %s", st->name, scans,
		         from_cursor, PQgetvalue(res, 0, 0));
	json_decref(doc);
	PQclear(res);
	kt_pg_exec(app, "ROLLBACK");
	free(ex);
}

static void
account_list_pages_start_at_their_cursor(void **state)
{
	(void)state;
	char *org = org_with_ledger(&A, "EUR");
	const char *p[] = {org, NULL};

	/* a chart of 3000 accounts (rows of the route under test made in bulk, for the plan) */
	PQclear(
	    kt_pg_tenant_query(app, A.id,
	                       "INSERT INTO fin.accounts (tenant_id, id, organization_id, code, name,"
	                       " type) SELECT core.current_tenant_id(),"
	                       " audit.uuid_v7(clock_timestamp()), $1, lpad(n::text, 4, '0'), 'n',"
	                       " (ARRAY['asset', 'liability', 'equity', 'income', 'expense'])"
	                       "[1 + n % 5] FROM generate_series(1, 3000) n RETURNING 1",
	                       p));
	kt_pg_exec(pg, "ANALYZE fin.accounts");
	assert_list_plan_starts_at_cursor(org, &(fin_account_filter){0});
	assert_list_plan_starts_at_cursor(org, &(fin_account_filter){.type = "income"});

	/* and through the API, the first page is the chart's first 200 codes */
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/accounts?limit=200", org);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "data"), 199), "code"),
	                    "0200");
	kt_resp_free(r);
	free(org);
}

/* Last: keel exits 0 and its log has no sanitizer report. */
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
	    cmocka_unit_test(ledger_create_answers_201_and_is_read_back),
	    cmocka_unit_test(ledger_patch_sets_and_unsets_its_accounts),
	    cmocka_unit_test(ledger_create_refusals),
	    cmocka_unit_test(ledger_create_honours_idempotency_key),
	    cmocka_unit_test(ledger_create_race_opens_one_ledger),
	    cmocka_unit_test(ledger_patch_refusals),
	    cmocka_unit_test(currencies_are_public_and_in_code_order),
	    cmocka_unit_test(account_create_answers_201_and_is_read_back),
	    cmocka_unit_test(account_create_honours_idempotency_key),
	    cmocka_unit_test(account_create_refusals),
	    cmocka_unit_test(account_list_walks_the_chart_in_code_order),
	    cmocka_unit_test(account_patch_changes_the_four_fields),
	    cmocka_unit_test(account_delete_removes_an_unused_account),
	    cmocka_unit_test(account_delete_refuses_an_account_in_use),
	    cmocka_unit_test(viewer_and_member_read_but_only_admin_writes),
	    cmocka_unit_test(the_database_refuses_what_breaks_the_chart),
	    cmocka_unit_test(account_list_pages_start_at_their_cursor),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
