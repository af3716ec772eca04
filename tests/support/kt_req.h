/*
 * kt_req: a keel_req for unit tests of handlers' pure parts, without a server.
 *
 * keel's request code reads query arguments and headers through libmicrohttpd;
 * tests/fuzz/fuzz_http.c answers those lookups from a request held in memory
 * (its definitions win over the shared library's), so req.c and everything
 * above it run as in the server.  Link the object library keel_testreq.
 */
#ifndef KEEL_TESTS_KT_REQ_H
#define KEEL_TESTS_KT_REQ_H

#include "http/http_int.h"

typedef struct kt_pair {
	const char *name, *value;
} kt_pair;

/*
 * A request: method, path, query arguments and headers (arrays ending in {NULL}; either may be
 * NULL) and body (NULL: none).  One at a time: lookups answer from the last one made.  The
 * strings are borrowed until kt_req_free.
 */
keel_req *kt_req(const char *method, const char *path, const kt_pair *args, const kt_pair *headers,
                 const char *body);
void kt_req_free(keel_req *req);

/* The value of response header name that the code under test set on req, or NULL. */
const char *kt_req_header_out(const keel_req *req, const char *name);

/* The HTTP status req was failed with (keel_req_fail), or 0 when it was not. */
int kt_req_failed_status(const keel_req *req);

#endif
