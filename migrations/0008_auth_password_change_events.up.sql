-- 0008 auth: wrong current passwords on record (src/auth/README.md).
--
-- A password change with a wrong current password counts against the same
-- per-account limit as a failed sign-in (5 in 15 minutes), so a stolen access
-- token cannot be used to guess the password: each such failure is a
-- password_change_failed event, and a change refused by the limit a
-- password_change_throttled one.  A password change in progress is an
-- attempt of auth.sign_in_attempts like a sign-in.

ALTER TABLE auth.security_events DROP CONSTRAINT security_events_kind_check;
ALTER TABLE auth.security_events ADD CONSTRAINT security_events_kind_check
	CHECK (kind IN ('sign_in_succeeded', 'sign_in_failed', 'sign_in_throttled', 'refresh_reused',
	                'password_changed', 'password_change_failed', 'password_change_throttled',
	                'signed_out'));
