/*
 * Sign-in: POST /api/v1/auth/login.
 *
 * The handler (auth_login) does its database reads and gives its
 * connections back; the password is verified on the hashing pool (the worker
 * goes on serving others meanwhile); login_finish then writes in a second
 * transaction.  An unknown tenant, an unknown email, a disabled user and a
 * wrong password all cost one argon2id verification at the current
 * parameters (login_verify) and all get the same 401, so neither tenants nor
 * accounts can be enumerated by status, body or time.
 */
#include "auth/auth_int.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <string.h>
#include <strings.h>

#define ADDRESS_FAILURES_MAX 20 /* per client address in a minute */

typedef struct login_state {
	keel_auth *auth;
	const char *tenant_id; /* NULL: unknown tenant */
	const char *email;
	const char *password;
	auth_user user;                        /* id NULL: unknown */
	char attempt_id[KEEL_UUID_STRLEN + 1]; /* the account attempt in progress, "" when none */
	bool verified;
	bool rehashed;
	char rehash[crypto_pwhash_STRBYTES];
} login_state;

/*
 * On the hashing pool: every sign-in costs at least one argon2id verification at the current
 * parameters.  A failure against a stored hash of other parameters (made before the operator
 * changed KEEL_PASSWORD_MEMORY_KIB or KEEL_PASSWORD_PASSES; cheaper ones verify faster) also
 * verifies the dummy hash, so it costs no less than an unknown email.
 */
static void
login_verify(void *arg)
{
	login_state *s = arg;
	bool known = s->tenant_id != NULL && s->user.id != NULL;
	const char *hash = known ? s->user.hash : s->auth->dummy_hash;
	bool match = auth_password_verify(s->auth, hash, s->password);
	bool current = !auth_password_needs_rehash(s->auth, hash);

	s->verified = known && match && s->user.active;
	if (!s->verified && !current)
		auth_password_verify(s->auth, s->auth->dummy_hash, s->password);
	if (s->verified && !current)
		s->rehashed = auth_password_hash(s->auth, s->password, s->rehash, sizeof(s->rehash));
}

static const keel_field_spec login_spec[] = {
    {.name = "tenant",
     .type = KEEL_F_STRING,
     .trim = true,
     .min = 1,
     .max = 63,
     .description = "the tenant's slug or id; or send X-Tenant-ID"},
    {.name = "email", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 254},
    {.name = "password", .type = KEEL_F_STRING, .required = true, .min = 1, .max = 1024},
};

const keel_body auth_login_body = KEEL_BODY("Login", login_spec);

/* The tenant the sign-in names: X-Tenant-ID (UUID) or the body's tenant (UUID or slug). */
static keel_err
login_tenant_name(keel_req *req, json_t *body, const char **name)
{
	const char *header = keel_req_header(req, "X-Tenant-ID");
	const char *field = json_string_value(json_object_get(body, "tenant"));

	if (header != NULL && !keel_uuid_valid(header))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "X-Tenant-ID must be a UUID");
	if (header == NULL && field == NULL)
		return keel_req_fail(req, KEEL_EINVAL, "tenant",
		                     "is required (a tenant slug or id, or the X-Tenant-ID header)");
	if (header != NULL && field != NULL && strcasecmp(header, field) != 0)
		return keel_req_fail(req, KEEL_EINVAL, "tenant",
		                     "must match X-Tenant-ID when both are given");
	*name = header != NULL ? header : field;
	return KEEL_OK;
}

/*
 * The address limit, which counts recorded failures only (recorded when a
 * sign-in fails: many users behind one address may sign in at once; the
 * account limit also counts attempts still running), and the tenant a slug
 * names, in one transaction without a tenant.
 */
static keel_err
login_address_and_slug(keel_req *req, login_state *s, const char *tenant_name)
{
	const char *addr = auth_client_inet(req);
	keel_tx *tx;
	int fails, retry;
	keel_err err;

	if ((err = keel_svc_tx_tenant(req, s->auth->pool, NULL, &tx)) != KEEL_OK)
		return err;
	if (addr != NULL) {
		if ((err = auth_store_address_failures(tx, addr, &fails, &retry)) != KEEL_OK)
			return keel_svc_fail(req, err, NULL);
		if (fails >= ADDRESS_FAILURES_MAX) {
			auth_count_sign_in(s->auth, "outcome=\"throttled\"");
			return auth_throttled(req, retry, "from this address");
		}
	}
	if (!keel_uuid_valid(tenant_name) &&
	    (err = auth_store_resolve_tenant(tx, keel_req_arena(req), tenant_name, &s->tenant_id)) !=
	        KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	keel_svc_release(tx);
	return KEEL_OK;
}

/* The tenant a UUID names, when it exists and is active (NULL otherwise). */
static keel_err
login_tenant_by_id(keel_req *req, login_state *s, const char *id)
{
	keel_tx *tx;
	bool active;
	keel_err err;

	if ((err = keel_svc_tx_tenant(req, s->auth->pool, id, &tx)) != KEEL_OK)
		return err;
	if ((err = auth_store_tenant_exists(tx, id, &active)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	s->tenant_id = active ? keel_arena_strdup(keel_req_arena(req), id) : NULL;
	keel_svc_release(tx);
	return KEEL_OK;
}

/* The account's attempt on record, counted against its limit (429 past it), and its user. */
static keel_err
login_account_read(keel_req *req, login_state *s)
{
	auth_event refusal = auth_event_of(req, "sign_in_throttled", NULL, s->email);
	keel_tx *tx;
	bool refused;
	keel_err err;

	if ((err = keel_svc_tx_tenant(req, s->auth->pool, s->tenant_id, &tx)) != KEEL_OK)
		return err;
	if ((err = auth_attempt_begin(req, tx, s->email, s->attempt_id)) != KEEL_OK)
		return err;
	if ((err = keel_svc_tx_tenant(req, s->auth->pool, s->tenant_id, &tx)) != KEEL_OK)
		return err;
	if ((err = auth_attempt_count(req, tx, s->attempt_id, &refusal, &refused)) != KEEL_OK ||
	    refused) {
		if (refused)
			auth_count_sign_in(s->auth, "outcome=\"throttled\"");
		return err;
	}
	err = auth_store_user_by_email(tx, keel_req_arena(req), s->email, &s->user);
	if (err != KEEL_OK && err != KEEL_ENOTFOUND)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	keel_svc_release(tx);
	return KEEL_OK;
}

/* Read phase: the address limit, the tenant, then (a tenant found) the account. */
static keel_err
login_read(keel_req *req, login_state *s, const char *tenant_name)
{
	keel_err err = login_address_and_slug(req, s, tenant_name);

	if (err == KEEL_OK && keel_uuid_valid(tenant_name))
		err = login_tenant_by_id(req, s, tenant_name);
	if (err != KEEL_OK || s->tenant_id == NULL)
		return err;
	return login_account_read(req, s);
}

static keel_err login_finish(keel_req *req, void *arg);

/* The handler: checks and reads, then the password verified on the hashing pool. */
keel_err
auth_login(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	json_t *body;
	const char *tenant_name = NULL;
	login_state *s;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if ((err = keel_req_check_body(req, body, "the sign-in request is invalid")) != KEEL_OK)
		return err;
	if ((err = login_tenant_name(req, body, &tenant_name)) != KEEL_OK)
		return err;
	/*
	 * A place on the hashing queue first: the attempt login_read puts on
	 * record counts against the account until the hash ends it, so a
	 * sign-in that could not be queued must not have written one.
	 */
	if ((err = keel_req_offload_reserve(req, a->hashers)) != KEEL_OK)
		return err;
	s = keel_arena_calloc(keel_req_arena(req), 1, sizeof(*s));
	s->auth = a;
	s->email = json_string_value(json_object_get(body, "email"));
	s->password = json_string_value(json_object_get(body, "password"));
	err = login_read(req, s, tenant_name);

	if (err != KEEL_OK || keel_req_field_errors(req) > 0)
		return err;
	return keel_req_offload(req, a->hashers, login_verify, login_finish, s);
}

static keel_err
bad_credentials(keel_req *req)
{
	return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the email or the password is incorrect");
}

/*
 * The user read again under the write: a password change or a disabling that committed while
 * the password was being checked wins, and the sign-in fails like a wrong password.
 */
static keel_err
login_recheck(keel_tx *tx, login_state *s)
{
	keel_err err = auth_store_login_done(tx, s->user.id, s->user.hash,
	                                     s->rehashed ? s->rehash : NULL, &s->user.role);

	s->verified = err == KEEL_OK;
	return err == KEEL_ENOTFOUND ? KEEL_OK : err;
}

/* A verified sign-in: a token pair (*tokens) and the success event, in tx. */
static keel_err
login_succeeded(keel_req *req, keel_tx *tx, const login_state *s, json_t **tokens)
{
	auth_event e = auth_event_of(req, "sign_in_succeeded", s->user.id, s->email);
	keel_err err =
	    auth_issue_tokens(req, s->auth, tx, s->tenant_id, s->user.id, s->user.role, NULL, tokens);

	return err != KEEL_OK ? err : auth_store_event(tx, &e);
}

/* A failed sign-in: its event (when the tenant is known) and the address's failure, in tx. */
static keel_err
login_failed(keel_req *req, keel_tx *tx, const login_state *s)
{
	auth_event e = auth_event_of(req, "sign_in_failed", s->user.id, s->email);
	const char *addr = auth_client_inet(req);
	keel_err err = KEEL_OK;

	if (s->tenant_id != NULL)
		err = auth_store_event(tx, &e);
	if (err == KEEL_OK && addr != NULL)
		err = auth_store_address_record(tx, addr);
	return err;
}

/* The finish step: the attempt ends; tokens and a success event, or a failure on record. */
static keel_err
login_finish(keel_req *req, void *arg)
{
	login_state *s = arg;
	keel_tx *tx;
	json_t *tokens = NULL;
	keel_err err = KEEL_OK;

	if ((err = keel_svc_tx_tenant(req, s->auth->pool, s->tenant_id, &tx)) != KEEL_OK)
		return err;
	if (s->attempt_id[0] != '\0')
		err = auth_store_attempt_end(tx, s->attempt_id);
	if (err == KEEL_OK && s->verified)
		err = login_recheck(tx, s);
	if (err == KEEL_OK)
		err = s->verified ? login_succeeded(req, tx, s, &tokens) : login_failed(req, tx, s);
	if (err != KEEL_OK) {
		json_decref(tokens);
		return keel_svc_fail(req, err, NULL);
	}
	if (keel_svc_commit(req, tx) != KEEL_OK) {
		json_decref(tokens);
		return KEEL_EUNAVAIL;
	}
	auth_count_sign_in(s->auth, s->verified ? "outcome=\"success\"" : "outcome=\"failure\"");
	return s->verified ? keel_req_json(req, 200, tokens) : bad_credentials(req);
}
