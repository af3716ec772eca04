/*
 * keel auth: users and roles, sign-in with JWT access tokens, refresh-token
 * rotation, and the authenticator every other module's routes go through.
 *
 * Passwords are argon2id (libsodium) hashed on a bounded pool of threads
 * while the request's connection is suspended, so a flood of sign-ins queues
 * instead of starving other requests.  Access tokens are short-lived JWTs;
 * refresh tokens are opaque, single-use, and stored only as a hash.
 */
#ifndef KEEL_AUTH_AUTH_H
#define KEEL_AUTH_AUTH_H

#include <stdbool.h>

#include "access/access.h"
#include "core/config.h"
#include "core/workpool.h"
#include "db/db.h"
#include "http/http.h"

typedef struct keel_auth keel_auth;

/*
 * Build the auth service: JWT keys from cfg (KEEL_JWT_*), password
 * parameters, the pools it uses (borrowed).  KEEL_EINVAL with a reason in err
 * when the configuration is unusable (no signing key, short secret, bad PEM).
 */
keel_err keel_auth_create(const keel_config *cfg, keel_db_pool *pool, keel_workpool *hashers,
                          keel_auth **out, char *err, size_t errlen);
void keel_auth_destroy(keel_auth *auth);

struct keel_metrics;

/* Count sign-in outcomes (keel_sign_ins_total{outcome}) in metrics. */
void keel_auth_set_metrics(keel_auth *auth, struct keel_metrics *metrics);

/* /api/v1/auth/..., /api/v1/users..., /.well-known/jwks.json. */
void keel_auth_routes(keel_router *r, keel_auth *auth);

/*
 * The authenticator (a keel_auth_fn, ctx = keel_auth): a valid bearer token
 * sets the principal (keel_access_set_principal); an X-Tenant-ID naming
 * another tenant is 403; then access's route-level role check (a role below
 * route->min_role is 403).
 */
keel_err keel_auth_authenticate(keel_req *req, const keel_route *route, void *auth);

/* ---- for tenant sign-up (the tenancy module) ---- */

/*
 * Append to errors (a field-error collector, see keel_json_check) what is
 * wrong with an email / a new password; returns the number of errors added.
 */
int keel_auth_check_email(json_t *errors, const char *field, const char *email);
int keel_auth_check_new_password(json_t *errors, const char *field, const char *password);

/* The rule keel_auth_check_new_password enforces, for a schema's description. */
extern const char keel_auth_new_password_rule[];

/*
 * The field specs of an email address and of a new password, for a body that takes one
 * (users, sign-up); keel_auth_check_email and keel_auth_check_new_password add the rules
 * the specs cannot say.
 */
#define KEEL_AUTH_EMAIL_FIELD(field_name)                                                          \
	{                                                                                              \
		.name = (field_name), .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1,     \
		.max = 254, .format = "email"                                                              \
	}
#define KEEL_AUTH_NEW_PASSWORD_FIELD(field_name)                                                   \
	{                                                                                              \
		.name = (field_name), .type = KEEL_F_STRING, .required = true,                             \
		.description = keel_auth_new_password_rule                                                 \
	}

/* The schema of a user as the API shows one (/openapi.json component "User"). */
extern const keel_schema keel_auth_user_schema;

/* A password hash computed off the request's worker (see keel_req_offload). */
typedef struct keel_auth_hash_job {
	const keel_auth *auth;
	const char *password;
	char hash[128]; /* PHC string */
	bool ok;
} keel_auth_hash_job;

/* keel_req_offload(req, keel_auth_hashers(auth), keel_auth_hash_run, job). */
keel_workpool *keel_auth_hashers(const keel_auth *auth);
void keel_auth_hash_run(void *job);

/*
 * Insert a user in tx's tenant; *user gets its public JSON.  KEEL_ECONFLICT
 * when the email exists in the tenant.
 */
keel_err keel_auth_user_insert(keel_tx *tx, keel_arena *arena, const char *email, const char *hash,
                               keel_role role, json_t **user);

#endif
