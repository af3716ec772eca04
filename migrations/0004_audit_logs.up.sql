-- 0004 audit: every change of a tenant-owned table, recorded by the database
-- itself in the transaction that made it (docs/audit.md).
--
--   * audit.logs is partitioned by month on occurred_at (UTC months), with a
--     default partition as a safety net for rows no month partition takes.
--     `keel audit maintain` creates the coming months' partitions ahead of
--     time and `keel audit prune` detaches and drops whole old ones.
--   * One trigger function, audit.log_change(), attached to a table with
--     SELECT audit.enable('schema.table', '{secret_column, ...}'): excluded
--     columns never reach audit.logs (old, new or changed_fields).  A second
--     one turns sign-in and token events (auth.security_events) into audit
--     rows whose action names the event (SIGN_IN_SUCCEEDED, ...).
--   * Both are SECURITY DEFINER: keel_app has no INSERT, UPDATE, DELETE or
--     TRUNCATE on audit.logs, only SELECT through the standard tenant policy.
--     The owner is filtered too (FORCEd), so the rows a trigger writes must
--     belong to the transaction's tenant: the WITH CHECK proves it.
--   * Statement-level triggers with transition tables, not row-level ones:
--     as cheap for the single-row writes of the API, much cheaper for
--     multi-row statements (cascades, bulk changes); bench/audit measured
--     both (docs/audit.md has the figures).

CREATE SCHEMA audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO keel_app;

-- id is a UUIDv7 made of occurred_at's millisecond; the primary key serves
-- the API's newest-first keyset pages, (tenant_id, occurred_at, id).  No
-- foreign key to core.tenants: audit rows outlive what they describe and go
-- only by retention, a whole partition at a time.
CREATE TABLE audit.logs (
	tenant_id uuid NOT NULL,
	id uuid NOT NULL,
	occurred_at timestamptz NOT NULL,
	actor_id uuid,
	action text NOT NULL,
	schema_name text NOT NULL,
	table_name text NOT NULL,
	record_id uuid,
	old jsonb,
	new jsonb,
	changed_fields text[],
	request_id text,
	trace_id text,
	client_addr inet,
	txid bigint NOT NULL,
	PRIMARY KEY (tenant_id, occurred_at, id)
) PARTITION BY RANGE (occurred_at);

-- audit.history() and ?record_id=; audit.user_activity() and ?actor_id=.
CREATE INDEX logs_tenant_id_record_id_occurred_at_idx
	ON audit.logs (tenant_id, record_id, occurred_at, id);
CREATE INDEX logs_tenant_id_actor_id_occurred_at_idx
	ON audit.logs (tenant_id, actor_id, occurred_at, id);

SELECT core.enable_tenant_rls('audit.logs');
GRANT SELECT ON audit.logs TO keel_app;

-- Rows whose month has no partition yet.  Normally empty: `keel audit
-- maintain` creates partitions months ahead and moves any rows found here
-- into the partition it creates for them.
CREATE TABLE audit.logs_default PARTITION OF audit.logs DEFAULT;
SELECT core.enable_tenant_rls('audit.logs_default');

-- A version 7 UUID whose timestamp is ts (RFC 9562: 48 bits of Unix
-- milliseconds, version and variant bits, the rest random).
CREATE FUNCTION audit.uuid_v7(ts timestamptz) RETURNS uuid
	LANGUAGE sql VOLATILE PARALLEL SAFE
	AS $$
	SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
		PLACING substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3)
		FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

-- The trigger function of every audited table, attached by audit.enable()
-- below as three statement-level triggers (AFTER INSERT / UPDATE / DELETE)
-- with transition tables: one INSERT ... SELECT per statement writes the
-- audit rows of all the rows it changed.  TG_ARGV[0]: the column holding the
-- row's tenant (tenant_id; id for core.tenants); TG_ARGV[1]: the excluded
-- columns, a text[] literal.
--
-- The row's tenant, not app.tenant_id, is the audit row's tenant: the two are
-- the same for every write keel_app can make (the table's own policy), and
-- the WITH CHECK of audit.logs rejects any write where they differ, except
-- in PostgreSQL's own foreign-key cascades, which run without the owner's
-- FORCE (deleting a tenant as the owner records its rows' deletions under
-- their tenants).  Actor, request id, trace id and client address come from
-- the transaction's settings (keel_tx_begin); all rows of one statement share
-- occurred_at and txid.  An UPDATE's old and new rows are paired by (tenant,
-- id); a row left as it was records nothing, one whose only change is in
-- excluded columns is recorded with empty changed_fields, and one whose id
-- changed (keel never does) is recorded unpaired, old and new in two rows.
-- Each row's to_jsonb() is computed once (OFFSET 0 keeps the subqueries from
-- being flattened into every expression that uses them).
CREATE FUNCTION audit.log_change() RETURNS trigger
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
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT (n.j ->> tcol)::uuid, audit.uuid_v7(ts), ts, actor, TG_OP, TG_TABLE_SCHEMA,
		       TG_TABLE_NAME, (n.j ->> 'id')::uuid, NULL, n.j - excluded, NULL, req, trace, addr,
		       txid_current()
		FROM (SELECT to_jsonb(r) AS j FROM new_rows r OFFSET 0) n;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT (o.j ->> tcol)::uuid, audit.uuid_v7(ts), ts, actor, TG_OP, TG_TABLE_SCHEMA,
		       TG_TABLE_NAME, (o.j ->> 'id')::uuid, o.j - excluded, NULL, NULL, req, trace, addr,
		       txid_current()
		FROM (SELECT to_jsonb(r) AS j FROM old_rows r OFFSET 0) o;
	ELSE
		INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name,
		                        table_name, record_id, old, new, changed_fields, request_id,
		                        trace_id, client_addr, txid)
		SELECT (coalesce(n.j, o.j) ->> tcol)::uuid, audit.uuid_v7(ts), ts, actor, TG_OP,
		       TG_TABLE_SCHEMA, TG_TABLE_NAME, (coalesce(n.j, o.j) ->> 'id')::uuid,
		       o.j - excluded, n.j - excluded,
		       ARRAY(SELECT e.key FROM jsonb_each(n.j) e
		             WHERE e.value IS DISTINCT FROM o.j -> e.key AND e.key <> ALL (excluded)
		             ORDER BY e.key),
		       req, trace, addr, txid_current()
		FROM (SELECT to_jsonb(r) AS j FROM old_rows r OFFSET 0) o
		FULL JOIN (SELECT to_jsonb(r) AS j FROM new_rows r OFFSET 0) n
		  ON n.j -> 'id' = o.j -> 'id' AND n.j -> tcol = o.j -> tcol
		WHERE o.j IS DISTINCT FROM n.j;
	END IF;
	RETURN NULL;
END
$$;

-- Stop auditing tbl (its rows already recorded stay).
CREATE FUNCTION audit.disable(tbl regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	SET client_min_messages = warning
	AS $$
BEGIN
	EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS audit_update ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS audit_delete ON %s', tbl);
END
$$;

-- Audit every INSERT, UPDATE and DELETE of tbl from now on; excluded columns
-- (secrets) never reach audit.logs.  The table needs a uuid id column and a
-- tenant_id column (core.tenants, the registry, is its own tenant: id).
-- Attaching again replaces the triggers, with the new exclusions.
CREATE FUNCTION audit.enable(tbl regclass, excluded_columns text[] DEFAULT '{}') RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	tenant_col text := CASE WHEN tbl = 'core.tenants'::regclass THEN 'id' ELSE 'tenant_id' END;
	missing text;
	args text := format('%L, %L', tenant_col, excluded_columns);
BEGIN
	SELECT c INTO missing FROM unnest(ARRAY[tenant_col, 'id'] || excluded_columns) c
	WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = c
	                  AND a.attnum > 0 AND NOT a.attisdropped
	                  AND (c = ANY (excluded_columns) OR a.atttypid = 'uuid'::regtype))
	LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'audit.enable: % has no column % (of type uuid, unless excluded)', tbl, missing;
	END IF;
	PERFORM audit.disable(tbl);
	EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON %s'
	               ' REFERENCING NEW TABLE AS new_rows'
	               ' FOR EACH STATEMENT EXECUTE FUNCTION audit.log_change(%s)', tbl, args);
	EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON %s'
	               ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
	               ' FOR EACH STATEMENT EXECUTE FUNCTION audit.log_change(%s)', tbl, args);
	EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON %s'
	               ' REFERENCING OLD TABLE AS old_rows'
	               ' FOR EACH STATEMENT EXECUTE FUNCTION audit.log_change(%s)', tbl, args);
END
$$;


-- Sign-in and token events become audit rows whose action names the event:
-- SIGN_IN_SUCCEEDED, SIGN_IN_FAILED, SIGN_IN_THROTTLED, REFRESH_REUSED,
-- PASSWORD_CHANGED, SIGNED_OUT.  An event is not a change of a row, so it
-- has its own trigger: new is the event, and the actor is the signed-in user
-- or, before sign-in, the account the event is about (none for an unknown
-- email).  auth.security_events stays the throttle's counter; this copy is
-- what the audit log and its retention hold.
CREATE FUNCTION audit.log_security_event() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	ts timestamptz := clock_timestamp();
BEGIN
	INSERT INTO audit.logs (tenant_id, id, occurred_at, actor_id, action, schema_name, table_name,
	                        record_id, old, new, changed_fields, request_id, trace_id,
	                        client_addr, txid)
	VALUES (NEW.tenant_id, audit.uuid_v7(ts), ts, coalesce(core.current_user_id(), NEW.user_id),
	        upper(NEW.kind), TG_TABLE_SCHEMA, TG_TABLE_NAME, NEW.id, NULL, to_jsonb(NEW), NULL,
	        coalesce(nullif(current_setting('app.request_id', true), ''), NEW.request_id),
	        nullif(current_setting('app.trace_id', true), ''),
	        coalesce(NEW.client_addr, nullif(current_setting('app.client_addr', true), '')::inet),
	        txid_current());
	RETURN NULL;
END
$$;

-- ---- partitions and retention (run as the owner: `keel audit maintain|prune`) ----

-- Every partition of audit.logs with its range and size; the default
-- partition has no range.
CREATE FUNCTION audit.partitions()
	RETURNS TABLE (name text, range_from timestamptz, range_to timestamptz, bytes bigint,
	               is_default boolean)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
	SET DateStyle = 'ISO, YMD'
	AS $$
	SELECT c.oid::regclass::text,
	       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
	       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz,
	       pg_total_relation_size(c.oid),
	       pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'audit.logs'::regclass
	ORDER BY 2 NULLS LAST
$$;

-- Create the partition of the UTC month containing p_month, named
-- audit.logs_YYYYMM; returns its name, or NULL when it exists already.
--
-- Concurrent traffic: the table is made outside the partition tree and
-- attached, which takes SHARE UPDATE EXCLUSIVE on audit.logs (writes go on)
-- and ACCESS EXCLUSIVE on the default partition for the instant of the
-- attach (CREATE TABLE ... PARTITION OF would lock all of audit.logs).
-- Rows the default partition holds for the month move into the new
-- partition first.  Lock waits are bounded (lock_timeout) and retried.
CREATE FUNCTION audit.create_partition(p_month date) RETURNS text
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
	SET DateStyle = 'ISO, YMD'
	SET lock_timeout = '1s'
	SET client_min_messages = warning
	AS $$
DECLARE
	first date := date_trunc('month', p_month)::date;
	lo timestamptz := first::timestamp AT TIME ZONE 'UTC';
	hi timestamptz := (first + interval '1 month')::timestamp AT TIME ZONE 'UTC';
	part text := format('logs_%s', to_char(first, 'YYYYMM'));
	dflt regclass;
BEGIN
	FOR attempt IN 1..3 LOOP
		BEGIN
			PERFORM pg_advisory_xact_lock(hashtextextended('keel audit maintenance', 0));
			IF to_regclass(format('audit.%I', part)) IS NOT NULL THEN
				RETURN NULL;
			END IF;
			EXECUTE format('CREATE TABLE audit.%I (LIKE audit.logs INCLUDING ALL)', part);
			EXECUTE format('ALTER TABLE audit.%I ADD CONSTRAINT %I'
			               ' CHECK (occurred_at >= %L AND occurred_at < %L)',
			               part, part || '_range', lo, hi);
			SELECT p.partdefid::regclass INTO dflt FROM pg_partitioned_table p
			WHERE p.partrelid = 'audit.logs'::regclass AND p.partdefid <> 0;
			IF dflt IS NOT NULL THEN
				-- The attach takes this lock anyway; taken first, nothing new lands in the
				-- month meanwhile.  The owner sees every tenant's rows only while FORCE is off,
				-- inside this transaction.
				EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', dflt);
				EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', dflt);
				EXECUTE format('WITH moved AS (DELETE FROM %s WHERE occurred_at >= %L'
				               ' AND occurred_at < %L RETURNING *)'
				               ' INSERT INTO audit.%I SELECT * FROM moved', dflt, lo, hi, part);
				EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', dflt);
			END IF;
			PERFORM core.enable_tenant_rls(format('audit.%I', part)::regclass);
			EXECUTE format('ALTER TABLE audit.logs ATTACH PARTITION audit.%I'
			               ' FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
			EXECUTE format('ALTER TABLE audit.%I DROP CONSTRAINT %I', part, part || '_range');
			RETURN 'audit.' || part;
		EXCEPTION WHEN lock_not_available THEN
			IF attempt = 3 THEN
				RAISE;
			END IF;
			PERFORM pg_sleep(0.2 * attempt);
		END;
	END LOOP;
	RETURN NULL;
END
$$;

-- Partitions for the current UTC month and the next months_ahead; returns
-- the ones it created.
CREATE FUNCTION audit.maintain(months_ahead integer DEFAULT 3) RETURNS SETOF text
	LANGUAGE sql
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT p FROM generate_series(0, months_ahead) m,
	       LATERAL audit.create_partition((date_trunc('month', now() AT TIME ZONE 'UTC')
	                                       + make_interval(months => m))::date) p
	WHERE p IS NOT NULL
$$;

-- Detach and drop partition part when all of its range lies before cutoff;
-- returns whether it did.  Never the default partition, never a row DELETE.
-- PostgreSQL refuses DETACH ... CONCURRENTLY while a default partition
-- exists, so the detach takes ACCESS EXCLUSIVE on audit.logs for the instant
-- of the catalog change; lock waits are bounded (lock_timeout) and retried,
-- so traffic queues behind it for at most that long.
CREATE FUNCTION audit.drop_partition(part regclass, cutoff timestamptz) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	SET lock_timeout = '1s'
	AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM audit.partitions() p
	               WHERE p.name = part::text AND NOT p.is_default AND p.range_to <= cutoff) THEN
		RETURN false;
	END IF;
	FOR attempt IN 1..3 LOOP
		BEGIN
			PERFORM pg_advisory_xact_lock(hashtextextended('keel audit maintenance', 0));
			EXECUTE format('ALTER TABLE audit.logs DETACH PARTITION %s', part);
			EXECUTE format('DROP TABLE %s', part);
			RETURN true;
		EXCEPTION WHEN lock_not_available THEN
			IF attempt = 3 THEN
				RAISE;
			END IF;
			PERFORM pg_sleep(0.2 * attempt);
		END;
	END LOOP;
	RETURN false;
END
$$;

-- ---- operator queries ----
--
-- Both are SECURITY INVOKER and read audit.logs under its policy: the caller
-- sees the rows of the tenant set in app.tenant_id and nothing without one,
-- keel_owner included.  Operators run them as keel_owner after
-- SELECT set_config('app.tenant_id', '<tenant>', false); keel_app has no
-- EXECUTE on them (the API has its own statements).

-- Every change of one row of a table ('schema.table'), newest first.
CREATE FUNCTION audit.history(tbl text, record uuid) RETURNS SETOF audit.logs
	LANGUAGE sql STABLE
	AS $$
	SELECT l.* FROM audit.logs l
	WHERE l.tenant_id = core.current_tenant_id() AND l.record_id = record
	  AND l.schema_name = split_part(tbl, '.', 1) AND l.table_name = split_part(tbl, '.', 2)
	ORDER BY l.occurred_at DESC, l.id DESC
$$;

-- What one user did in [since, until), oldest first.
CREATE FUNCTION audit.user_activity(actor uuid, since timestamptz, until timestamptz)
	RETURNS SETOF audit.logs
	LANGUAGE sql STABLE
	AS $$
	SELECT l.* FROM audit.logs l
	WHERE l.tenant_id = core.current_tenant_id() AND l.actor_id = actor
	  AND l.occurred_at >= since AND l.occurred_at < until
	ORDER BY l.occurred_at, l.id
$$;

-- ---- what is audited ----

SELECT audit.enable('core.tenants');
SELECT audit.enable('auth.users', '{password_hash}');
SELECT audit.enable('auth.refresh_tokens', '{token_hash}');
SELECT audit.enable('org.organizations');
SELECT audit.enable('org.divisions');
-- Not core.idempotency_keys: a 24-hour replay cache whose response copies
-- what the organizations' and divisions' own audit rows already hold.

CREATE TRIGGER audit_event AFTER INSERT ON auth.security_events
	FOR EACH ROW EXECUTE FUNCTION audit.log_security_event();

SELECT audit.maintain(3);
