/*
 * Unit tests for src/auth/jwt.c.
 *
 * Keys are generated here with OpenSSL.  Tokens for the attack and claim tests
 * are forged here, independently of jwt.c: JSON with jansson, base64url and
 * HMAC/ECDSA with OpenSSL, signed with the ring's real secret so that each
 * rejection is due to the one thing the test changed (a baseline test checks
 * that an unchanged forged token is accepted).  Reasons (why) are compared
 * exactly, so a token rejected for the wrong reason fails the test too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "auth/jwt.h"

#define NOW     ((int64_t)1900000000)
#define ISS     "https://keel.test"
#define AUD     "keel-api"
#define SECRET  "0123456789abcdef0123456789abcdef-current"
#define SECRET2 "fedcba9876543210fedcba9876543210-previous"
#define SUB     "0190a6f2-1c3d-7e4f-8a5b-6c7d8e9f0a1b"
#define TID     "0190a6f2-0000-7000-8000-000000000001"
#define JTI     "0190a6f2-ffff-7fff-bfff-ffffffffffff"

static struct {
	EVP_PKEY *a, *b;      /* P-256 key pairs */
	char *a_priv, *a_pub; /* PEM */
	char *b_priv, *b_pub; /* PEM */
	unsigned char *a_der; /* SubjectPublicKeyInfo of a */
	size_t a_der_len;
	char kid_secret[32], kid_secret2[32], kid_a[32], kid_b[32];
	keel_jwt_keys *hs;    /* SECRET, no audience */
	keel_jwt_keys *es;    /* private key a */
	keel_jwt_keys *aud;   /* SECRET, audience AUD */
	keel_jwt_keys *mixed; /* private key a and SECRET */
} t;

/* ---- encoding helpers ---------------------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static char *
strf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* base64url without padding, malloc'd. */
static char *
b64url(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return out;
}

/* Decode base64url (no padding) into a malloc'd buffer of *n bytes. */
static unsigned char *
unb64url(const char *s, size_t *n)
{
	size_t len = strlen(s), pad = (4 - len % 4) % 4;
	char *in = malloc(len + pad + 1);
	unsigned char *out = malloc(len + pad + 1);
	int r;

	for (size_t i = 0; i < len; i++)
		in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(in + len, '=', pad);
	in[len + pad] = '\0';
	r = EVP_DecodeBlock(out, (unsigned char *)in, (int)(len + pad));
	assert_true(r >= (int)pad);
	*n = (size_t)r - pad;
	free(in);
	return out;
}

/* Segment i (0..2) of token, decoded and parsed as JSON. */
static json_t *
segment_json(const char *token, int i)
{
	const char *start = token;
	char *seg;
	unsigned char *raw;
	size_t n;
	json_t *j;

	for (int k = 0; k < i; k++)
		start = strchr(start, '.') + 1;
	seg = strndup(start, strcspn(start, "."));
	raw = unb64url(seg, &n);
	j = json_loadb((const char *)raw, n, 0, NULL);
	assert_non_null(j);
	free(seg);
	free(raw);
	return j;
}

/* The kid jwt.c must derive: base64url(SHA-256(bytes)[0..12)). */
static void
kid_of(const void *bytes, size_t len, char *kid)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char *s;

	SHA256(bytes, len, h);
	s = b64url(h, 12);
	assert_int_equal(strlen(s), 16);
	strcpy(kid, s);
	free(s);
}

/* ---- keys ---------------------------------------------------------------------------------- */

static EVP_PKEY *
keygen(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(k);
	return k;
}

static char *
bio_take(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s = strndup(data, (size_t)n);

	BIO_free(bio);
	return s;
}

static char *
pem_private(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
	return bio_take(bio);
}

static char *
pem_public(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
	return bio_take(bio);
}

static keel_jwt_config
cfg_base(void)
{
	keel_jwt_config c = {.issuer = ISS, .skew_s = 30};

	return c;
}

static keel_jwt_keys *
ring(const keel_jwt_config *cfg)
{
	keel_jwt_keys *k = NULL;
	char err[256] = "";

	assert_int_equal(keel_jwt_keys_create(cfg, &k, err, sizeof err), KEEL_OK);
	assert_non_null(k);
	return k;
}

static int
group_setup(void **state)
{
	keel_jwt_config c = cfg_base();
	unsigned char *p;
	int n;

	(void)state;
	t.a = keygen("P-256");
	t.b = keygen("P-256");
	t.a_priv = pem_private(t.a);
	t.a_pub = pem_public(t.a);
	t.b_priv = pem_private(t.b);
	t.b_pub = pem_public(t.b);
	n = i2d_PUBKEY(t.a, NULL);
	t.a_der = malloc((size_t)n);
	p = t.a_der;
	t.a_der_len = (size_t)i2d_PUBKEY(t.a, &p);
	kid_of(t.a_der, t.a_der_len, t.kid_a);
	p = NULL;
	n = i2d_PUBKEY(t.b, &p);
	kid_of(p, (size_t)n, t.kid_b);
	OPENSSL_free(p);
	kid_of(SECRET, strlen(SECRET), t.kid_secret);
	kid_of(SECRET2, strlen(SECRET2), t.kid_secret2);

	c.secret = SECRET;
	t.hs = ring(&c);
	c.audience = AUD;
	t.aud = ring(&c);
	c = cfg_base();
	c.private_key_pem = t.a_priv;
	t.es = ring(&c);
	c.secret = SECRET;
	t.mixed = ring(&c);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	keel_jwt_keys_destroy(t.hs);
	keel_jwt_keys_destroy(t.aud);
	keel_jwt_keys_destroy(t.es);
	keel_jwt_keys_destroy(t.mixed);
	EVP_PKEY_free(t.a);
	EVP_PKEY_free(t.b);
	free(t.a_priv);
	free(t.a_pub);
	free(t.b_priv);
	free(t.b_pub);
	free(t.a_der);
	return 0;
}

/* ---- forging tokens ------------------------------------------------------------------------ */

static keel_jwt_claims
std_claims(void)
{
	keel_jwt_claims c;

	memset(&c, 0, sizeof c);
	strcpy(c.sub, SUB);
	strcpy(c.tid, TID);
	strcpy(c.role, "member");
	strcpy(c.jti, JTI);
	c.iat = NOW - 10;
	c.nbf = NOW - 10;
	c.exp = NOW + 900;
	return c;
}

static json_t *
std_header(const char *alg, const char *kid)
{
	return json_pack("{s:s, s:s, s:s}", "alg", alg, "typ", "JWT", "kid", kid);
}

static json_t *
std_payload(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", ISS, "sub", SUB, "tid", TID,
	                 "role", "member", "jti", JTI, "iat", (json_int_t)(NOW - 10), "nbf",
	                 (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 900));
}

/* The standard payload with member name replaced by value (stolen), or removed when NULL. */
static json_t *
payload_with(const char *name, json_t *value)
{
	json_t *pl = std_payload();

	if (value != NULL)
		json_object_set_new(pl, name, value);
	else
		json_object_del(pl, name);
	return pl;
}

/* "h.p" from JSON texts. */
static char *
signing_input(const char *hdr, const char *pl)
{
	char *h = b64url((const unsigned char *)hdr, strlen(hdr));
	char *p = b64url((const unsigned char *)pl, strlen(pl));
	char *s = strf("%s.%s", h, p);

	free(h);
	free(p);
	return s;
}

/* An HMAC-signed token over the JSON texts hdr and pl with any key and digest. */
static char *
forge_hmac_text(const EVP_MD *md, const void *key, size_t keylen, const char *hdr, const char *pl)
{
	char *input = signing_input(hdr, pl), *sig, *tok;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	assert_non_null(
	    HMAC(md, key, (int)keylen, (const unsigned char *)input, strlen(input), mac, &maclen));
	sig = b64url(mac, maclen);
	tok = strf("%s.%s", input, sig);
	free(input);
	free(sig);
	return tok;
}

/* Like forge_hmac_text, from JSON values (both stolen). */
static char *
forge_hmac(const EVP_MD *md, const void *key, size_t keylen, json_t *hdr, json_t *pl)
{
	char *h = json_dumps(hdr, JSON_COMPACT), *p = json_dumps(pl, JSON_COMPACT);
	char *tok = forge_hmac_text(md, key, keylen, h, p);

	free(h);
	free(p);
	json_decref(hdr);
	json_decref(pl);
	return tok;
}

/* HS256 with the ring's real SECRET. */
static char *
forge(json_t *hdr, json_t *pl)
{
	return forge_hmac(EVP_sha256(), SECRET, strlen(SECRET), hdr, pl);
}

/* An ES256 token made here with OpenSSL (raw r||s signature), hdr and pl stolen. */
static char *
forge_es256(EVP_PKEY *key, json_t *hdr, json_t *pl)
{
	char *h = json_dumps(hdr, JSON_COMPACT), *p = json_dumps(pl, JSON_COMPACT);
	char *input = signing_input(h, p), *sig, *tok;
	unsigned char der[128], raw[64];
	const unsigned char *dp = der;
	size_t der_len = sizeof der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *es;

	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, der, &der_len, (const unsigned char *)input, strlen(input)),
	                 1);
	es = d2i_ECDSA_SIG(NULL, &dp, (long)der_len);
	assert_non_null(es);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
	sig = b64url(raw, sizeof raw);
	tok = strf("%s.%s", input, sig);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	free(h);
	free(p);
	free(input);
	free(sig);
	json_decref(hdr);
	json_decref(pl);
	return tok;
}

/* Check an ES256 token's signature with key, here, without jwt.c. */
static int
es256_verify_here(EVP_PKEY *key, const char *token)
{
	const char *dot = strrchr(token, '.');
	size_t n;
	unsigned char *raw = unb64url(dot + 1, &n), der[128], *dp = der;
	ECDSA_SIG *es = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int der_len, ok;

	assert_int_equal(n, 64);
	ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
	der_len = i2d_ECDSA_SIG(es, &dp);
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)token,
	                      (size_t)(dot - token)) == 1;
	EVP_MD_CTX_free(md);
	ECDSA_SIG_free(es);
	free(raw);
	return ok;
}

/* ---- expectations -------------------------------------------------------------------------- */

/* why is a short lowercase phrase and shows nothing of the token (nor of any segment). */
static void
why_is_clean(const char *why, const char *token)
{
	char *copy, *save = NULL;

	assert_non_null(why);
	assert_true(strlen(why) > 0 && strlen(why) < 48);
	for (const char *p = why; *p != '\0'; p++)
		assert_true((*p >= 'a' && *p <= 'z') || *p == ' ' || *p == '-');
	if (token == NULL)
		return;
	copy = strdup(token);
	for (char *seg = strtok_r(copy, ".", &save); seg != NULL; seg = strtok_r(NULL, ".", &save))
		if (strlen(seg) >= 4)
			assert_null(strstr(why, seg));
	free(copy);
}

static void
expect_reject_at(const keel_jwt_keys *keys, const char *token, int64_t now, const char *want)
{
	keel_jwt_claims out, zero;
	const char *why = NULL;

	memset(&out, 0xa5, sizeof out);
	memset(&zero, 0, sizeof zero);
	assert_int_equal(keel_jwt_verify(keys, token, now, &out, &why), KEEL_EUNAUTH);
	why_is_clean(why, token);
	assert_string_equal(why, want);
	assert_memory_equal(&out, &zero, sizeof out);
}

static void
expect_reject(const keel_jwt_keys *keys, const char *token, const char *want)
{
	expect_reject_at(keys, token, NOW, want);
}

static void
expect_accept_at(const keel_jwt_keys *keys, const char *token, int64_t now, keel_jwt_claims *out)
{
	const char *why = "not set";

	assert_int_equal(keel_jwt_verify(keys, token, now, out, &why), KEEL_OK);
	assert_null(why);
}

static void
expect_accept(const keel_jwt_keys *keys, const char *token)
{
	keel_jwt_claims out;

	expect_accept_at(keys, token, NOW, &out);
}

/* Forge (with SECRET) and expect the hs ring to reject with want; hdr and pl stolen. */
static void
reject_forged(json_t *hdr, json_t *pl, const char *want)
{
	char *tok = forge(hdr, pl);

	expect_reject(t.hs, tok, want);
	free(tok);
}

static void
accept_forged(const keel_jwt_keys *keys, json_t *hdr, json_t *pl)
{
	char *tok = forge(hdr, pl);

	expect_accept(keys, tok);
	free(tok);
}

static void
assert_claims_equal(const keel_jwt_claims *a, const keel_jwt_claims *b)
{
	assert_string_equal(a->sub, b->sub);
	assert_string_equal(a->tid, b->tid);
	assert_string_equal(a->role, b->role);
	assert_string_equal(a->jti, b->jti);
	assert_int_equal(a->iat, b->iat);
	assert_int_equal(a->nbf, b->nbf);
	assert_int_equal(a->exp, b->exp);
}

/* ---- round trips --------------------------------------------------------------------------- */

static void
hs256_round_trip(void **state)
{
	keel_jwt_claims in = std_claims(), out;
	char *tok = keel_jwt_sign(t.hs, &in), *input, *sig;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	json_t *h, *p;

	(void)state;
	assert_non_null(tok);
	expect_accept_at(t.hs, tok, NOW, &out);
	assert_claims_equal(&out, &in);

	h = segment_json(tok, 0);
	assert_int_equal(json_object_size(h), 3);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "HS256");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
	assert_string_equal(json_string_value(json_object_get(h, "kid")), t.kid_secret);
	p = segment_json(tok, 1);
	assert_string_equal(json_string_value(json_object_get(p, "iss")), ISS);
	assert_null(json_object_get(p, "aud"));
	assert_string_equal(json_string_value(json_object_get(p, "tid")), TID);
	assert_int_equal(json_integer_value(json_object_get(p, "nbf")), NOW - 10);

	/* The signature is plain HMAC-SHA256 with the secret: recompute it here. */
	input = strndup(tok, (size_t)(strrchr(tok, '.') - tok));
	assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)input,
	                     strlen(input), mac, &maclen));
	sig = b64url(mac, maclen);
	assert_string_equal(strrchr(tok, '.') + 1, sig);
	free(sig);
	free(input);
	json_decref(h);
	json_decref(p);
	free(tok);
}

static void
sign_writes_audience_and_lowercase_ids(void **state)
{
	keel_jwt_claims in = std_claims(), out;
	char *tok;
	json_t *p;

	(void)state;
	strcpy(in.sub, "0190A6F2-1C3D-7E4F-8A5B-6C7D8E9F0A1B");
	in.nbf = 12345; /* ignored: nbf = iat */
	tok = keel_jwt_sign(t.aud, &in);
	assert_non_null(tok);
	p = segment_json(tok, 1);
	assert_string_equal(json_string_value(json_object_get(p, "aud")), AUD);
	assert_string_equal(json_string_value(json_object_get(p, "sub")), SUB);
	assert_int_equal(json_integer_value(json_object_get(p, "nbf")), in.iat);
	expect_accept_at(t.aud, tok, NOW, &out);
	assert_string_equal(out.sub, SUB);
	assert_int_equal(out.nbf, in.iat);
	json_decref(p);
	free(tok);
}

static void
es256_round_trip(void **state)
{
	keel_jwt_claims in = std_claims(), out;
	char *tok = keel_jwt_sign(t.es, &in);
	json_t *h;

	(void)state;
	assert_non_null(tok);
	expect_accept_at(t.es, tok, NOW, &out);
	assert_claims_equal(&out, &in);
	h = segment_json(tok, 0);
	assert_int_equal(json_object_size(h), 3);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
	assert_string_equal(json_string_value(json_object_get(h, "kid")), t.kid_a);
	assert_int_equal(strlen(strrchr(tok, '.') + 1), 86); /* 64 bytes r||s */
	assert_true(es256_verify_here(t.a, tok));
	/* The mixed ring signs with the EC key too, and the HS ring does not know it. */
	free(tok);
	tok = keel_jwt_sign(t.mixed, &in);
	expect_accept(t.mixed, tok);
	expect_accept(t.es, tok);
	expect_reject(t.hs, tok, "unknown key");
	json_decref(h);
	free(tok);
}

/* Many signatures: r or s with leading zero bytes (about 1 in 64) must survive both ways. */
static void
es256_many_signatures(void **state)
{
	keel_jwt_claims in = std_claims();
	keel_jwt_claims out;

	(void)state;
	for (int i = 0; i < 400; i++) {
		char *tok, *forged;

		snprintf(in.jti + 24, 13, "%012d", i);
		tok = keel_jwt_sign(t.es, &in);
		assert_non_null(tok);
		expect_accept_at(t.es, tok, NOW, &out);
		assert_string_equal(out.jti, in.jti);
		assert_true(es256_verify_here(t.a, tok));
		forged = forge_es256(t.a, std_header("ES256", t.kid_a),
		                     payload_with("jti", json_string(in.jti)));
		expect_accept(t.es, forged);
		free(forged);
		free(tok);
	}
}

static void
forged_baseline_accepted(void **state)
{
	char *tok;

	(void)state;
	accept_forged(t.hs, std_header("HS256", t.kid_secret), std_payload());
	/* "typ" is optional. */
	accept_forged(t.hs, json_pack("{s:s, s:s}", "alg", "HS256", "kid", t.kid_secret),
	              std_payload());
	tok = forge_es256(t.a, std_header("ES256", t.kid_a), std_payload());
	expect_accept(t.es, tok);
	free(tok);
}

/* ---- JWKS ---------------------------------------------------------------------------------- */

static EVP_PKEY *
key_from_jwk(json_t *jwk)
{
	size_t xn, yn;
	unsigned char *x = unb64url(json_string_value(json_object_get(jwk, "x")), &xn);
	unsigned char *y = unb64url(json_string_value(json_object_get(jwk, "y")), &yn);
	unsigned char point[65];
	char group[] = "prime256v1";
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	assert_int_equal(xn, 32);
	assert_int_equal(yn, 32);
	point[0] = 4;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point);
	params[2] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
	EVP_PKEY_CTX_free(ctx);
	free(x);
	free(y);
	return k;
}

static void
assert_jwk_shape(json_t *jwk, const char *kid)
{
	assert_int_equal(json_object_size(jwk), 7);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
	assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
	assert_string_equal(json_string_value(json_object_get(jwk, "kid")), kid);
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "x"))), 43);
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "y"))), 43);
	assert_null(json_object_get(jwk, "d"));
}

static void
jwks_es256_reconstructs_key(void **state)
{
	keel_jwt_claims in = std_claims();
	json_t *jwks = keel_jwt_jwks(t.es), *keys = json_object_get(jwks, "keys"), *jwk, *h;
	char *tok = keel_jwt_sign(t.es, &in);
	EVP_PKEY *k;

	(void)state;
	assert_int_equal(json_array_size(keys), 1);
	jwk = json_array_get(keys, 0);
	assert_jwk_shape(jwk, t.kid_a);
	h = segment_json(tok, 0);
	assert_string_equal(json_string_value(json_object_get(h, "kid")), t.kid_a);
	k = key_from_jwk(jwk);
	assert_int_equal(EVP_PKEY_eq(k, t.a), 1);
	assert_true(es256_verify_here(k, tok)); /* only the JWKS-derived key */
	EVP_PKEY_free(k);
	json_decref(h);
	json_decref(jwks);
	free(tok);
}

static void
jwks_lists_only_public_ec_keys(void **state)
{
	keel_jwt_config c = cfg_base();
	keel_jwt_keys *k;
	json_t *jwks = keel_jwt_jwks(t.hs), *list;
	char *text;

	(void)state;
	text = json_dumps(jwks, JSON_COMPACT);
	assert_string_equal(text, "{\"keys\":[]}");
	free(text);
	json_decref(jwks);

	/* A ring signing with HS256 while still accepting an old EC key publishes that key. */
	c.secret = SECRET;
	c.previous_public_pem = t.b_pub;
	k = ring(&c);
	jwks = keel_jwt_jwks(k);
	list = json_object_get(jwks, "keys");
	assert_int_equal(json_array_size(list), 1);
	assert_jwk_shape(json_array_get(list, 0), t.kid_b);
	text = json_dumps(jwks, 0);
	assert_null(strstr(text, SECRET));
	free(text);
	json_decref(jwks);
	keel_jwt_keys_destroy(k);

	/* Mixed ring: only the EC key. */
	jwks = keel_jwt_jwks(t.mixed);
	list = json_object_get(jwks, "keys");
	assert_int_equal(json_array_size(list), 1);
	assert_jwk_shape(json_array_get(list, 0), t.kid_a);
	json_decref(jwks);
}

/* ---- rotation ------------------------------------------------------------------------------ */

static void
rotation_hs256(void **state)
{
	keel_jwt_config c = cfg_base();
	keel_jwt_keys *old, *now, *bare;
	keel_jwt_claims in = std_claims();
	char *tok, *fresh;
	json_t *h;

	(void)state;
	c.secret = SECRET2;
	old = ring(&c);
	c.secret = SECRET;
	bare = ring(&c);
	c.previous_secret = SECRET2;
	now = ring(&c);

	tok = keel_jwt_sign(old, &in);
	h = segment_json(tok, 0);
	assert_string_equal(json_string_value(json_object_get(h, "kid")), t.kid_secret2);
	expect_accept(now, tok);
	expect_reject(bare, tok, "unknown key");
	/* The rotated ring signs with the new secret only. */
	fresh = keel_jwt_sign(now, &in);
	expect_accept(bare, fresh);
	expect_reject(old, fresh, "unknown key");

	json_decref(h);
	free(tok);
	free(fresh);
	keel_jwt_keys_destroy(old);
	keel_jwt_keys_destroy(now);
	keel_jwt_keys_destroy(bare);
}

static void
rotation_es256(void **state)
{
	keel_jwt_config c = cfg_base();
	keel_jwt_keys *old, *now;
	keel_jwt_claims in = std_claims();
	char *tok, *hs_tok;

	(void)state;
	c.private_key_pem = t.b_priv;
	old = ring(&c);
	c.private_key_pem = t.a_priv;
	c.previous_public_pem = t.b_pub;
	now = ring(&c);

	tok = keel_jwt_sign(old, &in);
	expect_accept(now, tok);
	expect_reject(t.es, tok, "unknown key");
	/* From HS256 to ES256: the mixed ring still accepts tokens made with the secret. */
	hs_tok = keel_jwt_sign(t.hs, &in);
	expect_accept(t.mixed, hs_tok);
	expect_reject(t.es, hs_tok, "unknown key");

	free(tok);
	free(hs_tok);
	keel_jwt_keys_destroy(old);
	keel_jwt_keys_destroy(now);
}

/* ---- attacks on the header ----------------------------------------------------------------- */

static void
alg_none_rejected(void **state)
{
	const char *names[] = {"none", "None", "NONE", ""};
	json_t *hdr;

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *full, *input, *unsigned_tok, *no_sig_part;
		json_t *pl = std_payload();
		char *h, *p;

		hdr = std_header(names[i], t.kid_secret);
		h = json_dumps(hdr, JSON_COMPACT);
		p = json_dumps(pl, JSON_COMPACT);
		json_decref(pl);
		input = signing_input(h, p);
		unsigned_tok = strf("%s.", input);
		no_sig_part = strf("%s", input);
		full = forge_hmac_text(EVP_sha256(), SECRET, strlen(SECRET), h, p);
		expect_reject(t.hs, unsigned_tok, "algorithm not allowed");
		expect_reject(t.hs, full, "algorithm not allowed");
		expect_reject(t.hs, no_sig_part, "malformed token");
		expect_reject(t.es, unsigned_tok, "algorithm not allowed");
		json_decref(hdr);
		free(h);
		free(p);
		free(input);
		free(unsigned_tok);
		free(no_sig_part);
		free(full);
	}
	/* Without a kid either. */
	hdr = json_pack("{s:s}", "alg", "none");
	{
		char *h = json_dumps(hdr, JSON_COMPACT), *input = signing_input(h, "{}");
		char *tok = strf("%s.", input);

		expect_reject(t.hs, tok, "algorithm not allowed");
		free(h);
		free(input);
		free(tok);
	}
	json_decref(hdr);
}

/* The classic confusion: HS256 "signed" with the EC public key as the HMAC secret. */
static void
hs256_with_public_key_rejected(void **state)
{
	char *tok;
	keel_jwt_keys *rings[] = {t.es, t.mixed};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		tok = forge_hmac(EVP_sha256(), t.a_pub, strlen(t.a_pub), std_header("HS256", t.kid_a),
		                 std_payload());
		expect_reject(rings[i], tok, "algorithm not allowed");
		free(tok);
		tok = forge_hmac(EVP_sha256(), t.a_der, t.a_der_len, std_header("HS256", t.kid_a),
		                 std_payload());
		expect_reject(rings[i], tok, "algorithm not allowed");
		free(tok);
	}
	/* And the other way: an ES256 header naming the HMAC key. */
	tok = forge_es256(t.a, std_header("ES256", t.kid_secret), std_payload());
	expect_reject(t.mixed, tok, "algorithm not allowed");
	expect_reject(t.hs, tok, "algorithm not allowed");
	free(tok);
}

static void
other_algs_rejected(void **state)
{
	const char *names[] = {"HS384", "HS512", "RS256", "PS256", "ES384", "EdDSA", "hs256", "HS256 "};
	char *tok;

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		reject_forged(std_header(names[i], t.kid_secret), std_payload(), "algorithm not allowed");
	tok = forge_hmac(EVP_sha512(), SECRET, strlen(SECRET), std_header("HS512", t.kid_secret),
	                 std_payload());
	expect_reject(t.hs, tok, "algorithm not allowed");
	free(tok);
	reject_forged(json_pack("{s:i, s:s}", "alg", 256, "kid", t.kid_secret), std_payload(),
	              "missing algorithm");
	reject_forged(json_pack("{s:s}", "kid", t.kid_secret), std_payload(), "missing algorithm");
}

static void
kid_missing_or_unknown(void **state)
{
	char *tok;

	(void)state;
	reject_forged(json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT"), std_payload(),
	              "missing key id");
	reject_forged(json_pack("{s:s, s:i}", "alg", "HS256", "kid", 7), std_payload(),
	              "missing key id");
	reject_forged(std_header("HS256", "no-such-key"), std_payload(), "unknown key");
	reject_forged(std_header("HS256", ""), std_payload(), "unknown key");
	/* Signed with another secret under that secret's kid. */
	tok = forge_hmac(EVP_sha256(), SECRET2, strlen(SECRET2), std_header("HS256", t.kid_secret2),
	                 std_payload());
	expect_reject(t.hs, tok, "unknown key");
	free(tok);
	/* Signed with another secret under our kid. */
	tok = forge_hmac(EVP_sha256(), SECRET2, strlen(SECRET2), std_header("HS256", t.kid_secret),
	                 std_payload());
	expect_reject(t.hs, tok, "bad signature");
	free(tok);
}

static void
header_members_checked(void **state)
{
	const char *refs[] = {"jku", "jwk", "x5u", "x5c"};
	json_t *h;

	(void)state;
	h = std_header("HS256", t.kid_secret);
	json_object_set_new(h, "crit", json_pack("[s]", "exp"));
	reject_forged(h, std_payload(), "critical header not supported");
	for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		h = std_header("HS256", t.kid_secret);
		json_object_set_new(h, refs[i], json_string("https://evil.test/k"));
		reject_forged(h, std_payload(), "key reference header not allowed");
	}
	h = std_header("HS256", t.kid_secret);
	json_object_set_new(h, "cty", json_string("JWT"));
	reject_forged(h, std_payload(), "unexpected header");
	h = std_header("HS256", t.kid_secret);
	json_object_set_new(h, "typ", json_string("JOSE+weird"));
	reject_forged(h, std_payload(), "unsupported token type");
	h = std_header("HS256", t.kid_secret);
	json_object_set_new(h, "typ", json_string("jwt "));
	reject_forged(h, std_payload(), "unsupported token type");
	h = std_header("HS256", t.kid_secret);
	json_object_set_new(h, "typ", json_integer(1));
	reject_forged(h, std_payload(), "unsupported token type");
}

/* ---- tampering ----------------------------------------------------------------------------- */

/* token with its payload replaced by pl (stolen), signature kept. */
static char *
with_payload(const char *token, json_t *pl)
{
	const char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
	char *text = json_dumps(pl, JSON_COMPACT);
	char *p = b64url((const unsigned char *)text, strlen(text));
	char *out = strf("%.*s.%s%s", (int)(d1 - token), token, p, d2);

	free(text);
	free(p);
	json_decref(pl);
	return out;
}

static void
tampered_payload_rejected(void **state)
{
	keel_jwt_claims in = std_claims();
	keel_jwt_keys *rings[] = {t.hs, t.es};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char *tok = keel_jwt_sign(rings[i], &in), *bad;
		json_t *pl = segment_json(tok, 1);

		json_object_set_new(pl, "role", json_string("owner"));
		bad = with_payload(tok, pl);
		expect_reject(rings[i], bad, "bad signature");
		free(bad);
		pl = segment_json(tok, 1);
		json_object_set_new(pl, "exp", json_integer(NOW + 86400 * 365));
		bad = with_payload(tok, pl);
		expect_reject(rings[i], bad, "bad signature");
		free(bad);
		/* Control: the unchanged payload re-encoded the same way is still good. */
		bad = with_payload(tok, segment_json(tok, 1));
		expect_accept(rings[i], bad);
		free(bad);
		free(tok);
	}
}

static void
tampered_signature_rejected(void **state)
{
	keel_jwt_claims in = std_claims();
	keel_jwt_keys *rings[] = {t.hs, t.es};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char *tok = keel_jwt_sign(rings[i], &in), *bad = strdup(tok);
		char *sig = strrchr(bad, '.') + 1;
		size_t len = strlen(sig);

		sig[0] = sig[0] == 'A' ? 'B' : 'A';
		expect_reject(rings[i], bad, "bad signature");
		strcpy(bad, tok);
		sig[len / 2] = sig[len / 2] == '_' ? '-' : '_';
		expect_reject(rings[i], bad, "bad signature");
		strcpy(bad, tok);
		sig[len - 4] = '\0'; /* truncated: wrong length */
		expect_reject(rings[i], bad, "bad signature");
		strcpy(bad, tok);
		sig[len - 1] = '\0'; /* length that no byte string encodes to */
		expect_reject(rings[i], bad, "bad signature");
		strcpy(bad, tok);
		sig[0] = '\0'; /* empty */
		expect_reject(rings[i], bad, "missing signature");
		free(bad);
		free(tok);
	}
	/* Non-canonical last character (unused low bits set) is not the same signature. */
	{
		char *tok = keel_jwt_sign(t.hs, &in);
		char *sig = strrchr(tok, '.') + 1;
		size_t len = strlen(sig); /* 43 chars: last one carries 2 unused bits */
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		int v = (int)(strchr(alpha, sig[len - 1]) - alpha);

		assert_int_equal(len, 43);
		assert_int_equal(v & 3, 0);
		sig[len - 1] = alpha[v | 1];
		expect_reject(t.hs, tok, "bad signature");
		sig[len - 1] = alpha[v | 2];
		expect_reject(t.hs, tok, "bad signature");
		free(tok);
	}
}

/* ---- times --------------------------------------------------------------------------------- */

static void
expiry_with_skew(void **state)
{
	(void)state;
	reject_forged(std_header("HS256", t.kid_secret), payload_with("exp", json_integer(NOW - 31)),
	              "token expired");
	accept_forged(t.hs, std_header("HS256", t.kid_secret),
	              payload_with("exp", json_integer(NOW - 29)));
	accept_forged(t.hs, std_header("HS256", t.kid_secret),
	              payload_with("exp", json_integer(NOW - 30)));
	reject_forged(std_header("HS256", t.kid_secret), payload_with("exp", json_integer(INT64_MIN)),
	              "token expired");
	accept_forged(t.hs, std_header("HS256", t.kid_secret),
	              payload_with("exp", json_integer(INT64_MAX)));
}

static void
signed_token_expires(void **state)
{
	keel_jwt_claims in = std_claims();
	char *tok = keel_jwt_sign(t.hs, &in);
	keel_jwt_claims out;

	(void)state;
	expect_accept_at(t.hs, tok, in.exp + 30, &out);
	expect_reject_at(t.hs, tok, in.exp + 31, "token expired");
	expect_reject_at(t.hs, tok, in.iat - 31, "token not yet valid");
	free(tok);
}

static void
not_before_with_skew(void **state)
{
	(void)state;
	reject_forged(std_header("HS256", t.kid_secret), payload_with("nbf", json_integer(NOW + 31)),
	              "token not yet valid");
	reject_forged(std_header("HS256", t.kid_secret), payload_with("nbf", json_integer(INT64_MAX)),
	              "token not yet valid");
	accept_forged(t.hs, std_header("HS256", t.kid_secret),
	              payload_with("nbf", json_integer(NOW + 29)));
	accept_forged(t.hs, std_header("HS256", t.kid_secret), payload_with("nbf", NULL));
}

static void
issued_in_future(void **state)
{
	(void)state;
	reject_forged(std_header("HS256", t.kid_secret), payload_with("iat", json_integer(NOW + 3600)),
	              "token issued in the future");
	reject_forged(std_header("HS256", t.kid_secret), payload_with("iat", json_integer(NOW + 31)),
	              "token issued in the future");
	{
		json_t *pl = payload_with("iat", json_integer(NOW + 29));

		json_object_del(pl, "nbf");
		accept_forged(t.hs, std_header("HS256", t.kid_secret), pl);
	}
}

/* ---- issuer and audience ------------------------------------------------------------------- */

static void
issuer_checked(void **state)
{
	(void)state;
	reject_forged(std_header("HS256", t.kid_secret),
	              payload_with("iss", json_string("https://evil.test")), "wrong issuer");
	reject_forged(std_header("HS256", t.kid_secret), payload_with("iss", json_string(ISS "/")),
	              "wrong issuer");
	reject_forged(std_header("HS256", t.kid_secret), payload_with("iss", NULL), "missing issuer");
	reject_forged(std_header("HS256", t.kid_secret), payload_with("iss", json_integer(1)),
	              "missing issuer");
}

static void
reject_aud(json_t *pl, const char *want)
{
	char *tok = forge(std_header("HS256", t.kid_secret), pl);

	expect_reject(t.aud, tok, want);
	free(tok);
}

static void
audience_checked(void **state)
{
	(void)state;
	reject_aud(std_payload(), "missing audience");
	reject_aud(payload_with("aud", json_string("other-api")), "wrong audience");
	reject_aud(payload_with("aud", json_pack("[s, s]", "a", "b")), "wrong audience");
	reject_aud(payload_with("aud", json_pack("[]")), "wrong audience");
	reject_aud(payload_with("aud", json_pack("[s, i]", AUD, 1)), "wrong audience");
	reject_aud(payload_with("aud", json_pack("{s:s}", "aud", AUD)), "wrong audience");
	accept_forged(t.aud, std_header("HS256", t.kid_secret), payload_with("aud", json_string(AUD)));
	accept_forged(t.aud, std_header("HS256", t.kid_secret),
	              payload_with("aud", json_pack("[s, s]", "other", AUD)));
	/* No audience configured: aud is ignored. */
	accept_forged(t.hs, std_header("HS256", t.kid_secret),
	              payload_with("aud", json_string("other-api")));
}

/* ---- other claims -------------------------------------------------------------------------- */

/* The standard payload with one claim changed (value stolen; NULL removes it) is rejected. */
static void
reject_claim(const char *name, json_t *value, const char *want)
{
	reject_forged(std_header("HS256", t.kid_secret), payload_with(name, value), want);
}

static void
claims_required_and_typed(void **state)
{
	(void)state;
	reject_claim("sub", NULL, "missing subject");
	reject_claim("sub", json_string("not-a-uuid"), "invalid subject");
	reject_claim("sub", json_string(SUB "0"), "invalid subject");
	reject_claim("sub", json_integer(42), "invalid subject");
	reject_claim("sub", json_string(""), "invalid subject");
	reject_claim("tid", NULL, "missing tenant");
	reject_claim("tid", json_string("0190a6f2x0000-7000-8000-000000000001"), "invalid tenant");
	reject_claim("jti", NULL, "missing token id");
	reject_claim("jti", json_string("abc"), "invalid token id");
	reject_claim("role", NULL, "missing role");
	reject_claim("role", json_string("superuser"), "invalid role");
	reject_claim("role", json_string("Owner"), "invalid role");
	reject_claim("role", json_pack("[s]", "owner"), "invalid role");
	reject_claim("exp", NULL, "missing expiry");
	reject_claim("exp", json_string("1900000900"), "invalid expiry");
	reject_claim("exp", json_real(1900000900.0), "invalid expiry");
	reject_claim("exp", json_true(), "invalid expiry");
	reject_claim("iat", NULL, "missing issue time");
	reject_claim("iat", json_real(1899999990.0), "invalid issue time");
	reject_claim("nbf", json_string("0"), "invalid not-before time");
	reject_claim("nbf", json_null(), "invalid not-before time");
	/* Every role is accepted. */
	{
		const char *roles[] = {"owner", "admin", "member", "viewer"};

		for (size_t i = 0; i < 4; i++)
			accept_forged(t.hs, std_header("HS256", t.kid_secret),
			              payload_with("role", json_string(roles[i])));
	}
}

static void
payload_not_object_rejected(void **state)
{
	json_t *hdr = std_header("HS256", t.kid_secret);
	char *h = json_dumps(hdr, JSON_COMPACT);
	const char *bodies[] = {"[]", "\"x\"", "1", "{", "{\"sub\":1,\"sub\":2}", ""};

	(void)state;
	json_decref(hdr);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		char *tok = forge_hmac_text(EVP_sha256(), SECRET, strlen(SECRET), h, bodies[i]);

		expect_reject(t.hs, tok,
		              bodies[i][0] == '\0' ? "malformed token" : "malformed token payload");
		free(tok);
	}
	free(h);
}

/* ---- garbage ------------------------------------------------------------------------------- */

static void
garbage_rejected(void **state)
{
	static const struct {
		const char *token, *why;
	} cases[] = {
	    {"", "missing token"},
	    {".", "malformed token"},
	    {"..", "malformed token"},
	    {"a.b", "malformed token"},
	    {"a.b.c.d", "malformed token"},
	    {"...", "malformed token"},
	    {".e30.c2ln", "malformed token"},
	    {"e30..c2ln", "malformed token"},
	    {"a.b.c", "malformed token header"},
	    {"e30=.e30.c2ln", "malformed token"},
	    {"e3 0.e30.c2ln", "malformed token"},
	    {"e30.e3+0.c2ln", "malformed token"},
	    {"e30.e30.c2/n", "malformed token"},
	    {"e30\n.e30.c2ln", "malformed token"},
	    {"\xc3\xa9.e30.c2ln", "malformed token"},
	    {"bm90IGpzb24.e30.c2ln", "malformed token header"},  /* "not json" */
	    {"W10.e30.c2ln", "malformed token header"},          /* [] */
	    {"WyJIUzI1NiJd.e30.c2ln", "malformed token header"}, /* ["HS256"] */
	    {"ImFiYyI.e30.c2ln", "malformed token header"},      /* "abc" */
	    {"e30.e30.c2ln", "missing algorithm"},               /* {} */
	    {"e31.e30.c2ln", "malformed token header"},          /* non-canonical trailing bits */
	    {"e30xe.e30.c2ln", "malformed token header"},        /* impossible length */
	};
	char *dup;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_reject(t.hs, cases[i].token, cases[i].why);
	expect_reject(t.hs, NULL, "missing token");
	/* Duplicate members in the header. */
	dup = forge_hmac_text(EVP_sha256(), SECRET, strlen(SECRET),
	                      "{\"alg\":\"none\",\"alg\":\"HS256\",\"kid\":\"x\"}", "{}");
	expect_reject(t.hs, dup, "malformed token header");
	free(dup);
}

static void
oversized_rejected(void **state)
{
	char *big = malloc(5001), *tok;
	json_t *pl = std_payload();

	(void)state;
	memset(big, 'A', 5000);
	big[5000] = '\0';
	expect_reject(t.hs, big, "token too long");
	big[1000] = '.';
	big[2000] = '.';
	expect_reject(t.hs, big, "token too long");
	/* A properly signed token that is just too long. */
	big[3000] = '\0';
	memset(big, 'x', 3000);
	json_object_set_new(pl, "pad", json_string(big));
	tok = forge(std_header("HS256", t.kid_secret), pl);
	assert_true(strlen(tok) > KEEL_JWT_MAX_LEN);
	expect_reject(t.hs, tok, "token too long");
	free(tok);
	/* ... and one that fits is fine, extra claims are ignored. */
	big[2000] = '\0';
	pl = std_payload();
	json_object_set_new(pl, "pad", json_string(big));
	tok = forge(std_header("HS256", t.kid_secret), pl);
	assert_true(strlen(tok) <= KEEL_JWT_MAX_LEN);
	expect_accept(t.hs, tok);
	free(tok);
	free(big);
}

/* ---- key ring creation --------------------------------------------------------------------- */

static void
expect_create_error(const keel_jwt_config *cfg, const char *want)
{
	char err[256] = "";
	keel_jwt_keys *k = (keel_jwt_keys *)&err;

	assert_int_equal(keel_jwt_keys_create(cfg, &k, err, sizeof err), KEEL_EINVAL);
	assert_null(k);
	assert_string_equal(err, want);
	if (cfg->secret != NULL && strlen(cfg->secret) >= 8)
		assert_null(strstr(err, cfg->secret));
}

static char *
encrypted_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, EVP_aes_256_cbc(),
	                                          (const unsigned char *)"pass", 4, NULL, NULL),
	                 1);
	return bio_take(bio);
}

static void
keys_create_errors(void **state)
{
	const char *ec_bad = "KEEL_JWT_PRIVATE_KEY must be an unencrypted P-256 private key in PEM";
	const char *pub_bad = "KEEL_JWT_PREVIOUS_PUBLIC_KEY must be a P-256 public key in PEM";
	keel_jwt_config c = cfg_base();
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *p384 = keygen("P-384"), *k256 = keygen("secp256k1");
	char *rsa_pem = pem_private(rsa), *p384_pem = pem_private(p384), *enc = encrypted_pem(t.a);
	char *p384_pub = pem_public(p384), *k256_pem = pem_private(k256);

	(void)state;
	expect_create_error(&c, "KEEL_JWT_SECRET or KEEL_JWT_PRIVATE_KEY must be set");
	c.secret = "0123456789abcdef0123456789abcde"; /* 31 bytes */
	expect_create_error(&c, "KEEL_JWT_SECRET must be at least 32 bytes");
	c.secret = "";
	expect_create_error(&c, "KEEL_JWT_SECRET must be at least 32 bytes");
	c.secret = SECRET;
	c.previous_secret = "short";
	expect_create_error(&c, "KEEL_JWT_PREVIOUS_SECRET must be at least 32 bytes");
	c.previous_secret = NULL;
	c.previous_public_pem = t.a_priv + 10; /* garbage */
	expect_create_error(&c, pub_bad);
	c.previous_public_pem = p384_pub;
	expect_create_error(&c, pub_bad);
	c.previous_public_pem = NULL;
	c.issuer = NULL;
	expect_create_error(&c, "KEEL_JWT_ISSUER must be set");
	c.issuer = "";
	expect_create_error(&c, "KEEL_JWT_ISSUER must be set");
	c.issuer = ISS;
	c.audience = "";
	expect_create_error(&c, "KEEL_JWT_AUDIENCE must not be empty");
	c.audience = NULL;
	c.skew_s = -1;
	expect_create_error(&c, "JWT clock skew must be between 0 and 3600 seconds");
	c.skew_s = 30;

	c = cfg_base();
	c.private_key_pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
	expect_create_error(&c, ec_bad);
	c.private_key_pem = "garbage";
	expect_create_error(&c, ec_bad);
	c.private_key_pem = rsa_pem;
	expect_create_error(&c, ec_bad);
	c.private_key_pem = p384_pem;
	expect_create_error(&c, ec_bad);
	c.private_key_pem = k256_pem; /* 256-bit, but not P-256 */
	expect_create_error(&c, ec_bad);
	c.private_key_pem = t.a_pub; /* a public key cannot sign */
	expect_create_error(&c, ec_bad);
	c.private_key_pem = enc; /* encrypted: fails, never prompts */
	expect_create_error(&c, ec_bad);
	/* A valid secret does not rescue a bad private key. */
	c.secret = SECRET;
	c.private_key_pem = rsa_pem;
	expect_create_error(&c, ec_bad);

	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(k256);
	free(k256_pem);
	free(rsa_pem);
	free(p384_pem);
	free(p384_pub);
	free(enc);
}

static void
keys_create_accepts_sec1_and_dedups(void **state)
{
	keel_jwt_config c = cfg_base();
	BIO *bio = BIO_new(BIO_s_mem());
	char *sec1;
	keel_jwt_keys *k;
	keel_jwt_claims in = std_claims();
	char *tok;
	json_t *jwks;

	(void)state;
	/* "EC PRIVATE KEY" (SEC1) form of key a: same kid as the PKCS#8 form. */
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, t.a, NULL, NULL, 0, NULL, NULL), 1);
	sec1 = bio_take(bio);
	assert_non_null(strstr(sec1, "EC PRIVATE KEY"));
	c.private_key_pem = sec1;
	c.previous_public_pem = t.a_pub; /* the same key again is kept once */
	k = ring(&c);
	tok = keel_jwt_sign(k, &in);
	expect_accept(t.es, tok);
	jwks = keel_jwt_jwks(k);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 1);
	json_decref(jwks);
	free(tok);
	keel_jwt_keys_destroy(k);
	free(sec1);

	c = cfg_base();
	c.secret = SECRET;
	c.previous_secret = SECRET;
	k = ring(&c);
	keel_jwt_keys_destroy(k);
	keel_jwt_keys_destroy(NULL);
}

static void
sign_rejects_bad_claims(void **state)
{
	keel_jwt_claims c;

	(void)state;
	c = std_claims();
	strcpy(c.sub, "nope");
	assert_null(keel_jwt_sign(t.hs, &c));
	c = std_claims();
	strcpy(c.tid, "");
	assert_null(keel_jwt_sign(t.hs, &c));
	c = std_claims();
	c.jti[5] = 'g';
	assert_null(keel_jwt_sign(t.hs, &c));
	c = std_claims();
	strcpy(c.role, "root");
	assert_null(keel_jwt_sign(t.hs, &c));
	c = std_claims();
	memset(c.role, 'a', sizeof c.role); /* no terminator */
	assert_null(keel_jwt_sign(t.hs, &c));
	c = std_claims();
	memset(c.sub, 'a', sizeof c.sub); /* no terminator */
	assert_null(keel_jwt_sign(t.hs, &c));
	c = std_claims();
	c.exp = c.iat;
	assert_null(keel_jwt_sign(t.hs, &c));
	assert_null(keel_jwt_sign(t.hs, NULL));
	assert_null(keel_jwt_sign(NULL, &c));
}

/* ---- threads ------------------------------------------------------------------------------- */

#define THREADS    4
#define ITERATIONS 150

static void *
worker(void *arg)
{
	const keel_jwt_keys *keys = arg;
	keel_jwt_claims in = std_claims(), out;
	intptr_t failures = 0;

	for (int i = 0; i < ITERATIONS; i++) {
		char *tok = keel_jwt_sign(keys, &in);
		const char *why;

		if (tok == NULL || keel_jwt_verify(keys, tok, NOW, &out, &why) != KEEL_OK ||
		    strcmp(out.sub, SUB) != 0)
			failures++;
		if (tok != NULL) {
			tok[strlen(tok) - 2] ^= 1; /* flip one signature character */
			if (keel_jwt_verify(keys, tok, NOW, &out, &why) != KEEL_EUNAUTH)
				failures++;
		}
		free(tok);
	}
	return (void *)failures;
}

static void
concurrent_sign_and_verify(void **state)
{
	pthread_t th[THREADS];
	intptr_t failures = 0;
	void *res;

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, i % 2 ? t.es : t.mixed), 0);
	for (int i = 0; i < THREADS; i++) { /* join them all before asserting anything */
		if (pthread_join(th[i], &res) != 0)
			failures++;
		else
			failures += (intptr_t)res;
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hs256_round_trip),
	    cmocka_unit_test(sign_writes_audience_and_lowercase_ids),
	    cmocka_unit_test(es256_round_trip),
	    cmocka_unit_test(es256_many_signatures),
	    cmocka_unit_test(forged_baseline_accepted),
	    cmocka_unit_test(jwks_es256_reconstructs_key),
	    cmocka_unit_test(jwks_lists_only_public_ec_keys),
	    cmocka_unit_test(rotation_hs256),
	    cmocka_unit_test(rotation_es256),
	    cmocka_unit_test(alg_none_rejected),
	    cmocka_unit_test(hs256_with_public_key_rejected),
	    cmocka_unit_test(other_algs_rejected),
	    cmocka_unit_test(kid_missing_or_unknown),
	    cmocka_unit_test(header_members_checked),
	    cmocka_unit_test(tampered_payload_rejected),
	    cmocka_unit_test(tampered_signature_rejected),
	    cmocka_unit_test(expiry_with_skew),
	    cmocka_unit_test(signed_token_expires),
	    cmocka_unit_test(not_before_with_skew),
	    cmocka_unit_test(issued_in_future),
	    cmocka_unit_test(issuer_checked),
	    cmocka_unit_test(audience_checked),
	    cmocka_unit_test(claims_required_and_typed),
	    cmocka_unit_test(payload_not_object_rejected),
	    cmocka_unit_test(garbage_rejected),
	    cmocka_unit_test(oversized_rejected),
	    cmocka_unit_test(keys_create_errors),
	    cmocka_unit_test(keys_create_accepts_sec1_and_dedups),
	    cmocka_unit_test(sign_rejects_bad_claims),
	    cmocka_unit_test(concurrent_sign_and_verify),
	};

	return cmocka_run_group_tests_name("auth_jwt", tests, group_setup, group_teardown);
}
