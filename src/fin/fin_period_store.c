/*
 * Fiscal years and periods: the SQL.
 *
 * A fiscal year and its periods are made by fin.create_fiscal_year (migration 0012) in one
 * statement and read back, periods included, by the next: the function's rows are not in the
 * snapshot of the statement that called it.  Period actions are one UPDATE each, guarded by
 * the state they start from (open for close, closed for reopen and lock): the UPDATE takes the
 * period's row as FOR UPDATE does, so a close waits for postings in flight (they hold the row
 * FOR SHARE) and postings after it see it closed.  The rules of the transition (close in
 * order, reopen only the latest, lock earliest first, nothing leaves locked) are the trigger
 * fin.periods_transition's; an UPDATE that finds the period in another state changes nothing,
 * and the caller reads the state to name it (st_period_status).
 *
 * Lists are keyset-paged by start_date: neither fiscal years nor periods of one organization
 * overlap, so start_date is unique within the organization.  Each write enqueues its event with
 * the row's JSON in the same transaction.
 */
#include "fin/fin_int.h"
#include "events/events.h"
#include "core/uuid.h"
#include "fin/fin_entry.h"

#include <stdio.h>
#include <string.h>

#define CURRENT "core.current_tenant_id()"

#define PERIOD_JSON                                                                                \
	"json_build_object('id', p.id, 'organization_id', p.organization_id, 'fiscal_year_id',"        \
	" p.fiscal_year_id, 'name', p.name, 'start_date', p.start_date, 'end_date', p.end_date,"       \
	" 'status', p.status, 'closed_at', " KEEL_DB_TS(                                               \
	    "p.closed_at") ", 'closed_by', p.closed_by, 'version', p.version,"                         \
	                   " 'updated_at', " KEEL_DB_TS("p.updated_at") ")"
#define PERIOD_ROW "p.id, p.version, " PERIOD_JSON "::text"

/* A year with its periods in date order. */
#define YEAR_JSON                                                                                  \
	"json_build_object('id', f.id, 'organization_id', f.organization_id, 'name', f.name,"          \
	" 'start_date', f.start_date, 'end_date', f.end_date, 'period', f.period, 'status',"           \
	" f.status, 'periods', (SELECT coalesce(json_agg(" PERIOD_JSON " ORDER BY p.start_date),"      \
	" '[]') FROM fin.periods p WHERE p.tenant_id = " CURRENT " AND p.fiscal_year_id = f.id),"      \
	" 'version', f.version, 'created_at', " KEEL_DB_TS(                                            \
	    "f.created_at") ", 'updated_at', " KEEL_DB_TS("f.updated_at") ")::text"
#define YEAR_ROW "f.id, f.version, " YEAR_JSON

static const keel_stmt st_year_create = {
    "fin_year_create", "SELECT fin.create_fiscal_year($1, $2, $3, $4::date, $5::date, $6)", 6};
static const keel_stmt st_year_get = {
    "fin_year_get",
    "SELECT " YEAR_ROW " FROM fin.fiscal_years f WHERE f.tenant_id = " CURRENT " AND f.id = $1", 1};
static const keel_stmt st_year_list = {
    "fin_year_list",
    "SELECT " YEAR_ROW ", f.start_date::text FROM fin.fiscal_years f WHERE f.tenant_id = " CURRENT
    " AND f.organization_id = $1 AND ($2::date IS NULL OR f.start_date > $2::date)"
    " ORDER BY f.start_date LIMIT $3::integer",
    3};
static const keel_stmt st_period_list = {
    "fin_period_list",
    "SELECT " PERIOD_ROW ", p.start_date::text FROM fin.periods p WHERE p.tenant_id = " CURRENT
    " AND p.organization_id = $1 AND ($2::date IS NULL OR p.start_date > $2::date)"
    " ORDER BY p.start_date LIMIT $3::integer",
    3};

/* The actions: each from one state only; the trigger checks the order. */
static const keel_stmt st_period_close = {
    "fin_period_close",
    "UPDATE fin.periods AS p SET status = 'closed', closed_at = now(),"
    " closed_by = core.current_user_id(), version = p.version + 1, updated_at = now()"
    " WHERE p.tenant_id = " CURRENT " AND p.id = $1 AND p.status = 'open' RETURNING " PERIOD_ROW,
    1};
static const keel_stmt st_period_reopen = {
    "fin_period_reopen",
    "UPDATE fin.periods AS p SET status = 'open', reopen_reason = $2, version = p.version + 1,"
    " updated_at = now() WHERE p.tenant_id = " CURRENT
    " AND p.id = $1 AND p.status = 'closed' RETURNING " PERIOD_ROW,
    2};
static const keel_stmt st_period_lock = {
    "fin_period_lock",
    "UPDATE fin.periods AS p SET status = 'locked', version = p.version + 1, updated_at = now()"
    " WHERE p.tenant_id = " CURRENT " AND p.id = $1 AND p.status = 'closed' RETURNING " PERIOD_ROW,
    1};
static const keel_stmt st_year_close = {"fin_year_close",
                                        "SELECT unnest(fin.close_fiscal_year($1, $2))::text", 2};
static const keel_stmt st_period_status = {
    "fin_period_status",
    "SELECT p.status FROM fin.periods p WHERE p.tenant_id = " CURRENT " AND p.id = $1", 1};

/* The one row of res (id, version, json) into row; KEEL_ENOTFOUND when there is none. */
static keel_err
one_row(keel_res *res, keel_arena *a, fin_row *row)
{
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	fin_store_row(res, 0, a, row);
	return KEEL_OK;
}

keel_err
fin_year_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                      const fin_year_input *in, fin_row *row)
{
	const char *p[] = {id, org_id, in->name, in->start_date, in->end_date, in->period};
	const char *g[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_year_create, p, NULL);

	if (err == KEEL_OK)
		err = keel_tx_exec(tx, &st_year_get, g, &res);
	if (err == KEEL_OK)
		err = one_row(res, a, row);
	return err != KEEL_OK ? err
	                      : keel_events_enqueue(tx, "keel.fiscal_year.created", row->id, row->json);
}

keel_err
fin_year_store_get(keel_tx *tx, keel_arena *a, const char *id, fin_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_year_get, p, &res);

	return err != KEEL_OK ? err : one_row(res, a, row);
}

/* A page of st (organization, after, limit) whose rows end with their start_date. */
static keel_err
run_page(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *org_id, const char *after,
         int limit, fin_date_page *page)
{
	char lim[16];
	const char *p[] = {org_id, after, lim};
	keel_res *res;
	keel_err err;

	snprintf(lim, sizeof(lim), "%d", limit);
	if ((err = keel_tx_exec(tx, st, p, &res)) != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&page->list, keel_res_get(res, i, 2));
	page->last_start = n > 0 ? keel_arena_strdup(a, keel_res_get(res, n - 1, 3)) : NULL;
	return KEEL_OK;
}

keel_err
fin_year_store_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after, int limit,
                    fin_date_page *page)
{
	return run_page(tx, a, &st_year_list, org_id, after, limit, page);
}

keel_err
fin_period_store_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after, int limit,
                      fin_date_page *page)
{
	return run_page(tx, a, &st_period_list, org_id, after, limit, page);
}

keel_err
fin_period_store_act(keel_tx *tx, keel_arena *a, fin_period_action action, const char *id,
                     const char *reason, fin_row *row)
{
	static const keel_stmt *const stmts[] = {&st_period_close, &st_period_reopen, &st_period_lock};
	static const char *const events[] = {"keel.period.closed", "keel.period.reopened",
	                                     "keel.period.locked"};
	const char *p[] = {id, reason};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, stmts[action], p, &res);

	if (err == KEEL_OK)
		err = one_row(res, a, row);
	return err != KEEL_OK ? err : keel_events_enqueue(tx, events[action], row->id, row->json);
}

keel_err
fin_period_store_status(keel_tx *tx, keel_arena *a, const char *id, const char **status)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_period_status, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*status = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	return KEEL_OK;
}

/* Each closing entry of res (one id a row), read back with its keel.journal_entry.posted. */
static keel_err
closing_events(keel_tx *tx, keel_arena *a, keel_res *res)
{
	int n = keel_res_rows(res);
	keel_err err = KEEL_OK;

	for (int i = 0; i < n && err == KEEL_OK; i++) {
		fin_row entry = {0};

		err = fin_entry_store_event(tx, a, keel_arena_strdup(a, keel_res_get(res, i, 0)),
		                            "keel.journal_entry.posted", &entry);
	}
	return err;
}

keel_err
fin_year_store_close(keel_tx *tx, keel_arena *a, const char *id, fin_row *row)
{
	char entry[KEEL_UUID_STRLEN + 1];
	keel_uuid u;
	keel_res *res;
	keel_err err;

	keel_uuid_v7(&u);
	keel_uuid_format(&u, entry);
	const char *p[] = {id, entry};
	const char *g[] = {id};

	if ((err = keel_tx_exec(tx, &st_year_close, p, &res)) != KEEL_OK ||
	    (err = closing_events(tx, a, res)) != KEEL_OK ||
	    (err = keel_tx_exec(tx, &st_year_get, g, &res)) != KEEL_OK ||
	    (err = one_row(res, a, row)) != KEEL_OK)
		return err;
	return keel_events_enqueue(tx, "keel.fiscal_year.closed", row->id, row->json);
}
