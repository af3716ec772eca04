/*
 * Refresh tokens.
 *
 * The text a client holds is base64url of 64 bytes: the tenant id (16), the
 * token id (16) and a 256-bit random secret (32).  The tenant part lets a
 * refresh run inside that tenant's row-level security like every other
 * request; the id finds the row; only SHA-256 of the secret is stored, so a
 * copy of the database holds no usable token.
 */
#include "auth/token.h"
#include "core/str.h"
#include "core/uuid.h"

#include <sodium.h>
#include <string.h>

#define RAW_BYTES (16 + 16 + KEEL_REFRESH_SECRET)

void
refresh_new(refresh_token *t, const char *tenant_id)
{
	keel_uuid id;

	snprintf(t->tenant_id, sizeof(t->tenant_id), "%s", tenant_id);
	keel_uuid_v7(&id);
	keel_uuid_format(&id, t->id);
	randombytes_buf(t->secret, sizeof(t->secret));
}

char *
refresh_encode(keel_arena *a, const refresh_token *t)
{
	unsigned char raw[RAW_BYTES];
	keel_uuid tenant, id;
	size_t len = sodium_base64_ENCODED_LEN(RAW_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *text = keel_arena_alloc(a, len);

	keel_uuid_parse(t->tenant_id, &tenant);
	keel_uuid_parse(t->id, &id);
	memcpy(raw, tenant.b, 16);
	memcpy(raw + 16, id.b, 16);
	memcpy(raw + 32, t->secret, KEEL_REFRESH_SECRET);
	sodium_bin2base64(text, len, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return text;
}

bool
refresh_decode(const char *text, refresh_token *t)
{
	unsigned char raw[RAW_BYTES + 1];
	size_t len = 0;
	keel_uuid tenant, id;

	if (strlen(text) > 128 || !keel_b64url_chars(text) ||
	    sodium_base642bin(raw, sizeof(raw), text, strlen(text), NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != RAW_BYTES)
		return false;
	memcpy(tenant.b, raw, 16);
	memcpy(id.b, raw + 16, 16);
	keel_uuid_format(&tenant, t->tenant_id);
	keel_uuid_format(&id, t->id);
	memcpy(t->secret, raw + 32, KEEL_REFRESH_SECRET);
	sodium_memzero(raw, sizeof(raw));
	return true;
}

char *
refresh_hash_param(keel_arena *a, const refresh_token *t)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char *text = keel_arena_alloc(a, 2 + 2 * sizeof(hash) + 1);

	crypto_hash_sha256(hash, t->secret, sizeof(t->secret));
	text[0] = '\\';
	text[1] = 'x';
	sodium_bin2hex(text + 2, 2 * sizeof(hash) + 1, hash, sizeof(hash));
	return text;
}
