/*
 * Journal entries' SQL.
 *
 * An entry leaves PostgreSQL as the API's JSON, its lines included (json_agg in line order),
 * amounts rendered by fin.amount_text with their currency's minor units and reversed_by_id
 * derived from the reversal that names the entry.  Lines are written in one statement from
 * arrays (unnest ... WITH ORDINALITY: line_no is the index + 1, so the database's errors that
 * name lines[line_no - 1] name the body's line).  Posting and reversal are migration 0012's
 * functions (fin.post_entry, fin.reverse_entry): the period, the number and the checks are
 * theirs.
 */
#include "fin/fin_entry.h"
#include "events/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CURRENT "core.current_tenant_id()"

#define LINE_JSON                                                                                  \
	"json_build_object('id', l.id, 'account_id', l.account_id,"                                    \
	" 'debit', fin.amount_text(l.debit, lc.minor_units),"                                          \
	" 'credit', fin.amount_text(l.credit, lc.minor_units), 'currency', l.currency,"                \
	" 'rate', l.rate::text, 'functional_debit', fin.amount_text(l.functional_debit, "              \
	"gc.minor_units),"                                                                             \
	" 'functional_credit', fin.amount_text(l.functional_credit, gc.minor_units),"                  \
	" 'division_id', l.division_id, 'memo', l.memo)"

#define LINES_JSON                                                                                 \
	"(SELECT coalesce(json_agg(" LINE_JSON " ORDER BY l.line_no), '[]'::json)"                     \
	" FROM fin.journal_lines l JOIN fin.currencies lc ON lc.code = l.currency"                     \
	" WHERE l.tenant_id = e.tenant_id AND l.entry_id = e.id)"

/* The entry's members; lines is the text of its "lines" member, or "" for none. */
#define ENTRY_JSON(lines)                                                                          \
	"json_build_object('id', e.id, 'organization_id', e.organization_id, 'journal', e.journal,"    \
	" 'kind', e.kind, 'number', e.number, 'date', to_char(e.date, 'YYYY-MM-DD'), 'memo', e.memo,"  \
	" 'currency', e.currency, 'status', e.status, 'reverses_id', e.reverses_id,"                   \
	" 'reversed_by_id', (SELECT r.id FROM fin.journal_entries r"                                   \
	" WHERE r.tenant_id = e.tenant_id AND r.reverses_id = e.id),"                                  \
	" 'posted_at', " KEEL_DB_TS("e.posted_at") ", 'posted_by', e.posted_by," lines                 \
	                                           " 'version', e.version, 'created_at', " KEEL_DB_TS( \
	                                               "e.created_at") ","                             \
	                                                               " 'updated_at', " KEEL_DB_TS(   \
	                                                                   "e.updated_at") ")::text"

#define ENTRY_FROM                                                                                 \
	" FROM fin.journal_entries e"                                                                  \
	" JOIN fin.ledgers g ON g.tenant_id = e.tenant_id AND g.organization_id = e.organization_id"   \
	" JOIN fin.currencies gc ON gc.code = g.currency"

#define ENTRY_ROW "e.id, e.version, " ENTRY_JSON(" 'lines', " LINES_JSON ",")

static const keel_stmt st_get = {
    "fin_entry_get",
    "SELECT " ENTRY_ROW ENTRY_FROM " WHERE e.tenant_id = " CURRENT " AND e.id = $1", 1};

static const keel_stmt st_lock = {"fin_entry_lock",
                                  "SELECT " ENTRY_ROW ", e.organization_id, e.status, e.currency,"
                                  " to_char(e.date, 'YYYY-MM-DD')" ENTRY_FROM
                                  " WHERE e.tenant_id = " CURRENT " AND e.id = $1 FOR UPDATE OF e",
                                  1};

/* Each line whose account ($2) or division ($3) is not one of organization $1's. */
static const keel_stmt st_bad_refs = {
    "fin_entry_bad_refs",
    "SELECT field FROM ("
    " SELECT a.n, 0 AS k, 'lines[' || (a.n - 1) || '].account_id' AS field"
    " FROM unnest($2::uuid[]) WITH ORDINALITY AS a(id, n)"
    " WHERE NOT EXISTS (SELECT 1 FROM fin.accounts x WHERE x.tenant_id = " CURRENT
    " AND x.organization_id = $1 AND x.id = a.id)"
    " UNION ALL"
    " SELECT d.n, 1, 'lines[' || (d.n - 1) || '].division_id'"
    " FROM unnest($3::uuid[]) WITH ORDINALITY AS d(id, n)"
    " WHERE d.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM org.divisions x"
    " WHERE x.tenant_id = " CURRENT " AND x.organization_id = $1 AND x.id = d.id)"
    ") b ORDER BY n, k LIMIT 50",
    3};

static const keel_stmt st_create = {"fin_entry_create",
                                    "INSERT INTO fin.journal_entries (tenant_id, id, "
                                    "organization_id, journal, date, memo, currency)"
                                    " VALUES (" CURRENT
                                    ", $1, $2, $3, $4::date, coalesce($5, ''), $6)",
                                    6};

/*
 * A line's rate: 1 in the ledger's currency $L, else the rate given or the one in force on the
 * entry's date $D (rates are never inverted).
 */
#define LINE_RATE(L, D)                                                                            \
	"CASE WHEN u.currency = " L " THEN 1::numeric ELSE coalesce(u.rate::numeric,"                  \
	" fin.rate_in_force(u.currency, " L ", " D ")) END"

/*
 * The lines of entry $1 (organization $2, ledger currency $3) from arrays, line_no = index + 1;
 * functional amounts converted at the line's rate by fin.fx_functional (migration 0013).
 */
static const keel_stmt st_lines = {
    "fin_entry_lines",
    "INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,"
    " debit, credit, currency, rate, functional_debit, functional_credit, division_id, memo)"
    " SELECT " CURRENT ", audit.uuid_v7(clock_timestamp()), $2, $1, u.n, u.account_id, u.debit,"
    " u.credit, u.currency, x.rate,"
    " fin.fx_functional(u.debit, x.rate, lc.minor_units, gc.minor_units)::bigint,"
    " fin.fx_functional(u.credit, x.rate, lc.minor_units, gc.minor_units)::bigint,"
    " u.division_id, u.memo"
    " FROM unnest($4::uuid[], $5::bigint[], $6::bigint[], $7::uuid[], $8::text[], $9::text[],"
    " $10::text[]) WITH ORDINALITY AS u(account_id, debit, credit, division_id, memo, currency,"
    " rate, n)"
    " JOIN fin.currencies lc ON lc.code = u.currency JOIN fin.currencies gc ON gc.code = $3"
    " CROSS JOIN LATERAL (SELECT " LINE_RATE("$3", "(SELECT e.date FROM fin.journal_entries e"
                                                   " WHERE e.tenant_id = " CURRENT
                                                   " AND e.id = $1)") " AS rate) x ORDER BY u.n",
    10};

/* The minor units of the codes $1 (NULL: no such currency), in their order. */
static const keel_stmt st_units = {
    "fin_entry_units",
    "SELECT c.minor_units FROM unnest($1::text[]) WITH ORDINALITY AS u(code, n)"
    " LEFT JOIN fin.currencies c ON c.code = u.code ORDER BY u.n",
    1};

/*
 * The lines (currencies $1, rates $4, debits $5, credits $6) that cannot be converted into $2 on
 * $3: no rate, or past the largest amount once converted (each line, then the totals).
 */
static const keel_stmt st_bad_fx = {
    "fin_entry_bad_fx",
    "WITH f AS (SELECT u.n, u.debit, x.rate,"
    " fin.fx_functional(u.debit, x.rate, lc.minor_units, gc.minor_units) AS fd,"
    " fin.fx_functional(u.credit, x.rate, lc.minor_units, gc.minor_units) AS fc"
    " FROM unnest($1::text[], $4::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY"
    " AS u(currency, rate, debit, credit, n)"
    " JOIN fin.currencies lc ON lc.code = u.currency JOIN fin.currencies gc ON gc.code = $2"
    " CROSS JOIN LATERAL (SELECT " LINE_RATE(
        "$2", "$3::date") " AS rate) x)"
                          " SELECT field, msg FROM ("
                          " SELECT n, 'lines[' || (n - 1) || '].currency' AS field,"
                          " 'has no exchange rate into ' || $2 || ' on or before ' || $3 || ': "
                          "give the line a rate'"
                          " AS msg FROM f WHERE rate IS NULL"
                          " UNION ALL SELECT n, 'lines[' || (n - 1) || '].' || CASE WHEN debit > 0 "
                          "THEN 'debit'"
                          " ELSE 'credit' END, 'converted at its rate, is past the largest amount'"
                          " FROM f WHERE greatest(fd, fc) > 9223372036854775807"
                          " UNION ALL SELECT 1001, 'lines', '" FIN_ENTRY_OVERFLOW "' FROM f"
                          " HAVING sum(fd) > 9223372036854775807 OR sum(fc) > 9223372036854775807"
                          ") b ORDER BY n LIMIT 50",
    6};

static const keel_stmt st_lines_delete = {
    "fin_entry_lines_delete",
    "DELETE FROM fin.journal_lines l WHERE l.tenant_id = " CURRENT " AND l.entry_id = $1", 1};

static const keel_stmt st_update = {
    "fin_entry_update",
    "UPDATE fin.journal_entries e SET journal = coalesce($2, e.journal),"
    " date = coalesce($3::date, e.date), memo = coalesce($4, e.memo), version = e.version + 1,"
    " updated_at = now() WHERE e.tenant_id = " CURRENT " AND e.id = $1",
    4};

static const keel_stmt st_delete = {
    "fin_entry_delete",
    "DELETE FROM fin.journal_entries e WHERE e.tenant_id = " CURRENT " AND e.id = $1", 1};

static const keel_stmt st_post = {"fin_entry_post", "SELECT fin.post_entry($1)", 1};

static const keel_stmt st_reverse = {"fin_entry_reverse",
                                     "SELECT fin.reverse_entry($1, $2, $3::date, $4)", 4};

/*
 * A page in (date, journal, sequence, id) order: the order of numbers within a day (journal
 * names sort as their prefixes do, and a day is in one fiscal year), drafts (no sequence) last
 * in their day and journal; journal_entries_date_idx's order.  $1..$4 the last row's key ($3
 * NULL: a draft), $5 the limit, $6 the organization, then the filters.  The dates bound the
 * index range whatever the plan (a generic plan cannot drop an "IS NULL OR" arm).
 */
#define LIST_WHERE                                                                                 \
	ENTRY_FROM                                                                                     \
	" WHERE e.tenant_id = " CURRENT " AND e.organization_id = $6"                                  \
	" AND ($7::text IS NULL OR e.status = $7) AND ($8::text IS NULL OR e.journal = $8)"            \
	" AND e.date >= greatest(coalesce($1::date, '-infinity'), coalesce($9::date, '-infinity'))"    \
	" AND e.date <= coalesce($10::date, 'infinity')"                                               \
	" AND ($11::uuid IS NULL OR EXISTS (SELECT 1 FROM fin.journal_lines l"                         \
	" WHERE l.tenant_id = e.tenant_id AND l.entry_id = e.id AND l.account_id = $11))"              \
	" AND ($1::date IS NULL OR e.date > $1 OR (e.date = $1 AND (e.journal > $2"                    \
	" OR (e.journal = $2 AND CASE WHEN $3::bigint IS NULL THEN e.sequence IS NULL AND e.id > $4"   \
	" ELSE e.sequence > $3 OR e.sequence IS NULL OR (e.sequence = $3 AND e.id > $4::uuid) END))))" \
	" ORDER BY e.date, e.journal, e.sequence NULLS LAST, e.id LIMIT $5::integer"

static const keel_stmt st_list = {
    "fin_entry_list", "SELECT e.date, e.journal, e.sequence, e.id, " ENTRY_JSON("") LIST_WHERE, 11};

/* The same with each entry's lines (the CSV of the list). */
static const keel_stmt st_list_lines = {"fin_entry_list_lines",
                                        "SELECT e.date, e.journal, e.sequence, e.id, " ENTRY_JSON(
                                            " 'lines', " LINES_JSON ",") LIST_WHERE,
                                        11};

/* The lines' columns as PostgreSQL array literals. */
typedef struct line_arrays {
	keel_buf account, debit, credit, division, memo, currency, rate;
} line_arrays;

static void
put_text(keel_buf *b, const char *s)
{
	keel_buf_puts(b, "\"");
	for (const char *c = s; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			keel_buf_append(b, "\\", 1);
		keel_buf_append(b, c, 1);
	}
	keel_buf_puts(b, "\"");
}

static void
line_arrays_make(keel_arena *a, const fin_entry_in *in, line_arrays *out)
{
	keel_buf *all[] = {&out->account, &out->debit,    &out->credit, &out->division,
	                   &out->memo,    &out->currency, &out->rate};

	for (size_t i = 0; i < KEEL_NELEM(all); i++) {
		keel_buf_init(all[i], a);
		keel_buf_puts(all[i], "{");
	}
	for (int i = 0; i < in->nlines; i++) {
		const fin_line_in *l = &in->lines[i];
		const char *sep = i > 0 ? "," : "";

		keel_buf_printf(&out->account, "%s%s", sep, l->account_id);
		keel_buf_printf(&out->debit, "%s%" PRId64, sep, l->debit);
		keel_buf_printf(&out->credit, "%s%" PRId64, sep, l->credit);
		keel_buf_printf(&out->division, "%s%s", sep, l->division_id ? l->division_id : "NULL");
		keel_buf_puts(&out->memo, sep);
		put_text(&out->memo, l->memo ? l->memo : "");
		keel_buf_printf(&out->currency, "%s%s", sep, l->currency);
		keel_buf_printf(&out->rate, "%s%s", sep, l->rate ? l->rate : "NULL");
	}
	for (size_t i = 0; i < KEEL_NELEM(all); i++)
		keel_buf_puts(all[i], "}");
}

keel_err
fin_entry_store_bad_refs(keel_tx *tx, keel_arena *a, const char *org_id, const fin_entry_in *in,
                         json_t *errors, size_t *bad)
{
	line_arrays arr;
	keel_res *res;

	line_arrays_make(a, in, &arr);
	const char *p[] = {org_id, arr.account.data, arr.division.data};
	keel_err err = keel_tx_exec(tx, &st_bad_refs, p, &res);

	*bad = 0;
	for (int i = 0; err == KEEL_OK && i < keel_res_rows(res); i++) {
		const char *field = keel_res_get(res, i, 0);

		*bad += keel_field_error(errors, field,
		                         strstr(field, "account") != NULL
		                             ? "must be an account of the organization"
		                             : "must be a division of the organization");
	}
	return err;
}

static keel_err
insert_lines(keel_tx *tx, keel_arena *a, const char *id, const char *org_id, const char *currency,
             const fin_entry_in *in)
{
	line_arrays arr;

	line_arrays_make(a, in, &arr);
	const char *p[] = {id,
	                   org_id,
	                   currency,
	                   arr.account.data,
	                   arr.debit.data,
	                   arr.credit.data,
	                   arr.division.data,
	                   arr.memo.data,
	                   arr.currency.data,
	                   arr.rate.data};
	return keel_tx_exec(tx, &st_lines, p, NULL);
}

keel_err
fin_entry_store_units(keel_tx *tx, keel_arena *a, const char *const *codes, int n, int *units)
{
	keel_buf b;
	keel_res *res;

	keel_buf_init(&b, a);
	keel_buf_puts(&b, "{");
	for (int i = 0; i < n; i++) {
		keel_buf_puts(&b, i > 0 ? "," : "");
		put_text(&b, codes[i]);
	}
	keel_buf_puts(&b, "}");
	const char *p[] = {b.data};
	keel_err err = keel_tx_exec(tx, &st_units, p, &res);

	for (int i = 0; err == KEEL_OK && i < n; i++)
		units[i] = i < keel_res_rows(res) && !keel_res_null(res, i, 0)
		               ? (int)strtol(keel_res_get(res, i, 0), NULL, 10)
		               : -1;
	return err;
}

keel_err
fin_entry_store_bad_fx(keel_tx *tx, keel_arena *a, const char *ledger_currency, const char *date,
                       const fin_entry_in *in, json_t *errors, size_t *bad)
{
	line_arrays arr;
	keel_res *res;

	line_arrays_make(a, in, &arr);
	const char *p[] = {arr.currency.data, ledger_currency, date,
	                   arr.rate.data,     arr.debit.data,  arr.credit.data};
	keel_err err = keel_tx_exec(tx, &st_bad_fx, p, &res);

	*bad = 0;
	for (int i = 0; err == KEEL_OK && i < keel_res_rows(res); i++)
		*bad += keel_field_error(errors, keel_res_get(res, i, 0), "%s", keel_res_get(res, i, 1));
	return err;
}

keel_err
fin_entry_store_create(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                       const char *currency, const fin_entry_in *in)
{
	const char *p[] = {id, org_id, in->journal, in->date, in->memo, in->currency};
	keel_err err = keel_tx_exec(tx, &st_create, p, NULL);

	return err != KEEL_OK ? err : insert_lines(tx, a, id, org_id, currency, in);
}

static keel_err
one_row(keel_arena *a, keel_res *res, fin_row *row)
{
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	fin_store_row(res, 0, a, row);
	return KEEL_OK;
}

keel_err
fin_entry_store_get(keel_tx *tx, keel_arena *a, const char *id, bool only, fin_row *row)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err =
	    only ? keel_tx_exec_only(tx, &st_get, p, &res) : keel_tx_exec(tx, &st_get, p, &res);

	return err != KEEL_OK ? err : one_row(a, res, row);
}

keel_err
fin_entry_store_event(keel_tx *tx, keel_arena *a, const char *id, const char *event, fin_row *row)
{
	keel_err err = fin_entry_store_get(tx, a, id, false, row);

	return err != KEEL_OK || event == NULL ? err
	                                       : keel_events_enqueue(tx, event, row->id, row->json);
}

keel_err
fin_entry_store_lock(keel_tx *tx, keel_arena *a, const char *id, fin_entry_state *st)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_lock, p, &res);

	if (err == KEEL_OK)
		err = one_row(a, res, &st->row);
	if (err != KEEL_OK)
		return err;
	st->organization_id = keel_arena_strdup(a, keel_res_get(res, 0, 3));
	st->status = keel_arena_strdup(a, keel_res_get(res, 0, 4));
	st->currency = keel_arena_strdup(a, keel_res_get(res, 0, 5));
	st->date = keel_arena_strdup(a, keel_res_get(res, 0, 6));
	st->version = st->row.version;
	return KEEL_OK;
}

keel_err
fin_entry_store_update(keel_tx *tx, keel_arena *a, const char *id, const char *org_id,
                       const char *currency, const fin_entry_in *in)
{
	const char *p[] = {id, in->journal, in->date, in->memo};
	const char *dp[] = {id};
	keel_err err = keel_tx_exec(tx, &st_update, p, NULL);

	if (err != KEEL_OK || in->lines == NULL)
		return err;
	if ((err = keel_tx_exec(tx, &st_lines_delete, dp, NULL)) != KEEL_OK)
		return err;
	return insert_lines(tx, a, id, org_id, currency, in);
}

keel_err
fin_entry_store_delete(keel_tx *tx, const char *id)
{
	const char *p[] = {id};

	return keel_tx_exec(tx, &st_delete, p, NULL);
}

keel_err
fin_entry_store_post(keel_tx *tx, const char *id)
{
	const char *p[] = {id};

	return keel_tx_exec(tx, &st_post, p, NULL);
}

keel_err
fin_entry_store_reverse(keel_tx *tx, const char *id, const char *new_id, const char *date,
                        const char *memo)
{
	const char *p[] = {id, new_id, date, memo};

	return keel_tx_exec(tx, &st_reverse, p, NULL);
}

static void
key_copy(char *dst, size_t size, const keel_res *res, int row, int col)
{
	snprintf(dst, size, "%s", keel_res_null(res, row, col) ? "" : keel_res_get(res, row, col));
}

keel_err
fin_entry_store_list(keel_tx *tx, const fin_entry_filter *f, keel_svc_list *list,
                     fin_entry_key *last)
{
	const fin_entry_key *k = f->after;
	char limit[16];
	const char *p[] = {k ? k->date : NULL,
	                   k ? k->journal : NULL,
	                   k && k->sequence[0] != '\0' ? k->sequence : NULL,
	                   k ? k->id : NULL,
	                   limit,
	                   f->organization_id,
	                   f->status,
	                   f->journal,
	                   f->from,
	                   f->to,
	                   f->account_id};
	keel_res *res;

	snprintf(limit, sizeof(limit), "%d", f->limit);
	keel_err err = keel_tx_exec(tx, f->lines ? &st_list_lines : &st_list, p, &res);

	if (err != KEEL_OK)
		return err;
	int n = keel_res_rows(res);

	for (int i = 0; i < n; i++)
		keel_svc_list_add(list, keel_res_get(res, i, 4));
	if (n > 0) {
		key_copy(last->date, sizeof(last->date), res, n - 1, 0);
		key_copy(last->journal, sizeof(last->journal), res, n - 1, 1);
		key_copy(last->sequence, sizeof(last->sequence), res, n - 1, 2);
		key_copy(last->id, sizeof(last->id), res, n - 1, 3);
	}
	return KEEL_OK;
}
