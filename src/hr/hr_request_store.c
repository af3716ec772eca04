/*
 * Leave requests and their approvals: the SQL.
 *
 * A request is one INSERT: its days, status, approval levels and requester are the trigger
 * hr.leave_requests_insert's, its half days, the overlap and the balance check (under the
 * (employee, leave type) lock) hr.leave_requests_hold's.  The INSERT selects the leave type
 * among the employee's organization's, so a type of another organization or tenant inserts
 * nothing (the caller answers 422 leave_type_id).  Approval is hr.leave_request_approve;
 * reject, withdraw and cancel are one UPDATE of the status each, from any status but the one
 * they lead to: the trigger hr.leave_requests_transition decides whether the current state
 * allows it and who may (KH409, KH403), hr.leave_requests_book what it does to the ledger
 * and the held days.  An UPDATE that finds the request in the status already changes
 * nothing, and the caller reads the status to name it.
 *
 * A request is read back after every write with its approvals (the statement that wrote
 * does not see what its triggers wrote), and its event enqueued with that JSON in the same
 * transaction.  Lists are keyset-paged by (start_date, id): an employee's, and an
 * organization's that its caller decides on (hr.employee_access: an admin's all, a manager's
 * its direct reports').
 */
#include "hr/hr_int.h"
#include "events/events.h"

#include <stdio.h>
#include <string.h>

#define CURRENT "core.current_tenant_id()"

#define REQUEST_JSON                                                                               \
	"json_build_object('id', r.id, 'employee_id', r.employee_id, 'leave_type_id',"                 \
	" r.leave_type_id, 'start_date', r.start_date::text, 'end_date', r.end_date::text,"            \
	" 'start_half', r.start_half, 'end_half', r.end_half, 'days', trim_scale(r.days)::text,"       \
	" 'status', r.status, 'reason', r.reason, 'approvals', (SELECT coalesce(json_agg("             \
	"json_build_object('level', a.level, 'by', a.approved_by, 'at', " KEEL_DB_TS(                  \
	    "a.approved_at") ") ORDER BY a.level), '[]') FROM hr.leave_approvals a"                    \
	                     " WHERE a.tenant_id = " CURRENT " AND a.request_id = r.id),"              \
	                     " 'decision_reason', r.decision_reason, 'decided_by', r.decided_by,"      \
	                     " 'decided_at', " KEEL_DB_TS(                                             \
	                         "r.decided_at") ", 'created_by', r.created_by, 'version', r.version," \
	                                         " 'created_at', " KEEL_DB_TS(                         \
	                                             "r.created_at") ", 'updated_at', " KEEL_DB_TS("r" \
	                                                                                           "." \
	                                                                                           "u" \
	                                                                                           "p" \
	                                                                                           "d" \
	                                                                                           "a" \
	                                                                                           "t" \
	                                                                                           "e" \
	                                                                                           "d" \
	                                                                                           "_" \
	                                                                                           "a" \
	                                                                                           "t") ")::text"
#define REQUEST_ROW "r.id, r.version, " REQUEST_JSON

static const keel_stmt st_create = {
    "hr_request_create",
    "INSERT INTO hr.leave_requests (tenant_id, id, organization_id, employee_id, leave_type_id,"
    " start_date, end_date, start_half, end_half, reason)"
    " SELECT " CURRENT ", $1, $2, $3, lt.id, $5::date, $6::date, $7, $8, coalesce($9, '')"
    " FROM hr.leave_types lt WHERE lt.tenant_id = " CURRENT " AND lt.organization_id = $2"
    " AND lt.id = $4 RETURNING id",
    9};
static const keel_stmt st_get = {"hr_request_get",
                                 "SELECT " REQUEST_ROW ", r.status FROM hr.leave_requests r"
                                 " WHERE r.tenant_id = " CURRENT " AND r.id = $1",
                                 1};
static const keel_stmt st_head = {"hr_request_head",
                                  "SELECT r.employee_id, r.status FROM hr.leave_requests r"
                                  " WHERE r.tenant_id = " CURRENT " AND r.id = $1",
                                  1};
static const keel_stmt st_approve = {"hr_request_approve", "SELECT hr.leave_request_approve($1)",
                                     1};

/* The status actions: from any status but their own (the trigger decides whether it may). */
#define STATUS_UPDATE(status, extra)                                                               \
	"UPDATE hr.leave_requests AS r SET status = '" status "'" extra ", version = r.version + 1,"   \
	" updated_at = now() WHERE r.tenant_id = " CURRENT " AND r.id = $1 AND r.status <> '" status   \
	"' RETURNING r.id"

static const keel_stmt st_reject = {"hr_request_reject",
                                    STATUS_UPDATE("rejected", ", decision_reason = $2"), 2};
static const keel_stmt st_withdraw = {"hr_request_withdraw", STATUS_UPDATE("withdrawn", ""), 1};
static const keel_stmt st_cancel = {"hr_request_cancel", STATUS_UPDATE("cancelled", ""), 1};

/* A list's filters and keyset position ($2..$7), after its scope ($1). */
#define LIST_TAIL                                                                                  \
	" AND ($2::text IS NULL OR r.status = $2) AND ($3::date IS NULL OR r.end_date >= $3::date)"    \
	" AND ($4::date IS NULL OR r.start_date <= $4::date)"                                          \
	" AND ($5::date IS NULL OR (r.start_date, r.id) > ($5::date, $6::uuid))"                       \
	" ORDER BY r.start_date, r.id LIMIT $7::integer"

static const keel_stmt st_list = {
    "hr_request_list",
    "SELECT " REQUEST_ROW ", r.start_date::text FROM hr.leave_requests r"
    " WHERE r.tenant_id = " CURRENT " AND r.employee_id = $1" LIST_TAIL,
    7};
/* The organization's requests the caller decides on: an admin all, a manager its reports'. */
static const keel_stmt st_org_list = {
    "hr_request_org_list",
    "SELECT " REQUEST_ROW ", r.start_date::text FROM hr.leave_requests r"
    " WHERE r.tenant_id = " CURRENT " AND r.organization_id = $1"
    " AND hr.employee_access(r.employee_id) IN ('admin', 'manager')" LIST_TAIL,
    7};
static const keel_stmt st_linked = {
    "hr_request_linked",
    "SELECT 1 FROM hr.employees e WHERE e.tenant_id = " CURRENT
    " AND e.organization_id = $1 AND e.user_id = core.current_user_id()",
    1};

/* The one row of res into row, and the event of its status when event is set. */
static keel_err
read_back(keel_tx *tx, keel_arena *a, const char *id, bool event, hr_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_get, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	hr_store_row(res, 0, a, row);
	if (!event)
		return KEEL_OK;
	const char *type = keel_arena_printf(a, "keel.leave_request.%s", keel_res_get(res, 0, 3));

	return keel_events_enqueue(tx, type, row->id, row->json);
}

keel_err
hr_request_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org,
                        const char *emp, const hr_request_input *in, hr_row *row)
{
	const char *p[] = {id,
	                   org,
	                   emp,
	                   in->leave_type_id,
	                   in->start_date,
	                   in->end_date,
	                   in->start_half,
	                   in->end_half,
	                   in->reason};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_create, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	if ((err = read_back(tx, a, id, false, row)) != KEEL_OK)
		return err;
	return keel_events_enqueue(tx, "keel.leave_request.created", row->id, row->json);
}

keel_err
hr_request_store_get(keel_tx *tx, keel_arena *a, const char *id, hr_row *row)
{
	return read_back(tx, a, id, false, row);
}

keel_err
hr_request_store_head(keel_tx *tx, keel_arena *a, const char *id, const char **employee,
                      const char **status)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_head, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*employee = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	*status = keel_arena_strdup(a, keel_res_get(res, 0, 1));
	return KEEL_OK;
}

keel_err
hr_request_store_act(keel_tx *tx, keel_arena *a, hr_request_action action, const char *id,
                     const char *reason, hr_row *row)
{
	static const keel_stmt *const stmts[] = {&st_approve, &st_reject, &st_withdraw, &st_cancel};
	const char *p[] = {id, reason};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, stmts[action], p, &res);

	if (err != KEEL_OK)
		return err;
	if (action != HR_REQUEST_APPROVE && keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	return read_back(tx, a, id, true, row);
}

/* A page of st (scope, the filters) into page. */
static keel_err
run_page(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *scope,
         const hr_request_filter *f, hr_request_page *page)
{
	char lim[16];
	const char *p[] = {scope, f->status, f->from, f->to, f->after_start, f->after_id, lim};
	keel_res *res;
	keel_err err;

	snprintf(lim, sizeof(lim), "%d", f->limit);
	if ((err = keel_tx_exec(tx, st, p, &res)) != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&page->list, keel_res_get(res, i, 2));
	if (n > 0) {
		page->last_id = keel_arena_strdup(a, keel_res_get(res, n - 1, 0));
		page->last_start = keel_arena_strdup(a, keel_res_get(res, n - 1, 3));
	}
	return KEEL_OK;
}

keel_err
hr_request_store_list(keel_tx *tx, keel_arena *a, const char *emp, const hr_request_filter *f,
                      hr_request_page *page)
{
	return run_page(tx, a, &st_list, emp, f, page);
}

keel_err
hr_request_store_org_list(keel_tx *tx, keel_arena *a, const char *org, const hr_request_filter *f,
                          hr_request_page *page)
{
	return run_page(tx, a, &st_org_list, org, f, page);
}

keel_err
hr_request_store_linked(keel_tx *tx, const char *org, bool *linked)
{
	const char *p[] = {org};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_linked, p, &res);

	if (err == KEEL_OK)
		*linked = keel_res_rows(res) == 1;
	return err;
}
