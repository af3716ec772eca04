/*
 * The audit module's SQL.
 *
 * Pages of the log leave PostgreSQL already rendered as the API's JSON (made
 * compact by the list renderer, keel_svc_list_add), the timestamps inside the
 * row images in the API's form by audit.uniform_image() (migration 0011).  The
 * order is newest first, (occurred_at, id) descending, and the keyset
 * condition is a row comparison that every index of audit.logs can serve
 * behind its equality columns: three statements, one per index, chosen by the
 * filters given (?record_id= -> (tenant_id, record_id, occurred_at, id),
 * ?actor_id= -> (tenant_id, actor_id, occurred_at, id), else the primary key
 * (tenant_id, occurred_at, id)), so each prepared (generic) plan walks its
 * index backwards and stops at the limit.  The other filters are residual
 * conditions; since/until also bound the index range and prune partitions.
 * Absent bounds are sent as -infinity / infinity (and the largest UUID), never
 * as NULL turned into them by coalesce(): under row-level security only
 * leakproof conditions may become index conditions, and PostgreSQL counts a
 * COALESCE as possibly leaky, which would leave the bounds as filters and
 * make every page scan from the newest row.
 *
 * Maintenance statements run on an owner connection in autocommit mode, each
 * its own transaction: a partition is created, or detached and dropped, and
 * its locks are released before the next one.
 */
#include "audit/audit_int.h"

#include <stdlib.h>
#include <string.h>

#define CURRENT "core.current_tenant_id()"

/*
 * A row image with its timestamps in the API's form (migration 0011): the audited table's
 * timestamptz columns come from audit.timestamp_columns(), evaluated once per page (an
 * initplan), not per row.
 */
#define LOG_TS_COLS "(SELECT audit.timestamp_columns()) ->> (l.schema_name || '.' || l.table_name)"
#define LOG_OLD     "audit.uniform_image(l.old, " LOG_TS_COLS ")"
#define LOG_NEW     "audit.uniform_image(l.new, " LOG_TS_COLS ")"
#define LOG_AT      KEEL_DB_TS("l.occurred_at")

#define LOG_JSON                                                                                   \
	"json_build_object('id', l.id, 'occurred_at', " LOG_AT ", 'actor_id', l.actor_id,"             \
	" 'action', l.action, 'table', l.schema_name || '.' || l.table_name,"                          \
	" 'record_id', l.record_id, 'old', " LOG_OLD ", 'new', " LOG_NEW ","                           \
	" 'changed_fields', l.changed_fields, 'request_id', l.request_id, 'trace_id', "                \
	"l.trace_id)::text"
#define LOG_ROW "l.id, (extract(epoch FROM l.occurred_at) * 1000000)::bigint, " LOG_JSON

/*
 * $1 since, $2 until, $3 and $4 the cursor (occurred_at, id), $5 and $6 the
 * table's schema and name, $7 record_id, $8 actor_id, $9 action, $10 limit.
 */
#define LOG_LIST(name, by)                                                                         \
	{                                                                                              \
		name,                                                                                      \
		    "SELECT " LOG_ROW " FROM audit.logs l WHERE l.tenant_id = " CURRENT by                 \
		    " AND l.occurred_at >= $1::timestamptz AND l.occurred_at < $2::timestamptz"            \
		    " AND (l.occurred_at, l.id) < ($3::timestamptz, $4::uuid)"                             \
		    " AND ($5::text IS NULL OR (l.schema_name = $5 AND l.table_name = $6::text))"          \
		    " AND ($9::text IS NULL OR l.action = $9)"                                             \
		    " ORDER BY l.occurred_at DESC, l.id DESC LIMIT $10::integer",                          \
		    10                                                                                     \
	}

static const keel_stmt st_list[3] = {
    LOG_LIST("audit_list", " AND $7::uuid IS NULL AND $8::uuid IS NULL"),
    LOG_LIST("audit_list_record",
             " AND l.record_id = $7::uuid AND ($8::uuid IS NULL OR l.actor_id = $8::uuid)"),
    LOG_LIST("audit_list_actor", " AND $7::uuid IS NULL AND l.actor_id = $8::uuid"),
};

#define MONTH_AT "(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1))"

static const keel_stmt st_create = {"audit_create_partition",
                                    "SELECT audit.create_partition(" MONTH_AT "::date)", 1};
static const keel_stmt st_month = {"audit_month", "SELECT to_char(" MONTH_AT ", 'YYYY-MM')", 1};
static const keel_stmt st_cutoff = {
    "audit_cutoff",
    "SELECT to_char((now() - $1::bigint * interval '1 millisecond') AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    1};
static const keel_stmt st_prunable = {
    "audit_prunable",
    "SELECT p.name, to_char(p.range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
    " to_char(p.range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD'), pg_size_pretty(p.bytes)"
    " FROM audit.partitions() p WHERE NOT p.is_default AND p.range_to <= $1::timestamptz"
    " ORDER BY p.range_from",
    1};
static const keel_stmt st_drop = {"audit_drop_partition",
                                  "SELECT audit.drop_partition($1::regclass, $2::timestamptz)", 2};

const keel_stmt *
audit_store_list_stmt(const audit_filter *f, char lim[16], const char *p[10])
{
	const char *bound[] = {f->since ? f->since : "-infinity",
	                       f->until ? f->until : "infinity",
	                       f->before_at ? f->before_at : "infinity",
	                       f->before_id ? f->before_id : "ffffffff-ffff-ffff-ffff-ffffffffffff",
	                       f->schema,
	                       f->table,
	                       f->record_id,
	                       f->actor_id,
	                       f->action,
	                       lim};

	snprintf(lim, 16, "%d", f->limit);
	memcpy(p, bound, sizeof(bound));
	return &st_list[f->record_id != NULL ? 1 : f->actor_id != NULL ? 2 : 0];
}

keel_err
audit_store_list(keel_tx *tx, keel_arena *a, const audit_filter *f, audit_page *page)
{
	char lim[16];
	const char *p[10];
	const keel_stmt *st = audit_store_list_stmt(f, lim, p);
	keel_res *res;

	keel_err err = keel_tx_exec_only(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(&page->list, keel_res_get(res, i, 2));
	if (n > 0) {
		page->last_id = keel_arena_strdup(a, keel_res_get(res, n - 1, 0));
		page->last_us = strtoll(keel_res_get(res, n - 1, 1), NULL, 10);
	}
	return KEEL_OK;
}

/* A statement whose one value is a boolean; *out gets it. */
static keel_err
exec_bool(keel_db *db, keel_arena *a, const keel_stmt *st, const char *const *p, bool *out)
{
	keel_res *res;
	keel_err err = keel_db_exec(db, a, st, p, &res);

	if (err != KEEL_OK)
		return err;
	*out = keel_res_rows(res) == 1 && strcmp(keel_res_get(res, 0, 0), "t") == 0;
	return KEEL_OK;
}

/* A statement whose one value is text; *out gets it, NULL for SQL NULL. */
static keel_err
exec_text(keel_db *db, keel_arena *a, const keel_stmt *st, const char *const *p, const char **out)
{
	keel_res *res;
	keel_err err = keel_db_exec(db, a, st, p, &res);

	if (err != KEEL_OK)
		return err;
	*out = keel_res_rows(res) == 1 && !keel_res_null(res, 0, 0)
	           ? keel_arena_strdup(a, keel_res_get(res, 0, 0))
	           : NULL;
	return KEEL_OK;
}

/* exec_text() of a statement whose one parameter is the integer v. */
static keel_err
exec_int_text(keel_db *db, keel_arena *a, const keel_stmt *st, long long v, const char **out)
{
	char text[32];
	const char *p[] = {text};

	snprintf(text, sizeof(text), "%lld", v);
	return exec_text(db, a, st, p, out);
}

keel_err
audit_store_create_partition(keel_db *db, keel_arena *a, int offset, const char **name)
{
	return exec_int_text(db, a, &st_create, offset, name);
}

keel_err
audit_store_month(keel_db *db, keel_arena *a, int offset, const char **month)
{
	return exec_int_text(db, a, &st_month, offset, month);
}

keel_err
audit_store_cutoff(keel_db *db, keel_arena *a, int64_t keep_ms, const char **cutoff)
{
	return exec_int_text(db, a, &st_cutoff, (long long)keep_ms, cutoff);
}

keel_err
audit_store_prunable(keel_db *db, keel_arena *a, const char *cutoff, audit_partition **parts,
                     int *n)
{
	const char *p[] = {cutoff};
	keel_res *res;
	keel_err err = keel_db_exec(db, a, &st_prunable, p, &res);

	if (err != KEEL_OK)
		return err;
	*n = keel_res_rows(res);
	*parts = keel_arena_calloc(a, (size_t)*n + 1, sizeof(**parts));
	for (int i = 0; i < *n; i++) {
		(*parts)[i] = (audit_partition){.name = keel_arena_strdup(a, keel_res_get(res, i, 0)),
		                                .from = keel_arena_strdup(a, keel_res_get(res, i, 1)),
		                                .to = keel_arena_strdup(a, keel_res_get(res, i, 2)),
		                                .size = keel_arena_strdup(a, keel_res_get(res, i, 3))};
	}
	return KEEL_OK;
}

keel_err
audit_store_drop_partition(keel_db *db, keel_arena *a, const char *name, const char *cutoff,
                           bool *dropped)
{
	const char *p[] = {name, cutoff};

	return exec_bool(db, a, &st_drop, p, dropped);
}
