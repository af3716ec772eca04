-- keel:no-transaction
-- 0015 fin: revert.
DROP INDEX CONCURRENTLY IF EXISTS fin.postings_closing_idx;
