/*
 * Requests: accessors for handlers and the response they choose.
 *
 * A handler answers once.  keel_req_json(), keel_req_send() and
 * keel_req_no_content() set the response; keel_req_fail() records a failure
 * that problem.c renders.  A second answer is a bug and is logged.
 *
 * The client's address is the TCP peer's unless the peer is a trusted proxy
 * (KEEL_TRUSTED_PROXIES, parsed once at start-up by core/config.c).  Then
 * X-Forwarded-For is read from the right, where the proxies closest to keel
 * wrote, skipping trusted hops: everything left of the first untrusted
 * address was written by someone keel cannot vouch for, the client included.
 */
#include "http/http_int.h"
#include "core/str.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/trace.h"
#include "core/uuid.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

keel_req *
req_new(struct MHD_Connection *conn, const char *method, const char *path)
{
	keel_arena *arena = keel_arena_create(4096);
	keel_req *req = keel_arena_calloc(arena, 1, sizeof(*req));

	req->arena = arena;
	req->conn = conn;
	req->method = keel_arena_strdup(arena, method);
	req->path = keel_arena_strdup(arena, path);
	req->start_ns = keel_clock_mono_ns();
	keel_buf_init(&req->body, arena);
	req_assign_trace(req, NULL, NULL, 0); /* until the server joins the caller's trace */
	return req;
}

void
req_free(keel_req *req)
{
	if (req != NULL) {
		free(req->stream_buf);
		keel_arena_destroy(req->arena);
	}
}

void
req_assign_id(keel_req *req, const char *incoming)
{
	if (incoming != NULL && keel_token_sane(incoming, KEEL_REQUEST_ID_MAX)) {
		snprintf(req->request_id, sizeof(req->request_id), "%s", incoming);
		return;
	}
	keel_uuid id;

	keel_uuid_v7(&id);
	keel_uuid_format(&id, req->request_id);
}

/* A tracestate worth passing on: printable ASCII, at most KEEL_TRACESTATE_MAX. */
static bool
tracestate_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > KEEL_TRACESTATE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

void
req_assign_trace(keel_req *req, const char *traceparent, const char *tracestate, double ratio)
{
	bool sampled = false;

	req->has_parent = keel_traceparent_parse(traceparent, req->trace_id, req->parent_id, &sampled);
	if (!req->has_parent) {
		keel_trace_new_id(req->trace_id, 16);
		sampled = keel_trace_ratio_sampled(req->trace_id, ratio);
	}
	req->sampled = sampled;
	keel_trace_new_id(req->span_id, 8);
	keel_trace_hex(req->trace_id, 16, req->trace_hex);
	keel_trace_hex(req->span_id, 8, req->span_hex);
	keel_trace_hex(req->parent_id, 8, req->parent_hex);
	req->tracestate = req->has_parent && tracestate != NULL && tracestate_ok(tracestate)
	                      ? keel_arena_strdup(req->arena, tracestate)
	                      : NULL;
}

const char *
keel_req_trace_id(const keel_req *req)
{
	return req->trace_hex;
}

const char *
keel_req_span_id(const keel_req *req)
{
	return req->span_hex;
}

const char *
keel_req_parent_span_id(const keel_req *req)
{
	return req->has_parent ? req->parent_hex : NULL;
}

void
keel_req_trace_ids(const keel_req *req, uint8_t *trace_id, uint8_t *span_id, uint8_t *parent_id,
                   bool *has_parent)
{
	memcpy(trace_id, req->trace_id, 16);
	memcpy(span_id, req->span_id, 8);
	memcpy(parent_id, req->parent_id, 8);
	*has_parent = req->has_parent;
}

bool
keel_req_sampled(const keel_req *req)
{
	return req->sampled;
}

keel_arena *
keel_req_arena(keel_req *req)
{
	return req->arena;
}

const char *
keel_req_method(const keel_req *req)
{
	return req->method;
}

const char *
keel_req_path(const keel_req *req)
{
	return req->path;
}

const char *
keel_req_id(const keel_req *req)
{
	return req->request_id;
}

const keel_route *
keel_req_route(const keel_req *req)
{
	return req->match.route;
}

const char *
keel_req_param(const keel_req *req, const char *name)
{
	for (int i = 0; i < req->match.nparams; i++)
		if (strcmp(req->match.names[i], name) == 0)
			return req->match.values[i];
	return NULL;
}

const char *
keel_req_query(const keel_req *req, const char *name)
{
	if (req->conn == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
keel_req_header(const keel_req *req, const char *name)
{
	if (req->conn == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
keel_req_body(const keel_req *req, size_t *len)
{
	if (len != NULL)
		*len = req->body.len;
	return req->body.data;
}

/* addr (16 bytes, IPv4 mapped) as text: dotted quad for IPv4, else IPv6 text. */
static void
addr_format(const uint8_t addr[16], char out[KEEL_ADDR_TEXT_MAX])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	bool v4 = memcmp(addr, mapped, sizeof(mapped)) == 0;

	if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, out, KEEL_ADDR_TEXT_MAX) == NULL)
		snprintf(out, KEEL_ADDR_TEXT_MAX, "-");
}

/*
 * One X-Forwarded-For entry of len bytes: an address, also as "[v6]",
 * "[v6]:port" or "v4:port", which some proxies write; blanks around it are
 * ignored.
 */
static bool
forwarded_entry(const char *s, size_t len, uint8_t out[16])
{
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;

	const char *end = s + len, *host = s, *rest = end; /* rest: ":port", or the end */
	const char *dot = memchr(s, '.', len), *colon = memchr(s, ':', len);
	size_t hlen = len;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL)
			return false;
		host = s + 1;
		hlen = (size_t)(close - host);
		rest = close + 1;
	} else if (dot != NULL && colon != NULL && dot < colon) {
		hlen = (size_t)(colon - s);
		rest = colon;
	}
	if (rest < end) {
		if (*rest != ':' || end - rest < 2 || end - rest > 6)
			return false;
		for (const char *p = rest + 1; p < end; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	return keel_ip_parse(host, hlen, out);
}

void
client_addr_pick(const keel_cidr_list *trusted, const uint8_t peer[16], const char *forwarded,
                 char out[KEEL_ADDR_TEXT_MAX])
{
	uint8_t cur[16];

	memcpy(cur, peer, sizeof(cur));
	if (forwarded != NULL && keel_cidr_list_contains(trusted, cur)) {
		for (size_t end = strlen(forwarded);;) {
			size_t start = end;

			while (start > 0 && forwarded[start - 1] != ',')
				start--;
			if (!forwarded_entry(forwarded + start, end - start, cur))
				break; /* cur still holds the last trusted hop */
			if (!keel_cidr_list_contains(trusted, cur) || start == 0)
				break;
			end = start - 1;
		}
	}
	addr_format(cur, out);
}

/* MHD_KeyValueIterator: append each X-Forwarded-For value to a buffer, comma-separated. */
static enum MHD_Result
forwarded_collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	keel_buf *b = cls;

	(void)kind;
	if (value != NULL && strcasecmp(key, "X-Forwarded-For") == 0) {
		if (b->len > 0)
			keel_buf_append(b, ",", 1);
		keel_buf_append(b, value, strlen(value));
	}
	return MHD_YES;
}

const char *
keel_req_client_addr(keel_req *req)
{
	if (req->client_addr != NULL)
		return req->client_addr;
	if (req->conn == NULL)
		return "-";
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	uint8_t peer[16] = {[10] = 0xff, [11] = 0xff};

	if (sa != NULL && sa->sa_family == AF_INET)
		memcpy(peer + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		memcpy(peer, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return "-";

	/* X-Forwarded-For is read only from a trusted peer: from anyone else it is the sender's word */
	const char *forwarded = NULL;

	if (keel_cidr_list_contains(req->trusted, peer)) {
		keel_buf b;

		keel_buf_init(&b, req->arena);
		MHD_get_connection_values(req->conn, MHD_HEADER_KIND, forwarded_collect, &b);
		forwarded = b.len > 0 ? b.data : NULL;
	}
	char text[KEEL_ADDR_TEXT_MAX];

	client_addr_pick(req->trusted, peer, forwarded, text);
	req->client_addr = keel_arena_strdup(req->arena, text);
	return req->client_addr;
}

void
keel_req_set_caller(keel_req *req, void *caller, const char *tenant_id)
{
	req->caller = caller;
	req->tenant_id = tenant_id;
}

void *
keel_req_caller(const keel_req *req)
{
	return req->caller;
}

const char *
keel_req_tenant(const keel_req *req)
{
	return req->tenant_id;
}

bool
keel_req_answered(const keel_req *req)
{
	return req->state == REQ_ANSWERED;
}

void
keel_req_problem_type(keel_req *req, const char *slug, const char *title)
{
	req->problem_slug = slug;
	req->problem_title = title;
}

void
keel_req_set_header(keel_req *req, const char *name, const char *value)
{
	header *h = keel_arena_alloc(req->arena, sizeof(*h));

	h->name = keel_arena_strdup(req->arena, name);
	h->value = keel_arena_strdup(req->arena, value);
	h->next = req->headers;
	req->headers = h;
}

/* Claim the single answer of this request; false (and a log line) when taken. */
static bool
claim(keel_req *req)
{
	if (req->state == REQ_ANSWERED) {
		keel_log_error("handler for %s answered twice",
		               req->match.route ? req->match.route->path : "-");
		return false;
	}
	req->state = REQ_ANSWERED; /* an offload asked for in the same step is forgotten */
	return true;
}

keel_err
keel_req_send(keel_req *req, int status, const char *content_type, const char *body, size_t len)
{
	if (!claim(req))
		return KEEL_EINTERNAL;
	req->status = status;
	req->content_type = keel_arena_strdup(req->arena, content_type);
	req->resp_body = keel_arena_memdup(req->arena, body, len);
	req->resp_len = len;
	return KEEL_OK;
}

/* Make the stream's next chunk into its buffer (emptied first); false when next failed. */
bool
req_stream_fill(keel_req *req)
{
	keel_arena *a = keel_arena_create(16384);
	keel_buf out;
	keel_err err;

	keel_buf_init(&out, a);
	err = req->stream_next(req, req->stream_arg, a, &out, &req->stream_done);
	if (err == KEEL_OK) {
		req->stream_buf = keel_xrealloc(req->stream_buf, out.len > 0 ? out.len : 1);
		memcpy(req->stream_buf, out.data, out.len);
		req->stream_len = out.len;
		req->stream_off = 0;
	} else {
		keel_log_warn("http: a streamed answer of %s ended early: %s",
		              req->match.route ? req->match.route->path : "-", keel_err_name(err));
	}
	keel_arena_destroy(a);
	return err == KEEL_OK;
}

keel_err
keel_req_stream(keel_req *req, int status, const char *content_type, const char *first, size_t len,
                keel_req_stream_fn next, void *arg)
{
	if (!claim(req))
		return KEEL_EINTERNAL;
	req->status = status;
	req->content_type = keel_arena_strdup(req->arena, content_type);
	req->stream_next = next;
	req->stream_arg = arg;
	req->stream_buf = keel_xmalloc(len > 0 ? len : 1);
	memcpy(req->stream_buf, first, len);
	req->stream_len = len;
	if (req->conn != NULL)
		return KEEL_OK;
	/* no connection (tests): the whole body now */
	keel_buf all;

	keel_buf_init(&all, req->arena);
	keel_buf_append(&all, first, len);
	while (!req->stream_done) {
		if (!req_stream_fill(req))
			return KEEL_EINTERNAL;
		keel_buf_append(&all, req->stream_buf, req->stream_len);
	}
	req->resp_body = all.data;
	req->resp_len = all.len;
	req->stream_next = NULL;
	return KEEL_OK;
}

keel_err
keel_req_json(keel_req *req, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (text == NULL)
		return keel_req_fail(req, KEEL_EINTERNAL, NULL, "could not serialize response");
	keel_err err = keel_req_send(req, status, "application/json", text, strlen(text));

	free(text);
	return err;
}

keel_err
keel_req_no_content(keel_req *req)
{
	return keel_req_send(req, 204, "application/json", "", 0);
}

keel_err
keel_req_offload(keel_req *req, keel_workpool *pool, void (*run)(void *arg),
                 keel_offload_finish finish, void *arg)
{
	if (req->conn == NULL) {
		run(arg); /* no connection to suspend (a request made by a test): both steps inline */
		return finish(req, arg);
	}
	req->offload_pool = pool;
	req->offload_run = run;
	req->offload_finish = finish;
	req->offload_arg = arg;
	req->state = REQ_OFFLOAD;
	return KEEL_OK;
}

keel_err
keel_req_offload_reserve(keel_req *req, keel_workpool *pool)
{
	if (req->conn == NULL || req->offload_reserved == pool)
		return KEEL_OK; /* offloaded work would run inline, or the place is held already */
	req_offload_release(req);
	if (!keel_workpool_reserve(pool))
		return req_busy(req);
	req->offload_reserved = pool;
	return KEEL_OK;
}

void
req_offload_release(keel_req *req)
{
	if (req->offload_reserved != NULL)
		keel_workpool_release(req->offload_reserved);
	req->offload_reserved = NULL;
}

keel_err
req_busy(keel_req *req)
{
	keel_req_set_header(req, "Retry-After", "1");
	return keel_req_fail(req, KEEL_EUNAVAIL, NULL, "the server is busy; retry shortly");
}

static void
json_release(void *p)
{
	json_decref(p);
}

json_t *
keel_req_errors(keel_req *req)
{
	if (req->field_errors == NULL) {
		req->field_errors = json_array();
		keel_arena_defer(req->arena, json_release, req->field_errors);
	}
	return req->field_errors;
}

size_t
keel_req_field_errors(const keel_req *req)
{
	return req->field_errors ? json_array_size(req->field_errors) : 0;
}

keel_err
keel_req_fail(keel_req *req, keel_err err, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *detail = keel_arena_vprintf(req->arena, fmt, ap);
	va_end(ap);
	if (!claim(req))
		return err;
	if (err == KEEL_OK)
		err = KEEL_EINTERNAL;
	req->err = err;
	req->detail = detail;
	if (field != NULL)
		keel_field_error(keel_req_errors(req), field, "%s", detail);
	if (keel_req_field_errors(req) == 0)
		req->field_errors = NULL; /* an empty collector: no "errors" (the arena releases it) */
	return err;
}

void
keel_req_on_answer(keel_req *req, void (*fn)(void *arg), void *arg)
{
	struct answer_hook *h = keel_arena_alloc(req->arena, sizeof(*h));

	*h = (struct answer_hook){.fn = fn, .arg = arg};
	if (req->answer_hooks_tail != NULL)
		req->answer_hooks_tail->next = h;
	else
		req->answer_hooks = h;
	req->answer_hooks_tail = h;
}

void
req_answer_hooks_run(keel_req *req)
{
	struct answer_hook *h = req->answer_hooks;

	req->answer_hooks = req->answer_hooks_tail = NULL;
	for (; h != NULL; h = h->next)
		h->fn(h->arg);
}

size_t
req_unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r != '\0'; r++) {
		int hi, lo;

		if (r[0] == '%' && (hi = keel_hex_digit(r[1])) >= 0 && (lo = keel_hex_digit(r[2])) >= 0) {
			int byte = hi << 4 | lo;

			*w++ = byte == 0 ? (char)0xFF : (char)byte;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}
