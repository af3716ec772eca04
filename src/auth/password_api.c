/*
 * Password change: POST /api/v1/auth/password.
 *
 * The current password is checked like a sign-in's: it counts against the
 * same account limit (attempt.c), and the work (verify it, hash the new one)
 * is done on the hashing pool between the handler's reads and
 * password_finish's writes.  A successful change revokes every session of
 * the user.
 */
#include "auth/auth_int.h"
#include "core/uuid.h"
#include "svc/svc.h"

/*
 * A wrong current password is a guess at the account's password like a failed sign-in: it
 * counts against the same account limit (AUTH_ACCOUNT_FAILURES_MAX in 15 minutes, its attempt
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

const keel_body auth_password_body = KEEL_BODY("PasswordChange", password_spec);

/* The caller's stored hash and email, and its attempt put on record (committed). */
static keel_err
password_attempt_begin(keel_req *req, password_state *s)
{
	keel_tx *tx;
	auth_user u;
	keel_err err;

	if ((err = keel_svc_tx(req, s->auth->pool, &tx)) != KEEL_OK)
		return err;
	err = auth_store_user_by_id(tx, keel_req_arena(req), keel_access_principal(req)->user_id, &u);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the user of this token no longer exists");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	s->hash = u.hash;
	s->email = u.email;
	return auth_attempt_begin(req, tx, s->email, s->attempt_id);
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
	auth_event refusal = auth_event_of(req, "password_change_throttled",
	                                   keel_access_principal(req)->user_id, s->email);

	if ((err = keel_svc_tx(req, s->auth->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = auth_attempt_count(req, tx, s->attempt_id, &refusal, &refused)) != KEEL_OK ||
	    refused)
		return err;
	keel_svc_release(tx);
	return KEEL_OK;
}

static keel_err password_finish(keel_req *req, void *arg);

/* The handler: checks and the attempt on record, then the hashing on the hashing pool. */
keel_err
auth_password_change(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	json_t *body;
	password_state *s = keel_arena_calloc(keel_req_arena(req), 1, sizeof(*s));
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	keel_json_check(body, password_spec, KEEL_NELEM(password_spec), keel_req_errors(req));
	s->auth = a;
	s->current = json_string_value(json_object_get(body, "current_password"));
	s->next = json_string_value(json_object_get(body, "new_password"));
	if (s->next != NULL)
		keel_auth_check_new_password(keel_req_errors(req), "new_password", s->next);
	if ((err = keel_req_invalid(req, "the request is invalid")) != KEEL_OK)
		return err;
	/* a place on the hashing queue first: the attempt password_read puts on record counts */
	if ((err = keel_req_offload_reserve(req, a->hashers)) != KEEL_OK)
		return err;
	if ((err = password_read(req, s)) != KEEL_OK)
		return err;
	return keel_req_offload(req, a->hashers, password_work, password_finish, s);
}

/* A wrong current password (on record: it counts against the account) or a failed hash. */
static keel_err
password_refused(keel_req *req, keel_tx *tx, const password_state *s)
{
	auth_event e =
	    auth_event_of(req, "password_change_failed", keel_access_principal(req)->user_id, s->email);
	keel_err err;

	if (!s->verified && (err = auth_store_event(tx, &e)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	if (!s->verified)
		return keel_req_fail(req, KEEL_EINVAL, "current_password", "is incorrect");
	return keel_req_fail(req, KEEL_EINTERNAL, NULL, "password hashing failed");
}

/* Write phase: the attempt ends; the new hash, every session revoked, and the event. */
static keel_err
password_finish(keel_req *req, void *arg)
{
	password_state *s = arg;
	keel_auth *a = s->auth;
	const char *user_id = keel_access_principal(req)->user_id;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_svc_tx(req, a->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = auth_store_attempt_end(tx, s->attempt_id)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (!s->verified || !s->ok)
		return password_refused(req, tx, s);
	auth_event e = auth_event_of(req, "password_changed", user_id, s->email);

	if ((err = auth_store_password_set(tx, user_id, s->new_hash)) != KEEL_OK ||
	    (err = auth_store_user_tokens_revoke(tx, user_id)) != KEEL_OK ||
	    (err = auth_store_event(tx, &e)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	return keel_req_no_content(req);
}
