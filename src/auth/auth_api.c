/*
 * Sign-in, token refresh, sign-out, the caller, password change, JWKS, and
 * the authenticator.
 *
 * Sign-in does its database reads, gives its connection back, hashes on the
 * hashing pool (the worker goes on serving others meanwhile), then writes in
 * a second transaction.  An unknown tenant, an unknown email, a disabled
 * user and a wrong password all cost one argon2id verification at the
 * current parameters (login_verify) and all get the same 401, so neither
 * tenants nor accounts can be enumerated by status, body or time.  A wrong
 * current password of a password change counts against the same account
 * limit as a failed sign-in.
 */
#include "auth/auth_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCOUNT_FAILURES_MAX 5  /* per account in 15 minutes */
#define ADDRESS_FAILURES_MAX 20 /* per client address in a minute */

keel_err
keel_auth_create(const keel_config *cfg, keel_db_pool *pool, keel_workpool *hashers,
                 keel_auth **out, char *err, size_t errlen)
{
	keel_auth *a = keel_xcalloc(1, sizeof(*a));
	keel_jwt_config jc = {
	    .secret = cfg->jwt_secret,
	    .private_key_pem = cfg->jwt_private_key,
	    .previous_secret = cfg->jwt_previous_secret,
	    .previous_public_pem = cfg->jwt_previous_public_key,
	    .issuer = cfg->jwt_issuer,
	    .audience = cfg->jwt_audience,
	    .skew_s = 30,
	};

	*out = NULL;
	a->pool = pool;
	a->hashers = hashers;
	a->opslimit = (unsigned long long)cfg->password_passes;
	a->memlimit = (size_t)cfg->password_memory_kib * 1024;
	a->access_ttl_s = cfg->access_token_ttl_ms / 1000;
	a->refresh_ttl_s = cfg->refresh_token_ttl_ms / 1000;
	if (keel_jwt_keys_create(&jc, &a->keys, err, errlen) != KEEL_OK) {
		free(a);
		return KEEL_EINVAL;
	}
	/* The hash verified when there is no user: same parameters, same cost. */
	char random[33];

	randombytes_buf(random, 32);
	for (int i = 0; i < 32; i++)
		random[i] = (char)('a' + ((unsigned char)random[i] % 26));
	random[32] = '\0';
	if (!auth_password_hash(a, random, a->dummy_hash, sizeof(a->dummy_hash))) {
		snprintf(err, errlen, "could not compute a password hash (memory limit too high?)");
		keel_auth_destroy(a);
		return KEEL_EINVAL;
	}
	*out = a;
	return KEEL_OK;
}

void
keel_auth_destroy(keel_auth *a)
{
	if (a == NULL)
		return;
	keel_jwt_keys_destroy(a->keys);
	free(a);
}

void
keel_auth_set_metrics(keel_auth *a, keel_metrics *metrics)
{
	a->metrics = metrics;
	keel_metrics_declare(metrics, "keel_sign_ins_total", KEEL_METRIC_COUNTER,
	                     "Sign-in attempts by outcome: success, failure, throttled.");
	keel_metrics_declare(metrics, "keel_password_hashes_total", KEEL_METRIC_COUNTER,
	                     "New argon2id password hashes computed.");
	keel_metrics_declare(metrics, "keel_password_verifications_total", KEEL_METRIC_COUNTER,
	                     "Argon2id password verifications, by the parameters of the hash verified"
	                     " against: current or other.");
}

static void
count_sign_in(const keel_auth *a, const char *outcome)
{
	if (a->metrics != NULL)
		keel_metrics_add(a->metrics, "keel_sign_ins_total", outcome, 1);
}

void
keel_auth_routes(keel_router *r, keel_auth *a)
{
	auth_api_routes(r, a);
	users_api_routes(r, a);
}

/* ---- the authenticator ---- */

static keel_err
unauthorized(keel_req *req, const char *why)
{
	keel_req_set_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	return keel_req_fail(req, KEEL_EUNAUTH, NULL, "invalid access token: %s", why);
}

keel_err
keel_auth_authenticate(keel_req *req, const keel_route *route, void *ctx)
{
	keel_auth *a = ctx;
	const char *h = keel_req_header(req, "Authorization");
	keel_jwt_claims c;
	const char *why = "invalid";

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "a bearer token is required");
	if (keel_jwt_verify(a->keys, h + 7, (int64_t)(keel_clock_realtime_ns() / 1000000000u), &c,
	                    &why) != KEEL_OK)
		return unauthorized(req, why);
	keel_principal p = {.tenant_id = c.tid, .user_id = c.sub, .role = keel_role_parse(c.role)};

	keel_req_set_principal(req, &p);
	const char *tenant = keel_req_header(req, "X-Tenant-ID");

	if (tenant != NULL && strcasecmp(tenant, c.tid) != 0)
		return keel_req_fail(req, KEEL_EDENIED, NULL,
		                     "X-Tenant-ID does not match the tenant of the access token");
	if (p.role < route->min_role)
		return keel_req_fail(req, KEEL_EDENIED, NULL, "this requires the %s role or higher",
		                     keel_role_name(route->min_role));
	return KEEL_OK;
}

/* ---- validation shared with sign-up ---- */

#define STR_(x) #x
#define STR(x)  STR_(x)

const char keel_auth_new_password_rule[] = "at least " STR(
    KEEL_PASSWORD_MIN_CHARS) " characters, at most " STR(KEEL_PASSWORD_MAX_BYTES) " bytes";

int
keel_auth_check_email(json_t *errors, const char *field, const char *email)
{
	const char *at = strchr(email, '@');
	size_t len = strlen(email);

	if (len < 3 || len > 254 || at == NULL || at == email || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || strpbrk(email, " \t\r\n") != NULL) {
		keel_field_error(errors, field, "must be an email address");
		return 1;
	}
	return 0;
}

int
keel_auth_check_new_password(json_t *errors, const char *field, const char *password)
{
	size_t bytes = strlen(password);

	if (keel_utf8_length(password, bytes) < KEEL_PASSWORD_MIN_CHARS) {
		keel_field_error(errors, field, "must be at least %d characters", KEEL_PASSWORD_MIN_CHARS);
		return 1;
	}
	if (bytes > KEEL_PASSWORD_MAX_BYTES) {
		keel_field_error(errors, field, "must be at most %d bytes", KEEL_PASSWORD_MAX_BYTES);
		return 1;
	}
	return 0;
}

/* ---- sign-in ---- */

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

static keel_err
throttled(keel_req *req, int retry_after_s, const char *what)
{
	char ra[16];

	snprintf(ra, sizeof(ra), "%d", retry_after_s > 0 ? retry_after_s : 1);
	keel_req_set_header(req, "Retry-After", ra);
	return keel_req_fail(req, KEEL_ELIMIT, NULL, "too many failed sign-ins %s; retry later", what);
}

/* The client address as an inet parameter, or NULL when unknown. */
static const char *
client_inet(keel_req *req)
{
	const char *addr = keel_req_client_addr(req);

	return strcmp(addr, "-") == 0 ? NULL : addr;
}

static auth_event
event_of(keel_req *req, const char *kind, const char *user_id, const char *email)
{
	const char *ua = keel_req_header(req, "User-Agent");

	if (ua != NULL && !keel_utf8_valid(ua, strlen(ua)))
		ua = NULL; /* not text: not worth recording */
	return (auth_event){.kind = kind,
	                    .user_id = user_id,
	                    .email = email,
	                    .client_addr = client_inet(req),
	                    .user_agent = ua,
	                    .request_id = keel_req_id(req)};
}

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
 * An account's attempt is put on record and committed first (in tx, which the
 * caller opened and may have read in), then counted with the failures
 * (attempt_count): the count includes every attempt committed before it, its
 * own too, so of any number of simultaneous guesses at most the limit pass
 * (the last to count sees all the others), without a lock that would let a
 * flood stall the workers.  Sign-in and password change share the limit.
 */
static keel_err
attempt_begin(keel_req *req, keel_tx *tx, const char *email, char *attempt_id)
{
	keel_uuid attempt;
	keel_err err;

	keel_uuid_v7(&attempt);
	keel_uuid_format(&attempt, attempt_id);
	if ((err = auth_store_attempt_begin(tx, attempt_id, email)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_svc_release(tx);
	return KEEL_OK;
}

/*
 * Count the account's failures and attempts in tx; past the limit the attempt
 * ends at once, on record as a security event of kind, and the request is
 * answered 429 (*refused set).  Otherwise tx stays open for the caller.
 */
static keel_err
attempt_count(keel_req *req, keel_tx *tx, const char *attempt_id, const auth_event *refusal,
              bool *refused)
{
	int fails, retry;
	keel_err err;

	*refused = false;
	if ((err = auth_store_account_failures(tx, refusal->email, &fails, &retry)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (fails <= ACCOUNT_FAILURES_MAX)
		return KEEL_OK;
	*refused = true;
	if ((err = auth_store_attempt_end(tx, attempt_id)) || (err = auth_store_event(tx, refusal)))
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	return throttled(req, retry, "or password changes for this account");
}

/* Read phase: resolve the tenant, check throttles, find the user. */
static keel_err
login_read(keel_req *req, login_state *s, const char *tenant_name)
{
	keel_arena *arena = keel_req_arena(req);
	const char *addr = client_inet(req);
	keel_tx *tx;
	int fails, retry;
	keel_err err;

	/*
	 * The address limit counts recorded failures only (recorded when a
	 * sign-in fails): many users behind one address may sign in at once.
	 * The account limit below also counts attempts still running.
	 */
	if (keel_svc_tx_tenant(req, s->auth->pool, NULL, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if (addr != NULL) {
		if ((err = auth_store_address_failures(tx, addr, &fails, &retry)) != KEEL_OK)
			return keel_svc_fail(req, err, NULL);
		if (fails >= ADDRESS_FAILURES_MAX) {
			count_sign_in(s->auth, "outcome=\"throttled\"");
			return throttled(req, retry, "from this address");
		}
	}
	if (!keel_uuid_valid(tenant_name) &&
	    (err = auth_store_resolve_tenant(tx, arena, tenant_name, &s->tenant_id)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	keel_svc_release(tx);
	if (keel_uuid_valid(tenant_name)) {
		bool active;

		if (keel_svc_tx_tenant(req, s->auth->pool, tenant_name, &tx) != KEEL_OK)
			return KEEL_EUNAVAIL;
		if ((err = auth_store_tenant_exists(tx, tenant_name, &active)) != KEEL_OK)
			return keel_svc_fail(req, err, NULL);
		s->tenant_id = active ? keel_arena_strdup(arena, tenant_name) : NULL;
		keel_svc_release(tx);
	}
	if (s->tenant_id == NULL)
		return KEEL_OK;
	auth_event refusal = event_of(req, "sign_in_throttled", NULL, s->email);
	bool refused;

	if (keel_svc_tx_tenant(req, s->auth->pool, s->tenant_id, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if ((err = attempt_begin(req, tx, s->email, s->attempt_id)) != KEEL_OK)
		return err;
	if (keel_svc_tx_tenant(req, s->auth->pool, s->tenant_id, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if ((err = attempt_count(req, tx, s->attempt_id, &refusal, &refused)) != KEEL_OK || refused) {
		if (refused)
			count_sign_in(s->auth, "outcome=\"throttled\"");
		return err;
	}
	err = auth_store_user_by_email(tx, arena, s->email, &s->user);
	if (err != KEEL_OK && err != KEEL_ENOTFOUND)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_svc_release(tx);
	return KEEL_OK;
}

static keel_err
login_start(keel_req *req, keel_auth *a)
{
	json_t *body;
	const char *tenant_name = NULL;
	login_state *s;

	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (keel_req_check_body(req, body, "the sign-in request is invalid") != KEEL_OK)
		return KEEL_EINVAL;
	if (login_tenant_name(req, body, &tenant_name) != KEEL_OK)
		return KEEL_EINVAL;
	/*
	 * A place on the hashing queue first: the attempt login_read puts on
	 * record counts against the account until the hash ends it, so a
	 * sign-in that could not be queued must not have written one.
	 */
	if (keel_req_offload_reserve(req, a->hashers) != KEEL_OK)
		return KEEL_EUNAVAIL;
	s = keel_arena_calloc(keel_req_arena(req), 1, sizeof(*s));
	s->auth = a;
	s->email = json_string_value(json_object_get(body, "email"));
	s->password = json_string_value(json_object_get(body, "password"));
	keel_err err = login_read(req, s, tenant_name);

	if (err != KEEL_OK || keel_req_field_errors(req) > 0)
		return err;
	return keel_req_offload(req, a->hashers, login_verify, s);
}

/* Issue an access token and a new refresh token of family_id (NULL: a new family). */
static keel_err
issue_tokens(keel_req *req, keel_auth *a, keel_tx *tx, const char *tenant_id, const char *user_id,
             keel_role role, const char *family_id, json_t **out)
{
	keel_arena *arena = keel_req_arena(req);
	refresh_token rt;
	keel_jwt_claims c;
	keel_uuid jti;
	int64_t now = (int64_t)(keel_clock_realtime_ns() / 1000000000u);

	refresh_new(&rt, tenant_id);
	keel_err err = auth_store_token_insert(tx, arena, &rt, user_id, family_id ? family_id : rt.id,
	                                       a->refresh_ttl_s);

	if (err != KEEL_OK)
		return err;
	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", user_id);
	snprintf(c.tid, sizeof(c.tid), "%s", tenant_id);
	snprintf(c.role, sizeof(c.role), "%s", keel_role_name(role));
	keel_uuid_v7(&jti);
	keel_uuid_format(&jti, c.jti);
	c.iat = c.nbf = now;
	c.exp = now + a->access_ttl_s;
	char *jwt = keel_jwt_sign(a->keys, &c);

	if (jwt == NULL)
		return KEEL_EINTERNAL;
	*out =
	    json_pack("{s:s, s:s, s:I, s:s}", "access_token", jwt, "token_type", "Bearer", "expires_in",
	              (json_int_t)a->access_ttl_s, "refresh_token", refresh_encode(arena, &rt));
	sodium_memzero(&rt, sizeof(rt));
	free(jwt);
	return KEEL_OK;
}

static keel_err
bad_credentials(keel_req *req)
{
	return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the email or the password is incorrect");
}

/*
 * Write phase: tokens and a success event, or a failure event and address count.  The user is
 * read again under the write: a password change or a disabling that committed while the
 * password was being checked wins, and the sign-in fails like a wrong password.
 */
static keel_err
login_finish(keel_req *req, keel_auth *a, login_state *s)
{
	keel_tx *tx;
	json_t *tokens = NULL;
	keel_err err = KEEL_OK;

	if (keel_svc_tx_tenant(req, a->pool, s->tenant_id, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if (s->attempt_id[0] != '\0' && (err = auth_store_attempt_end(tx, s->attempt_id)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (s->verified) {
		err = auth_store_login_done(tx, s->user.id, s->user.hash, s->rehashed ? s->rehash : NULL,
		                            &s->user.role);
		if (err != KEEL_OK && err != KEEL_ENOTFOUND)
			return keel_svc_fail(req, err, NULL);
		s->verified = err == KEEL_OK;
	}
	if (s->verified) {
		auth_event e = event_of(req, "sign_in_succeeded", s->user.id, s->email);

		if ((err =
		         issue_tokens(req, a, tx, s->tenant_id, s->user.id, s->user.role, NULL, &tokens)) ||
		    (err = auth_store_event(tx, &e))) {
			json_decref(tokens);
			return keel_svc_fail(req, err, NULL);
		}
	} else {
		auth_event e = event_of(req, "sign_in_failed", s->user.id, s->email);
		const char *addr = client_inet(req);

		if ((s->tenant_id != NULL && (err = auth_store_event(tx, &e))) ||
		    (addr != NULL && (err = auth_store_address_record(tx, addr))))
			return keel_svc_fail(req, err, NULL);
	}
	if (keel_svc_commit(req, tx) != KEEL_OK) {
		json_decref(tokens);
		return KEEL_EUNAVAIL;
	}
	count_sign_in(a, s->verified ? "outcome=\"success\"" : "outcome=\"failure\"");
	return s->verified ? keel_req_json(req, 200, tokens) : bad_credentials(req);
}

static keel_err
login(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;

	if (!keel_req_resumed(req))
		return login_start(req, a);
	return login_finish(req, a, keel_req_offload_arg(req));
}

/* ---- refresh and sign-out ---- */

static const keel_field_spec refresh_spec[] = {
    {.name = "refresh_token", .type = KEEL_F_STRING, .required = true, .min = 1, .max = 256},
};

static keel_err
invalid_refresh(keel_req *req)
{
	return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the refresh token is invalid or expired");
}

/*
 * Parse the body's refresh token, open a transaction in its tenant and lock
 * its row.  KEEL_OK with *row filled; any mismatch fails the request with 401.
 */
static keel_err
refresh_lock(keel_req *req, keel_auth *a, refresh_token *t, keel_tx **tx, auth_token_row *row)
{
	json_t *body;
	keel_err err;

	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (keel_req_check_body(req, body, "the request is invalid") != KEEL_OK)
		return KEEL_EINVAL;
	if (!refresh_decode(json_string_value(json_object_get(body, "refresh_token")), t))
		return invalid_refresh(req);
	if (keel_svc_tx_tenant(req, a->pool, t->tenant_id, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	err = auth_store_token_lock(*tx, keel_req_arena(req), t->id, row);
	if (err == KEEL_ENOTFOUND)
		return invalid_refresh(req);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	const char *presented = refresh_hash_param(keel_req_arena(req), t);

	if (strlen(presented) != strlen(row->hash) ||
	    sodium_memcmp(presented, row->hash, strlen(presented)) != 0)
		return invalid_refresh(req);
	return KEEL_OK;
}

/* Revoke the token's family for good (committed even though the request fails). */
static keel_err
revoke_family(keel_req *req, keel_tx *tx, const auth_token_row *row, const char *event)
{
	keel_err err = auth_store_family_revoke(tx, row->family_id);

	if (err == KEEL_OK && event != NULL) {
		auth_event e = event_of(req, event, row->user_id, NULL);

		err = auth_store_event(tx, &e);
	}
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	return keel_svc_commit(req, tx);
}

static keel_err
refresh(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	refresh_token t;
	keel_tx *tx;
	auth_token_row row;
	json_t *tokens;
	keel_err err = refresh_lock(req, a, &t, &tx, &row);

	if (err != KEEL_OK)
		return err;
	if (row.revoked || row.expired || !row.tenant_active)
		return invalid_refresh(req); /* a suspended tenant's tokens work again on resume */
	if (row.used) {
		/* A spent token came back: it was stolen, or the client is confused. */
		keel_log_warn("refresh token reused; revoking its family");
		if (revoke_family(req, tx, &row, "refresh_reused") != KEEL_OK)
			return KEEL_EUNAVAIL;
		return invalid_refresh(req);
	}
	if (!row.user_active) {
		if (revoke_family(req, tx, &row, NULL) != KEEL_OK)
			return KEEL_EUNAVAIL;
		return invalid_refresh(req);
	}
	if ((err = auth_store_token_use(tx, t.id)) != KEEL_OK ||
	    (err = issue_tokens(req, a, tx, t.tenant_id, row.user_id, row.role, row.family_id,
	                        &tokens)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK) {
		json_decref(tokens);
		return KEEL_EUNAVAIL;
	}
	return keel_req_json(req, 200, tokens);
}

static keel_err
logout(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	refresh_token t;
	keel_tx *tx;
	auth_token_row row;
	keel_err err = refresh_lock(req, a, &t, &tx, &row);

	if (err != KEEL_OK)
		return err;
	if (revoke_family(req, tx, &row, "signed_out") != KEEL_OK)
		return KEEL_EUNAVAIL;
	return keel_req_no_content(req);
}

/* ---- the caller ---- */

static keel_err
me(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	keel_tx *tx;
	json_t *user;

	if (keel_svc_tx(req, a->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_err err =
	    auth_store_user_get(tx, keel_req_arena(req), keel_req_principal(req)->user_id, &user);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the user of this token no longer exists");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	return keel_req_json(req, 200, json_incref(user));
}

/* ---- password change ---- */

/*
 * A wrong current password is a guess at the account's password like a failed sign-in: it
 * counts against the same account limit (ACCOUNT_FAILURES_MAX in 15 minutes, its attempt
 * counted while it runs, as login_read does), checked before any hash is queued, and is put on
 * record (password_change_failed; password_change_throttled when refused).
 */
typedef struct password_state {
	keel_auth *auth;
	const char *current;
	const char *next;
	const char *hash;                      /* stored */
	const char *email;                     /* the account the throttle counts */
	char attempt_id[KEEL_UUID_STRLEN + 1]; /* the account attempt in progress */
	bool verified;
	bool ok;
	char new_hash[crypto_pwhash_STRBYTES];
} password_state;

static void
password_work(void *arg)
{
	password_state *s = arg;

	s->verified = auth_password_verify(s->auth, s->hash, s->current);
	if (s->verified)
		s->ok = auth_password_hash(s->auth, s->next, s->new_hash, sizeof(s->new_hash));
}

static const keel_field_spec password_spec[] = {
    {.name = "current_password", .type = KEEL_F_STRING, .required = true, .min = 1, .max = 1024},
    {.name = "new_password",
     .type = KEEL_F_STRING,
     .required = true,
     .description = keel_auth_new_password_rule},
};

/* The caller's stored hash and email, and its attempt put on record (committed). */
static keel_err
password_attempt_begin(keel_req *req, password_state *s)
{
	keel_tx *tx;
	auth_user u;

	if (keel_svc_tx(req, s->auth->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_err err =
	    auth_store_user_by_id(tx, keel_req_arena(req), keel_req_principal(req)->user_id, &u);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the user of this token no longer exists");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	s->hash = u.hash;
	s->email = u.email;
	return attempt_begin(req, tx, s->email, s->attempt_id);
}

/*
 * Read phase: the attempt on record, then counted with the account's failures and attempts
 * (its own included); past the limit it ends at once, on record, with 429.
 */
static keel_err
password_read(keel_req *req, password_state *s)
{
	keel_tx *tx;
	bool refused;
	keel_err err = password_attempt_begin(req, s);

	if (err != KEEL_OK)
		return err;
	auth_event refusal =
	    event_of(req, "password_change_throttled", keel_req_principal(req)->user_id, s->email);

	if (keel_svc_tx(req, s->auth->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if ((err = attempt_count(req, tx, s->attempt_id, &refusal, &refused)) != KEEL_OK || refused)
		return err;
	keel_svc_release(tx);
	return KEEL_OK;
}

static keel_err
password_start(keel_req *req, keel_auth *a)
{
	json_t *body;
	password_state *s = keel_arena_calloc(keel_req_arena(req), 1, sizeof(*s));

	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	keel_json_check(body, password_spec, KEEL_NELEM(password_spec), keel_req_errors(req));
	s->auth = a;
	s->current = json_string_value(json_object_get(body, "current_password"));
	s->next = json_string_value(json_object_get(body, "new_password"));
	if (s->next != NULL)
		keel_auth_check_new_password(keel_req_errors(req), "new_password", s->next);
	if (keel_req_invalid(req, "the request is invalid") != KEEL_OK)
		return KEEL_EINVAL;
	/* a place on the hashing queue first: the attempt password_read puts on record counts */
	if (keel_req_offload_reserve(req, a->hashers) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_err err = password_read(req, s);

	if (err != KEEL_OK)
		return err;
	return keel_req_offload(req, a->hashers, password_work, s);
}

/* A wrong current password (on record: it counts against the account) or a failed hash. */
static keel_err
password_refused(keel_req *req, keel_tx *tx, const password_state *s)
{
	auth_event e =
	    event_of(req, "password_change_failed", keel_req_principal(req)->user_id, s->email);
	keel_err err;

	if (!s->verified && (err = auth_store_event(tx, &e)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if (!s->verified)
		return keel_req_fail(req, KEEL_EINVAL, "current_password", "is incorrect");
	return keel_req_fail(req, KEEL_EINTERNAL, NULL, "password hashing failed");
}

/* Write phase: the attempt ends; the new hash, every session revoked, and the event. */
static keel_err
password_finish(keel_req *req, keel_auth *a, password_state *s)
{
	const char *user_id = keel_req_principal(req)->user_id;
	keel_tx *tx;
	keel_err err;

	if (keel_svc_tx(req, a->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if ((err = auth_store_attempt_end(tx, s->attempt_id)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (!s->verified || !s->ok)
		return password_refused(req, tx, s);
	auth_event e = event_of(req, "password_changed", user_id, s->email);

	if ((err = auth_store_password_set(tx, user_id, s->new_hash)) != KEEL_OK ||
	    (err = auth_store_user_tokens_revoke(tx, user_id)) != KEEL_OK ||
	    (err = auth_store_event(tx, &e)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	return keel_req_no_content(req);
}

static keel_err
password(keel_req *req, void *ctx)
{
	if (!keel_req_resumed(req))
		return password_start(req, ctx);
	return password_finish(req, ctx, keel_req_offload_arg(req));
}

static keel_err
jwks(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;

	keel_req_set_header(req, "Cache-Control", "public, max-age=300");
	return keel_req_json(req, 200, keel_jwt_jwks(a->keys));
}

static const keel_schema token_pair_schema = {
    .name = "TokenPair",
    .json =
        "{\"type\":\"object\",\"required\":[\"access_token\",\"token_type\",\"expires_in\","
        "\"refresh_token\"],\"properties\":{\"access_token\":{\"type\":\"string\"},\"token_type\":{"
        "\"type\":\"string\",\"const\":\"Bearer\"},\"expires_in\":{\"type\":\"integer\"},"
        "\"refresh_token\":{\"type\":\"string\"}}}"};

static const keel_schema jwks_schema = {
    .name = "Jwks",
    .json = "{\"type\":\"object\",\"required\":[\"keys\"],\"properties\":{\"keys\":{\"type\":"
            "\"array\",\"items\":{\"type\":\"object\"}}}}"};

static const keel_body login_body = KEEL_BODY("Login", login_spec);
static const keel_body refresh_body = KEEL_BODY("RefreshToken", refresh_spec);
static const keel_body password_body = KEEL_BODY("PasswordChange", password_spec);

static const keel_param login_params[] = {
    {"X-Tenant-ID", "header", "{\"type\":\"string\",\"format\":\"uuid\"}",
     "The tenant's id, in place of the body's tenant (or equal to it)"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/auth/login",
     .handler = login,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Sign in with tenant, email and password",
     .operation_id = "login",
     .body = &login_body,
     .reply = {200, KEEL_SHAPE_ONE, &token_pair_schema},
     .params = login_params,
     .problems = {401, 429}},
    {.method = "POST",
     .path = "/api/v1/auth/refresh",
     .handler = refresh,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Exchange a refresh token for a new token pair",
     .operation_id = "refreshTokens",
     .body = &refresh_body,
     .reply = {200, KEEL_SHAPE_ONE, &token_pair_schema},
     .problems = {401}},
    {.method = "POST",
     .path = "/api/v1/auth/logout",
     .handler = logout,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Revoke a refresh token's family",
     .operation_id = "logout",
     .body = &refresh_body,
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .problems = {401}},
    {.method = "GET",
     .path = "/api/v1/auth/me",
     .handler = me,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "The calling user",
     .operation_id = "getCurrentUser",
     .reply = {200, KEEL_SHAPE_ONE, &keel_auth_user_schema}},
    {.method = "POST",
     .path = "/api/v1/auth/password",
     .handler = password,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Change the caller's password",
     .operation_id = "changePassword",
     .body = &password_body,
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .problems = {429}},
    {.method = "GET",
     .path = "/.well-known/jwks.json",
     .handler = jwks,
     .flags = KEEL_ROUTE_PUBLIC,
     .summary = "Public keys that verify access tokens",
     .operation_id = "getJwks",
     .reply = {200, KEEL_SHAPE_ONE, &jwks_schema}},
};

void
auth_api_routes(keel_router *r, keel_auth *a)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), a);
}
