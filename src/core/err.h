/*
 * keel error codes.
 *
 * Every fallible keel function returns a keel_err: 0 on success, a negative
 * code naming the category of failure.  The HTTP layer maps each code to one
 * status in exactly one table (http/problem.c), so a store never needs to know
 * about HTTP and a handler never needs to invent a status.
 */
#ifndef KEEL_CORE_ERR_H
#define KEEL_CORE_ERR_H

typedef enum keel_err {
	KEEL_OK = 0,
	KEEL_EINVAL = -1,     /* invalid input, per-field errors     -> 422 */
	KEEL_ENOTFOUND = -2,  /* absent, or another tenant's         -> 404 */
	KEEL_ECONFLICT = -3,  /* unique or state conflict            -> 409 */
	KEEL_EDENIED = -4,    /* authenticated, not allowed          -> 403 */
	KEEL_EUNAVAIL = -5,   /* dependency down, retry later        -> 503 */
	KEEL_EINTERNAL = -6,  /* bug; detail goes to the log only    -> 500 */
	KEEL_EMALFORMED = -7, /* unparseable request                 -> 400 */
	KEEL_EUNAUTH = -8,    /* missing or bad credentials          -> 401 */
	KEEL_EPRECOND = -9,   /* If-Match does not match             -> 412 */
	KEEL_ETOOLARGE = -10, /* body over the limit                 -> 413 */
	KEEL_EMEDIA = -11,    /* unsupported content type            -> 415 */
	KEEL_EMETHOD = -12,   /* method not allowed on this path     -> 405 */
	KEEL_ELIMIT = -13,    /* throttled                           -> 429 */
} keel_err;

#define KEEL_ERR_COUNT 14

/* A short lowercase name for logs ("not found"); never NULL. */
const char *keel_err_name(keel_err err);

#endif
