-- bench/audit: 5 million audit rows spread over the last 12 months, for the
-- latency of audit.history and audit.user_activity.  8 tenants x 625,000
-- rows; each tenant has 50,000 records with 12 or 13 rows each (a record's
-- history) and 50 actors.
--   record r of tenant t: 00000000-0000-7000-c0tt-rrrrrrrrrrrr
--   actor u of tenant t:  00000000-0000-7000-a0tt-uuuuuuuuuuuu
SET client_min_messages = warning;
SELECT count(*) AS partitions_made
FROM generate_series(1, 12) m, LATERAL audit.create_partition((now() - make_interval(months => m))::date) p
WHERE p IS NOT NULL;
DO $$
DECLARE
	tid uuid;
BEGIN
	FOR t IN 1..8 LOOP
		tid := ('00000000-0000-7000-8000-' || lpad(t::text, 12, '0'))::uuid;
		PERFORM set_config('app.tenant_id', tid::text, true);
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT tid, audit.uuid_v7(x.ts), x.ts,
		       ('00000000-0000-7000-a' || lpad(t::text, 3, '0') || '-' || lpad((x.g % 50 + 1)::text, 12, '0'))::uuid,
		       CASE WHEN x.g % 13 = 0 THEN 'INSERT' ELSE 'UPDATE' END, 'org', 'organizations',
		       ('00000000-0000-7000-c' || lpad(t::text, 3, '0') || '-' || lpad((x.g % 50000 + 1)::text, 12, '0'))::uuid,
		       jsonb_build_object('name', 'Organization ' || x.g, 'version', x.g / 50000),
		       jsonb_build_object('name', 'Organization ' || x.g || ' renamed', 'version', x.g / 50000 + 1),
		       '{name,updated_at,version}', 'bench-' || x.g, NULL, '127.0.0.1', 1
		FROM (SELECT g, now() - random() * interval '365 days' AS ts
		      FROM generate_series(1, 625000) g) x;
	END LOOP;
END
$$;
VACUUM ANALYZE audit.logs;
