/*
 * The ledger lookup every organization-scoped Finance route starts with.  The module's SQL
 * is in its parts' stores (fin_*_store.c); the rules it relies on are migration 0012's.
 */
#include "fin/fin_int.h"

#include <stdlib.h>
#include <string.h>

/* The organization, and its ledger when it has one: 404 and 409 told apart in one statement. */
static const keel_stmt st_ledger = {
    "fin_ledger",
    "SELECT l.currency, c.minor_units FROM org.organizations o"
    " LEFT JOIN fin.ledgers l ON l.tenant_id = o.tenant_id AND l.organization_id = o.id"
    " LEFT JOIN fin.currencies c ON c.code = l.currency"
    " WHERE o.tenant_id = core.current_tenant_id() AND o.id = $1",
    1};

keel_err
fin_store_ledger(keel_tx *tx, keel_arena *a, const char *org_id, fin_ledger *out)
{
	const char *p[] = {org_id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_ledger, p, &res);

	memset(out, 0, sizeof(*out));
	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	if (keel_res_null(res, 0, 0))
		return KEEL_ECONFLICT;
	out->organization_id = keel_arena_strdup(a, org_id);
	snprintf(out->currency, sizeof(out->currency), "%s", keel_res_get(res, 0, 0));
	out->minor_units = atoi(keel_res_get(res, 0, 1));
	return KEEL_OK;
}

void
fin_store_row(keel_res *res, int i, keel_arena *a, fin_row *row)
{
	row->id = keel_arena_strdup(a, keel_res_get(res, i, 0));
	row->version = strtol(keel_res_get(res, i, 1), NULL, 10);
	row->json = keel_res_json(res, i, 2, a);
}
