/*
 * keel tenancy: tenant sign-up and the caller's tenant.
 */
#ifndef KEEL_TENANCY_TENANCY_H
#define KEEL_TENANCY_TENANCY_H

#include <stdbool.h>

#include "auth/auth.h"
#include "db/db.h"
#include "http/http.h"

typedef struct keel_tenancy {
	keel_db_pool *pool; /* borrowed */
	keel_auth *auth;    /* borrowed: owner creation and password hashing */
	bool signup_open;   /* KEEL_SIGNUP */
} keel_tenancy;

/* POST /api/v1/tenants, GET and PATCH /api/v1/tenant. */
void keel_tenancy_routes(keel_router *r, keel_tenancy *t);

/*
 * Create a tenant and its first owner in one transaction on db (for
 * `keel tenant create`); hash is the owner's password hash.  *out gets
 * {"tenant": {...}, "owner": {...}}.  KEEL_ECONFLICT when the slug is taken.
 */
keel_err keel_tenancy_create(keel_db *db, keel_arena *arena, const char *name, const char *slug,
                             const char *owner_email, const char *hash, json_t **out);

/*
 * Suspend or resume the tenant of slug (`keel tenant suspend|resume`), on a
 * connection of the owner role.  A suspended tenant's requests get 403
 * (GET /api/v1/tenant excepted), its refresh tokens and sign-ins 401; nothing
 * is deleted, and resuming restores access as it was.  *out gets the tenant
 * (owned by arena);
 * *changed is false when it already was in that state.  KEEL_ENOTFOUND: no
 * such tenant.
 */
keel_err keel_tenancy_suspend(keel_db *db, keel_arena *arena, const char *slug, bool suspend,
                              const char *reason, json_t **out, bool *changed);

/*
 * Sign-up's checks of body ({"name", "slug", "owner_email", "owner_password"}):
 * each problem appended to errors (a field-error collector, see
 * keel_json_check), trimmed values replaced in body, as POST /api/v1/tenants
 * makes them. Returns the number of problems.
 */
size_t keel_tenancy_signup_check(json_t *body, json_t *errors);

#endif
