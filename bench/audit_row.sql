-- bench/audit: the row-level alternative to audit.log_change() (which is
-- statement-level, with transition tables), for measuring only: it is not
-- in the migrations.  One call per changed row; same columns, same rules
-- (excluded columns, nothing for an unchanged row).
CREATE FUNCTION audit.log_change_row() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	excluded text[] := TG_ARGV[1]::text[];
	o jsonb;
	n jsonb;
	ts timestamptz := clock_timestamp();
BEGIN
	IF TG_OP <> 'INSERT' THEN
		o := to_jsonb(OLD);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		n := to_jsonb(NEW);
	END IF;
	IF o = n THEN
		RETURN NULL; -- an UPDATE that changed nothing
	END IF;
	INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name, table_name,
	                        record_id, old, new, changed_fields, request_id, trace_id,
	                        client_addr, txid)
	VALUES ((coalesce(n, o) ->> TG_ARGV[0])::uuid, audit.uuid_v7(ts), ts, core.current_user_id(),
	        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME, (coalesce(n, o) ->> 'id')::uuid, o - excluded,
	        n - excluded,
	        CASE WHEN TG_OP = 'UPDATE' THEN
	            ARRAY(SELECT e.key FROM jsonb_each(n) e
	                  WHERE e.value IS DISTINCT FROM o -> e.key AND e.key <> ALL (excluded)
	                  ORDER BY e.key)
	        END,
	        nullif(current_setting('app.request_id', true), ''),
	        nullif(current_setting('app.trace_id', true), ''),
	        nullif(current_setting('app.client_addr', true), '')::inet, txid_current());
	RETURN NULL;
END
$$;

-- Switch org.organizations between the modes: 'off', 'row' (the function
-- above) and 'statement' (audit.enable: what keel ships).
CREATE FUNCTION public.bench_audit_mode(mode text) RETURNS void
	LANGUAGE plpgsql
	SET client_min_messages = warning
	AS $$
BEGIN
	PERFORM audit.disable('org.organizations');
	DROP TRIGGER IF EXISTS audit_row ON org.organizations;
	IF mode = 'row' THEN
		CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON org.organizations
			FOR EACH ROW EXECUTE FUNCTION audit.log_change_row('tenant_id', '{}');
	ELSIF mode = 'statement' THEN
		PERFORM audit.enable('org.organizations');
	END IF;
END
$$;

-- keel makes UUIDv7 ids; so does the benchmark, so that index locality is the same.
CREATE FUNCTION public.bench_uuid_v7() RETURNS uuid
	LANGUAGE sql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT audit.uuid_v7(clock_timestamp()) $$;
GRANT USAGE ON SCHEMA public TO keel_app;
GRANT EXECUTE ON FUNCTION public.bench_uuid_v7() TO keel_app;
