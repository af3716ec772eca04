-- 0008 org: revert.
CREATE INDEX organization_search_text_idx ON org.organization_search
	USING gin (text gin_trgm_ops);
DROP INDEX org.organization_search_tenant_id_text_idx;
DROP EXTENSION IF EXISTS btree_gin;
