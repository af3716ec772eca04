/*
 * Idempotency-Key for creates.
 *
 * The key is claimed by inserting it into core.idempotency_keys inside the
 * create's own transaction.  A concurrent request with the same key blocks on
 * the unique index until the first commits or rolls back; then it either
 * finds the stored response (and replays it) or, when the first failed and
 * left nothing, claims the key itself.  Only successful responses are
 * stored, together with a hash of the request, so the same key with another
 * body is told so (422) instead of getting someone else's answer.  Keys older
 * than 24 hours are reclaimed.  The response body is kept as a JSON string
 * (jsonb would reorder and respace an object), so a replay sends the very
 * bytes of the first response, with its Location and ETag.
 */
#include "svc/svc.h"
#include "svc/svc_int.h"
#include "core/str.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const keel_stmt st_claim = {
    "svc_idem_claim",
    "INSERT INTO core.idempotency_keys (tenant_id, key, route, request_hash)"
    " VALUES (core.current_tenant_id(), $1, $2, $3)"
    " ON CONFLICT (tenant_id, key) DO UPDATE SET route = EXCLUDED.route,"
    "  request_hash = EXCLUDED.request_hash, status = NULL, response = NULL, location = NULL,"
    "  created_at = now()"
    " WHERE core.idempotency_keys.created_at < now() - interval '24 hours'"
    " RETURNING 1",
    3};
static const keel_stmt st_stored = {
    "svc_idem_stored",
    "SELECT route, request_hash, status, response #>> '{}', location FROM core.idempotency_keys"
    " WHERE tenant_id = core.current_tenant_id() AND key = $1",
    1};
static const keel_stmt st_store = {
    "svc_idem_store",
    "UPDATE core.idempotency_keys SET status = $2, response = to_jsonb($3::text), location = $4"
    " WHERE tenant_id = core.current_tenant_id() AND key = $1",
    4};

/* Hex SHA-256 of method, path and body: what "the same request" means. */
char *
request_hash(keel_req *req)
{
	crypto_hash_sha256_state st;
	unsigned char hash[crypto_hash_sha256_BYTES];
	size_t len;
	const char *body = keel_req_body(req, &len);
	char *hex = keel_arena_alloc(keel_req_arena(req), 2 * sizeof(hash) + 1);

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)keel_req_method(req),
	                          strlen(keel_req_method(req)) + 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)keel_req_path(req),
	                          strlen(keel_req_path(req)) + 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)body, len);
	crypto_hash_sha256_final(&st, hash);
	sodium_bin2hex(hex, 2 * sizeof(hash) + 1, hash, sizeof(hash));
	return hex;
}

/* Replay a stored response; fail when the key was used for another request. */
static keel_err
replay(keel_req *req, keel_tx *tx, const char *key, const char *route, const char *hash)
{
	keel_res *res;
	const char *p[] = {key};
	keel_err err = keel_tx_exec(tx, &st_stored, p, &res);

	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_res_rows(res) != 1 || keel_res_null(res, 0, 2))
		return keel_svc_fail(req, KEEL_EUNAVAIL, NULL); /* vanished meanwhile: retry */
	if (strcmp(keel_res_get(res, 0, 0), route) != 0 || strcmp(keel_res_get(res, 0, 1), hash) != 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL,
		                     "this Idempotency-Key was already used for a different request");
	if (!keel_res_null(res, 0, 4))
		keel_req_set_header(req, "Location", keel_res_get(res, 0, 4));
	keel_req_set_header(req, "Idempotent-Replayed", "true");
	const char *body = keel_res_get(res, 0, 3);
	json_t *resource = json_loads(body, 0, NULL);

	if (json_is_integer(json_object_get(resource, "version")))
		keel_svc_etag(req, resource);
	json_decref(resource);

	return keel_req_send(req, atoi(keel_res_get(res, 0, 2)), "application/json", body,
	                     strlen(body));
}

keel_err
keel_svc_idem_claim(keel_req *req, keel_tx *tx, const char **key, bool *replayed)
{
	const char *k = keel_req_header(req, "Idempotency-Key");
	const char *route = keel_req_route(req)->path;
	keel_res *res;

	*key = NULL;
	*replayed = false;
	if (k == NULL)
		return KEEL_OK;
	size_t len = strlen(k);

	if (len < 1 || len > 255 || !keel_utf8_valid(k, len))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "Idempotency-Key must be 1 to 255 characters");
	const char *hash = request_hash(req);
	const char *p[] = {k, route, hash};
	keel_err err = keel_tx_exec(tx, &st_claim, p, &res);

	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_res_rows(res) == 1) {
		*key = keel_arena_strdup(keel_req_arena(req), k);
		return KEEL_OK;
	}
	*replayed = true;
	return replay(req, tx, k, route, hash);
}

keel_err
keel_svc_idem_store(keel_req *req, keel_tx *tx, const char *key, int status, const char *body,
                    const char *location)
{
	char code[8];
	const char *p[] = {key, code, body, location};

	if (key == NULL)
		return KEEL_OK;
	snprintf(code, sizeof(code), "%d", status);
	keel_err err = keel_tx_exec(tx, &st_store, p, NULL);

	return err == KEEL_OK ? KEEL_OK : keel_svc_fail(req, err, NULL);
}
