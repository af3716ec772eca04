/*
 * The HTTP server: libmicrohttpd glue and the request pipeline.
 *
 * libmicrohttpd runs a pool of worker threads, each polling its own share of
 * the connections; a handler runs on the worker that read its request and may
 * block (on PostgreSQL) without stopping other workers.  The pipeline for one
 * request, in order:
 *
 *   request id -> body collection (1 MiB cap, 413) -> path and query checks
 *   (400) -> route (404/405) -> content type (415) -> authentication and
 *   role (401/403) -> handler (or: handler -> offloaded work on a pool while
 *   the connection is suspended -> its finish step) -> problem+json for any
 *   failure -> headers -> access log line when the response is done -> arena
 *   freed.
 *
 * Percent-decoding of the path and query is ours (unescape()): a %00 decodes
 * to the byte 0xFF, which is never valid UTF-8, so a NUL smuggled into a path
 * or query is rejected as malformed instead of silently cutting the string.
 *
 * Slow clients: libmicrohttpd's connection timeout only closes a connection
 * idle for that long, so a client sending its headers one byte a second
 * (slowloris) would keep its connection for ever, and enough of them would
 * hold every connection keel accepts.  Each connection therefore also has a
 * deadline for a request's line and headers (see conn_watch), enforced by a
 * watchdog thread.
 *
 * Lingering close: a connection closed while its client may still be sending
 * (keel answered before reading the body: a 413 announced by Content-Length,
 * a 400 for ambiguous framing; or libmicrohttpd closes with bytes unread, as
 * after its 431 and 414) would be reset by the kernel once closed with data
 * unread or arriving, and a reset can destroy the answer before the client
 * reads it: a client still sending sees its send fail, and drops the
 * connection unread.  Such a socket therefore outlives libmicrohttpd's
 * descriptor (see linger_add): its answer and FIN are out, and the linger
 * thread reads and discards what comes until the client closes, up to
 * KEEL_HTTP_LINGER_BYTES or for request_timeout, then closes it.
 */
#include "http/http_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * One open connection and the time by which its current request's line and
 * headers must have arrived.  When the connection opens or its previous
 * request ends: twice request_timeout (a connection idle for request_timeout
 * is libmicrohttpd's to close; this only catches one that trickles); when
 * the request line is in: request_timeout for the headers.  0 while keel has
 * the request: a body and the answer are bounded by the idle timeout alone.
 * Past the deadline the watchdog shuts the socket down, and libmicrohttpd
 * closes the connection as it would for a client that hung up.  The
 * watchdog only touches sockets still in the list, which libmicrohttpd's
 * close notification empties before it closes the socket.
 *
 * No deadline ends before libmicrohttpd's idle timeout would for a client
 * that sent nothing more: a client cut off here is one that kept sending,
 * too slowly.
 */
typedef struct conn_watch {
	MHD_socket fd;
	_Atomic uint64_t deadline_ns; /* monotonic; 0: none; UINT64_MAX: cut off already */
	bool answered_early;          /* answered before its request was read: linger at close */
	struct conn_watch *prev, *next;
} conn_watch;

/* Sockets lingering at once; more are closed at once, as libmicrohttpd would. */
#define LINGER_MAX 64

/* A closed connection's socket, read and discarded until its end (lingering close). */
typedef struct lingering {
	int fd;               /* a duplicate of libmicrohttpd's descriptor */
	uint64_t deadline_ns; /* monotonic */
	size_t left;          /* bytes still to discard */
} lingering;

struct keel_server {
	keel_server_opts opts;
	char *listen;
	const keel_router *router;
	struct MHD_Daemon *daemon;
	atomic_int inflight;
	atomic_bool stopping;

	/* slow clients (conn_watch) */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_wake;
	conn_watch *watched; /* every open connection */
	bool watch_stop;
	bool watchdog_started;
	pthread_t watchdog;

	/* lingering close (lingering) */
	pthread_mutex_t linger_lock;
	lingering linger[LINGER_MAX];
	int nlinger;
	int linger_wake[2]; /* a pipe: a socket was added, or stop */
	bool linger_stop;
	bool linger_started;
	pthread_t linger_thread;
};

/* MHD_UnescapeCallback: keel's percent-decoding (req_unescape, see the file header). */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return req_unescape(s);
}

static enum MHD_Result
query_check(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	const char **bad = cls;

	(void)kind;
	if (!keel_utf8_valid(key, strlen(key)) || (value && !keel_utf8_valid(value, strlen(value)))) {
		*bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

/* application/json, optionally with parameters; a charset must be utf-8. */
static bool
is_json_type(const char *ct)
{
	if (ct == NULL)
		return false;
	size_t len = strcspn(ct, ";");

	while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
		len--;
	if (len != strlen("application/json") || strncasecmp(ct, "application/json", len) != 0)
		return false;
	const char *cs = strcasestr(ct, "charset=");

	return cs == NULL || strncasecmp(cs + 8, "utf-8", 5) == 0 ||
	       strncasecmp(cs + 8, "\"utf-8\"", 7) == 0;
}

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	int *n = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, "Content-Length") == 0)
		n[0]++;
	else if (strcasecmp(key, "Transfer-Encoding") == 0)
		n[1]++;
	return MHD_YES;
}

/*
 * A body whose length another server could read differently (RFC 9112, 6.3):
 * two Content-Length headers, or one with Transfer-Encoding.  libmicrohttpd
 * takes the first Content-Length, or the chunked framing; a gateway in front
 * that took the other would see a different request boundary, so such a
 * request is refused and its connection closed (request smuggling).
 */
static bool
framing_ambiguous(struct MHD_Connection *conn)
{
	int n[2] = {0, 0};

	if (conn != NULL)
		MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, n);
	return n[0] > 1 || (n[0] > 0 && n[1] > 0);
}

/* Everything before the handler: the checks that make a request well-formed. */
static keel_err
precheck(keel_server *s, keel_req *req)
{
	const char *bad = NULL;

	if (framing_ambiguous(req->conn)) {
		keel_req_set_header(req, "Connection", "close");
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "the request's length is ambiguous: give one Content-Length, or"
		                     " Transfer-Encoding alone");
	}
	if (req->body_too_large)
		return keel_req_fail(req, KEEL_ETOOLARGE, NULL, "request body exceeds %d bytes",
		                     KEEL_HTTP_BODY_LIMIT);
	if (!keel_utf8_valid(req->path, strlen(req->path)))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "request path is not valid UTF-8");
	if (req->conn != NULL)
		MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_check, &bad);
	if (bad != NULL)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "query parameter is not valid UTF-8");

	keel_err err = keel_router_match(s->router, req->method, req->path, req->arena, &req->match);

	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, err, NULL, "no resource at this path");
	if (err == KEEL_EMETHOD)
		return keel_req_fail(req, err, NULL, "method %s is not allowed here; allowed: %s",
		                     req->method, req->match.allow);
	const keel_route *route = req->match.route;

	if ((route->flags & KEEL_ROUTE_BODY) && req->body.len > 0 &&
	    !is_json_type(keel_req_header(req, "Content-Type")))
		return keel_req_fail(req, KEEL_EMEDIA, NULL,
		                     "request body must be sent as Content-Type: application/json");
	if (route->flags & KEEL_ROUTE_PUBLIC)
		return KEEL_OK;
	if (s->opts.auth == NULL)
		return keel_req_fail(req, KEEL_EUNAUTH, NULL, "authentication required");
	err = s->opts.auth(req, route, s->opts.auth_ctx);
	if (err != KEEL_OK && req->state != REQ_ANSWERED)
		keel_req_fail(req, err, NULL, "%s", keel_err_name(err));
	return err;
}

/*
 * The ids every log line of this thread carries while it works for req (its
 * tenant once authenticated); NULL ends that.
 */
static void
log_context(keel_req *req)
{
	if (req == NULL) {
		keel_log_context_set(NULL);
		return;
	}
	req->log_ctx = (keel_log_context){.request_id = req->request_id,
	                                  .trace_id = req->trace_hex,
	                                  .span_id = req->span_hex,
	                                  .tenant_id = req->tenant_id};
	keel_log_context_set(&req->log_ctx);
}

/*
 * After a step (the handler or a finish step) returned err: offloaded work it
 * asked for goes ahead; otherwise the request must be answered, by the
 * failure err names when the step recorded none.
 */
static void
step_end(keel_req *req, keel_err err)
{
	if (req->state == REQ_ANSWERED || (req->state == REQ_OFFLOAD && err == KEEL_OK))
		return;
	if (err != KEEL_OK)
		keel_req_fail(req, err, NULL, "%s", keel_err_name(err));
	else
		keel_req_fail(req, KEEL_EINTERNAL, NULL, "handler for %s gave no response",
		              req->match.route->path);
}

/* The pipeline's checks, then the route's handler: the first step. */
static void
dispatch(keel_server *s, keel_req *req)
{
	log_context(req);
	keel_err err = precheck(s, req);

	if (err == KEEL_OK && req->state == REQ_OPEN) {
		log_context(req); /* now with the tenant, once authenticated */
		step_end(req, req->match.route->handler(req, req->match.ctx));
	}
	log_context(NULL);
}

/* The offloaded work is done and the connection resumed: its finish step answers. */
static void
finish(keel_req *req)
{
	log_context(req);
	req->state = REQ_OPEN;
	step_end(req, req->offload_finish(req, req->offload_arg));
	log_context(NULL);
}

static void
offload_done(void *arg)
{
	keel_req *req = arg;

	MHD_resume_connection(req->conn);
}

static void
offload_run(void *arg)
{
	keel_req *req = arg;

	log_context(req);
	req->offload_run(req->offload_arg);
	log_context(NULL);
}

/* The pool stopped before the work ran: answer 503 (respond() sends it when resumed). */
static void
offload_cancel(void *arg)
{
	keel_req *req = arg;

	req_busy(req);
	MHD_resume_connection(req->conn);
}

/*
 * Suspend the connection, then queue the work (into the place the handler
 * reserved, when it did): in that order, so the work can never resume a
 * connection that is not suspended yet.  The access handler is called again
 * after MHD_resume_connection(), and respond() goes on from the state.
 */
static void
start_offload(keel_req *req)
{
	keel_job job = {.run = offload_run, .done = offload_done, .cancel = offload_cancel, .arg = req};
	keel_workpool *pool = req->offload_pool;
	bool reserved = req->offload_reserved == pool;

	req->state = REQ_SUSPENDED;
	if (reserved)
		req->offload_reserved = NULL;
	req_offload_release(req);  /* a place held on another pool */
	req_answer_hooks_run(req); /* nothing the request holds waits with it */
	MHD_suspend_connection(req->conn);
	if (!(reserved ? keel_workpool_submit_reserved(pool, &job)
	               : keel_workpool_submit(pool, &job))) {
		req_busy(req);
		MHD_resume_connection(req->conn);
	}
}

/*
 * A streamed answer's body as the client takes it: what is made, then the next chunk,
 * made here on the server's thread (as a handler's work is) when all was taken.
 */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	keel_req *req = cls;
	ssize_t n;

	(void)pos;
	while (req->stream_off == req->stream_len) {
		if (req->stream_done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		log_context(req);
		bool ok = req_stream_fill(req);

		log_context(NULL);
		if (!ok)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = (ssize_t)(req->stream_len - req->stream_off < max ? req->stream_len - req->stream_off
	                                                      : max);
	memcpy(buf, req->stream_buf + req->stream_off, (size_t)n);
	req->stream_off += (size_t)n;
	return n;
}

/* Queue the answer the request has decided. */
static enum MHD_Result
send_answer(keel_server *s, keel_req *req)
{
	if (req->err != KEEL_OK && req->resp_body == NULL)
		problem_render(req);

	struct MHD_Response *resp =
	    req->stream_next != NULL
	        ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, req, NULL)
	        : MHD_create_response_from_buffer(req->resp_len, (void *)req->resp_body,
	                                          MHD_RESPMEM_MUST_COPY);

	if (resp == NULL)
		return MHD_NO;
	if (req->resp_len > 0 || req->stream_next != NULL || req->status != 204)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	MHD_add_response_header(resp, "X-Request-ID", req->request_id);
	char traceparent[KEEL_TRACEPARENT_LEN + 1];

	keel_traceparent_format(req->trace_id, req->span_id, req->sampled, traceparent);
	MHD_add_response_header(resp, "traceparent", traceparent);
	if (req->tracestate != NULL)
		MHD_add_response_header(resp, "tracestate", req->tracestate);
	if (!has_header(req, "Cache-Control"))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	for (const header *h = req->headers; h != NULL; h = h->next)
		MHD_add_response_header(resp, h->name, h->value);
	if (atomic_load(&s->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, resp);

	MHD_destroy_response(resp);
	return ret;
}

/*
 * Take the request one step on: the handler when it is new, the finish step
 * when its offloaded work is done (nothing when the work could not run: the
 * request is answered already); then queue offloaded work, or send the answer.
 */
static enum MHD_Result
respond(keel_server *s, keel_req *req)
{
	if (req->state == REQ_OPEN)
		dispatch(s, req);
	else if (req->state == REQ_SUSPENDED)
		finish(req);
	if (req->state == REQ_OFFLOAD) {
		start_offload(req);
		return MHD_YES;
	}
	req_offload_release(req);
	req_answer_hooks_run(req);
	return send_answer(s, req);
}

/* A Content-Length header announcing more than the cap. */
static bool
announced_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

	if (cl == NULL)
		return false;
	char *end;

	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);

	return errno != 0 || n > KEEL_HTTP_BODY_LIMIT;
}

/* The conn_watch of a connection (NULL only if it was never registered). */
static conn_watch *
watch_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

/* A deadline n request timeouts from now. */
static uint64_t
watch_deadline(const keel_server *s, int n)
{
	return keel_clock_mono_ns() + (uint64_t)n * (uint64_t)s->opts.request_timeout_ms * 1000000u;
}

/* Give conn's next request (n = 2) or the headers of the current one (n = 1) their time. */
static void
watch_arm(keel_server *s, struct MHD_Connection *conn, int n)
{
	conn_watch *w = watch_of(conn);

	if (w != NULL)
		atomic_store(&w->deadline_ns, watch_deadline(s, n));
}

/* Bytes received on fd that nobody has read. */
static bool
unread(MHD_socket fd)
{
	int n = 0;

	return fd != MHD_INVALID_SOCKET && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/*
 * Keep the socket of a connection libmicrohttpd is about to close (it has
 * shut down the writing side: the answer and the FIN are out) open through
 * a descriptor of its own, for the linger thread to drain.
 */
static void
linger_add(keel_server *s, MHD_socket fd)
{
	pthread_mutex_lock(&s->linger_lock);
	int own = s->linger_started && !s->linger_stop && s->nlinger < LINGER_MAX
	              ? fcntl(fd, F_DUPFD_CLOEXEC, 0)
	              : -1;

	if (own >= 0)
		s->linger[s->nlinger++] = (lingering){
		    .fd = own, .deadline_ns = watch_deadline(s, 1), .left = KEEL_HTTP_LINGER_BYTES};
	pthread_mutex_unlock(&s->linger_lock);
	if (own >= 0 && write(s->linger_wake[1], "", 1) < 0 && errno != EAGAIN)
		keel_log_debug("http: waking the linger thread: %s", strerror(errno));
}

/* Read and discard what l's client sent; true once it is done with: the end, or enough. */
static bool
linger_drain(lingering *l)
{
	char scratch[16384];

	for (;;) {
		ssize_t n = recv(l->fd, scratch, sizeof(scratch), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
		if (n == 0 || (size_t)n >= l->left)
			return true;
		l->left -= (size_t)n;
	}
}

/* Drain the first n lingering sockets as p (their poll) says; close those done or out of time. */
static void
linger_sweep(keel_server *s, const struct pollfd *p, int n)
{
	uint64_t now = keel_clock_mono_ns();

	pthread_mutex_lock(&s->linger_lock);
	for (int i = n - 1; i >= 0; i--) {
		lingering *l = &s->linger[i];

		if ((p[i].revents != 0 && linger_drain(l)) || now > l->deadline_ns || s->linger_stop) {
			close(l->fd);
			*l = s->linger[--s->nlinger]; /* one added since p was made, or itself */
		}
	}
	pthread_mutex_unlock(&s->linger_lock);
}

/* The linger thread: wait for the lingering sockets, the clock or a wake-up, until told to stop. */
static void *
linger_run(void *arg)
{
	keel_server *s = arg;
	struct pollfd p[LINGER_MAX + 1];
	bool stop = false;

	while (!stop) {
		pthread_mutex_lock(&s->linger_lock);
		int n = s->nlinger;

		stop = s->linger_stop;
		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = s->linger[i].fd, .events = POLLIN};
		pthread_mutex_unlock(&s->linger_lock);
		p[n] = (struct pollfd){.fd = s->linger_wake[0], .events = POLLIN};
		if (!stop && poll(p, (nfds_t)n + 1, n > 0 ? 100 : -1) < 0)
			memset(p, 0, sizeof(p[0]) * (size_t)(n + 1));
		char drop[64];

		if (p[n].revents != 0 && read(s->linger_wake[0], drop, sizeof(drop)) < 0 && errno != EAGAIN)
			keel_log_debug("http: the linger thread's wake-up: %s", strerror(errno));
		linger_sweep(s, p, n);
	}
	return NULL;
}

/* Start the linger thread (without it, connections close at once, as libmicrohttpd's would). */
static void
linger_start(keel_server *s)
{
	if (pipe2(s->linger_wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return;
	pthread_mutex_lock(&s->linger_lock);
	s->linger_stop = false;
	pthread_mutex_unlock(&s->linger_lock);
	if (pthread_create(&s->linger_thread, NULL, linger_run, s) == 0) {
		pthread_mutex_lock(&s->linger_lock);
		s->linger_started = true;
		pthread_mutex_unlock(&s->linger_lock);
		return;
	}
	close(s->linger_wake[0]);
	close(s->linger_wake[1]);
}

/* Close every lingering socket and end the linger thread. */
static void
linger_stop(keel_server *s)
{
	if (!s->linger_started)
		return;
	pthread_mutex_lock(&s->linger_lock);
	s->linger_stop = true;
	pthread_mutex_unlock(&s->linger_lock);
	if (write(s->linger_wake[1], "", 1) < 0)
		keel_log_debug("http: stopping the linger thread: %s", strerror(errno));
	pthread_join(s->linger_thread, NULL);
	s->linger_started = false;
	close(s->linger_wake[0]);
	close(s->linger_wake[1]);
}

/* MHD_NotifyConnectionCallback: keep the list of open connections. */
static void
watch_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
             enum MHD_ConnectionNotificationCode toe)
{
	keel_server *s = cls;
	conn_watch *w = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		w = keel_xcalloc(1, sizeof(*w));
		w->fd = ci != NULL ? ci->connect_fd : MHD_INVALID_SOCKET;
		atomic_init(&w->deadline_ns, watch_deadline(s, 2));
		pthread_mutex_lock(&s->watch_lock);
		w->next = s->watched;
		if (s->watched != NULL)
			s->watched->prev = w;
		s->watched = w;
		pthread_mutex_unlock(&s->watch_lock);
		*socket_context = w;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && w != NULL) {
		if (atomic_load(&w->deadline_ns) != UINT64_MAX && (w->answered_early || unread(w->fd)))
			linger_add(s, w->fd);
		pthread_mutex_lock(&s->watch_lock);
		if (w->prev != NULL)
			w->prev->next = w->next;
		else
			s->watched = w->next;
		if (w->next != NULL)
			w->next->prev = w->prev;
		pthread_mutex_unlock(&s->watch_lock);
		free(w);
		*socket_context = NULL;
	}
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line is in; the headers get their own time. */
static void *
watch_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)uri;
	watch_arm(cls, conn, 1);
	return NULL; /* the access handler's first call sees no request yet */
}

/* Shut down the sockets of connections past their deadline, until told to stop. */
static void *
watchdog_run(void *arg)
{
	keel_server *s = arg;
	int64_t tick_ms = s->opts.request_timeout_ms < 1000 ? s->opts.request_timeout_ms / 4 + 1 : 250;

	pthread_mutex_lock(&s->watch_lock);
	while (!s->watch_stop) {
		uint64_t now = keel_clock_mono_ns();
		int cut = 0;

		for (conn_watch *w = s->watched; w != NULL; w = w->next) {
			uint64_t d = atomic_load(&w->deadline_ns);

			/* the exchange fails if the headers arrived meanwhile (0) */
			if (d != 0 && d != UINT64_MAX && now > d && w->fd != MHD_INVALID_SOCKET &&
			    atomic_compare_exchange_strong(&w->deadline_ns, &d, UINT64_MAX)) {
				shutdown(w->fd, SHUT_RDWR);
				cut++;
			}
		}
		if (cut > 0)
			keel_log_info("http: disconnected %d client%s too slow to send a request's headers"
			              " (KEEL_REQUEST_TIMEOUT %lld ms)",
			              cut, cut == 1 ? "" : "s", (long long)s->opts.request_timeout_ms);
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(tick_ms % 1000) * 1000000L;
		until.tv_sec += (time_t)(tick_ms / 1000) + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->watch_wake, &s->watch_lock, &until);
	}
	pthread_mutex_unlock(&s->watch_lock);
	return NULL;
}

/* Answer before the request's body is read: its connection lingers when it closes. */
static enum MHD_Result
respond_early(keel_server *s, keel_req *req)
{
	conn_watch *w = watch_of(req->conn);

	if (w != NULL)
		w->answered_early = true;
	return respond(s, req);
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
	keel_server *s = cls;
	keel_req *req = *con_cls;

	(void)version;
	if (req == NULL) {
		conn_watch *w = watch_of(conn);

		if (w != NULL) /* the headers are in: keel has the request now */
			atomic_store(&w->deadline_ns, 0);
		req = req_new(conn, method, url);
		req->trusted = s->opts.trusted_proxies;
		*con_cls = req;
		atomic_fetch_add(&s->inflight, 1);
		req_assign_id(req, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID"));
		req_assign_trace(req, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent"),
		                 MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "tracestate"),
		                 s->opts.trace_ratio);
		if (framing_ambiguous(conn))
			return respond_early(s, req); /* before reading a body of unknown length */
		if (announced_too_large(conn)) {
			req->body_too_large = true;
			return respond_early(s, req);
		}
		return MHD_YES;
	}
	if (req->status != 0) {
		*upload_data_size = 0; /* answered already (413, 400): discard the rest */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		req->has_body = true;
		if (req->body.len + *upload_data_size > KEEL_HTTP_BODY_LIMIT)
			req->body_too_large = true;
		else
			keel_buf_append(&req->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return req->body_too_large ? respond_early(s, req) : MHD_YES;
	}
	return respond(s, req);
}

static void
access_log(keel_req *req, enum MHD_RequestTerminationCode toe)
{
	static const char *const outcomes[] = {
	    [MHD_REQUEST_TERMINATED_COMPLETED_OK] = NULL,
	    [MHD_REQUEST_TERMINATED_WITH_ERROR] = "error",
	    [MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = "timeout",
	    [MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = "shutdown",
	    [MHD_REQUEST_TERMINATED_READ_ERROR] = "read error",
	    [MHD_REQUEST_TERMINATED_CLIENT_ABORT] = "client abort",
	};
	json_t *f = json_object();
	double ms = (double)(keel_clock_mono_ns() - req->start_ns) / 1e6;
	const char *method = req->match.route ? req->match.route->method : NULL;

	/* Only known strings: a route template, never the raw path or query. */
	json_object_set_new(f, "method", json_string(method ? method : "-"));
	if (method != NULL && strcmp(req->method, "HEAD") == 0)
		json_object_set_new(f, "method", json_string("HEAD"));
	json_object_set_new(f, "route", json_string(req->match.route ? req->match.route->path : "-"));
	json_object_set_new(f, "status", json_integer(req->status));
	json_object_set_new(f, "duration_ms", json_real((double)(int64_t)(ms * 1000) / 1000));
	json_object_set_new(f, "request_id", json_string(req->request_id));
	json_object_set_new(f, "trace_id", json_string(req->trace_hex));
	json_object_set_new(f, "span_id", json_string(req->span_hex));
	json_object_set_new(f, "client_addr", json_string(keel_req_client_addr(req)));
	if (req->tenant_id != NULL)
		json_object_set_new(f, "tenant_id", json_string(req->tenant_id));
	if ((unsigned)toe < sizeof(outcomes) / sizeof(outcomes[0]) && outcomes[toe] != NULL)
		json_object_set_new(f, "outcome", json_string(outcomes[toe]));
	keel_log_json(KEEL_LOG_INFO, "request", f);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
	keel_server *s = cls;
	keel_req *req = *con_cls;

	watch_arm(s, conn, 2); /* the next request on this connection */
	if (req == NULL)
		return;
	if (keel_log_enabled(KEEL_LOG_INFO))
		access_log(req, toe);
	if (s->opts.observe != NULL)
		s->opts.observe(s->opts.observe_ctx, req, req->status,
		                (double)(keel_clock_mono_ns() - req->start_ns) / 1e9);
	*con_cls = NULL;
	req_offload_release(req);
	req_free(req);
	atomic_fetch_sub(&s->inflight, 1);
}

__attribute__((format(printf, 2, 0))) static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t len = strlen(msg);

	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	keel_log_warn("http: %s", msg);
}

keel_server *
keel_server_create(const keel_server_opts *opts, const keel_router *router)
{
	keel_server *s = keel_xcalloc(1, sizeof(*s));

	s->opts = *opts;
	s->listen = keel_xstrdup(opts->listen);
	s->opts.listen = s->listen;
	s->router = router;
	atomic_init(&s->inflight, 0);
	atomic_init(&s->stopping, false);
	pthread_mutex_init(&s->watch_lock, NULL);
	pthread_mutex_init(&s->linger_lock, NULL);
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->watch_wake, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

keel_err
keel_server_start(keel_server *s, char *err, size_t errlen)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;

	if (keel_addr_parse(s->opts.listen, &addr, &addrlen) != 0) {
		snprintf(err, errlen, "invalid listen address \"%s\"", s->opts.listen);
		return KEEL_EINVAL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
	                 MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned timeout_s = (unsigned)((s->opts.request_timeout_ms + 999) / 1000);

	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)s->opts.workers, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->opts.max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, watch_notify, s, MHD_OPTION_URI_LOG_CALLBACK,
	    watch_request_line, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	if (s->daemon == NULL) {
		snprintf(err, errlen, "could not listen on %s", s->opts.listen);
		return KEEL_EUNAVAIL;
	}
	if (s->opts.request_timeout_ms > 0 && pthread_create(&s->watchdog, NULL, watchdog_run, s) == 0)
		s->watchdog_started = true;
	if (s->opts.request_timeout_ms > 0)
		linger_start(s);
	return KEEL_OK;
}

void
keel_server_quiesce(keel_server *s)
{
	if (s->daemon == NULL || atomic_exchange(&s->stopping, true))
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->daemon);

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void
keel_server_stop(keel_server *s, int64_t timeout_ms)
{
	if (s->daemon == NULL)
		return;
	keel_server_quiesce(s);
	uint64_t deadline = keel_clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;

	while (atomic_load(&s->inflight) > 0 && keel_clock_mono_ns() < deadline)
		nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	int left = atomic_load(&s->inflight);

	if (left > 0)
		keel_log_warn("shutdown: %d requests still in flight after %lld ms; closing them", left,
		              (long long)timeout_ms);
	MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
	linger_stop(s);
	if (s->watchdog_started) {
		pthread_mutex_lock(&s->watch_lock);
		s->watch_stop = true;
		pthread_cond_signal(&s->watch_wake);
		pthread_mutex_unlock(&s->watch_lock);
		pthread_join(s->watchdog, NULL);
		s->watchdog_started = false;
	}
}

void
keel_server_destroy(keel_server *s)
{
	if (s == NULL)
		return;
	keel_server_stop(s, 0);
	pthread_cond_destroy(&s->watch_wake);
	pthread_mutex_destroy(&s->watch_lock);
	pthread_mutex_destroy(&s->linger_lock);
	free(s->listen);
	free(s);
}

int
keel_server_inflight(const keel_server *s)
{
	return atomic_load(&s->inflight);
}
