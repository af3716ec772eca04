-- 0018 fin: a closed period's snapshot per account, its divisions summed.
--
--   period_account_balances  per closed period, account and whether of closing
--                            entries: the sums of period_balances' rows over
--                            their divisions.  What a report without a division
--                            filter reads: one row per account a period (300
--                            for 300 accounts), where period_balances has one
--                            per account and division (6,000 with 20 divisions).
--
-- Kept by the database beside period_balances, in the same statement: every
-- insert into period_balances (a close, the year close's retake) adds the
-- periods' account rows, every delete (a reopening, the retake) removes them.
-- Nobody changes a row otherwise (period_balances_immutable); `keel fin verify`
-- recomputes these rows from the postings too.

CREATE TABLE fin.period_account_balances (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	organization_id uuid NOT NULL,
	period_id uuid NOT NULL,
	account_id uuid NOT NULL,
	closing boolean NOT NULL, -- the postings of closing entries (kind 'closing')
	debit bigint NOT NULL CHECK (debit >= 0),
	credit bigint NOT NULL CHECK (credit >= 0),
	CONSTRAINT period_account_balances_key
		UNIQUE (tenant_id, organization_id, period_id, account_id, closing),
	CONSTRAINT period_account_balances_period_fkey
		FOREIGN KEY (tenant_id, organization_id, period_id)
		REFERENCES fin.periods (tenant_id, organization_id, id),
	CONSTRAINT period_account_balances_account_fkey
		FOREIGN KEY (tenant_id, organization_id, account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id)
);
SELECT core.enable_tenant_rls('fin.period_account_balances');
GRANT SELECT ON fin.period_account_balances TO keel_app;
CREATE TRIGGER period_account_balances_immutable BEFORE UPDATE OR DELETE
	ON fin.period_account_balances
	FOR EACH ROW EXECUTE FUNCTION fin.period_balances_immutable();

-- The account rows of the periods whose snapshot rows a statement added.
CREATE FUNCTION fin.period_balances_added() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO fin.period_account_balances (tenant_id, organization_id, period_id, account_id,
	                                         closing, debit, credit)
	SELECT n.tenant_id, n.organization_id, n.period_id, n.account_id, n.closing, sum(n.debit),
	       sum(n.credit)
	FROM added n
	GROUP BY n.tenant_id, n.organization_id, n.period_id, n.account_id, n.closing;
	RETURN NULL;
END
$$;
CREATE TRIGGER period_balances_added AFTER INSERT ON fin.period_balances
	REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION fin.period_balances_added();

-- ... and gone with them (a tenant's deletion cascades to both tables anyway).
CREATE FUNCTION fin.period_balances_removed() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	DELETE FROM fin.period_account_balances b
	USING (SELECT DISTINCT o.tenant_id, o.period_id FROM removed o) o
	WHERE b.tenant_id = o.tenant_id AND b.period_id = o.period_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER period_balances_removed AFTER DELETE ON fin.period_balances
	REFERENCING OLD TABLE AS removed
	FOR EACH STATEMENT EXECUTE FUNCTION fin.period_balances_removed();

-- The snapshot of one period, as its postings sum now: every posting read from
-- postings_date_idx alone (an index-only range: a month of 400,000 postings in
-- well under a second), the closing entries' (a few hundred, at most, a year)
-- through postings_closing_idx, taken out of the rest and kept apart.
CREATE OR REPLACE FUNCTION fin.period_snapshot_take(p_tenant uuid, p_period uuid) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO fin.period_balances (tenant_id, organization_id, period_id, account_id,
	                                 division_id, closing, debit, credit)
	SELECT p.tenant_id, p.organization_id, p.id, m.account_id, m.division_id, m.closing,
	       sum(m.debit), sum(m.credit)
	FROM fin.periods p
	CROSS JOIN LATERAL (
		SELECT q.account_id, q.division_id, false AS closing, q.debit, q.credit, 1 AS n
		FROM fin.postings q
		WHERE q.tenant_id = p.tenant_id AND q.organization_id = p.organization_id
		  AND q.date BETWEEN p.start_date AND p.end_date
		UNION ALL
		SELECT c.account_id, c.division_id, k.closing, k.sign * c.debit, k.sign * c.credit,
		       k.sign
		FROM fin.postings c
		CROSS JOIN (VALUES (false, -1), (true, 1)) k(closing, sign)
		WHERE c.tenant_id = p.tenant_id AND c.organization_id = p.organization_id
		  AND c.kind = 'closing' AND c.date BETWEEN p.start_date AND p.end_date) m
	WHERE p.tenant_id = p_tenant AND p.id = p_period
	GROUP BY p.tenant_id, p.organization_id, p.id, m.account_id, m.division_id, m.closing
	HAVING sum(m.n) > 0;
END
$$;

-- The account rows of the periods closed before this migration.
INSERT INTO fin.period_account_balances (tenant_id, organization_id, period_id, account_id,
                                         closing, debit, credit)
SELECT b.tenant_id, b.organization_id, b.period_id, b.account_id, b.closing, sum(b.debit),
       sum(b.credit)
FROM fin.period_balances b
GROUP BY b.tenant_id, b.organization_id, b.period_id, b.account_id, b.closing;

-- verify_snapshots, with the account rows: a difference of those has all_divisions set
-- (and no division).
DROP FUNCTION fin.verify_snapshots();
CREATE FUNCTION fin.verify_snapshots() RETURNS TABLE (period_name text, organization_id uuid,
	period_id uuid, account_code text, division_id uuid, snapshot_debit bigint,
	snapshot_credit bigint, posted_debit bigint, posted_credit bigint, closing boolean,
	all_divisions boolean)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH s AS (
		SELECT false AS whole, b.period_id, b.account_id,
		       coalesce(b.division_id, '00000000-0000-0000-0000-000000000000') AS division,
		       b.closing, b.debit, b.credit
		FROM fin.period_balances b WHERE b.tenant_id = core.current_tenant_id()
		UNION ALL
		SELECT true, b.period_id, b.account_id, '00000000-0000-0000-0000-000000000000',
		       b.closing, b.debit, b.credit
		FROM fin.period_account_balances b WHERE b.tenant_id = core.current_tenant_id()),
	q AS (
		SELECT p.id AS period_id, q.account_id,
		       coalesce(q.division_id, '00000000-0000-0000-0000-000000000000') AS division,
		       q.kind = 'closing' AS closing, q.debit, q.credit
		FROM fin.periods p
		JOIN fin.postings q ON q.tenant_id = p.tenant_id AND q.organization_id = p.organization_id
		 AND q.date BETWEEN p.start_date AND p.end_date
		WHERE p.tenant_id = core.current_tenant_id() AND p.status <> 'open'),
	c AS (
		SELECT false AS whole, q.period_id, q.account_id, q.division, q.closing,
		       sum(q.debit)::bigint AS debit, sum(q.credit)::bigint AS credit
		FROM q GROUP BY q.period_id, q.account_id, q.division, q.closing
		UNION ALL
		SELECT true, q.period_id, q.account_id, '00000000-0000-0000-0000-000000000000',
		       q.closing, sum(q.debit)::bigint, sum(q.credit)::bigint
		FROM q GROUP BY q.period_id, q.account_id, q.closing)
	SELECT p.name, p.organization_id, p.id, a.code,
	       nullif(coalesce(s.division, c.division), '00000000-0000-0000-0000-000000000000'),
	       s.debit, s.credit, c.debit, c.credit, coalesce(s.closing, c.closing),
	       coalesce(s.whole, c.whole)
	FROM s FULL JOIN c ON c.whole = s.whole AND c.period_id = s.period_id
	 AND c.account_id = s.account_id AND c.division = s.division AND c.closing = s.closing
	JOIN fin.periods p ON p.tenant_id = core.current_tenant_id()
	 AND p.id = coalesce(s.period_id, c.period_id)
	JOIN fin.accounts a ON a.tenant_id = core.current_tenant_id()
	 AND a.id = coalesce(s.account_id, c.account_id)
	WHERE s.debit IS DISTINCT FROM c.debit OR s.credit IS DISTINCT FROM c.credit
	ORDER BY p.organization_id, p.start_date, a.code, 11, 5 NULLS FIRST, 10
$$;
REVOKE ALL ON FUNCTION fin.verify_snapshots() FROM PUBLIC;
