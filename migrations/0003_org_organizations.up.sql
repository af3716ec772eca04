-- 0003 org: organizations and their divisions, and idempotency keys for creates.

-- Trigram search for ?q= (case-insensitive substring of name or code); the
-- extension is trusted, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE SCHEMA org;
REVOKE ALL ON SCHEMA org FROM PUBLIC;
GRANT USAGE ON SCHEMA org TO keel_app;

CREATE TABLE org.organizations (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	code text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
	description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
	settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT organizations_tenant_id_code_key UNIQUE (tenant_id, code)
);
CREATE INDEX organizations_tenant_id_status_id_idx ON org.organizations (tenant_id, status, id);
SELECT core.enable_tenant_rls('org.organizations');
GRANT SELECT, INSERT, UPDATE, DELETE ON org.organizations TO keel_app;

-- ?q= search (case-insensitive substring of name or code).  Under row-level
-- security PostgreSQL evaluates only leakproof operators ahead of the tenant
-- filter, and LIKE is not leakproof, so keel_app could never use a trigram
-- index on org.organizations itself.  The searchable text therefore lives in
-- a side table that keel_app cannot read at all; the narrow SECURITY DEFINER
-- function org.search_organizations() searches it for the current tenant
-- only, and a trigger keeps it in step with the organizations.
CREATE TABLE org.organization_search (
	tenant_id uuid NOT NULL,
	id uuid NOT NULL,
	text text NOT NULL,
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT organization_search_organization_fkey FOREIGN KEY (tenant_id, id)
		REFERENCES org.organizations (tenant_id, id) ON DELETE CASCADE
);
-- Trigrams only: a tenant's rows are many, so tenant_id would only make each
-- GIN lookup longer; the tenant is checked on the few rows the trigrams find.
CREATE INDEX organization_search_text_idx ON org.organization_search
	USING gin (text gin_trgm_ops);
REVOKE ALL ON org.organization_search FROM PUBLIC;

CREATE FUNCTION org.organization_search_sync() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	-- NEW passed the tenant policy's WITH CHECK: its tenant is the caller's.
	INSERT INTO org.organization_search (tenant_id, id, text)
	VALUES (NEW.tenant_id, NEW.id, lower(NEW.name) || E'\n' || lower(NEW.code))
	ON CONFLICT (tenant_id, id) DO UPDATE SET text = EXCLUDED.text;
	RETURN NULL;
END
$$;

CREATE TRIGGER organizations_search_sync
	AFTER INSERT OR UPDATE OF name, code ON org.organizations
	FOR EACH ROW EXECUTE FUNCTION org.organization_search_sync();

-- Ids of the current tenant's organizations whose text matches p_pattern (LIKE).
CREATE FUNCTION org.search_organizations(p_pattern text) RETURNS SETOF uuid
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT s.id FROM org.organization_search s
	WHERE s.tenant_id = core.current_tenant_id() AND s.text LIKE p_pattern
$$;
GRANT EXECUTE ON FUNCTION org.search_organizations(text) TO keel_app;

-- Divisions form a tree inside one organization.  The composite foreign keys
-- carry tenant_id and organization_id, so a parent is always a division of
-- the same organization of the same tenant.
CREATE TABLE org.divisions (
	tenant_id uuid NOT NULL,
	id uuid NOT NULL,
	organization_id uuid NOT NULL,
	parent_id uuid,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	code text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
	description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CONSTRAINT divisions_tenant_id_organization_id_id_key UNIQUE (tenant_id, organization_id, id),
	CONSTRAINT divisions_tenant_id_organization_id_code_key UNIQUE (tenant_id, organization_id, code),
	CONSTRAINT divisions_organization_fkey FOREIGN KEY (tenant_id, organization_id)
		REFERENCES org.organizations (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT divisions_parent_fkey FOREIGN KEY (tenant_id, organization_id, parent_id)
		REFERENCES org.divisions (tenant_id, organization_id, id),
	CONSTRAINT divisions_not_own_parent CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX divisions_tenant_id_organization_id_parent_id_idx
	ON org.divisions (tenant_id, organization_id, parent_id, id);
SELECT core.enable_tenant_rls('org.divisions');
GRANT SELECT, INSERT, UPDATE, DELETE ON org.divisions TO keel_app;

-- A move must not make a cycle.  Moves within one organization are
-- serialized by a transaction-scoped advisory lock on it, so two concurrent
-- moves (A under B, B under A) cannot both pass the check.
CREATE FUNCTION org.divisions_check_cycle() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.parent_id IS NULL THEN
		RETURN NEW;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended(NEW.tenant_id::text || NEW.organization_id::text, 0));
	IF EXISTS (
		WITH RECURSIVE up (id, parent_id) AS (
			SELECT d.id, d.parent_id FROM org.divisions d
			WHERE d.tenant_id = NEW.tenant_id AND d.id = NEW.parent_id
			UNION
			SELECT d.id, d.parent_id FROM org.divisions d JOIN up ON d.id = up.parent_id
			WHERE d.tenant_id = NEW.tenant_id
		)
		SELECT 1 FROM up WHERE up.id = NEW.id
	) THEN
		RAISE EXCEPTION 'division % would be its own ancestor', NEW.id
			USING ERRCODE = 'P0001', CONSTRAINT = 'divisions_no_cycle';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER divisions_check_cycle
	BEFORE UPDATE OF parent_id ON org.divisions
	FOR EACH ROW WHEN (NEW.parent_id IS DISTINCT FROM OLD.parent_id)
	EXECUTE FUNCTION org.divisions_check_cycle();

-- Idempotency keys of creates (Idempotency-Key header), kept 24 hours: the
-- first response is replayed to a retry with the same key and body.
CREATE TABLE core.idempotency_keys (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
	route text NOT NULL,
	request_hash text NOT NULL,
	status integer,
	response jsonb,
	location text,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_tenant_id_created_at_idx ON core.idempotency_keys (tenant_id, created_at);
SELECT core.enable_tenant_rls('core.idempotency_keys');
GRANT SELECT, INSERT, UPDATE, DELETE ON core.idempotency_keys TO keel_app;
