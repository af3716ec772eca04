-- keel:no-transaction
-- 0015 fin: the closing entries' postings, indexed for the statements.
--
-- The closing entries' postings (kind 'closing', the fiscal-year close), for the
-- statements, which leave them out: they read every posting from postings_date_idx
-- alone (an index-only scan, as the trial balance does) and take these back out,
-- found here without reading the postings' rows.  Closing entries are one per
-- organization and year, so the index stays small.  Built CONCURRENTLY: posting
-- goes on while it is built on a large fin.postings.
CREATE INDEX CONCURRENTLY IF NOT EXISTS postings_closing_idx
	ON fin.postings (tenant_id, organization_id, date)
	INCLUDE (account_id, debit, credit) WHERE kind = 'closing';
