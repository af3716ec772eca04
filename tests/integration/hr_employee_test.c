/*
 * Employees end to end: the real keel binary over HTTP against a freshly migrated database of
 * this program's own.
 *
 * What is tested: every route's answer (status, every field, Location, ETag), the row, its
 * audit row and its event; every refusal with nothing written; gapless numbers, also under
 * concurrent creates and after failed ones; manager cycles, also two concurrent changes forced
 * to meet at the organization's lock; one employee per user and organization; the role matrix
 * and the HR access matrix (admin, owner, the employee's own user, its manager's user, another
 * member, a viewer); another tenant's and organization's ids; bad input; and the database's
 * own rules for keel_app, by raw SQL that PostgreSQL must refuse.
 *
 * keel starts once for the group; each test makes its own organizations.  Rows are read back
 * as keel_owner inside the tenant (row-level security filters it like everyone else).
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
#include "kt_hr.h"
#include "kt_wait.h"

#define PASSWORD  "correct horse battery staple"
#define ORGS      "/api/v1/organizations"
#define EMPLOYEES "/api/v1/employees"
#define NIL_UUID  "00000000-0000-7000-8000-000000000000"
#define HIRED     "\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"hire_date\":\"2026-01-05\""

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;  /* keel_owner */
static PGconn *app; /* keel_app */
static kt_tenant A, B;
static kt_user self_u, boss_u, free_u; /* members of A: linked to employees by the tests */
static int seq;

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("hr_employee", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "hr-employee-a", PASSWORD);
	kt_tenant_user(&cl, &A, &self_u, "self", "member");
	kt_tenant_user(&cl, &A, &boss_u, "boss", "member");
	kt_tenant_user(&cl, &A, &free_u, "free", "member");
	kt_tenant_make(&cl, &B, "hr-employee-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	app = kt_pg_app();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	PQfinish(app);
	kt_user_free(&self_u);
	kt_user_free(&boss_u);
	kt_user_free(&free_u);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

/* ---- making things ---- */

static char *
org_new(const kt_tenant *t)
{
	char *code = kt_strf("E%d", ++seq);
	char *id = kt_org_make(&cl, t->owner.token, code);

	free(code);
	return id;
}

/* POST an employee of org with body fields (a JSON object's members, no braces). */
static kt_resp *
employee_post(const kt_tenant *t, const char *org, const char *fields)
{
	char *body = kt_strf("{%s}", fields);
	kt_resp *r = api("POST", t->admin.token ? t->admin.token : t->owner.token, NULL, body,
	                 ORGS "/%s/employees", org);

	free(body);
	return r;
}

/* An employee made through the API with extra fields (may be ""); fails unless 201.  Its id. */
static char *
employee_new(const kt_tenant *t, const char *org, const char *extra)
{
	char *fields = kt_strf(HIRED "%s%s", extra[0] ? "," : "", extra);
	kt_resp *r = employee_post(t, org, fields);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(fields);
	return id;
}

/* An employee with a manager (NULL: none) and a user (NULL: none).  Its id. */
static char *
employee_under(const kt_tenant *t, const char *org, const char *manager, const char *user)
{
	char *m = manager ? kt_strf("\"manager_id\":\"%s\"", manager) : strdup("");
	char *u = user ? kt_strf("\"user_id\":\"%s\"", user) : strdup("");
	char *extra = kt_strf("%s%s%s", m, m[0] && u[0] ? "," : "", u);
	char *id = employee_new(t, org, extra);

	free(extra);
	free(u);
	free(m);
	return id;
}

static kt_resp *
patch(const char *token, const char *id, const char *body)
{
	return api("PATCH", token, NULL, body, EMPLOYEES "/%s", id);
}

/* ---- the database ---- */

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
audit_count(const kt_tenant *t, const char *action, const char *id, const char *actor)
{
	return kt_pg_tenant_long(pg, t->id,
	                         "SELECT count(*) FROM audit.logs WHERE schema_name = 'hr'"
	                         " AND table_name = 'employees' AND action = $1 AND record_id = $2"
	                         " AND actor_id = $3",
	                         (const char *[]){action, id, actor, NULL});
}

static long
event_count(const kt_tenant *t, const char *type, const char *subject)
{
	return count_in(t, "SELECT count(*) FROM events.outbox WHERE type = $1 AND subject = $2", type,
	                subject);
}

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

/* The employee's row, rendered as the API does, equals o. */
static void
check_row(const kt_tenant *t, const json_t *o)
{
	char *text = kt_pg_tenant_value(
	    pg, t->id,
	    "SELECT json_build_object('id', id, 'organization_id', organization_id,"
	    " 'employee_number', employee_number, 'first_name', first_name, 'last_name', last_name,"
	    " 'email', email, 'user_id', user_id, 'hire_date', hire_date::text,"
	    " 'termination_date', termination_date::text, 'manager_id', manager_id,"
	    " 'calendar_id', calendar_id, 'timezone', timezone, 'version', version,"
	    " 'created_at', to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " 'updated_at', to_char(updated_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
	    "::text FROM hr.employees WHERE id = $1",
	    (const char *[]){kt_jstr(o, "id"), NULL});

	assert_non_null(text);
	json_t *row = json_loads(text, 0, NULL);

	if (!json_equal(row, o))
		fail_msg("row %s differs from the answer", text);
	json_decref(row);
	free(text);
}

static void
assert_str_or_null(const json_t *o, const char *key, const char *want)
{
	const json_t *v = json_object_get(o, key);

	if (want == NULL ? !json_is_null(v)
	                 : !json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		fail_msg("%s is not %s", key, want ? want : "null");
}

static const char *
number_of(const kt_tenant *t, const char *id)
{
	static char buf[32];
	char *n =
	    kt_pg_tenant_value(pg, t->id, "SELECT employee_number FROM hr.employees WHERE id = $1",
	                       (const char *[]){id, NULL});

	snprintf(buf, sizeof(buf), "%s", n ? n : "(none)");
	free(n);
	return buf;
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

/* ---- create, get ---- */

static void
employee_create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *cal = kt_hr_calendar(app, A.id, org, "Cal", "{1,2,3,4,5}");
	char *boss = employee_new(&A, org, "");
	char *body = kt_strf(
	    "{\"first_name\":\"  Grace \",\"last_name\":\"Hopper\",\"email\":\"grace@navy.test\","
	    "\"user_id\":\"%s\",\"hire_date\":\"2026-02-01\",\"termination_date\":\"2027-01-31\","
	    "\"manager_id\":\"%s\",\"calendar_id\":\"%s\",\"timezone\":\"Europe/Berlin\"}",
	    self_u.id, boss, cal);
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS "/%s/employees", org);

	kt_assert_status(r, 201);
	kt_assert_header(r, "ETag", "\"1\"");
	kt_assert_compact_body(r);
	const json_t *o = r->json;
	char *location = kt_strf(EMPLOYEES "/%s", kt_jstr(o, "id"));

	kt_assert_header(r, "Location", location);
	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "organization_id"), org);
	assert_string_equal(kt_jstr(o, "employee_number"), "E000002");
	assert_string_equal(kt_jstr(o, "first_name"), "Grace");
	assert_string_equal(kt_jstr(o, "last_name"), "Hopper");
	assert_string_equal(kt_jstr(o, "email"), "grace@navy.test");
	assert_string_equal(kt_jstr(o, "user_id"), self_u.id);
	assert_string_equal(kt_jstr(o, "hire_date"), "2026-02-01");
	assert_string_equal(kt_jstr(o, "termination_date"), "2027-01-31");
	assert_string_equal(kt_jstr(o, "manager_id"), boss);
	assert_string_equal(kt_jstr(o, "calendar_id"), cal);
	assert_string_equal(kt_jstr(o, "timezone"), "Europe/Berlin");
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 15);
	check_row(&A, o);
	assert_int_equal(audit_count(&A, "INSERT", kt_jstr(o, "id"), A.admin.id), 1);
	assert_event(&A, "keel.employee.created", kt_jstr(o, "id"), o);

	kt_resp *g = api("GET", A.admin.token, NULL, NULL, "%s", location);

	kt_assert_status(g, 200);
	kt_assert_header(g, "ETag", "\"1\"");
	assert_true(json_equal(g->json, o));
	kt_resp_free(g);

	/* the defaults: no email, user, termination, manager, calendar; UTC */
	g = employee_post(&A, org, HIRED);
	kt_assert_status(g, 201);
	assert_string_equal(kt_jstr(g->json, "employee_number"), "E000003");
	assert_str_or_null(g->json, "email", NULL);
	assert_str_or_null(g->json, "user_id", NULL);
	assert_str_or_null(g->json, "termination_date", NULL);
	assert_str_or_null(g->json, "manager_id", NULL);
	assert_str_or_null(g->json, "calendar_id", NULL);
	assert_string_equal(kt_jstr(g->json, "timezone"), "UTC");
	check_row(&A, g->json);
	kt_resp_free(g);
	kt_resp_free(r);
	free(location);
	free(body);
	free(boss);
	free(cal);
	free(org);
}

static void
employee_create_honours_idempotency_key(void **state)
{
	(void)state;
	char *org = org_new(&A);
	const char *key[] = {"Idempotency-Key: employee-once", NULL};
	kt_resp *r1 = api("POST", A.admin.token, key, "{" HIRED "}", ORGS "/%s/employees", org);
	kt_resp *r2 = api("POST", A.admin.token, key, "{" HIRED "}", ORGS "/%s/employees", org);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	assert_int_equal(event_count(&A, "keel.employee.created", kt_jstr(r1->json, "id")), 1);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.employees WHERE organization_id = $1", org, NULL), 1);
	kt_resp_free(r2);
	r2 = api("POST", A.admin.token, key, "{" HIRED ",\"timezone\":\"UTC\"}", ORGS "/%s/employees",
	         org);
	kt_assert_problem(r2, 422, NULL, NULL);
	kt_resp_free(r2);
	kt_resp_free(r1);
	free(org);
}

/* ---- numbers ---- */

static void
employee_numbers_are_gapless_and_failed_creates_take_none(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *other = org_new(&A);
	char *first = employee_under(&A, org, NULL, boss_u.id);
	kt_resp *r;

	assert_string_equal(number_of(&A, first), "E000001");
	/* refused after the number was taken (the time zone's CHECK, the user's unique key) */
	r = employee_post(&A, org, HIRED ",\"timezone\":\"Mars/Olympus\"");
	kt_assert_problem(r, 422, NULL, "timezone");
	kt_resp_free(r);
	char *dup = kt_strf(HIRED ",\"user_id\":\"%s\"", boss_u.id);

	r = employee_post(&A, org, dup);
	kt_assert_problem(r, 409, NULL, "user_id");
	kt_resp_free(r);
	char *second = employee_new(&A, org, "");

	assert_string_equal(number_of(&A, second), "E000002");
	/* each organization counts on its own */
	char *elsewhere = employee_new(&A, other, "");

	assert_string_equal(number_of(&A, elsewhere), "E000001");

	/* past six digits: every digit kept */
	PQclear(kt_pg_tenant_query(pg, A.id,
	                           "UPDATE hr.employee_counters SET last_number = 999998"
	                           " WHERE organization_id = $1 RETURNING 1",
	                           (const char *[]){org, NULL}));
	char *big1 = employee_new(&A, org, ""), *big2 = employee_new(&A, org, "");

	assert_string_equal(number_of(&A, big1), "E999999");
	assert_string_equal(number_of(&A, big2), "E1000000");
	free(big1);
	free(big2);
	free(elsewhere);
	free(second);
	free(dup);
	free(first);
	free(other);
	free(org);
}

/*
 * Creates racing for the organization's counter (its row held here): they take consecutive
 * numbers in turn; one that fails after taking its number leaves no gap.
 */
static void
employee_numbers_race_without_gaps(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	char *org = org_new(&A);
	char *first = employee_under(&A, org, NULL, free_u.id);
	char *dup = kt_strf("{" HIRED ",\"user_id\":\"%s\"}", free_u.id);
	const char *bodies[3] = {"{" HIRED "}", dup, "{" HIRED "}"};
	kt_async q[3];
	PGconn *hold = kt_pg_owner();

	kt_pg_exec(hold, "BEGIN");
	PGresult *locked = kt_pg_tenant_query(
	    hold, A.id, "SELECT 1 FROM hr.employee_counters WHERE organization_id = $1 FOR UPDATE",
	    (const char *[]){org, NULL});

	assert_int_equal(PQntuples(locked), 1);
	PQclear(locked);
	for (int i = 0; i < 3; i++) {
		q[i] = (kt_async){
		    .base = k->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), ORGS "/%s/employees", org);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(hold, i + 1);
	}
	kt_pg_exec(hold, "COMMIT");
	PQfinish(hold);
	kt_resp *r[3];

	for (int i = 0; i < 3; i++)
		r[i] = kt_async_finish(&q[i]);
	kt_assert_status(r[0], 201);
	kt_assert_problem(r[1], 409, NULL, "user_id");
	kt_assert_status(r[2], 201);
	const char *n0 = kt_jstr(r[0]->json, "employee_number");
	const char *n2 = kt_jstr(r[2]->json, "employee_number");

	assert_true((strcmp(n0, "E000002") == 0 && strcmp(n2, "E000003") == 0) ||
	            (strcmp(n0, "E000003") == 0 && strcmp(n2, "E000002") == 0));
	assert_int_equal(count_in(&A,
	                          "SELECT max(sequence) - count(*) FROM hr.employees"
	                          " WHERE organization_id = $1",
	                          org, NULL),
	                 0);
	for (int i = 0; i < 3; i++)
		kt_resp_free(r[i]);
	free(dup);
	free(first);
	free(org);
	kt_keel_stop_clean(&k, NULL);
}

/* ---- managers ---- */

static void
manager_cycles_are_refused(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *a = employee_new(&A, org, ""), *b = employee_new(&A, org, ""),
	     *c = employee_new(&A, org, "");
	char *body;
	kt_resp *r;

	/* A under B, B under C; then C under A would close the circle */
	body = kt_strf("{\"manager_id\":\"%s\"}", b);
	r = patch(A.admin.token, a, body);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(body);
	body = kt_strf("{\"manager_id\":\"%s\"}", c);
	r = patch(A.admin.token, b, body);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(body);
	body = kt_strf("{\"manager_id\":\"%s\"}", a);
	r = patch(A.admin.token, c, body);
	kt_assert_problem(r, 422, NULL, "manager_id");
	kt_resp_free(r);
	free(body);
	/* its own manager */
	body = kt_strf("{\"manager_id\":\"%s\"}", a);
	r = patch(A.admin.token, a, body);
	kt_assert_problem(r, 422, NULL, "manager_id");
	kt_resp_free(r);
	free(body);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.employees WHERE id = $1"
	                          " AND manager_id IS NULL AND version = 1",
	                          c, NULL),
	                 1);
	assert_int_equal(event_count(&A, "keel.employee.updated", c), 0);
	/* the same by SQL as keel_app */
	assert_refused(&A, "UPDATE hr.employees SET manager_id = $1 WHERE id = $2",
	               (const char *[]){a, c, NULL}, "KH422", "employees_no_cycle");
	free(a);
	free(b);
	free(c);
	free(org);
}

/*
 * Two changes that each alone are fine and together make a cycle (X under Y, Y under X), made
 * to wait at the organization's manager lock (held here) and let go together: one wins.
 */
static void
concurrent_manager_changes_make_no_cycle(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	char *org = org_new(&A);
	char *x = employee_new(&A, org, ""), *y = employee_new(&A, org, "");
	char *bx = kt_strf("{\"manager_id\":\"%s\"}", y), *by = kt_strf("{\"manager_id\":\"%s\"}", x);
	const char *ids[2] = {x, y}, *bodies[2] = {bx, by};
	kt_async q[2];
	PGconn *hold = kt_pg_owner();

	kt_pg_exec(hold, "BEGIN");
	PQclear(kt_pg_tenant_query(hold, A.id,
	                           "SELECT pg_advisory_xact_lock(hashtextextended('hr.managers '"
	                           " || core.current_tenant_id()::text || $1, 0))",
	                           (const char *[]){org, NULL}));
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){
		    .base = k->base, .method = "PATCH", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), EMPLOYEES "/%s", ids[i]);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(hold, i + 1);
	}
	kt_pg_exec(hold, "COMMIT");
	PQfinish(hold);
	kt_resp *r0 = kt_async_finish(&q[0]), *r1 = kt_async_finish(&q[1]);
	kt_resp *won = r0->status == 200 ? r0 : r1, *lost = won == r0 ? r1 : r0;

	kt_assert_status(won, 200);
	kt_assert_problem(lost, 422, NULL, "manager_id");
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.employees WHERE id IN ($1, $2)"
	                          " AND manager_id IS NOT NULL",
	                          x, y),
	                 1);
	kt_resp_free(r0);
	kt_resp_free(r1);
	free(bx);
	free(by);
	free(x);
	free(y);
	free(org);
	kt_keel_stop_clean(&k, NULL);
}

/* ---- one employee per user ---- */

static void
one_employee_per_user_and_organization(void **state)
{
	(void)state;
	char *org = org_new(&A), *other = org_new(&A);
	char *mine = employee_under(&A, org, NULL, A.member.id);
	char *plain = employee_new(&A, org, "");
	char *fields = kt_strf(HIRED ",\"user_id\":\"%s\"", A.member.id);
	kt_resp *r = employee_post(&A, org, fields);

	kt_assert_problem(r, 409, NULL, "user_id");
	kt_resp_free(r);
	char *body = kt_strf("{\"user_id\":\"%s\"}", A.member.id);

	r = patch(A.admin.token, plain, body);
	kt_assert_problem(r, 409, NULL, "user_id");
	kt_resp_free(r);
	/* another organization: fine */
	r = employee_post(&A, other, fields);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.employees WHERE user_id = $1", A.member.id, NULL), 2);
	free(body);
	free(fields);
	free(plain);
	free(mine);
	free(other);
	free(org);
}

/* A deleted user leaves its employees, unlinked (employees_user_fkey ON DELETE SET NULL). */
static void
a_deleted_user_leaves_its_employee_unlinked(void **state)
{
	(void)state;
	char *org = org_new(&A);
	kt_user gone = {0};

	kt_tenant_user(&cl, &A, &gone, "gone", "member");
	char *id = employee_under(&A, org, NULL, gone.id);
	kt_resp *r = api("DELETE", A.owner.token, NULL, NULL, "/api/v1/users/%s", gone.id);

	kt_assert_status(r, 204);
	kt_resp_free(r);
	r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s", id);
	kt_assert_status(r, 200);
	assert_str_or_null(r->json, "user_id", NULL);
	check_row(&A, r->json);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT count(*) FROM hr.employees WHERE id = $1", id, NULL), 1);
	kt_user_free(&gone);
	free(id);
	free(org);
}

/* ---- patch, delete ---- */

static void
employee_patch_changes_every_field(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *cal = kt_hr_calendar(app, A.id, org, "P", "{1,2,3,4,5}");
	char *boss = employee_new(&A, org, "");
	char *id = employee_new(&A, org, "\"email\":\"a@b.test\"");
	char *body = kt_strf(
	    "{\"first_name\":\"Augusta\",\"last_name\":\"King\",\"email\":null,\"user_id\":\"%s\","
	    "\"hire_date\":\"2025-12-01\",\"termination_date\":\"2026-12-31\",\"manager_id\":\"%s\","
	    "\"calendar_id\":\"%s\",\"timezone\":\"America/New_York\"}",
	    boss_u.id, boss, cal);
	const char *match[] = {"If-Match: \"1\"", NULL};
	kt_resp *r = api("PATCH", A.admin.token, match, body, EMPLOYEES "/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_string_equal(kt_jstr(r->json, "first_name"), "Augusta");
	assert_string_equal(kt_jstr(r->json, "last_name"), "King");
	assert_str_or_null(r->json, "email", NULL);
	assert_string_equal(kt_jstr(r->json, "user_id"), boss_u.id);
	assert_string_equal(kt_jstr(r->json, "hire_date"), "2025-12-01");
	assert_string_equal(kt_jstr(r->json, "termination_date"), "2026-12-31");
	assert_string_equal(kt_jstr(r->json, "manager_id"), boss);
	assert_string_equal(kt_jstr(r->json, "calendar_id"), cal);
	assert_string_equal(kt_jstr(r->json, "timezone"), "America/New_York");
	assert_string_equal(kt_jstr(r->json, "employee_number"), "E000002");
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	check_row(&A, r->json);
	assert_int_equal(audit_count(&A, "UPDATE", id, A.admin.id), 1);
	assert_event(&A, "keel.employee.updated", id, r->json);
	kt_resp_free(r);

	/* nulls unset; the rest stays */
	r = patch(A.admin.token, id,
	          "{\"user_id\":null,\"termination_date\":null,\"manager_id\":null,"
	          "\"calendar_id\":null}");
	kt_assert_status(r, 200);
	assert_str_or_null(r->json, "user_id", NULL);
	assert_str_or_null(r->json, "manager_id", NULL);
	assert_str_or_null(r->json, "calendar_id", NULL);
	assert_str_or_null(r->json, "termination_date", NULL);
	assert_string_equal(kt_jstr(r->json, "first_name"), "Augusta");
	check_row(&A, r->json);
	kt_resp_free(r);

	/* refusals: stale If-Match, unknown employee, nothing to change, fixed fields */
	r = api("PATCH", A.admin.token, match, "{\"first_name\":\"X\"}", EMPLOYEES "/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = patch(A.admin.token, NIL_UUID, "{\"first_name\":\"X\"}");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = patch(A.admin.token, "nope", "{\"first_name\":\"X\"}");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = patch(A.admin.token, id, "{}");
	kt_assert_problem(r, 422, NULL, NULL);
	kt_resp_free(r);
	r = patch(A.admin.token, id, "{\"employee_number\":\"E000009\"}");
	kt_assert_problem(r, 422, NULL, "employee_number");
	kt_resp_free(r);
	r = patch(A.admin.token, id, "{\"organization_id\":\"" NIL_UUID "\"}");
	kt_assert_problem(r, 422, NULL, "organization_id");
	kt_resp_free(r);
	/* a termination before the hire date kept: the database's check */
	r = patch(A.admin.token, id, "{\"termination_date\":\"2025-01-01\"}");
	kt_assert_problem(r, 422, NULL, "termination_date");
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT version FROM hr.employees WHERE id = $1", id, NULL), 3);
	free(body);
	free(id);
	free(boss);
	free(cal);
	free(org);
}

static void
employee_delete_removes_an_unreferenced_employee(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *id = employee_new(&A, org, "");
	kt_resp *g = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s", id);
	const char *stale[] = {"If-Match: \"5\"", NULL};
	kt_resp *r = api("DELETE", A.admin.token, stale, NULL, EMPLOYEES "/%s", id);

	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, EMPLOYEES "/%s", id);
	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT count(*) FROM hr.employees WHERE id = $1", id, NULL), 0);
	assert_int_equal(audit_count(&A, "DELETE", id, A.admin.id), 1);
	assert_event(&A, "keel.employee.deleted", id, g->json);
	r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, EMPLOYEES "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	kt_resp_free(g);
	free(id);
	free(org);
}

/* A DELETE refused with 409 whose detail has word; the employee stays. */
static void
assert_delete_refused(const char *id, const char *word)
{
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, EMPLOYEES "/%s", id);

	kt_assert_problem(r, 409, NULL, NULL);
	if (strstr(kt_jstr(r->json, "detail"), word) == NULL)
		fail_msg("detail \"%s\" does not say %s", kt_jstr(r->json, "detail"), word);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT count(*) FROM hr.employees WHERE id = $1", id, NULL), 1);
}

static void
employee_delete_refuses_a_referenced_employee(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *div = kt_div_make(&cl, A.owner.token, org, NULL, "D1");
	char *pos = kt_hr_position(app, A.id, org, div, "Clerk", 5);
	char *boss = employee_new(&A, org, "");
	char *report = employee_under(&A, org, boss, NULL);
	char *assigned = employee_new(&A, org, "");
	char *allocated = employee_new(&A, org, "");
	char *requester = employee_new(&A, org, "");
	char *open = kt_hr_leave_type(app, A.id, org, "OPEN", 1, 1, NULL, NULL);

	PQclear(kt_pg_tenant_query(app, A.id,
	                           "INSERT INTO hr.assignments (tenant_id, id, organization_id,"
	                           " employee_id, position_id, start_date) VALUES"
	                           " (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1,"
	                           " $2, $3, '2026-02-01') RETURNING 1",
	                           (const char *[]){org, assigned, pos, NULL}));
	free(kt_hr_allocate(app, A.id, org, allocated, open, "10", "2026-01-01", "2026-12-31"));
	kt_hr_as_user(app, A.admin.id);
	free(kt_hr_request(app, A.id, org, requester, open, "2026-03-02", "2026-03-03"));
	kt_hr_as_user(app, NULL);

	assert_delete_refused(boss, "manager");
	assert_delete_refused(assigned, "assignments");
	assert_delete_refused(allocated, "leave ledger");
	assert_delete_refused(requester, "leave requests");
	assert_int_equal(event_count(&A, "keel.employee.deleted", boss), 0);
	free(open);
	free(requester);
	free(allocated);
	free(assigned);
	free(report);
	free(boss);
	free(pos);
	free(div);
	free(org);
}

/*
 * An employment's dates change only around what the employee holds: a termination before an
 * open-ended assignment's end or a held request's end, a hire after their start, is 409 and
 * changes nothing; once the assignment ends and the request is withdrawn, the same change
 * passes.
 */
static void
employment_dates_keep_assignments_and_leave_inside(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *div = kt_div_make(&cl, A.owner.token, org, NULL, "D1");
	char *pos = kt_hr_position(app, A.id, org, div, "Clerk", 5);
	char *emp = employee_under(&A, org, NULL, self_u.id);
	char *type = kt_hr_leave_type(app, A.id, org, "OPEN", 1, 1, NULL, NULL);
	char *assignment = kt_pg_tenant_value(
	    app, A.id,
	    "INSERT INTO hr.assignments (tenant_id, id, organization_id, employee_id, position_id,"
	    " start_date) VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, $2,"
	    " $3, '2026-02-01') RETURNING id::text",
	    (const char *[]){org, emp, pos, NULL});

	kt_hr_as_user(app, self_u.id);
	char *req = kt_hr_request(app, A.id, org, emp, type, "2026-06-01", "2026-06-05");

	kt_hr_as_user(app, NULL);
	const char *changes[] = {"{\"termination_date\":\"2026-05-31\"}",
	                         "{\"hire_date\":\"2026-03-01\"}"};

	for (size_t i = 0; i < 2; i++) {
		kt_resp *r = patch(A.admin.token, emp, changes[i]);

		kt_assert_problem(r, 409, NULL, NULL);
		if (strstr(kt_jstr(r->json, "detail"), "assignments") == NULL)
			fail_msg("detail \"%s\" does not name the assignments", kt_jstr(r->json, "detail"));
		kt_resp_free(r);
	}
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.employees WHERE id = $1 AND version = 1"
	                          " AND termination_date IS NULL AND hire_date = '2026-01-05'",
	                          emp, NULL),
	                 1);
	/* the assignment ends before the termination: now the request is in the way */
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE hr.assignments SET end_date = '2026-05-31' WHERE id = $1"
	                           " RETURNING 1",
	                           (const char *[]){assignment, NULL}));
	kt_resp *r = patch(A.admin.token, emp, changes[0]);

	kt_assert_problem(r, 409, NULL, NULL);
	if (strstr(kt_jstr(r->json, "detail"), "leave") == NULL)
		fail_msg("detail \"%s\" does not name the leave", kt_jstr(r->json, "detail"));
	kt_resp_free(r);
	kt_hr_as_user(app, self_u.id);
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE hr.leave_requests SET status = 'withdrawn' WHERE id = $1"
	                           " RETURNING 1",
	                           (const char *[]){req, NULL}));
	kt_hr_as_user(app, NULL);
	r = patch(A.admin.token, emp, changes[0]);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "termination_date"), "2026-05-31");
	kt_resp_free(r);
	free(req);
	free(assignment);
	free(type);
	free(emp);
	free(pos);
	free(div);
	free(org);
}

/* ---- who sees what ---- */

static long
get_status(const char *token, const char *id)
{
	kt_resp *r = api("GET", token, NULL, NULL, EMPLOYEES "/%s", id);
	long s = r->status;

	if (s == 403)
		kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	return s;
}

static void
employee_reads_follow_the_access_matrix(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *boss = employee_under(&A, org, NULL, boss_u.id);
	char *self = employee_under(&A, org, boss, self_u.id);
	char *peer = employee_under(&A, org, NULL, A.member.id);
	char *grand = employee_under(&A, org, self, NULL);

	/* the employee itself: admin, owner, its own user, its manager's user */
	assert_int_equal(get_status(A.admin.token, self), 200);
	assert_int_equal(get_status(A.owner.token, self), 200);
	assert_int_equal(get_status(self_u.token, self), 200);
	assert_int_equal(get_status(boss_u.token, self), 200);
	/* another member (linked to an unrelated employee), a viewer, nobody */
	assert_int_equal(get_status(A.member.token, self), 403);
	assert_int_equal(get_status(A.viewer.token, self), 403);
	assert_int_equal(get_status(NULL, self), 401);
	/* a report does not see its manager; a manager not its reports' reports */
	assert_int_equal(get_status(self_u.token, boss), 403);
	assert_int_equal(get_status(boss_u.token, grand), 403);
	assert_int_equal(get_status(self_u.token, grand), 200);

	/* writes are the admin's (and owner's): even its own user may not */
	const char *tokens[] = {self_u.token, boss_u.token, A.member.token, A.viewer.token};

	for (int i = 0; i < 4; i++) {
		kt_resp *r = patch(tokens[i], self, "{\"first_name\":\"Nope\"}");

		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", tokens[i], NULL, NULL, EMPLOYEES "/%s", grand);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", tokens[i], NULL, "{" HIRED "}", ORGS "/%s/employees", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = patch(A.owner.token, self, "{\"first_name\":\"Owned\"}");

	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.employees WHERE organization_id = $1", org, NULL), 4);
	free(grand);
	free(peer);
	free(self);
	free(boss);
	free(org);
}

/* The ids of a list answer, in order, as one string "id,id,...". */
static char *
ids_of(const kt_resp *r)
{
	char *out = strdup("");
	size_t i;
	json_t *item;

	json_array_foreach(json_object_get(r->json, "data"), i, item)
	{
		char *next = kt_strf("%s%s%s", out, i ? "," : "", kt_jstr(item, "id"));

		free(out);
		out = next;
	}
	return out;
}

static void
assert_list(const char *token, const char *query, const char *org, const char *want)
{
	kt_resp *r = api("GET", token, NULL, NULL, ORGS "/%s/employees%s", org, query);

	kt_assert_status(r, 200);
	char *got = ids_of(r);

	if (strcmp(got, want) != 0)
		fail_msg("list%s: %s, expected %s", query, got, want);
	free(got);
	kt_resp_free(r);
}

static void
employee_list_pages_filters_and_hides(void **state)
{
	(void)state;
	char *org = org_new(&A), *other = org_new(&A);
	char *boss = employee_under(&A, org, NULL, boss_u.id);
	char *self = employee_under(&A, org, boss, self_u.id);
	char *mate = employee_under(&A, org, boss, NULL);
	char *grand = employee_under(&A, org, self, NULL);
	char *loner = employee_new(&A, org, "");
	char *away = employee_under(&A, other, NULL, A.member.id);
	char *all = kt_strf("%s,%s,%s,%s,%s", boss, self, mate, grand, loner);

	/* admins and owners: everything, in number order, page by page */
	assert_list(A.admin.token, "", org, all);
	assert_list(A.owner.token, "", org, all);
	kt_resp *r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/employees?limit=2", org);
	char *walked = ids_of(r);

	kt_assert_status(r, 200);
	for (int pages = 1; !json_is_null(json_object_get(r->json, "next_cursor")); pages++) {
		char *cursor = strdup(kt_jstr(r->json, "next_cursor"));

		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/employees?limit=2&cursor=%s", org,
		        cursor);
		kt_assert_status(r, 200);
		char *more = ids_of(r), *joined = kt_strf("%s%s%s", walked, more[0] ? "," : "", more);

		free(walked);
		free(more);
		free(cursor);
		walked = joined;
		assert_true(pages < 4);
	}
	assert_string_equal(walked, all);
	free(walked);
	kt_resp_free(r);

	/* filters */
	char *q = kt_strf("?manager_id=%s", boss), *want = kt_strf("%s,%s", self, mate);

	assert_list(A.admin.token, q, org, want);
	free(q);
	q = kt_strf("?user_id=%s", self_u.id);
	assert_list(A.admin.token, q, org, self);
	free(q);

	/* a manager: itself and its direct reports; a report: itself and its own reports */
	free(want);
	want = kt_strf("%s,%s,%s", boss, self, mate);
	assert_list(boss_u.token, "", org, want);
	free(want);
	want = kt_strf("%s,%s", self, grand);
	assert_list(self_u.token, "", org, want);
	q = kt_strf("?manager_id=%s", boss);
	assert_list(self_u.token, q, org, self);
	free(q);

	/* linked to no employee of this organization (the viewer; the member is linked elsewhere) */
	const char *strangers[] = {A.viewer.token, A.member.token, free_u.token};

	for (int i = 0; i < 3; i++) {
		r = api("GET", strangers[i], NULL, NULL, ORGS "/%s/employees", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	assert_list(A.member.token, "", other, away);

	/* bad queries: 400; unknown organization: 404 */
	const char *bad[] = {"?limit=0", "?limit=201", "?cursor=nope", "?manager_id=nope",
	                     "?user_id=1"};

	for (int i = 0; i < 5; i++) {
		r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/employees%s", org, bad[i]);
		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	r = api("GET", A.admin.token, NULL, NULL, ORGS "/" NIL_UUID "/employees");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(want);
	free(all);
	free(away);
	free(loner);
	free(grand);
	free(mate);
	free(self);
	free(boss);
	free(other);
	free(org);
}

/* ---- isolation ---- */

static void
other_tenants_and_organizations_ids_are_refused(void **state)
{
	(void)state;
	char *org = org_new(&A), *other = org_new(&A), *b_org = org_new(&B);
	char *theirs = employee_new(&A, other, "");
	char *their_cal = kt_hr_calendar(app, A.id, other, "Theirs", "{1,2,3,4,5}");
	char *foreign = employee_new(&B, b_org, "");
	char *foreign_cal = kt_hr_calendar(app, B.id, b_org, "Foreign", "{1,2,3,4,5}");
	char *mine = employee_new(&A, org, "");
	struct {
		const char *field, *id;
	} cases[] = {
	    {"manager_id", theirs},     {"manager_id", foreign},      {"manager_id", NIL_UUID},
	    {"calendar_id", their_cal}, {"calendar_id", foreign_cal}, {"calendar_id", NIL_UUID},
	    {"user_id", B.owner.id},    {"user_id", NIL_UUID},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *fields = kt_strf(HIRED ",\"%s\":\"%s\"", cases[i].field, cases[i].id);
		kt_resp *r = employee_post(&A, org, fields);

		kt_assert_problem(r, 422, NULL, cases[i].field);
		kt_resp_free(r);
		char *body = kt_strf("{\"%s\":\"%s\"}", cases[i].field, cases[i].id);

		r = patch(A.admin.token, mine, body);
		kt_assert_problem(r, 422, NULL, cases[i].field);
		kt_resp_free(r);
		free(body);
		free(fields);
	}
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.employees WHERE organization_id = $1", org, NULL), 1);
	/* another tenant's employee and organization in the path */
	const char *methods[] = {"GET", "PATCH", "DELETE"};

	for (int i = 0; i < 3; i++) {
		kt_resp *r = api(methods[i], A.admin.token, NULL, i == 1 ? "{\"first_name\":\"X\"}" : NULL,
		                 EMPLOYEES "/%s", foreign);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = employee_post(&A, b_org, HIRED);

	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{" HIRED "}", ORGS "/not-a-uuid/employees");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/employees", b_org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&B, "SELECT count(*) FROM hr.employees WHERE id = $1 AND version = 1",
	                          foreign, NULL),
	                 1);
	free(mine);
	free(foreign_cal);
	free(foreign);
	free(their_cal);
	free(theirs);
	free(b_org);
	free(other);
	free(org);
}

/* ---- bad input ---- */

static void
employee_create_refuses_bad_input(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *name100 = kt_repeat("n", 100), *name101 = kt_repeat("n", 101);
	char *ok100 = kt_strf(
	    "{\"first_name\":\"%s\",\"last_name\":\"L\",\"hire_date\":\"2026-01-01\"}", name100);
	char *long101 = kt_strf(
	    "{\"first_name\":\"%s\",\"last_name\":\"L\",\"hire_date\":\"2026-01-01\"}", name101);
	char *huge = kt_repeat("x", 300000);
	char *huge_body = kt_strf("{" HIRED ",\"email\":\"a@%s\"}", huge);
	struct {
		const char *body;
		long status;
		const char *field;
	} cases[] = {
	    {"{" HIRED ",\"timezone\":\"Mars/Olympus\"}", 422, "timezone"},
	    {"{" HIRED ",\"timezone\":\"\"}", 422, "timezone"},
	    {"{" HIRED ",\"timezone\":\"UTC; DROP TABLE x\"}", 422, "timezone"},
	    {"{" HIRED ",\"timezone\":null}", 422, "timezone"},
	    {"{\"first_name\":\"A\",\"last_name\":\"B\",\"hire_date\":\"2026-02-30\"}", 422,
	     "hire_date"},
	    {"{\"first_name\":\"A\",\"last_name\":\"B\",\"hire_date\":\"2026-1-5\"}", 422, "hire_date"},
	    {"{\"first_name\":\"A\",\"last_name\":\"B\",\"hire_date\":20260105}", 422, "hire_date"},
	    {"{\"first_name\":\"A\",\"last_name\":\"B\"}", 422, "hire_date"},
	    {"{" HIRED ",\"termination_date\":\"2026-01-04\"}", 422, "termination_date"},
	    {"{" HIRED ",\"termination_date\":\"tomorrow\"}", 422, "termination_date"},
	    {"{\"first_name\":\"\",\"last_name\":\"B\",\"hire_date\":\"2026-01-05\"}", 422,
	     "first_name"},
	    {"{\"first_name\":\"   \",\"last_name\":\"B\",\"hire_date\":\"2026-01-05\"}", 422,
	     "first_name"},
	    {long101, 422, "first_name"},
	    {"{\"first_name\":\"A\",\"last_name\":7,\"hire_date\":\"2026-01-05\"}", 422, "last_name"},
	    {"{" HIRED ",\"email\":\"nobody\"}", 422, "email"},
	    {"{" HIRED ",\"email\":\"@example.test\"}", 422, "email"},
	    {huge_body, 422, "email"},
	    {"{" HIRED ",\"user_id\":\"not-a-uuid\"}", 422, "user_id"},
	    {"{" HIRED ",\"manager_id\":42}", 422, "manager_id"},
	    {"{" HIRED ",\"employee_number\":\"E000001\"}", 422, "employee_number"},
	    {"{" HIRED ",\"salary\":1}", 422, "salary"},
	    {"{\"first_name\":", 400, NULL},
	    {"[1]", 400, NULL},
	    {"{\"first_name\":\"\xff\xfe\",\"last_name\":\"B\",\"hire_date\":\"2026-01-05\"}", 400,
	     NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, cases[i].body, ORGS "/%s/employees", org);

		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
	}
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.employees WHERE organization_id = $1", org, NULL), 0);
	/* the limits themselves are fine; so is a hire and termination on one day */
	kt_resp *r = api("POST", A.admin.token, NULL, ok100, ORGS "/%s/employees", org);

	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "employee_number"), "E000001");
	kt_resp_free(r);
	r = employee_post(&A, org, HIRED ",\"termination_date\":\"2026-01-05\"");
	kt_assert_status(r, 201);
	kt_resp_free(r);
	/* a body that is not JSON */
	const char *text[] = {"Content-Type: text/plain", NULL};

	r = api("POST", A.admin.token, text, NULL, ORGS "/%s/employees", org);
	assert_true(r->status == 400 || r->status == 415);
	kt_resp_free(r);
	free(huge_body);
	free(huge);
	free(long101);
	free(ok100);
	free(name101);
	free(name100);
	free(org);
}

/* ---- the database's own rules, for keel_app ---- */

static void
the_database_refuses_what_breaks_employees(void **state)
{
	(void)state;
	char *org = org_new(&A), *other = org_new(&A);
	char *e = employee_new(&A, org, ""), *elsewhere = employee_new(&A, other, "");
#define INSERT_WITH(col, val)                                                                      \
	"INSERT INTO hr.employees (tenant_id, id, organization_id, first_name, last_name, "            \
	"hire_date, " col                                                                              \
	") VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, 'F', 'L',"          \
	" '2026-01-01', " val ")"
	const char *with_number = INSERT_WITH("employee_number", "'E000042'");
	const char *with_sequence = INSERT_WITH("sequence", "42");
	const char *with_manager = INSERT_WITH("manager_id", "$2");

	/* the number is the trigger's: no grant to write it, on insert or update */
	assert_refused(&A, with_number, (const char *[]){org, NULL}, "42501", NULL);
	assert_refused(&A, with_sequence, (const char *[]){org, NULL}, "42501", NULL);
	assert_refused(&A, "UPDATE hr.employees SET employee_number = 'E000042' WHERE id = $1",
	               (const char *[]){e, NULL}, "42501", NULL);
	assert_refused(&A, "UPDATE hr.employees SET sequence = 42 WHERE id = $1",
	               (const char *[]){e, NULL}, "42501", NULL);
	assert_refused(&A, "UPDATE hr.employee_counters SET last_number = 1", NULL, "42501", NULL);
	/* a manager of another organization */
	assert_refused(&A, with_manager, (const char *[]){org, elsewhere, NULL}, "23503",
	               "employees_manager_fkey");
	assert_refused(&A, "UPDATE hr.employees SET manager_id = $2 WHERE id = $1",
	               (const char *[]){e, elsewhere, NULL}, "23503", "employees_manager_fkey");
	/* its own manager; a time zone nobody knows */
	assert_refused(&A, "UPDATE hr.employees SET manager_id = id WHERE id = $1",
	               (const char *[]){e, NULL}, "KH422", "employees_no_cycle");
	assert_refused(&A, "UPDATE hr.employees SET timezone = 'Mars/Olympus' WHERE id = $1",
	               (const char *[]){e, NULL}, "23514", "employees_timezone_check");
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.employees WHERE id = $1 AND version = 1"
	                          " AND manager_id IS NULL AND employee_number = 'E000001'",
	                          e, NULL),
	                 1);
	free(elsewhere);
	free(e);
	free(other);
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
	    cmocka_unit_test(employee_create_answers_201_and_is_read_back),
	    cmocka_unit_test(employee_create_honours_idempotency_key),
	    cmocka_unit_test(employee_numbers_are_gapless_and_failed_creates_take_none),
	    cmocka_unit_test(employee_numbers_race_without_gaps),
	    cmocka_unit_test(manager_cycles_are_refused),
	    cmocka_unit_test(concurrent_manager_changes_make_no_cycle),
	    cmocka_unit_test(one_employee_per_user_and_organization),
	    cmocka_unit_test(a_deleted_user_leaves_its_employee_unlinked),
	    cmocka_unit_test(employee_patch_changes_every_field),
	    cmocka_unit_test(employee_delete_removes_an_unreferenced_employee),
	    cmocka_unit_test(employee_delete_refuses_a_referenced_employee),
	    cmocka_unit_test(employment_dates_keep_assignments_and_leave_inside),
	    cmocka_unit_test(employee_reads_follow_the_access_matrix),
	    cmocka_unit_test(employee_list_pages_filters_and_hides),
	    cmocka_unit_test(other_tenants_and_organizations_ids_are_refused),
	    cmocka_unit_test(employee_create_refuses_bad_input),
	    cmocka_unit_test(the_database_refuses_what_breaks_employees),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
