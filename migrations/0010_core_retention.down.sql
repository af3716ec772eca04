-- 0009 core: revert.
DROP FUNCTION auth.retention_refresh_tokens(uuid, integer);
DROP FUNCTION auth.retention_security_events(interval, uuid, integer);
DROP FUNCTION auth.retention_address_failures(integer);
DROP FUNCTION core.retention_idempotency_keys(uuid, integer);
DROP INDEX auth.refresh_tokens_tenant_id_expires_at_revoked_at_idx;
DROP INDEX auth.address_failures_occurred_at_idx;
DROP INDEX auth.security_events_tenant_id_occurred_at_idx;
