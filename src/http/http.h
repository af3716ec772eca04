/*
 * keel HTTP core: routes, requests, responses, the server.
 *
 * A feature module describes its endpoints as keel_route rows and adds them
 * to a router; the server (libmicrohttpd underneath, never visible here)
 * matches each request to one route and calls its handler on a worker
 * thread.  A handler has one shape: parse -> validate -> authorize -> call
 * its store -> render, and it answers with exactly one of keel_req_json(),
 * keel_req_send(), keel_req_no_content() or keel_req_fail(), or hands
 * CPU-heavy work to keel_req_offload(), whose finish step answers instead.
 * Every error body is written by one function (problem.c) from what
 * keel_req_fail() recorded.
 *
 * Memory: everything a handler allocates comes from keel_req_arena() and
 * dies with the request.
 */
#ifndef KEEL_HTTP_HTTP_H
#define KEEL_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/str.h"
#include "core/workpool.h"

#define KEEL_HTTP_BODY_LIMIT (1024 * 1024) /* bytes; more is 413 */
#define KEEL_ROUTE_MAXPARAMS 4
#define KEEL_REQUEST_ID_MAX  128

typedef struct keel_req keel_req;
typedef struct keel_router keel_router;
typedef struct keel_server keel_server;

typedef keel_err (*keel_handler)(keel_req *req, void *ctx);

/* Route flags. */
#define KEEL_ROUTE_PUBLIC 0x1u /* no authentication */
#define KEEL_ROUTE_BODY   0x2u /* takes a JSON body (Content-Type checked, 415) */
#define KEEL_ROUTE_SUSPENDED                                                                       \
	0x4u /* still answers while the caller's tenant is suspended (GET /api/v1/tenant) */
#define KEEL_ROUTE_CSV                                                                             \
	0x8u /* its success answers text/csv too, for Accept: text/csv (a paged one: next cursor       \
	        in Keel-Next-Cursor) */

/* Number of elements of an array (not a pointer). */
#define KEEL_NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct keel_field_spec keel_field_spec;

/*
 * A named JSON Schema (2020-12), declared by the module whose routes use it
 * and collected from the registered routes into /openapi.json's components.
 * refs: the schemas its text refers to ("#/components/schemas/<name>"), so
 * that a document with this one has them too.
 */
typedef struct keel_schema {
	const char *name; /* "Organization" */
	const char *json; /* the schema as JSON text */
	const struct keel_schema *refs[3];
} keel_schema;

/* What an answer's body is. */
typedef enum keel_shape {
	KEEL_SHAPE_NONE, /* no body (204) */
	KEEL_SHAPE_ONE,  /* application/json: the schema */
	KEEL_SHAPE_LIST, /* application/json: {"data": [schema, ...], "next_cursor": ...} */
	KEEL_SHAPE_TEXT, /* text/plain */
} keel_shape;

typedef struct keel_reply {
	int status; /* 200, 201, 204 ... */
	keel_shape shape;
	const keel_schema *schema; /* KEEL_SHAPE_ONE and _LIST */
} keel_reply;

/* A path, query or header parameter a route reads. */
typedef struct keel_param {
	const char *name;
	const char *in;     /* "path", "query" or "header" */
	const char *schema; /* JSON Schema text */
	const char *description;
} keel_param;

/*
 * The JSON body a route takes: the field specs its handler validates it with
 * (keel_req_check_body), from which the request schema is generated.
 */
typedef struct keel_body {
	const char *schema; /* name of the generated schema, "OrganizationCreate" */
	const keel_field_spec *fields;
	size_t nfields;
} keel_body;

/* A keel_body of a field-spec array: KEEL_BODY("Login", login_spec). */
#define KEEL_BODY(name, spec)                                                                      \
	{                                                                                              \
		(name), (spec), KEEL_NELEM(spec)                                                           \
	}

#define KEEL_ROUTE_MAXPROBLEMS 6

/*
 * A route describes itself completely: /openapi.json is generated from these
 * declarations alone (src/ops/openapi.c), and the ops test fails for a route
 * that lacks one.  Problem statuses a route can give follow from the rest
 * where they can (any route: 400, for a path or query that is not UTF-8;
 * authentication: 401, 403; a body: 413, 415, 422; a path parameter: 404;
 * PATCH and DELETE: 412; a write: 409; authentication or a body: 503);
 * problems lists the others.
 */
typedef struct keel_route {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* template, "/api/v1/organizations/{id}" */
	keel_handler handler;
	unsigned flags;           /* KEEL_ROUTE_* */
	int min_role;             /* the least role (access.h) that may call it; 0: any */
	const char *summary;      /* one line, for /openapi.json and docs */
	const char *operation_id; /* camelCase, unique: "getOrganization" */
	const keel_body *body;    /* with KEEL_ROUTE_BODY; NULL otherwise */
	keel_reply reply;         /* the answer of success */
	keel_reply also;          /* another answer that is no problem+json (status 0: none) */
	const keel_param *params; /* path, query and header parameters, ended by {0} */
	int problems[KEEL_ROUTE_MAXPROBLEMS]; /* problem statuses not derived; 0 ends */
} keel_route;

/*
 * Called for every route without KEEL_ROUTE_PUBLIC before its handler.
 * Returns KEEL_OK after keel_req_set_caller() (the access module's
 * principal), or fails the request.
 */
typedef keel_err (*keel_auth_fn)(keel_req *req, const keel_route *route, void *ctx);

/* ---- router ---- */

typedef struct keel_match {
	const keel_route *route;
	void *ctx;
	int nparams;
	const char *names[KEEL_ROUTE_MAXPARAMS];
	const char *values[KEEL_ROUTE_MAXPARAMS];
	char allow[96]; /* on KEEL_EMETHOD: "GET, HEAD, PATCH" */
} keel_match;

keel_router *keel_router_create(void);
void keel_router_destroy(keel_router *r);

/* Add a route (borrowed, must outlive the router); aborts on a malformed template. */
void keel_router_add(keel_router *r, const keel_route *route, void *ctx);

/* Add n routes sharing one ctx. */
void keel_router_add_all(keel_router *r, const keel_route *routes, size_t n, void *ctx);

/*
 * Match method + path (no query string).  KEEL_OK fills m; KEEL_ENOTFOUND
 * when no template has this path; KEEL_EMETHOD when one has it under other
 * methods (m->allow lists them).  HEAD matches GET.  Parameter values point
 * into copies made in arena.
 */
keel_err keel_router_match(const keel_router *r, const char *method, const char *path,
                           keel_arena *arena, keel_match *m);

size_t keel_router_count(const keel_router *r);
const keel_route *keel_router_at(const keel_router *r, size_t i);

/* ---- request ---- */

keel_arena *keel_req_arena(keel_req *req);
const char *keel_req_method(const keel_req *req);
const char *keel_req_path(const keel_req *req);
const char *keel_req_id(const keel_req *req);
const keel_route *keel_req_route(const keel_req *req);

/* Path parameter by template name ("id"); NULL when absent. */
const char *keel_req_param(const keel_req *req, const char *name);

/* Query argument (decoded) and request header (case-insensitive); NULL when absent. */
const char *keel_req_query(const keel_req *req, const char *name);
const char *keel_req_header(const keel_req *req, const char *name);

/* Raw body (NUL-terminated copy) and its length; "" when there was none. */
const char *keel_req_body(const keel_req *req, size_t *len);

/* The request's trace id (32 hex) and server span id (16 hex); never NULL. */
const char *keel_req_trace_id(const keel_req *req);
const char *keel_req_span_id(const keel_req *req);

/* The caller's span id (16 hex), or NULL when the request came without a traceparent. */
const char *keel_req_parent_span_id(const keel_req *req);

/* The raw ids: trace (16 bytes), this request's span (8), the caller's span (8, when any). */
void keel_req_trace_ids(const keel_req *req, uint8_t *trace_id, uint8_t *span_id,
                        uint8_t *parent_id, bool *has_parent);

/* Whether this request's trace is sampled (recorded and exported). */
bool keel_req_sampled(const keel_req *req);

/*
 * The client's address as text ("127.0.0.1", "2001:db8::1"), "-" when
 * unknown: the TCP peer's, or, when the peer is one of the server's trusted
 * proxies (KEEL_TRUSTED_PROXIES), the right-most address of X-Forwarded-For
 * that is not itself a trusted proxy.  Used for sign-in throttling, audit
 * rows and the access log.  Computed once per request.
 */
const char *keel_req_client_addr(keel_req *req);

/*
 * Who is calling, as the layer above keeps it (access.h's keel_principal):
 * an opaque value, and the tenant it acts for, which the request's log lines
 * and its access log carry; both borrowed, and must live as long as the
 * request (its arena).  Set by the authenticator; both NULL until then.
 */
void keel_req_set_caller(keel_req *req, void *caller, const char *tenant_id);
void *keel_req_caller(const keel_req *req);
const char *keel_req_tenant(const keel_req *req);

/* ---- response ---- */

/* Add a response header; name and value are copied. */
void keel_req_set_header(keel_req *req, const char *name, const char *value);

/* Respond with body as JSON (reference stolen). */
keel_err keel_req_json(keel_req *req, int status, json_t *body);

/* Respond with a byte body of the given content type (copied). */
keel_err keel_req_send(keel_req *req, int status, const char *content_type, const char *body,
                       size_t len);

/* Respond 204 No Content. */
keel_err keel_req_no_content(keel_req *req);

/*
 * Record a failure and return err, so handlers end with
 * `return keel_req_fail(req, KEEL_EINVAL, "code", "must match %s", pat);`.
 * field (may be NULL) adds an entry to the problem's "errors" list; detail is
 * the client-facing sentence.  For KEEL_EINTERNAL the detail goes to the log
 * only and the client sees a generic sentence.
 */
__attribute__((format(printf, 4, 5))) keel_err
keel_req_fail(keel_req *req, keel_err err, const char *field, const char *fmt, ...);

/* Whether the request's answer is already decided (a failure or a response). */
bool keel_req_answered(const keel_req *req);

/*
 * The problem type of the request's failure, "urn:keel:problem:<slug>", when
 * it is more precise than its status's (slug and title are static text).
 */
void keel_req_problem_type(keel_req *req, const char *slug, const char *title);

/*
 * The request's field errors (a collector, see keel_json_check), made on
 * first use and released with the request: checks append to it, and
 * keel_req_fail() makes its entries the problem's "errors".
 */
json_t *keel_req_errors(keel_req *req);

/* Number of field errors recorded so far. */
size_t keel_req_field_errors(const keel_req *req);

/*
 * The next chunk of a streamed answer: append it to out (allocated in a, an arena of this
 * chunk alone) and set *done after the last one.  An error ends the answer early.
 */
typedef keel_err (*keel_req_stream_fn)(keel_req *req, void *arg, keel_arena *a, keel_buf *out,
                                       bool *done);

/*
 * Answer status with a body sent as the client reads it: first (len bytes, copied), then
 * the chunks next(req, arg, ...) makes, until one sets *done; a body too large to be held
 * whole (an export of every line of a ledger) costs one chunk of memory at a time.  next runs
 * on the server's thread whenever the client has taken all that was made, after the handler
 * has returned and its answer hooks have run: it begins and ends its own transaction (and
 * whatever it allocates lives in its chunk's arena; keep what must last from one chunk to the
 * next in arg, allocated in the request arena).  The status is sent before the body is
 * complete, so an error from next cannot change it: the body is cut short and the
 * connection closed (chunked encoding: the client sees an incomplete answer, never a
 * complete-looking one), and the error is logged.  A request made without a connection
 * (tests) runs every chunk at once into the body.
 */
keel_err keel_req_stream(keel_req *req, int status, const char *content_type, const char *first,
                         size_t len, keel_req_stream_fn next, void *arg);

/*
 * Call fn(arg) once the request's answer is decided, before it is sent (or
 * before its connection is suspended for offloaded work).  For resources
 * that must not wait for the client to read the answer: a database
 * connection held until then would be held for as long as the worker thread
 * takes to send it, and with every worker busy that way, none would be free
 * for the next request.  Hooks run in the order they were added.
 */
void keel_req_on_answer(keel_req *req, void (*fn)(void *arg), void *arg);

/* ---- offloading CPU-heavy work ---- */

/* The second step of offloaded work: answers the request (see keel_req_offload). */
typedef keel_err (*keel_offload_finish)(keel_req *req, void *arg);

/*
 * Offloaded work is two steps.  The handler (the start step) does what it
 * can on its worker, calls this and returns its result; the server then
 * suspends the request's connection, so the worker goes on serving others,
 * and runs run(arg) on pool.  Once run(arg) has finished, the connection is
 * resumed and finish(req, arg) is called on a worker thread, with what run()
 * left in arg (allocate arg in the request arena), to answer the request as
 * a handler does.  The handler is never called again.  When the pool's queue
 * is full, or the pool stops before run(arg) could start
 * (keel_workpool_stop), the request fails with 503 + Retry-After and finish
 * is not called.  A request made without a connection (tests) runs both
 * steps inline and returns finish's result.
 */
keel_err keel_req_offload(keel_req *req, keel_workpool *pool, void (*run)(void *arg),
                          keel_offload_finish finish, void *arg);

/*
 * Hold a place on pool's queue for this request's keel_req_offload(), for a
 * handler with work worth doing only if the offload will be queued (a
 * sign-in puts its attempt on record, counted against the account, before it
 * hashes).  When the queue is full (or the pool stops) the request fails
 * with 503 + Retry-After at once: return the result.  A place not used by
 * keel_req_offload() on the same pool is given back when the request is
 * answered.
 */
keel_err keel_req_offload_reserve(keel_req *req, keel_workpool *pool);

/* ---- JSON bodies ---- */

/*
 * Parse the request body as one JSON object: 400 when empty, malformed,
 * with duplicate keys, with "\u0000", or not an object.  The object belongs to the
 * request (released with its arena).
 */
keel_err keel_req_json_body(keel_req *req, json_t **out);

typedef enum keel_ftype {
	KEEL_F_STRING,
	KEEL_F_OBJECT,
	KEEL_F_INTEGER,
	KEEL_F_BOOLEAN,
	KEEL_F_UUID,
	KEEL_F_ENUM,
	KEEL_F_ARRAY, /* min..max items, each checked by the handler (items: their schema) */
} keel_ftype;

/* How one body field is validated by keel_json_check(), and described in /openapi.json. */
struct keel_field_spec {
	const char *name;
	keel_ftype type;
	bool required;
	bool nullable;
	bool trim;                    /* strings: trim whitespace first (value replaced) */
	int64_t min, max;             /* string: characters; object: serialized bytes; integer */
	bool (*check)(const char *s); /* strings: extra rule, e.g. a pattern */
	const char *check_msg;        /* message when check fails, "must match ^[a-z]+$" */
	const char *const *choices;   /* enum: NULL-terminated */
	const char *pattern;          /* the regular expression check enforces, for the schema */
	const char *format;           /* JSON Schema format for the schema ("email"), or NULL */
	const char *description;      /* for the schema: a rule checked elsewhere, or NULL */
	const char *items;            /* arrays (min..max items): an item's JSON Schema */
};

/*
 * Field errors are collected in a JSON array of {"field": ..., "message": ...}
 * (a collector), so the same checks serve a request and a command.
 * keel_field_error() appends one and returns 1, for checks that count.
 */
__attribute__((format(printf, 3, 4))) size_t keel_field_error(json_t *errors, const char *field,
                                                              const char *fmt, ...);

/*
 * Validate obj against spec[0..n): unknown members, missing required ones,
 * types, lengths, checks (trimmed strings replaced in obj).  Each problem is
 * appended to errors; returns their number (0: valid).
 */
size_t keel_json_check(json_t *obj, const keel_field_spec *spec, size_t n, json_t *errors);

/*
 * The 422 of a request whose input broke rules: when the request's collector
 * (keel_req_errors) holds any error, fail the request with KEEL_EINVAL and
 * detail, the errors becoming the problem's "errors", and return KEEL_EINVAL;
 * KEEL_OK when it holds none.
 */
keel_err keel_req_invalid(keel_req *req, const char *detail);

/*
 * Validate body against the fields its route declares (keel_route.body) into
 * the request's collector, then keel_req_invalid(req, detail).
 */
keel_err keel_req_check_body(keel_req *req, json_t *body, const char *detail);

/* ---- server ---- */

typedef struct keel_server_opts {
	const char *listen;         /* "127.0.0.1:8080" */
	int workers;                /* worker threads */
	int max_connections;        /* concurrent connections */
	int64_t request_timeout_ms; /* idle / slow client cut-off */
	keel_auth_fn auth;          /* may be NULL: then only public routes work */
	void *auth_ctx;
	/*
	 * Called when a response has been sent (or the client went away), with
	 * the request still readable (keel_req_route() is NULL when it matched
	 * no route); status is 0 when no response was sent.  On a worker thread;
	 * must be quick.  May be NULL.
	 */
	void (*observe)(void *ctx, keel_req *req, int status, double seconds);
	void *observe_ctx;
	double trace_ratio; /* 0..1: share of new traces sampled (callers' flags win) */
	/*
	 * Peers whose X-Forwarded-For is believed (borrowed, must outlive the
	 * server); NULL or empty: the TCP peer is always the client.
	 */
	const struct keel_cidr_list *trusted_proxies;
} keel_server_opts;

/* router is borrowed and must outlive the server. */
keel_server *keel_server_create(const keel_server_opts *opts, const keel_router *router);

/* Bind and start the workers; err[errlen] says why when it fails. */
keel_err keel_server_start(keel_server *s, char *err, size_t errlen);

/*
 * First step of a graceful stop: stop accepting connections, and close each
 * open one after its next answer.  Requests in flight go on; so may those a
 * kept-alive connection sends meanwhile.  A second call does nothing.
 */
void keel_server_quiesce(keel_server *s);

/*
 * Graceful stop: keel_server_quiesce() unless done, let requests in flight
 * finish for at most timeout_ms, then close every connection and join the
 * workers.  Stop the pools requests offload to first (keel_workpool_stop):
 * a connection still waiting for offloaded work cannot be closed.
 */
void keel_server_stop(keel_server *s, int64_t timeout_ms);

void keel_server_destroy(keel_server *s);

/* Requests being processed right now. */
int keel_server_inflight(const keel_server *s);

#endif
