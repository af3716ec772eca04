/*
 * Access follows the database: every authenticated request acts with its
 * user's role and status as they are now, in the request's own transaction
 * (auth.acting_role, migration 0007), whatever the access token says; and a
 * suspended tenant is locked out until an operator resumes it.
 *
 * Each scenario uses its own tenant on one keel process; the last test stops
 * keel and asserts its exit status (sanitizer reports and crashes on SIGTERM
 * show there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "kt.h"

#define PASSWORD "correct horse battery staple"

static kt_keel *srv;
static PGconn *pg; /* keel_owner */

/* ---- helpers ---- */

static char *
me_id(const char *token)
{
	kt_resp *r = kt_api(srv->base, "GET", token, NULL, "/api/v1/auth/me");

	kt_assert_status(r, 200);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	return id;
}

/* A user's column, read as the owner role. */
static char *
user_col(const char *tenant, const char *user_id, const char *col)
{
	const char *p[] = {user_id, NULL};
	char *sql = kt_strf("SELECT %s FROM auth.users WHERE id = $1", col);
	char *v = kt_pg_tenant_value(pg, tenant, sql, p);

	free(sql);
	return v;
}

static long
users_count(const char *tenant)
{
	return kt_pg_tenant_long(pg, tenant, "SELECT count(*) FROM auth.users", NULL);
}

/* The request was refused as an access token whose user lost its access. */
static void
assert_token_refused(kt_resp *r)
{
	kt_assert_status(r, 401);
	char *www = kt_header(r, "WWW-Authenticate");

	assert_non_null(www);
	assert_non_null(strstr(www, "invalid_token"));
	assert_string_equal(kt_jstr(r->json, "type"), "urn:keel:problem:unauthenticated");
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "disabled or no longer exists"));
	free(www);
	kt_resp_free(r);
}

static void
assert_forbidden(kt_resp *r)
{
	kt_assert_status(r, 403);
	assert_string_equal(kt_jstr(r->json, "type"), "urn:keel:problem:forbidden");
	kt_resp_free(r);
}

static void
assert_suspended(kt_resp *r)
{
	kt_assert_status(r, 403);
	assert_string_equal(kt_jstr(r->json, "type"), "urn:keel:problem:tenant-suspended");
	assert_non_null(strstr(kt_jstr(r->json, "detail"), "suspended"));
	kt_resp_free(r);
}

/* A tenant of its own with its owner signed in, and a second user of role (local@slug) signed in.
 */
typedef struct scene {
	char *tenant, *owner, *user, *user_id;
} scene;

static scene
scene_make(const char *slug, const char *local, const char *role)
{
	char *email = kt_strf("owner@%s.test", slug);
	scene s = {.tenant = kt_signup(srv->base, slug, PASSWORD)};

	s.owner = kt_login(srv->base, slug, email, PASSWORD);
	s.user = kt_user_make(srv->base, s.owner, slug, local, role, PASSWORD);
	s.user_id = me_id(s.user);
	free(email);
	return s;
}

static void
scene_free(scene *s)
{
	free(s->tenant);
	free(s->owner);
	free(s->user);
	free(s->user_id);
}

static void
patch_user(const char *token, const char *id, const char *body, int want)
{
	kt_resp *r = kt_api(srv->base, "PATCH", token, body, "/api/v1/users/%s", id);

	kt_assert_status(r, want);
	kt_resp_free(r);
}

static kt_resp *
refresh(const char *refresh_token)
{
	char *body = kt_strf("{\"refresh_token\":\"%s\"}", refresh_token);
	kt_resp *r = kt_api(srv->base, "POST", NULL, body, "/api/v1/auth/refresh");

	free(body);
	return r;
}

/* Run `keel tenant ARGS...` (as the owner role: the test's KEEL_MIGRATE_DATABASE_URL). */
static int
tenant_cmd(const char *verb, const char *slug, const char *reason, char **out)
{
	const char *args[] = {"tenant", verb, slug, reason ? "--reason" : NULL, reason, NULL};

	return kt_keel_run(args, NULL, out);
}

/* ---- a disabled user ---- */

/* Owner A disables owner B: B's unexpired token can do nothing, least of all re-enable B. */
static void
disabled_user_token_stops_at_once(void **state)
{
	(void)state;
	scene s = scene_make("acc-dis", "b", "owner");
	char *a_id = me_id(s.owner);

	patch_user(s.owner, s.user_id, "{\"status\":\"disabled\"}", 200);
	assert_token_refused(kt_api(srv->base, "GET", s.user, NULL, "/api/v1/auth/me"));
	assert_token_refused(kt_api(srv->base, "PATCH", s.user, "{\"status\":\"active\"}",
	                            "/api/v1/users/%s", s.user_id));
	assert_token_refused(
	    kt_api(srv->base, "PATCH", s.user, "{\"status\":\"disabled\"}", "/api/v1/users/%s", a_id));
	assert_token_refused(kt_api(srv->base, "GET", s.user, NULL, "/api/v1/organizations"));
	assert_token_refused(kt_api(srv->base, "POST", s.user, "{\"name\":\"X\",\"code\":\"x\"}",
	                            "/api/v1/organizations"));
	/* nothing changed: B stays disabled, A active, no organization, and B's token wrote nothing */
	char *st = user_col(s.tenant, s.user_id, "status");

	assert_string_equal(st, "disabled");
	free(st);
	st = user_col(s.tenant, a_id, "status");
	assert_string_equal(st, "active");
	free(st);
	assert_int_equal(
	    kt_pg_tenant_long(pg, s.tenant, "SELECT count(*) FROM org.organizations", NULL), 0);
	const char *p[] = {s.user_id, NULL};

	/* B's token wrote nothing; the disabling is on record */
	char *acts =
	    kt_pg_tenant_value(pg, s.tenant,
	                       "SELECT string_agg(action || ' ' || table_name, '; ') FROM audit.logs"
	                       " WHERE actor_id = $1 AND action IN ('INSERT', 'UPDATE', 'DELETE')",
	                       p);

	if (acts != NULL)
		fail_msg("B's token wrote: %s", acts);
	assert_int_equal(kt_pg_tenant_long(pg, s.tenant,
	                                   "SELECT count(*) FROM audit.logs WHERE table_name = 'users'"
	                                   " AND action = 'UPDATE' AND record_id = $1"
	                                   " AND new->>'status' = 'disabled'",
	                                   p),
	                 1);
	/* B cannot sign in again; A can */
	kt_resp *r = kt_sign_in(srv->base, "acc-dis", "b@acc-dis.test", PASSWORD);

	kt_assert_status(r, 401);
	kt_resp_free(r);
	r = kt_sign_in(srv->base, "acc-dis", "owner@acc-dis.test", PASSWORD);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	free(a_id);
	scene_free(&s);
}

/* ---- a demoted user ---- */

/* An owner demoted to member acts as a member with its old token: no self-promotion. */
static void
demoted_owner_acts_with_its_new_role(void **state)
{
	(void)state;
	scene s = scene_make("acc-dem", "b", "owner");
	long users = users_count(s.tenant);

	patch_user(s.owner, s.user_id, "{\"role\":\"member\"}", 200);
	assert_forbidden(
	    kt_api(srv->base, "PATCH", s.user, "{\"role\":\"owner\"}", "/api/v1/users/%s", s.user_id));
	assert_forbidden(kt_api(srv->base, "POST", s.user,
	                        "{\"email\":\"new@acc-dem.test\",\"password\":\"" PASSWORD
	                        "\",\"role\":\"owner\"}",
	                        "/api/v1/users"));
	assert_forbidden(kt_api(srv->base, "GET", s.user, NULL, "/api/v1/users"));
	assert_forbidden(
	    kt_api(srv->base, "PATCH", s.user, "{\"name\":\"Renamed\"}", "/api/v1/tenant"));
	char *role = user_col(s.tenant, s.user_id, "role");

	assert_string_equal(role, "member");
	free(role);
	assert_int_equal(users_count(s.tenant), users);
	/* what s.owner member may do, it does, and /me tells the role it has now */
	kt_resp *r = kt_api(srv->base, "GET", s.user, NULL, "/api/v1/auth/me");

	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "role"), "member");
	kt_resp_free(r);
	r = kt_api(srv->base, "GET", s.user, NULL, "/api/v1/organizations");
	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* s.owner member reads itself, not others (not even whether they exist) */
	r = kt_api(srv->base, "GET", s.user, NULL, "/api/v1/users/%s", s.user_id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *a_id = me_id(s.owner);

	assert_forbidden(kt_api(srv->base, "GET", s.user, NULL, "/api/v1/users/%s", a_id));
	assert_forbidden(kt_api(srv->base, "GET", s.user, NULL,
	                        "/api/v1/users/0192f3a4-0000-7000-8000-0000000000ff"));
	free(a_id);
	scene_free(&s);
}

/* An admin demoted to member loses what admins may do at once. */
static void
demoted_admin_cannot_create_users(void **state)
{
	(void)state;
	scene s = scene_make("acc-dad", "admin", "admin");
	long users = users_count(s.tenant);

	patch_user(s.owner, s.user_id, "{\"role\":\"viewer\"}", 200);
	assert_forbidden(kt_api(srv->base, "POST", s.user,
	                        "{\"email\":\"m@acc-dad.test\",\"password\":\"" PASSWORD "\"}",
	                        "/api/v1/users"));
	assert_forbidden(kt_api(srv->base, "POST", s.user, "{\"name\":\"X\",\"code\":\"x\"}",
	                        "/api/v1/organizations"));
	assert_int_equal(users_count(s.tenant), users);
	scene_free(&s);
}

/* ---- a deleted user ---- */

static void
deleted_admin_token_creates_nothing(void **state)
{
	(void)state;
	scene s = scene_make("acc-del", "admin", "admin");
	kt_resp *r = kt_api(srv->base, "DELETE", s.owner, NULL, "/api/v1/users/%s", s.user_id);

	kt_assert_status(r, 204);
	kt_resp_free(r);
	long users = users_count(s.tenant);

	assert_token_refused(kt_api(srv->base, "POST", s.user,
	                            "{\"email\":\"m@acc-del.test\",\"password\":\"" PASSWORD
	                            "\",\"role\":\"member\"}",
	                            "/api/v1/users"));
	assert_token_refused(kt_api(srv->base, "GET", s.user, NULL, "/api/v1/auth/me"));
	assert_token_refused(kt_api(srv->base, "POST", s.user,
	                            "{\"current_password\":\"" PASSWORD
	                            "\",\"new_password\":\"another long password\"}",
	                            "/api/v1/auth/password"));
	assert_int_equal(users_count(s.tenant), users);
	scene_free(&s);
}

/* ---- the check in the database ---- */

/* keel_app's transaction for a disabled user cannot pass auth.acting_role, whatever it asks. */
static void
acting_role_refuses_in_sql(void **state)
{
	(void)state;
	scene s = scene_make("acc-sql", "viewer", "viewer");
	PGconn *app = kt_pg_app();
	const char *p[] = {s.tenant, s.user_id};
	const char *sql = "SELECT set_config('app.tenant_id', $1, false),"
	                  " set_config('app.user_id', $2, false)";
	PGresult *res = PQexecParams(app, sql, 2, NULL, p, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	char *rank = kt_pg_value(app, "SELECT auth.acting_role(1, false)");

	assert_string_equal(rank, "1");
	free(rank);
	res = PQexec(app, "SELECT auth.acting_role(3, false)");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "KA403");
	PQclear(res);
	patch_user(s.owner, s.user_id, "{\"status\":\"disabled\"}", 200);
	res = PQexec(app, "SELECT auth.acting_role(1, false)");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "KA401");
	PQclear(res);
	/* and keel_app cannot lift s.owner suspension (or impose one) by itself */
	res = PQexec(app, "UPDATE core.tenants SET status = 'suspended'");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
	PQclear(res);
	PQfinish(app);
	scene_free(&s);
}

/* The one C definition of the roles is the database's: auth.role_names() and auth.users' CHECK. */
static void
role_names_match_the_database(void **state)
{
	(void)state;
	char *n = kt_pg_value(pg, "SELECT array_length(auth.role_names(), 1)");

	assert_int_equal(atoi(n), KEEL_ROLE_COUNT);
	free(n);
	for (int r = KEEL_ROLE_VIEWER; r <= KEEL_ROLE_OWNER; r++) {
		char *sql = kt_strf("SELECT auth.role_rank('%s')", keel_role_name(r));
		char *rank = kt_pg_value(pg, sql);

		assert_non_null(rank);
		assert_int_equal(atoi(rank), r);
		assert_int_equal(keel_role_parse(keel_role_name(r)), r);
		free(rank);
		free(sql);
	}
	/* auth.users accepts exactly those names (its CHECK lists them, in any order) */
	char *check = kt_pg_value(
	    pg, "SELECT array_to_string(ARRAY(SELECT unnest(auth.role_names()) EXCEPT"
	        " SELECT m[1] FROM regexp_matches((SELECT pg_get_constraintdef(c.oid)"
	        " FROM pg_constraint c WHERE c.conrelid = 'auth.users'::regclass AND c.contype = 'c'"
	        " AND pg_get_constraintdef(c.oid) LIKE '%role%'), '''([a-z]+)''', 'g') m), ',')"
	        " || '/' || (SELECT count(*) FROM regexp_matches((SELECT pg_get_constraintdef(c.oid)"
	        " FROM pg_constraint c WHERE c.conrelid = 'auth.users'::regclass AND c.contype = 'c'"
	        " AND pg_get_constraintdef(c.oid) LIKE '%role%'), '''([a-z]+)''', 'g'))");

	assert_string_equal(check, "/4"); /* none missing, four named */
	free(check);
	assert_string_equal(keel_role_name(KEEL_ROLE_NONE), "none");
	assert_int_equal(keel_role_parse("superuser"), KEEL_ROLE_NONE);
	assert_int_equal(keel_role_parse(NULL), KEEL_ROLE_NONE);
}

/* A role field's choices (users' "role") are the same names, highest first, and no others. */
static void
role_choices_are_the_names(void **state)
{
	(void)state;
	int n = 0;

	for (; keel_role_choices[n] != NULL; n++)
		assert_string_equal(keel_role_choices[n], keel_role_name(KEEL_ROLE_OWNER - n));
	assert_int_equal(n, KEEL_ROLE_COUNT);
}

/* ---- tenant suspension ---- */

static void
suspended_tenant_is_locked_out_until_resumed(void **state)
{
	(void)state;
	char *tenant = kt_signup(srv->base, "acc-sus", PASSWORD);
	char *other = kt_signup(srv->base, "acc-oth", PASSWORD);
	char *o = kt_login(srv->base, "acc-oth", "owner@acc-oth.test", PASSWORD);
	kt_resp *r = kt_sign_in(srv->base, "acc-sus", "owner@acc-sus.test", PASSWORD);

	kt_assert_status(r, 200);
	char *token = strdup(kt_jstr(r->json, "access_token"));
	char *rt = strdup(kt_jstr(r->json, "refresh_token"));

	kt_resp_free(r);
	char *out = NULL;

	if (tenant_cmd("suspend", "acc-sus", "invoices unpaid since March", &out) != 0 || out == NULL ||
	    strstr(out, "\"suspended\"") == NULL)
		fail_msg("keel tenant suspend: %s", out ? out : "(no output)");
	free(out);
	const char *tp[] = {tenant, NULL};
	char *reason = kt_pg_tenant_value(
	    pg, tenant, "SELECT suspended_reason FROM core.tenants WHERE id = $1", tp);

	assert_non_null(reason);
	assert_string_equal(reason, "invoices unpaid since March");
	free(reason);
	/* every request of the tenant: 403 saying so; the data stays */
	assert_suspended(kt_api(srv->base, "GET", token, NULL, "/api/v1/organizations"));
	assert_suspended(kt_api(srv->base, "POST", token, "{\"name\":\"X\",\"code\":\"x\"}",
	                        "/api/v1/organizations"));
	assert_suspended(kt_api(srv->base, "GET", token, NULL, "/api/v1/auth/me"));
	assert_suspended(kt_api(srv->base, "PATCH", token, "{\"name\":\"Renamed\"}", "/api/v1/tenant"));
	/* ... but the tenant itself stays readable, showing why */
	r = kt_api(srv->base, "GET", token, NULL, "/api/v1/tenant");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "suspended");
	assert_true(json_is_string(json_object_get(r->json, "suspended_at")));
	kt_resp_free(r);
	/* refresh and sign-in: the usual 401 */
	r = refresh(rt);
	kt_assert_status(r, 401);
	kt_resp_free(r);
	r = kt_sign_in(srv->base, "acc-sus", "owner@acc-sus.test", PASSWORD);
	kt_assert_status(r, 401);
	assert_string_equal(kt_jstr(r->json, "detail"), "the email or the password is incorrect");
	kt_resp_free(r);
	/* other tenants do not notice */
	r = kt_api(srv->base, "GET", o, NULL, "/api/v1/organizations");
	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* the change is in the audit log and the outbox */
	assert_int_equal(
	    kt_pg_tenant_long(pg, tenant,
	                      "SELECT count(*) FROM audit.logs WHERE schema_name = "
	                      "'core' AND table_name = 'tenants' AND new->>'status' = 'suspended'",
	                      NULL),
	    1);
	assert_int_equal(kt_pg_tenant_long(pg, tenant,
	                                   "SELECT count(*) FROM events.outbox"
	                                   " WHERE type = 'keel.tenant.suspended'",
	                                   NULL),
	                 1);
	/* suspending again changes nothing */
	assert_int_equal(tenant_cmd("suspend", "acc-sus", NULL, &out), 0);
	assert_non_null(strstr(out, "already"));
	free(out);
	/* resume: the same tokens work again, no new password */
	assert_int_equal(tenant_cmd("resume", "acc-sus", NULL, &out), 0);
	free(out);
	r = kt_api(srv->base, "GET", token, NULL, "/api/v1/organizations");
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = refresh(rt);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = kt_sign_in(srv->base, "acc-sus", "owner@acc-sus.test", PASSWORD);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = kt_api(srv->base, "GET", token, NULL, "/api/v1/tenant");
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "active");
	assert_true(json_is_null(json_object_get(r->json, "suspended_at")));
	kt_resp_free(r);
	free(rt);
	free(token);
	free(o);
	free(other);
	free(tenant);
}

static void
suspension_commands_check_their_arguments(void **state)
{
	(void)state;
	char *out = NULL;

	assert_int_equal(tenant_cmd("suspend", "no-such-tenant", NULL, &out), 1);
	assert_non_null(strstr(out, "no tenant has the slug"));
	free(out);
	assert_int_equal(tenant_cmd("resume", "no-such-tenant", NULL, &out), 1);
	free(out);
	const char *no_slug[] = {"tenant", "suspend", NULL};

	assert_int_equal(kt_keel_run(no_slug, NULL, &out), 2);
	free(out);
	const char *resume_reason[] = {"tenant", "resume", "x", "--reason", "y", NULL};

	assert_int_equal(kt_keel_run(resume_reason, NULL, &out), 2);
	free(out);
	char *long_reason = calloc(1, 602);

	memset(long_reason, 'r', 601);
	assert_int_equal(tenant_cmd("suspend", "acc-x", long_reason, &out), 2);
	assert_non_null(strstr(out, "at most 500"));
	free(out);
	free(long_reason);
}

/* ---- the end ---- */

static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

static int
setup(void **state)
{
	(void)state;
	srv = kt_fixture_start("access", NULL, &pg);
	return srv != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return kt_fixture_stop(srv, pg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(disabled_user_token_stops_at_once),
	    cmocka_unit_test(demoted_owner_acts_with_its_new_role),
	    cmocka_unit_test(demoted_admin_cannot_create_users),
	    cmocka_unit_test(deleted_admin_token_creates_nothing),
	    cmocka_unit_test(acting_role_refuses_in_sql),
	    cmocka_unit_test(role_names_match_the_database),
	    cmocka_unit_test(role_choices_are_the_names),
	    cmocka_unit_test(suspended_tenant_is_locked_out_until_resumed),
	    cmocka_unit_test(suspension_commands_check_their_arguments),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("access", tests, setup, teardown);
}
