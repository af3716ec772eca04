/*
 * hr: leave types.
 *
 * A leave type of an organization: its code (unique in the organization, fixed once made),
 * whether a balance may go negative, one or two approval levels, and its carry-forward: at
 * most carry_forward_max days (a days string; null: nothing is carried) go into the next leave
 * period, usable for carry_forward_expires_after months (null: until that period ends).  Day
 * amounts are strict decimal strings (keel_days_parse) handed to PostgreSQL as numeric text,
 * never through a double.  Leave types are structure, readable by viewers; writes are the
 * admins'.  The list is in code order, keyset-paged by the last code.
 */
#include "hr/hr_int.h"
#include "access/access.h"
#include "core/days.h"

#include <string.h>

#define CODE_PATTERN  "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
#define CARRY_PATTERN "^(0|[1-9][0-9]{0,3})(\\.[0-9]{1,2})?$"
#define CARRY_JSON    "^(0|[1-9][0-9]{0,3})(\\\\.[0-9]{1,2})?$" /* the same, in JSON text */
#define CARRY_RULE    KEEL_DAYS_RULE ", not negative"
#define CURSOR_KIND   0x31 /* the list's cursor: the last code, NUL-padded */
#define CURSOR_BYTES  32

static bool
alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The migration's rule for leave type codes (leave_types.code's CHECK). */
static bool
code_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 32 || !alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool
carry_valid(const char *s)
{
	int32_t hundredths;

	return keel_days_parse(s, false, &hundredths);
}

#define CARRY_FIELDS                                                                               \
	{.name = "allow_negative", .type = KEEL_F_BOOLEAN},                                            \
	    {.name = "approval_levels",                                                                \
	     .type = KEEL_F_INTEGER,                                                                   \
	     .required = CREATE,                                                                       \
	     .min = 1,                                                                                 \
	     .max = 2,                                                                                 \
	     .description = "1: the manager's user or an admin; 2: then an admin who did not "         \
	                    "approve level 1"},                                                        \
	    {.name = "carry_forward_max",                                                              \
	     .type = KEEL_F_STRING,                                                                    \
	     .nullable = true,                                                                         \
	     .check = carry_valid,                                                                     \
	     .check_msg = CARRY_RULE,                                                                  \
	     .pattern = CARRY_PATTERN,                                                                 \
	     .description = "Days carried into the next leave period at most (null: none)"},           \
	{                                                                                              \
		.name = "carry_forward_expires_after", .type = KEEL_F_INTEGER, .nullable = true, .min = 1, \
		.max = 120,                                                                                \
		.description = "Months the carried days stay usable (null: until the period ends)"         \
	}

#define CREATE true
static const keel_field_spec create_spec[] = {
    {.name = "code",
     .type = KEEL_F_STRING,
     .required = true,
     .min = 1,
     .max = 32,
     .check = code_valid,
     .check_msg = "must match " CODE_PATTERN,
     .pattern = CODE_PATTERN},
    {.name = "name", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 200},
    CARRY_FIELDS,
};
#undef CREATE
#define CREATE false
static const keel_field_spec update_spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .trim = true, .min = 1, .max = 200},
    CARRY_FIELDS,
};
#undef CREATE

static const char *
bool_of(const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);

	return v == NULL ? NULL : json_is_true(v) ? "true" : "false";
}

static void
leave_type_input(keel_req *req, const json_t *body, hr_leave_type_input *in)
{
	memset(in, 0, sizeof(*in));
	in->code = hr_position_str(body, "code");
	in->name = hr_position_str(body, "name");
	in->allow_negative = bool_of(body, "allow_negative");
	in->approval_levels = hr_position_int(req, body, "approval_levels");
	in->carry_max = hr_position_str(body, "carry_forward_max");
	in->carry_months = hr_position_int(req, body, "carry_forward_expires_after");
	in->carry_max_given = json_object_get(body, "carry_forward_max") != NULL;
	in->carry_months_given = json_object_get(body, "carry_forward_expires_after") != NULL;
}

static keel_err
leave_type_create(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id"), *key;
	hr_leave_type_input in;
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	bool replayed;
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = hr_position_parse_body(req, false, "leave type", &body)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	leave_type_input(req, body, &in);
	err = hr_store_leave_type_create(tx, keel_req_arena(req), hr_position_new_id(req), org_id, &in,
	                                 &row);
	if (err == KEEL_ECONFLICT && strcmp(keel_tx_constraint(tx), "leave_types_code_key") == 0)
		return keel_req_fail(req, err, "code", "is already used in this organization");
	if (err == KEEL_EINVAL && strcmp(keel_tx_constraint(tx), "leave_types_organization_fkey") == 0)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, NULL);
	const char *location = keel_arena_printf(keel_req_arena(req), "/api/v1/leave-types/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, hr_reply(201, &row, location, key));
}

/* ?cursor= (the last code of the page before) into *after ("" for none); 400 when not one. */
static keel_err
parse_cursor(keel_req *req, const char **after)
{
	char code[CURSOR_BYTES + 1] = {0};
	bool found;

	*after = "";
	if (keel_svc_cursor_decode(req, CURSOR_KIND, code, CURSOR_BYTES, &found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (!found)
		return KEEL_OK;
	if (!code_valid(code))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	*after = keel_arena_strdup(keel_req_arena(req), code);
	return KEEL_OK;
}

/* The next page's cursor: the last code when the page is full, else NULL. */
static const char *
next_cursor(keel_req *req, const hr_position_page *out, int limit)
{
	char code[CURSOR_BYTES] = {0};

	if (out->list.count < limit || out->last == NULL)
		return NULL;
	memcpy(code, out->last, strnlen(out->last, CURSOR_BYTES));
	return keel_svc_cursor_encode(req, CURSOR_KIND, code, CURSOR_BYTES);
}

static keel_err
leave_type_list(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *org_id = hr_path_id(req, "id"), *after;
	hr_position_page out = {0};
	keel_tx *tx;
	int limit;
	keel_err err;

	if (org_id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
	if ((err = keel_svc_page_limit(req, &limit)) != KEEL_OK ||
	    (err = parse_cursor(req, &after)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK ||
	    (err = hr_org_require(req, tx, org_id)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&out.list, keel_req_arena(req));
	err = hr_store_leave_type_list(tx, keel_req_arena(req), org_id, after, limit, &out);
	const char *next = err == KEEL_OK ? next_cursor(req, &out, limit) : NULL;

	return keel_svc_finish(
	    req, tx, err, NULL,
	    (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&out.list, next)});
}

static keel_err
leave_type_get(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id");
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such leave type");
	if ((err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	err = hr_store_leave_type_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "leave type", hr_reply(200, &row, NULL, NULL));
}

static keel_err
leave_type_update(keel_req *req, void *ctx)
{
	keel_hr *hr = ctx;
	const char *id = hr_path_id(req, "id"), *version;
	hr_leave_type_input in;
	json_t *body;
	keel_tx *tx;
	hr_row row = {0};
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such leave type");
	if ((err = hr_position_parse_body(req, true, "leave type", &body)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, hr->pool, &tx)) != KEEL_OK)
		return err;
	leave_type_input(req, body, &in);
	err = hr_store_leave_type_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return hr_position_missed(req, tx, HR_LEAVE_TYPE, id, version);
	if (err != KEEL_OK)
		return hr_fail(req, tx, err, NULL);
	return keel_svc_finish(req, tx, err, NULL, hr_reply(200, &row, NULL, NULL));
}

/* ---- routes ---- */

static const keel_schema leave_type_schema = {
    .name = "LeaveType",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"organization_id\",\"code\",\"name\","
            "\"allow_negative\",\"approval_levels\",\"carry_forward_max\","
            "\"carry_forward_expires_after\",\"version\",\"created_at\",\"updated_at\"],"
            "\"properties\":{\"id\":" KEEL_JS_UUID ",\"organization_id\":" KEEL_JS_UUID
            ",\"code\":{\"type\":\"string\",\"pattern\":\"" CODE_PATTERN "\"},"
            "\"name\":{\"type\":\"string\"},\"allow_negative\":{\"type\":\"boolean\"},"
            "\"approval_levels\":{\"type\":\"integer\",\"enum\":[1,2]},"
            "\"carry_forward_max\":{\"type\":[\"string\",\"null\"],\"pattern\":\"" CARRY_JSON
            "\",\"description\":\"Days: a decimal string with at most two decimals\"},"
            "\"carry_forward_expires_after\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,"
            "\"maximum\":120},\"version\":{\"type\":\"integer\"},\"created_at\":" KEEL_JS_TS
            ",\"updated_at\":" KEEL_JS_TS "}}"};

static const keel_body create_body = KEEL_BODY("LeaveTypeCreate", create_spec);
static const keel_body update_body = KEEL_BODY("LeaveTypeUpdate", update_spec);

static const keel_param org_create_params[] = {HR_ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param org_list_params[] = {HR_ORG_PARAM, KEEL_SVC_PAGE_PARAMS, {0}};
static const keel_param leave_type_params[] = {{"id", "path", KEEL_JS_UUID, "The leave type's id"},
                                               {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/leave-types",
     .handler = leave_type_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create a leave type: approval levels, negative balances, carry-forward",
     .operation_id = "createLeaveType",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &leave_type_schema},
     .params = org_create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/leave-types",
     .handler = leave_type_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An organization's leave types in code order",
     .operation_id = "listLeaveTypes",
     .reply = {200, KEEL_SHAPE_LIST, &leave_type_schema},
     .params = org_list_params},
    {.method = "GET",
     .path = "/api/v1/leave-types/{id}",
     .handler = leave_type_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A leave type",
     .operation_id = "getLeaveType",
     .reply = {200, KEEL_SHAPE_ONE, &leave_type_schema},
     .params = leave_type_params},
    {.method = "PATCH",
     .path = "/api/v1/leave-types/{id}",
     .handler = leave_type_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Change a leave type's name, negative balances, approval levels or carry-forward",
     .operation_id = "updateLeaveType",
     .body = &update_body,
     .reply = {200, KEEL_SHAPE_ONE, &leave_type_schema},
     .params = leave_type_params},
};

void
hr_leave_type_routes(keel_router *r, keel_hr *hr)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), hr);
}
