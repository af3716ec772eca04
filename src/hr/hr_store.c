/*
 * The lookups every hr route starts with.  The module's SQL is in its parts' stores
 * (hr_*_store.c); the rules it relies on are migration 0019's.
 */
#include "hr/hr_int.h"
#include "events/events.h"

#include <stdlib.h>
#include <string.h>

static const keel_stmt st_org = {"hr_org_exists",
                                 "SELECT 1 FROM org.organizations o"
                                 " WHERE o.tenant_id = core.current_tenant_id() AND o.id = $1",
                                 1};

static const keel_stmt st_employee_access = {
    "hr_employee_access",
    "SELECT e.organization_id, hr.employee_access(e.id) FROM hr.employees e"
    " WHERE e.tenant_id = core.current_tenant_id() AND e.id = $1",
    1};

void
hr_store_row(keel_res *res, int i, keel_arena *a, hr_row *row)
{
	row->id = keel_arena_strdup(a, keel_res_get(res, i, 0));
	row->version = strtol(keel_res_get(res, i, 1), NULL, 10);
	row->json = keel_res_json(res, i, 2, a);
}

keel_err
hr_store_write(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *const *p, hr_row *row,
               const char *type)
{
	keel_res *res;
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	hr_store_row(res, 0, a, row);
	return keel_events_enqueue(tx, type, row->id, row->json);
}

keel_err
hr_store_org_exists(keel_tx *tx, const char *org_id)
{
	const char *p[] = {org_id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_org, p, &res);

	if (err != KEEL_OK)
		return err;
	return keel_res_rows(res) == 1 ? KEEL_OK : KEEL_ENOTFOUND;
}

static hr_access
access_parse(const char *s)
{
	if (strcmp(s, "admin") == 0)
		return HR_SEE_ADMIN;
	if (strcmp(s, "self") == 0)
		return HR_SEE_SELF;
	if (strcmp(s, "manager") == 0)
		return HR_SEE_MANAGER;
	return HR_SEE_NONE;
}

keel_err
hr_store_employee_access(keel_tx *tx, keel_arena *a, const char *id, hr_employee *out)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_employee_access, p, &res);

	memset(out, 0, sizeof(*out));
	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	out->id = keel_arena_strdup(a, id);
	out->organization_id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	out->access = access_parse(keel_res_get(res, 0, 1));
	return KEEL_OK;
}
