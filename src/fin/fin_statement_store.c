/*
 * The statements' SQL: the balance sheet and the income statement, each one statement over
 * the closed periods' snapshots per account (fin.period_account_balances, migration 0018,
 * which keeps the closing entries' sums apart) and the rest of fin.postings (the posted lines),
 * with the trial balance's roll-up of group accounts (fin_report_store.c): the sums per account, a
 * recursive walk up parent_id from the accounts that moved, the answer rendered by PostgreSQL.  A
 * group's type is its children's (the schema's accounts_parent_fkey), so a roll-up never
 * crosses sections.
 *
 * The postings not in a snapshot read are read from postings_date_idx alone (an index-only
 * scan, as the trial balance reads them); the closing entries' postings among them to leave
 * out are read from the small partial index postings_closing_idx (migration 0015) and
 * subtracted, so neither statement reads a posting's row.  An account is listed when it has a
 * posting not left out (in a snapshot: a row, which exists only for postings).
 *
 * Closing entries (kind 'closing', the fiscal-year close: the year's income and expense
 * moved to retained earnings, dated its last day) are left out of the income statement, and
 * out of the balance sheet when they are dated in the fiscal year of as_of: that year's
 * result is current_year_result, never also in equity.  The closing entries of earlier years
 * count, whole: a closed year's income and expense accounts then sum to zero and its result
 * is in equity, so the sum over the income and expense postings before the year of as_of,
 * closing entries included, is the result of the earlier years not closed.  Whole entries
 * are in or out, every entry balances, so assets = liabilities + equity +
 * result_of_unclosed_years + current_year_result holds exactly.
 */
#include "fin/fin_int.h"

#include <stdio.h>
#include <string.h>

#define CUR "core.current_tenant_id()"

/*
 * From mv (account_id, bal: debit - credit, cur: the part in the current year): mvt the same
 * with each account's type, roll the balance of every account listed (moved, or a group above
 * one that moved).  $1 the organization.
 */
#define ROLL_UP                                                                                    \
	" mvt AS (SELECT m.account_id AS id, a.parent_id, a.type, m.bal, m.cur FROM mv m"              \
	"  JOIN fin.accounts a ON a.tenant_id = " CUR " AND a.organization_id = $1::uuid"              \
	"  AND a.id = m.account_id),"                                                                  \
	" up AS (SELECT t.id, t.parent_id, t.bal FROM mvt t"                                           \
	"  UNION ALL"                                                                                  \
	"  SELECT g.id, g.parent_id, u.bal FROM up u JOIN fin.accounts g"                              \
	"  ON g.tenant_id = " CUR " AND g.organization_id = $1::uuid AND g.id = u.parent_id),"         \
	" roll AS (SELECT u.id, sum(u.bal) AS bal FROM up u GROUP BY u.id)"

/*
 * The sections of the types in the VALUES rows (order, type, sign) between SECTIONS and
 * SECTIONS_END: the accounts listed in code order (bytewise) with their balance times sign,
 * and the total of the section's leaf accounts.
 */
#define SECTIONS                                                                                   \
	"(SELECT json_agg(json_build_object('type', s.type,"                                           \
	"  'accounts', coalesce((SELECT json_agg(json_build_object('account_id', a.id, 'code', "       \
	"a.code,"                                                                                      \
	"   'name', a.name, 'balance', fin.amount_text((s.sign * r.bal)::bigint, $3::int))"            \
	"   ORDER BY a.code COLLATE \"C\")"                                                            \
	"   FROM roll r JOIN fin.accounts a ON a.tenant_id = " CUR " AND a.organization_id = $1::uuid" \
	"   AND a.id = r.id WHERE a.type = s.type), '[]'::json),"                                      \
	"  'total', fin.amount_text((s.sign * coalesce((SELECT sum(t.bal) FROM mvt t"                  \
	"   WHERE t.type = s.type), 0))::bigint, $3::int))"                                            \
	"  ORDER BY s.ord) FROM (VALUES "
#define SECTIONS_END ") s(ord, type, sign))"

/* A posting p outside the span of the snapshots read (sp_span). */
#define OUTSIDE_SPAN                                                                               \
	" AND NOT (p.date >= (SELECT lo FROM sp_span) AND p.date <= (SELECT hi FROM sp_span))"

/*
 * The closed periods of organization $1 read from their snapshots: the closed ones (always a
 * prefix of the organization's periods: periods_transition) before the first open one, and
 * of those the ones that WHERE keeps (c the period).  Columns: id, start_date, end_date.
 */
#define CLOSED_PERIODS(where)                                                                      \
	" SELECT c.id, c.start_date, c.end_date FROM fin.periods c"                                    \
	" WHERE c.tenant_id = " CUR " AND c.organization_id = $1::uuid AND c.status <> 'open'"         \
	"  AND c.start_date < (SELECT coalesce(min(o.start_date), 'infinity') FROM fin.periods o"      \
	"   WHERE o.tenant_id = " CUR " AND o.organization_id = $1::uuid AND o.status = 'open')"       \
	"  AND " where

/* The closed periods ending by as_of. */
#define SP_TO_AS_OF " sp AS (" CLOSED_PERIODS("c.end_date <= $2::date") "),"

/*
 * $1 organization, $2 as_of, $3 minor units, $4 currency.  The current year starts at the
 * latest fiscal year's start not after as_of (no such year: there is no posting up to as_of).
 * The closed periods ending by as_of (sp) are read from their snapshots, closing entries of
 * the current year left out; the postings after the last of them (sp_end: no posting lies
 * between two of them, as they are consecutive), the current year's closing entries'
 * subtracted.  fig: the figures, of the leaf accounts (mvt).
 */
const keel_stmt fin_statement_balance_sheet_stmt = {
    "fin_balance_sheet",
    "WITH RECURSIVE fy AS ("
    " SELECT coalesce(max(y.start_date), $2::date + 1) AS start FROM fin.fiscal_years y"
    " WHERE y.tenant_id = " CUR
    " AND y.organization_id = $1::uuid AND y.start_date <= $2::date)," SP_TO_AS_OF
    " sp_end AS (SELECT coalesce(max(sp.end_date), '-infinity') AS d FROM sp),"
    " mv AS (SELECT m.account_id, sum(m.bal) AS bal, sum(m.cur) AS cur FROM ("
    "  SELECT b.account_id, sum(b.debit - b.credit) AS bal,"
    "   coalesce(sum(b.debit - b.credit) FILTER (WHERE sp.start_date >= fy.start), 0) AS cur,"
    "   count(*) AS n"
    "  FROM fin.period_account_balances b JOIN sp ON sp.id = b.period_id CROSS JOIN fy"
    "  WHERE b.tenant_id = " CUR " AND b.organization_id = $1::uuid"
    "  AND NOT (b.closing AND sp.start_date >= fy.start)"
    "  GROUP BY b.account_id"
    "  UNION ALL"
    "  SELECT p.account_id, sum(p.debit - p.credit) AS bal,"
    "   coalesce(sum(p.debit - p.credit) FILTER (WHERE p.date >= fy.start), 0) AS cur,"
    "   count(*) AS n"
    "  FROM fin.postings p CROSS JOIN fy"
    "  WHERE p.tenant_id = " CUR " AND p.organization_id = $1::uuid"
    "  AND p.date > (SELECT d FROM sp_end) AND p.date <= $2::date"
    "  GROUP BY p.account_id"
    "  UNION ALL"
    "  SELECT p.account_id, -sum(p.debit - p.credit), -sum(p.debit - p.credit), -count(*)"
    "  FROM fin.postings p CROSS JOIN fy"
    "  WHERE p.tenant_id = " CUR " AND p.organization_id = $1::uuid AND p.kind = 'closing'"
    "  AND p.date > (SELECT d FROM sp_end) AND p.date >= fy.start AND p.date <= $2::date"
    "  GROUP BY p.account_id) m"
    " GROUP BY m.account_id HAVING sum(m.n) > 0)," ROLL_UP ","
    " fig AS (SELECT"
    "  coalesce(sum(t.bal) FILTER (WHERE t.type = 'asset'), 0) AS assets,"
    "  -coalesce(sum(t.bal) FILTER (WHERE t.type = 'liability'), 0) AS liabilities,"
    "  -coalesce(sum(t.bal) FILTER (WHERE t.type = 'equity'), 0) AS equity,"
    "  -coalesce(sum(t.bal - t.cur) FILTER (WHERE t.type IN ('income', 'expense')), 0) AS unclosed,"
    "  -coalesce(sum(t.cur) FILTER (WHERE t.type IN ('income', 'expense')), 0) AS cur_year"
    "  FROM mvt t)"
    " SELECT json_build_object('as_of', to_char($2::date, 'YYYY-MM-DD'), 'currency', $4::text,"
    "  'assets', fin.amount_text(f.assets::bigint, $3::int),"
    "  'liabilities', fin.amount_text(f.liabilities::bigint, $3::int),"
    "  'equity', fin.amount_text(f.equity::bigint, $3::int),"
    "  'result_of_unclosed_years', fin.amount_text(f.unclosed::bigint, $3::int),"
    "  'current_year_result', fin.amount_text(f.cur_year::bigint, $3::int),"
    "  'sections', " SECTIONS
    "(1, 'asset', 1), (2, 'liability', -1), (3, 'equity', -1)" SECTIONS_END ") FROM fig f",
    4};

/*
 * $1 organization, $2 from, $3 minor units, $4 currency, $5 to.  The closed periods wholly
 * within from..to (sp, consecutive) are read from their snapshots without the closing
 * entries'; the other postings of the range (outside sp_span) with the closing entries'
 * subtracted.
 */
#define SP_IN_RANGE                                                                                \
	"WITH RECURSIVE sp AS (" CLOSED_PERIODS(                                                       \
	    "c.start_date >= $2::date AND c.end_date <= $5::date") "),"

const keel_stmt fin_statement_income_stmt = {
    "fin_income_statement",
    SP_IN_RANGE
    " sp_span AS (SELECT coalesce(min(sp.start_date), 'infinity') AS lo,"
    "  coalesce(max(sp.end_date), 'infinity') AS hi FROM sp),"
    " mv AS (SELECT m.account_id, sum(m.bal) AS bal, 0 AS cur FROM ("
    "  SELECT b.account_id, sum(b.debit - b.credit) AS bal, count(*) AS n"
    "  FROM fin.period_account_balances b JOIN sp ON sp.id = b.period_id"
    "  WHERE b.tenant_id = " CUR " AND b.organization_id = $1::uuid AND NOT b.closing"
    "  GROUP BY b.account_id"
    "  UNION ALL"
    "  SELECT p.account_id, sum(p.debit - p.credit) AS bal, count(*) AS n FROM fin.postings p"
    "  WHERE p.tenant_id = " CUR " AND p.organization_id = $1::uuid"
    "  AND p.date >= $2::date AND p.date <= $5::date" OUTSIDE_SPAN "  GROUP BY p.account_id"
    "  UNION ALL"
    "  SELECT p.account_id, -sum(p.debit - p.credit), -count(*) FROM fin.postings p"
    "  WHERE p.tenant_id = " CUR " AND p.organization_id = $1::uuid AND p.kind = 'closing'"
    "  AND p.date >= $2::date AND p.date <= $5::date" OUTSIDE_SPAN "  GROUP BY p.account_id) m"
    " GROUP BY m.account_id HAVING sum(m.n) > 0)," ROLL_UP ","
    " fig AS (SELECT"
    "  -coalesce(sum(t.bal) FILTER (WHERE t.type = 'income'), 0) AS income,"
    "  coalesce(sum(t.bal) FILTER (WHERE t.type = 'expense'), 0) AS expense"
    "  FROM mvt t)"
    " SELECT json_build_object('from', to_char($2::date, 'YYYY-MM-DD'),"
    "  'to', to_char($5::date, 'YYYY-MM-DD'), 'currency', $4::text,"
    "  'income', fin.amount_text(f.income::bigint, $3::int),"
    "  'expense', fin.amount_text(f.expense::bigint, $3::int),"
    "  'result', fin.amount_text((f.income - f.expense)::bigint, $3::int),"
    "  'sections', " SECTIONS "(1, 'income', -1), (2, 'expense', 1)" SECTIONS_END ") FROM fig f",
    5};

/* Run st for the ledger's organization with date (and to, for the income statement). */
static keel_err
statement(keel_tx *tx, keel_arena *a, const keel_stmt *st, const fin_ledger *ledger,
          const char *date, const char *to, const char **json)
{
	char units[4];

	snprintf(units, sizeof(units), "%d", ledger->minor_units);
	const char *p[] = {ledger->organization_id, date, units, ledger->currency, to};
	keel_res *res;
	keel_err err = keel_tx_exec(tx, st, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_EINTERNAL;
	*json = keel_res_json(res, 0, 0, a);
	return KEEL_OK;
}

keel_err
fin_statement_store_balance_sheet(keel_tx *tx, keel_arena *a, const fin_ledger *ledger,
                                  const char *as_of, const char **json)
{
	return statement(tx, a, &fin_statement_balance_sheet_stmt, ledger, as_of, NULL, json);
}

keel_err
fin_statement_store_income(keel_tx *tx, keel_arena *a, const fin_ledger *ledger, const char *from,
                           const char *to, const char **json)
{
	return statement(tx, a, &fin_statement_income_stmt, ledger, from, to, json);
}
