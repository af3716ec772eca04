/*
 * Unit tests for src/svc/idempotency.c's parts without a database: what "the
 * same request" is (the request hash), and the Idempotency-Key refusals made
 * before the key is looked up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "kt_req.h"
#include "svc/svc_int.h"

static const keel_route things = {
    .method = "POST", .path = "/api/v1/things", .flags = KEEL_ROUTE_BODY, .summary = "create"};

/* Hex SHA-256 of the bytes of text[0..len), computed here. */
static void
sha256_hex(const void *text, size_t len, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, text, len);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* request_hash of method path body, copied out. */
static char *
hash_of(const char *method, const char *path, const char *body)
{
	keel_req *req = kt_req(method, path, NULL, NULL, body);
	char *h = strdup(request_hash(req));

	kt_req_free(req);
	return h;
}

static void
hash_is_sha256_of_method_path_and_body(void **state)
{
	(void)state;
	static const char bytes[] = "POST\0/api/v1/things\0{\"name\":\"A\"}";
	char want[65];
	char *got = hash_of("POST", "/api/v1/things", "{\"name\":\"A\"}");

	sha256_hex(bytes, sizeof(bytes) - 1, want);
	assert_string_equal(got, want);
	assert_int_equal(strlen(got), 64);
	free(got);
	/* no body: method and path alone */
	static const char bare[] = "POST\0/api/v1/things";

	got = hash_of("POST", "/api/v1/things", NULL);
	sha256_hex(bare, sizeof(bare), want); /* with the path's NUL */
	assert_string_equal(got, want);
	free(got);
}

static void
hash_tells_every_part_apart(void **state)
{
	(void)state;
	char *base = hash_of("POST", "/api/v1/things", "{}");
	char *again = hash_of("POST", "/api/v1/things", "{}");
	char *method = hash_of("PUT", "/api/v1/things", "{}");
	char *path = hash_of("POST", "/api/v1/thing", "{}");
	char *body = hash_of("POST", "/api/v1/things", "{ }");
	/* the separators keep "ab" + "c" apart from "a" + "bc" */
	char *shifted = hash_of("POST", "/api/v1/things{", "}");

	assert_string_equal(base, again);
	assert_string_not_equal(base, method);
	assert_string_not_equal(base, path);
	assert_string_not_equal(base, body);
	assert_string_not_equal(base, shifted);
	free(base);
	free(again);
	free(method);
	free(path);
	free(body);
	free(shifted);
}

/* keel_svc_idem_claim with Idempotency-Key: key (NULL: none) and no transaction. */
static keel_err
claim(const char *key, int *status)
{
	const kt_pair h[] = {{"Idempotency-Key", key}, {NULL, NULL}};
	keel_req *req = kt_req("POST", "/api/v1/things", NULL, key != NULL ? h : NULL, "{}");
	const char *owned = "unset";
	bool replayed = true;

	req->match.route = &things;
	keel_err err = keel_svc_idem_claim(req, NULL, &owned, &replayed);

	assert_null(owned);
	assert_false(replayed);
	*status = kt_req_failed_status(req);
	kt_req_free(req);
	return err;
}

static void
no_key_is_nothing_to_do(void **state)
{
	(void)state;
	int status;

	assert_int_equal(claim(NULL, &status), KEEL_OK);
	assert_int_equal(status, 0);
}

static void
keys_outside_1_to_255_characters_of_utf8_are_400(void **state)
{
	(void)state;
	char long_key[257];
	int status;

	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	assert_int_equal(claim("", &status), KEEL_EMALFORMED);
	assert_int_equal(status, 400);
	assert_int_equal(claim(long_key, &status), KEEL_EMALFORMED);
	assert_int_equal(status, 400);
	assert_int_equal(claim("caf\xc3", &status), KEEL_EMALFORMED);
	assert_int_equal(status, 400);
	assert_int_equal(claim("\xff\xfe", &status), KEEL_EMALFORMED);
	assert_int_equal(status, 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hash_is_sha256_of_method_path_and_body),
	    cmocka_unit_test(hash_tells_every_part_apart),
	    cmocka_unit_test(no_key_is_nothing_to_do),
	    cmocka_unit_test(keys_outside_1_to_255_characters_of_utf8_are_400),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
