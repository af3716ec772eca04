-- 0012 org: organizations and divisions rendered by PostgreSQL in keel's one JSON style.
--
-- json_build_object() writes {"id" : "...", ...}, which keel had to rescan byte by byte to
-- make compact (about 1.9k instructions for each item of a page). row_to_json() over a
-- named row type writes the compact style itself; a jsonb member is written compact by
-- core.json_compact() (its text output has ": " and ", "), the usual empty settings
-- without a call.
CREATE TYPE org.organization_json AS (
	id uuid,
	tenant_id uuid,
	name text,
	code text,
	description text,
	status text,
	settings json,
	version integer,
	created_at text,
	updated_at text
);

CREATE TYPE org.division_json AS (
	id uuid,
	tenant_id uuid,
	organization_id uuid,
	parent_id uuid,
	name text,
	code text,
	description text,
	version integer,
	created_at text,
	updated_at text
);

-- A jsonb value as compact JSON text: what jansson's JSON_COMPACT writes for it (members
-- in jsonb's order, the same as jsonb's own text output).
CREATE FUNCTION core.json_compact(j jsonb) RETURNS json
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$
	SELECT CASE jsonb_typeof(j)
		WHEN 'object' THEN coalesce((SELECT '{' || string_agg(to_json(e.key)::text || ':'
			|| core.json_compact(e.value)::text, ',') || '}' FROM jsonb_each(j) e), '{}')::json
		WHEN 'array' THEN coalesce((SELECT '[' || string_agg(core.json_compact(e.value)::text,
			',' ORDER BY e.n) || ']' FROM jsonb_array_elements(j) WITH ORDINALITY e(value, n)),
			'[]')::json
		ELSE j::text::json
	END
$$;
GRANT EXECUTE ON FUNCTION core.json_compact(jsonb) TO keel_app;
GRANT USAGE ON TYPE org.organization_json, org.division_json TO keel_app;
