/*
 * The tenancy module's SQL.  Creating a tenant goes through the SECURITY
 * DEFINER function core.create_tenant(), which also scopes the rest of the
 * transaction to the new tenant, so the owner's user row follows under
 * row-level security like any other write.  Creating and renaming enqueue
 * keel.tenant.created / keel.tenant.updated in the same transaction.
 */
#include "tenancy/tenancy_int.h"
#include "events/events.h"

#include <stdlib.h>
#include <string.h>

#define TENANT_COLS                                                                                \
	"id, name, slug, status, version, " KEEL_DB_TS("created_at") ", " KEEL_DB_TS(                  \
	    "updated_at") ", " KEEL_DB_TS("suspended_at")

static const keel_stmt st_create = {
    "tenancy_create", "SELECT " TENANT_COLS " FROM core.create_tenant($1, $2, $3)", 3};
static const keel_stmt st_get = {
    "tenancy_get", "SELECT " TENANT_COLS " FROM core.tenants WHERE id = core.current_tenant_id()",
    0};
static const keel_stmt st_rename = {
    "tenancy_rename",
    "UPDATE core.tenants SET name = $1, version = version + 1, updated_at = now()"
    " WHERE id = core.current_tenant_id() AND ($2::integer IS NULL OR version = $2::integer)"
    " RETURNING " TENANT_COLS,
    2};

/* The operator's statements (as the owner role: keel_app may not change a tenant's status). */
static const keel_stmt st_id_by_slug = {"tenancy_id_by_slug",
                                        "SELECT id, status FROM core.tenants WHERE slug = $1", 1};
static const keel_stmt st_suspend = {
    "tenancy_suspend",
    "UPDATE core.tenants SET status = 'suspended', suspended_at = now(), suspended_reason = $1,"
    " version = version + 1, updated_at = now()"
    " WHERE id = core.current_tenant_id() AND status = 'active' RETURNING " TENANT_COLS,
    1};
static const keel_stmt st_resume = {
    "tenancy_resume",
    "UPDATE core.tenants SET status = 'active', suspended_at = NULL, suspended_reason = NULL,"
    " version = version + 1, updated_at = now()"
    " WHERE id = core.current_tenant_id() AND status = 'suspended' RETURNING " TENANT_COLS,
    0};

static void
json_release(void *p)
{
	json_decref(p);
}

static keel_err
tenant_row(keel_arena *a, keel_res *res, json_t **out)
{
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id", keel_res_get(res, 0, 0), "name",
	                 keel_res_get(res, 0, 1), "slug", keel_res_get(res, 0, 2), "status",
	                 keel_res_get(res, 0, 3), "version", (json_int_t)atoll(keel_res_get(res, 0, 4)),
	                 "created_at", keel_res_get(res, 0, 5), "updated_at", keel_res_get(res, 0, 6));
	if (*out == NULL)
		return KEEL_EINTERNAL;
	json_object_set_new(*out, "suspended_at",
	                    keel_res_null(res, 0, 7) ? json_null()
	                                             : json_string(keel_res_get(res, 0, 7)));
	keel_arena_defer(a, json_release, *out);
	return KEEL_OK;
}

keel_err
tenancy_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *name, const char *slug,
                     json_t **tenant)
{
	keel_res *res;
	const char *p[] = {id, name, slug};
	keel_err err = keel_tx_exec(tx, &st_create, p, &res);

	if (err == KEEL_OK)
		err = tenant_row(a, res, tenant);
	return err != KEEL_OK ? err : keel_events_enqueue_json(tx, "keel.tenant.created", id, *tenant);
}

keel_err
tenancy_store_get(keel_tx *tx, keel_arena *a, json_t **tenant)
{
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_get, NULL, &res);

	return err != KEEL_OK ? err : tenant_row(a, res, tenant);
}

keel_err
tenancy_store_rename(keel_tx *tx, keel_arena *a, const char *name, const char *version,
                     json_t **tenant)
{
	keel_res *res;
	const char *p[] = {name, version};
	keel_err err = keel_tx_exec(tx, &st_rename, p, &res);

	if (err == KEEL_OK)
		err = tenant_row(a, res, tenant);
	return err != KEEL_OK ? err
	                      : keel_events_enqueue_json(tx, "keel.tenant.updated",
	                                                 keel_res_get(res, 0, 0), *tenant);
}

keel_err
tenancy_store_id_by_slug(keel_db *db, keel_arena *a, const char *slug, const char **id,
                         bool *suspended)
{
	keel_res *res;
	const char *p[] = {slug};
	keel_err err = keel_db_exec(db, a, &st_id_by_slug, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	*suspended = strcmp(keel_res_get(res, 0, 1), "suspended") == 0;
	return KEEL_OK;
}

keel_err
tenancy_store_set_suspended(keel_tx *tx, keel_arena *a, bool suspend, const char *reason,
                            json_t **tenant)
{
	keel_res *res;
	const char *p[] = {reason};
	keel_err err = keel_tx_exec(tx, suspend ? &st_suspend : &st_resume, p, &res);

	if (err == KEEL_OK)
		err = tenant_row(a, res, tenant);
	if (err != KEEL_OK)
		return err;
	return keel_events_enqueue_json(tx, suspend ? "keel.tenant.suspended" : "keel.tenant.resumed",
	                                json_string_value(json_object_get(*tenant, "id")), *tenant);
}
