/*
 * Positions and assignments end to end: the real keel binary over HTTP against a freshly
 * migrated database of this program's own.
 *
 * What is tested: every route's answer (status, every field, Location, ETag), the row it
 * leaves, its audit row and its event; every refusal (400, 403, 404, 409, 412, 422) with
 * nothing written; the role matrix and who may read an employee's assignments (admin, the
 * employee's own user, its manager's user; another member and a viewer get 403); another
 * tenant's and another organization's ids.  The rules the database keeps: an employee's
 * assignments never overlap (open-ended ones too), a position never holds more employees than
 * its headcount on a day, sequentially and under concurrency (two requests into the last seat
 * held at the position's lock; eight at once into a headcount of three, then every day
 * counted by SQL), a lower headcount only while nobody is over it from today on, an assignment
 * within the employment; and the raw SQL as keel_app that PostgreSQL must refuse.
 *
 * Employees are another part's routes: they are made by SQL as keel_app (kt_hr.h), through
 * the migration's rules.  Positions and assignments are made through their routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"
#include "kt_hr.h"
#include "kt_wait.h"

#define PASSWORD    "correct horse battery staple"
#define DIVISIONS   "/api/v1/divisions"
#define POSITIONS   "/api/v1/positions"
#define EMPLOYEES   "/api/v1/employees"
#define ASSIGNMENTS "/api/v1/assignments"
#define NIL_UUID    "00000000-0000-7000-8000-000000000000"
#define HIRED       "2020-01-01"

static kt_keel *srv;
static kt_client cl;   /* requests to srv */
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app, for the rules the database keeps and the employees */
static kt_tenant A, B; /* A: most tests; B: the other tenant */
static kt_user boss;   /* a member of A linked to a manager employee */
static kt_user other;  /* a member of A linked to nobody the tests read */
static int seq;        /* makes codes unique within the program */

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=8", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};

	if ((srv = kt_fixture_start("hr_position", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "hr-position-a", PASSWORD);
	kt_tenant_user(&cl, &A, &boss, "boss", "member");
	kt_tenant_user(&cl, &A, &other, "other", "member");
	kt_tenant_make(&cl, &B, "hr-position-b", PASSWORD);
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
	kt_user_free(&boss);
	kt_user_free(&other);
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

static char *
org_new(const kt_tenant *t)
{
	char *code = fresh_code("P");
	char *id = kt_org_make(&cl, t->owner.token, code);

	free(code);
	return id;
}

static char *
div_new(const kt_tenant *t, const char *org)
{
	char *code = fresh_code("D");
	char *id = kt_div_make(&cl, t->owner.token, org, NULL, code);

	free(code);
	return id;
}

/* A position made through the API by t's admin; fails unless 201.  Its id. */
static char *
position_new(const kt_tenant *t, const char *div, int headcount)
{
	char *body = kt_strf("{\"title\":\"Engineer\",\"headcount\":%d}", headcount);
	kt_resp *r = api("POST", t->admin.token, NULL, body, DIVISIONS "/%s/positions", div);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* A position of a new organization of t (its id in *org when org is not NULL).  Its id. */
static char *
position_elsewhere(const kt_tenant *t, int headcount, char **org)
{
	char *o = org_new(t), *div = div_new(t, o), *pos = position_new(t, div, headcount);

	free(div);
	if (org != NULL)
		*org = o;
	else
		free(o);
	return pos;
}

/* An employee of t's org hired on HIRED, linked to user (NULL: nobody), managed by manager. */
static char *
employee_new(const kt_tenant *t, const char *org, const char *user, const char *manager)
{
	return kt_hr_employee(app, t->id, org, user, manager, NULL, HIRED);
}

/* The body of an assignment (end NULL: open-ended, not given). */
static char *
assignment_body(const char *position, const char *start, const char *end)
{
	return end != NULL ? kt_strf("{\"position_id\":\"%s\",\"start_date\":\"%s\","
	                             "\"end_date\":\"%s\"}",
	                             position, start, end)
	                   : kt_strf("{\"position_id\":\"%s\",\"start_date\":\"%s\"}", position, start);
}

/* POST an assignment as A's admin: the whole answer. */
static kt_resp *
assign(const char *emp, const char *position, const char *start, const char *end)
{
	char *body = assignment_body(position, start, end);
	kt_resp *r = api("POST", A.admin.token, NULL, body, EMPLOYEES "/%s/assignments", emp);

	free(body);
	return r;
}

/* assign(), which must answer 201.  The assignment's id. */
static char *
assign_ok(const char *emp, const char *position, const char *start, const char *end)
{
	kt_resp *r = assign(emp, position, start, end);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	return id;
}

/* today + days, as the database has it (YYYY-MM-DD), malloc'd. */
static char *
day_from_today(int days)
{
	char *sql = kt_strf("SELECT (current_date + %d)::text", days);
	char *d = kt_pg_value(pg, sql);

	free(sql);
	return d;
}

/* ---- the database ---- */

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
assignment_count(const char *position)
{
	return count_in(&A, "SELECT count(*) FROM hr.assignments WHERE position_id = $1", position,
	                NULL);
}

/* Employees holding position on day (YYYY-MM-DD). */
static long
held_on(const char *position, const char *day)
{
	return count_in(&A,
	                "SELECT count(*) FROM hr.assignments WHERE position_id = $1"
	                " AND during @> $2::date",
	                position, day);
}

/* Days from..to on which position holds more than its headcount. */
static long
days_over_headcount(const char *position, const char *from, const char *to)
{
	const char *p[] = {position, from, to, NULL};

	return kt_pg_tenant_long(
	    pg, A.id,
	    "SELECT count(*) FROM generate_series($2::date, $3::date, interval '1 day') d"
	    " WHERE (SELECT count(*) FROM hr.assignments s WHERE s.position_id = $1"
	    "        AND s.during @> d::date)"
	    "     > (SELECT headcount FROM hr.positions WHERE id = $1)",
	    p);
}

/* The audit rows of hr.<table> for record id with action, made by actor. */
static long
audit_count(const char *table, const char *action, const char *id, const char *actor)
{
	char *sql = kt_strf("SELECT count(*) FROM audit.logs WHERE schema_name = 'hr'"
	                    " AND table_name = '%s' AND action = '%s' AND record_id = $1"
	                    " AND actor_id = $2",
	                    table, action);
	long n = count_in(&A, sql, id, actor);

	free(sql);
	return n;
}

/* The latest event of type about subject has data equal to want. */
static void
assert_event(const char *type, const char *subject, const json_t *want)
{
	char *data = kt_pg_tenant_value(pg, A.id,
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
event_count(const char *type, const char *subject)
{
	return count_in(&A, "SELECT count(*) FROM events.outbox WHERE type = $1 AND subject = $2", type,
	                subject);
}

/*
 * sql as keel_app in tenant A with its n params (NULL entries are SQL NULL): PostgreSQL must
 * refuse it with sqlstate, and with constraint when that is not NULL.
 */
static void
assert_refused(const char *sql, int n, const char *const *params, const char *sqlstate,
               const char *constraint)
{
	kt_pg_set_tenant(app, A.id);
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

static void
check_position(const json_t *o, const char *org, const char *div, const char *title, int headcount,
               long version)
{
	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "organization_id"), org);
	assert_string_equal(kt_jstr(o, "division_id"), div);
	assert_string_equal(kt_jstr(o, "title"), title);
	assert_true(json_is_integer(json_object_get(o, "headcount")));
	assert_int_equal(json_integer_value(json_object_get(o, "headcount")), headcount);
	assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 8);
}

/* end NULL: the answer's end_date is null. */
static void
check_assignment(const json_t *o, const char *emp, const char *position, const char *start,
                 const char *end, long version)
{
	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "employee_id"), emp);
	assert_string_equal(kt_jstr(o, "position_id"), position);
	assert_string_equal(kt_jstr(o, "start_date"), start);
	if (end != NULL)
		assert_string_equal(kt_jstr(o, "end_date"), end);
	else
		assert_true(json_is_null(json_object_get(o, "end_date")));
	assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 8);
}

/* The ids of a list answer's data, in order, joined by ','. */
static char *
ids_of(const kt_resp *r)
{
	json_t *data = json_object_get(r->json, "data"), *v;
	size_t i;
	char *out = strdup("");

	json_array_foreach(data, i, v)
	{
		char *next = kt_strf("%s%s%s", out, i > 0 ? "," : "", kt_jstr(v, "id"));

		free(out);
		out = next;
	}
	return out;
}

/* ---- positions ---- */

static void
position_create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org);
	kt_resp *r = api("POST", A.admin.token, NULL, "{\"title\":\"  Nurse  \",\"headcount\":3}",
	                 DIVISIONS "/%s/positions", div);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	check_position(r->json, org, div, "Nurse", 3, 1);
	const char *id = kt_jstr(r->json, "id");
	char *location = kt_strf(POSITIONS "/%s", id);

	kt_assert_header(r, "Location", location);
	kt_assert_header(r, "ETag", "\"1\"");
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.positions WHERE id = $1 AND title = 'Nurse'"
	                          " AND headcount = 3 AND division_id = $2",
	                          id, div),
	                 1);
	assert_int_equal(audit_count("positions", "INSERT", id, A.admin.id), 1);
	assert_event("keel.position.created", id, r->json);

	/* read back by a viewer: one and the division's list */
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, "%s", location);

	kt_assert_status(g, 200);
	kt_assert_header(g, "ETag", "\"1\"");
	assert_true(json_equal(g->json, r->json));
	kt_resp_free(g);
	g = api("GET", A.member.token, NULL, NULL, DIVISIONS "/%s/positions", div);
	kt_assert_status(g, 200);
	assert_int_equal(json_array_size(json_object_get(g->json, "data")), 1);
	assert_true(json_equal(json_array_get(json_object_get(g->json, "data"), 0), r->json));
	assert_true(json_is_null(json_object_get(g->json, "next_cursor")));
	kt_resp_free(g);
	kt_resp_free(r);
	free(location);
	free(div);
	free(org);
}

static void
position_list_pages_in_id_order(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *elsewhere = div_new(&A, org);
	char *p[3];

	for (int i = 0; i < 3; i++)
		p[i] = position_new(&A, div, i);
	free(position_new(&A, elsewhere, 1));
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, DIVISIONS "/%s/positions?limit=2", div);

	kt_assert_status(r, 200);
	char *ids = ids_of(r), *want = kt_strf("%s,%s", p[0], p[1]);

	assert_string_equal(ids, want);
	const char *cursor = kt_jstr(r->json, "next_cursor");
	kt_resp *r2 = api("GET", A.viewer.token, NULL, NULL,
	                  DIVISIONS "/%s/positions?limit=2&cursor=%s", div, cursor);

	kt_assert_status(r2, 200);
	free(ids);
	ids = ids_of(r2);
	assert_string_equal(ids, p[2]);
	assert_true(json_is_null(json_object_get(r2->json, "next_cursor")));
	kt_resp_free(r2);
	r2 = api("GET", A.viewer.token, NULL, NULL, DIVISIONS "/%s/positions?limit=0", div);
	kt_assert_problem(r2, 400, NULL, NULL);
	kt_resp_free(r2);
	r2 = api("GET", A.viewer.token, NULL, NULL, DIVISIONS "/%s/positions?cursor=zz", div);
	kt_assert_problem(r2, 400, NULL, NULL);
	kt_resp_free(r2);
	kt_resp_free(r);
	free(ids);
	free(want);
	for (int i = 0; i < 3; i++)
		free(p[i]);
	free(elsewhere);
	free(div);
	free(org);
}

static void
position_create_refusals(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org);
	char *b_org = org_new(&B), *b_div = div_new(&B, b_org);
	char *long_title = kt_repeat("t", 201), *ok_title = kt_repeat("\xc3\xa9", 200);
	struct {
		char *body;
		long status;
		const char *field;
	} cases[] = {
	    {kt_strf("{\"title\":\"T\",\"headcount\":-1}"), 422, "headcount"},
	    {kt_strf("{\"title\":\"T\",\"headcount\":100001}"), 422, "headcount"},
	    {kt_strf("{\"title\":\"T\",\"headcount\":\"3\"}"), 422, "headcount"},
	    {kt_strf("{\"title\":\"T\",\"headcount\":1.5}"), 422, "headcount"},
	    {kt_strf("{\"title\":\"T\",\"headcount\":null}"), 422, "headcount"},
	    {kt_strf("{\"title\":\"T\"}"), 422, "headcount"},
	    {kt_strf("{\"headcount\":1}"), 422, "title"},
	    {kt_strf("{\"title\":\"  \",\"headcount\":1}"), 422, "title"},
	    {kt_strf("{\"title\":\"%s\",\"headcount\":1}", long_title), 422, "title"},
	    {kt_strf("{\"title\":7,\"headcount\":1}"), 422, "title"},
	    {kt_strf("{\"title\":\"T\",\"headcount\":1,\"division_id\":\"%s\"}", div), 422,
	     "division_id"},
	    {kt_strf("{\"title\":\"T\",\"headcount\":"), 400, NULL},
	    {kt_strf("[1]"), 400, NULL},
	    {kt_strf("{\"title\":\"bad \xff byte\",\"headcount\":1}"), 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r =
		    api("POST", A.admin.token, NULL, cases[i].body, DIVISIONS "/%s/positions", div);

		if (r->status != cases[i].status)
			fail_msg("case %zu %s: %ld %s", i, cases[i].body, r->status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
		free(cases[i].body);
	}
	/* the division: not a UUID, unknown, another tenant's (404); roles below admin (403) */
	const char *body = "{\"title\":\"T\",\"headcount\":1}";
	const char *paths[] = {"not-a-uuid", NIL_UUID, b_div};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, body, DIVISIONS "/%s/positions", paths[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, NULL, DIVISIONS "/%s/positions", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	const char *tokens[] = {A.member.token, A.viewer.token, boss.token};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r = api("POST", tokens[i], NULL, body, DIVISIONS "/%s/positions", div);

		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.positions WHERE division_id = $1", div, NULL), 0);
	/* the limits themselves are fine; and the owner is an admin */
	char *ok = kt_strf("{\"title\":\"%s\",\"headcount\":100000}", ok_title);
	kt_resp *r = api("POST", A.owner.token, NULL, ok, DIVISIONS "/%s/positions", div);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"title\":\"Zero\",\"headcount\":0}",
	        DIVISIONS "/%s/positions", div);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(ok);
	free(long_title);
	free(ok_title);
	free(b_div);
	free(b_org);
	free(div);
	free(org);
}

static void
position_create_honours_idempotency_key(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org);
	const char *key[] = {"Idempotency-Key: position-once", NULL};
	const char *body = "{\"title\":\"Once\",\"headcount\":2}";
	kt_resp *r1 = api("POST", A.admin.token, key, body, DIVISIONS "/%s/positions", div);
	kt_resp *r2 = api("POST", A.admin.token, key, body, DIVISIONS "/%s/positions", div);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.positions WHERE division_id = $1", div, NULL), 1);
	kt_resp *r3 = api("POST", A.admin.token, key, "{\"title\":\"Twice\",\"headcount\":2}",
	                  DIVISIONS "/%s/positions", div);

	kt_assert_problem(r3, 422, NULL, NULL);
	kt_resp_free(r1);
	kt_resp_free(r2);
	kt_resp_free(r3);
	free(div);
	free(org);
}

static void
position_patch_and_delete(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 2);
	char *b_pos = position_elsewhere(&B, 1, NULL);
	const char *v1[] = {"If-Match: \"1\"", NULL};
	kt_resp *r = api("PATCH", A.admin.token, v1, "{\"title\":\"Lead\",\"headcount\":5}",
	                 POSITIONS "/%s", pos);

	kt_assert_status(r, 200);
	check_position(r->json, org, div, "Lead", 5, 2);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_int_equal(audit_count("positions", "UPDATE", pos, A.admin.id), 1);
	assert_event("keel.position.updated", pos, r->json);
	kt_resp_free(r);

	/* a stale version, no field, a bad field, another tenant's, not a UUID, roles */
	r = api("PATCH", A.admin.token, v1, "{\"title\":\"Stale\"}", POSITIONS "/%s", pos);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{}", POSITIONS "/%s", pos);
	kt_assert_problem(r, 422, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"division_id\":\"x\"}", POSITIONS "/%s", pos);
	kt_assert_problem(r, 422, NULL, "division_id");
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"headcount\":-2}", POSITIONS "/%s", pos);
	kt_assert_problem(r, 422, NULL, "headcount");
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"title\":\"X\"}", POSITIONS "/%s", b_pos);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, v1, "{\"title\":\"X\"}", POSITIONS "/%s", b_pos);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"title\":\"X\"}", POSITIONS "/nope");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.member.token, NULL, "{\"title\":\"X\"}", POSITIONS "/%s", pos);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, POSITIONS "/%s", b_pos);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT version FROM hr.positions WHERE id = $1", pos, NULL), 2);

	/* DELETE: refused while an assignment names it; then 204 with its event */
	char *emp = employee_new(&A, org, NULL, NULL);
	char *s = assign_ok(emp, pos, "2026-01-01", "2026-06-30");

	r = api("DELETE", A.admin.token, NULL, NULL, POSITIONS "/%s", pos);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.member.token, NULL, NULL, POSITIONS "/%s", pos);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, ASSIGNMENTS "/%s", s);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, v1, NULL, POSITIONS "/%s", pos);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, POSITIONS "/%s", pos);

	kt_assert_status(g, 200);
	r = api("DELETE", A.admin.token, (const char *[]){"If-Match: \"2\"", NULL}, NULL,
	        POSITIONS "/%s", pos);
	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	assert_int_equal(audit_count("positions", "DELETE", pos, A.admin.id), 1);
	assert_event("keel.position.deleted", pos, g->json);
	kt_resp_free(g);
	r = api("GET", A.viewer.token, NULL, NULL, POSITIONS "/%s", pos);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, POSITIONS "/%s", pos);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, POSITIONS "/%s", b_pos);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(s);
	free(emp);
	free(b_pos);
	free(pos);
	free(div);
	free(org);
}

/*
 * A lower headcount is refused while more employees hold the position on a day from today on;
 * past days are history.
 */
static void
position_headcount_not_lowered_below_what_it_holds(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 3);
	char *e[3];
	char *ago = day_from_today(-30), *yesterday = day_from_today(-1);
	char *soon = day_from_today(10), *later = day_from_today(40);

	for (int i = 0; i < 3; i++)
		e[i] = employee_new(&A, org, NULL, NULL);
	/* three in the past, two from soon on (one open-ended) */
	free(assign_ok(e[0], pos, ago, yesterday));
	free(assign_ok(e[1], pos, ago, yesterday));
	free(assign_ok(e[2], pos, ago, yesterday));
	free(assign_ok(e[0], pos, soon, later));
	free(assign_ok(e[1], pos, soon, NULL));

	kt_resp *r = api("PATCH", A.admin.token, NULL, "{\"headcount\":1}", POSITIONS "/%s", pos);

	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), soon));
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT headcount FROM hr.positions WHERE id = $1", pos, NULL),
	                 3);
	r = api("PATCH", A.admin.token, NULL, "{\"headcount\":2}", POSITIONS "/%s", pos);
	kt_assert_status(r, 200);
	assert_int_equal(json_integer_value(json_object_get(r->json, "headcount")), 2);
	kt_resp_free(r);
	/* a higher headcount is always fine */
	r = api("PATCH", A.admin.token, NULL, "{\"headcount\":9}", POSITIONS "/%s", pos);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	for (int i = 0; i < 3; i++)
		free(e[i]);
	free(ago);
	free(yesterday);
	free(soon);
	free(later);
	free(pos);
	free(div);
	free(org);
}

/* ---- assignments ---- */

static void
assignment_create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 2);
	char *emp = employee_new(&A, org, NULL, NULL);
	char *body = assignment_body(pos, "2026-02-01", "2026-12-31");
	kt_resp *r = api("POST", A.admin.token, NULL, body, EMPLOYEES "/%s/assignments", emp);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	check_assignment(r->json, emp, pos, "2026-02-01", "2026-12-31", 1);
	const char *id = kt_jstr(r->json, "id");
	char *location = kt_strf(EMPLOYEES "/%s/assignments", emp);

	kt_assert_header(r, "Location", location);
	kt_assert_header(r, "ETag", "\"1\"");
	assert_int_equal(
	    count_in(&A,
	             "SELECT count(*) FROM hr.assignments WHERE id = $1 AND employee_id = $2"
	             " AND during = daterange('2026-02-01', '2026-12-31', '[]')"
	             " AND organization_id IS NOT NULL",
	             id, emp),
	    1);
	assert_int_equal(audit_count("assignments", "INSERT", id, A.admin.id), 1);
	assert_event("keel.assignment.created", id, r->json);

	/* open-ended: end_date null, given or not */
	char *e2 = employee_new(&A, org, NULL, NULL);
	char *open = kt_strf("{\"position_id\":\"%s\",\"start_date\":\"2026-01-01\","
	                     "\"end_date\":null}",
	                     pos);
	kt_resp *r2 = api("POST", A.admin.token, NULL, open, EMPLOYEES "/%s/assignments", e2);

	kt_assert_status(r2, 201);
	check_assignment(r2->json, e2, pos, "2026-01-01", NULL, 1);
	kt_resp_free(r2);

	/* the employee's list */
	kt_resp *g = api("GET", A.admin.token, NULL, NULL, "%s", location);

	kt_assert_status(g, 200);
	assert_int_equal(json_array_size(json_object_get(g->json, "data")), 1);
	assert_true(json_equal(json_array_get(json_object_get(g->json, "data"), 0), r->json));
	assert_true(json_is_null(json_object_get(g->json, "next_cursor")));
	kt_resp_free(g);
	kt_resp_free(r);
	free(open);
	free(location);
	free(body);
	free(e2);
	free(emp);
	free(pos);
	free(div);
	free(org);
}

static void
assignment_list_pages_in_id_order(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 1);
	char *emp = employee_new(&A, org, NULL, NULL);
	char *a1 = assign_ok(emp, pos, "2024-01-01", "2024-12-31");
	char *a2 = assign_ok(emp, pos, "2025-01-01", "2025-12-31");
	char *a3 = assign_ok(emp, pos, "2026-01-01", NULL);
	kt_resp *r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/assignments?limit=2", emp);

	kt_assert_status(r, 200);
	char *ids = ids_of(r), *want = kt_strf("%s,%s", a1, a2);

	assert_string_equal(ids, want);
	kt_resp *r2 =
	    api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/assignments?limit=2&cursor=%s", emp,
	        kt_jstr(r->json, "next_cursor"));

	kt_assert_status(r2, 200);
	free(ids);
	ids = ids_of(r2);
	assert_string_equal(ids, a3);
	assert_true(json_is_null(json_object_get(r2->json, "next_cursor")));
	kt_resp_free(r2);
	kt_resp_free(r);
	free(ids);
	free(want);
	free(a1);
	free(a2);
	free(a3);
	free(emp);
	free(pos);
	free(div);
	free(org);
}

/*
 * Who reads an employee's assignments: an admin or owner, the employee's own user, its
 * manager's user; another member and a viewer get 403, another tenant 404.  Only admins write.
 */
static void
assignment_read_access_and_roles(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 5);
	char *mgr = employee_new(&A, org, boss.id, NULL);
	char *emp = employee_new(&A, org, A.member.id, mgr);
	char *peer = employee_new(&A, org, other.id, NULL);
	char *s = assign_ok(emp, pos, "2026-01-01", NULL);
	struct {
		const char *token, *who;
		long status;
	} cases[] = {
	    {A.owner.token, "owner", 200},   {A.admin.token, "admin", 200},
	    {A.member.token, "self", 200},   {boss.token, "manager", 200},
	    {other.token, "other", 403},     {A.viewer.token, "viewer", 403},
	    {B.admin.token, "B admin", 404},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = api("GET", cases[i].token, NULL, NULL, EMPLOYEES "/%s/assignments", emp);

		if (r->status != cases[i].status)
			fail_msg("%s: %ld %s", cases[i].who, r->status, r->body);
		if (cases[i].status == 200)
			assert_int_equal(json_array_size(json_object_get(r->json, "data")), 1);
		else
			kt_assert_problem(r, cases[i].status, NULL, NULL);
		kt_resp_free(r);
	}
	/* the manager's own record is not its report's: the report may not read it */
	kt_resp *r = api("GET", A.member.token, NULL, NULL, EMPLOYEES "/%s/assignments", mgr);

	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	/* writes: the employee's own user, its manager's, a viewer get 403 */
	const char *writers[] = {A.member.token, boss.token, A.viewer.token};
	char *body = assignment_body(pos, "2027-01-01", NULL);

	for (size_t i = 0; i < 3; i++) {
		r = api("POST", writers[i], NULL, body, EMPLOYEES "/%s/assignments", peer);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", writers[i], NULL, "{\"end_date\":\"2026-12-31\"}", ASSIGNMENTS "/%s", s);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", writers[i], NULL, NULL, ASSIGNMENTS "/%s", s);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(assignment_count(pos), 1);
	r = api("POST", A.owner.token, NULL, body, EMPLOYEES "/%s/assignments", peer);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);
	free(s);
	free(peer);
	free(emp);
	free(mgr);
	free(pos);
	free(div);
	free(org);
}

static void
assignment_create_refusals(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 5);
	char *org2, *pos2 = position_elsewhere(&A, 5, &org2);
	char *b_org, *b_pos = position_elsewhere(&B, 5, &b_org);
	char *b_emp = kt_hr_employee(app, B.id, b_org, NULL, NULL, NULL, HIRED);
	char *emp = employee_new(&A, org, NULL, NULL);
	char *huge = kt_repeat("9", 5000);
	struct {
		char *body;
		long status;
		const char *field;
	} cases[] = {
	    /* a position of another organization, of another tenant, of nobody */
	    {assignment_body(pos2, "2026-01-01", NULL), 422, "position_id"},
	    {assignment_body(b_pos, "2026-01-01", NULL), 422, "position_id"},
	    {assignment_body(NIL_UUID, "2026-01-01", NULL), 422, "position_id"},
	    {assignment_body("not-a-uuid", "2026-01-01", NULL), 422, "position_id"},
	    {kt_strf("{\"start_date\":\"2026-01-01\"}"), 422, "position_id"},
	    {kt_strf("{\"position_id\":\"%s\"}", pos), 422, "start_date"},
	    {assignment_body(pos, "2026-02-30", NULL), 422, "start_date"},
	    {assignment_body(pos, "2026-1-01", NULL), 422, "start_date"},
	    {assignment_body(pos, "2026-01-01T00:00:00Z", NULL), 422, "start_date"},
	    {assignment_body(pos, huge, NULL), 422, "start_date"},
	    {kt_strf("{\"position_id\":\"%s\",\"start_date\":null}", pos), 422, "start_date"},
	    {kt_strf("{\"position_id\":\"%s\",\"start_date\":20260101}", pos), 422, "start_date"},
	    {assignment_body(pos, "2026-01-01", "2026-13-01"), 422, "end_date"},
	    {assignment_body(pos, "2026-03-01", "2026-02-28"), 422, "end_date"},
	    /* outside the employment: before the hire date */
	    {assignment_body(pos, "2019-12-31", NULL), 422, "start_date"},
	    {kt_strf("{\"position_id\":\"%s\",\"start_date\":\"2026-01-01\",\"note\":1}", pos), 422,
	     "note"},
	    {kt_strf("{\"position_id\":\"%s\",\"start_date\":", pos), 400, NULL},
	    {kt_strf("{\"position_id\":\"%s\",\"start_date\":\"2026-01-01\xff\"}", pos), 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r =
		    api("POST", A.admin.token, NULL, cases[i].body, EMPLOYEES "/%s/assignments", emp);

		if (r->status != cases[i].status)
			fail_msg("case %zu %.200s: %ld %s", i, cases[i].body, r->status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
		free(cases[i].body);
	}
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.assignments WHERE employee_id = $1", emp, NULL), 0);
	/* the employee in the path: not a UUID, unknown, another tenant's */
	char *body = assignment_body(pos, "2026-01-01", NULL);
	const char *emps[] = {"nope", NIL_UUID, b_emp};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, body, EMPLOYEES "/%s/assignments", emps[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/assignments", emps[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	/* an employee terminated on 2026-06-30: an end after it, or none, is outside */
	kt_pg_set_tenant(app, A.id);
	PQclear(kt_pg_tenant_query(app, A.id,
	                           "UPDATE hr.employees SET termination_date = '2026-06-30'"
	                           " WHERE id = $1 RETURNING 1",
	                           (const char *[]){emp, NULL}));
	kt_resp *r = assign(emp, pos, "2026-01-01", NULL);

	kt_assert_problem(r, 422, NULL, "end_date");
	kt_resp_free(r);
	r = assign(emp, pos, "2026-01-01", "2026-07-01");
	kt_assert_problem(r, 422, NULL, "end_date");
	kt_resp_free(r);
	r = assign(emp, pos, "2026-01-01", "2026-06-30");
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(body);
	free(huge);
	free(emp);
	free(b_emp);
	free(b_pos);
	free(b_org);
	free(pos2);
	free(org2);
	free(pos);
	free(div);
	free(org);
}

/* An employee holds one position at a time: overlapping ranges, open-ended ones too, are 409. */
static void
assignments_of_an_employee_never_overlap(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org);
	char *p1 = position_new(&A, div, 10), *p2 = position_new(&A, div, 10);
	char *emp = employee_new(&A, org, NULL, NULL);
	char *first = assign_ok(emp, p1, "2026-01-01", "2026-03-31");
	struct {
		const char *start, *end;
	} overlapping[] = {
	    {"2026-03-31", "2026-04-30"}, /* its last day */
	    {"2025-12-01", "2026-01-01"}, /* its first day */
	    {"2026-02-01", "2026-02-02"}, /* inside */
	    {"2025-01-01", "2027-01-01"}, /* around */
	    {"2025-06-01", NULL},         /* open-ended, from before */
	};

	for (size_t i = 0; i < sizeof(overlapping) / sizeof(overlapping[0]); i++) {
		kt_resp *r = assign(emp, p2, overlapping[i].start, overlapping[i].end);

		if (r->status != 409)
			fail_msg("%s..%s: %ld %s", overlapping[i].start,
			         overlapping[i].end ? overlapping[i].end : "", r->status, r->body);
		kt_assert_problem(r, 409, NULL, NULL);
		assert_non_null(strstr(kt_jstr(r->json, "detail"), "another position"));
		kt_resp_free(r);
	}
	/* adjacent ranges are fine; then an open-ended one takes every later day */
	free(assign_ok(emp, p2, "2026-04-01", "2026-04-30"));
	char *open = assign_ok(emp, p1, "2026-05-01", NULL);
	kt_resp *r = assign(emp, p2, "2030-01-01", "2030-01-31");

	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.assignments WHERE employee_id = $1", emp, NULL), 3);
	/* ending the open-ended one frees the days after it */
	r = api("PATCH", A.admin.token, NULL, "{\"end_date\":\"2029-12-31\"}", ASSIGNMENTS "/%s", open);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(assign_ok(emp, p2, "2030-01-01", "2030-01-31"));
	/* and a PATCH that would make an overlap is 409 too */
	r = api("PATCH", A.admin.token, NULL, "{\"end_date\":\"2026-04-15\"}", ASSIGNMENTS "/%s",
	        first);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"end_date\":null}", ASSIGNMENTS "/%s", open);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	free(open);
	free(first);
	free(emp);
	free(p1);
	free(p2);
	free(div);
	free(org);
}

/* Headcount 1: adjacent ranges fit; an overlap on one day is 409 naming that day. */
static void
headcount_is_never_exceeded_sequentially(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 1);
	char *e[4];

	for (int i = 0; i < 4; i++)
		e[i] = employee_new(&A, org, NULL, NULL);
	free(assign_ok(e[0], pos, "2026-01-01", "2026-01-31"));
	free(assign_ok(e[1], pos, "2026-02-01", "2026-02-28"));
	kt_resp *r = assign(e[2], pos, "2026-02-28", "2026-03-31");

	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "2026-02-28"));
	kt_resp_free(r);
	r = assign(e[2], pos, "2025-12-01", NULL);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "2026-01-01"));
	kt_resp_free(r);
	char *third = assign_ok(e[2], pos, "2026-03-01", NULL);

	r = assign(e[3], pos, "2027-06-01", "2027-06-01");
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	/* moving a start into another's days is refused the same way */
	r = api("PATCH", A.admin.token, NULL, "{\"start_date\":\"2026-02-15\"}", ASSIGNMENTS "/%s",
	        third);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "2026-02-15"));
	kt_resp_free(r);
	assert_int_equal(assignment_count(pos), 3);
	assert_int_equal(days_over_headcount(pos, "2025-12-01", "2028-01-01"), 0);
	/* headcount 0: nobody */
	char *none = position_new(&A, div, 0);

	r = assign(e[3], none, "2026-01-01", "2026-01-01");
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	for (int i = 0; i < 4; i++)
		free(e[i]);
	free(third);
	free(none);
	free(pos);
	free(div);
	free(org);
}

/*
 * Two assignments into the last seat at once: both inserted and held at the position's row
 * lock (taken by this test's session first), then let go: one 201, one 409.
 */
static void
last_seat_race_seats_one(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 2);
	char *e[3];

	for (int i = 0; i < 3; i++)
		e[i] = employee_new(&A, org, NULL, NULL);
	free(assign_ok(e[0], pos, "2026-01-01", NULL));
	PGconn *hold = kt_pg_app();
	kt_async q[2];
	char *bodies[2] = {assignment_body(pos, "2026-03-01", "2026-03-31"),
	                   assignment_body(pos, "2026-03-31", NULL)};

	kt_pg_exec(hold, "BEGIN");
	PQclear(kt_pg_tenant_query(hold, A.id,
	                           "SELECT 1 FROM hr.positions WHERE id = $1 FOR NO KEY UPDATE",
	                           (const char *[]){pos, NULL}));
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){
		    .base = srv->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
		snprintf(q[i].path, sizeof(q[i].path), EMPLOYEES "/%s/assignments", e[i + 1]);
		kt_async_start(&q[i]);
		kt_wait_lock_waiters(hold, i + 1);
	}
	kt_pg_exec(hold, "ROLLBACK");
	PQfinish(hold);
	kt_resp *r0 = kt_async_finish(&q[0]), *r1 = kt_async_finish(&q[1]);
	kt_resp *won = r0->status == 201 ? r0 : r1, *lost = won == r0 ? r1 : r0;

	kt_assert_status(won, 201);
	kt_assert_problem(lost, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(lost->json, "detail"), "2026-03-31"));
	assert_int_equal(assignment_count(pos), 2);
	assert_int_equal(held_on(pos, "2026-03-31"), 2);
	assert_int_equal(days_over_headcount(pos, "2026-01-01", "2028-12-31"), 0);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM events.outbox WHERE type = $1"
	                          " AND data->>'position_id' = $2",
	                          "keel.assignment.created", pos),
	                 2);
	kt_resp_free(r0);
	kt_resp_free(r1);
	for (int i = 0; i < 2; i++)
		free(bodies[i]);
	for (int i = 0; i < 3; i++)
		free(e[i]);
	free(pos);
	free(div);
	free(org);
}

/*
 * A lower headcount and an assignment into the seat it takes away, at once (both held at the
 * position's lock until both wait): one of them wins, and no day from today on holds more
 * than the headcount.
 */
static void
lower_headcount_races_an_assignment(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 2);
	char *e0 = employee_new(&A, org, NULL, NULL), *e1 = employee_new(&A, org, NULL, NULL);
	char *today = day_from_today(0), *far = day_from_today(800);
	char *body = assignment_body(pos, today, NULL);
	PGconn *hold = kt_pg_app();
	kt_async lower = {
	    .base = srv->base, .method = "PATCH", .token = A.admin.token, .body = "{\"headcount\":1}"};
	kt_async seat = {.base = srv->base, .method = "POST", .token = A.admin.token, .body = body};

	free(assign_ok(e0, pos, today, NULL));
	snprintf(lower.path, sizeof(lower.path), POSITIONS "/%s", pos);
	snprintf(seat.path, sizeof(seat.path), EMPLOYEES "/%s/assignments", e1);
	kt_pg_exec(hold, "BEGIN");
	PQclear(kt_pg_tenant_query(hold, A.id,
	                           "SELECT 1 FROM hr.positions WHERE id = $1 FOR NO KEY UPDATE",
	                           (const char *[]){pos, NULL}));
	kt_async_start(&lower);
	kt_wait_lock_waiters(hold, 1);
	kt_async_start(&seat);
	kt_wait_lock_waiters(hold, 2);
	kt_pg_exec(hold, "ROLLBACK");
	PQfinish(hold);
	kt_resp *rl = kt_async_finish(&lower), *rs = kt_async_finish(&seat);

	if (rl->status == 200) {
		kt_assert_problem(rs, 409, NULL, NULL);
		assert_int_equal(assignment_count(pos), 1);
	} else {
		kt_assert_problem(rl, 409, NULL, NULL);
		kt_assert_status(rs, 201);
		assert_int_equal(assignment_count(pos), 2);
	}
	assert_int_equal(days_over_headcount(pos, today, far), 0);
	kt_resp_free(rl);
	kt_resp_free(rs);
	free(body);
	free(today);
	free(far);
	free(e0);
	free(e1);
	free(pos);
	free(div);
	free(org);
}

#define RACERS 8
#define ROUNDS 3

/*
 * Eight assignments at once into a headcount of three, over random overlapping ranges (some
 * open-ended), three rounds, each held at the position's lock until all eight wait: afterwards
 * no day has more than three, and every refusal was the headcount's.
 */
static void
many_concurrent_assignments_keep_the_headcount(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 3);
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int created = 0, refused = 0;

	print_message("many_concurrent_assignments: seed %u\n", seed);
	for (int round = 0; round < ROUNDS; round++) {
		PGconn *hold = kt_pg_app();
		kt_async q[RACERS];
		char *bodies[RACERS], *emps[RACERS];

		kt_pg_exec(hold, "BEGIN");
		PQclear(kt_pg_tenant_query(hold, A.id,
		                           "SELECT 1 FROM hr.positions WHERE id = $1 FOR NO KEY UPDATE",
		                           (const char *[]){pos, NULL}));
		for (int i = 0; i < RACERS; i++) {
			int start = rand_r(&seed) % 20, len = rand_r(&seed) % 12;
			char s[16], e[16];

			snprintf(s, sizeof(s), "2026-05-%02d", 1 + start);
			snprintf(e, sizeof(e), "2026-05-%02d", 1 + (start + len > 30 ? 30 : start + len));
			emps[i] = employee_new(&A, org, NULL, NULL);
			bodies[i] = assignment_body(pos, s, rand_r(&seed) % 6 == 0 ? NULL : e);
			q[i] = (kt_async){
			    .base = srv->base, .method = "POST", .token = A.admin.token, .body = bodies[i]};
			snprintf(q[i].path, sizeof(q[i].path), EMPLOYEES "/%s/assignments", emps[i]);
			kt_async_start(&q[i]);
			kt_wait_lock_waiters(hold, i + 1);
		}
		kt_pg_exec(hold, "ROLLBACK");
		PQfinish(hold);
		for (int i = 0; i < RACERS; i++) {
			kt_resp *r = kt_async_finish(&q[i]);

			if (r->status == 201) {
				created++;
			} else {
				kt_assert_problem(r, 409, NULL, NULL);
				assert_non_null(strstr(kt_jstr(r->json, "detail"), "the position is full on"));
				refused++;
			}
			kt_resp_free(r);
			free(bodies[i]);
			free(emps[i]);
		}
	}
	print_message("many_concurrent_assignments: %d seated, %d refused\n", created, refused);
	assert_int_equal(created + refused, RACERS * ROUNDS);
	assert_int_equal(assignment_count(pos), created);
	assert_true(created >= 3);
	assert_int_equal(days_over_headcount(pos, "2026-04-01", "2027-12-31"), 0);
	free(pos);
	free(div);
	free(org);
}

static void
assignment_patch_ends_and_corrects(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 2);
	char *emp = employee_new(&A, org, NULL, NULL);
	char *b_org, *b_pos = position_elsewhere(&B, 1, &b_org);
	char *b_emp = kt_hr_employee(app, B.id, b_org, NULL, NULL, NULL, HIRED);
	char *s = assign_ok(emp, pos, "2026-01-01", NULL);
	char *b_s = NULL;
	const char *v1[] = {"If-Match: \"1\"", NULL};

	/* ending it */
	kt_resp *r =
	    api("PATCH", A.admin.token, v1, "{\"end_date\":\"2026-08-31\"}", ASSIGNMENTS "/%s", s);

	kt_assert_status(r, 200);
	check_assignment(r->json, emp, pos, "2026-01-01", "2026-08-31", 2);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_int_equal(audit_count("assignments", "UPDATE", s, A.admin.id), 1);
	assert_event("keel.assignment.updated", s, r->json);
	kt_resp_free(r);
	/* correcting the start, then both; then open-ended again */
	r = api("PATCH", A.admin.token, NULL, "{\"start_date\":\"2026-01-15\"}", ASSIGNMENTS "/%s", s);
	kt_assert_status(r, 200);
	check_assignment(r->json, emp, pos, "2026-01-15", "2026-08-31", 3);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL,
	        "{\"start_date\":\"2026-02-01\",\"end_date\":\"2026-09-30\"}", ASSIGNMENTS "/%s", s);
	kt_assert_status(r, 200);
	check_assignment(r->json, emp, pos, "2026-02-01", "2026-09-30", 4);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"end_date\":null}", ASSIGNMENTS "/%s", s);
	kt_assert_status(r, 200);
	check_assignment(r->json, emp, pos, "2026-02-01", NULL, 5);
	kt_resp_free(r);

	/* refusals: the dates' order (given, or against the stored one), employment, shape */
	struct {
		const char *body;
		long status;
		const char *field;
	} cases[] = {
	    {"{\"start_date\":\"2026-05-01\",\"end_date\":\"2026-04-30\"}", 422, "end_date"},
	    {"{\"end_date\":\"2026-01-31\"}", 422, "end_date"},
	    {"{\"start_date\":\"2019-06-01\"}", 422, "start_date"},
	    {"{\"start_date\":null}", 422, "start_date"},
	    {"{\"start_date\":\"2026-02-31\"}", 422, "start_date"},
	    {"{\"position_id\":\"" NIL_UUID "\"}", 422, "position_id"},
	    {"{}", 422, NULL},
	    {"{\"end_date\":", 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = api("PATCH", A.admin.token, NULL, cases[i].body, ASSIGNMENTS "/%s", s);
		if (r->status != cases[i].status)
			fail_msg("case %zu %s: %ld %s", i, cases[i].body, r->status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
	}
	r = api("PATCH", A.admin.token, v1, "{\"end_date\":\"2026-12-31\"}", ASSIGNMENTS "/%s", s);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT version FROM hr.assignments WHERE id = $1", s, NULL), 5);

	/* another tenant's assignment, an unknown one, not a UUID: 404 */
	b_s = kt_pg_tenant_value(app, B.id,
	                         "INSERT INTO hr.assignments (tenant_id, id, organization_id,"
	                         " employee_id, position_id, start_date) VALUES"
	                         " (core.current_tenant_id(), gen_random_uuid(), $1, $2, $3,"
	                         " '2026-01-01') RETURNING id::text",
	                         (const char *[]){b_org, b_emp, b_pos, NULL});
	const char *ids[] = {b_s, NIL_UUID, "nope"};

	for (size_t i = 0; i < 3; i++) {
		r = api("PATCH", A.admin.token, NULL, "{\"end_date\":\"2026-12-31\"}", ASSIGNMENTS "/%s",
		        ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", A.admin.token, NULL, NULL, ASSIGNMENTS "/%s", ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}

	/* DELETE: If-Match, then gone with its event (the row as it was) */
	kt_resp *g = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/assignments", emp);
	json_t *before = json_incref(json_array_get(json_object_get(g->json, "data"), 0));

	kt_resp_free(g);
	r = api("DELETE", A.admin.token, v1, NULL, ASSIGNMENTS "/%s", s);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, (const char *[]){"If-Match: \"5\"", NULL}, NULL,
	        ASSIGNMENTS "/%s", s);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(audit_count("assignments", "DELETE", s, A.admin.id), 1);
	assert_event("keel.assignment.deleted", s, before);
	assert_int_equal(event_count("keel.assignment.updated", s), 4);
	assert_int_equal(assignment_count(pos), 0);
	json_decref(before);
	free(b_s);
	free(b_emp);
	free(b_pos);
	free(b_org);
	free(s);
	free(emp);
	free(pos);
	free(div);
	free(org);
}

/* ---- the database's rules, as raw SQL from keel_app ---- */

#define INSERT_ASSIGNMENT                                                                          \
	"INSERT INTO hr.assignments (tenant_id, id, organization_id, employee_id, position_id,"        \
	" start_date, end_date) VALUES (core.current_tenant_id(), gen_random_uuid(), $1, $2, $3,"      \
	" $4::date, $5::date)"

static void
the_database_refuses_what_breaks_the_rules(void **state)
{
	(void)state;
	char *org = org_new(&A), *div = div_new(&A, org), *pos = position_new(&A, div, 1);
	char *org2, *pos2 = position_elsewhere(&A, 1, &org2);
	char *e1 = employee_new(&A, org, NULL, NULL), *e2 = employee_new(&A, org, NULL, NULL);
	char *p2 = position_new(&A, div, 5);
	char *soon = day_from_today(5);

	free(assign_ok(e1, pos, "2025-01-01", "2025-12-31"));
	free(assign_ok(e2, pos, soon, NULL));
	/* overlap of one employee's (in another position with room) */
	assert_refused(INSERT_ASSIGNMENT, 5, (const char *[]){org, e1, p2, "2025-12-31", NULL}, "23P01",
	               "assignments_no_overlap");
	/* over the headcount */
	assert_refused(INSERT_ASSIGNMENT, 5, (const char *[]){org, e2, pos, "2025-06-01", "2025-06-01"},
	               "KH409", "assignments_headcount");
	/* outside the employment */
	assert_refused(INSERT_ASSIGNMENT, 5, (const char *[]){org, e2, p2, "2019-01-01", "2019-01-31"},
	               "KH422", "assignments_employment");
	/* a position of another organization */
	assert_refused(INSERT_ASSIGNMENT, 5,
	               (const char *[]){org, e2, pos2, "2021-01-01", "2021-01-31"}, "23503",
	               "assignments_position_fkey");
	/* an end before the start: the generated range refuses it (22000) before the CHECK */
	assert_refused(INSERT_ASSIGNMENT, 5, (const char *[]){org, e2, p2, "2021-02-01", "2021-01-31"},
	               "22000", NULL);
	/* a lower headcount than held from today on */
	assert_refused("UPDATE hr.positions SET headcount = 0 WHERE id = $1", 1, (const char *[]){pos},
	               "KH409", "positions_headcount");
	/* a move of an assignment onto a full day, and a change of what is fixed */
	assert_refused("UPDATE hr.assignments SET end_date = NULL WHERE employee_id = $1", 1,
	               (const char *[]){e1}, "KH409", "assignments_headcount");
	assert_refused("UPDATE hr.assignments SET position_id = $2 WHERE employee_id = $1", 2,
	               (const char *[]){e1, p2}, "42501", NULL);
	assert_refused("UPDATE hr.positions SET division_id = division_id WHERE id = $1", 1,
	               (const char *[]){pos}, "42501", NULL);
	assert_refused("UPDATE hr.positions SET headcount = 100001 WHERE id = $1", 1,
	               (const char *[]){pos}, "23514", NULL);
	assert_int_equal(days_over_headcount(pos, "2025-01-01", "2028-12-31"), 0);
	free(soon);
	free(p2);
	free(e1);
	free(e2);
	free(pos2);
	free(org2);
	free(pos);
	free(div);
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
	    cmocka_unit_test(position_create_answers_201_and_is_read_back),
	    cmocka_unit_test(position_list_pages_in_id_order),
	    cmocka_unit_test(position_create_refusals),
	    cmocka_unit_test(position_create_honours_idempotency_key),
	    cmocka_unit_test(position_patch_and_delete),
	    cmocka_unit_test(position_headcount_not_lowered_below_what_it_holds),
	    cmocka_unit_test(assignment_create_answers_201_and_is_read_back),
	    cmocka_unit_test(assignment_list_pages_in_id_order),
	    cmocka_unit_test(assignment_read_access_and_roles),
	    cmocka_unit_test(assignment_create_refusals),
	    cmocka_unit_test(assignments_of_an_employee_never_overlap),
	    cmocka_unit_test(headcount_is_never_exceeded_sequentially),
	    cmocka_unit_test(last_seat_race_seats_one),
	    cmocka_unit_test(lower_headcount_races_an_assignment),
	    cmocka_unit_test(many_concurrent_assignments_keep_the_headcount),
	    cmocka_unit_test(assignment_patch_ends_and_corrects),
	    cmocka_unit_test(the_database_refuses_what_breaks_the_rules),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
