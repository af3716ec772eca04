-- 0016 fin: revert.  The previous versions of the functions this migration replaced
-- (journal_entries_insert: 0014's; journal_entries_check, post_entry: 0013's) and the
-- previous CHECKs.
DROP FUNCTION fin.revalue(uuid, date, uuid, uuid, uuid, uuid);
DROP TRIGGER journal_lines_zero ON fin.journal_lines;
DROP FUNCTION fin.journal_lines_zero();

ALTER TABLE fin.journal_entries
	DROP CONSTRAINT journal_entries_reversal_kind,
	ADD CONSTRAINT journal_entries_reversal_kind CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL));
ALTER TABLE fin.journal_lines
	DROP CONSTRAINT journal_lines_one_side,
	DROP CONSTRAINT journal_lines_functional_side,
	ADD CONSTRAINT journal_lines_one_side CHECK ((debit > 0) <> (credit > 0)),
	ADD CONSTRAINT journal_lines_functional_side CHECK (
		(debit > 0 OR functional_debit = 0) AND (credit > 0 OR functional_credit = 0));

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
	RETURN NEW;
END
$$;

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
	SELECT e.status, e.organization_id, e.currency INTO v_entry FROM fin.journal_entries e
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
	PERFORM fin.post_rounding(p_id, v_entry.organization_id, v_ledger_currency, v_units,
	                          v_rounding);
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
