/*
 * Finance: fiscal years and their periods; closing, reopening and locking a period.
 *
 * A fiscal year is whole months (the 1st of one to the last day of another, at most 24 of
 * them), checked here first for a precise 422 and again by the table's CHECK; its periods are
 * its months ("2026-04") or quarters ("FY26-Q1"), made with it by fin.create_fiscal_year.
 * Overlapping years (the exclusion constraint) and a name used twice in an organization are
 * 409.  A period action is one UPDATE from the state it starts from; the order rules are the
 * trigger fin.periods_transition's, whose KF409 sentence becomes the 409 (fin_fail).  An action
 * the period's state does not allow, a repeated one included, is 409 naming that state.
 *
 * Lists are in start_date order, keyset-paged by a cursor holding the last row's start_date
 * (its own kind byte per list).  Fiscal years are listed with their periods, as read one by one.
 */
#include "fin/fin_int.h"
#include "access/access.h"
#include "core/date.h"
#include "core/uuid.h"

#include <string.h>

#define YEAR_NAME_PATTERN "^[A-Za-z0-9-]{1,10}$"
#define DATE_PATTERN      "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#define DATE_RULE         "must be a date YYYY-MM-DD that exists"
#define YEAR_MONTHS_MAX   24

/* Cursor kinds of the two lists (keel_svc_cursor_encode); the payload is a date's text. */
#define CURSOR_YEARS   0x31
#define CURSOR_PERIODS 0x32

static bool
year_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 10)
		return false;
	for (const char *c = s; *c != '\0'; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '-'))
			return false;
	return true;
}

static const char *const period_choices[] = {"month", "quarter", NULL};

static const keel_field_spec year_spec[] = {
    {.name = "name",
     .type = KEEL_F_STRING,
     .required = true,
     .min = 1,
     .max = 10,
     .check = year_name_valid,
     .check_msg = "must match " YEAR_NAME_PATTERN,
     .pattern = YEAR_NAME_PATTERN,
     .description = "Unique in the organization; appears in entry numbers (GEN-<name>-000001)"},
    {.name = "start_date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = fin_date_valid,
     .check_msg = DATE_RULE,
     .pattern = DATE_PATTERN,
     .format = "date",
     .description = "The first day of a month"},
    {.name = "end_date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = fin_date_valid,
     .check_msg = DATE_RULE,
     .pattern = DATE_PATTERN,
     .format = "date",
     .description = "The last day of a month, after start_date, at most 24 months on"},
    {.name = "period",
     .type = KEEL_F_ENUM,
     .required = true,
     .choices = period_choices,
     .description = "The periods: months, or quarters (a whole number of them)"},
};

static const keel_field_spec reopen_spec[] = {
    {.name = "reason",
     .type = KEEL_F_STRING,
     .required = true,
     .trim = true,
     .min = 1,
     .max = 500,
     .description = "Why the period is reopened (kept in the audit log)"},
};

/*
 * The year's dates as whole months, at most YEAR_MONTHS_MAX of them: each rule broken adds a
 * field error (the dates themselves are valid, keel_json_check saw to it).
 */
static void
year_months_check(keel_req *req, const char *start_text, const char *end_text)
{
	json_t *errors = keel_req_errors(req);
	int32_t start, end;
	int sy, sm, sd, ey, em, ed;

	keel_date_parse(start_text, &start);
	keel_date_parse(end_text, &end);
	keel_date_ymd(start, &sy, &sm, &sd);
	keel_date_ymd(end, &ey, &em, &ed);
	if (sd != 1)
		keel_field_error(errors, "start_date", "must be the first day of a month");
	if (keel_date_from_ymd(ey, em + 1, 1) - 1 != end)
		keel_field_error(errors, "end_date", "must be the last day of a month");
	if (end <= start)
		keel_field_error(errors, "end_date", "must be after start_date");
	else if ((ey - sy) * 12 + (em - sm) + 1 > YEAR_MONTHS_MAX)
		keel_field_error(errors, "end_date",
		                 "must be at most %d months from start_date (the year's months, "
		                 "both counted)",
		                 YEAR_MONTHS_MAX);
}

/* Parse and validate a fiscal year's body into in; fails the request (400/422) when invalid. */
static keel_err
year_parse(keel_req *req, fin_year_input *in)
{
	json_t *body;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	keel_json_check(body, year_spec, KEEL_NELEM(year_spec), keel_req_errors(req));
	in->name = json_string_value(json_object_get(body, "name"));
	in->start_date = json_string_value(json_object_get(body, "start_date"));
	in->end_date = json_string_value(json_object_get(body, "end_date"));
	in->period = json_string_value(json_object_get(body, "period"));
	if (in->start_date != NULL && in->end_date != NULL && fin_date_valid(in->start_date) &&
	    fin_date_valid(in->end_date))
		year_months_check(req, in->start_date, in->end_date);
	return keel_req_invalid(req, "the fiscal year is invalid");
}

/*
 * The answer to a failed create when a constraint explains it (409 or 422), else fin_fail's
 * (the quarters rule is fin.create_fiscal_year's KF422).  Returns err.
 */
static keel_err
year_create_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (strcmp(c, "fiscal_years_name_key") == 0)
		return keel_req_fail(req, KEEL_ECONFLICT, "name",
		                     "is already used by another fiscal year of the organization");
	if (strcmp(c, "fiscal_years_no_overlap") == 0 || strcmp(c, "periods_no_overlap") == 0)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL,
		                     "the dates overlap another fiscal year of the organization");
	if (strcmp(c, "fiscal_years_months") == 0)
		return keel_req_fail(req, KEEL_EINVAL, "end_date",
		                     "must be the last day of a month at most %d months on",
		                     YEAR_MONTHS_MAX);
	return fin_fail(req, tx, err, NULL);
}

static keel_err
year_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *key, *location = NULL;
	fin_year_input in = {0};
	fin_ledger ledger;
	fin_row row = {0};
	keel_tx *tx;
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = year_parse(req, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org_id, &ledger)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = fin_year_store_create(tx, keel_req_arena(req), text, org_id, &in, &row);
	if (err != KEEL_OK && err != KEEL_EUNAVAIL && err != KEEL_EINTERNAL)
		return year_create_failed(req, tx, err);
	if (err == KEEL_OK)
		location = keel_arena_printf(keel_req_arena(req), "/api/v1/fiscal-years/%s", row.id);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(201, &row, location, key));
}

static keel_err
year_get(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "fiscal year");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_year_store_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "fiscal year", fin_reply(200, &row, NULL, NULL));
}

/* ?limit= and ?cursor= of a list in start_date order: *after the cursor's date, or NULL. */
static keel_err
date_page(keel_req *req, unsigned char kind, int *limit, const char **after)
{
	char date[KEEL_DATE_STRLEN + 1] = {0};
	bool found;
	keel_err err;

	*after = NULL;
	if ((err = keel_svc_page_limit(req, limit)) != KEEL_OK ||
	    (err = keel_svc_cursor_decode(req, kind, date, KEEL_DATE_STRLEN, &found)) != KEEL_OK)
		return err;
	if (!found)
		return KEEL_OK;
	if (!fin_date_valid(date))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	*after = keel_arena_strdup(keel_req_arena(req), date);
	return KEEL_OK;
}

typedef keel_err (*date_list_fn)(keel_tx *tx, keel_arena *a, const char *org_id, const char *after,
                                 int limit, fin_date_page *page);

/* A list of the organization's years or periods (list), in start_date order. */
static keel_err
date_list(keel_req *req, keel_fin *fin, unsigned char kind, date_list_fn list)
{
	const char *org_id = fin_path_id(req, "id"), *after, *next = NULL;
	fin_date_page page = {0};
	fin_ledger ledger;
	keel_tx *tx;
	int limit;
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = date_page(req, kind, &limit, &after)) != KEEL_OK ||
	    (err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org_id, &ledger)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&page.list, keel_req_arena(req));
	err = list(tx, keel_req_arena(req), org_id, after, limit, &page);
	if (page.list.count == limit && page.last_start != NULL)
		next = keel_svc_cursor_encode(req, kind, page.last_start, strlen(page.last_start));
	return keel_svc_finish(
	    req, tx, err, NULL,
	    (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&page.list, next)});
}

static keel_err
year_list(keel_req *req, void *ctx)
{
	return date_list(req, ctx, CURSOR_YEARS, fin_year_store_list);
}

static keel_err
period_list(keel_req *req, void *ctx)
{
	return date_list(req, ctx, CURSOR_PERIODS, fin_period_store_list);
}

/* An action found the period in another state than it starts from: 404, or 409 naming it. */
static keel_err
period_state_conflict(keel_req *req, keel_tx *tx, fin_period_action action, const char *id)
{
	static const char *const verbs[] = {"closed", "reopened", "locked"};
	static const char *const from[] = {"an open", "a closed", "a closed"};
	const char *status;
	keel_err err = fin_period_store_status(tx, keel_req_arena(req), id, &status);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, "no such period");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	return keel_req_fail(req, KEEL_ECONFLICT, NULL, "the period is %s: only %s period is %s",
	                     status, from[action], verbs[action]);
}

/* Run action on the period of the path (reason: reopen's) and answer with the period. */
static keel_err
period_act(keel_req *req, keel_fin *fin, fin_period_action action, const char *reason)
{
	const char *id = fin_path_id(req, "id");
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return fin_not_found(req, "period");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_period_store_act(tx, keel_req_arena(req), action, id, reason, &row);
	if (err == KEEL_ENOTFOUND)
		return period_state_conflict(req, tx, action, id);
	if (err != KEEL_OK)
		return fin_fail(req, tx, err, NULL);
	return keel_svc_finish(req, tx, err, NULL, fin_reply(200, &row, NULL, NULL));
}

static keel_err
period_close(keel_req *req, void *ctx)
{
	return period_act(req, ctx, FIN_PERIOD_CLOSE, NULL);
}

static keel_err
period_reopen(keel_req *req, void *ctx)
{
	json_t *body;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK ||
	    (err = keel_req_check_body(req, body, "the reopening is invalid")) != KEEL_OK)
		return err;
	return period_act(req, ctx, FIN_PERIOD_REOPEN,
	                  json_string_value(json_object_get(body, "reason")));
}

static keel_err
period_lock(keel_req *req, void *ctx)
{
	return period_act(req, ctx, FIN_PERIOD_LOCK, NULL);
}

/*
 * Close the fiscal year of the path: 200 with the year (status closed).  Its periods must all
 * be closed, its last one not locked, and the ledger's retained-earnings account set (409);
 * the closing entries are fin.close_fiscal_year's.
 */
static keel_err
year_close(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *id = fin_path_id(req, "id");
	fin_row row = {0};
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such fiscal year");
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_year_store_close(tx, keel_req_arena(req), id, &row);
	if (err != KEEL_OK)
		return fin_fail(req, tx, err, "fiscal year");
	return keel_svc_finish(req, tx, err, NULL, fin_reply(200, &row, NULL, NULL));
}

/* ---- the routes ---- */

#define PERIOD_PROPS                                                                               \
	"\"id\":" FIN_UUID ",\"organization_id\":" FIN_UUID ",\"fiscal_year_id\":" FIN_UUID            \
	",\"name\":{\"type\":\"string\"},\"start_date\":" FIN_DATE ",\"end_date\":" FIN_DATE           \
	",\"status\":{\"type\":\"string\",\"enum\":[\"open\",\"closed\",\"locked\"]},"                 \
	"\"closed_at\":" FIN_TS_NULL ",\"closed_by\":" FIN_UUID_NULL                                   \
	",\"version\":{\"type\":\"integer\"},\"updated_at\":" FIN_TS
#define PERIOD_REQUIRED                                                                            \
	"[\"id\",\"organization_id\",\"fiscal_year_id\",\"name\",\"start_date\",\"end_date\","         \
	"\"status\",\"closed_at\",\"closed_by\",\"version\",\"updated_at\"]"

static const keel_schema period_schema = {.name = "Period",
                                          .json =
                                              "{\"type\":\"object\",\"required\":" PERIOD_REQUIRED
                                              ",\"properties\":{" PERIOD_PROPS "}}"};

static const keel_schema year_schema = {
    .name = "FiscalYear",
    .json =
        "{\"type\":\"object\",\"required\":[\"id\",\"organization_id\",\"name\","
        "\"start_date\",\"end_date\",\"period\",\"status\",\"periods\",\"version\","
        "\"created_at\",\"updated_at\"],\"properties\":{\"id\":" FIN_UUID
        ",\"organization_id\":" FIN_UUID ",\"name\":{\"type\":\"string\"},\"start_date\":" FIN_DATE
        ",\"end_date\":" FIN_DATE ",\"period\":{\"type\":\"string\",\"enum\":["
        "\"month\",\"quarter\"]},\"status\":{\"type\":\"string\",\"enum\":[\"open\","
        "\"closed\"]},\"periods\":{\"type\":\"array\",\"items\":{\"$ref\":"
        "\"#/components/schemas/Period\"}},\"version\":{\"type\":\"integer\"},"
        "\"created_at\":" FIN_TS ",\"updated_at\":" FIN_TS "}}",
    .refs = {&period_schema}};

static const keel_body year_body = KEEL_BODY("FiscalYearCreate", year_spec);
static const keel_body reopen_body = KEEL_BODY("PeriodReopen", reopen_spec);

static const keel_param year_create_params[] = {FIN_ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param org_list_params[] = {FIN_ORG_PARAM, KEEL_SVC_PAGE_PARAMS, {0}};
static const keel_param year_id_param[] = {{"id", "path", FIN_UUID, "The fiscal year's id"}, {0}};
static const keel_param period_id_param[] = {{"id", "path", FIN_UUID, "The period's id"}, {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/fiscal-years",
     .handler = year_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create a fiscal year of an organization, with its monthly or quarterly periods",
     .operation_id = "createFiscalYear",
     .body = &year_body,
     .reply = {201, KEEL_SHAPE_ONE, &year_schema},
     .params = year_create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/fiscal-years",
     .handler = year_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List an organization's fiscal years with their periods, by start_date",
     .operation_id = "listFiscalYears",
     .reply = {200, KEEL_SHAPE_LIST, &year_schema},
     .params = org_list_params,
     .problems = {409}},
    {.method = "GET",
     .path = "/api/v1/fiscal-years/{id}",
     .handler = year_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A fiscal year with its periods",
     .operation_id = "getFiscalYear",
     .reply = {200, KEEL_SHAPE_ONE, &year_schema},
     .params = year_id_param},
    {.method = "POST",
     .path = "/api/v1/fiscal-years/{id}/close",
     .handler = year_close,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Close a fiscal year: its income and expense moved to retained earnings by a "
                "closing entry",
     .operation_id = "closeFiscalYear",
     .reply = {200, KEEL_SHAPE_ONE, &year_schema},
     .params = year_id_param,
     .problems = {409}},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/periods",
     .handler = period_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List an organization's periods, by start_date",
     .operation_id = "listPeriods",
     .reply = {200, KEEL_SHAPE_LIST, &period_schema},
     .params = org_list_params,
     .problems = {409}},
    {.method = "POST",
     .path = "/api/v1/periods/{id}/close",
     .handler = period_close,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Close an open period (every earlier period closed)",
     .operation_id = "closePeriod",
     .reply = {200, KEEL_SHAPE_ONE, &period_schema},
     .params = period_id_param},
    {.method = "POST",
     .path = "/api/v1/periods/{id}/reopen",
     .handler = period_reopen,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_OWNER,
     .summary = "Reopen the latest closed period of an open fiscal year, with a reason",
     .operation_id = "reopenPeriod",
     .body = &reopen_body,
     .reply = {200, KEEL_SHAPE_ONE, &period_schema},
     .params = period_id_param},
    {.method = "POST",
     .path = "/api/v1/periods/{id}/lock",
     .handler = period_lock,
     .min_role = KEEL_ROLE_OWNER,
     .summary = "Lock a closed period for good (earlier periods locked first)",
     .operation_id = "lockPeriod",
     .reply = {200, KEEL_SHAPE_ONE, &period_schema},
     .params = period_id_param},
};

void
fin_period_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
