/*
 * Fuzz the access-token verifier (and the signer, through a round trip).
 *
 * Two key rings are built once with keel_jwt_keys_create(), as keel_auth
 * builds them:
 *   ring 0: ES256 signing key EC1, HS256 secret S1, previous secret S2 and
 *           previous public key EC2; audience "keel-api", 30 s of skew;
 *   ring 1: S1 alone, no audience, no skew.
 * The harness also holds keys no ring has (S3, EC3), so it can sign like a
 * stranger.  The first input byte picks the mode, the ring and a signer:
 *
 *   bits 7-6  mode: 0 signed, 1 signed then tampered, 2 raw, 3 round trip
 *   bit  3    ring
 *   bits 2-0  signer: S1, S2, EC1, EC2, S3, EC3, HS256 keyed with EC1's
 *             public PEM (the algorithm-confusion attack), no signature
 *
 * signed:   the rest is a header JSON text, "\n", a payload JSON text; the
 *           harness encodes and signs them, so the fuzzer reaches every check
 *           after the signature.  The verdict must equal the one of a plain
 *           re-reading of jwt.h's contract written here (oracle_accepts), and
 *           an accepted token's claims must be the payload's.  A token signed
 *           by a key outside the ring, or keyed with public material, is
 *           never accepted.
 * tampered: two bytes of position and one of value follow the mode byte; the
 *           signed token gets that one byte changed, and must then be refused
 *           (strict base64url: no other spelling of a segment is accepted).
 * raw:      the rest is the token itself.  The fuzzer cannot make an HMAC or
 *           ECDSA signature with the rings' keys, so any accepted raw token is
 *           a forgery that worked: always a bug.
 * round trip: claims from the bytes are signed with keel_jwt_sign(); a token
 *           it returns must verify to the same claims at its issue time and
 *           be refused after expiry; it may refuse only claims that could not
 *           verify.
 *
 * Every refusal must give a reason and zeroed claims.  The keys below are
 * test keys made for this harness; they sign nothing anywhere else.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "auth/jwt.h"
#include "core/uuid.h"

#define NOW ((int64_t)1750000000) /* the verifier's clock: 2025-06-15 */

static const char ec1_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIknmBrvpfS1eSWY9\n"
                              "fLUgs6wll18fdC5Zi/IbVJbFHPChRANCAARxu+R7iSvi50u0ZIP6sBm5lar4Mcmo\n"
                              "lYX4BpSHfgjQSFNEWcGzvgCWPJR2oPviU9D20hiOyhU11tPMpIM7uzE8\n"
                              "-----END PRIVATE KEY-----\n";
static const char ec2_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKS/82YQToMsBnlvT\n"
                              "mRG6boV4xgh2RqKk5AuKvJehFM2hRANCAASXMdVvV+QKwBfXdItiCeDLILdCb2Xi\n"
                              "ujjHlsFhNgKzPYkV8crTEj3S5nWvV/Zd3Dfy40nXIQOM9jekWHDGf0Yg\n"
                              "-----END PRIVATE KEY-----\n";
static const char ec3_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5mCTnFWiEjQbXgvh\n"
                              "E/zGNrygurF6KImajUy7yrfwJjKhRANCAAR/1m65kvHWTxn+hYu7gjMYXj1isOyb\n"
                              "+6KKilyvieh8qeVCkyFmXJ7GyaH4fP1GLHdzp42jREMUHw19LPtfsA/Y\n"
                              "-----END PRIVATE KEY-----\n";
static const char s1[] = "fuzz-secret-one-0123456789abcdefghij";
static const char s2[] = "fuzz-secret-two-0123456789abcdefghij";
static const char s3[] = "fuzz-secret-three-0123456789abcdefgh";

enum { SIGNERS = 8, SIGNER_CONFUSED = 6, SIGNER_NONE = 7 };

typedef struct signer {
	bool es256;
	const char *secret; /* HS256: the HMAC key (NUL-terminated) */
	EVP_PKEY *pkey;     /* ES256: the private key */
	char kid[KEEL_JWT_KID_LEN + 1];
} signer;

typedef struct ring {
	keel_jwt_keys *keys;
	const char *audience; /* NULL: none */
	int64_t skew;
	bool has[SIGNERS]; /* which signers' keys the ring holds */
} ring;

static signer signers[SIGNERS];
static ring rings[2];
static char ec1_public_pem[512];

static EVP_PKEY *
pem_private(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

	BIO_free(bio);
	FZ_CHECK(k != NULL, "set-up: a test key does not load");
	return k;
}

/* The public half of k as PEM into out[cap]. */
static void
pem_public(EVP_PKEY *k, char *out, size_t cap)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;

	PEM_write_bio_PUBKEY(bio, k);
	long n = BIO_get_mem_data(bio, &data);

	FZ_CHECK(n > 0 && (size_t)n < cap, "set-up: public key PEM");
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(bio);
}

/* jwt.c's documented kid of a secret: base64url of SHA-256's first 12 bytes. */
static void
secret_kid(const char *secret, char *kid)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
	sodium_bin2base64(kid, KEEL_JWT_KID_LEN + 1, h, 12, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* kid of the i-th ES256 key of a ring, as its JWKS publishes it. */
static void
jwks_kid(const keel_jwt_keys *keys, size_t i, char *kid)
{
	json_t *jwks = keel_jwt_jwks(keys);
	const char *k =
	    json_string_value(json_object_get(json_array_get(json_object_get(jwks, "keys"), i), "kid"));

	FZ_CHECK(k != NULL && strlen(k) == KEEL_JWT_KID_LEN, "set-up: no kid in the JWKS");
	memcpy(kid, k, KEEL_JWT_KID_LEN + 1);
	json_decref(jwks);
}

static keel_jwt_keys *
ring_create(const keel_jwt_config *cfg)
{
	keel_jwt_keys *k;
	char err[256];

	if (keel_jwt_keys_create(cfg, &k, err, sizeof(err)) != KEEL_OK)
		fz_fail("set-up: %s", err);
	return k;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char ec2_public_pem[512];

	(void)argc;
	(void)argv;
	FZ_CHECK(sodium_init() >= 0, "set-up: sodium_init");
	signers[0] = (signer){.secret = s1};
	signers[1] = (signer){.secret = s2};
	signers[2] = (signer){.es256 = true, .pkey = pem_private(ec1_pem)};
	signers[3] = (signer){.es256 = true, .pkey = pem_private(ec2_pem)};
	signers[4] = (signer){.secret = s3};
	signers[5] = (signer){.es256 = true, .pkey = pem_private(ec3_pem)};
	pem_public(signers[2].pkey, ec1_public_pem, sizeof(ec1_public_pem));
	pem_public(signers[3].pkey, ec2_public_pem, sizeof(ec2_public_pem));
	signers[SIGNER_CONFUSED] = (signer){.secret = ec1_public_pem};

	rings[0] = (ring){.keys = ring_create(&(keel_jwt_config){.private_key_pem = ec1_pem,
	                                                         .secret = s1,
	                                                         .previous_secret = s2,
	                                                         .previous_public_pem = ec2_public_pem,
	                                                         .issuer = "keel",
	                                                         .audience = "keel-api",
	                                                         .skew_s = 30}),
	                  .audience = "keel-api",
	                  .skew = 30,
	                  .has = {true, true, true, true}};
	rings[1] = (ring){.keys = ring_create(&(keel_jwt_config){.secret = s1, .issuer = "keel"}),
	                  .has = {true}};

	/* kids: the ES256 ones as published, the HS256 ones as documented */
	keel_jwt_keys *stranger =
	    ring_create(&(keel_jwt_config){.private_key_pem = ec3_pem, .issuer = "keel"});

	jwks_kid(rings[0].keys, 0, signers[2].kid);
	jwks_kid(rings[0].keys, 1, signers[3].kid);
	jwks_kid(stranger, 0, signers[5].kid);
	keel_jwt_keys_destroy(stranger);
	for (int i = 0; i < SIGNERS; i++)
		if (!signers[i].es256 && signers[i].secret != NULL)
			secret_kid(signers[i].secret, signers[i].kid);
	fprintf(stderr, "jwt fuzz: kids S1 %s S2 %s EC1 %s EC2 %s S3 %s EC3 %s\n", signers[0].kid,
	        signers[1].kid, signers[2].kid, signers[3].kid, signers[4].kid, signers[5].kid);
	return 0;
}

/* ---- making tokens ---- */

static size_t
b64(char *out, size_t cap, const void *bin, size_t len)
{
	sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return strlen(out);
}

/* The JWS signature of msg by s into sig[64]; its length (0: no signature). */
static size_t
sign(const signer *s, const char *msg, size_t len, unsigned char *sig)
{
	if (s->es256) {
		unsigned char der[128];
		size_t der_len = sizeof(der);
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		FZ_CHECK(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->pkey) == 1 &&
		             EVP_DigestSign(md, der, &der_len, (const unsigned char *)msg, len) == 1,
		         "ECDSA signing failed");
		EVP_MD_CTX_free(md);
		const unsigned char *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);

		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
		ECDSA_SIG_free(es);
		return 64;
	}
	if (s->secret == NULL)
		return 0;
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)s->secret, strlen(s->secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
	crypto_auth_hmacsha256_final(&st, sig);
	return 32;
}

/* header.payload.signature of the given JSON texts, signed by s (malloc'd). */
static char *
token_make(const signer *s, const uint8_t *hdr, size_t hlen, const uint8_t *pl, size_t plen)
{
	size_t cap = sodium_base64_ENCODED_LEN(hlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
	             sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 96;
	char *t = malloc(cap);
	unsigned char sig[64];

	FZ_CHECK(t != NULL, "out of memory");
	size_t n = b64(t, cap, hdr, hlen);

	t[n++] = '.';
	n += b64(t + n, cap - n, pl, plen);
	size_t siglen = sign(s, t, n, sig);

	t[n++] = '.';
	b64(t + n, cap - n, sig, siglen);
	return t;
}

/* ---- the oracle: jwt.h's contract, read plainly ---- */

static const char *const roles[] = {"owner", "admin", "member", "viewer"};

static bool
header_ok(const uint8_t *hdr, size_t hlen, const signer *s, const ring *r, int idx)
{
	json_t *h = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, NULL);
	const char *name;
	json_t *v;
	bool ok = json_is_object(h);

	json_object_foreach(h, name, v)
	{
		ok = ok &&
		     (strcmp(name, "alg") == 0 || strcmp(name, "kid") == 0 || strcmp(name, "typ") == 0);
	}
	const char *alg = json_string_value(json_object_get(h, "alg"));
	const char *kid = json_string_value(json_object_get(h, "kid"));
	json_t *typ = json_object_get(h, "typ");

	ok = ok && alg != NULL && strcmp(alg, s->es256 ? "ES256" : "HS256") == 0;
	ok = ok && (typ == NULL || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0));
	ok = ok && kid != NULL && r->has[idx] && strcmp(kid, s->kid) == 0;
	json_decref(h);
	return ok;
}

static bool
audience_ok(json_t *pl, const ring *r)
{
	json_t *aud = json_object_get(pl, "aud"), *v;
	bool found = false;
	size_t i;

	if (r->audience == NULL)
		return true;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), r->audience) == 0;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v)
	{
		if (!json_is_string(v))
			return false;
		found = found || strcmp(json_string_value(v), r->audience) == 0;
	}
	return found;
}

/* A time claim; *ok cleared when present and not an integer (or missing and required). */
static int64_t
time_of(json_t *pl, const char *name, bool required, int64_t dflt, bool *ok)
{
	json_t *v = json_object_get(pl, name);

	if (v == NULL) {
		*ok = *ok && !required;
		return dflt;
	}
	*ok = *ok && json_is_integer(v);
	return json_integer_value(v);
}

/* A UUID claim, lowercased into dst. */
static bool
uuid_of(json_t *pl, const char *name, char *dst)
{
	const char *s = json_string_value(json_object_get(pl, name));
	keel_uuid u;

	if (s == NULL || strlen(s) != KEEL_UUID_STRLEN || !keel_uuid_parse(s, &u))
		return false;
	keel_uuid_format(&u, dst);
	return true;
}

static bool
payload_ok(const uint8_t *pl, size_t plen, const ring *r, keel_jwt_claims *c)
{
	json_t *p = json_loadb((const char *)pl, plen, JSON_REJECT_DUPLICATES, NULL);
	bool ok = json_is_object(p);
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *role = json_string_value(json_object_get(p, "role"));

	memset(c, 0, sizeof(*c));
	ok = ok && iss != NULL && strcmp(iss, "keel") == 0 && audience_ok(p, r);
	c->exp = time_of(p, "exp", true, 0, &ok);
	c->iat = time_of(p, "iat", true, 0, &ok);
	c->nbf = time_of(p, "nbf", false, c->iat, &ok);
	ok = ok && (__int128)NOW - c->exp <= r->skew && (__int128)c->nbf - NOW <= r->skew &&
	     (__int128)c->iat - NOW <= r->skew;
	ok = ok && uuid_of(p, "sub", c->sub) && uuid_of(p, "tid", c->tid) && uuid_of(p, "jti", c->jti);
	bool known = false;

	for (size_t i = 0; role != NULL && i < 4; i++)
		known = known || strcmp(role, roles[i]) == 0;
	ok = ok && known;
	if (ok)
		snprintf(c->role, sizeof(c->role), "%s", role);
	json_decref(p);
	return ok;
}

static void
claims_equal(const keel_jwt_claims *a, const keel_jwt_claims *b, const char *what)
{
	FZ_CHECK(strcmp(a->sub, b->sub) == 0 && strcmp(a->tid, b->tid) == 0 &&
	             strcmp(a->jti, b->jti) == 0 && strcmp(a->role, b->role) == 0,
	         "%s: ids or role differ (%s %s %s %s)", what, a->sub, a->tid, a->jti, a->role);
	FZ_CHECK(a->iat == b->iat && a->nbf == b->nbf && a->exp == b->exp,
	         "%s: times differ (%lld %lld %lld)", what, (long long)a->iat, (long long)a->nbf,
	         (long long)a->exp);
}

/* Verify, and check what every refusal must look like. */
static keel_err
verify(const ring *r, const char *token, keel_jwt_claims *c)
{
	const char *why = "unset";
	keel_err err = keel_jwt_verify(r->keys, token, NOW, c, &why);

	if (err == KEEL_OK) {
		FZ_CHECK(why == NULL, "accepted with a reason");
	} else {
		FZ_CHECK(err == KEEL_EUNAUTH && why != NULL && why[0] != '\0', "refused without a reason");
		FZ_CHECK(c->sub[0] == '\0' && c->tid[0] == '\0' && c->jti[0] == '\0' &&
		             c->role[0] == '\0' && c->iat == 0 && c->nbf == 0 && c->exp == 0,
		         "refused (%s) with claims left in", why);
	}
	return err;
}

/* ---- modes ---- */

static void
signed_mode(const ring *r, int idx, const uint8_t *d, size_t n, const uint8_t *tamper)
{
	const uint8_t *nl = memchr(d, '\n', n);
	size_t hlen = nl ? (size_t)(nl - d) : n;
	const uint8_t *pl = nl ? nl + 1 : d + n;
	size_t plen = nl ? n - hlen - 1 : 0;
	const signer *s = &signers[idx];
	char *token = token_make(s, d, hlen, pl, plen);
	keel_jwt_claims got, want;

	if (tamper != NULL) {
		size_t len = strlen(token), at = ((size_t)tamper[0] << 8 | tamper[1]) % len;

		if (token[at] != (char)tamper[2]) {
			token[at] = (char)tamper[2];
			FZ_CHECK(verify(r, token, &got) != KEEL_OK, "a tampered token (byte %zu) verified", at);
		}
		free(token);
		return;
	}
	bool expect = strlen(token) <= KEEL_JWT_MAX_LEN && header_ok(d, hlen, s, r, idx) &&
	              payload_ok(pl, plen, r, &want);
	keel_err err = verify(r, token, &got);

	FZ_CHECK(!(err == KEEL_OK && (idx >= 4 || !r->has[idx])),
	         "a token signed by a key outside the ring (signer %d) verified", idx);
	FZ_CHECK((err == KEEL_OK) == expect, "verdict %d, the contract says %s", err,
	         expect ? "accept" : "refuse");
	if (expect)
		claims_equal(&got, &want, "accepted claims");
	free(token);
}

static void
raw_mode(const uint8_t *d, size_t n)
{
	char *token = malloc(n + 1);
	keel_jwt_claims c;

	FZ_CHECK(token != NULL, "out of memory");
	memcpy(token, d, n);
	token[n] = '\0';
	for (int i = 0; i < 2; i++)
		FZ_CHECK(verify(&rings[i], token, &c) != KEEL_OK, "an unsigned token verified on ring %d",
		         i);
	free(token);
}

/* 16 bytes as UUID text, uppercase when asked (the verifier must give it back lowercase). */
static void
uuid_text(const uint8_t *b, bool upper, char *out)
{
	keel_uuid u;

	memcpy(u.b, b, 16);
	keel_uuid_format(&u, out);
	for (char *p = out; upper && *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
}

static void
round_trip_mode(const ring *r, const uint8_t *d, size_t n)
{
	static const char *const any_role[] = {"owner", "admin", "member", "viewer", "root"};
	keel_jwt_claims c = {0}, got, want = {0};
	int64_t iat = 0;
	int32_t ttl = 0;

	if (n < 48 + 2 + 8 + 4)
		return;
	uuid_text(d, d[48] & 1, c.sub);
	uuid_text(d + 16, d[48] & 2, c.tid);
	uuid_text(d + 32, d[48] & 4, c.jti);
	snprintf(c.role, sizeof(c.role), "%s", any_role[d[49] % 5]);
	memcpy(&iat, d + 50, 8);
	memcpy(&ttl, d + 58, 4);
	c.iat = iat;
	c.nbf = iat;
	if (__builtin_add_overflow(iat, (int64_t)ttl, &c.exp))
		return;
	bool could_verify = d[49] % 5 < 4 && ttl > 0;
	char *token = keel_jwt_sign(r->keys, &c);

	FZ_CHECK((token != NULL) == could_verify, "keel_jwt_sign %s claims that %s verify",
	         token ? "signed" : "refused", could_verify ? "could" : "could not");
	if (token == NULL)
		return;
	const char *why = NULL;
	keel_err err = keel_jwt_verify(r->keys, token, iat, &got, &why);

	FZ_CHECK(err == KEEL_OK, "a token keel signed does not verify at its issue time: %s", why);
	want = c;
	uuid_text(d, false, want.sub);
	uuid_text(d + 16, false, want.tid);
	uuid_text(d + 32, false, want.jti);
	claims_equal(&got, &want, "round trip");
	int64_t late;

	if (!__builtin_add_overflow(c.exp, r->skew + 1, &late))
		FZ_CHECK(keel_jwt_verify(r->keys, token, late, &got, &why) != KEEL_OK,
		         "a token verified after its expiry");
	free(token);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] >> 6, idx = data[0] & 7;
	const ring *r = &rings[(data[0] >> 3) & 1];

	switch (mode) {
	case 0:
		signed_mode(r, idx, data + 1, size - 1, NULL);
		break;
	case 1:
		if (size >= 4)
			signed_mode(r, idx, data + 4, size - 4, data + 1);
		break;
	case 2:
		raw_mode(data + 1, size - 1);
		break;
	default:
		round_trip_mode(r, data + 1, size - 1);
		break;
	}
	return 0;
}
