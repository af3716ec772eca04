-- bench/audit: the statement-level alternative to audit.log_change(), for
-- measuring only (it is not in the migrations).  One call per statement,
-- reading the transition tables; an UPDATE's old and new rows are paired by
-- (tenant column, id).  Same columns, same rules (excluded columns, nothing
-- for an unchanged row) as the row-level trigger.  OFFSET 0 keeps each row's
-- to_jsonb() computed once (a flattened subquery would repeat it in every
-- expression that uses it).
CREATE FUNCTION audit.log_change_stmt() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	tcol text := TG_ARGV[0];
	excluded text[] := TG_ARGV[1]::text[];
	ts timestamptz := clock_timestamp();
	actor uuid := core.current_user_id();
	req text := nullif(current_setting('app.request_id', true), '');
	trace text := nullif(current_setting('app.trace_id', true), '');
	addr inet := nullif(current_setting('app.client_addr', true), '')::inet;
	xid bigint := txid_current();
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT (j ->> tcol)::uuid, audit.uuid_v7(ts), ts, actor, TG_OP, TG_TABLE_SCHEMA,
		       TG_TABLE_NAME, (j ->> 'id')::uuid, NULL, j - excluded, NULL, req, trace, addr, xid
		FROM (SELECT to_jsonb(n) AS j FROM new_rows n OFFSET 0) s;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT (j ->> tcol)::uuid, audit.uuid_v7(ts), ts, actor, TG_OP, TG_TABLE_SCHEMA,
		       TG_TABLE_NAME, (j ->> 'id')::uuid, j - excluded, NULL, NULL, req, trace, addr, xid
		FROM (SELECT to_jsonb(o) AS j FROM old_rows o OFFSET 0) s;
	ELSE
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT (b.nj ->> tcol)::uuid, audit.uuid_v7(ts), ts, actor, TG_OP, TG_TABLE_SCHEMA,
		       TG_TABLE_NAME, (b.nj ->> 'id')::uuid, a.oj - excluded, b.nj - excluded,
		       ARRAY(SELECT e.key FROM jsonb_each(b.nj) e
		             WHERE e.value IS DISTINCT FROM a.oj -> e.key AND e.key <> ALL (excluded)
		             ORDER BY e.key),
		       req, trace, addr, xid
		FROM (SELECT to_jsonb(o) AS oj FROM old_rows o OFFSET 0) a
		JOIN (SELECT to_jsonb(n) AS nj FROM new_rows n OFFSET 0) b
		  ON b.nj -> 'id' = a.oj -> 'id' AND b.nj -> tcol = a.oj -> tcol
		WHERE a.oj <> b.nj;
	END IF;
	RETURN NULL;
END
$$;

-- Switch org.organizations between the modes: 'off', 'row' (audit.enable) and 'statement'.
CREATE FUNCTION public.bench_audit_mode(mode text) RETURNS void
	LANGUAGE plpgsql
	SET client_min_messages = warning
	AS $$
BEGIN
	PERFORM audit.disable('org.organizations');
	DROP TRIGGER IF EXISTS audit_stmt_insert ON org.organizations;
	DROP TRIGGER IF EXISTS audit_stmt_update ON org.organizations;
	DROP TRIGGER IF EXISTS audit_stmt_delete ON org.organizations;
	IF mode = 'row' THEN
		PERFORM audit.enable('org.organizations');
	ELSIF mode = 'statement' THEN
		CREATE TRIGGER audit_stmt_insert AFTER INSERT ON org.organizations
			REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION audit.log_change_stmt('tenant_id', '{}');
		CREATE TRIGGER audit_stmt_update AFTER UPDATE ON org.organizations
			REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION audit.log_change_stmt('tenant_id', '{}');
		CREATE TRIGGER audit_stmt_delete AFTER DELETE ON org.organizations
			REFERENCING OLD TABLE AS old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION audit.log_change_stmt('tenant_id', '{}');
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
