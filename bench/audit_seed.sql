-- Seed for bench/audit: 8 tenants (one per pgbench client) x 5000
-- organizations with deterministic ids, so the update scripts hit rows that
-- exist and two clients never touch the same rows.
--   tenant t:        00000000-0000-7000-8000-00000000000t (t = 1..8)
--   organization n:  00000000-0000-7000-9ttt-nnnnnnnnnnnn (n = 1..5000)
SET client_min_messages = warning;
DO $$
DECLARE
	tid uuid;
BEGIN
	FOR t IN 1..8 LOOP
		tid := ('00000000-0000-7000-8000-' || lpad(t::text, 12, '0'))::uuid;
		PERFORM core.create_tenant(tid, 'Bench ' || t, 'bench-' || t);
		INSERT INTO org.organizations (tenant_id, id, name, code, description, settings)
		SELECT tid, ('00000000-0000-7000-9' || lpad(t::text, 3, '0') || '-' || lpad(n::text, 12, '0'))::uuid,
		       'Organization ' || n, 'ORG-' || n, 'seeded for the benchmark',
		       jsonb_build_object('region', 'eu', 'n', n)
		FROM generate_series(1, 5000) n;
	END LOOP;
END
$$;
VACUUM ANALYZE core.tenants, org.organizations;
