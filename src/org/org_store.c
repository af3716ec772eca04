/*
 * The org module's SQL.
 *
 * Rows leave PostgreSQL already rendered as the API's JSON
 * (json_build_object), so a read costs no JSON work in keel: the text goes
 * to the client after one pass that makes it compact, the style of every
 * body (keel_res_json, keel_svc_list_add; src/db/json_text.c).  Each list filter combination has
 * its own statement, so that every prepared (generic) plan can use its index: the tenant-leading
 * primary key, (tenant_id, status, id), or the (tenant_id, trigrams) index for ?q=.  Every
 * statement names tenant_id = core.current_tenant_id() on top of row-level security.
 *
 * Domain events: each write below enqueues its event into the outbox in the
 * same transaction (one keel_events_enqueue() per changed row), with the row
 * JSON the statement already returned as the event's data: no extra
 * statement, and the outbox row rides in the COMMIT's pipeline.  A delete
 * returns the rows as they were, for the same reason.
 */
#include "org/org_int.h"
#include "events/events.h"

#include <stdlib.h>
#include <string.h>

#define CURRENT "core.current_tenant_id()"

#define ORG_JSON                                                                                   \
	"json_build_object('id', o.id, 'tenant_id', o.tenant_id, 'name', o.name, 'code', o.code,"      \
	" 'description', o.description, 'status', o.status, 'settings', o.settings,"                   \
	" 'version', o.version, 'created_at', " KEEL_DB_TS(                                            \
	    "o.created_at") ", 'updated_at', " KEEL_DB_TS("o.updated_at") ")::text"
#define ORG_ROW "o.id, o.version, " ORG_JSON

#define DIV_JSON                                                                                   \
	"json_build_object('id', d.id, 'tenant_id', d.tenant_id, 'organization_id',"                   \
	" d.organization_id, 'parent_id', d.parent_id, 'name', d.name, 'code', d.code,"                \
	" 'description', d.description, 'version', d.version, 'created_at', " KEEL_DB_TS(              \
	    "d.created_at") ", 'updated_at', " KEEL_DB_TS("d.updated_at") ")::text"
#define DIV_ROW "d.id, d.version, " DIV_JSON

#define ORG_LIST(name, where)                                                                      \
	{                                                                                              \
		name,                                                                                      \
		    "SELECT " ORG_ROW " FROM org.organizations o WHERE o.tenant_id = " CURRENT where       \
		    " AND ($1::uuid IS NULL OR o.id > $1::uuid) ORDER BY o.id LIMIT $2::integer",          \
		    4                                                                                      \
	}

static const keel_stmt st_org_create = {
    "org_create",
    "INSERT INTO org.organizations AS o (tenant_id, id, name, code, description, status, settings)"
    " VALUES (" CURRENT ", $1, $2, $3, coalesce($4, ''), coalesce($5, 'active'),"
    " coalesce($6::jsonb, '{}')) RETURNING " ORG_ROW,
    6};
static const keel_stmt st_org_get = {
    "org_get",
    "SELECT " ORG_ROW " FROM org.organizations o WHERE o.tenant_id = " CURRENT " AND o.id = $1", 1};
static const keel_stmt st_org_exists = {
    "org_exists", "SELECT 1 FROM org.organizations o WHERE o.tenant_id = " CURRENT " AND o.id = $1",
    1};
/*
 * $3 status and $4 pattern are unused by the statements that don't filter on
 * them.  ?q= goes through org.search_organizations() (migrations 0003 and
 * 0009 say why), whose GIN index (tenant_id, text) yields only the tenant's
 * rows.  A q without a trigram (no three letters or digits in a row) would
 * make that index read its whole trigram column, every tenant's entries: such
 * a q is matched here instead, on the tenant's own rows along the primary key
 * (or (tenant_id, status, id)), against the same text the search table holds.
 */
#define SEARCH_TEXT "lower(o.name) || E'\\n' || lower(o.code)"
#define SEARCH_IDS  "o.id IN (SELECT org.search_organizations(lower($4)))"
static const keel_stmt st_org_list[6] = {
    ORG_LIST("org_list", " AND $3::text IS NULL AND $4::text IS NULL"),
    ORG_LIST("org_list_status", " AND o.status = $3 AND $4::text IS NULL"),
    ORG_LIST("org_list_q", " AND $3::text IS NULL AND " SEARCH_IDS),
    ORG_LIST("org_list_status_q", " AND o.status = $3 AND " SEARCH_IDS),
    ORG_LIST("org_list_q_rows", " AND $3::text IS NULL AND " SEARCH_TEXT " LIKE lower($4)"),
    ORG_LIST("org_list_status_q_rows", " AND o.status = $3 AND " SEARCH_TEXT " LIKE lower($4)"),
};
static const keel_stmt st_org_update = {
    "org_update",
    "UPDATE org.organizations AS o SET name = coalesce($2, o.name), code = coalesce($3, o.code),"
    " description = coalesce($4, o.description), status = coalesce($5, o.status),"
    " settings = coalesce($6::jsonb, o.settings), version = o.version + 1, updated_at = now()"
    " WHERE o.tenant_id = " CURRENT " AND o.id = $1 AND ($7::integer IS NULL OR o.version = $7)"
    " RETURNING " ORG_ROW,
    7};
/*
 * Deleting an organization: org_lock takes its row at the version asked for,
 * then org_delete deletes its divisions and it, returning each as it was.
 * The divisions are deleted here rather than by the foreign key's cascade so
 * that each gets its event; the lock comes first so that no division can be
 * added in between (adding one share-locks the organization's row), which a
 * single statement could not promise: its snapshot predates the wait.
 */
static const keel_stmt st_org_lock = {
    "org_lock",
    "SELECT o.id FROM org.organizations o WHERE o.tenant_id = " CURRENT
    " AND o.id = $1 AND ($2::integer IS NULL OR o.version = $2::integer) FOR UPDATE",
    2};
static const keel_stmt st_org_delete = {
    "org_delete",
    "WITH d AS (DELETE FROM org.divisions d WHERE d.tenant_id = " CURRENT
    " AND d.organization_id = $1 RETURNING d.id, " DIV_JSON " AS row_json),"
    " o AS (DELETE FROM org.organizations o WHERE o.tenant_id = " CURRENT
    " AND o.id = $1 RETURNING o.id, " ORG_JSON " AS row_json)"
    " SELECT false AS is_org, id, row_json FROM d UNION ALL SELECT true, id, row_json FROM o"
    " ORDER BY 1, 2",
    1};
static const keel_stmt st_org_version = {
    "org_version",
    "SELECT o.version FROM org.organizations o WHERE o.tenant_id = " CURRENT " AND o.id = $1", 1};

#define DIV_LIST(name, where)                                                                      \
	{                                                                                              \
		name,                                                                                      \
		    "SELECT " DIV_ROW " FROM org.divisions d WHERE d.tenant_id = " CURRENT                 \
		    " AND d.organization_id = $3" where                                                    \
		    " AND ($1::uuid IS NULL OR d.id > $1::uuid) ORDER BY d.id LIMIT $2::integer",          \
		    4                                                                                      \
	}

static const keel_stmt st_div_create = {
    "div_create",
    "INSERT INTO org.divisions AS d (tenant_id, id, organization_id, parent_id, name, code,"
    " description) VALUES (" CURRENT ", $1, $2, $3, $4, $5, coalesce($6, ''))"
    " RETURNING " DIV_ROW,
    6};
static const keel_stmt st_div_get = {
    "div_get",
    "SELECT " DIV_ROW " FROM org.divisions d WHERE d.tenant_id = " CURRENT " AND d.id = $1", 1};
static const keel_stmt st_div_list[3] = {
    DIV_LIST("div_list", " AND $4::uuid IS NULL"),
    DIV_LIST("div_list_parent", " AND d.parent_id = $4::uuid"),
    DIV_LIST("div_list_roots", " AND d.parent_id IS NULL AND $4::uuid IS NULL"),
};
static const keel_stmt st_div_update = {
    "div_update",
    "UPDATE org.divisions AS d SET name = coalesce($2, d.name), code = coalesce($3, d.code),"
    " description = coalesce($4, d.description),"
    " parent_id = CASE WHEN $5::boolean THEN $6::uuid ELSE d.parent_id END,"
    " version = d.version + 1, updated_at = now()"
    " WHERE d.tenant_id = " CURRENT " AND d.id = $1 AND ($7::integer IS NULL OR d.version = $7)"
    " RETURNING " DIV_ROW,
    7};
/*
 * The lock the cycle trigger (migration 0003, org.divisions_check_cycle) takes
 * on the division's organization, with the very same key.  A move takes it
 * before its UPDATE locks any row: taken first inside the trigger, two
 * opposite moves deadlock (each holds its row, which the other's foreign-key
 * check must share, while waiting for the lock), and one of them gets 503
 * instead of the 422 it deserves.
 */
static const keel_stmt st_div_lock_tree = {
    "div_lock_tree",
    "SELECT pg_advisory_xact_lock(hashtextextended(d.tenant_id::text || d.organization_id::text,"
    " 0)) FROM org.divisions d WHERE d.tenant_id = " CURRENT " AND d.id = $1",
    1};
static const keel_stmt st_div_delete = {
    "div_delete",
    "DELETE FROM org.divisions d WHERE d.tenant_id = " CURRENT
    " AND d.id = $1 AND ($2::integer IS NULL OR d.version = $2::integer)"
    " RETURNING d.id, " DIV_JSON,
    2};
static const keel_stmt st_div_delete_tree = {
    "div_delete_tree",
    "WITH RECURSIVE sub (id) AS ("
    " SELECT d.id FROM org.divisions d WHERE d.tenant_id = " CURRENT " AND d.id = $1"
    "  AND ($2::integer IS NULL OR d.version = $2::integer)"
    " UNION ALL"
    " SELECT c.id FROM org.divisions c JOIN sub ON c.parent_id = sub.id"
    "  WHERE c.tenant_id = " CURRENT ")"
    " DELETE FROM org.divisions d WHERE d.tenant_id = " CURRENT " AND d.id IN (SELECT id FROM sub)"
    " RETURNING d.id, " DIV_JSON,
    2};
static const keel_stmt st_div_version = {
    "div_version",
    "SELECT d.version FROM org.divisions d WHERE d.tenant_id = " CURRENT " AND d.id = $1", 1};

static keel_err
one_row(keel_arena *a, keel_res *res, org_row *row)
{
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	row->id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	row->version = atol(keel_res_get(res, 0, 1));
	row->json = keel_res_json(res, 0, 2, a);
	return KEEL_OK;
}

/* A write of one row, and its event (type) with the row's JSON as data. */
static keel_err
run_row(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *const *p, org_row *row,
        const char *type)
{
	keel_res *res;
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err == KEEL_OK)
		err = one_row(a, res, row);
	return err != KEEL_OK ? err : keel_events_enqueue(tx, type, row->id, row->json);
}

/* A read that is the whole transaction: one round trip (keel_tx_exec_only). */
static keel_err
read_row(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *const *p, org_row *row)
{
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, st, p, &res);

	return err != KEEL_OK ? err : one_row(a, res, row);
}

static keel_err
run_page(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *const *p, org_page *page,
         bool only)
{
	keel_res *res;
	keel_err err = only ? keel_tx_exec_only(tx, st, p, &res) : keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&page->list, keel_res_get(res, i, 2));
	page->last_id = n > 0 ? keel_arena_strdup(a, keel_res_get(res, n - 1, 0)) : NULL;
	return KEEL_OK;
}

keel_err
org_store_create(keel_tx *tx, keel_arena *a, const char *id, const org_input *in, org_row *row)
{
	const char *p[] = {id, in->name, in->code, in->description, in->status, in->settings};

	return run_row(tx, a, &st_org_create, p, row, "keel.organization.created");
}

keel_err
org_store_get(keel_tx *tx, keel_arena *a, const char *id, org_row *row)
{
	const char *p[] = {id};

	return read_row(tx, a, &st_org_get, p, row);
}

keel_err
org_store_exists(keel_tx *tx, const char *id)
{
	keel_res *res;
	const char *p[] = {id};
	keel_err err = keel_tx_exec(tx, &st_org_exists, p, &res);

	if (err != KEEL_OK)
		return err;
	return keel_res_rows(res) == 1 ? KEEL_OK : KEEL_ENOTFOUND;
}

/* LIKE pattern for a case-insensitive substring: lowercased, %, _ and \ escaped. */
static char *
like_pattern(keel_arena *a, const char *q)
{
	keel_buf b;

	keel_buf_init(&b, a);
	keel_buf_puts(&b, "%");
	for (const char *c = q; *c != '\0'; c++) {
		if (*c == '%' || *c == '_' || *c == '\\')
			keel_buf_append(&b, "\\", 1);
		char lower = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;

		keel_buf_append(&b, &lower, 1);
	}
	keel_buf_puts(&b, "%");
	return b.data;
}

/* Whether q has three ASCII letters or digits in a row: pg_trgm then finds a trigram in it. */
static bool
has_trigram(const char *q)
{
	int run = 0;

	for (const char *c = q; *c != '\0' && run < 3; c++)
		run = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))
		          ? run + 1
		          : 0;
	return run >= 3;
}

void
org_store_list_call(keel_arena *a, const char *status, const char *q, const char *after, int limit,
                    org_list_call *call)
{
	int which = (status != NULL ? 1 : 0) + (q == NULL ? 0 : has_trigram(q) ? 2 : 4);

	snprintf(call->limit, sizeof(call->limit), "%d", limit);
	call->st = &st_org_list[which];
	call->params[0] = after;
	call->params[1] = call->limit;
	call->params[2] = status;
	call->params[3] = q != NULL ? like_pattern(a, q) : NULL;
}

keel_err
org_store_list(keel_tx *tx, keel_arena *a, const char *status, const char *q, const char *after,
               int limit, org_page *page)
{
	org_list_call call;

	org_store_list_call(a, status, q, after, limit, &call);
	return run_page(tx, a, call.st, call.params, page, true);
}

keel_err
org_store_update(keel_tx *tx, keel_arena *a, const char *id, const org_input *in,
                 const char *version, org_row *row)
{
	const char *p[] = {id, in->name, in->code, in->description, in->status, in->settings, version};

	return run_row(tx, a, &st_org_update, p, row, "keel.organization.updated");
}

/* Delete with st (id, version), which returns (id, row JSON) of each deleted division. */
static keel_err
delete_divisions(keel_tx *tx, const keel_stmt *st, const char *id, const char *version)
{
	keel_res *res;
	const char *p[] = {id, version};
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) == 0)
		return KEEL_ENOTFOUND;
	for (int i = 0; i < keel_res_rows(res) && err == KEEL_OK; i++)
		err = keel_events_enqueue(tx, "keel.division.deleted", keel_res_get(res, i, 0),
		                          keel_res_get(res, i, 1));
	return err;
}

bool
org_store_keeps_books(keel_tx *tx)
{
	const char *c = keel_tx_constraint(tx);

	return strncmp(c, "ledgers_", 8) == 0 || strcmp(c, "journal_lines_division_fkey") == 0;
}

bool
org_store_keeps_people(keel_tx *tx)
{
	const char *c = keel_tx_constraint(tx);

	return strcmp(c, "employees_organization_fkey") == 0 ||
	       strcmp(c, "holiday_calendars_organization_fkey") == 0 ||
	       strcmp(c, "leave_types_organization_fkey") == 0 ||
	       strcmp(c, "positions_division_fkey") == 0;
}

keel_err
org_store_delete(keel_tx *tx, const char *id, const char *version)
{
	keel_res *res;
	const char *lp[] = {id, version};
	const char *dp[] = {id};
	keel_err err = keel_tx_exec(tx, &st_org_lock, lp, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	/* it keeps books (its ledger, or journal lines naming its divisions) or HR records (its
	 * employees, calendars, leave types, positions in its divisions): a foreign key refuses */
	if ((err = keel_tx_exec(tx, &st_org_delete, dp, &res)) != KEEL_OK)
		return err == KEEL_EINVAL && (org_store_keeps_books(tx) || org_store_keeps_people(tx))
		           ? KEEL_ECONFLICT
		           : err;
	for (int i = 0; i < keel_res_rows(res) && err == KEEL_OK; i++)
		err = keel_events_enqueue(tx,
		                          keel_res_get(res, i, 0)[0] == 't' ? "keel.organization.deleted"
		                                                            : "keel.division.deleted",
		                          keel_res_get(res, i, 1), keel_res_get(res, i, 2));
	return err;
}

keel_err
org_store_version(keel_tx *tx, bool division, const char *id, long *version)
{
	keel_res *res;
	const char *p[] = {id};
	keel_err err = keel_tx_exec(tx, division ? &st_div_version : &st_org_version, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*version = atol(keel_res_get(res, 0, 0));
	return KEEL_OK;
}

keel_err
div_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                 const org_input *in, org_row *row)
{
	const char *p[] = {id, org_id, in->parent_id, in->name, in->code, in->description};

	return run_row(tx, a, &st_div_create, p, row, "keel.division.created");
}

keel_err
div_store_get(keel_tx *tx, keel_arena *a, const char *id, org_row *row)
{
	const char *p[] = {id};

	return read_row(tx, a, &st_div_get, p, row);
}

keel_err
div_store_list(keel_tx *tx, keel_arena *a, const char *org_id, bool by_parent,
               const char *parent_id, const char *after, int limit, org_page *page)
{
	char lim[16];
	const char *p[] = {after, lim, org_id, parent_id};
	int which = !by_parent ? 0 : parent_id != NULL ? 1 : 2;

	snprintf(lim, sizeof(lim), "%d", limit);
	return run_page(tx, a, &st_div_list[which], p, page, false);
}

keel_err
div_store_update(keel_tx *tx, keel_arena *a, const char *id, const org_input *in,
                 const char *version, org_row *row)
{
	const char *p[] = {id,
	                   in->name,
	                   in->code,
	                   in->description,
	                   in->parent_given ? "true" : "false",
	                   in->parent_id,
	                   version};

	if (in->parent_given && in->parent_id != NULL) {
		const char *lp[] = {id};
		keel_err err = keel_tx_exec(tx, &st_div_lock_tree, lp, NULL);

		if (err != KEEL_OK)
			return err;
	}
	return run_row(tx, a, &st_div_update, p, row, "keel.division.updated");
}

keel_err
div_store_delete(keel_tx *tx, const char *id, const char *version, bool cascade)
{
	keel_err err =
	    delete_divisions(tx, cascade ? &st_div_delete_tree : &st_div_delete, id, version);

	if (err == KEEL_EINVAL && (strcmp(keel_tx_constraint(tx), "divisions_parent_fkey") == 0 ||
	                           org_store_keeps_books(tx) || org_store_keeps_people(tx)))
		return KEEL_ECONFLICT; /* it has children, or journal lines or positions name it */
	return err;
}
