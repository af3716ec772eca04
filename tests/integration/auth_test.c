/*
 * The auth service end to end, through the real keel binary and a database of
 * its own: tenant sign-up, sign-in (tenant by slug, id or header; no account
 * enumeration; throttling per account and per client address), refresh-token
 * rotation and reuse detection, sign-out, password change, disabled users,
 * /auth/me, users (create, list, get, update, delete) with the role matrix and
 * the last-owner rule, tenant isolation, the caller's tenant, attacks on the
 * access-token check, the JWKS, and secrets kept out of responses, the log and
 * the security events.
 *
 * One keel serves the main group (started by the group setup); a test that
 * needs another configuration (sign-up closed, a log of its own) starts its
 * own against the same database.  Every test builds its own tenants.  The
 * address throttle counts failed sign-ins per client address across tenants
 * (20 a minute), so every test that fails a sign-in on purpose does it from a
 * loopback address of its own (kt_request_from): tests cannot throttle each
 * other whatever their order.  Tokens are forged with the run's HS256 key
 * (KEEL_JWT_SECRET_FILE) and OpenSSL.  Every response body is checked for
 * password hashes on the way in (req_from).
 *
 * The password hashing work a request cost is read from keel's /metrics
 * (hashes and verifications counted, never timed): a wrong current password
 * at a password change, throttled like a failed sign-in (one account limit),
 * is shown to be refused before any hash; and a keel of its own with other
 * hashing parameters shows that every failed sign-in still costs a
 * verification at the current ones.
 *
 * Races are forced, not hoped for: the test holds a row lock as keel_owner, so
 * keel's transaction waits at a known point (seen in pg_locks), changes the row
 * meanwhile and commits.  That covers a sign-in across a password change or a
 * disabling, a refresh across a password change and a delete across a
 * promotion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"
#include "prom.h"
#include "kt_wait.h"

#define PASSWORD     "correct horse battery staple"
#define NEW_PASSWORD "another long passphrase 2"
#define WRONG        "wrong password entirely"
#define UA           "kt-auth-test/1"

/* "é" (two bytes in UTF-8) eleven and twelve times: a password is counted in characters. */
#define E_ACUTE_11                                                                                 \
	"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E_ACUTE_12 E_ACUTE_11 "\xc3\xa9"

/* Client addresses of the tests that fail sign-ins on purpose (see the header). */
#define SRC_ACCOUNT  "127.0.0.2"
#define SRC_ADDRESS  "127.0.0.3"
#define SRC_OTHER    "127.0.0.4"
#define SRC_ENUM     "127.0.0.5"
#define SRC_PASSWORD "127.0.0.6"
#define SRC_DISABLED "127.0.0.7"
#define SRC_EMAIL    "127.0.0.8"
#define SRC_SECRETS  "127.0.0.9"
#define SRC_RACE     "127.0.0.10"
#define SRC_PARALLEL "127.0.0.11"
#define SRC_GUESS    "127.0.0.12"
#define SRC_MIXED    "127.0.0.13"
#define SRC_PARAMS   "127.0.0.14"

typedef struct env {
	kt_keel *keel;
	char secret[512]; /* the HS256 key keel signs with */
	char kid[32];     /* its key id */
	int seq;          /* for unique slugs and emails */
} env;

/* A user of a tenant, with its password and (once signed in) its tokens. */
typedef struct account {
	char tenant_id[40];
	char slug[64];
	char id[40];
	char email[128];
	char password[300];
	char access[2048];
	char refresh[256];
} account;

/* ---- small helpers ---- */

static void
copy_to(char *dst, size_t cap, const char *src)
{
	assert_non_null(src);
	assert_true(strlen(src) < cap);
	memcpy(dst, src, strlen(src) + 1);
}

#define COPY(dst, src) copy_to((dst), sizeof(dst), (src))

/* ---- requests ---- */

/* No response of keel may carry a password hash, whatever the route. */
static void
hashes_absent(const kt_resp *r)
{
	if (r->body != NULL && (strstr(r->body, "$argon2") || strstr(r->body, "password_hash")))
		fail_msg("a response carries a password hash: %s", r->body);
}

/*
 * A request to k from the loopback address source (NULL: 127.0.0.1), with a
 * bearer token (NULL: none), extra headers (NULL-terminated, may be NULL) and
 * a JSON body text (NULL: none).
 */
static kt_resp *
req_from(const kt_keel *k, const char *source, const char *method, const char *path,
         const char *token, const char *const *extra, const char *body)
{
	const char *h[16];
	char *auth = NULL;
	int n = 0;

	h[n++] = "User-Agent: " UA;
	if (body != NULL)
		h[n++] = "Content-Type: application/json";
	if (token != NULL) {
		size_t len = strlen(token) + 32;

		auth = malloc(len);
		snprintf(auth, len, "Authorization: Bearer %s", token);
		h[n++] = auth;
	}
	for (; extra != NULL && *extra != NULL && n < 15; extra++)
		h[n++] = *extra;
	h[n] = NULL;
	kt_resp *r = kt_request_from(source, k->base, method, path, h, body, body ? strlen(body) : 0);

	free(auth);
	hashes_absent(r);
	return r;
}

/* req_from with a JSON body built by the caller (stolen; NULL: none). */
static kt_resp *
call_ex(const kt_keel *k, const char *source, const char *method, const char *path,
        const char *token, const char *const *extra, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	kt_resp *r = req_from(k, source, method, path, token, extra, text);

	free(text);
	return r;
}

static kt_resp *
call(const kt_keel *k, const char *method, const char *path, const char *token, json_t *body)
{
	return call_ex(k, NULL, method, path, token, NULL, body);
}

/* ---- assertions on responses ---- */

/* A 401 for a bad or missing access token: problem and WWW-Authenticate: Bearer... */
static void
assert_unauthenticated(const kt_resp *r)
{
	kt_assert_problem(r, 401, "unauthenticated", NULL);
	char *www = kt_header(r, "WWW-Authenticate");

	assert_non_null(www);
	assert_int_equal(strncmp(www, "Bearer", 6), 0);
	free(www);
}

/* Retry-After as integer seconds within 1..max. */
static void
assert_retry_after(const kt_resp *r, long max)
{
	char *ra = kt_header(r, "Retry-After"), *end;

	assert_non_null(ra);
	long s = strtol(ra, &end, 10);

	assert_true(end != ra && *end == '\0');
	assert_in_range(s, 1, max);
	free(ra);
}

/* ---- the database, as keel_owner ---- */

/*
 * The first column of the first row of sql ($1 = param, may be NULL), with
 * row-level security scoped to tenant (NULL: none); malloc'd, NULL for no row
 * or SQL NULL.
 */
static char *
db_value(const char *tenant, const char *sql, const char *param)
{
	PGconn *c = kt_pg_owner();
	const char *p[] = {param};

	if (tenant != NULL)
		kt_pg_set_tenant(c, tenant);
	PGresult *res = PQexecParams(c, sql, param != NULL ? 1 : 0, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	char *v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;

	PQclear(res);
	PQfinish(c);
	return v;
}

#define assert_db(tenant, sql, param, want)                                                        \
	db_is((tenant), (sql), (param), (want), __FILE__, __LINE__)

static void
db_is(const char *tenant, const char *sql, const char *param, const char *want, const char *file,
      int line)
{
	char *v = db_value(tenant, sql, param);
	bool ok = (v == NULL && want == NULL) || (v != NULL && want != NULL && strcmp(v, want) == 0);

	if (!ok)
		print_error("%s:%d: %s ($1 = %s) gave \"%s\", expected \"%s\"\n", file, line, sql,
		            param ? param : "-", v ? v : "(null)", want ? want : "(null)");
	free(v);
	if (!ok)
		_fail(file, line);
}

/* ---- JWTs of our own ---- */

/* base64url without padding, malloc'd. */
static char *
b64url(const void *data, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);

	while (len > 0 && out[len - 1] == '=')
		out[--len] = '\0';
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return out;
}

/* Decode n characters of base64url (no padding) into out[cap]; the length, or -1. */
static int
b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t pad = (4 - n % 4) % 4;
	char *b64 = malloc(n + 4);
	unsigned char *raw = malloc(n + 4);

	for (size_t i = 0; i < n; i++)
		b64[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(b64 + n, '=', pad);
	int len = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)(n + pad));

	len = len < (int)pad || (size_t)len - pad > cap ? -1 : len - (int)pad;
	if (len >= 0)
		memcpy(out, raw, (size_t)len);
	free(b64);
	free(raw);
	return len;
}

/* Segment idx (0 header, 1 payload) of a compact JWS as JSON (new reference), or NULL. */
static json_t *
jwt_part(const char *token, int idx)
{
	const char *p = token;
	unsigned char raw[16384];

	for (int i = 0; i < idx && p != NULL; i++)
		if ((p = strchr(p, '.')) != NULL)
			p++;
	if (p == NULL)
		return NULL;
	int len = b64url_decode(p, strcspn(p, "."), raw, sizeof(raw));

	return len < 0 ? NULL : json_loadb((char *)raw, (size_t)len, 0, NULL);
}

/* header.payload.sig from JSON parts (stolen) and a ready signature segment; malloc'd. */
static char *
jwt_join(json_t *header, json_t *payload, const char *sig)
{
	char *h = json_dumps(header, JSON_COMPACT), *p = json_dumps(payload, JSON_COMPACT);
	char *hb = b64url(h, strlen(h)), *pb = b64url(p, strlen(p));
	size_t len = strlen(hb) + strlen(pb) + strlen(sig) + 3;
	char *tok = malloc(len);

	snprintf(tok, len, "%s.%s.%s", hb, pb, sig);
	json_decref(header);
	json_decref(payload);
	free(h);
	free(p);
	free(hb);
	free(pb);
	return tok;
}

/* HMAC-SHA256 of text under the run's key, base64url; malloc'd. */
static char *
hs256(const env *e, const char *text)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), e->secret, (int)strlen(e->secret), (const unsigned char *)text, strlen(text),
	     mac, &len);
	return b64url(mac, len);
}

/* A token signed (HS256) with the run's key, whatever its header says; malloc'd. */
static char *
jwt_forge(const env *e, json_t *header, json_t *payload)
{
	char *unsigned_tok = jwt_join(header, payload, "");

	unsigned_tok[strlen(unsigned_tok) - 1] = '\0'; /* drop the last dot */
	char *sig = hs256(e, unsigned_tok);
	size_t len = strlen(unsigned_tok) + strlen(sig) + 2;
	char *tok = malloc(len);

	snprintf(tok, len, "%s.%s", unsigned_tok, sig);
	free(unsigned_tok);
	free(sig);
	return tok;
}

static json_t *
hs_header(const env *e)
{
	return json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT", "kid", e->kid);
}

/* The claims keel itself would issue to u as role, valid from now for 10 minutes. */
static json_t *
claims_of(const account *u, const char *role)
{
	json_int_t now = (json_int_t)time(NULL);

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", "keel", "sub", u->id, "tid",
	                 u->tenant_id, "role", role, "jti", "01900000-0000-7000-8000-000000000001",
	                 "iat", now, "nbf", now, "exp", now + 600);
}

/* ---- tenants and users ---- */

static json_t *
signup_body(const char *slug, const char *email, const char *password)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "name", "Acme Test", "slug", slug, "owner_email",
	                 email, "owner_password", password);
}

static void
slug_new(env *e, char *slug, size_t cap)
{
	snprintf(slug, cap, "t%d-%d", (int)getpid(), ++e->seq);
}

static kt_resp *
login_from(const kt_keel *k, const char *source, const char *tenant, const char *email,
           const char *password)
{
	return call_ex(
	    k, source, "POST", "/api/v1/auth/login", NULL, NULL,
	    json_pack("{s:s, s:s, s:s}", "tenant", tenant, "email", email, "password", password));
}

/* Sign u in (from 127.0.0.1); fills its tokens. */
static void
sign_in(const kt_keel *k, account *u)
{
	kt_resp *r = login_from(k, NULL, u->slug, u->email, u->password);

	kt_assert_status(r, 200);
	COPY(u->access, kt_json_str(r->json, "access_token"));
	COPY(u->refresh, kt_json_str(r->json, "refresh_token"));
	kt_resp_free(r);
}

/* Sign up a new tenant on k; o becomes its owner, signed in. */
static void
tenant_on(env *e, const kt_keel *k, account *o)
{
	memset(o, 0, sizeof(*o));
	slug_new(e, o->slug, sizeof(o->slug));
	snprintf(o->email, sizeof(o->email), "owner@%s.test", o->slug);
	COPY(o->password, PASSWORD);
	kt_resp *r =
	    call(k, "POST", "/api/v1/tenants", NULL, signup_body(o->slug, o->email, o->password));

	kt_assert_status(r, 201);
	COPY(o->tenant_id, kt_json_str(json_object_get(r->json, "tenant"), "id"));
	COPY(o->id, kt_json_str(json_object_get(r->json, "owner"), "id"));
	kt_resp_free(r);
	sign_in(k, o);
}

static void
tenant_new(env *e, account *o)
{
	tenant_on(e, e->keel, o);
}

/* by creates a user of role in its tenant; u gets its id (not signed in). */
static void
user_add(env *e, const account *by, const char *role, account *u)
{
	memset(u, 0, sizeof(*u));
	COPY(u->tenant_id, by->tenant_id);
	COPY(u->slug, by->slug);
	snprintf(u->email, sizeof(u->email), "%s%d@%s.test", role, ++e->seq, by->slug);
	COPY(u->password, PASSWORD);
	kt_resp *r = call(
	    e->keel, "POST", "/api/v1/users", by->access,
	    json_pack("{s:s, s:s, s:s}", "email", u->email, "password", u->password, "role", role));

	kt_assert_status(r, 201);
	COPY(u->id, kt_json_str(r->json, "id"));
	kt_resp_free(r);
}

/* user_add, then sign the user in. */
static void
user_new(env *e, const account *by, const char *role, account *u)
{
	user_add(e, by, role, u);
	sign_in(e->keel, u);
}

static kt_resp *
refresh_with(const kt_keel *k, const char *token)
{
	return call(k, "POST", "/api/v1/auth/refresh", NULL,
	            json_pack("{s:s}", "refresh_token", token));
}

static kt_resp *
user_path(const env *e, const char *method, const account *caller, const char *id, json_t *body)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/users/%s", id);
	return call(e->keel, method, path, caller->access, body);
}

/* As the tenant's owner: user id has this role and status. */
static void
user_is(const env *e, const account *owner, const char *id, const char *role, const char *status)
{
	kt_resp *r = user_path(e, "GET", owner, id, NULL);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "role"), role);
	assert_string_equal(kt_json_str(r->json, "status"), status);
	kt_resp_free(r);
}

/* ---- group ---- */

static void
secret_load(env *e)
{
	const char *path = getenv("KEEL_JWT_SECRET_FILE");
	char *text = path ? kt_read_file(path) : NULL;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;

	if (text == NULL)
		fail_msg("KEEL_JWT_SECRET_FILE is not readable: run through `make test`");
	text[strcspn(text, "\r\n")] = '\0'; /* keel drops the trailing newline */
	COPY(e->secret, text);
	free(text);
	/* kid: base64url of the first 12 bytes of SHA-256 of the secret */
	EVP_Digest(e->secret, strlen(e->secret), h, &hlen, EVP_sha256(), NULL);
	char *kid = b64url(h, 12);

	COPY(e->kid, kid);
	free(kid);
}

static int
group_setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	const char *up[] = {"migrate", "up", NULL};
	char *out = NULL;

	kt_db_fresh("auth");
	if (kt_keel_run(up, NULL, &out) != 0) {
		print_error("keel migrate up failed:\n%s\n", out ? out : "");
		free(out);
		free(e);
		return -1;
	}
	free(out);
	secret_load(e);
	e->keel = kt_keel_start(NULL, NULL);
	*state = e;
	return 0;
}

static int
group_teardown(void **state)
{
	env *e = *state;
	int rc = e->keel != NULL ? kt_keel_stop(e->keel) : 0;

	free(e);
	return rc == 0 ? 0 : -1;
}

/* ==== sign-up ==== */

static void
signup_creates_tenant_and_owner(void **state)
{
	env *e = *state;
	char slug[64], email[128];

	slug_new(e, slug, sizeof(slug));
	snprintf(email, sizeof(email), "Founder@%s.test", slug);
	kt_resp *r = call(e->keel, "POST", "/api/v1/tenants", NULL, signup_body(slug, email, PASSWORD));

	kt_assert_status(r, 201);
	kt_assert_header(r, "Location", "/api/v1/tenant");
	json_t *t = json_object_get(r->json, "tenant"), *o = json_object_get(r->json, "owner");

	assert_true(kt_is_uuid_v7(kt_json_str(t, "id")));
	assert_string_equal(kt_json_str(t, "name"), "Acme Test");
	assert_string_equal(kt_json_str(t, "slug"), slug);
	assert_true(kt_is_rfc3339_ms(kt_json_str(t, "created_at")));
	assert_true(kt_is_uuid_v7(kt_json_str(o, "id")));
	assert_string_equal(kt_json_str(o, "email"), email);
	assert_string_equal(kt_json_str(o, "role"), "owner");
	assert_string_equal(kt_json_str(o, "status"), "active");
	assert_string_equal(kt_json_str(o, "tenant_id"), kt_json_str(t, "id"));
	assert_null(json_object_get(o, "password"));
	/* both rows exist */
	assert_db(NULL, "SELECT slug FROM core.tenants WHERE id = $1", kt_json_str(t, "id"), slug);
	char want[200];

	snprintf(want, sizeof(want), "1 owner active %s $argon2id$", email);
	assert_db(kt_json_str(t, "id"),
	          "SELECT concat_ws(' ', (SELECT count(*) FROM auth.users), role, status, email,"
	          " left(password_hash, 10)) FROM auth.users WHERE id = $1",
	          kt_json_str(o, "id"), want);
	kt_resp_free(r);
}

static int
tenant_count(void)
{
	char *v = db_value(NULL, "SELECT count(*) FROM core.tenants", NULL);
	int n = atoi(v);

	free(v);
	return n;
}

/* One field made invalid (value NULL: left out); the error must name that field alone. */
typedef struct bad_field {
	const char *field;
	json_t *value;
} bad_field;

static void
signup_rejects_each_invalid_field_with_422(void **state)
{
	env *e = *state;
	char *slug64 = kt_repeat("s", 64), *name201 = kt_repeat("n", 201), *pw257 = kt_repeat("p", 257);
	const bad_field cases[] = {
	    {"slug", json_string("Upper-case")},
	    {"slug", json_string("-leading-dash")},
	    {"slug", json_string("a")},
	    {"slug", json_string("under_score")},
	    {"slug", json_string("sp ace")},
	    {"slug", json_string(slug64)},
	    {"slug", json_string("")},
	    {"slug", json_integer(7)},
	    {"slug", NULL},
	    {"name", json_string("")},
	    {"name", json_string("   ")},
	    {"name", json_string(name201)},
	    {"name", json_null()},
	    {"name", json_array()},
	    {"name", NULL},
	    {"owner_email", json_string("not-an-email")},
	    {"owner_email", json_string("a@")},
	    {"owner_email", json_string("@example.test")},
	    {"owner_email", json_string("a b@example.test")},
	    {"owner_email", json_string("a@b@example.test")},
	    {"owner_email", json_true()},
	    {"owner_password", json_string("elevenchars")},
	    {"owner_password", json_string(E_ACUTE_11)}, /* 11 characters in 22 bytes */
	    {"owner_password", json_string(pw257)},
	    {"owner_password", json_integer(123456789012345)},
	    {"owner_password", NULL},
	    {"plan", json_string("gold")},
	};
	int before = tenant_count();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char slug[64], email[128];

		slug_new(e, slug, sizeof(slug));
		snprintf(email, sizeof(email), "o@%s.test", slug);
		json_t *body = signup_body(slug, email, PASSWORD);

		if (cases[i].value != NULL)
			json_object_set_new(body, cases[i].field, cases[i].value);
		else
			json_object_del(body, cases[i].field);
		kt_resp *r = call(e->keel, "POST", "/api/v1/tenants", NULL, body);

		if (r->status != 422 || !kt_has_field_error(r, cases[i].field) ||
		    json_array_size(json_object_get(r->json, "errors")) != 1)
			fail_msg("case %zu: expected 422 naming only %s, got %ld: %s", i, cases[i].field,
			         r->status, r->body);
		kt_assert_problem(r, 422, "validation-failed", NULL);
		kt_resp_free(r);
	}
	assert_int_equal(tenant_count(), before);
	free(slug64);
	free(name201);
	free(pw257);
}

/* `keel tenant create` with the arguments of body (its password through a file). */
static int
operator_create(const json_t *body, char **out)
{
	char *dir = kt_tmpdir();
	char pwfile[512];
	const char *closed[] = {"KEEL_SIGNUP=closed", NULL}; /* the operator's way works anyway */

	kt_write_file(dir, "password", kt_json_str(body, "owner_password"));
	snprintf(pwfile, sizeof(pwfile), "%s/password", dir);
	const char *args[] = {"tenant",
	                      "create",
	                      "--name",
	                      kt_json_str(body, "name"),
	                      "--slug",
	                      kt_json_str(body, "slug"),
	                      "--owner-email",
	                      kt_json_str(body, "owner_email"),
	                      "--owner-password-file",
	                      pwfile,
	                      NULL};
	int status = kt_keel_run(args, closed, out);

	kt_tmpdir_remove(dir);
	return status;
}

/*
 * keel tenant create checks by sign-up's own rules: each text the API
 * refuses, the command refuses with the API's words (naming its option), exit
 * 2, nothing created; never repeating a password.
 */
static void
operator_create_refuses_what_signup_refuses(void **state)
{
	env *e = *state;
	char *slug64 = kt_repeat("s", 64), *name201 = kt_repeat("n", 201), *pw257 = kt_repeat("p", 257);
	const struct {
		const char *field, *option, *value;
	} cases[] = {
	    {"slug", "--slug", "Upper-case"},
	    {"slug", "--slug", "-leading-dash"},
	    {"slug", "--slug", "a"},
	    {"slug", "--slug", "sp ace"},
	    {"slug", "--slug", slug64},
	    {"slug", "--slug", ""},
	    {"name", "--name", ""},
	    {"name", "--name", "   "},
	    {"name", "--name", name201},
	    {"owner_email", "--owner-email", "not-an-email"},
	    {"owner_email", "--owner-email", "a@"},
	    {"owner_email", "--owner-email", "a b@example.test"},
	    {"owner_email", "--owner-email", "a@b@example.test"},
	    {"owner_password", "the password", "elevenchars"},
	    {"owner_password", "the password", E_ACUTE_11}, /* 11 characters in 22 bytes */
	    {"owner_password", "the password", pw257},
	};
	int before = tenant_count();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char slug[64], email[128], want[1024], *out;

		slug_new(e, slug, sizeof(slug));
		snprintf(email, sizeof(email), "o@%s.test", slug);
		json_t *body = signup_body(slug, email, PASSWORD);

		json_object_set_new(body, cases[i].field, json_string(cases[i].value));
		kt_resp *r = call(e->keel, "POST", "/api/v1/tenants", NULL, json_incref(body));
		json_t *errors = json_object_get(r->json, "errors");

		if (r->status != 422 || json_array_size(errors) != 1 ||
		    !kt_has_field_error(r, cases[i].field))
			fail_msg("case %zu: the API answered %ld: %s", i, r->status, r->body);
		snprintf(want, sizeof(want), "keel tenant create: %s %s\n", cases[i].option,
		         kt_json_str(json_array_get(errors, 0), "message"));
		int status = operator_create(body, &out);

		if (status != 2 || strstr(out, want) == NULL)
			fail_msg("case %zu: exit %d, expected 2 and \"%s\" in:\n%s", i, status, want, out);
		if (strcmp(cases[i].field, "owner_password") == 0 && strstr(out, cases[i].value) != NULL)
			fail_msg("case %zu: the output repeats the password:\n%s", i, out);
		free(out);
		kt_resp_free(r);
		json_decref(body);
	}
	/* text that is not UTF-8 cannot reach the API as JSON; the command names it */
	char slug[64], email[128], *out;

	slug_new(e, slug, sizeof(slug));
	snprintf(email, sizeof(email), "o@%s.test", slug);
	const char *args[] = {"tenant", "create",        "--name", "Acme \xff", "--slug",
	                      slug,     "--owner-email", email,    NULL};

	assert_int_equal(kt_keel_run(args, NULL, &out), 2);
	assert_non_null(strstr(out, "keel tenant create: --name must be UTF-8 text\n"));
	free(out);
	assert_int_equal(tenant_count(), before);
	free(slug64);
	free(name201);
	free(pw257);
}

/*
 * What keel tenant create makes is what sign-up makes: trimmed as the API
 * trims, a password counted in characters, an owner who signs in through the
 * API; its output holds neither the password nor its hash; a taken slug is
 * refused with nothing created.
 */
static void
operator_create_makes_a_tenant_like_signup(void **state)
{
	env *e = *state;
	char slug[64], email[128], padded[160], *out;
	int before = tenant_count();

	slug_new(e, slug, sizeof(slug));
	snprintf(email, sizeof(email), "owner@%s.test", slug);
	snprintf(padded, sizeof(padded), "  %s \t", email);
	json_t *body = signup_body(slug, padded, E_ACUTE_12); /* 12 characters */

	json_object_set_new(body, "name", json_string("  Operator Co  "));
	assert_int_equal(operator_create(body, &out), 0);
	assert_null(strstr(out, E_ACUTE_12));
	assert_null(strstr(out, "$argon2"));
	json_t *made = json_loads(strchr(out, '{'), JSON_DISABLE_EOF_CHECK, NULL);

	assert_non_null(made);
	assert_string_equal(kt_json_str(json_object_get(made, "tenant"), "name"), "Operator Co");
	assert_string_equal(kt_json_str(json_object_get(made, "tenant"), "slug"), slug);
	assert_string_equal(kt_json_str(json_object_get(made, "owner"), "email"), email);
	assert_string_equal(kt_json_str(json_object_get(made, "owner"), "role"), "owner");
	assert_int_equal(tenant_count(), before + 1);
	json_decref(made);
	free(out);

	kt_resp *r = login_from(e->keel, NULL, slug, email, E_ACUTE_12);

	kt_assert_status(r, 200);
	kt_resp_free(r);

	/* the same slug again: refused, nothing more */
	json_object_set_new(body, "owner_email", json_string("other@operator.test"));
	assert_int_equal(operator_create(body, &out), 1);
	assert_non_null(strstr(out, "is already taken"));
	assert_int_equal(tenant_count(), before + 1);
	free(out);
	json_decref(body);
}

static void
signup_accepts_boundary_values(void **state)
{
	env *e = *state;
	char slug[64], email[128];
	char *name200 = kt_repeat("n", 200), *pw256 = kt_repeat("p", 256);

	/* a 63-character slug, a 200-character name, a 256-byte password */
	slug_new(e, slug, sizeof(slug));
	size_t len = strlen(slug);

	memset(slug + len, 'x', 63 - len);
	slug[63] = '\0';
	snprintf(email, sizeof(email), "o@%.20s.test", slug);
	json_t *body = signup_body(slug, email, pw256);

	json_object_set_new(body, "name", json_string(name200));
	kt_resp *r = call(e->keel, "POST", "/api/v1/tenants", NULL, body);

	kt_assert_status(r, 201);
	assert_string_equal(kt_json_str(json_object_get(r->json, "tenant"), "slug"), slug);
	kt_resp_free(r);
	/* twelve characters are enough even when they take 24 bytes */
	slug_new(e, slug, sizeof(slug));
	snprintf(email, sizeof(email), "o@%s.test", slug);
	r = call(e->keel, "POST", "/api/v1/tenants", NULL, signup_body(slug, email, E_ACUTE_12));
	kt_assert_status(r, 201);
	kt_resp_free(r);
	free(name200);
	free(pw256);
}

static void
signup_rejects_malformed_bodies(void **state)
{
	env *e = *state;
	const char *json_ct[] = {"Content-Type: application/json", NULL};
	const char *text_ct[] = {"Content-Type: text/plain", NULL};
	kt_resp *r = kt_request(e->keel->base, "POST", "/api/v1/tenants", json_ct, "{\"name\":", 8);

	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
	r = kt_request(e->keel->base, "POST", "/api/v1/tenants", json_ct, "[]", 2);
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
	r = kt_request(e->keel->base, "POST", "/api/v1/tenants", text_ct, "{}", 2);
	kt_assert_problem(r, 415, "unsupported-media-type", NULL);
	kt_resp_free(r);
}

static void
signup_duplicate_slug_is_409_and_creates_nothing(void **state)
{
	env *e = *state;
	account o;
	char email[128];

	tenant_new(e, &o);
	int before = tenant_count();

	snprintf(email, sizeof(email), "second@%s.test", o.slug);
	kt_resp *r =
	    call(e->keel, "POST", "/api/v1/tenants", NULL, signup_body(o.slug, email, PASSWORD));

	kt_assert_problem(r, 409, "conflict", NULL);
	kt_assert_field_error(r, "slug");
	kt_resp_free(r);
	assert_int_equal(tenant_count(), before);
	/*
	 * The first tenant still has just its owner; no tenant was added, and a user row cannot
	 * outlive its tenant (foreign key), so the second owner exists nowhere.
	 */
	char want[160];

	snprintf(want, sizeof(want), "1 %s", o.email);
	assert_db(o.tenant_id, "SELECT count(*) || ' ' || min(email) FROM auth.users", NULL, want);
}

static void
signup_closed_is_403(void **state)
{
	env *e = *state;
	const char *closed[] = {"KEEL_SIGNUP=closed", NULL};
	char slug[64], email[128];
	account o;

	tenant_new(e, &o);
	kt_keel *k = kt_keel_start(closed, NULL);

	slug_new(e, slug, sizeof(slug));
	snprintf(email, sizeof(email), "o@%s.test", slug);
	kt_resp *r = call(k, "POST", "/api/v1/tenants", NULL, signup_body(slug, email, PASSWORD));

	kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	assert_db(NULL, "SELECT count(*) FROM core.tenants WHERE slug = $1", slug, "0");
	/* only sign-up is closed: existing tenants still sign in */
	sign_in(k, &o);
	assert_int_equal(kt_keel_stop(k), 0);
}

/* ==== sign-in ==== */

static void
login_returns_token_pair(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	kt_resp *r = login_from(e->keel, NULL, o.slug, o.email, o.password);

	kt_assert_status(r, 200);
	kt_assert_header(r, "Cache-Control", "no-store");
	assert_string_equal(kt_json_str(r->json, "token_type"), "Bearer");
	assert_int_equal(json_integer_value(json_object_get(r->json, "expires_in")), 900);
	const char *access = kt_json_str(r->json, "access_token"),
	           *refresh = kt_json_str(r->json, "refresh_token");

	assert_non_null(access);
	assert_non_null(refresh);
	assert_true(strlen(refresh) >= 43);
	assert_null(strchr(refresh, '.'));
	/* a JWT: three base64url segments, our key id, the claims of the contract */
	const char *dot1 = strchr(access, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;

	assert_non_null(dot2);
	assert_null(strchr(dot2 + 1, '.'));
	assert_true(strlen(dot2 + 1) > 0);
	json_t *h = jwt_part(access, 0), *p = jwt_part(access, 1);

	assert_string_equal(kt_json_str(h, "alg"), "HS256");
	assert_string_equal(kt_json_str(h, "kid"), e->kid);
	assert_string_equal(kt_json_str(p, "iss"), "keel");
	assert_string_equal(kt_json_str(p, "sub"), o.id);
	assert_string_equal(kt_json_str(p, "tid"), o.tenant_id);
	assert_string_equal(kt_json_str(p, "role"), "owner");
	assert_true(kt_is_uuid_v7(kt_json_str(p, "jti")));
	json_int_t iat = json_integer_value(json_object_get(p, "iat"));

	assert_int_equal(json_integer_value(json_object_get(p, "exp")) - iat, 900);
	assert_in_range(iat, (json_int_t)time(NULL) - 60, (json_int_t)time(NULL) + 60);
	json_decref(h);
	json_decref(p);
	/* two sign-ins, two different pairs */
	assert_string_not_equal(access, o.access);
	assert_string_not_equal(refresh, o.refresh);
	kt_resp_free(r);
}

/* The tid of a token from a 200 sign-in response. */
static void
login_tid_is(const kt_resp *r, const char *tenant_id)
{
	kt_assert_status(r, 200);
	json_t *p = jwt_part(kt_json_str(r->json, "access_token"), 1);

	assert_string_equal(kt_json_str(p, "tid"), tenant_id);
	json_decref(p);
}

static void
login_names_tenant_by_slug_id_or_header(void **state)
{
	env *e = *state;
	account o;
	char header[96], upper[40];

	tenant_new(e, &o); /* by slug */
	kt_resp *r = login_from(e->keel, NULL, o.tenant_id, o.email, o.password);

	login_tid_is(r, o.tenant_id);
	kt_resp_free(r);
	/* a UUID is a UUID in either case */
	for (size_t i = 0; i <= strlen(o.tenant_id); i++)
		upper[i] = (char)toupper((unsigned char)o.tenant_id[i]);
	r = login_from(e->keel, NULL, upper, o.email, o.password);
	login_tid_is(r, o.tenant_id);
	kt_resp_free(r);
	/* X-Tenant-ID and no tenant in the body */
	snprintf(header, sizeof(header), "X-Tenant-ID: %s", o.tenant_id);
	const char *hdrs[] = {header, NULL};

	r = call_ex(e->keel, NULL, "POST", "/api/v1/auth/login", NULL, hdrs,
	            json_pack("{s:s, s:s}", "email", o.email, "password", o.password));
	login_tid_is(r, o.tenant_id);
	kt_resp_free(r);
	/* no tenant at all */
	r = call(e->keel, "POST", "/api/v1/auth/login", NULL,
	         json_pack("{s:s, s:s}", "email", o.email, "password", o.password));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "tenant");
	kt_resp_free(r);
	/* X-Tenant-ID that is no UUID */
	const char *junk[] = {"X-Tenant-ID: acme", NULL};

	r = call_ex(e->keel, NULL, "POST", "/api/v1/auth/login", NULL, junk,
	            json_pack("{s:s, s:s}", "email", o.email, "password", o.password));
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
	/* header and body naming two tenants */
	r = call_ex(e->keel, NULL, "POST", "/api/v1/auth/login", NULL, hdrs,
	            json_pack("{s:s, s:s, s:s}", "tenant", "01900000-0000-7000-8000-0000000000ff",
	                      "email", o.email, "password", o.password));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_resp_free(r);
	/* unknown and missing fields */
	r = call(e->keel, "POST", "/api/v1/auth/login", NULL,
	         json_pack("{s:s, s:s, s:s, s:b}", "tenant", o.slug, "email", o.email, "password",
	                   o.password, "remember", 1));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "remember");
	kt_resp_free(r);
	r = call(e->keel, "POST", "/api/v1/auth/login", NULL,
	         json_pack("{s:s, s:s}", "tenant", o.slug, "email", o.email));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "password");
	kt_resp_free(r);
}

static void
login_email_is_case_insensitive(void **state)
{
	env *e = *state;
	account o;
	char shout[128];

	tenant_new(e, &o);
	for (size_t i = 0; i <= strlen(o.email); i++)
		shout[i] = (char)toupper((unsigned char)o.email[i]);
	kt_resp *r = login_from(e->keel, NULL, o.slug, shout, o.password);

	kt_assert_status(r, 200);
	json_t *p = jwt_part(kt_json_str(r->json, "access_token"), 1);

	assert_string_equal(kt_json_str(p, "sub"), o.id);
	json_decref(p);
	kt_resp_free(r);
}

/* The problem body without the members that differ per request. */
static char *
problem_core(const kt_resp *r)
{
	json_t *j = json_deep_copy(r->json);

	json_object_del(j, "request_id");
	json_object_del(j, "instance");
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return text;
}

/* ---- the password hashing work keel has done (its /metrics) ---- */

typedef struct hash_work {
	double hashes;  /* new hashes */
	double current; /* verifications against hashes of the current parameters */
	double other;   /* verifications against hashes of other parameters */
} hash_work;

static double
metric(const char *text, const char *name, const char *labels)
{
	double v = prom_value(text, name, labels);

	return isnan(v) ? 0 : v;
}

static hash_work
hash_work_of(const kt_keel *k)
{
	kt_resp *r = kt_request(k->base, "GET", "/metrics", NULL, NULL, 0);
	hash_work w;

	kt_assert_status(r, 200);
	w.hashes = metric(r->body, "keel_password_hashes_total", "");
	w.current = metric(r->body, "keel_password_verifications_total", "params=\"current\"");
	w.other = metric(r->body, "keel_password_verifications_total", "params=\"other\"");
	kt_resp_free(r);
	return w;
}

/* The work done since before: hashes, current and other verifications, exactly. */
#define assert_hash_work(k, before, h, c, o)                                                       \
	hash_work_is((k), (before), (h), (c), (o), __FILE__, __LINE__)

static void
hash_work_is(const kt_keel *k, hash_work before, double hashes, double current, double other,
             const char *file, int line)
{
	hash_work now = hash_work_of(k);
	hash_work d = {now.hashes - before.hashes, now.current - before.current,
	               now.other - before.other};

	if (d.hashes == hashes && d.current == current && d.other == other)
		return;
	print_error("%s:%d: password work %g hashes, %g current and %g other verifications;"
	            " expected %g, %g, %g\n",
	            file, line, d.hashes, d.current, d.other, hashes, current, other);
	_fail(file, line);
}

static void
login_failures_are_indistinguishable(void **state)
{
	env *e = *state;
	account o, d;

	tenant_new(e, &o);
	user_add(e, &o, "member", &d);
	kt_resp *patch = user_path(e, "PATCH", &o, d.id, json_pack("{s:s}", "status", "disabled"));

	kt_assert_status(patch, 200);
	kt_resp_free(patch);

	char unknown_email[160];

	snprintf(unknown_email, sizeof(unknown_email), "nobody@%s.test", o.slug);
	const char *attempts[5][3] = {
	    {o.slug, o.email, WRONG},
	    {o.slug, unknown_email, o.password},
	    {"no-such-tenant", o.email, o.password},
	    {"01900000-0000-7000-8000-0000000000aa", o.email, o.password},
	    {d.slug, d.email, d.password}, /* disabled */
	};
	kt_resp *res[5];
	long long ms[5];

	/*
	 * The same work: every failure pays for exactly one password verification at the current
	 * parameters and nothing else, so none is faster than a wrong password.  Counted, not
	 * timed (times on a busy machine are noise; they are printed for information only).
	 */
	for (int i = 0; i < 5; i++) {
		hash_work before = hash_work_of(e->keel);
		long long t0 = kt_now_ms();

		res[i] = login_from(e->keel, SRC_ENUM, attempts[i][0], attempts[i][1], attempts[i][2]);
		ms[i] = kt_now_ms() - t0;
		assert_hash_work(e->keel, before, 0, 1, 0);
	}
	print_message("sign-in failures (ms): %lld %lld %lld %lld %lld\n", ms[0], ms[1], ms[2], ms[3],
	              ms[4]);
	char *first = problem_core(res[0]);
	char *www0 = kt_header(res[0], "WWW-Authenticate");

	for (int i = 0; i < 5; i++) {
		assert_unauthenticated(res[i]);
		char *core = problem_core(res[i]), *www = kt_header(res[i], "WWW-Authenticate");

		if (strcmp(core, first) != 0)
			fail_msg("failure %d differs from a wrong password:\n%s\n%s", i, core, first);
		assert_string_equal(www, www0);
		free(core);
		free(www);
		kt_resp_free(res[i]);
	}
	free(first);
	free(www0);
}

/*
 * After the operator changed the hashing parameters, a user whose stored hash has the old ones
 * (here: cheaper, KEEL_PASSWORD_PASSES 2 where keel now uses 3) verifies faster; a wrong
 * password for that user still costs a verification at the current parameters (of the dummy
 * hash), like an unknown email and a wrong password for a user with a current hash.  A right
 * password signs in and is rehashed with the current parameters.
 */
static void
failures_cost_a_current_verification_whatever_the_stored_parameters(void **state)
{
	env *e = *state;
	const char *raised[] = {"KEEL_PASSWORD_PASSES=3", NULL};
	kt_keel *k = kt_keel_start(raised, NULL);
	account cur, old;
	char unknown_email[160];

	tenant_on(e, k, &cur); /* hashed by k: current parameters */
	tenant_new(e, &old);   /* hashed by the group's keel: passes 2 */
	snprintf(unknown_email, sizeof(unknown_email), "nobody@%s.test", cur.slug);
	hash_work before = hash_work_of(k);
	kt_resp *r = login_from(k, SRC_PARAMS, cur.slug, unknown_email, WRONG);

	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_hash_work(k, before, 0, 1, 0);
	before = hash_work_of(k);
	r = login_from(k, SRC_PARAMS, cur.slug, cur.email, WRONG);
	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_hash_work(k, before, 0, 1, 0);
	before = hash_work_of(k);
	r = login_from(k, SRC_PARAMS, old.slug, old.email, WRONG);
	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_hash_work(k, before, 0, 1, 1); /* the stored hash, then the dummy */
	before = hash_work_of(k);
	r = login_from(k, SRC_PARAMS, old.slug, old.email, old.password);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_hash_work(k, before, 1, 0, 1); /* verified, then rehashed */
	char *hash =
	    db_value(old.tenant_id, "SELECT password_hash FROM auth.users WHERE id = $1", old.id);

	assert_non_null(hash);
	assert_non_null(strstr(hash, ",t=3,"));
	free(hash);
	assert_int_equal(kt_keel_stop(k), 0);
}

/* ==== throttling ==== */

static void
account_throttled_after_five_failures(void **state)
{
	env *e = *state;
	account o, m;
	char shout[128];

	tenant_new(e, &o);
	user_add(e, &o, "member", &m);
	for (int i = 0; i < 5; i++) {
		kt_resp *r = login_from(e->keel, SRC_ACCOUNT, o.slug, o.email, WRONG);

		assert_unauthenticated(r);
		kt_resp_free(r);
	}
	/* the sixth attempt is refused even with the right password */
	kt_resp *r = login_from(e->keel, SRC_ACCOUNT, o.slug, o.email, o.password);

	kt_assert_problem(r, 429, "too-many-requests", NULL);
	assert_retry_after(r, 15 * 60);
	kt_resp_free(r);
	/* the account is the email, whatever its case */
	for (size_t i = 0; i <= strlen(o.email); i++)
		shout[i] = (char)toupper((unsigned char)o.email[i]);
	r = login_from(e->keel, SRC_ACCOUNT, o.slug, shout, o.password);
	kt_assert_problem(r, 429, "too-many-requests", NULL);
	kt_resp_free(r);
	/* another account of the tenant, from the same address, is unaffected */
	r = login_from(e->keel, SRC_ACCOUNT, m.slug, m.email, m.password);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* each attempt is on record with its address and user agent */
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'sign_in_failed'"
	          " AND email = $1 AND client_addr = '" SRC_ACCOUNT "' AND user_agent = '" UA "'",
	          o.email, "5");
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'sign_in_throttled'"
	          " AND lower(email) = $1 AND client_addr = '" SRC_ACCOUNT "' AND user_agent = '" UA
	          "' AND request_id IS NOT NULL",
	          o.email, "2");
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'sign_in_succeeded'"
	          " AND user_id = $1 AND client_addr = '" SRC_ACCOUNT "' AND user_agent = '" UA "'",
	          m.id, "1");
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'sign_in_succeeded'"
	          " AND user_id = $1 AND client_addr = '127.0.0.1'",
	          o.id, "1");
}

static void
address_throttled_after_twenty_failures(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	/* twenty failures from one address, spread over accounts and tenants */
	for (int i = 0; i < 20; i++) {
		char email[160];

		snprintf(email, sizeof(email), "nobody%d@%s.test", i, o.slug);
		kt_resp *r = login_from(e->keel, SRC_ADDRESS, i % 2 ? o.slug : "no-such-tenant-at-all",
		                        email, WRONG);

		assert_unauthenticated(r);
		kt_resp_free(r);
	}
	kt_resp *r = login_from(e->keel, SRC_ADDRESS, o.slug, o.email, o.password);

	kt_assert_problem(r, 429, "too-many-requests", NULL);
	assert_retry_after(r, 60);
	kt_resp_free(r);
	/* another address is unaffected */
	r = login_from(e->keel, SRC_OTHER, o.slug, o.email, o.password);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'sign_in_failed'"
	          " AND client_addr = '" SRC_ADDRESS "' AND user_agent = '" UA "'",
	          NULL, "10");
}

typedef struct guess {
	const kt_keel *keel;
	const char *source, *slug, *email;
	long status;
} guess;

static void *
guess_run(void *arg)
{
	guess *g = arg;
	kt_resp *r = login_from(g->keel, g->source, g->slug, g->email, WRONG);

	g->status = r->status;
	kt_resp_free(r);
	return NULL;
}

/* Run n wrong-password sign-ins at once; count the 401s and 429s. */
static void
guess_in_parallel(const env *e, const char *source, const char *slug, const char *email, int n,
                  int *unauthorized, int *throttled_count)
{
	pthread_t t[32];
	guess g[32];

	*unauthorized = *throttled_count = 0;
	for (int i = 0; i < n; i++) {
		g[i] = (guess){e->keel, source, slug, email, 0};
		pthread_create(&t[i], NULL, guess_run, &g[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		*unauthorized += g[i].status == 401;
		*throttled_count += g[i].status == 429;
	}
	assert_int_equal(*unauthorized + *throttled_count, n);
}

/*
 * Guesses sent all at once are counted while they run: no more than the
 * limit get a password verified, however many arrive together (before, all
 * twelve were verified).
 */
static void
parallel_guesses_are_throttled_too(void **state)
{
	env *e = *state;
	account o;
	int unauthorized, throttled_count;

	tenant_new(e, &o);
	guess_in_parallel(e, SRC_PARALLEL, o.slug, o.email, 12, &unauthorized, &throttled_count);
	assert_true(unauthorized <= 5); /* each counts itself and every attempt recorded before */
	assert_true(throttled_count >= 7);
}

/* ==== refresh, sign-out, password change, disabled users ==== */

static kt_resp *
me(const kt_keel *k, const char *token)
{
	return req_from(k, NULL, "GET", "/api/v1/auth/me", token, NULL, NULL);
}

static void
refresh_rotates_and_reuse_revokes_the_family(void **state)
{
	env *e = *state;
	account o, other;

	tenant_new(e, &o);
	other = o;
	sign_in(e->keel, &other); /* a second session: another family */
	kt_resp *r = refresh_with(e->keel, o.refresh);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "token_type"), "Bearer");
	assert_int_equal(json_integer_value(json_object_get(r->json, "expires_in")), 900);
	char access2[2048], refresh2[256];

	COPY(access2, kt_json_str(r->json, "access_token"));
	COPY(refresh2, kt_json_str(r->json, "refresh_token"));
	kt_resp_free(r);
	assert_string_not_equal(refresh2, o.refresh);
	r = me(e->keel, access2);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* the spent token again: refused, and its whole family with it */
	r = refresh_with(e->keel, o.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	r = refresh_with(e->keel, refresh2);
	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'refresh_reused'"
	          " AND user_id = $1 AND user_agent = '" UA "' AND client_addr = '127.0.0.1'",
	          o.id, "1");
	assert_db(o.tenant_id,
	          "SELECT count(*) || ' ' || count(revoked_at) FROM auth.refresh_tokens t"
	          " WHERE user_id = $1 AND family_id = (SELECT family_id FROM auth.refresh_tokens"
	          " WHERE user_id = $1 ORDER BY created_at, id LIMIT 1)",
	          o.id, "2 2");
	/* the other session's family is untouched */
	r = refresh_with(e->keel, other.refresh);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

/*
 * Rewrite a refresh token (base64url of tenant id, token id and secret, 16 + 16 + 32 bytes)
 * to name another tenant, keeping its id and secret.
 */
static void
refresh_retenant(char *token, const char *tenant_id)
{
	unsigned char raw[64];

	assert_int_equal(b64url_decode(token, strlen(token), raw, sizeof(raw)), 64);
	for (int i = 0, j = 0; i < 16; j++) {
		if (tenant_id[j] == '-')
			continue;
		unsigned int byte;

		assert_int_equal(sscanf(tenant_id + j, "%2x", &byte), 1);
		raw[i++] = (unsigned char)byte;
		j++;
	}
	char *text = b64url(raw, sizeof(raw));

	assert_int_equal(strlen(text), strlen(token));
	strcpy(token, text);
	free(text);
}

static void
refresh_carries_the_current_role(void **state)
{
	env *e = *state;
	account o, m;

	tenant_new(e, &o);
	user_new(e, &o, "member", &m);
	kt_resp *r = user_path(e, "PATCH", &o, m.id, json_pack("{s:s}", "role", "admin"));

	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = call(e->keel, "GET", "/api/v1/users", m.access, NULL); /* the token still says member */
	kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	r = refresh_with(e->keel, m.refresh);
	kt_assert_status(r, 200);
	char access[2048];

	COPY(access, kt_json_str(r->json, "access_token"));
	kt_resp_free(r);
	json_t *claims = jwt_part(access, 1);

	assert_string_equal(kt_json_str(claims, "role"), "admin");
	assert_string_equal(kt_json_str(claims, "sub"), m.id);
	json_decref(claims);
	r = call(e->keel, "GET", "/api/v1/users", access, NULL);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

static void
refresh_rejects_invalid_tokens(void **state)
{
	env *e = *state;
	account o, other;
	char forged[256];

	tenant_new(e, &o);
	tenant_new(e, &other);
	kt_resp *r = refresh_with(e->keel, "not-a-refresh-token");

	assert_unauthenticated(r);
	kt_resp_free(r);
	/* right tenant and token id, wrong secret */
	COPY(forged, o.refresh);
	forged[60] = forged[60] == 'A' ? 'B' : 'A';
	r = refresh_with(e->keel, forged);
	assert_unauthenticated(r);
	kt_resp_free(r);
	/* the token moved to another tenant: its id names no token there */
	char moved[256];

	COPY(moved, o.refresh);
	refresh_retenant(moved, other.tenant_id);
	r = refresh_with(e->keel, moved);
	assert_unauthenticated(r);
	kt_resp_free(r);
	r = call(e->keel, "POST", "/api/v1/auth/refresh", NULL, json_object());
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "refresh_token");
	kt_resp_free(r);
	/* none of that spent the real token */
	r = refresh_with(e->keel, o.refresh);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

static void
logout_revokes_the_refresh_token(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	kt_resp *r = call(e->keel, "POST", "/api/v1/auth/logout", NULL,
	                  json_pack("{s:s}", "refresh_token", o.refresh));

	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	r = refresh_with(e->keel, o.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_db(
	    o.tenant_id,
	    "SELECT count(*) FROM auth.security_events WHERE kind = 'signed_out' AND user_id = $1",
	    o.id, "1");
	r = call(e->keel, "POST", "/api/v1/auth/logout", NULL,
	         json_pack("{s:s}", "refresh_token", "not-a-refresh-token"));
	assert_unauthenticated(r);
	kt_resp_free(r);
}

static kt_resp *
password_change(const env *e, const account *u, const char *current, const char *next)
{
	return call(e->keel, "POST", "/api/v1/auth/password", u->access,
	            json_pack("{s:s, s:s}", "current_password", current, "new_password", next));
}

static void
password_change_revokes_sessions_and_swaps_password(void **state)
{
	env *e = *state;
	account o, second;

	tenant_new(e, &o);
	second = o;
	sign_in(e->keel, &second);
	kt_resp *r = password_change(e, &o, WRONG, NEW_PASSWORD);

	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "current_password");
	kt_resp_free(r);
	r = password_change(e, &o, o.password, "too short");
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "new_password");
	kt_resp_free(r);
	r = call(e->keel, "POST", "/api/v1/auth/password", o.access,
	         json_pack("{s:s}", "current_password", o.password));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "new_password");
	kt_resp_free(r);
	r = password_change(e, &o, o.password, NEW_PASSWORD);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	/* every session of the user is over */
	r = refresh_with(e->keel, o.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	r = refresh_with(e->keel, second.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	/* the old password no longer signs in, the new one does */
	r = login_from(e->keel, SRC_PASSWORD, o.slug, o.email, o.password);
	assert_unauthenticated(r);
	kt_resp_free(r);
	COPY(o.password, NEW_PASSWORD);
	sign_in(e->keel, &o);
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'password_changed'"
	          " AND user_id = $1",
	          o.id, "1");
	/* without a token there is no password to change */
	r = call(e->keel, "POST", "/api/v1/auth/password", NULL,
	         json_pack("{s:s, s:s}", "current_password", o.password, "new_password", PASSWORD));
	assert_unauthenticated(r);
	kt_resp_free(r);
}

/* password_change from the loopback address source. */
static kt_resp *
password_change_from(const env *e, const char *source, const account *u, const char *current,
                     const char *next)
{
	return call_ex(e->keel, source, "POST", "/api/v1/auth/password", u->access, NULL,
	               json_pack("{s:s, s:s}", "current_password", current, "new_password", next));
}

/* The number of security events of kind about user u (by id, address and user agent). */
static char *
events_of(const account *u, const char *kind, const char *source)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM auth.security_events WHERE kind = '%s' AND user_id = $1"
	         " AND lower(email) = lower('%s') AND client_addr = '%s' AND user_agent = '" UA "'"
	         " AND request_id IS NOT NULL",
	         kind, u->email, source);
	return db_value(u->tenant_id, sql, u->id);
}

#define assert_events(u, kind, source, want)                                                       \
	do {                                                                                           \
		char *n_ = events_of((u), (kind), (source));                                               \
		assert_string_equal(n_, (want));                                                           \
		free(n_);                                                                                  \
	} while (0)

/*
 * A wrong current password counts against the account like a failed sign-in: five are
 * answered 422, each on record; the sixth is refused with 429 before any hash is queued, even
 * with the right password, and sign-in is refused too.
 */
static void
wrong_current_passwords_are_throttled_like_sign_ins(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	for (int i = 0; i < 5; i++) {
		hash_work before = hash_work_of(e->keel);
		kt_resp *r = password_change_from(e, SRC_GUESS, &o, WRONG, NEW_PASSWORD);

		kt_assert_problem(r, 422, "validation-failed", NULL);
		kt_assert_field_error(r, "current_password");
		kt_resp_free(r);
		assert_hash_work(e->keel, before, 0, 1, 0);
		char want[8];

		snprintf(want, sizeof(want), "%d", i + 1);
		assert_events(&o, "password_change_failed", SRC_GUESS, want);
	}
	hash_work before = hash_work_of(e->keel);
	kt_resp *r = password_change_from(e, SRC_GUESS, &o, o.password, NEW_PASSWORD);

	kt_assert_problem(r, 429, "too-many-requests", NULL);
	assert_retry_after(r, 15 * 60);
	kt_resp_free(r);
	assert_hash_work(e->keel, before, 0, 0, 0);
	assert_events(&o, "password_change_throttled", SRC_GUESS, "1");
	/* the same account limit as sign-in: signing in is refused too, and hashes nothing */
	r = login_from(e->keel, SRC_GUESS, o.slug, o.email, o.password);
	kt_assert_problem(r, 429, "too-many-requests", NULL);
	kt_resp_free(r);
	assert_hash_work(e->keel, before, 0, 0, 0);
	assert_db(o.tenant_id, "SELECT count(*) FROM auth.sign_in_attempts WHERE lower(email) = $1",
	          o.email, "0");
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'password_changed'"
	          " AND user_id = $1",
	          o.id, "0");
}

/* Fewer than five wrong current passwords: the right one still changes the password. */
static void
right_current_password_after_fewer_failures_changes_it(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	for (int i = 0; i < 4; i++) {
		kt_resp *r = password_change_from(e, SRC_GUESS, &o, WRONG, NEW_PASSWORD);

		kt_assert_problem(r, 422, "validation-failed", NULL);
		kt_resp_free(r);
	}
	kt_resp *r = password_change_from(e, SRC_GUESS, &o, o.password, NEW_PASSWORD);

	kt_assert_status(r, 204);
	kt_resp_free(r);
	assert_events(&o, "password_change_failed", SRC_GUESS, "4");
	assert_events(&o, "password_changed", SRC_GUESS, "1");
	COPY(o.password, NEW_PASSWORD);
	sign_in(e->keel, &o);
}

/*
 * One limit for both ways of guessing: three wrong sign-ins and two wrong current passwords
 * make five failures; the next attempt of either kind is refused.
 */
static void
sign_in_and_password_change_failures_share_the_limit(void **state)
{
	env *e = *state;
	account o;
	kt_resp *r;

	tenant_new(e, &o);
	for (int i = 0; i < 3; i++) {
		r = login_from(e->keel, SRC_MIXED, o.slug, o.email, WRONG);
		assert_unauthenticated(r);
		kt_resp_free(r);
	}
	for (int i = 0; i < 2; i++) {
		r = password_change_from(e, SRC_MIXED, &o, WRONG, NEW_PASSWORD);
		kt_assert_problem(r, 422, "validation-failed", NULL);
		kt_resp_free(r);
	}
	hash_work before = hash_work_of(e->keel);

	r = password_change_from(e, SRC_MIXED, &o, o.password, NEW_PASSWORD);
	kt_assert_problem(r, 429, "too-many-requests", NULL);
	assert_retry_after(r, 15 * 60);
	kt_resp_free(r);
	r = login_from(e->keel, SRC_MIXED, o.slug, o.email, o.password);
	kt_assert_problem(r, 429, "too-many-requests", NULL);
	assert_retry_after(r, 15 * 60);
	kt_resp_free(r);
	assert_hash_work(e->keel, before, 0, 0, 0);
	/* the password is unchanged */
	assert_db(o.tenant_id,
	          "SELECT count(*) FROM auth.security_events WHERE kind = 'password_changed'"
	          " AND user_id = $1",
	          o.id, "0");
}

typedef struct password_guess {
	const env *e;
	const account *u;
	long status;
} password_guess;

static void *
password_guess_run(void *arg)
{
	password_guess *g = arg;
	kt_resp *r = password_change_from(g->e, SRC_GUESS, g->u, WRONG, NEW_PASSWORD);

	g->status = r->status;
	kt_resp_free(r);
	return NULL;
}

/*
 * Wrong current passwords sent all at once are counted while they run: of twelve, at most five
 * reach the hashing pool, and exactly those are answered 422.
 */
static void
parallel_wrong_current_passwords_are_throttled_too(void **state)
{
	env *e = *state;
	account o;
	pthread_t t[12];
	password_guess g[12];
	int refused = 0, throttled_count = 0;

	tenant_new(e, &o);
	hash_work before = hash_work_of(e->keel);

	for (int i = 0; i < 12; i++) {
		g[i] = (password_guess){e, &o, 0};
		pthread_create(&t[i], NULL, password_guess_run, &g[i]);
	}
	for (int i = 0; i < 12; i++) {
		pthread_join(t[i], NULL);
		refused += g[i].status == 422;
		throttled_count += g[i].status == 429;
	}
	assert_int_equal(refused + throttled_count, 12);
	assert_true(refused <= 5);
	assert_true(throttled_count >= 7);
	assert_hash_work(e->keel, before, 0, refused, 0);
}

static void
disabled_user_cannot_refresh_or_sign_in(void **state)
{
	env *e = *state;
	account o, m, untouched;

	tenant_new(e, &o);
	user_new(e, &o, "member", &m);
	untouched = m;
	sign_in(e->keel, &untouched); /* a session not used while the user is disabled */
	kt_resp *r = user_path(e, "PATCH", &o, m.id, json_pack("{s:s}", "status", "disabled"));

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "status"), "disabled");
	kt_resp_free(r);
	r = refresh_with(e->keel, m.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	r = login_from(e->keel, SRC_DISABLED, m.slug, m.email, m.password);
	assert_unauthenticated(r);
	kt_resp_free(r);
	/* enabled again: signs in again, but every session of before was revoked at once */
	r = user_path(e, "PATCH", &o, m.id, json_pack("{s:s}", "status", "active"));
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = refresh_with(e->keel, untouched.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	sign_in(e->keel, &m);
	r = refresh_with(e->keel, m.refresh);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

static void
me_returns_the_caller(void **state)
{
	env *e = *state;
	account o, v;

	tenant_new(e, &o);
	user_new(e, &o, "viewer", &v);
	kt_resp *r = me(e->keel, v.access);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "id"), v.id);
	assert_string_equal(kt_json_str(r->json, "email"), v.email);
	assert_string_equal(kt_json_str(r->json, "role"), "viewer");
	assert_string_equal(kt_json_str(r->json, "tenant_id"), v.tenant_id);
	assert_string_equal(kt_json_str(r->json, "status"), "active");
	assert_true(kt_is_rfc3339_ms(kt_json_str(r->json, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_json_str(r->json, "last_login_at")));
	kt_resp_free(r);
	r = me(e->keel, o.access);
	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "id"), o.id);
	assert_string_equal(kt_json_str(r->json, "role"), "owner");
	kt_resp_free(r);
}

/* ==== users ==== */

static void
users_create_returns_location_and_etag(void **state)
{
	env *e = *state;
	account o;
	char email[128], location[128];

	tenant_new(e, &o);
	snprintf(email, sizeof(email), "new.admin@%s.test", o.slug);
	kt_resp *r =
	    call(e->keel, "POST", "/api/v1/users", o.access,
	         json_pack("{s:s, s:s, s:s}", "email", email, "password", PASSWORD, "role", "admin"));

	kt_assert_status(r, 201);
	const char *id = kt_json_str(r->json, "id");

	assert_true(kt_is_uuid_v7(id));
	snprintf(location, sizeof(location), "/api/v1/users/%s", id);
	kt_assert_header(r, "Location", location);
	kt_assert_header(r, "ETag", "\"1\"");
	assert_string_equal(kt_json_str(r->json, "email"), email);
	assert_string_equal(kt_json_str(r->json, "role"), "admin");
	assert_string_equal(kt_json_str(r->json, "status"), "active");
	assert_string_equal(kt_json_str(r->json, "tenant_id"), o.tenant_id);
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_json_str(r->json, "created_at")));
	assert_true(json_is_null(json_object_get(r->json, "last_login_at")));
	kt_resp *g = call(e->keel, "GET", location, o.access, NULL);

	kt_assert_status(g, 200);
	assert_string_equal(kt_json_str(g->json, "id"), id);
	kt_assert_header(g, "ETag", "\"1\"");
	kt_resp_free(g);
	kt_resp_free(r);
	/* the role defaults to member */
	snprintf(email, sizeof(email), "plain@%s.test", o.slug);
	r = call(e->keel, "POST", "/api/v1/users", o.access,
	         json_pack("{s:s, s:s}", "email", email, "password", PASSWORD));
	kt_assert_status(r, 201);
	assert_string_equal(kt_json_str(r->json, "role"), "member");
	kt_resp_free(r);
}

static void
users_create_rejects_invalid_fields(void **state)
{
	env *e = *state;
	account o;
	const struct {
		const char *email, *password, *role, *extra, *field;
	} cases[] = {
	    {"not-an-email", PASSWORD, "member", NULL, "email"},
	    {"ok@example.test", "short", "member", NULL, "password"},
	    {"ok@example.test", PASSWORD, "superuser", NULL, "role"},
	    {"ok@example.test", PASSWORD, "member", "nickname", "nickname"},
	    {NULL, PASSWORD, "member", NULL, "email"},
	    {"ok@example.test", NULL, "member", NULL, "password"},
	};

	tenant_new(e, &o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *body = json_pack("{s:s}", "role", cases[i].role);

		if (cases[i].email)
			json_object_set_new(body, "email", json_string(cases[i].email));
		if (cases[i].password)
			json_object_set_new(body, "password", json_string(cases[i].password));
		if (cases[i].extra)
			json_object_set_new(body, cases[i].extra, json_string("x"));
		kt_resp *r = call(e->keel, "POST", "/api/v1/users", o.access, body);

		kt_assert_problem(r, 422, "validation-failed", NULL);
		kt_assert_field_error(r, cases[i].field);
		kt_resp_free(r);
	}
	assert_db(o.tenant_id, "SELECT count(*) FROM auth.users", NULL, "1");
}

static kt_resp *
users_page(const env *e, const account *caller, const char *query)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/users%s", query);
	return call(e->keel, "GET", path, caller->access, NULL);
}

static void
users_list_walks_pages_without_duplicates(void **state)
{
	env *e = *state;
	account o, u[4];
	char seen[5][40], query[160];
	int n = 0, pages = 0;

	tenant_new(e, &o);
	for (int i = 0; i < 4; i++)
		user_add(e, &o, i % 2 ? "viewer" : "member", &u[i]);
	snprintf(query, sizeof(query), "?limit=2");
	for (;;) {
		kt_resp *r = users_page(e, &o, query);

		kt_assert_status(r, 200);
		json_t *data = json_object_get(r->json, "data"), *next, *item;
		size_t i;

		assert_true(json_is_array(data));
		assert_in_range(json_array_size(data), 0, 2);
		pages++;
		json_array_foreach(data, i, item)
		{
			assert_true(n < 5);
			COPY(seen[n], kt_json_str(item, "id"));
			assert_string_equal(kt_json_str(item, "tenant_id"), o.tenant_id);
			/* ascending by id, hence no duplicates */
			assert_true(n == 0 || strcmp(seen[n - 1], seen[n]) < 0);
			n++;
		}
		next = json_object_get(r->json, "next_cursor");
		if (json_is_null(next)) {
			kt_resp_free(r);
			break;
		}
		assert_true(json_is_string(next));
		assert_true(pages < 5);
		snprintf(query, sizeof(query), "?limit=2&cursor=%s", json_string_value(next));
		kt_resp_free(r);
	}
	assert_int_equal(n, 5);
	assert_int_equal(pages, 3);
	/* everyone on one default page, next_cursor null */
	kt_resp *r = users_page(e, &o, "");

	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 5);
	assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
	kt_resp_free(r);
	r = users_page(e, &o, "?limit=200");
	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* bad limits and cursors */
	const char *bad[] = {"?limit=0",       "?limit=201",   "?limit=-1",
	                     "?limit=abc",     "?limit=",      "?limit=2.5",
	                     "?cursor=%21%21", "?cursor=AAAA", "?cursor=not-a-cursor-at-all",
	                     "?limit=%2B2",    "?limit=%202",  "?limit=%092",
	                     "?limit=%0A2",    "?limit=2%20",  "?limit=99999999999999999999"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = users_page(e, &o, bad[i]);
		if (r->status != 400)
			fail_msg("GET /api/v1/users%s: %ld, expected 400: %s", bad[i], r->status, r->body);
		kt_assert_problem(r, 400, "malformed-request", NULL);
		kt_resp_free(r);
	}
}

static void
users_get_is_for_admins_or_self(void **state)
{
	env *e = *state;
	account o, a, m, m2;

	tenant_new(e, &o);
	user_new(e, &o, "admin", &a);
	user_new(e, &o, "member", &m);
	user_add(e, &o, "member", &m2);
	kt_resp *r = user_path(e, "GET", &a, m.id, NULL);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "email"), m.email);
	kt_assert_header(r, "ETag", "\"1\"");
	kt_resp_free(r);
	r = user_path(e, "GET", &m, m.id, NULL);
	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "id"), m.id);
	kt_resp_free(r);
	r = user_path(e, "GET", &m, m2.id, NULL);
	kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	r = user_path(e, "GET", &o, "01900000-0000-7000-8000-00000000beef", NULL);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "GET", &o, "not-a-uuid", NULL);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
}

static kt_resp *
user_patch_if(const env *e, const account *caller, const char *id, const char *if_match,
              json_t *body)
{
	char path[128], header[64];
	const char *h[] = {header, NULL};

	snprintf(path, sizeof(path), "/api/v1/users/%s", id);
	snprintf(header, sizeof(header), "If-Match: %s", if_match);
	return call_ex(e->keel, NULL, body ? "PATCH" : "DELETE", path, caller->access, h, body);
}

static void
users_update_honours_if_match(void **state)
{
	env *e = *state;
	account o, m;

	tenant_new(e, &o);
	user_add(e, &o, "member", &m);
	kt_resp *r = user_patch_if(e, &o, m.id, "\"1\"", json_pack("{s:s}", "role", "viewer"));

	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_string_equal(kt_json_str(r->json, "role"), "viewer");
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	kt_resp_free(r);
	/* a stale or malformed version changes nothing */
	r = user_patch_if(e, &o, m.id, "\"1\"", json_pack("{s:s}", "role", "member"));
	kt_assert_problem(r, 412, "precondition-failed", NULL);
	kt_resp_free(r);
	r = user_patch_if(e, &o, m.id, "W/\"2\"", json_pack("{s:s}", "role", "member"));
	kt_assert_problem(r, 412, "precondition-failed", NULL);
	kt_resp_free(r);
	assert_db(o.tenant_id, "SELECT role || ' ' || version FROM auth.users WHERE id = $1", m.id,
	          "viewer 2");
	/* without If-Match the change applies */
	r = user_path(e, "PATCH", &o, m.id,
	              json_pack("{s:s, s:s}", "role", "member", "status", "active"));
	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"3\"");
	kt_resp_free(r);
	/* invalid changes */
	json_t *bad[] = {json_object(), json_pack("{s:s}", "role", "boss"),
	                 json_pack("{s:s}", "status", "gone"), json_pack("{s:s}", "email", "x@y.z"),
	                 json_pack("{s:n}", "role")};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = user_path(e, "PATCH", &o, m.id, bad[i]);
		kt_assert_problem(r, 422, "validation-failed", NULL);
		kt_resp_free(r);
	}
	/* delete honours If-Match too */
	r = user_patch_if(e, &o, m.id, "\"2\"", NULL);
	kt_assert_problem(r, 412, "precondition-failed", NULL);
	kt_resp_free(r);
	r = user_patch_if(e, &o, m.id, "\"3\"", NULL);
	kt_assert_status(r, 204);
	kt_resp_free(r);
}

static void
users_delete_then_404(void **state)
{
	env *e = *state;
	account o, m;

	tenant_new(e, &o);
	user_new(e, &o, "member", &m);
	kt_resp *r = user_path(e, "DELETE", &o, m.id, NULL);

	kt_assert_status(r, 204);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
	r = user_path(e, "GET", &o, m.id, NULL);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "DELETE", &o, m.id, NULL);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "PATCH", &o, m.id, json_pack("{s:s}", "role", "viewer"));
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	/* its tokens go with it */
	r = me(e->keel, m.access);
	assert_unauthenticated(r);
	kt_resp_free(r);
	r = refresh_with(e->keel, m.refresh);
	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_db(o.tenant_id, "SELECT count(*) FROM auth.users WHERE id = $1", m.id, "0");
}

/* First value of sql ($1 = param, may be NULL) on c, malloc'd (NULL: none); fails on error. */
static char *
pg_run(PGconn *c, const char *sql, const char *param)
{
	const char *p[] = {param};
	PGresult *res = PQexecParams(c, sql, param != NULL ? 1 : 0, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	char *v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
	              ? strdup(PQgetvalue(res, 0, 0))
	              : NULL;

	PQclear(res);
	return v;
}

/* A request sent from another thread, so the test can act while keel waits on a lock. */
typedef struct async_req {
	const kt_keel *keel;
	const char *source, *method, *token, *body;
	char path[128];
	kt_resp *resp;
	pthread_t thread;
} async_req;

static void *
async_run(void *arg)
{
	async_req *q = arg;

	q->resp = req_from(q->keel, q->source, q->method, q->path, q->token, NULL, q->body);
	return NULL;
}

static void
async_start(async_req *q)
{
	assert_int_equal(pthread_create(&q->thread, NULL, async_run, q), 0);
}

static kt_resp *
async_finish(async_req *q)
{
	assert_int_equal(pthread_join(q->thread, NULL), 0);
	return q->resp;
}

/*
 * Wait until a session waits for the transaction of c (a row lock c holds); as generously as
 * wait_blocked_by(), for the same reason: the request hashes a password first.
 */
static void
wait_for_a_waiter(PGconn *c)
{
	kt_wait_xact_waiter(c);
}

/*
 * The pid of a session that waits for a lock the session blocker holds, once there is one.
 * From pg_locks, which each call reads afresh: pg_stat_activity, read inside c's transaction,
 * would show the sessions of its first reading only, not one keel connects meanwhile.
 * Generously: the request may first hash passwords on keel's lower-priority pool, which other
 * test programs running at the same time can hold back for seconds.
 */
static int
wait_blocked_by(PGconn *c, int blocker)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", blocker);
	for (long long until = kt_now_ms() + 60000;;) {
		char *got = pg_run(c,
		                   "SELECT min(pid) FROM pg_locks"
		                   " WHERE NOT granted AND $1::int = ANY(pg_blocking_pids(pid))",
		                   pid);

		if (got != NULL) {
			int waiter = atoi(got);

			free(got);
			return waiter;
		}
		if (kt_now_ms() > until)
			fail_msg("no session ever waited for a lock of session %s", pid);
		usleep(10000);
	}
}

/*
 * A refresh and a password change of o at once, on k, in a known order: the test holds the row
 * lock of o's refresh token, starts the first request and waits until it waits for that lock
 * (the refresh for the token row; the password change, having written the user row, to revoke
 * the token), then starts the second and waits until it waits for the first (for the user row,
 * which the refresh share-locks and the password change writes).  Then it lets them go.
 * Returns the refresh's response; the password change must have answered 204.
 */
static kt_resp *
refresh_and_password_change(const kt_keel *k, const account *o, bool refresh_first)
{
	PGconn *c = kt_pg_owner();

	kt_pg_set_tenant(c, o->tenant_id);
	kt_pg_exec(c, "BEGIN");
	char *token_id =
	    pg_run(c, "SELECT id FROM auth.refresh_tokens WHERE user_id = $1 FOR UPDATE", o->id);

	assert_non_null(token_id);
	free(token_id);
	json_t *jr = json_pack("{s:s}", "refresh_token", o->refresh);
	json_t *jp =
	    json_pack("{s:s, s:s}", "current_password", o->password, "new_password", NEW_PASSWORD);
	char *refresh_body = json_dumps(jr, JSON_COMPACT), *password_body = json_dumps(jp, 0);
	async_req rq = {.keel = k, .method = "POST", .body = refresh_body};
	async_req pq = {.keel = k, .method = "POST", .token = o->access, .body = password_body};

	json_decref(jr);
	json_decref(jp);
	snprintf(rq.path, sizeof(rq.path), "/api/v1/auth/refresh");
	snprintf(pq.path, sizeof(pq.path), "/api/v1/auth/password");
	async_start(refresh_first ? &rq : &pq);
	int first = wait_blocked_by(c, PQbackendPID(c));

	async_start(refresh_first ? &pq : &rq);
	wait_blocked_by(c, first);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	kt_resp *rr = async_finish(&rq), *pr = async_finish(&pq);

	kt_assert_status(pr, 204);
	kt_resp_free(pr);
	free(refresh_body);
	free(password_body);
	return rr;
}

/* o's refresh tokens: how many there are, how many were used; none may be left unrevoked. */
static void
assert_tokens(const account *o, const char *count, const char *used)
{
	assert_db(o->tenant_id, "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1", o->id,
	          count);
	assert_db(o->tenant_id,
	          "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1 AND used_at IS NOT NULL",
	          o->id, used);
	assert_db(o->tenant_id,
	          "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
	          o->id, "0");
}

static void
refresh_across_a_password_change_is_revoked(void **state)
{
	/*
	 * A refresh and a password change at once, in each order: no refresh token may survive
	 * the password change.  On a keel of its own whose statements may wait as long as the
	 * test does: the first request waits for its lock while the second one starts (and the
	 * password change hashes twice first), longer than the default statement timeout on a
	 * loaded machine.
	 */
	env *e = *state;
	const char *patient[] = {"KEEL_DB_STATEMENT_TIMEOUT=60s", "KEEL_REQUEST_TIMEOUT=90s", NULL};
	kt_keel *k = kt_keel_start(patient, NULL);
	account o;

	/* the refresh first: it rotates the token, then the password change revokes the new one */
	tenant_on(e, k, &o);
	kt_resp *r = refresh_and_password_change(k, &o, true);

	kt_assert_status(r, 200);
	assert_non_null(kt_json_str(r->json, "access_token"));
	assert_non_null(kt_json_str(r->json, "refresh_token"));
	kt_resp *again = refresh_with(k, kt_json_str(r->json, "refresh_token"));

	assert_unauthenticated(again);
	kt_resp_free(again);
	kt_resp_free(r);
	assert_tokens(&o, "2", "1");
	COPY(o.password, NEW_PASSWORD);
	sign_in(k, &o);

	/* the password change first: the refresh finds its token revoked */
	tenant_on(e, k, &o);
	r = refresh_and_password_change(k, &o, false);
	assert_unauthenticated(r);
	kt_resp_free(r);
	assert_tokens(&o, "1", "0");
	COPY(o.password, NEW_PASSWORD);
	sign_in(k, &o);
	kt_keel_stop_clean(&k, NULL);
}

/* A connection as keel_owner inside a transaction that holds the row lock of a user. */
static PGconn *
user_locked(const char *tenant_id, const char *user_id)
{
	PGconn *c = kt_pg_owner();

	kt_pg_set_tenant(c, tenant_id);
	kt_pg_exec(c, "BEGIN");
	char *id = pg_run(c, "SELECT id FROM auth.users WHERE id = $1 FOR UPDATE", user_id);

	assert_non_null(id);
	free(id);
	return c;
}

/*
 * A sign-in whose password check overlaps a change of the user (change_sql, $1 = the user's
 * id): the test holds the user's row lock, so the sign-in's final write waits, then makes the
 * change and commits.  The sign-in must then fail like any other.
 */
static void
sign_in_across_a_change_fails(env *e, const char *change_sql)
{
	account o, m;

	tenant_new(e, &o);
	user_add(e, &o, "member", &m);
	PGconn *c = user_locked(m.tenant_id, m.id);
	json_t *login =
	    json_pack("{s:s, s:s, s:s}", "tenant", m.slug, "email", m.email, "password", m.password);
	char *body = json_dumps(login, JSON_COMPACT);

	json_decref(login);
	async_req q = {.keel = e->keel, .source = SRC_RACE, .method = "POST", .body = body};

	snprintf(q.path, sizeof(q.path), "/api/v1/auth/login");
	async_start(&q);
	wait_for_a_waiter(c);
	free(pg_run(c, change_sql, m.id));
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	kt_resp *r = async_finish(&q);

	assert_unauthenticated(r);
	kt_resp_free(r);
	free(body);
	assert_db(o.tenant_id, "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1", m.id,
	          "0");
}

static void
sign_in_across_a_password_change_fails(void **state)
{
	sign_in_across_a_change_fails(*state, "UPDATE auth.users SET password_hash ="
	                                      " (SELECT password_hash FROM auth.users WHERE id <> $1"
	                                      " LIMIT 1), password_changed_at = now() WHERE id = $1");
}

static void
sign_in_across_disabling_fails(void **state)
{
	sign_in_across_a_change_fails(*state,
	                              "UPDATE auth.users SET status = 'disabled' WHERE id = $1");
}

static void
users_delete_refuses_a_user_changed_meanwhile(void **state)
{
	/*
	 * An admin deletes a member; the member is promoted to admin between the checks and the
	 * DELETE (the test holds the row lock, so the DELETE waits, then promotes and commits).
	 * The admin must not end up deleting an admin: 412, and the user is still there.
	 */
	env *e = *state;
	account o, a, m;

	tenant_new(e, &o);
	user_new(e, &o, "admin", &a);
	user_add(e, &o, "member", &m);
	PGconn *c = user_locked(m.tenant_id, m.id);
	async_req q = {.keel = e->keel, .method = "DELETE", .token = a.access};

	snprintf(q.path, sizeof(q.path), "/api/v1/users/%s", m.id);
	async_start(&q);
	wait_for_a_waiter(c);
	free(pg_run(c, "UPDATE auth.users SET role = 'admin', version = version + 1 WHERE id = $1",
	            m.id));
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	kt_resp *r = async_finish(&q);

	kt_assert_problem(r, 412, "precondition-failed", NULL);
	kt_resp_free(r);
	assert_db(o.tenant_id, "SELECT role || ' ' || version FROM auth.users WHERE id = $1", m.id,
	          "admin 2");
}

/* ==== the role matrix ==== */

enum action {
	CREATE_MEMBER,
	CREATE_ADMIN,
	CREATE_OWNER,
	LIST,
	GET_OTHER,
	PROMOTE_MEMBER,
	DEMOTE_ADMIN,
	DISABLE_MEMBER,
	DELETE_MEMBER,
	DELETE_ADMIN,
	ACTIONS
};

static const char *const action_names[ACTIONS] = {
    "create member",  "create admin", "create owner",   "list",          "get other",
    "promote member", "demote admin", "disable member", "delete member", "delete admin"};

static const char *const caller_roles[] = {"owner", "admin", "member", "viewer"};

/* The exact status of each action for each caller role. */
static const long role_matrix[4][ACTIONS] = {
    /* owner  */ {201, 201, 201, 200, 200, 200, 200, 200, 204, 204},
    /* admin  */ {201, 403, 403, 200, 200, 403, 403, 200, 204, 403},
    /* member */ {403, 403, 403, 403, 403, 403, 403, 403, 403, 403},
    /* viewer */ {403, 403, 403, 403, 403, 403, 403, 403, 403, 403},
};

/* Fresh users for one caller to act on. */
typedef struct targets {
	account promote, disable, remove, demote, remove_admin;
} targets;

static long
act(env *e, const account *caller, enum action a, const targets *t)
{
	static const char *const created[] = {"member", "admin", "owner"};
	char email[160];
	kt_resp *r;

	switch (a) {
	case CREATE_MEMBER:
	case CREATE_ADMIN:
	case CREATE_OWNER:
		snprintf(email, sizeof(email), "made%d@%s.test", ++e->seq, caller->slug);
		r = call(e->keel, "POST", "/api/v1/users", caller->access,
		         json_pack("{s:s, s:s, s:s}", "email", email, "password", PASSWORD, "role",
		                   created[a - CREATE_MEMBER]));
		break;
	case LIST:
		r = call(e->keel, "GET", "/api/v1/users", caller->access, NULL);
		break;
	case GET_OTHER:
		r = user_path(e, "GET", caller, t->promote.id, NULL);
		break;
	case PROMOTE_MEMBER:
		r = user_path(e, "PATCH", caller, t->promote.id, json_pack("{s:s}", "role", "admin"));
		break;
	case DEMOTE_ADMIN:
		r = user_path(e, "PATCH", caller, t->demote.id, json_pack("{s:s}", "role", "member"));
		break;
	case DISABLE_MEMBER:
		r = user_path(e, "PATCH", caller, t->disable.id, json_pack("{s:s}", "status", "disabled"));
		break;
	case DELETE_MEMBER:
		r = user_path(e, "DELETE", caller, t->remove.id, NULL);
		break;
	case DELETE_ADMIN:
	default:
		r = user_path(e, "DELETE", caller, t->remove_admin.id, NULL);
		break;
	}
	long status = r->status;

	if (status == 403)
		kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	return status;
}

/* After the caller's actions: what was allowed happened, what was refused changed nothing. */
static void
targets_after(const env *e, const account *owner, const targets *t, const long *want)
{
	bool ok;

	user_is(e, owner, t->promote.id, want[PROMOTE_MEMBER] == 200 ? "admin" : "member", "active");
	user_is(e, owner, t->demote.id, want[DEMOTE_ADMIN] == 200 ? "member" : "admin", "active");
	user_is(e, owner, t->disable.id, "member", want[DISABLE_MEMBER] == 200 ? "disabled" : "active");
	kt_resp *r = user_path(e, "GET", owner, t->remove.id, NULL);

	ok = r->status == (want[DELETE_MEMBER] == 204 ? 404 : 200);
	kt_resp_free(r);
	assert_true(ok);
	r = user_path(e, "GET", owner, t->remove_admin.id, NULL);
	ok = r->status == (want[DELETE_ADMIN] == 204 ? 404 : 200);
	kt_resp_free(r);
	assert_true(ok);
}

static void
users_role_matrix(void **state)
{
	env *e = *state;
	account callers[4];
	int wrong = 0;

	tenant_new(e, &callers[0]);
	for (int c = 1; c < 4; c++)
		user_new(e, &callers[0], caller_roles[c], &callers[c]);
	for (int c = 0; c < 4; c++) {
		targets t;

		user_add(e, &callers[0], "member", &t.promote);
		user_add(e, &callers[0], "member", &t.disable);
		user_add(e, &callers[0], "member", &t.remove);
		user_add(e, &callers[0], "admin", &t.demote);
		user_add(e, &callers[0], "admin", &t.remove_admin);
		for (int a = 0; a < ACTIONS; a++) {
			long got = act(e, &callers[c], (enum action)a, &t);

			if (got != role_matrix[c][a]) {
				print_error("%s may %s: got %ld, expected %ld\n", caller_roles[c], action_names[a],
				            got, role_matrix[c][a]);
				wrong++;
			}
		}
		targets_after(e, &callers[0], &t, role_matrix[c]);
	}
	assert_int_equal(wrong, 0);
}

/* ==== users: uniqueness, the last owner, other tenants ==== */

static void
same_email_in_two_tenants_but_once_per_tenant(void **state)
{
	env *e = *state;
	account a, b, ua, ub;

	tenant_new(e, &a);
	tenant_new(e, &b);
	ua = a;
	ub = b;
	COPY(ua.email, "shared@example.test");
	COPY(ub.email, "shared@example.test");
	COPY(ub.password, NEW_PASSWORD);
	const account *in[] = {&ua, &ub};

	for (int i = 0; i < 2; i++) {
		kt_resp *r =
		    call(e->keel, "POST", "/api/v1/users", i ? b.access : a.access,
		         json_pack("{s:s, s:s}", "email", in[i]->email, "password", in[i]->password));

		kt_assert_status(r, 201);
		kt_resp_free(r);
	}
	/* each signs in to its own tenant with its own password */
	sign_in(e->keel, &ua);
	sign_in(e->keel, &ub);
	kt_resp *r = login_from(e->keel, SRC_EMAIL, a.slug, ub.email, ub.password);

	assert_unauthenticated(r);
	kt_resp_free(r);
	/* the same email again in one tenant, in any case */
	r = call(e->keel, "POST", "/api/v1/users", a.access,
	         json_pack("{s:s, s:s}", "email", "SHARED@Example.TEST", "password", PASSWORD));
	kt_assert_problem(r, 409, "conflict", NULL);
	kt_assert_field_error(r, "email");
	kt_resp_free(r);
	assert_db(a.tenant_id, "SELECT count(*) FROM auth.users WHERE lower(email) = $1",
	          "shared@example.test", "1");
}

static void
last_owner_cannot_be_demoted_disabled_or_deleted(void **state)
{
	env *e = *state;
	account o, o2;

	tenant_new(e, &o);
	kt_resp *r = user_path(e, "PATCH", &o, o.id, json_pack("{s:s}", "role", "admin"));

	kt_assert_problem(r, 409, "conflict", NULL);
	kt_resp_free(r);
	r = user_path(e, "PATCH", &o, o.id, json_pack("{s:s}", "status", "disabled"));
	kt_assert_problem(r, 409, "conflict", NULL);
	kt_resp_free(r);
	r = user_path(e, "DELETE", &o, o.id, NULL);
	kt_assert_problem(r, 409, "conflict", NULL);
	kt_resp_free(r);
	assert_db(o.tenant_id, "SELECT role || ' ' || status || ' ' || version FROM auth.users", NULL,
	          "owner active 1");
	/* with a second owner, one of them can step down */
	user_new(e, &o, "owner", &o2);
	r = user_path(e, "PATCH", &o2, o.id, json_pack("{s:s}", "role", "member"));
	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "role"), "member");
	kt_resp_free(r);
	/* and the other is the last again */
	r = user_path(e, "PATCH", &o2, o2.id, json_pack("{s:s}", "role", "admin"));
	kt_assert_problem(r, 409, "conflict", NULL);
	kt_resp_free(r);
	r = user_path(e, "PATCH", &o2, o2.id, json_pack("{s:s}", "status", "disabled"));
	kt_assert_problem(r, 409, "conflict", NULL);
	kt_resp_free(r);
	r = user_path(e, "DELETE", &o2, o2.id, NULL);
	kt_assert_problem(r, 409, "conflict", NULL);
	kt_resp_free(r);
	assert_db(o.tenant_id, "SELECT role || ' ' || status FROM auth.users WHERE id = $1", o2.id,
	          "owner active");
}

static void
users_of_another_tenant_are_404(void **state)
{
	env *e = *state;
	account a, b, bm;

	tenant_new(e, &a);
	tenant_new(e, &b);
	user_add(e, &b, "member", &bm);
	kt_resp *r = user_path(e, "GET", &a, bm.id, NULL);

	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "PATCH", &a, bm.id, json_pack("{s:s}", "role", "admin"));
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "PATCH", &a, bm.id, json_pack("{s:s}", "status", "disabled"));
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "DELETE", &a, bm.id, NULL);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	r = user_path(e, "GET", &a, b.id, NULL);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);
	assert_db(b.tenant_id,
	          "SELECT role || ' ' || status || ' ' || version FROM auth.users WHERE id = $1", bm.id,
	          "member active 1");
	/* nor does a's list show them */
	r = call(e->keel, "GET", "/api/v1/users", a.access, NULL);
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 1);
	assert_null(strstr(r->body, bm.id));
	kt_resp_free(r);
}

/* ==== the caller's tenant ==== */

static void
tenant_get_and_rename(void **state)
{
	env *e = *state;
	account o, a;

	tenant_new(e, &o);
	user_new(e, &o, "admin", &a);
	kt_resp *r = call(e->keel, "GET", "/api/v1/tenant", a.access, NULL);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "id"), o.tenant_id);
	assert_string_equal(kt_json_str(r->json, "slug"), o.slug);
	assert_string_equal(kt_json_str(r->json, "name"), "Acme Test");
	assert_true(kt_is_rfc3339_ms(kt_json_str(r->json, "created_at")));
	kt_assert_header(r, "ETag", "\"1\"");
	kt_resp_free(r);
	r = call(e->keel, "PATCH", "/api/v1/tenant", a.access, json_pack("{s:s}", "name", "Hijacked"));
	kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	assert_db(NULL, "SELECT name FROM core.tenants WHERE id = $1", o.tenant_id, "Acme Test");
	const char *if1[] = {"If-Match: \"1\"", NULL};

	r = call_ex(e->keel, NULL, "PATCH", "/api/v1/tenant", o.access, if1,
	            json_pack("{s:s}", "name", "  Renamed Inc  "));
	kt_assert_status(r, 200);
	kt_assert_header(r, "ETag", "\"2\"");
	assert_string_equal(kt_json_str(r->json, "name"), "Renamed Inc");
	kt_resp_free(r);
	r = call_ex(e->keel, NULL, "PATCH", "/api/v1/tenant", o.access, if1,
	            json_pack("{s:s}", "name", "Stale"));
	kt_assert_problem(r, 412, "precondition-failed", NULL);
	kt_resp_free(r);
	r = call(e->keel, "PATCH", "/api/v1/tenant", o.access, json_pack("{s:s}", "name", ""));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "name");
	kt_resp_free(r);
	r = call(e->keel, "PATCH", "/api/v1/tenant", o.access,
	         json_pack("{s:s, s:s}", "name", "X", "slug", "other"));
	kt_assert_problem(r, 422, "validation-failed", NULL);
	kt_assert_field_error(r, "slug");
	kt_resp_free(r);
	assert_db(NULL, "SELECT name || ' ' || version FROM core.tenants WHERE id = $1", o.tenant_id,
	          "Renamed Inc 2");
	r = call(e->keel, "GET", "/api/v1/tenant", NULL, NULL);
	assert_unauthenticated(r);
	kt_resp_free(r);
}

/* ==== the access token ==== */

static void
assert_me_rejects(const env *e, const char *token)
{
	kt_resp *r = me(e->keel, token);

	assert_unauthenticated(r);
	kt_resp_free(r);
}

static void
me_without_credentials_is_401(void **state)
{
	env *e = *state;
	const char *const headers[][2] = {{NULL, NULL},
	                                  {"Authorization: Bearer", NULL},
	                                  {"Authorization: Bearer ", NULL},
	                                  {"Authorization: Basic dXNlcjpwYXNz", NULL},
	                                  {"Authorization: Token abc", NULL}};

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		kt_resp *r = req_from(e->keel, NULL, "GET", "/api/v1/auth/me", NULL, headers[i], NULL);

		assert_unauthenticated(r);
		kt_resp_free(r);
	}
	kt_resp *r = me(e->keel, NULL);

	kt_assert_header(r, "WWW-Authenticate", "Bearer");
	kt_resp_free(r);
}

static void
garbage_tokens_are_401(void **state)
{
	env *e = *state;
	const char *garbage[] = {"garbage", "a.b",        "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9..",
	                         "a.b.c.d", "%%%.%%%.%%%"};

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_me_rejects(e, garbage[i]);
}

static void
forged_token_with_the_key_is_accepted(void **state)
{
	/* the control for the attacks below: our forging is right, so each rejection is the check */
	env *e = *state;
	account o;

	tenant_new(e, &o);
	char *tok = jwt_forge(e, hs_header(e), claims_of(&o, "owner"));
	kt_resp *r = me(e->keel, tok);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "id"), o.id);
	kt_resp_free(r);
	free(tok);
	/* keel's own tokens carry the scheme in any case */
	char header[2100];
	const char *h[] = {header, NULL};

	snprintf(header, sizeof(header), "Authorization: bearer %s", o.access);
	r = req_from(e->keel, NULL, "GET", "/api/v1/auth/me", NULL, h, NULL);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

static void
alg_none_token_is_401(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	char *t1 =
	    jwt_join(json_pack("{s:s, s:s}", "alg", "none", "typ", "JWT"), claims_of(&o, "owner"), "");
	char *t2 =
	    jwt_join(json_pack("{s:s, s:s}", "alg", "none", "kid", e->kid), claims_of(&o, "owner"), "");
	char *t3 =
	    jwt_forge(e, json_pack("{s:s, s:s}", "alg", "none", "kid", e->kid), claims_of(&o, "owner"));
	char *t4 = jwt_forge(e, json_pack("{s:s, s:s}", "alg", "HS512", "kid", e->kid),
	                     claims_of(&o, "owner"));

	assert_me_rejects(e, t1);
	assert_me_rejects(e, t2);
	assert_me_rejects(e, t3);
	assert_me_rejects(e, t4);
	free(t1);
	free(t2);
	free(t3);
	free(t4);
}

static void
tampered_payload_is_401(void **state)
{
	env *e = *state;
	account o, v;

	tenant_new(e, &o);
	user_new(e, &o, "viewer", &v);
	/* keel's own token for a viewer, its role raised to owner, its signature kept */
	json_t *claims = jwt_part(v.access, 1);

	json_object_set_new(claims, "role", json_string("owner"));
	char *sig = strrchr(v.access, '.') + 1;
	char *tok = jwt_join(jwt_part(v.access, 0), claims, sig);

	assert_me_rejects(e, tok);
	free(tok);
	/* and the untouched token works */
	kt_resp *r = me(e->keel, v.access);

	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "role"), "viewer");
	kt_resp_free(r);
}

/* A correctly signed token for o whose claims were changed by edit. */
static void
assert_claims_rejected(const env *e, const account *o, const char *key, json_t *value)
{
	json_t *claims = claims_of(o, "owner");

	if (value != NULL)
		json_object_set_new(claims, key, value);
	else
		json_object_del(claims, key);
	char *tok = jwt_forge(e, hs_header(e), claims);

	assert_me_rejects(e, tok);
	free(tok);
}

static void
expired_future_or_foreign_claims_are_401(void **state)
{
	env *e = *state;
	account o;
	json_int_t now = (json_int_t)time(NULL);

	tenant_new(e, &o);
	/* expired an hour ago (issued two hours ago) */
	json_t *claims = claims_of(&o, "owner");

	json_object_set_new(claims, "iat", json_integer(now - 7200));
	json_object_set_new(claims, "nbf", json_integer(now - 7200));
	json_object_set_new(claims, "exp", json_integer(now - 3600));
	char *tok = jwt_forge(e, hs_header(e), claims);

	assert_me_rejects(e, tok);
	free(tok);
	assert_claims_rejected(e, &o, "nbf", json_integer(now + 3600));
	assert_claims_rejected(e, &o, "iat", json_integer(now + 3600));
	assert_claims_rejected(e, &o, "iss", json_string("someone-else"));
	assert_claims_rejected(e, &o, "iss", NULL);
	assert_claims_rejected(e, &o, "tid", NULL);
	assert_claims_rejected(e, &o, "tid", json_string("not-a-uuid"));
	assert_claims_rejected(e, &o, "sub", NULL);
	assert_claims_rejected(e, &o, "exp", NULL);
	assert_claims_rejected(e, &o, "exp", json_string("soon"));
	assert_claims_rejected(e, &o, "role", json_string("superuser"));
}

static void
oversized_token_is_401(void **state)
{
	env *e = *state;
	account o;

	tenant_new(e, &o);
	/* correctly signed, valid claims, 10 KB: refused for its size alone */
	json_t *claims = claims_of(&o, "owner");
	char *pad = kt_repeat("x", 10 * 1024);

	json_object_set_new(claims, "pad", json_string(pad));
	char *tok = jwt_forge(e, hs_header(e), claims);

	assert_true(strlen(tok) > 10 * 1024);
	assert_me_rejects(e, tok);
	free(tok);
	free(pad);
	/* and plain 10 KB of noise */
	char *noise = kt_repeat("a", 10 * 1024);

	noise[100] = '.';
	noise[200] = '.';
	assert_me_rejects(e, noise);
	free(noise);
}

static void
es256_tokens_are_401(void **state)
{
	env *e = *state;
	account o;
	unsigned char raw[64];

	tenant_new(e, &o);
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	char *sig = b64url(raw, sizeof(raw));
	/* a key id keel does not have */
	char *t1 = jwt_join(
	    json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", "AAAAAAAAAAAAAAAA"),
	    claims_of(&o, "owner"), sig);
	/* algorithm confusion: our HS256 key named as an ES256 key, HMAC-signed */
	char *t2 = jwt_forge(e, json_pack("{s:s, s:s}", "alg", "ES256", "kid", e->kid),
	                     claims_of(&o, "owner"));
	/* an HS256 token under a key id keel does not have */
	char *t3 = jwt_forge(e, json_pack("{s:s, s:s}", "alg", "HS256", "kid", "AAAAAAAAAAAAAAAA"),
	                     claims_of(&o, "owner"));

	assert_me_rejects(e, t1);
	assert_me_rejects(e, t2);
	assert_me_rejects(e, t3);
	free(sig);
	free(t1);
	free(t2);
	free(t3);
}

static void
tenant_header_must_match_the_token(void **state)
{
	env *e = *state;
	account a, b;
	char hb[96], ha[96];

	tenant_new(e, &a);
	tenant_new(e, &b);
	snprintf(hb, sizeof(hb), "X-Tenant-ID: %s", b.tenant_id);
	snprintf(ha, sizeof(ha), "X-Tenant-ID: %s", a.tenant_id);
	const char *other[] = {hb, NULL}, *same[] = {ha, NULL};
	kt_resp *r = req_from(e->keel, NULL, "GET", "/api/v1/auth/me", a.access, other, NULL);

	kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	r = req_from(e->keel, NULL, "GET", "/api/v1/users", a.access, other, NULL);
	kt_assert_problem(r, 403, "forbidden", NULL);
	kt_resp_free(r);
	r = req_from(e->keel, NULL, "GET", "/api/v1/auth/me", a.access, same, NULL);
	kt_assert_status(r, 200);
	assert_string_equal(kt_json_str(r->json, "tenant_id"), a.tenant_id);
	kt_resp_free(r);
}

static void
jwks_is_empty_for_hs256(void **state)
{
	env *e = *state;
	kt_resp *r = req_from(e->keel, NULL, "GET", "/.well-known/jwks.json", NULL, NULL, NULL);

	kt_assert_status(r, 200);
	assert_true(json_is_object(r->json));
	assert_int_equal(json_object_size(r->json), 1);
	json_t *keys = json_object_get(r->json, "keys");

	assert_true(json_is_array(keys));
	assert_int_equal(json_array_size(keys), 0);
	kt_resp_free(r);
}

/* ==== secrets ==== */

static void
assert_absent(const char *where, const char *text, const char *secret)
{
	if (secret[0] != '\0' && strstr(text, secret) != NULL)
		fail_msg("%s contains a secret (%.24s...)", where, secret);
}

static void
secrets_stay_out_of_log_and_events(void **state)
{
	env *e = *state;
	const char *debug[] = {"KEEL_LOG_LEVEL=debug", NULL};
	kt_keel *k = kt_keel_start(debug, NULL);
	account o, first;
	char refresh2[256], access2[2048];

	tenant_on(e, k, &o); /* sign-up and sign-in */
	first = o;
	kt_resp *r = login_from(k, SRC_SECRETS, o.slug, o.email, WRONG);

	assert_unauthenticated(r);
	kt_resp_free(r);
	r = refresh_with(k, o.refresh);
	kt_assert_status(r, 200);
	COPY(refresh2, kt_json_str(r->json, "refresh_token"));
	COPY(access2, kt_json_str(r->json, "access_token"));
	kt_resp_free(r);
	r = refresh_with(k, o.refresh); /* reuse: a warning in the log */
	assert_unauthenticated(r);
	kt_resp_free(r);
	r = call(k, "POST", "/api/v1/auth/password", access2,
	         json_pack("{s:s, s:s}", "current_password", o.password, "new_password", NEW_PASSWORD));
	kt_assert_status(r, 204);
	kt_resp_free(r);
	COPY(o.password, NEW_PASSWORD);
	sign_in(k, &o);
	r = call(k, "POST", "/api/v1/auth/logout", NULL,
	         json_pack("{s:s}", "refresh_token", o.refresh));
	kt_assert_status(r, 204);
	kt_resp_free(r);
	char *hash = db_value(o.tenant_id, "SELECT password_hash FROM auth.users WHERE id = $1", o.id);
	char *events = db_value(o.tenant_id,
	                        "SELECT string_agg(e::text, E'\\n') FROM auth.security_events e", NULL);
	char *log;

	assert_int_equal(kt_keel_stop_log(k, &log), 0);
	assert_non_null(hash);
	assert_non_null(events);
	assert_non_null(log);
	assert_non_null(strstr(log, "\"msg\":\"request\""));
	assert_non_null(strstr(events, "sign_in_failed"));
	const char *secrets[] = {PASSWORD,  NEW_PASSWORD, WRONG,         hash,
	                         "$argon2", first.access, first.refresh, access2,
	                         refresh2,  o.access,     o.refresh};

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		assert_absent("keel's log", log, secrets[i]);
		assert_absent("auth.security_events", events, secrets[i]);
	}
	/* nor are the signatures of the access tokens anywhere */
	assert_absent("keel's log", log, strrchr(first.access, '.') + 1);
	assert_absent("keel's log", log, strrchr(o.access, '.') + 1);
	free(hash);
	free(events);
	free(log);
}

/* Last: keel stops on SIGTERM with exit status 0, its log free of sanitizer reports. */
static void
keel_stops_cleanly(void **state)
{
	env *e = *state;

	kt_keel_stop_clean(&e->keel, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(signup_creates_tenant_and_owner),
	    cmocka_unit_test(signup_rejects_each_invalid_field_with_422),
	    cmocka_unit_test(signup_accepts_boundary_values),
	    cmocka_unit_test(operator_create_refuses_what_signup_refuses),
	    cmocka_unit_test(operator_create_makes_a_tenant_like_signup),
	    cmocka_unit_test(signup_rejects_malformed_bodies),
	    cmocka_unit_test(signup_duplicate_slug_is_409_and_creates_nothing),
	    cmocka_unit_test(signup_closed_is_403),
	    cmocka_unit_test(login_returns_token_pair),
	    cmocka_unit_test(login_names_tenant_by_slug_id_or_header),
	    cmocka_unit_test(login_email_is_case_insensitive),
	    cmocka_unit_test(login_failures_are_indistinguishable),
	    cmocka_unit_test(failures_cost_a_current_verification_whatever_the_stored_parameters),
	    cmocka_unit_test(account_throttled_after_five_failures),
	    cmocka_unit_test(address_throttled_after_twenty_failures),
	    cmocka_unit_test(parallel_guesses_are_throttled_too),
	    cmocka_unit_test(refresh_rotates_and_reuse_revokes_the_family),
	    cmocka_unit_test(refresh_carries_the_current_role),
	    cmocka_unit_test(refresh_rejects_invalid_tokens),
	    cmocka_unit_test(logout_revokes_the_refresh_token),
	    cmocka_unit_test(password_change_revokes_sessions_and_swaps_password),
	    cmocka_unit_test(wrong_current_passwords_are_throttled_like_sign_ins),
	    cmocka_unit_test(right_current_password_after_fewer_failures_changes_it),
	    cmocka_unit_test(sign_in_and_password_change_failures_share_the_limit),
	    cmocka_unit_test(parallel_wrong_current_passwords_are_throttled_too),
	    cmocka_unit_test(disabled_user_cannot_refresh_or_sign_in),
	    cmocka_unit_test(me_returns_the_caller),
	    cmocka_unit_test(users_create_returns_location_and_etag),
	    cmocka_unit_test(users_create_rejects_invalid_fields),
	    cmocka_unit_test(users_list_walks_pages_without_duplicates),
	    cmocka_unit_test(users_get_is_for_admins_or_self),
	    cmocka_unit_test(users_update_honours_if_match),
	    cmocka_unit_test(users_delete_then_404),
	    cmocka_unit_test(users_delete_refuses_a_user_changed_meanwhile),
	    cmocka_unit_test(sign_in_across_a_password_change_fails),
	    cmocka_unit_test(sign_in_across_disabling_fails),
	    cmocka_unit_test(refresh_across_a_password_change_is_revoked),
	    cmocka_unit_test(users_role_matrix),
	    cmocka_unit_test(same_email_in_two_tenants_but_once_per_tenant),
	    cmocka_unit_test(last_owner_cannot_be_demoted_disabled_or_deleted),
	    cmocka_unit_test(users_of_another_tenant_are_404),
	    cmocka_unit_test(tenant_get_and_rename),
	    cmocka_unit_test(me_without_credentials_is_401),
	    cmocka_unit_test(garbage_tokens_are_401),
	    cmocka_unit_test(forged_token_with_the_key_is_accepted),
	    cmocka_unit_test(alg_none_token_is_401),
	    cmocka_unit_test(tampered_payload_is_401),
	    cmocka_unit_test(expired_future_or_foreign_claims_are_401),
	    cmocka_unit_test(oversized_token_is_401),
	    cmocka_unit_test(es256_tokens_are_401),
	    cmocka_unit_test(tenant_header_must_match_the_token),
	    cmocka_unit_test(jwks_is_empty_for_hs256),
	    cmocka_unit_test(secrets_stay_out_of_log_and_events),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("auth", tests, group_setup, group_teardown);
}
