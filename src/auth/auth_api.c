/*
 * The routes of /api/v1/auth and JWKS: the table, and the two small
 * endpoints of their own (the caller, the public keys).  Sign-in is
 * login_api.c's, refresh and sign-out token_api.c's, password change
 * password_api.c's; the authenticator is authenticate.c.
 */
#include "auth/auth_int.h"
#include "svc/svc.h"

/* ---- the caller ---- */

static keel_err
me(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	keel_tx *tx;
	json_t *user;
	keel_err err;

	if ((err = keel_svc_tx(req, a->pool, &tx)) != KEEL_OK)
		return err;
	err = auth_store_user_get(tx, keel_req_arena(req), keel_access_principal(req)->user_id, &user);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the user of this token no longer exists");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	return keel_req_json(req, 200, json_incref(user));
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

static const keel_param login_params[] = {
    {"X-Tenant-ID", "header", "{\"type\":\"string\",\"format\":\"uuid\"}",
     "The tenant's id, in place of the body's tenant (or equal to it)"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/auth/login",
     .handler = auth_login,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Sign in with tenant, email and password",
     .operation_id = "login",
     .body = &auth_login_body,
     .reply = {200, KEEL_SHAPE_ONE, &token_pair_schema},
     .params = login_params,
     .problems = {401, 429}},
    {.method = "POST",
     .path = "/api/v1/auth/refresh",
     .handler = auth_refresh,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Exchange a refresh token for a new token pair",
     .operation_id = "refreshTokens",
     .body = &auth_refresh_body,
     .reply = {200, KEEL_SHAPE_ONE, &token_pair_schema},
     .problems = {401}},
    {.method = "POST",
     .path = "/api/v1/auth/logout",
     .handler = auth_logout,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Revoke a refresh token's family",
     .operation_id = "logout",
     .body = &auth_refresh_body,
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
     .handler = auth_password_change,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "Change the caller's password",
     .operation_id = "changePassword",
     .body = &auth_password_body,
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
