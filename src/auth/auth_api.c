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

	if (keel_svc_tx(req, a->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_err err =
	    auth_store_user_get(tx, keel_req_arena(req), keel_access_principal(req)->user_id, &user);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "the user of this token no longer exists");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	return keel_req_json(req, 200, json_incref(user));
}

static keel_err
jwks(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;

	keel_req_set_header(req, "Cache-Control", "public, max-age=300");
	return keel_req_json(req, 200, keel_jwt_jwks(a->keys));
}

/* The handlers of the files beside, by the names the table gives them. */
static keel_err
login(keel_req *req, void *ctx)
{
	return auth_login(req, ctx);
}

static keel_err
refresh(keel_req *req, void *ctx)
{
	return auth_refresh(req, ctx);
}

static keel_err
logout(keel_req *req, void *ctx)
{
	return auth_logout(req, ctx);
}

static keel_err
password(keel_req *req, void *ctx)
{
	return auth_password_change(req, ctx);
}

static const keel_route routes[] = {
    {"POST", "/api/v1/auth/login", login, KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY, 0,
     "Sign in with tenant, email and password"},
    {"POST", "/api/v1/auth/refresh", refresh, KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY, 0,
     "Exchange a refresh token for a new token pair"},
    {"POST", "/api/v1/auth/logout", logout, KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY, 0,
     "Revoke a refresh token's family"},
    {"GET", "/api/v1/auth/me", me, 0, KEEL_ROLE_VIEWER, "The calling user"},
    {"POST", "/api/v1/auth/password", password, KEEL_ROUTE_BODY, KEEL_ROLE_VIEWER,
     "Change the caller's password"},
    {"GET", "/.well-known/jwks.json", jwks, KEEL_ROUTE_PUBLIC, 0,
     "Public keys that verify access tokens"},
};

void
auth_api_routes(keel_router *r, keel_auth *a)
{
	keel_router_add_all(r, routes, sizeof(routes) / sizeof(routes[0]), a);
}
