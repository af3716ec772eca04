/*
 * The audit log end to end: the real keel binary over HTTP and libpq
 * against a freshly migrated database of this program's own.
 *
 * What is tested: every audited table (tenants, users, refresh tokens,
 * organizations, divisions) records exactly the expected rows for its
 * inserts, updates and deletes, driven through the API, with actor, request
 * id, client address, changed fields and old/new; sign-in and token events
 * become rows named after them; an update that changes nothing and a
 * rolled-back transaction record nothing; secrets never appear anywhere in
 * audit.logs; keel_app can only read its tenant's rows (no insert, update,
 * delete or truncate, no partition, no other tenant, in SQL or through the
 * API); GET /api/v1/audit-logs filters, validation, roles and pagination;
 * partitions made ahead (by `keel audit maintain` and by serve's thread),
 * rows moved out of the default partition, pruning with back-dated rows and
 * --dry-run, maintenance next to traffic and next to itself; and the
 * operator functions audit.history and audit.user_activity and their
 * indexes.
 *
 * keel starts once for the group, and every request comes from the address
 * CLIENT with a request id of its own, so each audit row can be traced to
 * the request that made it.  Rows are read back as keel_owner, which
 * row-level security filters like everyone else: every query names its
 * tenant first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "kt.h"

#define PASSWORD "correct horse battery staple"
#define CLIENT   "127.0.0.7" /* the source address of every request */
#define LOGS     "/api/v1/audit-logs"

static kt_keel *srv;
/* Requests to srv: from CLIENT, each with a request id of its own (audit-test-<n>). */
static kt_client cl = {.source = CLIENT, .id_prefix = "audit-test"};
static PGconn *pg;        /* keel_owner */
static kt_tenant A, B, P; /* A: most tests; B: the other tenant; P: pagination */

/* A request from CLIENT with a fresh X-Request-ID (cl.request_id); token and body may be NULL. */
#define api(method, token, body, ...) kt_call(&cl, method, token, NULL, body, __VA_ARGS__)

/* ---- the database, as keel_owner inside one tenant ---- */

/* A statement of the owner outside any tenant (DDL, maintenance functions). */
static char *
owner_value(const char *sql)
{
	kt_pg_exec(pg, "RESET app.tenant_id");
	return kt_pg_value(pg, sql);
}

/*
 * The audit rows of one record, oldest first, one line each:
 * "ACTION|actor|request_id|client_addr|changed_fields|schema.table".
 */
static char *
record_trail(const char *tenant_id, const char *record_id)
{
	PGresult *res = kt_pg_tenant_query(
	    pg, tenant_id,
	    "SELECT string_agg(concat_ws('|', action, coalesce(actor_id::text, '-'),"
	    " coalesce(request_id, '-'), coalesce(host(client_addr), '-'),"
	    " coalesce(changed_fields::text, '-'), schema_name || '.' || table_name), E'\\n'"
	    " ORDER BY occurred_at, id) FROM audit.logs WHERE record_id = $1",
	    (const char *[]){record_id, NULL});
	char *v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));

	PQclear(res);
	return v;
}

#define assert_trail(tenant_id, record_id, want)                                                   \
	do {                                                                                           \
		char *t_ = record_trail((tenant_id), (record_id));                                         \
		if (strcmp(t_, (want)) != 0)                                                               \
			fail_msg("audit trail of %s:\n%s\nexpected:\n%s", (record_id), t_, (want));            \
		free(t_);                                                                                  \
	} while (0)

/* old ->> key or new ->> key of the n-th (0-based, oldest first) audit row of a record. */
static char *
row_field(const kt_tenant *t, const char *record_id, int n, const char *which, const char *key)
{
	char *sql = kt_strf("SELECT %s ->> $2 FROM audit.logs WHERE record_id = $1"
	                    " ORDER BY occurred_at, id OFFSET %d LIMIT 1",
	                    strcmp(which, "old") == 0 ? "old" : "new", n);
	char *v = kt_pg_tenant_value(pg, t->id, sql, (const char *[]){record_id, key, NULL});

	free(sql);
	return v;
}

#define assert_field(t, record_id, n, which, key, want)                                            \
	do {                                                                                           \
		char *v_ = row_field((t), (record_id), (n), (which), (key));                               \
		const char *w_ = (want);                                                                   \
		if ((v_ == NULL) != (w_ == NULL) || (v_ != NULL && strcmp(v_, w_) != 0))                   \
			fail_msg("%s ->> %s of row %d of %s is \"%s\", expected \"%s\"", (which), (key), (n),  \
			         (record_id), v_ ? v_ : "NULL", w_ ? w_ : "NULL");                             \
		free(v_);                                                                                  \
	} while (0)

/* The number of audit rows of tenant t (all of them, or matching where). */
static long
log_count(const kt_tenant *t, const char *where, const char *p1)
{
	char *sql = kt_strf("SELECT count(*) FROM audit.logs WHERE %s", where ? where : "true");
	long n = kt_pg_tenant_long(pg, t->id, sql, (const char *[]){p1, NULL});

	free(sql);
	return n;
}

/* ---- making things ---- */

/* Create an organization with a code made unique by the request count; returns its id. */
static char *
org_make(const char *token)
{
	char code[32];

	snprintf(code, sizeof(code), "AO%d", cl.seq);
	return kt_org_make(&cl, token, code);
}

static char *
div_make(const char *token, const char *org_id, const char *parent)
{
	char code[32];

	snprintf(code, sizeof(code), "AD%d", cl.seq);
	return kt_div_make(&cl, token, org_id, parent, code);
}

/* "ACTION|actor|request_id|CLIENT|changed|table" for the request just made (cl.request_id). */
static char *
line(const char *action, const char *actor, const char *changed, const char *table)
{
	return kt_strf("%s|%s|%s|" CLIENT "|%s|%s", action, actor ? actor : "-", cl.request_id, changed,
	               table);
}

/* Join lines (NULL-terminated, each malloc'd and freed here) with newlines. */
static char *
lines(char *first, ...)
{
	va_list ap;
	size_t len = 0;
	char *out = calloc(1, 1);

	va_start(ap, first);
	for (char *l = first; l != NULL; l = va_arg(ap, char *)) {
		out = realloc(out, len + strlen(l) + 2);
		len += (size_t)sprintf(out + len, "%s%s", len ? "\n" : "", l);
		free(l);
	}
	va_end(ap);
	return out;
}

/* The month offset months from now (UTC) as YYYYMM, the suffix of its partition. */
static char *
month_suffix(int offset)
{
	char *sql = kt_strf("SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC')"
	                    " + interval '%d months', 'YYYYMM')",
	                    offset);
	char *v = owner_value(sql);

	free(sql);
	return v;
}

static bool
partition_exists(int offset)
{
	char *m = month_suffix(offset),
	     *sql = kt_strf("SELECT to_regclass('audit.logs_%s') IS NOT NULL", m);
	char *v = owner_value(sql);
	bool yes = strcmp(v, "t") == 0;

	free(m);
	free(sql);
	free(v);
	return yes;
}

/* Run `keel audit ARGS...`; *out gets its output (malloc'd). */
static int
audit_cmd(char **out, const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *args[] = {"audit", a1, a2, a3, a4, NULL};

	return kt_keel_run(args, NULL, out);
}

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("audit", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "audit-a", PASSWORD);
	kt_tenant_make(&cl, &B, "audit-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	kt_tenant_user(&cl, &B, &B.admin, "admin", "admin");
	kt_tenant_make(&cl, &P, "audit-p", PASSWORD);
	P.owner.token = kt_tenant_login(&cl, &P, "owner");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	kt_tenant_free(&A);
	kt_tenant_free(&B);
	kt_tenant_free(&P);
	return status;
}

/* ---- what is recorded ---- */

static void
organization_changes_are_recorded_with_actor_request_and_address(void **state)
{
	(void)state;
	char *id = org_make(A.admin.token);
	char *l1 = line("INSERT", A.admin.id, "-", "org.organizations");
	kt_resp *r = api("PATCH", A.admin.token, "{\"name\":\"Renamed\",\"description\":\"d\"}",
	                 "/api/v1/organizations/%s", id);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *l2 =
	    line("UPDATE", A.admin.id, "{description,name,updated_at,version}", "org.organizations");

	r = api("DELETE", A.owner.token, NULL, "/api/v1/organizations/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	char *want = lines(l1, l2, line("DELETE", A.owner.id, "-", "org.organizations"), NULL);

	assert_trail(A.id, id, want);
	/* old and new: the row before and after, as JSON */
	assert_field(&A, id, 0, "old", "name", NULL);
	char *code = row_field(&A, id, 1, "old", "code");

	assert_non_null(code);
	assert_field(&A, id, 0, "new", "code", code);
	free(code);
	assert_field(&A, id, 0, "new", "tenant_id", A.id);
	assert_field(&A, id, 0, "new", "version", "1");
	assert_field(&A, id, 1, "old", "description", "");
	assert_field(&A, id, 1, "new", "description", "d");
	assert_field(&A, id, 1, "new", "name", "Renamed");
	assert_field(&A, id, 1, "new", "version", "2");
	assert_field(&A, id, 2, "old", "name", "Renamed");
	assert_field(&A, id, 2, "new", "id", NULL);
	/* the tenant, the transaction, and an id of version 7 made of occurred_at */
	assert_int_equal(log_count(&A,
	                           "record_id = $1 AND tenant_id = core.current_tenant_id()"
	                           " AND txid > 0 AND substr(id::text, 15, 1) = '7'"
	                           " AND (('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)"
	                           "::bigint = floor(extract(epoch FROM occurred_at) * 1000))",
	                           id),
	                 3);
	free(want);
	free(id);
}

static void
division_changes_and_cascades_are_recorded(void **state)
{
	(void)state;
	char *org = org_make(A.admin.token);
	char *top = div_make(A.admin.token, org, NULL);
	char *t1 = line("INSERT", A.admin.id, "-", "org.divisions");
	char *sub = div_make(A.admin.token, org, top);
	char *s1 = line("INSERT", A.admin.id, "-", "org.divisions");
	kt_resp *r = api("PATCH", A.admin.token, "{\"parent_id\":null}", "/api/v1/divisions/%s", sub);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *s2 = line("UPDATE", A.admin.id, "{parent_id,updated_at,version}", "org.divisions");

	/* deleting the organization deletes its divisions: each deletion is recorded */
	r = api("DELETE", A.admin.token, NULL, "/api/v1/organizations/%s", org);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	char *want_top = lines(t1, line("DELETE", A.admin.id, "-", "org.divisions"), NULL);
	char *want_sub = lines(s1, s2, line("DELETE", A.admin.id, "-", "org.divisions"), NULL);

	assert_trail(A.id, top, want_top);
	assert_trail(A.id, sub, want_sub);
	assert_field(&A, sub, 1, "old", "parent_id", top);
	assert_field(&A, sub, 1, "new", "parent_id", NULL);
	assert_field(&A, sub, 2, "old", "organization_id", org);
	free(want_top);
	free(want_sub);
	free(top);
	free(sub);
	free(org);
}

static void
tenant_changes_are_recorded(void **state)
{
	(void)state;
	kt_tenant T = {0};

	kt_tenant_make(&cl, &T, "audit-t", PASSWORD);
	/* sign-up: the tenant and its owner, in one transaction, before anyone is signed in */
	char *l1 = line("INSERT", NULL, "-", "core.tenants");
	char *o1 = line("INSERT", NULL, "-", "auth.users");

	T.owner.token = kt_tenant_login(&cl, &T, "owner");
	kt_resp *r = api("PATCH", T.owner.token, "{\"name\":\"Tenant renamed\"}", "/api/v1/tenant");

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *want =
	    lines(l1, line("UPDATE", T.owner.id, "{name,updated_at,version}", "core.tenants"), NULL);

	assert_trail(T.id, T.id, want);
	assert_field(&T, T.id, 0, "new", "slug", "audit-t");
	assert_field(&T, T.id, 1, "old", "name", "Tenant audit-t");
	assert_field(&T, T.id, 1, "new", "name", "Tenant renamed");
	/* the owner's row: created at sign-up, then signed in (last_login_at) */
	char *want_owner = lines(
	    o1, kt_strf("UPDATE|-|audit-test-%d|" CLIENT "|{last_login_at}|auth.users", cl.seq - 1),
	    NULL);

	assert_trail(T.id, T.owner.id, want_owner);
	assert_int_equal(log_count(&T, "schema_name = 'core' AND tenant_id = $1", T.id), 2);
	free(want);
	free(want_owner);
	kt_tenant_free(&T);
}

static void
user_changes_are_recorded_without_the_password_hash(void **state)
{
	(void)state;
	kt_user U = {0};

	kt_tenant_user(&cl, &A, &U, "changing", "member");
	/* user_make created it (the request before the sign-in) */
	char *l1 = kt_strf("INSERT|%s|audit-test-%d|" CLIENT "|-|auth.users", A.owner.id, cl.seq - 1);
	char *l2 = kt_strf("UPDATE|-|audit-test-%d|" CLIENT "|{last_login_at}|auth.users", cl.seq);
	kt_resp *r = api("PATCH", A.admin.token, "{\"role\":\"viewer\"}", "/api/v1/users/%s", U.id);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *l3 = line("UPDATE", A.admin.id, "{role,updated_at,version}", "auth.users");

	r = api("POST", U.token,
	        "{\"current_password\":\"" PASSWORD "\",\"new_password\":\"another "
	        "long password\"}",
	        "/api/v1/auth/password");
	kt_assert_status(r, 204);
	kt_resp_free(r);
	/* the hash changed too, but it is excluded: only the other columns are named */
	char *l4 = line("UPDATE", U.id, "{password_changed_at,updated_at,version}", "auth.users");

	r = api("DELETE", A.admin.token, NULL, "/api/v1/users/%s", U.id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	char *want = lines(l1, l2, l3, l4, line("DELETE", A.admin.id, "-", "auth.users"), NULL);

	assert_trail(A.id, U.id, want);
	assert_field(&A, U.id, 0, "new", "email", "changing@audit-a.test");
	assert_field(&A, U.id, 0, "new", "password_hash", NULL);
	assert_field(&A, U.id, 2, "old", "role", "member");
	assert_field(&A, U.id, 2, "new", "role", "viewer");
	assert_field(&A, U.id, 4, "old", "role", "viewer");
	/* the password change is also an event of its own */
	assert_int_equal(log_count(&A, "action = 'PASSWORD_CHANGED' AND actor_id = $1", U.id), 1);
	free(want);
	kt_user_free(&U);
}

/* The event rows of tenant t made by request id req: "ACTION|actor|address" lines. */
static char *
events_of(const kt_tenant *t, const char *req)
{
	PGresult *res =
	    kt_pg_tenant_query(pg, t->id,
	                       "SELECT coalesce(string_agg(concat_ws('|', action,"
	                       " coalesce(actor_id::text, '-'), coalesce(host(client_addr), '-')),"
	                       " E'\\n' ORDER BY occurred_at, id), '') FROM audit.logs"
	                       " WHERE request_id = $1 AND table_name = 'security_events'",
	                       (const char *[]){req, NULL});
	char *v = strdup(PQgetvalue(res, 0, 0));

	PQclear(res);
	return v;
}

#define assert_events(t, req, want)                                                                \
	do {                                                                                           \
		char *e_ = events_of((t), (req));                                                          \
		if (strcmp(e_, (want)) != 0)                                                               \
			fail_msg("events of %s:\n%s\nexpected:\n%s", (req), e_, (want));                       \
		free(e_);                                                                                  \
	} while (0)

/* The rows of request id req in table (schema.table): "ACTION|changed" lines. */
static char *
changes_of(const kt_tenant *t, const char *req, const char *table)
{
	PGresult *res =
	    kt_pg_tenant_query(pg, t->id,
	                       "SELECT coalesce(string_agg(action || '|' ||"
	                       " coalesce(changed_fields::text, '-'), E'\\n' ORDER BY occurred_at, id),"
	                       " '') FROM audit.logs WHERE request_id = $1"
	                       " AND schema_name || '.' || table_name = $2",
	                       (const char *[]){req, table, NULL});
	char *v = strdup(PQgetvalue(res, 0, 0));

	PQclear(res);
	return v;
}

#define assert_changes(t, req, table, want)                                                        \
	do {                                                                                           \
		char *c_ = changes_of((t), (req), (table));                                                \
		if (strcmp(c_, (want)) != 0)                                                               \
			fail_msg("%s rows of %s:\n%s\nexpected:\n%s", (table), (req), c_, (want));             \
		free(c_);                                                                                  \
	} while (0)

static void
sign_in_events_and_refresh_tokens_are_recorded(void **state)
{
	(void)state;
	char want[512], *refresh, *body;
	kt_resp *r = kt_tenant_login_as(&cl, &A, "viewer", PASSWORD);

	kt_assert_status(r, 200);
	refresh = strdup(kt_jstr(r->json, "refresh_token"));
	kt_resp_free(r);
	snprintf(want, sizeof(want), "SIGN_IN_SUCCEEDED|%s|" CLIENT, A.viewer.id);
	assert_events(&A, cl.request_id, want);
	assert_changes(&A, cl.request_id, "auth.refresh_tokens", "INSERT|-");
	assert_changes(&A, cl.request_id, "auth.users", "UPDATE|{last_login_at}");

	/* the event row carries the event, never a secret */
	assert_int_equal(log_count(&A,
	                           "request_id = $1 AND action = 'SIGN_IN_SUCCEEDED'"
	                           " AND new ->> 'email' = 'viewer@audit-a.test'"
	                           " AND new ->> 'kind' = 'sign_in_succeeded' AND old IS NULL",
	                           cl.request_id),
	                 1);

	/* a refresh spends the token (UPDATE used_at) and makes the next one */
	body = kt_strf("{\"refresh_token\":\"%s\"}", refresh);
	r = api("POST", NULL, body, "/api/v1/auth/refresh");
	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_changes(&A, cl.request_id, "auth.refresh_tokens", "UPDATE|{used_at}\nINSERT|-");
	assert_events(&A, cl.request_id, "");

	/* presenting the spent one again: the family is revoked, and that is an event */
	r = api("POST", NULL, body, "/api/v1/auth/refresh");
	kt_assert_status(r, 401);
	kt_resp_free(r);
	snprintf(want, sizeof(want), "REFRESH_REUSED|%s|" CLIENT, A.viewer.id);
	assert_events(&A, cl.request_id, want);
	/* both tokens of the family, the spent one and its successor */
	assert_changes(&A, cl.request_id, "auth.refresh_tokens",
	               "UPDATE|{revoked_at}\nUPDATE|{revoked_at}");

	/* a fresh sign-in and a clean sign-out */
	r = kt_tenant_login_as(&cl, &A, "viewer", PASSWORD);
	kt_assert_status(r, 200);
	free(body);
	body = kt_strf("{\"refresh_token\":\"%s\"}", kt_jstr(r->json, "refresh_token"));
	kt_resp_free(r);
	r = api("POST", NULL, body, "/api/v1/auth/logout");
	kt_assert_status(r, 204);
	kt_resp_free(r);
	snprintf(want, sizeof(want), "SIGNED_OUT|%s|" CLIENT, A.viewer.id);
	assert_events(&A, cl.request_id, want);
	assert_changes(&A, cl.request_id, "auth.refresh_tokens", "UPDATE|{revoked_at}");

	/* a wrong password: the failure names the account it was about */
	r = kt_tenant_login_as(&cl, &A, "viewer", "not the password at all");
	kt_assert_status(r, 401);
	kt_resp_free(r);
	snprintf(want, sizeof(want), "SIGN_IN_FAILED|%s|" CLIENT, A.viewer.id);
	assert_events(&A, cl.request_id, want);
	/* an unknown email: no account, no actor */
	r = kt_tenant_login_as(&cl, &A, "nobody", PASSWORD);
	kt_assert_status(r, 401);
	kt_resp_free(r);
	assert_events(&A, cl.request_id, "SIGN_IN_FAILED|-|" CLIENT);
	assert_int_equal(
	    log_count(&A, "request_id = $1 AND new ->> 'email' = 'nobody@audit-a.test'", cl.request_id),
	    1);
	free(body);
	free(refresh);
}

static void
throttled_sign_ins_are_recorded(void **state)
{
	(void)state;
	kt_tenant T = {0};
	kt_resp *r;

	kt_tenant_make(&cl, &T, "audit-throttle", PASSWORD);
	/* five failures for one account, then the right password is refused too */
	for (int i = 0; i < 5; i++) {
		r = kt_tenant_login_as(&cl, &T, "owner", "wrong password, again");
		kt_assert_status(r, 401);
		kt_resp_free(r);
	}
	r = kt_tenant_login_as(&cl, &T, "owner", PASSWORD);
	kt_assert_status(r, 429);
	kt_resp_free(r);
	char *want = kt_strf("SIGN_IN_THROTTLED|-|" CLIENT);

	assert_events(&T, cl.request_id, want);
	assert_int_equal(log_count(&T, "action = 'SIGN_IN_FAILED' AND actor_id = $1", T.owner.id), 5);
	free(want);
	kt_tenant_free(&T);
}

/* ---- what is not recorded, and what never is ---- */

static void
an_update_that_changes_nothing_records_nothing(void **state)
{
	(void)state;
	char *id = org_make(A.admin.token);
	PGconn *c = kt_pg_app();

	kt_pg_set_tenant(c, A.id);
	long before = log_count(&A, "record_id = $1", id);
	char *sql = kt_strf("UPDATE org.organizations SET name = name, settings = settings || '{}'"
	                    " WHERE id = '%s'",
	                    id);

	kt_pg_exec(c, sql);
	assert_int_equal(log_count(&A, "record_id = $1", id), before);
	/* ... while a real change in the same way is recorded */
	free(sql);
	sql = kt_strf("UPDATE org.organizations SET description = 'changed' WHERE id = '%s'", id);
	kt_pg_exec(c, sql);
	assert_int_equal(log_count(&A, "record_id = $1", id), before + 1);
	assert_int_equal(log_count(&A, "record_id = $1 AND changed_fields = '{description}'", id), 1);
	free(sql);
	PQfinish(c);
	free(id);
}

static void
a_statement_of_many_rows_records_each_row(void **state)
{
	(void)state;
	char *org = org_make(A.admin.token);
	char *d[3] = {div_make(A.admin.token, org, NULL), div_make(A.admin.token, org, NULL),
	              div_make(A.admin.token, org, NULL)};
	PGconn *c = kt_pg_app();
	char *sql =
	    kt_strf("UPDATE org.organizations SET description = 'many' WHERE id = '%s';"
	            "UPDATE org.divisions SET description = CASE WHEN id = '%s' THEN description"
	            " ELSE 'many' END WHERE organization_id = '%s'",
	            org, d[2], org);

	kt_pg_set_tenant(c, A.id);
	kt_pg_exec(c, "SELECT set_config('app.request_id', 'many-rows', false)");
	kt_pg_exec(c, sql);
	/* two rows changed, one left as it was: two audit rows, one statement's time and transaction */
	assert_int_equal(log_count(&A, "request_id = 'many-rows' AND table_name = 'divisions'", NULL),
	                 2);
	assert_int_equal(log_count(&A,
	                           "request_id = 'many-rows' AND table_name = 'divisions'"
	                           " AND changed_fields = '{description}' AND new ->> 'description' ="
	                           " 'many' AND old ->> 'organization_id' = $1",
	                           org),
	                 2);
	assert_int_equal(
	    kt_pg_tenant_long(pg, A.id,
	                      "SELECT count(DISTINCT (occurred_at, txid)) FROM audit.logs"
	                      " WHERE request_id = 'many-rows' AND table_name = 'divisions'",
	                      NULL),
	    1);
	assert_int_equal(log_count(&A, "request_id = 'many-rows' AND record_id = $1", d[2]), 0);
	/* an id that changes (keel never does): the old row and the new one, unpaired */
	free(sql);
	sql = kt_strf("UPDATE org.divisions SET id = '0192f3a4-0000-7000-8000-00000000d1d1'"
	              " WHERE id = '%s'",
	              d[2]);
	kt_pg_exec(c, sql);
	assert_int_equal(
	    log_count(&A, "action = 'UPDATE' AND record_id = $1 AND new IS NULL AND old IS NOT NULL",
	              d[2]),
	    1);
	assert_int_equal(log_count(&A,
	                           "action = 'UPDATE' AND record_id = "
	                           "'0192f3a4-0000-7000-8000-00000000d1d1' AND old IS NULL"
	                           " AND new ->> 'code' IS NOT NULL",
	                           NULL),
	                 1);
	free(sql);
	PQfinish(c);
	for (int i = 0; i < 3; i++)
		free(d[i]);
	free(org);
}

static void
a_rolled_back_transaction_leaves_no_audit_row(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();
	char *sql = kt_strf("SELECT set_config('app.tenant_id', '%s', true)", A.id);
	long before = log_count(&A, NULL, NULL);

	kt_pg_exec(c, "BEGIN");
	kt_pg_exec(c, sql);
	kt_pg_exec(c, "INSERT INTO org.organizations (tenant_id, id, name, code)"
	              " VALUES (core.current_tenant_id(), gen_random_uuid(), 'Gone', 'GONE1')");
	/* inside the transaction the row and its audit row exist ... */
	char *v = kt_pg_value(c, "SELECT count(*) FROM audit.logs WHERE new ->> 'code' = 'GONE1'");

	assert_string_equal(v, "1");
	free(v);
	kt_pg_exec(c, "ROLLBACK");
	/* ... and vanish with it */
	assert_int_equal(log_count(&A, NULL, NULL), before);
	assert_int_equal(log_count(&A, "new ->> 'code' = 'GONE1'", NULL), 0);
	/* a request that fails writes nothing either (a duplicate code) */
	char *id = org_make(A.admin.token);
	char *code = kt_pg_tenant_value(pg, A.id, "SELECT code FROM org.organizations WHERE id = $1",
	                                (const char *[]){id, NULL});
	char *body = kt_strf("{\"name\":\"Twin\",\"code\":\"%s\"}", code);

	before = log_count(&A, NULL, NULL);
	kt_resp *r = api("POST", A.admin.token, body, "/api/v1/organizations");

	kt_assert_status(r, 409);
	kt_resp_free(r);
	assert_int_equal(log_count(&A, NULL, NULL), before);
	assert_int_equal(log_count(&A, "request_id = $1", cl.request_id), 0);
	free(body);
	free(code);
	free(id);
	free(sql);
	PQfinish(c);
}

/* Where needle occurs in any audit row of tenant t, as text (0: nowhere). */
static long
occurrences_in_log(const kt_tenant *t, const char *needle)
{
	return kt_pg_tenant_long(pg, t->id,
	                         "SELECT count(*) FROM audit.logs l WHERE strpos(l::text, $1) > 0",
	                         (const char *[]){needle, NULL});
}

static void
secrets_never_reach_the_audit_log(void **state)
{
	(void)state;
	const kt_tenant *all[] = {&A, &B, &P};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const kt_tenant *t = all[i];

		/* the columns: not in old, not in new, not in changed_fields */
		assert_int_equal(log_count(t,
		                           "old ?| '{password_hash,token_hash}' OR new ?|"
		                           " '{password_hash,token_hash}' OR changed_fields &&"
		                           " '{password_hash,token_hash}'",
		                           NULL),
		                 0);
		/* the values: every hash the tenant holds, anywhere in a row's text */
		PGresult *res =
		    kt_pg_tenant_query(pg, t->id,
		                       "SELECT password_hash FROM auth.users UNION ALL"
		                       " SELECT encode(token_hash, 'hex') FROM auth.refresh_tokens"
		                       " UNION ALL SELECT encode(token_hash, 'base64')"
		                       " FROM auth.refresh_tokens",
		                       NULL);
		int n = PQntuples(res);

		assert_true(n >= 3);
		for (int row = 0; row < n; row++) {
			char *needle = strdup(PQgetvalue(res, row, 0));

			if (occurrences_in_log(t, needle) != 0)
				fail_msg("a secret of %s is in audit.logs: %s", t->slug, needle);
			free(needle);
		}
		PQclear(res);
		/* the search itself works: what is not secret is found */
		assert_true(occurrences_in_log(t, "owner@") > 0);
	}
	/* a hash that existed only before a password change is not there either */
	kt_user U = {0};

	kt_tenant_user(&cl, &A, &U, "rehashed", "member");
	char *old = kt_pg_tenant_value(pg, A.id, "SELECT password_hash FROM auth.users WHERE id = $1",
	                               (const char *[]){U.id, NULL});
	kt_resp *r = api("POST", U.token,
	                 "{\"current_password\":\"" PASSWORD "\",\"new_password\":"
	                 "\"a fresh long password\"}",
	                 "/api/v1/auth/password");

	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(occurrences_in_log(&A, old), 0);
	assert_int_equal(occurrences_in_log(&A, "$argon2"), 0);
	free(old);
	kt_user_free(&U);
}

/* ---- who may see and touch the log ---- */

/* sql as keel_app in tenant's transaction must fail with SQLSTATE state. */
static void
app_fails(const char *tenant_id, const char *sql, const char *state)
{
	PGconn *c = kt_pg_app();

	kt_pg_set_tenant(c, tenant_id);
	PGresult *r = PQexec(c, sql);
	const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		fail_msg("keel_app could: %s", sql);
	if (got == NULL || strcmp(got, state) != 0)
		fail_msg("%s: SQLSTATE %s, expected %s: %s", sql, got ? got : "none", state,
		         PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static void
the_app_role_cannot_change_audit_rows(void **state)
{
	(void)state;
	char *month = month_suffix(0);
	char *part = kt_strf("audit.logs_%s", month);
	long before = log_count(&A, NULL, NULL);
	char *sql;

	assert_true(before > 0);
	app_fails(A.id, "UPDATE audit.logs SET action = 'FORGED'", "42501");
	app_fails(A.id, "DELETE FROM audit.logs", "42501");
	app_fails(A.id, "TRUNCATE audit.logs", "42501");
	app_fails(A.id,
	          "INSERT INTO audit.logs (tenant_id, id, occurred_at, action, schema_name,"
	          " table_name, txid) VALUES (core.current_tenant_id(), gen_random_uuid(), now(),"
	          " 'FORGED', 'org', 'organizations', 1)",
	          "42501");
	/* nor through a partition, which it cannot even read */
	sql = kt_strf("DELETE FROM %s", part);
	app_fails(A.id, sql, "42501");
	free(sql);
	sql = kt_strf("SELECT count(*) FROM %s", part);
	app_fails(A.id, sql, "42501");
	free(sql);
	app_fails(A.id, "TRUNCATE audit.logs_default", "42501");
	/* nor run the owner's functions */
	app_fails(A.id, "SELECT audit.create_partition(now()::date)", "42501");
	sql = kt_strf("SELECT audit.drop_partition('%s', now())", part);
	app_fails(A.id, sql, "42501");
	free(sql);
	app_fails(A.id, "SELECT audit.disable('org.organizations')", "42501");
	app_fails(A.id, "SELECT * FROM audit.history('org.organizations', gen_random_uuid())", "42501");
	app_fails(A.id, "ALTER TABLE audit.logs DISABLE TRIGGER ALL", "42501");
	app_fails(A.id, "ALTER TABLE org.organizations DISABLE TRIGGER audit_update", "42501");
	assert_int_equal(log_count(&A, NULL, NULL), before);
	assert_int_equal(log_count(&A, "action = 'FORGED'", NULL), 0);
	free(part);
	free(month);
}

static long
app_long(const char *tenant_id, const char *sql)
{
	PGconn *c = kt_pg_app();

	if (tenant_id != NULL)
		kt_pg_set_tenant(c, tenant_id);
	char *v = kt_pg_value(c, sql);
	long n = v ? atol(v) : -1;

	free(v);
	PQfinish(c);
	return n;
}

static void
a_tenant_reads_only_its_own_rows_in_sql(void **state)
{
	(void)state;
	char *sql = kt_strf("SELECT count(*) FROM audit.logs WHERE tenant_id = '%s'", A.id);
	long a_rows = log_count(&A, NULL, NULL), b_rows = log_count(&B, NULL, NULL);

	assert_true(a_rows > 0 && b_rows > 0);
	assert_int_equal(app_long(A.id, "SELECT count(*) FROM audit.logs"), a_rows);
	assert_int_equal(app_long(B.id, "SELECT count(*) FROM audit.logs"), b_rows);
	assert_int_equal(app_long(B.id, sql), 0);
	assert_int_equal(app_long(B.id, "SELECT count(*) FROM audit.logs WHERE tenant_id <>"
	                                " core.current_tenant_id()"),
	                 0);
	/* no tenant: nothing at all, keel_owner included */
	assert_int_equal(app_long(NULL, "SELECT count(*) FROM audit.logs"), 0);
	char *v = owner_value("SELECT count(*) FROM audit.logs");

	assert_string_equal(v, "0");
	free(v);
	free(sql);
}

/* Every item of tenant t's log through the API (all pages, limit 200), newest first. */
static json_t *
api_all(const char *token, const char *query)
{
	json_t *all = json_array();
	char *cursor = NULL;

	for (int pages = 0; pages < 1000; pages++) {
		kt_resp *r = cursor ? api("GET", token, NULL, LOGS "?limit=200%s%s&cursor=%s",
		                          query ? "&" : "", query ? query : "", cursor)
		                    : api("GET", token, NULL, LOGS "?limit=200%s%s", query ? "&" : "",
		                          query ? query : "");

		kt_assert_status(r, 200);
		json_array_extend(all, json_object_get(r->json, "data"));
		free(cursor);
		const char *next = json_string_value(json_object_get(r->json, "next_cursor"));

		cursor = next ? strdup(next) : NULL;
		kt_resp_free(r);
		if (cursor == NULL)
			return all;
	}
	fail_msg("more than 1000 pages");
	return NULL;
}

/* The ids of items, joined by commas (malloc'd). */
static char *
ids_of(const json_t *items)
{
	size_t i, len = 0;
	json_t *it;
	char *out = calloc(1, 1);

	json_array_foreach(items, i, it)
	{
		out = realloc(out, len + 40);
		len += (size_t)sprintf(out + len, "%s%s", i ? "," : "", kt_jstr(it, "id"));
	}
	return out;
}

/* The ids of t's audit rows matching where, newest first, joined by commas (malloc'd). */
static char *
ids_where(const kt_tenant *t, const char *where, const char *p1, const char *p2)
{
	char *sql = kt_strf("SELECT coalesce(string_agg(id::text, ',' ORDER BY occurred_at DESC,"
	                    " id DESC), '') FROM audit.logs WHERE %s",
	                    where);
	char *v = kt_pg_tenant_value(pg, t->id, sql, (const char *[]){p1, p2, NULL});

	free(sql);
	return v;
}

static void
a_tenant_reads_only_its_own_rows_through_the_api(void **state)
{
	(void)state;
	char *org = org_make(A.admin.token);
	kt_resp *r = api("GET", B.admin.token, NULL, LOGS "?record_id=%s", org);

	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 0);
	kt_resp_free(r);
	/* B's whole log is B's rows, exactly */
	json_t *b = api_all(B.admin.token, NULL);
	char *got = ids_of(b), *want = ids_where(&B, "true", NULL, NULL);

	assert_string_equal(got, want);
	assert_true(json_array_size(b) > 0);
	assert_null(strstr(got, org));
	/* a cursor made from A's page only positions B within B's rows */
	r = api("GET", A.admin.token, NULL, LOGS "?limit=1");
	kt_assert_status(r, 200);
	char *cursor = strdup(kt_jstr(r->json, "next_cursor"));

	kt_resp_free(r);
	r = api("GET", B.admin.token, NULL, LOGS "?limit=200&cursor=%s", cursor);
	kt_assert_status(r, 200);
	char *page = ids_of(json_object_get(r->json, "data"));

	assert_true(strlen(page) > 0 && strstr(want, page) != NULL);
	kt_resp_free(r);
	free(page);
	free(cursor);
	json_decref(b);
	free(got);
	free(want);
	free(org);
}

static void
only_admins_and_owners_may_read_the_log(void **state)
{
	(void)state;
	const char *denied[] = {A.member.token, A.viewer.token};
	const char *allowed[] = {A.admin.token, A.owner.token};
	kt_resp *r;

	for (size_t i = 0; i < 2; i++) {
		r = api("GET", denied[i], NULL, LOGS);
		kt_assert_status(r, 403);
		kt_resp_free(r);
		r = api("GET", allowed[i], NULL, LOGS);
		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	r = api("GET", NULL, NULL, LOGS);
	kt_assert_status(r, 401);
	kt_resp_free(r);
}

/* ---- the API ---- */

static void
items_have_the_documented_shape(void **state)
{
	(void)state;
	char *id = org_make(A.admin.token);
	kt_resp *r =
	    api("PATCH", A.admin.token, "{\"name\":\"Shape\"}", "/api/v1/organizations/%s", id);

	kt_assert_status(r, 200);
	char *patch_rid = strdup(cl.request_id), *traceparent = kt_header(r, "traceparent");
	char *created = strdup(kt_jstr(r->json, "created_at"));
	char *updated = strdup(kt_jstr(r->json, "updated_at"));

	kt_resp_free(r);

	r = api("GET", A.admin.token, NULL, LOGS "?record_id=%s", id);
	kt_assert_status(r, 200);
	json_t *data = json_object_get(r->json, "data");

	assert_int_equal(json_array_size(data), 2);
	assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
	json_t *upd = json_array_get(data, 0), *ins = json_array_get(data, 1);

	assert_int_equal(json_object_size(upd), 11);
	assert_string_equal(kt_jstr(upd, "action"), "UPDATE");
	assert_string_equal(kt_jstr(ins, "action"), "INSERT");
	assert_string_equal(kt_jstr(upd, "table"), "org.organizations");
	assert_string_equal(kt_jstr(upd, "record_id"), id);
	assert_string_equal(kt_jstr(upd, "actor_id"), A.admin.id);
	assert_string_equal(kt_jstr(upd, "request_id"), patch_rid);
	/* the trace of the request: the trace-id of its traceparent, when it had one */
	if (traceparent != NULL) {
		assert_int_equal(strlen(traceparent), 55);
		traceparent[35] = '\0';
		assert_string_equal(kt_jstr(upd, "trace_id"), traceparent + 3);
	} else {
		assert_true(json_is_null(json_object_get(upd, "trace_id")));
	}
	/* ids of version 7; RFC 3339 UTC with milliseconds */
	const char *uid = kt_jstr(upd, "id"), *at = kt_jstr(upd, "occurred_at");

	assert_int_equal(strlen(uid), 36);
	assert_int_equal(uid[14], '7');
	assert_int_equal(strlen(at), 24);
	assert_int_equal(at[10], 'T');
	assert_int_equal(at[23], 'Z');
	assert_true(strcmp(at, kt_jstr(ins, "occurred_at")) >= 0);
	/* changed_fields a JSON array; old and new objects (null when there is none) */
	json_t *changed = json_object_get(upd, "changed_fields");

	assert_true(json_is_array(changed));
	assert_int_equal(json_array_size(changed), 3);
	assert_string_equal(json_string_value(json_array_get(changed, 0)), "name");
	assert_string_equal(kt_jstr(json_object_get(upd, "new"), "name"), "Shape");
	assert_true(json_is_object(json_object_get(upd, "old")));
	assert_true(json_is_null(json_object_get(ins, "old")));
	assert_true(json_is_null(json_object_get(ins, "changed_fields")));
	assert_true(json_is_integer(json_object_get(json_object_get(ins, "new"), "version")));
	/* timestamps inside the images in the API's form, the very values the API answered */
	assert_string_equal(kt_jstr(json_object_get(upd, "new"), "updated_at"), updated);
	assert_string_equal(kt_jstr(json_object_get(upd, "new"), "created_at"), created);
	assert_string_equal(kt_jstr(json_object_get(upd, "old"), "created_at"), created);
	assert_true(kt_is_rfc3339_ms(kt_jstr(json_object_get(upd, "old"), "updated_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(json_object_get(ins, "new"), "updated_at")));
	assert_true(kt_is_rfc3339_ms(at));
	/* one JSON style: exactly what jansson writes compact */
	kt_assert_compact_body(r);
	kt_resp_free(r);
	free(created);
	free(updated);
	free(traceparent);
	free(patch_rid);
	free(id);
}

/* The API's ids for query equal the database's for where (newest first). */
static void
check_filter(const char *query, const char *where, const char *p1, const char *p2, bool nonempty)
{
	json_t *items = api_all(A.admin.token, query);
	char *got = ids_of(items), *want = ids_where(&A, where, p1, p2);

	if (strcmp(got, want) != 0)
		fail_msg("?%s gave\n%s\nexpected (%s)\n%s", query, got, where, want);
	if (nonempty && json_array_size(items) == 0)
		fail_msg("?%s matched nothing: not a test", query);
	json_decref(items);
	free(got);
	free(want);
}

/* occurred_at of the row of tenant A at position n (newest first) as RFC 3339 with microseconds. */
static char *
time_at(int n)
{
	char *sql = kt_strf("SELECT to_char(occurred_at AT TIME ZONE 'UTC',"
	                    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM audit.logs"
	                    " ORDER BY occurred_at DESC, id DESC OFFSET %d LIMIT 1",
	                    n);
	char *v = kt_pg_tenant_value(pg, A.id, sql, NULL);

	free(sql);
	return v;
}

static void
filters_select_exactly_the_matching_rows(void **state)
{
	(void)state;
	char *org = org_make(A.admin.token);
	char *div = div_make(A.owner.token, org, NULL);
	kt_resp *r =
	    api("PATCH", A.admin.token, "{\"name\":\"Filtered\"}", "/api/v1/divisions/%s", div);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *q;

	check_filter(NULL, "true", NULL, NULL, true);
	check_filter("table=org.divisions", "schema_name = 'org' AND table_name = 'divisions'", NULL,
	             NULL, true);
	check_filter("table=auth.security_events", "table_name = 'security_events'", NULL, NULL, true);
	check_filter("table=org.nothing_here", "false", NULL, NULL, false);
	q = kt_strf("record_id=%s", div);
	check_filter(q, "record_id = $1", div, NULL, true);
	free(q);
	q = kt_strf("actor_id=%s", A.admin.id);
	check_filter(q, "actor_id = $1", A.admin.id, NULL, true);
	free(q);
	check_filter("action=UPDATE", "action = 'UPDATE'", NULL, NULL, true);
	check_filter("action=SIGN_IN_SUCCEEDED", "action = 'SIGN_IN_SUCCEEDED'", NULL, NULL, true);
	check_filter("action=UPDATE&table=org.divisions",
	             "action = 'UPDATE' AND table_name = 'divisions'", NULL, NULL, true);
	q = kt_strf("record_id=%s&actor_id=%s", div, A.owner.id);
	check_filter(q, "record_id = $1 AND actor_id = $2", div, A.owner.id, true);
	free(q);
	q = kt_strf("record_id=%s&action=DELETE", div);
	check_filter(q, "false", NULL, NULL, false);
	free(q);
	/* since is inclusive, until exclusive, both to the microsecond */
	char *t1 = time_at(12), *t2 = time_at(3);

	q = kt_strf("since=%s&until=%s", t1, t2);
	check_filter(q, "occurred_at >= $1 AND occurred_at < $2", t1, t2, true);
	free(q);
	q = kt_strf("since=%s", t2);
	check_filter(q, "occurred_at >= $1", t2, NULL, true);
	free(q);
	q = kt_strf("until=%s&actor_id=%s", t2, A.admin.id);
	check_filter(q, "occurred_at < $1 AND actor_id = $2", t2, A.admin.id, true);
	free(q);
	/* an offset is honoured: the same instant in another zone */
	check_filter("since=2000-01-01T01:00:00%2B01:00&until=2000-01-01T00:00:01Z",
	             "occurred_at >= '2000-01-01T00:00:00Z' AND occurred_at < '2000-01-01T00:00:01Z'",
	             NULL, NULL, false);
	free(t1);
	free(t2);
	free(div);
	free(org);
}

static void
malformed_filters_are_400(void **state)
{
	(void)state;
	const char *bad[] = {
	    "table=organizations",
	    "table=Org.Organizations",
	    "table=org.",
	    "table=.organizations",
	    "table=org.organizations.x",
	    "table=org.organi%3Bzations",
	    "table=",
	    "record_id=123",
	    "record_id=",
	    "actor_id=not-a-uuid",
	    "action=insert",
	    "action=FORGED",
	    "action=",
	    "since=2026-11-27",
	    "since=2026-02-30T00:00:00Z",
	    "since=yesterday",
	    "until=2026-11-27T25:00:00Z",
	    "until=2026-11-27T10:00:00",
	    "since=2026-11-27T10:00:00Z&until=2026-11-27T10:00:00Z",
	    "since=2026-11-28T10:00:00Z&until=2026-11-27T10:00:00Z",
	    "limit=0",
	    "limit=201",
	    "limit=-1",
	    "limit=ten",
	    "cursor=not*a*cursor",
	    "cursor=AAAA",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r = api("GET", A.admin.token, NULL, LOGS "?%s", bad[i]);

		if (r->status != 400)
			fail_msg("?%s: HTTP %ld, expected 400: %s", bad[i], r->status, r->body);
		assert_string_equal(kt_jstr(r->json, "type"), "urn:keel:problem:malformed-request");
		kt_resp_free(r);
	}
	/* a cursor of another list (organizations, in id order) is not an audit cursor */
	kt_resp *r = api("GET", A.admin.token, NULL, "/api/v1/organizations?limit=1");

	kt_assert_status(r, 200);
	char *cursor = strdup(kt_jstr(r->json, "next_cursor"));

	kt_resp_free(r);
	r = api("GET", A.admin.token, NULL, LOGS "?cursor=%s", cursor);
	kt_assert_status(r, 400);
	kt_resp_free(r);
	free(cursor);
}

static void
pagination_walks_every_row_once_newest_first(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app(), *o = kt_pg_owner();
	char *sql = kt_strf("SELECT set_config('app.tenant_id', '%s', true)", P.id);

	/* 120 inserts, 120 updates, 60 deletes, in three statements */
	kt_pg_exec(c, "BEGIN");
	kt_pg_exec(c, sql);
	kt_pg_exec(c, "INSERT INTO org.organizations (tenant_id, id, name, code)"
	              " SELECT core.current_tenant_id(), gen_random_uuid(), 'Page ' || g, 'PG' || g"
	              " FROM generate_series(1, 120) g");
	kt_pg_exec(c, "UPDATE org.organizations SET description = 'walked'");
	kt_pg_exec(c,
	           "DELETE FROM org.organizations WHERE right(code, 1) IN ('0', '2', '4', '6', '8')");
	kt_pg_exec(c, "COMMIT");
	/* and 40 rows of one and the same instant: ties are broken by id */
	kt_pg_exec(o, "BEGIN");
	kt_pg_exec(o, sql);
	kt_pg_exec(o, "INSERT INTO audit.logs (tenant_id, id, occurred_at, action, schema_name,"
	              " table_name, record_id, txid) SELECT core.current_tenant_id(),"
	              " gen_random_uuid(), date_trunc('second', now()) - interval '1 minute',"
	              " 'UPDATE', 'org', 'organizations', gen_random_uuid(), 1"
	              " FROM generate_series(1, 40)");
	kt_pg_exec(o, "COMMIT");
	PQfinish(o);
	PQfinish(c);
	free(sql);

	char *want = ids_where(&P, "true", NULL, NULL), *cursor = NULL;
	size_t len = 0, total = 0;
	char *got = calloc(1, 1);
	int pages = 0;

	assert_true(log_count(&P, NULL, NULL) >= 340);
	do {
		kt_resp *r = cursor ? api("GET", P.owner.token, NULL, LOGS "?limit=7&cursor=%s", cursor)
		                    : api("GET", P.owner.token, NULL, LOGS "?limit=7");

		kt_assert_status(r, 200);
		json_t *data = json_object_get(r->json, "data");
		char *ids = ids_of(data);
		const char *next = json_string_value(json_object_get(r->json, "next_cursor"));

		assert_true(json_array_size(data) <= 7);
		if (next != NULL)
			assert_int_equal(json_array_size(data), 7);
		total += json_array_size(data);
		if (*ids != '\0') {
			got = realloc(got, len + strlen(ids) + 2);
			len += (size_t)sprintf(got + len, "%s%s", len ? "," : "", ids);
		}
		free(ids);
		free(cursor);
		cursor = next ? strdup(next) : NULL;
		kt_resp_free(r);
		pages++;
	} while (cursor != NULL && pages < 200);
	/* the same ids in the same order: none twice, none missing */
	assert_string_equal(got, want);
	assert_int_equal((long)total, log_count(&P, NULL, NULL));
	/* the default page is 50 */
	kt_resp *r = api("GET", P.owner.token, NULL, LOGS);

	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 50);
	assert_true(json_is_string(json_object_get(r->json, "next_cursor")));
	kt_resp_free(r);
	free(got);
	free(want);
}

/* ---- partitions and retention ---- */

static void
maintain_makes_partitions_ahead_and_is_idempotent(void **state)
{
	(void)state;
	char *out;

	/* the migration made this month and the next three */
	for (int m = 0; m <= 3; m++)
		assert_true(partition_exists(m));
	assert_int_equal(audit_cmd(&out, "maintain", "--months", "5", NULL), 0);
	assert_non_null(strstr(out, "(2 created)"));
	free(out);
	assert_true(partition_exists(4));
	assert_true(partition_exists(5));
	assert_false(partition_exists(6));
	assert_int_equal(audit_cmd(&out, "maintain", "--months", "5", NULL), 0);
	assert_non_null(strstr(out, "(0 created)"));
	free(out);
	/* each partition: forced row-level security, and no access for keel_app */
	char *v = owner_value("SELECT count(*) FROM audit.partitions() p JOIN pg_class c"
	                      " ON c.oid = p.name::regclass WHERE NOT (c.relrowsecurity AND"
	                      " c.relforcerowsecurity) OR has_table_privilege('keel_app', c.oid,"
	                      " 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')");

	assert_string_equal(v, "0");
	free(v);
	/* usage errors */
	assert_int_equal(audit_cmd(&out, "maintain", "--months", "x", NULL), 2);
	free(out);
	assert_int_equal(audit_cmd(&out, "maintain", "--keep", "400d", NULL), 2);
	free(out);
	assert_int_equal(audit_cmd(&out, "sideways", NULL, NULL, NULL), 2);
	free(out);
}

static void
rows_without_a_partition_move_into_the_one_made_for_them(void **state)
{
	(void)state;
	char *month = month_suffix(9), *out;
	char *sql = kt_strf("SELECT count(*) FROM audit.logs_%s WHERE action = 'EARLY'", month);

	kt_pg_set_tenant(pg, A.id);
	kt_pg_exec(pg, "INSERT INTO audit.logs (tenant_id, id, occurred_at, action, schema_name,"
	               " table_name, txid) VALUES (core.current_tenant_id(), gen_random_uuid(),"
	               " now() + interval '9 months', 'EARLY', 'org', 'organizations', 1)");
	assert_int_equal(
	    log_count(&A, "action = 'EARLY' AND tableoid = 'audit.logs_default'::regclass", NULL), 1);
	assert_int_equal(audit_cmd(&out, "maintain", "--months", "9", NULL), 0);
	free(out);
	assert_int_equal(
	    log_count(&A, "action = 'EARLY' AND tableoid = 'audit.logs_default'::regclass", NULL), 0);
	assert_int_equal(kt_pg_tenant_long(pg, A.id, sql, NULL), 1);
	free(sql);
	free(month);
}

/* Make the partition of the month offset months from now and put one row of tenant A in it. */
static char *
back_dated(int offset)
{
	char *sql =
	    kt_strf("SELECT audit.create_partition((now() + interval '%d months')::date)", offset);
	char *name = owner_value(sql);

	free(sql);
	assert_non_null(name);
	kt_pg_set_tenant(pg, A.id);
	sql = kt_strf("INSERT INTO audit.logs (tenant_id, id, occurred_at, action, schema_name,"
	              " table_name, txid) VALUES (core.current_tenant_id(), gen_random_uuid(),"
	              " now() + interval '%d months', 'OLD', 'org', 'organizations', 1)",
	              offset);
	kt_pg_exec(pg, sql);
	free(sql);
	return name;
}

static void
prune_drops_whole_partitions_older_than_keep(void **state)
{
	(void)state;
	char *p30 = back_dated(-30), *p20 = back_dated(-20), *p6 = back_dated(-6), *out;

	assert_int_equal(log_count(&A, "action = 'OLD'", NULL), 3);
	/* a dry run says what would go and changes nothing */
	assert_int_equal(audit_cmd(&out, "prune", "--keep", "400d", "--dry-run"), 0);
	assert_non_null(strstr(out, p30));
	assert_non_null(strstr(out, p20));
	assert_null(strstr(out, p6));
	assert_non_null(strstr(out, "2 partitions would be dropped"));
	free(out);
	assert_true(kt_pg_relation_exists(pg, p30) && kt_pg_relation_exists(pg, p20));
	assert_int_equal(log_count(&A, "action = 'OLD'", NULL), 3);
	/* the real thing */
	assert_int_equal(audit_cmd(&out, "prune", "--keep", "400d", NULL), 0);
	assert_non_null(strstr(out, "2 partitions dropped"));
	free(out);
	assert_false(kt_pg_relation_exists(pg, p30));
	assert_false(kt_pg_relation_exists(pg, p20));
	assert_true(kt_pg_relation_exists(pg, p6));
	assert_true(kt_pg_relation_exists(pg, "audit.logs_default"));
	for (int m = 0; m <= 5; m++)
		assert_true(partition_exists(m));
	assert_int_equal(log_count(&A, "action = 'OLD'", NULL), 1);
	assert_true(log_count(&A, "action <> 'OLD'", NULL) > 0);
	/* again: nothing left to do */
	assert_int_equal(audit_cmd(&out, "prune", "--keep", "400d", NULL), 0);
	assert_non_null(strstr(out, "0 partitions dropped"));
	free(out);
	/* --keep is required, and at least a day */
	assert_int_equal(audit_cmd(&out, "prune", NULL, NULL, NULL), 2);
	free(out);
	assert_int_equal(audit_cmd(&out, "prune", "--keep", "3h", NULL), 2);
	free(out);
	assert_int_equal(audit_cmd(&out, "prune", "--keep", "400", NULL), 2);
	free(out);
	free(p30);
	free(p20);
	free(p6);
}

static void
maintenance_runs_next_to_traffic_and_to_itself(void **state)
{
	(void)state;
	const char *maintain[] = {"audit", "maintain", "--months", "12", NULL};
	const char *again[] = {"audit", "maintain", "--months", "12", NULL};
	const char *prune[] = {"audit", "prune", "--keep", "400d", NULL};
	char *id = org_make(A.admin.token), *out;

	free(back_dated(-25));
	kt_run *r1 = kt_keel_spawn(maintain, NULL), *r2 = kt_keel_spawn(again, NULL),
	       *r3 = kt_keel_spawn(prune, NULL);

	/* writes and reads go on meanwhile */
	for (int i = 0; i < 20; i++) {
		char body[64];

		snprintf(body, sizeof(body), "{\"description\":\"busy %d\"}", i);
		kt_resp *r = api("PATCH", A.admin.token, body, "/api/v1/organizations/%s", id);

		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, LOGS "?limit=5");
		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	assert_int_equal(kt_keel_wait(r1, 60000, &out), 0);
	free(out);
	assert_int_equal(kt_keel_wait(r2, 60000, &out), 0);
	free(out);
	assert_int_equal(kt_keel_wait(r3, 60000, &out), 0);
	free(out);
	for (int m = 0; m <= 12; m++)
		assert_true(partition_exists(m));
	assert_int_equal(log_count(&A, "record_id = $1 AND action = 'UPDATE'", id), 20);
	assert_int_equal(
	    log_count(&A, "action = 'OLD' AND occurred_at < now() - interval '2 years'", NULL), 0);
	free(id);
}

static void
serve_makes_partitions_at_start_and_stops_cleanly(void **state)
{
	(void)state;
	char *month = month_suffix(14), *log;

	assert_false(partition_exists(14));
	const char *env[] = {"KEEL_AUDIT_MONTHS_AHEAD=14", NULL};
	kt_keel *k = kt_keel_start(env, NULL);

	for (long long until = kt_now_ms() + 15000; !partition_exists(14) && kt_now_ms() < until;)
		usleep(50000);
	assert_true(partition_exists(14));
	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_non_null(strstr(log, month));
	free(log);

	/* without the owner's connection it cannot, and says so */
	char *url = strdup(getenv("KEEL_MIGRATE_DATABASE_URL"));

	unsetenv("KEEL_MIGRATE_DATABASE_URL");
	k = kt_keel_start(NULL, NULL);
	setenv("KEEL_MIGRATE_DATABASE_URL", url, 1);
	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_non_null(strstr(log, "KEEL_MIGRATE_DATABASE_URL is not set"));
	free(log);
	free(url);
	free(month);
}

/* ---- operator functions ---- */

/* EXPLAIN of sql as keel_owner in tenant A with sequential scans off: the plan's text. */
static char *
plan_of(const char *sql, const char *p1)
{
	kt_pg_exec(pg, "SET enable_seqscan = off");
	char *explain = kt_strf("EXPLAIN %s", sql);
	PGresult *res = kt_pg_tenant_query(pg, A.id, explain, (const char *[]){p1, NULL});
	size_t len = 0;
	char *plan = calloc(1, 1);

	for (int i = 0; i < PQntuples(res); i++) {
		plan = realloc(plan, len + strlen(PQgetvalue(res, i, 0)) + 2);
		len += (size_t)sprintf(plan + len, "%s\n", PQgetvalue(res, i, 0));
	}
	PQclear(res);
	kt_pg_exec(pg, "RESET enable_seqscan");
	free(explain);
	return plan;
}

static void
history_and_user_activity_answer_from_their_indexes(void **state)
{
	(void)state;
	char *id = org_make(A.admin.token);
	kt_resp *r =
	    api("PATCH", A.admin.token, "{\"name\":\"History\"}", "/api/v1/organizations/%s", id);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	char *hist =
	    kt_pg_tenant_value(pg, A.id,
	                       "SELECT string_agg(action, ',') FROM audit.history('org.organizations',"
	                       " $1)",
	                       (const char *[]){id, NULL});

	assert_string_equal(hist, "UPDATE,INSERT");
	free(hist);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM audit.history('org.divisions', $1)",
	                                   (const char *[]){id, NULL}),
	                 0);
	long mine =
	    kt_pg_tenant_long(pg, A.id,
	                      "SELECT count(*) FROM audit.user_activity($1, now() - interval '1 hour',"
	                      " now() + interval '1 minute')",
	                      (const char *[]){A.admin.id, NULL});

	assert_int_equal(mine, log_count(&A, "actor_id = $1", A.admin.id));
	/* under row-level security like everything: another tenant or none sees nothing */
	assert_int_equal(
	    kt_pg_tenant_long(pg, B.id, "SELECT count(*) FROM audit.history('org.organizations', $1)",
	                      (const char *[]){id, NULL}),
	    0);
	kt_pg_exec(pg, "RESET app.tenant_id");
	char *sql = kt_strf("SELECT count(*) FROM audit.history('org.organizations', '%s')", id);
	char *v = kt_pg_value(pg, sql);

	assert_string_equal(v, "0");
	free(v);
	free(sql);
	/* the plans: tenant-leading indexes, no scan of a whole partition */
	char *plan = plan_of("SELECT * FROM audit.history('org.organizations', $1::uuid)", id);

	if (strstr(plan, "tenant_id_record_id_occurred_at") == NULL || strstr(plan, "Seq Scan"))
		fail_msg("audit.history does not use (tenant_id, record_id, ...):\n%s", plan);
	free(plan);
	plan = plan_of("SELECT * FROM audit.user_activity($1::uuid, now() - interval '1 day', now())",
	               A.admin.id);
	if (strstr(plan, "tenant_id_actor_id_occurred_at") == NULL || strstr(plan, "Seq Scan"))
		fail_msg("audit.user_activity does not use (tenant_id, actor_id, ...):\n%s", plan);
	free(plan);
	free(id);
}

/* ---- the API's statements and their plans ---- */

/* The plan's text (one line per row) of EXPLAIN sql on c; fails the test on error. */
static char *
explain(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	size_t len = 0;
	char *plan = calloc(1, 1);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	for (int i = 0; i < PQntuples(res); i++) {
		plan = realloc(plan, len + strlen(PQgetvalue(res, i, 0)) + 2);
		len += (size_t)sprintf(plan + len, "%s\n", PQgetvalue(res, i, 0));
	}
	PQclear(res);
	return plan;
}

/* "EXPLAIN EXECUTE name(p...)": the n text parameters as literals, NULL as NULL. */
static char *
explain_execute(PGconn *c, const char *name, const char *const *p, int n)
{
	char *sql = kt_strf("EXPLAIN EXECUTE %s(", name);

	for (int i = 0; i < n; i++) {
		char *lit = p[i] != NULL ? PQescapeLiteral(c, p[i], strlen(p[i])) : NULL;
		char *next = kt_strf("%s%s%s", sql, lit != NULL ? lit : "NULL", i + 1 < n ? ", " : ")");

		PQfreemem(lit);
		free(sql);
		sql = next;
	}
	return sql;
}

/*
 * A kind of page: the filters that choose its statement, and the indexes its plan may walk
 * with the column each keys on (NULL: none beyond the tenant).  With both record_id and actor_id
 * given, a custom plan may take either index, by the statistics of the values.
 */
typedef struct page_kind {
	const char *record, *actor;
	const char *index[2], *key[2];
} page_kind;

/* Whether a plan's line names an index of kind (it ends with one of their names). */
static bool
uses_index_of(const char *line, const page_kind *kind)
{
	const char *on = strstr(line, " on ");

	for (int i = 0; i < 2 && kind->index[i] != NULL && on != NULL; i++) {
		size_t n = strlen(kind->index[i]);

		if ((size_t)(on - line) >= n && strncmp(on - n, kind->index[i], n) == 0)
			return true;
	}
	return false;
}

/* Whether an Index Cond line holds the tenant, a key of kind, the time bounds and the cursor. */
static bool
index_cond_ok(const char *line, const page_kind *kind)
{
	bool keyed = kind->key[0] == NULL;

	for (int i = 0; i < 2 && kind->key[i] != NULL; i++)
		keyed = keyed || strstr(line, kind->key[i]) != NULL;
	return keyed && strstr(line, "(tenant_id = ") != NULL &&
	       strstr(line, "(occurred_at >= ") != NULL && strstr(line, "(occurred_at < ") != NULL &&
	       strstr(line, "ROW(occurred_at, id) < ROW(") != NULL;
}

/*
 * Whether plan is what the index design promises (docs/audit.md, "Reading it"): under a
 * Limit, every partition's scan walks an index of kind backwards, with its key, the tenant,
 * the time bounds and the keyset position as index conditions (never the time as a filter),
 * and nothing else scans: no sequential scan, no bitmap scan, no sort.
 */
static bool
plan_is_an_index_range(const char *plan, const page_kind *kind)
{
	int scans = 0;

	if (strncmp(plan, "Limit", 5) != 0)
		return false;
	for (const char *l = plan; *l != '\0'; l = strchr(l, '\n') + 1) {
		char *line = strndup(l, strcspn(l, "\n"));
		const char *node = line + strspn(line, " ->");
		bool ok = strncmp(node, "Sort  (", 7) != 0 && strncmp(node, "Incremental Sort  (", 19) != 0;

		if (strstr(line, "Scan") != NULL) {
			ok = strncmp(node, "Index Scan Backward using ", 26) == 0 && uses_index_of(line, kind);
			scans++;
		}
		if (strstr(line, "Index Cond: ") != NULL)
			ok = index_cond_ok(line, kind);
		if (strstr(line, "Filter: ") != NULL)
			ok = strstr(line, "occurred_at") == NULL;
		free(line);
		if (!ok)
			return false;
	}
	return scans > 0;
}

/*
 * The plan of audit_store_list's statement for f, prepared on c exactly as keel prepares it
 * (its name, its text, untyped parameters) and executed with f's parameters as keel binds
 * them, planned with plan_cache_mode mode (custom plans: keel's first executions; the generic
 * plan: later ones, when PostgreSQL finds it no costlier).  The statement stays prepared on c.
 */
static char *
page_plan(PGconn *c, const audit_filter *f, const char *mode)
{
	char lim[16];
	const char *p[10];
	const keel_stmt *st = audit_store_list_stmt(f, lim, p);
	char *sql = kt_strf("SELECT 1 FROM pg_prepared_statements WHERE name = '%s'", st->name);
	PGresult *res = PQexec(c, sql);
	bool prepared = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	PQclear(res);
	free(sql);
	if (!prepared) {
		res = PQprepare(c, st->name, st->sql, st->nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("prepare %s: %s", st->name, PQerrorMessage(c));
		PQclear(res);
	}
	sql = kt_strf("SET LOCAL plan_cache_mode = %s", mode);
	kt_pg_exec(c, sql);
	free(sql);
	sql = explain_execute(c, st->name, p, st->nparams);
	char *plan = explain(c, sql);

	free(sql);
	return plan;
}

/* The filters of a page of kind: none beyond its own, or every bound and filter. */
static audit_filter
page_filter(const page_kind *kind, bool bounded)
{
	audit_filter f = {.record_id = kind->record, .actor_id = kind->actor, .limit = 50};

	if (bounded) {
		f.schema = "org";
		f.table = "organizations";
		f.action = "UPDATE";
		f.since = "2026-01-01T00:00:00.000000Z";
		f.until = "2099-01-01T00:00:00.000000Z";
		f.before_at = "2098-01-01T00:00:00.000000Z";
		f.before_id = "01900000-0000-7000-8000-000000000000";
	}
	return f;
}

/* The plans of pages of kind on c, with and without bounds, custom and generic. */
static void
check_page_plans(PGconn *c, const page_kind *kind)
{
	for (int i = 0; i < 4; i++) {
		bool bounded = i >= 2;
		const char *mode = i % 2 == 0 ? "force_custom_plan" : "force_generic_plan";
		audit_filter f = page_filter(kind, bounded);
		char *plan = page_plan(c, &f, mode);

		if (!plan_is_an_index_range(plan, kind)) {
			fputs(plan, stdout); /* whole: longer than cmocka's messages */
			fail_msg("record_id %s, actor_id %s, %s, %s: not an index range of %s (plan above)",
			         f.record_id ? "given" : "absent", f.actor_id ? "given" : "absent",
			         bounded ? "every bound and filter" : "no bounds", mode, kind->index[0]);
		}
		free(plan);
	}
}

/*
 * Every statement of GET /api/v1/audit-logs, as keel runs it: keel_app in a transaction with
 * the tenant's settings (row-level security applies, and under it only leakproof conditions
 * may be index conditions), each statement with no bounds and with every bound and filter,
 * each planned custom and generic.  Each must be an index range of its own index walked
 * backwards (record_id: (tenant_id, record_id, occurred_at, id); actor_id: (tenant_id,
 * actor_id, ...); otherwise the primary key; both: either, by the values' statistics), or
 * every page would scan from the newest row.
 * Sequential and bitmap scans are off: the test's partitions are small enough that reading
 * them whole, or all of a record's rows and sorting them, costs less than any index range,
 * and which of those the planner picks then turns on whether autovacuum has analyzed the
 * partition yet; with them off PostgreSQL still scans whole partitions when no index can
 * serve the conditions, which is what this looks for.
 */
static void
api_pages_are_index_ranges_under_row_level_security(void **state)
{
	(void)state;
	char *org = org_make(A.admin.token);
	const page_kind kinds[] = {
	    {NULL, NULL, {"_pkey"}, {NULL}},
	    {org, NULL, {"_tenant_id_record_id_occurred_at_id_idx"}, {"(record_id = "}},
	    {NULL, A.admin.id, {"_tenant_id_actor_id_occurred_at_id_idx"}, {"(actor_id = "}},
	    {org,
	     A.admin.id,
	     {"_tenant_id_record_id_occurred_at_id_idx", "_tenant_id_actor_id_occurred_at_id_idx"},
	     {"(record_id = ", "(actor_id = "}},
	};
	PGconn *c = kt_pg_app();

	kt_pg_exec(c, "BEGIN");
	PGresult *set = PQexecParams(c,
	                             "SELECT set_config('app.tenant_id', $1, true),"
	                             " set_config('app.user_id', $2, true)",
	                             2, NULL, (const char *[]){A.id, A.admin.id}, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(set), PGRES_TUPLES_OK);
	PQclear(set);
	kt_pg_exec(c, "SET LOCAL enable_seqscan = off");
	kt_pg_exec(c, "SET LOCAL enable_bitmapscan = off");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		check_page_plans(c, &kinds[k]);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	free(org);
}

/* Last: keel stops on SIGTERM with exit status 0, its log free of sanitizer reports. */
static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(organization_changes_are_recorded_with_actor_request_and_address),
	    cmocka_unit_test(division_changes_and_cascades_are_recorded),
	    cmocka_unit_test(tenant_changes_are_recorded),
	    cmocka_unit_test(user_changes_are_recorded_without_the_password_hash),
	    cmocka_unit_test(sign_in_events_and_refresh_tokens_are_recorded),
	    cmocka_unit_test(throttled_sign_ins_are_recorded),
	    cmocka_unit_test(an_update_that_changes_nothing_records_nothing),
	    cmocka_unit_test(a_statement_of_many_rows_records_each_row),
	    cmocka_unit_test(a_rolled_back_transaction_leaves_no_audit_row),
	    cmocka_unit_test(secrets_never_reach_the_audit_log),
	    cmocka_unit_test(the_app_role_cannot_change_audit_rows),
	    cmocka_unit_test(a_tenant_reads_only_its_own_rows_in_sql),
	    cmocka_unit_test(a_tenant_reads_only_its_own_rows_through_the_api),
	    cmocka_unit_test(only_admins_and_owners_may_read_the_log),
	    cmocka_unit_test(items_have_the_documented_shape),
	    cmocka_unit_test(filters_select_exactly_the_matching_rows),
	    cmocka_unit_test(malformed_filters_are_400),
	    cmocka_unit_test(pagination_walks_every_row_once_newest_first),
	    cmocka_unit_test(maintain_makes_partitions_ahead_and_is_idempotent),
	    cmocka_unit_test(rows_without_a_partition_move_into_the_one_made_for_them),
	    cmocka_unit_test(prune_drops_whole_partitions_older_than_keep),
	    cmocka_unit_test(maintenance_runs_next_to_traffic_and_to_itself),
	    cmocka_unit_test(serve_makes_partitions_at_start_and_stops_cleanly),
	    cmocka_unit_test(history_and_user_activity_answer_from_their_indexes),
	    cmocka_unit_test(api_pages_are_index_ranges_under_row_level_security),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("audit", tests, setup, teardown);
}
