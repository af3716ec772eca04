-- 0002 auth: revert.
DROP SCHEMA auth CASCADE;
