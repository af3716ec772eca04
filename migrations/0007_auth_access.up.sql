-- 0007 auth: every authenticated request acts as its user is now.
--
-- An access token names a user; what that user may do is read from the
-- database in the request's own transaction, not from the token.  keel calls
-- auth.acting_role() in the statement that makes the transaction's settings,
-- right after them (no statement or round trip of its own).  It
-- raises, and so stops everything after it in the transaction, when the user
-- is disabled or deleted (KA401), when the tenant is suspended (KA423) or
-- when the user's role is below what the request needs (KA403).
--
-- Suspension is the operator's (`keel tenant suspend|resume`, run as the
-- owner role): keel_app loses the right to change a tenant's status.

ALTER TABLE core.tenants
	ADD COLUMN suspended_at timestamptz,
	ADD COLUMN suspended_reason text CHECK (char_length(suspended_reason) <= 500),
	ADD CONSTRAINT tenants_suspension_check
		CHECK ((status = 'suspended') = (suspended_at IS NOT NULL)
		       AND (suspended_reason IS NULL OR status = 'suspended'));

REVOKE UPDATE (status) ON core.tenants FROM keel_app;

-- The roles from the least to the most (src/access's keel_role numbers them
-- 1..4 in this order; auth.users' CHECK lists the same names: access_test).
CREATE FUNCTION auth.role_names() RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT ARRAY['viewer', 'member', 'admin', 'owner'] $$;

-- The rank of role (viewer 1 .. owner 4), NULL for no role.
CREATE FUNCTION auth.role_rank(p_role text) RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT array_position(auth.role_names(), p_role) $$;

-- The calling user's role rank, now; raises unless the user is active, the
-- tenant is active (or p_suspended_ok) and the rank is at least p_min.  The
-- settings are read once into variables: compared row by row, current_setting()
-- would be called for every row a scan looks at.
CREATE FUNCTION auth.acting_role(p_min integer, p_suspended_ok boolean) RETURNS integer
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	v_tenant uuid := core.current_tenant_id();
	v_user uuid := core.current_user_id();
	v_rank integer;
	v_status text;
BEGIN
	SELECT auth.role_rank(u.role), t.status INTO v_rank, v_status
	FROM auth.users u
	JOIN core.tenants t ON t.id = u.tenant_id
	WHERE u.tenant_id = v_tenant AND u.id = v_user AND u.status = 'active' AND t.id = v_tenant;
	IF v_rank IS NULL THEN
		RAISE EXCEPTION 'the user of this access token is disabled or no longer exists'
			USING ERRCODE = 'KA401';
	END IF;
	IF v_status <> 'active' AND NOT p_suspended_ok THEN
		RAISE EXCEPTION 'this tenant is suspended' USING ERRCODE = 'KA423';
	END IF;
	IF v_rank < p_min THEN
		RAISE EXCEPTION 'this requires the % role or higher', (auth.role_names())[p_min]
			USING ERRCODE = 'KA403';
	END IF;
	RETURN v_rank;
END
$$;

GRANT EXECUTE ON FUNCTION auth.role_names(), auth.role_rank(text),
	auth.acting_role(integer, boolean) TO keel_app;
