/*
 * keel access: the roles, below every feature module.
 *
 * A route declares the least role that may call it (keel_route.min_role);
 * the authenticator refuses a token whose role claim is below it, and the
 * request's transaction checks the user's role as the database has it now
 * (svc, auth.acting_role).  The names are the database's own: auth.users'
 * CHECK and auth.role_names() (migrations 0002, 0007) list the same four in
 * the same order, which access_test checks.
 */
#ifndef KEEL_ACCESS_ACCESS_H
#define KEEL_ACCESS_ACCESS_H

/* Roles, ordered: a route's min_role is the least role that may call it. */
typedef enum keel_role {
	KEEL_ROLE_NONE = 0,
	KEEL_ROLE_VIEWER = 1,
	KEEL_ROLE_MEMBER = 2,
	KEEL_ROLE_ADMIN = 3,
	KEEL_ROLE_OWNER = 4,
} keel_role;

#define KEEL_ROLE_COUNT 4 /* viewer .. owner */

/* "viewer" .. "owner"; "none" for anything else. */
const char *keel_role_name(int role);

/* KEEL_ROLE_NONE when s (may be NULL) names no role. */
keel_role keel_role_parse(const char *s);

#endif
