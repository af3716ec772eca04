/*
 * The HTTP core over real loopback HTTP: the server of src/http runs in this
 * process with a few routes of the test's own, and libcurl (or a raw socket,
 * for what curl would not send) talks to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http.h"
#include "kt.h"
#include "kt_wait.h"

static keel_err
echo(keel_req *req, void *ctx)
{
	json_t *body;

	(void)ctx;
	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	const char *q = keel_req_query(req, "q");

	return keel_req_json(
	    req, 201,
	    json_pack("{s:O, s:s?, s:s}", "body", body, "q", q, "id", keel_req_param(req, "id")));
}

static keel_err
slow(keel_req *req, void *ctx)
{
	(void)ctx;
	usleep(600 * 1000);
	return keel_req_json(req, 200, json_pack("{s:b}", "slow", 1));
}

static keel_err
boom(keel_req *req, void *ctx)
{
	(void)ctx;
	return keel_req_fail(req, KEEL_EINTERNAL, NULL, "database said: relation secret_table");
}

static keel_err
silent(keel_req *req, void *ctx)
{
	(void)req;
	(void)ctx;
	return KEEL_ENOTFOUND;
}

static keel_err
denied_auth(keel_req *req, const keel_route *route, void *ctx)
{
	(void)route;
	(void)ctx;
	return keel_req_fail(req, KEEL_EUNAUTH, NULL, "missing bearer token");
}

/*
 * keel_req_on_answer(): what the hooks have written so far (under hooks_lock), and what
 * they had written when the job of an offloading request ran and when the request
 * completed (the observer), for the checks of answer_hooks_run_before_the_answer_goes_out.
 */
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static char hooks[64], hooks_at_job[64], hooks_at_completion[64];
static keel_workpool *jobs;

static void
hook(void *arg)
{
	pthread_mutex_lock(&hooks_lock);
	strncat(hooks, arg, sizeof(hooks) - strlen(hooks) - 1);
	pthread_mutex_unlock(&hooks_lock);
}

static void
job(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hooks_lock);
	snprintf(hooks_at_job, sizeof(hooks_at_job), "%s", hooks);
	pthread_mutex_unlock(&hooks_lock);
}

static keel_err
hooked_finish(keel_req *req, void *arg)
{
	(void)arg;
	keel_req_on_answer(req, hook, "c");
	return keel_req_json(req, 200, json_object());
}

static keel_err
hooked(keel_req *req, void *ctx)
{
	(void)ctx;
	keel_req_on_answer(req, hook, "a");
	keel_req_on_answer(req, hook, "b");
	if (strcmp(keel_req_path(req), "/hooked/offloaded") == 0)
		return keel_req_offload(req, jobs, job, hooked_finish, NULL);
	return keel_req_json(req, 200, json_object());
}

/* A job that waits until the test opens the gate (open unless a test closes it). */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_closed;
static int gated_running;

static void
gated(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate_lock);
	gated_running++;
	while (gate_closed)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_set(bool closed)
{
	pthread_mutex_lock(&gate_lock);
	gate_closed = closed;
	gated_running = 0;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* A place reserved on jobs, then used by an offload (/reserve/offloaded) or not. */
static keel_err
answer_ok(keel_req *req, void *arg)
{
	(void)arg;
	return keel_req_json(req, 200, json_object());
}

static keel_err
reserving(keel_req *req, void *ctx)
{
	(void)ctx;
	if (keel_req_offload_reserve(req, jobs) != KEEL_OK)
		return KEEL_EUNAVAIL;
	if (strcmp(keel_req_path(req), "/reserve/offloaded") == 0)
		return keel_req_offload(req, jobs, gated, answer_ok, NULL);
	return keel_req_json(req, 200, json_object());
}

/* The line of chunk k of /stream: its number, then enough to fill a few packets. */
static void
stream_line(keel_buf *out, int k)
{
	keel_buf_printf(out, "line %d ", k);
	for (int i = 0; i < 3000; i++)
		keel_buf_append(out, "x", 1);
	keel_buf_append(out, "\n", 1);
}

/* /stream's chunks 1..n-1 after the first; ?fail=k makes chunk k fail. */
static keel_err
stream_next(keel_req *req, void *arg, keel_arena *a, keel_buf *out, bool *done)
{
	int *at = arg, n = atoi(keel_req_query(req, "n"));
	const char *fail = keel_req_query(req, "fail");

	(void)a;
	if (fail != NULL && ++*at == atoi(fail))
		return KEEL_EUNAVAIL;
	if (fail == NULL)
		++*at;
	stream_line(out, *at);
	*done = *at + 1 >= n;
	return KEEL_OK;
}

/* ?n= lines, each a chunk of its own, streamed (n >= 2). */
static keel_err
streamed(keel_req *req, void *ctx)
{
	int *at = keel_arena_alloc(keel_req_arena(req), sizeof(*at));
	keel_buf first;

	(void)ctx;
	*at = 0;
	keel_buf_init(&first, keel_req_arena(req));
	stream_line(&first, 0);
	return keel_req_stream(req, 200, "text/plain; charset=utf-8", first.data, first.len,
	                       stream_next, at);
}

static const keel_route routes[] = {
    {.method = "GET",
     .path = "/stream",
     .handler = streamed,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "a streamed answer"},
    {.method = "GET",
     .path = "/reserve/answered",
     .handler = reserving,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "a place, given back"},
    {.method = "GET",
     .path = "/reserve/offloaded",
     .handler = reserving,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "a place, used"},
    {.method = "GET",
     .path = "/hooked/answered",
     .handler = hooked,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "answer hooks"},
    {.method = "GET",
     .path = "/hooked/offloaded",
     .handler = hooked,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "answer hooks, offloaded"},
    {.method = "POST",
     .path = "/things/{id}",
     .handler = echo,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .min_role = 0,
     .summary = "echo"},
    {.method = "GET",
     .path = "/slow",
     .handler = slow,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "slow"},
    {.method = "GET",
     .path = "/boom",
     .handler = boom,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "boom"},
    {.method = "GET",
     .path = "/silent",
     .handler = silent,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = "silent"},
    {.method = "GET",
     .path = "/private",
     .handler = slow,
     .flags = 0,
     .min_role = 0,
     .summary = "needs auth"},
};

/* What the observer saw, as "METHOD route status;" entries. */
static char observed[4096];
static pthread_mutex_t observed_lock = PTHREAD_MUTEX_INITIALIZER;

static void
observe(void *ctx, keel_req *req, int status, double seconds)
{
	const keel_route *route = keel_req_route(req);
	const char *method = keel_req_method(req);

	(void)ctx;
	assert_true(seconds >= 0 && seconds < 60);
	if (route != NULL && strncmp(route->path, "/hooked/", 8) == 0) {
		pthread_mutex_lock(&hooks_lock);
		snprintf(hooks_at_completion, sizeof(hooks_at_completion), "%s", hooks);
		pthread_mutex_unlock(&hooks_lock);
	}
	pthread_mutex_lock(&observed_lock);
	size_t used = strlen(observed);

	snprintf(observed + used, sizeof(observed) - used, "%s %s %d;", method,
	         route ? route->path : "-", status);
	pthread_mutex_unlock(&observed_lock);
}

typedef struct fixture {
	keel_router *router;
	keel_server *server;
	char base[96];
} fixture;

static fixture *
start(int64_t request_timeout_ms)
{
	fixture *f = calloc(1, sizeof(*f));
	char listen[32], err[256];
	int port = kt_free_port();

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(f->base, sizeof(f->base), "http://%s", listen);
	f->router = keel_router_create();
	keel_router_add_all(f->router, routes, sizeof(routes) / sizeof(routes[0]), NULL);
	keel_server_opts o = {.listen = listen,
	                      .workers = 2,
	                      .max_connections = 64,
	                      .request_timeout_ms = request_timeout_ms,
	                      .auth = denied_auth,
	                      .observe = observe};

	f->server = keel_server_create(&o, f->router);
	assert_int_equal(keel_server_start(f->server, err, sizeof(err)), KEEL_OK);
	return f;
}

static void
stop(fixture *f)
{
	keel_server_destroy(f->server);
	keel_router_destroy(f->router);
	free(f);
}

static int
setup(void **state)
{
	*state = start(30000);
	return 0;
}

static int
teardown(void **state)
{
	stop(*state);
	return 0;
}

static void
json_round_trip(void **state)
{
	fixture *f = *state;
	const char *h[] = {"Content-Type: application/json; charset=utf-8", NULL};
	kt_resp *r = kt_request(f->base, "POST", "/things/42?q=caf%C3%A9", h, "{\"a\":[1,2]}", 11);

	assert_int_equal(r->status, 201);
	assert_string_equal(kt_json_str(r->json, "id"), "42");
	assert_string_equal(kt_json_str(r->json, "q"), "caf\xc3\xa9");
	assert_int_equal(json_array_size(json_object_get(json_object_get(r->json, "body"), "a")), 2);
	char *cc = kt_header(r, "Cache-Control");

	assert_string_equal(cc, "no-store");
	free(cc);
	kt_resp_free(r);
}

static void
not_found_and_method(void **state)
{
	fixture *f = *state;
	kt_resp *r = kt_request(f->base, "GET", "/nothing/here", NULL, NULL, 0);

	kt_assert_problem(r, 404, "not-found", NULL);
	assert_string_equal(kt_json_str(r->json, "instance"), "/nothing/here");
	kt_resp_free(r);

	r = kt_request(f->base, "DELETE", "/things/1", NULL, NULL, 0);
	kt_assert_problem(r, 405, "method-not-allowed", NULL);
	char *allow = kt_header(r, "Allow");

	assert_string_equal(allow, "POST");
	free(allow);
	kt_resp_free(r);

	r = kt_request(f->base, "HEAD", "/slow", NULL, NULL, 0);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->len, 0);
	kt_resp_free(r);
}

static void
body_limits_and_types(void **state)
{
	fixture *f = *state;
	const char *json[] = {"Content-Type: application/json", NULL};
	const char *text[] = {"Content-Type: text/plain", NULL};
	size_t limit = 1024 * 1024;
	char *body = malloc(limit + 1);

	memset(body, ' ', limit + 1);
	body[0] = '{';
	body[limit] = '}';
	kt_resp *r = kt_request(f->base, "POST", "/things/1", json, body, limit + 1);

	kt_assert_problem(r, 413, "payload-too-large", NULL);
	kt_resp_free(r);

	/* exactly the limit is accepted */
	body[limit - 1] = '}';
	r = kt_request(f->base, "POST", "/things/1", json, body, limit);
	assert_int_equal(r->status, 201);
	kt_resp_free(r);
	free(body);

	r = kt_request(f->base, "POST", "/things/1", text, "{}", 2);
	kt_assert_problem(r, 415, "unsupported-media-type", NULL);
	kt_resp_free(r);

	const char *latin1[] = {"Content-Type: application/json; charset=latin1", NULL};

	r = kt_request(f->base, "POST", "/things/1", latin1, "{}", 2);
	kt_assert_problem(r, 415, "unsupported-media-type", NULL);
	kt_resp_free(r);

	r = kt_request(f->base, "POST", "/things/1", json, "{\"a\":", 5);
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);

	r = kt_request(f->base, "POST", "/things/1", json, NULL, 0);
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
}

/* A connection to f's server from a socket of the test's own. */
static int
raw_connect(const fixture *f)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	a.sin_port = htons((uint16_t)atoi(strrchr(f->base, ':') + 1));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Everything the server sends on fd up to its end of sending (malloc'd, NUL-ended). */
static char *
raw_read_to_end(int fd)
{
	long long until = kt_now_ms() + KT_WAIT_MS;
	size_t len = 0;
	char *buf = calloc(1, 1);

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, (int)(until - kt_now_ms())) <= 0)
			fail_msg("no end of the answer; so far: %s", buf);
		char chunk[4096];
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n < 0)
			fail_msg("reading the answer: %s; so far: %s", strerror(errno), buf);
		if (n == 0)
			return buf;
		buf = realloc(buf, len + (size_t)n + 1);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
}

static bool
raw_closed(void *arg)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(*(int *)arg, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	       ti.tcpi_state == TCP_CLOSE;
}

/* The lines /stream sends for lines first..last, as one text. */
static char *
stream_text(int first, int last)
{
	keel_arena *a = keel_arena_create(4096);
	keel_buf b;

	keel_buf_init(&b, a);
	for (int k = first; k <= last; k++)
		stream_line(&b, k);
	keel_buf_append(&b, "", 1);
	char *text = strdup(b.data);

	keel_arena_destroy(a);
	return text;
}

/* The body of a chunked answer (raw: all of it, headers first), decoded; NULL when its
 * chunks do not end with the last (zero) chunk. */
static char *
dechunk(const char *raw)
{
	const char *p = strstr(raw, "\r\n\r\n");
	size_t len = 0;
	char *out = calloc(1, 1);

	assert_non_null(p);
	for (p += 4;;) {
		char *end;
		unsigned long n = strtoul(p, &end, 16);

		if (end == p || strncmp(end, "\r\n", 2) != 0) {
			free(out);
			return NULL; /* cut short */
		}
		if (n == 0)
			return out;
		p = end + 2;
		if (strlen(p) < n + 2) {
			free(out);
			return NULL;
		}
		out = realloc(out, len + n + 1);
		memcpy(out + len, p, n);
		len += n;
		out[len] = '\0';
		p += n + 2;
	}
}

/*
 * A streamed answer goes out chunk by chunk (chunked transfer encoding, no Content-Length)
 * and arrives whole; one whose chunk fails part way is cut short: the chunks before it, then
 * the connection closed without the last chunk, so no client takes it for complete.
 */
static void
streamed_answers_arrive_whole_or_visibly_cut(void **state)
{
	fixture *f = *state;
	const char *req = "GET /stream?n=60 HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n";
	int fd = raw_connect(f);

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	char *raw = raw_read_to_end(fd), *want = stream_text(0, 59), *body = dechunk(raw);

	close(fd);
	assert_non_null(strstr(raw, "HTTP/1.1 200"));
	assert_non_null(strcasestr(raw, "Transfer-Encoding: chunked"));
	assert_null(strcasestr(raw, "Content-Length"));
	assert_non_null(body);
	assert_string_equal(body, want);
	free(raw);
	free(want);
	free(body);

	req = "GET /stream?n=60&fail=7 HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n";
	fd = raw_connect(f);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	raw = raw_read_to_end(fd);
	close(fd);
	assert_non_null(strstr(raw, "HTTP/1.1 200"));
	assert_null(dechunk(raw));
	assert_non_null(strstr(raw, "line 6 "));
	assert_null(strstr(raw, "line 7 "));
	assert_null(strstr(raw, "line 8 "));
	free(raw);
	/* the server goes on serving */
	kt_resp *r = kt_request(f->base, "GET", "/stream?n=2", NULL, NULL, 0);

	assert_int_equal(r->status, 200);
	want = stream_text(0, 1);
	assert_string_equal(r->body, want);
	free(want);
	kt_resp_free(r);
}

/* A client that leaves part way through a streamed answer costs the server nothing more. */
static void
a_client_leaving_a_stream_is_let_go(void **state)
{
	fixture *f = *state;
	const char *req = "GET /stream?n=400 HTTP/1.1\r\nHost: keel\r\n\r\n";
	char buf[8192];

	for (int i = 0; i < 5; i++) {
		int fd = raw_connect(f);

		assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
		assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
		close(fd);
	}
	kt_resp *r = kt_request(f->base, "GET", "/stream?n=3", NULL, NULL, 0);
	char *want = stream_text(0, 2);

	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, want);
	free(want);
	kt_resp_free(r);
}

/*
 * A client that goes on sending an over-long body after keel's early 413 (as a
 * client does that writes its body before it reads) is not reset: keel reads
 * and discards the rest before it closes (a lingering close).  Closed with the
 * body unread, the kernel would answer the body with a reset, and a client
 * still sending sees its send fail and loses the answer it has not read.
 */
static void
early_answer_outlives_the_rest_of_the_body(void **state)
{
	fixture *f = *state;
	int fd = raw_connect(f);
	size_t left = KEEL_HTTP_BODY_LIMIT + 1;
	char *head = kt_strf("POST /things/1 HTTP/1.1\r\nHost: keel\r\nContent-Type: application/json"
	                     "\r\nContent-Length: %zu\r\n\r\n{",
	                     left--);

	assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
	char *answer = raw_read_to_end(fd); /* the 413, then the server's end of sending */

	if (strncmp(answer, "HTTP/1.1 413 ", 13) != 0 || strstr(answer, "payload-too-large") == NULL)
		fail_msg("expected the 413 problem, got: %s", answer);
	char chunk[65536];

	memset(chunk, ' ', sizeof(chunk));
	while (left > 0) {
		ssize_t n = send(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk), MSG_NOSIGNAL);

		if (n < 0 && errno != EINTR)
			fail_msg("sending the body after the 413: %s", strerror(errno));
		left -= n > 0 ? (size_t)n : 0;
	}
	shutdown(fd, SHUT_WR);
	assert_true(kt_wait_until(raw_closed, &fd, KT_WAIT_MS));
	int err = 0;
	socklen_t len = sizeof(err);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	if (err != 0)
		fail_msg("the connection ended in: %s", strerror(err));
	close(fd);
	free(answer);
	free(head);
}

static void
bad_bytes_in_path_and_query(void **state)
{
	fixture *f = *state;
	const char *json[] = {"Content-Type: application/json", NULL};
	kt_resp *r = kt_request(f->base, "POST", "/things/%ff", json, "{}", 2);

	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
	r = kt_request(f->base, "POST", "/things/a%00b", json, "{}", 2);
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
	r = kt_request(f->base, "POST", "/things/1?q=%00", json, "{}", 2);
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
	r = kt_request(f->base, "POST", "/things/1?q=%c3%28", json, "{}", 2);
	kt_assert_problem(r, 400, "malformed-request", NULL);
	kt_resp_free(r);
}

static void
request_ids(void **state)
{
	fixture *f = *state;
	const char *mine[] = {"X-Request-ID: trace.me-123_ok", NULL};
	kt_resp *r = kt_request(f->base, "GET", "/nowhere", mine, NULL, 0);
	char *rid = kt_header(r, "X-Request-ID");

	assert_string_equal(rid, "trace.me-123_ok");
	assert_string_equal(kt_json_str(r->json, "request_id"), "trace.me-123_ok");
	free(rid);
	kt_resp_free(r);

	const char *evil[] = {"X-Request-ID: evil\"id<script>", NULL};

	r = kt_request(f->base, "GET", "/slow", evil, NULL, 0);
	rid = kt_header(r, "X-Request-ID");
	assert_int_equal(strlen(rid), 36); /* replaced by a generated UUID */
	assert_int_equal(rid[14], '7');
	free(rid);
	kt_resp_free(r);

	char longer[200] = "X-Request-ID: ";

	memset(longer + 14, 'a', 129);
	const char *too_long[] = {longer, NULL};

	r = kt_request(f->base, "GET", "/slow", too_long, NULL, 0);
	rid = kt_header(r, "X-Request-ID");
	assert_int_equal(strlen(rid), 36);
	free(rid);
	kt_resp_free(r);
}

static void
failures_are_problems(void **state)
{
	fixture *f = *state;
	kt_resp *r = kt_request(f->base, "GET", "/boom", NULL, NULL, 0);

	kt_assert_problem(r, 500, "internal", NULL);
	assert_null(strstr(r->body, "secret_table"));
	kt_resp_free(r);

	r = kt_request(f->base, "GET", "/silent", NULL, NULL, 0);
	kt_assert_problem(r, 404, "not-found", NULL);
	kt_resp_free(r);

	r = kt_request(f->base, "GET", "/private", NULL, NULL, 0);
	kt_assert_problem(r, 401, "unauthenticated", NULL);
	char *www = kt_header(r, "WWW-Authenticate");

	assert_string_equal(www, "Bearer");
	free(www);
	kt_resp_free(r);
}

typedef struct inflight {
	const char *base;
	kt_resp *resp;
} inflight;

static void *
slow_request(void *arg)
{
	inflight *in = arg;

	in->resp = kt_request(in->base, "GET", "/slow", NULL, NULL, 0);
	return NULL;
}

static void
graceful_stop_finishes_inflight(void **state)
{
	(void)state;
	fixture *f = start(30000);
	inflight in = {f->base, NULL};
	pthread_t t;

	pthread_create(&t, NULL, slow_request, &in);
	for (int i = 0; i < 200 && keel_server_inflight(f->server) == 0; i++)
		usleep(5000);
	assert_int_equal(keel_server_inflight(f->server), 1);
	long long t0 = kt_now_ms();

	keel_server_stop(f->server, 5000);
	assert_true(kt_now_ms() - t0 < 4000); /* returned once the request finished */
	pthread_join(t, NULL);
	assert_int_equal(in.resp->status, 200);
	assert_true(json_is_true(json_object_get(in.resp->json, "slow")));
	kt_resp_free(in.resp);

	/* and nothing is accepted any more */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	a.sin_port = htons((uint16_t)atoi(strrchr(f->base, ':') + 1));
	assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	stop(f);
}

static void
trace_context_is_joined_and_returned(void **state)
{
	fixture *f = *state;
	const char *h[] = {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	                   "tracestate: vendor=abc", NULL};
	kt_resp *r = kt_request(f->base, "GET", "/slow", h, NULL, 0);
	char *tp = kt_header(r, "traceparent"), *ts = kt_header(r, "tracestate");

	assert_non_null(tp);
	assert_int_equal(strlen(tp), 55);
	assert_memory_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36); /* the caller's trace */
	assert_string_not_equal(tp + 36, "00f067aa0ba902b7-01");             /* our own span */
	assert_string_equal(tp + 52, "-01");                                 /* sampled, as asked */
	assert_string_equal(ts, "vendor=abc");
	free(tp);
	free(ts);
	kt_resp_free(r);

	/* a malformed traceparent starts a new trace and its tracestate is dropped */
	const char *bad[] = {"traceparent: 00-zz-00f067aa0ba902b7-01", "tracestate: vendor=abc", NULL};

	r = kt_request(f->base, "GET", "/slow", bad, NULL, 0);
	tp = kt_header(r, "traceparent");
	assert_non_null(tp);
	assert_int_equal(strlen(tp), 55);
	assert_memory_not_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36);
	assert_null(kt_header(r, "tracestate"));
	free(tp);
	kt_resp_free(r);
}

/* The observer has seen the entry needle. */
static bool
observed_has(void *needle)
{
	pthread_mutex_lock(&observed_lock);
	bool seen = strstr(observed, needle) != NULL;

	pthread_mutex_unlock(&observed_lock);
	return seen;
}

static void
completed_requests_are_observed(void **state)
{
	fixture *f = *state;
	char seen[sizeof(observed)];

	observed[0] = '\0';
	kt_resp_free(kt_request(f->base, "GET", "/boom", NULL, NULL, 0));
	kt_resp_free(kt_request(f->base, "GET", "/secret/raw/path", NULL, NULL, 0));
	/* the completion callbacks may run just after the client has its answer, in any order */
	kt_wait_until(observed_has, "GET /boom 500;", KT_WAIT_MS);
	kt_wait_until(observed_has, "GET - 404;", KT_WAIT_MS);
	pthread_mutex_lock(&observed_lock);
	memcpy(seen, observed, sizeof(seen)); /* a failed assertion must not hold the lock */
	pthread_mutex_unlock(&observed_lock);
	assert_non_null(strstr(seen, "GET /boom 500;"));
	assert_non_null(strstr(seen, "GET - 404;")); /* never the raw path */
	assert_null(strstr(seen, "secret"));
}

static void
slow_client_is_cut_off(void **state)
{
	(void)state;
	fixture *f = start(1000);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char buf[256];

	a.sin_port = htons((uint16_t)atoi(strrchr(f->base, ':') + 1));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, "GET /slow HTTP/1.1\r\nHo", 22), 22);
	long long t0 = kt_now_ms();
	ssize_t n = read(fd, buf, sizeof(buf)); /* blocks until the server closes */

	assert_true(n <= 0);
	assert_true(kt_now_ms() - t0 < 5000);
	close(fd);
	stop(f);
}

static bool
hooks_completed(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hooks_lock);
	bool done = hooks_at_completion[0] != '\0';

	pthread_mutex_unlock(&hooks_lock);
	return done;
}

/* Wait until the observer has seen the request complete. */
static void
await_completion(void)
{
	kt_wait_until(hooks_completed, NULL, KT_WAIT_MS);
}

/*
 * keel_req_on_answer() hooks run once each, in order, once the answer is decided and
 * before it is sent (the completion sees them all); for an offloading handler, those of
 * the first call run before the connection is suspended (the job sees them).
 */
static void
answer_hooks_run_before_the_answer_goes_out(void **state)
{
	fixture *f = *state;

	jobs = keel_workpool_create(1, 4, 0);
	hooks[0] = hooks_at_completion[0] = '\0';
	kt_resp *r = kt_request(f->base, "GET", "/hooked/answered", NULL, NULL, 0);

	assert_int_equal(r->status, 200);
	kt_resp_free(r);
	await_completion();
	assert_string_equal(hooks_at_completion, "ab");

	hooks[0] = hooks_at_completion[0] = hooks_at_job[0] = '\0';
	r = kt_request(f->base, "GET", "/hooked/offloaded", NULL, NULL, 0);
	assert_int_equal(r->status, 200);
	kt_resp_free(r);
	await_completion();
	assert_string_equal(hooks_at_job, "ab");
	assert_string_equal(hooks_at_completion, "abc");
	keel_workpool_destroy(jobs);
}

/*
 * keel_req_offload_reserve(): a place is used by the offload, or given back
 * when the request is answered without one; none is lost (with two places,
 * a third request would be refused).
 */
static void
reserved_places_are_used_or_given_back(void **state)
{
	fixture *f = *state;

	jobs = keel_workpool_create(1, 2, 0);
	for (int i = 0; i < 5; i++) {
		kt_resp *r = kt_request(f->base, "GET", "/reserve/answered", NULL, NULL, 0);

		assert_int_equal(r->status, 200);
		kt_resp_free(r);
		r = kt_request(f->base, "GET", "/reserve/offloaded", NULL, NULL, 0);
		assert_int_equal(r->status, 200);
		kt_resp_free(r);
	}
	assert_true(keel_workpool_reserve(jobs));
	assert_true(keel_workpool_reserve(jobs));
	keel_workpool_release(jobs);
	keel_workpool_release(jobs);
	keel_workpool_destroy(jobs);
}

typedef struct get {
	const char *base, *path;
	kt_resp *resp;
	pthread_t thread;
} get;

static void *
get_run(void *arg)
{
	get *g = arg;

	g->resp = kt_request(g->base, "GET", g->path, NULL, NULL, 0);
	return NULL;
}

static void *
jobs_stop_now(void *arg)
{
	(void)arg;
	keel_workpool_stop(jobs, 0); /* the deadline has passed: cancel what waits */
	return NULL;
}

static bool
gated_job_runs(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate_lock);
	bool running = gated_running > 0;

	pthread_mutex_unlock(&gate_lock);
	return running;
}

static bool
one_job_waits(void *arg)
{
	(void)arg;
	return keel_workpool_waiting(jobs) == 1;
}

/*
 * Stopping the pool answers an offloaded request still waiting in its queue
 * 503 + Retry-After (its connection resumed, not left suspended), refuses
 * new places, and finishes the job running, whose request is answered.
 */
static void
stopping_the_pool_answers_waiting_offloads(void **state)
{
	fixture *f = *state;
	get running = {.base = f->base, .path = "/reserve/offloaded"};
	get waiting = {.base = f->base, .path = "/reserve/offloaded"};
	pthread_t stopper;

	jobs = keel_workpool_create(1, 1, 0);
	gate_set(true);
	assert_int_equal(pthread_create(&running.thread, NULL, get_run, &running), 0);
	assert_true(kt_wait_until(gated_job_runs, NULL, KT_WAIT_MS));
	assert_int_equal(pthread_create(&waiting.thread, NULL, get_run, &waiting), 0);
	assert_true(kt_wait_until(one_job_waits, NULL, KT_WAIT_MS));
	assert_int_equal(pthread_create(&stopper, NULL, jobs_stop_now, NULL), 0);
	assert_int_equal(pthread_join(waiting.thread, NULL), 0);
	kt_assert_problem(waiting.resp, 503, "unavailable", NULL);
	char *ra = kt_header(waiting.resp, "Retry-After");

	assert_string_equal(ra, "1");
	free(ra);
	kt_resp *r = kt_request(f->base, "GET", "/reserve/answered", NULL, NULL, 0);

	assert_int_equal(r->status, 503); /* a stopping pool gives no place */
	kt_resp_free(r);
	gate_set(false);
	assert_int_equal(pthread_join(running.thread, NULL), 0);
	assert_int_equal(running.resp->status, 200);
	assert_int_equal(pthread_join(stopper, NULL), 0);
	kt_resp_free(running.resp);
	kt_resp_free(waiting.resp);
	keel_workpool_destroy(jobs);
}

int
main(void)
{
	keel_log_set_level(KEEL_LOG_ERROR); /* the server's access log is not the test's output */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(json_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(streamed_answers_arrive_whole_or_visibly_cut, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_client_leaving_a_stream_is_let_go, setup, teardown),
	    cmocka_unit_test_setup_teardown(not_found_and_method, setup, teardown),
	    cmocka_unit_test_setup_teardown(body_limits_and_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(early_answer_outlives_the_rest_of_the_body, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(bad_bytes_in_path_and_query, setup, teardown),
	    cmocka_unit_test_setup_teardown(request_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(failures_are_problems, setup, teardown),
	    cmocka_unit_test_setup_teardown(completed_requests_are_observed, setup, teardown),
	    cmocka_unit_test_setup_teardown(answer_hooks_run_before_the_answer_goes_out, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(trace_context_is_joined_and_returned, setup, teardown),
	    cmocka_unit_test_setup_teardown(reserved_places_are_used_or_given_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(stopping_the_pool_answers_waiting_offloads, setup,
	                                    teardown),
	    cmocka_unit_test(graceful_stop_finishes_inflight),
	    cmocka_unit_test(slow_client_is_cut_off),
	};

	return cmocka_run_group_tests_name("http_server", tests, NULL, NULL);
}
