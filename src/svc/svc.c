/*
 * Request-scoped database access (see svc.h).
 */
#include "svc/svc.h"
#include "access/access.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The peer's address for app.client_addr, or NULL when unknown. */
static const char *
client_addr(keel_req *req)
{
	const char *addr = keel_req_client_addr(req);

	return strcmp(addr, "-") == 0 ? NULL : addr;
}

/* The request's server span: round trips become its children. */
static keel_trace_ref
trace_of(const keel_req *req)
{
	keel_trace_ref t;
	uint8_t parent[8];
	bool has_parent;

	keel_req_trace_ids(req, t.trace_id, t.span_id, parent, &has_parent);
	t.sampled = keel_req_sampled(req);
	return t;
}

static void
release_on_answer(void *tx)
{
	keel_tx_release(tx);
}

/*
 * A transaction on a connection of the pool, given back when the handler has
 * answered (keel_req_on_answer), not when the answer has been sent: the
 * worker thread may serve other requests before it sends this one, and they
 * may need the connection.
 */
static keel_err
begin(keel_req *req, keel_db_pool *pool, const keel_ctx *ctx, keel_tx **tx)
{
	keel_db *db;
	keel_err err = keel_db_acquire_scoped(pool, keel_req_arena(req), &db);

	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	err = keel_tx_begin(db, keel_req_arena(req), ctx, tx);
	if (err == KEEL_OK)
		keel_req_on_answer(req, release_on_answer, *tx);
	return err;
}

/*
 * The caller's access, checked by the database in the transaction itself
 * (migration 0007), in the statement that makes the transaction's settings
 * (auth.acting_role() comes after them in its select list, so it reads
 * them): the user must be active, its tenant active (unless the
 * route answers while suspended), its role at least the one asked for.
 */
static const keel_stmt access_stmt = {"svc_settings_access",
                                      "SELECT " KEEL_TX_SETTINGS_SQL
                                      ", auth.acting_role($6::integer, $7::boolean)",
                                      KEEL_TX_SETTINGS_PARAMS + 2};

/* The access check's outcome: the live role, or the request's failure. */
static void
access_checked(void *arg, const keel_res *res, keel_err err, const char *sqlstate,
               const char *message)
{
	keel_req *req = arg;

	if (err == KEEL_OK) {
		keel_access_set_role(req, (keel_role)atoi(keel_res_get(res, 0, KEEL_TX_SETTINGS_PARAMS)));
		return;
	}
	if (strcmp(sqlstate, "KA401") == 0) {
		keel_req_set_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		keel_req_fail(req, KEEL_EUNAUTH, NULL, "invalid access token: %s", message);
	} else if (strcmp(sqlstate, "KA423") == 0) {
		keel_req_problem_type(req, "tenant-suspended", "Tenant Suspended");
		keel_req_fail(req, KEEL_EDENIED, NULL,
		              "%s; its data is kept and access returns when an operator resumes it",
		              message);
	} else if (strcmp(sqlstate, "KA403") == 0) {
		keel_req_fail(req, KEEL_EDENIED, NULL, "%s", message);
	}
	/* anything else (the database went away) is the handler's to answer */
}

/*
 * The caller's transaction context into *ctx, with the access guard (min_role or the route's,
 * if higher; its outcome to guarded) when the caller is a user.  min and params: storage for
 * the guard's parameters, living as long as ctx.
 */
static void
caller_ctx(keel_req *req, int min_role,
           void (*guarded)(void *, const keel_res *, keel_err, const char *, const char *),
           keel_trace_ref *trace, char min[12], const char *params[2], keel_ctx *ctx)
{
	const keel_principal *p = keel_access_principal(req);
	const keel_route *route = keel_req_route(req);

	if (route != NULL && route->min_role > min_role)
		min_role = route->min_role;
	snprintf(min, 12, "%d", min_role);
	params[0] = min;
	params[1] = route != NULL && (route->flags & KEEL_ROUTE_SUSPENDED) ? "t" : "f";
	*trace = trace_of(req);
	*ctx = (keel_ctx){.tenant_id = p->tenant_id,
	                  .user_id = p->user_id,
	                  .request_id = keel_req_id(req),
	                  .trace_id = keel_req_trace_id(req),
	                  .client_addr = client_addr(req),
	                  .trace = trace};
	if (p->user_id != NULL) {
		ctx->guard = &access_stmt;
		ctx->guard_params = params;
		ctx->guarded = guarded;
		ctx->guard_arg = req;
	}
}

keel_err
keel_svc_tx_role(keel_req *req, keel_db_pool *pool, int min_role, keel_tx **tx)
{
	keel_trace_ref trace;
	char min[12];
	const char *params[2];
	keel_ctx ctx;

	caller_ctx(req, min_role, access_checked, &trace, min, params, &ctx);
	return begin(req, pool, &ctx, tx);
}

/* The access check's outcome for a streamed answer's chunk: a failure ends the stream. */
static void
chunk_access_checked(void *arg, const keel_res *res, keel_err err, const char *sqlstate,
                     const char *message)
{
	(void)sqlstate;
	(void)message;
	if (err == KEEL_OK)
		keel_access_set_role(arg, (keel_role)atoi(keel_res_get(res, 0, KEEL_TX_SETTINGS_PARAMS)));
}

keel_err
keel_svc_tx_chunk(keel_req *req, keel_db_pool *pool, keel_arena *a, keel_tx **tx)
{
	keel_trace_ref trace;
	char min[12];
	const char *params[2];
	keel_ctx ctx;
	keel_db *db;
	keel_err err;

	caller_ctx(req, 0, chunk_access_checked, &trace, min, params, &ctx);
	if ((err = keel_db_acquire_scoped(pool, a, &db)) != KEEL_OK)
		return err;
	return keel_tx_begin(db, a, &ctx, tx);
}

keel_err
keel_svc_tx(keel_req *req, keel_db_pool *pool, keel_tx **tx)
{
	return keel_svc_tx_role(req, pool, 0, tx);
}

keel_err
keel_svc_access(keel_req *req, keel_db_pool *pool, int min_role)
{
	static const keel_stmt nothing = {"svc_nothing", "SELECT 1", 0};
	keel_tx *tx;
	keel_err err;

	if ((err = keel_svc_tx_role(req, pool, min_role, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_tx_exec_only(tx, &nothing, NULL, NULL)) != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	keel_svc_release(tx);
	return KEEL_OK;
}

keel_err
keel_svc_tx_tenant(keel_req *req, keel_db_pool *pool, const char *tenant_id, keel_tx **tx)
{
	keel_trace_ref trace = trace_of(req);
	keel_ctx ctx = {.tenant_id = tenant_id,
	                .request_id = keel_req_id(req),
	                .trace_id = keel_req_trace_id(req),
	                .client_addr = client_addr(req),
	                .trace = &trace};

	return begin(req, pool, &ctx, tx);
}

keel_err
keel_svc_fail_tx(keel_req *req, keel_tx *tx, keel_err err, const char *what)
{
	if (!keel_db_module_state(keel_tx_sqlstate(tx)))
		return what != NULL && err == KEEL_ENOTFOUND
		           ? keel_req_fail(req, err, NULL, "no such %s", what)
		           : keel_svc_fail(req, err, NULL);
	const char *column = keel_tx_column(tx);
	const char *field = err == KEEL_EINVAL && column[0] != '\0' ? column : NULL;

	return keel_req_fail(req, err, field, "%s", keel_tx_message(tx));
}

keel_err
keel_svc_fail(keel_req *req, keel_err err, const char *detail)
{
	if (keel_req_answered(req))
		return err; /* the access check answered already */
	switch (err) {
	case KEEL_EUNAVAIL:
		return keel_req_fail(req, err, NULL, "the database is unavailable; retry shortly");
	case KEEL_EINTERNAL:
		return keel_req_fail(req, err, NULL, "%s", detail ? detail : "database error");
	default:
		return keel_req_fail(req, err, NULL, "%s", detail ? detail : keel_err_name(err));
	}
}

keel_err
keel_svc_commit(keel_req *req, keel_tx *tx)
{
	keel_err err = keel_tx_commit(tx);

	return err == KEEL_OK ? KEEL_OK : keel_svc_fail(req, err, "could not commit");
}

void
keel_svc_release(keel_tx *tx)
{
	keel_tx_release(tx);
}

keel_err
keel_svc_if_match(keel_req *req, const char **version)
{
	const char *h = keel_req_header(req, "If-Match");
	size_t len;

	*version = NULL;
	if (h == NULL || strcmp(h, "*") == 0)
		return KEEL_OK;
	len = strlen(h);
	if (len >= 3 && len <= 12 && h[0] == '"' && h[len - 1] == '"' &&
	    strspn(h + 1, "0123456789") == len - 2) {
		/*
		 * Versions are integers from 1 up: "01" (ETags compare byte for
		 * byte) or a number past the integer range can match no version.
		 * "0" says so to the stores, which compare it as an integer.
		 */
		bool canonical = h[1] != '0' && strtoll(h + 1, NULL, 10) <= INT32_MAX;

		*version = canonical ? keel_arena_strndup(keel_req_arena(req), h + 1, len - 2) : "0";
		return KEEL_OK;
	}
	return keel_req_fail(req, KEEL_EPRECOND, NULL,
	                     "If-Match must be a strong ETag of this resource, like \"3\"");
}

void
keel_svc_etag(keel_req *req, const json_t *resource)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%lld\"",
	         (long long)json_integer_value(json_object_get(resource, "version")));
	keel_req_set_header(req, "ETag", etag);
}

/* reply's body as text: its own, or its JSON rendered compact (NULL: none). */
static const char *
reply_text(keel_req *req, const keel_svc_reply *reply)
{
	if (reply->text != NULL || reply->json == NULL)
		return reply->text;
	char *text = json_dumps(reply->json, JSON_COMPACT);
	const char *copy = text ? keel_arena_strdup(keel_req_arena(req), text) : NULL;

	free(text);
	return copy;
}

/* Send reply, whose body is text (NULL: 204 No Content). */
static keel_err
reply_send(keel_req *req, const keel_svc_reply *reply, const char *text)
{
	char etag[32];

	if (text == NULL)
		return keel_req_no_content(req);
	if (reply->version > 0) {
		snprintf(etag, sizeof(etag), "\"%ld\"", reply->version);
		keel_req_set_header(req, "ETag", etag);
	}
	if (reply->location != NULL)
		keel_req_set_header(req, "Location", reply->location);
	return keel_req_send(req, reply->status, "application/json", text, strlen(text));
}

keel_err
keel_svc_finish(keel_req *req, keel_tx *tx, keel_err err, const char *what, keel_svc_reply reply)
{
	if (err == KEEL_ENOTFOUND && what != NULL && !keel_req_answered(req))
		return keel_req_fail(req, err, NULL, "no such %s", what);
	if (err != KEEL_OK)
		return keel_svc_fail(req, err, NULL);
	const char *text = reply_text(req, &reply);

	if (text == NULL && reply.json != NULL)
		return keel_req_fail(req, KEEL_EINTERNAL, NULL, "could not serialize response");
	if (reply.idem_key != NULL && (err = keel_svc_idem_store(req, tx, reply.idem_key, reply.status,
	                                                         text, reply.location)) != KEEL_OK)
		return err;
	if ((err = keel_svc_commit(req, tx)) != KEEL_OK)
		return err;
	return reply_send(req, &reply, text);
}
