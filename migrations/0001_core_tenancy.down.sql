-- 0001 core: revert the tenancy foundation.  The schema itself stays: it
-- holds core.schema_migrations.
DROP FUNCTION core.migration_state();
DROP FUNCTION core.create_tenant(uuid, text, text);
DROP FUNCTION core.tenant_by_slug(text);
DROP TABLE core.tenants;
DROP FUNCTION core.enable_tenant_rls(regclass);
DROP FUNCTION core.current_user_id();
DROP FUNCTION core.current_tenant_id();
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
REVOKE USAGE ON SCHEMA core FROM keel_app;
