DROP FUNCTION auth.acting_role(integer, boolean);
DROP FUNCTION auth.role_rank(text);
DROP FUNCTION auth.role_names();
GRANT UPDATE (status) ON core.tenants TO keel_app;
ALTER TABLE core.tenants
	DROP CONSTRAINT tenants_suspension_check,
	DROP COLUMN suspended_reason,
	DROP COLUMN suspended_at;
