-- Seed for bench/fin_big: tenant 1000 (slug bench-tb, the ids of fin_tb_seed.sql:
-- organization 00000000-0000-7000-9000-000000001000), one organization with 300
-- accounts under 5 group accounts (one per type), 20 divisions
-- (00000000-0000-7000-b000-0000000010dd, dd = 01..20), fiscal years FY25 and FY26
-- (2025-01-01..2026-12-31, 24 months; FY25 00000000-0000-7000-d000-000000001025,
-- FY26 ...1026), and bench.lines posted lines (default 10,000,000): bench.lines / 4
-- entries of 4 lines each, dated evenly over the 730 days, so about 417,000 lines a
-- month; each line on one of the 300 accounts (a hash of entry and line) and one of the
-- 20 divisions (the same for each balancing pair of lines;
-- every account with every division).  Every period stays open:
-- bench/fin_big closes them through keel.
--
-- The rows are written as fin_tb_seed.sql writes them (it says why: posting
-- millions of entries one by one through the triggers takes hours here), as
-- keel_owner in one transaction, with the user triggers of journal_entries and
-- journal_lines disabled and the foreign keys of the three tables dropped, then
-- added again (which checks every row) before COMMIT; checks, unique keys and
-- every index stay on throughout, so the indexes grow as posting grows them
-- (rows in date order).  The rows are exactly what posting writes: posted
-- entries numbered per fiscal year (GEN-FY25-nnnnnn, sequence in date order,
-- posted_at, posted_by, version 2), their lines, one fin.postings row per line
-- and one fin.entry_counters row per fiscal year with its last number.  The
-- audit log of these rows is missing; no report reads it.
SET client_min_messages = warning;
DO $$
DECLARE
	tid uuid := '00000000-0000-7000-8000-000000001000';
	oid_ uuid := '00000000-0000-7000-9000-000000001000';
BEGIN
	PERFORM core.create_tenant(tid, 'Bench big books', 'bench-tb');
	PERFORM set_config('app.tenant_id', tid::text, true);
	INSERT INTO auth.users (tenant_id, id, email, password_hash, role)
	VALUES (tid, '00000000-0000-7000-a000-000000001000', 'owner@bench-tb.test',
	        current_setting('bench.hash'), 'owner');
	INSERT INTO org.organizations (tenant_id, id, name, code)
	VALUES (tid, oid_, 'Big books', 'BIG');
	INSERT INTO org.divisions (tenant_id, id, organization_id, name, code)
	SELECT tid, ('00000000-0000-7000-b000-0000000010' || lpad(d::text, 2, '0'))::uuid, oid_,
	       'Division ' || d, 'D' || lpad(d::text, 2, '0')
	FROM generate_series(1, 20) d;
	INSERT INTO fin.ledgers (tenant_id, id, organization_id, currency) VALUES (tid, oid_, oid_, 'USD');
	INSERT INTO fin.accounts (tenant_id, id, organization_id, code, name, type, is_group)
	SELECT tid, ('00000000-0000-7000-c000-001000' || lpad((1000 + g)::text, 6, '0'))::uuid,
	       oid_, 'G' || g, 'Group ' || g,
	       (ARRAY['asset', 'liability', 'equity', 'income', 'expense'])[g], true
	FROM generate_series(1, 5) g;
	INSERT INTO fin.accounts (tenant_id, id, organization_id, code, name, type, parent_id)
	SELECT tid, ('00000000-0000-7000-c000-001000' || lpad(k::text, 6, '0'))::uuid,
	       oid_, 'A' || lpad(k::text, 4, '0'),
	       CASE k WHEN 1 THEN 'Cash' ELSE 'Account ' || k END,
	       (ARRAY['asset', 'liability', 'equity', 'income', 'expense'])[1 + (k - 1) % 5],
	       ('00000000-0000-7000-c000-001000' || lpad((1001 + (k - 1) % 5)::text, 6, '0'))::uuid
	FROM generate_series(1, 300) k;
	PERFORM fin.create_fiscal_year('00000000-0000-7000-d000-000000001025', oid_, 'FY25',
	                               '2025-01-01', '2025-12-31', 'month');
	PERFORM fin.create_fiscal_year('00000000-0000-7000-d000-000000001026', oid_, 'FY26',
	                               '2026-01-01', '2026-12-31', 'month');
END
$$;

BEGIN;
-- bench.first26: the entries dated in 2025, so entry n > first26 is number n - first26 of FY26
SELECT set_config('app.tenant_id', '00000000-0000-7000-8000-000000001000', true),
       set_config('app.user_id', '00000000-0000-7000-a000-000000001000', true),
       set_config('bench.entries', (current_setting('bench.lines')::bigint / 4)::text, true),
       set_config('bench.first26', ((365 * (current_setting('bench.lines')::bigint / 4) + 729) / 730)::text, true),
       set_config('work_mem', '256MB', true),
       set_config('maintenance_work_mem', '1GB', true) \g /dev/null
ALTER TABLE fin.journal_entries DISABLE TRIGGER USER;
ALTER TABLE fin.journal_lines DISABLE TRIGGER USER;
CREATE TEMP TABLE bench_fkeys ON COMMIT DROP AS
SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
FROM pg_constraint
WHERE contype = 'f'
  AND (conrelid IN ('fin.journal_entries'::regclass, 'fin.journal_lines'::regclass, 'fin.postings'::regclass)
       OR confrelid IN ('fin.journal_entries'::regclass, 'fin.journal_lines'::regclass, 'fin.postings'::regclass));
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM bench_fkeys LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname);
	END LOOP;
END
$$;
-- entry n is dated day (n - 1) * 730 / entries from 2025-01-01 (date order is number order)
INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, date, memo, currency,
                                 status, fiscal_year_id, sequence, number, posted_at, posted_by,
                                 version)
SELECT core.current_tenant_id(), ('00000000-0000-7000-f000-' || lpad(n::text, 12, '0'))::uuid,
       '00000000-0000-7000-9000-000000001000', 'general', date '2025-01-01' + d,
       'seeded', 'USD', 'posted', ('00000000-0000-7000-d000-00000000' || fy)::uuid, seq,
       fin.journal_prefix('general') || '-FY' || right(fy, 2) || '-'
       || CASE WHEN seq < 1000000 THEN lpad(seq::text, 6, '0') ELSE seq::text END,
       now(), core.current_user_id(), 2
FROM generate_series(1, current_setting('bench.entries')::bigint) n,
     LATERAL (SELECT ((n - 1) * 730 / current_setting('bench.entries')::bigint)::int AS d) dd,
     LATERAL (SELECT CASE WHEN d < 365 THEN '1025' ELSE '1026' END AS fy,
                     CASE WHEN d < 365 THEN n ELSE n - current_setting('bench.first26')::bigint END AS seq) s;
-- lines 1/2 and 3/4 balance each other; accounts spread by a hash of (n, k) (n mod 300), divisions by
-- n / 7 and the pair, so that every (account, division) pair occurs: 6,000 of them a month
INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
                               debit, credit, currency, functional_debit, functional_credit,
                               division_id)
SELECT core.current_tenant_id(), ('00000000-0000-7000-e000-' || lpad((n * 4 + k)::text, 12, '0'))::uuid,
       '00000000-0000-7000-9000-000000001000',
       ('00000000-0000-7000-f000-' || lpad(n::text, 12, '0'))::uuid, k,
       ('00000000-0000-7000-c000-001000'
        || lpad((1 + (n * 7919 + k * 104729) % 300)::text, 6, '0'))::uuid,
       CASE k WHEN 1 THEN a WHEN 3 THEN b ELSE 0 END, CASE k WHEN 2 THEN a WHEN 4 THEN b ELSE 0 END,
       'USD', CASE k WHEN 1 THEN a WHEN 3 THEN b ELSE 0 END, CASE k WHEN 2 THEN a WHEN 4 THEN b ELSE 0 END,
       ('00000000-0000-7000-b000-0000000010' || lpad((1 + (n / 7 + (k - 1) / 2 * 11) % 20)::text, 2, '0'))::uuid
FROM generate_series(1, current_setting('bench.entries')::bigint) n,
     LATERAL (SELECT (n % 9973 + 1) * 100 AS a, (n % 101 + 1) * 7 AS b) amt,
     generate_series(1, 4) k;
ALTER TABLE fin.journal_entries ENABLE TRIGGER USER;
ALTER TABLE fin.journal_lines ENABLE TRIGGER USER;
-- what fin.journal_entries_postings writes for each posted entry, in posting order
INSERT INTO fin.postings (tenant_id, id, organization_id, account_id, date, journal, sequence,
                          line_no, entry_id, division_id, kind, debit, credit)
SELECT l.tenant_id, l.id, l.organization_id, l.account_id, e.date, e.journal, e.sequence,
       l.line_no, l.entry_id, l.division_id, e.kind, l.functional_debit, l.functional_credit
FROM fin.journal_lines l
JOIN fin.journal_entries e ON e.tenant_id = l.tenant_id AND e.id = l.entry_id
WHERE l.tenant_id = core.current_tenant_id()
  AND l.organization_id = '00000000-0000-7000-9000-000000001000'
ORDER BY e.date, e.sequence, l.line_no;
INSERT INTO fin.entry_counters (tenant_id, organization_id, journal, fiscal_year_id, last)
SELECT core.current_tenant_id(), '00000000-0000-7000-9000-000000001000', 'general',
       e.fiscal_year_id, max(e.sequence)
FROM fin.journal_entries e
WHERE e.tenant_id = core.current_tenant_id()
  AND e.organization_id = '00000000-0000-7000-9000-000000001000'
GROUP BY e.fiscal_year_id;
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM bench_fkeys LOOP
		EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.tbl, r.conname, r.def);
	END LOOP;
END
$$;
COMMIT;
VACUUM ANALYZE fin.journal_entries, fin.journal_lines, fin.postings, fin.entry_counters,
	fin.accounts, fin.periods, org.divisions;
