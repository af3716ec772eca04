/*
 * The SQL of positions, assignments and leave types.
 *
 * Rows leave PostgreSQL as the API's JSON (columns id, version, json: hr_store_row); each write
 * enqueues its event with that JSON in the same transaction, a delete the row as it was.  The
 * rules are migration 0019's and none is checked here first: the composite foreign keys keep
 * a position in its division's organization and an assignment's position in its employee's;
 * assignments_no_overlap (exclusion), assignments_employment (KH422, COLUMN the date) and
 * assignments_headcount (KH409 under the position's row lock, naming the full day) refuse an
 * assignment, positions_headcount (KH409) a lower headcount; leave_types_code_key a second
 * code in an organization.  The callers map them to answers.  Day amounts go in as numeric
 * text (checked by keel_days_parse first) and come out as trim_scale(x)::text.
 */
#include "hr/hr_int.h"
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>

#define CURRENT "core.current_tenant_id()"

#define POSITION_JSON                                                                              \
	"json_build_object('id', p.id, 'organization_id', p.organization_id, 'division_id',"           \
	" p.division_id, 'title', p.title, 'headcount', p.headcount, 'version', p.version,"            \
	" 'created_at', " KEEL_DB_TS("p.created_at") ", 'updated_at', " KEEL_DB_TS(                    \
	    "p.updated_at") ")::text"
#define POSITION_ROW "p.id, p.version, " POSITION_JSON

#define ASSIGNMENT_JSON                                                                            \
	"json_build_object('id', s.id, 'employee_id', s.employee_id, 'position_id', s.position_id,"    \
	" 'start_date', s.start_date::text, 'end_date', s.end_date::text, 'version', s.version,"       \
	" 'created_at', " KEEL_DB_TS("s.created_at") ", 'updated_at', " KEEL_DB_TS(                    \
	    "s.updated_at") ")::text"
#define ASSIGNMENT_ROW "s.id, s.version, " ASSIGNMENT_JSON

#define LEAVE_TYPE_JSON                                                                            \
	"json_build_object('id', t.id, 'organization_id', t.organization_id, 'code', t.code,"          \
	" 'name', t.name, 'allow_negative', t.allow_negative, 'approval_levels', t.approval_levels,"   \
	" 'carry_forward_max', trim_scale(t.carry_forward_max)::text,"                                 \
	" 'carry_forward_expires_after', t.carry_forward_expires_after, 'version', t.version,"         \
	" 'created_at', " KEEL_DB_TS("t.created_at") ", 'updated_at', " KEEL_DB_TS(                    \
	    "t.updated_at") ")::text"
#define LEAVE_TYPE_ROW "t.id, t.version, " LEAVE_TYPE_JSON

/* The division's organization is the position's: no division of the tenant, no row. */
static const keel_stmt st_position_create = {
    "hr_position_create",
    "INSERT INTO hr.positions AS p (tenant_id, id, organization_id, division_id, title, headcount)"
    " SELECT d.tenant_id, $1, d.organization_id, d.id, $3, $4::integer FROM org.divisions d"
    " WHERE d.tenant_id = " CURRENT " AND d.id = $2 RETURNING " POSITION_ROW,
    4};
static const keel_stmt st_position_get = {
    "hr_position_get",
    "SELECT " POSITION_ROW " FROM hr.positions p WHERE p.tenant_id = " CURRENT " AND p.id = $1", 1};
static const keel_stmt st_division_exists = {
    "hr_division_exists",
    "SELECT 1 FROM org.divisions d WHERE d.tenant_id = " CURRENT " AND d.id = $1", 1};
static const keel_stmt st_position_list = {
    "hr_position_list",
    "SELECT " POSITION_ROW " FROM hr.positions p WHERE p.tenant_id = " CURRENT
    " AND p.division_id = $3 AND ($1::uuid IS NULL OR p.id > $1::uuid)"
    " ORDER BY p.id LIMIT $2::integer",
    3};
static const keel_stmt st_position_update = {
    "hr_position_update",
    "UPDATE hr.positions AS p SET title = coalesce($2, p.title),"
    " headcount = coalesce($3::integer, p.headcount), version = p.version + 1, updated_at = now()"
    " WHERE p.tenant_id = " CURRENT " AND p.id = $1"
    " AND ($4::integer IS NULL OR p.version = $4::integer) RETURNING " POSITION_ROW,
    4};
static const keel_stmt st_position_delete = {
    "hr_position_delete",
    "DELETE FROM hr.positions p WHERE p.tenant_id = " CURRENT " AND p.id = $1"
    " AND ($2::integer IS NULL OR p.version = $2::integer) RETURNING " POSITION_ROW,
    2};

/* $2 the employee's organization: a position of another one fails assignments_position_fkey. */
static const keel_stmt st_assignment_create = {
    "hr_assignment_create",
    "INSERT INTO hr.assignments AS s (tenant_id, id, organization_id, employee_id, position_id,"
    " start_date, end_date) VALUES (" CURRENT ", $1, $2, $3, $4, $5::date, $6::date)"
    " RETURNING " ASSIGNMENT_ROW,
    6};
static const keel_stmt st_assignment_list = {
    "hr_assignment_list",
    "SELECT " ASSIGNMENT_ROW " FROM hr.assignments s WHERE s.tenant_id = " CURRENT
    " AND s.employee_id = $3 AND ($1::uuid IS NULL OR s.id > $1::uuid)"
    " ORDER BY s.id LIMIT $2::integer",
    3};
/* $3: whether end_date was given ($4 then, NULL: open-ended). */
static const keel_stmt st_assignment_update = {
    "hr_assignment_update",
    "UPDATE hr.assignments AS s SET start_date = coalesce($2::date, s.start_date),"
    " end_date = CASE WHEN $3::boolean THEN $4::date ELSE s.end_date END,"
    " version = s.version + 1, updated_at = now()"
    " WHERE s.tenant_id = " CURRENT " AND s.id = $1"
    " AND ($5::integer IS NULL OR s.version = $5::integer) RETURNING " ASSIGNMENT_ROW,
    5};
static const keel_stmt st_assignment_delete = {
    "hr_assignment_delete",
    "DELETE FROM hr.assignments s WHERE s.tenant_id = " CURRENT " AND s.id = $1"
    " AND ($2::integer IS NULL OR s.version = $2::integer) RETURNING " ASSIGNMENT_ROW,
    2};

static const keel_stmt st_leave_type_create = {
    "hr_leave_type_create",
    "INSERT INTO hr.leave_types AS t (tenant_id, id, organization_id, code, name, allow_negative,"
    " approval_levels, carry_forward_max, carry_forward_expires_after) VALUES (" CURRENT
    ", $1, $2, $3, $4, coalesce($5::boolean, false), $6::smallint, $7::numeric, $8::smallint)"
    " RETURNING " LEAVE_TYPE_ROW,
    8};
static const keel_stmt st_leave_type_get = {
    "hr_leave_type_get",
    "SELECT " LEAVE_TYPE_ROW " FROM hr.leave_types t WHERE t.tenant_id = " CURRENT " AND t.id = $1",
    1};
/*
 * In code order from the cursor ($1, '' before every code): an index condition on
 * leave_types_code_key (tenant_id, organization_id, code), so a page reads from its cursor on.
 */
static const keel_stmt st_leave_type_list = {
    "hr_leave_type_list",
    "SELECT " LEAVE_TYPE_ROW ", t.code FROM hr.leave_types t WHERE t.tenant_id = " CURRENT
    " AND t.organization_id = $3 AND t.code > $1::text ORDER BY t.code LIMIT $2::integer",
    3};
/* $6, $8: whether the carry settings were given ($7, $9 then, NULL: none). */
static const keel_stmt st_leave_type_update = {
    "hr_leave_type_update",
    "UPDATE hr.leave_types AS t SET name = coalesce($2, t.name),"
    " allow_negative = coalesce($3::boolean, t.allow_negative),"
    " approval_levels = coalesce($4::smallint, t.approval_levels),"
    " carry_forward_max = CASE WHEN $5::boolean THEN $6::numeric ELSE t.carry_forward_max END,"
    " carry_forward_expires_after = CASE WHEN $7::boolean THEN $8::smallint"
    "  ELSE t.carry_forward_expires_after END,"
    " version = t.version + 1, updated_at = now()"
    " WHERE t.tenant_id = " CURRENT " AND t.id = $1"
    " AND ($9::integer IS NULL OR t.version = $9::integer) RETURNING " LEAVE_TYPE_ROW,
    9};

static const keel_stmt st_version[] = {
    [HR_POSITION] = {"hr_position_version",
                     "SELECT p.version FROM hr.positions p"
                     " WHERE p.tenant_id = " CURRENT " AND p.id = $1",
                     1},
    [HR_ASSIGNMENT] = {"hr_assignment_version",
                       "SELECT s.version FROM hr.assignments s"
                       " WHERE s.tenant_id = " CURRENT " AND s.id = $1",
                       1},
    [HR_LEAVE_TYPE] = {"hr_leave_type_version",
                       "SELECT t.version FROM hr.leave_types t"
                       " WHERE t.tenant_id = " CURRENT " AND t.id = $1",
                       1},
};

/* A read of one row, as the whole transaction. */
static keel_err
read_row(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *id, hr_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	hr_store_row(res, 0, a, row);
	return KEEL_OK;
}

/* A page in id order of the rows of parent ($3), after page->after. */
static keel_err
id_page(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *parent, const keel_page *page,
        hr_position_page *out)
{
	char lim[16];
	const char *p[] = {page->after, lim, parent};
	keel_res *res;

	snprintf(lim, sizeof(lim), "%d", page->limit);
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&out->list, keel_res_get(res, i, 2));
	out->last = n > 0 ? keel_arena_strdup(a, keel_res_get(res, n - 1, 0)) : NULL;
	return KEEL_OK;
}

keel_err
hr_store_position_create(keel_tx *tx, keel_arena *a, const char *id, const char *division_id,
                         const char *title, const char *headcount, hr_row *row)
{
	const char *p[] = {id, division_id, title, headcount};

	return hr_store_write(tx, a, &st_position_create, p, row, "keel.position.created");
}

keel_err
hr_store_position_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row)
{
	return read_row(tx, a, &st_position_get, id, row);
}

keel_err
hr_store_division_exists(keel_tx *tx, const char *division_id)
{
	const char *p[] = {division_id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_division_exists, p, &res);

	if (err != KEEL_OK)
		return err;
	return keel_res_rows(res) == 1 ? KEEL_OK : KEEL_ENOTFOUND;
}

keel_err
hr_store_position_list(keel_tx *tx, keel_arena *a, const char *division_id, const keel_page *page,
                       hr_position_page *out)
{
	return id_page(tx, a, &st_position_list, division_id, page, out);
}

keel_err
hr_store_position_update(keel_tx *tx, keel_arena *a, const char *id, const char *title,
                         const char *headcount, const char *version, hr_row *row)
{
	const char *p[] = {id, title, headcount, version};

	return hr_store_write(tx, a, &st_position_update, p, row, "keel.position.updated");
}

keel_err
hr_store_position_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version)
{
	const char *p[] = {id, version};
	hr_row row;

	return hr_store_write(tx, a, &st_position_delete, p, &row, "keel.position.deleted");
}

keel_err
hr_store_assignment_create(keel_tx *tx, keel_arena *a, const char *id, const hr_employee *emp,
                           const hr_assignment_input *in, hr_row *row)
{
	const char *p[] = {id,          emp->organization_id, emp->id, in->position_id, in->start_date,
	                   in->end_date};

	return hr_store_write(tx, a, &st_assignment_create, p, row, "keel.assignment.created");
}

keel_err
hr_store_assignment_list(keel_tx *tx, keel_arena *a, const char *employee_id, const keel_page *page,
                         hr_position_page *out)
{
	return id_page(tx, a, &st_assignment_list, employee_id, page, out);
}

keel_err
hr_store_assignment_update(keel_tx *tx, keel_arena *a, const char *id,
                           const hr_assignment_input *in, const char *version, hr_row *row)
{
	const char *p[] = {id, in->start_date, in->end_given ? "true" : "false", in->end_date, version};

	return hr_store_write(tx, a, &st_assignment_update, p, row, "keel.assignment.updated");
}

keel_err
hr_store_assignment_delete(keel_tx *tx, keel_arena *a, const char *id, const char *version)
{
	const char *p[] = {id, version};
	hr_row row;

	return hr_store_write(tx, a, &st_assignment_delete, p, &row, "keel.assignment.deleted");
}

keel_err
hr_store_leave_type_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                           const hr_leave_type_input *in, hr_row *row)
{
	const char *p[] = {id,
	                   org_id,
	                   in->code,
	                   in->name,
	                   in->allow_negative,
	                   in->approval_levels,
	                   in->carry_max,
	                   in->carry_months};

	return hr_store_write(tx, a, &st_leave_type_create, p, row, "keel.leave_type.created");
}

keel_err
hr_store_leave_type_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row)
{
	return read_row(tx, a, &st_leave_type_get, id, row);
}

keel_err
hr_store_leave_type_list(keel_tx *tx, keel_arena *a, const char *org_id, const char *after_code,
                         int limit, hr_position_page *out)
{
	char lim[16];
	const char *p[] = {after_code, lim, org_id};
	keel_res *res;

	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, &st_leave_type_list, p, &res);

	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&out->list, keel_res_get(res, i, 2));
	out->last = n > 0 ? keel_arena_strdup(a, keel_res_get(res, n - 1, 3)) : NULL;
	return KEEL_OK;
}

keel_err
hr_store_leave_type_update(keel_tx *tx, keel_arena *a, const char *id,
                           const hr_leave_type_input *in, const char *version, hr_row *row)
{
	const char *p[] = {id,
	                   in->name,
	                   in->allow_negative,
	                   in->approval_levels,
	                   in->carry_max_given ? "true" : "false",
	                   in->carry_max,
	                   in->carry_months_given ? "true" : "false",
	                   in->carry_months,
	                   version};

	return hr_store_write(tx, a, &st_leave_type_update, p, row, "keel.leave_type.updated");
}

keel_err
hr_store_position_version(keel_tx *tx, hr_position_kind kind, const char *id, long *version)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_version[kind], p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*version = strtol(keel_res_get(res, 0, 0), NULL, 10);
	return KEEL_OK;
}
