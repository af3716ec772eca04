/*
 * The SQL of the ledger, the currencies and the chart of accounts.
 *
 * Rows leave PostgreSQL as the API's JSON (columns id, version, json: fin_store_row).  Each
 * write enqueues its event with that JSON in the same transaction; a delete returns the row
 * as it was, for its event.  The rules are migration 0012's: the composite foreign keys keep
 * a parent a group of the same type in the same organization and a ledger's accounts its
 * organization's; column grants keep code, type, parent, group flag and currency of an account
 * and a ledger's currency fixed.  The callers map the constraint names to fields.
 */
#include "fin/fin_int.h"
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>

#define CURRENT "core.current_tenant_id()"

#define LEDGER_JSON                                                                                \
	"json_build_object('organization_id', l.organization_id, 'currency', l.currency,"              \
	" 'rounding_account_id', l.rounding_account_id,"                                               \
	" 'retained_earnings_account_id', l.retained_earnings_account_id,"                             \
	" 'intercompany_receivable_account_id', l.intercompany_receivable_account_id,"                 \
	" 'intercompany_payable_account_id', l.intercompany_payable_account_id,"                       \
	" 'version', l.version, 'created_at', " KEEL_DB_TS(                                            \
	    "l.created_at") ", 'updated_at', " KEEL_DB_TS("l.updated_at") ")::text"
#define LEDGER_ROW "l.organization_id, l.version, " LEDGER_JSON

#define ACCOUNT_JSON                                                                               \
	"json_build_object('id', a.id, 'organization_id', a.organization_id, 'code', a.code,"          \
	" 'name', a.name, 'type', a.type, 'parent_id', a.parent_id, 'is_group', a.is_group,"           \
	" 'currency', a.currency, 'requires_division', a.requires_division,"                           \
	" 'revalue', a.revalue, 'status', a.status, 'version', a.version,"                             \
	" 'created_at', " KEEL_DB_TS("a.created_at") ", 'updated_at', " KEEL_DB_TS(                    \
	    "a.updated_at") ")::text"
#define ACCOUNT_ROW "a.id, a.version, " ACCOUNT_JSON

static const keel_stmt st_ledger_create = {
    "fin_ledger_create",
    "INSERT INTO fin.ledgers AS l (tenant_id, id, organization_id, currency)"
    " VALUES (" CURRENT ", $1, $1, $2) RETURNING " LEDGER_ROW,
    2};
/* The organization and its ledger: no row, the organization is not the tenant's. */
static const keel_stmt st_ledger_get = {
    "fin_ledger_get",
    "SELECT o.id, l.version, CASE WHEN l.id IS NOT NULL THEN " LEDGER_JSON " END"
    " FROM org.organizations o LEFT JOIN fin.ledgers l"
    " ON l.tenant_id = o.tenant_id AND l.organization_id = o.id"
    " WHERE o.tenant_id = " CURRENT " AND o.id = $1",
    1};
/* $2, $4, $6, $8: whether the field was given (then $3, $5, $7, $9 its value, maybe NULL). */
static const keel_stmt st_ledger_update = {
    "fin_ledger_update",
    "UPDATE fin.ledgers AS l SET"
    " rounding_account_id = CASE WHEN $2::boolean THEN $3::uuid ELSE l.rounding_account_id END,"
    " retained_earnings_account_id = CASE WHEN $4::boolean THEN $5::uuid"
    "  ELSE l.retained_earnings_account_id END,"
    " intercompany_receivable_account_id = CASE WHEN $6::boolean THEN $7::uuid"
    "  ELSE l.intercompany_receivable_account_id END,"
    " intercompany_payable_account_id = CASE WHEN $8::boolean THEN $9::uuid"
    "  ELSE l.intercompany_payable_account_id END,"
    " version = l.version + 1, updated_at = now()"
    " WHERE l.tenant_id = " CURRENT " AND l.organization_id = $1"
    " AND ($10::integer IS NULL OR l.version = $10::integer) RETURNING " LEDGER_ROW,
    10};

static const keel_stmt st_currencies = {
    "fin_currencies",
    "SELECT json_build_object('code', c.code, 'name', c.name, 'minor_units', c.minor_units)::text"
    " FROM fin.currencies c ORDER BY c.code",
    0};

static const keel_stmt st_account_create = {
    "fin_account_create",
    "INSERT INTO fin.accounts AS a (tenant_id, id, organization_id, code, name, type, parent_id,"
    " is_group, currency, requires_division, revalue) VALUES (" CURRENT ", $1, $2, $3, $4, $5,"
    " $6, coalesce($7::boolean, false), $8, coalesce($9::boolean, false),"
    " coalesce($10::boolean, false)) RETURNING " ACCOUNT_ROW,
    10};
static const keel_stmt st_account_get = {
    "fin_account_get",
    "SELECT " ACCOUNT_ROW " FROM fin.accounts a WHERE a.tenant_id = " CURRENT " AND a.id = $1", 1};
static const keel_stmt st_account_update = {
    "fin_account_update",
    "UPDATE fin.accounts AS a SET name = coalesce($2, a.name), status = coalesce($3, a.status),"
    " requires_division = coalesce($4::boolean, a.requires_division),"
    " revalue = coalesce($5::boolean, a.revalue), version = a.version + 1, updated_at = now()"
    " WHERE a.tenant_id = " CURRENT " AND a.id = $1"
    " AND ($6::integer IS NULL OR a.version = $6::integer) RETURNING " ACCOUNT_ROW,
    6};
static const keel_stmt st_account_delete = {
    "fin_account_delete",
    "DELETE FROM fin.accounts a WHERE a.tenant_id = " CURRENT " AND a.id = $1"
    " AND ($2::integer IS NULL OR a.version = $2::integer) RETURNING " ACCOUNT_ROW,
    2};
static const keel_stmt st_account_version = {
    "fin_account_version",
    "SELECT a.version FROM fin.accounts a WHERE a.tenant_id = " CURRENT " AND a.id = $1", 1};

/*
 * The chart in code order, after the code $1 (the cursor; '' for the first page, before every
 * code), one statement per filter so that each generic plan reads the code index (tenant_id,
 * organization_id, code) in order from the cursor: $4 the type, $5 the parent (unused where the
 * statement does not filter on them).  "$1 IS NULL OR a.code > $1" would be a filter, not an
 * index condition, in the generic plan: each page would read the chart from its start.
 */
#define ACCOUNT_LIST(name, where)                                                                  \
	{                                                                                              \
		name,                                                                                      \
		    "SELECT " ACCOUNT_ROW ", a.code FROM fin.accounts a WHERE a.tenant_id = " CURRENT      \
		    " AND a.organization_id = $3" where " AND a.code > $1::text"                           \
		    " ORDER BY a.code LIMIT $2::integer",                                                  \
		    5                                                                                      \
	}
#define ANY_TYPE   " AND $4::text IS NULL"
#define BY_TYPE    " AND a.type = $4::text"
#define ANY_PARENT " AND $5::uuid IS NULL"
#define BY_PARENT  " AND a.parent_id = $5::uuid"
#define TOP_LEVEL  " AND a.parent_id IS NULL AND $5::uuid IS NULL"

/* Indexed by fin_account_filter's parent (0 any, 1 one, 2 top level) * 2 + by type. */
static const keel_stmt st_account_list[6] = {
    ACCOUNT_LIST("fin_account_list", ANY_TYPE ANY_PARENT),
    ACCOUNT_LIST("fin_account_list_type", BY_TYPE ANY_PARENT),
    ACCOUNT_LIST("fin_account_list_parent", ANY_TYPE BY_PARENT),
    ACCOUNT_LIST("fin_account_list_type_parent", BY_TYPE BY_PARENT),
    ACCOUNT_LIST("fin_account_list_top", ANY_TYPE TOP_LEVEL),
    ACCOUNT_LIST("fin_account_list_type_top", BY_TYPE TOP_LEVEL),
};

/* A write of one row (id, version, json) and its event with the row's JSON as data. */
static keel_err
write_row(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *const *p, fin_row *row,
          const char *type)
{
	keel_res *res;
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	fin_store_row(res, 0, a, row);
	return keel_events_enqueue(tx, type, row->id, row->json);
}

keel_err
fin_store_ledger_create(keel_tx *tx, keel_arena *a, const char *org_id, const char *currency,
                        fin_row *row)
{
	const char *p[] = {org_id, currency};

	return write_row(tx, a, &st_ledger_create, p, row, "keel.ledger.created");
}

keel_err
fin_store_ledger_get(keel_tx *tx, keel_arena *a, const char *org_id, fin_row *row)
{
	const char *p[] = {org_id};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_ledger_get, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	if (keel_res_null(res, 0, 2))
		return KEEL_ECONFLICT;
	fin_store_row(res, 0, a, row);
	return KEEL_OK;
}

keel_err
fin_store_ledger_update(keel_tx *tx, keel_arena *a, const char *org_id, const fin_ledger_input *in,
                        const char *version, fin_row *row)
{
	const char *p[10] = {org_id};

	for (int i = 0; i < FIN_LEDGER_ACCOUNTS; i++) {
		p[1 + 2 * i] = in->given[i] ? "true" : "false";
		p[2 + 2 * i] = in->account[i];
	}
	p[9] = version;
	return write_row(tx, a, &st_ledger_update, p, row, "keel.ledger.updated");
}

keel_err
fin_store_currencies(keel_tx *tx, keel_svc_list *list)
{
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_currencies, NULL, &res);

	for (int i = 0; err == KEEL_OK && i < keel_res_rows(res); i++)
		keel_svc_list_add(list, keel_res_get(res, i, 0));
	return err;
}

keel_err
fin_store_account_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                         const fin_account_input *in, fin_row *row)
{
	const char *p[] = {id,           org_id,       in->code,
	                   in->name,     in->type,     in->parent_id,
	                   in->is_group, in->currency, in->requires_division,
	                   in->revalue};

	return write_row(tx, a, &st_account_create, p, row, "keel.account.created");
}

keel_err
fin_store_account_get(keel_tx *tx, keel_arena *a, const char *id, fin_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_account_get, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	fin_store_row(res, 0, a, row);
	return KEEL_OK;
}

const keel_stmt *
fin_store_account_list_stmt(const fin_account_filter *f)
{
	return &st_account_list[f->parent * 2 + (f->type != NULL ? 1 : 0)];
}

keel_err
fin_store_account_list(keel_tx *tx, keel_arena *a, const char *org_id, const fin_account_filter *f,
                       int limit, fin_account_page *page)
{
	char lim[16];
	const char *p[] = {f->after_code != NULL ? f->after_code : "", lim, org_id, f->type,
	                   f->parent_id};
	keel_res *res;

	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, fin_store_account_list_stmt(f), p, &res);

	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&page->list, keel_res_get(res, i, 2));
	page->last_code = n > 0 ? keel_arena_strdup(a, keel_res_get(res, n - 1, 3)) : NULL;
	return KEEL_OK;
}

keel_err
fin_store_account_update(keel_tx *tx, keel_arena *a, const char *id, const fin_account_input *in,
                         const char *version, fin_row *row)
{
	const char *p[] = {id, in->name, in->status, in->requires_division, in->revalue, version};

	return write_row(tx, a, &st_account_update, p, row, "keel.account.updated");
}

keel_err
fin_store_account_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version)
{
	const char *p[] = {id, version};
	fin_row row;

	return write_row(tx, a, &st_account_delete, p, &row, "keel.account.deleted");
}

keel_err
fin_store_account_version(keel_tx *tx, const char *id, long *version)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_account_version, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*version = strtol(keel_res_get(res, 0, 0), NULL, 10);
	return KEEL_OK;
}
