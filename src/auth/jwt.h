/*
 * Access-token JWTs: a key ring, signing, strict verification, JWKS.
 *
 * Private header of the auth module.  A key ring holds one signing key (the
 * ES256 private key when configured, else the HS256 secret) and the keys
 * accepted for verification (the signing key, the secret, and the previous_*
 * keys kept during a rotation).  Every key has a kid derived from its
 * material and a pinned algorithm; a token is accepted only when its header
 * names a kid in the ring and exactly that key's algorithm.  A ring is
 * immutable after keel_jwt_keys_create(), so any number of threads may sign
 * and verify with one ring at once.
 */
#ifndef KEEL_AUTH_JWT_H
#define KEEL_AUTH_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KEEL_JWT_MAX_LEN    4096 /* longest token accepted, bytes */
#define KEEL_JWT_MIN_SECRET 32   /* shortest HS256 secret, bytes */
#define KEEL_JWT_MAX_SKEW_S 3600 /* largest skew_s accepted */
#define KEEL_JWT_KID_LEN    16   /* base64url of 12 bytes */

typedef struct keel_jwt_keys keel_jwt_keys;

typedef struct keel_jwt_config {
	const char *secret;          /* HS256 signing secret (>= 32 bytes), or NULL */
	const char *private_key_pem; /* ES256 (P-256) private key, PEM; takes precedence for signing */
	const char *previous_secret; /* extra HS256 key accepted for verification only, or NULL */
	/* extra ES256 public key accepted for verification only, or NULL */
	const char *previous_public_pem;
	const char *issuer;   /* required "iss" */
	const char *audience; /* "aud" set and required when non-NULL */
	int64_t skew_s;       /* clock skew allowed for exp/nbf/iat, e.g. 30 */
} keel_jwt_config;

typedef struct keel_jwt_claims {
	char sub[37];          /* user id, canonical UUID */
	char tid[37];          /* tenant id, canonical UUID */
	char role[16];         /* "owner" | "admin" | "member" | "viewer" */
	char jti[37];          /* token id, UUID */
	int64_t iat, nbf, exp; /* seconds since the epoch */
} keel_jwt_claims;

/*
 * Build the key ring; KEEL_EINVAL with a reason in err (never the key material) on bad input.
 *
 * Secrets are taken as raw bytes (strlen), at least KEEL_JWT_MIN_SECRET long.  PEM keys must be
 * unencrypted P-256 keys (private: PKCS#8 or SEC1; previous public: SubjectPublicKeyInfo).  At
 * least one signing key, an issuer and 0 <= skew_s <= KEEL_JWT_MAX_SKEW_S are required.  The ring
 * copies what it needs from cfg; err gets a PostgreSQL-style message naming the KEEL_JWT_*
 * variable ("KEEL_JWT_SECRET must be at least 32 bytes").  On success *out is owned by the
 * caller and released with keel_jwt_keys_destroy(); on failure *out is NULL.
 */
keel_err keel_jwt_keys_create(const keel_jwt_config *cfg, keel_jwt_keys **out, char *err,
                              size_t errlen);

/* Wipe the key material and free the ring.  NULL is a no-op. */
void keel_jwt_keys_destroy(keel_jwt_keys *keys);

/*
 * Sign claims with the signing key; returns a malloc'd compact JWS, header
 * {"alg","typ":"JWT","kid"}.
 *
 * The payload carries iss, aud (when configured), sub, tid, role, iat, nbf (= iat; claims->nbf is
 * ignored), exp and jti.  sub, tid and jti must be UUIDs (written in lowercase), role one of the
 * four roles and exp > iat; otherwise, or when the signature cannot be made (logged), returns
 * NULL, so a token that would not verify is never issued.  The caller frees the result.
 */
char *keel_jwt_sign(const keel_jwt_keys *keys, const keel_jwt_claims *claims);

/*
 * Verify token at time now (seconds). KEEL_OK fills out; any failure is KEEL_EUNAUTH with a short
 * lowercase reason in *why (a static string, e.g. "token expired", "unknown key", "bad signature",
 * "algorithm not allowed"), never echoing token contents.
 *
 * The header must be a JSON object with exactly "alg", "kid" and optionally "typ": "JWT"; the kid
 * must be in the ring and alg must be that key's pinned algorithm.  The signature is checked
 * before the payload is parsed.  The claims are then checked: iss, aud (when configured; ignored
 * otherwise), integer exp/iat (nbf optional), all within skew_s of now, UUID sub/tid/jti and a
 * known role.  In out, UUIDs are lowercase and nbf is iat when the token has none.  On failure
 * out is zeroed; on success *why is NULL.  why may be NULL.
 */
keel_err keel_jwt_verify(const keel_jwt_keys *keys, const char *token, int64_t now,
                         keel_jwt_claims *out, const char **why);

/*
 * The public keys (ES256 ones only; empty "keys" array for HS256-only rings) as a JWKS object:
 * {"keys":[{"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}]}. New reference.
 *
 * The signing key comes first, then the previous public key.  Nothing secret is included.
 */
json_t *keel_jwt_jwks(const keel_jwt_keys *keys);

#endif
