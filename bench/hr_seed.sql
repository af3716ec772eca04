-- Seed for bench/hr: tenant "bench-hr" with one owner and one organization,
-- bench.employees employees (default 10,000) and 5 leave types (carry-forward
-- capped at 5 days, usable 3 months), with three years of leave ledger each
-- (2024, 2025, 2026) and an allocation for 2027, which the leave requests of
-- the benchmark use.  Deterministic ids, so keel (through wrk) and pgbench
-- work on the same rows:
--   tenant:        00000000-0000-7000-8000-000000000901
--   owner:         00000000-0000-7000-a000-000000000901
--   organization:  00000000-0000-7000-9000-000000000901
--   employee k:    00000000-0000-7000-e000-kkkkkkkkkkkk (k = 1..employees)
--   leave type j:  00000000-0000-7000-f000-00000000000j (j = 1..5, code LTj)
--
-- Per employee, type and year: an allocation of 25 days (the year), two
-- approved requests of three days (Monday to Wednesday of ISO weeks 2 + 9j
-- and 6 + 9j: no two types share a day), their approvals, held half days and
-- taken rows; the carry-forward of 2024 and 2025 and the expiry of the
-- carried days, as hr.leave_settle writes them (checked on a sample).  So 26
-- ledger rows per employee and type (4 allocations, 18 taken, 2 carry-forward, 2 expiry:
-- 1,300,000 for 10,000 employees), 36 held half days a year.
--
-- The rows are written directly as the requests' triggers leave them, for
-- speed (300,000 requests through the triggers take many minutes): as
-- keel_owner, in one transaction, the user triggers of the three tables are
-- disabled (the rules and the audit log), the rows written, then the
-- triggers enabled again before COMMIT.  Checks, keys and foreign keys stay
-- on throughout; the one thing missing is the audit log of these rows.
SET client_min_messages = warning;
BEGIN;
SELECT set_config('app.tenant_id', '00000000-0000-7000-8000-000000000901', true);
SELECT core.create_tenant('00000000-0000-7000-8000-000000000901', 'Bench HR', 'bench-hr');
INSERT INTO auth.users (tenant_id, id, email, password_hash, role)
VALUES ('00000000-0000-7000-8000-000000000901', '00000000-0000-7000-a000-000000000901',
        'owner@bench-hr.test', current_setting('bench.hash'), 'owner');
SELECT set_config('app.user_id', '00000000-0000-7000-a000-000000000901', true);
INSERT INTO org.organizations (tenant_id, id, name, code)
VALUES ('00000000-0000-7000-8000-000000000901', '00000000-0000-7000-9000-000000000901', 'People', 'PEOPLE');
INSERT INTO hr.leave_types (tenant_id, id, organization_id, code, name, carry_forward_max,
                            carry_forward_expires_after)
SELECT core.current_tenant_id(), ('00000000-0000-7000-f000-' || lpad(j::text, 12, '0'))::uuid,
       '00000000-0000-7000-9000-000000000901', 'LT' || j, 'Leave type ' || j, 5, 3
FROM generate_series(1, 5) j;
-- through the insert trigger: the numbers E000001.. in order
INSERT INTO hr.employees (tenant_id, id, organization_id, first_name, last_name, hire_date)
SELECT core.current_tenant_id(), ('00000000-0000-7000-e000-' || lpad(k::text, 12, '0'))::uuid,
       '00000000-0000-7000-9000-000000000901', 'First' || k, 'Last' || k, '2020-01-01'
FROM generate_series(1, current_setting('bench.employees')::int) k;

-- statistics before the rows that refer to these: the foreign keys' checks are planned once
-- per session, and planned on an empty-looking table they scan it for every row
ANALYZE hr.employees, hr.leave_types;
ALTER TABLE hr.leave_entries DISABLE TRIGGER USER;
ALTER TABLE hr.leave_requests DISABLE TRIGGER USER;
ALTER TABLE hr.leave_approvals DISABLE TRIGGER USER;

INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id, kind, days,
                              date, valid_from, valid_to, reason, created_by)
SELECT core.current_tenant_id(), md5('a' || e.id || t.id || y)::uuid, e.organization_id, e.id, t.id,
       'allocation', CASE y WHEN 2027 THEN 40 ELSE 25 END, make_date(y, 1, 1), make_date(y, 1, 1),
       make_date(y, 12, 31), 'year ' || y, core.current_user_id()
FROM hr.employees e CROSS JOIN hr.leave_types t CROSS JOIN generate_series(2024, 2027) y;

CREATE TEMP TABLE bench_requests ON COMMIT DROP AS
SELECT md5('r' || e.id || t.id || y || r)::uuid AS id, e.organization_id, e.id AS employee_id,
       t.id AS leave_type_id,
       to_date(y || '-' || lpad((2 + 9 * substr(t.code, 3)::int + 4 * (r - 1))::text, 2, '0'), 'IYYY-IW') AS start_date
FROM hr.employees e CROSS JOIN hr.leave_types t CROSS JOIN generate_series(2024, 2026) y
CROSS JOIN generate_series(1, 2) r;

INSERT INTO hr.leave_requests (tenant_id, id, organization_id, employee_id, leave_type_id, start_date,
                               end_date, days, status, approval_levels, decided_by, decided_at,
                               created_by, version)
SELECT core.current_tenant_id(), b.id, b.organization_id, b.employee_id, b.leave_type_id, b.start_date,
       b.start_date + 2, 3, 'approved', 1, core.current_user_id(), now(), core.current_user_id(), 2
FROM bench_requests b;
ANALYZE hr.leave_requests;
INSERT INTO hr.leave_approvals (tenant_id, id, organization_id, request_id, level, approved_by)
SELECT core.current_tenant_id(), md5('p' || b.id)::uuid, b.organization_id, b.id, 1, core.current_user_id()
FROM bench_requests b;
INSERT INTO hr.leave_days (tenant_id, organization_id, employee_id, leave_type_id, request_id, date, half, days)
SELECT core.current_tenant_id(), b.organization_id, b.employee_id, b.leave_type_id, b.id, b.start_date + i,
       h.half, 0.5
FROM bench_requests b CROSS JOIN generate_series(0, 2) i CROSS JOIN (VALUES ('am'), ('pm')) h (half);
INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id, kind, days,
                              date, request_id, reason, created_by)
SELECT core.current_tenant_id(), md5('t' || b.id || i)::uuid, b.organization_id, b.employee_id,
       b.leave_type_id, 'taken', -1, b.start_date + i, b.id, 'approved', core.current_user_id()
FROM bench_requests b CROSS JOIN generate_series(0, 2) i;

-- carry-forward of 2024 and 2025 (25 allocated, 6 taken: 5, the cap), usable to the end of
-- March, and its expiry: what was not held then (hr.leave_settle's rule, hr.leave_held's sum,
-- in bulk)
INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id, kind, days,
                              date, valid_from, valid_to, reason, created_by)
SELECT core.current_tenant_id(), md5('c' || e.id || t.id || y)::uuid, e.organization_id, e.id, t.id,
       'carry_forward', 5, make_date(y, 1, 1), make_date(y, 1, 1), make_date(y, 3, 31),
       'unused days of ' || (y - 1), core.current_user_id()
FROM hr.employees e CROSS JOIN hr.leave_types t CROSS JOIN generate_series(2025, 2026) y;
INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id, kind, days,
                              date, source_id, reason, created_by)
SELECT c.tenant_id, md5('x' || c.id)::uuid, c.organization_id, c.employee_id, c.leave_type_id, 'expiry',
       -greatest(0, c.days - coalesce((SELECT sum(d.days) FROM hr.leave_days d
                                       WHERE d.tenant_id = c.tenant_id AND d.employee_id = c.employee_id
                                         AND d.leave_type_id = c.leave_type_id
                                         AND d.date BETWEEN c.valid_from AND c.valid_to), 0)),
       c.valid_to + 1, c.id, 'carried days not taken by ' || c.valid_to, core.current_user_id()
FROM hr.leave_entries c WHERE c.kind = 'carry_forward';
-- which is what keel would have written: nothing is due for a sample
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM (SELECT e.id FROM hr.employees e ORDER BY e.id LIMIT 50) e,
	           LATERAL hr.leave_settle(e.id) s) THEN
		RAISE EXCEPTION 'bench/hr_seed.sql: the seeded carry-forward is not what hr.leave_settle writes';
	END IF;
END
$$;

ALTER TABLE hr.leave_entries ENABLE TRIGGER USER;
ALTER TABLE hr.leave_requests ENABLE TRIGGER USER;
ALTER TABLE hr.leave_approvals ENABLE TRIGGER USER;
-- a counter for pgbench's leave requests (bench/hr_request.pgbench): each takes the next slot
CREATE SEQUENCE hr.bench_request_slot;
GRANT USAGE ON SEQUENCE hr.bench_request_slot TO keel_app;
COMMIT;
VACUUM ANALYZE hr.employees, hr.leave_types, hr.leave_entries, hr.leave_requests, hr.leave_days,
	hr.leave_approvals;
