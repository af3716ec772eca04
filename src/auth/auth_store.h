/*
 * Private to src/auth: the module's SQL (auth_store.c), as the HTTP files
 * here call it.  The store sees the public header and refresh tokens
 * (token.h), nothing of the HTTP files' internals (auth_int.h).
 */
#ifndef KEEL_AUTH_AUTH_STORE_H
#define KEEL_AUTH_AUTH_STORE_H

#include "auth/auth.h"
#include "auth/token.h"

typedef struct auth_user {
	const char *id;
	const char *hash;
	keel_role role;
	bool active;
	const char *email; /* as stored */
} auth_user;

typedef struct auth_event {
	const char *kind;
	const char *user_id;
	const char *email;
	const char *client_addr;
	const char *user_agent;
	const char *request_id;
} auth_event;

/* Tenant id for a slug or UUID; NULL when unknown or not active. */
keel_err auth_store_resolve_tenant(keel_tx *tx, keel_arena *a, const char *name, const char **id);
keel_err auth_store_tenant_exists(keel_tx *tx, const char *id, bool *active);
keel_err auth_store_user_by_email(keel_tx *tx, keel_arena *a, const char *email, auth_user *u);
keel_err auth_store_user_by_id(keel_tx *tx, keel_arena *a, const char *id, auth_user *u);
keel_err auth_store_account_failures(keel_tx *tx, const char *email, int *failures,
                                     int *retry_after_s);
keel_err auth_store_address_failures(keel_tx *tx, const char *addr, int *failures,
                                     int *retry_after_s);
/* Record a failed sign-in from addr. */
keel_err auth_store_address_record(keel_tx *tx, const char *addr);

/* A sign-in of an account in progress: counted by auth_store_account_failures until it ends. */
keel_err auth_store_attempt_begin(keel_tx *tx, const char *id, const char *email);
keel_err auth_store_attempt_end(keel_tx *tx, const char *id);
keel_err auth_store_event(keel_tx *tx, const auth_event *e);
/*
 * Record a sign-in: last_login_at, and new_hash (NULL: none) replacing the hash.  Only while the
 * user is still active with verified_hash, the hash the password was checked against: when a
 * password change or a disabling committed meanwhile, KEEL_ENOTFOUND.  *role: the role now.
 */
keel_err auth_store_login_done(keel_tx *tx, const char *user_id, const char *verified_hash,
                               const char *new_hash, keel_role *role);
keel_err auth_store_token_insert(keel_tx *tx, keel_arena *a, const refresh_token *t,
                                 const char *user_id, const char *family_id, int64_t ttl_s);

typedef struct auth_token_row {
	const char *user_id;
	const char *family_id;
	const char *hash; /* "\\x..." */
	bool used, revoked, expired;
	keel_role role;
	bool user_active;
	bool tenant_active; /* false while the tenant is suspended */
} auth_token_row;

/*
 * Lock and read a refresh token (its user share-locked first, in the order a password change
 * or a disabling takes them); KEEL_ENOTFOUND when absent.
 */
keel_err auth_store_token_lock(keel_tx *tx, keel_arena *a, const char *id, auth_token_row *row);
keel_err auth_store_token_use(keel_tx *tx, const char *id);
keel_err auth_store_family_revoke(keel_tx *tx, const char *family_id);
keel_err auth_store_user_tokens_revoke(keel_tx *tx, const char *user_id);
keel_err auth_store_password_set(keel_tx *tx, const char *user_id, const char *hash);

/* Users API. */
keel_err auth_store_user_get(keel_tx *tx, keel_arena *a, const char *id, json_t **user);
keel_err auth_store_user_list(keel_tx *tx, keel_arena *a, const char *after, int limit,
                              json_t **users, const char **last_id);
keel_err auth_store_user_update(keel_tx *tx, keel_arena *a, const char *id, const char *role,
                                const char *status, const char *version, json_t **user);
keel_err auth_store_user_delete(keel_tx *tx, const char *id, const char *version);

/* Lock the active owners of the tenant and count them (last-owner rule). */
keel_err auth_store_owners_lock(keel_tx *tx, int *owners);

#endif
