/*
 * Private to src/svc: parts of the services the unit tests check on their own.
 */
#ifndef KEEL_SVC_SVC_INT_H
#define KEEL_SVC_SVC_INT_H

#include "svc/svc.h"

/* Hex SHA-256 of method, path and body, in the request arena: what "the same request" means. */
char *request_hash(keel_req *req);

#endif
