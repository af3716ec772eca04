-- 0010 core: retention of what grows without bound (docs/operations.md).
--
--   * One function per table deletes at most p_limit rows that are past
--     their retention and returns how many it deleted.  The caller (`keel
--     maintain`, serve's daily upkeep) calls it again until it deletes fewer
--     than p_limit, each call its own short transaction, so a huge backlog
--     never holds one long transaction or many row locks at once.  A tenant
--     table's function also returns the tenant it stopped in (resume), which
--     the next call starts from (p_from), so a run walks the tenants once
--     however many calls its backlog takes.
--   * They run as keel_owner (KEEL_MIGRATE_DATABASE_URL) and are not granted
--     to keel_app: a request must not be able to delete another tenant's
--     rows, nor any security event.  Not SECURITY DEFINER, so nothing here
--     runs with more rights than its caller has.
--   * Row-level security is FORCEd on the tenant tables, the owner included,
--     so the tenant tables are walked tenant by tenant, with app.tenant_id
--     set to each in turn (restored afterwards).  A tenant with nothing to
--     delete costs one index probe: no DELETE (whose statement trigger, on an
--     audited table, runs even for no row), and no planning, since the
--     statements keep their generic plans (plan_cache_mode), which the
--     tenant-leading indexes serve for every tenant alike; custom plans would
--     be planned again for each tenant, most of the cost of a walk.  That also keeps the audit
--     rows that deleting refresh tokens writes (audit.log_change) within
--     their tenant, where the WITH CHECK of audit.logs wants them; they carry
--     the request id 'retention' so that they read as what they are.
--   * The retention rules, each explained where it is made below:
--       core.idempotency_keys  created more than 24 hours ago
--       auth.address_failures  older than 1 hour
--       auth.security_events   older than p_keep (KEEL_SECURITY_EVENTS_RETENTION)
--       auth.refresh_tokens    expired or revoked more than 1 day ago

-- The deletes find their rows through these (the existing indexes lead with
-- email, client address or family, none with the time retention looks at).
CREATE INDEX security_events_tenant_id_occurred_at_idx
	ON auth.security_events (tenant_id, occurred_at);
CREATE INDEX address_failures_occurred_at_idx ON auth.address_failures (occurred_at);
-- least() ignores NULL: the earlier of expiry and revocation, or the expiry.
CREATE INDEX refresh_tokens_tenant_id_expires_at_revoked_at_idx
	ON auth.refresh_tokens (tenant_id, (least(expires_at, revoked_at)));

-- Idempotency keys: the API's contract (docs/api.md) replays the first
-- response to a retry with the same key within 24 hours, and a key older than
-- that is claimed afresh by the next request that brings it
-- (src/svc/idempotency.c), so an older row serves nothing.  Same cutoff as
-- that claim: created_at < now() - 24 hours.
CREATE FUNCTION core.retention_idempotency_keys(p_from uuid, p_limit integer,
	OUT deleted integer, OUT resume uuid)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	prev text := current_setting('app.tenant_id', true);
	cutoff timestamptz := now() - interval '24 hours';
	first uuid := coalesce(p_from, '00000000-0000-0000-0000-000000000000');
	t uuid;
	got integer;
BEGIN
	deleted := 0;
	FOR t IN SELECT id FROM core.tenants WHERE id >= first ORDER BY id LOOP
		PERFORM set_config('app.tenant_id', t::text, true);
		CONTINUE WHEN NOT EXISTS (SELECT FROM core.idempotency_keys i
		                          WHERE i.tenant_id = t AND i.created_at < cutoff);
		DELETE FROM core.idempotency_keys k
		WHERE k.ctid = ANY (ARRAY(SELECT i.ctid FROM core.idempotency_keys i
		                          WHERE i.tenant_id = t AND i.created_at < cutoff
		                          LIMIT p_limit - deleted))
		  AND k.tenant_id = t AND k.created_at < cutoff;
		GET DIAGNOSTICS got = ROW_COUNT;
		deleted := deleted + got;
		IF deleted >= p_limit THEN
			resume := t;
			EXIT;
		END IF;
	END LOOP;
	PERFORM set_config('app.tenant_id', coalesce(prev, ''), true);
END
$$;

-- Failed sign-ins per client address: the throttle counts the last minute
-- (src/auth/auth_store.c); an hour is a wide margin, and the age past which
-- auth.address_failure_record() already clears an address's own rows.
CREATE FUNCTION auth.retention_address_failures(p_limit integer) RETURNS integer
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	cutoff timestamptz := now() - interval '1 hour';
	n integer;
BEGIN
	DELETE FROM auth.address_failures f
	WHERE f.ctid = ANY (ARRAY(SELECT a.ctid FROM auth.address_failures a
	                          WHERE a.occurred_at < cutoff LIMIT p_limit))
	  AND f.occurred_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- Security events older than p_keep.  The account throttle counts failures of
-- the last 15 minutes since the last success: a success older than that
-- excludes only failures the window excludes anyway, so any p_keep of at
-- least 15 minutes leaves the throttle as it was (keel requires a day).  The
-- audit log keeps its own copy of every event (audit.log_security_event).
CREATE FUNCTION auth.retention_security_events(p_keep interval, p_from uuid, p_limit integer,
	OUT deleted integer, OUT resume uuid)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	prev text := current_setting('app.tenant_id', true);
	cutoff timestamptz := now() - p_keep;
	first uuid := coalesce(p_from, '00000000-0000-0000-0000-000000000000');
	t uuid;
	got integer;
BEGIN
	deleted := 0;
	IF p_keep < interval '15 minutes' THEN
		RAISE EXCEPTION 'security events must be kept at least 15 minutes (the throttle''s window)';
	END IF;
	FOR t IN SELECT id FROM core.tenants WHERE id >= first ORDER BY id LOOP
		PERFORM set_config('app.tenant_id', t::text, true);
		CONTINUE WHEN NOT EXISTS (SELECT FROM auth.security_events s
		                          WHERE s.tenant_id = t AND s.occurred_at < cutoff);
		DELETE FROM auth.security_events e
		WHERE e.ctid = ANY (ARRAY(SELECT s.ctid FROM auth.security_events s
		                          WHERE s.tenant_id = t AND s.occurred_at < cutoff
		                          LIMIT p_limit - deleted))
		  AND e.tenant_id = t AND e.occurred_at < cutoff;
		GET DIAGNOSTICS got = ROW_COUNT;
		deleted := deleted + got;
		IF deleted >= p_limit THEN
			resume := t;
			EXIT;
		END IF;
	END LOOP;
	PERFORM set_config('app.tenant_id', coalesce(prev, ''), true);
END
$$;

-- Refresh tokens that no client can use any more: expired, or revoked, for
-- more than a day.  A refresh presenting an expired or revoked token fails
-- before reuse detection looks at it (src/auth/auth_api.c), exactly as one
-- presenting an unknown token does, so deleting those changes no answer of
-- the refresh.  A spent (used) token that is neither stays until its expiry:
-- presenting it again is how reuse is detected and its family revoked.  The
-- day of grace keeps a just-revoked family readable for whoever looks into
-- the reuse that revoked it, and a retried sign-out answering as the first.
CREATE FUNCTION auth.retention_refresh_tokens(p_from uuid, p_limit integer,
	OUT deleted integer, OUT resume uuid)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	prev text := current_setting('app.tenant_id', true);
	prev_request text := current_setting('app.request_id', true);
	cutoff timestamptz := now() - interval '1 day';
	first uuid := coalesce(p_from, '00000000-0000-0000-0000-000000000000');
	t uuid;
	got integer;
BEGIN
	deleted := 0;
	PERFORM set_config('app.request_id', 'retention', true);
	FOR t IN SELECT id FROM core.tenants WHERE id >= first ORDER BY id LOOP
		PERFORM set_config('app.tenant_id', t::text, true);
		CONTINUE WHEN NOT EXISTS (SELECT FROM auth.refresh_tokens x WHERE x.tenant_id = t
		                          AND least(x.expires_at, x.revoked_at) < cutoff);
		DELETE FROM auth.refresh_tokens r
		WHERE r.ctid = ANY (ARRAY(SELECT x.ctid FROM auth.refresh_tokens x
		                          WHERE x.tenant_id = t
		                            AND least(x.expires_at, x.revoked_at) < cutoff
		                          LIMIT p_limit - deleted))
		  AND r.tenant_id = t AND least(r.expires_at, r.revoked_at) < cutoff;
		GET DIAGNOSTICS got = ROW_COUNT;
		deleted := deleted + got;
		IF deleted >= p_limit THEN
			resume := t;
			EXIT;
		END IF;
	END LOOP;
	PERFORM set_config('app.tenant_id', coalesce(prev, ''), true);
	PERFORM set_config('app.request_id', coalesce(prev_request, ''), true);
END
$$;

REVOKE ALL ON FUNCTION core.retention_idempotency_keys(uuid, integer),
	auth.retention_address_failures(integer),
	auth.retention_security_events(interval, uuid, integer),
	auth.retention_refresh_tokens(uuid, integer) FROM PUBLIC;
