-- 0012 org: revert.
DROP FUNCTION core.json_compact(jsonb);
DROP TYPE org.division_json;
DROP TYPE org.organization_json;
