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

/* KEEL_ENOTFOUND unless org_id is the tenant's organization. */
keel_err hr_store_org_exists(keel_tx *tx, const char *org_id);

/* The employee's organization and the caller's access (KEEL_ENOTFOUND: not the tenant's). */
keel_err hr_store_employee_access(keel_tx *tx, keel_arena *a, const char *id, hr_employee *out);

/* ---- hr_employee_store.c: employees; hr_calendar_store.c: calendars and holidays ---- */

/* ---- hr_position_store.c: positions, assignments, leave types ---- */

/* ---- hr_leave_store.c: allocations, balances, the ledger ---- */

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
