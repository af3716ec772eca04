-- 0017 fin: intercompany entries.
--
--   intercompany_entries   the link of a pair of posted general entries, one in the
--                          sending organization's ledger, one in the receiving one's,
--                          made together in one transaction (both or neither).
--
-- The pair itself is two ordinary journal entries, posted by fin.post_entry with
-- every rule of 0012 and 0013 (open period, gapless numbers, conversion into each
-- ledger's own currency); this table only says which two belong together.  Its
-- composite foreign keys (tenant, organization, entry) make each side an entry of
-- its own organization; the insert trigger makes them posted `general` entries of
-- the kind `normal`, of the same date, each linked once.  keel_app may read and add
-- links, never change or remove one.

CREATE TABLE fin.intercompany_entries (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	from_organization_id uuid NOT NULL,
	to_organization_id uuid NOT NULL,
	from_entry_id uuid NOT NULL,
	to_entry_id uuid NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid DEFAULT core.current_user_id(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT intercompany_entries_sides CHECK (from_organization_id <> to_organization_id),
	CONSTRAINT intercompany_entries_from_entry_key UNIQUE (tenant_id, from_entry_id),
	CONSTRAINT intercompany_entries_to_entry_key UNIQUE (tenant_id, to_entry_id),
	CONSTRAINT intercompany_entries_from_entry_fkey
		FOREIGN KEY (tenant_id, from_organization_id, from_entry_id)
		REFERENCES fin.journal_entries (tenant_id, organization_id, id),
	CONSTRAINT intercompany_entries_to_entry_fkey
		FOREIGN KEY (tenant_id, to_organization_id, to_entry_id)
		REFERENCES fin.journal_entries (tenant_id, organization_id, id)
);
SELECT core.enable_tenant_rls('fin.intercompany_entries');
SELECT audit.enable('fin.intercompany_entries');
GRANT SELECT, INSERT ON fin.intercompany_entries TO keel_app;

-- A link names two posted general entries (kind normal) of one date, neither
-- linked before (as either side: the unique keys see one column each).  A row of
-- another tenant than the transaction's is left to row-level security.  The
-- entries are read FOR SHARE: a posted entry never changes anyway, and a draft
-- being posted is waited for.
CREATE FUNCTION fin.intercompany_entries_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_from record;
	v_to record;
BEGIN
	-- Another tenant's row: row-level security (checked after this trigger) refuses it.
	IF NEW.tenant_id IS DISTINCT FROM core.current_tenant_id() THEN
		RETURN NEW;
	END IF;
	SELECT e.status, e.journal, e.kind, e.date INTO v_from FROM fin.journal_entries e
	WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.from_entry_id FOR SHARE;
	SELECT e.status, e.journal, e.kind, e.date INTO v_to FROM fin.journal_entries e
	WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.to_entry_id FOR SHARE;
	IF v_from.status IS DISTINCT FROM 'posted' OR v_from.journal IS DISTINCT FROM 'general'
	   OR v_from.kind IS DISTINCT FROM 'normal' THEN
		RAISE EXCEPTION 'an intercompany entry links posted general entries'
			USING ERRCODE = 'KF422', CONSTRAINT = 'intercompany_entries_posted',
			COLUMN = 'from_entry_id';
	END IF;
	IF v_to.status IS DISTINCT FROM 'posted' OR v_to.journal IS DISTINCT FROM 'general'
	   OR v_to.kind IS DISTINCT FROM 'normal' THEN
		RAISE EXCEPTION 'an intercompany entry links posted general entries'
			USING ERRCODE = 'KF422', CONSTRAINT = 'intercompany_entries_posted',
			COLUMN = 'to_entry_id';
	END IF;
	IF v_from.date <> v_to.date THEN
		RAISE EXCEPTION 'the two entries of an intercompany entry have one date'
			USING ERRCODE = 'KF422', CONSTRAINT = 'intercompany_entries_posted',
			COLUMN = 'to_entry_id';
	END IF;
	IF EXISTS (SELECT 1 FROM fin.intercompany_entries i
	           WHERE i.tenant_id = NEW.tenant_id
	             AND (i.from_entry_id IN (NEW.from_entry_id, NEW.to_entry_id)
	                  OR i.to_entry_id IN (NEW.from_entry_id, NEW.to_entry_id))) THEN
		RAISE EXCEPTION 'an entry belongs to one intercompany entry at most'
			USING ERRCODE = 'KF409', CONSTRAINT = 'intercompany_entries_once';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER intercompany_entries_insert BEFORE INSERT ON fin.intercompany_entries
	FOR EACH ROW EXECUTE FUNCTION fin.intercompany_entries_insert();
