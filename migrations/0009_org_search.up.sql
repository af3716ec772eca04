-- 0009 org: the ?q= search index leads with the tenant.
--
-- 0003 indexed the trigrams of org.organization_search alone, so a search
-- fetched the matching rows of every tenant and only then dropped the other
-- tenants' ones: one tenant's search cost grew with the other tenants'
-- names.  Here tenant_id is the first column of the GIN index (btree_gin
-- gives uuid a GIN operator class), and org.search_organizations(), which
-- already names tenant_id = core.current_tenant_id(), uses it for both
-- conditions: the index intersects the tenant's entry with the pattern's
-- trigrams and hands over only the tenant's rows.
--
-- fastupdate is off: a pending list holds recent entries of every tenant,
-- unsorted, and each search would read all of it (up to 4 MB) -- and the
-- planner, counting those pages, would turn away from the index (to a Seq
-- Scan of every tenant's rows).  Each write of an organization's name or code
-- updates the index at once instead: about 2 ms more per insert on a loaded
-- 2-core box, for organizations, which are written far less than searched.
--
-- A pattern without a trigram (fewer than three letters or digits in a row)
-- would make the trigram column match everything, a scan of every tenant's
-- entries; keel never sends one here (src/org/org_store.c).
--
-- btree_gin is trusted, like pg_trgm (0003), so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE INDEX organization_search_tenant_id_text_idx ON org.organization_search
	USING gin (tenant_id, text gin_trgm_ops) WITH (fastupdate = off);
DROP INDEX org.organization_search_text_idx;
