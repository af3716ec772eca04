/*
 * The account limit every password check counts against (a sign-in, the
 * current password of a password change), and the security events a request
 * puts on record.
 *
 * An account's attempt is put on record and committed first, then counted
 * with the failures (auth_attempt_count): the count includes every attempt
 * committed before it, its own too, so of any number of simultaneous guesses
 * at most the limit pass (the last to count sees all the others), without a
 * lock that would let a flood stall the workers.
 */
#include "auth/auth_int.h"
#include "core/str.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <stdio.h>
#include <string.h>

keel_err
auth_throttled(keel_req *req, int retry_after_s, const char *what)
{
	char ra[16];

	snprintf(ra, sizeof(ra), "%d", retry_after_s > 0 ? retry_after_s : 1);
	keel_req_set_header(req, "Retry-After", ra);
	return keel_req_fail(req, KEEL_ELIMIT, NULL, "too many failed sign-ins %s; retry later", what);
}

const char *
auth_client_inet(keel_req *req)
{
	const char *addr = keel_req_client_addr(req);

	return strcmp(addr, "-") == 0 ? NULL : addr;
}

auth_event
auth_event_of(keel_req *req, const char *kind, const char *user_id, const char *email)
{
	const char *ua = keel_req_header(req, "User-Agent");

	if (ua != NULL && !keel_utf8_valid(ua, strlen(ua)))
		ua = NULL; /* not text: not worth recording */
	return (auth_event){.kind = kind,
	                    .user_id = user_id,
	                    .email = email,
	                    .client_addr = auth_client_inet(req),
	                    .user_agent = ua,
	                    .request_id = keel_req_id(req)};
}

keel_err
auth_attempt_begin(keel_req *req, keel_tx *tx, const char *email, char *attempt_id)
{
	keel_uuid attempt;
	keel_err err;

	keel_uuid_v7(&attempt);
	keel_uuid_format(&attempt, attempt_id);
	if ((err = auth_store_attempt_begin(tx, attempt_id, email)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	keel_svc_release(tx);
	return KEEL_OK;
}

keel_err
auth_attempt_count(keel_req *req, keel_tx *tx, const char *attempt_id, const auth_event *refusal,
                   bool *refused)
{
	int fails, retry;
	keel_err err;

	*refused = false;
	if ((err = auth_store_account_failures(tx, refusal->email, &fails, &retry)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	if (fails <= AUTH_ACCOUNT_FAILURES_MAX)
		return KEEL_OK;
	*refused = true;
	if ((err = auth_store_attempt_end(tx, attempt_id)) || (err = auth_store_event(tx, refusal)))
		return keel_svc_fail(req, err, NULL);
	if (keel_svc_commit(req, tx) != KEEL_OK)
		return KEEL_EUNAVAIL;
	return auth_throttled(req, retry, "or password changes for this account");
}
