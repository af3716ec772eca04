-- Seed for bench/fin's trial balance: tenant 1000 (slug bench-tb, its ids as in
-- fin_seed.sql with t = 1000: organization 00000000-0000-7000-9000-000000001000),
-- one organization with 300 accounts under 5 group accounts (one per type),
-- fiscal year 2026 in months, and bench.lines posted lines (default
-- 1,000,000): bench.lines / 4 entries of 4 lines each, dated over the twelve
-- months, each line on one of the 300 accounts.
--
-- The rows are written directly as posting leaves them, for speed: posting
-- 250,000 entries through the posting triggers (drafts, then UPDATE ... SET
-- status = 'posted', which runs what fin.post_entry runs) took 2 to 3 ms an
-- entry on this machine, growing within a transaction (every posting updates
-- the one counter row), so ten minutes and more; and even written directly,
-- a row-by-row foreign key check of 2,000,000 lines and postings took minutes.
-- So, as keel_owner, in one transaction: the user triggers of journal_entries
-- and journal_lines are disabled (the draft-only insert, the lines' guard and
-- the audit log) and the foreign keys of the three tables dropped; the rows
-- are written exactly as posting writes them: posted entries (fiscal year,
-- sequence and number GEN-FY26-nnnnnn in date order, posted_at, posted_by,
-- version 2), their lines, one fin.postings row per line and the
-- fin.entry_counters row with the last number; then the triggers are enabled
-- and the foreign keys added again, which checks every row at once, before
-- COMMIT (no other transaction sees them off).  Checks and unique keys stay
-- on throughout.  The one thing missing is the audit log of these rows, which
-- no report reads.
SET client_min_messages = warning;
DO $$
DECLARE
	tid uuid := '00000000-0000-7000-8000-000000001000';
	oid_ uuid := '00000000-0000-7000-9000-000000001000';
BEGIN
	PERFORM core.create_tenant(tid, 'Bench trial balance', 'bench-tb');
	PERFORM set_config('app.tenant_id', tid::text, true);
	INSERT INTO auth.users (tenant_id, id, email, password_hash, role)
	VALUES (tid, '00000000-0000-7000-a000-000000001000', 'owner@bench-tb.test',
	        current_setting('bench.hash'), 'owner');
	INSERT INTO org.organizations (tenant_id, id, name, code)
	VALUES (tid, oid_, 'Big books', 'BIG');
	INSERT INTO fin.ledgers (tenant_id, id, organization_id, currency) VALUES (tid, oid_, oid_, 'USD');
	-- a group account per type (ids 1001..1005), the parent of the type's 60 accounts
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
	PERFORM fin.create_fiscal_year('00000000-0000-7000-d000-000000001000', oid_, 'FY26',
	                               '2026-01-01', '2026-12-31', 'month');
END
$$;

BEGIN;
SELECT set_config('app.tenant_id', '00000000-0000-7000-8000-000000001000', true),
       set_config('app.user_id', '00000000-0000-7000-a000-000000001000', true),
       set_config('bench.entries', (current_setting('bench.lines')::int / 4)::text, true) \g /dev/null
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
-- entry n is dated day (n - 1) * 365 / entries of 2026 (date order is number order)
INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, date, memo, currency,
                                 status, fiscal_year_id, sequence, number, posted_at, posted_by,
                                 version)
SELECT core.current_tenant_id(), ('00000000-0000-7000-f000-' || lpad(n::text, 12, '0'))::uuid,
       '00000000-0000-7000-9000-000000001000', 'general',
       date '2026-01-01' + ((n - 1)::bigint * 365 / current_setting('bench.entries')::int)::int,
       'seeded', 'USD', 'posted', '00000000-0000-7000-d000-000000001000', n,
       fin.journal_prefix('general') || '-FY26-' || CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END,
       now(), core.current_user_id(), 2
FROM generate_series(1, current_setting('bench.entries')::int) n;
-- lines 1/2 and 3/4 balance each other; accounts spread by a hash of (n, k)
INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
                               debit, credit, currency, functional_debit, functional_credit)
SELECT core.current_tenant_id(), ('00000000-0000-7000-e000-' || lpad((n * 4 + k)::text, 12, '0'))::uuid,
       '00000000-0000-7000-9000-000000001000',
       ('00000000-0000-7000-f000-' || lpad(n::text, 12, '0'))::uuid, k,
       ('00000000-0000-7000-c000-001000'
        || lpad((1 + (n * 7919 + k * 104729) % 300)::text, 6, '0'))::uuid,
       CASE k WHEN 1 THEN a WHEN 3 THEN b ELSE 0 END, CASE k WHEN 2 THEN a WHEN 4 THEN b ELSE 0 END,
       'USD', CASE k WHEN 1 THEN a WHEN 3 THEN b ELSE 0 END, CASE k WHEN 2 THEN a WHEN 4 THEN b ELSE 0 END
FROM generate_series(1, current_setting('bench.entries')::int) n,
     LATERAL (SELECT (n % 9973 + 1) * 100 AS a, (n % 101 + 1) * 7 AS b) amt,
     generate_series(1, 4) k;
ALTER TABLE fin.journal_entries ENABLE TRIGGER USER;
ALTER TABLE fin.journal_lines ENABLE TRIGGER USER;
-- what fin.journal_entries_postings writes for each posted entry
INSERT INTO fin.postings (tenant_id, id, organization_id, account_id, date, journal, sequence,
                          line_no, entry_id, division_id, kind, debit, credit)
SELECT l.tenant_id, l.id, l.organization_id, l.account_id, e.date, e.journal, e.sequence,
       l.line_no, l.entry_id, l.division_id, e.kind, l.functional_debit, l.functional_credit
FROM fin.journal_lines l
JOIN fin.journal_entries e ON e.tenant_id = l.tenant_id AND e.id = l.entry_id
WHERE l.tenant_id = core.current_tenant_id()
  AND l.organization_id = '00000000-0000-7000-9000-000000001000'
ORDER BY e.sequence, l.line_no;
INSERT INTO fin.entry_counters (tenant_id, organization_id, journal, fiscal_year_id, last)
VALUES (core.current_tenant_id(), '00000000-0000-7000-9000-000000001000', 'general',
        '00000000-0000-7000-d000-000000001000', current_setting('bench.entries')::int);
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
VACUUM ANALYZE fin.journal_entries, fin.journal_lines, fin.postings, fin.entry_counters, fin.accounts;
