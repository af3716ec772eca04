-- 0016 fin: revaluation of foreign-currency balances.
--
-- fin.revalue(org, date, gain, loss, id, reversal_id) restates the open
-- foreign-currency balances of the organization's `revalue` accounts at the
-- rates in force on the date: one posted entry of kind 'revaluation' (journal
-- adjustment, dated the date) and its reversal (kind 'revaluation' too,
-- reverses_id the first, dated the first day of the next period), in the
-- caller's transaction.  A revaluation line changes a balance in the ledger's
-- currency only: its amount in its own currency is zero (debit = credit = 0),
-- its functional amount the difference.  Such a line exists in a revaluation
-- entry on a `revalue` account in another currency than the ledger's, and
-- nowhere else (trigger journal_lines_zero; CHECKs journal_lines_one_side and
-- journal_lines_functional_side let it through); posting does not convert it
-- (fin.post_entry, journal_entries_check) and books no rounding line for a
-- revaluation.  Only the owner role, which the SECURITY DEFINER function runs
-- as, makes an entry of kind 'revaluation' (journal_entries_insert).

-- A line has one positive side, or (a revaluation's) none in its own currency
-- and one in the ledger's.
ALTER TABLE fin.journal_lines
	DROP CONSTRAINT journal_lines_one_side,
	DROP CONSTRAINT journal_lines_functional_side,
	ADD CONSTRAINT journal_lines_one_side CHECK (
		(debit > 0) <> (credit > 0)
		OR (debit = 0 AND credit = 0 AND (functional_debit > 0) <> (functional_credit > 0))) NOT VALID,
	ADD CONSTRAINT journal_lines_functional_side CHECK (
		(debit > 0 OR functional_debit = 0) AND (credit > 0 OR functional_credit = 0)
		OR (debit = 0 AND credit = 0)) NOT VALID;
ALTER TABLE fin.journal_lines VALIDATE CONSTRAINT journal_lines_one_side;
ALTER TABLE fin.journal_lines VALIDATE CONSTRAINT journal_lines_functional_side;

-- A reversal names what it reverses; so does a revaluation's reversal.
ALTER TABLE fin.journal_entries
	DROP CONSTRAINT journal_entries_reversal_kind,
	ADD CONSTRAINT journal_entries_reversal_kind CHECK (
		CASE kind WHEN 'reversal' THEN reverses_id IS NOT NULL
		          WHEN 'revaluation' THEN true
		          ELSE reverses_id IS NULL END) NOT VALID;
ALTER TABLE fin.journal_entries VALIDATE CONSTRAINT journal_entries_reversal_kind;

-- A line without an amount in its own currency belongs to a revaluation
-- entry, on a revalue account, in another currency than the ledger's.
CREATE FUNCTION fin.journal_lines_zero() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.tenant_id IS DISTINCT FROM core.current_tenant_id() THEN
		RETURN NEW; -- another tenant's row, which row-level security refuses (42501)
	END IF;
	IF NOT EXISTS (SELECT 1 FROM fin.journal_entries e
	               JOIN fin.ledgers g ON g.tenant_id = e.tenant_id
	                AND g.organization_id = e.organization_id
	               JOIN fin.accounts a ON a.tenant_id = e.tenant_id AND a.id = NEW.account_id
	               WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.entry_id
	                 AND e.kind = 'revaluation' AND a.revalue AND NEW.currency <> g.currency) THEN
		RAISE EXCEPTION 'line % has no amount: only a revaluation restates a balance without one',
			NEW.line_no
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_one_side',
			COLUMN = format('lines[%s].debit', NEW.line_no - 1);
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER journal_lines_zero BEFORE INSERT OR UPDATE ON fin.journal_lines
	FOR EACH ROW WHEN (NEW.debit = 0 AND NEW.credit = 0)
	EXECUTE FUNCTION fin.journal_lines_zero();

-- An entry is created as a draft; one of kind 'closing' or 'revaluation' only
-- by the owner role (fin.close_fiscal_year, fin.revalue: SECURITY DEFINER):
-- keel_app cannot make one.
CREATE OR REPLACE FUNCTION fin.journal_entries_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.status <> 'draft' THEN
		RAISE EXCEPTION 'an entry is created as a draft and posted by fin.post_entry'
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_created_draft';
	END IF;
	IF NEW.kind = 'closing' AND current_user <> (SELECT pg_get_userbyid(c.relowner)
	                                             FROM pg_class c WHERE c.oid = TG_RELID) THEN
		RAISE EXCEPTION 'a closing entry is made by the fiscal-year close only'
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_closing';
	END IF;
	IF NEW.kind = 'revaluation' AND current_user <> (SELECT pg_get_userbyid(c.relowner)
	                                                 FROM pg_class c WHERE c.oid = TG_RELID) THEN
		RAISE EXCEPTION 'a revaluation entry is made by the revaluation only'
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_revaluation';
	END IF;
	RETURN NEW;
END
$$;

-- 0013's, with: a revaluation's line without an amount in its currency is not converted.
CREATE OR REPLACE FUNCTION fin.journal_entries_check() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_lines bigint;
	v_debit numeric;
	v_credit numeric;
	v_ledger_currency text;
	v_units integer;
	v_bad record;
BEGIN
	SELECT count(*), coalesce(sum(l.functional_debit), 0), coalesce(sum(l.functional_credit), 0)
	INTO v_lines, v_debit, v_credit
	FROM fin.journal_lines l WHERE l.tenant_id = NEW.tenant_id AND l.entry_id = NEW.id;
	IF v_lines NOT BETWEEN 2 AND 1000 THEN
		RAISE EXCEPTION 'a posted entry has 2 to 1000 lines, not %', v_lines
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_lines', COLUMN = 'lines';
	END IF;
	IF v_debit <> v_credit THEN
		RAISE EXCEPTION 'a posted entry balances: debits and credits differ by % minor units',
			v_debit - v_credit
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_balanced', COLUMN = 'lines';
	END IF;
	SELECT g.currency, c.minor_units INTO v_ledger_currency, v_units
	FROM fin.ledgers g JOIN fin.currencies c ON c.code = g.currency
	WHERE g.tenant_id = NEW.tenant_id AND g.organization_id = NEW.organization_id;
	SELECT l.line_no, a.code INTO v_bad
	FROM fin.journal_lines l
	JOIN fin.accounts a ON a.tenant_id = l.tenant_id AND a.id = l.account_id
	JOIN fin.currencies lc ON lc.code = l.currency
	WHERE l.tenant_id = NEW.tenant_id AND l.entry_id = NEW.id
	  AND (a.status <> 'active' OR a.is_group
	       OR (a.currency IS NOT NULL AND a.currency <> l.currency)
	       OR (a.requires_division AND l.division_id IS NULL)
	       OR (l.currency = v_ledger_currency
	           AND (l.rate <> 1 OR l.functional_debit <> l.debit OR l.functional_credit <> l.credit))
	       OR (l.currency <> v_ledger_currency
	           AND NOT (NEW.kind = 'revaluation' AND l.debit = 0 AND l.credit = 0)
	           AND (l.functional_debit <> fin.fx_functional(l.debit, l.rate, lc.minor_units, v_units)
	                OR l.functional_credit
	                   <> fin.fx_functional(l.credit, l.rate, lc.minor_units, v_units))))
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'line % (account %) cannot be posted', v_bad.line_no, v_bad.code
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable';
	END IF;
	RETURN NULL;
END
$$;

-- 0013's, with: a revaluation (built balanced) gets no rounding line, and its lines without
-- an amount in their currency are not converted.
CREATE OR REPLACE FUNCTION fin.post_entry(p_id uuid) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_entry record;
	v_units integer;
	v_ledger_currency text;
	v_rounding uuid;
	v_line record;
	v_n integer := 0;
	v_debit bigint := 0;
	v_credit bigint := 0;
BEGIN
	SELECT e.status, e.organization_id, e.currency, e.kind INTO v_entry FROM fin.journal_entries e
	WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such journal entry' USING ERRCODE = 'KF404';
	END IF;
	IF v_entry.status <> 'draft' THEN
		RAISE EXCEPTION 'the entry is %', v_entry.status USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_immutable';
	END IF;
	SELECT g.currency, c.minor_units, g.rounding_account_id
	INTO v_ledger_currency, v_units, v_rounding
	FROM fin.ledgers g JOIN fin.currencies c ON c.code = g.currency
	WHERE g.tenant_id = core.current_tenant_id() AND g.organization_id = v_entry.organization_id;
	IF v_entry.kind <> 'revaluation' THEN
		PERFORM fin.post_rounding(p_id, v_entry.organization_id, v_ledger_currency, v_units,
		                          v_rounding);
	END IF;
	FOR v_line IN
		SELECT l.line_no, l.currency, l.division_id, l.functional_debit, l.functional_credit,
		       l.debit, l.credit, l.rate, lc.minor_units,
		       a.code, a.status, a.is_group, a.currency AS account_currency, a.requires_division
		FROM fin.journal_lines l
		JOIN fin.accounts a ON a.tenant_id = l.tenant_id AND a.id = l.account_id
		JOIN fin.currencies lc ON lc.code = l.currency
		WHERE l.tenant_id = core.current_tenant_id() AND l.entry_id = p_id
		ORDER BY l.line_no
	LOOP
		v_n := v_n + 1;
		IF v_line.status <> 'active' THEN
			RAISE EXCEPTION 'the account % is inactive', v_line.code USING ERRCODE = 'KF422',
				CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].account_id', v_line.line_no - 1);
		END IF;
		IF v_line.is_group THEN
			RAISE EXCEPTION 'the account % is a group account', v_line.code USING ERRCODE = 'KF422',
				CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].account_id', v_line.line_no - 1);
		END IF;
		IF v_line.account_currency IS NOT NULL AND v_line.account_currency <> v_line.currency THEN
			RAISE EXCEPTION 'the account % takes only %', v_line.code, v_line.account_currency
				USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].account_id', v_line.line_no - 1);
		END IF;
		IF v_line.requires_division AND v_line.division_id IS NULL THEN
			RAISE EXCEPTION 'the account % requires a division', v_line.code
				USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].division_id', v_line.line_no - 1);
		END IF;
		IF v_line.currency <> v_ledger_currency
		   AND NOT (v_entry.kind = 'revaluation' AND v_line.debit = 0 AND v_line.credit = 0)
		   AND (v_line.functional_debit
		        <> fin.fx_functional(v_line.debit, v_line.rate, v_line.minor_units, v_units)
		        OR v_line.functional_credit
		           <> fin.fx_functional(v_line.credit, v_line.rate, v_line.minor_units, v_units)) THEN
			RAISE EXCEPTION 'the functional amount of line % is not its amount at its rate %',
				v_line.line_no, v_line.rate
				USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].rate', v_line.line_no - 1);
		END IF;
		v_debit := v_debit + v_line.functional_debit;
		v_credit := v_credit + v_line.functional_credit;
	END LOOP;
	IF v_n < 2 THEN
		RAISE EXCEPTION 'an entry needs at least 2 lines' USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_lines', COLUMN = 'lines';
	END IF;
	IF v_debit <> v_credit THEN
		RAISE EXCEPTION 'debits (%) and credits (%) differ by % %',
			fin.amount_text(v_debit, v_units), fin.amount_text(v_credit, v_units),
			fin.amount_text(v_debit - v_credit, v_units), v_ledger_currency
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_balanced', COLUMN = 'lines';
	END IF;
	UPDATE fin.journal_entries e SET status = 'posted', version = e.version + 1, updated_at = now()
	WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_id;
END
$$;

-- The revaluation of organization p_org on p_date: each open balance of an
-- active revalue account in a currency other than the ledger's, per (account,
-- currency, division) -- the posted lines dated on or before p_date, in the
-- line currency (debit - credit) and as booked in the ledger's (functional
-- debit - credit; earlier revaluations and their reversals are lines too) --
-- is restated at fin.rate_in_force(currency, ledger currency, p_date) with
-- fin.fx_functional (exact, half to even).  Each difference is a line on the
-- account (amount 0 in its currency, the difference in the ledger's, the rate
-- used); per division, the net of the differences goes to p_gain (credit) or
-- p_loss (debit).  Posted as entry p_id (journal adjustment, kind
-- revaluation, dated p_date) and reversed at once by p_reversal (kind
-- revaluation, dated the first day of the next period), so that a settlement
-- is measured against the rates its lines were booked at.  Refusals (KF422,
-- COLUMN the body's field): a gain or loss account that is not an active
-- income or expense account of the organization taking the ledger's currency;
-- no open period containing p_date, or no open period right after it; a
-- currency with an open balance and no rate in force (named); nothing to
-- restate; more than 1000 lines.  The periods are taken FOR SHARE, then the
-- ledger FOR NO KEY UPDATE (the order of a period's change and of the year
-- close), so revaluations of one organization are one at a time and a second
-- one on the same date finds nothing left to restate.
CREATE FUNCTION fin.revalue(p_org uuid, p_date date, p_gain uuid, p_loss uuid, p_id uuid,
                            p_reversal uuid) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_tenant uuid := core.current_tenant_id();
	v_currency text;
	v_units integer;
	v_period record;
	v_next record;
	v_field text;
	v_account uuid;
	v_accounts uuid[];
	v_currencies text[];
	v_divisions uuid[];
	v_rates numeric[];
	v_diffs numeric[];
	v_memos text[];
	v_missing text;
	v_lines bigint;
	v_number text;
BEGIN
	SELECT g.currency, c.minor_units INTO v_currency, v_units
	FROM fin.ledgers g JOIN fin.currencies c ON c.code = g.currency
	WHERE g.tenant_id = v_tenant AND g.organization_id = p_org;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such organization' USING ERRCODE = 'KF404';
	END IF;
	FOREACH v_field IN ARRAY ARRAY['gain_account_id', 'loss_account_id'] LOOP
		v_account := CASE v_field WHEN 'gain_account_id' THEN p_gain ELSE p_loss END;
		IF NOT EXISTS (SELECT 1 FROM fin.accounts a
		               WHERE a.tenant_id = v_tenant AND a.organization_id = p_org
		                 AND a.id = v_account AND a.type IN ('income', 'expense')
		                 AND a.status = 'active' AND NOT a.is_group
		                 AND (a.currency IS NULL OR a.currency = v_currency)) THEN
			RAISE EXCEPTION 'must be an active income or expense account of the organization '
				'that takes %', v_currency
				USING ERRCODE = 'KF422', CONSTRAINT = 'revaluation_accounts', COLUMN = v_field;
		END IF;
	END LOOP;
	SELECT p.name, p.status, p.end_date INTO v_period FROM fin.periods p
	WHERE p.tenant_id = v_tenant AND p.organization_id = p_org
	  AND p.start_date <= p_date AND p.end_date >= p_date
	FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no fiscal period contains %', p_date USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_period_open', COLUMN = 'date';
	END IF;
	IF v_period.status <> 'open' THEN
		RAISE EXCEPTION 'the period % is %', v_period.name, v_period.status
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_period_open', COLUMN = 'date';
	END IF;
	SELECT p.name, p.status, p.start_date INTO v_next FROM fin.periods p
	WHERE p.tenant_id = v_tenant AND p.organization_id = p_org
	  AND p.start_date = v_period.end_date + 1
	FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no period follows %, to take the reversal on %', v_period.name,
			v_period.end_date + 1
			USING ERRCODE = 'KF422', CONSTRAINT = 'revaluation_next_period', COLUMN = 'date';
	END IF;
	IF v_next.status <> 'open' THEN
		RAISE EXCEPTION 'the period % that takes the reversal is %', v_next.name, v_next.status
			USING ERRCODE = 'KF422', CONSTRAINT = 'revaluation_next_period', COLUMN = 'date';
	END IF;
	PERFORM 1 FROM fin.ledgers g WHERE g.tenant_id = v_tenant AND g.organization_id = p_org
	FOR NO KEY UPDATE;

	-- the balances, their rates and differences, as arrays (no temporary table: a definer's
	-- statements never name a relation the caller could have made)
	SELECT array_agg(x.account_id ORDER BY x.ord), array_agg(x.currency ORDER BY x.ord),
	       array_agg(x.division_id ORDER BY x.ord), array_agg(x.rate ORDER BY x.ord),
	       array_agg(x.diff ORDER BY x.ord),
	       array_agg(format('%s %s at %s', x.currency, fin.amount_text(x.balance::bigint, x.units),
	                        x.rate) ORDER BY x.ord),
	       string_agg(DISTINCT x.currency, ', ') FILTER (WHERE x.rate IS NULL)
	INTO v_accounts, v_currencies, v_divisions, v_rates, v_diffs, v_memos, v_missing
	FROM (SELECT b.*, q.rate,
	             fin.fx_functional(b.balance::bigint, q.rate, b.units, v_units) - b.booked AS diff,
	             row_number() OVER (ORDER BY b.division_id NULLS FIRST, b.code, b.currency) AS ord
	      FROM (SELECT a.id AS account_id, a.code, l.currency, lc.minor_units AS units,
	                   l.division_id, sum(l.debit - l.credit) AS balance,
	                   sum(l.functional_debit - l.functional_credit) AS booked
	            FROM fin.accounts a
	            JOIN fin.journal_lines l ON l.tenant_id = a.tenant_id AND l.account_id = a.id
	            JOIN fin.journal_entries e ON e.tenant_id = l.tenant_id AND e.id = l.entry_id
	            JOIN fin.currencies lc ON lc.code = l.currency
	            WHERE a.tenant_id = v_tenant AND a.organization_id = p_org AND a.revalue
	              AND a.status = 'active' AND NOT a.is_group AND l.currency <> v_currency
	              AND e.status = 'posted' AND e.date <= p_date
	            GROUP BY a.id, a.code, l.currency, lc.minor_units, l.division_id
	            HAVING sum(l.debit - l.credit) <> 0
	                OR sum(l.functional_debit - l.functional_credit) <> 0) b
	      CROSS JOIN LATERAL (SELECT fin.rate_in_force(b.currency, v_currency, p_date) AS rate) q) x
	WHERE x.rate IS NULL OR x.diff <> 0;
	IF v_missing IS NOT NULL THEN
		RAISE EXCEPTION 'no rate to % is in force on % for %, which revalue accounts hold',
			v_currency, p_date, v_missing
			USING ERRCODE = 'KF422', CONSTRAINT = 'revaluation_rate', COLUMN = 'date';
	END IF;
	IF v_accounts IS NULL THEN
		RAISE EXCEPTION 'nothing to revalue: no foreign-currency balance of a revalue account '
			'differs from its restatement at the rates of %', p_date
			USING ERRCODE = 'KF422', CONSTRAINT = 'revaluation_nothing', COLUMN = 'date';
	END IF;
	IF (SELECT sum(abs(d)) FROM unnest(v_diffs) AS d) > 9223372036854775807 THEN
		RAISE EXCEPTION 'the revaluation adds up past the largest amount'
			USING ERRCODE = 'KF422', CONSTRAINT = 'revaluation_amount', COLUMN = 'date';
	END IF;
	SELECT cardinality(v_accounts) + count(*) INTO v_lines
	FROM (SELECT 1 FROM unnest(v_divisions, v_diffs) AS t(division_id, diff)
	      GROUP BY t.division_id HAVING sum(t.diff) <> 0) g;
	IF v_lines > 1000 THEN
		RAISE EXCEPTION 'the revaluation would have % lines, more than 1000', v_lines
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_lines', COLUMN = 'date';
	END IF;

	INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, kind, date, memo,
	                                 currency)
	VALUES (v_tenant, p_id, p_org, 'adjustment', 'revaluation', p_date,
	        'Revaluation at ' || to_char(p_date, 'YYYY-MM-DD'), v_currency);
	INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
	                               debit, credit, currency, rate, functional_debit,
	                               functional_credit, division_id, memo)
	SELECT v_tenant, audit.uuid_v7(clock_timestamp()), p_org, p_id,
	       row_number() OVER (ORDER BY l.part, l.ord), l.account_id,
	       CASE l.part WHEN 1 THEN greatest(l.diff, 0)::bigint ELSE 0 END,
	       CASE l.part WHEN 1 THEN greatest(-l.diff, 0)::bigint ELSE 0 END, l.currency, l.rate,
	       greatest(l.diff, 0)::bigint, greatest(-l.diff, 0)::bigint, l.division_id, l.memo
	FROM (SELECT 0 AS part, t.ord, t.account_id, t.currency, t.rate, t.diff, t.division_id,
	             t.memo
	      FROM unnest(v_accounts, v_currencies, v_rates, v_diffs, v_divisions, v_memos)
	           WITH ORDINALITY AS t(account_id, currency, rate, diff, division_id, memo, ord)
	      UNION ALL
	      SELECT 1, row_number() OVER (ORDER BY t.division_id NULLS FIRST),
	             CASE WHEN sum(t.diff) > 0 THEN p_gain ELSE p_loss END, v_currency, 1,
	             -sum(t.diff), t.division_id,
	             CASE WHEN sum(t.diff) > 0 THEN 'Unrealised exchange gain'
	                  ELSE 'Unrealised exchange loss' END
	      FROM unnest(v_divisions, v_diffs) AS t(division_id, diff)
	      GROUP BY t.division_id HAVING sum(t.diff) <> 0) l;
	PERFORM fin.post_entry(p_id);

	SELECT e.number INTO v_number FROM fin.journal_entries e
	WHERE e.tenant_id = v_tenant AND e.id = p_id;
	INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, kind, date, memo,
	                                 currency, reverses_id)
	VALUES (v_tenant, p_reversal, p_org, 'adjustment', 'revaluation', v_next.start_date,
	        'Reversal of ' || v_number, v_currency, p_id);
	INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
	                               debit, credit, currency, rate, functional_debit,
	                               functional_credit, division_id, memo)
	SELECT l.tenant_id, audit.uuid_v7(clock_timestamp()), l.organization_id, p_reversal,
	       l.line_no, l.account_id, l.credit, l.debit, l.currency, l.rate, l.functional_credit,
	       l.functional_debit, l.division_id, l.memo
	FROM fin.journal_lines l
	WHERE l.tenant_id = v_tenant AND l.entry_id = p_id
	ORDER BY l.line_no;
	PERFORM fin.post_entry(p_reversal);
END
$$;
REVOKE ALL ON FUNCTION fin.revalue(uuid, date, uuid, uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fin.revalue(uuid, date, uuid, uuid, uuid, uuid) TO keel_app;
