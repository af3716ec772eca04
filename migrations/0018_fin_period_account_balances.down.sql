-- 0018 fin: revert (the account rows gone, verify_snapshots as 0014 made it).
DROP FUNCTION fin.verify_snapshots();
DROP TRIGGER period_balances_removed ON fin.period_balances;
DROP TRIGGER period_balances_added ON fin.period_balances;
DROP FUNCTION fin.period_balances_removed();
DROP FUNCTION fin.period_balances_added();
DROP TABLE fin.period_account_balances;

-- The snapshot of one period, as its postings sum now.
CREATE OR REPLACE FUNCTION fin.period_snapshot_take(p_tenant uuid, p_period uuid) RETURNS void
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
