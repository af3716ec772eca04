/*
 * Password hashing: argon2id through libsodium's crypto_pwhash_str, PHC
 * strings, OWASP parameters or stronger (KEEL_PASSWORD_MEMORY_KIB,
 * KEEL_PASSWORD_PASSES; one lane, as libsodium always uses).
 *
 * Every computation is counted (keel_password_hashes_total,
 * keel_password_verifications_total{params}): the work a request costs is
 * what the throttles and the timing parity of sign-in promise, and tests
 * check it by these counts rather than by the clock.
 */
#include "auth/auth_int.h"

#include <string.h>

static void
count(const keel_auth *a, const char *name, const char *labels)
{
	if (a->metrics != NULL)
		keel_metrics_add(a->metrics, name, labels, 1);
}

bool
auth_password_hash(const keel_auth *a, const char *password, char *out, size_t outlen)
{
	if (outlen < crypto_pwhash_STRBYTES)
		return false;
	count(a, "keel_password_hashes_total", "");
	return crypto_pwhash_str_alg(out, password, strlen(password), a->opslimit, a->memlimit,
	                             crypto_pwhash_ALG_ARGON2ID13) == 0;
}

bool
auth_password_verify(const keel_auth *a, const char *hash, const char *password)
{
	count(a, "keel_password_verifications_total",
	      auth_password_needs_rehash(a, hash) ? "params=\"other\"" : "params=\"current\"");
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
