/*
 * hr: holiday calendars and holidays.
 *
 * A calendar of an organization names its work days (ISO 1 = Monday .. 7, each once, at least
 * one; kept in ascending order) and holds holidays, one per date, whole days or one half
 * ("am"/"pm": the half that is off).  The days a leave request costs are counted on the
 * employee's calendar by the database (hr.leave_day_parts).  Calendars and holidays are
 * structure, not personal data: viewers read them, admins write them.  A calendar an employee
 * uses is not deleted (409); deleting one deletes its holidays.
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/str.h"
#include "core/uuid.h"

#include <string.h>

#define CURSOR_KIND 0x31 /* the holiday list's cursor: the last date, YYYY-MM-DD */

static const char *const half_choices[] = {"am", "pm", NULL};

#define NAME_FIELD(req)                                                                            \
	{                                                                                              \
		.name = "name", .type = KEEL_F_STRING, .required = (req), .trim = true, .min = 1,          \
		.max = 200                                                                                 \
	}
#define WORKDAYS_FIELD(req)                                                                        \
	{                                                                                              \
		.name = "workdays", .type = KEEL_F_ARRAY, .required = (req), .min = 1, .max = 7,           \
		.items = "{\"type\":\"integer\",\"minimum\":1,\"maximum\":7}",                             \
		.description = "ISO week days (1 = Monday .. 7 = Sunday), each at most once"               \
	}

static const keel_field_spec calendar_create_spec[] = {NAME_FIELD(true), WORKDAYS_FIELD(true)};
static const keel_field_spec calendar_update_spec[] = {NAME_FIELD(false), WORKDAYS_FIELD(false)};
static const keel_field_spec holiday_create_spec[] = {
    {.name = "date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = hr_date_valid,
     .check_msg = HR_DATE_RULE,
     .format = "date"},
    NAME_FIELD(true),
    {.name = "half_day",
     .type = KEEL_F_ENUM,
     .nullable = true,
     .choices = half_choices,
     .description = "The half that is off; absent or null: the whole day"},
};

static keel_err
calendar_not_found(keel_req *req)
{
	return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such holiday calendar");
}

/*
 * The workdays array (already 1..7 items) as a PostgreSQL array literal: each an integer 1..7,
 * none twice; NULL with a field error otherwise.
 */
static const char *
workdays_of(keel_req *req, const json_t *v)
{
	keel_buf b;
	bool seen[8] = {false};
	size_t i;
	json_t *item;

	keel_buf_init(&b, keel_req_arena(req));
	keel_buf_puts(&b, "{");
	json_array_foreach(v, i, item)
	{
		json_int_t d = json_is_integer(item) ? json_integer_value(item) : 0;

		if (d < 1 || d > 7) {
			keel_field_error(keel_req_errors(req), "workdays",
			                 "item %zu must be an ISO week day, 1 (Monday) to 7 (Sunday)", i);
			return NULL;
		}
		if (seen[d]) {
			keel_field_error(keel_req_errors(req), "workdays", "day %d is given twice", (int)d);
			return NULL;
		}
		seen[d] = true;
		keel_buf_printf(&b, "%s%d", i > 0 ? "," : "", (int)d);
	}
	keel_buf_puts(&b, "}");
	return b.data;
}

/* The calendar body checked against its route's fields (422 naming each). */
static keel_err
parse_calendar(keel_req *req, bool partial, hr_calendar_input *in)
{
	json_t *body, *days;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK ||
	    (err = keel_req_check_body(req, body, "the holiday calendar is invalid")) != KEEL_OK)
		return err;
	if (partial && json_object_size(body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	in->name = json_string_value(json_object_get(body, "name"));
	in->workdays = NULL;
	if ((days = json_object_get(body, "workdays")) != NULL &&
	    (in->workdays = workdays_of(req, days)) == NULL)
		return keel_req_invalid(req, "the holiday calendar is invalid");
	return KEEL_OK;
}

static keel_err
calendar_write_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT && strcmp(c, "holiday_calendars_name_key") == 0)
		return keel_req_fail(req, err, "name",
		                     "is already the name of a holiday calendar of this organization");
	return hr_fail(req, tx, err, "holiday calendar");
}

static keel_err
calendar_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id"), *key;
	hr_calendar_input in;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = parse_calendar(req, false, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_org_require(req, tx, org_id)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = hr_store_calendar_create(tx, keel_req_arena(req), text, org_id, &in, &row);
	if (err != KEEL_OK)
		return calendar_write_failed(req, tx, err);
	const char *location =
	    keel_arena_printf(keel_req_arena(req), "/api/v1/holiday-calendars/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

static keel_err
calendar_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id"), *last;
	keel_page page;
	keel_svc_list list;
	keel_tx *tx;
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = keel_svc_page(req, &page)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_org_require(req, tx, org_id)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&list, keel_req_arena(req));
	err = hr_store_calendar_list(tx, keel_req_arena(req), org_id, page.after, page.limit, &list,
	                             &last);
	const char *next = keel_svc_page_next(req, &page, list.count, last);

	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, next)});
}

static keel_err
calendar_get(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id");
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return calendar_not_found(req);
	if ((err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_calendar_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "holiday calendar", hr_reply(200, &row, NULL, NULL));
}

/* A guarded write changed nothing: 412 when the row is at another version, else 404. */
static keel_err
missed(keel_req *req, keel_tx *tx, const char *id, const char *version, bool holiday)
{
	long current;
	keel_err err = version == NULL ? KEEL_ENOTFOUND
	               : holiday       ? hr_store_holiday_version(tx, id, &current)
	                               : hr_store_calendar_version(tx, id, &current);
	const char *what = holiday ? "holiday" : "holiday calendar";

	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the %s is at version %ld", what, current);
	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, "no such %s", what);
	return keel_svc_fail(req, err, NULL);
}

static keel_err
calendar_update(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	hr_calendar_input in;
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return calendar_not_found(req);
	if ((err = parse_calendar(req, true, &in)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_calendar_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return missed(req, tx, id, version, false);
	if (err != KEEL_OK)
		return calendar_write_failed(req, tx, err);
	return keel_svc_finish(req, tx, err, NULL, hr_reply(200, &row, NULL, NULL));
}

static keel_err
calendar_delete(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return calendar_not_found(req);
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_calendar_delete(tx, keel_req_arena(req), id, version);
	if (err == KEEL_ENOTFOUND)
		return missed(req, tx, id, version, false);
	if (err == KEEL_EINVAL && strcmp(keel_tx_constraint(tx), "employees_calendar_fkey") == 0)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL, "employees use the holiday calendar");
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, "holiday calendar");
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

/* ---- holidays ---- */

static keel_err
holiday_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *cal = hr_path_id(req, "id"), *key;
	json_t *body;
	hr_holiday_input in;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (cal == NULL)
		return calendar_not_found(req);
	if ((err = keel_req_json_body(req, &body)) != KEEL_OK ||
	    (err = keel_req_check_body(req, body, "the holiday is invalid")) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	in = (hr_holiday_input){.date = json_string_value(json_object_get(body, "date")),
	                        .name = json_string_value(json_object_get(body, "name")),
	                        .half_day = json_string_value(json_object_get(body, "half_day"))};
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = hr_store_holiday_create(tx, keel_req_arena(req), text, cal, &in, &row);
	if (err == KEEL_ENOTFOUND)
		return calendar_not_found(req);
	if (err == KEEL_ECONFLICT && strcmp(keel_tx_constraint(tx), "holidays_date_key") == 0)
		return keel_req_fail(req, err, "date", "the calendar has a holiday on %s already", in.date);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, "holiday");
	const char *location = keel_arena_printf(keel_req_arena(req), "/api/v1/holidays/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

/* ?from=, ?to= (dates, from not after to) and ?cursor= (the last date seen). */
static keel_err
parse_range(keel_req *req, const char **from, const char **to, const char **after)
{
	char date[KEEL_DATE_STRLEN + 1] = {0};
	bool found;

	*from = keel_req_query(req, "from");
	*to = keel_req_query(req, "to");
	*after = NULL;
	if ((*from != NULL && !hr_date_valid(*from)) || (*to != NULL && !hr_date_valid(*to)))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "from and to must be dates YYYY-MM-DD");
	if (*from != NULL && *to != NULL && strcmp(*from, *to) > 0)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "from must not be after to");
	if (keel_svc_cursor_decode(req, CURSOR_KIND, date, KEEL_DATE_STRLEN, &found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (found && !hr_date_valid(date))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	*after = found ? keel_arena_strdup(keel_req_arena(req), date) : NULL;
	return KEEL_OK;
}

static keel_err
holiday_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *cal = hr_path_id(req, "id"), *from, *to, *after, *last, *next = NULL;
	keel_svc_list list;
	keel_tx *tx;
	long version;
	int limit;
	keel_err err;

	if (cal == NULL)
		return calendar_not_found(req);
	if ((err = keel_svc_page_limit(req, &limit)) != KEEL_OK ||
	    (err = parse_range(req, &from, &to, &after)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = hr_store_calendar_version(tx, cal, &version)) != KEEL_OK)
		return hr_fail(req, tx, err, "holiday calendar");
	keel_svc_list_begin(&list, keel_req_arena(req));
	err = hr_store_holiday_list(tx, keel_req_arena(req), cal, from, to, after, limit, &list, &last);
	if (err == KEEL_OK && list.count == limit && last != NULL)
		next = keel_svc_cursor_encode(req, CURSOR_KIND, last, KEEL_DATE_STRLEN);
	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&list, next)});
}

static keel_err
holiday_delete(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such holiday");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_holiday_delete(tx, keel_req_arena(req), id, version);
	if (err == KEEL_ENOTFOUND)
		return missed(req, tx, id, version, true);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

/* ---- routes ---- */

static const keel_schema calendar_schema = {
    .name = "HolidayCalendar",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"organization_id\",\"name\",\"workdays\","
            "\"version\",\"created_at\",\"updated_at\"],\"properties\":{"
            "\"id\":" KEEL_JS_UUID ",\"organization_id\":" KEEL_JS_UUID
            ",\"name\":{\"type\":\"string\"},\"workdays\":{\"type\":\"array\",\"minItems\":1,"
            "\"maxItems\":7,\"items\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7}},"
            "\"version\":{\"type\":\"integer\"},\"created_at\":" KEEL_JS_TS
            ",\"updated_at\":" KEEL_JS_TS "}}"};

static const keel_schema holiday_schema = {
    .name = "Holiday",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"calendar_id\",\"date\",\"name\","
            "\"half_day\",\"version\",\"created_at\",\"updated_at\"],\"properties\":{"
            "\"id\":" KEEL_JS_UUID ",\"calendar_id\":" KEEL_JS_UUID ",\"date\":" KEEL_JS_DATE
            ",\"name\":{\"type\":\"string\"},"
            "\"half_day\":{\"type\":[\"string\",\"null\"],\"enum\":[\"am\",\"pm\",null]},"
            "\"version\":{\"type\":\"integer\"},\"created_at\":" KEEL_JS_TS
            ",\"updated_at\":" KEEL_JS_TS "}}"};

static const keel_body calendar_create_body =
    KEEL_BODY("HolidayCalendarCreate", calendar_create_spec);
static const keel_body calendar_update_body =
    KEEL_BODY("HolidayCalendarUpdate", calendar_update_spec);
static const keel_body holiday_create_body = KEEL_BODY("HolidayCreate", holiday_create_spec);

static const keel_param org_create_params[] = {HR_ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param org_list_params[] = {HR_ORG_PARAM, KEEL_SVC_PAGE_PARAMS, {0}};
static const keel_param calendar_param[] = {
    {"id", "path", KEEL_JS_UUID, "The holiday calendar's id"}, {0}};
static const keel_param holiday_create_params[] = {
    {"id", "path", KEEL_JS_UUID, "The holiday calendar's id"}, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param holiday_list_params[] = {
    {"id", "path", KEEL_JS_UUID, "The holiday calendar's id"},
    KEEL_SVC_PAGE_PARAMS,
    {"from", "query", KEEL_JS_DATE, "Only holidays on or after this date"},
    {"to", "query", KEEL_JS_DATE, "Only holidays on or before this date"},
    {0}};
static const keel_param holiday_param[] = {{"id", "path", KEEL_JS_UUID, "The holiday's id"}, {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/holiday-calendars",
     .handler = calendar_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create a holiday calendar (its work days) of an organization",
     .operation_id = "createHolidayCalendar",
     .body = &calendar_create_body,
     .reply = {201, KEEL_SHAPE_ONE, &calendar_schema},
     .params = org_create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/holiday-calendars",
     .handler = calendar_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An organization's holiday calendars",
     .operation_id = "listHolidayCalendars",
     .reply = {200, KEEL_SHAPE_LIST, &calendar_schema},
     .params = org_list_params},
    {.method = "GET",
     .path = "/api/v1/holiday-calendars/{id}",
     .handler = calendar_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A holiday calendar",
     .operation_id = "getHolidayCalendar",
     .reply = {200, KEEL_SHAPE_ONE, &calendar_schema},
     .params = calendar_param},
    {.method = "PATCH",
     .path = "/api/v1/holiday-calendars/{id}",
     .handler = calendar_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Rename a holiday calendar or change its work days",
     .operation_id = "updateHolidayCalendar",
     .body = &calendar_update_body,
     .reply = {200, KEEL_SHAPE_ONE, &calendar_schema},
     .params = calendar_param},
    {.method = "DELETE",
     .path = "/api/v1/holiday-calendars/{id}",
     .handler = calendar_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete a holiday calendar no employee uses, with its holidays",
     .operation_id = "deleteHolidayCalendar",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = calendar_param},
    {.method = "POST",
     .path = "/api/v1/holiday-calendars/{id}/holidays",
     .handler = holiday_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Add a holiday (a whole day or one half) to a calendar, one per date",
     .operation_id = "createHoliday",
     .body = &holiday_create_body,
     .reply = {201, KEEL_SHAPE_ONE, &holiday_schema},
     .params = holiday_create_params},
    {.method = "GET",
     .path = "/api/v1/holiday-calendars/{id}/holidays",
     .handler = holiday_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A calendar's holidays in date order (?from=, ?to=)",
     .operation_id = "listHolidays",
     .reply = {200, KEEL_SHAPE_LIST, &holiday_schema},
     .params = holiday_list_params},
    {.method = "DELETE",
     .path = "/api/v1/holidays/{id}",
     .handler = holiday_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete a holiday",
     .operation_id = "deleteHoliday",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = holiday_param},
};

void
hr_calendar_routes(keel_router *r, keel_hr *hr)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), hr);
}
