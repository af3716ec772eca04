/*
 * kt_api: keel's own API from the integration tests (see kt.h): requests with a
 * bearer token and a JSON body, and the sign-up / sign-in / user steps most
 * tests begin with.
 */
#include "kt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
kt_vstrf(const char *fmt, va_list ap)
{
	va_list ap2;

	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);

	va_end(ap2);
	assert_true(n >= 0);
	char *s = malloc((size_t)n + 1);

	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *
kt_strf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *s = kt_vstrf(fmt, ap);

	va_end(ap);
	return s;
}

const char *
kt_json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

char *
kt_repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit);
	char *s = malloc(len * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(s + len * i, unit, len);
	s[len * n] = '\0';
	return s;
}

const char *
kt_jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "(not a string)";
}

kt_resp *
kt_api(const char *base, const char *method, const char *token, const char *body, const char *fmt,
       ...)
{
	kt_client c = {.base = base};
	va_list ap;

	va_start(ap, fmt);
	kt_resp *r = kt_vcall(&c, method, token, NULL, body, fmt, ap);

	va_end(ap);
	return r;
}

char *
kt_signup_body(const char *slug, const char *password)
{
	return kt_strf("{\"name\":\"Tenant %s\",\"slug\":\"%s\",\"owner_email\":\"owner@%s.test\","
	               "\"owner_password\":\"%s\"}",
	               slug, slug, slug, password);
}

char *
kt_signup(const char *base, const char *slug, const char *password)
{
	char *body = kt_signup_body(slug, password);
	kt_resp *r = kt_api(base, "POST", NULL, body, "/api/v1/tenants");

	if (r->status != 201)
		fail_msg("sign-up of %s: HTTP %ld %s", slug, r->status, r->body);
	char *id = strdup(kt_jstr(json_object_get(r->json, "tenant"), "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

char *
kt_sign_in_body(const char *slug, const char *email, const char *password)
{
	return kt_strf("{\"tenant\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", slug, email,
	               password);
}

kt_resp *
kt_sign_in(const char *base, const char *slug, const char *email, const char *password)
{
	char *body = kt_sign_in_body(slug, email, password);
	kt_resp *r = kt_api(base, "POST", NULL, body, "/api/v1/auth/login");

	free(body);
	return r;
}

char *
kt_login(const char *base, const char *slug, const char *email, const char *password)
{
	kt_resp *r = kt_sign_in(base, slug, email, password);

	if (r->status != 200)
		fail_msg("sign-in of %s in %s: HTTP %ld %s", email, slug, r->status, r->body);
	char *token = strdup(kt_jstr(r->json, "access_token"));

	kt_resp_free(r);
	return token;
}

char *
kt_user_make(const char *base, const char *owner_token, const char *slug, const char *local,
             const char *role, const char *password)
{
	char *email = kt_strf("%s@%s.test", local, slug);
	char *body =
	    kt_strf("{\"email\":\"%s\",\"password\":\"%s\",\"role\":\"%s\"}", email, password, role);
	kt_resp *r = kt_api(base, "POST", owner_token, body, "/api/v1/users");

	if (r->status != 201)
		fail_msg("user %s: HTTP %ld %s", email, r->status, r->body);
	kt_resp_free(r);
	free(body);
	char *token = kt_login(base, slug, email, password);

	free(email);
	return token;
}

/* ---- a client with options, tenants and their users, organizations, checks ---- */

kt_resp *
kt_vcall(kt_client *c, const char *method, const char *token, const char *const *extra,
         const char *body, const char *fmt, va_list ap)
{
	char *path = kt_vstrf(fmt, ap);
	char *auth = token != NULL ? kt_strf("Authorization: Bearer %s", token) : NULL;
	char *reqid = NULL;
	const char *h[KT_EXTRA_MAX + 4];
	int k = 0;

	if (c->id_prefix != NULL) {
		snprintf(c->request_id, sizeof(c->request_id), "%s-%d", c->id_prefix, ++c->seq);
		reqid = kt_strf("X-Request-ID: %s", c->request_id);
		h[k++] = reqid;
	}
	if (auth != NULL)
		h[k++] = auth;
	if (body != NULL)
		h[k++] = "Content-Type: application/json";
	for (const char *const *e = extra; e != NULL && *e != NULL; e++) {
		assert_true(k < KT_EXTRA_MAX + 3);
		h[k++] = *e;
	}
	h[k] = NULL;
	kt_resp *r =
	    kt_request_from(c->source, c->base, method, path, h, body, body != NULL ? strlen(body) : 0);

	free(reqid);
	free(auth);
	free(path);
	return r;
}

kt_resp *
kt_call(kt_client *c, const char *method, const char *token, const char *const *extra,
        const char *body, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_resp *r = kt_vcall(c, method, token, extra, body, fmt, ap);

	va_end(ap);
	return r;
}

void
kt_tenant_make(kt_client *c, kt_tenant *t, const char *slug, const char *password)
{
	char *body = kt_signup_body(slug, password);
	kt_resp *r = kt_call(c, "POST", NULL, NULL, body, "/api/v1/tenants");

	kt_assert_status(r, 201);
	t->slug = strdup(slug);
	t->password = password;
	t->id = strdup(kt_jstr(json_object_get(r->json, "tenant"), "id"));
	t->owner.id = strdup(kt_jstr(json_object_get(r->json, "owner"), "id"));
	t->signup = json_incref(r->json);
	kt_resp_free(r);
	free(body);
}

kt_resp *
kt_tenant_login_as(kt_client *c, const kt_tenant *t, const char *who, const char *password)
{
	char *email = kt_strf("%s@%s.test", who, t->slug);
	char *body = kt_sign_in_body(t->slug, email, password);
	kt_resp *r = kt_call(c, "POST", NULL, NULL, body, "/api/v1/auth/login");

	free(body);
	free(email);
	return r;
}

char *
kt_tenant_login(kt_client *c, const kt_tenant *t, const char *who)
{
	kt_resp *r = kt_tenant_login_as(c, t, who, t->password);

	kt_assert_status(r, 200);
	char *token = strdup(kt_jstr(r->json, "access_token"));

	kt_resp_free(r);
	return token;
}

void
kt_tenant_user(kt_client *c, const kt_tenant *t, kt_user *u, const char *name, const char *role)
{
	char *body = kt_strf("{\"email\":\"%s@%s.test\",\"password\":\"%s\",\"role\":\"%s\"}", name,
	                     t->slug, t->password, role);
	kt_resp *r = kt_call(c, "POST", t->owner.token, NULL, body, "/api/v1/users");

	kt_assert_status(r, 201);
	u->id = strdup(kt_jstr(r->json, "id"));
	kt_resp_free(r);
	free(body);
	u->token = kt_tenant_login(c, t, name);
}

void
kt_tenant_staffed(kt_client *c, kt_tenant *t, const char *slug, const char *password)
{
	kt_tenant_make(c, t, slug, password);
	t->owner.token = kt_tenant_login(c, t, "owner");
	kt_tenant_user(c, t, &t->admin, "admin", "admin");
	kt_tenant_user(c, t, &t->member, "member", "member");
	kt_tenant_user(c, t, &t->viewer, "viewer", "viewer");
}

void
kt_user_free(kt_user *u)
{
	free(u->id);
	free(u->token);
	u->id = u->token = NULL;
}

void
kt_tenant_free(kt_tenant *t)
{
	free(t->id);
	free(t->slug);
	json_decref(t->signup);
	kt_user_free(&t->owner);
	kt_user_free(&t->admin);
	kt_user_free(&t->member);
	kt_user_free(&t->viewer);
	memset(t, 0, sizeof(*t));
}

json_t *
kt_org_create(kt_client *c, const char *token, const char *code)
{
	char *body = kt_strf("{\"name\":\"Org %s\",\"code\":\"%s\"}", code, code);
	kt_resp *r = kt_call(c, "POST", token, NULL, body, "/api/v1/organizations");

	kt_assert_status(r, 201);
	json_t *org = json_incref(r->json);

	kt_resp_free(r);
	free(body);
	return org;
}

char *
kt_org_make(kt_client *c, const char *token, const char *code)
{
	json_t *org = kt_org_create(c, token, code);
	char *id = strdup(kt_jstr(org, "id"));

	json_decref(org);
	return id;
}

char *
kt_div_make(kt_client *c, const char *token, const char *org_id, const char *parent,
            const char *code)
{
	char *body = parent != NULL ? kt_strf("{\"name\":\"Division %s\",\"code\":\"%s\","
	                                      "\"parent_id\":\"%s\"}",
	                                      code, code, parent)
	                            : kt_strf("{\"name\":\"Division %s\",\"code\":\"%s\"}", code, code);
	kt_resp *r =
	    kt_call(c, "POST", token, NULL, body, "/api/v1/organizations/%s/divisions", org_id);

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

bool
kt_header_is(const kt_resp *r, const char *name, const char *want)
{
	char *v = kt_header(r, name);
	bool same = v != NULL && strcmp(v, want) == 0;

	free(v);
	return same;
}

void
kt_check_header(const kt_resp *r, const char *name, const char *want, const char *file, int line)
{
	char *v = kt_header(r, name);
	bool same = v != NULL && strcmp(v, want) == 0;

	if (!same)
		print_error("%s:%d: header %s is \"%s\", expected \"%s\"\n", file, line, name,
		            v ? v : "(absent)", want);
	free(v);
	if (!same)
		_fail(file, line);
}

bool
kt_is_uuid_v7(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : strchr("0123456789abcdef", s[i]) == NULL)
			return false;
	}
	return s[14] == '7' && strchr("89ab", s[19]) != NULL;
}

bool
kt_is_rfc3339_ms(const char *s)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (s == NULL || strlen(s) != strlen(shape))
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return false;
	return true;
}

void
kt_assert_compact_body(const kt_resp *r)
{
	char *compact = json_dumps(r->json, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_non_null(compact);
	if (r->len != strlen(compact) || memcmp(r->body, compact, r->len) != 0)
		fail_msg("body is not compact:\n%.*s\nexpected:\n%s", (int)r->len, r->body, compact);
	assert_null(memmem(r->body, r->len, " : ", 3));
	free(compact);
}

bool
kt_has_field_error(const kt_resp *r, const char *field)
{
	json_t *errors = json_object_get(r->json, "errors");
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e)
	{
		if (strcmp(kt_jstr(e, "field"), field) == 0 &&
		    json_is_string(json_object_get(e, "message")))
			return true;
	}
	return false;
}

/* The members every problem has: title, detail, and request_id, which is the X-Request-ID header.
 */
static bool
problem_members(const kt_resp *r)
{
	char *rid = kt_header(r, "X-Request-ID");
	bool ok = json_is_string(json_object_get(r->json, "title")) &&
	          json_is_string(json_object_get(r->json, "detail")) && rid != NULL &&
	          strcmp(kt_jstr(r->json, "request_id"), rid) == 0;

	free(rid);
	return ok;
}

void
kt_check_field_error(const kt_resp *r, const char *field, const char *file, int line)
{
	if (!kt_has_field_error(r, field))
		kt_fail_at(file, line, "no error for field \"%s\": %s", field, r->body);
}

void
kt_check_problem(const kt_resp *r, long status, const char *slug, const char *field,
                 const char *file, int line)
{
	if (r->status != status)
		kt_fail_at(file, line, "HTTP status %ld, expected %ld; body: %s", r->status, status,
		           r->body);
	if (!kt_header_is(r, "Content-Type", "application/problem+json") || r->json == NULL)
		kt_fail_at(file, line, "not application/problem+json: %s\n%s", r->headers, r->body);
	if (json_integer_value(json_object_get(r->json, "status")) != status)
		kt_fail_at(file, line, "problem status is not %ld: %s", status, r->body);
	if (!problem_members(r))
		kt_fail_at(file, line, "no title, detail or request_id (the X-Request-ID header): %s\n%s",
		           r->headers, r->body);
	if (slug != NULL) {
		char *type = kt_strf("urn:keel:problem:%s", slug);
		bool same = strcmp(kt_jstr(r->json, "type"), type) == 0;

		free(type);
		if (!same)
			kt_fail_at(file, line, "problem type is not urn:keel:problem:%s: %s", slug, r->body);
	}
	if (field != NULL && !kt_has_field_error(r, field))
		kt_fail_at(file, line, "no error for field \"%s\": %s", field, r->body);
}
