/*
 * Users of the caller's tenant: create, list, get, update role and status,
 * delete.
 *
 * Role rules: admin+ manage users; only an owner creates, promotes, changes
 * or removes owners and admins (an admin manages members and viewers); the
 * last active owner cannot be demoted, disabled or deleted (409).  The
 * last-owner check locks the tenant's owner rows (FOR UPDATE) inside the
 * changing transaction, so two owners demoting each other at once cannot
 * both succeed.  Disabling a user revokes its refresh tokens at once; its
 * access tokens lapse within their lifetime.
 */
#include "auth/auth_int.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_choices[] = {"active", "disabled", NULL};

static const keel_field_spec create_spec[] = {
    KEEL_AUTH_EMAIL_FIELD("email"),
    KEEL_AUTH_NEW_PASSWORD_FIELD("password"),
    {.name = "role",
     .type = KEEL_F_ENUM,
     .choices = keel_role_choices,
     .description = "member when not given"},
};

static const keel_field_spec update_spec[] = {
    {.name = "role", .type = KEEL_F_ENUM, .choices = keel_role_choices},
    {.name = "status", .type = KEEL_F_ENUM, .choices = status_choices},
};

static keel_role
caller_role(const keel_req *req)
{
	return (keel_role)keel_access_principal(req)->role;
}

/* May the caller act on users of role target (or give that role)? */
static bool
may_manage(const keel_req *req, keel_role target)
{
	return caller_role(req) == KEEL_ROLE_OWNER || target < KEEL_ROLE_ADMIN;
}

static keel_err
forbidden_role(keel_req *req)
{
	return keel_req_fail(req, KEEL_EDENIED, NULL, "only an owner may manage owners and admins");
}

/* The {id} of the path when it is a UUID; other text names no user of any tenant. */
static const char *
path_id(keel_req *req)
{
	const char *id = keel_req_param(req, "id");

	return keel_uuid_valid(id) ? id : NULL;
}

static keel_err
not_found(keel_req *req)
{
	return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such user");
}

/* ---- create ---- */

typedef struct create_state {
	keel_auth_hash_job job;
	const char *email;
	keel_role role;
} create_state;

static keel_err create_finish(keel_req *req, void *arg);

/* The handler: checks, then the password hashed on the hashing pool; create_finish writes. */
static keel_err
user_create(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	json_t *body;
	create_state *s = keel_arena_calloc(keel_req_arena(req), 1, sizeof(*s));
	keel_err err;

	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	keel_json_check(body, create_spec, KEEL_NELEM(create_spec), keel_req_errors(req));
	s->email = json_string_value(json_object_get(body, "email"));
	s->job.password = json_string_value(json_object_get(body, "password"));
	s->job.auth = a;
	const char *role = json_string_value(json_object_get(body, "role"));

	s->role = role != NULL ? keel_role_parse(role) : KEEL_ROLE_MEMBER;
	if (s->email != NULL)
		keel_auth_check_email(keel_req_errors(req), "email", s->email);
	if (s->job.password != NULL)
		keel_auth_check_new_password(keel_req_errors(req), "password", s->job.password);
	if ((err = keel_req_invalid(req, "the user is invalid")) != KEEL_OK)
		return err;
	/* no hash for a caller who has lost its access since its token was issued */
	if ((err = keel_svc_access(req, a->pool, KEEL_ROLE_ADMIN)) != KEEL_OK)
		return err;
	if (!may_manage(req, s->role))
		return forbidden_role(req);
	return keel_req_offload(req, keel_auth_hashers(a), keel_auth_hash_run, create_finish, s);
}

static keel_err
create_finish(keel_req *req, void *arg)
{
	create_state *s = arg;
	const keel_auth *a = s->job.auth;
	keel_tx *tx;
	json_t *user;
	keel_err err;

	if (!s->job.ok)
		return keel_req_fail(req, KEEL_EINTERNAL, NULL, "password hashing failed");
	/* checked again: the caller's role may have changed while the password was hashed */
	if ((err = keel_svc_tx_role(req, a->pool,
	                            s->role >= KEEL_ROLE_ADMIN ? KEEL_ROLE_OWNER : KEEL_ROLE_ADMIN,
	                            &tx)) != KEEL_OK)
		return err;
	err = keel_auth_user_insert(tx, keel_req_arena(req), s->email, s->job.hash, s->role, &user);
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, KEEL_ECONFLICT, "email", "is already used in this tenant");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	keel_req_set_header(req, "Location",
	                    keel_arena_printf(keel_req_arena(req), "/api/v1/users/%s",
	                                      json_string_value(json_object_get(user, "id"))));
	keel_svc_etag(req, user);
	return keel_req_json(req, 201, json_incref(user));
}

/* ---- read ---- */

static keel_err
user_list(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	keel_page page;
	keel_tx *tx;
	json_t *users;
	const char *last;
	keel_err err;

	if ((err = keel_svc_page(req, &page)) != KEEL_OK)
		return err;
	if (keel_svc_tx(req, a->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	err = auth_store_user_list(tx, keel_req_arena(req), page.after, page.limit, &users, &last);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK) {
		json_decref(users);
		return KEEL_EUNAVAIL;
	}
	return keel_svc_list_json(req, users, &page, last);
}

static keel_err
user_get(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	const char *id = path_id(req);
	keel_tx *tx;
	json_t *user;
	keel_err err;

	if (id == NULL)
		return not_found(req);
	if ((err = keel_svc_tx(req, a->pool, &tx)) != KEEL_OK)
		return err;
	err = auth_store_user_get(tx, keel_req_arena(req), id, &user);

	/* the role as of this transaction, and before 404: a member learns nothing of others */
	if ((err == KEEL_OK || err == KEEL_ENOTFOUND) && caller_role(req) < KEEL_ROLE_ADMIN &&
	    strcmp(id, keel_access_principal(req)->user_id) != 0)
		return keel_req_fail(req, KEEL_EDENIED, NULL, "only admins may read other users");
	if (err == KEEL_ENOTFOUND)
		return not_found(req);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	keel_svc_etag(req, user);
	return keel_req_json(req, 200, json_incref(user));
}

/* ---- change ---- */

/*
 * Load the target in tx and apply the rules shared by update and delete:
 * 404, 412 on If-Match, 403 on role, 409 when it would leave no owner.
 * removes_owner: the change takes the target out of the active owners.
 */
static keel_err
guard_change(keel_req *req, keel_tx *tx, const char *id, const char *version, keel_role new_role,
             bool removes_owner, json_t **target)
{
	keel_err err = auth_store_user_get(tx, keel_req_arena(req), id, target);
	int owners;

	if (err == KEEL_ENOTFOUND)
		return not_found(req);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (version != NULL &&
	    json_integer_value(json_object_get(*target, "version")) != strtoll(version, NULL, 10))
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the user has changed (version %lld)",
		                     (long long)json_integer_value(json_object_get(*target, "version")));
	keel_role role = keel_role_parse(json_string_value(json_object_get(*target, "role")));

	if (!may_manage(req, role) || (new_role != KEEL_ROLE_NONE && !may_manage(req, new_role)))
		return forbidden_role(req);
	bool active = strcmp(json_string_value(json_object_get(*target, "status")), "active") == 0;

	if (role != KEEL_ROLE_OWNER || !active || !removes_owner)
		return KEEL_OK;
	if ((err = auth_store_owners_lock(tx, &owners)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (owners <= 1)
		return keel_req_fail(req, KEEL_ECONFLICT, NULL,
		                     "the last owner of a tenant cannot be demoted, disabled or deleted");
	return KEEL_OK;
}

static keel_err
user_update(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	const char *id = path_id(req), *version;
	json_t *body, *target, *user;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return not_found(req);
	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if (keel_json_check(body, update_spec, KEEL_NELEM(update_spec), keel_req_errors(req)) > 0 ||
	    json_object_size(body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give role and/or status");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK)
		return err;
	const char *role = json_string_value(json_object_get(body, "role"));
	const char *status = json_string_value(json_object_get(body, "status"));
	keel_role new_role = keel_role_parse(role);
	bool removes_owner = (role != NULL && new_role != KEEL_ROLE_OWNER) ||
	                     (status != NULL && strcmp(status, "disabled") == 0);

	if ((err = keel_svc_tx(req, a->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = guard_change(req, tx, id, version, new_role, removes_owner, &target)) != KEEL_OK)
		return err;
	const char *current =
	    keel_arena_printf(keel_req_arena(req), "%lld",
	                      (long long)json_integer_value(json_object_get(target, "version")));

	err = auth_store_user_update(tx, keel_req_arena(req), id, role, status, current, &user);
	if (err == KEEL_ENOTFOUND) /* changed between our read and our write */
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the user has changed; read it again");
	if (err == KEEL_OK && status != NULL && strcmp(status, "disabled") == 0)
		err = auth_store_user_tokens_revoke(tx, id);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	keel_svc_etag(req, user);
	return keel_req_json(req, 200, json_incref(user));
}

static keel_err
user_delete(keel_req *req, void *ctx)
{
	keel_auth *a = ctx;
	const char *id = path_id(req), *version;
	json_t *target;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return not_found(req);
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK)
		return err;
	if (keel_svc_tx(req, a->pool, &tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if ((err = guard_change(req, tx, id, version, KEEL_ROLE_NONE, true, &target)) != KEEL_OK)
		return err;
	/* only the row the guard checked: one changed since (say promoted) is not deleted */
	err = auth_store_user_delete(
	    tx, id,
	    keel_arena_printf(keel_req_arena(req), "%lld",
	                      (long long)json_integer_value(json_object_get(target, "version"))));
	if (err == KEEL_ENOTFOUND) /* changed or deleted between our read and our write */
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the user has changed; read it again");
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	return keel_req_no_content(req);
}

#define UUID "{\"type\":\"string\",\"format\":\"uuid\"}"
#define TS   "{\"type\":\"string\",\"format\":\"date-time\"}"

const keel_schema keel_auth_user_schema = {
    .name = "User",
    .json =
        "{\"type\":\"object\",\"required\":[\"id\",\"tenant_id\",\"email\",\"role\",\"status\","
        "\"version\",\"created_at\",\"updated_at\",\"last_login_at\"],\"properties\":{\"id\":" UUID
        ",\"tenant_id\":" UUID ",\"email\":{\"type\":\"string\"},\"role\":{\"type\":\"string\","
        "\"enum\":[\"owner\",\"admin\",\"member\",\"viewer\"]},\"status\":{\"type\":\"string\","
        "\"enum\":[\"active\",\"disabled\"]},\"version\":{\"type\":\"integer\"},\"created_at\":" TS
        ",\"updated_at\":" TS ",\"last_login_at\":{\"type\":[\"string\",\"null\"],\"format\":"
        "\"date-time\"}}}"};

static const keel_body create_body = KEEL_BODY("UserCreate", create_spec);
static const keel_body update_body = KEEL_BODY("UserUpdate", update_spec);

static const keel_param id_param[] = {{"id", "path", UUID, "The user's id"}, {0}};

static const keel_param list_params[] = {KEEL_SVC_PAGE_PARAMS, {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/users",
     .handler = user_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create a user in the caller's tenant",
     .operation_id = "createUser",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &keel_auth_user_schema}},
    {.method = "GET",
     .path = "/api/v1/users",
     .handler = user_list,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "List the tenant's users",
     .operation_id = "listUsers",
     .reply = {200, KEEL_SHAPE_LIST, &keel_auth_user_schema},
     .params = list_params},
    {.method = "GET",
     .path = "/api/v1/users/{id}",
     .handler = user_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A user (admin+, or self)",
     .operation_id = "getUser",
     .reply = {200, KEEL_SHAPE_ONE, &keel_auth_user_schema},
     .params = id_param},
    {.method = "PATCH",
     .path = "/api/v1/users/{id}",
     .handler = user_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Change a user's role or status",
     .operation_id = "updateUser",
     .body = &update_body,
     .reply = {200, KEEL_SHAPE_ONE, &keel_auth_user_schema},
     .params = id_param},
    {.method = "DELETE",
     .path = "/api/v1/users/{id}",
     .handler = user_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete a user",
     .operation_id = "deleteUser",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = id_param},
};

void
users_api_routes(keel_router *r, keel_auth *a)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), a);
}
