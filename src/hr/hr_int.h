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

/* ---- the parts' routes ---- */

void hr_employee_routes(keel_router *r, keel_hr *hr);
void hr_position_routes(keel_router *r, keel_hr *hr);
void hr_calendar_routes(keel_router *r, keel_hr *hr);
void hr_leave_routes(keel_router *r, keel_hr *hr);
void hr_request_routes(keel_router *r, keel_hr *hr);

#endif
