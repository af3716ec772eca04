/*
 * Request-scoped database access (see svc.h).
 */
#include "svc/svc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The peer's address for app.client_addr, or NULL when unknown. */
static const char *
client_addr(keel_req *req)
{
	const char *addr = keel_req_client_addr(req);

	return strcmp(addr, "-") == 0 ? NULL : addr;
}

/* The request's server span: round trips become its children. */
static keel_trace_ref
trace_of(const keel_req *req)
{
	keel_trace_ref t;
	uint8_t parent[8];
	bool has_parent;

	keel_req_trace_ids(req, t.trace_id, t.span_id, parent, &has_parent);
	t.sampled = keel_req_sampled(req);
	return t;
}

static void
release_on_answer(void *tx)
{
	keel_tx_release(tx);
}

/*
 * A transaction on a connection of the pool, given back when the handler has
 * answered (keel_req_on_answer), not when the answer has been sent: the
 * worker thread may serve other requests before it sends this one, and they
 * may need the connection.
 */
static keel_err
begin(keel_req *req, keel_db_pool *pool, const keel_ctx *ctx, keel_tx **tx)
{
	keel_db *db;
	keel_err err = keel_db_acquire_scoped(pool, keel_req_arena(req), &db);

	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	err = keel_tx_begin(db, keel_req_arena(req), ctx, tx);
	if (err == KEEL_OK)
		keel_req_on_answer(req, release_on_answer, *tx);
	return err;
}

keel_err
keel_svc_tx(keel_req *req, keel_db_pool *pool, keel_tx **tx)
{
	const keel_principal *p = keel_req_principal(req);
	keel_trace_ref trace = trace_of(req);
	keel_ctx ctx = {.tenant_id = p->tenant_id,
	                .user_id = p->user_id,
	                .request_id = keel_req_id(req),
	                .trace_id = keel_req_trace_id(req),
	                .client_addr = client_addr(req),
	                .trace = &trace};

	return begin(req, pool, &ctx, tx);
}

keel_err
keel_svc_tx_tenant(keel_req *req, keel_db_pool *pool, const char *tenant_id, keel_tx **tx)
{
	keel_trace_ref trace = trace_of(req);
	keel_ctx ctx = {.tenant_id = tenant_id,
	                .request_id = keel_req_id(req),
	                .trace_id = keel_req_trace_id(req),
	                .client_addr = client_addr(req),
	                .trace = &trace};

	return begin(req, pool, &ctx, tx);
}

keel_err
keel_svc_fail(keel_req *req, keel_err err, const char *detail)
{
	switch (err) {
	case KEEL_EUNAVAIL:
		return keel_req_fail(req, err, NULL, "the database is unavailable; retry shortly");
	case KEEL_EINTERNAL:
		return keel_req_fail(req, err, NULL, "%s", detail ? detail : "database error");
	default:
		return keel_req_fail(req, err, NULL, "%s", detail ? detail : keel_err_name(err));
	}
}

keel_err
keel_svc_commit(keel_req *req, keel_tx *tx)
{
	keel_err err = keel_tx_commit(tx);

	return err == KEEL_OK ? KEEL_OK : keel_svc_fail(req, err, "could not commit");
}

void
keel_svc_release(keel_tx *tx)
{
	keel_tx_release(tx);
}

keel_err
keel_svc_if_match(keel_req *req, const char **version)
{
	const char *h = keel_req_header(req, "If-Match");
	size_t len;

	*version = NULL;
	if (h == NULL || strcmp(h, "*") == 0)
		return KEEL_OK;
	len = strlen(h);
	if (len >= 3 && len <= 12 && h[0] == '"' && h[len - 1] == '"' &&
	    strspn(h + 1, "0123456789") == len - 2) {
		/*
		 * Versions are integers from 1 up: "01" (ETags compare byte for
		 * byte) or a number past the integer range can match no version.
		 * "0" says so to the stores, which compare it as an integer.
		 */
		bool canonical = h[1] != '0' && strtoll(h + 1, NULL, 10) <= INT32_MAX;

		*version = canonical ? keel_arena_strndup(keel_req_arena(req), h + 1, len - 2) : "0";
		return KEEL_OK;
	}
	return keel_req_fail(req, KEEL_EPRECOND, NULL,
	                     "If-Match must be a strong ETag of this resource, like \"3\"");
}

void
keel_svc_etag(keel_req *req, const json_t *resource)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%lld\"",
	         (long long)json_integer_value(json_object_get(resource, "version")));
	keel_req_set_header(req, "ETag", etag);
}
