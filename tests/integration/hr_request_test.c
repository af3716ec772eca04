/*
 * Leave requests and their approvals end to end: the real keel binary over HTTP against a
 * freshly migrated database of this program's own.
 *
 * What is tested: creating a request (the exact body, Location, ETag, the rows, the held half
 * days, the audit row, the event), the days counted from the employee's calendar through the
 * route (weekends, holidays, half-day holidays, half-day requests, a custom work week; none:
 * 422), a full and a half day on one date (409, both ways round) while two halves of one date
 * fit, overlaps with freed requests, two concurrent overlapping requests and two concurrent
 * requests that together exceed the balance (one wins, forced by holding the (employee, type)
 * lock), the balance and negative balances, approval levels and who may decide, reject,
 * withdraw and cancel with their 409s naming the state, the employee's time zone deciding
 * "today" for a cancellation, self-service boundaries and the role matrix, reading and listing
 * (filters, keyset pages), another tenant's and another organization's ids, bad input, and the
 * rules PostgreSQL enforces against raw SQL as keel_app.
 *
 * keel starts once for the group and the tenants and users are made once (password hashing is
 * slow under ASan); each test makes its own organization and never relies on another test's
 * rows.  Employees, leave types, calendars and allocations, which other parts own, are made by
 * SQL as keel_app (kt_hr.h); requests through the routes under test.
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
#include "kt_hr.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
#define HIRED    "2020-01-01"

static kt_keel *srv;
static kt_client cl; /* requests to srv */
static PGconn *pg;   /* keel_owner */
static PGconn *app;  /* keel_app, for the rows other parts own */
static kt_tenant A, B;
static kt_user boss, other; /* members of A: a manager's user, an unrelated one */
static int seq;             /* makes codes unique within the program */

#define api(method, token, body, ...) kt_call(&cl, method, token, NULL, body, __VA_ARGS__)

/* ---- the database ---- */

static char *
db_text(const char *tenant_id, const char *sql, const char *p1)
{
	return kt_pg_tenant_value(pg, tenant_id, sql, (const char *[]){p1, NULL});
}

static long
db_long(const char *sql, const char *p1)
{
	return kt_pg_tenant_long(pg, A.id, sql, (const char *[]){p1, NULL});
}

#define assert_db_text(sql, p1, want)                                                              \
	do {                                                                                           \
		char *v_ = db_text(A.id, (sql), (p1));                                                     \
		const char *w_ = (want);                                                                   \
		if ((v_ == NULL) != (w_ == NULL) || (v_ != NULL && strcmp(v_, w_) != 0))                   \
			fail_msg("%s: \"%s\", expected \"%s\"", (sql), v_ ? v_ : "NULL", w_ ? w_ : "NULL");    \
		free(v_);                                                                                  \
	} while (0)

/* Audit rows of the request with action by actor. */
static long
audit_count(const char *id, const char *action, const char *actor)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "SELECT count(*) FROM audit.logs WHERE record_id = $1"
	                         " AND table_name = 'leave_requests' AND action = $2 AND actor_id = $3",
	                         (const char *[]){id, action, actor, NULL});
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

/* The day n days after a Monday two weeks or so ahead (0: that Monday), malloc'd. */
static char *
day(int n)
{
	char *sql = kt_strf("SELECT (date_trunc('week', current_date)::date + 14 + %d)::text", n);
	char *v = kt_pg_value(pg, sql);

	free(sql);
	return v;
}

/* A date relative to the date of now in time zone tz (NULL: the server's), malloc'd. */
static char *
local_day(const char *tz, int n)
{
	char *sql = tz != NULL ? kt_strf("SELECT ((now() AT TIME ZONE '%s')::date + %d)::text", tz, n)
	                       : kt_strf("SELECT (current_date + %d)::text", n);
	char *v = kt_pg_value(pg, sql);

	free(sql);
	return v;
}

/* ---- making things ---- */

static char *
org_new(void)
{
	char code[32];

	snprintf(code, sizeof(code), "R%d", ++seq);
	return kt_org_make(&cl, A.admin.token, code);
}

/* An employee of org hired in 2020, linked to user (NULL: none). */
static char *
emp_new(const char *org, const char *user, const char *manager, const char *calendar)
{
	return kt_hr_employee(app, A.id, org, user, manager, calendar, HIRED);
}

static char *
type_new(const char *org, int levels, int negative)
{
	char code[32];

	snprintf(code, sizeof(code), "T%d", ++seq);
	return kt_hr_leave_type(app, A.id, org, code, levels, negative, NULL, NULL);
}

/* days of type for emp, valid from 60 days ago to 400 days on. */
static void
allocate(const char *org, const char *emp, const char *type, const char *days)
{
	char *from = local_day(NULL, -60), *to = local_day(NULL, 400);

	free(kt_hr_allocate(app, A.id, org, emp, type, days, from, to));
	free(from);
	free(to);
}

/* An organization with one employee linked to A's member, managed by an employee linked to
 * boss, and a leave type of levels with 100 days allocated. */
typedef struct world {
	char *org, *emp, *mgr, *type;
} world;

static void
world_make(world *w, int levels)
{
	w->org = org_new();
	w->mgr = emp_new(w->org, boss.id, NULL, NULL);
	w->emp = emp_new(w->org, A.member.id, w->mgr, NULL);
	w->type = type_new(w->org, levels, 0);
	allocate(w->org, w->emp, w->type, "100");
}

static void
world_free(world *w)
{
	free(w->org);
	free(w->emp);
	free(w->mgr);
	free(w->type);
}

/* A request's body; halves NULL for whole days. */
static char *
req_body(const char *type, const char *start, const char *end, const char *start_half,
         const char *end_half)
{
	char *sh = start_half ? kt_strf(",\"start_half\":\"%s\"", start_half) : kt_strf("%s", "");
	char *eh = end_half ? kt_strf(",\"end_half\":\"%s\"", end_half) : kt_strf("%s", "");
	char *b = kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\"%s%s}",
	                  type, start, end, sh, eh);

	free(sh);
	free(eh);
	return b;
}

static kt_resp *
req_post(const char *token, const char *emp, const char *type, const char *start, const char *end,
         const char *start_half, const char *end_half)
{
	char *body = req_body(type, start, end, start_half, end_half);
	kt_resp *r = api("POST", token, body, "/api/v1/employees/%s/leave-requests", emp);

	free(body);
	return r;
}

/* A request made through the route (fails the test unless 201): its id. */
static char *
req_make(const char *token, const char *emp, const char *type, const char *start, const char *end)
{
	kt_resp *r = req_post(token, emp, type, start, end, NULL, NULL);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	return id;
}

/* A request from the Monday n days after day(0), whole days to day(m). */
static char *
req_days(const char *token, const world *w, int n, int m)
{
	char *s = day(n), *e = day(m);
	char *id = req_make(token, w->emp, w->type, s, e);

	free(s);
	free(e);
	return id;
}

/* The days a request of whole or half days would cost: its answer's days, or its status. */
static char *
days_of(const char *emp, const char *type, int n, const char *sh, int m, const char *eh)
{
	char *s = day(n), *e = day(m);
	kt_resp *r = req_post(A.admin.token, emp, type, s, e, sh, eh);
	char *v = r->status == 201 ? strdup(kt_jstr(r->json, "days")) : kt_strf("%ld", r->status);

	if (r->status == 422 && !kt_has_field_error(r, "start_date"))
		fail_msg("422 without start_date: %s", r->body);
	free(s);
	free(e);
	kt_resp_free(r);
	return v;
}

#define assert_days(emp, type, n, sh, m, eh, want)                                                 \
	do {                                                                                           \
		char *d_ = days_of((emp), (type), (n), (sh), (m), (eh));                                   \
		assert_string_equal(d_, (want));                                                           \
		free(d_);                                                                                  \
	} while (0)

/* An action on request id; body NULL for none. */
static kt_resp *
act(const char *token, const char *id, const char *verb, const char *body)
{
	return api("POST", token, body, "/api/v1/leave-requests/%s/%s", id, verb);
}

/* The action's status, the answer freed. */
static long
act_status(const char *token, const char *id, const char *verb, const char *body)
{
	kt_resp *r = act(token, id, verb, body);
	long s = r->status;

	kt_resp_free(r);
	return s;
}

/* Fail unless the action answers 200 with the request in status want. */
static void
act_ok(const char *token, const char *id, const char *verb, const char *body, const char *want)
{
	kt_resp *r = act(token, id, verb, body);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), want);
	kt_resp_free(r);
}

/* What reading a request (ONE) or an employee's list (LIST) of id answers. */
enum { ONE, LIST };

static long
get_status(const char *token, int what, const char *id)
{
	kt_resp *r = what == ONE ? api("GET", token, NULL, "/api/v1/leave-requests/%s", id)
	                         : api("GET", token, NULL, "/api/v1/employees/%s/leave-requests", id);
	long s = r->status;

	kt_resp_free(r);
	return s;
}

/* ---- creating ---- */

static void
create_answers_201_with_the_days_rows_audit_and_event(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *mon = day(0), *fri = day(4);
	kt_resp *r = req_post(A.admin.token, w.emp, w.type, mon, fri, NULL, NULL);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	const char *id = kt_jstr(r->json, "id");

	assert_true(kt_is_uuid_v7(id));
	char *location = kt_strf("/api/v1/leave-requests/%s", id);

	kt_assert_header(r, "Location", location);
	kt_assert_header(r, "ETag", "\"1\"");
	assert_string_equal(kt_jstr(r->json, "employee_id"), w.emp);
	assert_string_equal(kt_jstr(r->json, "leave_type_id"), w.type);
	assert_string_equal(kt_jstr(r->json, "start_date"), mon);
	assert_string_equal(kt_jstr(r->json, "end_date"), fri);
	assert_true(json_is_null(json_object_get(r->json, "start_half")));
	assert_true(json_is_null(json_object_get(r->json, "end_half")));
	assert_string_equal(kt_jstr(r->json, "days"), "5");
	assert_string_equal(kt_jstr(r->json, "status"), "submitted");
	assert_string_equal(kt_jstr(r->json, "reason"), "");
	assert_int_equal(json_array_size(json_object_get(r->json, "approvals")), 0);
	assert_true(json_is_null(json_object_get(r->json, "decision_reason")));
	assert_true(json_is_null(json_object_get(r->json, "decided_by")));
	assert_true(json_is_null(json_object_get(r->json, "decided_at")));
	assert_string_equal(kt_jstr(r->json, "created_by"), A.admin.id);
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(r->json, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(r->json, "updated_at")));
	assert_int_equal(json_object_size(r->json), 18);
	/* the row, its ten half days, the audit row and the event (the answer) */
	char *row = kt_strf("submitted 5 %s", w.org);

	assert_db_text("SELECT status || ' ' || trim_scale(days) || ' ' || organization_id"
	               " FROM hr.leave_requests WHERE id = $1",
	               id, row);
	free(row);
	assert_int_equal(db_long("SELECT count(*) FROM hr.leave_days WHERE request_id = $1", id), 10);
	assert_int_equal(audit_count(id, "INSERT", A.admin.id), 1);
	assert_int_equal(event_count(id, "keel.leave_request.created", r->body), 1);
	/* read back as created */
	kt_resp *g = api("GET", A.admin.token, NULL, "%s", location);

	kt_assert_status(g, 200);
	assert_string_equal(g->body, r->body);
	kt_assert_header(g, "ETag", "\"1\"");
	/* a reason, a half start */
	kt_resp_free(g);
	char *mon2 = day(7), *tue2 = day(8);
	char *body = kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	                     "\"start_half\":\"pm\",\"end_half\":null,\"reason\":\"family\"}",
	                     w.type, mon2, tue2);
	kt_resp *h = api("POST", A.member.token, body, "/api/v1/employees/%s/leave-requests", w.emp);

	kt_assert_status(h, 201);
	assert_string_equal(kt_jstr(h->json, "start_half"), "pm");
	assert_true(json_is_null(json_object_get(h->json, "end_half")));
	assert_string_equal(kt_jstr(h->json, "days"), "1.5");
	assert_string_equal(kt_jstr(h->json, "reason"), "family");
	assert_string_equal(kt_jstr(h->json, "created_by"), A.member.id);
	kt_resp_free(h);
	/* a retry with the same Idempotency-Key gets the first answer; nothing more is written */
	char *mon3 = day(14);
	char *again = req_body(w.type, mon3, mon3, NULL, NULL);
	const char *key[] = {"Idempotency-Key: leave-1", NULL};
	kt_resp *k1 = kt_call(&cl, "POST", A.member.token, key, again,
	                      "/api/v1/employees/%s/leave-requests", w.emp);
	kt_resp *k2 = kt_call(&cl, "POST", A.member.token, key, again,
	                      "/api/v1/employees/%s/leave-requests", w.emp);

	kt_assert_status(k1, 201);
	kt_assert_status(k2, 201);
	assert_string_equal(k1->body, k2->body);
	assert_int_equal(
	    db_long("SELECT count(*) FROM hr.leave_requests WHERE employee_id = $1", w.emp), 3);
	kt_resp_free(k1);
	kt_resp_free(k2);
	free(again);
	free(mon3);
	free(body);
	free(mon2);
	free(tue2);
	free(location);
	kt_resp_free(r);
	free(mon);
	free(fri);
	world_free(&w);
}

static void
days_are_counted_from_the_calendar(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	/* Monday to Friday, no calendar: the weekend is not counted */
	assert_days(w.emp, w.type, 4, NULL, 7, NULL, "2");   /* Fri .. Mon */
	assert_days(w.emp, w.type, 5, NULL, 6, NULL, "422"); /* Sat .. Sun: no day */
	assert_days(w.emp, w.type, 14, "pm", 15, "am", "1"); /* Mon pm .. Tue am */
	assert_days(w.emp, w.type, 16, "pm", 16, NULL, "0.5");
	assert_days(w.emp, w.type, 17, NULL, 17, "am", "0.5");
	/* a calendar with a holiday and a half-day holiday */
	char *cal = kt_hr_calendar(app, A.id, w.org, "Office", "{1,2,3,4,5}");
	char *hol = day(22), *half = day(23);

	kt_hr_holiday(app, A.id, w.org, cal, hol, NULL);
	kt_hr_holiday(app, A.id, w.org, cal, half, "pm");
	char *e2 = emp_new(w.org, NULL, NULL, cal);

	allocate(w.org, e2, w.type, "100");
	assert_days(e2, w.type, 21, NULL, 23, NULL, "1.5"); /* Mon, holiday Tue, Wed am */
	assert_days(e2, w.type, 22, "pm", 22, NULL, "422"); /* a half day on a holiday */
	assert_days(e2, w.type, 22, NULL, 22, "am", "422"); /* the other half */
	assert_days(e2, w.type, 23, "pm", 23, NULL, "422"); /* the half that is off */
	assert_days(e2, w.type, 24, NULL, 25, NULL, "2");   /* Thu, Fri */
	/* a custom work week: Monday to Saturday */
	char *six = kt_hr_calendar(app, A.id, w.org, "Six days", "{1,2,3,4,5,6}");
	char *e3 = emp_new(w.org, NULL, NULL, six);

	allocate(w.org, e3, w.type, "100");
	assert_days(e3, w.type, 5, NULL, 6, NULL, "1");  /* Sat .. Sun */
	assert_days(e3, w.type, 7, NULL, 13, NULL, "6"); /* a week */
	free(cal);
	free(six);
	free(hol);
	free(half);
	free(e2);
	free(e3);
	world_free(&w);
}

/* The status of a request of whole or half days, the answer freed; a 409 names the date. */
static long
try_request(const world *w, int n, const char *sh, int m, const char *eh, int clash)
{
	char *s = day(n), *e = day(m);
	kt_resp *r = req_post(A.member.token, w->emp, w->type, s, e, sh, eh);
	long status = r->status;

	if (status == 409) {
		char *date = day(clash);

		kt_assert_problem(r, 409, NULL, NULL);
		if (strstr(kt_jstr(r->json, "detail"), date) == NULL)
			fail_msg("409 not naming %s: %s", date, r->body);
		free(date);
	}
	kt_resp_free(r);
	free(s);
	free(e);
	return status;
}

static void
a_full_and_a_half_day_on_one_date_conflict(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	/* a full day, then a half day on it */
	assert_int_equal(try_request(&w, 0, NULL, 0, NULL, 0), 201);
	assert_int_equal(try_request(&w, 0, "pm", 1, NULL, 0), 409);
	assert_int_equal(try_request(&w, 0, NULL, 0, "am", 0), 409);
	/* a half day, then a full day on it */
	assert_int_equal(try_request(&w, 2, NULL, 3, "am", 0), 201);
	assert_int_equal(try_request(&w, 3, NULL, 3, NULL, 3), 409);
	assert_int_equal(try_request(&w, 3, NULL, 4, NULL, 3), 409);
	/* the two halves of one date fit */
	assert_int_equal(try_request(&w, 3, "pm", 4, NULL, 0), 201);
	assert_int_equal(try_request(&w, 7, NULL, 8, "am", 0), 201);
	assert_int_equal(try_request(&w, 8, "pm", 9, NULL, 0), 201);
	/* overlapping whole days */
	assert_int_equal(try_request(&w, 9, NULL, 10, NULL, 9), 409);
	assert_int_equal(
	    db_long("SELECT count(*) FROM hr.leave_requests WHERE employee_id = $1", w.emp), 5);
	world_free(&w);
}

static void
freed_requests_do_not_hold_their_days(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *r1 = req_days(A.member.token, &w, 0, 1);

	act_ok(A.member.token, r1, "withdraw", NULL, "withdrawn");
	assert_int_equal(db_long("SELECT count(*) FROM hr.leave_days WHERE request_id = $1", r1), 0);
	char *r2 = req_days(A.member.token, &w, 0, 1);

	act_ok(A.admin.token, r2, "reject", "{\"reason\":\"busy\"}", "rejected");
	char *r3 = req_days(A.member.token, &w, 0, 1);

	act_ok(A.admin.token, r3, "approve", NULL, "approved");
	act_ok(A.member.token, r3, "cancel", NULL, "cancelled");
	char *r4 = req_days(A.member.token, &w, 0, 1);

	assert_int_equal(db_long("SELECT count(*) FROM hr.leave_days WHERE employee_id = $1", w.emp),
	                 4);
	free(r1);
	free(r2);
	free(r3);
	free(r4);
	world_free(&w);
}

/*
 * Two requests of w's employee sent while the test holds the (employee, type) lock, each
 * waiting for it before the next is sent: their statuses, sorted, once the lock is let go.
 */
static void
race(const world *w, int n1, int m1, int n2, int m2, long got[2])
{
	PGconn *c = kt_pg_owner();
	kt_async q[2] = {{.base = srv->base, .method = "POST", .token = A.member.token},
	                 {.base = srv->base, .method = "POST", .token = A.member.token}};
	char *bodies[2];
	int span[2][2] = {{n1, m1}, {n2, m2}};

	kt_pg_exec(c, "BEGIN");
	PGresult *res = PQexecParams(c, "SELECT hr.leave_lock($1, $2, $3)", 3, NULL,
	                             (const char *[]){A.id, w->emp, w->type}, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	for (int i = 0; i < 2; i++) {
		char *s = day(span[i][0]), *e = day(span[i][1]);

		bodies[i] = req_body(w->type, s, e, NULL, NULL);
		q[i].body = bodies[i];
		snprintf(q[i].path, sizeof(q[i].path), "/api/v1/employees/%s/leave-requests", w->emp);
		kt_async_start(&q[i]);
		/* the first waits before the second is sent: a worker that waits takes no other */
		kt_wait_lock_waiters(pg, i + 1);
		free(s);
		free(e);
	}
	kt_pg_exec(c, "COMMIT");
	for (int i = 0; i < 2; i++) {
		kt_resp *r = kt_async_finish(&q[i]);

		got[i] = r->status;
		if (r->status == 422)
			kt_assert_problem(r, 422, NULL, "leave_type_id");
		kt_resp_free(r);
		free(bodies[i]);
	}
	if (got[0] > got[1]) {
		long t = got[0];

		got[0] = got[1];
		got[1] = t;
	}
	PQfinish(c);
}

static void
concurrent_overlapping_requests_one_wins(void **state)
{
	(void)state;
	world w;
	long got[2];

	world_make(&w, 1);
	race(&w, 0, 2, 2, 3, got);
	assert_int_equal(got[0], 201);
	assert_int_equal(got[1], 409);
	assert_int_equal(
	    db_long("SELECT count(*) FROM hr.leave_requests WHERE employee_id = $1", w.emp), 1);
	world_free(&w);
}

static void
concurrent_requests_beyond_the_balance_one_wins(void **state)
{
	(void)state;
	world w;
	long got[2];

	w.org = org_new();
	w.mgr = emp_new(w.org, boss.id, NULL, NULL);
	w.emp = emp_new(w.org, A.member.id, w.mgr, NULL);
	w.type = type_new(w.org, 1, 0);
	allocate(w.org, w.emp, w.type, "3");
	race(&w, 0, 1, 2, 3, got);
	assert_int_equal(got[0], 201);
	assert_int_equal(got[1], 422);
	assert_int_equal(
	    db_long("SELECT count(*) FROM hr.leave_requests WHERE employee_id = $1", w.emp), 1);
	world_free(&w);
}

static void
the_balance_is_checked_unless_the_type_allows_negative(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *small = type_new(w.org, 1, 0), *free_type = type_new(w.org, 1, 1),
	     *none = type_new(w.org, 1, 0);
	char *mon = day(0), *wed = day(2), *fri = day(4);

	allocate(w.org, w.emp, small, "2.5");
	kt_resp *r = req_post(A.member.token, w.emp, small, mon, wed, NULL, NULL);

	kt_assert_problem(r, 422, NULL, "leave_type_id");
	if (strstr(kt_jstr(r->json, "detail"), "not enough leave") == NULL)
		fail_msg("not the database's sentence: %s", r->body);
	kt_resp_free(r);
	r = req_post(A.member.token, w.emp, small, mon, wed, NULL, "am");
	kt_assert_status(r, 201);
	assert_string_equal(kt_jstr(r->json, "days"), "2.5");
	kt_resp_free(r);
	/* no allocation at all */
	r = req_post(A.member.token, w.emp, none, fri, fri, NULL, NULL);
	kt_assert_problem(r, 422, NULL, "leave_type_id");
	kt_resp_free(r);
	/* a type that allows a negative balance: nothing allocated, still accepted */
	r = req_post(A.member.token, w.emp, free_type, fri, fri, NULL, NULL);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(small);
	free(free_type);
	free(none);
	free(mon);
	free(wed);
	free(fri);
	world_free(&w);
}

/* ---- approvals ---- */

/* Fail unless the request's approvals are levels by users (NULL-ended), in order. */
static void
assert_approvals(const json_t *req, const char *const *by)
{
	const json_t *list = json_object_get(req, "approvals");
	size_t n = 0;

	while (by[n] != NULL)
		n++;
	assert_int_equal(json_array_size(list), n);
	for (size_t i = 0; i < n; i++) {
		const json_t *a = json_array_get(list, i);

		assert_int_equal(json_integer_value(json_object_get(a, "level")), (long)i + 1);
		assert_string_equal(kt_jstr(a, "by"), by[i]);
		assert_true(kt_is_rfc3339_ms(kt_jstr(a, "at")));
	}
}

static void
one_level_is_approved_by_the_manager_or_an_admin(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *r1 = req_days(A.member.token, &w, 0, 1);

	/* nobody else: another member, the viewer, the employee itself */
	assert_int_equal(act_status(other.token, r1, "approve", NULL), 403);
	assert_int_equal(act_status(A.viewer.token, r1, "approve", NULL), 403);
	assert_int_equal(act_status(A.member.token, r1, "approve", NULL), 403);
	kt_resp *r = act(boss.token, r1, "approve", "{}");

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "approved");
	assert_approvals(r->json, (const char *[]){boss.id, NULL});
	assert_string_equal(kt_jstr(r->json, "decided_by"), boss.id);
	assert_true(kt_is_rfc3339_ms(kt_jstr(r->json, "decided_at")));
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_int_equal(audit_count(r1, "UPDATE", boss.id), 1);
	assert_int_equal(event_count(r1, "keel.leave_request.approved", r->body), 1);
	/* the days are taken: one ledger row per day */
	assert_db_text("SELECT count(*) || ' ' || trim_scale(sum(days)) FROM hr.leave_entries"
	               " WHERE request_id = $1 AND kind = 'taken'",
	               r1, "2 -2");
	kt_resp_free(r);
	/* approving again */
	r = act(A.admin.token, r1, "approve", NULL);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "approved"));
	kt_resp_free(r);
	/* an admin approves too */
	char *r2 = req_days(A.member.token, &w, 7, 7);

	act_ok(A.admin.token, r2, "approve", NULL, "approved");
	free(r1);
	free(r2);
	world_free(&w);
}

static void
two_levels_need_the_manager_or_an_admin_then_another_admin(void **state)
{
	(void)state;
	world w;

	world_make(&w, 2);
	char *r1 = req_days(A.member.token, &w, 0, 1);
	kt_resp *r = act(boss.token, r1, "approve", NULL);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "partially_approved");
	assert_approvals(r->json, (const char *[]){boss.id, NULL});
	assert_true(json_is_null(json_object_get(r->json, "decided_by")));
	assert_int_equal(event_count(r1, "keel.leave_request.partially_approved", r->body), 1);
	assert_int_equal(audit_count(r1, "UPDATE", boss.id), 1);
	assert_int_equal(db_long("SELECT count(*) FROM audit.logs WHERE table_name = 'leave_approvals'"
	                         " AND action = 'INSERT' AND new ->> 'request_id' = $1",
	                         r1),
	                 1);
	assert_int_equal(db_long("SELECT count(*) FROM hr.leave_entries WHERE request_id = $1", r1), 0);
	kt_resp_free(r);
	/* level 2: an admin only */
	assert_int_equal(act_status(boss.token, r1, "approve", NULL), 403);
	assert_int_equal(act_status(A.member.token, r1, "approve", NULL), 403);
	r = act(A.admin.token, r1, "approve", NULL);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "approved");
	assert_approvals(r->json, (const char *[]){boss.id, A.admin.id, NULL});
	assert_string_equal(kt_jstr(r->json, "decided_by"), A.admin.id);
	assert_int_equal(event_count(r1, "keel.leave_request.approved", r->body), 1);
	kt_resp_free(r);
	/* level 1 by an admin: level 2 by another admin, not the same one */
	char *r2 = req_days(A.member.token, &w, 7, 7);

	act_ok(A.admin.token, r2, "approve", NULL, "partially_approved");
	r = act(A.admin.token, r2, "approve", NULL);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	act_ok(A.owner.token, r2, "approve", NULL, "approved");
	assert_int_equal(audit_count(r2, "UPDATE", A.owner.id), 1);
	/* the employee's user is an admin: it does not decide on its own request */
	char *e2 = emp_new(w.org, A.admin.id, NULL, NULL);

	allocate(w.org, e2, w.type, "10");
	char *s = day(0), *e = day(0);
	char *r3 = req_make(A.admin.token, e2, w.type, s, e);

	assert_int_equal(act_status(A.admin.token, r3, "approve", NULL), 403);
	act_ok(A.owner.token, r3, "approve", NULL, "partially_approved");
	assert_int_equal(act_status(A.admin.token, r3, "approve", NULL), 403);
	assert_db_text("SELECT status FROM hr.leave_requests WHERE id = $1", r3, "partially_approved");
	free(s);
	free(e);
	free(e2);
	free(r1);
	free(r2);
	free(r3);
	world_free(&w);
}

static void
reject_needs_a_reason_and_an_undecided_request(void **state)
{
	(void)state;
	world w;

	world_make(&w, 2);
	char *r1 = req_days(A.member.token, &w, 0, 0);
	kt_resp *r = act(A.admin.token, r1, "reject", "{}");

	kt_assert_problem(r, 422, NULL, "reason");
	kt_resp_free(r);
	r = act(A.admin.token, r1, "reject", "{\"reason\":\"  \"}");
	kt_assert_problem(r, 422, NULL, "reason");
	kt_resp_free(r);
	char *big = kt_repeat("x", 1001);
	char *body = kt_strf("{\"reason\":\"%s\"}", big);

	r = act(A.admin.token, r1, "reject", body);
	kt_assert_problem(r, 422, NULL, "reason");
	kt_resp_free(r);
	r = act(A.admin.token, r1, "reject", "{\"reason\":\"busy\",\"extra\":1}");
	kt_assert_problem(r, 422, NULL, "extra");
	kt_resp_free(r);
	/* the employee, another member: no */
	assert_int_equal(act_status(A.member.token, r1, "reject", "{\"reason\":\"mine\"}"), 403);
	assert_int_equal(act_status(other.token, r1, "reject", "{\"reason\":\"no\"}"), 403);
	/* from submitted, by the manager */
	r = act(boss.token, r1, "reject", "{\"reason\":\"the release week\"}");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "rejected");
	assert_string_equal(kt_jstr(r->json, "decision_reason"), "the release week");
	assert_string_equal(kt_jstr(r->json, "decided_by"), boss.id);
	assert_int_equal(event_count(r1, "keel.leave_request.rejected", r->body), 1);
	assert_int_equal(audit_count(r1, "UPDATE", boss.id), 1);
	kt_resp_free(r);
	/* again: 409 naming the state */
	r = act(A.admin.token, r1, "reject", "{\"reason\":\"again\"}");
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "rejected"));
	kt_resp_free(r);
	assert_int_equal(act_status(A.admin.token, r1, "approve", NULL), 409);
	/* from partially approved: level 2's decider, an admin */
	char *r2 = req_days(A.member.token, &w, 1, 1);

	act_ok(boss.token, r2, "approve", NULL, "partially_approved");
	assert_int_equal(act_status(boss.token, r2, "reject", "{\"reason\":\"no\"}"), 403);
	act_ok(A.admin.token, r2, "reject", "{\"reason\":\"no\"}", "rejected");
	assert_int_equal(db_long("SELECT count(*) FROM hr.leave_days WHERE request_id = $1", r2), 0);
	/* an approved request is not rejected */
	char *r3 = req_days(A.member.token, &w, 2, 2);

	act_ok(boss.token, r3, "approve", NULL, "partially_approved");
	act_ok(A.admin.token, r3, "approve", NULL, "approved");
	r = act(A.owner.token, r3, "reject", "{\"reason\":\"late\"}");
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "approved"));
	kt_resp_free(r);
	free(big);
	free(body);
	free(r1);
	free(r2);
	free(r3);
	world_free(&w);
}

static void
withdraw_is_the_employees_before_a_decision(void **state)
{
	(void)state;
	world w;

	world_make(&w, 2);
	char *r1 = req_days(A.member.token, &w, 0, 0);

	assert_int_equal(act_status(A.admin.token, r1, "withdraw", NULL), 403);
	assert_int_equal(act_status(boss.token, r1, "withdraw", NULL), 403);
	assert_int_equal(act_status(other.token, r1, "withdraw", NULL), 403);
	kt_resp *r = act(A.member.token, r1, "withdraw", NULL);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "withdrawn");
	assert_string_equal(kt_jstr(r->json, "decided_by"), A.member.id);
	assert_int_equal(event_count(r1, "keel.leave_request.withdrawn", r->body), 1);
	assert_int_equal(audit_count(r1, "UPDATE", A.member.id), 1);
	kt_resp_free(r);
	r = act(A.member.token, r1, "withdraw", NULL);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "withdrawn"));
	kt_resp_free(r);
	/* after a partial approval: too late */
	char *r2 = req_days(A.member.token, &w, 1, 1);

	act_ok(boss.token, r2, "approve", NULL, "partially_approved");
	r = act(A.member.token, r2, "withdraw", NULL);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "partially_approved"));
	kt_resp_free(r);
	/* a submitted request is not cancelled: it is withdrawn */
	char *r3 = req_days(A.member.token, &w, 2, 2);

	assert_int_equal(act_status(A.member.token, r3, "cancel", NULL), 409);
	free(r1);
	free(r2);
	free(r3);
	world_free(&w);
}

/* ---- cancelling ---- */

static char *
available(const char *emp, const char *type, const char *as_of)
{
	return kt_pg_tenant_value(pg, A.id,
	                          "SELECT trim_scale(available)::text FROM hr.leave_balances($1, $2)"
	                          " WHERE leave_type_id = $3",
	                          (const char *[]){emp, as_of, type, NULL});
}

#define assert_available(emp, type, as_of, want)                                                   \
	do {                                                                                           \
		char *a_ = available((emp), (type), (as_of));                                              \
		assert_non_null(a_);                                                                       \
		assert_string_equal(a_, (want));                                                           \
		free(a_);                                                                                  \
	} while (0)

static void
cancel_before_the_start_gives_the_days_back(void **state)
{
	(void)state;
	world w;

	w.org = org_new();
	w.mgr = emp_new(w.org, boss.id, NULL, NULL);
	w.emp = emp_new(w.org, A.member.id, w.mgr, NULL);
	w.type = type_new(w.org, 1, 0);
	allocate(w.org, w.emp, w.type, "10");
	char *mon = day(0);
	char *r1 = req_days(A.member.token, &w, 0, 1);

	assert_available(w.emp, w.type, mon, "8");
	act_ok(A.admin.token, r1, "approve", NULL, "approved");
	assert_available(w.emp, w.type, mon, "8");
	/* not the manager's, nor another member's */
	assert_int_equal(act_status(boss.token, r1, "cancel", NULL), 403);
	assert_int_equal(act_status(other.token, r1, "cancel", NULL), 403);
	kt_resp *r = act(A.member.token, r1, "cancel", NULL);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "cancelled");
	assert_string_equal(kt_jstr(r->json, "decided_by"), A.member.id);
	assert_int_equal(event_count(r1, "keel.leave_request.cancelled", r->body), 1);
	assert_int_equal(audit_count(r1, "UPDATE", A.member.id), 1);
	kt_resp_free(r);
	/* the days are back: the taken rows and their opposites */
	assert_available(w.emp, w.type, mon, "10");
	assert_db_text(
	    "SELECT count(*) FILTER (WHERE days < 0) || ' ' || count(*) FILTER (WHERE days > 0)"
	    " || ' ' || trim_scale(sum(days)) FROM hr.leave_entries"
	    " WHERE request_id = $1 AND kind = 'taken'",
	    r1, "2 2 0");
	assert_int_equal(db_long("SELECT count(*) FROM hr.leave_days WHERE request_id = $1", r1), 0);
	/* again */
	r = act(A.member.token, r1, "cancel", NULL);
	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "cancelled"));
	kt_resp_free(r);
	/* an admin cancels too */
	char *r2 = req_days(A.member.token, &w, 2, 2);

	act_ok(boss.token, r2, "approve", NULL, "approved");
	act_ok(A.admin.token, r2, "cancel", NULL, "cancelled");
	assert_available(w.emp, w.type, mon, "10");
	free(mon);
	free(r1);
	free(r2);
	world_free(&w);
}

/* An approved request of emp (any day a work day) on date: the status its cancel answers. */
static long
cancel_on(const world *w, const char *emp, const char *date)
{
	char *id = req_make(A.admin.token, emp, w->type, date, date);
	long status;

	act_ok(A.owner.token, id, "approve", NULL, "approved");
	kt_resp *r = act(A.admin.token, id, "cancel", NULL);

	status = r->status;
	if (status == 409 && strstr(kt_jstr(r->json, "detail"), date) == NULL)
		fail_msg("409 not naming the start date %s: %s", date, r->body);
	kt_resp_free(r);
	free(id);
	return status;
}

static char *
emp_in(const world *w, const char *cal, const char *tz)
{
	char *emp = emp_new(w->org, NULL, NULL, cal);
	PGresult *res = kt_pg_tenant_query(app, A.id,
	                                   "UPDATE hr.employees SET timezone = $2 WHERE id = $1"
	                                   " RETURNING id",
	                                   (const char *[]){emp, tz, NULL});

	PQclear(res);
	allocate(w->org, emp, w->type, "10");
	return emp;
}

/* Whether both zones' local days last two minutes more (the test's dates stay true to its end). */
static bool
clear_of_midnight(void *arg)
{
	(void)arg;
	char *left = kt_pg_value(pg, "SELECT least("
	                             "extract(epoch FROM date_trunc('day', now() AT TIME ZONE"
	                             " 'Pacific/Kiritimati') + interval '1 day'"
	                             " - (now() AT TIME ZONE 'Pacific/Kiritimati')),"
	                             "extract(epoch FROM date_trunc('day', now() AT TIME ZONE"
	                             " 'Pacific/Pago_Pago') + interval '1 day'"
	                             " - (now() AT TIME ZONE 'Pacific/Pago_Pago'))) > 120");
	bool clear = left != NULL && strcmp(left, "t") == 0;

	free(left);
	return clear;
}

static void
the_employees_time_zone_decides_when_leave_starts(void **state)
{
	(void)state;
	world w;

	w.org = org_new();
	w.type = type_new(w.org, 1, 0);
	w.mgr = NULL;
	w.emp = NULL;
	char *cal = kt_hr_calendar(app, A.id, w.org, "Every day", "{1,2,3,4,5,6,7}");
	/* not across a local midnight: its "today" would change between the dates and the cancels */
	assert_true(kt_wait_until(clear_of_midnight, NULL, 3 * 60 * 1000));
	/* UTC+14 and UTC-11: the first's date is always one or two days after the second's */
	char *east = emp_in(&w, cal, "Pacific/Kiritimati"),
	     *west = emp_in(&w, cal, "Pacific/Pago_Pago");
	char *east_today = local_day("Pacific/Kiritimati", 0);
	char *east_tomorrow = local_day("Pacific/Kiritimati", 1);
	char *west_today = local_day("Pacific/Pago_Pago", 0);

	assert_int_equal(cancel_on(&w, east, east_today), 409);
	assert_int_equal(cancel_on(&w, east, east_tomorrow), 200);
	assert_int_equal(cancel_on(&w, west, east_today), 200);
	assert_int_equal(cancel_on(&w, west, west_today), 409);
	free(cal);
	free(east);
	free(west);
	free(east_today);
	free(east_tomorrow);
	free(west_today);
	world_free(&w);
}

/* ---- who sees what ---- */

static void
self_service_and_the_role_matrix(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *e2 = emp_new(w.org, other.id, NULL, NULL);

	allocate(w.org, e2, w.type, "10");
	/* the member creates its own, reads its own */
	char *mine = req_days(A.member.token, &w, 0, 0);
	char *theirs = req_days(other.token, &(world){.org = w.org, .emp = e2, .type = w.type}, 0, 0);

	assert_int_equal(get_status(A.member.token, ONE, mine), 200);
	assert_int_equal(get_status(A.member.token, LIST, w.emp), 200);
	/* not another's: reading, listing, requesting */
	assert_int_equal(get_status(A.member.token, ONE, theirs), 403);
	assert_int_equal(get_status(A.member.token, LIST, e2), 403);
	char *s = day(1);
	kt_resp *r = req_post(A.member.token, e2, w.type, s, s, NULL, NULL);

	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(act_status(A.member.token, theirs, "approve", NULL), 403);
	assert_int_equal(act_status(A.member.token, theirs, "withdraw", NULL), 403);
	/* the manager reads its report's, not others', and does not request for it */
	assert_int_equal(get_status(boss.token, ONE, mine), 200);
	assert_int_equal(get_status(boss.token, LIST, w.emp), 200);
	assert_int_equal(get_status(boss.token, ONE, theirs), 403);
	r = req_post(boss.token, w.emp, w.type, s, s, NULL, NULL);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	/* the viewer and an unrelated member: nothing */
	assert_int_equal(get_status(A.viewer.token, ONE, mine), 403);
	assert_int_equal(get_status(A.viewer.token, LIST, w.emp), 403);
	r = req_post(A.viewer.token, w.emp, w.type, s, s, NULL, NULL);
	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(get_status(other.token, ONE, mine), 403);
	/* admins and the owner: everything */
	assert_int_equal(get_status(A.admin.token, ONE, theirs), 200);
	assert_int_equal(get_status(A.owner.token, LIST, e2), 200);
	r = req_post(A.owner.token, e2, w.type, s, s, NULL, NULL);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	/* no token */
	assert_int_equal(get_status(NULL, ONE, mine), 401);
	/* the manager approves its report's */
	act_ok(boss.token, mine, "approve", NULL, "approved");
	act_ok(A.member.token, mine, "cancel", NULL, "cancelled");
	free(s);
	free(mine);
	free(theirs);
	free(e2);
	world_free(&w);
}

static void
ids_of_other_tenants_and_organizations(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *r1 = req_days(A.member.token, &w, 0, 0);
	char *borg = kt_org_make(&cl, B.owner.token, "RB");
	char *btype = kt_hr_leave_type(app, B.id, borg, "BT", 1, 1, NULL, NULL);
	char *org2 = org_new();
	char *type2 = type_new(org2, 1, 1);

	/* another tenant's ids in the path: 404 */
	assert_int_equal(get_status(B.owner.token, ONE, r1), 404);
	assert_int_equal(get_status(B.owner.token, LIST, w.emp), 404);
	assert_int_equal(act_status(B.owner.token, r1, "approve", NULL), 404);
	assert_int_equal(act_status(B.owner.token, r1, "reject", "{\"reason\":\"x\"}"), 404);
	assert_int_equal(act_status(B.owner.token, r1, "withdraw", NULL), 404);
	assert_int_equal(act_status(B.owner.token, r1, "cancel", NULL), 404);
	char *s = day(1);
	kt_resp *r = req_post(B.owner.token, w.emp, w.type, s, s, NULL, NULL);

	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	/* ids that are nobody's, and not UUIDs */
	assert_int_equal(get_status(A.admin.token, ONE, w.org), 404);
	assert_int_equal(get_status(A.admin.token, ONE, "not-a-uuid"), 404);
	assert_int_equal(get_status(A.admin.token, LIST, w.org), 404);
	assert_int_equal(act_status(A.admin.token, w.org, "approve", NULL), 404);
	assert_int_equal(act_status(A.admin.token, "nope", "cancel", NULL), 404);
	/* a leave type of another tenant or organization in the body: 422 */
	r = req_post(A.admin.token, w.emp, btype, s, s, NULL, NULL);
	kt_assert_problem(r, 422, NULL, "leave_type_id");
	kt_resp_free(r);
	r = req_post(A.admin.token, w.emp, type2, s, s, NULL, NULL);
	kt_assert_problem(r, 422, NULL, "leave_type_id");
	kt_resp_free(r);
	assert_int_equal(
	    db_long("SELECT count(*) FROM hr.leave_requests WHERE employee_id = $1", w.emp), 1);
	free(s);
	free(r1);
	free(borg);
	free(btype);
	free(org2);
	free(type2);
	world_free(&w);
}

/* ---- bad input ---- */

static void
bad_input_is_refused_and_nothing_is_written(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	char *mon = day(0), *tue = day(1), *far = day(366), *near = day(365);
	char *p = kt_strf("/api/v1/employees/%s/leave-requests", w.emp);
	char *big = kt_repeat("r", 1001);
	struct {
		char *body;
		long status;
		const char *field;
	} cases[] = {
	    {kt_strf("{\"leave_type_id\":"), 400, NULL},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\",\"x\":1}",
	             w.type, mon, tue),
	     422, "x"},
	    {kt_strf("{\"start_date\":\"%s\",\"end_date\":\"%s\"}", mon, tue), 422, "leave_type_id"},
	    {kt_strf("{\"leave_type_id\":\"nope\",\"start_date\":\"%s\",\"end_date\":\"%s\"}", mon,
	             tue),
	     422, "leave_type_id"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"2027-02-30\",\"end_date\":\"%s\"}",
	             w.type, tue),
	     422, "start_date"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":20270101,\"end_date\":\"%s\"}", w.type,
	             tue),
	     422, "start_date"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"tomorrow\"}",
	             w.type, mon),
	     422, "end_date"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\"}", w.type,
	             tue, mon),
	     422, "end_date"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\"}", w.type,
	             mon, far),
	     422, "end_date"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	             "\"start_half\":\"am\"}",
	             w.type, mon, tue),
	     422, "start_half"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	             "\"end_half\":\"pm\"}",
	             w.type, mon, tue),
	     422, "end_half"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	             "\"start_half\":\"pm\",\"end_half\":\"am\"}",
	             w.type, mon, mon),
	     422, "end_half"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	             "\"reason\":\"%s\"}",
	             w.type, mon, tue, big),
	     422, "reason"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"2019-12-30\","
	             "\"end_date\":\"2020-01-03\"}",
	             w.type),
	     422, "start_date"},
	    {kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\","
	             "\"reason\":\"\xff\xfe\"}",
	             w.type, mon, tue),
	     400, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, cases[i].body, "%s", p);

		if (r->status != cases[i].status)
			fail_msg("case %zu: %ld, expected %ld: %s", i, r->status, cases[i].status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
		free(cases[i].body);
	}
	assert_int_equal(
	    db_long("SELECT count(*) FROM hr.leave_requests WHERE employee_id = $1", w.emp), 0);
	/* the longest span fits the shape (the balance refuses it) */
	kt_resp *r = req_post(A.admin.token, w.emp, w.type, mon, near, NULL, NULL);

	kt_assert_problem(r, 422, NULL, "leave_type_id");
	kt_resp_free(r);
	free(mon);
	free(tue);
	free(far);
	free(near);
	free(p);
	free(big);
	world_free(&w);
}

/* ---- lists ---- */

/* The ids of a list answer's data, comma-separated, malloc'd; *next its next_cursor or NULL. */
static char *
list_ids(const char *token, const char *emp, const char *query, char **next)
{
	kt_resp *r = api("GET", token, NULL, "/api/v1/employees/%s/leave-requests%s", emp, query);

	kt_assert_status(r, 200);
	kt_assert_compact_body(r);
	const json_t *data = json_object_get(r->json, "data");
	char *ids = kt_strf("%s", "");

	for (size_t i = 0; i < json_array_size(data); i++) {
		char *more = kt_strf("%s%s%s", ids, i ? "," : "", kt_jstr(json_array_get(data, i), "id"));

		free(ids);
		ids = more;
	}
	const char *c = kt_json_str(r->json, "next_cursor");

	if (next != NULL)
		*next = c != NULL ? strdup(c) : NULL;
	kt_resp_free(r);
	return ids;
}

static void
lists_filter_and_page_by_start_date(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	/* made out of date order */
	char *r3 = req_days(A.member.token, &w, 14, 14);
	char *r1 = req_days(A.member.token, &w, 0, 0);
	char *r2 = req_days(A.member.token, &w, 7, 8);

	act_ok(A.member.token, r2, "withdraw", NULL, "withdrawn");
	char *all = kt_strf("%s,%s,%s", r1, r2, r3), *got, *next, *q;

	got = list_ids(boss.token, w.emp, "", NULL);
	assert_string_equal(got, all);
	free(got);
	/* pages of one */
	got = list_ids(A.member.token, w.emp, "?limit=1", &next);
	assert_string_equal(got, r1);
	free(got);
	assert_non_null(next);
	q = kt_strf("?limit=1&cursor=%s", next);
	free(next);
	got = list_ids(A.member.token, w.emp, q, &next);
	assert_string_equal(got, r2);
	free(got);
	free(q);
	q = kt_strf("?limit=1&cursor=%s", next);
	free(next);
	got = list_ids(A.member.token, w.emp, q, &next);
	assert_string_equal(got, r3);
	free(got);
	free(q);
	q = kt_strf("?limit=1&cursor=%s", next);
	free(next);
	got = list_ids(A.member.token, w.emp, q, &next);
	assert_string_equal(got, "");
	assert_null(next);
	free(got);
	free(q);
	/* filters: status, and the days a request touches */
	got = list_ids(A.admin.token, w.emp, "?status=withdrawn", NULL);
	assert_string_equal(got, r2);
	free(got);
	got = list_ids(A.admin.token, w.emp, "?status=submitted", NULL);
	char *sub = kt_strf("%s,%s", r1, r3);

	assert_string_equal(got, sub);
	free(got);
	free(sub);
	char *d8 = day(8), *d14 = day(14);

	q = kt_strf("?from=%s&to=%s", d8, d8);
	got = list_ids(A.admin.token, w.emp, q, NULL);
	assert_string_equal(got, r2);
	free(got);
	free(q);
	q = kt_strf("?from=%s", d14);
	got = list_ids(A.admin.token, w.emp, q, NULL);
	assert_string_equal(got, r3);
	free(got);
	free(q);
	/* bad filters and cursors: 400 */
	const char *bad[] = {"?status=approvedish", "?from=2027-02-30", "?to=soon", "?limit=0",
	                     "?cursor=xyz",         "?cursor=AQ"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r =
		    api("GET", A.admin.token, NULL, "/api/v1/employees/%s/leave-requests%s", w.emp, bad[i]);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	free(d8);
	free(d14);
	free(all);
	free(r1);
	free(r2);
	free(r3);
	world_free(&w);
}

/* The ids of the organization's list for token (query appended), or its status as text. */
static char *
org_list(const char *token, const char *org, const char *query)
{
	kt_resp *r = api("GET", token, NULL, "/api/v1/organizations/%s/leave-requests%s", org, query);

	if (r->status != 200) {
		char *s = kt_strf("%ld", r->status);

		kt_resp_free(r);
		return s;
	}
	const json_t *data = json_object_get(r->json, "data");
	char *ids = kt_strf("%s", "");

	for (size_t i = 0; i < json_array_size(data); i++) {
		char *more = kt_strf("%s%s%s", ids, i ? "," : "", kt_jstr(json_array_get(data, i), "id"));

		free(ids);
		ids = more;
	}
	kt_resp_free(r);
	return ids;
}

#define assert_org_list(token, org, query, want)                                                   \
	do {                                                                                           \
		char *l_ = org_list((token), (org), (query));                                              \
		assert_string_equal(l_, (want));                                                           \
		free(l_);                                                                                  \
	} while (0)

static void
an_organizations_list_is_what_its_caller_decides_on(void **state)
{
	(void)state;
	world w;

	world_make(&w, 1);
	allocate(w.org, w.mgr, w.type, "10");
	char *r1 = req_days(A.member.token, &w, 7, 7);
	char *r2 = req_days(A.member.token, &w, 0, 0);
	/* the manager's own request: not the manager's to decide */
	char *r3 = req_days(boss.token, &(world){.org = w.org, .emp = w.mgr, .type = w.type}, 1, 1);

	act_ok(boss.token, r1, "approve", NULL, "approved");
	char *all = kt_strf("%s,%s,%s", r2, r3, r1), *reports = kt_strf("%s,%s", r2, r1);
	char *submitted = kt_strf("%s,%s", r2, r3);

	assert_org_list(A.admin.token, w.org, "", all);
	assert_org_list(A.owner.token, w.org, "?status=submitted", submitted);
	assert_org_list(boss.token, w.org, "", reports);
	assert_org_list(boss.token, w.org, "?status=submitted", r2);
	assert_org_list(boss.token, w.org, "?limit=1", r2);
	/* a member with nobody to manage sees none; one linked to no employee of it, 403 */
	assert_org_list(A.member.token, w.org, "", "");
	assert_org_list(other.token, w.org, "", "403");
	assert_org_list(A.viewer.token, w.org, "", "403");
	/* organizations that are not the tenant's, bad filters */
	assert_org_list(B.owner.token, w.org, "", "404");
	assert_org_list(A.admin.token, w.emp, "", "404");
	assert_org_list(A.admin.token, "nope", "", "404");
	assert_org_list(A.admin.token, w.org, "?status=open", "400");
	free(all);
	free(reports);
	free(submitted);
	free(r1);
	free(r2);
	free(r3);
	world_free(&w);
}

/* ---- what PostgreSQL refuses ---- */

/* sql as keel_app in A, acting as user: fail unless it fails with SQLSTATE state. */
static void
refused(const char *user, const char *sql, const char *const *params, int n, const char *state)
{
	kt_pg_set_tenant(app, A.id);
	kt_hr_as_user(app, user);
	PGresult *res = PQexecParams(app, sql, n, NULL, params, NULL, NULL, 0);
	const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || got == NULL || strcmp(got, state) != 0)
		fail_msg("%s: %s, expected SQLSTATE %s", sql, got ? got : "no error", state);
	PQclear(res);
	kt_hr_as_user(app, NULL);
}

static void
the_database_refuses_what_breaks_the_rules(void **state)
{
	(void)state;
	world w;

	world_make(&w, 2);
	char *r1 = req_days(A.member.token, &w, 0, 0);
	char *r2 = req_days(A.member.token, &w, 1, 1);

	act_ok(boss.token, r2, "approve", NULL, "partially_approved");
	/* approved without approvals, even by an admin */
	refused(A.admin.id, "UPDATE hr.leave_requests SET status = 'approved' WHERE id = $1",
	        (const char *[]){r1}, 1, "KH409");
	/* an approval by the employee's own user */
	refused(A.member.id,
	        "INSERT INTO hr.leave_approvals (tenant_id, id, organization_id, request_id, level)"
	        " VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, $2, 1)",
	        (const char *[]){w.org, r1}, 2, "KH403");
	/* a second level-1 approval */
	refused(A.owner.id,
	        "INSERT INTO hr.leave_approvals (tenant_id, id, organization_id, request_id, level)"
	        " VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, $2, 1)",
	        (const char *[]){w.org, r2}, 2, "KH409");
	/* approvals are not changed */
	refused(A.owner.id, "UPDATE hr.leave_approvals SET level = 2 WHERE request_id = $1",
	        (const char *[]){r2}, 1, "42501");
	/* half days written directly */
	refused(A.admin.id,
	        "INSERT INTO hr.leave_days (tenant_id, organization_id, employee_id, leave_type_id,"
	        " request_id, date, half, days) VALUES (core.current_tenant_id(), $1, $2, $3, $4,"
	        " '2030-01-01', 'am', 0.5)",
	        (const char *[]){w.org, w.emp, w.type, r1}, 4, "42501");
	/* a request inserted approved */
	refused(
	    A.admin.id,
	    "INSERT INTO hr.leave_requests (tenant_id, id, organization_id, employee_id,"
	    " leave_type_id, start_date, end_date, status) VALUES (core.current_tenant_id(),"
	    " audit.uuid_v7(clock_timestamp()), $1, $2, $3, '2030-01-07', '2030-01-07', 'approved')",
	    (const char *[]){w.org, w.emp, w.type}, 3, "42501");
	/* a request by a member for someone else's employee */
	refused(other.id,
	        "INSERT INTO hr.leave_requests (tenant_id, id, organization_id, employee_id,"
	        " leave_type_id, start_date, end_date) VALUES (core.current_tenant_id(),"
	        " audit.uuid_v7(clock_timestamp()), $1, $2, $3, '2030-01-07', '2030-01-07')",
	        (const char *[]){w.org, w.emp, w.type}, 3, "KH403");
	/* a withdrawal by an admin, a rejection without a reason */
	refused(A.admin.id, "UPDATE hr.leave_requests SET status = 'withdrawn' WHERE id = $1",
	        (const char *[]){r1}, 1, "KH403");
	refused(A.admin.id, "UPDATE hr.leave_requests SET status = 'rejected' WHERE id = $1",
	        (const char *[]){r1}, 1, "KH422");
	assert_db_text("SELECT string_agg(status, ',' ORDER BY start_date) FROM hr.leave_requests"
	               " WHERE employee_id = $1",
	               w.emp, "submitted,partially_approved");
	free(r1);
	free(r2);
	world_free(&w);
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
	/* the races hold the (employee, type) lock for as long as the test needs */
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};

	if ((srv = kt_fixture_start("hr_request", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	app = kt_pg_app();
	kt_tenant_staffed(&cl, &A, "request-a", PASSWORD);
	kt_tenant_user(&cl, &A, &boss, "boss", "member");
	kt_tenant_user(&cl, &A, &other, "other", "member");
	kt_tenant_make(&cl, &B, "request-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(create_answers_201_with_the_days_rows_audit_and_event),
	    cmocka_unit_test(days_are_counted_from_the_calendar),
	    cmocka_unit_test(a_full_and_a_half_day_on_one_date_conflict),
	    cmocka_unit_test(freed_requests_do_not_hold_their_days),
	    cmocka_unit_test(concurrent_overlapping_requests_one_wins),
	    cmocka_unit_test(concurrent_requests_beyond_the_balance_one_wins),
	    cmocka_unit_test(the_balance_is_checked_unless_the_type_allows_negative),
	    cmocka_unit_test(one_level_is_approved_by_the_manager_or_an_admin),
	    cmocka_unit_test(two_levels_need_the_manager_or_an_admin_then_another_admin),
	    cmocka_unit_test(reject_needs_a_reason_and_an_undecided_request),
	    cmocka_unit_test(withdraw_is_the_employees_before_a_decision),
	    cmocka_unit_test(cancel_before_the_start_gives_the_days_back),
	    cmocka_unit_test(the_employees_time_zone_decides_when_leave_starts),
	    cmocka_unit_test(self_service_and_the_role_matrix),
	    cmocka_unit_test(ids_of_other_tenants_and_organizations),
	    cmocka_unit_test(bad_input_is_refused_and_nothing_is_written),
	    cmocka_unit_test(lists_filter_and_page_by_start_date),
	    cmocka_unit_test(an_organizations_list_is_what_its_caller_decides_on),
	    cmocka_unit_test(the_database_refuses_what_breaks_the_rules),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("hr_request", tests, setup, teardown);
}
