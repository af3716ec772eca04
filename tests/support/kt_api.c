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
kt_strf(const char *fmt, ...)
{
	va_list ap, ap2;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);

	va_end(ap);
	assert_true(n >= 0);
	char *s = malloc((size_t)n + 1);

	vsnprintf(s, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
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
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);

	va_end(ap);
	assert_true(n >= 0);
	char *path = malloc((size_t)n + 1);

	va_start(ap, fmt);
	vsnprintf(path, (size_t)n + 1, fmt, ap);
	va_end(ap);

	char *auth = token != NULL ? kt_strf("Authorization: Bearer %s", token) : NULL;
	const char *h[3];
	int k = 0;

	if (auth != NULL)
		h[k++] = auth;
	if (body != NULL)
		h[k++] = "Content-Type: application/json";
	h[k] = NULL;
	kt_resp *r = kt_request(base, method, path, h, body, body != NULL ? strlen(body) : 0);

	free(auth);
	free(path);
	return r;
}

char *
kt_signup(const char *base, const char *slug, const char *password)
{
	char *body =
	    kt_strf("{\"name\":\"Tenant %s\",\"slug\":\"%s\",\"owner_email\":\"owner@%s.test\","
	            "\"owner_password\":\"%s\"}",
	            slug, slug, slug, password);
	kt_resp *r = kt_api(base, "POST", NULL, body, "/api/v1/tenants");

	if (r->status != 201)
		fail_msg("sign-up of %s: HTTP %ld %s", slug, r->status, r->body);
	char *id = strdup(kt_jstr(json_object_get(r->json, "tenant"), "id"));

	kt_resp_free(r);
	free(body);
	return id;
}

char *
kt_login(const char *base, const char *slug, const char *email, const char *password)
{
	char *body =
	    kt_strf("{\"tenant\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", slug, email, password);
	kt_resp *r = kt_api(base, "POST", NULL, body, "/api/v1/auth/login");

	if (r->status != 200)
		fail_msg("sign-in of %s in %s: HTTP %ld %s", email, slug, r->status, r->body);
	char *token = strdup(kt_jstr(r->json, "access_token"));

	kt_resp_free(r);
	free(body);
	return token;
}

char *
kt_user_make(const char *base, const char *owner_token, const char *slug, const char *role,
             const char *password)
{
	char *email = kt_strf("%s@%s.test", role, slug);
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
