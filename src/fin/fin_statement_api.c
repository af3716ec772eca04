/*
 * Finance: the financial statements (viewer and up).
 *
 *   GET /api/v1/organizations/{id}/balance-sheet?as_of=
 *   GET /api/v1/organizations/{id}/income-statement?from=&to=
 *
 * Both read the posted lines (fin.postings), as the trial balance does, and list by section
 * (account type) the accounts with a posting, and every group above one of them with its
 * descendants rolled up, in code order (bytewise), each with its balance in its normal sign:
 * debit-normal (assets, expenses) positive when debit, credit-normal (liabilities, equity,
 * income) positive when credit.  A section's total, and the statement's figures, are of the
 * leaf accounts only.  The dates are required: a missing or malformed one, or from after to,
 * is 400.
 *
 * The balance sheet at as_of: assets, liabilities and equity; current_year_result, the
 * income less the expenses of the fiscal year of as_of up to as_of (the latest fiscal year
 * starting on or before it); result_of_unclosed_years, that of the earlier years not closed
 * by a closing entry.  assets = liabilities + equity + result_of_unclosed_years +
 * current_year_result, exactly.  The income statement from..to: income, expense, result =
 * income - expense.  Closing entries stay out of results (fin_statement_store.c says how).
 */
#include "fin/fin_int.h"
#include "access/access.h"
#include "core/date.h"

#include <string.h>

/* ?name=, a date, required: 400 when missing or malformed. */
static keel_err
query_date(keel_req *req, const char *name, const char **text, int32_t *days)
{
	*text = keel_req_query(req, name);
	if (*text == NULL)
		return keel_req_fail(req, KEEL_EMALFORMED, name, "%s is required: a date YYYY-MM-DD", name);
	if (!keel_date_parse(*text, days))
		return keel_req_fail(req, KEEL_EMALFORMED, name, "%s must be a date YYYY-MM-DD", name);
	return KEEL_OK;
}

/* The organization of the path with its ledger, in a transaction: *org NULL answered 404. */
static keel_err
begin(keel_req *req, keel_fin *fin, keel_tx **tx, fin_ledger *ledger)
{
	const char *org = fin_path_id(req, "id");
	keel_err err;

	if ((err = keel_svc_tx(req, fin->pool, tx)) != KEEL_OK)
		return err;
	return fin_ledger_require(req, *tx, org, ledger);
}

static keel_err
balance_sheet(keel_req *req, void *ctx)
{
	const char *as_of, *json = NULL;
	int32_t day;
	fin_ledger ledger;
	keel_tx *tx;
	keel_err err;

	if (fin_path_id(req, "id") == NULL)
		return fin_not_found(req, "organization");
	if ((err = query_date(req, "as_of", &as_of, &day)) != KEEL_OK ||
	    (err = begin(req, ctx, &tx, &ledger)) != KEEL_OK)
		return err;
	err = fin_statement_store_balance_sheet(tx, keel_req_arena(req), &ledger, as_of, &json);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 200, .text = json});
}

static keel_err
income_statement(keel_req *req, void *ctx)
{
	const char *from, *to, *json = NULL;
	int32_t f, t;
	fin_ledger ledger;
	keel_tx *tx;
	keel_err err;

	if (fin_path_id(req, "id") == NULL)
		return fin_not_found(req, "organization");
	if ((err = query_date(req, "from", &from, &f)) != KEEL_OK ||
	    (err = query_date(req, "to", &to, &t)) != KEEL_OK)
		return err;
	if (f > t)
		return keel_req_fail(req, KEEL_EMALFORMED, "from", "from must not be after to");
	if ((err = begin(req, ctx, &tx, &ledger)) != KEEL_OK)
		return err;
	err = fin_statement_store_income(tx, keel_req_arena(req), &ledger, from, to, &json);
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 200, .text = json});
}

/* ---- routes ---- */

/* A section: its type (one of types, a JSON array text), its accounts and total. */
#define SECTION(types)                                                                             \
	"{\"type\":\"object\",\"required\":[\"type\",\"accounts\",\"total\"],\"properties\":{"         \
	"\"type\":{\"type\":\"string\",\"enum\":" types "},\"accounts\":{\"type\":\"array\","          \
	"\"items\":{\"type\":\"object\",\"required\":[\"account_id\",\"code\",\"name\",\"balance\"],"  \
	"\"properties\":{\"account_id\":" FIN_UUID ",\"code\":{\"type\":\"string\"},\"name\":{"        \
	"\"type\":\"string\"},\"balance\":" FIN_AMOUNT "}}},\"total\":" FIN_AMOUNT "}}"

static const keel_schema balance_sheet_schema = {
    .name = "BalanceSheet",
    .json = "{\"type\":\"object\",\"required\":[\"as_of\",\"currency\",\"assets\",\"liabilities\","
            "\"equity\",\"result_of_unclosed_years\",\"current_year_result\",\"sections\"],"
            "\"properties\":{\"as_of\":" FIN_DATE ",\"currency\":{\"type\":\"string\"},"
            "\"assets\":" FIN_AMOUNT ",\"liabilities\":" FIN_AMOUNT ",\"equity\":" FIN_AMOUNT
            ",\"result_of_unclosed_years\":" FIN_AMOUNT ",\"current_year_result\":" FIN_AMOUNT
            ",\"sections\":{\"type\":\"array\",\"items\":" SECTION(
                "[\"asset\",\"liability\",\"equity\"]") "}}}"};

static const keel_schema income_statement_schema = {
    .name = "IncomeStatement",
    .json =
        "{\"type\":\"object\",\"required\":[\"from\",\"to\",\"currency\",\"income\","
        "\"expense\",\"result\",\"sections\"],\"properties\":{\"from\":" FIN_DATE
        ",\"to\":" FIN_DATE ",\"currency\":{\"type\":\"string\"},\"income\":" FIN_AMOUNT
        ",\"expense\":" FIN_AMOUNT ",\"result\":" FIN_AMOUNT
        ",\"sections\":{\"type\":\"array\",\"items\":" SECTION("[\"income\",\"expense\"]") "}}}"};

static const keel_param balance_sheet_params[] = {
    FIN_ORG_PARAM,
    {"as_of", "query", FIN_DATE, "The day (required): the postings up to and including it"},
    {0}};

static const keel_param income_statement_params[] = {
    FIN_ORG_PARAM,
    {"from", "query", FIN_DATE, "First day (required)"},
    {"to", "query", FIN_DATE, "Last day (required), not before from"},
    {0}};

static const keel_route routes[] = {
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/balance-sheet",
     .handler = balance_sheet,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "The balance sheet at ?as_of=: assets, liabilities and equity by account, "
                "groups rolled up, with the results not yet closed",
     .operation_id = "getBalanceSheet",
     .reply = {200, KEEL_SHAPE_ONE, &balance_sheet_schema},
     .params = balance_sheet_params,
     .problems = {409}},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/income-statement",
     .handler = income_statement,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "The income statement ?from= ?to=: income and expense by account, groups "
                "rolled up, closing entries left out",
     .operation_id = "getIncomeStatement",
     .reply = {200, KEEL_SHAPE_ONE, &income_statement_schema},
     .params = income_statement_params,
     .problems = {409}},
};

void
fin_statement_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
