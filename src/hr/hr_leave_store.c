/*
 * The SQL of the leave ledger: allocations, the settlement of ended leave periods, balances
 * and the ledger's rows.
 *
 * The rules are migration 0019's: keel_app inserts allocations only (the insert trigger
 * refuses the other kinds and a window that overlaps another leave period of the employee and
 * type without being it, KH409); carry-forward and expiry rows are written by
 * hr.leave_settle, once (unique indexes, under the (employee, type) lock); balances are
 * hr.leave_balances.  Rows leave PostgreSQL as the API's JSON; each row written enqueues its
 * event keel.leave_entry.created in the same transaction.
 */
#include "hr/hr_int.h"
#include "core/str.h"
#include "events/events.h"

#include <stdio.h>

#define CURRENT "core.current_tenant_id()"

#define ENTRY_JSON                                                                                 \
	"json_build_object('id', e.id, 'employee_id', e.employee_id,"                                  \
	" 'leave_type_id', e.leave_type_id, 'kind', e.kind, 'days', trim_scale(e.days)::text,"         \
	" 'date', e.date::text, 'valid_from', e.valid_from::text, 'valid_to', e.valid_to::text,"       \
	" 'source_id', e.source_id, 'request_id', e.request_id, 'reason', e.reason,"                   \
	" 'created_by', e.created_by, 'created_at', " KEEL_DB_TS("e.created_at") ")::text"
/* A ledger row has no version: it never changes. */
#define ENTRY_ROW "e.id, 0, " ENTRY_JSON

#define EVENT "keel.leave_entry.created"

static const keel_stmt st_allocate = {
    "hr_leave_allocate",
    "INSERT INTO hr.leave_entries AS e (tenant_id, id, organization_id, employee_id,"
    " leave_type_id, kind, days, date, valid_from, valid_to, reason)"
    " VALUES (" CURRENT ", $1, $2, $3, $4, 'allocation', $5::numeric, $6::date, $6::date,"
    " $7::date, $8) RETURNING " ENTRY_ROW,
    8};

static const keel_stmt st_settle = {"hr_leave_settle",
                                    "SELECT s::text FROM hr.leave_settle($1::uuid) s", 1};

/* The rows of ids ($1, an array), in ledger order. */
static const keel_stmt st_entries_of = {"hr_leave_entries_of",
                                        "SELECT " ENTRY_ROW " FROM hr.leave_entries e"
                                        " WHERE e.tenant_id = " CURRENT
                                        " AND e.id = ANY($1::uuid[]) ORDER BY e.date, e.id",
                                        1};

/* A balance row as the API's JSON: days as trimmed decimal strings ("2.5", "20"). */
#define BALANCE_JSON                                                                               \
	"json_build_object('leave_type_id', b.leave_type_id,"                                          \
	" 'allocated', trim_scale(b.allocated)::text,"                                                 \
	" 'carried_forward', trim_scale(b.carried_forward)::text,"                                     \
	" 'taken', trim_scale(b.taken)::text, 'pending', trim_scale(b.pending)::text,"                 \
	" 'expired', trim_scale(b.expired)::text, 'available', trim_scale(b.available)::text)::text"

static const keel_stmt st_balances = {
    "hr_leave_balances",
    "SELECT " BALANCE_JSON " FROM hr.employees em"
    " CROSS JOIN LATERAL hr.leave_balances(em.id, coalesce($2::date,"
    " hr.employee_today(em.timezone))) b"
    " WHERE em.tenant_id = " CURRENT " AND em.id = $1 ORDER BY b.code, b.leave_type_id",
    2};

/*
 * A page of an employee's ledger after ($5, $6) in (date, id) order: $2 the leave type, $3 and
 * $4 the dates (NULL: any).
 */
static const keel_stmt st_entries = {
    "hr_leave_entries",
    "SELECT " ENTRY_ROW ", e.date::text FROM hr.leave_entries e"
    " WHERE e.tenant_id = " CURRENT " AND e.employee_id = $1"
    " AND ($2::uuid IS NULL OR e.leave_type_id = $2::uuid)"
    " AND ($3::date IS NULL OR e.date >= $3::date) AND ($4::date IS NULL OR e.date <= $4::date)"
    " AND (e.date, e.id) > ($5::date, $6::uuid) ORDER BY e.date, e.id LIMIT $7::integer",
    7};

keel_err
hr_leave_store_allocate(keel_tx *tx, keel_arena *a, const char *id, const hr_employee *emp,
                        const hr_allocation_in *in, hr_row *out)
{
	const char *p[] = {id,       emp->organization_id, emp->id,      in->leave_type_id,
	                   in->days, in->valid_from,       in->valid_to, in->reason};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_allocate, p, &res);

	if (err != KEEL_OK)
		return err;
	hr_store_row(res, 0, a, out);
	return keel_events_enqueue(tx, EVENT, out->id, out->json);
}

/* The ids of res's first column as a PostgreSQL array literal. */
static const char *
id_array(keel_res *res, keel_arena *a)
{
	keel_buf b;

	keel_buf_init(&b, a);
	keel_buf_puts(&b, "{");
	for (int i = 0; i < keel_res_rows(res); i++) {
		if (i > 0)
			keel_buf_puts(&b, ",");
		keel_buf_puts(&b, keel_res_get(res, i, 0));
	}
	keel_buf_puts(&b, "}");
	return b.data;
}

keel_err
hr_leave_store_settle(keel_tx *tx, keel_arena *a, const char *employee_id)
{
	const char *p[] = {employee_id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_settle, p, &res);

	if (err != KEEL_OK || keel_res_rows(res) == 0)
		return err;
	/* a statement of its own: the rows the function wrote are not seen by the one calling it */
	const char *ids[] = {id_array(res, a)};

	if ((err = keel_tx_exec(tx, &st_entries_of, ids, &res)) != KEEL_OK)
		return err;
	for (int i = 0; i < keel_res_rows(res) && err == KEEL_OK; i++) {
		hr_row row;

		hr_store_row(res, i, a, &row);
		err = keel_events_enqueue(tx, EVENT, row.id, row.json);
	}
	return err;
}

keel_err
hr_leave_store_balances(keel_tx *tx, const char *employee_id, const char *as_of,
                        keel_svc_list *list)
{
	const char *p[] = {employee_id, as_of};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_balances, p, &res);

	for (int i = 0; err == KEEL_OK && i < keel_res_rows(res); i++)
		keel_svc_list_add(list, keel_res_get(res, i, 0));
	return err;
}

keel_err
hr_leave_store_entries(keel_tx *tx, const hr_entry_filter *f, keel_svc_list *list,
                       hr_entry_key *last)
{
	char limit[16];
	keel_res *res;

	snprintf(limit, sizeof(limit), "%d", f->limit);
	const char *p[] = {f->employee_id,
	                   f->leave_type_id,
	                   f->from,
	                   f->to,
	                   f->after != NULL ? f->after->date : "-infinity",
	                   f->after != NULL ? f->after->id : "00000000-0000-0000-0000-000000000000",
	                   limit};
	keel_err err = keel_tx_exec(tx, &st_entries, p, &res);

	for (int i = 0; err == KEEL_OK && i < keel_res_rows(res); i++) {
		keel_svc_list_add(list, keel_res_get(res, i, 2));
		snprintf(last->id, sizeof(last->id), "%s", keel_res_get(res, i, 0));
		snprintf(last->date, sizeof(last->date), "%s", keel_res_get(res, i, 3));
	}
	return err;
}
