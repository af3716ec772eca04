/*
 * A request parsed from the fuzzer's bytes, and the libmicrohttpd lookups
 * keel's request code makes, answered from it (see fuzz_http.h).
 *
 * Only the lookups are replaced (MHD_lookup_connection_value(),
 * MHD_get_connection_values(), MHD_get_connection_info()): they are all that
 * req.c asks of a connection while a handler runs.  Each checks that it is
 * asked about the stand-in connection, so a real libmicrohttpd connection can
 * never reach them by mistake.  Decoding is the server's own (req_unescape());
 * the refusals before routing copy server.c's precheck(), which is static there.
 */
#include "fuzz_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The stand-in connection: only its address is ever used. */
static char conn_tag;
#define FZ_CONN ((struct MHD_Connection *)(void *)&conn_tag)

/* The request whose values the lookups answer with. */
static const fz_request *current;

static bool
utf8_ok(const char *s)
{
	return s == NULL || keel_utf8_valid(s, strlen(s));
}

/*
 * The head (request line and headers) is data[0..return); the body starts at
 * *body, after the first blank line ("\n\n" or "\n\r\n").  Without one,
 * everything is head.
 */
static size_t
head_end(const uint8_t *d, size_t n, size_t *body)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] != '\n')
			continue;
		if (i + 1 < n && d[i + 1] == '\n') {
			*body = i + 2;
			return i;
		}
		if (i + 2 < n && d[i + 1] == '\r' && d[i + 2] == '\n') {
			*body = i + 3;
			return i;
		}
	}
	*body = n;
	return n;
}

/* line without a trailing CR */
static char *
strip_cr(char *line)
{
	size_t len = strlen(line);

	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	return line;
}

/* "a=b&c" into r->args, decoded; false when the server would refuse it (not UTF-8). */
static bool
parse_query(char *q, fz_request *r)
{
	char *save;

	for (char *item = strtok_r(q, "&", &save); item != NULL; item = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(item, '=');

		if (r->nargs == FZ_MAX_VALUES)
			return false;
		if (eq != NULL) {
			*eq = '\0';
			req_unescape(eq + 1);
		}
		req_unescape(item);
		r->args[r->nargs++] = (fz_pair){item, eq != NULL ? eq + 1 : NULL};
		if (!utf8_ok(item) || !utf8_ok(eq != NULL ? eq + 1 : NULL))
			return false;
	}
	return true;
}

/* "METHOD /path?query" into r. */
static bool
parse_request_line(char *line, fz_request *r)
{
	char *sp = strchr(line, ' ');

	if (sp == NULL || sp == line)
		return false;
	*sp = '\0';
	for (const char *m = line; *m != '\0'; m++)
		if (*m <= ' ' || *m > '~')
			return false;
	r->method = line;
	char *target = sp + 1;

	target[strcspn(target, " ")] = '\0'; /* an " HTTP/1.1" after it is ignored */
	char *q = strchr(target, '?');

	if (q != NULL) {
		*q = '\0';
		if (!parse_query(q + 1, r))
			return false;
	}
	req_unescape(target);
	r->path = target;
	return target[0] != '\0' && utf8_ok(target);
}

/* "Name: value" into r->headers. */
static bool
parse_header(char *line, fz_request *r)
{
	char *colon = strchr(line, ':');

	if (colon == NULL || colon == line || r->nheaders == FZ_MAX_VALUES)
		return false;
	*colon = '\0';
	char *v = colon + 1 + strspn(colon + 1, " \t");
	size_t len = strlen(v);

	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		v[--len] = '\0';
	r->headers[r->nheaders++] = (fz_pair){line, v};
	return true;
}

bool
fz_request_parse(const uint8_t *data, size_t size, fz_request *r)
{
	size_t body;
	size_t head = head_end(data, size, &body);
	char *save;

	memset(r, 0, sizeof(*r));
	/* libmicrohttpd closes a connection that sends a NUL in its head */
	if (memchr(data, '\0', head) != NULL || size - body > KEEL_HTTP_BODY_LIMIT)
		return false;
	r->text = malloc(head + 1);
	if (r->text == NULL)
		abort();
	memcpy(r->text, data, head);
	r->text[head] = '\0';
	r->body = data + body;
	r->body_len = size - body;

	char *line = strtok_r(r->text, "\n", &save);
	bool ok = line != NULL && parse_request_line(strip_cr(line), r);

	while (ok && (line = strtok_r(NULL, "\n", &save)) != NULL)
		ok = parse_header(strip_cr(line), r);
	if (!ok)
		fz_request_free(r);
	return ok;
}

void
fz_request_free(fz_request *r)
{
	free(r->text);
	r->text = NULL;
}

static const char *
find(const fz_pair *pairs, int n, const char *name, bool any_case)
{
	for (int i = 0; i < n; i++)
		if ((any_case ? strcasecmp(pairs[i].name, name) : strcmp(pairs[i].name, name)) == 0)
			return pairs[i].value;
	return NULL;
}

keel_req *
fz_req_new(const fz_request *r)
{
	keel_req *req = req_new(FZ_CONN, r->method, r->path);

	current = r;
	req_assign_id(req, find(r->headers, r->nheaders, "X-Request-ID", true));
	req_assign_trace(req, find(r->headers, r->nheaders, "traceparent", true),
	                 find(r->headers, r->nheaders, "tracestate", true), 0);
	if (r->body_len > 0) {
		req->has_body = true;
		keel_buf_append(&req->body, r->body, r->body_len);
	}
	return req;
}

/* ---- libmicrohttpd, as far as req.c asks ---- */

const char *
MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                            const char *key)
{
	FZ_CHECK(connection == FZ_CONN && current != NULL, "lookup on a connection not the stand-in");
	if (kind == MHD_GET_ARGUMENT_KIND)
		return find(current->args, current->nargs, key, false);
	if (kind == MHD_HEADER_KIND)
		return find(current->headers, current->nheaders, key, true);
	return NULL;
}

int
MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                          MHD_KeyValueIterator iterator, void *iterator_cls)
{
	const fz_pair *pairs = kind == MHD_GET_ARGUMENT_KIND ? current->args
	                       : kind == MHD_HEADER_KIND     ? current->headers
	                                                     : NULL;
	int n = kind == MHD_GET_ARGUMENT_KIND ? current->nargs
	        : kind == MHD_HEADER_KIND     ? current->nheaders
	                                      : 0;
	int i;

	FZ_CHECK(connection == FZ_CONN && current != NULL, "values of a connection not the stand-in");
	for (i = 0; i < n; i++)
		if (iterator != NULL &&
		    iterator(iterator_cls, kind, pairs[i].name, pairs[i].value) != MHD_YES)
			return i + 1;
	return n;
}

const union MHD_ConnectionInfo *
MHD_get_connection_info(struct MHD_Connection *connection, enum MHD_ConnectionInfoType info_type,
                        ...)
{
	static struct sockaddr_in peer;
	static union MHD_ConnectionInfo info;

	FZ_CHECK(connection == FZ_CONN, "connection info of a connection not the stand-in");
	if (info_type != MHD_CONNECTION_INFO_CLIENT_ADDRESS)
		return NULL;
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.7", &peer.sin_addr); /* TEST-NET-1 */
	info.client_addr = (struct sockaddr *)&peer;
	return &info;
}
