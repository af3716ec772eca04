/*
 * Access-token JWTs: the key ring, signing, strict verification and the JWKS.
 *
 * Verification never goes through libjwt.  libjwt 1.10.2 lets the token pick
 * the algorithm (an HS256 token checked against an EC public key uses the PEM
 * text as an HMAC secret), decodes base64 leniently (libb64 skips characters
 * it does not know, so it would not see the bytes our checks saw), checks no
 * claims, and parses the PEM key again on every call.  Here the token is split
 * and decoded strictly (libsodium base64url, no padding, canonical trailing
 * bits), the header is checked, its kid picks one key of the ring and its alg
 * must be that key's pinned algorithm.  The signature is then checked with
 * library crypto on exactly the bytes that were split: libsodium HMAC-SHA256
 * with a constant-time compare for HS256, OpenSSL EVP ECDSA over a P-256 key
 * parsed once at start-up for ES256.  The payload is parsed only after the
 * signature is good, and every claim is checked here.
 *
 * Signing uses libjwt (jwt_encode_str), handing it the secret or a PKCS#8 PEM
 * re-written by OpenSSL from the key we validated, so libjwt signs with exactly
 * that key.  A libjwt-made token must pass our own verifier, which the tests
 * check across many signatures (ECDSA r and s with leading zero bytes).
 *
 * A kid is base64url (no padding) of the first 12 bytes of SHA-256 over the
 * secret bytes (HS256) or over the DER SubjectPublicKeyInfo of the key with
 * its point uncompressed (ES256), so a kid is stable whichever PEM form the
 * key came in and reveals nothing usable about a secret.
 *
 * The ring is immutable once built.  Each call uses its own HMAC state,
 * EVP_MD_CTX and jwt_t; OpenSSL 3 allows concurrent use of an EVP_PKEY that
 * nobody modifies, so any number of threads may share one ring.
 */
#include "auth/jwt.h"
#include "access/access.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/uuid.h"

#define RING_MAX   4  /* signing key, secret, previous secret, previous public key */
#define EC_COORD   32 /* bytes in a P-256 coordinate */
#define B64_COORD  44 /* base64url of a coordinate, with its NUL */
#define B64_FLAVOR sodium_base64_VARIANT_URLSAFE_NO_PADDING

enum key_alg { ALG_HS256, ALG_ES256 };

struct jwt_key {
	enum key_alg alg;
	char kid[KEEL_JWT_KID_LEN + 1];
	unsigned char *secret; /* HS256: the secret; ES256 signing key: PKCS#8 PEM for libjwt */
	size_t secret_len;
	EVP_PKEY *pub;             /* ES256: public key, point uncompressed */
	unsigned char x[EC_COORD]; /* ES256: public point, big-endian */
	unsigned char y[EC_COORD];
};

struct keel_jwt_keys {
	struct jwt_key key[RING_MAX]; /* key[0] signs */
	size_t nkeys;
	char *issuer;
	char *audience; /* NULL: no "aud" */
	int64_t skew_s;
};

/* The pieces of a compact JWS; the signed input is hdr[0 .. signed_len). */
struct parts {
	const char *hdr, *body, *sig;
	size_t hdr_len, body_len, sig_len, signed_len;
};

/* ---- key ring ------------------------------------------------------------------------------ */

/* Wipe and free what one key owns. */
static void
key_clear(struct jwt_key *key)
{
	if (key->secret != NULL) {
		sodium_memzero(key->secret, key->secret_len);
		free(key->secret);
	}
	EVP_PKEY_free(key->pub);
	sodium_memzero(key, sizeof *key);
}

/* kid = base64url(SHA-256(bytes)[0..12)). */
static void
kid_derive(const unsigned char *bytes, size_t len, char *kid)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, bytes, len);
	sodium_bin2base64(kid, KEEL_JWT_KID_LEN + 1, h, 12, B64_FLAVOR);
	sodium_memzero(h, sizeof h);
}

/*
 * Move key into the ring (the ring owns it from then on, even on failure).  The same
 * key given twice (say previous_secret equal to secret) is kept once.
 */
static const char *
ring_push(keel_jwt_keys *k, struct jwt_key *key)
{
	for (size_t i = 0; i < k->nkeys; i++) {
		if (strcmp(k->key[i].kid, key->kid) != 0)
			continue;
		bool same = k->key[i].alg == key->alg;

		key_clear(key);
		return same ? NULL : "JWT key ids collide";
	}
	k->key[k->nkeys++] = *key;
	return NULL;
}

/* Add an HS256 secret; too_short is the message for a secret under the minimum. */
static const char *
ring_add_secret(keel_jwt_keys *k, const char *secret, const char *too_short)
{
	struct jwt_key key = {.alg = ALG_HS256};
	size_t len = strlen(secret);

	if (len < KEEL_JWT_MIN_SECRET)
		return too_short;
	key.secret = keel_xmalloc(len);
	memcpy(key.secret, secret, len);
	key.secret_len = len;
	kid_derive(key.secret, len, key.kid);
	return ring_push(k, &key);
}

/* A PEM password callback that refuses, so an encrypted key fails instead of prompting. */
static int
pem_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Parse a PEM private or public key and check it fully; NULL when it is not a valid key. */
static EVP_PKEY *
pem_load(const char *pem, bool private)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *ctx;

	if (bio == NULL)
		keel_oom(strlen(pem));
	pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, pem_no_password, NULL)
	               : PEM_read_bio_PUBKEY(bio, NULL, pem_no_password, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL || (private ? EVP_PKEY_check(ctx) : EVP_PKEY_public_check(ctx)) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* True when pkey is an EC key on the named curve P-256. */
static bool
is_p256(EVP_PKEY *pkey)
{
	char group[64];

	return EVP_PKEY_is_a(pkey, "EC") &&
	       EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
	                                      NULL) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

/* Copy one public coordinate of pkey into out[EC_COORD]. */
static bool
coord_get(EVP_PKEY *pkey, const char *name, unsigned char *out)
{
	BIGNUM *bn = NULL;
	bool ok =
	    EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 && BN_bn2binpad(bn, out, EC_COORD) == EC_COORD;

	BN_free(bn);
	return ok;
}

/*
 * Fill key->x, key->y and key->pub (a fresh public-only key, point uncompressed) from pkey,
 * and derive the kid from that key's SubjectPublicKeyInfo.
 */
static bool
ec_public_take(EVP_PKEY *pkey, struct jwt_key *key)
{
	unsigned char point[1 + 2 * EC_COORD], *der = NULL;
	char group[] = "prime256v1";
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	int der_len = -1;

	if (!coord_get(pkey, OSSL_PKEY_PARAM_EC_PUB_X, key->x) ||
	    !coord_get(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, key->y))
		return false;
	point[0] = 0x04;
	memcpy(point + 1, key->x, EC_COORD);
	memcpy(point + 1 + EC_COORD, key->y, EC_COORD);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &key->pub, EVP_PKEY_PUBLIC_KEY, params) == 1)
		der_len = i2d_PUBKEY(key->pub, &der);
	EVP_PKEY_CTX_free(ctx);
	if (der_len <= 0)
		return false;
	kid_derive(der, (size_t)der_len, key->kid);
	OPENSSL_free(der);
	return true;
}

/* The private key as unencrypted PKCS#8 PEM in memory we own (NUL-terminated), or NULL. */
static unsigned char *
pem_private_dup(EVP_PKEY *pkey, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *out = NULL;
	char *data;
	long n;

	if (bio == NULL)
		keel_oom(0);
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0) {
		out = keel_xmalloc((size_t)n + 1);
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
		*len = (size_t)n;
		OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(bio);
	return out;
}

/* Add an ES256 key: the signing key (private PEM) or a verification-only public key. */
static const char *
ring_add_ec(keel_jwt_keys *k, const char *pem, bool private)
{
	const char *bad = private
	                      ? "KEEL_JWT_PRIVATE_KEY must be an unencrypted P-256 private key in PEM"
	                      : "KEEL_JWT_PREVIOUS_PUBLIC_KEY must be a P-256 public key in PEM";
	struct jwt_key key = {.alg = ALG_ES256};
	EVP_PKEY *pkey = pem_load(pem, private);
	bool ok = pkey != NULL && is_p256(pkey) && ec_public_take(pkey, &key);

	if (ok && private)
		ok = (key.secret = pem_private_dup(pkey, &key.secret_len)) != NULL;
	EVP_PKEY_free(pkey);
	if (!ok) {
		key_clear(&key);
		return bad;
	}
	return ring_push(k, &key);
}

/* Check the settings that are not keys; NULL when they are acceptable. */
static const char *
config_check(const keel_jwt_config *cfg)
{
	if (cfg->secret == NULL && cfg->private_key_pem == NULL)
		return "KEEL_JWT_SECRET or KEEL_JWT_PRIVATE_KEY must be set";
	if (cfg->issuer == NULL || cfg->issuer[0] == '\0')
		return "KEEL_JWT_ISSUER must be set";
	if (cfg->audience != NULL && cfg->audience[0] == '\0')
		return "KEEL_JWT_AUDIENCE must not be empty";
	if (cfg->skew_s < 0 || cfg->skew_s > KEEL_JWT_MAX_SKEW_S)
		return "JWT clock skew must be between 0 and 3600 seconds";
	return NULL;
}

/* Fill an empty ring from cfg, signing key first; returns the reason it cannot, or NULL. */
static const char *
ring_build(keel_jwt_keys *k, const keel_jwt_config *cfg)
{
	const char *why = config_check(cfg);

	if (why != NULL)
		return why;
	k->issuer = keel_xstrdup(cfg->issuer);
	k->audience = cfg->audience != NULL ? keel_xstrdup(cfg->audience) : NULL;
	k->skew_s = cfg->skew_s;
	if (cfg->private_key_pem != NULL && (why = ring_add_ec(k, cfg->private_key_pem, true)))
		return why;
	if (cfg->secret != NULL &&
	    (why = ring_add_secret(k, cfg->secret, "KEEL_JWT_SECRET must be at least 32 bytes")))
		return why;
	if (cfg->previous_secret != NULL &&
	    (why = ring_add_secret(k, cfg->previous_secret,
	                           "KEEL_JWT_PREVIOUS_SECRET must be at least 32 bytes")))
		return why;
	if (cfg->previous_public_pem != NULL && (why = ring_add_ec(k, cfg->previous_public_pem, false)))
		return why;
	return NULL;
}

keel_err
keel_jwt_keys_create(const keel_jwt_config *cfg, keel_jwt_keys **out, char *err, size_t errlen)
{
	keel_jwt_keys *k;
	const char *why;

	*out = NULL;
	if (sodium_init() < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "could not initialize libsodium");
		return KEEL_EINTERNAL;
	}
	k = keel_xcalloc(1, sizeof *k);
	why = cfg != NULL ? ring_build(k, cfg) : "JWT configuration is missing";
	ERR_clear_error(); /* OpenSSL queues errors for keys it rejected; do not leave them behind */
	if (why != NULL) {
		keel_jwt_keys_destroy(k);
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", why);
		return KEEL_EINVAL;
	}
	*out = k;
	return KEEL_OK;
}

void
keel_jwt_keys_destroy(keel_jwt_keys *keys)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < keys->nkeys; i++)
		key_clear(&keys->key[i]);
	free(keys->issuer);
	free(keys->audience);
	free(keys);
}

/* ---- claims shared by signing and verification --------------------------------------------- */

static bool
role_known(const char *s)
{
	return keel_role_parse(s) != KEEL_ROLE_NONE;
}

/* Parse the UUID text s (NUL within max bytes) into lowercase dst[37]; false when malformed. */
static bool
uuid_canon(const char *s, size_t max, char *dst)
{
	keel_uuid u;

	if (strnlen(s, max) != KEEL_UUID_STRLEN || !keel_uuid_parse(s, &u))
		return false;
	keel_uuid_format(&u, dst);
	return true;
}

/* ---- signing ------------------------------------------------------------------------------- */

/* Copy c into n with canonical UUIDs and nbf = iat; false when c could not verify. */
static bool
claims_normalize(const keel_jwt_claims *c, keel_jwt_claims *n)
{
	memset(n, 0, sizeof *n);
	if (!uuid_canon(c->sub, sizeof c->sub, n->sub) || !uuid_canon(c->tid, sizeof c->tid, n->tid) ||
	    !uuid_canon(c->jti, sizeof c->jti, n->jti))
		return false;
	if (strnlen(c->role, sizeof c->role) == sizeof c->role || !role_known(c->role))
		return false;
	memcpy(n->role, c->role, strlen(c->role) + 1);
	n->iat = c->iat;
	n->nbf = c->iat;
	n->exp = c->exp;
	return c->exp > c->iat;
}

/* Add the payload to jwt; 0 or the first libjwt error. */
static int
grants_add(jwt_t *jwt, const keel_jwt_keys *keys, const keel_jwt_claims *n)
{
	int rc = jwt_add_grant(jwt, "iss", keys->issuer);

	if (rc == 0 && keys->audience != NULL)
		rc = jwt_add_grant(jwt, "aud", keys->audience);
	rc = rc ? rc : jwt_add_grant(jwt, "sub", n->sub);
	rc = rc ? rc : jwt_add_grant(jwt, "tid", n->tid);
	rc = rc ? rc : jwt_add_grant(jwt, "role", n->role);
	rc = rc ? rc : jwt_add_grant(jwt, "jti", n->jti);
	rc = rc ? rc : jwt_add_grant_int(jwt, "iat", (long)n->iat);
	rc = rc ? rc : jwt_add_grant_int(jwt, "nbf", (long)n->nbf);
	rc = rc ? rc : jwt_add_grant_int(jwt, "exp", (long)n->exp);
	return rc;
}

char *
keel_jwt_sign(const keel_jwt_keys *keys, const keel_jwt_claims *claims)
{
	keel_jwt_claims n;
	const struct jwt_key *key;
	jwt_t *jwt = NULL;
	char *enc = NULL, *out = NULL;
	int rc;

	if (keys == NULL || claims == NULL || !claims_normalize(claims, &n))
		return NULL;
	key = &keys->key[0];
	rc = jwt_new(&jwt);
	rc = rc ? rc
	        : jwt_set_alg(jwt, key->alg == ALG_ES256 ? JWT_ALG_ES256 : JWT_ALG_HS256, key->secret,
	                      (int)key->secret_len);
	rc = rc ? rc : jwt_add_header(jwt, "kid", key->kid);
	rc = rc ? rc : grants_add(jwt, keys, &n);
	errno = 0;
	if (rc == 0 && (enc = jwt_encode_str(jwt)) == NULL)
		rc = errno != 0 ? errno : EINVAL;
	if (rc == 0)
		out = keel_xstrdup(enc);
	else
		keel_log_error("could not sign access token (libjwt error %d)", rc);
	free(enc); /* libjwt allocates with malloc unless jwt_set_alloc() was called; keel never does */
	jwt_free(jwt);
	ERR_clear_error();
	return out;
}

/* ---- verification: token and header ------------------------------------------------------- */

static bool
b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* Split token into its three segments; only base64url characters and exactly two dots. */
static const char *
token_split(const char *token, struct parts *p)
{
	size_t len = strnlen(token, KEEL_JWT_MAX_LEN + 1), dots = 0, at[2] = {0, 0};

	if (len == 0)
		return "missing token";
	if (len > KEEL_JWT_MAX_LEN)
		return "token too long";
	for (size_t i = 0; i < len; i++) {
		if (token[i] == '.' && dots < 2)
			at[dots++] = i;
		else if (!b64url_char(token[i]))
			return "malformed token";
	}
	if (dots != 2 || at[0] == 0 || at[1] == at[0] + 1)
		return "malformed token";
	p->hdr = token;
	p->hdr_len = at[0];
	p->body = token + at[0] + 1;
	p->body_len = at[1] - at[0] - 1;
	p->sig = token + at[1] + 1;
	p->sig_len = len - at[1] - 1;
	p->signed_len = at[1];
	return NULL;
}

/* Decode a base64url segment strictly and parse it as JSON (no duplicate keys); NULL on error. */
static json_t *
segment_load(const char *seg, size_t len)
{
	unsigned char buf[KEEL_JWT_MAX_LEN];
	size_t n;

	if (sodium_base642bin(buf, sizeof buf, seg, len, NULL, &n, NULL, B64_FLAVOR) != 0)
		return NULL;
	return json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
}

/* Only "alg", "kid" and "typ" may appear; name the first other member's problem. */
static const char *
header_members(json_t *h)
{
	static const char *const key_refs[] = {"jku", "jwk", "x5u", "x5c"};
	const char *name;
	json_t *v;

	json_object_foreach(h, name, v)
	{
		if (strcmp(name, "alg") == 0 || strcmp(name, "kid") == 0 || strcmp(name, "typ") == 0)
			continue;
		if (strcmp(name, "crit") == 0)
			return "critical header not supported";
		for (size_t i = 0; i < sizeof key_refs / sizeof key_refs[0]; i++)
			if (strcmp(name, key_refs[i]) == 0)
				return "key reference header not allowed";
		return "unexpected header";
	}
	return NULL;
}

/* Map an alg name to a supported algorithm; -1 for "none" and everything else. */
static int
alg_parse(const char *s)
{
	if (s != NULL && strcmp(s, "HS256") == 0)
		return ALG_HS256;
	if (s != NULL && strcmp(s, "ES256") == 0)
		return ALG_ES256;
	return -1;
}

/* Check the decoded header and pick the key its kid names, whose pinned alg it must carry. */
static const char *
header_key(const keel_jwt_keys *keys, json_t *h, const struct jwt_key **key)
{
	const char *why = header_members(h);
	json_t *typ = json_object_get(h, "typ");
	const char *alg = json_string_value(json_object_get(h, "alg"));
	const char *kid = json_string_value(json_object_get(h, "kid"));
	int want = alg_parse(alg);

	if (why != NULL)
		return why;
	if (alg == NULL)
		return "missing algorithm";
	if (want < 0)
		return "algorithm not allowed";
	if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
		return "unsupported token type";
	if (kid == NULL)
		return "missing key id";
	for (size_t i = 0; i < keys->nkeys; i++) {
		if (strcmp(keys->key[i].kid, kid) != 0)
			continue;
		*key = &keys->key[i];
		return (int)keys->key[i].alg == want ? NULL : "algorithm not allowed";
	}
	return "unknown key";
}

/* ---- verification: signature --------------------------------------------------------------- */

/* HMAC-SHA256 of msg under the key's secret, compared in constant time with sig[32]. */
static bool
hs256_ok(const struct jwt_key *key, const char *msg, size_t len, const unsigned char *sig)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	bool ok;

	crypto_auth_hmacsha256_init(&st, key->secret, key->secret_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
	crypto_auth_hmacsha256_final(&st, mac);
	ok = crypto_verify_32(mac, sig) == 0;
	sodium_memzero(&st, sizeof st);
	sodium_memzero(mac, sizeof mac);
	return ok;
}

/* The JWS signature r||s (2 x 32 bytes) as a DER ECDSA-Sig-Value in der[cap]; its length or -1. */
static int
es256_der(const unsigned char *raw, unsigned char *der, int cap)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, EC_COORD, NULL), *s = BN_bin2bn(raw + EC_COORD, EC_COORD, NULL);
	int n = -1;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		keel_oom(0);
	if (i2d_ECDSA_SIG(sig, NULL) <= cap)
		n = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	return n;
}

/* ECDSA P-256 with SHA-256 over msg, checked against the JWS signature sig[64]. */
static bool
es256_ok(const struct jwt_key *key, const char *msg, size_t len, const unsigned char *sig)
{
	unsigned char der[80];
	int der_len = es256_der(sig, der, (int)sizeof der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	if (md == NULL)
		keel_oom(0);
	ok = der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pub) == 1 &&
	     EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

/* Decode the signature segment and check it with key over the signed input. */
static const char *
signature_check(const struct jwt_key *key, const struct parts *p)
{
	unsigned char sig[2 * EC_COORD];
	size_t n = 0;

	if (p->sig_len == 0)
		return "missing signature";
	if (sodium_base642bin(sig, sizeof sig, p->sig, p->sig_len, NULL, &n, NULL, B64_FLAVOR) != 0)
		return "bad signature";
	if (key->alg == ALG_HS256)
		return n == crypto_auth_hmacsha256_BYTES && hs256_ok(key, p->hdr, p->signed_len, sig)
		           ? NULL
		           : "bad signature";
	return n == sizeof sig && es256_ok(key, p->hdr, p->signed_len, sig) ? NULL : "bad signature";
}

/* ---- verification: claims ------------------------------------------------------------------ */

/* True when a is more than skew seconds after b (no overflow for any inputs). */
static bool
beyond_skew(int64_t a, int64_t b, int64_t skew)
{
	int64_t d;

	if (__builtin_sub_overflow(a, b, &d))
		return a > b;
	return d > skew;
}

static const char *
issuer_check(const keel_jwt_keys *keys, json_t *pl)
{
	const char *iss = json_string_value(json_object_get(pl, "iss"));

	if (iss == NULL)
		return "missing issuer";
	return strcmp(iss, keys->issuer) == 0 ? NULL : "wrong issuer";
}

/* aud must equal the audience, or be a non-empty array of strings containing it. */
static const char *
audience_check(const keel_jwt_keys *keys, json_t *pl)
{
	json_t *aud = json_object_get(pl, "aud"), *v;
	bool found = false;
	size_t i;

	if (keys->audience == NULL)
		return NULL;
	if (aud == NULL)
		return "missing audience";
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), keys->audience) == 0 ? NULL : "wrong audience";
	if (!json_is_array(aud))
		return "wrong audience";
	json_array_foreach(aud, i, v)
	{
		if (!json_is_string(v))
			return "wrong audience";
		found = found || strcmp(json_string_value(v), keys->audience) == 0;
	}
	return found ? NULL : "wrong audience";
}

/* An integer time claim: *v set when present; missing is an error only when missing != NULL. */
static const char *
time_claim(json_t *pl, const char *name, const char *missing, const char *invalid, int64_t *v)
{
	json_t *j = json_object_get(pl, name);

	if (j == NULL)
		return missing;
	if (!json_is_integer(j))
		return invalid;
	*v = (int64_t)json_integer_value(j);
	return NULL;
}

/* exp, iat (required) and nbf (optional, defaults to iat) against now, within the skew. */
static const char *
times_check(const keel_jwt_keys *keys, json_t *pl, int64_t now, keel_jwt_claims *c)
{
	const char *why;

	if ((why = time_claim(pl, "exp", "missing expiry", "invalid expiry", &c->exp)) ||
	    (why = time_claim(pl, "iat", "missing issue time", "invalid issue time", &c->iat)))
		return why;
	c->nbf = c->iat;
	if ((why = time_claim(pl, "nbf", NULL, "invalid not-before time", &c->nbf)))
		return why;
	if (beyond_skew(now, c->exp, keys->skew_s))
		return "token expired";
	if (beyond_skew(c->nbf, now, keys->skew_s))
		return "token not yet valid";
	if (beyond_skew(c->iat, now, keys->skew_s))
		return "token issued in the future";
	return NULL;
}

/* A UUID claim into dst[37], lowercase. */
static const char *
uuid_claim(json_t *pl, const char *name, const char *missing, const char *invalid, char *dst)
{
	json_t *j = json_object_get(pl, name);

	if (j == NULL)
		return missing;
	if (!json_is_string(j) || !uuid_canon(json_string_value(j), KEEL_UUID_STRLEN + 1, dst))
		return invalid;
	return NULL;
}

static const char *
ids_check(json_t *pl, keel_jwt_claims *c)
{
	json_t *role = json_object_get(pl, "role");
	const char *why;

	if ((why = uuid_claim(pl, "sub", "missing subject", "invalid subject", c->sub)) ||
	    (why = uuid_claim(pl, "tid", "missing tenant", "invalid tenant", c->tid)) ||
	    (why = uuid_claim(pl, "jti", "missing token id", "invalid token id", c->jti)))
		return why;
	if (role == NULL)
		return "missing role";
	if (!json_is_string(role) || !role_known(json_string_value(role)))
		return "invalid role";
	memcpy(c->role, json_string_value(role), json_string_length(role) + 1);
	return NULL;
}

/* Everything after the signature: parse the payload and check every claim. */
static const char *
payload_check(const keel_jwt_keys *keys, const struct parts *p, int64_t now, keel_jwt_claims *c)
{
	json_t *pl = segment_load(p->body, p->body_len);
	const char *why = NULL;

	if (!json_is_object(pl))
		why = "malformed token payload";
	why = why ? why : issuer_check(keys, pl);
	why = why ? why : audience_check(keys, pl);
	why = why ? why : times_check(keys, pl, now, c);
	why = why ? why : ids_check(pl, c);
	json_decref(pl);
	return why;
}

/* The whole check; NULL when the token is good, with c filled. */
static const char *
token_check(const keel_jwt_keys *keys, const char *token, int64_t now, keel_jwt_claims *c)
{
	const struct jwt_key *key = NULL;
	struct parts p;
	json_t *h;
	const char *why = token_split(token, &p);

	if (why != NULL)
		return why;
	h = segment_load(p.hdr, p.hdr_len);
	why = json_is_object(h) ? header_key(keys, h, &key) : "malformed token header";
	json_decref(h);
	if (why != NULL)
		return why;
	if ((why = signature_check(key, &p)) != NULL)
		return why;
	return payload_check(keys, &p, now, c);
}

keel_err
keel_jwt_verify(const keel_jwt_keys *keys, const char *token, int64_t now, keel_jwt_claims *out,
                const char **why)
{
	keel_jwt_claims c;
	const char *reason;

	memset(&c, 0, sizeof c);
	reason = keys == NULL || token == NULL ? "missing token" : token_check(keys, token, now, &c);
	if (reason != NULL)
		memset(&c, 0, sizeof c);
	if (out != NULL)
		*out = c;
	if (why != NULL)
		*why = reason;
	return reason == NULL ? KEEL_OK : KEEL_EUNAUTH;
}

/* ---- JWKS ---------------------------------------------------------------------------------- */

static json_t *
jwk_of(const struct jwt_key *key)
{
	char x[B64_COORD], y[B64_COORD];

	sodium_bin2base64(x, sizeof x, key->x, EC_COORD, B64_FLAVOR);
	sodium_bin2base64(y, sizeof y, key->y, EC_COORD, B64_FLAVOR);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x,
	                 "y", y, "kid", key->kid, "alg", "ES256", "use", "sig");
}

json_t *
keel_jwt_jwks(const keel_jwt_keys *keys)
{
	json_t *list = json_array();

	for (size_t i = 0; keys != NULL && i < keys->nkeys; i++)
		if (keys->key[i].alg == ALG_ES256)
			json_array_append_new(list, jwk_of(&keys->key[i]));
	return json_pack("{s:o}", "keys", list);
}
