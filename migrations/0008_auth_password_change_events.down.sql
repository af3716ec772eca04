-- 0007 auth: revert.  Events of the two new kinds are security records and
-- stay (row-level security hides them from a statement without a tenant in
-- any case): the previous check comes back NOT VALID, for new rows only.

ALTER TABLE auth.security_events DROP CONSTRAINT security_events_kind_check;
ALTER TABLE auth.security_events ADD CONSTRAINT security_events_kind_check
	CHECK (kind IN ('sign_in_succeeded', 'sign_in_failed', 'sign_in_throttled', 'refresh_reused',
	                'password_changed', 'signed_out')) NOT VALID;
