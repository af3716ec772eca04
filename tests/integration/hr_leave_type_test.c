/*
 * Leave types end to end: the real keel binary over HTTP against a freshly migrated database
 * of this program's own.
 *
 * What is tested: create, list (code order, keyset pages), get and PATCH: status and every
 * field (carry_forward_max as a days string or null), Location and ETag, the row, its audit
 * row and its event; every refusal (400, 403, 404, 409, 412, 422) with nothing written, bad
 * day strings among them ("1.234", "-1", "1e2", a number); the role matrix; another tenant's
 * ids; and what PostgreSQL refuses keel_app (a second code, a negative cap, a changed code).
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

#define PASSWORD    "correct horse battery staple"
#define ORGS        "/api/v1/organizations"
#define LEAVE_TYPES "/api/v1/leave-types"
#define NIL_UUID    "00000000-0000-7000-8000-000000000000"

static kt_keel *srv;
static kt_client cl;   /* requests to srv */
static PGconn *pg;     /* keel_owner */
static PGconn *app;    /* keel_app, for the rules the database keeps */
static kt_tenant A, B; /* A: most tests; B: the other tenant */
static int seq;        /* makes codes unique within the program */

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("hr_leave_type", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "hr-leave-type-a", PASSWORD);
	kt_tenant_make(&cl, &B, "hr-leave-type-b", PASSWORD);
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
org_new(const kt_tenant *t)
{
	char *code = kt_strf("T%d", ++seq);
	char *id = kt_org_make(&cl, t->owner.token, code);

	free(code);
	return id;
}

/* A leave type of org made by t's admin with body; fails unless 201.  The answer. */
static kt_resp *
leave_type_make(const kt_tenant *t, const char *org, const char *body)
{
	kt_resp *r = api("POST", t->admin.token, NULL, body, ORGS "/%s/leave-types", org);

	kt_assert_status(r, 201);
	return r;
}

/* A leave type with code and one approval level.  Its id. */
static char *
leave_type_new(const kt_tenant *t, const char *org, const char *code)
{
	char *body =
	    kt_strf("{\"code\":\"%s\",\"name\":\"Leave %s\",\"approval_levels\":1}", code, code);
	kt_resp *r = leave_type_make(t, org, body);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* ---- the database ---- */

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
type_count(const char *org)
{
	return count_in(&A, "SELECT count(*) FROM hr.leave_types WHERE organization_id = $1", org,
	                NULL);
}

/* The audit rows of hr.leave_types for record id with action, made by actor. */
static long
audit_count(const char *action, const char *id, const char *actor)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM audit.logs WHERE schema_name = 'hr'"
	                         " AND table_name = 'leave_types' AND action = $1"
	                         " AND record_id = $2 AND actor_id = $3",
	                         (const char *[]){action, id, actor, NULL});
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

/* sql as keel_app in tenant A with its n params: PostgreSQL must refuse it with sqlstate. */
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

/* carry NULL: carry_forward_max is null; months 0: carry_forward_expires_after is null. */
static void
check_leave_type(const json_t *o, const char *org, const char *code, const char *name,
                 bool negative, int levels, const char *carry, int months, long version)
{
	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "organization_id"), org);
	assert_string_equal(kt_jstr(o, "code"), code);
	assert_string_equal(kt_jstr(o, "name"), name);
	assert_true(json_is_boolean(json_object_get(o, "allow_negative")));
	assert_int_equal(json_is_true(json_object_get(o, "allow_negative")), negative);
	assert_true(json_is_integer(json_object_get(o, "approval_levels")));
	assert_int_equal(json_integer_value(json_object_get(o, "approval_levels")), levels);
	if (carry != NULL)
		assert_string_equal(kt_jstr(o, "carry_forward_max"), carry);
	else
		assert_true(json_is_null(json_object_get(o, "carry_forward_max")));
	if (months > 0)
		assert_int_equal(json_integer_value(json_object_get(o, "carry_forward_expires_after")),
		                 months);
	else
		assert_true(json_is_null(json_object_get(o, "carry_forward_expires_after")));
	assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 11);
}

/* ---- the tests ---- */

static void
create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_new(&A);
	kt_resp *r = api("POST", A.admin.token, NULL,
	                 "{\"code\":\"ANNUAL\",\"name\":\" Annual leave \",\"allow_negative\":true,"
	                 "\"approval_levels\":2,\"carry_forward_max\":\"5.50\","
	                 "\"carry_forward_expires_after\":3}",
	                 ORGS "/%s/leave-types", org);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	check_leave_type(r->json, org, "ANNUAL", "Annual leave", true, 2, "5.5", 3, 1);
	const char *id = kt_jstr(r->json, "id");
	char *location = kt_strf(LEAVE_TYPES "/%s", id);

	kt_assert_header(r, "Location", location);
	kt_assert_header(r, "ETag", "\"1\"");
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.leave_types WHERE id = $1 AND code = $2"
	                          " AND carry_forward_max = 5.5 AND approval_levels = 2"
	                          " AND allow_negative AND carry_forward_expires_after = 3",
	                          id, "ANNUAL"),
	                 1);
	assert_int_equal(audit_count("INSERT", id, A.admin.id), 1);
	assert_event("keel.leave_type.created", id, r->json);

	/* read back by a viewer */
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, "%s", location);

	kt_assert_status(g, 200);
	kt_assert_header(g, "ETag", "\"1\"");
	assert_true(json_equal(g->json, r->json));
	kt_resp_free(g);

	/* the least body: no negative balances, no carry-forward; whole and zero caps */
	kt_resp *m = leave_type_make(&A, org,
	                             "{\"code\":\"sick-1\",\"name\":\"Sick\","
	                             "\"approval_levels\":1}");

	check_leave_type(m->json, org, "sick-1", "Sick", false, 1, NULL, 0, 1);
	kt_resp_free(m);
	m = leave_type_make(&A, org,
	                    "{\"code\":\"C_2\",\"name\":\"C\",\"approval_levels\":1,"
	                    "\"carry_forward_max\":\"20\",\"carry_forward_expires_after\":120}");
	check_leave_type(m->json, org, "C_2", "C", false, 1, "20", 120, 1);
	kt_resp_free(m);
	m = leave_type_make(&A, org,
	                    "{\"code\":\"C3\",\"name\":\"C\",\"approval_levels\":1,"
	                    "\"carry_forward_max\":\"0\",\"carry_forward_expires_after\":null}");
	check_leave_type(m->json, org, "C3", "C", false, 1, "0", 0, 1);
	kt_resp_free(m);
	m = leave_type_make(&A, org,
	                    "{\"code\":\"C4\",\"name\":\"C\",\"approval_levels\":1,"
	                    "\"carry_forward_max\":\"9999.99\"}");
	check_leave_type(m->json, org, "C4", "C", false, 1, "9999.99", 0, 1);
	kt_resp_free(m);
	/* the same code in another organization is fine */
	char *org2 = org_new(&A);

	free(leave_type_new(&A, org2, "ANNUAL"));
	kt_resp_free(r);
	free(location);
	free(org2);
	free(org);
}

static void
create_honours_idempotency_key(void **state)
{
	(void)state;
	char *org = org_new(&A);
	const char *key[] = {"Idempotency-Key: leave-type-once", NULL};
	const char *body = "{\"code\":\"ONCE\",\"name\":\"Once\",\"approval_levels\":1}";
	kt_resp *r1 = api("POST", A.admin.token, key, body, ORGS "/%s/leave-types", org);
	kt_resp *r2 = api("POST", A.admin.token, key, body, ORGS "/%s/leave-types", org);

	kt_assert_status(r1, 201);
	kt_assert_status(r2, 201);
	assert_string_equal(r1->body, r2->body);
	assert_int_equal(type_count(org), 1);
	kt_resp_free(r1);
	kt_resp_free(r2);
	free(org);
}

static void
create_refusals(void **state)
{
	(void)state;
	char *org = org_new(&A), *b_org = org_new(&B);
	char *long_name = kt_repeat("n", 201), *long_code = kt_repeat("c", 33);
	char *huge = kt_repeat("9", 100000);
	struct {
		char *body;
		long status;
		const char *field;
	} cases[] = {
	    /* day strings: at most two decimals, no sign, no exponent, a string */
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\"1.234\"}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\"-1\"}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\"1e2\"}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":5}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\"\"}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\"10000\"}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\" 1\"}"),
	     422, "carry_forward_max"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_max\":\"%s\"}",
	             huge),
	     422, "carry_forward_max"},
	    /* months 1..120 */
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_expires_after\":0}"),
	     422, "carry_forward_expires_after"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_expires_after\":121}"),
	     422, "carry_forward_expires_after"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,"
	             "\"carry_forward_expires_after\":\"3\"}"),
	     422, "carry_forward_expires_after"},
	    /* approval levels 1 or 2, required */
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":0}"), 422, "approval_levels"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":3}"), 422, "approval_levels"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":\"1\"}"), 422,
	     "approval_levels"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\"}"), 422, "approval_levels"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,\"allow_negative\":1}"), 422,
	     "allow_negative"},
	    /* code and name */
	    {kt_strf("{\"code\":\"-X\",\"name\":\"X\",\"approval_levels\":1}"), 422, "code"},
	    {kt_strf("{\"code\":\"a.b\",\"name\":\"X\",\"approval_levels\":1}"), 422, "code"},
	    {kt_strf("{\"code\":\"%s\",\"name\":\"X\",\"approval_levels\":1}", long_code), 422, "code"},
	    {kt_strf("{\"code\":\"\xc3\xa9\",\"name\":\"X\",\"approval_levels\":1}"), 422, "code"},
	    {kt_strf("{\"name\":\"X\",\"approval_levels\":1}"), 422, "code"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"  \",\"approval_levels\":1}"), 422, "name"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"%s\",\"approval_levels\":1}", long_name), 422, "name"},
	    {kt_strf("{\"code\":\"X\",\"approval_levels\":1}"), 422, "name"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":1,\"id\":\"%s\"}", NIL_UUID),
	     422, "id"},
	    {kt_strf("{\"code\":\"X\",\"name\":\"X\",\"approval_levels\":"), 400, NULL},
	    {kt_strf("{\"code\":\"X\",\"name\":\"bad \xff\",\"approval_levels\":1}"), 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, cases[i].body, ORGS "/%s/leave-types", org);

		if (r->status != cases[i].status)
			fail_msg("case %zu %.200s: %ld %s", i, cases[i].body, r->status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
		free(cases[i].body);
	}
	assert_int_equal(type_count(org), 0);

	/* a code taken in the organization: 409 naming code */
	free(leave_type_new(&A, org, "DUP"));
	kt_resp *r = api("POST", A.admin.token, NULL,
	                 "{\"code\":\"DUP\",\"name\":\"Again\",\"approval_levels\":2}",
	                 ORGS "/%s/leave-types", org);

	kt_assert_problem(r, 409, NULL, "code");
	kt_resp_free(r);
	/* the organization: not a UUID, unknown, another tenant's */
	const char *body = "{\"code\":\"Y\",\"name\":\"Y\",\"approval_levels\":1}";
	const char *orgs[] = {"nope", NIL_UUID, b_org};

	for (size_t i = 0; i < 3; i++) {
		r = api("POST", A.admin.token, NULL, body, ORGS "/%s/leave-types", orgs[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/leave-types", orgs[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	/* roles: member and viewer may not create; the owner may */
	const char *tokens[] = {A.member.token, A.viewer.token};

	for (size_t i = 0; i < 2; i++) {
		r = api("POST", tokens[i], NULL, body, ORGS "/%s/leave-types", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(type_count(org), 1);
	r = api("POST", A.owner.token, NULL, body, ORGS "/%s/leave-types", org);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(huge);
	free(long_name);
	free(long_code);
	free(b_org);
	free(org);
}

static void
list_is_in_code_order_and_paged(void **state)
{
	(void)state;
	char *org = org_new(&A), *other = org_new(&A);
	const char *codes[] = {"C", "A", "B", "D-1"};

	for (size_t i = 0; i < 4; i++)
		free(leave_type_new(&A, org, codes[i]));
	free(leave_type_new(&A, other, "A0"));
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/leave-types?limit=3", org);

	kt_assert_status(r, 200);
	json_t *data = json_object_get(r->json, "data");

	assert_int_equal(json_array_size(data), 3);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "code"), "A");
	assert_string_equal(kt_jstr(json_array_get(data, 1), "code"), "B");
	assert_string_equal(kt_jstr(json_array_get(data, 2), "code"), "C");
	const char *cursor = kt_jstr(r->json, "next_cursor");
	kt_resp *r2 = api("GET", A.member.token, NULL, NULL, ORGS "/%s/leave-types?limit=3&cursor=%s",
	                  org, cursor);

	kt_assert_status(r2, 200);
	data = json_object_get(r2->json, "data");
	assert_int_equal(json_array_size(data), 1);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "code"), "D-1");
	assert_true(json_is_null(json_object_get(r2->json, "next_cursor")));
	kt_resp_free(r2);
	/* a page that is not full has no next cursor; bad paging is 400 */
	r2 = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/leave-types", org);
	kt_assert_status(r2, 200);
	assert_int_equal(json_array_size(json_object_get(r2->json, "data")), 4);
	assert_true(json_is_null(json_object_get(r2->json, "next_cursor")));
	kt_resp_free(r2);
	const char *bad[] = {"limit=0", "limit=201", "limit=x", "cursor=!!", "cursor=AQ"};

	for (size_t i = 0; i < 5; i++) {
		r2 = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/leave-types?%s", org, bad[i]);
		kt_assert_problem(r2, 400, NULL, NULL);
		kt_resp_free(r2);
	}
	/* another tenant sees none of it */
	r2 = api("GET", B.admin.token, NULL, NULL, ORGS "/%s/leave-types", org);
	kt_assert_problem(r2, 404, NULL, NULL);
	kt_resp_free(r2);
	kt_resp_free(r);
	free(other);
	free(org);
}

static void
patch_changes_what_is_not_the_code(void **state)
{
	(void)state;
	char *org = org_new(&A);
	kt_resp *c = leave_type_make(&A, org, "{\"code\":\"P1\",\"name\":\"P\",\"approval_levels\":1}");
	char *id = strdup(kt_jstr(c->json, "id"));
	const char *v1[] = {"If-Match: \"1\"", NULL};

	kt_resp_free(c);
	kt_resp *r = api("PATCH", A.admin.token, v1,
	                 "{\"name\":\"Parental\",\"allow_negative\":true,\"approval_levels\":2,"
	                 "\"carry_forward_max\":\"2.25\",\"carry_forward_expires_after\":6}",
	                 LEAVE_TYPES "/%s", id);

	kt_assert_status(r, 200);
	check_leave_type(r->json, org, "P1", "Parental", true, 2, "2.25", 6, 2);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_int_equal(audit_count("UPDATE", id, A.admin.id), 1);
	assert_event("keel.leave_type.updated", id, r->json);
	kt_resp_free(r);
	/* one field leaves the others alone; null unsets the carry settings */
	r = api("PATCH", A.admin.token, NULL, "{\"approval_levels\":1}", LEAVE_TYPES "/%s", id);
	kt_assert_status(r, 200);
	check_leave_type(r->json, org, "P1", "Parental", true, 1, "2.25", 6, 3);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL,
	        "{\"carry_forward_max\":null,\"carry_forward_expires_after\":null}", LEAVE_TYPES "/%s",
	        id);
	kt_assert_status(r, 200);
	check_leave_type(r->json, org, "P1", "Parental", true, 1, NULL, 0, 4);
	kt_resp_free(r);

	struct {
		const char *body;
		long status;
		const char *field;
	} cases[] = {
	    {"{\"code\":\"P2\"}", 422, "code"},
	    {"{\"carry_forward_max\":\"1.234\"}", 422, "carry_forward_max"},
	    {"{\"carry_forward_max\":\"-1\"}", 422, "carry_forward_max"},
	    {"{\"carry_forward_max\":\"1e2\"}", 422, "carry_forward_max"},
	    {"{\"carry_forward_max\":5}", 422, "carry_forward_max"},
	    {"{\"carry_forward_expires_after\":0}", 422, "carry_forward_expires_after"},
	    {"{\"approval_levels\":null}", 422, "approval_levels"},
	    {"{\"approval_levels\":3}", 422, "approval_levels"},
	    {"{\"name\":\"\"}", 422, "name"},
	    {"{\"allow_negative\":null}", 422, "allow_negative"},
	    {"{}", 422, NULL},
	    {"{\"name\":", 400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = api("PATCH", A.admin.token, NULL, cases[i].body, LEAVE_TYPES "/%s", id);
		if (r->status != cases[i].status)
			fail_msg("case %zu %s: %ld %s", i, cases[i].body, r->status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
	}
	r = api("PATCH", A.admin.token, v1, "{\"name\":\"Stale\"}", LEAVE_TYPES "/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.member.token, NULL, "{\"name\":\"M\"}", LEAVE_TYPES "/%s", id);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.viewer.token, NULL, "{\"name\":\"V\"}", LEAVE_TYPES "/%s", id);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A, "SELECT version FROM hr.leave_types WHERE id = $1", id, NULL), 4);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM events.outbox WHERE type = $1 AND subject = $2",
	                          "keel.leave_type.updated", id),
	                 3);
	r = api("PATCH", A.owner.token, NULL, "{\"name\":\"O\"}", LEAVE_TYPES "/%s", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(id);
	free(org);
}

/* Another tenant's leave type is 404 everywhere; an unknown one and a non-UUID too. */
static void
other_tenants_leave_types_are_not_found(void **state)
{
	(void)state;
	char *b_org = org_new(&B);
	char *b_type = leave_type_new(&B, b_org, "BONLY");
	const char *ids[] = {b_type, NIL_UUID, "nope"};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r = api("GET", A.admin.token, NULL, NULL, LEAVE_TYPES "/%s", ids[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", A.admin.token, NULL, "{\"name\":\"X\"}", LEAVE_TYPES "/%s", ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", A.admin.token, (const char *[]){"If-Match: \"1\"", NULL},
		        "{\"name\":\"X\"}", LEAVE_TYPES "/%s", ids[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(kt_pg_tenant_long(pg, B.id, "SELECT version FROM hr.leave_types WHERE id = $1",
	                                   (const char *[]){b_type, NULL}),
	                 1);
	kt_resp *r = api("GET", B.admin.token, NULL, NULL, LEAVE_TYPES "/%s", b_type);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(b_type);
	free(b_org);
}

static void
the_database_refuses_what_breaks_the_rules(void **state)
{
	(void)state;
	char *org = org_new(&A), *id = leave_type_new(&A, org, "RULES");
	char *b_org = org_new(&B);
	const char *insert =
	    "INSERT INTO hr.leave_types (tenant_id, id, organization_id, code, name, approval_levels,"
	    " carry_forward_max, carry_forward_expires_after) VALUES (core.current_tenant_id(),"
	    " gen_random_uuid(), $1, $2, 'n', $3::smallint, $4::numeric, $5::smallint)";

	assert_refused(insert, 5, (const char *[]){org, "RULES", "1", NULL, NULL}, "23505",
	               "leave_types_code_key");
	assert_refused(insert, 5, (const char *[]){org, "NEG", "1", "-1", NULL}, "23514", NULL);
	assert_refused(insert, 5, (const char *[]){org, "FRAC", "1", "1.234", NULL}, "23514", NULL);
	assert_refused(insert, 5, (const char *[]){org, "LVL", "3", NULL, NULL}, "23514", NULL);
	assert_refused(insert, 5, (const char *[]){org, "MON", "1", NULL, "121"}, "23514", NULL);
	assert_refused(insert, 5, (const char *[]){org, "bad code", "1", NULL, NULL}, "23514", NULL);
	/* another tenant's organization: the composite foreign key */
	assert_refused(insert, 5, (const char *[]){b_org, "OTHER", "1", NULL, NULL}, "23503",
	               "leave_types_organization_fkey");
	/* the code is fixed (no column grant) */
	assert_refused("UPDATE hr.leave_types SET code = 'NEW' WHERE id = $1", 1, (const char *[]){id},
	               "42501", NULL);
	free(b_org);
	free(id);
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
	    cmocka_unit_test(create_answers_201_and_is_read_back),
	    cmocka_unit_test(create_honours_idempotency_key),
	    cmocka_unit_test(create_refusals),
	    cmocka_unit_test(list_is_in_code_order_and_paged),
	    cmocka_unit_test(patch_changes_what_is_not_the_code),
	    cmocka_unit_test(other_tenants_leave_types_are_not_found),
	    cmocka_unit_test(the_database_refuses_what_breaks_the_rules),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
