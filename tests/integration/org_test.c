/*
 * Organizations and divisions end to end: the real keel binary over HTTP
 * against a freshly migrated database of this program's own.
 *
 * What is tested: every route's success answer (status, every field of the
 * body, Location, ETag) and the row it leaves in the database; each
 * validation rule (400/415/422, nothing written); duplicate codes (409);
 * the role matrix (401/403); If-Match (412); Idempotency-Key on both
 * creates; keyset pagination and the list filters; the division tree
 * (parents, cycles, also under concurrent moves, cascade deletes); and
 * isolation: another tenant's ids are 404 on every route and its rows stay
 * as they were.
 *
 * keel starts once for the group and the tenants and users are made once
 * (password hashing is slow under ASan); each test makes its own
 * organizations, with codes unique to it, and never relies on another
 * test's rows.  Rows are read back as keel_owner, which row-level security
 * filters like everyone else: every query names its tenant first.
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

#include "core/arena.h"
#include "kt.h"
#include "org/org_int.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
#define ORGS     "/api/v1/organizations"

static kt_keel *srv;
static kt_client cl;   /* requests to srv */
static PGconn *pg;     /* keel_owner */
static kt_tenant A, B; /* A: most tests; B: the other tenant */
static kt_tenant P, S; /* P: pagination; S: the search index */
static int seq;        /* makes codes unique within the program */

/* ---- HTTP ---- */

/*
 * One request to keel.  token and ctype may be NULL; extra is a
 * NULL-terminated list of more "Name: value" headers (may be NULL).
 */
static kt_resp *
send_raw(const char *method, const char *token, const char *ctype, const char *const *extra,
         const char *body, size_t len, const char *path)
{
	char auth[2048], type[256];
	const char *h[16];
	int n = 0;

	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h[n++] = auth;
	}
	if (ctype != NULL) {
		snprintf(type, sizeof(type), "Content-Type: %s", ctype);
		h[n++] = type;
	}
	for (const char *const *e = extra; e != NULL && *e != NULL && n < 15; e++)
		h[n++] = *e;
	h[n] = NULL;
	return kt_request(srv->base, method, path, h, body, len);
}

/* A request with a JSON body (or none) to the formatted path. */
#define api(method, token, extra, body, ...) kt_call(&cl, method, token, extra, body, __VA_ARGS__)

/* ---- the database, as keel_owner inside one tenant ---- */

#define assert_db_text(tenant_id, sql, p1, p2, want)                                               \
	do {                                                                                           \
		char *v_ = kt_pg_tenant_value(pg, (tenant_id), (sql), (const char *[]){(p1), (p2), NULL}); \
		const char *w_ = (want);                                                                   \
		if ((v_ == NULL) != (w_ == NULL) || (v_ != NULL && strcmp(v_, w_) != 0))                   \
			fail_msg("%s: \"%s\", expected \"%s\"", (sql), v_ ? v_ : "NULL", w_ ? w_ : "NULL");    \
		free(v_);                                                                                  \
	} while (0)

static long
org_count(const kt_tenant *t)
{
	return kt_pg_tenant_long(pg, t->id, "SELECT count(*) FROM org.organizations", NULL);
}

static long
div_count(const kt_tenant *t, const char *org_id)
{
	return kt_pg_tenant_long(pg, t->id,
	                         "SELECT count(*) FROM org.divisions WHERE organization_id = $1",
	                         (const char *[]){org_id, NULL});
}

static long
org_version(const kt_tenant *t, const char *id)
{
	return kt_pg_tenant_long(pg, t->id, "SELECT version FROM org.organizations WHERE id = $1",
	                         (const char *[]){id, NULL});
}

static long
div_version(const kt_tenant *t, const char *id)
{
	return kt_pg_tenant_long(pg, t->id, "SELECT version FROM org.divisions WHERE id = $1",
	                         (const char *[]){id, NULL});
}

/* ---- formats ---- */

/* ---- making things ---- */

static const char *
fresh_code(char *buf, size_t size, const char *prefix)
{
	snprintf(buf, size, "%s%d", prefix, ++seq);
	return buf;
}

/* An organization with a fresh code. */
static char *
org_new(const char *token)
{
	char code[40];

	return kt_org_make(&cl, token, fresh_code(code, sizeof(code), "O"));
}

static char *
div_new(const char *token, const char *org_id, const char *parent)
{
	char code[40];

	return kt_div_make(&cl, token, org_id, parent, fresh_code(code, sizeof(code), "D"));
}

/* tpl with each "%s" replaced by code, malloc'd. */
static char *
with_code(const char *tpl, const char *code)
{
	size_t n = 0;

	for (const char *p = strstr(tpl, "%s"); p != NULL; p = strstr(p + 2, "%s"))
		n++;
	char *out = malloc(strlen(tpl) + n * strlen(code) + 1), *o = out;

	for (const char *p = tpl; *p != '\0';) {
		if (p[0] == '%' && p[1] == 's') {
			o = stpcpy(o, code);
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/*
 * Every row of a list (query: "" or "status=...&" style prefix of
 * parameters), walked page by page with limit; returns a JSON array.
 */
static json_t *
list_all(const char *token, const char *path, const char *query, int limit)
{
	json_t *all = json_array();
	char *cursor = NULL;

	for (int pages = 0; pages < 1000; pages++) {
		kt_resp *r = cursor ? api("GET", token, NULL, NULL, "%s?%slimit=%d&cursor=%s", path, query,
		                          limit, cursor)
		                    : api("GET", token, NULL, NULL, "%s?%slimit=%d", path, query, limit);

		kt_assert_status(r, 200);
		json_t *data = json_object_get(r->json, "data");
		json_t *next = json_object_get(r->json, "next_cursor");

		assert_true(json_is_array(data));
		assert_true(json_array_size(data) <= (size_t)limit);
		json_array_extend(all, data);
		free(cursor);
		cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		if (cursor == NULL)
			assert_true(json_is_null(next));
		kt_resp_free(r);
		if (cursor == NULL)
			return all;
	}
	fail_msg("the list did not end");
	return NULL;
}

/* Index of the item with id in a JSON array of resources, or -1. */
static int
find_id(const json_t *items, const char *id)
{
	size_t i;
	json_t *o;

	json_array_foreach(items, i, o)
	{
		if (strcmp(kt_jstr(o, "id"), id) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	const char *env[] = {"KEEL_WORKERS=4", NULL};

	if ((srv = kt_fixture_start("org", env, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_staffed(&cl, &A, "org-a", PASSWORD);
	kt_tenant_make(&cl, &B, "org-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	kt_tenant_user(&cl, &B, &B.admin, "admin", "admin");
	kt_tenant_make(&cl, &P, "org-pages", PASSWORD);
	P.owner.token = kt_tenant_login(&cl, &P, "owner");
	kt_tenant_make(&cl, &S, "org-search", PASSWORD);
	S.owner.token = kt_tenant_login(&cl, &S, "owner");
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
	kt_tenant_free(&S);
	return status;
}

/* ---- organizations: success ---- */

/* Every field of an organization as the API renders it. */
static void
check_org(const json_t *o, const char *tenant_id, const char *name, const char *code,
          const char *description, const char *status, const char *settings, long version)
{
	json_t *want = json_loads(settings, 0, NULL);

	assert_true(kt_is_uuid_v7(kt_jstr(o, "id")));
	assert_string_equal(kt_jstr(o, "tenant_id"), tenant_id);
	assert_string_equal(kt_jstr(o, "name"), name);
	assert_string_equal(kt_jstr(o, "code"), code);
	assert_string_equal(kt_jstr(o, "description"), description);
	assert_string_equal(kt_jstr(o, "status"), status);
	assert_true(json_is_object(json_object_get(o, "settings")));
	assert_true(json_equal(json_object_get(o, "settings"), want));
	assert_true(json_is_integer(json_object_get(o, "version")));
	assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(o, "updated_at")));
	assert_int_equal(json_object_size(o), 10);
	json_decref(want);
}

/* The row of organization o in the database matches what the API said. */
static void
check_org_row(const kt_tenant *t, const json_t *o)
{
	const char *id = kt_jstr(o, "id");
	PGresult *res = kt_pg_tenant_query(
	    pg, t->id,
	    "SELECT tenant_id, name, code, description, status, settings::text, version,"
	    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	    " FROM org.organizations WHERE id = $1",
	    (const char *[]){id, NULL});

	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), t->id);
	assert_string_equal(PQgetvalue(res, 0, 1), kt_jstr(o, "name"));
	assert_string_equal(PQgetvalue(res, 0, 2), kt_jstr(o, "code"));
	assert_string_equal(PQgetvalue(res, 0, 3), kt_jstr(o, "description"));
	assert_string_equal(PQgetvalue(res, 0, 4), kt_jstr(o, "status"));
	json_t *settings = json_loads(PQgetvalue(res, 0, 5), 0, NULL);

	assert_true(json_equal(settings, json_object_get(o, "settings")));
	json_decref(settings);
	assert_int_equal(atol(PQgetvalue(res, 0, 6)),
	                 json_integer_value(json_object_get(o, "version")));
	assert_string_equal(PQgetvalue(res, 0, 7), kt_jstr(o, "created_at"));
	assert_string_equal(PQgetvalue(res, 0, 8), kt_jstr(o, "updated_at"));
	PQclear(res);
}

static void
org_create_returns_201_with_defaults(void **state)
{
	(void)state;
	char code[40], body[256];

	fresh_code(code, sizeof(code), "Create-");
	snprintf(body, sizeof(body), "{\"name\":\"  Acme Holdings \\t\",\"code\":\"%s\"}", code);
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS);

	kt_assert_status(r, 201);
	kt_assert_header(r, "Content-Type", "application/json");
	kt_assert_header(r, "ETag", "\"1\"");
	check_org(r->json, A.id, "Acme Holdings", code, "", "active", "{}", 1);
	assert_string_equal(kt_jstr(r->json, "created_at"), kt_jstr(r->json, "updated_at"));
	char *location = kt_strf(ORGS "/%s", kt_jstr(r->json, "id"));

	kt_assert_header(r, "Location", location);
	check_org_row(&A, r->json);
	free(location);
	kt_resp_free(r);
}

#define FULL_SETTINGS                                                                              \
	"{\"tz\":\"UTC\",\"n\":[1,2,[],{}],\"o\":{\"a\":true,\"s\":\"x, y: \\\"z\\\"\"},\"f\":1.5,"    \
	"\"u\":\"\u00e9\"}"

static void
org_create_stores_every_given_field(void **state)
{
	(void)state;
	char code[40], body[512];

	fresh_code(code, sizeof(code), "full_");
	snprintf(body, sizeof(body),
	         "{\"name\":\"Full\",\"code\":\"%s\",\"description\":\"All of it\","
	         "\"status\":\"archived\",\"settings\":" FULL_SETTINGS "}",
	         code);
	kt_resp *r = api("POST", A.owner.token, NULL, body, ORGS);

	kt_assert_status(r, 201);
	check_org(r->json, A.id, "Full", code, "All of it", "archived", FULL_SETTINGS, 1);
	check_org_row(&A, r->json);
	/* settings, a jsonb, in the one style too: nested, empty, escaped and separator-like */
	kt_assert_compact_body(r);
	kt_resp_free(r);
}

static void
org_get_returns_the_organization(void **state)
{
	(void)state;
	char code[40], body[256];

	snprintf(body, sizeof(body), "{\"name\":\"Got\",\"code\":\"%s\",\"settings\":{\"k\":1}}",
	         fresh_code(code, sizeof(code), "G"));
	kt_resp *c = api("POST", A.admin.token, NULL, body, ORGS);

	kt_assert_status(c, 201);
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s", kt_jstr(c->json, "id"));

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"1\"");
	kt_assert_header(r, "Content-Type", "application/json");
	assert_true(json_equal(r->json, c->json));
	check_org(r->json, A.id, "Got", code, "", "active", "{\"k\":1}", 1);
	kt_assert_compact_body(c);
	kt_assert_compact_body(r);
	kt_resp_free(r);
	kt_resp_free(c);
}

static void
org_patch_changes_fields_and_bumps_version(void **state)
{
	(void)state;
	char code[40], code2[40];
	char *id = kt_org_make(&cl, A.admin.token, fresh_code(code, sizeof(code), "Pa"));
	char *created =
	    kt_pg_tenant_value(pg, A.id,
	                       "SELECT to_char(created_at AT TIME ZONE 'UTC',"
	                       " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM org.organizations"
	                       " WHERE id = $1",
	                       (const char *[]){id, NULL});
	char *body = kt_strf("{\"name\":\" Renamed \",\"code\":\"%s\",\"description\":\"d\","
	                     "\"status\":\"archived\",\"settings\":{\"x\":[true]}}",
	                     fresh_code(code2, sizeof(code2), "Pb"));
	kt_resp *r = api("PATCH", A.admin.token, NULL, body, ORGS "/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	check_org(r->json, A.id, "Renamed", code2, "d", "archived", "{\"x\":[true]}", 2);
	assert_string_equal(kt_jstr(r->json, "id"), id);
	assert_string_equal(kt_jstr(r->json, "created_at"), created);
	assert_true(strcmp(kt_jstr(r->json, "updated_at"), created) >= 0);
	check_org_row(&A, r->json);
	kt_resp_free(r);

	/* a partial change keeps the other fields; the version moves again */
	r = api("PATCH", A.owner.token, NULL, "{\"status\":\"active\"}", ORGS "/%s", id);
	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"3\"");
	check_org(r->json, A.id, "Renamed", code2, "d", "active", "{\"x\":[true]}", 3);
	check_org_row(&A, r->json);
	kt_resp_free(r);
	free(body);
	free(created);
	free(id);
}

static void
org_delete_removes_the_row(void **state)
{
	(void)state;
	char *id = org_new(A.admin.token);
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, ORGS "/%s", id);

	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE id = $1",
	                                   (const char *[]){id, NULL}),
	                 0);
	r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, ORGS "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(id);
}

static void
org_list_returns_full_items_in_id_order(void **state)
{
	(void)state;
	char *first = org_new(A.admin.token), *second = org_new(A.admin.token);
	kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "?limit=200");

	kt_assert_status(r, 200);
	kt_assert_header(r, "Content-Type", "application/json");
	kt_assert_compact_body(r);
	assert_true(json_is_null(json_object_get(r->json, "next_cursor")) ||
	            json_is_string(json_object_get(r->json, "next_cursor")));
	kt_resp_free(r);

	json_t *all = list_all(A.viewer.token, ORGS, "", 200);
	int i = find_id(all, first), j = find_id(all, second);

	assert_true(i >= 0 && j > i);
	check_org(json_array_get(all, (size_t)i), A.id, kt_jstr(json_array_get(all, (size_t)i), "name"),
	          kt_jstr(json_array_get(all, (size_t)i), "code"), "", "active", "{}", 1);
	for (size_t k = 1; k < json_array_size(all); k++)
		assert_true(strcmp(kt_jstr(json_array_get(all, k - 1), "id"),
		                   kt_jstr(json_array_get(all, k), "id")) < 0);
	assert_int_equal(json_array_size(all), org_count(&A));
	json_decref(all);
	free(first);
	free(second);
}

/* ---- organizations: validation ---- */

typedef struct bad_case {
	const char *body; /* %s: a fresh valid code, where the case needs one */
	long status;
	const char *field;
} bad_case;

/* Send each case as JSON to method path: each fails as told, and count(arg) stays the same. */
static void
expect_all_rejected(const char *method, const char *path, const bad_case *cases, size_t n,
                    long (*count)(const char *), const char *arg)
{
	long before = count(arg);

	for (size_t i = 0; i < n; i++) {
		char code[40];
		char *body = with_code(cases[i].body, fresh_code(code, sizeof(code), "V"));
		kt_resp *r =
		    send_raw(method, A.admin.token, "application/json", NULL, body, strlen(body), path);

		if (r->status != cases[i].status)
			fail_msg("case %zu (%s): status %ld, expected %ld: %s", i, cases[i].body, r->status,
			         cases[i].status, r->body);
		kt_assert_problem(r, cases[i].status, NULL, cases[i].field);
		kt_resp_free(r);
		free(body);
		if (count(arg) != before)
			fail_msg("case %zu (%s) wrote a row", i, cases[i].body);
	}
}

static long
count_orgs_of_a(const char *unused)
{
	(void)unused;
	return org_count(&A);
}

static void
org_create_rejects_invalid_fields(void **state)
{
	(void)state;
	char *long_name = kt_repeat("a", 201), *long_name_mb = kt_repeat("\xc3\xa9", 201);
	char *long_desc = kt_repeat("d", 2001), *big = kt_repeat("x", 16377);
	char *b_name = kt_strf("{\"name\":\"%s\",\"code\":\"%%s\"}", long_name);
	char *b_name_mb = kt_strf("{\"name\":\"%s\",\"code\":\"%%s\"}", long_name_mb);
	char *b_desc = kt_strf("{\"name\":\"n\",\"code\":\"%%s\",\"description\":\"%s\"}", long_desc);
	char *b_big = kt_strf("{\"name\":\"n\",\"code\":\"%%s\",\"settings\":{\"k\":\"%s\"}}", big);
	const bad_case cases[] = {
	    {"{\"name\":\"\",\"code\":\"%s\"}", 422, "name"},
	    {"{\"name\":\"    \",\"code\":\"%s\"}", 422, "name"},
	    {"{\"name\":\" \\t\\n \",\"code\":\"%s\"}", 422, "name"},
	    {b_name, 422, "name"},
	    {b_name_mb, 422, "name"},
	    {"{\"name\":42,\"code\":\"%s\"}", 422, "name"},
	    {"{\"name\":null,\"code\":\"%s\"}", 422, "name"},
	    {"{\"code\":\"%s\"}", 422, "name"},
	    {"{\"name\":\"n\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"has space\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"bad!\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"-lead\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"_lead\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"\xc3\xa9t\xc3\xa9\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"abcdefghij0123456789ABCDEFGHIJ-_x\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":7}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"colour\":\"red\"}", 422, "colour"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"id\":\"01a21de4-0878-7604-aa9f-5a92f376dee3\"}", 422,
	     "id"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"version\":1}", 422, "version"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"settings\":[]}", 422, "settings"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"settings\":\"{}\"}", 422, "settings"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"settings\":null}", 422, "settings"},
	    {b_big, 422, "settings"},
	    {b_desc, 422, "description"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"description\":5}", 422, "description"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"status\":\"deleted\"}", 422, "status"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"status\":\"ACTIVE\"}", 422, "status"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"status\":true}", 422, "status"},
	    {"{\"name\":\"bad \xff byte\",\"code\":\"%s\"}", 400, NULL},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"description\":\"\xc3\"}", 400, NULL},
	    {"{\"name\":\"n\",\"code\":\"%s\"", 400, NULL},
	    {"{\"name\":\"n\",\"code\":\"%s\",}", 400, NULL},
	    {"{\"name\":\"n\",\"name\":\"m\",\"code\":\"%s\"}", 400, NULL},
	    {"[\"%s\"]", 400, NULL},
	    {"\"%s\"", 400, NULL},
	};

	expect_all_rejected("POST", ORGS, cases, sizeof(cases) / sizeof(cases[0]), count_orgs_of_a,
	                    NULL);
	free(b_name);
	free(b_name_mb);
	free(b_desc);
	free(b_big);
	free(long_name);
	free(long_name_mb);
	free(long_desc);
	free(big);
}

static void
org_create_rejects_other_media_types(void **state)
{
	(void)state;
	const char *body = "{\"name\":\"n\",\"code\":\"Media1\"}";
	const char *types[] = {"text/plain", "application/x-www-form-urlencoded",
	                       "application/json; charset=latin1"};
	long before = org_count(&A);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		kt_resp *r = send_raw("POST", A.admin.token, types[i], NULL, body, strlen(body), ORGS);

		kt_assert_problem(r, 415, NULL, NULL);
		kt_resp_free(r);
	}
	kt_resp *r = send_raw("POST", A.admin.token, "application/json", NULL, "", 0, ORGS);

	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(org_count(&A), before);
}

static void
org_create_accepts_boundary_lengths(void **state)
{
	(void)state;
	char *name200 = kt_repeat("a", 200), *name200_mb = kt_repeat("\xc3\xa9", 200);
	char *desc2000 = kt_repeat("d", 2000), *big = kt_repeat("x", 16376);
	char code32[40] = "abcdefghij0123456789ABCDEFGHI-_", c[40];

	code32[31] = (char)('a' + seq % 26);
	code32[32] = '\0';
	char *bodies[] = {
	    kt_strf("{\"name\":\"%s\",\"code\":\"%s\"}", name200, fresh_code(c, sizeof(c), "L")),
	    kt_strf("{\"name\":\"  %s  \",\"code\":\"%s\"}", name200, fresh_code(c, sizeof(c), "L")),
	    kt_strf("{\"name\":\"%s\",\"code\":\"%s\"}", name200_mb, fresh_code(c, sizeof(c), "L")),
	    kt_strf("{\"name\":\"n\",\"code\":\"%s\"}", code32),
	    kt_strf("{\"name\":\"n\",\"code\":\"0\"}"),
	    kt_strf("{\"name\":\"n\",\"code\":\"%s\",\"description\":\"%s\"}",
	            fresh_code(c, sizeof(c), "L"), desc2000),
	    kt_strf("{\"name\":\"n\",\"code\":\"%s\",\"settings\":{\"k\":\"%s\"}}",
	            fresh_code(c, sizeof(c), "L"), big),
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		kt_resp *r = api("POST", A.admin.token, NULL, bodies[i], ORGS);

		if (r->status != 201)
			fail_msg("body %zu: status %ld: %s", i, r->status, r->body);
		check_org_row(&A, r->json);
		if (i == 2) {
			assert_string_equal(kt_jstr(r->json, "name"), name200_mb);
			assert_int_equal(
			    kt_pg_tenant_long(pg, A.id,
			                      "SELECT char_length(name) * 1000 + octet_length(name)"
			                      " FROM org.organizations WHERE id = $1",
			                      (const char *[]){kt_jstr(r->json, "id"), NULL}),
			    200 * 1000 + 400);
		}
		if (i == 1)
			assert_string_equal(kt_jstr(r->json, "name"), name200);
		kt_resp_free(r);
		free(bodies[i]);
	}
	free(name200);
	free(name200_mb);
	free(desc2000);
	free(big);
}

static void
org_patch_rejects_invalid_fields(void **state)
{
	(void)state;
	char code[40];
	char *id = kt_org_make(&cl, A.admin.token, fresh_code(code, sizeof(code), "PV"));
	char *path = kt_strf(ORGS "/%s", id);
	char *long_name = kt_repeat("a", 201), *big = kt_repeat("x", 16377);
	char *b_name = kt_strf("{\"name\":\"%s\"}", long_name);
	char *b_big = kt_strf("{\"settings\":{\"k\":\"%s\"}}", big);
	const bad_case cases[] = {
	    {"{}", 422, NULL},
	    {"{\"name\":\"\"}", 422, "name"},
	    {"{\"name\":\"   \"}", 422, "name"},
	    {b_name, 422, "name"},
	    {"{\"name\":1}", 422, "name"},
	    {"{\"name\":null}", 422, "name"},
	    {"{\"code\":\"-x\"}", 422, "code"},
	    {"{\"code\":\"a b\"}", 422, "code"},
	    {"{\"code\":null}", 422, "code"},
	    {"{\"status\":\"gone\"}", 422, "status"},
	    {"{\"settings\":[1]}", 422, "settings"},
	    {"{\"settings\":\"x\"}", 422, "settings"},
	    {b_big, 422, "settings"},
	    {"{\"description\":null}", 422, "description"},
	    {"{\"version\":7}", 422, "version"},
	    {"{\"tenant_id\":\"01a21de4-0878-7604-aa9f-5a92f376dee3\"}", 422, "tenant_id"},
	    {"{\"name\":\"ok\",\"extra\":1}", 422, "extra"},
	    {"{\"name\":\"\xff\"}", 400, NULL},
	    {"{\"name\":", 400, NULL},
	    {"[]", 400, NULL},
	};

	expect_all_rejected("PATCH", path, cases, sizeof(cases) / sizeof(cases[0]), count_orgs_of_a,
	                    NULL);
	kt_resp *r = send_raw("PATCH", A.admin.token, "text/plain", NULL, "{\"name\":\"x\"}",
	                      strlen("{\"name\":\"x\"}"), path);

	kt_assert_problem(r, 415, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(org_version(&A, id), 1);
	char *name = kt_strf("Org %s", code);

	assert_db_text(A.id, "SELECT name FROM org.organizations WHERE id = $1", id, NULL, name);
	assert_db_text(A.id, "SELECT code FROM org.organizations WHERE id = $1", id, NULL, code);
	free(name);
	free(b_name);
	free(b_big);
	free(long_name);
	free(big);
	free(path);
	free(id);
}

/* ---- organizations: duplicate codes ---- */

static void
org_duplicate_code_is_409_per_tenant(void **state)
{
	(void)state;
	char code[40], body[128];

	fresh_code(code, sizeof(code), "DUP");
	char *first = kt_org_make(&cl, A.admin.token, code);

	snprintf(body, sizeof(body), "{\"name\":\"Again\",\"code\":\"%s\"}", code);
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS);

	kt_assert_problem(r, 409, NULL, "code");
	kt_resp_free(r);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){code, NULL}),
	                 1);

	/* another tenant may use the same code */
	char *in_b = kt_org_make(&cl, B.admin.token, code);

	assert_int_equal(kt_pg_tenant_long(pg, B.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){code, NULL}),
	                 1);

	/* taking it by PATCH is a conflict too, and changes nothing */
	char *other = org_new(A.admin.token);

	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	r = api("PATCH", A.admin.token, NULL, body, ORGS "/%s", other);
	kt_assert_problem(r, 409, NULL, "code");
	kt_resp_free(r);
	assert_int_equal(org_version(&A, other), 1);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){code, NULL}),
	                 1);
	free(first);
	free(in_b);
	free(other);
}

/* ---- roles ---- */

static void
viewer_and_member_may_read_but_not_write(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *div = div_new(A.admin.token, org, NULL);
	const char *readers[] = {A.viewer.token, A.member.token};

	for (size_t i = 0; i < 2; i++) {
		const char *t = readers[i];
		kt_resp *r = api("GET", t, NULL, NULL, ORGS);

		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", t, NULL, NULL, ORGS "/%s", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", t, NULL, NULL, ORGS "/%s/divisions", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", t, NULL, NULL, "/api/v1/divisions/%s", div);
		kt_assert_status(r, 200);
		kt_resp_free(r);

		long orgs = org_count(&A), divs = div_count(&A, org);

		r = api("POST", t, NULL, "{\"name\":\"n\",\"code\":\"Role1\"}", ORGS);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", t, NULL, "{\"name\":\"n\"}", ORGS "/%s", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", t, NULL, NULL, ORGS "/%s", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", t, NULL, "{\"name\":\"n\",\"code\":\"Role1\"}", ORGS "/%s/divisions", org);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", t, NULL, "{\"name\":\"n\"}", "/api/v1/divisions/%s", div);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", t, NULL, NULL, "/api/v1/divisions/%s", div);
		kt_assert_problem(r, 403, NULL, NULL);
		kt_resp_free(r);
		assert_int_equal(org_count(&A), orgs);
		assert_int_equal(div_count(&A, org), divs);
		assert_int_equal(org_version(&A, org), 1);
		assert_int_equal(div_version(&A, div), 1);
	}
	free(div);
	free(org);
}

static void
admin_and_owner_may_do_everything(void **state)
{
	(void)state;
	const char *writers[] = {A.admin.token, A.owner.token};

	for (size_t i = 0; i < 2; i++) {
		const char *t = writers[i];
		char *org = org_new(t);
		char *div = div_new(t, org, NULL);
		kt_resp *r = api("PATCH", t, NULL, "{\"name\":\"Changed\"}", ORGS "/%s", org);

		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("PATCH", t, NULL, "{\"name\":\"Changed\"}", "/api/v1/divisions/%s", div);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("GET", t, NULL, NULL, ORGS "/%s/divisions", org);
		kt_assert_status(r, 200);
		kt_resp_free(r);
		r = api("DELETE", t, NULL, NULL, "/api/v1/divisions/%s", div);
		kt_assert_status(r, 204);
		kt_resp_free(r);
		r = api("DELETE", t, NULL, NULL, ORGS "/%s", org);
		kt_assert_status(r, 204);
		kt_resp_free(r);
		assert_int_equal(kt_pg_tenant_long(pg, A.id,
		                                   "SELECT count(*) FROM org.organizations WHERE id = $1",
		                                   (const char *[]){org, NULL}),
		                 0);
		free(div);
		free(org);
	}
}

static void
every_route_needs_a_token(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *div = div_new(A.admin.token, org, NULL);
	struct {
		const char *method;
		char *path;
		const char *body;
	} routes[] = {
	    {"POST", kt_strf(ORGS), "{\"name\":\"n\",\"code\":\"NoTok\"}"},
	    {"GET", kt_strf(ORGS), NULL},
	    {"GET", kt_strf(ORGS "/%s", org), NULL},
	    {"PATCH", kt_strf(ORGS "/%s", org), "{\"name\":\"n\"}"},
	    {"DELETE", kt_strf(ORGS "/%s", org), NULL},
	    {"POST", kt_strf(ORGS "/%s/divisions", org), "{\"name\":\"n\",\"code\":\"NoTok\"}"},
	    {"GET", kt_strf(ORGS "/%s/divisions", org), NULL},
	    {"GET", kt_strf("/api/v1/divisions/%s", div), NULL},
	    {"PATCH", kt_strf("/api/v1/divisions/%s", div), "{\"name\":\"n\"}"},
	    {"DELETE", kt_strf("/api/v1/divisions/%s", div), NULL},
	};
	const char *bad_token[] = {"Authorization: Bearer not.a.jwt", NULL};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		kt_resp *r = api(routes[i].method, NULL, NULL, routes[i].body, "%s", routes[i].path);

		kt_assert_problem(r, 401, NULL, NULL);
		kt_assert_header(r, "WWW-Authenticate", "Bearer");
		kt_resp_free(r);
		r = api(routes[i].method, NULL, bad_token, routes[i].body, "%s", routes[i].path);
		kt_assert_problem(r, 401, NULL, NULL);
		kt_resp_free(r);
		free(routes[i].path);
	}
	assert_int_equal(org_version(&A, org), 1);
	assert_int_equal(div_version(&A, div), 1);
	assert_int_equal(div_count(&A, org), 1);
	free(div);
	free(org);
}

/* ---- If-Match ---- */

static void
org_if_match_guards_patch_and_delete(void **state)
{
	(void)state;
	char *id = org_new(A.admin.token);
	const char *v1[] = {"If-Match: \"1\"", NULL};
	const char *v2[] = {"If-Match: \"2\"", NULL};
	kt_resp *r = api("PATCH", A.admin.token, v1, "{\"name\":\"Matched\"}", ORGS "/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	kt_resp_free(r);

	/* stale: 412, nothing changes */
	r = api("PATCH", A.admin.token, v1, "{\"name\":\"Stale\"}", ORGS "/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, v1, NULL, ORGS "/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);

	/* malformed or impossible ETags match nothing */
	const char *bad[] = {
	    "If-Match: W/\"2\"",     "If-Match: abc",    "If-Match: 2",    "If-Match: \"2",
	    "If-Match: \"02\"",      "If-Match: \"-2\"", "If-Match: \"\"", "If-Match: \"9999999999\"",
	    "If-Match: \"2\", \"3\""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *h[] = {bad[i], NULL};

		r = api("PATCH", A.admin.token, h, "{\"name\":\"Bad\"}", ORGS "/%s", id);
		if (r->status != 412)
			fail_msg("%s on PATCH: %ld %s", bad[i], r->status, r->body);
		kt_assert_problem(r, 412, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", A.admin.token, h, NULL, ORGS "/%s", id);
		if (r->status != 412)
			fail_msg("%s on DELETE: %ld %s", bad[i], r->status, r->body);
		kt_resp_free(r);
	}
	assert_int_equal(org_version(&A, id), 2);
	assert_db_text(A.id, "SELECT name FROM org.organizations WHERE id = $1", id, NULL, "Matched");

	r = api("DELETE", A.admin.token, v2, NULL, ORGS "/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE id = $1",
	                                   (const char *[]){id, NULL}),
	                 0);

	/* a conditional write to a row that is gone is 404, not 412 */
	r = api("PATCH", A.admin.token, v2, "{\"name\":\"Gone\"}", ORGS "/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(id);
}

static void
div_if_match_guards_patch_and_delete(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *id = div_new(A.admin.token, org, NULL);
	const char *v1[] = {"If-Match: \"1\"", NULL};
	const char *v2[] = {"If-Match: \"2\"", NULL};
	kt_resp *r =
	    api("PATCH", A.admin.token, v1, "{\"name\":\"Matched\"}", "/api/v1/divisions/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	kt_resp_free(r);
	r = api("PATCH", A.admin.token, v1, "{\"name\":\"Stale\"}", "/api/v1/divisions/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, v1, NULL, "/api/v1/divisions/%s", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, v1, NULL, "/api/v1/divisions/%s?cascade=true", id);
	kt_assert_problem(r, 412, NULL, NULL);
	kt_resp_free(r);

	const char *bad[] = {"If-Match: W/\"2\"", "If-Match: abc", "If-Match: \"02\"",
	                     "If-Match: \"9999999999\""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *h[] = {bad[i], NULL};

		r = api("PATCH", A.admin.token, h, "{\"name\":\"Bad\"}", "/api/v1/divisions/%s", id);
		if (r->status != 412)
			fail_msg("%s on PATCH: %ld %s", bad[i], r->status, r->body);
		kt_resp_free(r);
		r = api("DELETE", A.admin.token, h, NULL, "/api/v1/divisions/%s", id);
		if (r->status != 412)
			fail_msg("%s on DELETE: %ld %s", bad[i], r->status, r->body);
		kt_resp_free(r);
	}
	assert_int_equal(div_version(&A, id), 2);
	assert_db_text(A.id, "SELECT name FROM org.divisions WHERE id = $1", id, NULL, "Matched");
	r = api("DELETE", A.admin.token, v2, NULL, "/api/v1/divisions/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 0);
	free(id);
	free(org);
}

/* ---- Idempotency-Key ---- */

/* The second response is a replay of the first: same status, body, Location and ETag. */
static void
assert_replay(const kt_resp *first, const kt_resp *again)
{
	char *loc1 = kt_header(first, "Location"), *loc2 = kt_header(again, "Location");
	char *etag1 = kt_header(first, "ETag"), *etag2 = kt_header(again, "ETag");

	assert_int_equal(again->status, first->status);
	assert_int_equal(again->len, first->len);
	assert_memory_equal(again->body, first->body, first->len);
	assert_non_null(loc1);
	assert_non_null(loc2);
	assert_string_equal(loc2, loc1);
	assert_non_null(etag2);
	assert_string_equal(etag2, etag1);
	kt_assert_header(again, "Idempotent-Replayed", "true");
	kt_assert_header(again, "Content-Type", "application/json");
	free(loc1);
	free(loc2);
	free(etag1);
	free(etag2);
}

static void
org_idempotency_key_replays_the_first_create(void **state)
{
	(void)state;
	char code[40], other[40], key[64];
	char *header = kt_strf("Idempotency-Key: org-%s", fresh_code(key, sizeof(key), "k"));
	const char *h[] = {header, NULL};
	char *body =
	    kt_strf("{\"name\":\"Once\",\"code\":\"%s\"}", fresh_code(code, sizeof(code), "I"));
	kt_resp *first = api("POST", A.admin.token, h, body, ORGS);

	kt_assert_status(first, 201);
	char *none = kt_header(first, "Idempotent-Replayed");

	assert_null(none);
	kt_resp *again = api("POST", A.admin.token, h, body, ORGS);

	assert_replay(first, again);
	kt_resp_free(again);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){code, NULL}),
	                 1);

	/* the same key with another body (or another route) is refused, and writes nothing */
	char *body2 =
	    kt_strf("{\"name\":\"Twice\",\"code\":\"%s\"}", fresh_code(other, sizeof(other), "I"));

	again = api("POST", A.admin.token, h, body2, ORGS);
	kt_assert_problem(again, 422, NULL, NULL);
	kt_resp_free(again);
	again = api("POST", A.admin.token, h, body2, ORGS "/%s/divisions", kt_jstr(first->json, "id"));
	kt_assert_problem(again, 422, NULL, NULL);
	kt_resp_free(again);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){other, NULL}),
	                 0);
	assert_int_equal(div_count(&A, kt_jstr(first->json, "id")), 0);

	/* another tenant's key space is its own */
	kt_resp *in_b = api("POST", B.admin.token, h, body, ORGS);

	kt_assert_status(in_b, 201);
	assert_null(kt_header(in_b, "Idempotent-Replayed"));
	assert_string_equal(kt_jstr(in_b->json, "tenant_id"), B.id);
	assert_string_not_equal(kt_jstr(in_b->json, "id"), kt_jstr(first->json, "id"));
	assert_int_equal(kt_pg_tenant_long(pg, B.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){code, NULL}),
	                 1);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE code = $1",
	                                   (const char *[]){code, NULL}),
	                 1);
	kt_resp_free(in_b);
	kt_resp_free(first);
	free(header);
	free(body);
	free(body2);
}

static void
div_idempotency_key_replays_the_first_create(void **state)
{
	(void)state;
	char code[40], key[64];
	char *org = org_new(A.admin.token);
	char *header = kt_strf("Idempotency-Key: div-%s", fresh_code(key, sizeof(key), "k"));
	const char *h[] = {header, NULL};
	char *body =
	    kt_strf("{\"name\":\"Once\",\"code\":\"%s\"}", fresh_code(code, sizeof(code), "I"));
	kt_resp *first = api("POST", A.admin.token, h, body, ORGS "/%s/divisions", org);

	kt_assert_status(first, 201);
	kt_resp *again = api("POST", A.admin.token, h, body, ORGS "/%s/divisions", org);

	assert_replay(first, again);
	kt_resp_free(again);
	assert_int_equal(div_count(&A, org), 1);
	again = api("POST", A.admin.token, h, "{\"name\":\"Other\",\"code\":\"Other\"}",
	            ORGS "/%s/divisions", org);
	kt_assert_problem(again, 422, NULL, NULL);
	kt_resp_free(again);
	assert_int_equal(div_count(&A, org), 1);

	char *org_b = org_new(B.admin.token);
	kt_resp *in_b = api("POST", B.admin.token, h, body, ORGS "/%s/divisions", org_b);

	kt_assert_status(in_b, 201);
	assert_null(kt_header(in_b, "Idempotent-Replayed"));
	assert_int_equal(div_count(&B, org_b), 1);
	assert_int_equal(div_count(&A, org), 1);
	kt_resp_free(in_b);
	kt_resp_free(first);
	free(org_b);
	free(header);
	free(body);
	free(org);
}

/* ---- pagination ---- */

/* The first column of res's rows as a JSON array of strings; res is cleared. */
static json_t *
first_column(PGresult *res)
{
	json_t *values = json_array();

	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(values, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return values;
}

/* Ids of tenant t's organizations in id order, as the database has them. */
static json_t *
db_org_ids(const kt_tenant *t)
{
	return first_column(
	    kt_pg_tenant_query(pg, t->id, "SELECT id FROM org.organizations ORDER BY id", NULL));
}

/* Walking the list with limit yields exactly want, in order; pages are full but the last. */
static void
assert_walk(const kt_tenant *t, int limit, const json_t *want)
{
	char *cursor = NULL;
	size_t at = 0;
	int pages = 0;

	do {
		kt_resp *r = cursor ? api("GET", t->owner.token, NULL, NULL, ORGS "?limit=%d&cursor=%s",
		                          limit, cursor)
		                    : api("GET", t->owner.token, NULL, NULL, ORGS "?limit=%d", limit);

		kt_assert_status(r, 200);
		json_t *data = json_object_get(r->json, "data");
		json_t *next = json_object_get(r->json, "next_cursor");
		size_t i;
		json_t *o;

		assert_non_null(next);
		json_array_foreach(data, i, o)
		{
			assert_true(at < json_array_size(want));
			assert_string_equal(kt_jstr(o, "id"), json_string_value(json_array_get(want, at)));
			assert_string_equal(kt_jstr(o, "tenant_id"), t->id);
			at++;
		}
		free(cursor);
		cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		if (cursor != NULL)
			assert_int_equal(json_array_size(data), limit);
		else
			assert_true(json_is_null(next));
		kt_resp_free(r);
		assert_true(++pages <= 400);
	} while (cursor != NULL);
	assert_int_equal(at, json_array_size(want));
}

static void
pagination_walks_every_row_once_in_order(void **state)
{
	(void)state;
	json_t *made = json_array();

	for (int i = 0; i < 300; i++) {
		char *id = org_new(P.owner.token);

		json_array_append_new(made, json_string(id));
		free(id);
	}
	json_t *ids = db_org_ids(&P);

	assert_int_equal(json_array_size(ids), 300);
	for (size_t i = 0; i < json_array_size(made); i++) {
		bool found = false;

		for (size_t j = 0; j < json_array_size(ids) && !found; j++)
			found = json_equal(json_array_get(made, i), json_array_get(ids, j));
		assert_true(found);
	}
	assert_walk(&P, 50, ids);
	assert_walk(&P, 7, ids);
	assert_walk(&P, 200, ids);
	json_decref(ids);
	json_decref(made);
}

static void
pagination_rejects_bad_limits_and_cursors(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	const char *bad[] = {"limit=0",
	                     "limit=201",
	                     "limit=-1",
	                     "limit=abc",
	                     "limit=",
	                     "limit=1.5",
	                     "limit=%092",
	                     "limit=%0A2",
	                     "limit=%202",
	                     "limit=+2",
	                     "limit=2%20",
	                     "limit=99999999999",
	                     "cursor=garbage!",
	                     "cursor=AAAA",
	                     "cursor=",
	                     "cursor=%ff%fe",
	                     "cursor=AQAAAAAAAAAAAAAAAAAAAAAAAAAA"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "?%s", bad[i]);

		if (r->status != 400)
			fail_msg("?%s: %ld %s", bad[i], r->status, r->body);
		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.viewer.token, NULL, NULL, ORGS "/%s/divisions?%s", org, bad[i]);
		if (r->status != 400)
			fail_msg("divisions ?%s: %ld %s", bad[i], r->status, r->body);
		kt_resp_free(r);
	}
	const char *good[] = {"limit=1", "limit=200"};

	for (size_t i = 0; i < 2; i++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "?%s", good[i]);

		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	free(org);
}

static void
a_cursor_of_another_tenant_shows_only_own_rows(void **state)
{
	(void)state;
	char *b1 = org_new(B.admin.token), *b2 = org_new(B.admin.token);
	char *a1 = org_new(A.admin.token), *a2 = org_new(A.admin.token);
	json_t *b_all = list_all(B.admin.token, ORGS, "", 200);

	/* a cursor from B's listing that stops right before b2 */
	int at = find_id(b_all, b2);

	assert_true(at >= 1);
	kt_resp *r = api("GET", B.admin.token, NULL, NULL, ORGS "?limit=%d", at);

	kt_assert_status(r, 200);
	const char *cursor = kt_jstr(r->json, "next_cursor");
	kt_resp *in_a = api("GET", A.admin.token, NULL, NULL, ORGS "?limit=200&cursor=%s", cursor);

	kt_assert_status(in_a, 200);
	json_t *data = json_object_get(in_a->json, "data");
	size_t i;
	json_t *o;

	json_array_foreach(data, i, o)
	{
		assert_string_equal(kt_jstr(o, "tenant_id"), A.id);
		assert_int_equal(find_id(b_all, kt_jstr(o, "id")), -1);
	}
	assert_true(find_id(data, a1) >= 0);
	assert_true(find_id(data, a2) >= 0);
	kt_resp_free(in_a);
	kt_resp_free(r);
	json_decref(b_all);
	free(a1);
	free(a2);
	free(b1);
	free(b2);
}

/* ---- filters ---- */

static char *
org_named(const char *token, const char *name, const char *code, const char *status)
{
	char *body = kt_strf("{\"name\":\"%s\",\"code\":\"%s\",\"status\":\"%s\"}", name, code, status);
	kt_resp *r = api("POST", token, NULL, body, ORGS);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

/* Lowercase s into a malloc'd copy (ASCII). */
static char *
lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *c = d; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return d;
}

/* Every item of list has name or code containing q, case-insensitively. */
static void
assert_all_match(const json_t *list, const char *q)
{
	char *lq = lower_dup(q);
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o)
	{
		char *n = lower_dup(kt_jstr(o, "name")), *c = lower_dup(kt_jstr(o, "code"));

		if (strstr(n, lq) == NULL && strstr(c, lq) == NULL)
			fail_msg("%s / %s does not contain %s", n, c, q);
		free(n);
		free(c);
	}
	free(lq);
}

static void
list_filters_by_status(void **state)
{
	(void)state;
	char c1[40], c2[40];
	char *active = org_named(A.admin.token, "Stat A", fresh_code(c1, sizeof(c1), "SA"), "active");
	char *archived =
	    org_named(A.admin.token, "Stat B", fresh_code(c2, sizeof(c2), "SB"), "archived");
	json_t *list = list_all(A.viewer.token, ORGS, "status=archived&", 200);
	size_t i;
	json_t *o;

	assert_true(find_id(list, archived) >= 0);
	assert_int_equal(find_id(list, active), -1);
	json_array_foreach(list, i, o)
	{
		assert_string_equal(kt_jstr(o, "status"), "archived");
	}
	assert_int_equal(json_array_size(list),
	                 kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.organizations WHERE status = $1",
	                                   (const char *[]){"archived", NULL}));
	json_decref(list);
	list = list_all(A.viewer.token, ORGS, "status=active&", 7);
	assert_true(find_id(list, active) >= 0);
	assert_int_equal(find_id(list, archived), -1);
	json_array_foreach(list, i, o)
	{
		assert_string_equal(kt_jstr(o, "status"), "active");
	}
	json_decref(list);

	const char *bad[] = {"status=deleted", "status=", "status=ACTIVE"};

	for (size_t k = 0; k < 3; k++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL, ORGS "?%s", bad[k]);

		kt_assert_problem(r, 400, NULL, NULL);
		kt_resp_free(r);
	}
	free(active);
	free(archived);
}

static void
list_q_is_a_case_insensitive_substring_of_name_or_code(void **state)
{
	(void)state;
	char c1[40], c2[40], c3[40], c4[40];
	char *hq = org_named(A.admin.token, "Headquarters", fresh_code(c1, sizeof(c1), "QA"), "active");
	char *by_code =
	    org_named(A.admin.token, "Depot", fresh_code(c2, sizeof(c2), "xHeAdx"), "archived");
	char *other = org_named(A.admin.token, "Branch", fresh_code(c3, sizeof(c3), "QB"), "active");
	char *mixed =
	    org_named(A.admin.token, "NORTH HEADland", fresh_code(c4, sizeof(c4), "QC"), "active");
	const char *queries[] = {"HEAD", "head", "hEaD"};

	for (size_t k = 0; k < 3; k++) {
		char *query = kt_strf("q=%s&", queries[k]);
		json_t *list = list_all(A.viewer.token, ORGS, query, 200);

		assert_true(find_id(list, hq) >= 0);
		assert_true(find_id(list, by_code) >= 0);
		assert_true(find_id(list, mixed) >= 0);
		assert_int_equal(find_id(list, other), -1);
		assert_all_match(list, "head");
		json_decref(list);
		free(query);
	}
	/* with status too */
	json_t *list = list_all(A.viewer.token, ORGS, "q=HEAD&status=archived&", 200);

	assert_true(find_id(list, by_code) >= 0);
	assert_int_equal(find_id(list, hq), -1);
	json_decref(list);
	/* the code alone */
	char *q = kt_strf("q=%s&", c3);

	list = list_all(A.viewer.token, ORGS, q, 200);
	assert_int_equal(json_array_size(list), 1);
	assert_true(find_id(list, other) >= 0);
	json_decref(list);
	free(q);
	free(hq);
	free(by_code);
	free(other);
	free(mixed);
}

static void
list_q_treats_like_wildcards_literally(void **state)
{
	(void)state;
	char c[4][40];
	char *pct = org_named(A.admin.token, "Growth 100% Club", fresh_code(c[0], 40, "W"), "active");
	char *digits =
	    org_named(A.admin.token, "Growth 1000 Club", fresh_code(c[1], 40, "W"), "active");
	char *under = org_named(A.admin.token, "snake_case Unit", fresh_code(c[2], 40, "W"), "active");
	char *notunder =
	    org_named(A.admin.token, "snakeXcase Unit", fresh_code(c[3], 40, "W"), "active");
	json_t *list = list_all(A.viewer.token, ORGS, "q=100%25&", 200);

	assert_true(find_id(list, pct) >= 0);
	assert_int_equal(find_id(list, digits), -1);
	assert_all_match(list, "100%");
	json_decref(list);
	list = list_all(A.viewer.token, ORGS, "q=e_c&", 200);
	assert_true(find_id(list, under) >= 0);
	assert_int_equal(find_id(list, notunder), -1);
	assert_all_match(list, "e_c");
	json_decref(list);
	list = list_all(A.viewer.token, ORGS, "q=%25&", 200);
	assert_true(find_id(list, pct) >= 0);
	assert_int_equal(find_id(list, digits), -1);
	json_decref(list);
	list = list_all(A.viewer.token, ORGS, "q=_&", 200);
	assert_true(find_id(list, under) >= 0);
	assert_int_equal(find_id(list, notunder), -1);
	json_decref(list);
	list = list_all(A.viewer.token, ORGS, "q=%5C&", 200); /* a backslash matches nothing here */
	assert_int_equal(find_id(list, pct), -1);
	json_decref(list);
	free(pct);
	free(digits);
	free(under);
	free(notunder);
}

/* ---- ?q= search: plans of the statements keel runs ---- */

/*
 * The search tenant S gets 8,000 organizations that match none of the
 * queries below, and three more tenants 3,000 each, all named
 * "Headquarters ...": every query of the search tests matches the
 * neighbours' names.  Filled once (under forced row-level security, as the
 * owner with each tenant set), then analyzed, so the planner chooses on real
 * statistics.
 */
static void
search_fill(void)
{
	static bool filled;

	if (filled)
		return;
	kt_pg_exec(pg,
	           "DO $$"
	           " DECLARE t uuid;"
	           " BEGIN"
	           "  FOR g IN 1..3 LOOP"
	           "   t := gen_random_uuid();"
	           "   PERFORM core.create_tenant(t, 'Search neighbour ' || g, 'org-search-n' || g);"
	           "   PERFORM set_config('app.tenant_id', t::text, true);"
	           "   INSERT INTO org.organizations (tenant_id, id, name, code)"
	           "    SELECT t, gen_random_uuid(), 'Headquarters ' || i, 'HQ' || i"
	           "    FROM generate_series(1, 3000) i;"
	           "  END LOOP;"
	           " END $$");
	kt_pg_set_tenant(pg, S.id);
	kt_pg_exec(pg, "INSERT INTO org.organizations (tenant_id, id, name, code)"
	               " SELECT core.current_tenant_id(), gen_random_uuid(), 'Unit ' || i, 'F' || i"
	               " FROM generate_series(1, 8000) i");
	kt_pg_exec(pg, "ANALYZE org.organizations");
	kt_pg_exec(pg, "ANALYZE org.organization_search");
	filled = true;
}

/* BEGIN on c, then app.tenant_id for this transaction only, as keel_tx_begin sets it. */
static void
tx_tenant(PGconn *c, const char *tenant_id)
{
	kt_pg_exec(c, "BEGIN");
	PGresult *r = PQexecParams(c, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
	                           (const char *[]){tenant_id}, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("set app.tenant_id: %s", PQerrorMessage(c));
	PQclear(r);
}

/* PQescapeLiteral(v), or NULL for NULL; malloc'd. */
static char *
sql_literal(PGconn *c, const char *v)
{
	if (v == NULL)
		return strdup("NULL");
	char *lit = PQescapeLiteral(c, v, strlen(v));
	char *copy = strdup(lit);

	PQfreemem(lit);
	return copy;
}

/* The plan tree (the "Plan" object) of one EXPLAIN (FORMAT JSON ...) on c. */
static json_t *
explain(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);

	PQclear(res);
	assert_non_null(doc);
	json_t *plan = json_incref(json_object_get(json_array_get(doc, 0), "Plan"));

	json_decref(doc);
	assert_non_null(plan);
	return plan;
}

/* What a plan does with the tables of the search. */
typedef struct plan_facts {
	int seq_scans;      /* Seq Scans of org.organizations or org.organization_search */
	int org_scans;      /* scans of org.organizations */
	int org_untenanted; /* ... and of its indexes without tenant_id in the index condition */
	int search_index;   /* scans of organization_search_tenant_id_text_idx on tenant and text */
	int calls_search;   /* nodes calling org.search_organizations() */
} plan_facts;

static bool
member_has(const json_t *node, const char *key, const char *text)
{
	const char *v = json_string_value(json_object_get(node, key));

	return v != NULL && strstr(v, text) != NULL;
}

static void
plan_read(const json_t *node, plan_facts *f)
{
	const char *type = kt_jstr(node, "Node Type");
	const char *rel = json_string_value(json_object_get(node, "Relation Name"));
	const char *index = json_string_value(json_object_get(node, "Index Name"));
	json_t *out = json_object_get(node, "Output"), *o, *child;
	size_t i;

	if (strcmp(type, "Seq Scan") == 0 && rel != NULL &&
	    (strcmp(rel, "organizations") == 0 || strcmp(rel, "organization_search") == 0))
		f->seq_scans++;
	if (rel != NULL && strcmp(rel, "organizations") == 0) {
		f->org_scans++;
		if (strcmp(type, "Bitmap Heap Scan") != 0 && !member_has(node, "Index Cond", "tenant_id"))
			f->org_untenanted++;
	}
	if (index != NULL && strncmp(index, "organizations_", 14) == 0 &&
	    !member_has(node, "Index Cond", "tenant_id"))
		f->org_untenanted++;
	if (index != NULL && strcmp(index, "organization_search_tenant_id_text_idx") == 0 &&
	    member_has(node, "Index Cond", "tenant_id") && member_has(node, "Index Cond", "~~"))
		f->search_index++;
	json_array_foreach(out, i, o)
	{
		if (strstr(json_string_value(o), "search_organizations(") != NULL)
			f->calls_search++;
	}
	json_array_foreach(json_object_get(node, "Plans"), i, child)
	{
		plan_read(child, f);
	}
}

/*
 * The plan of the list statement keel runs for (status, q), taken from the
 * org module itself and bound as it binds it: prepared with libpq without
 * parameter types (as src/db/tx.c does), executed as keel_app in a
 * transaction whose app.tenant_id is S (set_config(..., true), as
 * keel_tx_begin does), in plan_cache_mode mode.  *sql gets the statement text.
 */
static json_t *
list_plan(const char *status, const char *q, const char *mode, char **sql)
{
	keel_arena *a = keel_arena_create(0);
	org_list_call call;
	PGconn *app = kt_pg_app();

	org_store_list_call(a, status, q, NULL, 50, &call);
	*sql = strdup(call.st->sql);
	tx_tenant(app, S.id);
	char *set = kt_strf("SET LOCAL plan_cache_mode = %s", mode);

	kt_pg_exec(app, set);
	PGresult *res = PQprepare(app, call.st->name, call.st->sql, call.st->nparams, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("prepare %s: %s", call.st->name, PQerrorMessage(app));
	PQclear(res);
	char *lit[4];

	for (int i = 0; i < 4; i++)
		lit[i] = sql_literal(app, call.params[i]);
	char *ex = kt_strf("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE %s(%s, %s, %s, %s)", call.st->name,
	                   lit[0], lit[1], lit[2], lit[3]);
	json_t *plan = explain(app, ex);

	kt_pg_exec(app, "ROLLBACK");
	for (int i = 0; i < 4; i++)
		free(lit[i]);
	free(ex);
	free(set);
	PQfinish(app);
	keel_arena_destroy(a);
	return plan;
}

static plan_facts
facts_of(const json_t *plan)
{
	plan_facts f = {0};

	plan_read(plan, &f);
	return f;
}

/* text with every from replaced by to, malloc'd. */
static char *
replace_all(const char *text, const char *from, const char *to)
{
	kt_grow g = {calloc(1, 1), 0};
	const char *p = text, *hit;

	while ((hit = strstr(p, from)) != NULL) {
		kt_grow_add((char *)p, 1, (size_t)(hit - p), &g);
		kt_grow_add((char *)to, 1, strlen(to), &g);
		p = hit + strlen(from);
	}
	kt_grow_add((char *)p, 1, strlen(p), &g);
	return g.p;
}

/*
 * The plan of org.search_organizations()'s own statement for S, as
 * PostgreSQL runs it: as the function's owner (it is SECURITY DEFINER) with
 * its settings (proconfig), planned without parameter values (a SQL
 * function's statement is planned generically), its parameter bound to
 * lower(pattern) as keel's statement passes it.  The text comes from the
 * catalog, so it is the body the database has, not a copy.
 */
static json_t *
search_body_plan(const char *pattern)
{
	PGresult *fn = PQexec(pg, "SELECT prosrc, proargnames[1], prosecdef,"
	                          " pg_get_userbyid(proowner) FROM pg_proc"
	                          " WHERE oid = 'org.search_organizations(text)'::regprocedure");

	assert_int_equal(PQresultStatus(fn), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(fn, 0, 2), "t");
	assert_string_equal(PQgetvalue(fn, 0, 3), "keel_owner");
	char *body = replace_all(PQgetvalue(fn, 0, 0), PQgetvalue(fn, 0, 1), "$1");
	char *prepare = kt_strf("PREPARE search_body(text) AS %s", body);
	char *lit = sql_literal(pg, pattern);
	char *ex = kt_strf("EXPLAIN (FORMAT JSON) EXECUTE search_body(lower(%s))", lit);

	PQclear(fn);
	tx_tenant(pg, S.id);
	kt_pg_exec(pg, "SELECT set_config(split_part(c, '=', 1), substr(c, strpos(c, '=') + 1), true)"
	               " FROM pg_proc, unnest(proconfig) c"
	               " WHERE oid = 'org.search_organizations(text)'::regprocedure");
	kt_pg_exec(pg, "SET LOCAL plan_cache_mode = force_generic_plan");
	kt_pg_exec(pg, prepare);
	json_t *plan = explain(pg, ex);

	kt_pg_exec(pg, "ROLLBACK");
	kt_pg_exec(pg, "DEALLOCATE search_body");
	free(body);
	free(prepare);
	free(lit);
	free(ex);
	return plan;
}

static const char *const plan_modes[] = {"force_custom_plan", "force_generic_plan"};

/*
 * A q with a trigram goes through org.search_organizations(), whose
 * statement uses the GIN index (tenant_id, text) with both the tenant and
 * the pattern as index conditions, so it never fetches the neighbours'
 * matching rows; keel's statement itself reads org.organizations by its
 * tenant-leading keys, never by a Seq Scan.  For both statements (with and
 * without ?status=), custom and generic plans.
 */
static void
q_with_a_trigram_uses_the_tenant_trigram_index(void **state)
{
	(void)state;
	search_fill();
	const char *statuses[] = {NULL, "active"};
	const char *queries[] = {"HEAD", "quarters", "100%"};

	for (size_t s = 0; s < 2; s++) {
		for (size_t m = 0; m < 2; m++) {
			for (size_t k = 0; k < 3; k++) {
				char *sql;
				json_t *plan = list_plan(statuses[s], queries[k], plan_modes[m], &sql);
				plan_facts f = facts_of(plan);
				char *text = json_dumps(plan, JSON_INDENT(1));

				assert_non_null(strstr(sql, "org.search_organizations("));
				if (f.seq_scans != 0 || f.org_scans == 0 || f.org_untenanted != 0 ||
				    f.calls_search == 0)
					fail_msg("q=%s status=%s %s:\n%s\nplan:\n%s", queries[k],
					         statuses[s] ? statuses[s] : "-", plan_modes[m], sql, text);
				free(text);
				free(sql);
				json_decref(plan);
			}
		}
	}
	for (size_t k = 0; k < 3; k++) {
		keel_arena *a = keel_arena_create(0);
		org_list_call call;

		org_store_list_call(a, NULL, queries[k], NULL, 50, &call);
		json_t *plan = search_body_plan(call.params[3]);
		plan_facts f = facts_of(plan);
		char *text = json_dumps(plan, JSON_INDENT(1));

		if (f.seq_scans != 0 || f.search_index != 1)
			fail_msg("org.search_organizations(%s) does not use"
			         " organization_search_tenant_id_text_idx on tenant and text; plan:\n%s",
			         call.params[3], text);
		free(text);
		json_decref(plan);
		keel_arena_destroy(a);
	}
}

/*
 * A q without a trigram (fewer than three letters or digits in a row) would
 * make the trigram index read every tenant's entries: keel's statement
 * matches it on the tenant's own rows instead, through a tenant-leading
 * index of org.organizations, never a Seq Scan, and never calls the search
 * function.
 */
static void
q_without_a_trigram_reads_only_the_tenants_rows(void **state)
{
	(void)state;
	search_fill();
	const char *statuses[] = {NULL, "active"};
	const char *queries[] = {"h", "HE", "e_c", "%", "h-q"};

	for (size_t s = 0; s < 2; s++) {
		for (size_t m = 0; m < 2; m++) {
			for (size_t k = 0; k < 5; k++) {
				char *sql;
				json_t *plan = list_plan(statuses[s], queries[k], plan_modes[m], &sql);
				plan_facts f = facts_of(plan);
				char *text = json_dumps(plan, JSON_INDENT(1));

				assert_null(strstr(sql, "search_organizations"));
				if (f.seq_scans != 0 || f.org_scans == 0 || f.org_untenanted != 0 ||
				    f.calls_search != 0)
					fail_msg("q=%s status=%s %s:\n%s\nplan:\n%s", queries[k],
					         statuses[s] ? statuses[s] : "-", plan_modes[m], sql, text);
				free(text);
				free(sql);
				json_decref(plan);
			}
		}
	}
}

/* Ids (in id order) of S's organizations whose name or code contains q, case-insensitively. */
static json_t *
db_matches(const char *q, const char *status)
{
	PGresult *res = kt_pg_tenant_query(
	    pg, S.id,
	    "SELECT id FROM org.organizations"
	    " WHERE (strpos(lower(name), lower($1)) > 0 OR strpos(lower(code), lower($1)) > 0)"
	    " AND ($2 = '' OR status = $2) ORDER BY id",
	    (const char *[]){q, status != NULL ? status : "", NULL});

	return first_column(res);
}

/*
 * Through the API, short and long q find exactly S's organizations whose
 * name or code contains q (case-insensitively, % and _ literal), in id order
 * across pages, while the neighbours' many "Headquarters" never show: both
 * the statement with the search function and the one over the tenant's rows.
 */
static void
q_finds_exactly_the_tenants_matches_short_or_long(void **state)
{
	(void)state;
	search_fill();
	char c[7][40];

	free(org_named(S.owner.token, "Headquarters", fresh_code(c[0], 40, "Q"), "active"));
	free(org_named(S.owner.token, "Old Shed", fresh_code(c[1], 40, "Q"), "archived"));
	free(org_named(S.owner.token, "AHEAD Labs", fresh_code(c[2], 40, "Q"), "active"));
	free(org_named(S.owner.token, "Growth 100% Club", fresh_code(c[3], 40, "Q"), "active"));
	free(org_named(S.owner.token, "x_y Depot", fresh_code(c[4], 40, "Q"), "archived"));
	free(org_named(S.owner.token, "xzy Depot", fresh_code(c[5], 40, "Q"), "active"));
	free(org_named(S.owner.token, "Plain", fresh_code(c[6], 40, "hq_"), "active"));
	/* {q, as sent in the URL, at least this many matches} */
	const struct {
		const char *q, *url;
		size_t least;
	} cases[] = {
	    {"h", "h", 5},         {"H", "H", 5},           {"hE", "hE", 3},
	    {"HQ", "HQ", 1},       {"hEaD", "hEaD", 2},     {"QUARTERS", "QUARTERS", 1},
	    {"%", "%25", 1},       {"_", "_", 2},           {"x_y", "x_y", 1},
	    {"100%", "100%25", 1}, {"ead l", "ead%20l", 1}, {"zz", "zz", 0},
	};
	const char *statuses[] = {NULL, "archived"};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (size_t s = 0; s < 2; s++) {
			char *query = statuses[s] ? kt_strf("q=%s&status=%s&", cases[k].url, statuses[s])
			                          : kt_strf("q=%s&", cases[k].url);
			json_t *got = list_all(S.owner.token, ORGS, query, 2);
			json_t *want = db_matches(cases[k].q, statuses[s]);
			json_t *ids = json_array();
			size_t i;
			json_t *o;

			json_array_foreach(got, i, o)
			{
				assert_string_equal(kt_jstr(o, "tenant_id"), S.id);
				json_array_append_new(ids, json_string(kt_jstr(o, "id")));
			}
			if (statuses[s] == NULL && json_array_size(want) < cases[k].least)
				fail_msg("q=%s: %zu rows of S match, expected at least %zu", cases[k].q,
				         json_array_size(want), cases[k].least);
			if (!json_equal(ids, want))
				fail_msg("q=%s %s: got %zu rows, want %zu", cases[k].q, query, json_array_size(ids),
				         json_array_size(want));
			assert_all_match(got, cases[k].q);
			json_decref(ids);
			json_decref(want);
			json_decref(got);
			free(query);
		}
	}
}

/* ---- divisions ---- */

static void
check_div(const json_t *d, const char *tenant_id, const char *org_id, const char *parent,
          const char *name, const char *code, const char *description, long version)
{
	assert_true(kt_is_uuid_v7(kt_jstr(d, "id")));
	assert_string_equal(kt_jstr(d, "tenant_id"), tenant_id);
	assert_string_equal(kt_jstr(d, "organization_id"), org_id);
	if (parent == NULL)
		assert_true(json_is_null(json_object_get(d, "parent_id")));
	else
		assert_string_equal(kt_jstr(d, "parent_id"), parent);
	assert_string_equal(kt_jstr(d, "name"), name);
	assert_string_equal(kt_jstr(d, "code"), code);
	assert_string_equal(kt_jstr(d, "description"), description);
	assert_true(json_is_integer(json_object_get(d, "version")));
	assert_int_equal(json_integer_value(json_object_get(d, "version")), version);
	assert_true(kt_is_rfc3339_ms(kt_jstr(d, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(d, "updated_at")));
	assert_int_equal(json_object_size(d), 10);
}

static void
check_div_row(const kt_tenant *t, const json_t *d)
{
	PGresult *res = kt_pg_tenant_query(
	    pg, t->id,
	    "SELECT tenant_id, organization_id, parent_id, name, code, description, version,"
	    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	    " FROM org.divisions WHERE id = $1",
	    (const char *[]){kt_jstr(d, "id"), NULL});

	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), t->id);
	assert_string_equal(PQgetvalue(res, 0, 1), kt_jstr(d, "organization_id"));
	if (json_is_null(json_object_get(d, "parent_id")))
		assert_true(PQgetisnull(res, 0, 2));
	else
		assert_string_equal(PQgetvalue(res, 0, 2), kt_jstr(d, "parent_id"));
	assert_string_equal(PQgetvalue(res, 0, 3), kt_jstr(d, "name"));
	assert_string_equal(PQgetvalue(res, 0, 4), kt_jstr(d, "code"));
	assert_string_equal(PQgetvalue(res, 0, 5), kt_jstr(d, "description"));
	assert_int_equal(atol(PQgetvalue(res, 0, 6)),
	                 json_integer_value(json_object_get(d, "version")));
	assert_string_equal(PQgetvalue(res, 0, 7), kt_jstr(d, "created_at"));
	assert_string_equal(PQgetvalue(res, 0, 8), kt_jstr(d, "updated_at"));
	PQclear(res);
}

static void
div_create_returns_201_with_and_without_parent(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char code[40], code2[40];
	char *body =
	    kt_strf("{\"name\":\" Sales  \",\"code\":\"%s\"}", fresh_code(code, sizeof(code), "S"));
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS "/%s/divisions", org);

	kt_assert_status(r, 201);
	kt_assert_header(r, "ETag", "\"1\"");
	kt_assert_header(r, "Content-Type", "application/json");
	check_div(r->json, A.id, org, NULL, "Sales", code, "", 1);
	char *location = kt_strf("/api/v1/divisions/%s", kt_jstr(r->json, "id"));

	kt_assert_header(r, "Location", location);
	check_div_row(&A, r->json);
	char *root = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	free(location);

	body = kt_strf(
	    "{\"name\":\"EMEA\",\"code\":\"%s\",\"description\":\"Europe\",\"parent_id\":\"%s\"}",
	    fresh_code(code2, sizeof(code2), "S"), root);
	r = api("POST", A.owner.token, NULL, body, ORGS "/%s/divisions", org);
	kt_assert_status(r, 201);
	check_div(r->json, A.id, org, root, "EMEA", code2, "Europe", 1);
	check_div_row(&A, r->json);
	kt_resp_free(r);
	free(body);

	body = kt_strf("{\"name\":\"Null parent\",\"code\":\"%s\",\"parent_id\":null}",
	               fresh_code(code2, sizeof(code2), "S"));
	r = api("POST", A.owner.token, NULL, body, ORGS "/%s/divisions", org);
	kt_assert_status(r, 201);
	check_div(r->json, A.id, org, NULL, "Null parent", code2, "", 1);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 3);
	free(body);
	free(root);
	free(org);
}

static void
div_get_patch_delete(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *parent = div_new(A.admin.token, org, NULL);
	char *id = div_new(A.admin.token, org, NULL);
	kt_resp *c = api("GET", A.viewer.token, NULL, NULL, "/api/v1/divisions/%s", id);

	kt_assert_status(c, 200);
	kt_assert_header(c, "ETag", "\"1\"");
	check_div(c->json, A.id, org, NULL, kt_jstr(c->json, "name"), kt_jstr(c->json, "code"), "", 1);
	check_div_row(&A, c->json);

	char code[40];
	char *body = kt_strf("{\"name\":\" Moved \",\"code\":\"%s\",\"description\":\"x\","
	                     "\"parent_id\":\"%s\"}",
	                     fresh_code(code, sizeof(code), "M"), parent);
	kt_resp *r = api("PATCH", A.admin.token, NULL, body, "/api/v1/divisions/%s", id);

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	check_div(r->json, A.id, org, parent, "Moved", code, "x", 2);
	assert_string_equal(kt_jstr(r->json, "created_at"), kt_jstr(c->json, "created_at"));
	check_div_row(&A, r->json);
	kt_resp_free(r);

	/* a partial change keeps the parent */
	r = api("PATCH", A.admin.token, NULL, "{\"description\":\"y\"}", "/api/v1/divisions/%s", id);
	kt_assert_status(r, 200);
	check_div(r->json, A.id, org, parent, "Moved", code, "y", 3);
	kt_resp_free(r);

	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", id);
	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 1);
	r = api("GET", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", id);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	kt_resp_free(c);
	free(body);
	free(id);
	free(parent);
	free(org);
}

static long
count_divs(const char *org)
{
	return div_count(&A, org);
}

static void
div_create_and_patch_reject_invalid_fields(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *existing = div_new(A.admin.token, org, NULL);
	char *path = kt_strf(ORGS "/%s/divisions", org);
	char *long_name = kt_repeat("n", 201), *long_desc = kt_repeat("d", 2001);
	char *b_name = kt_strf("{\"name\":\"%s\",\"code\":\"%%s\"}", long_name);
	char *b_desc = kt_strf("{\"name\":\"n\",\"code\":\"%%s\",\"description\":\"%s\"}", long_desc);
	const bad_case create[] = {
	    {"{\"name\":\"\",\"code\":\"%s\"}", 422, "name"},
	    {"{\"name\":\"   \",\"code\":\"%s\"}", 422, "name"},
	    {b_name, 422, "name"},
	    {"{\"name\":[],\"code\":\"%s\"}", 422, "name"},
	    {"{\"code\":\"%s\"}", 422, "name"},
	    {"{\"name\":\"n\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"-x\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"x y\"}", 422, "code"},
	    {"{\"name\":\"n\",\"code\":\"abcdefghij0123456789ABCDEFGHIJKLM\"}", 422, "code"},
	    {b_desc, 422, "description"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"parent_id\":\"not-a-uuid\"}", 422, "parent_id"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"parent_id\":5}", 422, "parent_id"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"status\":\"active\"}", 422, "status"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"settings\":{}}", 422, "settings"},
	    {"{\"name\":\"n\",\"code\":\"%s\",\"organization_id\":\"01a21de4-0878-7604-aa9f-"
	     "5a92f376dee3\"}",
	     422, "organization_id"},
	    {"{\"name\":\"\xfe\",\"code\":\"%s\"}", 400, NULL},
	    {"{\"name\":\"n\",\"code\":", 400, NULL},
	    {"[]", 400, NULL},
	};

	expect_all_rejected("POST", path, create, sizeof(create) / sizeof(create[0]), count_divs, org);
	const char *plain = "{\"name\":\"n\",\"code\":\"tp\"}";
	kt_resp *r = send_raw("POST", A.admin.token, "text/plain", NULL, plain, strlen(plain), path);

	kt_assert_problem(r, 415, NULL, NULL);
	kt_resp_free(r);

	char *one = kt_strf("/api/v1/divisions/%s", existing);
	const bad_case patch[] = {
	    {"{}", 422, NULL},
	    {"{\"name\":\"\"}", 422, "name"},
	    {"{\"name\":\"  \"}", 422, "name"},
	    {"{\"code\":\"a b\"}", 422, "code"},
	    {"{\"parent_id\":\"nope\"}", 422, "parent_id"},
	    {"{\"organization_id\":\"01a21de4-0878-7604-aa9f-5a92f376dee3\"}", 422, "organization_id"},
	    {"{\"name\":\"\xff\"}", 400, NULL},
	};

	expect_all_rejected("PATCH", one, patch, sizeof(patch) / sizeof(patch[0]), count_divs, org);
	r = send_raw("PATCH", A.admin.token, "text/plain", NULL, "{\"name\":\"n\"}",
	             strlen("{\"name\":\"n\"}"), one);
	kt_assert_problem(r, 415, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(div_version(&A, existing), 1);
	assert_int_equal(div_count(&A, org), 1);
	free(one);
	free(b_name);
	free(b_desc);
	free(long_name);
	free(long_desc);
	free(path);
	free(existing);
	free(org);
}

static void
div_code_is_unique_within_its_organization_only(void **state)
{
	(void)state;
	char *org1 = org_new(A.admin.token), *org2 = org_new(A.admin.token);
	char code[40];
	char *d1 = kt_div_make(&cl, A.admin.token, org1, NULL, fresh_code(code, sizeof(code), "U"));
	char *body = kt_strf("{\"name\":\"Again\",\"code\":\"%s\"}", code);
	kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS "/%s/divisions", org1);

	kt_assert_problem(r, 409, NULL, "code");
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org1), 1);

	/* the same code in another organization is fine */
	char *d2 = kt_div_make(&cl, A.admin.token, org2, NULL, code);
	char *d3 = div_new(A.admin.token, org1, NULL);

	/* taking it by PATCH within org1 is a conflict, and changes nothing */
	char *patch = kt_strf("{\"code\":\"%s\"}", code);

	r = api("PATCH", A.admin.token, NULL, patch, "/api/v1/divisions/%s", d3);
	kt_assert_problem(r, 409, NULL, "code");
	kt_resp_free(r);
	assert_int_equal(div_version(&A, d3), 1);
	assert_int_equal(
	    kt_pg_tenant_long(pg, A.id,
	                      "SELECT count(*) FROM org.divisions WHERE organization_id = $1"
	                      " AND code = $2",
	                      (const char *[]){org1, code, NULL}),
	    1);
	free(patch);
	free(body);
	free(d1);
	free(d2);
	free(d3);
	free(org1);
	free(org2);
}

static void
div_parent_must_be_in_the_same_organization(void **state)
{
	(void)state;
	char *org1 = org_new(A.admin.token), *org2 = org_new(A.admin.token),
	     *org_b = org_new(B.admin.token);
	char *d1 = div_new(A.admin.token, org1, NULL);
	char *d2 = div_new(A.admin.token, org2, NULL);
	char *db_ = div_new(B.admin.token, org_b, NULL);
	const char *missing = "01a21de4-0000-7000-8000-000000000000";
	const char *parents[] = {d2, missing, db_};

	for (size_t i = 0; i < 3; i++) {
		char code[40];
		char *body = kt_strf("{\"name\":\"n\",\"code\":\"%s\",\"parent_id\":\"%s\"}",
		                     fresh_code(code, sizeof(code), "X"), parents[i]);
		kt_resp *r = api("POST", A.admin.token, NULL, body, ORGS "/%s/divisions", org1);

		kt_assert_problem(r, 422, NULL, "parent_id");
		kt_resp_free(r);
		free(body);
		body = kt_strf("{\"parent_id\":\"%s\"}", parents[i]);
		r = api("PATCH", A.admin.token, NULL, body, "/api/v1/divisions/%s", d1);
		kt_assert_problem(r, 422, NULL, "parent_id");
		kt_resp_free(r);
		free(body);
	}
	assert_int_equal(div_count(&A, org1), 1);
	assert_int_equal(div_version(&A, d1), 1);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", d1, NULL, NULL);
	assert_int_equal(div_version(&B, db_), 1);
	free(d1);
	free(d2);
	free(db_);
	free(org1);
	free(org2);
	free(org_b);
}

static void
div_list_filters_by_parent(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token), *other = org_new(A.admin.token);
	char *r1 = div_new(A.admin.token, org, NULL);
	char *c1 = div_new(A.admin.token, org, r1);
	char *c2 = div_new(A.admin.token, org, r1);
	char *g1 = div_new(A.admin.token, org, c1);
	char *r2 = div_new(A.admin.token, org, NULL);
	char *elsewhere = div_new(A.admin.token, other, NULL);
	char *path = kt_strf(ORGS "/%s/divisions", org);
	char *q = kt_strf("parent_id=%s&", r1);
	json_t *list = list_all(A.viewer.token, path, q, 200);

	assert_int_equal(json_array_size(list), 2);
	assert_true(find_id(list, c1) >= 0 && find_id(list, c2) > find_id(list, c1));
	json_decref(list);
	list = list_all(A.viewer.token, path, "parent_id=null&", 200);
	assert_int_equal(json_array_size(list), 2);
	assert_true(find_id(list, r1) >= 0 && find_id(list, r2) > find_id(list, r1));
	json_decref(list);
	list = list_all(A.viewer.token, path, "", 2); /* pages of 2: r1 c1 | c2 g1 | r2 */
	assert_int_equal(json_array_size(list), 5);
	const char *order[] = {r1, c1, c2, g1, r2};

	for (size_t i = 0; i < 5; i++)
		assert_string_equal(kt_jstr(json_array_get(list, i), "id"), order[i]);
	assert_int_equal(find_id(list, elsewhere), -1);
	check_div(json_array_get(list, 3), A.id, org, c1, kt_jstr(json_array_get(list, 3), "name"),
	          kt_jstr(json_array_get(list, 3), "code"), "", 1);
	json_decref(list);
	free(q);
	q = kt_strf("parent_id=%s&", g1);
	list = list_all(A.viewer.token, path, q, 200);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	const char *bad[] = {"parent_id=abc", "parent_id=", "parent_id=NULL1"};

	for (size_t i = 0; i < 3; i++) {
		kt_resp *r = api("GET", A.viewer.token, NULL, NULL, "%s?%s", path, bad[i]);

		if (r->status != 400)
			fail_msg("?%s: %ld %s", bad[i], r->status, r->body);
		kt_resp_free(r);
	}
	free(q);
	free(path);
	free(r1);
	free(c1);
	free(c2);
	free(g1);
	free(r2);
	free(elsewhere);
	free(org);
	free(other);
}

static void
div_moves_that_make_a_cycle_are_refused(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *a = div_new(A.admin.token, org, NULL);
	char *b = div_new(A.admin.token, org, a);
	char *c = div_new(A.admin.token, org, b);
	struct {
		const char *who, *parent;
	} moves[] = {{a, a}, {a, c}, {a, b}, {b, c}, {b, b}};

	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		char *body = kt_strf("{\"parent_id\":\"%s\"}", moves[i].parent);
		kt_resp *r = api("PATCH", A.admin.token, NULL, body, "/api/v1/divisions/%s", moves[i].who);

		kt_assert_problem(r, 422, NULL, "parent_id");
		kt_resp_free(r);
		free(body);
	}
	/* nothing changed */
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", a, NULL, NULL);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", b, NULL, a);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", c, NULL, b);
	assert_int_equal(div_version(&A, a), 1);
	assert_int_equal(div_version(&A, b), 1);
	assert_int_equal(div_version(&A, c), 1);

	/* c to the root, then a under c is no cycle */
	kt_resp *r =
	    api("PATCH", A.admin.token, NULL, "{\"parent_id\":null}", "/api/v1/divisions/%s", c);

	kt_assert_status(r, 200);
	assert_true(json_is_null(json_object_get(r->json, "parent_id")));
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	kt_resp_free(r);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", c, NULL, NULL);
	char *body = kt_strf("{\"parent_id\":\"%s\"}", c);

	r = api("PATCH", A.admin.token, NULL, body, "/api/v1/divisions/%s", a);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", a, NULL, c);
	free(body);
	free(a);
	free(b);
	free(c);
	free(org);
}

/* Divisions of org that are their own ancestor (0 when the tree is sound). */
static long
cycles_in(const char *org)
{
	return kt_pg_tenant_long(pg, A.id,
	                         "WITH RECURSIVE up (start, id, depth) AS ("
	                         " SELECT d.id, d.parent_id, 1 FROM org.divisions d"
	                         "  WHERE d.organization_id = $1 AND d.parent_id IS NOT NULL"
	                         " UNION ALL"
	                         " SELECT up.start, d.parent_id, up.depth + 1 FROM up"
	                         "  JOIN org.divisions d ON d.id = up.id"
	                         "  WHERE d.parent_id IS NOT NULL AND up.depth < 64)"
	                         " SELECT count(DISTINCT start) FROM up WHERE id = start",
	                         (const char *[]){org, NULL});
}

/* PATCH /api/v1/divisions/<id> moving it under parent to k, started on a thread of its own. */
static void
move_start(const kt_keel *k, kt_async *m, const char *id, const char *parent)
{
	char *body = kt_strf("{\"parent_id\":\"%s\"}", parent);

	*m = (kt_async){.base = k->base, .method = "PATCH", .token = A.admin.token, .body = body};
	snprintf(m->path, sizeof(m->path), "/api/v1/divisions/%s", id);
	kt_async_start(m);
}

/*
 * Two opposite moves at once, forced into one order: first under second, and second under
 * first, which together would make a cycle.  A session of the test holds the row locks of
 * both divisions; the first move takes the organization's tree lock and waits for its row,
 * the second then waits too (for the tree lock, or for its row were there no tree lock);
 * when the test lets go, both are under way together.  Exactly the first may win: the second
 * would close a cycle and is 422, and nothing of it is written.
 */
static void
opposite_moves(const kt_keel *k, const char *org, const char *first, const char *second)
{
	PGconn *c = kt_pg_owner();
	kt_async m1, m2;

	kt_pg_exec(c, "BEGIN");
	PGresult *locked =
	    kt_pg_tenant_query(c, A.id, "SELECT id FROM org.divisions WHERE id IN ($1, $2) FOR UPDATE",
	                       (const char *[]){first, second, NULL});

	assert_int_equal(PQntuples(locked), 2);
	PQclear(locked);
	move_start(k, &m1, first, second);
	kt_wait_lock_waiters(c, 1);
	move_start(k, &m2, second, first);
	kt_wait_lock_waiters(c, 2);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	kt_resp *r1 = kt_async_finish(&m1), *r2 = kt_async_finish(&m2);

	kt_assert_status(r1, 200);
	assert_string_equal(kt_jstr(r1->json, "parent_id"), second);
	kt_assert_problem(r2, 422, NULL, "parent_id");
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", first, NULL, second);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", second, NULL, NULL);
	assert_int_equal(div_version(&A, first), 2);
	assert_int_equal(div_version(&A, second), 1);
	assert_int_equal(cycles_in(org), 0);
	kt_resp_free(r1);
	kt_resp_free(r2);
	free((char *)m1.body);
	free((char *)m2.body);
}

static void
div_concurrent_opposite_moves_never_make_a_cycle(void **state)
{
	(void)state;
	/* a keel of its own whose statements wait for the test's locks as long as it takes */
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_DB_STATEMENT_TIMEOUT=0s", NULL};
	kt_keel *k = kt_keel_start(env, NULL);
	char *org = org_new(A.admin.token);

	/* the older division (the lower id) moving first, then the newer one */
	for (int round = 0; round < 2; round++) {
		char *a = div_new(A.admin.token, org, NULL), *b = div_new(A.admin.token, org, NULL);

		opposite_moves(k, org, round == 0 ? a : b, round == 0 ? b : a);
		free(a);
		free(b);
	}
	free(org);
	assert_int_equal(kt_keel_stop(k), 0);
}

static void
div_delete_with_children_is_409_unless_cascade(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token);
	char *root = div_new(A.admin.token, org, NULL);
	char *c1 = div_new(A.admin.token, org, root);
	char *c2 = div_new(A.admin.token, org, root);
	char *g1 = div_new(A.admin.token, org, c1);
	char *sibling = div_new(A.admin.token, org, NULL);
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", root);

	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s?cascade=false", c1);
	kt_assert_problem(r, 409, NULL, NULL);
	kt_resp_free(r);
	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s?cascade=yes", root);
	kt_assert_problem(r, 400, NULL, NULL);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 5);

	/* a leaf goes without cascade */
	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", c2);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 4);

	r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s?cascade=true", root);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 1);
	assert_int_equal(kt_pg_tenant_long(pg, A.id, "SELECT count(*) FROM org.divisions WHERE id = $1",
	                                   (const char *[]){sibling, NULL}),
	                 1);
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM org.divisions WHERE id IN ($1, $2)",
	                                   (const char *[]){c1, g1, NULL}),
	                 0);
	free(root);
	free(c1);
	free(c2);
	free(g1);
	free(sibling);
	free(org);
}

static void
org_delete_removes_its_divisions(void **state)
{
	(void)state;
	char *org = org_new(A.admin.token), *keep = org_new(A.admin.token);
	char *r1 = div_new(A.admin.token, org, NULL);
	char *c1 = div_new(A.admin.token, org, r1);
	char *g1 = div_new(A.admin.token, org, c1);
	char *kept = div_new(A.admin.token, keep, NULL);

	assert_int_equal(div_count(&A, org), 3);
	kt_resp *r = api("DELETE", A.admin.token, NULL, NULL, ORGS "/%s", org);

	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_int_equal(div_count(&A, org), 0);
	assert_int_equal(div_count(&A, keep), 1);
	r = api("GET", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", g1);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/divisions", org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	r = api("POST", A.admin.token, NULL, "{\"name\":\"n\",\"code\":\"Late\"}", ORGS "/%s/divisions",
	        org);
	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
	free(r1);
	free(c1);
	free(g1);
	free(kept);
	free(keep);
	free(org);
}

/* ---- isolation ---- */

static void
another_tenants_ids_are_404_everywhere(void **state)
{
	(void)state;
	char code[40];
	char *org = kt_org_make(&cl, A.admin.token, fresh_code(code, sizeof(code), "Iso"));
	char *div = div_new(A.admin.token, org, NULL);
	char *child = div_new(A.admin.token, org, div);
	char *org_b = org_new(B.admin.token);
	char *div_b = div_new(B.admin.token, org_b, NULL);
	char *reparent = kt_strf("{\"parent_id\":\"%s\"}", div_b);
	const char *v1[] = {"If-Match: \"1\"", NULL};
	struct {
		const char *method;
		char *path;
		const char *body;
		const char *const *h;
	} routes[] = {
	    {"GET", kt_strf(ORGS "/%s", org), NULL, NULL},
	    {"PATCH", kt_strf(ORGS "/%s", org), "{\"name\":\"Taken\"}", NULL},
	    {"PATCH", kt_strf(ORGS "/%s", org), "{\"name\":\"Taken\"}", v1},
	    {"DELETE", kt_strf(ORGS "/%s", org), NULL, NULL},
	    {"DELETE", kt_strf(ORGS "/%s", org), NULL, v1},
	    {"POST", kt_strf(ORGS "/%s/divisions", org), "{\"name\":\"n\",\"code\":\"Intruder\"}",
	     NULL},
	    {"GET", kt_strf(ORGS "/%s/divisions", org), NULL, NULL},
	    {"GET", kt_strf(ORGS "/%s/divisions?parent_id=null", org), NULL, NULL},
	    {"GET", kt_strf("/api/v1/divisions/%s", div), NULL, NULL},
	    {"PATCH", kt_strf("/api/v1/divisions/%s", div), "{\"name\":\"Taken\"}", NULL},
	    {"PATCH", kt_strf("/api/v1/divisions/%s", div), "{\"name\":\"Taken\"}", v1},
	    {"PATCH", kt_strf("/api/v1/divisions/%s", child), reparent, NULL},
	    {"DELETE", kt_strf("/api/v1/divisions/%s", child), NULL, NULL},
	    {"DELETE", kt_strf("/api/v1/divisions/%s?cascade=true", div), NULL, NULL},
	    {"DELETE", kt_strf("/api/v1/divisions/%s", div), NULL, v1},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		kt_resp *r =
		    api(routes[i].method, B.admin.token, routes[i].h, routes[i].body, "%s", routes[i].path);

		if (r->status != 404)
			fail_msg("%s %s as tenant B: %ld %s", routes[i].method, routes[i].path, r->status,
			         r->body);
		kt_assert_problem(r, 404, NULL, NULL);
		assert_null(strstr(r->body, A.id));
		kt_resp_free(r);
		free(routes[i].path);
	}
	/* B's list shows none of A's rows */
	json_t *list = list_all(B.admin.token, ORGS, "", 200);

	assert_int_equal(find_id(list, org), -1);
	json_decref(list);

	/* A's rows are as they were */
	char *name = kt_strf("Org %s", code);

	assert_int_equal(org_version(&A, org), 1);
	assert_db_text(A.id, "SELECT name FROM org.organizations WHERE id = $1", org, NULL, name);
	assert_int_equal(div_version(&A, div), 1);
	assert_int_equal(div_version(&A, child), 1);
	assert_db_text(A.id, "SELECT parent_id FROM org.divisions WHERE id = $1", child, NULL, div);
	assert_int_equal(div_count(&A, org), 2);
	assert_int_equal(kt_pg_tenant_long(pg, B.id,
	                                   "SELECT count(*) FROM org.divisions WHERE code = 'Intruder'",
	                                   NULL),
	                 0);
	assert_int_equal(div_count(&B, org_b), 1);
	free(name);
	free(reparent);
	free(div_b);
	free(org_b);
	free(child);
	free(div);
	free(org);
}

static void
path_ids_that_are_not_uuids_are_404(void **state)
{
	(void)state;
	const char *ids[] = {"not-a-uuid", "123", "01a21de4-0878-7604-aa9f-5a92f376dee",
	                     "01a21de4-0878-7604-aa9f-5a92f376dee3x",
	                     "zza21de4-0878-7604-aa9f-5a92f376dee3"};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const char *id = ids[i];
		kt_resp *r;

		r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", A.admin.token, NULL, "{\"name\":\"n\"}", ORGS "/%s", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", A.admin.token, NULL, NULL, ORGS "/%s", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, ORGS "/%s/divisions", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("POST", A.admin.token, NULL, "{\"name\":\"n\",\"code\":\"c\"}",
		        ORGS "/%s/divisions", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("GET", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("PATCH", A.admin.token, NULL, "{\"name\":\"n\"}", "/api/v1/divisions/%s", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
		r = api("DELETE", A.admin.token, NULL, NULL, "/api/v1/divisions/%s", id);
		kt_assert_problem(r, 404, NULL, NULL);
		kt_resp_free(r);
	}
	/* a well-formed id of no row is 404 as well */
	kt_resp *r =
	    api("GET", A.admin.token, NULL, NULL, ORGS "/01a21de4-0000-7000-8000-000000000001");

	kt_assert_problem(r, 404, NULL, NULL);
	kt_resp_free(r);
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
	    cmocka_unit_test(org_create_returns_201_with_defaults),
	    cmocka_unit_test(org_create_stores_every_given_field),
	    cmocka_unit_test(org_get_returns_the_organization),
	    cmocka_unit_test(org_patch_changes_fields_and_bumps_version),
	    cmocka_unit_test(org_delete_removes_the_row),
	    cmocka_unit_test(org_list_returns_full_items_in_id_order),
	    cmocka_unit_test(org_create_rejects_invalid_fields),
	    cmocka_unit_test(org_create_rejects_other_media_types),
	    cmocka_unit_test(org_create_accepts_boundary_lengths),
	    cmocka_unit_test(org_patch_rejects_invalid_fields),
	    cmocka_unit_test(org_duplicate_code_is_409_per_tenant),
	    cmocka_unit_test(viewer_and_member_may_read_but_not_write),
	    cmocka_unit_test(admin_and_owner_may_do_everything),
	    cmocka_unit_test(every_route_needs_a_token),
	    cmocka_unit_test(org_if_match_guards_patch_and_delete),
	    cmocka_unit_test(div_if_match_guards_patch_and_delete),
	    cmocka_unit_test(org_idempotency_key_replays_the_first_create),
	    cmocka_unit_test(div_idempotency_key_replays_the_first_create),
	    cmocka_unit_test(pagination_walks_every_row_once_in_order),
	    cmocka_unit_test(pagination_rejects_bad_limits_and_cursors),
	    cmocka_unit_test(a_cursor_of_another_tenant_shows_only_own_rows),
	    cmocka_unit_test(list_filters_by_status),
	    cmocka_unit_test(list_q_is_a_case_insensitive_substring_of_name_or_code),
	    cmocka_unit_test(list_q_treats_like_wildcards_literally),
	    cmocka_unit_test(q_with_a_trigram_uses_the_tenant_trigram_index),
	    cmocka_unit_test(q_without_a_trigram_reads_only_the_tenants_rows),
	    cmocka_unit_test(q_finds_exactly_the_tenants_matches_short_or_long),
	    cmocka_unit_test(div_create_returns_201_with_and_without_parent),
	    cmocka_unit_test(div_get_patch_delete),
	    cmocka_unit_test(div_create_and_patch_reject_invalid_fields),
	    cmocka_unit_test(div_code_is_unique_within_its_organization_only),
	    cmocka_unit_test(div_parent_must_be_in_the_same_organization),
	    cmocka_unit_test(div_list_filters_by_parent),
	    cmocka_unit_test(div_moves_that_make_a_cycle_are_refused),
	    cmocka_unit_test(div_concurrent_opposite_moves_never_make_a_cycle),
	    cmocka_unit_test(div_delete_with_children_is_409_unless_cascade),
	    cmocka_unit_test(org_delete_removes_its_divisions),
	    cmocka_unit_test(another_tenants_ids_are_404_everywhere),
	    cmocka_unit_test(path_ids_that_are_not_uuids_are_404),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("org", tests, setup, teardown);
}
