-- 0014 fin: closing with snapshots, and the fiscal-year close.
--
--   period_balances  per closed period, account, division and whether of
--                    closing entries: the sums of the period's postings
--                    (debit, credit).  The closing entries' apart, so that the
--                    statements, which leave them out, read snapshots too.  Written by the database
--                    when a period closes (periods_snapshot, in the closing
--                    transaction), discarded when it reopens, kept when it locks,
--                    taken again when its fiscal year closes.  keel_app only
--                    reads them; nobody changes a row (period_balances_immutable)
--                    but those triggers.  `keel fin verify` recomputes them.
--
-- A snapshot holds the period's movements, not its closing balances: each
-- period's rows depend on its own postings only, so the closing entry of a
-- fiscal year (posted into its last period, possibly after later periods
-- closed) retakes one period's snapshot and no other; a report sums the rows
-- of the closed periods it spans (at most accounts x divisions x periods rows,
-- against every line of those periods).
--
-- fin.close_fiscal_year(id, entry_id) is the fiscal-year close: the only way an
-- entry of kind 'closing' is made (journal_entries_insert: only the owner role,
-- which the SECURITY DEFINER function runs as, inserts one; a kind never
-- changes), and the only kind posting accepts into a closed period
-- (journal_entries_update).

CREATE TABLE fin.period_balances (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	organization_id uuid NOT NULL,
	period_id uuid NOT NULL,
	account_id uuid NOT NULL,
	division_id uuid,
	closing boolean NOT NULL, -- the postings of closing entries (kind 'closing')
	debit bigint NOT NULL CHECK (debit >= 0),
	credit bigint NOT NULL CHECK (credit >= 0),
	CONSTRAINT period_balances_key UNIQUE NULLS NOT DISTINCT
		(tenant_id, organization_id, period_id, account_id, division_id, closing),
	CONSTRAINT period_balances_period_fkey FOREIGN KEY (tenant_id, organization_id, period_id)
		REFERENCES fin.periods (tenant_id, organization_id, id),
	CONSTRAINT period_balances_account_fkey FOREIGN KEY (tenant_id, organization_id, account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id)
);
SELECT core.enable_tenant_rls('fin.period_balances');
GRANT SELECT ON fin.period_balances TO keel_app;

-- The snapshot of one period, as its postings sum now.
CREATE FUNCTION fin.period_snapshot_take(p_tenant uuid, p_period uuid) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO fin.period_balances (tenant_id, organization_id, period_id, account_id,
	                                 division_id, closing, debit, credit)
	SELECT q.tenant_id, q.organization_id, p.id, q.account_id, q.division_id,
	       q.kind = 'closing', sum(q.debit), sum(q.credit)
	FROM fin.periods p
	JOIN fin.postings q ON q.tenant_id = p.tenant_id AND q.organization_id = p.organization_id
	 AND q.date BETWEEN p.start_date AND p.end_date
	WHERE p.tenant_id = p_tenant AND p.id = p_period
	GROUP BY q.tenant_id, q.organization_id, p.id, q.account_id, q.division_id,
	         q.kind = 'closing';
END
$$;
REVOKE ALL ON FUNCTION fin.period_snapshot_take(uuid, uuid) FROM PUBLIC;

-- Closing takes the snapshot, reopening discards it, locking keeps it.  Each
-- statement of this (volatile) function sees what committed before it, so the
-- postings the close waited for (periods_transition's row lock) are counted.
CREATE FUNCTION fin.periods_snapshot() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF OLD.status = 'open' AND NEW.status = 'closed' THEN
		PERFORM fin.period_snapshot_take(NEW.tenant_id, NEW.id);
	ELSIF OLD.status = 'closed' AND NEW.status = 'open' THEN
		DELETE FROM fin.period_balances b WHERE b.tenant_id = NEW.tenant_id AND b.period_id = NEW.id;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER periods_snapshot AFTER UPDATE OF status ON fin.periods
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION fin.periods_snapshot();

-- Snapshot rows change only through the triggers above (and the year close
-- below), never by a statement of their own (trigger depth 1), whoever issues
-- it; a tenant's deletion cascades (depth > 1).
CREATE FUNCTION fin.period_balances_immutable() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF pg_trigger_depth() = 1 THEN
		RAISE EXCEPTION 'a period''s snapshot never changes' USING ERRCODE = 'KF409',
			CONSTRAINT = 'period_balances_immutable';
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER period_balances_immutable BEFORE UPDATE OR DELETE ON fin.period_balances
	FOR EACH ROW EXECUTE FUNCTION fin.period_balances_immutable();

-- The snapshots of the periods closed before this migration.
INSERT INTO fin.period_balances (tenant_id, organization_id, period_id, account_id, division_id,
                                 closing, debit, credit)
SELECT q.tenant_id, q.organization_id, p.id, q.account_id, q.division_id, q.kind = 'closing',
       sum(q.debit), sum(q.credit)
FROM fin.periods p
JOIN fin.postings q ON q.tenant_id = p.tenant_id AND q.organization_id = p.organization_id
 AND q.date BETWEEN p.start_date AND p.end_date
WHERE p.status <> 'open'
GROUP BY q.tenant_id, q.organization_id, p.id, q.account_id, q.division_id, q.kind = 'closing';

-- The differences between the tenant's snapshots and its postings, first
-- first: (period, account, division, closing) with both sums of each side;
-- none when the snapshots hold.  Read by `keel fin verify` as the owner role.
CREATE FUNCTION fin.verify_snapshots() RETURNS TABLE (period_name text, organization_id uuid,
	period_id uuid, account_code text, division_id uuid, snapshot_debit bigint,
	snapshot_credit bigint, posted_debit bigint, posted_credit bigint, closing boolean)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH s AS (
		SELECT b.period_id, b.account_id,
		       coalesce(b.division_id, '00000000-0000-0000-0000-000000000000') AS division,
		       b.closing, b.debit, b.credit
		FROM fin.period_balances b WHERE b.tenant_id = core.current_tenant_id()),
	c AS (
		SELECT p.id AS period_id, q.account_id,
		       coalesce(q.division_id, '00000000-0000-0000-0000-000000000000') AS division,
		       q.kind = 'closing' AS closing,
		       sum(q.debit)::bigint AS debit, sum(q.credit)::bigint AS credit
		FROM fin.periods p
		JOIN fin.postings q ON q.tenant_id = p.tenant_id AND q.organization_id = p.organization_id
		 AND q.date BETWEEN p.start_date AND p.end_date
		WHERE p.tenant_id = core.current_tenant_id() AND p.status <> 'open'
		GROUP BY p.id, q.account_id, 3, 4)
	SELECT p.name, p.organization_id, p.id, a.code,
	       nullif(coalesce(s.division, c.division), '00000000-0000-0000-0000-000000000000'),
	       s.debit, s.credit, c.debit, c.credit, coalesce(s.closing, c.closing)
	FROM s FULL JOIN c ON c.period_id = s.period_id AND c.account_id = s.account_id
	 AND c.division = s.division AND c.closing = s.closing
	JOIN fin.periods p ON p.tenant_id = core.current_tenant_id()
	 AND p.id = coalesce(s.period_id, c.period_id)
	JOIN fin.accounts a ON a.tenant_id = core.current_tenant_id()
	 AND a.id = coalesce(s.account_id, c.account_id)
	WHERE s.debit IS DISTINCT FROM c.debit OR s.credit IS DISTINCT FROM c.credit
	ORDER BY p.organization_id, p.start_date, a.code, 5 NULLS FIRST, 10
$$;
REVOKE ALL ON FUNCTION fin.verify_snapshots() FROM PUBLIC;

-- ------------------------------------------------------------ closing entries

-- An entry is created as a draft; one of kind 'closing' only by the owner
-- role (fin.close_fiscal_year, SECURITY DEFINER): keel_app cannot make one.
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

-- 0012's, with: an entry's kind never changes; a closing entry posts into its
-- closed (not locked) period of a fiscal year still open; a closing entry is
-- not reversed.
CREATE OR REPLACE FUNCTION fin.journal_entries_update() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_period record;
	v_fy_name text;
	v_fy_status text;
	v_seq bigint;
	v_rev record;
BEGIN
	IF NEW.tenant_id <> OLD.tenant_id THEN
		RETURN NEW; -- row-level security refuses it (42501), as for every table
	END IF;
	IF OLD.status = 'posted' THEN
		RAISE EXCEPTION 'a posted entry never changes' USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_immutable';
	END IF;
	IF NEW.id <> OLD.id OR NEW.organization_id <> OLD.organization_id THEN
		RAISE EXCEPTION 'an entry stays where it was made' USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_fixed';
	END IF;
	IF NEW.kind <> OLD.kind THEN
		RAISE EXCEPTION 'an entry''s kind never changes' USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_fixed';
	END IF;
	IF NEW.status <> 'posted' THEN
		RETURN NEW;
	END IF;
	SELECT p.id, p.name, p.status, p.fiscal_year_id INTO v_period FROM fin.periods p
	WHERE p.tenant_id = NEW.tenant_id AND p.organization_id = NEW.organization_id
	  AND p.start_date <= NEW.date AND p.end_date >= NEW.date
	FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no fiscal period contains %', NEW.date USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_period_open', COLUMN = 'date';
	END IF;
	SELECT f.name, f.status INTO v_fy_name, v_fy_status FROM fin.fiscal_years f
	WHERE f.tenant_id = NEW.tenant_id AND f.id = v_period.fiscal_year_id;
	IF v_period.status <> 'open'
	   AND NOT (NEW.kind = 'closing' AND v_period.status = 'closed' AND v_fy_status = 'open') THEN
		RAISE EXCEPTION 'the period % is %', v_period.name, v_period.status
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_period_open', COLUMN = 'date';
	END IF;
	IF NEW.reverses_id IS NOT NULL THEN
		SELECT e.status, e.kind INTO v_rev FROM fin.journal_entries e
		WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.reverses_id;
		IF v_rev.status <> 'posted' OR v_rev.kind = 'reversal' THEN
			RAISE EXCEPTION 'only a posted entry that is not a reversal can be reversed'
				USING ERRCODE = 'KF409', CONSTRAINT = 'journal_entries_reversal_of_posted';
		END IF;
		IF v_rev.kind = 'closing' THEN
			RAISE EXCEPTION 'a closing entry is not reversed'
				USING ERRCODE = 'KF409', CONSTRAINT = 'journal_entries_reversal_of_posted';
		END IF;
	END IF;
	INSERT INTO fin.entry_counters AS c (tenant_id, organization_id, journal, fiscal_year_id, last)
	VALUES (NEW.tenant_id, NEW.organization_id, NEW.journal, v_period.fiscal_year_id, 1)
	ON CONFLICT (tenant_id, organization_id, journal, fiscal_year_id)
	DO UPDATE SET last = c.last + 1
	RETURNING c.last INTO v_seq;
	NEW.fiscal_year_id := v_period.fiscal_year_id;
	NEW.sequence := v_seq;
	NEW.number := fin.journal_prefix(NEW.journal) || '-' || v_fy_name || '-'
	              || CASE WHEN v_seq < 1000000 THEN lpad(v_seq::text, 6, '0') ELSE v_seq::text END;
	NEW.posted_at := now();
	NEW.posted_by := core.current_user_id();
	RETURN NEW;
END
$$;

-- A closed fiscal year stays closed; closing one takes its last period's
-- snapshot again (the closing entry is in it).
CREATE FUNCTION fin.fiscal_years_close() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_last uuid;
BEGIN
	IF OLD.status = 'closed' THEN
		RAISE EXCEPTION 'a closed fiscal year stays closed' USING ERRCODE = 'KF409',
			CONSTRAINT = 'fiscal_years_closed';
	END IF;
	SELECT p.id INTO v_last FROM fin.periods p
	WHERE p.tenant_id = NEW.tenant_id AND p.fiscal_year_id = NEW.id AND p.status = 'closed'
	  AND p.end_date = NEW.end_date;
	IF FOUND THEN
		DELETE FROM fin.period_balances b WHERE b.tenant_id = NEW.tenant_id AND b.period_id = v_last;
		PERFORM fin.period_snapshot_take(NEW.tenant_id, v_last);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER fiscal_years_close AFTER UPDATE OF status ON fin.fiscal_years
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION fin.fiscal_years_close();

-- The fiscal-year close: every period of the year closed (its last one not
-- locked) and the ledger's retained-earnings account set, else KF409.  The
-- year's income and expense movements, per account and division, move to
-- retained earnings (per division) in closing entries of the adjustment
-- journal dated the year's last day: p_entry the first, more only when one
-- would exceed 1000 lines (500 balances each).  None when nothing moved.
-- Then the year is closed.  Returns the entries' ids in order.
CREATE FUNCTION fin.close_fiscal_year(p_id uuid, p_entry uuid) RETURNS uuid[]
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_fy record;
	v_ledger record;
	v_ids uuid[] := '{}';
	v_chunk integer;
	v_chunks integer;
	v_entry uuid;
BEGIN
	SELECT f.* INTO v_fy FROM fin.fiscal_years f
	WHERE f.tenant_id = core.current_tenant_id() AND f.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such fiscal year' USING ERRCODE = 'KF404';
	END IF;
	-- the year's periods before the ledger, as a period's change takes them (its row, then
	-- the ledger in periods_transition): a reopening in flight finishes first, no deadlock
	PERFORM 1 FROM fin.periods p WHERE p.tenant_id = v_fy.tenant_id AND p.fiscal_year_id = p_id
	FOR SHARE;
	SELECT g.currency, g.retained_earnings_account_id AS re INTO v_ledger FROM fin.ledgers g
	WHERE g.tenant_id = v_fy.tenant_id AND g.organization_id = v_fy.organization_id
	FOR NO KEY UPDATE;
	IF v_fy.status = 'closed' THEN
		RAISE EXCEPTION 'the fiscal year is closed' USING ERRCODE = 'KF409',
			CONSTRAINT = 'fiscal_years_closed';
	END IF;
	IF EXISTS (SELECT 1 FROM fin.periods p WHERE p.tenant_id = v_fy.tenant_id
	           AND p.fiscal_year_id = p_id AND p.status = 'open') THEN
		RAISE EXCEPTION 'a period of the fiscal year is open' USING ERRCODE = 'KF409',
			CONSTRAINT = 'fiscal_years_close_periods';
	END IF;
	IF EXISTS (SELECT 1 FROM fin.periods p WHERE p.tenant_id = v_fy.tenant_id
	           AND p.fiscal_year_id = p_id AND p.end_date = v_fy.end_date AND p.status = 'locked') THEN
		RAISE EXCEPTION 'the fiscal year''s last period is locked' USING ERRCODE = 'KF409',
			CONSTRAINT = 'fiscal_years_close_periods';
	END IF;
	IF v_ledger.re IS NULL THEN
		RAISE EXCEPTION 'the ledger has no retained-earnings account' USING ERRCODE = 'KF409',
			CONSTRAINT = 'fiscal_years_close_retained_earnings';
	END IF;
	CREATE TEMP TABLE IF NOT EXISTS fin_closing (chunk integer, account_id uuid, division_id uuid,
	                                             balance bigint) ON COMMIT DROP;
	TRUNCATE fin_closing;
	INSERT INTO fin_closing
	SELECT (row_number() OVER (ORDER BY m.division_id NULLS FIRST, m.account_id) - 1) / 500,
	       m.account_id, m.division_id, m.balance
	FROM (SELECT q.account_id, q.division_id, sum(q.debit - q.credit)::bigint AS balance
	      FROM fin.postings q
	      JOIN fin.accounts a ON a.tenant_id = q.tenant_id AND a.id = q.account_id
	       AND a.type IN ('income', 'expense')
	      WHERE q.tenant_id = v_fy.tenant_id AND q.organization_id = v_fy.organization_id
	        AND q.date BETWEEN v_fy.start_date AND v_fy.end_date
	      GROUP BY q.account_id, q.division_id
	      HAVING sum(q.debit - q.credit) <> 0) m;
	SELECT coalesce(max(c.chunk) + 1, 0) INTO v_chunks FROM fin_closing c;
	FOR v_chunk IN 0 .. v_chunks - 1 LOOP
		v_entry := CASE v_chunk WHEN 0 THEN p_entry ELSE audit.uuid_v7(clock_timestamp()) END;
		INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, kind, date, memo,
		                                 currency)
		VALUES (v_fy.tenant_id, v_entry, v_fy.organization_id, 'adjustment', 'closing',
		        v_fy.end_date, 'Closing of fiscal year ' || v_fy.name, v_ledger.currency);
		INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
		                               debit, credit, currency, functional_debit, functional_credit,
		                               division_id)
		SELECT v_fy.tenant_id, audit.uuid_v7(clock_timestamp()), v_fy.organization_id, v_entry,
		       row_number() OVER (ORDER BY l.ord, l.division_id NULLS FIRST, l.account_id),
		       l.account_id, greatest(-l.balance, 0), greatest(l.balance, 0), v_ledger.currency,
		       greatest(-l.balance, 0), greatest(l.balance, 0), l.division_id
		FROM (SELECT 0 AS ord, c.account_id, c.division_id, c.balance
		      FROM fin_closing c WHERE c.chunk = v_chunk
		      UNION ALL
		      SELECT 1, v_ledger.re, c.division_id, -sum(c.balance)::bigint
		      FROM fin_closing c WHERE c.chunk = v_chunk
		      GROUP BY c.division_id HAVING sum(c.balance) <> 0) l;
		PERFORM fin.post_entry(v_entry);
		v_ids := v_ids || v_entry;
	END LOOP;
	UPDATE fin.fiscal_years f SET status = 'closed', version = f.version + 1, updated_at = now()
	WHERE f.tenant_id = v_fy.tenant_id AND f.id = p_id;
	RETURN v_ids;
END
$$;
REVOKE ALL ON FUNCTION fin.close_fiscal_year(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fin.close_fiscal_year(uuid, uuid) TO keel_app;
-- A year is closed by fin.close_fiscal_year alone (with its closing entry): the application
-- role no longer writes a fiscal year's status.
REVOKE UPDATE (status) ON fin.fiscal_years FROM keel_app;
