/*
 * Request-scoped services: the glue between a request and the database.
 *
 * Every feature handler opens its transaction here, so that the tenant, the
 * user and the request id always reach PostgreSQL the same way: from the
 * authenticated principal (never from the request body), through
 * keel_tx_begin().  The connection is taken from the pool for the request and
 * returned when the request's arena dies; an uncommitted transaction is
 * rolled back then.
 */
#ifndef KEEL_SVC_SVC_H
#define KEEL_SVC_SVC_H

#include "db/db.h"
#include "http/http.h"

/*
 * A transaction acting for the request's principal; fails the request with 503 when the database is
 * down.  With a user, the transaction's first round trip also checks the user's access as the
 * database has it now (auth.acting_role): a disabled or deleted user fails the request with 401, a
 * suspended tenant with 403 (unless the route has KEEL_ROUTE_SUSPENDED), a role below the route's
 * with 403; the statement that found it failed is answered already (keel_svc_fail does nothing
 * more).  Once that round trip is done, keel_access_principal()'s role is the live one.
 */
keel_err keel_svc_tx(keel_req *req, keel_db_pool *pool, keel_tx **tx);

/* keel_svc_tx() for a request that needs at least min_role (or the route's, if higher). */
keel_err keel_svc_tx_role(keel_req *req, keel_db_pool *pool, int min_role, keel_tx **tx);

/*
 * Check the caller's access (keel_svc_tx_role's rules) in a round trip of its own, before work
 * that must not start for a caller who lost it (a password hash).  Fails the request otherwise.
 */
keel_err keel_svc_access(keel_req *req, keel_db_pool *pool, int min_role);

/* A transaction acting for tenant_id with no user (sign-in, sign-up, refresh before the user is
 * known). */
keel_err keel_svc_tx_tenant(keel_req *req, keel_db_pool *pool, const char *tenant_id, keel_tx **tx);

/*
 * Turn a store error into the request's answer: unavailable -> 503, internal
 * -> 500, anything else -> that code with detail.  Returns err.
 */
keel_err keel_svc_fail(keel_req *req, keel_err err, const char *detail);

/* Commit, failing the request on error. */
keel_err keel_svc_commit(keel_req *req, keel_tx *tx);

/*
 * End tx (rolled back unless committed) and give its connection back now:
 * for a request about to wait on other work (password hashing).
 */
void keel_svc_release(keel_tx *tx);

/* ---- versions: ETag and If-Match ---- */

/*
 * The version an If-Match header asks for: *version NULL when there is no
 * header or it is "*"; otherwise the digits of a strong ETag "N" ("0", which
 * no row has, when N has a leading zero or is past the integer range).
 * Anything else cannot match any version: the request fails with 412.
 */
keel_err keel_svc_if_match(keel_req *req, const char **version);

/* Set ETag: "<version>" from the resource's "version" member. */
void keel_svc_etag(keel_req *req, const json_t *resource);

/* ---- Idempotency-Key on creates (idempotency.c) ---- */

/*
 * Claim the request's Idempotency-Key in tx (a no-op without the header).
 * *key is set when this request owns the key and must store its response
 * with keel_svc_idem_store() before commit.  *replayed is set when an earlier
 * identical request's response has been sent: the handler returns at once
 * (and may commit or let tx roll back).  A key reused with another request is
 * 422; a malformed key 400.
 */
keel_err keel_svc_idem_claim(keel_req *req, keel_tx *tx, const char **key, bool *replayed);

/* The Idempotency-Key header as a create route declares it (keel_route.params). */
#define KEEL_SVC_IDEMPOTENCY_PARAM                                                                 \
	{                                                                                              \
		"Idempotency-Key", "header", "{\"type\":\"string\",\"minLength\":1,\"maxLength\":255}",    \
		    "Retries with the same key and body get the first response (24 h)"                     \
	}

/* Store the response for key (NULL: nothing to do). */
keel_err keel_svc_idem_store(keel_req *req, keel_tx *tx, const char *key, int status,
                             const char *body, const char *location);

/* ---- pagination ---- */

#define KEEL_PAGE_DEFAULT 50
#define KEEL_PAGE_MAX     200

typedef struct keel_page {
	int limit;         /* 1..KEEL_PAGE_MAX */
	const char *after; /* canonical UUID: rows with a greater id, or NULL */
} keel_page;

#define KEEL_SVC_STR_(x) #x
#define KEEL_SVC_STR(x)  KEEL_SVC_STR_(x)

/* ?limit= and ?cursor= as a list route declares them (keel_route.params). */
#define KEEL_SVC_PAGE_PARAMS                                                                       \
	{"limit", "query",                                                                             \
	 "{\"type\":\"integer\",\"minimum\":1,\"maximum\":" KEEL_SVC_STR(                              \
	     KEEL_PAGE_MAX) ",\"default\":" KEEL_SVC_STR(KEEL_PAGE_DEFAULT) "}",                       \
	 "Page size"},                                                                                 \
	{                                                                                              \
		"cursor", "query", "{\"type\":\"string\"}", "Opaque position: a page's next_cursor"        \
	}

/* Parse ?limit= and ?cursor=; a bad value fails the request with 400. */
keel_err keel_svc_page(keel_req *req, keel_page *out);

/* The opaque cursor for a page that ended at last_id (in the request arena). */
const char *keel_svc_cursor(keel_req *req, const char *last_id);

/* ---- cursors of other shapes (lists not in id order) ---- */

#define KEEL_CURSOR_PAYLOAD_MAX 32 /* bytes after the kind byte */

/* Parse ?limit= alone (1..KEEL_PAGE_MAX, default KEEL_PAGE_DEFAULT); 400 when bad. */
keel_err keel_svc_page_limit(keel_req *req, int *limit);

/*
 * The opaque cursor (base64url, in the request arena) for kind (a byte the
 * list owns; 0x01 is taken by keel_svc_cursor) and len <= KEEL_CURSOR_PAYLOAD_MAX
 * bytes of payload.
 */
const char *keel_svc_cursor_encode(keel_req *req, unsigned char kind, const void *payload,
                                   size_t len);

/*
 * Decode ?cursor= into payload[len]: *found is false when there is none.  A
 * cursor that does not decode, is of another kind or of another length fails
 * the request with 400.
 */
keel_err keel_svc_cursor_decode(keel_req *req, unsigned char kind, void *payload, size_t len,
                                bool *found);

/* {"data": data, "next_cursor": ...}: a cursor only when the page is full. Steals data. */
json_t *keel_svc_list(keel_req *req, json_t *data, const keel_page *page, const char *last_id);

#endif
