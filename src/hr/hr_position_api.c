/*
 * hr: positions and assignments.
 *
 * A position belongs to a division (and so to its organization) and has a headcount; an
 * assignment puts an employee into a position from start_date to end_date (both included;
 * no end_date: open-ended).  Ending or correcting an assignment (PATCH start_date, end_date)
 * is an HR officer's daily work, so an assignment is changed in place and deleted when it was
 * made by mistake.  The database keeps every rule (hr_position_store.c lists them): an
 * employee's assignments never overlap, a position never holds more employees than its
 * headcount on any day, also under concurrent writes, an assignment lies within the
 * employment.  The handlers check the body's shape and turn the database's refusals into
 * answers; structure (positions) is readable by viewers, an employee's assignments by who may
 * see the employee (hr_employee_require).
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/uuid.h"

#include <string.h>

#define DATE_FIELD(field, req, null, desc)                                                         \
	{                                                                                              \
		.name = (field), .type = KEEL_F_STRING, .required = (req), .nullable = (null),             \
		.check = hr_date_valid, .check_msg = HR_DATE_RULE, .format = "date", .description = (desc) \
	}

static const keel_field_spec position_create_spec[] = {
    {.name = "title", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 200},
    {.name = "headcount", .type = KEEL_F_INTEGER, .required = true, .min = 0, .max = 100000},
};

static const keel_field_spec position_update_spec[] = {
    {.name = "title", .type = KEEL_F_STRING, .trim = true, .min = 1, .max = 200},
    {.name = "headcount",
     .type = KEEL_F_INTEGER,
     .min = 0,
     .max = 100000,
     .description = "Not below the employees the position holds on a day from today on"},
};

static const keel_field_spec assignment_create_spec[] = {
    {.name = "position_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "A position of the employee's organization"},
    DATE_FIELD("start_date", true, false, "The first day, not before the hire date"),
    DATE_FIELD("end_date", false, true,
               "The last day (null or absent: open-ended), not after the termination date"),
};

static const keel_field_spec assignment_update_spec[] = {
    DATE_FIELD("start_date", false, false, "The first day, not before the hire date"),
    DATE_FIELD("end_date", false, true, "The last day (null: open-ended)"),
};

/* ---- shared steps ---- */

const char *
hr_position_str(const json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

const char *
hr_position_int(keel_req *req, const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);

	return json_is_integer(v)
	           ? keel_arena_printf(keel_req_arena(req), "%lld", (long long)json_integer_value(v))
	           : NULL;
}

keel_err
hr_position_parse_body(keel_req *req, bool partial, const char *what, json_t **body)
{
	keel_err err;

	if ((err = keel_req_json_body(req, body)) != KEEL_OK)
		return err;
	const char *detail = keel_arena_printf(keel_req_arena(req), "the %s is invalid", what);

	if ((err = keel_req_check_body(req, *body, detail)) != KEEL_OK)
		return err;
	if (partial && json_object_size(*body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	return KEEL_OK;
}

const char *
hr_position_new_id(keel_req *req)
{
	keel_uuid id;
	char *text = keel_arena_alloc(keel_req_arena(req), KEEL_UUID_STRLEN + 1);

	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	return text;
}

keel_err
hr_position_missed(keel_req *req, keel_tx *tx, hr_position_kind kind, const char *id,
                   const char *version)
{
	static const char *const names[] = {
	    [HR_POSITION] = "position", [HR_ASSIGNMENT] = "assignment", [HR_LEAVE_TYPE] = "leave type"};
	long current;
	keel_err err =
	    version != NULL ? hr_store_position_version(tx, kind, id, &current) : KEEL_ENOTFOUND;

	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the %s is at version %ld", names[kind],
		                     current);
	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, "no such %s", names[kind]);
	return keel_svc_fail(req, err, NULL);
}

/* The answer of a page in id order. */
static keel_svc_reply
page_reply(keel_req *req, hr_position_page *out, const keel_page *page)
{
	const char *next = keel_svc_page_next(req, page, out->list.count, out->last);

	return (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&out->list, next)};
}

/* ---- positions ---- */

static keel_err
position_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *division_id = hr_path_id(req, "id"), *key;
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_err err;

	if (division_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such division");
	if ((err = hr_position_parse_body(req, false, "position", &body)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	err = hr_store_position_create(tx, keel_req_arena(req), hr_position_new_id(req), division_id,
	                               hr_position_str(body, "title"),
	                               hr_position_int(req, body, "headcount"), &row);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, "division");
	const char *location = keel_arena_printf(keel_req_arena(req), "/api/v1/positions/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

static keel_err
position_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *division_id = hr_path_id(req, "id");
	hr_position_page out = {0};
	keel_page page;
	keel_tx *tx;
	keel_err err;

	if (division_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such division");
	if ((err = keel_svc_page(req, &page)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_division_exists(tx, division_id);
	keel_svc_list_begin(&out.list, keel_req_arena(req));
	if (err == KEEL_OK)
		err = hr_store_position_list(tx, keel_req_arena(req), division_id, &page, &out);
	return keel_svc_finish(req, tx, err, "division", page_reply(req, &out, &page));
}

static keel_err
position_get(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id");
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such position");
	if ((err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_position_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "position", hr_reply(200, &row, NULL, NULL));
}

static keel_err
position_update(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such position");
	if ((err = hr_position_parse_body(req, true, "position", &body)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_position_update(tx, keel_req_arena(req), id, hr_position_str(body, "title"),
	                               hr_position_int(req, body, "headcount"), version, &row);
	if (err == KEEL_ENOTFOUND)
		return hr_position_missed(req, tx, HR_POSITION, id, version);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, NULL);
	return keel_svc_finish(req, tx, err, NULL, hr_reply(200, &row, NULL, NULL));
}

static keel_err
position_delete(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such position");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_position_delete(tx, keel_req_arena(req), id, version);
	if (err == KEEL_ENOTFOUND)
		return hr_position_missed(req, tx, HR_POSITION, id, version);
	if (err == KEEL_EINVAL && strcmp(keel_tx_constraint(tx), "assignments_position_fkey") == 0)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL,
		                     "the position has assignments: delete or move them first");
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

/* ---- assignments ---- */

static void
assignment_input(const json_t *body, hr_assignment_input *in)
{
	in->position_id = hr_position_str(body, "position_id");
	in->start_date = hr_position_str(body, "start_date");
	in->end_date = hr_position_str(body, "end_date");
	in->end_given = json_object_get(body, "end_date") != NULL;
}

/* 422 end_date when both dates are given and the end is before the start. */
static keel_err
dates_ordered(keel_req *req, const hr_assignment_input *in)
{
	if (in->start_date != NULL && in->end_date != NULL && strcmp(in->end_date, in->start_date) < 0)
		return keel_req_fail(req, KEEL_EINVAL, "end_date", "must not be before start_date");
	return KEEL_OK;
}

/*
 * Whether the statement failed making the generated range of an assignment that ends before
 * it starts (data exception 22000, raised before the CHECK assignments_dates is reached).
 */
static bool
bounds_crossed(const keel_tx *tx)
{
	return strcmp(keel_tx_sqlstate(tx), "22000") == 0;
}

/*
 * An assignment write the database refused: overlap 409, an end before the start 422, a
 * position of another organization (or tenant) 422; its own errors (the headcount's 409
 * naming the day, the employment's 422 naming the date) as they are.
 */
static keel_err
assignment_failed(keel_req *req, keel_tx *tx, keel_err err, const hr_assignment_input *in)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT && strcmp(c, "assignments_no_overlap") == 0)
		return keel_req_fail(req, err, NULL,
		                     "the employee holds another position on a day of this assignment");
	if (err == KEEL_EINVAL && strcmp(c, "assignments_position_fkey") == 0)
		return keel_req_fail(req, err, "position_id",
		                     "must be a position of the employee's organization");
	if (err == KEEL_EINVAL && (strcmp(c, "assignments_dates") == 0 || bounds_crossed(tx)))
		return keel_req_fail(req, err, in->end_given ? "end_date" : "start_date",
		                     "the assignment must not end before it starts");
	if (err == KEEL_EINVAL && strcmp(c, "assignments_employee_fkey") == 0)
		return hr_employee_missing(req);
	return hr_fail(req, tx, err, "assignment");
}

static keel_err
assignment_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *emp_id = hr_path_id(req, "id"), *key;
	hr_assignment_input in = {0};
	hr_employee emp;
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_err err;

	if (emp_id == NULL)
		return hr_employee_missing(req);
	if ((err = hr_position_parse_body(req, false, "assignment", &body)) != KEEL_OK)
		return err;
	assignment_input(body, &in);
	if ((err = dates_ordered(req, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, emp_id, HR_SEE_ADMIN, &emp)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	err = hr_store_assignment_create(tx, keel_req_arena(req), hr_position_new_id(req), &emp, &in,
	                                 &row);
	if (err != KEEL_OK)
		return assignment_failed(req, tx, err, &in);
	const char *location =
	    keel_arena_printf(keel_req_arena(req), "/api/v1/employees/%s/assignments", emp_id);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

static keel_err
assignment_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *emp_id = hr_path_id(req, "id");
	hr_position_page out = {0};
	hr_employee emp;
	keel_page page;
	keel_tx *tx;
	keel_err err;

	if (emp_id == NULL)
		return hr_employee_missing(req);
	if ((err = keel_svc_page(req, &page)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, emp_id, HR_SEE_MANAGER, &emp)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&out.list, keel_req_arena(req));
	err = hr_store_assignment_list(tx, keel_req_arena(req), emp_id, &page, &out);
	return keel_svc_finish(req, tx, err, NULL, page_reply(req, &out, &page));
}

static keel_err
assignment_update(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	hr_assignment_input in = {0};
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such assignment");
	if ((err = hr_position_parse_body(req, true, "assignment", &body)) != KEEL_OK)
		return err;
	assignment_input(body, &in);
	if ((err = dates_ordered(req, &in)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_assignment_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return hr_position_missed(req, tx, HR_ASSIGNMENT, id, version);
	if (err != KEEL_OK)
		return assignment_failed(req, tx, err, &in);
	return keel_svc_finish(req, tx, err, NULL, hr_reply(200, &row, NULL, NULL));
}

static keel_err
assignment_delete(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such assignment");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_assignment_delete(tx, keel_req_arena(req), id, version);
	if (err == KEEL_ENOTFOUND)
		return hr_position_missed(req, tx, HR_ASSIGNMENT, id, version);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

/* ---- routes ---- */

static const keel_schema position_schema = {
    .name = "Position",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"organization_id\",\"division_id\","
            "\"title\",\"headcount\",\"version\",\"created_at\",\"updated_at\"],\"properties\":{"
            "\"id\":" KEEL_JS_UUID ",\"organization_id\":" KEEL_JS_UUID
            ",\"division_id\":" KEEL_JS_UUID ",\"title\":{\"type\":\"string\"},"
            "\"headcount\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100000},"
            "\"version\":{\"type\":\"integer\"},\"created_at\":" KEEL_JS_TS
            ",\"updated_at\":" KEEL_JS_TS "}}"};

static const keel_schema assignment_schema = {
    .name = "Assignment",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"employee_id\",\"position_id\","
            "\"start_date\",\"end_date\",\"version\",\"created_at\",\"updated_at\"],"
            "\"properties\":{\"id\":" KEEL_JS_UUID ",\"employee_id\":" KEEL_JS_UUID
            ",\"position_id\":" KEEL_JS_UUID ",\"start_date\":" KEEL_JS_DATE
            ",\"end_date\":" KEEL_JS_DATE_NULL ",\"version\":{\"type\":\"integer\"},"
            "\"created_at\":" KEEL_JS_TS ",\"updated_at\":" KEEL_JS_TS "}}"};

static const keel_body position_create_body = KEEL_BODY("PositionCreate", position_create_spec);
static const keel_body position_update_body = KEEL_BODY("PositionUpdate", position_update_spec);
static const keel_body assignment_create_body =
    KEEL_BODY("AssignmentCreate", assignment_create_spec);
static const keel_body assignment_update_body =
    KEEL_BODY("AssignmentUpdate", assignment_update_spec);

#define DIVISION_PARAM                                                                             \
	{                                                                                              \
		"id", "path", KEEL_JS_UUID, "The division's id"                                            \
	}
#define EMPLOYEE_PARAM                                                                             \
	{                                                                                              \
		"id", "path", KEEL_JS_UUID, "The employee's id"                                            \
	}

static const keel_param division_create_params[] = {
    DIVISION_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param division_list_params[] = {DIVISION_PARAM, KEEL_SVC_PAGE_PARAMS, {0}};
static const keel_param position_params[] = {{"id", "path", KEEL_JS_UUID, "The position's id"},
                                             {0}};
static const keel_param employee_create_params[] = {
    EMPLOYEE_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param employee_list_params[] = {EMPLOYEE_PARAM, KEEL_SVC_PAGE_PARAMS, {0}};
static const keel_param assignment_params[] = {{"id", "path", KEEL_JS_UUID, "The assignment's id"},
                                               {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/divisions/{id}/positions",
     .handler = position_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create a position in a division, with its headcount",
     .operation_id = "createPosition",
     .body = &position_create_body,
     .reply = {201, KEEL_SHAPE_ONE, &position_schema},
     .params = division_create_params},
    {.method = "GET",
     .path = "/api/v1/divisions/{id}/positions",
     .handler = position_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A division's positions",
     .operation_id = "listPositions",
     .reply = {200, KEEL_SHAPE_LIST, &position_schema},
     .params = division_list_params},
    {.method = "GET",
     .path = "/api/v1/positions/{id}",
     .handler = position_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A position",
     .operation_id = "getPosition",
     .reply = {200, KEEL_SHAPE_ONE, &position_schema},
     .params = position_params},
    {.method = "PATCH",
     .path = "/api/v1/positions/{id}",
     .handler = position_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Rename a position or change its headcount (not below what it holds from today on)",
     .operation_id = "updatePosition",
     .body = &position_update_body,
     .reply = {200, KEEL_SHAPE_ONE, &position_schema},
     .params = position_params},
    {.method = "DELETE",
     .path = "/api/v1/positions/{id}",
     .handler = position_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete a position that no assignment names",
     .operation_id = "deletePosition",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = position_params},
    {.method = "POST",
     .path = "/api/v1/employees/{id}/assignments",
     .handler = assignment_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Assign an employee to a position from start_date to end_date (or open-ended)",
     .operation_id = "createAssignment",
     .body = &assignment_create_body,
     .reply = {201, KEEL_SHAPE_ONE, &assignment_schema},
     .params = employee_create_params},
    {.method = "GET",
     .path = "/api/v1/employees/{id}/assignments",
     .handler = assignment_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An employee's assignments (admins, the employee's user and its manager's)",
     .operation_id = "listAssignments",
     .reply = {200, KEEL_SHAPE_LIST, &assignment_schema},
     .params = employee_list_params},
    {.method = "PATCH",
     .path = "/api/v1/assignments/{id}",
     .handler = assignment_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "End an assignment or correct its dates",
     .operation_id = "updateAssignment",
     .body = &assignment_update_body,
     .reply = {200, KEEL_SHAPE_ONE, &assignment_schema},
     .params = assignment_params},
    {.method = "DELETE",
     .path = "/api/v1/assignments/{id}",
     .handler = assignment_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete an assignment made by mistake",
     .operation_id = "deleteAssignment",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = assignment_params},
};

void
hr_position_routes(keel_router *r, keel_hr *hr)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), hr);
	hr_leave_type_routes(r, hr);
}
