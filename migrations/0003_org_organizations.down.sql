-- 0003 org: revert.
DROP TABLE core.idempotency_keys;
DROP SCHEMA org CASCADE;
DROP EXTENSION IF EXISTS pg_trgm;
