/*
 * Private to src/hr: what its parts share.
 *
 * The module is split by resource: hr_employee_api.c (employees), hr_position_api.c
 * (positions and assignments), hr_calendar_api.c (holiday calendars and holidays),
 * hr_leave_api.c (leave types, allocations, balances), hr_request_api.c (leave requests and
 * their approvals), each with its store (hr_*_store.c).  hr_api.c registers them all and
 * holds what they share; hr_store.c the lookups every part starts with.  The rules are
 * migration 0019's (src/hr/README.md).
 */
#ifndef KEEL_HR_HR_INT_H
#define KEEL_HR_HR_INT_H

#include <stdbool.h>

#include "hr/hr.h"
#include "svc/svc.h"

/* A row as the API's JSON text, rendered by PostgreSQL (keel_res_json), with its id and version. */
typedef struct hr_row {
	const char *id;
	long version;
	const char *json;
} hr_row;

/*
 * What the caller may see of an employee (hr.employee_access): nothing, as the user linked to
 * its manager, as the user linked to it, as an admin (or owner).  Reads need at least
 * HR_SEE_MANAGER (403 below it); writes are the admin's except where a route says otherwise.
 */
typedef enum hr_access {
	HR_SEE_NONE = 0,
	HR_SEE_MANAGER,
	HR_SEE_SELF,
	HR_SEE_ADMIN,
} hr_access;

/* An employee as the routes need it before their own statement. */
typedef struct hr_employee {
	const char *id;
	const char *organization_id;
	hr_access access;
} hr_employee;

/* The organization's id in a path, as every organization-scoped route declares it. */
#define HR_ORG_PARAM                                                                               \
	{                                                                                              \
		"id", "path", KEEL_JS_UUID, "The organization's id"                                        \
	}

/* A day amount: a decimal string with at most two decimals ("2.5", "1.67", "-3"). */
#define HR_DAYS                                                                                    \
	"{\"type\":\"string\",\"pattern\":\"^-?(0|[1-9][0-9]{0,3})(\\\\.[0-9]{1,2})?$\","              \
	"\"description\":\"Days: a decimal string with at most two decimals\"}"

/* ---- hr_api.c ---- */

/* The path parameter name when it is a UUID, else NULL (no row of any tenant: 404). */
const char *hr_path_id(keel_req *req, const char *name);

/* Whether s is a real date YYYY-MM-DD (keel_date_parse); HR_DATE_RULE words the field error. */
bool hr_date_valid(const char *s);
#define HR_DATE_RULE "must be a date YYYY-MM-DD that exists"

/* Answer 404 "no such employee"; returns KEEL_ENOTFOUND. */
keel_err hr_employee_missing(keel_req *req);

/* Answer a failed hr statement (keel_svc_fail_tx: KH403/KH404/KH409/KH422 with their text). */
keel_err hr_fail(keel_req *req, keel_tx *tx, keel_err err, const char *what);

/* The answer with a row: its JSON text, its ETag, Location when given, stored under idem_key. */
keel_svc_reply hr_reply(int status, const hr_row *row, const char *location, const char *idem_key);

/* 404 "no such organization" unless org_id is one of the tenant's, read in tx. */
keel_err hr_org_require(keel_req *req, keel_tx *tx, const char *org_id);

/*
 * The employee id (a path's, already a UUID) with the caller's access to it, read in tx:
 * 404 "no such employee" when it is not the tenant's, 403 when the access is below need.
 */
keel_err hr_employee_require(keel_req *req, keel_tx *tx, const char *id, hr_access need,
                             hr_employee *out);

/* Whether the caller is an admin or owner (its live role, once its transaction began). */
bool hr_caller_admin(keel_req *req);

/* ---- hr_store.c ---- */

/* A row of a statement whose columns are id, version, json (hr_row). */
void hr_store_row(keel_res *res, int i, keel_arena *a, hr_row *row);

/*
 * A write of one row (statement st with parameters p, columns id, version, json) into row, and
 * its event type with the row's JSON as data; KEEL_ENOTFOUND when st wrote no row.
 */
keel_err hr_store_write(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *const *p,
                        hr_row *row, const char *type);

/* KEEL_ENOTFOUND unless org_id is the tenant's organization. */
keel_err hr_store_org_exists(keel_tx *tx, const char *org_id);

/* The employee's organization and the caller's access (KEEL_ENOTFOUND: not the tenant's). */
keel_err hr_store_employee_access(keel_tx *tx, keel_arena *a, const char *id, hr_employee *out);

/* ---- hr_employee_store.c: employees; hr_calendar_store.c: calendars and holidays ---- */

/* An employee's fields from a body: NULL where absent (create) or unchanged (PATCH). */
typedef struct hr_employee_input {
	const char *first_name, *last_name, *hire_date, *timezone;
	/* nullable: given (PATCH: set, maybe to null) and the value (NULL: null) */
	const char *email, *user_id, *termination_date, *manager_id, *calendar_id;
	bool has_email, has_user_id, has_termination_date, has_manager_id, has_calendar_id;
} hr_employee_input;

/* A page of an organization's employees in employee_number order. */
typedef struct hr_employee_filter {
	const char *manager_id, *user_id; /* NULL: any */
	long long after;                  /* the cursor's sequence; 0: from the first */
	bool all;                         /* every employee, else the caller's own and its reports */
} hr_employee_filter;

keel_err hr_store_employee_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                                  const hr_employee_input *in, hr_row *row);
keel_err hr_store_employee_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row);
/* KEEL_OK with *linked: whether the caller's user is one of the organization's employees. */
keel_err hr_store_employee_linked(keel_tx *tx, const char *org_id, bool *linked);
/* Up to limit rows into list; *last the last row's sequence (0: none). */
keel_err hr_store_employee_list(keel_tx *tx, const char *org_id, const hr_employee_filter *f,
                                int limit, keel_svc_list *list, long long *last);
keel_err hr_store_employee_update(keel_tx *tx, keel_arena *a, const char *id,
                                  const hr_employee_input *in, const char *version, hr_row *row);
keel_err hr_store_employee_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version);
/* The employee's version (KEEL_ENOTFOUND: not the tenant's). */
keel_err hr_store_employee_version(keel_tx *tx, const char *id, long *version);

typedef struct hr_calendar_input {
	const char *name;
	const char *workdays; /* a PostgreSQL array literal, "{1,2,3,4,5}" */
} hr_calendar_input;

keel_err hr_store_calendar_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                                  const hr_calendar_input *in, hr_row *row);
keel_err hr_store_calendar_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row);
/* A page in id order after after (NULL: from the first); *last the last row's id. */
keel_err hr_store_calendar_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after,
                                int limit, keel_svc_list *list, const char **last);
keel_err hr_store_calendar_update(keel_tx *tx, keel_arena *a, const char *id,
                                  const hr_calendar_input *in, const char *version, hr_row *row);
/* The calendar and its holidays (each with its event). */
keel_err hr_store_calendar_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version);
keel_err hr_store_calendar_version(keel_tx *tx, const char *id, long *version);

typedef struct hr_holiday_input {
	const char *date, *name, *half_day; /* half_day NULL: the whole day */
} hr_holiday_input;

/* KEEL_ENOTFOUND when the calendar is not the tenant's. */
keel_err hr_store_holiday_create(keel_tx *tx, keel_arena *a, const char *id,
                                 const char *calendar_id, const hr_holiday_input *in, hr_row *row);
/* A page in date order from from to to (NULL: open), after the date after (NULL: none). */
keel_err hr_store_holiday_list(keel_tx *tx, keel_arena *a, const char *calendar_id,
                               const char *from, const char *to, const char *after, int limit,
                               keel_svc_list *list, const char **last);
keel_err hr_store_holiday_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version);
keel_err hr_store_holiday_version(keel_tx *tx, const char *id, long *version);

/* ---- hr_position_store.c: positions, assignments, leave types ---- */

/* An assignment's fields from a body: NULL where absent (end_date also NULL when given null). */
typedef struct hr_assignment_input {
	const char *position_id, *start_date, *end_date;
	bool end_given; /* end_date was in the body (NULL: open-ended) */
} hr_assignment_input;

/* A leave type's fields from a body, as statement parameters: NULL where absent. */
typedef struct hr_leave_type_input {
	const char *code, *name, *allow_negative, *approval_levels, *carry_max, *carry_months;
	bool carry_max_given, carry_months_given; /* given, maybe null (then NULL) */
} hr_leave_type_input;

/* A page of a list in id order (keel_svc_page_next) or code order: its items and its last key. */
typedef struct hr_position_page {
	keel_svc_list list;
	const char *last; /* the last row's id (or code), NULL when the page is empty */
} hr_position_page;

/* KEEL_ENOTFOUND: the division is not the tenant's.  Then the position's row. */
keel_err hr_store_position_create(keel_tx *tx, keel_arena *a, const char *id,
                                  const char *division_id, const char *title, const char *headcount,
                                  hr_row *row);
keel_err hr_store_position_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row);
keel_err hr_store_division_exists(keel_tx *tx, const char *division_id);
keel_err hr_store_position_list(keel_tx *tx, keel_arena *a, const char *division_id,
                                const keel_page *page, hr_position_page *out);
/* title and headcount NULL: unchanged; version NULL: any.  KEEL_ENOTFOUND: no row changed. */
keel_err hr_store_position_update(keel_tx *tx, keel_arena *a, const char *id, const char *title,
                                  const char *headcount, const char *version, hr_row *row);
keel_err hr_store_position_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version);

keel_err hr_store_assignment_create(keel_tx *tx, keel_arena *a, const char *id,
                                    const hr_employee *emp, const hr_assignment_input *in,
                                    hr_row *row);
keel_err hr_store_assignment_list(keel_tx *tx, keel_arena *a, const char *employee_id,
                                  const keel_page *page, hr_position_page *out);
keel_err hr_store_assignment_update(keel_tx *tx, keel_arena *a, const char *id,
                                    const hr_assignment_input *in, const char *version,
                                    hr_row *row);
keel_err hr_store_assignment_delete(keel_tx *tx, keel_arena *a, const char *id,
                                    const char *version);

keel_err hr_store_leave_type_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                                    const hr_leave_type_input *in, hr_row *row);
keel_err hr_store_leave_type_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row);
/* The organization's leave types in code order after after_code ("" for the first page). */
keel_err hr_store_leave_type_list(keel_tx *tx, keel_arena *a, const char *org_id,
                                  const char *after_code, int limit, hr_position_page *out);
keel_err hr_store_leave_type_update(keel_tx *tx, keel_arena *a, const char *id,
                                    const hr_leave_type_input *in, const char *version,
                                    hr_row *row);

/* The kinds of rows hr_store_version reads. */
typedef enum hr_position_kind {
	HR_POSITION,
	HR_ASSIGNMENT,
	HR_LEAVE_TYPE,
} hr_position_kind;

/* The version of a row of kind (KEEL_ENOTFOUND: not the tenant's), for 412 against 404. */
keel_err hr_store_position_version(keel_tx *tx, hr_position_kind kind, const char *id,
                                   long *version);

/* hr_position_api.c's steps the leave types' handlers share: */

/* A string member of body, or NULL (absent or null). */
const char *hr_position_str(const json_t *body, const char *name);

/* An integer member of body as text in the request's arena, or NULL (absent or null). */
const char *hr_position_int(keel_req *req, const json_t *body, const char *name);

/* The body checked against the route's fields (422 naming each); partial: at least one field. */
keel_err hr_position_parse_body(keel_req *req, bool partial, const char *what, json_t **body);

/* A new row's id (UUIDv7) in the request's arena. */
const char *hr_position_new_id(keel_req *req);

/* A guarded write of kind changed nothing: 412 when the row is at another version, else 404. */
keel_err hr_position_missed(keel_req *req, keel_tx *tx, hr_position_kind kind, const char *id,
                            const char *version);

/* The leave types' routes (hr_leave_type_api.c), registered by hr_position_routes. */
void hr_leave_type_routes(keel_router *r, keel_hr *hr);

/* ---- hr_leave_store.c: allocations, balances, the ledger ---- */

/* An allocation's body: days as checked text (keel_days_parse), dates YYYY-MM-DD. */
typedef struct hr_allocation_in {
	const char *leave_type_id, *days, *valid_from, *valid_to, *reason;
} hr_allocation_in;

/* A ledger row's place in its list: (date, id). */
typedef struct hr_entry_key {
	char date[11];
	char id[37];
} hr_entry_key;

/* The ledger of an employee: of a type and within from..to when given, after after. */
typedef struct hr_entry_filter {
	const char *employee_id;
	const char *leave_type_id, *from, *to; /* NULL: any */
	const hr_entry_key *after;             /* NULL: from the start */
	int limit;
} hr_entry_filter;

/*
 * Write the allocation id of employee emp (its organization's leave type) with its event
 * keel.leave_entry.created.  KH409 (another leave period overlaps), KEEL_EINVAL with
 * constraint leave_entries_leave_type_fkey (not a leave type of the organization).
 */
keel_err hr_leave_store_allocate(keel_tx *tx, keel_arena *a, const char *id, const hr_employee *emp,
                                 const hr_allocation_in *in, hr_row *out);

/* hr.leave_settle(employee): the carry-forward and expiry rows due, each with its event. */
keel_err hr_leave_store_settle(keel_tx *tx, keel_arena *a, const char *employee_id);

/* The employee's balances as of as_of (NULL: its local today), one per leave type, by code. */
keel_err hr_leave_store_balances(keel_tx *tx, const char *employee_id, const char *as_of,
                                 keel_svc_list *list);

/* A page of the employee's ledger in (date, id) order; *last: its last row's key. */
keel_err hr_leave_store_entries(keel_tx *tx, const hr_entry_filter *f, keel_svc_list *list,
                                hr_entry_key *last);

/* ---- hr_request_store.c: leave requests and approvals ---- */

/* A leave request as its create route takes it (NULL: absent). */
typedef struct hr_request_input {
	const char *leave_type_id;
	const char *start_date, *end_date;
	const char *start_half, *end_half; /* "pm", "am" or NULL */
	const char *reason;
} hr_request_input;

/* What a state action does to a request: the status it leads to is the event's verb. */
typedef enum hr_request_action {
	HR_REQUEST_APPROVE,
	HR_REQUEST_REJECT,
	HR_REQUEST_WITHDRAW,
	HR_REQUEST_CANCEL,
} hr_request_action;

/* A page of requests in (start_date, id) order, and where it ended. */
typedef struct hr_request_page {
	keel_svc_list list;
	const char *last_start, *last_id; /* the last row's, or NULL */
} hr_request_page;

/* A list's filters and position (NULL: none). */
typedef struct hr_request_filter {
	const char *status, *from, *to;
	const char *after_start, *after_id;
	int limit;
} hr_request_filter;

/*
 * Insert the request (id) of employee emp (of organization org) as the caller, read it back
 * and enqueue keel.leave_request.created.  KEEL_ENOTFOUND: the leave type is not one of the
 * employee's organization; the rest is the database's (KH403, KH409, KH422).
 */
keel_err hr_request_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org,
                                 const char *emp, const hr_request_input *in, hr_row *row);

/* The request's JSON (KEEL_ENOTFOUND: not the tenant's). */
keel_err hr_request_store_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row);

/* The request's employee and status (KEEL_ENOTFOUND: not the tenant's). */
keel_err hr_request_store_head(keel_tx *tx, keel_arena *a, const char *id, const char **employee,
                               const char **status);

/*
 * Run action on the request as the caller (reason: reject's), read it back and enqueue the
 * event of the status it led to.  KEEL_ENOTFOUND: no row changed (the request is gone or
 * already in the status the action leads to); the database's KH403/KH409/KH422 otherwise.
 */
keel_err hr_request_store_act(keel_tx *tx, keel_arena *a, hr_request_action action, const char *id,
                              const char *reason, hr_row *row);

/* A page of the employee's requests, filtered. */
keel_err hr_request_store_list(keel_tx *tx, keel_arena *a, const char *emp,
                               const hr_request_filter *f, hr_request_page *page);

/* A page of the organization's requests the caller decides on (an admin: all; else its
 * direct reports'), filtered. */
keel_err hr_request_store_org_list(keel_tx *tx, keel_arena *a, const char *org,
                                   const hr_request_filter *f, hr_request_page *page);

/* Whether the caller's user is linked to an employee of the organization. */
keel_err hr_request_store_linked(keel_tx *tx, const char *org, bool *linked);

/* ---- the parts' routes ---- */

void hr_employee_routes(keel_router *r, keel_hr *hr);
void hr_position_routes(keel_router *r, keel_hr *hr);
void hr_calendar_routes(keel_router *r, keel_hr *hr);
void hr_leave_routes(keel_router *r, keel_hr *hr);
void hr_request_routes(keel_router *r, keel_hr *hr);

#endif
