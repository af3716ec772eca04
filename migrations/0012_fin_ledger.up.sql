-- 0012 fin: the general ledger of an organization.
--
-- The database keeps the books: every rule an accountant relies on is a
-- constraint or a trigger here, so that no code path (keel's or raw SQL as
-- keel_app) can break it.  src/fin/README.md lists each rule and where it
-- lives; fin_test proves each one by issuing the SQL that would break it.
--
--   ledgers          one per organization: its functional currency.
--   accounts         the chart of accounts; a child has its group parent's type
--                    (composite foreign key over (id, type, is_group)).
--   fiscal_years     never overlapping (exclusion constraint), at most 24 months,
--   periods          monthly or quarterly, never overlapping; status open ->
--                    closed -> locked, changed in order (periods_transition).
--   journal_entries  drafts are free; posting (status draft -> posted) is the one
--   journal_lines    way in: it checks the period, takes the number from the
--                    counter and writes the postings; posted entries and their
--                    lines never change.
--   postings         the posted lines, as the reports read them (written only by
--                    the posting trigger; keel_app may only read them).
--   entry_counters   the last number per (organization, journal, fiscal year).
--
-- Amounts are integer minor units (bigint); functional_* are the amounts in
-- the ledger's currency.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE SCHEMA fin;
REVOKE ALL ON SCHEMA fin FROM PUBLIC;
GRANT USAGE ON SCHEMA fin TO keel_app;

-- ISO 4217 (Debian's iso-codes list, without the codes that have no minor
-- unit: precious metals, SDR, bond units, XTS, XXX).
CREATE TABLE fin.currencies (
	code text PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
	name text NOT NULL,
	minor_units smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 4)
);
GRANT SELECT ON fin.currencies TO keel_app;
INSERT INTO fin.currencies (code, name, minor_units) VALUES
	('AED', 'UAE Dirham', 2),
	('AFN', 'Afghani', 2),
	('ALL', 'Lek', 2),
	('AMD', 'Armenian Dram', 2),
	('ANG', 'Netherlands Antillean Guilder', 2),
	('AOA', 'Kwanza', 2),
	('ARS', 'Argentine Peso', 2),
	('AUD', 'Australian Dollar', 2),
	('AWG', 'Aruban Florin', 2),
	('AZN', 'Azerbaijan Manat', 2),
	('BAM', 'Convertible Mark', 2),
	('BBD', 'Barbados Dollar', 2),
	('BDT', 'Taka', 2),
	('BGN', 'Bulgarian Lev', 2),
	('BHD', 'Bahraini Dinar', 3),
	('BIF', 'Burundi Franc', 0),
	('BMD', 'Bermudian Dollar', 2),
	('BND', 'Brunei Dollar', 2),
	('BOB', 'Boliviano', 2),
	('BOV', 'Mvdol', 2),
	('BRL', 'Brazilian Real', 2),
	('BSD', 'Bahamian Dollar', 2),
	('BTN', 'Ngultrum', 2),
	('BWP', 'Pula', 2),
	('BYN', 'Belarusian Ruble', 2),
	('BZD', 'Belize Dollar', 2),
	('CAD', 'Canadian Dollar', 2),
	('CDF', 'Congolese Franc', 2),
	('CHE', 'WIR Euro', 2),
	('CHF', 'Swiss Franc', 2),
	('CHW', 'WIR Franc', 2),
	('CLF', 'Unidad de Fomento', 4),
	('CLP', 'Chilean Peso', 0),
	('CNY', 'Yuan Renminbi', 2),
	('COP', 'Colombian Peso', 2),
	('COU', 'Unidad de Valor Real', 2),
	('CRC', 'Costa Rican Colon', 2),
	('CUC', 'Peso Convertible', 2),
	('CUP', 'Cuban Peso', 2),
	('CVE', 'Cabo Verde Escudo', 2),
	('CZK', 'Czech Koruna', 2),
	('DJF', 'Djibouti Franc', 0),
	('DKK', 'Danish Krone', 2),
	('DOP', 'Dominican Peso', 2),
	('DZD', 'Algerian Dinar', 2),
	('EGP', 'Egyptian Pound', 2),
	('ERN', 'Nakfa', 2),
	('ETB', 'Ethiopian Birr', 2),
	('EUR', 'Euro', 2),
	('FJD', 'Fiji Dollar', 2),
	('FKP', 'Falkland Islands Pound', 2),
	('GBP', 'Pound Sterling', 2),
	('GEL', 'Lari', 2),
	('GHS', 'Ghana Cedi', 2),
	('GIP', 'Gibraltar Pound', 2),
	('GMD', 'Dalasi', 2),
	('GNF', 'Guinean Franc', 0),
	('GTQ', 'Quetzal', 2),
	('GYD', 'Guyana Dollar', 2),
	('HKD', 'Hong Kong Dollar', 2),
	('HNL', 'Lempira', 2),
	('HRK', 'Kuna', 2),
	('HTG', 'Gourde', 2),
	('HUF', 'Forint', 2),
	('IDR', 'Rupiah', 2),
	('ILS', 'New Israeli Sheqel', 2),
	('INR', 'Indian Rupee', 2),
	('IQD', 'Iraqi Dinar', 3),
	('IRR', 'Iranian Rial', 2),
	('ISK', 'Iceland Krona', 0),
	('JMD', 'Jamaican Dollar', 2),
	('JOD', 'Jordanian Dinar', 3),
	('JPY', 'Yen', 0),
	('KES', 'Kenyan Shilling', 2),
	('KGS', 'Som', 2),
	('KHR', 'Riel', 2),
	('KMF', 'Comorian Franc', 0),
	('KPW', 'North Korean Won', 2),
	('KRW', 'Won', 0),
	('KWD', 'Kuwaiti Dinar', 3),
	('KYD', 'Cayman Islands Dollar', 2),
	('KZT', 'Tenge', 2),
	('LAK', 'Lao Kip', 2),
	('LBP', 'Lebanese Pound', 2),
	('LKR', 'Sri Lanka Rupee', 2),
	('LRD', 'Liberian Dollar', 2),
	('LSL', 'Loti', 2),
	('LYD', 'Libyan Dinar', 3),
	('MAD', 'Moroccan Dirham', 2),
	('MDL', 'Moldovan Leu', 2),
	('MGA', 'Malagasy Ariary', 2),
	('MKD', 'Denar', 2),
	('MMK', 'Kyat', 2),
	('MNT', 'Tugrik', 2),
	('MOP', 'Pataca', 2),
	('MRU', 'Ouguiya', 2),
	('MUR', 'Mauritius Rupee', 2),
	('MVR', 'Rufiyaa', 2),
	('MWK', 'Malawi Kwacha', 2),
	('MXN', 'Mexican Peso', 2),
	('MXV', 'Mexican Unidad de Inversion (UDI)', 2),
	('MYR', 'Malaysian Ringgit', 2),
	('MZN', 'Mozambique Metical', 2),
	('NAD', 'Namibia Dollar', 2),
	('NGN', 'Naira', 2),
	('NIO', 'Cordoba Oro', 2),
	('NOK', 'Norwegian Krone', 2),
	('NPR', 'Nepalese Rupee', 2),
	('NZD', 'New Zealand Dollar', 2),
	('OMR', 'Rial Omani', 3),
	('PAB', 'Balboa', 2),
	('PEN', 'Sol', 2),
	('PGK', 'Kina', 2),
	('PHP', 'Philippine Peso', 2),
	('PKR', 'Pakistan Rupee', 2),
	('PLN', 'Zloty', 2),
	('PYG', 'Guarani', 0),
	('QAR', 'Qatari Rial', 2),
	('RON', 'Romanian Leu', 2),
	('RSD', 'Serbian Dinar', 2),
	('RUB', 'Russian Ruble', 2),
	('RWF', 'Rwanda Franc', 0),
	('SAR', 'Saudi Riyal', 2),
	('SBD', 'Solomon Islands Dollar', 2),
	('SCR', 'Seychelles Rupee', 2),
	('SDG', 'Sudanese Pound', 2),
	('SEK', 'Swedish Krona', 2),
	('SGD', 'Singapore Dollar', 2),
	('SHP', 'Saint Helena Pound', 2),
	('SLE', 'Leone', 2),
	('SLL', 'Leone', 2),
	('SOS', 'Somali Shilling', 2),
	('SRD', 'Surinam Dollar', 2),
	('SSP', 'South Sudanese Pound', 2),
	('STN', 'Dobra', 2),
	('SVC', 'El Salvador Colon', 2),
	('SYP', 'Syrian Pound', 2),
	('SZL', 'Lilangeni', 2),
	('THB', 'Baht', 2),
	('TJS', 'Somoni', 2),
	('TMT', 'Turkmenistan New Manat', 2),
	('TND', 'Tunisian Dinar', 3),
	('TOP', 'Pa’anga', 2),
	('TRY', 'Turkish Lira', 2),
	('TTD', 'Trinidad and Tobago Dollar', 2),
	('TWD', 'New Taiwan Dollar', 2),
	('TZS', 'Tanzanian Shilling', 2),
	('UAH', 'Hryvnia', 2),
	('UGX', 'Uganda Shilling', 0),
	('USD', 'US Dollar', 2),
	('USN', 'US Dollar (Next day)', 2),
	('UYI', 'Uruguay Peso en Unidades Indexadas (UI)', 0),
	('UYU', 'Peso Uruguayo', 2),
	('UYW', 'Unidad Previsional', 4),
	('UZS', 'Uzbekistan Sum', 2),
	('VED', 'Bolívar Soberano', 2),
	('VES', 'Bolívar Soberano', 2),
	('VND', 'Dong', 0),
	('VUV', 'Vatu', 0),
	('WST', 'Tala', 2),
	('XAF', 'CFA Franc BEAC', 0),
	('XCD', 'East Caribbean Dollar', 2),
	('XOF', 'CFA Franc BCEAO', 0),
	('XPF', 'CFP Franc', 0),
	('YER', 'Yemeni Rial', 2),
	('ZAR', 'Rand', 2),
	('ZMW', 'Zambian Kwacha', 2),
	('ZWL', 'Zimbabwe Dollar', 2);

-- ---------------------------------------------------------------- ledgers

CREATE TABLE fin.ledgers (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	currency text NOT NULL REFERENCES fin.currencies (code),
	rounding_account_id uuid,
	retained_earnings_account_id uuid,
	intercompany_receivable_account_id uuid,
	intercompany_payable_account_id uuid,
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT ledgers_id_is_organization CHECK (id = organization_id),
	CONSTRAINT ledgers_organization_key UNIQUE (tenant_id, organization_id),
	-- An organization with books is not deleted (org answers 409).
	CONSTRAINT ledgers_organization_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES org.organizations (tenant_id, id)
);
SELECT core.enable_tenant_rls('fin.ledgers');
SELECT audit.enable('fin.ledgers');
-- The currency never changes once books are kept in it.
GRANT SELECT, INSERT ON fin.ledgers TO keel_app;
GRANT UPDATE (rounding_account_id, retained_earnings_account_id,
              intercompany_receivable_account_id, intercompany_payable_account_id,
              version, updated_at) ON fin.ledgers TO keel_app;

-- --------------------------------------------------------------- accounts

CREATE TABLE fin.accounts (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	code text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	type text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
	parent_id uuid,
	is_group boolean NOT NULL DEFAULT false,
	currency text REFERENCES fin.currencies (code),
	requires_division boolean NOT NULL DEFAULT false,
	revalue boolean NOT NULL DEFAULT false,
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	-- true exactly when there is a parent: with (parent_id, type) it must
	-- match the parent's (id, type, is_group), so a parent is a group of the
	-- same type, of the same organization and tenant.
	parent_is_group boolean GENERATED ALWAYS AS (CASE WHEN parent_id IS NOT NULL THEN true END) STORED,
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT accounts_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT accounts_group_key UNIQUE (tenant_id, organization_id, id, type, is_group),
	CONSTRAINT accounts_code_key UNIQUE (tenant_id, organization_id, code),
	CONSTRAINT accounts_ledger_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES fin.ledgers (tenant_id, organization_id),
	CONSTRAINT accounts_parent_fkey FOREIGN KEY (tenant_id, organization_id, parent_id, type, parent_is_group)
		REFERENCES fin.accounts (tenant_id, organization_id, id, type, is_group),
	CONSTRAINT accounts_not_own_parent CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX accounts_parent_idx ON fin.accounts (tenant_id, organization_id, parent_id, id);
CREATE INDEX accounts_type_idx ON fin.accounts (tenant_id, organization_id, type, id);
SELECT core.enable_tenant_rls('fin.accounts');
SELECT audit.enable('fin.accounts');
-- Code, type, parent, group flag and currency are fixed at creation: the
-- chart's shape cannot change under posted lines (and a parent cannot be
-- moved, so the tree has no cycles).
GRANT SELECT, INSERT, DELETE ON fin.accounts TO keel_app;
GRANT UPDATE (name, status, requires_division, revalue, version, updated_at)
	ON fin.accounts TO keel_app;

ALTER TABLE fin.ledgers
	ADD CONSTRAINT ledgers_rounding_account_fkey
		FOREIGN KEY (tenant_id, organization_id, rounding_account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id),
	ADD CONSTRAINT ledgers_retained_earnings_account_fkey
		FOREIGN KEY (tenant_id, organization_id, retained_earnings_account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id),
	ADD CONSTRAINT ledgers_intercompany_receivable_account_fkey
		FOREIGN KEY (tenant_id, organization_id, intercompany_receivable_account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id),
	ADD CONSTRAINT ledgers_intercompany_payable_account_fkey
		FOREIGN KEY (tenant_id, organization_id, intercompany_payable_account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id);

-- ------------------------------------------------ fiscal years and periods

CREATE TABLE fin.fiscal_years (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9-]{1,10}$'),
	start_date date NOT NULL,
	end_date date NOT NULL,
	period text NOT NULL CHECK (period IN ('month', 'quarter')),
	status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT fiscal_years_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT fiscal_years_name_key UNIQUE (tenant_id, organization_id, name),
	CONSTRAINT fiscal_years_ledger_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES fin.ledgers (tenant_id, organization_id),
	-- whole months, at most 24 of them
	CONSTRAINT fiscal_years_months CHECK (
		extract(day FROM start_date) = 1
		AND end_date + 1 = date_trunc('month', end_date + 1)::date
		AND end_date > start_date
		AND end_date < (start_date + interval '24 months')::date),
	CONSTRAINT fiscal_years_no_overlap EXCLUDE USING gist (
		tenant_id WITH =, organization_id WITH =, daterange(start_date, end_date, '[]') WITH &&)
);
SELECT core.enable_tenant_rls('fin.fiscal_years');
SELECT audit.enable('fin.fiscal_years');
GRANT SELECT, INSERT ON fin.fiscal_years TO keel_app;
GRANT UPDATE (status, version, updated_at) ON fin.fiscal_years TO keel_app;

CREATE TABLE fin.periods (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	fiscal_year_id uuid NOT NULL,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 20),
	start_date date NOT NULL,
	end_date date NOT NULL CHECK (end_date >= start_date),
	status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'locked')),
	-- the last close, and while reopened the reason given (the audit log keeps every one)
	closed_at timestamptz,
	closed_by uuid,
	reopen_reason text CHECK (char_length(reopen_reason) BETWEEN 1 AND 500),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT periods_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT periods_fiscal_year_fkey FOREIGN KEY (tenant_id, organization_id, fiscal_year_id)
		REFERENCES fin.fiscal_years (tenant_id, organization_id, id),
	CONSTRAINT periods_no_overlap EXCLUDE USING gist (
		tenant_id WITH =, organization_id WITH =, daterange(start_date, end_date, '[]') WITH &&)
);
CREATE INDEX periods_start_idx ON fin.periods (tenant_id, organization_id, start_date);
SELECT core.enable_tenant_rls('fin.periods');
SELECT audit.enable('fin.periods');
GRANT SELECT, INSERT ON fin.periods TO keel_app;
GRANT UPDATE (status, closed_at, closed_by, reopen_reason, version, updated_at)
	ON fin.periods TO keel_app;

-- Rows the database makes (periods, a reversal's lines) get UUIDv7 ids, as keel's do.
GRANT EXECUTE ON FUNCTION audit.uuid_v7(timestamptz) TO keel_app;

-- A fiscal year and its periods, in one call: months named by their calendar
-- month ("2026-04"), quarters by the year's name ("FY26-Q1").  Quarters need
-- a whole number of them (the CHECK below the insert).
CREATE FUNCTION fin.create_fiscal_year(p_id uuid, p_organization_id uuid, p_name text,
                                       p_start date, p_end date, p_period text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_step interval := CASE p_period WHEN 'quarter' THEN interval '3 months' ELSE interval '1 month' END;
BEGIN
	INSERT INTO fin.fiscal_years (tenant_id, id, organization_id, name, start_date, end_date, period)
	VALUES (core.current_tenant_id(), p_id, p_organization_id, p_name, p_start, p_end, p_period);
	IF p_period = 'quarter' AND (extract(year FROM age(p_end + 1, p_start)) * 12
	                             + extract(month FROM age(p_end + 1, p_start)))::integer % 3 <> 0 THEN
		RAISE EXCEPTION 'a fiscal year of quarters has a whole number of them'
			USING ERRCODE = 'KF422', CONSTRAINT = 'fiscal_years_quarters', COLUMN = 'end_date';
	END IF;
	INSERT INTO fin.periods (tenant_id, id, organization_id, fiscal_year_id, name, start_date, end_date)
	SELECT core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), p_organization_id, p_id,
	       CASE p_period WHEN 'quarter' THEN p_name || '-Q' || n ELSE to_char(s, 'YYYY-MM') END,
	       s::date, (s + v_step - interval '1 day')::date
	FROM generate_series(p_start::timestamp, p_end::timestamp, v_step) WITH ORDINALITY AS g(s, n);
END
$$;
GRANT EXECUTE ON FUNCTION fin.create_fiscal_year(uuid, uuid, text, date, date, text) TO keel_app;

-- A period's status moves open -> closed (every earlier period of the
-- organization closed or locked), closed -> open (the latest closed one only,
-- of an open fiscal year, never locked), closed -> locked (earliest first),
-- and never out of locked.  Changes of one organization's periods are taken
-- one at a time (its ledger row, locked), so that a close and a reopen
-- cannot each see the other's period as it was.  The lock is FOR NO KEY
-- UPDATE: FOR UPDATE would also wait for every transaction holding the row
-- FOR KEY SHARE (any insert whose foreign key names the ledger: a draft made
-- in the transaction that then posts it, which waits for the period this
-- close holds: a deadlock).  Dates never change.
CREATE FUNCTION fin.periods_transition() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_fy_status text;
BEGIN
	IF NEW.start_date <> OLD.start_date OR NEW.end_date <> OLD.end_date
	   OR NEW.fiscal_year_id <> OLD.fiscal_year_id OR NEW.organization_id <> OLD.organization_id THEN
		RAISE EXCEPTION 'a period''s dates never change' USING ERRCODE = 'KF422',
			CONSTRAINT = 'periods_fixed';
	END IF;
	IF NEW.status = OLD.status THEN
		RETURN NEW;
	END IF;
	PERFORM 1 FROM fin.ledgers l
	WHERE l.tenant_id = NEW.tenant_id AND l.organization_id = NEW.organization_id FOR NO KEY UPDATE;
	IF OLD.status = 'open' AND NEW.status = 'closed' THEN
		IF EXISTS (SELECT 1 FROM fin.periods p
		           WHERE p.tenant_id = NEW.tenant_id AND p.organization_id = NEW.organization_id
		             AND p.start_date < NEW.start_date AND p.status = 'open') THEN
			RAISE EXCEPTION 'an earlier period is still open' USING ERRCODE = 'KF409',
				CONSTRAINT = 'periods_close_in_order';
		END IF;
		NEW.reopen_reason := NULL;
	ELSIF OLD.status = 'closed' AND NEW.status = 'open' THEN
		IF EXISTS (SELECT 1 FROM fin.periods p
		           WHERE p.tenant_id = NEW.tenant_id AND p.organization_id = NEW.organization_id
		             AND p.start_date > NEW.start_date AND p.status <> 'open') THEN
			RAISE EXCEPTION 'only the latest closed period can be reopened' USING ERRCODE = 'KF409',
				CONSTRAINT = 'periods_reopen_latest';
		END IF;
		SELECT f.status INTO v_fy_status FROM fin.fiscal_years f
		WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.fiscal_year_id;
		IF v_fy_status <> 'open' THEN
			RAISE EXCEPTION 'the fiscal year is closed' USING ERRCODE = 'KF409',
				CONSTRAINT = 'periods_reopen_open_year';
		END IF;
		IF NEW.reopen_reason IS NULL THEN
			RAISE EXCEPTION 'reopening a period needs a reason' USING ERRCODE = 'KF422',
				CONSTRAINT = 'periods_reopen_reason', COLUMN = 'reason';
		END IF;
	ELSIF OLD.status = 'closed' AND NEW.status = 'locked' THEN
		IF EXISTS (SELECT 1 FROM fin.periods p
		           WHERE p.tenant_id = NEW.tenant_id AND p.organization_id = NEW.organization_id
		             AND p.start_date < NEW.start_date AND p.status <> 'locked') THEN
			RAISE EXCEPTION 'an earlier period is not locked' USING ERRCODE = 'KF409',
				CONSTRAINT = 'periods_lock_in_order';
		END IF;
	ELSE
		RAISE EXCEPTION 'a % period cannot become %', OLD.status, NEW.status
			USING ERRCODE = 'KF409', CONSTRAINT = 'periods_transition';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER periods_transition BEFORE UPDATE ON fin.periods
	FOR EACH ROW EXECUTE FUNCTION fin.periods_transition();

-- ------------------------------------------------------- journal entries

CREATE TABLE fin.journal_entries (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	journal text NOT NULL
		CHECK (journal IN ('general', 'sales', 'purchases', 'cash', 'payroll', 'adjustment')),
	kind text NOT NULL DEFAULT 'normal'
		CHECK (kind IN ('normal', 'reversal', 'closing', 'revaluation')),
	date date NOT NULL,
	memo text NOT NULL DEFAULT '' CHECK (char_length(memo) <= 1000),
	currency text NOT NULL REFERENCES fin.currencies (code),
	status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'posted')),
	reverses_id uuid,
	-- set by posting, never by keel_app (journal_entries_post)
	fiscal_year_id uuid,
	sequence bigint CHECK (sequence > 0),
	number text,
	posted_at timestamptz,
	posted_by uuid,
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT journal_entries_organization_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT journal_entries_ledger_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES fin.ledgers (tenant_id, organization_id),
	CONSTRAINT journal_entries_fiscal_year_fkey FOREIGN KEY (tenant_id, organization_id, fiscal_year_id)
		REFERENCES fin.fiscal_years (tenant_id, organization_id, id),
	CONSTRAINT journal_entries_reverses_fkey FOREIGN KEY (tenant_id, organization_id, reverses_id)
		REFERENCES fin.journal_entries (tenant_id, organization_id, id),
	-- an entry is reversed at most once
	CONSTRAINT journal_entries_reverses_key UNIQUE (tenant_id, reverses_id),
	CONSTRAINT journal_entries_number_key
		UNIQUE (tenant_id, organization_id, journal, fiscal_year_id, sequence),
	CONSTRAINT journal_entries_reversal_kind CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL)),
	CONSTRAINT journal_entries_posted_fields CHECK (
		CASE status
		WHEN 'draft' THEN fiscal_year_id IS NULL AND sequence IS NULL AND number IS NULL
		                  AND posted_at IS NULL AND posted_by IS NULL
		ELSE fiscal_year_id IS NOT NULL AND sequence IS NOT NULL AND number IS NOT NULL
		     AND posted_at IS NOT NULL
		END)
);
CREATE INDEX journal_entries_date_idx
	ON fin.journal_entries (tenant_id, organization_id, date, journal, sequence, id);
SELECT core.enable_tenant_rls('fin.journal_entries');
SELECT audit.enable('fin.journal_entries');
GRANT SELECT, INSERT, UPDATE, DELETE ON fin.journal_entries TO keel_app;

CREATE TABLE fin.journal_lines (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	entry_id uuid NOT NULL,
	line_no integer NOT NULL CHECK (line_no BETWEEN 1 AND 1000),
	account_id uuid NOT NULL,
	debit bigint NOT NULL DEFAULT 0 CHECK (debit >= 0),
	credit bigint NOT NULL DEFAULT 0 CHECK (credit >= 0),
	currency text NOT NULL REFERENCES fin.currencies (code),
	rate numeric NOT NULL DEFAULT 1 CHECK (rate > 0),
	functional_debit bigint NOT NULL CHECK (functional_debit >= 0),
	functional_credit bigint NOT NULL CHECK (functional_credit >= 0),
	division_id uuid,
	memo text NOT NULL DEFAULT '' CHECK (char_length(memo) <= 500),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT journal_lines_line_no_key UNIQUE (tenant_id, entry_id, line_no),
	-- exactly one positive side, in the line's currency and in the ledger's
	CONSTRAINT journal_lines_one_side CHECK ((debit > 0) <> (credit > 0)),
	CONSTRAINT journal_lines_functional_side CHECK (
		(debit > 0 OR functional_debit = 0) AND (credit > 0 OR functional_credit = 0)),
	CONSTRAINT journal_lines_entry_fkey FOREIGN KEY (tenant_id, organization_id, entry_id)
		REFERENCES fin.journal_entries (tenant_id, organization_id, id) ON DELETE CASCADE,
	CONSTRAINT journal_lines_account_fkey FOREIGN KEY (tenant_id, organization_id, account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id),
	CONSTRAINT journal_lines_division_fkey FOREIGN KEY (tenant_id, organization_id, division_id)
		REFERENCES org.divisions (tenant_id, organization_id, id)
);
CREATE INDEX journal_lines_account_idx ON fin.journal_lines (tenant_id, account_id);
CREATE INDEX journal_lines_division_idx ON fin.journal_lines (tenant_id, division_id)
	WHERE division_id IS NOT NULL;
SELECT core.enable_tenant_rls('fin.journal_lines');
SELECT audit.enable('fin.journal_lines');
GRANT SELECT, INSERT, UPDATE, DELETE ON fin.journal_lines TO keel_app;

-- The posted lines as the reports read them: one row per line of a posted
-- entry, in the ledger's currency, with the entry's date and number.
-- Written only by posting (journal_entries_post), never changed; keel_app
-- reads it.  Not audited: it is derived from the audited lines and the
-- audited posting, row for row.
CREATE TABLE fin.postings (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL, -- the line's id
	organization_id uuid NOT NULL,
	account_id uuid NOT NULL,
	date date NOT NULL,
	journal text NOT NULL,
	sequence bigint NOT NULL,
	line_no integer NOT NULL,
	entry_id uuid NOT NULL,
	division_id uuid,
	kind text NOT NULL,
	debit bigint NOT NULL,
	credit bigint NOT NULL,
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT postings_line_fkey FOREIGN KEY (tenant_id, id)
		REFERENCES fin.journal_lines (tenant_id, id),
	CONSTRAINT postings_account_fkey FOREIGN KEY (tenant_id, organization_id, account_id)
		REFERENCES fin.accounts (tenant_id, organization_id, id)
);
-- The account ledger's order (date, number, line) and the trial balance's
-- per-account sums, read from the index alone.
CREATE INDEX postings_account_idx ON fin.postings
	(tenant_id, organization_id, account_id, date, journal, sequence, line_no)
	INCLUDE (debit, credit, entry_id);
CREATE INDEX postings_date_idx ON fin.postings (tenant_id, organization_id, date)
	INCLUDE (account_id, division_id, debit, credit);
SELECT core.enable_tenant_rls('fin.postings');
GRANT SELECT ON fin.postings TO keel_app;

CREATE TABLE fin.entry_counters (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	organization_id uuid NOT NULL,
	journal text NOT NULL,
	fiscal_year_id uuid NOT NULL,
	last bigint NOT NULL CHECK (last > 0),
	PRIMARY KEY (tenant_id, organization_id, journal, fiscal_year_id),
	CONSTRAINT entry_counters_fiscal_year_fkey FOREIGN KEY (tenant_id, organization_id, fiscal_year_id)
		REFERENCES fin.fiscal_years (tenant_id, organization_id, id)
);
SELECT core.enable_tenant_rls('fin.entry_counters');
GRANT SELECT ON fin.entry_counters TO keel_app;

-- The amount in minor units as the API writes it ("-0.05", "1200").
CREATE FUNCTION fin.amount_text(p_minor bigint, p_units integer) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT round(p_minor::numeric / power(10::numeric, p_units), p_units)::text $$;
GRANT EXECUTE ON FUNCTION fin.amount_text(bigint, integer) TO keel_app;

-- Journal prefixes of entry numbers: GEN-<fiscal year>-000001.
CREATE FUNCTION fin.journal_prefix(p_journal text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT CASE p_journal WHEN 'general' THEN 'GEN' WHEN 'sales' THEN 'SAL'
	                            WHEN 'purchases' THEN 'PUR' WHEN 'cash' THEN 'CSH'
	                            WHEN 'payroll' THEN 'PAY' WHEN 'adjustment' THEN 'ADJ' END $$;
GRANT EXECUTE ON FUNCTION fin.journal_prefix(text) TO keel_app;

-- ---------------------------------------------------------------- posting
--
-- Errors raised here carry SQLSTATE KF404/KF409/KF422 (keel answers 404, 409
-- and 422 with the message), the rule's name as CONSTRAINT and, where one
-- field is to blame, its path in the API's body as COLUMN ("lines[2].account_id").

-- Entries are created as drafts; posting is the update of status to posted.
CREATE FUNCTION fin.journal_entries_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.status <> 'draft' THEN
		RAISE EXCEPTION 'an entry is created as a draft and posted by fin.post_entry'
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_created_draft';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER journal_entries_insert BEFORE INSERT ON fin.journal_entries
	FOR EACH ROW EXECUTE FUNCTION fin.journal_entries_insert();

-- Posted entries never change.  Posting (draft -> posted) takes the period of
-- the date FOR SHARE (a close, which updates the period, waits for the posting
-- and the posting for the close, and a posting after a close sees it), checks
-- that it is open, then takes the next number from the counter: the counter row
-- is the last thing locked, held from here to the commit only.  The number,
-- the fiscal year, the time and the user are set here, whatever keel_app wrote.
CREATE FUNCTION fin.journal_entries_update() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_period record;
	v_fy_name text;
	v_seq bigint;
	v_rev record;
BEGIN
	IF NEW.tenant_id <> OLD.tenant_id THEN
		RETURN NEW; -- row-level security refuses it (42501), as for every table
	END IF;
	IF OLD.status = 'posted' THEN
		RAISE EXCEPTION 'a posted entry never changes' USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_immutable';
	END IF;
	IF NEW.id <> OLD.id OR NEW.organization_id <> OLD.organization_id THEN
		RAISE EXCEPTION 'an entry stays where it was made' USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_fixed';
	END IF;
	IF NEW.status <> 'posted' THEN
		RETURN NEW;
	END IF;
	SELECT p.id, p.name, p.status, p.fiscal_year_id INTO v_period FROM fin.periods p
	WHERE p.tenant_id = NEW.tenant_id AND p.organization_id = NEW.organization_id
	  AND p.start_date <= NEW.date AND p.end_date >= NEW.date
	FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no fiscal period contains %', NEW.date USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_period_open', COLUMN = 'date';
	END IF;
	IF v_period.status <> 'open' THEN
		RAISE EXCEPTION 'the period % is %', v_period.name, v_period.status
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_period_open', COLUMN = 'date';
	END IF;
	IF NEW.reverses_id IS NOT NULL THEN
		SELECT e.status, e.kind INTO v_rev FROM fin.journal_entries e
		WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.reverses_id;
		IF v_rev.status <> 'posted' OR v_rev.kind = 'reversal' THEN
			RAISE EXCEPTION 'only a posted entry that is not a reversal can be reversed'
				USING ERRCODE = 'KF409', CONSTRAINT = 'journal_entries_reversal_of_posted';
		END IF;
	END IF;
	SELECT f.name INTO v_fy_name FROM fin.fiscal_years f
	WHERE f.tenant_id = NEW.tenant_id AND f.id = v_period.fiscal_year_id;
	INSERT INTO fin.entry_counters AS c (tenant_id, organization_id, journal, fiscal_year_id, last)
	VALUES (NEW.tenant_id, NEW.organization_id, NEW.journal, v_period.fiscal_year_id, 1)
	ON CONFLICT (tenant_id, organization_id, journal, fiscal_year_id)
	DO UPDATE SET last = c.last + 1
	RETURNING c.last INTO v_seq;
	NEW.fiscal_year_id := v_period.fiscal_year_id;
	NEW.sequence := v_seq;
	NEW.number := fin.journal_prefix(NEW.journal) || '-' || v_fy_name || '-'
	              || CASE WHEN v_seq < 1000000 THEN lpad(v_seq::text, 6, '0') ELSE v_seq::text END;
	NEW.posted_at := now();
	NEW.posted_by := core.current_user_id();
	RETURN NEW;
END
$$;
CREATE TRIGGER journal_entries_update BEFORE UPDATE ON fin.journal_entries
	FOR EACH ROW EXECUTE FUNCTION fin.journal_entries_update();

-- A posted entry is deleted only with its tenant (a cascade: trigger depth > 1).
CREATE FUNCTION fin.journal_entries_delete() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF OLD.status = 'posted' AND pg_trigger_depth() = 1 THEN
		RAISE EXCEPTION 'a posted entry is never deleted; reverse it' USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_immutable';
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER journal_entries_delete BEFORE DELETE ON fin.journal_entries
	FOR EACH ROW EXECUTE FUNCTION fin.journal_entries_delete();

-- The posted lines become postings, in the same statement as the posting.
CREATE FUNCTION fin.journal_entries_postings() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO fin.postings (tenant_id, id, organization_id, account_id, date, journal, sequence,
	                          line_no, entry_id, division_id, kind, debit, credit)
	SELECT l.tenant_id, l.id, l.organization_id, l.account_id, NEW.date, NEW.journal, NEW.sequence,
	       l.line_no, l.entry_id, l.division_id, NEW.kind, l.functional_debit, l.functional_credit
	FROM fin.journal_lines l
	WHERE l.tenant_id = NEW.tenant_id AND l.entry_id = NEW.id;
	RETURN NULL;
END
$$;
CREATE TRIGGER journal_entries_postings AFTER UPDATE ON fin.journal_entries
	FOR EACH ROW WHEN (OLD.status = 'draft' AND NEW.status = 'posted')
	EXECUTE FUNCTION fin.journal_entries_postings();

-- At commit, whatever statements built it: a posted entry has 2..1000 lines
-- that balance in the ledger's currency, each to an active, non-group account
-- that takes the line's currency, with a division where the account requires
-- one, and a line in the ledger's currency is its own functional amount.
CREATE FUNCTION fin.journal_entries_check() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_lines bigint;
	v_debit numeric;
	v_credit numeric;
	v_ledger_currency text;
	v_bad record;
BEGIN
	SELECT count(*), coalesce(sum(l.functional_debit), 0), coalesce(sum(l.functional_credit), 0)
	INTO v_lines, v_debit, v_credit
	FROM fin.journal_lines l WHERE l.tenant_id = NEW.tenant_id AND l.entry_id = NEW.id;
	IF v_lines NOT BETWEEN 2 AND 1000 THEN
		RAISE EXCEPTION 'a posted entry has 2 to 1000 lines, not %', v_lines
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_lines', COLUMN = 'lines';
	END IF;
	IF v_debit <> v_credit THEN
		RAISE EXCEPTION 'a posted entry balances: debits and credits differ by % minor units',
			v_debit - v_credit
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_balanced', COLUMN = 'lines';
	END IF;
	SELECT g.currency INTO v_ledger_currency FROM fin.ledgers g
	WHERE g.tenant_id = NEW.tenant_id AND g.organization_id = NEW.organization_id;
	SELECT l.line_no, a.code INTO v_bad
	FROM fin.journal_lines l
	JOIN fin.accounts a ON a.tenant_id = l.tenant_id AND a.id = l.account_id
	WHERE l.tenant_id = NEW.tenant_id AND l.entry_id = NEW.id
	  AND (a.status <> 'active' OR a.is_group
	       OR (a.currency IS NOT NULL AND a.currency <> l.currency)
	       OR (a.requires_division AND l.division_id IS NULL)
	       OR (l.currency = v_ledger_currency
	           AND (l.rate <> 1 OR l.functional_debit <> l.debit OR l.functional_credit <> l.credit)))
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'line % (account %) cannot be posted', v_bad.line_no, v_bad.code
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable';
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_entries_check AFTER UPDATE ON fin.journal_entries
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW WHEN (OLD.status = 'draft' AND NEW.status = 'posted')
	EXECUTE FUNCTION fin.journal_entries_check();

-- Lines change only while their entry is a draft.  The entry is read FOR
-- SHARE: a line written while the entry is being posted waits for the posting
-- and then sees it.  A cascade (deleting a draft, or the tenant) passes.
CREATE FUNCTION fin.journal_lines_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_status text;
	v_entry uuid;
BEGIN
	IF pg_trigger_depth() > 1 OR (TG_OP = 'UPDATE' AND NEW.tenant_id <> OLD.tenant_id) THEN
		-- a cascade; or a move to another tenant, which row-level security refuses (42501)
		RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	FOREACH v_entry IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.entry_id]
	                                     WHEN 'DELETE' THEN ARRAY[OLD.entry_id]
	                                     ELSE ARRAY[OLD.entry_id, NEW.entry_id] END LOOP
		SELECT e.status INTO v_status FROM fin.journal_entries e
		WHERE e.tenant_id = coalesce(NEW.tenant_id, OLD.tenant_id) AND e.id = v_entry FOR SHARE;
		IF v_status = 'posted' THEN
			RAISE EXCEPTION 'the lines of a posted entry never change' USING ERRCODE = 'KF409',
				CONSTRAINT = 'journal_lines_immutable';
		END IF;
	END LOOP;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER journal_lines_guard BEFORE INSERT OR UPDATE OR DELETE ON fin.journal_lines
	FOR EACH ROW EXECUTE FUNCTION fin.journal_lines_guard();

-- Posting an entry: the one way keel posts.  Checks the lines and the date
-- with precise errors (the deferred check above is the net that holds even
-- without them), then posts (journal_entries_update: period, number).  The
-- entry row is locked first, the period then, the counter last: every posting
-- takes them in this order, so postings never deadlock one another.  No
-- per-account row is written: postings to one account do not wait for each other.
CREATE FUNCTION fin.post_entry(p_id uuid) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_entry record;
	v_units integer;
	v_ledger_currency text;
	v_line record;
	v_n integer := 0;
	v_debit bigint := 0;
	v_credit bigint := 0;
BEGIN
	SELECT e.status, e.organization_id, e.currency INTO v_entry FROM fin.journal_entries e
	WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such journal entry' USING ERRCODE = 'KF404';
	END IF;
	IF v_entry.status <> 'draft' THEN
		RAISE EXCEPTION 'the entry is %', v_entry.status USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_immutable';
	END IF;
	SELECT g.currency, c.minor_units INTO v_ledger_currency, v_units
	FROM fin.ledgers g JOIN fin.currencies c ON c.code = g.currency
	WHERE g.tenant_id = core.current_tenant_id() AND g.organization_id = v_entry.organization_id;
	FOR v_line IN
		SELECT l.line_no, l.currency, l.division_id, l.functional_debit, l.functional_credit,
		       a.code, a.status, a.is_group, a.currency AS account_currency, a.requires_division
		FROM fin.journal_lines l
		JOIN fin.accounts a ON a.tenant_id = l.tenant_id AND a.id = l.account_id
		WHERE l.tenant_id = core.current_tenant_id() AND l.entry_id = p_id
		ORDER BY l.line_no
	LOOP
		v_n := v_n + 1;
		IF v_line.status <> 'active' THEN
			RAISE EXCEPTION 'the account % is inactive', v_line.code USING ERRCODE = 'KF422',
				CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].account_id', v_line.line_no - 1);
		END IF;
		IF v_line.is_group THEN
			RAISE EXCEPTION 'the account % is a group account', v_line.code USING ERRCODE = 'KF422',
				CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].account_id', v_line.line_no - 1);
		END IF;
		IF v_line.account_currency IS NOT NULL AND v_line.account_currency <> v_line.currency THEN
			RAISE EXCEPTION 'the account % takes only %', v_line.code, v_line.account_currency
				USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].account_id', v_line.line_no - 1);
		END IF;
		IF v_line.requires_division AND v_line.division_id IS NULL THEN
			RAISE EXCEPTION 'the account % requires a division', v_line.code
				USING ERRCODE = 'KF422', CONSTRAINT = 'journal_lines_postable',
				COLUMN = format('lines[%s].division_id', v_line.line_no - 1);
		END IF;
		v_debit := v_debit + v_line.functional_debit;
		v_credit := v_credit + v_line.functional_credit;
	END LOOP;
	IF v_n < 2 THEN
		RAISE EXCEPTION 'an entry needs at least 2 lines' USING ERRCODE = 'KF422',
			CONSTRAINT = 'journal_entries_lines', COLUMN = 'lines';
	END IF;
	IF v_debit <> v_credit THEN
		RAISE EXCEPTION 'debits (%) and credits (%) differ by % %',
			fin.amount_text(v_debit, v_units), fin.amount_text(v_credit, v_units),
			fin.amount_text(v_debit - v_credit, v_units), v_ledger_currency
			USING ERRCODE = 'KF422', CONSTRAINT = 'journal_entries_balanced', COLUMN = 'lines';
	END IF;
	UPDATE fin.journal_entries e SET status = 'posted', version = e.version + 1, updated_at = now()
	WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_id;
END
$$;
GRANT EXECUTE ON FUNCTION fin.post_entry(uuid) TO keel_app;

-- Reversing a posted entry: a new posted entry p_new of kind reversal in the
-- same journal, dated p_date, its lines the original's with debit and credit
-- swapped.  Once per entry (journal_entries_reverses_key); a reversal is not
-- reversed.
CREATE FUNCTION fin.reverse_entry(p_id uuid, p_new uuid, p_date date, p_memo text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_orig record;
BEGIN
	SELECT e.* INTO v_orig FROM fin.journal_entries e
	WHERE e.tenant_id = core.current_tenant_id() AND e.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such journal entry' USING ERRCODE = 'KF404';
	END IF;
	IF v_orig.status <> 'posted' THEN
		RAISE EXCEPTION 'the entry is %', v_orig.status USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_reversal_of_posted';
	END IF;
	IF v_orig.kind = 'reversal' THEN
		RAISE EXCEPTION 'the entry is a reversal' USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_reversal_of_posted';
	END IF;
	IF EXISTS (SELECT 1 FROM fin.journal_entries r
	           WHERE r.tenant_id = core.current_tenant_id() AND r.reverses_id = p_id) THEN
		RAISE EXCEPTION 'the entry is reversed' USING ERRCODE = 'KF409',
			CONSTRAINT = 'journal_entries_reverses_key';
	END IF;
	INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, kind, date, memo,
	                                 currency, reverses_id)
	VALUES (v_orig.tenant_id, p_new, v_orig.organization_id, v_orig.journal, 'reversal', p_date,
	        coalesce(p_memo, 'Reversal of ' || v_orig.number), v_orig.currency, p_id);
	INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no, account_id,
	                               debit, credit, currency, rate, functional_debit,
	                               functional_credit, division_id, memo)
	SELECT l.tenant_id, audit.uuid_v7(clock_timestamp()), l.organization_id, p_new, l.line_no,
	       l.account_id, l.credit, l.debit, l.currency, l.rate, l.functional_credit,
	       l.functional_debit, l.division_id, l.memo
	FROM fin.journal_lines l
	WHERE l.tenant_id = core.current_tenant_id() AND l.entry_id = p_id
	ORDER BY l.line_no;
	PERFORM fin.post_entry(p_new);
END
$$;
GRANT EXECUTE ON FUNCTION fin.reverse_entry(uuid, uuid, date, text) TO keel_app;
