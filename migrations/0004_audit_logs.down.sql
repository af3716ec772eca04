-- 0004 audit: revert.  The audit triggers of core, auth and org tables go
-- with the functions they call; the partitions with their parent.
DROP SCHEMA audit CASCADE;
