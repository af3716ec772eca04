/*
 * keel access: the roles, the principal, and the route-level role check,
 * below every feature module.
 *
 * A route declares the least role that may call it (keel_route.min_role);
 * the authenticator sets the request's principal from its token and refuses
 * a role claim below the route's (keel_access_check_route), and the
 * request's transaction checks the user's role as the database has it now
 * (svc, auth.acting_role), which then replaces the claim
 * (keel_access_set_role).  The names are the database's own: auth.users'
 * CHECK and auth.role_names() (migrations 0002, 0007) list the same four in
 * the same order, which access_test checks.
 *
 * access sits above http: the principal rides in the request's caller slot
 * (keel_req_set_caller), which http sees only as an opaque value and a
 * tenant id for its log lines.
 */
#ifndef KEEL_ACCESS_ACCESS_H
#define KEEL_ACCESS_ACCESS_H

#include "http/http.h"

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

/* The names, highest first, NULL-terminated: the choices of a role field (keel_field_spec). */
extern const char *const keel_role_choices[];

/* Who is calling, once the authenticator accepted the request. */
typedef struct keel_principal {
	const char *tenant_id; /* canonical UUID text, or NULL */
	const char *user_id;   /* canonical UUID text, or NULL */
	keel_role role;
} keel_principal;

/* Make p (copied into the request arena) the request's principal. */
void keel_access_set_principal(keel_req *req, const keel_principal *p);

/* The request's principal; never NULL (all NULL and KEEL_ROLE_NONE before one is set). */
const keel_principal *keel_access_principal(const keel_req *req);

/* The principal's role as the database has it now (svc, once the request's transaction has
 * read it). */
void keel_access_set_role(keel_req *req, keel_role role);

/*
 * The route-level role check: KEEL_OK when the principal's role is at least
 * route->min_role; otherwise the request fails with 403 (return the result).
 */
keel_err keel_access_check_route(keel_req *req, const keel_route *route);

#endif
