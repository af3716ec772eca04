/*
 * hr: employees.
 *
 * An employee belongs to an organization and gets its next number E000001.. when created
 * (gapless: the database's counter, taken in the inserting transaction).  It may be linked to
 * a user of the tenant (one employee per user and organization), have a manager and a holiday
 * calendar of its organization (never a cycle of managers), hire and termination dates and a
 * time zone PostgreSQL knows.  Admins write; reads follow the HR rule: admins see every
 * employee, a user its own and those it manages, nobody else any (403).  The database refuses
 * the rest; the handlers turn its constraint names into fields and sentences.
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/uuid.h"

#include <string.h>

#define CURSOR_KIND 0x30 /* the employee list's cursor: the last sequence, 8 bytes big-endian */
#define CURSOR_LEN  8
#define TZ_RULE     "must be a time zone name PostgreSQL knows (\"Europe/Berlin\", \"UTC\")"

static bool
email_valid(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s;
}

#define NAME_FIELD(n, req)                                                                         \
	{                                                                                              \
		.name = (n), .type = KEEL_F_STRING, .required = (req), .trim = true, .min = 1, .max = 100  \
	}
#define DATE_FIELD(n, req, null)                                                                   \
	{                                                                                              \
		.name = (n), .type = KEEL_F_STRING, .required = (req), .nullable = (null),                 \
		.check = hr_date_valid, .check_msg = HR_DATE_RULE, .format = "date"                        \
	}
#define EMPLOYEE_FIELDS(req)                                                                       \
	NAME_FIELD("first_name", req), NAME_FIELD("last_name", req),                                   \
	    {.name = "email",                                                                          \
	     .type = KEEL_F_STRING,                                                                    \
	     .nullable = true,                                                                         \
	     .min = 3,                                                                                 \
	     .max = 254,                                                                               \
	     .check = email_valid,                                                                     \
	     .check_msg = "must be an email address (local@domain)"},                                  \
	    {.name = "user_id", .type = KEEL_F_UUID, .nullable = true},                                \
	    DATE_FIELD("hire_date", req, false), DATE_FIELD("termination_date", false, true),          \
	    {.name = "manager_id", .type = KEEL_F_UUID, .nullable = true},                             \
	    {.name = "calendar_id", .type = KEEL_F_UUID, .nullable = true},                            \
	{                                                                                              \
		.name = "timezone", .type = KEEL_F_STRING, .min = 1, .max = 64,                            \
		.description = "A time-zone name PostgreSQL knows; default UTC"                            \
	}

static const keel_field_spec create_spec[] = {EMPLOYEE_FIELDS(true)};
static const keel_field_spec update_spec[] = {EMPLOYEE_FIELDS(false)};

static const char *
str_of(const json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

static bool
has(const json_t *body, const char *name)
{
	return json_object_get(body, name) != NULL;
}

/* The body checked against its route's fields (422 naming each), hire not after termination. */
static keel_err
parse_body(keel_req *req, bool partial, hr_employee_input *in)
{
	json_t *body;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if ((err = keel_req_check_body(req, body, "the employee is invalid")) != KEEL_OK)
		return err;
	if (partial && json_object_size(body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	*in = (hr_employee_input){.first_name = str_of(body, "first_name"),
	                          .last_name = str_of(body, "last_name"),
	                          .hire_date = str_of(body, "hire_date"),
	                          .timezone = str_of(body, "timezone"),
	                          .email = str_of(body, "email"),
	                          .user_id = str_of(body, "user_id"),
	                          .termination_date = str_of(body, "termination_date"),
	                          .manager_id = str_of(body, "manager_id"),
	                          .calendar_id = str_of(body, "calendar_id"),
	                          .has_email = has(body, "email"),
	                          .has_user_id = has(body, "user_id"),
	                          .has_termination_date = has(body, "termination_date"),
	                          .has_manager_id = has(body, "manager_id"),
	                          .has_calendar_id = has(body, "calendar_id")};
	if (in->hire_date != NULL && in->termination_date != NULL &&
	    strcmp(in->termination_date, in->hire_date) < 0)
		return keel_req_fail(req, KEEL_EINVAL, "termination_date", "must not be before hire_date");
	return KEEL_OK;
}

/* What a refused write's constraint c means for the body, as a 409 or a 422 naming the field. */
static keel_err
write_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	static const struct {
		const char *constraint, *field, *message;
	} map[] = {
	    {"employees_user_fkey", "user_id", "must be a user of this tenant"},
	    {"employees_manager_fkey", "manager_id", "must be an employee of this organization"},
	    {"employees_not_own_manager", "manager_id", "must not be the employee itself"},
	    {"employees_calendar_fkey", "calendar_id",
	     "must be a holiday calendar of this organization"},
	    {"employees_timezone_check", "timezone", TZ_RULE},
	    {"employees_dates", "termination_date", "must not be before hire_date"},
	};
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT && strcmp(c, "employees_user_key") == 0)
		return keel_req_fail(req, err, "user_id",
		                     "the user has an employee in this organization already");
	for (size_t i = 0; err == KEEL_EINVAL && i < KEEL_NELEM(map); i++)
		if (strcmp(c, map[i].constraint) == 0)
			return keel_req_fail(req, err, map[i].field, "%s", map[i].message);
	return hr_fail(req, tx, err, "employee");
}

static keel_err
employee_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id"), *key;
	hr_employee_input in;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = parse_body(req, false, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_org_require(req, tx, org_id)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = hr_store_employee_create(tx, keel_req_arena(req), text, org_id, &in, &row);
	if (err != KEEL_OK)
		return write_failed(req, tx, err);
	const char *location = keel_arena_printf(keel_req_arena(req), "/api/v1/employees/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

/* ?cursor= (the last sequence of the page before) into f->after; 400 when it is not one. */
static keel_err
parse_cursor(keel_req *req, hr_employee_filter *f)
{
	unsigned char b[CURSOR_LEN];
	bool found;

	if (keel_svc_cursor_decode(req, CURSOR_KIND, b, sizeof(b), &found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (!found)
		return KEEL_OK;
	unsigned long long v = 0;

	for (int i = 0; i < CURSOR_LEN; i++)
		v = v << 8 | b[i];
	if (v == 0 || v > (unsigned long long)INT64_MAX)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	f->after = (long long)v;
	return KEEL_OK;
}

static const char *
cursor_of(keel_req *req, long long last)
{
	unsigned char b[CURSOR_LEN];

	for (int i = CURSOR_LEN - 1; i >= 0; i--, last >>= 8)
		b[i] = (unsigned char)(last & 0xff);
	return keel_svc_cursor_encode(req, CURSOR_KIND, b, sizeof(b));
}

/* ?manager_id=, ?user_id= (UUIDs) and ?cursor= into f. */
static keel_err
parse_filter(keel_req *req, hr_employee_filter *f)
{
	const char *names[] = {"manager_id", "user_id"};
	const char **slots[] = {&f->manager_id, &f->user_id};

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 2; i++) {
		const char *v = keel_req_query(req, names[i]);

		if (v != NULL && !keel_uuid_valid(v))
			return keel_req_fail(req, KEEL_EMALFORMED, NULL, "%s must be a UUID", names[i]);
		*slots[i] = v;
	}
	return parse_cursor(req, f);
}

/* Whether the caller may list the organization's employees: an admin, or a user linked to one. */
static keel_err
list_allowed(keel_req *req, keel_tx *tx, const char *org_id, hr_employee_filter *f)
{
	keel_err err = hr_org_require(req, tx, org_id);
	bool linked = false;

	if (err != KEEL_OK)
		return err;
	f->all = hr_caller_admin(req);
	if (f->all)
		return KEEL_OK;
	if ((err = hr_store_employee_linked(tx, org_id, &linked)) != KEEL_OK)
		return hr_fail(req, tx, err, NULL);
	if (!linked)
		return keel_req_fail(req, KEEL_EDENIED, NULL,
		                     "an organization's employees are listed to admins and to users "
		                     "linked to one of them");
	return KEEL_OK;
}

static keel_err
employee_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id"), *next = NULL;
	hr_employee_filter f;
	keel_svc_list list;
	long long last;
	keel_tx *tx;
	int limit;
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = keel_svc_page_limit(req, &limit)) != KEEL_OK ||
	    (err = parse_filter(req, &f)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = list_allowed(req, tx, org_id, &f)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&list, keel_req_arena(req));
	err = hr_store_employee_list(tx, org_id, &f, limit, &list, &last);
	if (err == KEEL_OK && list.count == limit && last > 0)
		next = cursor_of(req, last);
	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, next)});
}

static keel_err
employee_get(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id");
	hr_employee emp;
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return hr_employee_missing(req);
	if ((err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_employee_require(req, tx, id, HR_SEE_MANAGER, &emp)) != KEEL_OK)
		return err;
	err = hr_store_employee_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "employee", hr_reply(200, &row, NULL, NULL));
}

/* A guarded write changed nothing: 412 when the employee is at another version, else 404. */
static keel_err
missed(keel_req *req, keel_tx *tx, const char *id, const char *version)
{
	long current;
	keel_err err = version != NULL ? hr_store_employee_version(tx, id, &current) : KEEL_ENOTFOUND;

	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the employee is at version %ld", current);
	if (err == KEEL_ENOTFOUND)
		return hr_employee_missing(req);
	return keel_svc_fail(req, err, NULL);
}

static keel_err
employee_update(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	hr_employee_input in;
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return hr_employee_missing(req);
	if ((err = parse_body(req, true, &in)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_employee_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return missed(req, tx, id, version);
	if (err != KEEL_OK)
		return write_failed(req, tx, err);
	return keel_svc_finish(req, tx, err, NULL, hr_reply(200, &row, NULL, NULL));
}

/* What refuses an employee's delete (a foreign key of constraint c), as the 409's sentence. */
static const char *
delete_refused(const char *c)
{
	if (strcmp(c, "employees_manager_fkey") == 0)
		return "the employee is the manager of other employees (its reports)";
	if (strcmp(c, "assignments_employee_fkey") == 0)
		return "the employee has assignments";
	if (strcmp(c, "leave_entries_employee_fkey") == 0)
		return "the employee has rows in the leave ledger (allocations, taken days)";
	if (strcmp(c, "leave_requests_employee_fkey") == 0)
		return "the employee has leave requests";
	return NULL;
}

static keel_err
employee_delete(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version, *why;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return hr_employee_missing(req);
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_employee_delete(tx, keel_req_arena(req), id, version);
	if (err == KEEL_ENOTFOUND)
		return missed(req, tx, id, version);
	if (err == KEEL_EINVAL && (why = delete_refused(keel_tx_constraint(tx))) != NULL)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL, "%s", why);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, "employee");
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

/* ---- routes ---- */

static const keel_schema employee_schema = {
    .name = "Employee",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"organization_id\",\"employee_number\","
            "\"first_name\",\"last_name\",\"email\",\"user_id\",\"hire_date\","
            "\"termination_date\",\"manager_id\",\"calendar_id\",\"timezone\",\"version\","
            "\"created_at\",\"updated_at\"],\"properties\":{"
            "\"id\":" KEEL_JS_UUID ",\"organization_id\":" KEEL_JS_UUID
            ",\"employee_number\":{\"type\":\"string\",\"pattern\":\"^E[0-9]{6,}$\"},"
            "\"first_name\":{\"type\":\"string\"},\"last_name\":{\"type\":\"string\"},"
            "\"email\":{\"type\":[\"string\",\"null\"]},\"user_id\":" KEEL_JS_UUID_NULL
            ",\"hire_date\":" KEEL_JS_DATE ",\"termination_date\":" KEEL_JS_DATE_NULL
            ",\"manager_id\":" KEEL_JS_UUID_NULL ",\"calendar_id\":" KEEL_JS_UUID_NULL
            ",\"timezone\":{\"type\":\"string\"},\"version\":{\"type\":\"integer\"},"
            "\"created_at\":" KEEL_JS_TS ",\"updated_at\":" KEEL_JS_TS "}}"};

static const keel_body create_body = KEEL_BODY("EmployeeCreate", create_spec);
static const keel_body update_body = KEEL_BODY("EmployeeUpdate", update_spec);

static const keel_param org_create_params[] = {HR_ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param list_params[] = {
    HR_ORG_PARAM,
    KEEL_SVC_PAGE_PARAMS,
    {"manager_id", "query", KEEL_JS_UUID, "Only the employees this employee manages"},
    {"user_id", "query", KEEL_JS_UUID, "Only the employee linked to this user"},
    {0}};
static const keel_param employee_param[] = {{"id", "path", KEEL_JS_UUID, "The employee's id"}, {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/employees",
     .handler = employee_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create an employee of an organization with its next number E000001..",
     .operation_id = "createEmployee",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &employee_schema},
     .params = org_create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/employees",
     .handler = employee_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An organization's employees in number order (admins: all; others: their own "
                "and those they manage)",
     .operation_id = "listEmployees",
     .reply = {200, KEEL_SHAPE_LIST, &employee_schema},
     .params = list_params},
    {.method = "GET",
     .path = "/api/v1/employees/{id}",
     .handler = employee_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An employee (admins, its own user, its manager's user)",
     .operation_id = "getEmployee",
     .reply = {200, KEEL_SHAPE_ONE, &employee_schema},
     .params = employee_param},
    {.method = "PATCH",
     .path = "/api/v1/employees/{id}",
     .handler = employee_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Change an employee's names, email, user, dates, manager, calendar or time zone",
     .operation_id = "updateEmployee",
     .body = &update_body,
     .reply = {200, KEEL_SHAPE_ONE, &employee_schema},
     .params = employee_param},
    {.method = "DELETE",
     .path = "/api/v1/employees/{id}",
     .handler = employee_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete an employee nothing refers to (reports, assignments, leave)",
     .operation_id = "deleteEmployee",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = employee_param},
};

void
hr_employee_routes(keel_router *r, keel_hr *hr)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), hr);
}
