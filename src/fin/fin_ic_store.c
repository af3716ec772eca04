/*
 * Intercompany entries' SQL (migration 0017).  The two journal entries are made and posted by
 * the journal entries' store (fin_entry.h); here: both sides' ledgers read in one statement,
 * and the link row, which leaves PostgreSQL as the API's JSON.
 */
#include "fin/fin_ic.h"

#include <string.h>

#define CURRENT "core.current_tenant_id()"

/* Organizations $1 and $2 in that order: found, its ledger's currency and intercompany accounts. */
static const keel_stmt st_ledgers = {
    "fin_ic_ledgers",
    "SELECT o.id IS NOT NULL, l.currency, l.intercompany_receivable_account_id,"
    " l.intercompany_payable_account_id"
    " FROM unnest(ARRAY[$1::uuid, $2::uuid]) WITH ORDINALITY AS u(id, n)"
    " LEFT JOIN org.organizations o ON o.tenant_id = " CURRENT " AND o.id = u.id"
    " LEFT JOIN fin.ledgers l ON l.tenant_id = o.tenant_id AND l.organization_id = o.id"
    " ORDER BY u.n",
    2};

#define IC_JSON                                                                                    \
	"json_build_object('id', i.id, 'from_entry_id', i.from_entry_id, 'to_entry_id',"               \
	" i.to_entry_id)::text"

static const keel_stmt st_link = {
    "fin_ic_link",
    "INSERT INTO fin.intercompany_entries AS i (tenant_id, id, from_organization_id,"
    " to_organization_id, from_entry_id, to_entry_id)"
    " VALUES (" CURRENT ", $1, $2, $3, $4, $5) RETURNING i.id, 0, " IC_JSON,
    5};

static const keel_stmt st_get = {"fin_ic_get",
                                 "SELECT i.id, 0, " IC_JSON " FROM fin.intercompany_entries i"
                                 " WHERE i.tenant_id = " CURRENT " AND i.id = $1",
                                 1};

static const char *
dup_or_null(keel_res *res, int row, int col, keel_arena *a)
{
	return keel_res_null(res, row, col) ? NULL : keel_arena_strdup(a, keel_res_get(res, row, col));
}

keel_err
fin_ic_store_ledgers(keel_tx *tx, keel_arena *a, const char *from_org, const char *to_org,
                     fin_ic_ledger out[2])
{
	const char *p[] = {from_org, to_org};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_ledgers, p, &res);

	memset(out, 0, 2 * sizeof(*out));
	if (err != KEEL_OK)
		return err;
	for (int i = 0; i < 2 && i < keel_res_rows(res); i++) {
		out[i].found = strcmp(keel_res_get(res, i, 0), "t") == 0;
		out[i].has_ledger = !keel_res_null(res, i, 1);
		if (out[i].has_ledger)
			snprintf(out[i].currency, sizeof(out[i].currency), "%s", keel_res_get(res, i, 1));
		out[i].receivable = dup_or_null(res, i, 2, a);
		out[i].payable = dup_or_null(res, i, 3, a);
	}
	return KEEL_OK;
}

keel_err
fin_ic_store_link(keel_tx *tx, keel_arena *a, const char *id, const char *from_org,
                  const char *to_org, const char *from_entry, const char *to_entry, fin_row *row)
{
	const char *p[] = {id, from_org, to_org, from_entry, to_entry};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_link, p, &res);

	if (err != KEEL_OK)
		return err;
	fin_store_row(res, 0, a, row);
	return KEEL_OK;
}

keel_err
fin_ic_store_get(keel_tx *tx, keel_arena *a, const char *id, fin_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_get, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	fin_store_row(res, 0, a, row);
	return KEEL_OK;
}
