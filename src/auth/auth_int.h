/*
 * Private to src/auth: the service and what its HTTP files share (the
 * password work, the account limit, token issuing, the handlers of the route
 * table).  The store has its own header (auth_store.h) and sees none of this.
 */
#ifndef KEEL_AUTH_AUTH_INT_H
#define KEEL_AUTH_AUTH_INT_H

#include <sodium.h>

#include "auth/auth.h"
#include "auth/auth_store.h"
#include "auth/jwt.h"
#include "auth/token.h"
#include "telemetry/telemetry.h"

#define KEEL_PASSWORD_MIN_CHARS 12
#define KEEL_PASSWORD_MAX_BYTES 256

struct keel_auth {
	keel_db_pool *pool;
	keel_workpool *hashers;
	keel_jwt_keys *keys;
	unsigned long long opslimit;
	size_t memlimit;
	int64_t access_ttl_s;
	int64_t refresh_ttl_s;
	char dummy_hash[crypto_pwhash_STRBYTES]; /* verified against when the user is unknown */
	keel_metrics *metrics; /* sign-in outcomes, password hashing work; may be NULL */
};

/* ---- password.c ---- */

/*
 * Every argon2id computation goes through these two and is counted on a's metrics (when set):
 * keel_password_hashes_total for new hashes, keel_password_verifications_total by whether the
 * hash verified against has the current parameters (params="current") or not ("other").
 */
bool auth_password_hash(const keel_auth *a, const char *password, char *out, size_t outlen);
bool auth_password_verify(const keel_auth *a, const char *hash, const char *password);
/* True when hash is not an argon2id hash of the current parameters (also when malformed). */
bool auth_password_needs_rehash(const keel_auth *a, const char *hash);

/* ---- auth_service.c ---- */

/* Count a sign-in's outcome ("outcome=\"success\"", ...) on a's metrics, when set. */
void auth_count_sign_in(const keel_auth *a, const char *outcome);

/* ---- attempt.c: the account limit of every password check, and what goes on record ---- */

#define AUTH_ACCOUNT_FAILURES_MAX 5 /* per account in 15 minutes */

/* Fail the request with 429 and Retry-After: too many failed sign-ins (what: whose). */
keel_err auth_throttled(keel_req *req, int retry_after_s, const char *what);

/* The client address as an inet parameter, or NULL when unknown. */
const char *auth_client_inet(keel_req *req);

/* A security event of kind about the request's client (NULLs: not known). */
auth_event auth_event_of(keel_req *req, const char *kind, const char *user_id, const char *email);

/*
 * Put an attempt on the account of email on record in tx (opened by the
 * caller, who may have read in it) and commit it; attempt_id gets its id.
 */
keel_err auth_attempt_begin(keel_req *req, keel_tx *tx, const char *email, char *attempt_id);

/*
 * Count the account's failures and attempts in tx; past the limit the attempt
 * ends at once, on record as refusal, and the request is answered 429
 * (*refused set).  Otherwise tx stays open for the caller.
 */
keel_err auth_attempt_count(keel_req *req, keel_tx *tx, const char *attempt_id,
                            const auth_event *refusal, bool *refused);

/* ---- token_api.c ---- */

/* Issue an access token and a new refresh token of family_id (NULL: a new family) in tx. */
keel_err auth_issue_tokens(keel_req *req, const keel_auth *a, keel_tx *tx, const char *tenant_id,
                           const char *user_id, keel_role role, const char *family_id,
                           json_t **out);

/* ---- the handlers of auth_api.c's route table (ctx: the keel_auth) ---- */

keel_err auth_login(keel_req *req, void *ctx);           /* login_api.c */
keel_err auth_refresh(keel_req *req, void *ctx);         /* token_api.c */
keel_err auth_logout(keel_req *req, void *ctx);          /* token_api.c */
keel_err auth_password_change(keel_req *req, void *ctx); /* password_api.c */

/* The bodies those routes take: the field specs their handlers validate with. */
extern const keel_body auth_login_body;    /* login_api.c */
extern const keel_body auth_refresh_body;  /* token_api.c */
extern const keel_body auth_password_body; /* password_api.c */

void auth_api_routes(keel_router *r, keel_auth *a);  /* auth_api.c */
void users_api_routes(keel_router *r, keel_auth *a); /* users_api.c */

#endif
