/*
 * The auth service: its set-up from the configuration (JWT keys, password
 * parameters, the dummy hash an unknown account is verified against), its
 * metrics, and its routes.
 */
#include "auth/auth_int.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>

keel_err
keel_auth_create(const keel_config *cfg, keel_db_pool *pool, keel_workpool *hashers,
                 keel_auth **out, char *err, size_t errlen)
{
	keel_auth *a = keel_xcalloc(1, sizeof(*a));
	keel_jwt_config jc = {
	    .secret = cfg->jwt_secret,
	    .private_key_pem = cfg->jwt_private_key,
	    .previous_secret = cfg->jwt_previous_secret,
	    .previous_public_pem = cfg->jwt_previous_public_key,
	    .issuer = cfg->jwt_issuer,
	    .audience = cfg->jwt_audience,
	    .skew_s = 30,
	};

	*out = NULL;
	a->pool = pool;
	a->hashers = hashers;
	a->opslimit = (unsigned long long)cfg->password_passes;
	a->memlimit = (size_t)cfg->password_memory_kib * 1024;
	a->access_ttl_s = cfg->access_token_ttl_ms / 1000;
	a->refresh_ttl_s = cfg->refresh_token_ttl_ms / 1000;
	if (keel_jwt_keys_create(&jc, &a->keys, err, errlen) != KEEL_OK) {
		free(a);
		return KEEL_EINVAL;
	}
	/* The hash verified when there is no user: same parameters, same cost. */
	char random[33];

	randombytes_buf(random, 32);
	for (int i = 0; i < 32; i++)
		random[i] = (char)('a' + ((unsigned char)random[i] % 26));
	random[32] = '\0';
	if (!auth_password_hash(a, random, a->dummy_hash, sizeof(a->dummy_hash))) {
		snprintf(err, errlen, "could not compute a password hash (memory limit too high?)");
		keel_auth_destroy(a);
		return KEEL_EINVAL;
	}
	*out = a;
	return KEEL_OK;
}

void
keel_auth_destroy(keel_auth *a)
{
	if (a == NULL)
		return;
	keel_jwt_keys_destroy(a->keys);
	free(a);
}

void
keel_auth_set_metrics(keel_auth *a, keel_metrics *metrics)
{
	a->metrics = metrics;
	keel_metrics_declare(metrics, "keel_sign_ins_total", KEEL_METRIC_COUNTER,
	                     "Sign-in attempts by outcome: success, failure, throttled.");
	keel_metrics_declare(metrics, "keel_password_hashes_total", KEEL_METRIC_COUNTER,
	                     "New argon2id password hashes computed.");
	keel_metrics_declare(metrics, "keel_password_verifications_total", KEEL_METRIC_COUNTER,
	                     "Argon2id password verifications, by the parameters of the hash verified"
	                     " against: current or other.");
}

void
auth_count_sign_in(const keel_auth *a, const char *outcome)
{
	if (a->metrics != NULL)
		keel_metrics_add(a->metrics, "keel_sign_ins_total", outcome, 1);
}

void
keel_auth_routes(keel_router *r, keel_auth *a)
{
	auth_api_routes(r, a);
	users_api_routes(r, a);
}
