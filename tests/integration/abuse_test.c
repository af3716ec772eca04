/*
 * HTTP abuse: the real keel binary fed what well-behaved clients never send,
 * over raw sockets (libcurl refuses to send most of it) and libcurl where a
 * request is well-formed HTTP with a hostile body.
 *
 * What is tested: slow clients (headers one byte a second, a request line
 * trickled from its first byte) are cut off by KEEL_REQUEST_TIMEOUT while
 * other requests are answered, even with more slow clients than
 * workers; too many or too long headers, a 64 KiB path; NUL
 * bytes and invalid UTF-8 in paths, queries, headers and JSON; JSON nested 10,000 levels; numbers
 * and times out of range, in bodies, query parameters, If-Match and crafted cursors; duplicate JSON
 * keys; Content-Length lies (shorter, longer then close or idle, non-numeric, negative, two of
 * them, with Transfer-Encoding); an answer before the request is read (keel's 413, libmicrohttpd's
 * 431) that a client still sending reads whole, without a reset; pipelined requests; invalid
 * methods and request lines.  Each case
 * asserts the exact outcome: keel's problem+json with status and type, libmicrohttpd's own answer
 * and a closed connection for protocol violations, or a connection closed without an answer.  No
 * case may write a row, and at the end keel still answers, stops cleanly and its log has no
 * sanitizer report (the binary under test is built with ASan and UBSan by scripts/test).
 *
 * libmicrohttpd (0.9.75 on Debian 12) answers protocol violations itself,
 * before keel sees a request: 431 for a header block over its per-connection
 * memory (32 KiB, request line and headers together: a single 9 KiB header
 * is accepted), 414 for a request line over it, 400 for a malformed request
 * line, header or Content-Length, 413 for a Content-Length past 64 bits, 505
 * for another HTTP version; each with Connection: close.  A raw NUL byte in
 * the request line ends the target where libmicrohttpd reads it (keel then
 * routes what precedes it, which must itself be valid); a %00 is keel's to
 * refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kt.h"
#include "kt_wait.h"

#define PASSWORD "correct horse battery staple"
/* KEEL_REQUEST_TIMEOUT of the keel under test: over 2 s, so one byte a second never looks idle */
#define TIMEOUT_MS 3000
#define ORGS       "/api/v1/organizations"
#define LOGS       "/api/v1/audit-logs"

static kt_keel *srv;
static PGconn *pg; /* keel_owner */
static char *tenant_id, *token, *org_id;
static char auth_header[2048]; /* "Authorization: Bearer ..." */

/* ---- raw connections ---- */

/* A connection to keel and the bytes read from it not yet consumed. */
typedef struct rconn {
	int fd;
	char *buf;
	size_t len;
	bool eof; /* the server closed (or reset) the connection */
} rconn;

/* One response read from a raw connection. */
typedef struct rresp {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
	json_t *json; /* the body parsed, or NULL */
} rresp;

static rconn *
rc_open(void)
{
	rconn *c = calloc(1, sizeof(*c));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	a.sin_port = htons((uint16_t)srv->port);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("connect to keel: %s", strerror(errno));
	c->buf = calloc(1, 1);
	return c;
}

static void
rc_close(rconn *c)
{
	close(c->fd);
	free(c->buf);
	free(c);
}

/*
 * Send everything, or as much as the server takes before it closes: a
 * server that stops reading half-way (431, 414) is part of what is tested.
 */
static void
rc_send(rconn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return;
		if (n < 0)
			fail_msg("send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

static void
rc_sends(rconn *c, const char *text)
{
	rc_send(c, text, strlen(text));
}

/* Read what arrives within timeout_ms into c->buf; false on timeout. */
static bool
rc_fill(rconn *c, int timeout_ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	char chunk[65536];

	if (c->eof || poll(&p, 1, timeout_ms) <= 0)
		return false;
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);

	if (n <= 0) {
		c->eof = true;
		return true;
	}
	c->buf = realloc(c->buf, c->len + (size_t)n + 1);
	memcpy(c->buf + c->len, chunk, (size_t)n);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return true;
}

/* Value of header name in a response head (malloc'd), or NULL. */
static char *
head_value(const char *head, const char *name)
{
	size_t nl = strlen(name);

	for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;

			while (*v == ' ')
				v++;
			return strndup(v, strcspn(v, "\r\n"));
		}
	}
	return NULL;
}

static void
rresp_free(rresp *r)
{
	if (r == NULL)
		return;
	free(r->head);
	free(r->body);
	json_decref(r->json);
	free(r);
}

/*
 * The next response on c (its body by Content-Length), waiting at most
 * timeout_ms in all; NULL when the connection closed or nothing complete
 * came in time.
 */
static rresp *
rc_response(rconn *c, int timeout_ms)
{
	long long until = kt_now_ms() + timeout_ms;
	char *end;

	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
		if (c->eof || kt_now_ms() >= until)
			return NULL;
		rc_fill(c, (int)(until - kt_now_ms()));
	}
	size_t head_len = (size_t)(end - c->buf) + 4;
	char *head = strndup(c->buf, head_len);
	char *cl = head_value(head, "Content-Length");
	size_t body_len = cl != NULL ? strtoul(cl, NULL, 10) : 0;

	free(cl);
	while (c->len < head_len + body_len && !c->eof && kt_now_ms() < until)
		rc_fill(c, (int)(until - kt_now_ms()));
	if (c->len < head_len + body_len) {
		free(head);
		return NULL;
	}
	rresp *r = calloc(1, sizeof(*r));

	r->head = head;
	r->status = strncmp(head, "HTTP/1.", 7) == 0 ? atoi(head + 9) : -1;
	r->body = malloc(body_len + 1);
	memcpy(r->body, c->buf + head_len, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	r->json = json_loadb(r->body, body_len, 0, NULL);
	c->len -= head_len + body_len;
	memmove(c->buf, c->buf + head_len + body_len, c->len + 1);
	return r;
}

/* Does the server close c (EOF or reset) within timeout_ms?  Bytes still arriving are read. */
static bool
rc_closes(rconn *c, int timeout_ms)
{
	long long until = kt_now_ms() + timeout_ms;

	while (!c->eof && kt_now_ms() < until)
		rc_fill(c, (int)(until - kt_now_ms()));
	return c->eof;
}

/* ---- what an answer must be ---- */

/* keel's problem+json: status, type urn:keel:problem:<slug>, the members every problem has. */
static void
check_problem(const char *what, int status, const char *head, const json_t *json, const char *slug,
              const char *file, int line)
{
	char type[96];

	if (strncmp(head, "HTTP/1.1 ", 9) != 0 || atoi(head + 9) != status)
		kt_fail_at(file, line, "%s: expected %d, got:\n%s", what, status, head);
	char *ct = head_value(head, "Content-Type");
	bool problem = ct != NULL && strcmp(ct, "application/problem+json") == 0;

	free(ct);
	if (!problem || json == NULL)
		kt_fail_at(file, line, "%s: not a problem+json answer:\n%s", what, head);
	snprintf(type, sizeof(type), "urn:keel:problem:%s", slug);
	if (json_integer_value(json_object_get(json, "status")) != status ||
	    strcmp(kt_jstr(json, "type"), type) != 0 ||
	    !json_is_string(json_object_get(json, "title")) ||
	    !json_is_string(json_object_get(json, "detail")) ||
	    !json_is_string(json_object_get(json, "request_id")))
		kt_fail_at(file, line, "%s: expected a %d %s problem", what, status, type);
}

#define assert_rproblem(what, r, status, slug)                                                     \
	do {                                                                                           \
		if ((r) == NULL)                                                                           \
			fail_msg("%s: no answer (connection closed or timed out)", (what));                    \
		check_problem((what), (status), (r)->head, (r)->json, (slug), __FILE__, __LINE__);         \
	} while (0)

/* A libcurl response as a problem. */
static void
check_kproblem(const char *what, const kt_resp *r, int status, const char *slug, const char *file,
               int line)
{
	if (r->status != status)
		kt_fail_at(file, line, "%s: expected %d, got %ld: %s", what, status, r->status, r->body);
	kt_check_problem(r, status, slug, NULL, file, line);
}

#define assert_kproblem(what, r, status, slug)                                                     \
	check_kproblem((what), (r), (status), (slug), __FILE__, __LINE__)

/*
 * libmicrohttpd's own answer to a protocol violation: the status, an HTML
 * body of its own (not keel's problem+json), Connection: close, and the
 * connection closed after it.
 */
static void
check_mhd_close(const char *what, rconn *c, int status, const char *file, int line)
{
	rresp *r = rc_response(c, KT_WAIT_MS);

	if (r == NULL)
		kt_fail_at(file, line, "%s: no answer, expected libmicrohttpd's %d", what, status);
	if (r->status != status)
		kt_fail_at(file, line, "%s: expected %d, got:\n%s", what, status, r->head);
	char *conn = head_value(r->head, "Connection");
	char *ct = head_value(r->head, "Content-Type");

	if (conn == NULL || strcasecmp(conn, "close") != 0)
		kt_fail_at(file, line, "%s: no Connection: close:\n%s", what, r->head);
	if (ct != NULL && strstr(ct, "problem+json") != NULL)
		kt_fail_at(file, line, "%s: keel answered, expected libmicrohttpd to:\n%s", what, r->head);
	if (!rc_closes(c, KT_WAIT_MS))
		kt_fail_at(file, line, "%s: the connection stayed open after %d", what, status);
	free(conn);
	free(ct);
	rresp_free(r);
}

#define assert_mhd_close(what, c, status) check_mhd_close((what), (c), (status), __FILE__, __LINE__)

/* One request on a connection of its own; the first response (NULL: none). */
static rresp *
exchange(const void *req, size_t len, rconn **keep)
{
	rconn *c = rc_open();

	rc_send(c, req, len);
	rresp *r = rc_response(c, KT_WAIT_MS);

	if (keep != NULL)
		*keep = c;
	else
		rc_close(c);
	return r;
}

/* A POST of body (len bytes) as JSON to path with the token; Content-Length as given. */
static char *
post_request(const char *path, const char *content_length, const char *extra, size_t *len,
             const char *body, size_t body_len)
{
	char *head =
	    kt_strf("POST %s HTTP/1.1\r\nHost: keel\r\n%s\r\nContent-Type: application/json\r\n"
	            "%s%s%s%s\r\n",
	            path, auth_header, content_length ? "Content-Length: " : "",
	            content_length ? content_length : "", content_length ? "\r\n" : "", extra);
	size_t hl = strlen(head);
	char *req = malloc(hl + body_len + 1);

	memcpy(req, head, hl);
	memcpy(req + hl, body, body_len);
	req[hl + body_len] = '\0';
	*len = hl + body_len;
	free(head);
	return req;
}

/* ---- the database ---- */

static long
org_count(void)
{
	return kt_pg_tenant_long(pg, tenant_id, "SELECT count(*) FROM org.organizations", NULL);
}

static long
user_count(void)
{
	return kt_pg_tenant_long(pg, tenant_id, "SELECT count(*) FROM auth.users", NULL);
}

/* ---- setup ---- */

static int
setup(void **state)
{
	(void)state;
	/* fewer workers than the slow clients below: they must not tie them up */
	const char *env[] = {"KEEL_WORKERS=2", "KEEL_REQUEST_TIMEOUT=3s", NULL};

	if ((srv = kt_fixture_start("abuse", env, &pg)) == NULL)
		return -1;
	tenant_id = kt_signup(srv->base, "abuse", PASSWORD);
	token = kt_login(srv->base, "abuse", "owner@abuse.test", PASSWORD);
	snprintf(auth_header, sizeof(auth_header), "Authorization: Bearer %s", token);
	kt_resp *r =
	    kt_api(srv->base, "POST", token, "{\"name\":\"Target\",\"code\":\"target\"}", ORGS);

	if (r->status != 201)
		fail_msg("organization: %ld %s", r->status, r->body);
	org_id = strdup(kt_jstr(r->json, "id"));
	kt_resp_free(r);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(tenant_id);
	free(token);
	free(org_id);
	return kt_fixture_stop(srv, pg);
}

/* ---- slow clients ---- */

/* A client trickling one byte a second; when the server closed it (0: not yet). */
typedef struct slow {
	rconn *c;
	const char *text; /* what it trickles */
	size_t sent;
	long long started, next, closed_at;
} slow;

/* GET path (with tok when not NULL), which must answer want; how many milliseconds it took. */
static long long
served_get(const char *path, const char *tok, long want)
{
	long long t0 = kt_now_ms();
	kt_resp *r = kt_api(srv->base, "GET", tok, NULL, "%s", path);
	long long took = kt_now_ms() - t0;

	if (r->status != want)
		fail_msg("GET %s during the slow clients: %ld %s", path, r->status, r->body);
	kt_resp_free(r);
	return took;
}

/* Requests answered while slow clients were connected. */
typedef struct meanwhile {
	int served;
	int crowded;     /* answered while more slow clients than workers were still connected */
	long long worst; /* the slowest pair, milliseconds (reported, not checked) */
} meanwhile;

static int slow_poll(slow *s, int n);

/* Two requests of other clients, each answered as usual; counted in m. */
static void
served_pair(slow *s, int n, int workers, meanwhile *m)
{
	long long took = served_get("/healthz", NULL, 200);

	took += served_get(ORGS "?limit=5", token, 200);
	m->worst = took > m->worst ? took : m->worst;
	m->served += 2;
	if (slow_poll(s, n) > workers) /* counted after the answers: never more than during them */
		m->crowded += 2;
}

/* Read what has come in on the slow clients still open; the number still open. */
static int
slow_poll(slow *s, int n)
{
	int open = 0;

	for (int i = 0; i < n; i++) {
		if (s[i].closed_at != 0)
			continue;
		while (rc_fill(s[i].c, 0) && !s[i].c->eof)
			;
		if (s[i].c->eof)
			s[i].closed_at = kt_now_ms();
		else
			open++;
	}
	return open;
}

/* The next byte of each slow client still open whose second has come. */
static void
slow_trickle(slow *s, int n)
{
	long long now = kt_now_ms();

	for (int i = 0; i < n; i++)
		if (s[i].closed_at == 0 && now >= s[i].next && s[i].sent < strlen(s[i].text)) {
			rc_send(s[i].c, s[i].text + s[i].sent, 1);
			s[i].sent++;
			s[i].next = now + 1000;
		}
}

/*
 * Slow clients, more of them than keel has workers, are cut off by KEEL_REQUEST_TIMEOUT while
 * everyone else is served.  What is checked is what happens, not how long it took, so that a
 * loaded machine changes nothing: other requests are answered while more slow clients than
 * workers are still connected (counted after each answer, so never overcounted); each slow
 * client is cut off without an answer while it is still trickling (one byte a second never
 * keeps a request alive), and not before the timeout (the header-tricklers' time starts at
 * their request line, the line-trickler's at its first byte, and it gets twice the time).
 * The loop's deadline only bounds how long the test waits for the cut-offs.
 */
static void
slow_clients_are_cut_off_while_others_are_served(void **state)
{
	(void)state;
	enum { HEADERS = 6, ALL = 7, WORKERS = 2 };
	const char *headers = "X-Slow-Header: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	slow s[ALL];
	meanwhile m = {0};

	/* six send the request line at once, then a header byte a second; one trickles it all */
	for (int i = 0; i < ALL; i++) {
		s[i] = (slow){.c = rc_open(),
		              .text = i < HEADERS ? headers : "GET /healthz HTTP/1.1\r\n",
		              .started = kt_now_ms()};
		if (i < HEADERS)
			rc_sends(s[i].c, "GET /healthz HTTP/1.1\r\nHost: keel\r\n");
	}
	served_pair(s, ALL, WORKERS, &m); /* at once, while all of them are surely connected */
	/* a slow but honest client: its headers come in three parts, well within the timeout */
	rconn *honest = rc_open();

	rc_sends(honest, "GET /healthz HTTP/1.1\r\n");
	usleep(300 * 1000);
	rc_sends(honest, "Host: keel\r\nX-Request-ID: honest\r\n");
	usleep(300 * 1000);
	rc_sends(honest, "\r\n");
	rresp *ok = rc_response(honest, KT_WAIT_MS);

	if (ok == NULL || ok->status != 200)
		fail_msg("a client that sent its headers in three parts was not served: %s",
		         ok ? ok->head : "(no answer)");
	rresp_free(ok);
	rc_close(honest);

	for (long long until = kt_now_ms() + KT_WAIT_MS; slow_poll(s, ALL) > 0;) {
		if (kt_now_ms() > until)
			fail_msg("slow clients still connected after %d ms", KT_WAIT_MS);
		slow_trickle(s, ALL);
		served_pair(s, ALL, WORKERS, &m);
		usleep(100 * 1000);
	}
	if (m.crowded == 0)
		fail_msg("no request was answered while more than %d slow clients were connected", WORKERS);
	for (int i = 0; i < ALL; i++) {
		long long after = s[i].closed_at - s[i].started;
		long long lo = i < HEADERS ? TIMEOUT_MS : 2 * TIMEOUT_MS;

		if (s[i].c->len != 0)
			fail_msg("slow client %d got an answer: %s", i, s[i].c->buf);
		if (s[i].sent >= strlen(s[i].text))
			fail_msg("slow client %d was cut off only after it had sent everything", i);
		/* the watchdog looks four times a second: a little early is its granularity */
		if (after < lo - 100)
			fail_msg("slow client %d was cut off after %lld ms, before %lld", i, after, lo);
		print_message("slow client %d: cut off after %lld ms, %zu bytes sent\n", i, after,
		              s[i].sent);
		rc_close(s[i].c);
	}
	print_message("slow clients: %d cut off; %d other requests answered meanwhile (%d with more"
	              " than %d slow clients connected), the slowest pair in %lld ms\n",
	              ALL, m.served, m.crowded, WORKERS, m.worst);
	char *log = kt_keel_log(srv);

	assert_non_null(strstr(log, "too slow to send a request's headers"));
	free(log);
}

/* ---- headers, paths ---- */

static void
oversized_headers_and_paths(void **state)
{
	(void)state;
	/* 10,000 headers: over libmicrohttpd's memory for a header block */
	size_t cap = 10000 * 16 + 64, len = 0;
	char *many = malloc(cap);

	len += (size_t)snprintf(many, cap, "GET /healthz HTTP/1.1\r\nHost: keel\r\n");
	for (int i = 0; i < 10000; i++)
		len += (size_t)snprintf(many + len, cap - len, "X-H%d: v\r\n", i);
	len += (size_t)snprintf(many + len, cap - len, "\r\n");
	rconn *c = rc_open();

	rc_send(c, many, len);
	assert_mhd_close("10,000 headers", c, 431);
	rc_close(c);
	free(many);

	/* a 40 KiB header line: the same */
	char *fill = malloc(40 * 1024 + 1);

	memset(fill, 'a', 40 * 1024);
	fill[40 * 1024] = '\0';
	char *req = kt_strf("GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Big: %s\r\n\r\n", fill);

	c = rc_open();
	rc_sends(c, req);
	assert_mhd_close("a 40 KiB header line", c, 431);
	rc_close(c);
	free(req);

	/* a 9 KiB header line fits: keel itself judges it */
	fill[9 * 1024] = '\0';
	req = kt_strf("GET " ORGS " HTTP/1.1\r\nHost: keel\r\nAuthorization: Bearer %s\r\n\r\n", fill);
	rresp *r = exchange(req, strlen(req), NULL);

	assert_rproblem("a 9 KiB bearer token", r, 401, "unauthenticated");
	rresp_free(r);
	free(req);
	req = kt_strf("GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Filler: %s\r\n\r\n", fill);
	r = exchange(req, strlen(req), NULL);
	if (r == NULL || r->status != 200)
		fail_msg("a 9 KiB header on /healthz: %s", r ? r->head : "(no answer)");
	rresp_free(r);
	free(req);

	/* a 64 KiB path: a request line over the memory is 414 */
	char *path = malloc(64 * 1024 + 2);

	path[0] = '/';
	memset(path + 1, 'p', 64 * 1024);
	path[64 * 1024 + 1] = '\0';
	req = kt_strf("GET %s HTTP/1.1\r\nHost: keel\r\n\r\n", path);
	c = rc_open();
	rc_sends(c, req);
	assert_mhd_close("a 64 KiB path", c, 414);
	rc_close(c);
	free(req);

	/* a 64 KiB query string likewise */
	path[0] = '?';
	req = kt_strf("GET " ORGS "%s HTTP/1.1\r\nHost: keel\r\n\r\n", path);
	c = rc_open();
	rc_sends(c, req);
	assert_mhd_close("a 64 KiB query", c, 414);
	rc_close(c);
	free(req);

	/* a 10,000-character method is only a method keel does not serve */
	char *method = malloc(10001);

	memset(method, 'M', 10000);
	method[10000] = '\0';
	req = kt_strf("%s /healthz HTTP/1.1\r\nHost: keel\r\n\r\n", method);
	r = exchange(req, strlen(req), NULL);
	assert_rproblem("a 10,000-character method", r, 405, "method-not-allowed");
	rresp_free(r);
	free(req);
	free(method);
	free(path);
	free(fill);
}

/* ---- NUL bytes and invalid UTF-8 ---- */

/* GET target (raw bytes, len of them) with the token: keel's answer. */
static rresp *
raw_get(const char *target, size_t target_len)
{
	char *head = kt_strf("GET ");
	char *tail = kt_strf(" HTTP/1.1\r\nHost: keel\r\n%s\r\n\r\n", auth_header);
	size_t hl = strlen(head), tl = strlen(tail);
	char *req = malloc(hl + target_len + tl);

	memcpy(req, head, hl);
	memcpy(req + hl, target, target_len);
	memcpy(req + hl + target_len, tail, tl);
	rresp *r = exchange(req, hl + target_len + tl, NULL);

	free(req);
	free(head);
	free(tail);
	return r;
}

static void
nul_bytes_and_invalid_utf8_in_paths_and_queries(void **state)
{
	(void)state;
	struct {
		const char *target;
		size_t len;
		int status;
		const char *slug;
	} cases[] = {
	    /* percent-encoded: keel decodes and refuses */
	    {ORGS "/%00", 0, 400, "malformed-request"},
	    {ORGS "/a%00b/divisions", 0, 400, "malformed-request"},
	    {ORGS "?q=a%00b", 0, 400, "malformed-request"},
	    {ORGS "?q%00=x", 0, 400, "malformed-request"},
	    {ORGS "/%ff%fe", 0, 400, "malformed-request"},
	    {ORGS "/%c3%28", 0, 400, "malformed-request"},
	    {ORGS "/%c0%af", 0, 400, "malformed-request"},       /* overlong "/" */
	    {ORGS "/%ed%a0%80", 0, 400, "malformed-request"},    /* a surrogate */
	    {ORGS "/%f4%90%80%80", 0, 400, "malformed-request"}, /* past U+10FFFF */
	    {ORGS "?q=%c3", 0, 400, "malformed-request"},        /* cut short */
	    {ORGS "?status=%ff", 0, 400, "malformed-request"},   /* any parameter */
	    {LOGS "?table=org.%e9t%e9s", 0, 400, "malformed-request"},
	    /* raw bytes */
	    {ORGS "/\xff\xfe", 0, 400, "malformed-request"},
	    {ORGS "?q=\xc3\x28", 0, 400, "malformed-request"},
	    {ORGS "/\xed\xa0\x80", 0, 400, "malformed-request"},
	    /* a raw NUL ends the target where libmicrohttpd reads it: keel routes the rest */
	    {"/api/v1/nothing\0/../organizations", sizeof("/api/v1/nothing\0/../organizations") - 1,
	     404, "not-found"},
	    {"/api/v1/organizations/\0x", sizeof("/api/v1/organizations/\0x") - 1, 404, "not-found"},
	    {"/api/v1/organizations?limit=0\0"
	     "5",
	     sizeof("/api/v1/organizations?limit=0\0"
	            "5") -
	         1,
	     400, "malformed-request"},
	};
	long before = org_count();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].target);
		rresp *r = raw_get(cases[i].target, len);
		char what[160];

		snprintf(what, sizeof(what), "GET case %zu", i);
		assert_rproblem(what, r, cases[i].status, cases[i].slug);
		/* the problem never echoes bytes that are not UTF-8 (it is JSON) */
		assert_non_null(r->json);
		rresp_free(r);
	}
	/* the same in a write: refused before anything is written */
	rconn *c = rc_open();
	size_t len;
	const char *body = "{\"name\":\"n\",\"code\":\"utf8\"}";
	char *req = post_request(ORGS "/%ff/divisions", "26", "", &len, body, strlen(body));

	rc_send(c, req, len);
	rresp *r = rc_response(c, KT_WAIT_MS);

	assert_rproblem("POST to a path with %ff", r, 400, "malformed-request");
	rresp_free(r);
	rc_close(c);
	free(req);

	/* a NUL in a header value ends it; a request id that is not a sane token is replaced */
	const char rid[] = "GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: ok\0evil\r\n\r\n";

	r = exchange(rid, sizeof(rid) - 1, NULL);
	if (r == NULL || r->status != 200)
		fail_msg("a NUL in a header: %s", r ? r->head : "(no answer)");
	char *echoed = head_value(r->head, "X-Request-ID");

	assert_string_equal(echoed, "ok");
	free(echoed);
	rresp_free(r);
	const char bad_rid[] = "GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: \xff\xfe\r\n\r\n";

	r = exchange(bad_rid, sizeof(bad_rid) - 1, NULL);
	echoed = head_value(r->head, "X-Request-ID");
	assert_int_equal(r->status, 200);
	assert_int_equal(strlen(echoed), 36); /* a UUID of keel's own */
	free(echoed);
	rresp_free(r);
	assert_int_equal(org_count(), before);
}

/* POST body (len bytes) as JSON to path with the token, over libcurl. */
static kt_resp *
post_json(const char *method, const char *path, const char *body, size_t len)
{
	const char *h[] = {auth_header, "Content-Type: application/json", NULL};

	return kt_request(srv->base, method, path, h, body, len);
}

static void
hostile_json_bodies_are_400(void **state)
{
	(void)state;
	char *user_path = kt_strf("/api/v1/users/%s", org_id); /* no such user: the body fails first */
	char *org_path = kt_strf(ORGS "/%s", org_id);
	char *div_path = kt_strf(ORGS "/%s/divisions", org_id);
	size_t deep = 10000;
	char *arrays = malloc(2 * deep + 1), *objects = malloc(6 * deep + 2);

	for (size_t i = 0; i < deep; i++) {
		arrays[i] = '[';
		arrays[deep + i] = ']';
		memcpy(objects + 5 * i, "{\"a\":", 5);
		objects[5 * deep + 1 + i] = '}';
	}
	arrays[2 * deep] = '\0';
	objects[5 * deep] = '1';
	objects[6 * deep + 1] = '\0';
	char *in_settings = kt_strf("{\"name\":\"n\",\"code\":\"deep\",\"settings\":%s}", objects);
	char *in_array = kt_strf("{\"name\":\"n\",\"code\":\"deep\",\"settings\":{\"a\":%s}}", arrays);
	struct {
		const char *body;
		size_t len; /* 0: strlen */
	} bodies[] = {
	    {arrays, 0},
	    {objects, 0},
	    {in_settings, 0},
	    {in_array, 0},
	    /* NUL bytes */
	    {"{\"name\":\"a\\u0000b\",\"code\":\"nul1\"}", 0},
	    {"{\"name\":\"a\0b\",\"code\":\"nul2\"}",
	     sizeof("{\"name\":\"a\0b\",\"code\":\"nul2\"}") - 1},
	    {"{\"name\":\"ab\",\"code\":\"nul3\"}\0",
	     sizeof("{\"name\":\"ab\",\"code\":\"nul3\"}\0") - 1},
	    {"\0", 1},
	    /* invalid UTF-8 */
	    {"{\"name\":\"a\xc3\x28\",\"code\":\"u1\"}", 0},
	    {"{\"name\":\"a\xc0\xaf\",\"code\":\"u2\"}", 0},
	    {"{\"name\":\"a\xed\xa0\x80\",\"code\":\"u3\"}", 0},
	    {"{\"name\":\"a\\ud800b\",\"code\":\"u4\"}", 0},
	    {"{\"na\xffme\":\"a\",\"code\":\"u5\"}", 0},
	    {"\xef\xbb\xbf{\"name\":\"bom\",\"code\":\"u6\"}", 0},
	    {"\xff\xfe{\0}\0", 6},
	    /* numbers out of range */
	    {"{\"name\":\"n\",\"code\":\"big1\",\"settings\":{\"n\":123456789012345678901234567890}}",
	     0},
	    {"{\"name\":\"n\",\"code\":\"big2\",\"settings\":{\"n\":-9223372036854775809}}", 0},
	    {"{\"name\":\"n\",\"code\":\"big3\",\"settings\":{\"n\":1e400}}", 0},
	    {"{\"name\":\"n\",\"code\":\"big4\",\"settings\":{\"n\":-1e400}}", 0},
	    {"{\"name\":\"n\",\"code\":\"big5\",\"version\":1e999}", 0},
	    /* duplicate keys, at the top and further down */
	    {"{\"name\":\"n\",\"code\":\"dup1\",\"code\":\"dup2\"}", 0},
	    {"{\"name\":\"n\",\"name\":\"n\",\"code\":\"dup3\"}", 0},
	    {"{\"name\":\"n\",\"code\":\"dup4\",\"settings\":{\"a\":1,\"a\":1}}", 0},
	    {"{\"name\":\"n\",\"code\":\"dup5\",\"settings\":{\"x\":{\"b\":[{\"c\":1,\"c\":2}]}}}", 0},
	};
	const char *paths[] = {ORGS, org_path, div_path, user_path, "/api/v1/users", "/api/v1/tenant"};
	const char *methods[] = {"POST", "PATCH", "POST", "PATCH", "POST", "PATCH"};
	long orgs = org_count(), users = user_count();
	int sent = 0;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t len = bodies[i].len ? bodies[i].len : strlen(bodies[i].body);

		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
			kt_resp *r = post_json(methods[p], paths[p], bodies[i].body, len);
			char what[128];

			snprintf(what, sizeof(what), "body %zu on %s %s", i, methods[p], paths[p]);
			assert_kproblem(what, r, 400, "malformed-request");
			kt_resp_free(r);
			sent++;
		}
	}
	/* the public routes parse the same way */
	const char *dup_login =
	    "{\"tenant\":\"abuse\",\"email\":\"owner@abuse.test\",\"email\":\"x@y.z\","
	    "\"password\":\"" PASSWORD "\"}";
	kt_resp *r = kt_api(srv->base, "POST", NULL, dup_login, "/api/v1/auth/login");

	assert_kproblem("login with a duplicate key", r, 400, "malformed-request");
	kt_resp_free(r);
	r = kt_api(srv->base, "POST", NULL, arrays, "/api/v1/tenants");
	assert_kproblem("sign-up nested 10,000 deep", r, 400, "malformed-request");
	kt_resp_free(r);
	r = kt_api(srv->base, "POST", NULL, objects, "/api/v1/auth/refresh");
	assert_kproblem("refresh nested 10,000 deep", r, 400, "malformed-request");
	kt_resp_free(r);

	/* numbers of the right type but out of range are the fields' business: 422 */
	r = post_json("PATCH", user_path, "{\"role\":1e308}", strlen("{\"role\":1e308}"));
	assert_kproblem("a number for a role", r, 422, "validation-failed");
	kt_resp_free(r);
	assert_int_equal(org_count(), orgs);
	assert_int_equal(user_count(), users);
	print_message("hostile bodies: %d requests, each a 400 with nothing written\n", sent);
	free(in_settings);
	free(in_array);
	free(arrays);
	free(objects);
	free(user_path);
	free(org_path);
	free(div_path);
}

/* The cursor of the audit log's kind (0x02) at microsecond us, for id zero. */
static char *
audit_cursor(uint64_t us)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char bin[25] = {0x02};
	char *out = calloc(1, 40);
	size_t o = 0;

	for (int i = 0; i < 8; i++)
		bin[1 + i] = (unsigned char)(us >> (56 - 8 * i));
	for (size_t i = 0; i < sizeof(bin); i += 3) {
		uint32_t v = (uint32_t)bin[i] << 16;
		size_t n = sizeof(bin) - i >= 3 ? 3 : sizeof(bin) - i;

		if (n > 1)
			v |= (uint32_t)bin[i + 1] << 8;
		if (n > 2)
			v |= bin[i + 2];
		for (size_t k = 0; k < n + 1; k++)
			out[o++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	return out;
}

static void
numbers_and_times_out_of_range(void **state)
{
	(void)state;
	char *div_list = kt_strf(ORGS "/%s/divisions", org_id);
	const char *lists[] = {ORGS, div_list, "/api/v1/users", LOGS};
	const char *limits[] = {"limit=-1",
	                        "limit=99999999999",
	                        "limit=18446744073709551617",
	                        "limit=-9223372036854775809",
	                        "limit=1e2",
	                        "limit=0x10",
	                        "limit=%2B5",
	                        "limit=5%00"};

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			kt_resp *r = kt_api(srv->base, "GET", token, NULL, "%s?%s", lists[l], limits[i]);
			char what[160];

			snprintf(what, sizeof(what), "GET %s?%s", lists[l], limits[i]);
			assert_kproblem(what, r, 400, "malformed-request");
			kt_resp_free(r);
		}

	/* times keel cannot write (before 0001, after 9999 in UTC), and absurd ones */
	const char *times[] = {"since=0001-01-01T00:00:00%2B00:01",
	                       "until=9999-12-31T23:59:59-00:01",
	                       "since=9999-12-31T23:59:59.999999-23:59",
	                       "since=0000-01-01T00:00:00Z",
	                       "since=99999-01-01T00:00:00Z",
	                       "until=2026-01-01T00:00:00.99999999999999999999999Z",
	                       "since=2026-01-01T00:00:00%2B99:00"};

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		kt_resp *r = kt_api(srv->base, "GET", token, NULL, LOGS "?%s", times[i]);

		if (i == 5) { /* fraction digits past the sixth are dropped: a valid time */
			if (r->status != 200)
				fail_msg("GET " LOGS "?%s: %ld %s", times[i], r->status, r->body);
		} else {
			assert_kproblem(times[i], r, 400, "malformed-request");
		}
		kt_resp_free(r);
	}
	/* the extremes keel can write are fine */
	kt_resp *r = kt_api(srv->base, "GET", token, NULL,
	                    LOGS "?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999Z");

	assert_int_equal(r->status, 200);
	assert_true(json_array_size(json_object_get(r->json, "data")) > 0);
	kt_resp_free(r);

	/* crafted audit cursors: a position at any time keel cannot write is a 400 */
	const uint64_t bad_us[] = {0x8000000000000000u, 0x8000000000000001u, 0x7fffffffffffffffu,
	                           (uint64_t)-62135596800000001LL, 253402300800000000u};

	for (size_t i = 0; i < sizeof(bad_us) / sizeof(bad_us[0]); i++) {
		char *cursor = audit_cursor(bad_us[i]);

		r = kt_api(srv->base, "GET", token, NULL, LOGS "?cursor=%s", cursor);
		assert_kproblem(cursor, r, 400, "malformed-request");
		kt_resp_free(r);
		free(cursor);
	}
	/* a cursor far in the future positions before it: every row of the tenant is older */
	char *cursor = audit_cursor(253402300799999999u);

	r = kt_api(srv->base, "GET", token, NULL, LOGS "?limit=200&cursor=%s", cursor);
	assert_int_equal(r->status, 200);
	assert_true(json_array_size(json_object_get(r->json, "data")) > 0);
	kt_resp_free(r);
	free(cursor);
	/* and one at year 1, or a microsecond before 1970: nothing is older */
	const uint64_t early[] = {(uint64_t)-62135596800000000LL, 0xffffffffffffffffu};

	for (size_t i = 0; i < 2; i++) {
		cursor = audit_cursor(early[i]);
		r = kt_api(srv->base, "GET", token, NULL, LOGS "?cursor=%s", cursor);
		assert_int_equal(r->status, 200);
		assert_int_equal(json_array_size(json_object_get(r->json, "data")), 0);
		kt_resp_free(r);
		free(cursor);
	}

	/* If-Match versions past any integer match nothing */
	const char *ifm[] = {"If-Match: \"99999999999999999999999999\"", "If-Match: \"-1\"",
	                     "If-Match: \"4294967297\"", "If-Match: \"2147483648\""};
	long orgs = org_count();

	for (size_t i = 0; i < sizeof(ifm) / sizeof(ifm[0]); i++) {
		const char *h[] = {auth_header, "Content-Type: application/json", ifm[i], NULL};
		char *path = kt_strf(ORGS "/%s", org_id);

		r = kt_request(srv->base, "PATCH", path, h, "{\"name\":\"x\"}", 12);
		assert_kproblem(ifm[i], r, 412, "precondition-failed");
		kt_resp_free(r);
		r = kt_request(srv->base, "DELETE", path, h, NULL, 0);
		assert_kproblem(ifm[i], r, 412, "precondition-failed");
		kt_resp_free(r);
		free(path);
	}
	assert_int_equal(org_count(), orgs);
	free(div_list);
}

/* ---- answers before the request is read ---- */

static bool
rc_ended(void *arg)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(((rconn *)arg)->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	       ti.tcpi_state == TCP_CLOSE;
}

/*
 * Send head, read the answer (status) to the server's end of sending, then go on
 * sending more bytes and close: every send goes through, and the connection ends
 * without a reset.
 */
static void
check_outlives(const char *what, const char *head, size_t head_len, int status, size_t more,
               const char *file, int line)
{
	rconn *c = rc_open();

	if (send(c->fd, head, head_len, MSG_NOSIGNAL) != (ssize_t)head_len)
		kt_fail_at(file, line, "%s: sending the head: %s", what, strerror(errno));
	rresp *r = rc_response(c, KT_WAIT_MS);

	if (r == NULL || r->status != status)
		kt_fail_at(file, line, "%s: expected %d, got: %s", what, status, r ? r->head : "nothing");
	if (!rc_closes(c, KT_WAIT_MS))
		kt_fail_at(file, line, "%s: the connection stayed open after %d", what, status);
	char chunk[65536];

	memset(chunk, 'a', sizeof(chunk));
	while (more > 0) {
		ssize_t n = send(c->fd, chunk, more < sizeof(chunk) ? more : sizeof(chunk), MSG_NOSIGNAL);

		if (n < 0 && errno != EINTR)
			kt_fail_at(file, line, "%s: sending after the %d: %s", what, status, strerror(errno));
		more -= n > 0 ? (size_t)n : 0;
	}
	shutdown(c->fd, SHUT_WR);
	int err = 0;
	socklen_t len = sizeof(err);

	if (!kt_wait_until(rc_ended, c, KT_WAIT_MS))
		kt_fail_at(file, line, "%s: the connection did not end", what);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		kt_fail_at(file, line, "%s: the connection ended in: %s", what, strerror(err));
	rresp_free(r);
	rc_close(c);
}

#define assert_outlives(what, head, len, status, more)                                             \
	check_outlives((what), (head), (len), (status), (more), __FILE__, __LINE__)

/*
 * A client still sending when it is answered before its request was read (keel's
 * 413 for a Content-Length over the cap, libmicrohttpd's 431 for a header line over
 * its memory) gets the whole answer: keel reads and discards what comes before it
 * closes (a lingering close).  Closed with bytes unread, the kernel would answer them
 * with a reset, and a client whose send fails loses the answer it has not read.
 */
static void
early_answers_outlive_the_rest_of_the_request(void **state)
{
	(void)state;
	size_t len;
	char *req = post_request(ORGS, "1048577", "", &len, "{", 1);

	assert_outlives("Content-Length: 1048577", req, len, 413, 1024 * 1024);
	free(req);

	char *fill = malloc(40 * 1024 + 1);

	memset(fill, 'a', 40 * 1024);
	fill[40 * 1024] = '\0';
	req = kt_strf("GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Big: %s", fill);
	assert_outlives("a 40 KiB header line", req, strlen(req), 431, 256 * 1024);
	free(req);
	free(fill);
}

/* ---- Content-Length and framing ---- */

static void
content_length_lies(void **state)
{
	(void)state;
	const char *body = "{\"name\":\"Liar\",\"code\":\"liar\"}";
	size_t len;
	long orgs = org_count();
	char *rid;

	/* shorter: the body is what it says, the rest is the next request */
	char *two = kt_strf("%sGET /healthz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: after-lie\r\n\r\n",
	                    body + 12);
	char *head = post_request(ORGS, "12", "", &len, body, 12);
	char *req = kt_strf("%s%s", head, two);
	rconn *c = rc_open();

	rc_sends(c, req);
	rresp *r = rc_response(c, KT_WAIT_MS);

	assert_rproblem("Content-Length shorter than the body", r, 400, "malformed-request");
	rresp_free(r);
	/*
	 * ... and the rest is the next request, `r","code":"liar"}GET /healthz HTTP/1.1`:
	 * a method keel does not serve there, never a part of the POST
	 */
	r = rc_response(c, KT_WAIT_MS);
	assert_rproblem("the rest of the body as a request", r, 405, "method-not-allowed");
	rid = head_value(r->head, "X-Request-ID");
	assert_string_equal(rid, "after-lie");
	free(rid);
	rresp_free(r);
	rc_close(c);
	free(req);
	free(head);
	free(two);

	/* shorter, with a whole request after the announced body: that request is served */
	head = post_request(ORGS, "2", "X-Request-ID: lie-1\r\n", &len, "{}", 2);
	req = kt_strf("%sGET /healthz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: lie-2\r\n\r\n", head);
	c = rc_open();
	rc_sends(c, req);
	r = rc_response(c, KT_WAIT_MS);
	assert_rproblem("{} as an organization", r, 422, "validation-failed");
	rresp_free(r);
	r = rc_response(c, KT_WAIT_MS);
	assert_non_null(r);
	assert_int_equal(r->status, 200);
	rid = head_value(r->head, "X-Request-ID");

	assert_string_equal(rid, "lie-2");
	free(rid);
	rresp_free(r);
	rc_close(c);
	free(req);
	free(head);

	/* longer, then the client closes its side: no answer, nothing written */
	req = post_request(ORGS, "100", "", &len, body, strlen(body));
	c = rc_open();
	rc_send(c, req, len);
	shutdown(c->fd, SHUT_WR);
	if (!rc_closes(c, KT_WAIT_MS) || c->len != 0)
		fail_msg("a body cut short by the client: %s", c->len ? c->buf : "(still open)");
	rc_close(c);

	/* longer, then silence: closed by the idle timeout, with no answer */
	c = rc_open();
	long long t0 = kt_now_ms();

	rc_send(c, req, len);
	if (!rc_closes(c, TIMEOUT_MS + KT_WAIT_MS) || c->len != 0)
		fail_msg("a body that never comes: %s", c->len ? c->buf : "(still open)");
	if (kt_now_ms() - t0 < TIMEOUT_MS - 100)
		fail_msg("closed after %lld ms, before the request timeout", kt_now_ms() - t0);
	rc_close(c);
	free(req);

	/* lengths libmicrohttpd cannot read: its 400 (or 413 past 64 bits), and the end */
	const struct {
		const char *value;
		int status;
	} bad[] = {{"abc", 400},  {"-1", 400}, {"+29", 400},   {"29 29", 400},
	           {"0x1d", 400}, {"", 400},   {"29abc", 400}, {"99999999999999999999999", 413}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[96];

		snprintf(what, sizeof(what), "Content-Length: %s", bad[i].value);
		req = post_request(ORGS, bad[i].value, "", &len, body, strlen(body));
		c = rc_open();
		rc_send(c, req, len);
		assert_mhd_close(what, c, bad[i].status);
		rc_close(c);
		free(req);
	}

	/* over keel's 1 MiB: keel's 413 at once, without waiting for the body */
	req = post_request(ORGS, "1048577", "", &len, "{", 1);
	c = rc_open();
	rc_send(c, req, len);
	r = rc_response(c, KT_WAIT_MS);
	assert_rproblem("Content-Length: 1048577", r, 413, "payload-too-large");
	rresp_free(r);
	rc_close(c);
	free(req);

	/* two lengths, or a length with Transfer-Encoding: refused and the connection closed */
	const char *ambiguous[] = {"Content-Length: 3\r\n", "Content-Length: 29\r\n",
	                           "Transfer-Encoding: chunked\r\n"};

	for (size_t i = 0; i < sizeof(ambiguous) / sizeof(ambiguous[0]); i++) {
		req = post_request(ORGS, "29", ambiguous[i], &len, body, strlen(body));
		c = rc_open();
		rc_send(c, req, len);
		r = rc_response(c, KT_WAIT_MS);
		assert_rproblem(ambiguous[i], r, 400, "malformed-request");
		char *conn = head_value(r->head, "Connection");

		assert_non_null(conn);
		assert_string_equal(conn, "close");
		free(conn);
		if (!rc_closes(c, KT_WAIT_MS))
			fail_msg("%s: the connection stayed open", ambiguous[i]);
		rresp_free(r);
		rc_close(c);
		free(req);
	}

	/* a chunked body that is not chunked */
	req = post_request(ORGS, NULL, "Transfer-Encoding: chunked\r\n", &len, "zz\r\n{}\r\n0\r\n\r\n",
	                   strlen("zz\r\n{}\r\n0\r\n\r\n"));
	c = rc_open();
	rc_send(c, req, len);
	assert_mhd_close("chunk size zz", c, 400);
	rc_close(c);
	free(req);
	/* ... while a proper chunked body is fine */
	req = post_request(ORGS, NULL, "Transfer-Encoding: chunked\r\n", &len, "2\r\n{}\r\n0\r\n\r\n",
	                   strlen("2\r\n{}\r\n0\r\n\r\n"));
	r = exchange(req, len, NULL);
	assert_rproblem("a chunked {}", r, 422, "validation-failed");
	rresp_free(r);
	free(req);
	assert_int_equal(org_count(), orgs);
}

/* ---- pipelining ---- */

static void
pipelined_requests_are_answered_in_order(void **state)
{
	(void)state;
	const char *body = "{\"name\":\"Piped\",\"code\":\"piped\"}";
	size_t len;
	char *post = post_request(ORGS, "31", "X-Request-ID: pipe-2\r\n", &len, body, strlen(body));
	char *bad = post_request(ORGS, "2", "X-Request-ID: pipe-4\r\n", &len, "[]", 2);
	char *req =
	    kt_strf("GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: pipe-1\r\n\r\n"
	            "%s"
	            "GET " ORGS "?q=piped HTTP/1.1\r\nHost: keel\r\n%s\r\nX-Request-ID: pipe-3\r\n\r\n"
	            "%s"
	            "DELETE /healthz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: pipe-5\r\n\r\n"
	            "GET /api/v1/nowhere HTTP/1.1\r\nHost: keel\r\nX-Request-ID: pipe-6\r\n\r\n"
	            "GET /readyz HTTP/1.1\r\nHost: keel\r\nX-Request-ID: pipe-7\r\n"
	            "Connection: close\r\n\r\n",
	            post, auth_header, bad);
	const int want[] = {200, 201, 200, 400, 405, 404, 200};
	rconn *c = rc_open();

	rc_sends(c, req); /* one write */
	for (int i = 0; i < 7; i++) {
		rresp *r = rc_response(c, KT_WAIT_MS);
		char expect_rid[16];

		if (r == NULL)
			fail_msg("pipelined request %d: no answer", i + 1);
		snprintf(expect_rid, sizeof(expect_rid), "pipe-%d", i + 1);
		char *rid = head_value(r->head, "X-Request-ID");

		if (r->status != want[i] || rid == NULL || strcmp(rid, expect_rid) != 0)
			fail_msg("pipelined answer %d: %d (expected %d) for %s:\n%s", i + 1, r->status, want[i],
			         rid ? rid : "?", r->head);
		if (i == 2) /* the list sees the organization created just before it */
			assert_int_equal(json_array_size(json_object_get(r->json, "data")), 1);
		free(rid);
		rresp_free(r);
	}
	assert_true(rc_closes(c, KT_WAIT_MS));
	rc_close(c);
	free(req);
	free(post);
	free(bad);
}

/* ---- methods and request lines ---- */

static void
invalid_methods_and_request_lines(void **state)
{
	(void)state;
	struct {
		const char *request;
		int status;
		const char *allow; /* for 405 */
	} methods[] = {
	    {"FOO /healthz HTTP/1.1\r\nHost: keel\r\n\r\n", 405, "GET, HEAD"},
	    {"get /healthz HTTP/1.1\r\nHost: keel\r\n\r\n", 405, "GET, HEAD"},
	    {"G@T /healthz HTTP/1.1\r\nHost: keel\r\n\r\n", 405, "GET, HEAD"},
	    {"TRACE /healthz HTTP/1.1\r\nHost: keel\r\n\r\n", 405, "GET, HEAD"},
	    {"BREW " ORGS " HTTP/1.1\r\nHost: keel\r\n\r\n", 405, "POST, GET, HEAD"},
	    {"PUT " ORGS " HTTP/1.1\r\nHost: keel\r\nContent-Length: 0\r\n\r\n", 405,
	     "POST, GET, HEAD"},
	    {"FOO /api/v1/nowhere HTTP/1.1\r\nHost: keel\r\n\r\n", 404, NULL},
	    {"CONNECT 127.0.0.1:5432 HTTP/1.1\r\nHost: keel\r\n\r\n", 404, NULL},
	    {"OPTIONS * HTTP/1.1\r\nHost: keel\r\n\r\n", 404, NULL},
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		rresp *r = exchange(methods[i].request, strlen(methods[i].request), NULL);
		char what[96];

		snprintf(what, sizeof(what), "request %.40s", methods[i].request);
		assert_rproblem(what, r, methods[i].status,
		                methods[i].status == 405 ? "method-not-allowed" : "not-found");
		if (methods[i].allow != NULL) {
			char *allow = head_value(r->head, "Allow");

			assert_non_null(allow);
			assert_string_equal(allow, methods[i].allow);
			free(allow);
		}
		rresp_free(r);
	}

	/* request lines and headers libmicrohttpd cannot parse */
	const struct {
		const char *request;
		int status; /* 0: closed without an answer */
	} lines[] = {
	    {"GET /healthz\r\nHost: keel\r\n\r\n", 400},
	    {"GET /healthz HTTP/1.1\r\nHost: keel\r\nNo colon here\r\n\r\n", 400},
	    {"GET /healthz HTTP/2.0\r\nHost: keel\r\n\r\n", 505},
	    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
	    {" /healthz HTTP/1.1\r\nHost: keel\r\n\r\n", 0},
	    {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 0}, /* a TLS hello */
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		rconn *c = rc_open();
		char what[64];

		snprintf(what, sizeof(what), "request line %zu", i);
		rc_sends(c, lines[i].request);
		if (lines[i].status != 0) {
			assert_mhd_close(what, c, lines[i].status);
		} else if (!rc_closes(c, KT_WAIT_MS) || c->len != 0) {
			fail_msg("%s: expected the connection closed without an answer: %s", what,
			         c->len ? c->buf : "(still open)");
		}
		rc_close(c);
	}
}

/* Last: keel survived all of it, stops cleanly, and the sanitizers said nothing. */
static void
keel_is_still_healthy_and_sanitizers_are_quiet(void **state)
{
	(void)state;
	kt_resp *r = kt_api(srv->base, "GET", NULL, NULL, "/healthz");

	assert_int_equal(r->status, 200);
	kt_resp_free(r);
	r = kt_api(srv->base, "GET", token, NULL, ORGS "/%s", org_id);
	assert_int_equal(r->status, 200);
	assert_string_equal(kt_jstr(r->json, "name"), "Target");
	kt_resp_free(r);
	const char *also[] = {"\"level\":\"error\"", NULL};

	kt_keel_stop_clean(&srv, also);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(slow_clients_are_cut_off_while_others_are_served),
	    cmocka_unit_test(oversized_headers_and_paths),
	    cmocka_unit_test(nul_bytes_and_invalid_utf8_in_paths_and_queries),
	    cmocka_unit_test(hostile_json_bodies_are_400),
	    cmocka_unit_test(numbers_and_times_out_of_range),
	    cmocka_unit_test(content_length_lies),
	    cmocka_unit_test(early_answers_outlive_the_rest_of_the_request),
	    cmocka_unit_test(pipelined_requests_are_answered_in_order),
	    cmocka_unit_test(invalid_methods_and_request_lines),
	    cmocka_unit_test(keel_is_still_healthy_and_sanitizers_are_quiet),
	};

	return cmocka_run_group_tests_name("abuse", tests, setup, teardown);
}
