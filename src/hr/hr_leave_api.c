/*
 * hr: leave allocations, balances and the ledger they are the sum of.
 *
 * An allocation (or, negative, a correction) is a row of the append-only ledger
 * hr.leave_entries, written by an admin for a leave period: its window valid_from..valid_to.
 * Allocations of an employee and type share their window or no day with each other; the
 * database refuses the rest (KH409).  Reading balances first settles the employee's ended
 * periods (hr.leave_settle: the expiry of unused carried days, then the carry-forward into
 * the next period, each written once), so that GET may write ledger rows, each with its event.
 * The ledger itself is readable by the same people as the balances: the employee's own user,
 * its manager's and the admins.
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/days.h"
#include "core/uuid.h"

#include <string.h>

#define CURSOR_KIND  0x48 /* the ledger's cursor: the last row's date and id */
#define CURSOR_BYTES 20

/* The longest leave period the database takes: valid_to - valid_from < 1096 (three years). */
#define WINDOW_DAYS_MAX 1095

#define DAYS_PATTERN "^-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,2})?$"

/* An allocation's days: a signed amount, not zero. */
static bool
allocation_days_valid(const char *s)
{
	int32_t hundredths;

	return keel_days_parse(s, true, &hundredths) && hundredths != 0;
}

#define DATE_FIELD(field_name)                                                                     \
	{                                                                                              \
		.name = (field_name), .type = KEEL_F_STRING, .required = true, .check = hr_date_valid,     \
		.check_msg = HR_DATE_RULE, .format = "date"                                                \
	}

static const keel_field_spec allocation_spec[] = {
    {.name = "leave_type_id", .type = KEEL_F_UUID, .required = true},
    {.name = "days",
     .type = KEEL_F_STRING,
     .required = true,
     .check = allocation_days_valid,
     .check_msg = KEEL_DAYS_RULE ", and not zero",
     .pattern = DAYS_PATTERN,
     .description = "Days granted, or taken away when negative (a correction); not zero"},
    DATE_FIELD("valid_from"),
    DATE_FIELD("valid_to"),
    {.name = "reason", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 500},
};

/* ---- allocations ---- */

/* The body: the spec's rules, then the window's (valid_to on or after valid_from, 3 years). */
static keel_err
allocation_body(keel_req *req, json_t **body, hr_allocation_in *in)
{
	int32_t from, to;
	keel_err err;

	if ((err = keel_req_json_body(req, body)) != KEEL_OK)
		return err;
	if (keel_json_check(*body, allocation_spec, KEEL_NELEM(allocation_spec), keel_req_errors(req)) >
	    0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "the allocation is invalid");
	in->leave_type_id = json_string_value(json_object_get(*body, "leave_type_id"));
	in->days = json_string_value(json_object_get(*body, "days"));
	in->valid_from = json_string_value(json_object_get(*body, "valid_from"));
	in->valid_to = json_string_value(json_object_get(*body, "valid_to"));
	in->reason = json_string_value(json_object_get(*body, "reason"));
	keel_date_parse(in->valid_from, &from);
	keel_date_parse(in->valid_to, &to);
	if (to < from)
		return keel_req_fail(req, KEEL_EINVAL, "valid_to", "must be on or after valid_from");
	if (to - from > WINDOW_DAYS_MAX)
		return keel_req_fail(req, KEEL_EINVAL, "valid_to",
		                     "must be less than three years (1096 days) after valid_from");
	return KEEL_OK;
}

static keel_err
allocation_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	if (err == KEEL_EINVAL && strcmp(keel_tx_constraint(tx), "leave_entries_leave_type_fkey") == 0)
		return keel_req_fail(req, err, "leave_type_id",
		                     "must be a leave type of the employee's organization");
	return hr_fail(req, tx, err, NULL);
}

static keel_err
allocation_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *key;
	hr_allocation_in in;
	hr_employee emp;
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_uuid uuid;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (id == NULL)
		return hr_employee_missing(req);
	if ((err = allocation_body(req, &body, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, id, HR_SEE_ADMIN, &emp)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&uuid);
	keel_uuid_format(&uuid, text);
	err = hr_leave_store_allocate(tx, keel_req_arena(req), text, &emp, &in, &row);
	if (err != KEEL_OK)
		return allocation_failed(req, tx, err);
	/* a ledger row has no route of its own: the ledger's page that holds it */
	const char *location = keel_arena_printf(
	    keel_req_arena(req), "/api/v1/employees/%s/leave-entries?leave_type_id=%s&from=%s&to=%s",
	    id, in.leave_type_id, in.valid_from, in.valid_from);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

/* ---- balances ---- */

/* A query parameter that must be a date when given: 400 otherwise. */
static keel_err
query_date(keel_req *req, const char *name, const char **out)
{
	*out = keel_req_query(req, name);
	if (*out == NULL || hr_date_valid(*out))
		return KEEL_OK;
	return keel_req_fail(req, KEEL_EMALFORMED, NULL, "%s %s", name, HR_DATE_RULE);
}

static keel_err
balance_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *as_of;
	hr_employee emp;
	keel_svc_list list;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return hr_employee_missing(req);
	if ((err = query_date(req, "as_of", &as_of)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, id, HR_SEE_MANAGER, &emp)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&list, keel_req_arena(req));
	if ((err = hr_leave_store_settle(tx, keel_req_arena(req), id)) == KEEL_OK)
		err = hr_leave_store_balances(tx, id, as_of, &list);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, NULL);
	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, NULL)});
}

/* ---- the ledger ---- */

static const char *
cursor_of(keel_req *req, const hr_entry_key *k)
{
	unsigned char bin[CURSOR_BYTES];
	int32_t days = 0;
	keel_uuid u;

	keel_date_parse(k->date, &days);
	for (int i = 0; i < 4; i++)
		bin[i] = (unsigned char)((uint32_t)days >> (24 - 8 * i));
	keel_uuid_parse(k->id, &u);
	memcpy(bin + 4, u.b, 16);
	return keel_svc_cursor_encode(req, CURSOR_KIND, bin, sizeof(bin));
}

/* ?cursor= into *k; *found false when there is none.  400 when it is not this list's. */
static keel_err
cursor_read(keel_req *req, hr_entry_key *k, bool *found)
{
	unsigned char bin[CURSOR_BYTES];
	uint32_t days = 0;
	keel_uuid u;
	keel_err err = keel_svc_cursor_decode(req, CURSOR_KIND, bin, sizeof(bin), found);

	if (err != KEEL_OK || !*found)
		return err;
	for (int i = 0; i < 4; i++)
		days = days << 8 | bin[i];
	if (keel_date_format((int32_t)days, k->date, sizeof(k->date)) == 0)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	memcpy(u.b, bin + 4, 16);
	keel_uuid_format(&u, k->id);
	return KEEL_OK;
}

static keel_err
entry_filter(keel_req *req, hr_entry_filter *f, hr_entry_key *after)
{
	bool found;
	keel_err err;

	if ((err = keel_svc_page_limit(req, &f->limit)) != KEEL_OK ||
	    (err = cursor_read(req, after, &found)) != KEEL_OK ||
	    (err = query_date(req, "from", &f->from)) != KEEL_OK ||
	    (err = query_date(req, "to", &f->to)) != KEEL_OK)
		return err;
	f->leave_type_id = keel_req_query(req, "leave_type_id");
	if (f->leave_type_id != NULL && !keel_uuid_valid(f->leave_type_id))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "leave_type_id must be a UUID");
	f->after = found ? after : NULL;
	return KEEL_OK;
}

static keel_err
entry_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	hr_entry_filter f = {.employee_id = hr_path_id(req, "id")};
	hr_entry_key after = {0}, last = {0};
	hr_employee emp;
	keel_svc_list list;
	keel_tx *tx;
	keel_err err;

	if (f.employee_id == NULL)
		return hr_employee_missing(req);
	if ((err = entry_filter(req, &f, &after)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, f.employee_id, HR_SEE_MANAGER, &emp)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&list, keel_req_arena(req));
	err = hr_leave_store_entries(tx, &f, &list, &last);
	const char *next = err == KEEL_OK && list.count == f.limit ? cursor_of(req, &last) : NULL;

	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, next)});
}

/* ---- routes ---- */

#define UUID_NULL KEEL_JS_UUID_NULL

static const keel_schema entry_schema = {
    .name = "LeaveEntry",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"employee_id\",\"leave_type_id\",\"kind\","
            "\"days\",\"date\",\"valid_from\",\"valid_to\",\"source_id\",\"request_id\","
            "\"reason\",\"created_by\",\"created_at\"],\"properties\":{"
            "\"id\":" KEEL_JS_UUID ",\"employee_id\":" KEEL_JS_UUID
            ",\"leave_type_id\":" KEEL_JS_UUID ",\"kind\":{\"type\":\"string\",\"enum\":["
            "\"allocation\",\"carry_forward\",\"expiry\",\"taken\"]},\"days\":" HR_DAYS
            ",\"date\":" KEEL_JS_DATE ",\"valid_from\":" KEEL_JS_DATE_NULL
            ",\"valid_to\":" KEEL_JS_DATE_NULL ",\"source_id\":" UUID_NULL
            ",\"request_id\":" UUID_NULL ",\"reason\":{\"type\":\"string\"},"
            "\"created_by\":" UUID_NULL ",\"created_at\":" KEEL_JS_TS "}}"};

static const keel_schema balance_schema = {
    .name = "LeaveBalance",
    .json = "{\"type\":\"object\",\"required\":[\"leave_type_id\",\"allocated\","
            "\"carried_forward\",\"taken\",\"pending\",\"expired\",\"available\"],"
            "\"properties\":{\"leave_type_id\":" KEEL_JS_UUID ",\"allocated\":" HR_DAYS
            ",\"carried_forward\":" HR_DAYS ",\"taken\":" HR_DAYS ",\"pending\":" HR_DAYS
            ",\"expired\":" HR_DAYS ",\"available\":" HR_DAYS "}}"};

static const keel_body allocation_body_spec = KEEL_BODY("LeaveAllocationCreate", allocation_spec);

#define EMPLOYEE_PARAM                                                                             \
	{                                                                                              \
		"id", "path", KEEL_JS_UUID, "The employee's id"                                            \
	}

static const keel_param allocation_params[] = {EMPLOYEE_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param balance_params[] = {
    EMPLOYEE_PARAM,
    {"as_of", "query", KEEL_JS_DATE,
     "The day whose leave period is shown (default: the employee's local today)"},
    {0}};
static const keel_param entry_params[] = {
    EMPLOYEE_PARAM,
    KEEL_SVC_PAGE_PARAMS,
    {"leave_type_id", "query", KEEL_JS_UUID, "Only rows of this leave type"},
    {"from", "query", KEEL_JS_DATE, "Only rows dated on or after this day"},
    {"to", "query", KEEL_JS_DATE, "Only rows dated on or before this day"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/employees/{id}/leave-allocations",
     .handler = allocation_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Allocate leave days for a leave period, or correct them (negative days)",
     .operation_id = "createLeaveAllocation",
     .body = &allocation_body_spec,
     .reply = {201, KEEL_SHAPE_ONE, &entry_schema},
     .params = allocation_params},
    {.method = "GET",
     .path = "/api/v1/employees/{id}/leave-balances",
     .handler = balance_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An employee's leave balances per leave type, for the leave period of as_of "
                "(settles ended periods first: carry-forward and expiry rows)",
     .operation_id = "listLeaveBalances",
     .reply = {200, KEEL_SHAPE_LIST, &balance_schema},
     .params = balance_params},
    {.method = "GET",
     .path = "/api/v1/employees/{id}/leave-entries",
     .handler = entry_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An employee's leave ledger in date order: what the balances are the sums of",
     .operation_id = "listLeaveEntries",
     .reply = {200, KEEL_SHAPE_LIST, &entry_schema},
     .params = entry_params},
};

void
hr_leave_routes(keel_router *r, keel_hr *hr)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), hr);
}
