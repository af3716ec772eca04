-- 0013 fin: exchange rates and foreign-currency lines.
--
--   exchange_rates   the tenant's rates: one per (from, to, day); rate units of
--                    `to` per one unit of `from`, never inverted.
--
-- A journal line in another currency than the ledger's carries its rate; its
-- functional amounts are fin.fx_functional(amount, rate, ...) exactly: the
-- deferred check of a posting (journal_entries_check) refuses any other, so no
-- code path books a foreign line at an arbitrary functional amount.  Posting
-- (fin.post_entry) books the leftover of the rounding, at most one minor unit
-- per foreign line, on the ledger's rounding account as a visible line.

CREATE TABLE fin.exchange_rates (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	from_currency text NOT NULL REFERENCES fin.currencies (code),
	to_currency text NOT NULL REFERENCES fin.currencies (code),
	date date NOT NULL,
	rate numeric NOT NULL CHECK (rate > 0 AND scale(rate) <= 12 AND rate < 1e12),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT exchange_rates_pair CHECK (from_currency <> to_currency),
	CONSTRAINT exchange_rates_day_key UNIQUE (tenant_id, from_currency, to_currency, date)
);
SELECT core.enable_tenant_rls('fin.exchange_rates');
SELECT audit.enable('fin.exchange_rates');
-- A rate, once given, is what lines were booked at: never changed.
GRANT SELECT, INSERT ON fin.exchange_rates TO keel_app;

-- The rate from p_from to p_to in force on p_date: the latest on or before it
-- (NULL when there is none).  Rates are never inverted.
CREATE FUNCTION fin.rate_in_force(p_from text, p_to text, p_date date) RETURNS numeric
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT r.rate FROM fin.exchange_rates r
	WHERE r.tenant_id = core.current_tenant_id() AND r.from_currency = p_from
	  AND r.to_currency = p_to AND r.date <= p_date
	ORDER BY r.date DESC LIMIT 1
$$;
GRANT EXECUTE ON FUNCTION fin.rate_in_force(text, text, date) TO keel_app;

-- x rounded to an integer, a half to the even neighbour.
CREATE FUNCTION fin.round_half_even(x numeric) RETURNS numeric
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$
	SELECT CASE WHEN x - floor(x) > 0.5 OR (x - floor(x) = 0.5 AND mod(floor(x), 2) <> 0)
	            THEN floor(x) + 1 ELSE floor(x) END
$$;

-- An amount of p_line_units minor digits at p_rate, in minor units of a
-- currency of p_functional_units digits: round_half_even(amount * rate *
-- 10^(functional - line)), exact (numeric; power() of 10 with an integer
-- exponent is exact).  numeric, so a caller sees an amount past bigint.
CREATE FUNCTION fin.fx_functional(p_amount bigint, p_rate numeric, p_line_units integer,
                                  p_functional_units integer) RETURNS numeric
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$
	SELECT fin.round_half_even(p_amount * p_rate * power(10::numeric, p_functional_units - p_line_units))
$$;
GRANT EXECUTE ON FUNCTION fin.round_half_even(numeric) TO keel_app;
GRANT EXECUTE ON FUNCTION fin.fx_functional(bigint, numeric, integer, integer) TO keel_app;

-- At commit, whatever statements built it: a posted entry has 2..1000 lines
-- that balance in the ledger's currency, each to an active, non-group account
-- that takes the line's currency, with a division where the account requires
-- one; a line in the ledger's currency is its own functional amount, and a
-- line in another is its amount converted at its rate (fin.fx_functional).
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

-- Posting an entry: the one way keel posts.  Checks the lines and the date
-- with precise errors (the deferred check above is the net that holds even
-- without them), books the rounding leftover of foreign lines (at most one
-- minor unit per foreign line) on the ledger's rounding account as a line of
-- its own, then posts (journal_entries_update: period, number).  The entry
-- row is locked first, the period then, the counter last: every posting
-- takes them in this order, so postings never deadlock one another.  No
-- per-account row is written: postings to one account do not wait for each other.
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

-- The rounding line of draft p_id, when its foreign lines leave the functional
-- debits and credits apart by at least one and at most one minor unit per
-- foreign line: a line on p_rounding (the ledger's rounding account) in the
-- ledger's currency, after the last, with the memo "Rounding".  Without a
-- rounding account such a leftover is refused (422 naming it); any larger
-- difference is left to the balance check.
CREATE FUNCTION fin.post_rounding(p_id uuid, p_org uuid, p_currency text, p_units integer,
                                  p_rounding uuid) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_diff numeric;
	v_foreign bigint;
	v_last integer;
BEGIN
	SELECT coalesce(sum(l.functional_debit), 0) - coalesce(sum(l.functional_credit), 0),
	       count(*) FILTER (WHERE l.currency <> p_currency), coalesce(max(l.line_no), 0)
	INTO v_diff, v_foreign, v_last
	FROM fin.journal_lines l WHERE l.tenant_id = core.current_tenant_id() AND l.entry_id = p_id;
	IF v_diff = 0 OR abs(v_diff) > v_foreign THEN
		RETURN;
	END IF;
	IF p_rounding IS NULL THEN
		RAISE EXCEPTION 'the foreign-currency lines leave a rounding difference of % %, and the '
			'ledger has no rounding_account_id', fin.amount_text(v_diff::bigint, p_units), p_currency
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_balanced', COLUMN = 'lines';
	END IF;
	IF v_last >= 1000 THEN
		RAISE EXCEPTION 'the rounding line would be the 1001st' USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_lines', COLUMN = 'lines';
	END IF;
	INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
	                               debit, credit, currency, rate, functional_debit,
	                               functional_credit, memo)
	VALUES (core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), p_org, p_id, v_last + 1,
	        p_rounding, greatest(-v_diff, 0), greatest(v_diff, 0), p_currency, 1,
	        greatest(-v_diff, 0), greatest(v_diff, 0), 'Rounding');
END
$$;
GRANT EXECUTE ON FUNCTION fin.post_rounding(uuid, uuid, text, integer, uuid) TO keel_app;
