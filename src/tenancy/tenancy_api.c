/*
 * Tenant sign-up (POST /api/v1/tenants) and the caller's tenant
 * (GET, PATCH /api/v1/tenant).
 *
 * Sign-up creates the tenant and its first owner in one transaction: either
 * both exist afterwards or neither does.  The owner's password is hashed on
 * the hashing pool first, outside any transaction.
 */
#include "tenancy/tenancy_int.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <string.h>

#define SLUG_PATTERN "^[a-z0-9][a-z0-9-]{1,62}$"

/* True when s matches SLUG_PATTERN. */
static bool
slug_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 2 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');

		if (!ok)
			return false;
	}
	return true;
}

static const keel_field_spec signup_spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 200},
    {.name = "slug",
     .type = KEEL_F_STRING,
     .required = true,
     .min = 1,
     .max = 63,
     .check = slug_valid,
     .check_msg = "must match " SLUG_PATTERN,
     .pattern = SLUG_PATTERN},
    KEEL_AUTH_EMAIL_FIELD("owner_email"),
    KEEL_AUTH_NEW_PASSWORD_FIELD("owner_password"),
};

static const keel_field_spec rename_spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 200},
};

typedef struct signup_state {
	keel_auth_hash_job job;
	keel_tenancy *tenancy;
	const char *name, *slug, *email;
} signup_state;

/* Tenant, then owner, in tx; *out = {"tenant", "owner"}. */
static keel_err
create_both(keel_tx *tx, keel_arena *a, const char *name, const char *slug, const char *email,
            const char *hash, json_t **out)
{
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	json_t *tenant, *owner;

	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	keel_err err = tenancy_store_create(tx, a, text, name, slug, &tenant);

	if (err == KEEL_OK)
		err = keel_auth_user_insert(tx, a, email, hash, KEEL_ROLE_OWNER, &owner);
	if (err == KEEL_OK)
		*out = json_pack("{s:O, s:O}", "tenant", tenant, "owner", owner);
	return err;
}

keel_err
keel_tenancy_create(keel_db *db, keel_arena *arena, const char *name, const char *slug,
                    const char *owner_email, const char *hash, json_t **out)
{
	keel_tx *tx;
	keel_err err = keel_tx_begin(db, arena, NULL, &tx);

	if (err == KEEL_OK)
		err = create_both(tx, arena, name, slug, owner_email, hash, out);
	if (err == KEEL_OK && (err = keel_tx_commit(tx)) != KEEL_OK)
		json_decref(*out);
	return err;
}

keel_err
keel_tenancy_suspend(keel_db *db, keel_arena *arena, const char *slug, bool suspend,
                     const char *reason, json_t **out, bool *changed)
{
	const char *id;
	bool suspended;
	keel_tx *tx;
	keel_err err = tenancy_store_id_by_slug(db, arena, slug, &id, &suspended);

	*out = NULL;
	*changed = false;
	if (err != KEEL_OK)
		return err;
	keel_ctx ctx = {.tenant_id = id};

	if ((err = keel_tx_begin(db, arena, &ctx, &tx)) != KEEL_OK)
		return err;
	if (suspended == suspend) {
		err = tenancy_store_get(tx, arena, out);
	} else {
		err = tenancy_store_set_suspended(tx, arena, suspend, reason, out);
		*changed = err == KEEL_OK;
	}
	if (err == KEEL_OK)
		err = keel_tx_commit(tx);
	return err;
}

size_t
keel_tenancy_signup_check(json_t *body, json_t *errors)
{
	size_t n = keel_json_check(body, signup_spec, KEEL_NELEM(signup_spec), errors);
	const char *email, *password;

	if ((email = json_string_value(json_object_get(body, "owner_email"))) != NULL)
		n += keel_auth_check_email(errors, "owner_email", email);
	if ((password = json_string_value(json_object_get(body, "owner_password"))) != NULL)
		n += keel_auth_check_new_password(errors, "owner_password", password);
	return n;
}

static keel_err signup_finish(keel_req *req, void *arg);

/* The handler: checks, then the password hashed on the hashing pool; signup_finish writes. */
static keel_err
signup(keel_req *req, void *ctx)
{
	keel_tenancy *t = ctx;
	json_t *body;
	signup_state *s = keel_arena_calloc(keel_req_arena(req), 1, sizeof(*s));
	keel_err err;

	if (!t->signup_open)
		return keel_req_fail(req, KEEL_EDENIED, NULL, "sign-up is closed on this server");
	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	keel_tenancy_signup_check(body, keel_req_errors(req));
	if ((err = keel_req_invalid(req, "the sign-up is invalid")) != KEEL_OK)
		return err;
	s->name = json_string_value(json_object_get(body, "name"));
	s->slug = json_string_value(json_object_get(body, "slug"));
	s->email = json_string_value(json_object_get(body, "owner_email"));
	s->job.password = json_string_value(json_object_get(body, "owner_password"));
	s->job.auth = t->auth;
	s->tenancy = t;
	return keel_req_offload(req, keel_auth_hashers(t->auth), keel_auth_hash_run, signup_finish, s);
}

static keel_err
signup_finish(keel_req *req, void *arg)
{
	signup_state *s = arg;
	keel_tenancy *t = s->tenancy;
	keel_tx *tx;
	json_t *out = NULL;
	keel_err err;

	if (!s->job.ok)
		return keel_req_fail(req, KEEL_EINTERNAL, NULL, "password hashing failed");
	if ((err = keel_svc_tx_tenant(req, t->pool, NULL, &tx)) != KEEL_OK)
		return err;
	err = create_both(tx, keel_req_arena(req), s->name, s->slug, s->email, s->job.hash, &out);
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, KEEL_ECONFLICT, "slug", "is already taken");
	err =
	    keel_svc_finish(req, tx, err, NULL,
	                    (keel_svc_reply){.status = 201, .json = out, .location = "/api/v1/tenant"});
	json_decref(out);
	return err;
}

/* The answer with the tenant: its JSON and ETag. */
static keel_svc_reply
tenant_reply(const json_t *tenant)
{
	return (keel_svc_reply){.status = 200,
	                        .json = tenant,
	                        .version =
	                            (long)json_integer_value(json_object_get(tenant, "version"))};
}

static keel_err
tenant_get(keel_req *req, void *ctx)
{
	keel_tenancy *t = ctx;
	keel_tx *tx;
	json_t *tenant = NULL;
	keel_err err;

	if ((err = keel_svc_tx(req, t->pool, &tx)) != KEEL_OK)
		return err;
	err = tenancy_store_get(tx, keel_req_arena(req), &tenant);
	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "the tenant no longer exists");
	return keel_svc_finish(req, tx, err, NULL, tenant_reply(tenant));
}

static keel_err
tenant_rename(keel_req *req, void *ctx)
{
	keel_tenancy *t = ctx;
	json_t *body, *tenant = NULL;
	const char *version;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if ((err = keel_req_check_body(req, body, "the tenant is invalid")) != KEEL_OK)
		return err;
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, t->pool, &tx)) != KEEL_OK)
		return err;
	err = tenancy_store_rename(tx, keel_req_arena(req),
	                           json_string_value(json_object_get(body, "name")), version, &tenant);
	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, version ? KEEL_EPRECOND : KEEL_ENOTFOUND, NULL,
		                     version ? "the tenant has changed" : "the tenant no longer exists");
	return keel_svc_finish(req, tx, err, NULL, tenant_reply(tenant));
}

#define TS "{\"type\":\"string\",\"format\":\"date-time\"}"

static const keel_schema tenant_schema = {
    .name = "Tenant",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"slug\",\"status\",\"version\","
            "\"created_at\",\"updated_at\",\"suspended_at\"],\"properties\":{\"id\":{\"type\":"
            "\"string\",\"format\":\"uuid\"},\"name\":{\"type\":\"string\"},\"slug\":{\"type\":"
            "\"string\"},\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"suspended\"]},"
            "\"version\":{\"type\":\"integer\"},\"created_at\":" TS ",\"updated_at\":" TS
            ",\"suspended_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}}}"};

static const keel_schema signup_result_schema = {
    .name = "SignUpResult",
    .json = "{\"type\":\"object\",\"required\":[\"tenant\",\"owner\"],\"properties\":{\"tenant\":{"
            "\"$ref\":\"#/components/schemas/Tenant\"},\"owner\":{\"$ref\":"
            "\"#/components/schemas/User\"}}}",
    .refs = {&tenant_schema, &keel_auth_user_schema}};

static const keel_body signup_body = KEEL_BODY("SignUp", signup_spec);
static const keel_body rename_body = KEEL_BODY("TenantUpdate", rename_spec);

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/tenants",
     .handler = signup,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .summary = "Sign up: a new tenant and its first owner",
     .operation_id = "signUp",
     .body = &signup_body,
     .reply = {201, KEEL_SHAPE_ONE, &signup_result_schema},
     .problems = {403}},
    {.method = "GET",
     .path = "/api/v1/tenant",
     .handler = tenant_get,
     .flags = KEEL_ROUTE_SUSPENDED,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "The caller's tenant (also while it is suspended)",
     .operation_id = "getTenant",
     .reply = {200, KEEL_SHAPE_ONE, &tenant_schema},
     .problems = {404}},
    {.method = "PATCH",
     .path = "/api/v1/tenant",
     .handler = tenant_rename,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_OWNER,
     .summary = "Rename the caller's tenant",
     .operation_id = "updateTenant",
     .body = &rename_body,
     .reply = {200, KEEL_SHAPE_ONE, &tenant_schema},
     .problems = {404}},
};

void
keel_tenancy_routes(keel_router *r, keel_tenancy *t)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), t);
}
