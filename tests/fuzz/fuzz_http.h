/*
 * Requests for harnesses that drive keel's handlers without a server.
 *
 * keel's request code reads query arguments, headers and the peer address
 * through libmicrohttpd.  fuzz_http.c defines those few libmicrohttpd
 * functions itself (a definition in the program wins over the shared
 * library's), serving them from a request parsed out of the fuzzer's bytes,
 * so everything above them (req.c, the handlers, the validators) runs as it
 * does in the server.  The input is HTTP-like text:
 *
 *   METHOD /path?name=value&...\n
 *   Name: value\n          (any number of header lines)
 *   \n
 *   body                   (any bytes, up to the end)
 *
 * Path and query are percent-decoded the way the server decodes them (%00
 * becomes the byte 0xFF), and a request the server would refuse before
 * routing (path or query not UTF-8, a header line without a colon, a NUL
 * before the body) is refused here too, so a harness only sees requests that
 * reach the router.
 */
#ifndef KEEL_TESTS_FUZZ_HTTP_H
#define KEEL_TESTS_FUZZ_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "http/http_int.h"

#define FZ_MAX_VALUES 32 /* query arguments and headers kept, each */

typedef struct fz_pair {
	const char *name;
	const char *value; /* NULL: a query argument without "=" */
} fz_pair;

typedef struct fz_request {
	char *text; /* the head of the input, cut into the strings below */
	const char *method;
	const char *path; /* decoded */
	fz_pair args[FZ_MAX_VALUES];
	fz_pair headers[FZ_MAX_VALUES];
	int nargs, nheaders;
	const uint8_t *body; /* points into the input */
	size_t body_len;
} fz_request;

/*
 * Parse data[size] into r (released with fz_request_free).  False when the
 * server would not route such a request; r needs no release then.
 */
bool fz_request_parse(const uint8_t *data, size_t size, fz_request *r);
void fz_request_free(fz_request *r);

/*
 * A keel_req for r, made as the server makes one (id, trace context, body),
 * whose query and header lookups answer from r until the next call.  Release
 * with req_free().
 */
keel_req *fz_req_new(const fz_request *r);

#endif
