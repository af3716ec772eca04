-- 0012 fin: revert.
REVOKE EXECUTE ON FUNCTION audit.uuid_v7(timestamptz) FROM keel_app;
DROP SCHEMA fin CASCADE;
DROP EXTENSION IF EXISTS btree_gist;
