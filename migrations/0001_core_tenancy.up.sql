-- 0001 core: the multi-tenancy foundation.
--
-- Rules every later migration follows (docs/isolation.md):
--   * every tenant-owned table has tenant_id uuid NOT NULL, primary key
--     (tenant_id, id), foreign keys that include tenant_id, unique keys that
--     include tenant_id, and is created through core.enable_tenant_rls();
--   * keel_app gets only the grants it needs, table by table;
--   * views are security_invoker; SECURITY DEFINER functions are narrow, owned
--     by keel_owner and pin search_path.

-- Nothing is executable or usable by PUBLIC unless granted below.
REVOKE ALL ON SCHEMA core FROM PUBLIC;
GRANT USAGE ON SCHEMA core TO keel_app;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The tenant and user a transaction acts for, from set_config(..., true).
-- After a transaction ends a custom setting reads as '' rather than NULL: both
-- mean "unset", so a missing context fails closed (tenant_id = NULL is never
-- true).  STABLE and inlinable: the planner evaluates it once per statement
-- and can use tenant-leading indexes.
CREATE FUNCTION core.current_tenant_id() RETURNS uuid
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE FUNCTION core.current_user_id() RETURNS uuid
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;

GRANT EXECUTE ON FUNCTION core.current_tenant_id(), core.current_user_id() TO keel_app;

-- Turn on row-level security for a tenant-owned table, FORCEd so that even
-- the owner is filtered, with the one standard policy for reads and writes.
CREATE FUNCTION core.enable_tenant_rls(tbl regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
	EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
	EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
	EXECUTE format('CREATE POLICY tenant_isolation ON %s'
	               ' USING (tenant_id = (SELECT core.current_tenant_id()))'
	               ' WITH CHECK (tenant_id = (SELECT core.current_tenant_id()))', tbl);
END
$$;

-- The tenant registry.  Not a tenant-owned table (a tenant's row is keyed by
-- its own id), so its policy compares id; RLS is enabled but not forced, so
-- the narrow SECURITY DEFINER functions below, running as the owner, can
-- resolve a slug before anyone is signed in and create tenants.
CREATE TABLE core.tenants (
	id uuid PRIMARY KEY,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT tenants_slug_key UNIQUE (slug)
);

ALTER TABLE core.tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON core.tenants
	USING (id = (SELECT core.current_tenant_id()))
	WITH CHECK (id = (SELECT core.current_tenant_id()));

GRANT SELECT ON core.tenants TO keel_app;
GRANT UPDATE (name, status, version, updated_at) ON core.tenants TO keel_app;

-- Resolve a tenant by slug before sign-in.
CREATE FUNCTION core.tenant_by_slug(p_slug text)
	RETURNS TABLE (id uuid, status text)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT t.id, t.status FROM core.tenants t WHERE t.slug = p_slug $$;

-- Create a tenant (sign-up, `keel tenant create`).  The caller's transaction
-- is then scoped to the new tenant, so the owner's user row can follow in it.
-- The scope is set before the INSERT: triggers on core.tenants (the audit
-- log, migration 0004) write rows of the new tenant under its policy.
CREATE FUNCTION core.create_tenant(p_id uuid, p_name text, p_slug text)
	RETURNS core.tenants
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t core.tenants;
BEGIN
	PERFORM set_config('app.tenant_id', p_id::text, true);
	INSERT INTO core.tenants (id, name, slug) VALUES (p_id, p_name, p_slug) RETURNING * INTO t;
	RETURN t;
END
$$;

GRANT EXECUTE ON FUNCTION core.tenant_by_slug(text), core.create_tenant(uuid, text, text)
	TO keel_app;

-- Which migrations are applied, for serve's readiness check: keel_app has no
-- access to core.schema_migrations itself.
CREATE FUNCTION core.migration_state()
	RETURNS TABLE (version integer, checksum text)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT m.version, m.checksum FROM core.schema_migrations m ORDER BY m.version $$;

GRANT EXECUTE ON FUNCTION core.migration_state() TO keel_app;
