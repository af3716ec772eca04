-- 0011 audit: timestamps inside the log's row images in the API's one form.
--
-- The audit trigger (0004) stores a row image as to_jsonb(row), which writes a
-- timestamptz as "2026-12-07T16:05:31.123456+00:00" (microseconds, the
-- writing session's offset); every other timestamp keel answers is RFC 3339
-- UTC with milliseconds, "2026-12-07T16:05:31.123Z".  The images are made
-- uniform when they are read (GET /api/v1/audit-logs), not when written:
--   * an audited write costs what it cost: the trigger's work is already the
--     larger part of a single-row UPDATE (docs/audit.md, 1.6x by CPU), and
--     rewriting each image's timestamps there would add to every write;
--   * rows written before this migration, or by a session with another
--     TimeZone, read the same as new ones: the stored images stay exactly
--     what the trigger captured (no rewrite of a 6 GB partitioned table);
--   * a page is at most 200 rows, each image a few jsonb_set() calls.
-- Which values are timestamps is known from the column types of the audited
-- table (pg_attribute), never guessed from a string's look: only the
-- timestamptz columns of a table with an audit trigger are rewritten, and
-- only when the value is a date-time as to_jsonb() writes it (anything else,
-- such as 'infinity', is left as stored; a LIKE, not a regular expression,
-- which would cost more than the rewrite).

-- The timestamptz columns of every table with an audit trigger (audit.enable's
-- and auth.security_events'), as {"schema.table": "{col,...}"}: a text[]
-- literal per table, which audit.uniform_image() casts instead of querying.
-- The API's statements call it once per page, as an initplan.
CREATE FUNCTION audit.timestamp_columns() RETURNS jsonb
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	-- PL/pgSQL, not SQL: its plan is kept for the session, where a SQL function's
	-- body would be planned again at every page.
	RETURN (SELECT coalesce(jsonb_object_agg(t.name, t.cols), '{}')
	        FROM (SELECT n.nspname || '.' || c.relname AS name,
	                     array_agg(a.attname::text ORDER BY a.attnum)::text AS cols
	              FROM (SELECT DISTINCT g.tgrelid FROM pg_trigger g
	                    WHERE g.tgfoid IN ('audit.log_change()'::regprocedure,
	                                       'audit.log_security_event()'::regprocedure)) r
	              JOIN pg_class c ON c.oid = r.tgrelid
	              JOIN pg_namespace n ON n.oid = c.relnamespace
	              JOIN pg_attribute a ON a.attrelid = c.oid
	              WHERE a.attnum > 0 AND NOT a.attisdropped
	                AND a.atttypid = 'timestamptz'::regtype
	              GROUP BY 1) t);
END
$$;

-- img with each column of cols (a text[] literal, from audit.timestamp_columns())
-- that holds a date-time ("YYYY-MM-DDT...", as to_jsonb() writes it) rewritten
-- as RFC 3339 UTC with milliseconds: the form of KEEL_DB_TS (src/db/db.h).
CREATE FUNCTION audit.uniform_image(img jsonb, cols text) RETURNS jsonb
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	AS $$
DECLARE
	col text;
	v text;
BEGIN
	IF img IS NULL OR cols IS NULL THEN
		RETURN img;
	END IF;
	FOREACH col IN ARRAY cols::text[] LOOP
		v := img ->> col;
		IF v LIKE '____-__-__T%' THEN
			img := jsonb_set(img, ARRAY[col], to_jsonb(to_char(v::timestamptz AT TIME ZONE 'UTC',
			                                                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
		END IF;
	END LOOP;
	RETURN img;
END
$$;

GRANT EXECUTE ON FUNCTION audit.timestamp_columns(), audit.uniform_image(jsonb, text) TO keel_app;
