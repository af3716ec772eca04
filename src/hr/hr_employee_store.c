/*
 * The SQL of employees.
 *
 * Rows leave PostgreSQL as the API's JSON (columns id, version, json: hr_store_row); each write
 * enqueues its event with that JSON in the same transaction, a delete the row as it was.  The
 * rules are migration 0019's: the insert trigger takes the organization's next number (the
 * counter row stays locked until the transaction ends, so a failed create consumes none), the
 * composite foreign keys keep user, manager and calendar the tenant's and the organization's,
 * employees_user_key one employee per user and organization, and the manager trigger refuses
 * a cycle under the organization's advisory lock (KH422 manager_id).  The callers map the
 * constraint names to fields.
 */
#include "hr/hr_int.h"
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>

#define CURRENT "core.current_tenant_id()"

#define EMPLOYEE_JSON                                                                              \
	"json_build_object('id', e.id, 'organization_id', e.organization_id,"                          \
	" 'employee_number', e.employee_number, 'first_name', e.first_name,"                           \
	" 'last_name', e.last_name, 'email', e.email, 'user_id', e.user_id,"                           \
	" 'hire_date', e.hire_date::text, 'termination_date', e.termination_date::text,"               \
	" 'manager_id', e.manager_id, 'calendar_id', e.calendar_id, 'timezone', e.timezone,"           \
	" 'version', e.version, 'created_at', " KEEL_DB_TS(                                            \
	    "e.created_at") ", 'updated_at', " KEEL_DB_TS("e.updated_at") ")::text"
#define EMPLOYEE_ROW "e.id, e.version, " EMPLOYEE_JSON

static const keel_stmt st_create = {
    "hr_employee_create",
    "INSERT INTO hr.employees AS e (tenant_id, id, organization_id, first_name, last_name, email,"
    " user_id, hire_date, termination_date, manager_id, calendar_id, timezone) VALUES (" CURRENT
    ", $1, $2, $3, $4, $5, $6::uuid, $7::date, $8::date, $9::uuid, $10::uuid,"
    " coalesce($11, 'UTC')) RETURNING " EMPLOYEE_ROW,
    11};
static const keel_stmt st_get = {
    "hr_employee_get",
    "SELECT " EMPLOYEE_ROW " FROM hr.employees e WHERE e.tenant_id = " CURRENT " AND e.id = $1", 1};
static const keel_stmt st_linked = {
    "hr_employee_linked",
    "SELECT EXISTS (SELECT 1 FROM hr.employees m WHERE m.tenant_id = " CURRENT
    " AND m.organization_id = $1 AND m.user_id = core.current_user_id())",
    1};
/*
 * A page in number order from the cursor ($2, the last sequence seen; the index
 * employees_number_key), filtered by manager ($3) and user ($4), and unless $5 (an admin) to
 * the caller's own employee and those it manages.
 */
static const keel_stmt st_list = {
    "hr_employee_list",
    "SELECT e.sequence, " EMPLOYEE_JSON " FROM hr.employees e WHERE e.tenant_id = " CURRENT
    " AND e.organization_id = $1 AND e.sequence > $2::bigint"
    " AND ($3::uuid IS NULL OR e.manager_id = $3::uuid)"
    " AND ($4::uuid IS NULL OR e.user_id = $4::uuid)"
    " AND ($5::boolean OR e.user_id = core.current_user_id() OR e.manager_id = (SELECT m.id"
    " FROM hr.employees m WHERE m.tenant_id = " CURRENT " AND m.organization_id = $1"
    " AND m.user_id = core.current_user_id()))"
    " ORDER BY e.sequence LIMIT $6::integer",
    6};
/*
 * $5/$7/$9/$11/$13: whether the nullable field was given (then the next its value, maybe NULL).
 * user_id is in a unique key: setting it, even to itself, locks the row FOR UPDATE, which would
 * make a manager change wait for (and deadlock with) another one whose foreign key check reads
 * this row; so a PATCH without user_id runs the statement that leaves the column alone ($7 false
 * and $8 NULL then).
 */
#define EMPLOYEE_UPDATE(name, user_set, user_unset)                                                \
	{                                                                                              \
		name,                                                                                      \
		    "UPDATE hr.employees AS e SET first_name = coalesce($2, e.first_name),"                \
		    " last_name = coalesce($3, e.last_name), hire_date = coalesce($4::date, e.hire_date)," \
		    " email = CASE WHEN $5::boolean THEN $6 ELSE e.email END," user_set                    \
		    " termination_date = CASE WHEN $9::boolean THEN $10::date ELSE e.termination_date "    \
		    "END,"                                                                                 \
		    " manager_id = CASE WHEN $11::boolean THEN $12::uuid ELSE e.manager_id END,"           \
		    " calendar_id = CASE WHEN $13::boolean THEN $14::uuid ELSE e.calendar_id END,"         \
		    " timezone = coalesce($15, e.timezone), version = e.version + 1, updated_at = now()"   \
		    " WHERE e.tenant_id = " CURRENT " AND e.id = $1" user_unset                            \
		    " AND ($16::integer IS NULL OR e.version = $16::integer) RETURNING " EMPLOYEE_ROW,     \
		    16                                                                                     \
	}
static const keel_stmt st_update =
    EMPLOYEE_UPDATE("hr_employee_update", "", " AND NOT $7::boolean AND $8::uuid IS NULL");
static const keel_stmt st_update_user =
    EMPLOYEE_UPDATE("hr_employee_update_user",
                    " user_id = CASE WHEN $7::boolean THEN $8::uuid ELSE e.user_id END,", "");
static const keel_stmt st_delete = {
    "hr_employee_delete",
    "DELETE FROM hr.employees e WHERE e.tenant_id = " CURRENT " AND e.id = $1"
    " AND ($2::integer IS NULL OR e.version = $2::integer) RETURNING " EMPLOYEE_ROW,
    2};
static const keel_stmt st_version = {
    "hr_employee_version",
    "SELECT e.version FROM hr.employees e WHERE e.tenant_id = " CURRENT " AND e.id = $1", 1};

static const char *
flag(bool b)
{
	return b ? "true" : "false";
}

keel_err
hr_store_employee_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                         const hr_employee_input *in, hr_row *row)
{
	const char *p[] = {
	    id,          org_id,        in->first_name,       in->last_name,  in->email,
	    in->user_id, in->hire_date, in->termination_date, in->manager_id, in->calendar_id,
	    in->timezone};

	return hr_store_write(tx, a, &st_create, p, row, "keel.employee.created");
}

keel_err
hr_store_employee_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_get, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	hr_store_row(res, 0, a, row);
	return KEEL_OK;
}

keel_err
hr_store_employee_linked(keel_tx *tx, const char *org_id, bool *linked)
{
	const char *p[] = {org_id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_linked, p, &res);

	if (err != KEEL_OK)
		return err;
	*linked = keel_res_rows(res) == 1 && keel_res_get(res, 0, 0)[0] == 't';
	return KEEL_OK;
}

keel_err
hr_store_employee_list(keel_tx *tx, const char *org_id, const hr_employee_filter *f, int limit,
                       keel_svc_list *list, long long *last)
{
	char after[24], lim[16];
	const char *p[] = {org_id, after, f->manager_id, f->user_id, flag(f->all), lim};
	keel_res *res;

	snprintf(after, sizeof(after), "%lld", f->after);
	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, &st_list, p, &res);

	*last = 0;
	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(list, keel_res_get(res, i, 1));
	if (n > 0)
		*last = strtoll(keel_res_get(res, n - 1, 0), NULL, 10);
	return KEEL_OK;
}

keel_err
hr_store_employee_update(keel_tx *tx, keel_arena *a, const char *id, const hr_employee_input *in,
                         const char *version, hr_row *row)
{
	const char *p[] = {id,
	                   in->first_name,
	                   in->last_name,
	                   in->hire_date,
	                   flag(in->has_email),
	                   in->email,
	                   flag(in->has_user_id),
	                   in->user_id,
	                   flag(in->has_termination_date),
	                   in->termination_date,
	                   flag(in->has_manager_id),
	                   in->manager_id,
	                   flag(in->has_calendar_id),
	                   in->calendar_id,
	                   in->timezone,
	                   version};

	return hr_store_write(tx, a, in->has_user_id ? &st_update_user : &st_update, p, row,
	                      "keel.employee.updated");
}

keel_err
hr_store_employee_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version)
{
	const char *p[] = {id, version};
	hr_row row;

	return hr_store_write(tx, a, &st_delete, p, &row, "keel.employee.deleted");
}

keel_err
hr_store_employee_version(keel_tx *tx, const char *id, long *version)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_version, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*version = strtol(keel_res_get(res, 0, 0), NULL, 10);
	return KEEL_OK;
}
