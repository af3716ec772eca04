/*
 * The authenticator of every protected route: a bearer access token
 * (verified against the key its kid names, the algorithm pinned) becomes the
 * request's principal; a request naming another tenant in X-Tenant-ID than
 * its token's is refused; then access's route-level role check.
 */
#include "auth/auth_int.h"
#include "core/clock.h"

#include <string.h>
#include <strings.h>

static keel_err
unauthorized(keel_req *req, const char *why)
{
	keel_req_set_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	return keel_req_fail(req, KEEL_EUNAUTH, NULL, "invalid access token: %s", why);
}

/* The X-Tenant-ID rule: the header, when sent, must name the token's tenant. */
static keel_err
tenant_header_check(keel_req *req, const char *token_tenant)
{
	const char *tenant = keel_req_header(req, "X-Tenant-ID");

	if (tenant != NULL && strcasecmp(tenant, token_tenant) != 0)
		return keel_req_fail(req, KEEL_EDENIED, NULL,
		                     "X-Tenant-ID does not match the tenant of the access token");
	return KEEL_OK;
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

	keel_access_set_principal(req, &p);
	if (tenant_header_check(req, c.tid) != KEEL_OK)
		return KEEL_EDENIED;
	return keel_access_check_route(req, route);
}
