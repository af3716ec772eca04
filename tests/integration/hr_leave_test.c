/*
 * The leave ledger end to end: allocations, balances and the ledger's rows through the real
 * keel binary over HTTP, against a freshly migrated database of this program's own.
 *
 * What is tested: the carry-forward and expiry of migration 0019 (hr.leave_settle, run by the
 * balances' GET) with the cases users of other HR systems lost days to: carried days expiring
 * at the end of their window consume only what was not held while they were usable, an expiry
 * never reduces what was allocated, the cap, no carry without one, carried days usable only
 * while valid; rows written once, also by two concurrent reads; negative balances; the
 * ledger's append-only rules for keel_app; every route's answer, row, audit row and event, the
 * role and HR access matrices, other tenants' and organizations' ids and bad input.
 *
 * Leave requests are another part's routes: they are made here by SQL as keel_app
 * (kt_hr_request, hr.leave_request_approve as an admin), through the migration's rules.
 * Employees get a calendar of seven work days, so a request of n days spans n dates.  Leave
 * periods are placed relative to today (UTC, the employees' time zone) so that the ones that
 * must have ended have.
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

#define PASSWORD  "correct horse battery staple"
#define EMPLOYEES "/api/v1/employees"
#define NIL_UUID  "00000000-0000-7000-8000-000000000000"
#define EVENT     "keel.leave_entry.created"

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;  /* keel_owner */
static PGconn *app; /* keel_app: the rules the database keeps, and the other parts' rows */
static kt_tenant A, B;
static kt_user self_u, boss_u; /* members of A: an employee's own user and its manager's */
static int seq;

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

/* Strings made by the helpers, freed at the end. */
static char *kept[4096];
static int nkept;

static char *
keep(char *s)
{
	if (nkept == (int)(sizeof(kept) / sizeof(kept[0])))
		fail_msg("too many kept strings");
	kept[nkept++] = s;
	return s;
}

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	/* no statement timeout: the race tests hold requests at a lock for as long as the box needs */
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};

	if ((srv = kt_fixture_start("hr_leave", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "hr-leave-a", PASSWORD);
	kt_tenant_user(&cl, &A, &self_u, "self", "member");
	kt_tenant_user(&cl, &A, &boss_u, "boss", "member");
	kt_tenant_make(&cl, &B, "hr-leave-b", PASSWORD);
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
	for (int i = 0; i < nkept; i++)
		free(kept[i]);
	kt_user_free(&self_u);
	kt_user_free(&boss_u);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

/* ---- dates ---- */

/* Today (UTC: the employees' time zone) moved by offset days, YYYY-MM-DD. */
static const char *
day(int offset)
{
	char *sql = kt_strf("SELECT ((now() AT TIME ZONE 'UTC')::date + %d)::text", offset);
	char *v = kt_pg_value(pg, sql);

	free(sql);
	return keep(v);
}

/* d plus months calendar months, as the migration computes a carry-forward's end. */
static const char *
plus_months(const char *d, int months)
{
	char *sql = kt_strf("SELECT ('%s'::date + interval '%d months')::date::text", d, months);
	char *v = kt_pg_value(pg, sql);

	free(sql);
	return keep(v);
}

static const char *
next_day(const char *d)
{
	char *sql = kt_strf("SELECT ('%s'::date + 1)::text", d);
	char *v = kt_pg_value(pg, sql);

	free(sql);
	return keep(v);
}

/* ---- a scene: an organization with one leave type and an employee ---- */

typedef struct scene {
	const kt_tenant *t;
	const char *org, *cal, *emp, *type, *manager;
} scene;

/*
 * An organization of t with a seven-day calendar, a leave type (carry_max, carry_months as
 * kt_hr_leave_type) and an employee hired long ago, linked to user (NULL: none), managed by an
 * employee linked to manager_user (NULL: none).
 */
static void
scene_make(scene *s, const kt_tenant *t, const char *carry_max, const char *carry_months,
           int allow_negative, const char *user, const char *manager_user)
{
	char *code = kt_strf("HL%d", ++seq);

	memset(s, 0, sizeof(*s));
	s->t = t;
	s->org = keep(kt_org_make(&cl, t->owner.token, code));
	s->cal = keep(kt_hr_calendar(app, t->id, s->org, "Every day", "{1,2,3,4,5,6,7}"));
	if (manager_user != NULL)
		s->manager =
		    keep(kt_hr_employee(app, t->id, s->org, manager_user, NULL, s->cal, day(-2000)));
	s->emp = keep(kt_hr_employee(app, t->id, s->org, user, s->manager, s->cal, day(-2000)));
	s->type = keep(
	    kt_hr_leave_type(app, t->id, s->org, "ANNUAL", 1, allow_negative, carry_max, carry_months));
	free(code);
}

static char *
alloc_body(const char *type, const char *days, const char *from, const char *to)
{
	return kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"%s\",\"valid_from\":\"%s\","
	               "\"valid_to\":\"%s\",\"reason\":\"annual leave\"}",
	               type, days, from, to);
}

/* An allocation through the API by t's admin; fails unless 201.  Its answer. */
static json_t *
alloc(const scene *s, const char *days, const char *from, const char *to)
{
	char *body = alloc_body(s->type, days, from, to);
	kt_resp *r =
	    api("POST", s->t->admin.token, NULL, body, EMPLOYEES "/%s/leave-allocations", s->emp);

	kt_assert_status(r, 201);
	json_t *o = json_incref(r->json);

	kt_resp_free(r);
	free(body);
	return o;
}

static void
alloc_ok(const scene *s, const char *days, const char *from, const char *to)
{
	json_decref(alloc(s, days, from, to));
}

/* A leave request from start to end, submitted by t's admin (SQL as keel_app).  Its id. */
static const char *
request(const scene *s, const char *start, const char *end)
{
	kt_hr_as_user(app, s->t->admin.id);
	return keep(kt_hr_request(app, s->t->id, s->org, s->emp, s->type, start, end));
}

static void
approve(const scene *s, const char *request_id)
{
	kt_hr_as_user(app, s->t->admin.id);
	PQclear(kt_pg_tenant_query(app, s->t->id, "SELECT hr.leave_request_approve($1)",
	                           (const char *[]){request_id, NULL}));
}

/* The balances' answer for s's employee (as_of NULL: the default) as token. */
static kt_resp *
balances_as(const scene *s, const char *token, const char *as_of)
{
	if (as_of != NULL)
		return api("GET", token, NULL, NULL, EMPLOYEES "/%s/leave-balances?as_of=%s", s->emp,
		           as_of);
	return api("GET", token, NULL, NULL, EMPLOYEES "/%s/leave-balances", s->emp);
}

/* The balance of s's one leave type, read by the admin; fails unless 200. */
static json_t *
balance(const scene *s, const char *as_of)
{
	kt_resp *r = balances_as(s, s->t->admin.token, as_of);

	kt_assert_status(r, 200);
	kt_assert_compact_body(r);
	const json_t *data = json_object_get(r->json, "data");

	assert_int_equal(json_array_size(data), 1);
	assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
	json_t *b = json_incref(json_array_get(data, 0));

	kt_resp_free(r);
	assert_string_equal(kt_jstr(b, "leave_type_id"), s->type);
	assert_int_equal(json_object_size(b), 7);
	return b;
}

/* The balance is want: allocated, carried_forward, taken, pending, expired, available. */
static void
check_balance_at(const json_t *b, const char *const want[6], const char *file, int line)
{
	static const char *const keys[] = {"allocated", "carried_forward", "taken",
	                                   "pending",   "expired",         "available"};

	for (int i = 0; i < 6; i++) {
		const char *got = kt_jstr(b, keys[i]);

		if (got == NULL || strcmp(got, want[i]) != 0)
			kt_fail_at(file, line, "%s is %s, expected %s", keys[i], got ? got : "(none)", want[i]);
	}
}
#define check_balance(b, ...)                                                                      \
	check_balance_at((b), (const char *const[6]){__VA_ARGS__}, __FILE__, __LINE__)

/* ---- the database ---- */

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
rows_of_kind(const scene *s, const char *kind)
{
	return count_in(s->t,
	                "SELECT count(*) FROM hr.leave_entries WHERE employee_id = $1 AND kind = $2",
	                s->emp, kind);
}

/* The days of s's only row of kind (trim_scale text); NULL when there is none. */
static const char *
row_days(const scene *s, const char *kind)
{
	return keep(kt_pg_tenant_value(pg, s->t->id,
	                               "SELECT trim_scale(days)::text FROM hr.leave_entries"
	                               " WHERE employee_id = $1 AND kind = $2",
	                               (const char *[]){s->emp, kind, NULL}));
}

/* The sum of s's ledger rows dated from..to, as trim_scale text. */
static const char *
ledger_sum(const scene *s, const char *from, const char *to)
{
	return keep(
	    kt_pg_tenant_value(pg, s->t->id,
	                       "SELECT trim_scale(coalesce(sum(days), 0))::text FROM hr.leave_entries"
	                       " WHERE employee_id = $1 AND date BETWEEN $2::date AND $3::date",
	                       (const char *[]){s->emp, from, to, NULL}));
}

static long
events_of(const kt_tenant *t, const char *subject)
{
	return count_in(t,
	                "SELECT count(*) FROM events.outbox WHERE type = '" EVENT "'"
	                " AND subject = $1",
	                subject, NULL);
}

/* Every ledger row of s's employee has exactly one event, whose data is the row as rendered. */
static void
check_row_events(const scene *s)
{
	long rows = count_in(s->t, "SELECT count(*) FROM hr.leave_entries WHERE employee_id = $1",
	                     s->emp, NULL);
	long with_event = count_in(
	    s->t,
	    "SELECT count(*) FROM hr.leave_entries e WHERE e.employee_id = $1 AND e.kind <> 'taken'"
	    " AND (SELECT count(*) FROM events.outbox o WHERE o.type = '" EVENT "'"
	    " AND o.subject = e.id::text AND o.data->>'kind' = e.kind"
	    " AND o.data->>'days' = trim_scale(e.days)::text) = 1",
	    s->emp, NULL);
	long taken = rows_of_kind(s, "taken");

	assert_int_equal(with_event + taken, rows);
}

/*
 * sql as keel_app in tenant t (as user, NULL: none) with params: PostgreSQL must refuse it
 * with sqlstate, and with constraint when that is not NULL.
 */
static void
assert_refused_at(const kt_tenant *t, const char *user, const char *sql, const char *const *params,
                  const char *sqlstate, const char *constraint, const char *file, int line)
{
	int n = 0;

	while (params != NULL && params[n] != NULL)
		n++;
	kt_pg_set_tenant(app, t->id);
	kt_hr_as_user(app, user);
	PGresult *res = PQexecParams(app, sql, n, NULL, params, NULL, NULL, 0);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || state == NULL || strcmp(state, sqlstate) != 0)
		kt_fail_at(file, line, "%s: %s, expected SQLSTATE %s", sql,
		           PQresultStatus(res) == PGRES_FATAL_ERROR ? state : "accepted", sqlstate);
	if (constraint != NULL && (c == NULL || strcmp(c, constraint) != 0))
		kt_fail_at(file, line, "%s: refused by %s, expected %s", sql, c ? c : "(none)", constraint);
	PQclear(res);
}
#define assert_refused(t, user, sql, params, state, constraint)                                    \
	assert_refused_at((t), (user), (sql), (params), (state), (constraint), __FILE__, __LINE__)

#define REQUEST_SQL                                                                                \
	"INSERT INTO hr.leave_requests (tenant_id, id, organization_id, employee_id, leave_type_id,"   \
	" start_date, end_date) VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()),"   \
	" $1, $2, $3, $4, $5)"

/* A request of s from start to end must be refused for its balance (KH422). */
#define assert_request_refused(s, start, end)                                                      \
	assert_refused((s)->t, (s)->t->admin.id, REQUEST_SQL,                                          \
	               ((const char *[]){(s)->org, (s)->emp, (s)->type, (start), (end), NULL}),        \
	               "KH422", "leave_requests_balance")

/* ---- carry-forward and expiry ---- */

/*
 * The leave periods of the carry cases: the last one, PA, ended 200 days ago; PB follows it and
 * has not ended.  Carried days are usable for 3 months after PA's end, a window over before
 * today; requests in it start 190 days ago.
 */
#define PA_FROM day(-400)
#define PA_TO   day(-200)
#define PB_FROM day(-199)
#define PB_TO   day(165)

/* hrms#1297: 10 carried days expire 3 months in; days held before: 0, 8, 10, 12. */
static void
test_expiry_consumes_only_unused_carried_days(void **state)
{
	static const char *const expired[] = {"10", "2", "0", "0"};
	static const char *const available[] = {"20", "20", "20", "18"};
	static const char *const taken[] = {"0", "5", "10", "12"};
	static const char *const pending[] = {"0", "3", "0", "0"};
	(void)state;

	for (int k = 0; k < 4; k++) {
		scene s;

		scene_make(&s, &A, "10", "3", 0, NULL, NULL);
		alloc_ok(&s, "10", PA_FROM, PA_TO);
		alloc_ok(&s, "20", PB_FROM, PB_TO);
		if (k == 1) { /* 8: 5 approved, 3 submitted */
			approve(&s, request(&s, day(-190), day(-186)));
			request(&s, day(-180), day(-178));
		} else if (k >= 2) {
			approve(&s, request(&s, day(-190), day(-190 + (k == 2 ? 10 : 12) - 1)));
		}
		json_t *b = balance(&s, NULL);

		check_balance(b, "20", "10", taken[k], pending[k], expired[k], available[k]);
		json_decref(b);
		/* the rows: the carry of PA into PB, then its expiry at the window's end */
		assert_int_equal(rows_of_kind(&s, "carry_forward"), 1);
		assert_int_equal(rows_of_kind(&s, "expiry"), 1);
		assert_string_equal(row_days(&s, "carry_forward"), "10");
		assert_string_equal(row_days(&s, "expiry"), k == 0 ? "-10" : k == 1 ? "-2" : "0");
		assert_int_equal(count_in(&A,
		                          "SELECT count(*) FROM hr.leave_entries c JOIN hr.leave_entries x"
		                          " ON x.source_id = c.id AND x.kind = 'expiry'"
		                          " WHERE c.employee_id = $1 AND c.kind = 'carry_forward'"
		                          " AND c.date = c.valid_from AND c.valid_from = $2::date + 1"
		                          " AND c.valid_to = ($2::date + interval '3 months')::date"
		                          " AND x.date = c.valid_to + 1 AND x.created_by IS NOT NULL",
		                          s.emp, PA_TO),
		                 1);
		check_row_events(&s);
		/* nothing pending: what is available is the sum of the period's rows */
		if (pending[k][0] == '0')
			assert_string_equal(ledger_sum(&s, PB_FROM, PB_TO), available[k]);
	}
}

/* hrms#335: 16 allocated, 5 carried and taken while usable; the expiry leaves the 16 alone. */
static void
test_expiry_never_reduces_the_allocation(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, "5", "3", 0, NULL, NULL);
	alloc_ok(&s, "5", PA_FROM, PA_TO);
	alloc_ok(&s, "16", PB_FROM, PB_TO);
	approve(&s, request(&s, day(-190), day(-186)));
	approve(&s, request(&s, day(-60), day(-58))); /* after the carry window */
	json_t *b = balance(&s, NULL);

	check_balance(b, "16", "5", "8", "0", "0", "13");
	json_decref(b);
	assert_string_equal(row_days(&s, "expiry"), "0");
	assert_string_equal(ledger_sum(&s, PB_FROM, PB_TO), "13");
	/* in PA, as it was: 5 allocated, nothing carried in, nothing taken */
	b = balance(&s, day(-300));
	check_balance(b, "5", "0", "0", "0", "0", "5");
	json_decref(b);

	/* leave across the expiry (hrms#370): its 3 days before it use carried days, 3 after not */
	scene across;
	const char *until = plus_months(PA_TO, 3);
	char *sql = kt_strf("SELECT ('%s'::date - 2)::text", until);
	const char *start = keep(kt_pg_value(pg, sql));

	free(sql);
	sql = kt_strf("SELECT ('%s'::date + 3)::text", until);
	const char *end = keep(kt_pg_value(pg, sql));

	free(sql);
	scene_make(&across, &A, "5", "3", 0, NULL, NULL);
	alloc_ok(&across, "5", PA_FROM, PA_TO);
	alloc_ok(&across, "16", PB_FROM, PB_TO);
	approve(&across, request(&across, start, end));
	b = balance(&across, NULL);
	check_balance(b, "16", "5", "6", "0", "2", "13");
	json_decref(b);
	assert_string_equal(ledger_sum(&across, PB_FROM, PB_TO), "13");
}

/* Three periods, two of them ended and never settled: one read settles both, in order. */
static void
test_settle_catches_up_in_order(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&s, "12", day(-800), day(-600));
	alloc_ok(&s, "15", day(-599), day(-200));
	alloc_ok(&s, "20", PB_FROM, PB_TO);
	approve(&s, request(&s, day(-400), day(-397))); /* in the middle period, after its carry */
	json_t *b = balance(&s, NULL);

	/* the middle period's unused: 15 + 10 carried - 10 expired - 4 taken = 11, capped at 10 */
	check_balance(b, "20", "10", "0", "0", "10", "20");
	json_decref(b);
	b = balance(&s, day(-300));
	check_balance(b, "15", "10", "4", "0", "10", "11");
	json_decref(b);
	assert_int_equal(rows_of_kind(&s, "carry_forward"), 2);
	assert_int_equal(rows_of_kind(&s, "expiry"), 2);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.leave_entries WHERE employee_id = $1"
	                          " AND kind IN ('carry_forward', 'expiry') AND days IN (10, -10)",
	                          s.emp, NULL),
	                 4);
	check_row_events(&s);
}

/* Unused 15 with a cap of 10: 10 carried; without a cap nothing is. */
static void
test_carry_is_capped_and_needs_a_cap(void **state)
{
	scene capped, none;

	(void)state;
	scene_make(&capped, &A, "10", NULL, 0, NULL, NULL);
	alloc_ok(&capped, "15", PA_FROM, PA_TO);
	alloc_ok(&capped, "20", PB_FROM, PB_TO);
	json_t *b = balance(&capped, NULL);

	/* no expiry months: usable until PB ends, which it has not */
	check_balance(b, "20", "10", "0", "0", "0", "30");
	json_decref(b);
	assert_string_equal(row_days(&capped, "carry_forward"), "10");
	assert_int_equal(rows_of_kind(&capped, "expiry"), 0);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.leave_entries WHERE employee_id = $1"
	                          " AND kind = 'carry_forward' AND valid_to IS NULL",
	                          capped.emp, NULL),
	                 1);

	scene_make(&none, &A, NULL, "3", 0, NULL, NULL);
	alloc_ok(&none, "15", PA_FROM, PA_TO);
	alloc_ok(&none, "20", PB_FROM, PB_TO);
	b = balance(&none, NULL);
	check_balance(b, "20", "0", "0", "0", "0", "20");
	json_decref(b);
	assert_int_equal(rows_of_kind(&none, "carry_forward"), 0);
	assert_int_equal(rows_of_kind(&none, "expiry"), 0);
}

/*
 * Carried days pay for leave only while they are usable: after their expiry (written or
 * not), a request beyond the allocation is refused; within their window it may use them.
 */
static void
test_carried_days_usable_only_while_valid(void **state)
{
	scene past, open, later;

	(void)state;
	/* expired: 10 carried, none used; PB's 20 is all there is */
	scene_make(&past, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&past, "10", PA_FROM, PA_TO);
	alloc_ok(&past, "20", PB_FROM, PB_TO);
	json_t *b = balance(&past, NULL);

	check_balance(b, "20", "10", "0", "0", "10", "20");
	json_decref(b);
	assert_request_refused(&past, day(-100), day(-80)); /* 21 days */
	request(&past, day(-100), day(-81));                /* 20 */

	/* a window still open: the period ended 10 days ago, its days usable 3 months on */
	scene_make(&open, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&open, "10", day(-300), day(-10));
	alloc_ok(&open, "20", day(-9), day(300));
	b = balance(&open, NULL);
	check_balance(b, "20", "10", "0", "0", "0", "30");
	json_decref(b);
	request(&open, day(1), day(25)); /* 25: 20 + 10 carried, held while they last */
	b = balance(&open, NULL);
	check_balance(b, "20", "10", "0", "25", "0", "5");
	json_decref(b);

	/* the same, but the leave after the carried days' end: they cannot pay for it */
	scene_make(&later, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&later, "10", day(-300), day(-10));
	alloc_ok(&later, "20", day(-9), day(300));
	json_decref(balance(&later, NULL));
	const char *after = next_day(plus_months(day(-10), 3));

	assert_request_refused(&later, day(120), day(140)); /* 21 days */
	assert_true(strcmp(after, day(120)) < 0);
	request(&later, day(120), day(139)); /* 20 */
}

/* A negative allocation for the same window corrects it; another overlapping window is 409. */
static void
test_negative_correction(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, NULL, NULL, 0, NULL, NULL);
	alloc_ok(&s, "20", PB_FROM, PB_TO);
	json_t *c = alloc(&s, "-2.5", PB_FROM, PB_TO);

	assert_string_equal(kt_jstr(c, "days"), "-2.5");
	assert_string_equal(kt_jstr(c, "kind"), "allocation");
	json_decref(c);
	json_t *b = balance(&s, NULL);

	check_balance(b, "17.5", "0", "0", "0", "0", "17.5");
	json_decref(b);
	assert_string_equal(ledger_sum(&s, PB_FROM, PB_TO), "17.5");

	/* a window overlapping PB without being it: the database's 409, nothing written */
	char *body = alloc_body(s.type, "1", day(-100), day(400));
	kt_resp *r = api("POST", A.admin.token, NULL, body, EMPLOYEES "/%s/leave-allocations", s.emp);

	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "overlaps the leave period"));
	kt_resp_free(r);
	free(body);
	assert_int_equal(rows_of_kind(&s, "allocation"), 2);
	/* a window after it is another period */
	alloc_ok(&s, "5", day(166), day(400));
	b = balance(&s, day(200));
	check_balance(b, "5", "0", "0", "0", "0", "5");
	json_decref(b);
}

/* Settling twice writes nothing more; so does hr.leave_settle called again by keel_app. */
static void
test_settle_writes_once(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&s, "10", PA_FROM, PA_TO);
	alloc_ok(&s, "20", PB_FROM, PB_TO);
	json_t *b1 = balance(&s, NULL), *b2 = balance(&s, NULL);

	assert_true(json_equal(b1, b2));
	json_decref(b1);
	json_decref(b2);
	assert_int_equal(rows_of_kind(&s, "carry_forward"), 1);
	assert_int_equal(rows_of_kind(&s, "expiry"), 1);
	kt_pg_set_tenant(app, A.id);
	assert_int_equal(kt_pg_tenant_long(app, A.id, "SELECT count(*) FROM hr.leave_settle($1)",
	                                   (const char *[]){s.emp, NULL}),
	                 0);
	assert_int_equal(rows_of_kind(&s, "carry_forward") + rows_of_kind(&s, "expiry"), 2);
	check_row_events(&s);
	/* audited as written by the reader whose GET settled them */
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM audit.logs l JOIN hr.leave_entries e"
	                          " ON e.id::text = l.record_id::text WHERE l.schema_name = 'hr'"
	                          " AND l.table_name = 'leave_entries' AND l.action = 'INSERT'"
	                          " AND e.employee_id = $1 AND e.kind IN ('carry_forward', 'expiry')"
	                          " AND l.actor_id = $2",
	                          s.emp, A.admin.id),
	                 2);
}

/* Two balance reads at once, held at the (employee, type) lock: one set of rows. */
static void
test_concurrent_reads_settle_once(void **state)
{
	scene s;
	kt_async q[2];

	(void)state;
	scene_make(&s, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&s, "10", PA_FROM, PA_TO);
	alloc_ok(&s, "20", PB_FROM, PB_TO);
	PGconn *holder = kt_pg_app();

	kt_pg_set_tenant(holder, A.id);
	kt_pg_exec(holder, "BEGIN");
	char *lock =
	    kt_strf("SELECT hr.leave_lock(core.current_tenant_id(), '%s', '%s')", s.emp, s.type);

	kt_pg_exec(holder, lock);
	free(lock);
	for (int i = 0; i < 2; i++) {
		q[i] = (kt_async){.base = srv->base, .method = "GET", .token = A.admin.token};
		snprintf(q[i].path, sizeof(q[i].path), EMPLOYEES "/%s/leave-balances", s.emp);
		kt_async_start(&q[i]);
		/* one at a time: a server thread blocked in the first must not have taken the second */
		kt_wait_lock_waiters(pg, i + 1);
	}
	kt_pg_exec(holder, "COMMIT");
	PQfinish(holder);
	for (int i = 0; i < 2; i++) {
		kt_resp *r = kt_async_finish(&q[i]);

		kt_assert_status(r, 200);
		check_balance(json_array_get(json_object_get(r->json, "data"), 0), "20", "10", "0", "0",
		              "10", "20");
		kt_resp_free(r);
	}
	assert_int_equal(rows_of_kind(&s, "carry_forward"), 1);
	assert_int_equal(rows_of_kind(&s, "expiry"), 1);
	check_row_events(&s);
}

/* ---- negative balances ---- */

static void
test_negative_balance_rules(void **state)
{
	scene neg, pos;

	(void)state;
	scene_make(&neg, &A, NULL, NULL, 1, NULL, NULL);
	alloc_ok(&neg, "5", day(-9), day(300));
	request(&neg, day(10), day(17)); /* 8 of 5 */
	json_t *b = balance(&neg, NULL);

	check_balance(b, "5", "0", "0", "8", "0", "-3");
	json_decref(b);

	scene_make(&pos, &A, NULL, NULL, 0, NULL, NULL);
	alloc_ok(&pos, "5", day(-9), day(300));
	assert_request_refused(&pos, day(10), day(17));
	request(&pos, day(10), day(14)); /* 5 of 5 */
	b = balance(&pos, NULL);
	check_balance(b, "5", "0", "0", "5", "0", "0");
	json_decref(b);
	/* no allocation covers the day: refused even for one day */
	assert_request_refused(&pos, day(301), day(301));
}

/* ---- the ledger's rules for keel_app ---- */

static void
test_ledger_append_only(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, "10", "3", 0, NULL, NULL);
	json_t *a = alloc(&s, "10", PA_FROM, PA_TO);
	const char *id = keep(strdup(kt_jstr(a, "id")));

	json_decref(a);
	alloc_ok(&s, "20", PB_FROM, PB_TO);
	approve(&s, request(&s, day(-190), day(-189)));
	json_decref(balance(&s, NULL));
	const char *p[] = {id, NULL};

	/* keel_app has no grant to change or remove a row */
	assert_refused(&A, A.admin.id, "UPDATE hr.leave_entries SET reason = 'x' WHERE id = $1", p,
	               "42501", NULL);
	assert_refused(&A, A.admin.id, "UPDATE hr.leave_entries SET days = 100 WHERE id = $1", p,
	               "42501", NULL);
	assert_refused(&A, A.admin.id, "DELETE FROM hr.leave_entries WHERE id = $1", p, "42501", NULL);
	/* and the owner, too, meets the append-only trigger */
	kt_pg_set_tenant(pg, A.id);
	static const char *const owner_sql[] = {
	    "UPDATE hr.leave_entries SET reason = 'x' WHERE id = $1",
	    "DELETE FROM hr.leave_entries WHERE id = $1"};

	for (int i = 0; i < 2; i++) {
		PGresult *res = PQexecParams(pg, owner_sql[i], 1, NULL, p, NULL, NULL, 0);
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (st == NULL || strcmp(st, "KH409") != 0)
			fail_msg("%s as the owner: %s, expected KH409", owner_sql[i], st ? st : "accepted");
		PQclear(res);
	}
	/* keel_app writes allocations only */
	static const char *const kinds[] = {"carry_forward", "expiry", "taken"};

	for (int i = 0; i < 3; i++) {
		char *sql = kt_strf("INSERT INTO hr.leave_entries (tenant_id, id, organization_id,"
		                    " employee_id, leave_type_id, kind, days, date, valid_from, reason)"
		                    " VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()),"
		                    " $1, $2, $3, '%s', 5, current_date, %s, 'x')",
		                    kinds[i], i == 0 ? "current_date" : "NULL");

		assert_refused(&A, A.admin.id, sql, ((const char *[]){s.org, s.emp, s.type, NULL}), "KH422",
		               "leave_entries_kind");
		free(sql);
	}
	/* an allocation of zero days, or without a reason, is refused by the row's shape */
	assert_refused(&A, A.admin.id,
	               "INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id,"
	               " leave_type_id, kind, days, date, valid_from, valid_to, reason)"
	               " VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, $2,"
	               " $3, 'allocation', 0, $4::date, $4::date, $5::date, 'x')",
	               ((const char *[]){s.org, s.emp, s.type, PB_FROM, PB_TO, NULL}), "23514",
	               "leave_entries_shape");
	/* the balance is the sum of the rows: every kind's row counted once */
	assert_int_equal(rows_of_kind(&s, "taken"), 2);
	json_t *b = balance(&s, NULL);

	check_balance(b, "20", "10", "2", "0", "8", "20");
	assert_string_equal(ledger_sum(&s, PB_FROM, PB_TO), kt_jstr(b, "available"));
	json_decref(b);
}

/* ---- the routes ---- */

/* The row of id rendered by SQL as the API does equals o. */
static void
check_entry_row(const kt_tenant *t, const json_t *o)
{
	char *text = kt_pg_tenant_value(
	    pg, t->id,
	    "SELECT json_build_object('id', id, 'employee_id', employee_id,"
	    " 'leave_type_id', leave_type_id, 'kind', kind, 'days', trim_scale(days)::text,"
	    " 'date', date::text, 'valid_from', valid_from::text, 'valid_to', valid_to::text,"
	    " 'source_id', source_id, 'request_id', request_id, 'reason', reason,"
	    " 'created_by', created_by, 'created_at',"
	    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text"
	    " FROM hr.leave_entries WHERE id = $1",
	    (const char *[]){kt_jstr(o, "id"), NULL});

	assert_non_null(text);
	json_t *row = json_loads(text, 0, NULL);

	if (!json_equal(row, o))
		fail_msg("row %s differs from the answer", text);
	json_decref(row);
	free(text);
}

static void
test_allocation_created(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, NULL, NULL, 0, NULL, NULL);
	char *body = kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"12.75\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"  starting balance \"}",
	                     s.type, PB_FROM, PB_TO);
	const char *key[] = {"Idempotency-Key: hr-leave-alloc-1", NULL};
	kt_resp *r = api("POST", A.admin.token, key, body, EMPLOYEES "/%s/leave-allocations", s.emp);

	kt_assert_status(r, 201);
	kt_assert_compact_body(r);
	const json_t *o = r->json;
	char *location = kt_strf(EMPLOYEES "/%s/leave-entries?leave_type_id=%s&from=%s&to=%s", s.emp,
	                         s.type, PB_FROM, PB_FROM);

	kt_assert_header(r, "Location", location);
	free(location);
	char *etag = kt_header(r, "ETag");

	assert_null(etag); /* a ledger row has no version: it never changes */
	/* the ledger's page it names holds it */
	kt_resp *at = api("GET", A.admin.token, NULL, NULL,
	                  EMPLOYEES "/%s/leave-entries?leave_type_id=%s&from=%s&to=%s", s.emp, s.type,
	                  PB_FROM, PB_FROM);

	kt_assert_status(at, 200);
	assert_true(json_equal(json_array_get(json_object_get(at->json, "data"), 0), r->json));
	kt_resp_free(at);

	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "employee_id"), s.emp);
	assert_string_equal(kt_jstr(o, "leave_type_id"), s.type);
	assert_string_equal(kt_jstr(o, "kind"), "allocation");
	assert_string_equal(kt_jstr(o, "days"), "12.75");
	assert_string_equal(kt_jstr(o, "date"), PB_FROM);
	assert_string_equal(kt_jstr(o, "valid_from"), PB_FROM);
	assert_string_equal(kt_jstr(o, "valid_to"), PB_TO);
	assert_true(json_is_null(json_object_get(o, "source_id")));
	assert_true(json_is_null(json_object_get(o, "request_id")));
	assert_string_equal(kt_jstr(o, "reason"), "starting balance");
	assert_string_equal(kt_jstr(o, "created_by"), A.admin.id);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_int_equal(json_object_size(o), 13);
	check_entry_row(&A, o);
	const char *id = kt_jstr(o, "id");

	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM audit.logs WHERE schema_name = 'hr'"
	                          " AND table_name = 'leave_entries' AND action = 'INSERT'"
	                          " AND record_id = $1 AND actor_id = $2",
	                          id, A.admin.id),
	                 1);
	char *data = kt_pg_tenant_value(
	    pg, A.id, "SELECT data::text FROM events.outbox WHERE type = '" EVENT "' AND subject = $1",
	    (const char *[]){id, NULL});
	json_t *ev = json_loads(data, 0, NULL);

	assert_true(json_equal(ev, o));
	json_decref(ev);
	free(data);
	/* the same request with the same key: the first answer, nothing written again */
	kt_resp *again =
	    api("POST", A.admin.token, key, body, EMPLOYEES "/%s/leave-allocations", s.emp);

	kt_assert_status(again, 201);
	assert_true(json_equal(again->json, o));
	assert_int_equal(rows_of_kind(&s, "allocation"), 1);
	assert_int_equal(events_of(&A, id), 1);
	kt_resp_free(again);
	kt_resp_free(r);
	/* the owner may allocate too */
	char *b2 = alloc_body(s.type, "1", PB_FROM, PB_TO);

	r = api("POST", A.owner.token, NULL, b2, EMPLOYEES "/%s/leave-allocations", s.emp);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(b2);
	free(body);
}

/* Who may allocate (admins) and read (admins, the employee's and its manager's users). */
static void
test_access_matrix(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, NULL, NULL, 0, self_u.id, boss_u.id);
	alloc_ok(&s, "3", PB_FROM, PB_TO);
	char *body = alloc_body(s.type, "1", PB_FROM, PB_TO);
	static const char *const paths[] = {"leave-balances", "leave-entries"};
	struct {
		const char *who, *token;
		long post, get;
	} m[] = {
	    {"owner", A.owner.token, 201, 200},   {"admin", A.admin.token, 201, 200},
	    {"self", self_u.token, 403, 200},     {"manager", boss_u.token, 403, 200},
	    {"member", A.member.token, 403, 403}, {"viewer", A.viewer.token, 403, 403},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		kt_resp *r = api("POST", m[i].token, NULL, body, EMPLOYEES "/%s/leave-allocations", s.emp);

		if (r->status != m[i].post)
			fail_msg("%s: POST %ld, expected %ld", m[i].who, r->status, m[i].post);
		if (m[i].post == 403)
			kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		for (int k = 0; k < 2; k++) {
			r = api("GET", m[i].token, NULL, NULL, EMPLOYEES "/%s/%s", s.emp, paths[k]);
			if (r->status != m[i].get)
				fail_msg("%s: GET %s %ld, expected %ld", m[i].who, paths[k], r->status, m[i].get);
			if (m[i].get == 403)
				kt_assert_problem(r, 403, NULL, NULL);
			kt_resp_free(r);
		}
	}
	/* the manager's own balances are not its report's to read */
	kt_resp *r = api("GET", self_u.token, NULL, NULL, EMPLOYEES "/%s/leave-balances", s.manager);

	kt_assert_problem(r, 403, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(rows_of_kind(&s, "allocation"), 3);
	free(body);
}

/* Other tenants' and organizations' ids: 404 in the path, 422 in the body. */
static void
test_isolation(void **state)
{
	scene s, other_org, theirs;

	(void)state;
	scene_make(&s, &A, NULL, NULL, 0, NULL, NULL);
	scene_make(&other_org, &A, NULL, NULL, 0, NULL, NULL);
	scene_make(&theirs, &B, NULL, NULL, 0, NULL, NULL);
	alloc_ok(&theirs, "4", PB_FROM, PB_TO);
	const char *const type_of[] = {other_org.type, theirs.type};

	for (int i = 0; i < 2; i++) {
		char *body = alloc_body(type_of[i], "1", PB_FROM, PB_TO);
		kt_resp *r =
		    api("POST", A.admin.token, NULL, body, EMPLOYEES "/%s/leave-allocations", s.emp);

		kt_assert_problem(r, 422, NULL, "leave_type_id");
		kt_resp_free(r);
		free(body);
	}
	char *body = alloc_body(s.type, "1", PB_FROM, PB_TO);
	const char *paths[] = {"leave-balances", "leave-entries"};
	kt_resp *r =
	    api("POST", A.admin.token, NULL, body, EMPLOYEES "/%s/leave-allocations", theirs.emp);

	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	for (int k = 0; k < 2; k++) {
		r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/%s", theirs.emp, paths[k]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", B.admin.token, NULL, NULL, EMPLOYEES "/%s/%s", s.emp, paths[k]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/%s", NIL_UUID, paths[k]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/not-a-uuid/%s", paths[k]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	r = api("POST", A.admin.token, NULL, body, EMPLOYEES "/not-a-uuid/leave-allocations");
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	/* the other tenant's ledger filtered by our type: theirs stays theirs */
	r = api("GET", B.admin.token, NULL, NULL, EMPLOYEES "/%s/leave-entries?leave_type_id=%s",
	        theirs.emp, s.type);
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 0);
	kt_resp_free(r);
	assert_int_equal(rows_of_kind(&s, "allocation"), 0);
	assert_int_equal(rows_of_kind(&theirs, "allocation"), 1);
	free(body);
}

static void
test_bad_input(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, NULL, NULL, 0, NULL, NULL);
	const char *from = PB_FROM, *to = PB_TO;
	char *too_long = kt_repeat("x", 501);
	struct {
		const char *field;
		char *body;
	} bad[] = {
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1.234\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1e3\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"10000\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":10000,\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":2.5,\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"0\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"-0\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"days\":null,\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"days", kt_strf("{\"leave_type_id\":\"%s\",\"valid_from\":\"%s\","
	                     "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                     s.type, from, to)},
	    {"valid_from", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":"
	                           "\"2026-02-30\",\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                           s.type, to)},
	    {"valid_from", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":"
	                           "\"2026-1-1\",\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                           s.type, to)},
	    {"valid_to", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"%s\","
	                         "\"valid_to\":\"%sT00:00:00Z\",\"reason\":\"r\"}",
	                         s.type, from, to)},
	    {"valid_to", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"%s\","
	                         "\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                         s.type, to, from)},
	    {"valid_to", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":"
	                         "\"2026-01-01\",\"valid_to\":\"2029-01-01\",\"reason\":\"r\"}",
	                         s.type)},
	    {"leave_type_id", kt_strf("{\"leave_type_id\":\"nope\",\"days\":\"1\",\"valid_from\":"
	                              "\"%s\",\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                              from, to)},
	    {"leave_type_id", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":"
	                              "\"%s\",\"valid_to\":\"%s\",\"reason\":\"r\"}",
	                              NIL_UUID, from, to)},
	    {"reason", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"%s\","
	                       "\"valid_to\":\"%s\",\"reason\":\"   \"}",
	                       s.type, from, to)},
	    {"reason", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"%s\","
	                       "\"valid_to\":\"%s\",\"reason\":\"%s\"}",
	                       s.type, from, to, too_long)},
	    {"reason", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"%s\","
	                       "\"valid_to\":\"%s\",\"reason\":\"\xff\xfe\"}",
	                       s.type, from, to)},
	    {"colour", kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"%s\","
	                       "\"valid_to\":\"%s\",\"reason\":\"r\",\"colour\":1}",
	                       s.type, from, to)},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r =
		    api("POST", A.admin.token, NULL, bad[i].body, EMPLOYEES "/%s/leave-allocations", s.emp);

		if (i == sizeof(bad) / sizeof(bad[0]) - 2) { /* not UTF-8: the body is refused whole */
			if (r->status != 400 && r->status != 422)
				fail_msg("invalid UTF-8: %ld", r->status);
		} else {
			if (r->status != 422 || !kt_has_field_error(r, bad[i].field))
				fail_msg("body %zu (%s): %ld %s", i, bad[i].field, r->status, r->body);
			kt_assert_problem(r, 422, NULL, bad[i].field);
		}
		kt_resp_free(r);
		free(bad[i].body);
	}
	kt_resp *r =
	    api("POST", A.admin.token, NULL, "{\"days\":", EMPLOYEES "/%s/leave-allocations", s.emp);

	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "[1]", EMPLOYEES "/%s/leave-allocations", s.emp);
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(rows_of_kind(&s, "allocation"), 0);
	/* the reads' query parameters */
	static const char *const queries[] = {
	    "leave-balances?as_of=2026-02-30", "leave-balances?as_of=today",
	    "leave-entries?from=2026-13-01",   "leave-entries?to=x",
	    "leave-entries?leave_type_id=abc", "leave-entries?cursor=not-a-cursor",
	    "leave-entries?limit=0",           "leave-entries?limit=201",
	};

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/%s", s.emp, queries[i]);
		if (r->status != 400)
			fail_msg("%s: %ld, expected 400", queries[i], r->status);
		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	free(too_long);
}

/* The ledger: keyset pages in (date, id) order, filters, and what the balances sum. */
static void
test_entries_list(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, "10", "3", 0, NULL, NULL);
	alloc_ok(&s, "10", PA_FROM, PA_TO);
	alloc_ok(&s, "20", PB_FROM, PB_TO);
	alloc_ok(&s, "-1", PB_FROM, PB_TO);
	approve(&s, request(&s, day(-190), day(-188)));
	json_decref(balance(&s, NULL)); /* settles: carry-forward and expiry */
	long total =
	    count_in(&A, "SELECT count(*) FROM hr.leave_entries WHERE employee_id = $1", s.emp, NULL);

	assert_int_equal(total, 8); /* 3 allocations, carry, expiry, 3 taken */
	/* one row a page, all of them, in order */
	json_t *all = json_array();
	char *cursor = NULL;

	for (int page = 0; page <= total; page++) {
		kt_resp *r = cursor == NULL
		                 ? api("GET", A.admin.token, NULL, NULL,
		                       EMPLOYEES "/%s/leave-entries?limit=3", s.emp)
		                 : api("GET", A.admin.token, NULL, NULL,
		                       EMPLOYEES "/%s/leave-entries?limit=3&cursor=%s", s.emp, cursor);

		kt_assert_status(r, 200);
		kt_assert_compact_body(r);
		json_array_extend(all, json_object_get(r->json, "data"));
		free(cursor);
		const json_t *next = json_object_get(r->json, "next_cursor");

		cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		kt_resp_free(r);
		if (cursor == NULL)
			break;
	}
	assert_null(cursor);
	assert_int_equal(json_array_size(all), total);
	char *order = kt_pg_tenant_value(
	    pg, A.id,
	    "SELECT string_agg(id::text, ',' ORDER BY date, id) FROM hr.leave_entries"
	    " WHERE employee_id = $1",
	    (const char *[]){s.emp, NULL});
	char *got = calloc(1, (size_t)total * 40 + 1);

	for (size_t i = 0; i < json_array_size(all); i++) {
		const json_t *o = json_array_get(all, i);

		if (i > 0)
			strcat(got, ",");
		strcat(got, kt_jstr(o, "id"));
		assert_int_equal(json_object_size(o), 13);
		check_entry_row(&A, o);
	}
	assert_string_equal(got, order);
	free(got);
	free(order);
	json_decref(all);
	/* filters: dates, the leave type (another one: nothing) */
	kt_resp *r = api("GET", A.admin.token, NULL, NULL,
	                 EMPLOYEES "/%s/leave-entries?from=%s&to=%s&leave_type_id=%s", s.emp, PB_FROM,
	                 PB_TO, s.type);

	kt_assert_status(r, 200);
	const json_t *data = json_object_get(r->json, "data");
	const char *sum = ledger_sum(&s, PB_FROM, PB_TO);

	/* 2 allocations, the carry, 3 taken, the expiry */
	assert_int_equal(json_array_size(data), 7);
	kt_resp_free(r);
	json_t *b = balance(&s, NULL);

	check_balance(b, "19", "10", "3", "0", "7", "19");
	assert_string_equal(sum, "19");
	json_decref(b);
	r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/leave-entries?leave_type_id=%s", s.emp,
	        NIL_UUID);
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 0);
	kt_resp_free(r);
	r = api("GET", A.admin.token, NULL, NULL, EMPLOYEES "/%s/leave-entries?to=%s", s.emp, PA_TO);
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 1);
	kt_resp_free(r);
}

/* An organization's every leave type has a balance, by code; one without rows is all zero. */
static void
test_balances_every_type(void **state)
{
	scene s;

	(void)state;
	scene_make(&s, &A, NULL, NULL, 0, NULL, NULL);
	char *second = kt_hr_leave_type(app, A.id, s.org, "AAA-SICK", 1, 0, NULL, NULL);

	alloc_ok(&s, "4.5", PB_FROM, PB_TO);
	kt_resp *r = balances_as(&s, A.admin.token, NULL);

	kt_assert_status(r, 200);
	const json_t *data = json_object_get(r->json, "data");

	assert_int_equal(json_array_size(data), 2);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "leave_type_id"), second);
	check_balance(json_array_get(data, 0), "0", "0", "0", "0", "0", "0");
	assert_string_equal(kt_jstr(json_array_get(data, 1), "leave_type_id"), s.type);
	check_balance(json_array_get(data, 1), "4.5", "0", "0", "0", "0", "4.5");
	kt_resp_free(r);
	/* a day in no leave period: the calendar year's, nothing in it */
	r = balances_as(&s, A.admin.token, day(-1500));
	kt_assert_status(r, 200);
	check_balance(json_array_get(json_object_get(r->json, "data"), 1), "0", "0", "0", "0", "0",
	              "0");
	kt_resp_free(r);
	free(second);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expiry_consumes_only_unused_carried_days),
	    cmocka_unit_test(test_expiry_never_reduces_the_allocation),
	    cmocka_unit_test(test_settle_catches_up_in_order),
	    cmocka_unit_test(test_carry_is_capped_and_needs_a_cap),
	    cmocka_unit_test(test_carried_days_usable_only_while_valid),
	    cmocka_unit_test(test_negative_correction),
	    cmocka_unit_test(test_settle_writes_once),
	    cmocka_unit_test(test_concurrent_reads_settle_once),
	    cmocka_unit_test(test_negative_balance_rules),
	    cmocka_unit_test(test_ledger_append_only),
	    cmocka_unit_test(test_allocation_created),
	    cmocka_unit_test(test_access_matrix),
	    cmocka_unit_test(test_isolation),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_entries_list),
	    cmocka_unit_test(test_balances_every_type),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
