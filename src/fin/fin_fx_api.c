/*
 * Finance: exchange rates.  The tenant's rates, one per currency pair and day, written by
 * admins and read by viewers as the rate in force on a day (the latest on or before it).
 * Rates travel as decimal strings (rate.h): PostgreSQL keeps them as numeric, and foreign
 * journal lines are converted with them there (migration 0013), never in floating point.
 */
#include "fin/fin_fx.h"
#include "access/access.h"
#include "core/date.h"
#include "core/rate.h"
#include "core/uuid.h"

#include <string.h>

#define CURRENCY_RULE "must be an ISO 4217 code of GET /api/v1/currencies"

static bool
rate_valid(const char *s)
{
	char canon[KEEL_RATE_STRLEN + 1];

	return keel_rate_parse(s, canon);
}

#define CURRENCY_FIELD(n, what)                                                                    \
	{                                                                                              \
		.name = (n), .type = KEEL_F_STRING, .required = true, .check = fin_currency_valid,         \
		.check_msg = CURRENCY_RULE, .pattern = "^[A-Z]{3}$", .description = (what)                 \
	}

static const keel_field_spec create_spec[] = {
    CURRENCY_FIELD("from", "The currency one unit of which the rate prices"),
    CURRENCY_FIELD("to", "The currency the rate is in (another than from)"),
    {.name = "rate",
     .type = KEEL_F_STRING,
     .required = true,
     .check = rate_valid,
     .check_msg = "must be a positive decimal string with at most 12 integer and 12 fractional "
                  "digits, without a sign, exponent or leading zero",
     .pattern = "^(0|[1-9][0-9]{0,11})(\\.[0-9]{1,12})?$",
     .description = "Units of to per one unit of from, above zero"},
    {.name = "date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = fin_date_valid,
     .check_msg = FIN_DATE_RULE,
     .format = "date",
     .description = "The day from which the rate is in force"},
};

static keel_err
create_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT && strcmp(c, "exchange_rates_day_key") == 0)
		return keel_req_fail(req, err, NULL, "a rate for this pair and day exists already");
	if (err == KEEL_EINVAL && strcmp(c, "exchange_rates_from_currency_fkey") == 0)
		return keel_req_fail(req, err, "from", CURRENCY_RULE);
	if (err == KEEL_EINVAL && strcmp(c, "exchange_rates_to_currency_fkey") == 0)
		return keel_req_fail(req, err, "to", CURRENCY_RULE);
	return keel_svc_fail(req, err, NULL);
}

static keel_err
rate_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	char canon[KEEL_RATE_STRLEN + 1], id[KEEL_UUID_STRLEN + 1];
	const char *key, *json = NULL;
	json_t *body;
	keel_tx *tx;
	keel_uuid u;
	bool replayed;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if (keel_json_check(body, create_spec, KEEL_NELEM(create_spec), keel_req_errors(req)) == 0 &&
	    strcmp(fin_str(body, "from"), fin_str(body, "to")) == 0)
		keel_field_error(keel_req_errors(req), "to", "must be another currency than from");
	if ((err = keel_req_invalid(req, "the exchange rate is invalid")) != KEEL_OK)
		return err;
	keel_rate_parse(fin_str(body, "rate"), canon);
	fin_fx_rate r = {fin_str(body, "from"), fin_str(body, "to"), canon, fin_str(body, "date")};

	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&u);
	keel_uuid_format(&u, id);
	if ((err = fin_fx_store_create(tx, keel_req_arena(req), id, &r, &json)) != KEEL_OK)
		return create_failed(req, tx, err);
	return keel_svc_finish(req, tx, err, NULL,
	                       (keel_svc_reply){.status = 201, .text = json, .idem_key = key});
}

/* ?name= as a currency code or a date: 422 naming it when absent or malformed. */
static const char *
query_of(keel_req *req, const char *name, bool (*valid)(const char *), const char *rule)
{
	const char *v = keel_req_query(req, name);

	if (v == NULL || !valid(v)) {
		keel_field_error(keel_req_errors(req), name, "%s is required and %s", name, rule);
		return NULL;
	}
	return v;
}

static keel_err
rate_get(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *from = query_of(req, "from", fin_currency_valid, CURRENCY_RULE);
	const char *to = query_of(req, "to", fin_currency_valid, CURRENCY_RULE);
	const char *date = query_of(req, "date", fin_date_valid, FIN_DATE_RULE);
	const char *json = NULL;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_req_invalid(req, "the query is invalid")) != KEEL_OK)
		return err;
	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK)
		return err;
	err = fin_fx_store_in_force(tx, keel_req_arena(req), from, to, date, &json);
	if (err == KEEL_ENOTFOUND)
		return keel_svc_finish(req, tx, err, "exchange rate from this currency on or before date",
		                       (keel_svc_reply){0});
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 200, .text = json});
}

static const keel_schema rate_schema = {
    .name = "ExchangeRate",
    .json = "{\"type\":\"object\",\"required\":[\"from\",\"to\",\"rate\",\"date\"],"
            "\"properties\":{\"from\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}$\"},"
            "\"to\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}$\"},\"rate\":{\"type\":"
            "\"string\",\"pattern\":\"^(0|[1-9][0-9]{0,11})(\\\\.[0-9]{1,12})?$\","
            "\"description\":\"Units of to per one unit of from\"},\"date\":" FIN_DATE "}}"};

static const keel_body create_body = KEEL_BODY("ExchangeRateCreate", create_spec);

static const keel_param create_params[] = {KEEL_SVC_IDEMPOTENCY_PARAM, {0}};
static const keel_param get_params[] = {
    {"from", "query", "{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}$\"}",
     "The currency priced (required)"},
    {"to", "query", "{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}$\"}",
     "The currency of the rate (required); rates are never inverted"},
    {"date", "query", FIN_DATE, "The day (required): the latest rate on or before it"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/exchange-rates",
     .handler = rate_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Give the tenant's exchange rate of a currency pair from a day on (one per day)",
     .operation_id = "createExchangeRate",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &rate_schema},
     .params = create_params,
     .problems = {409}},
    {.method = "GET",
     .path = "/api/v1/exchange-rates",
     .handler = rate_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "The exchange rate in force on a day: the latest on or before it (?from=, ?to=, "
                "?date=)",
     .operation_id = "getExchangeRate",
     .reply = {200, KEEL_SHAPE_ONE, &rate_schema},
     .params = get_params,
     .problems = {404, 422}},
};

void
fin_fx_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
