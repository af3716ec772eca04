-- 0002 auth: users, refresh tokens, security events and sign-in throttling.

CREATE SCHEMA auth;
REVOKE ALL ON SCHEMA auth FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO keel_app;

-- Users of a tenant.  Emails are unique per tenant, case-insensitively; the
-- same email may exist in two tenants.
CREATE TABLE auth.users (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	email text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
	password_hash text NOT NULL,
	role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
	version integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	last_login_at timestamptz,
	password_changed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_tenant_id_email_idx ON auth.users (tenant_id, lower(email));
SELECT core.enable_tenant_rls('auth.users');
GRANT SELECT, INSERT, DELETE ON auth.users TO keel_app;
GRANT UPDATE (password_hash, role, status, version, updated_at, last_login_at,
              password_changed_at) ON auth.users TO keel_app;

-- Refresh tokens: only a SHA-256 of the secret part is stored.  A family is
-- the chain of rotations from one sign-in; presenting a spent token revokes
-- the whole family.
CREATE TABLE auth.refresh_tokens (
	tenant_id uuid NOT NULL,
	id uuid NOT NULL,
	user_id uuid NOT NULL,
	family_id uuid NOT NULL,
	token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	revoked_at timestamptz,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, user_id) REFERENCES auth.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_tenant_id_family_id_idx ON auth.refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_tenant_id_user_id_idx ON auth.refresh_tokens (tenant_id, user_id);
SELECT core.enable_tenant_rls('auth.refresh_tokens');
GRANT SELECT, INSERT, DELETE ON auth.refresh_tokens TO keel_app;
GRANT UPDATE (used_at, revoked_at) ON auth.refresh_tokens TO keel_app;

-- Sign-in successes and failures, refresh-token reuse, password changes:
-- with client address and user agent, never a password, hash or token.
-- Failures per account in the last 15 minutes are counted from here.
CREATE TABLE auth.security_events (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	occurred_at timestamptz NOT NULL DEFAULT now(),
	kind text NOT NULL CHECK (kind IN ('sign_in_succeeded', 'sign_in_failed', 'sign_in_throttled',
	                                   'refresh_reused', 'password_changed', 'signed_out')),
	user_id uuid,
	email text,
	client_addr inet,
	user_agent text CHECK (char_length(user_agent) <= 512),
	request_id text,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX security_events_tenant_id_email_idx
	ON auth.security_events (tenant_id, lower(email), occurred_at);
SELECT core.enable_tenant_rls('auth.security_events');
GRANT SELECT, INSERT ON auth.security_events TO keel_app;

-- Failed sign-ins per client address, across tenants.  Not tenant data: an
-- address belongs to no tenant.  keel_app has no access to the table; it
-- counts and records through the functions below.
CREATE TABLE auth.address_failures (
	client_addr inet NOT NULL,
	occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX address_failures_client_addr_occurred_at_idx
	ON auth.address_failures (client_addr, occurred_at);
REVOKE ALL ON auth.address_failures FROM PUBLIC;

-- Failures of p_addr within p_window, and the seconds until the oldest of them leaves it.
CREATE FUNCTION auth.address_failures_recent(p_addr inet, p_window interval)
	RETURNS TABLE (failures bigint, retry_after_s integer)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT count(*),
	       coalesce(ceil(extract(epoch FROM min(f.occurred_at) + p_window - now()))::integer, 0)
	FROM auth.address_failures f
	WHERE f.client_addr = p_addr AND f.occurred_at > now() - p_window
$$;

CREATE FUNCTION auth.address_failure_record(p_addr inet) RETURNS void
	LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	DELETE FROM auth.address_failures
	WHERE client_addr = p_addr AND occurred_at < now() - interval '1 hour';
	INSERT INTO auth.address_failures (client_addr) VALUES (p_addr);
$$;

GRANT EXECUTE ON FUNCTION auth.address_failures_recent(inet, interval),
	auth.address_failure_record(inet) TO keel_app;

-- Sign-ins of an account whose password is being verified right now: they
-- count against the account's limit until they end, so parallel guesses
-- cannot all slip in before the first failure is recorded.
CREATE TABLE auth.sign_in_attempts (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	email text NOT NULL,
	started_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sign_in_attempts_tenant_id_email_idx
	ON auth.sign_in_attempts (tenant_id, lower(email), started_at);
SELECT core.enable_tenant_rls('auth.sign_in_attempts');
GRANT SELECT, INSERT, DELETE ON auth.sign_in_attempts TO keel_app;
