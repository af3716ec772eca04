/*
 * Private to src/http: the request structure and the pieces of the pipeline
 * that server.c strings together.  Tests and fuzz harnesses may include it.
 */
#ifndef KEEL_HTTP_HTTP_INT_H
#define KEEL_HTTP_HTTP_INT_H

#include "http/http.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"

struct MHD_Connection;

/*
 * What a connection closed while its client may still be sending (an answer
 * before the body: 413, 400) reads and discards at most before it closes
 * (server.c, lingering close); it closes sooner when the client does, or
 * after KEEL_REQUEST_TIMEOUT.
 */
#define KEEL_HTTP_LINGER_BYTES (4 * KEEL_HTTP_BODY_LIMIT)

/* A keel_req_on_answer() callback, in the request arena. */
struct answer_hook {
	void (*fn)(void *arg);
	void *arg;
	struct answer_hook *next;
};

/*
 * Where a request is.  Changed by the thread that has the request: its
 * worker, or, while it is suspended, the hashing pool (which may only answer
 * it, when the work could not run).
 */
typedef enum req_state {
	REQ_OPEN,      /* a step (the handler, or a finish step) is deciding the answer */
	REQ_OFFLOAD,   /* the step asked for keel_req_offload(): queued once it returns */
	REQ_SUSPENDED, /* the work is queued or running; its finish step comes next */
	REQ_ANSWERED,  /* the answer is decided (a response or a failure): sent next */
} req_state;

typedef struct header {
	struct header *next;
	const char *name;
	const char *value;
} header;

struct keel_req {
	keel_arena *arena;
	struct MHD_Connection *conn; /* NULL for requests made by tests */
	const char *method;
	const char *path;
	char request_id[KEEL_REQUEST_ID_MAX + 1];

	/* W3C trace context: the caller's (when sent) and this request's span */
	uint8_t trace_id[16], span_id[8], parent_id[8];
	bool has_parent, sampled;
	char trace_hex[33], span_hex[17], parent_hex[17];
	const char *tracestate; /* the caller's, when well-formed */
	uint64_t start_ns;

	keel_match match;
	void *caller;             /* keel_req_set_caller() */
	const char *tenant_id;    /* the caller's tenant, for the log */
	keel_log_context log_ctx; /* what this request's log lines carry (server.c) */
	struct answer_hook *answer_hooks, *answer_hooks_tail; /* keel_req_on_answer() */

	/* the client's address: who is trusted to name it, and the answer once computed */
	const keel_cidr_list *trusted;
	const char *client_addr;

	/* body, collected by the server */
	keel_buf body;
	bool body_too_large;
	bool has_body;

	req_state state;

	/* response */
	int status;
	const char *content_type;
	const char *resp_body;
	size_t resp_len;
	header *headers;

	/* a streamed body (keel_req_stream): what is made and not yet sent, and how to go on */
	keel_req_stream_fn stream_next;
	void *stream_arg;
	char *stream_buf; /* malloc'd, freed with the request */
	size_t stream_len, stream_off;
	bool stream_done;

	/* offloaded work: set by keel_req_offload, queued and finished by the server */
	keel_workpool *offload_pool;
	keel_workpool *offload_reserved; /* keel_req_offload_reserve's pool, until used or released */
	void (*offload_run)(void *arg);
	keel_offload_finish offload_finish;
	void *offload_arg;

	/* failure recorded by keel_req_fail, rendered by problem_render */
	keel_err err;
	const char *detail;
	json_t *field_errors;     /* array of {field, message}, owned via arena */
	const char *problem_slug; /* keel_req_problem_type(), or NULL: the status's */
	const char *problem_title;
};

/* A fresh request in its own arena; conn may be NULL. */
keel_req *req_new(struct MHD_Connection *conn, const char *method, const char *path);

/* Destroy the request and its arena. */
void req_free(keel_req *req);

/* Make a streamed answer's next chunk (keel_req_stream); false when it failed (logged). */
bool req_stream_fill(keel_req *req);

/* True when the response already has header name (case-insensitive). */
bool has_header(const keel_req *req, const char *name);

/* HTTP status for an error code. */
int problem_status(keel_err err);

/* Turn the recorded failure into the problem+json response. */
void problem_render(keel_req *req);

#define KEEL_ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/*
 * The client's address (keel_req_client_addr) from the TCP peer's (16
 * bytes, IPv4 mapped) and the request's X-Forwarded-For values joined by
 * commas in the order received (NULL when there were none), as text into
 * out.  Only a peer in trusted is believed; its list is read from the right,
 * each trusted hop passing the question to the address before it, and the
 * first address that is not trusted is the client (all trusted: the
 * left-most).  An entry that is not an address ends the walk at the last
 * trusted hop, so a malformed list names a proxy, never whatever a client
 * wrote further left.
 */
void client_addr_pick(const keel_cidr_list *trusted, const uint8_t peer[16], const char *forwarded,
                      char out[KEEL_ADDR_TEXT_MAX]);

/*
 * Percent-decode s in place (the path and query values); returns the new
 * length.  A %00 becomes the byte 0xFF, never valid UTF-8, so a NUL smuggled
 * in is refused as malformed instead of cutting the string short.
 */
size_t req_unescape(char *s);

/* Fail the request with 503 + Retry-After: offloaded work could not be queued or run. */
keel_err req_busy(keel_req *req);

/* Give back the request's unused keel_req_offload_reserve() place, if it holds one. */
void req_offload_release(keel_req *req);

/* Run the request's keel_req_on_answer() hooks, once each. */
void req_answer_hooks_run(keel_req *req);

/* Set X-Request-ID from the header when sane, else a new UUIDv7. */
void req_assign_id(keel_req *req, const char *incoming);

/*
 * Join the caller's trace (a valid traceparent) or start one, give the
 * request its own span id, and decide sampling: the parent's flag when there
 * is one, else the trace-id ratio.
 */
void req_assign_trace(keel_req *req, const char *traceparent, const char *tracestate, double ratio);

#endif
