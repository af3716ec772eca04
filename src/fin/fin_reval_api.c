/*
 * Finance: revaluation of foreign-currency balances.  An admin revalues an organization on a
 * date: the open balances of its `revalue` accounts in other currencies than the ledger's are
 * restated at the rates in force on that date, the differences going to the gain or loss
 * account given, in one posted entry of kind revaluation (journal adjustment) and its reversal
 * on the first day of the next period.  PostgreSQL computes and posts both (fin.revalue,
 * migration 0016); this handler checks the body and answers the revaluation entry.
 */
#include "fin/fin_reval.h"
#include "access/access.h"

static const keel_field_spec create_spec[] = {
    {.name = "date",
     .type = KEEL_F_STRING,
     .required = true,
     .check = fin_date_valid,
     .check_msg = FIN_DATE_RULE,
     .format = "date",
     .description = "The day whose rates in force restate the balances (in an open period "
                    "followed by an open one)"},
    {.name = "gain_account_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "An active income or expense account of the organization: takes the gains"},
    {.name = "loss_account_id",
     .type = KEEL_F_UUID,
     .required = true,
     .description = "An active income or expense account of the organization: takes the losses"},
};

static keel_err
reval_create(keel_req *req, void *ctx)
{
	keel_fin *fin = ctx;
	const char *org_id = fin_path_id(req, "id"), *key;
	json_t *body;
	fin_ledger lg;
	fin_row row = {0};
	keel_tx *tx;
	bool replayed;
	keel_err err;

	if (org_id == NULL)
		return fin_not_found(req, "organization");
	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if (keel_json_check(body, create_spec, KEEL_NELEM(create_spec), keel_req_errors(req)) > 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "the revaluation is invalid");
	fin_reval_in in = {json_string_value(json_object_get(body, "date")),
	                   json_string_value(json_object_get(body, "gain_account_id")),
	                   json_string_value(json_object_get(body, "loss_account_id"))};

	if ((err = keel_svc_tx(req, fin->pool, &tx)) != KEEL_OK ||
	    (err = fin_ledger_require(req, tx, org_id, &lg)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	if ((err = fin_reval_store_run(tx, keel_req_arena(req), org_id, &in, &row)) != KEEL_OK)
		return fin_fail(req, tx, err, NULL);
	const char *location =
	    keel_arena_printf(keel_req_arena(req), "/api/v1/journal-entries/%s", row.id);

	return keel_svc_finish(req, tx, err, NULL, fin_reply(201, &row, location, key));
}

/* The answer is a journal entry as GET /api/v1/journal-entries/{id} gives it. */
static const keel_schema reval_schema = {
    .name = "Revaluation",
    .json = "{\"$ref\":\"#/components/schemas/JournalEntry\",\"description\":\"The posted "
            "revaluation entry (kind revaluation, journal adjustment) with its lines; "
            "reversed_by_id names its reversal\"}"};

static const keel_body create_body = KEEL_BODY("RevaluationCreate", create_spec);

static const keel_param create_params[] = {FIN_ORG_PARAM, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/revaluations",
     .handler = reval_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Revalue the foreign-currency balances of revalue accounts at the rates of a "
                "date: a posted revaluation entry and its reversal in the next period",
     .operation_id = "createRevaluation",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &reval_schema},
     .params = create_params,
     .problems = {409}},
};

void
fin_reval_routes(keel_router *r, keel_fin *fin)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), fin);
}
