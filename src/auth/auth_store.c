/*
 * The auth module's SQL: users, refresh tokens, security events, throttling.
 *
 * Every statement runs in a transaction begun by the caller through
 * keel_svc_tx*() and names tenant_id = core.current_tenant_id() explicitly,
 * on top of row-level security, so that the planner uses the tenant-leading
 * indexes.  Nothing here ever selects password_hash into a response.
 *
 * Domain events: every change of a user (create, role or status, password,
 * delete) enqueues keel.user.* with the user's public JSON (user_json: never
 * the hash) in the same transaction, from the row its statement returned.
 */
#include "auth/auth_store.h"
#include "core/uuid.h"
#include "events/events.h"

#include <stdlib.h>
#include <string.h>

/* The public columns of a user, in the order user_json() reads them. */
#define USER_COLS                                                                                  \
	"id, tenant_id, email, role, status, version, " KEEL_DB_TS("created_at") ", " KEEL_DB_TS(      \
	    "updated_at") ", " KEEL_DB_TS("last_login_at")

#define CURRENT "core.current_tenant_id()"

static const keel_stmt st_tenant_by_slug = {"auth_tenant_by_slug",
                                            "SELECT id, status FROM core.tenant_by_slug($1)", 1};
static const keel_stmt st_tenant_exists = {"auth_tenant_exists",
                                           "SELECT status FROM core.tenants WHERE id = $1", 1};
static const keel_stmt st_user_by_email = {
    "auth_user_by_email",
    "SELECT id, password_hash, role, status, email FROM auth.users"
    " WHERE tenant_id = " CURRENT " AND lower(email) = lower($1)",
    1};
static const keel_stmt st_user_by_id = {
    "auth_user_by_id",
    "SELECT id, password_hash, role, status, email FROM auth.users"
    " WHERE tenant_id = " CURRENT " AND id = $1",
    1};
/*
 * Failures of the account's password (wrong at sign-in or as the current password of a change)
 * since its last success (a sign-in or a change), and attempts still running, in the last 15
 * minutes.
 */
static const keel_stmt st_account_failures = {
    "auth_account_failures",
    "WITH f (at) AS ("
    " SELECT e.occurred_at FROM auth.security_events e"
    " WHERE e.tenant_id = " CURRENT " AND lower(e.email) = lower($1)"
    " AND e.kind IN ('sign_in_failed', 'password_change_failed')"
    " AND e.occurred_at > now() - interval '15 minutes'"
    " AND e.occurred_at > coalesce((SELECT max(s.occurred_at) FROM auth.security_events s"
    "  WHERE s.tenant_id = " CURRENT " AND lower(s.email) = lower($1)"
    "  AND s.kind IN ('sign_in_succeeded', 'password_changed')), '-infinity')"
    " UNION ALL"
    " SELECT a.started_at FROM auth.sign_in_attempts a"
    " WHERE a.tenant_id = " CURRENT " AND lower(a.email) = lower($1)"
    " AND a.started_at > now() - interval '15 minutes')"
    " SELECT count(*), coalesce(ceil(extract(epoch FROM min(at) + interval '15 minutes'"
    " - now()))::integer, 0) FROM f",
    1};
static const keel_stmt st_attempt_begin = {
    "auth_attempt_begin",
    "INSERT INTO auth.sign_in_attempts (tenant_id, id, email) VALUES (" CURRENT ", $1, $2)", 2};
static const keel_stmt st_attempt_end = {
    "auth_attempt_end",
    "DELETE FROM auth.sign_in_attempts WHERE tenant_id = " CURRENT " AND id = $1", 1};
static const keel_stmt st_address_failures = {
    "auth_address_failures",
    "SELECT failures, retry_after_s FROM auth.address_failures_recent($1::inet, interval '1 "
    "minute')",
    1};
static const keel_stmt st_address_record = {"auth_address_record",
                                            "SELECT auth.address_failure_record($1::inet)", 1};
static const keel_stmt st_event = {
    "auth_event",
    "INSERT INTO auth.security_events"
    " (tenant_id, id, kind, user_id, email, client_addr, user_agent, request_id)"
    " VALUES (" CURRENT ", $1, $2, $3, $4, $5::inet, left($6, 512), $7)",
    7};
static const keel_stmt st_login_done = {
    "auth_login_done",
    "UPDATE auth.users SET last_login_at = now(), password_hash = coalesce($2, password_hash)"
    " WHERE tenant_id = " CURRENT " AND id = $1 AND status = 'active' AND password_hash = $3"
    " RETURNING role",
    3};
static const keel_stmt st_token_insert = {
    "auth_token_insert",
    "INSERT INTO auth.refresh_tokens (tenant_id, id, user_id, family_id, token_hash, expires_at)"
    " VALUES (" CURRENT ", $1, $2, $3, $4::bytea, now() + make_interval(secs => $5::bigint))",
    5};
static const keel_stmt st_token_lock = {
    "auth_token_lock",
    "SELECT t.user_id, t.family_id, t.token_hash::text, t.used_at IS NOT NULL,"
    " t.revoked_at IS NOT NULL, t.expires_at <= now(), u.role, u.status, n.status"
    " FROM auth.refresh_tokens t"
    " JOIN auth.users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id"
    " JOIN core.tenants n ON n.id = t.tenant_id"
    " WHERE t.tenant_id = " CURRENT " AND t.id = $1 FOR UPDATE OF t",
    1};
/*
 * The token's user, share-locked before the token itself: a password change, a disabling or a
 * deletion (which write the user row first, then revoke tokens) and a refresh then take their
 * locks in the same order, so a refresh never mints a token the revocation cannot see.
 */
static const keel_stmt st_token_user_lock = {
    "auth_token_user_lock",
    "SELECT u.id FROM auth.users u WHERE u.tenant_id = " CURRENT " AND u.id ="
    " (SELECT t.user_id FROM auth.refresh_tokens t WHERE t.tenant_id = " CURRENT " AND t.id = $1)"
    " FOR SHARE",
    1};
static const keel_stmt st_token_use = {
    "auth_token_use",
    "UPDATE auth.refresh_tokens SET used_at = now() WHERE tenant_id = " CURRENT " AND id = $1", 1};
static const keel_stmt st_family_revoke = {"auth_family_revoke",
                                           "UPDATE auth.refresh_tokens SET revoked_at = now()"
                                           " WHERE tenant_id = " CURRENT
                                           " AND family_id = $1 AND revoked_at IS NULL",
                                           1};
static const keel_stmt st_user_tokens_revoke = {"auth_user_tokens_revoke",
                                                "UPDATE auth.refresh_tokens SET revoked_at = now()"
                                                " WHERE tenant_id = " CURRENT
                                                " AND user_id = $1 AND revoked_at IS NULL",
                                                1};
static const keel_stmt st_password_set = {
    "auth_password_set",
    "UPDATE auth.users SET password_hash = $2, password_changed_at = now(), updated_at = now(),"
    " version = version + 1 WHERE tenant_id = " CURRENT " AND id = $1 RETURNING " USER_COLS,
    2};
static const keel_stmt st_user_insert = {
    "auth_user_insert",
    "INSERT INTO auth.users (tenant_id, id, email, password_hash, role)"
    " VALUES (" CURRENT ", $1, $2, $3, $4) RETURNING " USER_COLS,
    4};
static const keel_stmt st_user_get = {
    "auth_user_get",
    "SELECT " USER_COLS " FROM auth.users WHERE tenant_id = " CURRENT " AND id = $1", 1};
static const keel_stmt st_user_list = {
    "auth_user_list",
    "SELECT " USER_COLS " FROM auth.users WHERE tenant_id = " CURRENT
    " AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2",
    2};
static const keel_stmt st_user_update = {
    "auth_user_update",
    "UPDATE auth.users SET role = coalesce($2, role), status = coalesce($3, status),"
    " version = version + 1, updated_at = now()"
    " WHERE tenant_id = " CURRENT " AND id = $1 AND ($4::integer IS NULL OR version = $4::integer)"
    " RETURNING " USER_COLS,
    4};
static const keel_stmt st_user_delete = {
    "auth_user_delete",
    "DELETE FROM auth.users WHERE tenant_id = " CURRENT
    " AND id = $1 AND ($2::integer IS NULL OR version = $2::integer) RETURNING " USER_COLS,
    2};
static const keel_stmt st_owners_lock = {
    "auth_owners_lock",
    "SELECT id FROM auth.users WHERE tenant_id = " CURRENT
    " AND role = 'owner' AND status = 'active' ORDER BY id FOR UPDATE",
    0};

static json_t *
json_text(const char *s)
{
	json_t *j = json_string(s);

	return j != NULL ? j : json_string("");
}

/* A user row (USER_COLS) as the API's JSON. */
static json_t *
user_json(const keel_res *res, int row)
{
	json_t *u = json_object();

	json_object_set_new(u, "id", json_text(keel_res_get(res, row, 0)));
	json_object_set_new(u, "tenant_id", json_text(keel_res_get(res, row, 1)));
	json_object_set_new(u, "email", json_text(keel_res_get(res, row, 2)));
	json_object_set_new(u, "role", json_text(keel_res_get(res, row, 3)));
	json_object_set_new(u, "status", json_text(keel_res_get(res, row, 4)));
	json_object_set_new(u, "version", json_integer(atoll(keel_res_get(res, row, 5))));
	json_object_set_new(u, "created_at", json_text(keel_res_get(res, row, 6)));
	json_object_set_new(u, "updated_at", json_text(keel_res_get(res, row, 7)));
	json_object_set_new(u, "last_login_at",
	                    keel_res_null(res, row, 8) ? json_null()
	                                               : json_text(keel_res_get(res, row, 8)));
	return u;
}

static void
json_release(void *p)
{
	json_decref(p);
}

/* The event of a change to the single user row of res (USER_COLS); KEEL_ENOTFOUND without one. */
static keel_err
user_event(keel_tx *tx, keel_res *res, const char *type)
{
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	json_t *user = user_json(res, 0);
	keel_err err = keel_events_enqueue_json(tx, type, keel_res_get(res, 0, 0), user);

	json_decref(user);
	return err;
}

keel_err
auth_store_resolve_tenant(keel_tx *tx, keel_arena *a, const char *name, const char **id)
{
	keel_res *res;
	const char *p[] = {name};
	keel_err err = keel_tx_exec(tx, &st_tenant_by_slug, p, &res);

	*id = NULL;
	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) == 1 && strcmp(keel_res_get(res, 0, 1), "active") == 0)
		*id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	return KEEL_OK;
}

keel_err
auth_store_tenant_exists(keel_tx *tx, const char *id, bool *active)
{
	keel_res *res;
	const char *p[] = {id};
	keel_err err = keel_tx_exec(tx, &st_tenant_exists, p, &res);

	*active =
	    err == KEEL_OK && keel_res_rows(res) == 1 && strcmp(keel_res_get(res, 0, 0), "active") == 0;
	return err;
}

static keel_err
user_row(keel_tx *tx, keel_arena *a, const keel_stmt *st, const char *key, auth_user *u)
{
	keel_res *res;
	const char *p[] = {key};
	keel_err err = keel_tx_exec(tx, st, p, &res);

	memset(u, 0, sizeof(*u));
	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	u->id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	u->hash = keel_arena_strdup(a, keel_res_get(res, 0, 1));
	u->role = keel_role_parse(keel_res_get(res, 0, 2));
	u->active = strcmp(keel_res_get(res, 0, 3), "active") == 0;
	u->email = keel_arena_strdup(a, keel_res_get(res, 0, 4));
	return KEEL_OK;
}

keel_err
auth_store_user_by_email(keel_tx *tx, keel_arena *a, const char *email, auth_user *u)
{
	return user_row(tx, a, &st_user_by_email, email, u);
}

keel_err
auth_store_user_by_id(keel_tx *tx, keel_arena *a, const char *id, auth_user *u)
{
	return user_row(tx, a, &st_user_by_id, id, u);
}

static keel_err
count_pair(keel_tx *tx, const keel_stmt *st, const char *key, int *count, int *retry_after_s)
{
	keel_res *res;
	const char *p[] = {key};
	keel_err err = keel_tx_exec(tx, st, p, &res);

	*count = 0;
	*retry_after_s = 0;
	if (err != KEEL_OK)
		return err;
	*count = atoi(keel_res_get(res, 0, 0));
	*retry_after_s = atoi(keel_res_get(res, 0, 1));
	return KEEL_OK;
}

keel_err
auth_store_account_failures(keel_tx *tx, const char *email, int *failures, int *retry_after_s)
{
	return count_pair(tx, &st_account_failures, email, failures, retry_after_s);
}

keel_err
auth_store_address_failures(keel_tx *tx, const char *addr, int *failures, int *retry_after_s)
{
	return count_pair(tx, &st_address_failures, addr, failures, retry_after_s);
}

keel_err
auth_store_address_record(keel_tx *tx, const char *addr)
{
	const char *p[] = {addr};

	return keel_tx_exec(tx, &st_address_record, p, NULL);
}

keel_err
auth_store_attempt_begin(keel_tx *tx, const char *id, const char *email)
{
	const char *p[] = {id, email};

	return keel_tx_exec(tx, &st_attempt_begin, p, NULL);
}

keel_err
auth_store_attempt_end(keel_tx *tx, const char *id)
{
	const char *p[] = {id};

	return keel_tx_exec(tx, &st_attempt_end, p, NULL);
}

keel_err
auth_store_event(keel_tx *tx, const auth_event *e)
{
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];

	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	const char *p[] = {text,           e->kind,       e->user_id,   e->email,
	                   e->client_addr, e->user_agent, e->request_id};

	return keel_tx_exec(tx, &st_event, p, NULL);
}

keel_err
auth_store_login_done(keel_tx *tx, const char *user_id, const char *verified_hash,
                      const char *new_hash, keel_role *role)
{
	keel_res *res;
	const char *p[] = {user_id, new_hash, verified_hash};
	keel_err err = keel_tx_exec(tx, &st_login_done, p, &res);

	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*role = keel_role_parse(keel_res_get(res, 0, 0));
	return KEEL_OK;
}

keel_err
auth_store_token_insert(keel_tx *tx, keel_arena *a, const refresh_token *t, const char *user_id,
                        const char *family_id, int64_t ttl_s)
{
	char ttl[24];
	const char *p[] = {t->id, user_id, family_id, refresh_hash_param(a, t), ttl};

	snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
	return keel_tx_exec(tx, &st_token_insert, p, NULL);
}

keel_err
auth_store_token_lock(keel_tx *tx, keel_arena *a, const char *id, auth_token_row *row)
{
	keel_res *res;
	const char *p[] = {id};
	keel_err err = keel_tx_exec(tx, &st_token_user_lock, p, NULL);

	memset(row, 0, sizeof(*row));
	if (err == KEEL_OK)
		err = keel_tx_exec(tx, &st_token_lock, p, &res);
	if (err != KEEL_OK)
		return err;
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	row->user_id = keel_arena_strdup(a, keel_res_get(res, 0, 0));
	row->family_id = keel_arena_strdup(a, keel_res_get(res, 0, 1));
	row->hash = keel_arena_strdup(a, keel_res_get(res, 0, 2));
	row->used = keel_res_get(res, 0, 3)[0] == 't';
	row->revoked = keel_res_get(res, 0, 4)[0] == 't';
	row->expired = keel_res_get(res, 0, 5)[0] == 't';
	row->role = keel_role_parse(keel_res_get(res, 0, 6));
	row->user_active = strcmp(keel_res_get(res, 0, 7), "active") == 0;
	row->tenant_active = strcmp(keel_res_get(res, 0, 8), "active") == 0;
	return KEEL_OK;
}

static keel_err
exec1(keel_tx *tx, const keel_stmt *st, const char *a0)
{
	const char *p[] = {a0};

	return keel_tx_exec(tx, st, p, NULL);
}

keel_err
auth_store_token_use(keel_tx *tx, const char *id)
{
	return exec1(tx, &st_token_use, id);
}

keel_err
auth_store_family_revoke(keel_tx *tx, const char *family_id)
{
	return exec1(tx, &st_family_revoke, family_id);
}

keel_err
auth_store_user_tokens_revoke(keel_tx *tx, const char *user_id)
{
	return exec1(tx, &st_user_tokens_revoke, user_id);
}

keel_err
auth_store_password_set(keel_tx *tx, const char *user_id, const char *hash)
{
	keel_res *res;
	const char *p[] = {user_id, hash};
	keel_err err = keel_tx_exec(tx, &st_password_set, p, &res);

	return err != KEEL_OK ? err : user_event(tx, res, "keel.user.updated");
}

/* The single user row of res as JSON owned by the arena, or KEEL_ENOTFOUND. */
static keel_err
one_user(keel_arena *a, keel_res *res, json_t **user)
{
	if (keel_res_rows(res) != 1)
		return KEEL_ENOTFOUND;
	*user = user_json(res, 0);
	keel_arena_defer(a, json_release, *user);
	return KEEL_OK;
}

keel_err
keel_auth_user_insert(keel_tx *tx, keel_arena *arena, const char *email, const char *hash,
                      keel_role role, json_t **user)
{
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_res *res;

	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	const char *p[] = {text, email, hash, keel_role_name(role)};
	keel_err err = keel_tx_exec(tx, &st_user_insert, p, &res);

	if (err == KEEL_OK)
		err = one_user(arena, res, user);
	return err != KEEL_OK ? err : keel_events_enqueue_json(tx, "keel.user.created", text, *user);
}

keel_err
auth_store_user_get(keel_tx *tx, keel_arena *a, const char *id, json_t **user)
{
	keel_res *res;
	const char *p[] = {id};
	keel_err err = keel_tx_exec(tx, &st_user_get, p, &res);

	return err != KEEL_OK ? err : one_user(a, res, user);
}

keel_err
auth_store_user_list(keel_tx *tx, keel_arena *a, const char *after, int limit, json_t **users,
                     const char **last_id)
{
	keel_res *res;
	char lim[16];
	const char *p[] = {after, lim};

	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, &st_user_list, p, &res);

	*users = NULL;
	*last_id = NULL;
	if (err != KEEL_OK)
		return err;
	*users = json_array();
	for (int i = 0; i < keel_res_rows(res); i++)
		json_array_append_new(*users, user_json(res, i));
	if (keel_res_rows(res) > 0)
		*last_id = keel_arena_strdup(a, keel_res_get(res, keel_res_rows(res) - 1, 0));
	return KEEL_OK;
}

keel_err
auth_store_user_update(keel_tx *tx, keel_arena *a, const char *id, const char *role,
                       const char *status, const char *version, json_t **user)
{
	keel_res *res;
	const char *p[] = {id, role, status, version};
	keel_err err = keel_tx_exec(tx, &st_user_update, p, &res);

	if (err == KEEL_OK)
		err = one_user(a, res, user);
	return err != KEEL_OK ? err : keel_events_enqueue_json(tx, "keel.user.updated", id, *user);
}

keel_err
auth_store_user_delete(keel_tx *tx, const char *id, const char *version)
{
	keel_res *res;
	const char *p[] = {id, version};
	keel_err err = keel_tx_exec(tx, &st_user_delete, p, &res);

	return err != KEEL_OK ? err : user_event(tx, res, "keel.user.deleted");
}

keel_err
auth_store_owners_lock(keel_tx *tx, int *owners)
{
	keel_res *res;
	keel_err err = keel_tx_exec(tx, &st_owners_lock, NULL, &res);

	*owners = err == KEEL_OK ? keel_res_rows(res) : 0;
	return err;
}
