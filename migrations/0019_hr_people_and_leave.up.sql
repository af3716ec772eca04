-- 0019 hr: employees, positions and assignments, holiday calendars, leave.
--
-- The database keeps the rules an HR officer relies on, for every writer
-- (keel's handlers or raw SQL as keel_app); src/hr/README.md lists each rule
-- and where it lives, and the hr tests issue the SQL that would break it.
--
--   holiday_calendars  work days (ISO, 1 = Monday) and holidays (whole or half)
--   employees          gapless E000001 per organization (employee_counters,
--                      taken by the insert trigger), one per user and
--                      organization, managers without cycles (checked under
--                      a per-organization lock)
--   positions          in a division, with a headcount
--   assignments        effective-dated (daterange, exclusion per employee); a
--                      position never holds more than its headcount on a day
--                      (checked under the position's row lock)
--   leave_types        approval levels, negative balances, carry-forward
--   leave_entries      the leave ledger, append-only: allocations (and signed
--                      corrections), carry-forward, expiry and taken days are
--                      rows; a balance is their sum
--   leave_requests     submitted -> partially_approved -> approved, rejected,
--   leave_approvals    withdrawn, cancelled; transitions, levels and approvers
--                      checked by triggers
--   leave_days         the half days a request holds (unique per employee and
--                      half day: no two held requests share one)
--
-- Day amounts are numeric with at most two decimals (hr.days); half days are
-- 0.5.  The module's own errors are SQLSTATE KH403/KH404/KH409/KH422 with a
-- sentence for the client and, for 422, the body field in COLUMN.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE SCHEMA hr;
REVOKE ALL ON SCHEMA hr FROM PUBLIC;
GRANT USAGE ON SCHEMA hr TO keel_app;

-- Leave in days: at most two decimals, below ten thousand either way.
CREATE DOMAIN hr.days AS numeric
	CHECK (VALUE = round(VALUE, 2) AND VALUE > -10000 AND VALUE < 10000);

-- ISO week days, 1 (Monday) .. 7, each at most once, at least one.
CREATE FUNCTION hr.workdays_valid(d smallint[]) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT array_ndims(d) = 1 AND cardinality(d) BETWEEN 1 AND 7
	       AND d <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]
	       AND (SELECT count(DISTINCT x) FROM unnest(d) x) = cardinality(d)
$$;

-- A time-zone name PostgreSQL knows ("Europe/Berlin", "UTC").  Immutable as
-- far as a CHECK is concerned: names are not withdrawn from the tz database.
CREATE FUNCTION hr.timezone_valid(tz text) RETURNS boolean
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF tz IS NULL OR char_length(tz) > 64
	   OR tz !~ '^[A-Za-z][A-Za-z_]*(/[A-Za-z0-9_+-]+){0,2}$' THEN
		RETURN false;
	END IF;
	PERFORM timestamptz '2000-01-01 00:00:00+00' AT TIME ZONE tz;
	RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END
$$;
GRANT EXECUTE ON FUNCTION hr.workdays_valid(smallint[]), hr.timezone_valid(text) TO keel_app;

-- ------------------------------------------------------- holiday calendars

CREATE TABLE hr.holiday_calendars (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	workdays smallint[] NOT NULL CHECK (hr.workdays_valid(workdays)),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT holiday_calendars_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT holiday_calendars_name_key UNIQUE (tenant_id, organization_id, name),
	-- an organization with HR data is not deleted (org answers 409)
	CONSTRAINT holiday_calendars_organization_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES org.organizations (tenant_id, id)
);
SELECT core.enable_tenant_rls('hr.holiday_calendars');
SELECT audit.enable('hr.holiday_calendars');
GRANT SELECT, INSERT, DELETE ON hr.holiday_calendars TO keel_app;
GRANT UPDATE (name, workdays, version, updated_at) ON hr.holiday_calendars TO keel_app;

CREATE TABLE hr.holidays (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	calendar_id uuid NOT NULL,
	date date NOT NULL,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	-- the half that is off; NULL: the whole day
	half_day text CHECK (half_day IN ('am', 'pm')),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT holidays_date_key UNIQUE (tenant_id, calendar_id, date),
	CONSTRAINT holidays_calendar_fkey FOREIGN KEY (tenant_id, organization_id, calendar_id)
		REFERENCES hr.holiday_calendars (tenant_id, organization_id, id) ON DELETE CASCADE
);
SELECT core.enable_tenant_rls('hr.holidays');
SELECT audit.enable('hr.holidays');
GRANT SELECT, INSERT, DELETE ON hr.holidays TO keel_app;
GRANT UPDATE (name, half_day, version, updated_at) ON hr.holidays TO keel_app;

-- -------------------------------------------------------------- employees

-- The last employee number per organization; written only by the insert
-- trigger (keel_app has no grant), so a rolled-back insert consumes none.
CREATE TABLE hr.employee_counters (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	organization_id uuid NOT NULL,
	last_number bigint NOT NULL CHECK (last_number > 0),
	PRIMARY KEY (tenant_id, organization_id),
	FOREIGN KEY (tenant_id, organization_id) REFERENCES org.organizations (tenant_id, id)
		ON DELETE CASCADE
);
SELECT core.enable_tenant_rls('hr.employee_counters');

CREATE TABLE hr.employees (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	-- set by employees_number, never by keel_app
	sequence bigint NOT NULL CHECK (sequence > 0),
	employee_number text NOT NULL,
	first_name text NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 100),
	last_name text NOT NULL CHECK (char_length(last_name) BETWEEN 1 AND 100),
	email text CHECK (char_length(email) BETWEEN 3 AND 254 AND strpos(email, '@') > 1),
	user_id uuid,
	hire_date date NOT NULL,
	termination_date date,
	manager_id uuid,
	calendar_id uuid,
	timezone text NOT NULL DEFAULT 'UTC' CHECK (hr.timezone_valid(timezone)),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT employees_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT employees_number_key UNIQUE (tenant_id, organization_id, sequence),
	-- six digits at least, more when needed (lpad alone would cut E1000000 to E100000)
	CONSTRAINT employees_number_form CHECK (
		employee_number = 'E' || lpad(sequence::text, greatest(6, length(sequence::text)), '0')),
	-- one employee per user and organization
	CONSTRAINT employees_user_key UNIQUE (tenant_id, organization_id, user_id),
	CONSTRAINT employees_dates CHECK (termination_date >= hire_date),
	CONSTRAINT employees_not_own_manager CHECK (manager_id <> id),
	CONSTRAINT employees_organization_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES org.organizations (tenant_id, id),
	-- a deleted user leaves the employee, unlinked
	CONSTRAINT employees_user_fkey FOREIGN KEY (tenant_id, user_id)
		REFERENCES auth.users (tenant_id, id) ON DELETE SET NULL (user_id),
	-- a manager with reports is not deleted
	CONSTRAINT employees_manager_fkey FOREIGN KEY (tenant_id, organization_id, manager_id)
		REFERENCES hr.employees (tenant_id, organization_id, id),
	CONSTRAINT employees_calendar_fkey FOREIGN KEY (tenant_id, organization_id, calendar_id)
		REFERENCES hr.holiday_calendars (tenant_id, organization_id, id)
);
CREATE INDEX employees_manager_idx ON hr.employees (tenant_id, manager_id) WHERE manager_id IS NOT NULL;
CREATE INDEX employees_user_idx ON hr.employees (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX employees_calendar_idx ON hr.employees (tenant_id, calendar_id) WHERE calendar_id IS NOT NULL;
SELECT core.enable_tenant_rls('hr.employees');
SELECT audit.enable('hr.employees');
GRANT SELECT, DELETE ON hr.employees TO keel_app;
GRANT INSERT (tenant_id, id, organization_id, first_name, last_name, email, user_id, hire_date,
              termination_date, manager_id, calendar_id, timezone) ON hr.employees TO keel_app;
GRANT UPDATE (first_name, last_name, email, user_id, hire_date, termination_date, manager_id,
              calendar_id, timezone, version, updated_at) ON hr.employees TO keel_app;

-- The next number of the organization, in the inserting transaction: the
-- counter row stays locked until it ends, so numbers are gapless and in
-- commit order per organization.
CREATE FUNCTION hr.employees_number() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO hr.employee_counters AS c (tenant_id, organization_id, last_number)
	VALUES (NEW.tenant_id, NEW.organization_id, 1)
	ON CONFLICT (tenant_id, organization_id) DO UPDATE SET last_number = c.last_number + 1
	RETURNING c.last_number INTO NEW.sequence;
	NEW.employee_number := 'E' || lpad(NEW.sequence::text, greatest(6, length(NEW.sequence::text)), '0');
	RETURN NEW;
END
$$;
CREATE TRIGGER employees_number BEFORE INSERT ON hr.employees
	FOR EACH ROW EXECUTE FUNCTION hr.employees_number();

-- A manager change must not make a cycle.  Changes of one organization's
-- managers are serialized by a transaction-scoped advisory lock, so two
-- concurrent changes (A under B, B under A) cannot both pass the walk; each
-- statement of the walk sees what committed before the lock was granted.
CREATE FUNCTION hr.employees_manager_cycle() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('hr.managers ' || NEW.tenant_id::text
	                                               || NEW.organization_id::text, 0));
	IF EXISTS (
		WITH RECURSIVE up (id, manager_id) AS (
			SELECT e.id, e.manager_id FROM hr.employees e
			WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.manager_id
			UNION
			SELECT e.id, e.manager_id FROM hr.employees e JOIN up ON e.id = up.manager_id
			WHERE e.tenant_id = NEW.tenant_id
		)
		SELECT 1 FROM up WHERE up.id = NEW.id
	) THEN
		RAISE EXCEPTION 'the employee would be its own manager''s manager: a cycle'
			USING ERRCODE = 'KH422', CONSTRAINT = 'employees_no_cycle', COLUMN = 'manager_id';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER employees_manager_cycle BEFORE UPDATE OF manager_id ON hr.employees
	FOR EACH ROW WHEN (NEW.manager_id IS NOT NULL AND NEW.manager_id IS DISTINCT FROM OLD.manager_id)
	EXECUTE FUNCTION hr.employees_manager_cycle();

-- The employment dates of an employee change only around what it holds: no
-- assignment and no held leave request outside them (those triggers read the
-- employee FOR SHARE, so the check and their inserts do not cross).
CREATE FUNCTION hr.employees_employment() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM hr.assignments a
	           WHERE a.tenant_id = NEW.tenant_id AND a.employee_id = NEW.id
	             AND (a.start_date < NEW.hire_date
	                  OR coalesce(a.end_date, 'infinity') > coalesce(NEW.termination_date, 'infinity'))) THEN
		RAISE EXCEPTION 'the employee has assignments outside these dates: end or change them first'
			USING ERRCODE = 'KH409', CONSTRAINT = 'employees_employment';
	END IF;
	IF EXISTS (SELECT 1 FROM hr.leave_requests r
	           WHERE r.tenant_id = NEW.tenant_id AND r.employee_id = NEW.id
	             AND r.status IN ('submitted', 'partially_approved', 'approved')
	             AND (r.start_date < NEW.hire_date OR r.end_date > NEW.termination_date)) THEN
		RAISE EXCEPTION 'the employee has leave requested outside these dates: withdraw, reject or cancel it first'
			USING ERRCODE = 'KH409', CONSTRAINT = 'employees_employment';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER employees_employment BEFORE UPDATE OF hire_date, termination_date ON hr.employees
	FOR EACH ROW WHEN (NEW.hire_date IS DISTINCT FROM OLD.hire_date
	                   OR NEW.termination_date IS DISTINCT FROM OLD.termination_date)
	EXECUTE FUNCTION hr.employees_employment();

-- What the caller may see of an employee: 'admin' (admins and owners),
-- 'self' (the user linked to it), 'manager' (the user linked to its
-- manager), 'none' (an employee of the tenant it may not see), NULL (no such
-- employee in the tenant).
-- (plpgsql, as the functions below that keel calls for every request: its plan is kept by
-- the session, where a SQL function's is made again at every call.)
CREATE FUNCTION hr.employee_access(p_employee uuid) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN (SELECT CASE WHEN auth.role_rank(u.role) >= 3 THEN 'admin'
	                    WHEN e.user_id = core.current_user_id() THEN 'self'
	                    WHEN m.user_id = core.current_user_id() THEN 'manager'
	                    ELSE 'none' END
	        FROM hr.employees e
	        LEFT JOIN hr.employees m ON m.tenant_id = e.tenant_id AND m.id = e.manager_id
	        LEFT JOIN auth.users u ON u.tenant_id = e.tenant_id AND u.id = core.current_user_id()
	                              AND u.status = 'active'
	        WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_employee);
END
$$;
GRANT EXECUTE ON FUNCTION hr.employee_access(uuid) TO keel_app;

-- An employee's local date today (its time zone decides when a day starts).
CREATE FUNCTION hr.employee_today(p_timezone text) RETURNS date
	LANGUAGE sql STABLE
	AS $$ SELECT (now() AT TIME ZONE p_timezone)::date $$;
GRANT EXECUTE ON FUNCTION hr.employee_today(text) TO keel_app;

-- -------------------------------------------------- positions, assignments

CREATE TABLE hr.positions (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	division_id uuid NOT NULL,
	title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
	headcount integer NOT NULL CHECK (headcount BETWEEN 0 AND 100000),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT positions_organization_id_key UNIQUE (tenant_id, organization_id, id),
	-- a division with positions is not deleted
	CONSTRAINT positions_division_fkey FOREIGN KEY (tenant_id, organization_id, division_id)
		REFERENCES org.divisions (tenant_id, organization_id, id)
);
CREATE INDEX positions_division_idx ON hr.positions (tenant_id, division_id, id);
SELECT core.enable_tenant_rls('hr.positions');
SELECT audit.enable('hr.positions');
GRANT SELECT, INSERT, DELETE ON hr.positions TO keel_app;
GRANT UPDATE (title, headcount, version, updated_at) ON hr.positions TO keel_app;

CREATE TABLE hr.assignments (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	employee_id uuid NOT NULL,
	position_id uuid NOT NULL,
	start_date date NOT NULL,
	-- NULL: open-ended
	end_date date,
	during daterange GENERATED ALWAYS AS (daterange(start_date, end_date, '[]')) STORED,
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT assignments_dates CHECK (end_date >= start_date),
	CONSTRAINT assignments_employee_fkey FOREIGN KEY (tenant_id, organization_id, employee_id)
		REFERENCES hr.employees (tenant_id, organization_id, id),
	CONSTRAINT assignments_position_fkey FOREIGN KEY (tenant_id, organization_id, position_id)
		REFERENCES hr.positions (tenant_id, organization_id, id),
	-- an employee holds one position at a time
	CONSTRAINT assignments_no_overlap EXCLUDE USING gist (
		tenant_id WITH =, employee_id WITH =, during WITH &&)
);
CREATE INDEX assignments_position_idx ON hr.assignments USING gist (tenant_id, position_id, during);
SELECT core.enable_tenant_rls('hr.assignments');
SELECT audit.enable('hr.assignments');
GRANT SELECT, INSERT, DELETE ON hr.assignments TO keel_app;
GRANT UPDATE (start_date, end_date, version, updated_at) ON hr.assignments TO keel_app;

-- An assignment lies within the employment (hire .. termination).
CREATE FUNCTION hr.assignments_employment() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_hire date;
	v_end date;
BEGIN
	-- FOR SHARE: a change of the employment dates (employees_employment) waits, or is waited for
	SELECT e.hire_date, e.termination_date INTO v_hire, v_end FROM hr.employees e
	WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.employee_id FOR SHARE;
	IF NEW.start_date < v_hire THEN
		RAISE EXCEPTION 'the assignment starts before the employee''s hire date %', v_hire
			USING ERRCODE = 'KH422', CONSTRAINT = 'assignments_employment', COLUMN = 'start_date';
	END IF;
	IF v_end IS NOT NULL AND coalesce(NEW.end_date, 'infinity') > v_end THEN
		RAISE EXCEPTION 'the assignment ends after the employee''s termination date %', v_end
			USING ERRCODE = 'KH422', CONSTRAINT = 'assignments_employment', COLUMN = 'end_date';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER assignments_employment BEFORE INSERT OR UPDATE ON hr.assignments
	FOR EACH ROW EXECUTE FUNCTION hr.assignments_employment();

-- The most employees holding the position on one day of range (from
-- p_from on): the busiest day is the first day of one of the assignments
-- overlapping it (or the range's own first day).  Assignments starting on
-- the same day give that day once (DISTINCT), or its holders would be
-- counted once per assignment starting then.
CREATE FUNCTION hr.position_peak(p_tenant uuid, p_position uuid, p_range daterange,
                                 OUT peak integer, OUT day date)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT count(b.id)::integer, s.d
	FROM (SELECT DISTINCT greatest(lower(a.during), lower(p_range)) AS d
	      FROM hr.assignments a
	      WHERE a.tenant_id = p_tenant AND a.position_id = p_position AND a.during && p_range) s
	JOIN hr.assignments b ON b.tenant_id = p_tenant AND b.position_id = p_position
	                      AND b.during @> s.d
	GROUP BY s.d ORDER BY 1 DESC, 2 LIMIT 1
$$;

-- A position never holds more employees than its headcount on a day.
-- Assignments of one position are checked one at a time (the position's row,
-- locked), each seeing the others committed before it: two concurrent
-- assignments into the last seat cannot both pass.
CREATE FUNCTION hr.assignments_headcount() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_headcount integer;
	v_peak integer;
	v_day date;
BEGIN
	SELECT p.headcount INTO v_headcount FROM hr.positions p
	WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.position_id FOR NO KEY UPDATE;
	SELECT k.peak, k.day INTO v_peak, v_day
	FROM hr.position_peak(NEW.tenant_id, NEW.position_id, NEW.during) k;
	IF v_peak > v_headcount THEN
		RAISE EXCEPTION 'the position is full on %: its headcount is %', v_day, v_headcount
			USING ERRCODE = 'KH409', CONSTRAINT = 'assignments_headcount';
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER assignments_headcount AFTER INSERT OR UPDATE ON hr.assignments
	FOR EACH ROW EXECUTE FUNCTION hr.assignments_headcount();

-- A lower headcount is refused while more employees hold the position on a
-- day from today on (past days are history: the headcount is not dated).
CREATE FUNCTION hr.positions_headcount() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_peak integer;
	v_day date;
BEGIN
	SELECT k.peak, k.day INTO v_peak, v_day
	FROM hr.position_peak(NEW.tenant_id, NEW.id, daterange(current_date, NULL, '[]')) k;
	IF v_peak > NEW.headcount THEN
		RAISE EXCEPTION 'the position holds % employees on %: more than a headcount of %',
			v_peak, v_day, NEW.headcount
			USING ERRCODE = 'KH409', CONSTRAINT = 'positions_headcount';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER positions_headcount BEFORE UPDATE OF headcount ON hr.positions
	FOR EACH ROW WHEN (NEW.headcount < OLD.headcount)
	EXECUTE FUNCTION hr.positions_headcount();

-- ------------------------------------------------------------ leave types

CREATE TABLE hr.leave_types (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	code text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	allow_negative boolean NOT NULL DEFAULT false,
	approval_levels smallint NOT NULL DEFAULT 1 CHECK (approval_levels IN (1, 2)),
	-- NULL (or 0): nothing is carried into the next leave period
	carry_forward_max hr.days CHECK (carry_forward_max >= 0),
	-- months the carried days stay usable; NULL: until the end of the period they go into
	carry_forward_expires_after smallint CHECK (carry_forward_expires_after BETWEEN 1 AND 120),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT leave_types_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT leave_types_code_key UNIQUE (tenant_id, organization_id, code),
	CONSTRAINT leave_types_organization_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES org.organizations (tenant_id, id)
);
SELECT core.enable_tenant_rls('hr.leave_types');
SELECT audit.enable('hr.leave_types');
GRANT SELECT, INSERT, DELETE ON hr.leave_types TO keel_app;
GRANT UPDATE (name, allow_negative, approval_levels, carry_forward_max,
              carry_forward_expires_after, version, updated_at) ON hr.leave_types TO keel_app;

-- --------------------------------------------------------- leave requests

CREATE TABLE hr.leave_requests (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	employee_id uuid NOT NULL,
	leave_type_id uuid NOT NULL,
	start_date date NOT NULL,
	end_date date NOT NULL,
	-- 'pm': the first day's afternoon only; 'am': the last day's morning only
	start_half text CHECK (start_half = 'pm'),
	end_half text CHECK (end_half = 'am'),
	-- set by leave_requests_insert from the employee's calendar
	days hr.days NOT NULL DEFAULT 0 CHECK (days >= 0),
	reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 1000),
	status text NOT NULL DEFAULT 'submitted' CHECK (status IN (
		'submitted', 'partially_approved', 'approved', 'rejected', 'withdrawn', 'cancelled')),
	-- the leave type's, when submitted
	approval_levels smallint NOT NULL DEFAULT 1 CHECK (approval_levels IN (1, 2)),
	decision_reason text CHECK (char_length(decision_reason) BETWEEN 1 AND 1000),
	decided_by uuid,
	decided_at timestamptz,
	created_by uuid,
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT leave_requests_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT leave_requests_dates CHECK (end_date >= start_date AND end_date - start_date < 366),
	CONSTRAINT leave_requests_halves CHECK (
		NOT (start_date = end_date AND start_half IS NOT NULL AND end_half IS NOT NULL)),
	CONSTRAINT leave_requests_employee_fkey FOREIGN KEY (tenant_id, organization_id, employee_id)
		REFERENCES hr.employees (tenant_id, organization_id, id),
	CONSTRAINT leave_requests_leave_type_fkey FOREIGN KEY (tenant_id, organization_id, leave_type_id)
		REFERENCES hr.leave_types (tenant_id, organization_id, id)
);
CREATE INDEX leave_requests_employee_idx ON hr.leave_requests (tenant_id, employee_id, start_date, id);
SELECT core.enable_tenant_rls('hr.leave_requests');
SELECT audit.enable('hr.leave_requests');
GRANT SELECT ON hr.leave_requests TO keel_app;
GRANT INSERT (tenant_id, id, organization_id, employee_id, leave_type_id, start_date, end_date,
              start_half, end_half, reason) ON hr.leave_requests TO keel_app;
GRANT UPDATE (status, decision_reason, version, updated_at) ON hr.leave_requests TO keel_app;

CREATE TABLE hr.leave_approvals (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	request_id uuid NOT NULL,
	level smallint NOT NULL CHECK (level IN (1, 2)),
	-- set by leave_approvals_insert: the calling user, now
	approved_by uuid NOT NULL,
	approved_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT leave_approvals_level_key UNIQUE (tenant_id, request_id, level),
	CONSTRAINT leave_approvals_request_fkey FOREIGN KEY (tenant_id, organization_id, request_id)
		REFERENCES hr.leave_requests (tenant_id, organization_id, id)
);
SELECT core.enable_tenant_rls('hr.leave_approvals');
SELECT audit.enable('hr.leave_approvals');
GRANT SELECT ON hr.leave_approvals TO keel_app;
GRANT INSERT (tenant_id, id, organization_id, request_id, level) ON hr.leave_approvals TO keel_app;

-- The half days a request holds while submitted, partially approved or
-- approved (days: what the half costs, 0 on a day off): written and deleted
-- by the requests' triggers only.  No two requests of an employee hold the
-- same half day.  Derived from the (audited) request, so not audited itself.
CREATE TABLE hr.leave_days (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	organization_id uuid NOT NULL,
	employee_id uuid NOT NULL,
	leave_type_id uuid NOT NULL,
	request_id uuid NOT NULL,
	date date NOT NULL,
	half text NOT NULL CHECK (half IN ('am', 'pm')),
	days numeric(2, 1) NOT NULL CHECK (days IN (0, 0.5)),
	PRIMARY KEY (tenant_id, request_id, date, half),
	CONSTRAINT leave_days_no_overlap UNIQUE (tenant_id, employee_id, date, half),
	CONSTRAINT leave_days_request_fkey FOREIGN KEY (tenant_id, organization_id, request_id)
		REFERENCES hr.leave_requests (tenant_id, organization_id, id)
);
CREATE INDEX leave_days_type_idx ON hr.leave_days (tenant_id, employee_id, leave_type_id, date);
SELECT core.enable_tenant_rls('hr.leave_days');
GRANT SELECT ON hr.leave_days TO keel_app;

-- ---------------------------------------------------------- leave ledger

-- Every change of a balance is a row, never an update: days are signed as
-- they change what is available (an allocation +, a correction -, days taken
-- -, days given back by a cancellation +, carried +, expired -).
--   allocation     valid_from..valid_to (date = valid_from); allocations of
--                  an employee and type have the same window or none in
--                  common: a window is a leave period
--   carry_forward  the unused days of a period (at most the type's cap), on
--                  the day after it (date = valid_from); valid_to: when they
--                  expire (NULL: with the period they fall in)
--   expiry         the carried days left unused when they expire (source_id:
--                  the carry_forward row; date: the day after)
--   taken          per day of leave (date), at approval (-) and cancellation (+)
CREATE TABLE hr.leave_entries (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	employee_id uuid NOT NULL,
	leave_type_id uuid NOT NULL,
	kind text NOT NULL CHECK (kind IN ('allocation', 'carry_forward', 'expiry', 'taken')),
	days hr.days NOT NULL,
	date date NOT NULL,
	valid_from date,
	valid_to date,
	source_id uuid,
	request_id uuid,
	reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
	created_by uuid,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT leave_entries_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT leave_entries_shape CHECK (CASE kind
		WHEN 'allocation' THEN valid_from = date AND valid_to >= valid_from
		                       AND valid_to - valid_from < 1096 AND days <> 0
		                       AND char_length(reason) >= 1 AND source_id IS NULL AND request_id IS NULL
		WHEN 'carry_forward' THEN valid_from = date AND (valid_to IS NULL OR valid_to >= valid_from)
		                          AND days >= 0 AND source_id IS NULL AND request_id IS NULL
		WHEN 'expiry' THEN days <= 0 AND valid_from IS NULL AND valid_to IS NULL
		                   AND source_id IS NOT NULL AND request_id IS NULL
		ELSE days <> 0 AND valid_from IS NULL AND valid_to IS NULL AND source_id IS NULL
		     AND request_id IS NOT NULL END),
	CONSTRAINT leave_entries_employee_fkey FOREIGN KEY (tenant_id, organization_id, employee_id)
		REFERENCES hr.employees (tenant_id, organization_id, id),
	CONSTRAINT leave_entries_leave_type_fkey FOREIGN KEY (tenant_id, organization_id, leave_type_id)
		REFERENCES hr.leave_types (tenant_id, organization_id, id),
	CONSTRAINT leave_entries_source_fkey FOREIGN KEY (tenant_id, organization_id, source_id)
		REFERENCES hr.leave_entries (tenant_id, organization_id, id),
	CONSTRAINT leave_entries_request_fkey FOREIGN KEY (tenant_id, organization_id, request_id)
		REFERENCES hr.leave_requests (tenant_id, organization_id, id)
);
CREATE INDEX leave_entries_employee_idx
	ON hr.leave_entries (tenant_id, employee_id, leave_type_id, date);
-- written once: one carry-forward per period end, one expiry per carry-forward
CREATE UNIQUE INDEX leave_entries_carry_once ON hr.leave_entries (tenant_id, employee_id, leave_type_id, date)
	WHERE kind = 'carry_forward';
CREATE UNIQUE INDEX leave_entries_expiry_once ON hr.leave_entries (tenant_id, source_id)
	WHERE kind = 'expiry';
SELECT core.enable_tenant_rls('hr.leave_entries');
SELECT audit.enable('hr.leave_entries');
GRANT SELECT ON hr.leave_entries TO keel_app;
GRANT INSERT (tenant_id, id, organization_id, employee_id, leave_type_id, kind, days, date,
              valid_from, valid_to, reason) ON hr.leave_entries TO keel_app;
GRANT EXECUTE ON FUNCTION audit.uuid_v7(timestamptz) TO keel_app;

-- The lock that makes one (employee, leave type)'s balance checks and
-- settlements one at a time.
CREATE FUNCTION hr.leave_lock(p_tenant uuid, p_employee uuid, p_type uuid) RETURNS void
	LANGUAGE sql
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT pg_advisory_xact_lock(hashtextextended(
	          'hr.leave ' || p_tenant::text || p_employee::text || p_type::text, 0)) $$;

-- keel_app writes allocations only (the rest is the functions', which run as
-- the owner); a window shares no day with another allocation's unless it is
-- the same.  Nobody changes or deletes a row (a tenant's deletion cascades:
-- trigger depth > 1).
CREATE FUNCTION hr.leave_entries_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_from date;
	v_to date;
BEGIN
	NEW.created_by := core.current_user_id();
	IF NEW.kind <> 'allocation' AND current_user <> (SELECT pg_get_userbyid(c.relowner)
	                                                 FROM pg_class c WHERE c.oid = TG_RELID) THEN
		RAISE EXCEPTION 'only allocations are written directly; the rest follows from them'
			USING ERRCODE = 'KH422', CONSTRAINT = 'leave_entries_kind', COLUMN = 'kind';
	END IF;
	IF NEW.kind = 'allocation' THEN
		PERFORM hr.leave_lock(NEW.tenant_id, NEW.employee_id, NEW.leave_type_id);
		SELECT a.valid_from, a.valid_to INTO v_from, v_to FROM hr.leave_entries a
		WHERE a.tenant_id = NEW.tenant_id AND a.employee_id = NEW.employee_id
		  AND a.leave_type_id = NEW.leave_type_id AND a.kind = 'allocation'
		  AND a.valid_from <= NEW.valid_to AND a.valid_to >= NEW.valid_from
		  AND (a.valid_from, a.valid_to) <> (NEW.valid_from, NEW.valid_to)
		LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'the allocation overlaps the leave period % .. % of this leave type: use its dates or none of them',
				v_from, v_to
				USING ERRCODE = 'KH409', CONSTRAINT = 'leave_entries_periods';
		END IF;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER leave_entries_insert BEFORE INSERT ON hr.leave_entries
	FOR EACH ROW EXECUTE FUNCTION hr.leave_entries_insert();

CREATE FUNCTION hr.append_only() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF pg_trigger_depth() = 1 THEN
		RAISE EXCEPTION 'the leave ledger is append-only: add a correcting row'
			USING ERRCODE = 'KH409', CONSTRAINT = TG_TABLE_NAME || '_append_only';
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER leave_entries_append_only BEFORE UPDATE OR DELETE ON hr.leave_entries
	FOR EACH ROW EXECUTE FUNCTION hr.append_only();
CREATE TRIGGER leave_approvals_append_only BEFORE UPDATE OR DELETE ON hr.leave_approvals
	FOR EACH ROW EXECUTE FUNCTION hr.append_only();

-- ---------------------------------------------------------- day counting

-- The SQL helpers below pin no search_path: a SQL function with a SET clause is never
-- inlined and is planned again at every call.  They are SECURITY INVOKER and name every
-- relation with its schema; inlined into the plpgsql functions and triggers that call them,
-- their plans are kept by the session under those functions' pinned search_path.


-- The half days from p_start (its afternoon only with p_start_half 'pm') to
-- p_end (its morning only with p_end_half 'am'), with what each costs on the
-- employee's calendar: 0.5 on a work day, 0 on a day off or the holiday's
-- half (a whole holiday: both).  Without a calendar: Monday to Friday, no
-- holidays.  Dates only: no time zone enters the count.
CREATE FUNCTION hr.leave_day_parts(p_tenant uuid, p_employee uuid, p_start date, p_start_half text,
                                   p_end date, p_end_half text)
	RETURNS TABLE (date date, half text, days numeric)
	LANGUAGE sql STABLE
	AS $$
	WITH cal AS (
		SELECT e.calendar_id, coalesce(c.workdays, ARRAY[1, 2, 3, 4, 5]::smallint[]) AS workdays
		FROM hr.employees e
		LEFT JOIN hr.holiday_calendars c ON c.tenant_id = e.tenant_id AND c.id = e.calendar_id
		WHERE e.tenant_id = p_tenant AND e.id = p_employee
	)
	SELECT d::date, h.half,
	       CASE WHEN extract(isodow FROM d)::smallint <> ALL (cal.workdays) THEN 0
	            WHEN hol.id IS NOT NULL AND (hol.half_day IS NULL OR hol.half_day = h.half) THEN 0
	            ELSE 0.5 END
	FROM cal
	CROSS JOIN generate_series(p_start::timestamp, p_end::timestamp, interval '1 day') AS d
	CROSS JOIN (VALUES ('am'), ('pm')) AS h (half)
	LEFT JOIN hr.holidays hol ON hol.tenant_id = p_tenant AND hol.calendar_id = cal.calendar_id
	                          AND hol.date = d::date
	WHERE NOT (d::date = p_start AND p_start_half IS NOT DISTINCT FROM 'pm' AND h.half = 'am')
	  AND NOT (d::date = p_end AND p_end_half IS NOT DISTINCT FROM 'am' AND h.half = 'pm')
	ORDER BY 1, 2
$$;
GRANT EXECUTE ON FUNCTION hr.leave_day_parts(uuid, uuid, date, text, date, text) TO keel_app;

-- ------------------------------------------------------- leave periods

-- An employee's leave periods of a type: the allocation windows, with the
-- days granted (corrections included) and the carry-forward that falls in
-- each: its days, when the carried days stop being usable (their own expiry
-- or the period's end, whichever is first) and the expiry written for them.
CREATE FUNCTION hr.leave_periods(p_tenant uuid, p_employee uuid, p_type uuid)
	RETURNS TABLE (valid_from date, valid_to date, granted numeric, carry_id uuid,
	               carried numeric, carry_from date, carry_until date, expired numeric)
	LANGUAGE sql STABLE
	AS $$
	SELECT w.valid_from, w.valid_to, w.granted, cf.id, coalesce(cf.days, 0), cf.date,
	       CASE WHEN cf.id IS NOT NULL THEN least(coalesce(cf.valid_to, w.valid_to), w.valid_to) END,
	       coalesce(-x.days, 0)
	FROM (SELECT a.valid_from, a.valid_to, sum(a.days) AS granted
	      FROM hr.leave_entries a
	      WHERE a.tenant_id = p_tenant AND a.employee_id = p_employee AND a.leave_type_id = p_type
	        AND a.kind = 'allocation'
	      GROUP BY a.valid_from, a.valid_to) w
	LEFT JOIN hr.leave_entries cf ON cf.tenant_id = p_tenant AND cf.employee_id = p_employee
	                              AND cf.leave_type_id = p_type AND cf.kind = 'carry_forward'
	                              AND cf.date BETWEEN w.valid_from AND w.valid_to
	LEFT JOIN hr.leave_entries x ON x.tenant_id = p_tenant AND x.kind = 'expiry' AND x.source_id = cf.id
	ORDER BY w.valid_from
$$;

-- Days taken (approved, net of cancellations) from p_from to p_to.
CREATE FUNCTION hr.leave_taken(p_tenant uuid, p_employee uuid, p_type uuid, p_from date, p_to date)
	RETURNS numeric
	LANGUAGE sql STABLE
	AS $$
	SELECT coalesce(-sum(t.days), 0) FROM hr.leave_entries t
	WHERE t.tenant_id = p_tenant AND t.employee_id = p_employee AND t.leave_type_id = p_type
	  AND t.kind = 'taken' AND t.date BETWEEN p_from AND p_to
$$;

-- Days held (submitted, partially approved or approved) from p_from to p_to.
CREATE FUNCTION hr.leave_held(p_tenant uuid, p_employee uuid, p_type uuid, p_from date, p_to date)
	RETURNS numeric
	LANGUAGE sql STABLE
	AS $$
	SELECT coalesce(sum(d.days), 0) FROM hr.leave_days d
	WHERE d.tenant_id = p_tenant AND d.employee_id = p_employee AND d.leave_type_id = p_type
	  AND d.date BETWEEN p_from AND p_to
$$;

-- Carry-forward and expiry rows that are due, written once (the unique
-- indexes leave_entries_carry_once / _expiry_once, and the lock): on the
-- employee's local today, for every period ended before it, in order:
--   the carried days of the period expire when they stop being usable: the
--   expiry is what was not taken while they were (days taken then use the
--   carried days first), never below zero;
--   then the period's unused days (granted + carried - taken - expired) are
--   carried into the next, at most the type's carry_forward_max, usable for
--   carry_forward_expires_after months.
-- Days count as used when held (submitted, partially approved or approved)
-- as the rows are written; a request made, rejected or cancelled later for a
-- day of a settled period does not rewrite them.  Returns the ids written.
CREATE FUNCTION hr.leave_settle(p_employee uuid) RETURNS SETOF uuid
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_tenant uuid := core.current_tenant_id();
	v_org uuid;
	v_today date;
	t record;
	p record;
	v_id uuid;
	v_unused numeric;
	v_carry numeric;
	v_from date;
BEGIN
	SELECT e.organization_id, hr.employee_today(e.timezone) INTO v_org, v_today
	FROM hr.employees e WHERE e.tenant_id = v_tenant AND e.id = p_employee;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	-- the types with something due: a period ended without its carry-forward (when the
	-- type carries), or carried days no longer usable without their expiry; most reads
	-- find none and take no lock
	FOR t IN SELECT lt.* FROM hr.leave_types lt
	         WHERE lt.tenant_id = v_tenant AND lt.organization_id = v_org
	           AND (EXISTS (SELECT 1 FROM hr.leave_entries a
	                        WHERE a.tenant_id = v_tenant AND a.employee_id = p_employee
	                          AND a.leave_type_id = lt.id AND a.kind = 'allocation'
	                          AND a.valid_to < v_today AND coalesce(lt.carry_forward_max, 0) > 0
	                          AND NOT EXISTS (SELECT 1 FROM hr.leave_entries c
	                                          WHERE c.tenant_id = v_tenant
	                                            AND c.employee_id = p_employee
	                                            AND c.leave_type_id = lt.id
	                                            AND c.kind = 'carry_forward'
	                                            AND c.date = a.valid_to + 1))
	                OR EXISTS (SELECT 1 FROM hr.leave_entries cf
	                           JOIN hr.leave_entries a
	                             ON a.tenant_id = v_tenant AND a.employee_id = p_employee
	                            AND a.leave_type_id = lt.id AND a.kind = 'allocation'
	                            AND cf.date BETWEEN a.valid_from AND a.valid_to
	                           WHERE cf.tenant_id = v_tenant AND cf.employee_id = p_employee
	                             AND cf.leave_type_id = lt.id AND cf.kind = 'carry_forward'
	                             AND least(coalesce(cf.valid_to, a.valid_to), a.valid_to) < v_today
	                             AND NOT EXISTS (SELECT 1 FROM hr.leave_entries x
	                                             WHERE x.tenant_id = v_tenant AND x.kind = 'expiry'
	                                               AND x.source_id = cf.id)))
	         ORDER BY lt.id LOOP
		PERFORM hr.leave_lock(v_tenant, p_employee, t.id);
		-- each period begun read again when its turn comes: the previous one's carry-forward
		-- may have just fallen into it
		FOR v_from IN SELECT w.valid_from FROM hr.leave_periods(v_tenant, p_employee, t.id) w
		              WHERE w.valid_from <= v_today LOOP
			SELECT * INTO p FROM hr.leave_periods(v_tenant, p_employee, t.id) w
			WHERE w.valid_from = v_from;
			IF p.carry_id IS NOT NULL AND p.carry_until < v_today
			   AND NOT EXISTS (SELECT 1 FROM hr.leave_entries x
			                   WHERE x.tenant_id = v_tenant AND x.kind = 'expiry'
			                     AND x.source_id = p.carry_id) THEN
				p.expired := greatest(0, p.carried - hr.leave_held(v_tenant, p_employee, t.id,
				                                                    p.carry_from, p.carry_until));
				v_id := audit.uuid_v7(clock_timestamp());
				INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id,
				                              kind, days, date, source_id, reason)
				VALUES (v_tenant, v_id, v_org, p_employee, t.id, 'expiry', -p.expired,
				        p.carry_until + 1, p.carry_id, 'carried days not taken by ' || p.carry_until);
				RETURN NEXT v_id;
			END IF;
			IF p.valid_to < v_today AND coalesce(t.carry_forward_max, 0) > 0
			   AND NOT EXISTS (SELECT 1 FROM hr.leave_entries c
			                   WHERE c.tenant_id = v_tenant AND c.employee_id = p_employee
			                     AND c.leave_type_id = t.id AND c.kind = 'carry_forward'
			                     AND c.date = p.valid_to + 1) THEN
				v_unused := p.granted + p.carried - p.expired
				            - hr.leave_held(v_tenant, p_employee, t.id, p.valid_from, p.valid_to);
				v_carry := least(greatest(v_unused, 0), t.carry_forward_max);
				v_id := audit.uuid_v7(clock_timestamp());
				INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id,
				                              kind, days, date, valid_from, valid_to, reason)
				VALUES (v_tenant, v_id, v_org, p_employee, t.id, 'carry_forward', v_carry,
				        p.valid_to + 1, p.valid_to + 1,
				        CASE WHEN t.carry_forward_expires_after IS NOT NULL
				             THEN (p.valid_to + make_interval(months => t.carry_forward_expires_after))::date END,
				        'unused days of ' || p.valid_from || ' .. ' || p.valid_to);
				RETURN NEXT v_id;
			END IF;
		END LOOP;
	END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION hr.leave_settle(uuid) TO keel_app;

-- ------------------------------------------------------ balance checks

-- Refuse (KH422, field leave_type_id) a request that does not fit the
-- employee's balance of its type, unless the type allows negative balances:
-- for each leave period the request has days in, the days held in it
-- (submitted, partially approved and approved, this request's included)
-- must not exceed the days granted plus the carried days usable: those
-- expired are gone; before their expiry, only as many as are held while they
-- last (carried days that will expire unused cannot pay for later leave).
-- A day of the request in no leave period is refused.  Run under the
-- (employee, type) lock, after the request's days are written.
CREATE FUNCTION hr.leave_check_balance(p_tenant uuid, p_employee uuid, p_type uuid, p_request uuid)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	p record;
	v_day date;
	v_held numeric;
	v_usable numeric;
	v_mine numeric;
BEGIN
	SELECT min(d.date) INTO v_day FROM hr.leave_days d
	WHERE d.tenant_id = p_tenant AND d.request_id = p_request AND d.days > 0
	  AND NOT EXISTS (SELECT 1 FROM hr.leave_entries a
	                  WHERE a.tenant_id = p_tenant AND a.employee_id = p_employee
	                    AND a.leave_type_id = p_type AND a.kind = 'allocation'
	                    AND d.date BETWEEN a.valid_from AND a.valid_to);
	IF v_day IS NOT NULL THEN
		RAISE EXCEPTION 'no allocation of this leave type covers %', v_day
			USING ERRCODE = 'KH422', CONSTRAINT = 'leave_requests_balance', COLUMN = 'leave_type_id';
	END IF;
	FOR p IN SELECT w.* FROM hr.leave_periods(p_tenant, p_employee, p_type) w
	         WHERE EXISTS (SELECT 1 FROM hr.leave_days d
	                       WHERE d.tenant_id = p_tenant AND d.request_id = p_request AND d.days > 0
	                         AND d.date BETWEEN w.valid_from AND w.valid_to) LOOP
		v_held := hr.leave_held(p_tenant, p_employee, p_type, p.valid_from, p.valid_to);
		v_usable := CASE WHEN p.carry_id IS NULL THEN 0
		                 WHEN EXISTS (SELECT 1 FROM hr.leave_entries x
		                              WHERE x.tenant_id = p_tenant AND x.kind = 'expiry'
		                                AND x.source_id = p.carry_id) THEN p.carried - p.expired
		                 ELSE least(p.carried, hr.leave_held(p_tenant, p_employee, p_type,
		                                                     p.carry_from, p.carry_until)) END;
		IF v_held > p.granted + v_usable THEN
			SELECT sum(d.days) INTO v_mine FROM hr.leave_days d
			WHERE d.tenant_id = p_tenant AND d.request_id = p_request
			  AND d.date BETWEEN p.valid_from AND p.valid_to;
			RAISE EXCEPTION 'not enough leave in the period % .. %: % days available, % requested',
				p.valid_from, p.valid_to, trim_scale(p.granted + v_usable - v_held + v_mine),
				trim_scale(v_mine)
				USING ERRCODE = 'KH422', CONSTRAINT = 'leave_requests_balance',
				      COLUMN = 'leave_type_id';
		END IF;
	END LOOP;
END
$$;

-- (plpgsql, so that its plan is kept by the session, not made per call.)
-- An employee's balances as of a day, one row per leave type of its
-- organization (by code): over the leave period containing p_as_of (without
-- one, the calendar year of p_as_of):
--   allocated        the days granted for the period (corrections included)
--   carried_forward  the days carried into it
--   expired          those of them expired by p_as_of
--   taken            approved days in the period (net of cancellations)
--   pending          submitted and partially approved days in the period
--   available        allocated + carried_forward - taken - expired - pending
CREATE FUNCTION hr.leave_balances(p_employee uuid, p_as_of date)
	RETURNS TABLE (leave_type_id uuid, code text, allocated numeric, carried_forward numeric,
	               taken numeric, pending numeric, expired numeric, available numeric)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	SELECT lt.id, lt.code, s.allocated, s.carried, s.taken, h.held - s.taken, s.expired,
	       s.allocated + s.carried - h.held - s.expired
	FROM hr.employees e
	JOIN hr.leave_types lt ON lt.tenant_id = e.tenant_id AND lt.organization_id = e.organization_id
	-- the period: the allocation window containing p_as_of, else its calendar year
	CROSS JOIN LATERAL (
		SELECT coalesce(min(a.valid_from), make_date(extract(year FROM p_as_of)::integer, 1, 1)) AS f,
		       coalesce(min(a.valid_to), make_date(extract(year FROM p_as_of)::integer, 12, 31)) AS t
		FROM hr.leave_entries a
		WHERE a.tenant_id = e.tenant_id AND a.employee_id = e.id AND a.leave_type_id = lt.id
		  AND a.kind = 'allocation' AND a.valid_from <= p_as_of AND a.valid_to >= p_as_of) w
	-- its rows, in one range of leave_entries_employee_idx; an expiry by its carry-forward
	CROSS JOIN LATERAL (
		SELECT coalesce(sum(x.days) FILTER (WHERE x.kind = 'allocation' AND x.valid_from <= p_as_of
		                                      AND x.valid_to >= p_as_of), 0) AS allocated,
		       coalesce(sum(x.days) FILTER (WHERE x.kind = 'carry_forward'), 0) AS carried,
		       coalesce(-sum(x.days) FILTER (WHERE x.kind = 'taken'), 0) AS taken,
		       coalesce(-sum(xe.days) FILTER (WHERE xe.date <= p_as_of), 0) AS expired
		FROM hr.leave_entries x
		LEFT JOIN hr.leave_entries xe ON x.kind = 'carry_forward' AND xe.tenant_id = x.tenant_id
		                              AND xe.kind = 'expiry' AND xe.source_id = x.id
		WHERE x.tenant_id = e.tenant_id AND x.employee_id = e.id AND x.leave_type_id = lt.id
		  AND x.date BETWEEN w.f AND w.t) s
	CROSS JOIN LATERAL (
		SELECT coalesce(sum(d.days), 0) AS held FROM hr.leave_days d
		WHERE d.tenant_id = e.tenant_id AND d.employee_id = e.id AND d.leave_type_id = lt.id
		  AND d.date BETWEEN w.f AND w.t) h
	WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_employee
	ORDER BY lt.code;
END
$$;
GRANT EXECUTE ON FUNCTION hr.leave_balances(uuid, date) TO keel_app;

-- ------------------------------------------------- requests and approvals

-- A request is created submitted, within the employment, by the employee's
-- own user or an admin; its days come from the calendar (none: refused) and
-- the approval levels from its type.
CREATE FUNCTION hr.leave_requests_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_hire date;
	v_end date;
BEGIN
	-- another tenant's row: row-level security refuses it (42501), nothing here answers first
	IF NEW.tenant_id IS DISTINCT FROM core.current_tenant_id() THEN
		RETURN NEW;
	END IF;
	IF hr.employee_access(NEW.employee_id) NOT IN ('admin', 'self') THEN
		RAISE EXCEPTION 'leave is requested by the employee''s own user or an admin'
			USING ERRCODE = 'KH403', CONSTRAINT = 'leave_requests_requester';
	END IF;
	-- FOR SHARE: a change of the employment dates (employees_employment) waits, or is waited for
	SELECT e.hire_date, e.termination_date INTO v_hire, v_end FROM hr.employees e
	WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.employee_id FOR SHARE;
	IF NEW.start_date < v_hire THEN
		RAISE EXCEPTION 'the leave starts before the hire date %', v_hire
			USING ERRCODE = 'KH422', CONSTRAINT = 'leave_requests_employment', COLUMN = 'start_date';
	END IF;
	IF NEW.end_date > v_end THEN
		RAISE EXCEPTION 'the leave ends after the termination date %', v_end
			USING ERRCODE = 'KH422', CONSTRAINT = 'leave_requests_employment', COLUMN = 'end_date';
	END IF;
	NEW.status := 'submitted';
	NEW.created_by := core.current_user_id();
	NEW.decision_reason := NULL;
	SELECT lt.approval_levels INTO NEW.approval_levels FROM hr.leave_types lt
	WHERE lt.tenant_id = NEW.tenant_id AND lt.id = NEW.leave_type_id;
	SELECT coalesce(sum(k.days), 0) INTO NEW.days
	FROM hr.leave_day_parts(NEW.tenant_id, NEW.employee_id, NEW.start_date, NEW.start_half,
	                        NEW.end_date, NEW.end_half) k;
	IF NEW.days = 0 THEN
		RAISE EXCEPTION 'the request covers no working day of the employee''s calendar'
			USING ERRCODE = 'KH422', CONSTRAINT = 'leave_requests_days', COLUMN = 'start_date';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER leave_requests_insert BEFORE INSERT ON hr.leave_requests
	FOR EACH ROW EXECUTE FUNCTION hr.leave_requests_insert();

-- The request's half days are written (a half day another held request of
-- the employee has: KH409 naming it), then the balance is checked, under
-- the (employee, type) lock.
CREATE FUNCTION hr.leave_requests_hold() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_date date;
	v_half text;
	v_negative boolean;
	v_written integer;
BEGIN
	PERFORM hr.leave_lock(NEW.tenant_id, NEW.employee_id, NEW.leave_type_id);
	-- a half day another request holds is left out (after waiting for its writer, if it is
	-- still in flight): fewer rows than half days covered means an overlap
	INSERT INTO hr.leave_days (tenant_id, organization_id, employee_id, leave_type_id, request_id,
	                           date, half, days)
	SELECT NEW.tenant_id, NEW.organization_id, NEW.employee_id, NEW.leave_type_id, NEW.id,
	       k.date, k.half, k.days
	FROM hr.leave_day_parts(NEW.tenant_id, NEW.employee_id, NEW.start_date, NEW.start_half,
	                        NEW.end_date, NEW.end_half) k
	ON CONFLICT ON CONSTRAINT leave_days_no_overlap DO NOTHING;
	GET DIAGNOSTICS v_written = ROW_COUNT;
	IF v_written < 2 * (NEW.end_date - NEW.start_date + 1) - (NEW.start_half IS NOT NULL)::integer
	               - (NEW.end_half IS NOT NULL)::integer THEN
		SELECT d.date, d.half INTO v_date, v_half
		FROM hr.leave_day_parts(NEW.tenant_id, NEW.employee_id, NEW.start_date, NEW.start_half,
		                        NEW.end_date, NEW.end_half) k
		JOIN hr.leave_days d ON d.tenant_id = NEW.tenant_id AND d.employee_id = NEW.employee_id
		                     AND d.date = k.date AND d.half = k.half AND d.request_id <> NEW.id
		ORDER BY d.date, d.half LIMIT 1;
		RAISE EXCEPTION 'the employee already has leave requested on % (%)', v_date, v_half
			USING ERRCODE = 'KH409', CONSTRAINT = 'leave_days_no_overlap';
	END IF;
	SELECT lt.allow_negative INTO v_negative FROM hr.leave_types lt
	WHERE lt.tenant_id = NEW.tenant_id AND lt.id = NEW.leave_type_id;
	IF NOT v_negative THEN
		PERFORM hr.leave_check_balance(NEW.tenant_id, NEW.employee_id, NEW.leave_type_id, NEW.id);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER leave_requests_hold AFTER INSERT ON hr.leave_requests
	FOR EACH ROW EXECUTE FUNCTION hr.leave_requests_hold();

-- The one who decides at the request's current level: KH403 unless the
-- caller may (level 1: the user linked to the employee's manager, or an
-- admin; level 2: an admin who did not approve level 1; never the employee's
-- own user).
CREATE FUNCTION hr.leave_check_approver(p_request hr.leave_requests, p_level integer) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_access text := hr.employee_access(p_request.employee_id);
	v_user uuid := core.current_user_id();
BEGIN
	IF v_user IS NOT NULL AND v_user = (SELECT e.user_id FROM hr.employees e
	                                    WHERE e.tenant_id = p_request.tenant_id
	                                      AND e.id = p_request.employee_id) THEN
		RAISE EXCEPTION 'nobody decides on their own leave request'
			USING ERRCODE = 'KH403', CONSTRAINT = 'leave_approvals_not_own';
	END IF;
	IF p_level = 1 AND v_access NOT IN ('admin', 'manager') THEN
		RAISE EXCEPTION 'level 1 is decided by the employee''s manager or an admin'
			USING ERRCODE = 'KH403', CONSTRAINT = 'leave_approvals_level1';
	END IF;
	IF p_level = 2 AND (v_access <> 'admin' OR EXISTS (
		SELECT 1 FROM hr.leave_approvals a
		WHERE a.tenant_id = p_request.tenant_id AND a.request_id = p_request.id AND a.level = 1
		  AND a.approved_by = v_user)) THEN
		RAISE EXCEPTION 'level 2 is decided by an admin who did not approve level 1'
			USING ERRCODE = 'KH403', CONSTRAINT = 'leave_approvals_level2';
	END IF;
END
$$;

-- An approval is the caller's, now, at the level the request is at.
CREATE FUNCTION hr.leave_approvals_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	r hr.leave_requests;
BEGIN
	SELECT * INTO r FROM hr.leave_requests q
	WHERE q.tenant_id = NEW.tenant_id AND q.id = NEW.request_id FOR UPDATE;
	IF NOT (r.status = 'submitted' AND NEW.level = 1)
	   AND NOT (r.status = 'partially_approved' AND NEW.level = 2) THEN
		RAISE EXCEPTION 'a % request cannot be approved at level %', r.status, NEW.level
			USING ERRCODE = 'KH409', CONSTRAINT = 'leave_approvals_level';
	END IF;
	PERFORM hr.leave_check_approver(r, NEW.level);
	NEW.approved_by := core.current_user_id();
	NEW.approved_at := now();
	RETURN NEW;
END
$$;
CREATE TRIGGER leave_approvals_insert BEFORE INSERT ON hr.leave_approvals
	FOR EACH ROW EXECUTE FUNCTION hr.leave_approvals_insert();

-- The state machine.  submitted -> partially_approved (two levels, level 1
-- approved) -> approved (every level approved); submitted or partially
-- approved -> rejected (with a reason, by whoever decides the current level);
-- submitted -> withdrawn (by the employee's user, before any decision);
-- approved -> cancelled (by the employee's user or an admin, before the
-- start date in the employee's time zone).  Nothing leaves rejected,
-- withdrawn or cancelled.
CREATE FUNCTION hr.leave_requests_transition() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_approved integer;
	v_access text;
BEGIN
	IF NEW.status = OLD.status THEN
		RETURN NEW;
	END IF;
	SELECT count(*) INTO v_approved FROM hr.leave_approvals a
	WHERE a.tenant_id = NEW.tenant_id AND a.request_id = NEW.id;
	IF OLD.status = 'submitted' AND NEW.status = 'partially_approved' THEN
		IF NOT (NEW.approval_levels = 2 AND v_approved = 1) THEN
			RAISE EXCEPTION 'a request becomes partially approved by the approval of level 1 of 2'
				USING ERRCODE = 'KH409', CONSTRAINT = 'leave_requests_transition';
		END IF;
	ELSIF OLD.status IN ('submitted', 'partially_approved') AND NEW.status = 'approved' THEN
		IF v_approved <> NEW.approval_levels THEN
			RAISE EXCEPTION 'a request is approved by the approvals of its % levels', NEW.approval_levels
				USING ERRCODE = 'KH409', CONSTRAINT = 'leave_requests_transition';
		END IF;
	ELSIF OLD.status IN ('submitted', 'partially_approved') AND NEW.status = 'rejected' THEN
		PERFORM hr.leave_check_approver(NEW, v_approved + 1);
		IF NEW.decision_reason IS NULL THEN
			RAISE EXCEPTION 'a rejection needs a reason'
				USING ERRCODE = 'KH422', CONSTRAINT = 'leave_requests_reject_reason', COLUMN = 'reason';
		END IF;
	ELSIF OLD.status = 'submitted' AND NEW.status = 'withdrawn' THEN
		IF core.current_user_id() IS DISTINCT FROM (SELECT e.user_id FROM hr.employees e
		                                             WHERE e.tenant_id = NEW.tenant_id
		                                               AND e.id = NEW.employee_id) THEN
			RAISE EXCEPTION 'a request is withdrawn by the employee''s own user'
				USING ERRCODE = 'KH403', CONSTRAINT = 'leave_requests_withdraw';
		END IF;
	ELSIF OLD.status = 'approved' AND NEW.status = 'cancelled' THEN
		v_access := hr.employee_access(NEW.employee_id);
		IF v_access NOT IN ('self', 'admin') THEN
			RAISE EXCEPTION 'a request is cancelled by the employee''s own user or an admin'
				USING ERRCODE = 'KH403', CONSTRAINT = 'leave_requests_cancel';
		END IF;
		IF (SELECT hr.employee_today(e.timezone) FROM hr.employees e
		    WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.employee_id) >= NEW.start_date THEN
			RAISE EXCEPTION 'an approved request is cancelled before its start date %', NEW.start_date
				USING ERRCODE = 'KH409', CONSTRAINT = 'leave_requests_cancel_started';
		END IF;
	ELSE
		RAISE EXCEPTION 'the request is %', OLD.status
			USING ERRCODE = 'KH409', CONSTRAINT = 'leave_requests_transition';
	END IF;
	IF NEW.status IN ('approved', 'rejected', 'withdrawn', 'cancelled') THEN
		NEW.decided_by := core.current_user_id();
		NEW.decided_at := now();
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER leave_requests_transition BEFORE UPDATE ON hr.leave_requests
	FOR EACH ROW EXECUTE FUNCTION hr.leave_requests_transition();

-- What a transition does to the ledger and the held days: approval takes the
-- days (a taken row per day of leave), cancellation gives them back (the
-- opposite rows); rejection, withdrawal and cancellation free the half days.
CREATE FUNCTION hr.leave_requests_book() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.status IN ('approved', 'cancelled') THEN
		INSERT INTO hr.leave_entries (tenant_id, id, organization_id, employee_id, leave_type_id,
		                              kind, days, date, request_id, reason)
		SELECT NEW.tenant_id, audit.uuid_v7(clock_timestamp()), NEW.organization_id, NEW.employee_id,
		       NEW.leave_type_id, 'taken',
		       CASE NEW.status WHEN 'approved' THEN -sum(d.days) ELSE sum(d.days) END, d.date, NEW.id,
		       CASE NEW.status WHEN 'approved' THEN 'approved' ELSE 'cancelled' END
		FROM hr.leave_days d
		WHERE d.tenant_id = NEW.tenant_id AND d.request_id = NEW.id
		GROUP BY d.date HAVING sum(d.days) > 0
		ORDER BY d.date;
	END IF;
	IF NEW.status IN ('rejected', 'withdrawn', 'cancelled') THEN
		DELETE FROM hr.leave_days d WHERE d.tenant_id = NEW.tenant_id AND d.request_id = NEW.id;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER leave_requests_book AFTER UPDATE OF status ON hr.leave_requests
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION hr.leave_requests_book();

-- Approve at the request's current level: the approval row (its trigger
-- checks who and when), then the status it leads to.
CREATE FUNCTION hr.leave_request_approve(p_request uuid) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	r hr.leave_requests;
BEGIN
	SELECT * INTO r FROM hr.leave_requests q
	WHERE q.tenant_id = core.current_tenant_id() AND q.id = p_request FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such leave request' USING ERRCODE = 'KH404';
	END IF;
	IF r.status NOT IN ('submitted', 'partially_approved') THEN
		RAISE EXCEPTION 'the request is %', r.status
			USING ERRCODE = 'KH409', CONSTRAINT = 'leave_requests_transition';
	END IF;
	INSERT INTO hr.leave_approvals (tenant_id, id, organization_id, request_id, level)
	VALUES (r.tenant_id, audit.uuid_v7(clock_timestamp()), r.organization_id, r.id,
	        CASE r.status WHEN 'submitted' THEN 1 ELSE 2 END);
	UPDATE hr.leave_requests q
	SET status = CASE WHEN r.status = 'submitted' AND r.approval_levels = 2 THEN 'partially_approved'
	                  ELSE 'approved' END,
	    version = q.version + 1, updated_at = now()
	WHERE q.tenant_id = r.tenant_id AND q.id = r.id;
END
$$;
GRANT EXECUTE ON FUNCTION hr.leave_request_approve(uuid) TO keel_app;

-- keel_app calls the functions above, and the triggers it fires call the
-- rest (the trigger functions cannot be called directly; the SECURITY
-- DEFINER ones write only what their rules say).
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA hr TO keel_app;
