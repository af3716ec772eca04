/*
 * Tokens: the pair a sign-in or a refresh issues, POST /api/v1/auth/refresh
 * (rotation: a refresh token is spent by its use, and a spent one presented
 * again revokes its family) and POST /api/v1/auth/logout (the family
 * revoked).
 */
#include "auth/auth_int.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

keel_err
auth_issue_tokens(keel_req *req, const keel_auth *a, keel_tx *tx, const char *tenant_id,
                  const char *user_id, keel_role role, const char *family_id, json_t **out)
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

static const keel_field_spec refresh_spec[] = {
    {.name = "refresh_token", .type = KEEL_F_STRING, .required = true, .min = 1, .max = 256},
};

const keel_body auth_refresh_body = KEEL_BODY("RefreshToken", refresh_spec);

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

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if ((err = keel_req_check_body(req, body, "the request is invalid")) != KEEL_OK)
		return err;
	if (!refresh_decode(json_string_value(json_object_get(body, "refresh_token")), t))
		return invalid_refresh(req);
	if ((err = keel_svc_tx_tenant(req, a->pool, t->tenant_id, tx)) != KEEL_OK)
		return err;
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
		auth_event e = auth_event_of(req, event, row->user_id, NULL);

		err = auth_store_event(tx, &e);
	}
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	return keel_svc_commit(req, tx);
}

keel_err
auth_refresh(keel_req *req, void *ctx)
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
		if ((err = revoke_family(req, tx, &row, "refresh_reused")) != KEEL_OK)
			return err;
		return invalid_refresh(req);
	}
	if (!row.user_active) {
		if ((err = revoke_family(req, tx, &row, NULL)) != KEEL_OK)
			return err;
		return invalid_refresh(req);
	}
	if ((err = auth_store_token_use(tx, t.id)) != KEEL_OK ||
	    (err = auth_issue_tokens(req, a, tx, t.tenant_id, row.user_id, row.role, row.family_id,
	                             &tokens)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK) {
		json_decref(tokens);
		return KEEL_EUNAVAIL;
	}
	return keel_req_json(req, 200, tokens);
}

keel_err
auth_logout(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	refresh_token t;
	keel_tx *tx;
	auth_token_row row;
	keel_err err = refresh_lock(req, a, &t, &tx, &row);

	if (err != KEEL_OK)
		return err;
	if ((err = revoke_family(req, tx, &row, "signed_out")) != KEEL_OK)
		return err;
	return keel_req_no_content(req);
}
