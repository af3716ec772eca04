/*
 * Holiday calendars and holidays end to end: the real keel binary over HTTP against a freshly
 * migrated database of this program's own.
 *
 * What is tested: every route's answer (status, every field, Location, ETag), the row, its
 * audit row and its event; every refusal with nothing written; the role matrix (viewers read,
 * admins write); another tenant's ids; bad input; the day counting of a calendar by the
 * migration's hr.leave_day_parts (what leave requests cost) on calendars and holidays made
 * through the routes; and the database's own rules for keel_app, by raw SQL it must refuse.
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

#define PASSWORD  "correct horse battery staple"
#define ORGS      "/api/v1/organizations"
#define CALENDARS "/api/v1/holiday-calendars"
#define HOLIDAYS  "/api/v1/holidays"
#define NIL_UUID  "00000000-0000-7000-8000-000000000000"
#define TS_SQL(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static kt_keel *srv;
static kt_client cl;
static PGconn *pg;  /* keel_owner */
static PGconn *app; /* keel_app */
static kt_tenant A, B;
static int seq;

#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("hr_calendar", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "hr-calendar-a", PASSWORD);
	kt_tenant_make(&cl, &B, "hr-calendar-b", PASSWORD);
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
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

/* ---- making things ---- */

static char *
org_new(const kt_tenant *t)
{
	char *code = kt_strf("C%d", ++seq);
	char *id = kt_org_make(&cl, t->owner.token, code);

	free(code);
	return id;
}

/* A calendar made through the API by t's owner; fails unless 201.  Its id. */
static char *
calendar_new(const kt_tenant *t, const char *org, const char *workdays)
{
	char *body = kt_strf("{\"name\":\"Calendar %d\",\"workdays\":%s}", ++seq, workdays);
	kt_resp *r = api("POST", t->owner.token, NULL, body, ORGS "/%s/holiday-calendars", org);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* A holiday made through the API (half NULL: the whole day); fails unless 201.  Its id. */
static char *
holiday_new(const kt_tenant *t, const char *cal, const char *date, const char *half)
{
	char *h = half ? kt_strf(",\"half_day\":\"%s\"", half) : strdup("");
	char *body = kt_strf("{\"date\":\"%s\",\"name\":\"Day %s\"%s}", date, date, h);
	kt_resp *r = api("POST", t->owner.token, NULL, body, CALENDARS "/%s/holidays", cal);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	free(h);
	return id;
}

/* An employee made through the API on calendar cal (NULL: none).  Its id. */
static char *
employee_new(const kt_tenant *t, const char *org, const char *cal)
{
	char *c = cal ? kt_strf(",\"calendar_id\":\"%s\"", cal) : strdup("");
	char *body =
	    kt_strf("{\"first_name\":\"F\",\"last_name\":\"L\",\"hire_date\":\"2026-01-01\"%s}", c);
	kt_resp *r = api("POST", t->owner.token, NULL, body, ORGS "/%s/employees", org);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	free(c);
	return id;
}

/* ---- the database ---- */

static long
count_in(const kt_tenant *t, const char *sql, const char *p1, const char *p2)
{
	return kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, p2, NULL});
}

static long
audit_count(const kt_tenant *t, const char *table, const char *action, const char *id,
            const char *actor)
{
	return kt_pg_tenant_long(pg, t->id,
	                         "SELECT count(*) FROM audit.logs WHERE schema_name = 'hr'"
	                         " AND table_name = $1 AND action = $2 AND record_id = $3"
	                         " AND actor_id = $4",
	                         (const char *[]){table, action, id, actor, NULL});
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
		fail_msg("%s event data %s, expected %s", type, data, json_dumps(want, JSON_COMPACT));
	json_decref(got);
	free(data);
}

/* The row of sql (one JSON text, $1 the id) equals o. */
static void
check_row(const kt_tenant *t, const char *sql, const json_t *o)
{
	char *text = kt_pg_tenant_value(pg, t->id, sql, (const char *[]){kt_jstr(o, "id"), NULL});

	assert_non_null(text);
	json_t *row = json_loads(text, 0, NULL);

	if (!json_equal(row, o))
		fail_msg("row %s differs from the answer", text);
	json_decref(row);
	free(text);
}

#define CALENDAR_ROW_SQL                                                                           \
	"SELECT json_build_object('id', id, 'organization_id', organization_id, 'name', name,"         \
	" 'workdays', to_json(workdays), 'version', version, 'created_at', " TS_SQL(                   \
	    "created_at") ", 'updated_at', " TS_SQL("updated_at") ")::text"                            \
	                                                          " FROM hr.holiday_calendars WHERE "  \
	                                                          "id = $1"
#define HOLIDAY_ROW_SQL                                                                            \
	"SELECT json_build_object('id', id, 'calendar_id', calendar_id, 'date', date::text,"           \
	" 'name', name, 'half_day', half_day, 'version', version, 'created_at', " TS_SQL(              \
	    "created_at") ", 'updated_at', " TS_SQL("updated_at") ")::text"                            \
	                                                          " FROM hr.holidays WHERE id = $1"

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

/* ---- calendars ---- */

static void
calendar_create_answers_201_and_is_read_back(void **state)
{
	(void)state;
	char *org = org_new(&A);
	const char *key[] = {"Idempotency-Key: calendar-once", NULL};
	const char *body = "{\"name\":\" Office \",\"workdays\":[5,1,3,2,4]}";
	kt_resp *r = api("POST", A.admin.token, key, body, ORGS "/%s/holiday-calendars", org);

	kt_assert_status(r, 201);
	kt_assert_header(r, "ETag", "\"1\"");
	kt_assert_compact_body(r);
	const json_t *o = r->json;
	const char *id = kt_jstr(o, "id");
	char *location = kt_strf(CALENDARS "/%s", id);

	kt_assert_header(r, "Location", location);
	assert_true(kt_is_uuid_v7(id));
	assert_string_equal(kt_jstr(o, "organization_id"), org);
	assert_string_equal(kt_jstr(o, "name"), "Office");
	json_t *sorted = json_loads("[1,2,3,4,5]", 0, NULL);

	assert_true(json_equal(json_object_get(o, "workdays"), sorted));
	json_decref(sorted);
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 7);
	check_row(&A, CALENDAR_ROW_SQL, o);
	assert_int_equal(audit_count(&A, "holiday_calendars", "INSERT", id, A.admin.id), 1);
	assert_event(&A, "keel.holiday_calendar.created", id, o);

	/* a retry with the key: the first answer, nothing more written */
	kt_resp *again = api("POST", A.admin.token, key, body, ORGS "/%s/holiday-calendars", org);

	kt_assert_status(again, 201);
	assert_string_equal(again->body, r->body);
	kt_resp_free(again);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holiday_calendars WHERE organization_id = $1", org,
	             NULL),
	    1);
	/* viewers read it */
	kt_resp *g = api("GET", A.viewer.token, NULL, NULL, "%s", location);

	kt_assert_status(g, 200);
	kt_assert_header(g, "ETag", "\"1\"");
	assert_true(json_equal(g->json, o));
	kt_resp_free(g);
	free(location);
	kt_resp_free(r);
	free(org);
}

static void
calendar_list_pages_and_patch_changes_it(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *c1 = calendar_new(&A, org, "[1,2,3,4,5]");
	char *c2 = calendar_new(&A, org, "[7,1,2,3,4]");
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/holiday-calendars?limit=1", org);

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "data"), 0), "id"), c1);
	char *cursor = strdup(kt_jstr(r->json, "next_cursor"));

	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/holiday-calendars?limit=1&cursor=%s", org,
	        cursor);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "data"), 0), "id"), c2);
	kt_resp_free(r);
	r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/holiday-calendars", org);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 2);
	assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
	kt_resp_free(r);

	/* PATCH with If-Match: name and work days */
	const char *match[] = {"If-Match: \"1\"", NULL};

	r = api("PATCH", A.admin.token, match, "{\"name\":\"Six days\",\"workdays\":[6,5,4,3,2,1]}",
	        CALENDARS "/%s", c1);
	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_string_equal(kt_jstr(r->json, "name"), "Six days");
	json_t *six = json_loads("[1,2,3,4,5,6]", 0, NULL);

	assert_true(json_equal(json_object_get(r->json, "workdays"), six));
	json_decref(six);
	check_row(&A, CALENDAR_ROW_SQL, r->json);
	assert_int_equal(audit_count(&A, "holiday_calendars", "UPDATE", c1, A.admin.id), 1);
	assert_event(&A, "keel.holiday_calendar.updated", c1, r->json);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"workdays\":[2]}", CALENDARS "/%s", c1);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "name"), "Six days");
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 3);
	kt_resp_free(r);

	/* refusals: stale, unknown, empty, a name the other has */
	r = api("PATCH", A.admin.token, match, "{\"name\":\"x\"}", CALENDARS "/%s", c1);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{\"name\":\"x\"}", CALENDARS "/" NIL_UUID);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, NULL, "{}", CALENDARS "/%s", c1);
	kt_assert_problem(r, 422, NULL, NULL);
	kt_resp_free(r);
	char *name = kt_pg_tenant_value(pg, A.id, "SELECT name FROM hr.holiday_calendars WHERE id = $1",
	                                (const char *[]){c2, NULL});
	char *body = kt_strf("{\"name\":\"%s\"}", name);

	r = api("PATCH", A.admin.token, NULL, body, CALENDARS "/%s", c1);
	kt_assert_problem(r, 409, NULL, "name");
	kt_resp_free(r);
	char *create = kt_strf("{\"name\":\"%s\",\"workdays\":[1]}", name);

	r = api("POST", A.admin.token, NULL, create, ORGS "/%s/holiday-calendars", org);
	kt_assert_problem(r, 409, NULL, "name");
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT version FROM hr.holiday_calendars WHERE id = $1", c1, NULL), 3);
	free(create);
	free(body);
	free(name);
	free(cursor);
	free(c1);
	free(c2);
	free(org);
}

static void
calendar_delete_takes_its_holidays_unless_in_use(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *used = calendar_new(&A, org, "[1,2,3,4,5]");
	char *spare = calendar_new(&A, org, "[1,2,3,4,5]");
	char *h_used = holiday_new(&A, used, "2026-12-25", NULL);
	char *h1 = holiday_new(&A, spare, "2026-12-25", NULL);
	char *h2 = holiday_new(&A, spare, "2026-12-24", "pm");
	char *emp = employee_new(&A, org, used);
	kt_resp *g = api("GET", A.admin.token, NULL, NULL, CALENDARS "/%s", spare);
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, CALENDARS "/%s", used);

	kt_assert_problem(r, 409, NULL, NULL);
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "employees"));
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holidays WHERE calendar_id = $1", used, NULL), 1);
	assert_int_equal(event_count(&A, "keel.holiday.deleted", h_used), 0);

	const char *stale[] = {"If-Match: \"9\"", NULL};

	r = api("DELETE", A.admin.token, stale, NULL, CALENDARS "/%s", spare);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holidays WHERE calendar_id = $1", spare, NULL), 2);
	r = api("DELETE", A.admin.token, NULL, NULL, CALENDARS "/%s", spare);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holiday_calendars WHERE id = $1", spare, NULL), 0);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holidays WHERE calendar_id = $1", spare, NULL), 0);
	assert_int_equal(audit_count(&A, "holiday_calendars", "DELETE", spare, A.admin.id), 1);
	assert_int_equal(audit_count(&A, "holidays", "DELETE", h1, A.admin.id), 1);
	assert_event(&A, "keel.holiday_calendar.deleted", spare, g->json);
	assert_int_equal(event_count(&A, "keel.holiday.deleted", h1), 1);
	assert_int_equal(event_count(&A, "keel.holiday.deleted", h2), 1);
	r = api("GET", A.admin.token, NULL, NULL, CALENDARS "/%s", spare);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, CALENDARS "/%s", spare);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	kt_resp_free(g);
	free(emp);
	free(h2);
	free(h1);
	free(h_used);
	free(spare);
	free(used);
	free(org);
}

/* ---- holidays ---- */

static void
holiday_create_list_and_delete(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *cal = calendar_new(&A, org, "[1,2,3,4,5]");
	kt_resp *r = api("POST", A.admin.token, NULL,
	                 "{\"date\":\"2026-12-24\",\"name\":\"Christmas Eve\",\"half_day\":\"pm\"}",
	                 CALENDARS "/%s/holidays", cal);

	kt_assert_status(r, 201);
	kt_assert_header(r, "ETag", "\"1\"");
	const json_t *o = r->json;
	const char *id = kt_jstr(o, "id");
	char *location = kt_strf(HOLIDAYS "/%s", id);

	kt_assert_header(r, "Location", location);
	assert_true(kt_is_uuid_v7(id));
	assert_string_equal(kt_jstr(o, "calendar_id"), cal);
	assert_string_equal(kt_jstr(o, "date"), "2026-12-24");
	assert_string_equal(kt_jstr(o, "name"), "Christmas Eve");
	assert_string_equal(kt_jstr(o, "half_day"), "pm");
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_int_equal(json_object_size(o), 8);
	check_row(&A, HOLIDAY_ROW_SQL, o);
	assert_int_equal(audit_count(&A, "holidays", "INSERT", id, A.admin.id), 1);
	assert_event(&A, "keel.holiday.created", id, o);

	/* one per date */
	kt_resp *d = api("POST", A.admin.token, NULL, "{\"date\":\"2026-12-24\",\"name\":\"Again\"}",
	                 CALENDARS "/%s/holidays", cal);

	kt_assert_problem(d, 409, NULL, "date");
	kt_resp_free(d);

	/* a whole day (half_day null), more days; the list in date order, ranged and paged */
	char *h0 = holiday_new(&A, cal, "2026-01-01", NULL);
	char *h2 = holiday_new(&A, cal, "2026-12-25", NULL);
	char *h3 = holiday_new(&A, cal, "2026-12-26", "am");

	d = api("GET", A.viewer.token, NULL, NULL, CALENDARS "/%s/holidays", cal);
	kt_assert_status(d, 200);
	const json_t *data = json_object_get(d->json, "data");

	assert_int_equal(json_array_size(data), 4);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "id"), h0);
	assert_true(json_is_null(json_object_get(json_array_get(data, 0), "half_day")));
	assert_true(json_equal(json_array_get(data, 1), o));
	assert_string_equal(kt_jstr(json_array_get(data, 3), "id"), h3);
	kt_resp_free(d);
	d = api("GET", A.viewer.token, NULL, NULL,
	        CALENDARS "/%s/holidays?from=2026-12-24&to=2026-12-25&limit=1", cal);
	kt_assert_status(d, 200);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(d->json, "data"), 0), "id"), id);
	char *cursor = strdup(kt_jstr(d->json, "next_cursor"));

	kt_resp_free(d);
	d = api("GET", A.viewer.token, NULL, NULL,
	        CALENDARS "/%s/holidays?from=2026-12-24&to=2026-12-25&limit=1&cursor=%s", cal, cursor);
	kt_assert_status(d, 200);
	data = json_object_get(d->json, "data");
	assert_int_equal(json_array_size(data), 1);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "id"), h2);
	kt_resp_free(d);

	/* delete */
	const char *stale[] = {"If-Match: \"2\"", NULL};

	d = api("DELETE", A.admin.token, stale, NULL, "%s", location);
	kt_assert_problem(d, 412, NULL, NULL);
	kt_resp_free(d);
	d = api("DELETE", A.admin.token, NULL, NULL, "%s", location);
	kt_assert_status(d, 204);
	kt_resp_free(d);
	assert_int_equal(count_in(&A, "SELECT count(*) FROM hr.holidays WHERE id = $1", id, NULL), 0);
	assert_int_equal(audit_count(&A, "holidays", "DELETE", id, A.admin.id), 1);
	assert_event(&A, "keel.holiday.deleted", id, o);
	d = api("DELETE", A.admin.token, NULL, NULL, "%s", location);
	kt_assert_problem(d, 404, NULL, NULL);
	kt_resp_free(d);
	/* the date is free again */
	free(holiday_new(&A, cal, "2026-12-24", "am"));
	free(cursor);
	free(h3);
	free(h2);
	free(h0);
	free(location);
	kt_resp_free(r);
	free(cal);
	free(org);
}

/* ---- roles, isolation, bad input ---- */

static void
viewers_read_and_only_admins_write(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *cal = calendar_new(&A, org, "[1,2,3,4,5]");
	char *hol = holiday_new(&A, cal, "2026-05-01", NULL);
	const char *readers[] = {A.viewer.token, A.member.token};

	for (int i = 0; i < 2; i++) {
		kt_resp *r = api("GET", readers[i], NULL, NULL, ORGS "/%s/holiday-calendars", org);

		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, NULL, CALENDARS "/%s", cal);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", readers[i], NULL, NULL, CALENDARS "/%s/holidays", cal);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("POST", readers[i], NULL, "{\"name\":\"N\",\"workdays\":[1]}",
		        ORGS "/%s/holiday-calendars", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", readers[i], NULL, "{\"name\":\"N\"}", CALENDARS "/%s", cal);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", readers[i], NULL, NULL, CALENDARS "/%s", cal);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", readers[i], NULL, "{\"date\":\"2026-05-02\",\"name\":\"N\"}",
		        CALENDARS "/%s/holidays", cal);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", readers[i], NULL, NULL, HOLIDAYS "/%s", hol);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = api("GET", NULL, NULL, NULL, CALENDARS "/%s", cal);

	kt_assert_problem(r, 401, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&A,
	                          "SELECT count(*) FROM hr.holiday_calendars c JOIN hr.holidays h"
	                          " ON h.calendar_id = c.id WHERE c.id = $1 AND c.version = 1",
	                          cal, NULL),
	                 1);
	free(hol);
	free(cal);
	free(org);
}

static void
other_tenants_ids_are_not_found(void **state)
{
	(void)state;
	char *b_org = org_new(&B);
	char *b_cal = calendar_new(&B, b_org, "[1,2,3,4,5]");
	char *b_hol = holiday_new(&B, b_cal, "2026-05-01", NULL);
	const char *paths[] = {b_cal, NIL_UUID, "not-a-uuid"};

	for (int i = 0; i < 3; i++) {
		kt_resp *r = api("GET", A.admin.token, NULL, NULL, CALENDARS "/%s", paths[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", A.admin.token, NULL, "{\"name\":\"Mine\"}", CALENDARS "/%s", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", A.admin.token, NULL, NULL, CALENDARS "/%s", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, CALENDARS "/%s/holidays", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", A.admin.token, NULL, "{\"date\":\"2026-05-02\",\"name\":\"N\"}",
		        CALENDARS "/%s/holidays", paths[i]);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	const char *hols[] = {b_hol, "nope"};

	for (int i = 0; i < 2; i++) {
		kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, HOLIDAYS "/%s", hols[i]);

		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/holiday-calendars", b_org);

	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"name\":\"N\",\"workdays\":[1]}",
	        ORGS "/%s/holiday-calendars", b_org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(count_in(&B,
	                          "SELECT count(*) FROM hr.holiday_calendars c JOIN hr.holidays h"
	                          " ON h.calendar_id = c.id WHERE c.id = $1 AND c.version = 1",
	                          b_cal, NULL),
	                 1);
	assert_int_equal(
	    count_in(&B, "SELECT count(*) FROM hr.holiday_calendars WHERE id <> $1", b_cal, NULL), 0);
	free(b_hol);
	free(b_cal);
	free(b_org);
}

static void
bad_input_is_refused(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *cal = calendar_new(&A, org, "[1,2,3,4,5]");
	char *long_name = kt_repeat("n", 201);
	char *too_long = kt_strf("{\"name\":\"%s\",\"workdays\":[1]}", long_name);
	const char *calendars[] = {
	    "{\"name\":\"N\",\"workdays\":[]}",
	    "{\"name\":\"N\",\"workdays\":[0]}",
	    "{\"name\":\"N\",\"workdays\":[8]}",
	    "{\"name\":\"N\",\"workdays\":[1,1]}",
	    "{\"name\":\"N\",\"workdays\":[\"1\"]}",
	    "{\"name\":\"N\",\"workdays\":[1.5]}",
	    "{\"name\":\"N\",\"workdays\":[1,2,3,4,5,6,7,1]}",
	    "{\"name\":\"N\",\"workdays\":\"1-5\"}",
	    "{\"name\":\"N\",\"workdays\":null}",
	    "{\"name\":\"N\"}",
	    "{\"name\":\"\",\"workdays\":[1]}",
	    too_long,
	    "{\"workdays\":[1]}",
	    "{\"name\":\"N\",\"workdays\":[1],\"holidays\":[]}",
	};
	const char *fields[] = {"workdays", "workdays", "workdays", "workdays", "workdays",
	                        "workdays", "workdays", "workdays", "workdays", "workdays",
	                        "name",     "name",     "name",     "holidays"};

	for (size_t i = 0; i < sizeof(calendars) / sizeof(calendars[0]); i++) {
		kt_resp *r =
		    api("POST", A.admin.token, NULL, calendars[i], ORGS "/%s/holiday-calendars", org);

		kt_assert_problem(r, 422, NULL, fields[i]);
		kt_resp_free(r);
	}
	const char *patches[] = {"{\"workdays\":[]}",    "{\"workdays\":[0]}", "{\"workdays\":[3,3]}",
	                         "{\"workdays\":\"x\"}", "{\"name\":\"\"}",    "{\"holidays\":1}"};
	const char *pfields[] = {"workdays", "workdays", "workdays", "workdays", "name", "holidays"};

	for (int i = 0; i < 6; i++) {
		kt_resp *r = api("PATCH", A.admin.token, NULL, patches[i], CALENDARS "/%s", cal);

		kt_assert_problem(r, 422, NULL, pfields[i]);
		kt_resp_free(r);
	}
	const char *holidays[] = {
	    "{\"date\":\"2026-02-30\",\"name\":\"N\"}",
	    "{\"date\":\"26-01-01\",\"name\":\"N\"}",
	    "{\"date\":null,\"name\":\"N\"}",
	    "{\"name\":\"N\"}",
	    "{\"date\":\"2026-01-01\",\"name\":\"\"}",
	    "{\"date\":\"2026-01-01\",\"name\":\"N\",\"half_day\":\"noon\"}",
	    "{\"date\":\"2026-01-01\",\"name\":\"N\",\"half_day\":1}",
	    "{\"date\":\"2026-01-01\",\"name\":\"N\",\"calendar_id\":\"" NIL_UUID "\"}",
	};
	const char *hfields[] = {"date", "date",     "date",     "date",
	                         "name", "half_day", "half_day", "calendar_id"};

	for (size_t i = 0; i < sizeof(holidays) / sizeof(holidays[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, holidays[i], CALENDARS "/%s/holidays", cal);

		kt_assert_problem(r, 422, NULL, hfields[i]);
		kt_resp_free(r);
	}
	const char *malformed[] = {"{\"name\":", "[1]", "{\"name\":\"\xff\",\"workdays\":[1]}"};

	for (int i = 0; i < 3; i++) {
		kt_resp *r =
		    api("POST", A.admin.token, NULL, malformed[i], ORGS "/%s/holiday-calendars", org);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", A.admin.token, NULL, malformed[i], CALENDARS "/%s/holidays", cal);
		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	const char *queries[] = {"?from=2026-13-01", "?to=yesterday", "?from=2026-02-01&to=2026-01-01",
	                         "?cursor=abc", "?limit=0"};

	for (int i = 0; i < 5; i++) {
		kt_resp *r =
		    api("GET", A.viewer.token, NULL, NULL, CALENDARS "/%s/holidays%s", cal, queries[i]);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holiday_calendars WHERE organization_id = $1", org,
	             NULL),
	    1);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holidays WHERE calendar_id = $1", cal, NULL), 0);
	/* the limits: seven days, 200 characters */
	char *max_name = kt_repeat("n", 200);
	char *seven = kt_strf("{\"name\":\"%s\",\"workdays\":[7,6,5,4,3,2,1]}", max_name);
	kt_resp *r = api("POST", A.admin.token, NULL, seven, ORGS "/%s/holiday-calendars", org);

	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(seven);
	free(max_name);
	free(too_long);
	free(long_name);
	free(cal);
	free(org);
}

/* ---- the day counting ---- */

/* The days hr.leave_day_parts counts for the employee from start to end, as keel_app. */
static char *
days(const char *emp, const char *start, const char *start_half, const char *end,
     const char *end_half)
{
	return kt_pg_tenant_value(app, A.id,
	                          "SELECT trim_scale(coalesce(sum(k.days), 0))::text"
	                          " FROM hr.leave_day_parts(core.current_tenant_id(), $1, $2::date,"
	                          " nullif($3, ''), $4::date, nullif($5, '')) k",
	                          (const char *[]){emp, start, start_half ? start_half : "", end,
	                                           end_half ? end_half : "", NULL});
}

static void
check_days(const char *emp, const char *start, const char *start_half, const char *end,
           const char *end_half, const char *want, int line)
{
	char *got = days(emp, start, start_half, end, end_half);

	if (got == NULL || strcmp(got, want) != 0)
		kt_fail_at(__FILE__, line, "%s%s .. %s%s: %s days, expected %s", start,
		           start_half ? " pm" : "", end, end_half ? " am" : "", got ? got : "(null)", want);
	free(got);
}
#define assert_days(emp, s, sh, e, eh, want) check_days(emp, s, sh, e, eh, want, __LINE__)

/*
 * The week of Monday 2026-03-02 to Sunday 2026-03-08 on calendars made through the routes: a
 * Monday-to-Friday one with a whole holiday on Wednesday 03-04 and a morning off on Thursday
 * 03-05, a Sunday-to-Thursday one, and no calendar at all.
 */
static void
leave_days_are_counted_on_the_employees_calendar(void **state)
{
	(void)state;
	char *org = org_new(&A);
	char *week = calendar_new(&A, org, "[1,2,3,4,5]");
	char *gulf = calendar_new(&A, org, "[7,1,2,3,4]");
	char *wed = holiday_new(&A, week, "2026-03-04", NULL);
	char *thu = holiday_new(&A, week, "2026-03-05", "am");
	char *e_week = employee_new(&A, org, week);
	char *e_gulf = employee_new(&A, org, gulf);
	char *e_none = employee_new(&A, org, NULL);

	/* no calendar: Monday to Friday, no holidays (even those of a calendar of its organization) */
	assert_days(e_none, "2026-03-02", NULL, "2026-03-08", NULL, "5");
	assert_days(e_none, "2026-03-07", NULL, "2026-03-08", NULL, "0");
	assert_days(e_none, "2026-03-04", NULL, "2026-03-04", NULL, "1");
	/* a custom work week, Sunday to Thursday: Friday and Saturday off */
	assert_days(e_gulf, "2026-03-02", NULL, "2026-03-08", NULL, "5");
	assert_days(e_gulf, "2026-03-05", NULL, "2026-03-08", NULL, "2");
	assert_days(e_gulf, "2026-03-06", NULL, "2026-03-07", NULL, "0");
	/* weekends excluded, a whole holiday (Wednesday) excluded, a morning off counts half */
	assert_days(e_week, "2026-03-02", NULL, "2026-03-08", NULL, "3.5");
	assert_days(e_week, "2026-03-04", NULL, "2026-03-04", NULL, "0");
	assert_days(e_week, "2026-03-05", NULL, "2026-03-05", NULL, "0.5");
	/* half-day spans: from Thursday afternoon; to Thursday morning (off); from Tuesday pm */
	assert_days(e_week, "2026-03-05", "pm", "2026-03-06", NULL, "1.5");
	assert_days(e_week, "2026-03-02", NULL, "2026-03-05", "am", "2");
	assert_days(e_week, "2026-03-03", "pm", "2026-03-05", "am", "0.5");
	assert_days(e_week, "2026-03-03", NULL, "2026-03-03", "am", "0.5");
	/* a half day on the whole holiday counts nothing */
	assert_days(e_week, "2026-03-04", "pm", "2026-03-04", NULL, "0");
	assert_days(e_week, "2026-03-04", NULL, "2026-03-04", "am", "0");

	/* the routes change the count: the holiday deleted, Saturday made a work day */
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, HOLIDAYS "/%s", wed);

	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_days(e_week, "2026-03-02", NULL, "2026-03-08", NULL, "4.5");
	r = api("PATCH", A.admin.token, NULL, "{\"workdays\":[1,2,3,4,5,6]}", CALENDARS "/%s", week);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_days(e_week, "2026-03-02", NULL, "2026-03-08", NULL, "5.5");
	free(e_none);
	free(e_gulf);
	free(e_week);
	free(thu);
	free(wed);
	free(gulf);
	free(week);
	free(org);
}

/* ---- the database's own rules, for keel_app ---- */

static void
the_database_refuses_what_breaks_calendars(void **state)
{
	(void)state;
	char *org = org_new(&A), *other = org_new(&A);
	char *cal = calendar_new(&A, org, "[1,2,3,4,5]");
	char *hol = holiday_new(&A, cal, "2026-07-01", NULL);
	const char *insert_cal =
	    "INSERT INTO hr.holiday_calendars (tenant_id, id, organization_id, name, workdays)"
	    " VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, 'X', $2)";
	const char *insert_hol =
	    "INSERT INTO hr.holidays (tenant_id, id, organization_id, calendar_id, date, name,"
	    " half_day) VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $1, $2,"
	    " $3, 'X', nullif($4, ''))";
	const char *bad_days[] = {"{}", "{1,1}", "{0}", "{8}", "{1,2,3,4,5,6,7,7}"};

	for (int i = 0; i < 5; i++)
		assert_refused(&A, insert_cal, (const char *[]){org, bad_days[i], NULL}, "23514",
		               "holiday_calendars_workdays_check");
	assert_refused(&A, "UPDATE hr.holiday_calendars SET workdays = '{}' WHERE id = $1",
	               (const char *[]){cal, NULL}, "23514", "holiday_calendars_workdays_check");
	assert_refused(&A, "UPDATE hr.holiday_calendars SET organization_id = $2 WHERE id = $1",
	               (const char *[]){cal, other, NULL}, "42501", NULL);
	/* a holiday in a calendar of another organization; twice on a date; an unknown half */
	assert_refused(&A, insert_hol, (const char *[]){other, cal, "2026-07-02", "", NULL}, "23503",
	               "holidays_calendar_fkey");
	assert_refused(&A, insert_hol, (const char *[]){org, cal, "2026-07-01", "am", NULL}, "23505",
	               "holidays_date_key");
	assert_refused(&A, insert_hol, (const char *[]){org, cal, "2026-07-03", "noon", NULL}, "23514",
	               "holidays_half_day_check");
	assert_refused(&A, "UPDATE hr.holidays SET date = '2026-07-09' WHERE id = $1",
	               (const char *[]){hol, NULL}, "42501", NULL);
	assert_int_equal(
	    count_in(&A, "SELECT count(*) FROM hr.holidays WHERE calendar_id = $1", cal, NULL), 1);
	free(hol);
	free(cal);
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
	    cmocka_unit_test(calendar_create_answers_201_and_is_read_back),
	    cmocka_unit_test(calendar_list_pages_and_patch_changes_it),
	    cmocka_unit_test(calendar_delete_takes_its_holidays_unless_in_use),
	    cmocka_unit_test(holiday_create_list_and_delete),
	    cmocka_unit_test(viewers_read_and_only_admins_write),
	    cmocka_unit_test(other_tenants_ids_are_not_found),
	    cmocka_unit_test(bad_input_is_refused),
	    cmocka_unit_test(leave_days_are_counted_on_the_employees_calendar),
	    cmocka_unit_test(the_database_refuses_what_breaks_calendars),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
