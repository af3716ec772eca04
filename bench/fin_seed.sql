-- Seed for bench/fin's postings: :tenants tenants (bench.tenants), each with one
-- owner, one organization, its ledger (USD), 300 accounts and fiscal year 2026
-- in months, with deterministic ids so that keel (through wrk) and pgbench post
-- to the same rows.
--   tenant t:        00000000-0000-7000-8000-00000000000t (t = 1..tenants, zero-padded)
--   owner of t:      00000000-0000-7000-a000-00000000000t
--   organization t:  00000000-0000-7000-9000-00000000000t (its ledger has the same id)
--   account k of t:  00000000-0000-7000-c000-ttttttkkkkkk (k = 1..300; 1 is the cash account)
--   fiscal year:     00000000-0000-7000-d000-00000000000t (FY26: 2026-01-01..2026-12-31)
-- bench.hash is a password hash (the same password for every bench owner).
SET client_min_messages = warning;
DO $$
DECLARE
	t int;
	tid uuid;
	oid_ uuid;
BEGIN
	FOR t IN 1..current_setting('bench.tenants')::int LOOP
		tid := ('00000000-0000-7000-8000-' || lpad(t::text, 12, '0'))::uuid;
		oid_ := ('00000000-0000-7000-9000-' || lpad(t::text, 12, '0'))::uuid;
		PERFORM core.create_tenant(tid, 'Bench ' || t, 'bench-' || t);
		PERFORM set_config('app.tenant_id', tid::text, true);
		INSERT INTO auth.users (tenant_id, id, email, password_hash, role)
		VALUES (tid, ('00000000-0000-7000-a000-' || lpad(t::text, 12, '0'))::uuid,
		        'owner@bench-' || t || '.test', current_setting('bench.hash'), 'owner');
		INSERT INTO org.organizations (tenant_id, id, name, code)
		VALUES (tid, oid_, 'Books ' || t, 'BOOKS-' || t);
		INSERT INTO fin.ledgers (tenant_id, id, organization_id, currency)
		VALUES (tid, oid_, oid_, 'USD');
		INSERT INTO fin.accounts (tenant_id, id, organization_id, code, name, type)
		SELECT tid, ('00000000-0000-7000-c000-' || lpad(t::text, 6, '0') || lpad(k::text, 6, '0'))::uuid,
		       oid_, 'A' || lpad(k::text, 4, '0'),
		       CASE k WHEN 1 THEN 'Cash' ELSE 'Account ' || k END,
		       (ARRAY['asset', 'liability', 'equity', 'income', 'expense'])[1 + (k - 1) % 5]
		FROM generate_series(1, 300) k;
		PERFORM fin.create_fiscal_year(('00000000-0000-7000-d000-' || lpad(t::text, 12, '0'))::uuid,
		                               oid_, 'FY26', '2026-01-01', '2026-12-31', 'month');
	END LOOP;
END
$$;
VACUUM ANALYZE core.tenants, auth.users, org.organizations, fin.ledgers, fin.accounts,
	fin.fiscal_years, fin.periods;
