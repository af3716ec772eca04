/*
 * The reports' SQL: the trial balance and the account ledger, both read from fin.postings
 * (the posted lines, migration 0012) and its two indexes, never from a running-balance row.
 *
 * The trial balance is one statement: the sums per account, of the closed periods from their
 * snapshots (fin.period_account_balances, or fin.period_balances for a division; migrations
 * 0014 and 0018) and of the rest over postings_date_idx (an
 * index-only range of the organization's postings up to `to`), the roll-up of every group
 * account over its descendants (a recursive walk up parent_id from the accounts that moved),
 * and the answer rendered by PostgreSQL.  The account ledger is a keyset range of
 * postings_account_idx from a position (date, journal, sequence, line_no) with the running
 * balance carried in from the cursor: a page costs the same wherever it starts.
 */
#include "fin/fin_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * $1 organization, $2 from, $3 to, $4 division (NULL: all), $5 currency, $6 minor units.
 * Columns: the answer's JSON; whether the division is one of the organization's.
 * The closed periods (always a prefix of the organization's periods: periods_transition) that
 * lie wholly before from or wholly within from..to are read from their snapshots (sp); the
 * postings are read from after the last of them that leaves no gap (scan.after) to `to`, those
 * of the snapshots within the range (scan.ms..scan.me) filtered out, so the answer is the
 * same as from the postings alone.  The snapshots read are the per-account ones
 * (fin.period_account_balances: a row per account and period) without a division filter, the
 * per-division ones (fin.period_balances) with one.  Each side is summed per account before
 * the two are added up: the generic plan sorts the rows it aggregates.
 * Accounts are listed when they, or for a group one of its descendants, have an opening
 * balance or a movement; totals are over the postings themselves (every posting is to a
 * leaf), so groups stay out of them.
 */
const keel_stmt fin_report_trial_balance_stmt = {
    "fin_trial_balance",
    "WITH RECURSIVE sp AS ("
    " SELECT c.id, c.start_date, c.end_date, c.end_date < $2::date AS is_before"
    " FROM fin.periods c"
    " WHERE c.tenant_id = core.current_tenant_id() AND c.organization_id = $1::uuid"
    "  AND c.status <> 'open' AND c.start_date < (SELECT coalesce(min(o.start_date), 'infinity')"
    "   FROM fin.periods o WHERE o.tenant_id = core.current_tenant_id()"
    "   AND o.organization_id = $1::uuid AND o.status = 'open')"
    "  AND (c.end_date < $2::date OR (c.start_date >= $2::date AND c.end_date <= $3::date))),"
    " cov AS ("
    " SELECT coalesce(max(sp.end_date) FILTER (WHERE sp.is_before), '-infinity') AS lo,"
    "  coalesce(min(sp.start_date) FILTER (WHERE NOT sp.is_before), 'infinity') AS ms,"
    "  coalesce(max(sp.end_date) FILTER (WHERE NOT sp.is_before), 'infinity') AS me FROM sp),"
    " scan AS ("
    " SELECT CASE WHEN cov.ms < 'infinity' AND NOT EXISTS (SELECT 1 FROM fin.periods x"
    "   WHERE x.tenant_id = core.current_tenant_id() AND x.organization_id = $1::uuid"
    "   AND x.start_date > cov.lo AND x.end_date < cov.ms) THEN cov.me ELSE cov.lo END AS after,"
    "  cov.ms, cov.me FROM cov),"
    " mv AS ("
    " SELECT s.account_id, sum(s.opening) AS opening, sum(s.debit) AS debit,"
    "  sum(s.credit) AS credit FROM ("
    "  SELECT b.account_id, coalesce(sum(b.debit - b.credit) FILTER (WHERE sp.is_before), 0)"
    "   AS opening, coalesce(sum(b.debit) FILTER (WHERE NOT sp.is_before), 0) AS debit,"
    "   coalesce(sum(b.credit) FILTER (WHERE NOT sp.is_before), 0) AS credit"
    "  FROM (SELECT w.period_id, w.account_id, w.debit, w.credit"
    "   FROM fin.period_account_balances w"
    "   WHERE $4::uuid IS NULL AND w.tenant_id = core.current_tenant_id()"
    "   AND w.organization_id = $1::uuid"
    "   UNION ALL"
    "   SELECT d.period_id, d.account_id, d.debit, d.credit FROM fin.period_balances d"
    "   WHERE $4::uuid IS NOT NULL AND d.tenant_id = core.current_tenant_id()"
    "   AND d.organization_id = $1::uuid AND d.division_id = $4::uuid) b"
    "  JOIN sp ON sp.id = b.period_id"
    "  GROUP BY b.account_id"
    "  UNION ALL"
    "  SELECT p.account_id,"
    "   coalesce(sum(p.debit - p.credit) FILTER (WHERE p.date < $2::date), 0),"
    "   coalesce(sum(p.debit) FILTER (WHERE p.date >= $2::date), 0),"
    "   coalesce(sum(p.credit) FILTER (WHERE p.date >= $2::date), 0)"
    "  FROM fin.postings p"
    "  WHERE p.tenant_id = core.current_tenant_id() AND p.organization_id = $1::uuid"
    "   AND p.date > (SELECT scan.after FROM scan) AND p.date <= $3::date"
    "   AND NOT (p.date >= (SELECT scan.ms FROM scan) AND p.date <= (SELECT scan.me FROM scan))"
    "   AND ($4::uuid IS NULL OR p.division_id = $4::uuid)"
    "  GROUP BY p.account_id) s"
    " GROUP BY s.account_id),"
    " up AS ("
    " SELECT a.id, a.parent_id, m.opening, m.debit, m.credit,"
    "  (m.opening <> 0 OR m.debit <> 0 OR m.credit <> 0) AS moved"
    " FROM mv m JOIN fin.accounts a"
    "  ON a.tenant_id = core.current_tenant_id() AND a.organization_id = $1::uuid"
    "  AND a.id = m.account_id"
    " UNION ALL"
    " SELECT g.id, g.parent_id, u.opening, u.debit, u.credit, u.moved"
    " FROM up u JOIN fin.accounts g"
    "  ON g.tenant_id = core.current_tenant_id() AND g.organization_id = $1::uuid"
    "  AND g.id = u.parent_id),"
    " roll AS ("
    " SELECT u.id, sum(u.opening) AS opening, sum(u.debit) AS debit, sum(u.credit) AS credit"
    " FROM up u GROUP BY u.id HAVING bool_or(u.moved))"
    " SELECT json_build_object('currency', $5::text,"
    "  'from', to_char($2::date, 'YYYY-MM-DD'), 'to', to_char($3::date, 'YYYY-MM-DD'),"
    "  'accounts', coalesce((SELECT json_agg(json_build_object("
    "   'account_id', a.id, 'code', a.code, 'name', a.name, 'type', a.type,"
    "   'is_group', a.is_group,"
    "   'opening', fin.amount_text(r.opening::bigint, $6::int),"
    "   'debit', fin.amount_text(r.debit::bigint, $6::int),"
    "   'credit', fin.amount_text(r.credit::bigint, $6::int),"
    "   'closing', fin.amount_text((r.opening + r.debit - r.credit)::bigint, $6::int))"
    "   ORDER BY a.code COLLATE \"C\")"
    "   FROM roll r JOIN fin.accounts a"
    "    ON a.tenant_id = core.current_tenant_id() AND a.organization_id = $1::uuid"
    "    AND a.id = r.id), '[]'::json),"
    "  'totals', (SELECT json_build_object("
    "   'opening', fin.amount_text(coalesce(sum(m.opening), 0)::bigint, $6::int),"
    "   'debit', fin.amount_text(coalesce(sum(m.debit), 0)::bigint, $6::int),"
    "   'credit', fin.amount_text(coalesce(sum(m.credit), 0)::bigint, $6::int),"
    "   'closing', fin.amount_text(coalesce(sum(m.opening + m.debit - m.credit), 0)::bigint,"
    "    $6::int))"
    "   FROM mv m)),"
    " $4::uuid IS NULL OR EXISTS (SELECT 1 FROM org.divisions d"
    "  WHERE d.tenant_id = core.current_tenant_id() AND d.organization_id = $1::uuid"
    "  AND d.id = $4::uuid)",
    6};

keel_err
fin_report_store_trial_balance(keel_tx *tx, keel_arena *a, const fin_ledger *ledger,
                               const char *from, const char *to, const char *division_id,
                               const char **json)
{
	char units[4];

	snprintf(units, sizeof(units), "%d", ledger->minor_units);
	const char *p[] = {ledger->organization_id, from, to, division_id, ledger->currency, units};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &fin_report_trial_balance_stmt, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_EINTERNAL;
	if (strcmp(keel_res_get(res, 0, 1), "t") != 0)
		return KEEL_EINVAL;
	*json = keel_res_json(res, 0, 0, a);
	return KEEL_OK;
}

/* The account, its organization and the ledger currency's minor units. */
static const keel_stmt st_account = {
    "fin_report_account",
    "SELECT a.organization_id, a.is_group, c.minor_units FROM fin.accounts a"
    " JOIN fin.ledgers g ON g.tenant_id = a.tenant_id AND g.organization_id = a.organization_id"
    " JOIN fin.currencies c ON c.code = g.currency"
    " WHERE a.tenant_id = core.current_tenant_id() AND a.id = $1",
    1};

keel_err
fin_report_store_account(keel_tx *tx, keel_arena *a, const char *id, fin_report_account *out)
{
	const char *p[] = {id};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_account, p, &res);

	memset(out, 0, sizeof(*out));
	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	out->id = keel_arena_strdup(a, id);
	out->organization_id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	out->is_group = strcmp(keel_res_get(res, 0, 1), "t") == 0;
	out->minor_units = atoi(keel_res_get(res, 0, 2));
	return KEEL_OK;
}

/* The balance of an account before a date: an index-only range of postings_account_idx. */
const keel_stmt fin_report_opening_stmt = {
    "fin_report_opening",
    "SELECT coalesce(sum(p.debit - p.credit), 0)::bigint FROM fin.postings p"
    " WHERE p.tenant_id = core.current_tenant_id() AND p.organization_id = $2::uuid"
    " AND p.account_id = $1::uuid AND p.date < $3::date",
    3};

keel_err
fin_report_store_opening(keel_tx *tx, const fin_report_account *acct, const char *from,
                         int64_t *out)
{
	const char *p[] = {acct->id, acct->organization_id, from};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &fin_report_opening_stmt, p, &res);

	if (err != KEEL_OK)
		return err;
	*out = strtoll(keel_res_get(res, 0, 0), NULL, 10);
	return KEEL_OK;
}

/*
 * A page of the account ledger: $1 account, $2 organization, $3 from, $4 to, the position
 * after which it starts ($5 date, $6 journal, $7 sequence, $8 line_no), $9 the balance there,
 * $10 the page size, $11 minor units.  The running balance is a window over the page alone.
 * The postings are read from the index alone (the line's memo by its (entry_id, line_no) key).
 * Columns: the item's JSON, then its position (days since 1970-01-01, journal, sequence,
 * line_no) and balance in minor units, for the cursor.
 */
const keel_stmt fin_report_ledger_stmt = {
    "fin_report_ledger",
    "SELECT json_build_object('entry_id', p.entry_id, 'number', e.number,"
    "  'date', to_char(p.date, 'YYYY-MM-DD'),"
    "  'memo', CASE WHEN l.memo <> '' THEN l.memo ELSE e.memo END,"
    "  'debit', fin.amount_text(p.debit, $11::int), 'credit', fin.amount_text(p.credit, $11::int),"
    "  'balance', fin.amount_text(p.balance, $11::int)),"
    " p.date - DATE '1970-01-01', p.journal, p.sequence, p.line_no, p.balance"
    " FROM (SELECT q.entry_id, q.date, q.journal, q.sequence, q.line_no, q.debit, q.credit,"
    "  ($9::bigint + sum(q.debit - q.credit) OVER (ORDER BY q.date, q.journal, q.sequence,"
    "   q.line_no ROWS UNBOUNDED PRECEDING))::bigint AS balance"
    "  FROM fin.postings q"
    "  WHERE q.tenant_id = core.current_tenant_id() AND q.organization_id = $2::uuid"
    "  AND q.account_id = $1::uuid AND q.date >= $3::date AND q.date <= $4::date"
    "  AND (q.date, q.journal, q.sequence, q.line_no)"
    "   > ($5::date, $6::text, $7::bigint, $8::integer)"
    "  ORDER BY q.date, q.journal, q.sequence, q.line_no LIMIT $10::integer) p"
    " JOIN fin.journal_entries e ON e.tenant_id = core.current_tenant_id() AND e.id = p.entry_id"
    " JOIN fin.journal_lines l ON l.tenant_id = core.current_tenant_id()"
    " AND l.entry_id = p.entry_id AND l.line_no = p.line_no"
    " ORDER BY p.date, p.journal, p.sequence, p.line_no",
    11};

keel_err
fin_report_store_ledger(keel_tx *tx, const fin_report_account *acct, const fin_report_range *rg,
                        fin_report_page *pg)
{
	char units[4], seq[24], line[16], bal[24], lim[16];

	snprintf(units, sizeof(units), "%d", acct->minor_units);
	snprintf(seq, sizeof(seq), "%lld", (long long)rg->after.sequence);
	snprintf(line, sizeof(line), "%d", rg->after.line_no);
	snprintf(bal, sizeof(bal), "%lld", (long long)rg->after.balance);
	snprintf(lim, sizeof(lim), "%d", rg->limit);
	const char *p[] = {acct->id,
	                   acct->organization_id,
	                   rg->from != NULL ? rg->from : "-infinity",
	                   rg->to,
	                   rg->after_date,
	                   rg->after_journal,
	                   seq,
	                   line,
	                   bal,
	                   lim,
	                   units};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &fin_report_ledger_stmt, p, &res);

	if (err != KEEL_OK)
		return err;
	for (int i = 0; i < keel_res_rows(res); i++) {
		keel_svc_list_add(&pg->list, keel_res_get(res, i, 0));
		pg->last.date = (int32_t)strtol(keel_res_get(res, i, 1), NULL, 10);
		pg->last.journal = fin_report_journal_code(keel_res_get(res, i, 2));
		pg->last.sequence = strtoll(keel_res_get(res, i, 3), NULL, 10);
		pg->last.line_no = (int)strtol(keel_res_get(res, i, 4), NULL, 10);
		pg->last.balance = strtoll(keel_res_get(res, i, 5), NULL, 10);
	}
	return KEEL_OK;
}
