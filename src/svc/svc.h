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

#include "core/str.h"
#include "db/db.h"
#include "http/http.h"

/* JSON Schema fragments the modules' keel_schema and keel_param texts share. */
#define KEEL_JS_UUID      "{\"type\":\"string\",\"format\":\"uuid\"}"
#define KEEL_JS_UUID_NULL "{\"type\":[\"string\",\"null\"],\"format\":\"uuid\"}"
#define KEEL_JS_TS        "{\"type\":\"string\",\"format\":\"date-time\"}"
#define KEEL_JS_TS_NULL   "{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}"
#define KEEL_JS_DATE      "{\"type\":\"string\",\"format\":\"date\"}"
#define KEEL_JS_DATE_NULL "{\"type\":[\"string\",\"null\"],\"format\":\"date\"}"

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
 * keel_svc_tx() for a chunk of a streamed answer (keel_req_stream): on a connection of pool
 * given back, its transaction rolled back unless committed, when arena a (the chunk's) is
 * destroyed.  The caller's access is checked again as keel_svc_tx() does (a user disabled
 * while the answer streams gets no more of it), but a failure only returns its error: the
 * answer's status is sent already.
 */
keel_err keel_svc_tx_chunk(keel_req *req, keel_db_pool *pool, keel_arena *a, keel_tx **tx);

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

/*
 * Answer a failed statement of tx.  A module's own error (SQLSTATE K<letter><status>,
 * keel_db_module_state: raised by its migration's functions and triggers) answers its status
 * with its message and, for 422, the field its COLUMN names; what words a plain 404 ("no such
 * <what>"; NULL: as any other error); anything else answers as keel_svc_fail().  Returns err.
 */
keel_err keel_svc_fail_tx(keel_req *req, keel_tx *tx, keel_err err, const char *what);

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

/* ---- lists: the one renderer of every list answer ---- */

/*
 * A list answer being built: {"data":[item,...],"next_cursor":"..."|null}, in one buffer of
 * the request's arena.  Items come as JSON text PostgreSQL rendered (made compact on the way
 * in, by keel_db_json_compact) or as jansson values (rendered compact), so a list has the
 * style of every other body.
 */
typedef struct keel_svc_list {
	keel_buf out;
	int count; /* items added */
} keel_svc_list;

void keel_svc_list_begin(keel_svc_list *l, keel_arena *a);

/* Add an item: JSON text (a row PostgreSQL rendered), in the compact style. */
void keel_svc_list_add(keel_svc_list *l, const char *json);

/* Add an item rendered by jansson. */
void keel_svc_list_add_json(keel_svc_list *l, const json_t *item);

/* Close the list with next_cursor (NULL: null) and return its text (the list's buffer). */
const char *keel_svc_list_end(keel_svc_list *l, const char *next_cursor);

/*
 * The next_cursor of a page in id order that ended at last_id with count items: a cursor only
 * when the page is full, else NULL.
 */
const char *keel_svc_page_next(keel_req *req, const keel_page *page, int count,
                               const char *last_id);

/* Answer 200 with a page in id order of jansson items (data, stolen) that ended at last_id. */
keel_err keel_svc_list_json(keel_req *req, json_t *data, const keel_page *page,
                            const char *last_id);

/* ---- the handler tail ---- */

/* What a handler answers once its work is done. */
typedef struct keel_svc_reply {
	int status;           /* 200 or 201; 204 No Content when there is no body */
	const char *text;     /* the body as compact JSON text (keel_res_json, a list), or */
	const json_t *json;   /* the body as JSON, rendered compact; both NULL: no body */
	long version;         /* > 0: ETag "<version>" */
	const char *location; /* Location, or NULL */
	const char *idem_key; /* from keel_svc_idem_claim(): the answer is stored under it */
} keel_svc_reply;

/*
 * The end every handler shares once its store has run (load or lock -> 404 or problem ->
 * commit -> render).  err is the store's outcome: KEEL_ENOTFOUND answers 404 "no such
 * <what>" (what NULL: as any other error), any other error answers as keel_svc_fail();
 * KEEL_OK stores the answer under reply.idem_key, commits tx and sends reply.  Returns the
 * error that answered, KEEL_OK when reply was sent.
 */
keel_err keel_svc_finish(keel_req *req, keel_tx *tx, keel_err err, const char *what,
                         keel_svc_reply reply);

#endif
