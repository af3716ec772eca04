-- 0005 events: revert.
DROP SCHEMA events CASCADE;
