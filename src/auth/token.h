/*
 * Private to src/auth: refresh tokens (token.c), the opaque text a client
 * holds and the hash the store keeps of it.
 */
#ifndef KEEL_AUTH_TOKEN_H
#define KEEL_AUTH_TOKEN_H

#include <stdbool.h>

#include "core/arena.h"

#define KEEL_REFRESH_SECRET 32

typedef struct refresh_token {
	char tenant_id[37];
	char id[37];
	unsigned char secret[KEEL_REFRESH_SECRET];
} refresh_token;

/* A new token for tenant_id: fresh id and secret. */
void refresh_new(refresh_token *t, const char *tenant_id);

/* The opaque text a client holds (arena). */
char *refresh_encode(keel_arena *a, const refresh_token *t);

/* Parse a client's text; false when it is not one of ours. */
bool refresh_decode(const char *text, refresh_token *t);

/* "\\x" + hex SHA-256 of the secret: the bytea parameter stored and compared. */
char *refresh_hash_param(keel_arena *a, const refresh_token *t);

#endif
