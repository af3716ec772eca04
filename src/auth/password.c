/*
 * Password hashing: argon2id through libsodium's crypto_pwhash_str, PHC
 * strings, OWASP parameters or stronger (KEEL_PASSWORD_MEMORY_KIB,
 * KEEL_PASSWORD_PASSES; one lane, as libsodium always uses).
 */
#include "auth/auth_int.h"

#include <string.h>

bool
auth_password_hash(const keel_auth *a, const char *password, char *out, size_t outlen)
{
	if (outlen < crypto_pwhash_STRBYTES)
		return false;
	return crypto_pwhash_str_alg(out, password, strlen(password), a->opslimit, a->memlimit,
	                             crypto_pwhash_ALG_ARGON2ID13) == 0;
}

bool
auth_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

bool
auth_password_needs_rehash(const keel_auth *a, const char *hash)
{
	return crypto_pwhash_str_needs_rehash(hash, a->opslimit, a->memlimit) != 0;
}

keel_workpool *
keel_auth_hashers(const keel_auth *auth)
{
	return auth->hashers;
}

void
keel_auth_hash_run(void *arg)
{
	keel_auth_hash_job *job = arg;

	job->ok = auth_password_hash(job->auth, job->password, job->hash, sizeof(job->hash));
}
