-- 0019 hr, reverted: the schema and everything in it.
DROP SCHEMA hr CASCADE;
