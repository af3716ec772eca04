-- Seed for bench/org: 20 tenants x 500 organizations x 2 divisions with
-- deterministic ids, so keel (through wrk) and pgbench ask for the same rows.
--   tenant t:        00000000-0000-7000-8000-00000000000t (t = 1..20, zero-padded)
--   organization n:  00000000-0000-7000-9000-nnnnnnnnnnnn (n = 1..10000, tenant (n-1)/500+1)
-- :hash is a password hash (the same password for every bench owner).
SET client_min_messages = warning;
DO $$
DECLARE
	t int;
	tid uuid;
BEGIN
	FOR t IN 1..20 LOOP
		tid := ('00000000-0000-7000-8000-' || lpad(t::text, 12, '0'))::uuid;
		PERFORM core.create_tenant(tid, 'Bench ' || t, 'bench-' || t);
		PERFORM set_config('app.tenant_id', tid::text, true);
		INSERT INTO auth.users (tenant_id, id, email, password_hash, role)
		VALUES (tid, ('00000000-0000-7000-a000-' || lpad(t::text, 12, '0'))::uuid,
		        'owner@bench-' || t || '.test', current_setting('bench.hash'), 'owner');
		INSERT INTO org.organizations (tenant_id, id, name, code, description, settings)
		SELECT tid, ('00000000-0000-7000-9000-' || lpad(n::text, 12, '0'))::uuid,
		       'Organization ' || n, 'ORG-' || n, 'seeded for the benchmark',
		       jsonb_build_object('region', 'eu', 'n', n)
		FROM generate_series((t - 1) * 500 + 1, t * 500) n;
		INSERT INTO org.divisions (tenant_id, id, organization_id, name, code)
		SELECT tid, ('00000000-0000-7000-b000-' || lpad((n * 2 + k)::text, 12, '0'))::uuid,
		       ('00000000-0000-7000-9000-' || lpad(n::text, 12, '0'))::uuid,
		       'Division ' || k, 'DIV-' || k
		FROM generate_series((t - 1) * 500 + 1, t * 500) n, generate_series(0, 1) k;
	END LOOP;
END
$$;
VACUUM ANALYZE core.tenants, auth.users, org.organizations, org.divisions;
