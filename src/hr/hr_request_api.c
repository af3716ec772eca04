/*
 * hr: leave requests and their approvals.
 *
 * A request is made for an employee by its own user or an admin (the database's rule, KH403;
 * a caller who may not even read the employee gets 403 first, an unknown employee 404).  The
 * body's shape is checked here (dates that exist, end not before start, at most 366 days, the
 * halves), the rest by the database: the days from the employee's calendar (none: 422
 * start_date), the employment (422), half days another held request has (409 naming the
 * date), the balance under the (employee, leave type) lock (422 leave_type_id).
 *
 * The actions approve, reject, withdraw and cancel are the database's state machine: who may
 * is hr.leave_check_approver's and the transition trigger's (KH403 -> 403), a state that does
 * not allow the action is 409 naming it, a repeated action included.  A caller who may not
 * read the request's employee gets 403 before the database is asked.  Every write answers the
 * request as it is after, and its event is enqueued in the same transaction.
 *
 * An employee's requests are listed by (start_date, id), and so are the requests of an
 * organization its caller decides on (an admin: all; a manager: its direct reports'; a
 * non-admin linked to no employee of it: 403), keyset-paged by a cursor of the last row's
 * start_date (days since 1970, 4 bytes) and id (16 bytes).
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/uuid.h"

#include <string.h>

#define DATE_PATTERN     "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#define SPAN_MAX_DAYS    366
#define CURSOR_KIND      0x68 /* an employee's requests: start_date, id */
#define CURSOR_LEN       20
#define REQUEST_NOT_HERE "no such leave request"

static const char *const pm_choice[] = {"pm", NULL};
static const char *const am_choice[] = {"am", NULL};
static const char *const statuses[] = {"submitted", "partially_approved", "approved", "rejected",
                                       "withdrawn", "cancelled",          NULL};

static const keel_field_spec request_spec[] = {
    {.name = "leave_type_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "A leave type of the employee's organization"},
    {.name = "start_date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = hr_date_valid,
     .check_msg = HR_DATE_RULE,
     .pattern = DATE_PATTERN,
     .format = "date",
     .description = "The first day of leave"},
    {.name = "end_date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = hr_date_valid,
     .check_msg = HR_DATE_RULE,
     .pattern = DATE_PATTERN,
     .format = "date",
     .description = "The last day of leave: not before start_date, at most 366 days on"},
    {.name = "start_half",
     .type = KEEL_F_ENUM,
     .nullable = true,
     .choices = pm_choice,
     .description = "\"pm\": only the first day's afternoon; absent or null: the whole day"},
    {.name = "end_half",
     .type = KEEL_F_ENUM,
     .nullable = true,
     .choices = am_choice,
     .description = "\"am\": only the last day's morning; absent or null: the whole day"},
    {.name = "reason", .type = KEEL_F_STRING, .max = 1000, .description = "Why (optional)"},
};

static const keel_field_spec reject_spec[] = {
    {.name = "reason",
     .type = KEEL_F_STRING,
     .required = true,
     .trim = true,
     .min = 1,
     .max = 1000,
     .description = "Why the request is rejected"},
};

static const char *
member_str(json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

/* The dates' order and span, and halves that leave something of a one-day request. */
static void
request_dates_check(keel_req *req, const hr_request_input *in)
{
	json_t *errors = keel_req_errors(req);
	int32_t start, end;

	if (in->start_date == NULL || in->end_date == NULL ||
	    !keel_date_parse(in->start_date, &start) || !keel_date_parse(in->end_date, &end))
		return;
	if (end < start)
		keel_field_error(errors, "end_date", "must not be before start_date");
	else if (end - start >= SPAN_MAX_DAYS)
		keel_field_error(errors, "end_date", "must be at most %d days after start_date",
		                 SPAN_MAX_DAYS - 1);
	else if (end == start && in->start_half != NULL && in->end_half != NULL)
		keel_field_error(errors, "end_half",
		                 "must be absent when start_half is set on a one-day request");
}

/* Parse and validate a request's body into in; fails the request (400/422) when invalid. */
static keel_err
request_parse(keel_req *req, hr_request_input *in)
{
	json_t *body;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	keel_json_check(body, request_spec, KEEL_NELEM(request_spec), keel_req_errors(req));
	in->leave_type_id = member_str(body, "leave_type_id");
	in->start_date = member_str(body, "start_date");
	in->end_date = member_str(body, "end_date");
	in->start_half = member_str(body, "start_half");
	in->end_half = member_str(body, "end_half");
	in->reason = member_str(body, "reason");
	request_dates_check(req, in);
	return keel_req_invalid(req, "the leave request is invalid");
}

static keel_err
request_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *emp_id = hr_path_id(req, "id"), *key, *location = NULL;
	hr_request_input in = {0};
	hr_employee emp;
	hr_row row = {0};
	keel_tx *tx;
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (emp_id == NULL)
		return hr_employee_missing(req);
	if ((err = request_parse(req, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, emp_id, HR_SEE_MANAGER, &emp)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = hr_request_store_create(tx, keel_req_arena(req), text, emp.organization_id, emp_id, &in,
	                              &row);
	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_EINVAL, "leave_type_id",
		                     "is not a leave type of the employee's organization");
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, NULL);
	location = keel_arena_printf(keel_req_arena(req), "/api/v1/leave-requests/%s", row.id);
	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

/*
 * The request of the path in tx, with the caller allowed to read its employee: 404 when it is
 * not the tenant's, 403 when the caller may not see the employee.  *status its status now.
 */
static keel_err
request_require(keel_req *req, keel_tx *tx, const char *id, const char **status)
{
	const char *employee;
	hr_employee emp;
	keel_err err = hr_request_store_head(tx, keel_req_arena(req), id, &employee, status);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, REQUEST_NOT_HERE);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	return hr_employee_require(req, tx, employee, HR_SEE_MANAGER, &emp);
}

static keel_err
request_get(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *status;
	hr_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, REQUEST_NOT_HERE);
	if ((err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = request_require(req, tx, id, &status)) != KEEL_OK)
		return err;
	err = hr_request_store_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "leave request", hr_reply(200, &row, NULL, NULL));
}

/* An action changed nothing: the request is in the status it leads to already (409). */
static keel_err
request_state_conflict(keel_req *req, keel_tx *tx, const char *id)
{
	const char *employee, *status;
	keel_err err = hr_request_store_head(tx, keel_req_arena(req), id, &employee, &status);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, REQUEST_NOT_HERE);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	return keel_req_fail(req, KEEL_ECONFLICT, NULL, "the request is %s", status);
}

/* Run action on the request of the path (reason: reject's); answer the request as it is after. */
static keel_err
request_act(keel_req *req, keel_hr *hr, hr_request_action action, const char *reason)
{
	const char *id = hr_path_id(req, "id"), *status;
	hr_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, REQUEST_NOT_HERE);
	if ((err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = request_require(req, tx, id, &status)) != KEEL_OK)
		return err;
	err = hr_request_store_act(tx, keel_req_arena(req), action, id, reason, &row);
	if (err == KEEL_ENOTFOUND)
		return request_state_conflict(req, tx, id);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, "leave request");
	return keel_svc_finish(req, tx, err, NULL, hr_reply(200, &row, NULL, NULL));
}

static keel_err
request_approve(keel_req *req, void *ctx)
{
	return request_act(req, ctx, HR_REQUEST_APPROVE, NULL);
}

static keel_err
request_reject(keel_req *req, void *ctx)
{
	json_t *body;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK ||
	    (err = keel_req_check_body(req, body, "the rejection is invalid")) != KEEL_OK)
		return err;
	return request_act(req, ctx, HR_REQUEST_REJECT, member_str(body, "reason"));
}

static keel_err
request_withdraw(keel_req *req, void *ctx)
{
	return request_act(req, ctx, HR_REQUEST_WITHDRAW, NULL);
}

static keel_err
request_cancel(keel_req *req, void *ctx)
{
	return request_act(req, ctx, HR_REQUEST_CANCEL, NULL);
}

/* ---- the list ---- */

static const char *
cursor_of(keel_req *req, const hr_request_page *page)
{
	unsigned char bin[CURSOR_LEN];
	int32_t days = 0;
	keel_uuid u;

	keel_date_parse(page->last_start, &days);
	for (int i = 0; i < 4; i++)
		bin[i] = (unsigned char)((uint32_t)days >> (24 - 8 * i));
	keel_uuid_parse(page->last_id, &u);
	memcpy(bin + 4, u.b, 16);
	return keel_svc_cursor_encode(req, CURSOR_KIND, bin, sizeof(bin));
}

/* ?cursor= into f's position; 400 when it is not one of this list's. */
static keel_err
cursor_read(keel_req *req, hr_request_filter *f)
{
	unsigned char bin[CURSOR_LEN];
	uint32_t days = 0;
	char date[KEEL_DATE_STRLEN + 1], id[KEEL_UUID_STRLEN + 1];
	keel_uuid u;
	bool found;
	keel_err err = keel_svc_cursor_decode(req, CURSOR_KIND, bin, sizeof(bin), &found);

	if (err != KEEL_OK || !found)
		return err;
	for (int i = 0; i < 4; i++)
		days = days << 8 | bin[i];
	if (keel_date_format((int32_t)days, date, sizeof(date)) == 0)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	memcpy(u.b, bin + 4, 16);
	keel_uuid_format(&u, id);
	f->after_start = keel_arena_strdup(keel_req_arena(req), date);
	f->after_id = keel_arena_strdup(keel_req_arena(req), id);
	return KEEL_OK;
}

static bool
status_valid(const char *s)
{
	for (int i = 0; statuses[i] != NULL; i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}

/* A query filter: NULL when absent, 400 when it breaks its rule. */
static keel_err
query_of(keel_req *req, const char *name, bool (*valid)(const char *), const char *rule,
         const char **out)
{
	*out = keel_req_query(req, name);
	if (*out == NULL || valid(*out))
		return KEEL_OK;
	return keel_req_fail(req, KEEL_EMALFORMED, NULL, "%s %s", name, rule);
}

static keel_err
list_filter(keel_req *req, hr_request_filter *f)
{
	keel_err err;

	if ((err = keel_svc_page_limit(req, &f->limit)) != KEEL_OK ||
	    (err = cursor_read(req, f)) != KEEL_OK ||
	    (err = query_of(req, "status", status_valid, "must be a request status", &f->status)) !=
	        KEEL_OK ||
	    (err = query_of(req, "from", hr_date_valid, HR_DATE_RULE, &f->from)) != KEEL_OK ||
	    (err = query_of(req, "to", hr_date_valid, HR_DATE_RULE, &f->to)) != KEEL_OK)
		return err;
	return KEEL_OK;
}

/* Answer 200 with the page of f that list makes, in tx (scope: the employee or organization). */
static keel_err
list_answer(keel_req *req, keel_tx *tx, const char *scope, hr_request_filter *f,
            keel_err (*list)(keel_tx *, keel_arena *, const char *, const hr_request_filter *,
                             hr_request_page *))
{
	hr_request_page page = {0};
	const char *next = NULL;
	keel_err err;

	keel_svc_list_begin(&page.list, keel_req_arena(req));
	err = list(tx, keel_req_arena(req), scope, f, &page);
	if (page.list.count == f->limit && page.last_id != NULL)
		next = cursor_of(req, &page);
	return keel_svc_finish(
	    req, tx, err, NULL,
	    (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&page.list, next)});
}

static keel_err
request_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *emp_id = hr_path_id(req, "id");
	hr_request_filter f = {0};
	hr_employee emp;
	keel_tx *tx;
	keel_err err;

	if (emp_id == NULL)
		return hr_employee_missing(req);
	if ((err = list_filter(req, &f)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, emp_id, HR_SEE_MANAGER, &emp)) != KEEL_OK)
		return err;
	return list_answer(req, tx, emp_id, &f, hr_request_store_list);
}

/*
 * The organization's requests its caller decides on: an admin's all, a manager's its direct
 * reports' (its own are not its to decide); 403 for a non-admin linked to no employee of it.
 */
static keel_err
request_org_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id");
	hr_request_filter f = {0};
	bool linked = true;
	keel_tx *tx;
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = list_filter(req, &f)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_org_require(req, tx, org_id)) != KEEL_OK)
		return err;
	if (!hr_caller_admin(req) && (err = hr_request_store_linked(tx, org_id, &linked)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (!linked)
		return keel_req_fail(req, KEEL_EDENIED, NULL,
		                     "leave requests are decided by the admins and the employees' "
		                     "managers");
	return list_answer(req, tx, org_id, &f, hr_request_store_org_list);
}

/* ---- the routes ---- */

#define HALF_NULL(h) "{\"type\":[\"string\",\"null\"],\"enum\":[\"" h "\",null]}"

static const keel_schema approval_schema = {
    .name = "LeaveApproval",
    .json = "{\"type\":\"object\",\"required\":[\"level\",\"by\",\"at\"],\"properties\":{"
            "\"level\":{\"type\":\"integer\",\"enum\":[1,2]},\"by\":" KEEL_JS_UUID
            ",\"at\":" KEEL_JS_TS "}}"};

static const keel_schema request_schema = {
    .name = "LeaveRequest",
    .json =
        "{\"type\":\"object\",\"required\":[\"id\",\"employee_id\",\"leave_type_id\","
        "\"start_date\",\"end_date\",\"start_half\",\"end_half\",\"days\",\"status\",\"reason\","
        "\"approvals\",\"decision_reason\",\"decided_by\",\"decided_at\",\"created_by\","
        "\"version\",\"created_at\",\"updated_at\"],\"properties\":{\"id\":" KEEL_JS_UUID
        ",\"employee_id\":" KEEL_JS_UUID ",\"leave_type_id\":" KEEL_JS_UUID
        ",\"start_date\":" KEEL_JS_DATE ",\"end_date\":" KEEL_JS_DATE
        ",\"start_half\":" HALF_NULL("pm") ",\"end_half\":" HALF_NULL(
            "am") ",\"days\":" HR_DAYS ",\"status\":{\"type\":\"string\",\"enum\":["
                  "\"submitted\",\"partially_approved\",\"approved\",\"rejected\","
                  "\"withdrawn\",\"cancelled\"]},\"reason\":{\"type\":\"string\"},"
                  "\"approvals\":{\"type\":\"array\",\"items\":{\"$ref\":"
                  "\"#/components/schemas/LeaveApproval\"}},\"decision_reason\":{\"type\":["
                  "\"string\",\"null\"]},\"decided_by\":" KEEL_JS_UUID_NULL
                  ",\"decided_at\":" KEEL_JS_TS_NULL ",\"created_by\":" KEEL_JS_UUID_NULL
                  ",\"version\":{\"type\":\"integer\"},\"created_at\":" KEEL_JS_TS
                  ",\"updated_at\":" KEEL_JS_TS "}}",
    .refs = {&approval_schema}};

static const keel_body request_body = KEEL_BODY("LeaveRequestCreate", request_spec);
static const keel_body reject_body = KEEL_BODY("LeaveRequestReject", reject_spec);

#define EMPLOYEE_PARAM                                                                             \
	{                                                                                              \
		"id", "path", KEEL_JS_UUID, "The employee's id"                                            \
	}
#define REQUEST_PARAM                                                                              \
	{                                                                                              \
		"id", "path", KEEL_JS_UUID, "The leave request's id"                                       \
	}

static const keel_param create_params[] = {EMPLOYEE_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param list_params[] = {
    EMPLOYEE_PARAM,
    KEEL_SVC_PAGE_PARAMS,
    {"status", "query",
     "{\"type\":\"string\",\"enum\":[\"submitted\",\"partially_approved\",\"approved\","
     "\"rejected\",\"withdrawn\",\"cancelled\"]}",
     "Only requests in this status"},
    {"from", "query", KEEL_JS_DATE, "Only requests ending on or after this day"},
    {"to", "query", KEEL_JS_DATE, "Only requests starting on or before this day"},
    {0}};
static const keel_param request_params[] = {REQUEST_PARAM, {0}};
static const keel_param org_list_params[] = {
    HR_ORG_PARAM,
    KEEL_SVC_PAGE_PARAMS,
    {"status", "query",
     "{\"type\":\"string\",\"enum\":[\"submitted\",\"partially_approved\",\"approved\","
     "\"rejected\",\"withdrawn\",\"cancelled\"]}",
     "Only requests in this status (\"submitted\": what awaits level 1)"},
    {"from", "query", KEEL_JS_DATE, "Only requests ending on or after this day"},
    {"to", "query", KEEL_JS_DATE, "Only requests starting on or before this day"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/employees/{id}/leave-requests",
     .handler = request_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Request leave for an employee (its own user or an admin); the days come from "
                "its calendar",
     .operation_id = "createLeaveRequest",
     .body = &request_body,
     .reply = {201, KEEL_SHAPE_ONE, &request_schema},
     .params = create_params},
    {.method = "GET",
     .path = "/api/v1/employees/{id}/leave-requests",
     .handler = request_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List an employee's leave requests, by start_date",
     .operation_id = "listLeaveRequests",
     .reply = {200, KEEL_SHAPE_LIST, &request_schema},
     .params = list_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/leave-requests",
     .handler = request_org_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List the leave requests of an organization its caller decides on (an admin: "
                "all; a manager: its direct reports'), by start_date",
     .operation_id = "listOrganizationLeaveRequests",
     .reply = {200, KEEL_SHAPE_LIST, &request_schema},
     .params = org_list_params},
    {.method = "GET",
     .path = "/api/v1/leave-requests/{id}",
     .handler = request_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A leave request with its approvals",
     .operation_id = "getLeaveRequest",
     .reply = {200, KEEL_SHAPE_ONE, &request_schema},
     .params = request_params},
    {.method = "POST",
     .path = "/api/v1/leave-requests/{id}/approve",
     .handler = request_approve,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Approve a leave request at its current level (level 1: the employee's "
                "manager's user or an admin; level 2: another admin)",
     .operation_id = "approveLeaveRequest",
     .reply = {200, KEEL_SHAPE_ONE, &request_schema},
     .params = request_params},
    {.method = "POST",
     .path = "/api/v1/leave-requests/{id}/reject",
     .handler = request_reject,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Reject a submitted or partially approved leave request, with a reason",
     .operation_id = "rejectLeaveRequest",
     .body = &reject_body,
     .reply = {200, KEEL_SHAPE_ONE, &request_schema},
     .params = request_params},
    {.method = "POST",
     .path = "/api/v1/leave-requests/{id}/withdraw",
     .handler = request_withdraw,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Withdraw a submitted leave request (the employee's own user)",
     .operation_id = "withdrawLeaveRequest",
     .reply = {200, KEEL_SHAPE_ONE, &request_schema},
     .params = request_params},
    {.method = "POST",
     .path = "/api/v1/leave-requests/{id}/cancel",
     .handler = request_cancel,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Cancel an approved leave request before its start date (its days come back)",
     .operation_id = "cancelLeaveRequest",
     .reply = {200, KEEL_SHAPE_ONE, &request_schema},
     .params = request_params},
};

void
hr_request_routes(keel_router *r, keel_hr *hr)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), hr);
}
