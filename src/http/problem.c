/*
 * Problem details (RFC 9457): the one place that writes an error body.
 *
 * Each keel_err maps to exactly one status, title and type here.  A 500
 * never shows its detail to the client: the detail goes to the log with the
 * request id, and the client gets the request id to quote.
 */
#include "http/http_int.h"
#include "core/log.h"

#include <string.h>

typedef struct problem_kind {
	keel_err err;
	int status;
	const char *slug;
	const char *title;
} problem_kind;

static const problem_kind kinds[] = {
    {KEEL_EINVAL, 422, "validation-failed", "Unprocessable Content"},
    {KEEL_ENOTFOUND, 404, "not-found", "Not Found"},
    {KEEL_ECONFLICT, 409, "conflict", "Conflict"},
    {KEEL_EDENIED, 403, "forbidden", "Forbidden"},
    {KEEL_EUNAVAIL, 503, "unavailable", "Service Unavailable"},
    {KEEL_EINTERNAL, 500, "internal", "Internal Server Error"},
    {KEEL_EMALFORMED, 400, "malformed-request", "Bad Request"},
    {KEEL_EUNAUTH, 401, "unauthenticated", "Unauthorized"},
    {KEEL_EPRECOND, 412, "precondition-failed", "Precondition Failed"},
    {KEEL_ETOOLARGE, 413, "payload-too-large", "Content Too Large"},
    {KEEL_EMEDIA, 415, "unsupported-media-type", "Unsupported Media Type"},
    {KEEL_EMETHOD, 405, "method-not-allowed", "Method Not Allowed"},
    {KEEL_ELIMIT, 429, "too-many-requests", "Too Many Requests"},
};

static const problem_kind *
kind_of(keel_err err)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].err == err)
			return &kinds[i];
	return &kinds[5]; /* KEEL_EINTERNAL */
}

int
problem_status(keel_err err)
{
	return kind_of(err)->status;
}

bool
has_header(const keel_req *req, const char *name)
{
	for (const header *h = req->headers; h != NULL; h = h->next)
		if (strcasecmp(h->name, name) == 0)
			return true;
	return false;
}

/* Headers a status requires (RFC 9110), unless the handler set them. */
static void
required_headers(keel_req *req, int status)
{
	if (status == 401 && !has_header(req, "WWW-Authenticate"))
		keel_req_set_header(req, "WWW-Authenticate", "Bearer");
	if (status == 405 && !has_header(req, "Allow"))
		keel_req_set_header(req, "Allow", req->match.allow);
	if ((status == 503 || status == 429) && !has_header(req, "Retry-After"))
		keel_req_set_header(req, "Retry-After", status == 503 ? "5" : "60");
}

static void
log_internal(const keel_req *req)
{
	json_t *f = json_object();

	json_object_set_new(f, "request_id", json_string(req->request_id));
	json_object_set_new(f, "route", json_string(req->match.route ? req->match.route->path : "-"));
	json_t *d = json_string(req->detail ? req->detail : "");

	json_object_set_new(f, "detail", d ? d : json_string("(not valid UTF-8)"));
	keel_log_json(KEEL_LOG_ERROR, "internal error", f);
}

void
problem_render(keel_req *req)
{
	const problem_kind *k = kind_of(req->err);
	json_t *p = json_object();
	char type[96];

	snprintf(type, sizeof(type), "urn:keel:problem:%s",
	         req->problem_slug != NULL ? req->problem_slug : k->slug);
	json_object_set_new(p, "type", json_string(type));
	json_object_set_new(p, "title",
	                    json_string(req->problem_title != NULL ? req->problem_title : k->title));
	json_object_set_new(p, "status", json_integer(k->status));
	if (req->err == KEEL_EINTERNAL) {
		log_internal(req);
		json_object_set_new(p, "detail",
		                    json_string("an unexpected error occurred; quote the request_id"));
	} else {
		json_t *d = json_string(req->detail ? req->detail : k->title);

		json_object_set_new(p, "detail", d ? d : json_string(k->title));
	}
	/* instance: the path, when it is text a client can be shown back */
	json_t *inst = strlen(req->path) <= 2048 ? json_string(req->path) : NULL;

	if (inst != NULL)
		json_object_set_new(p, "instance", inst);
	json_object_set_new(p, "request_id", json_string(req->request_id));
	if (req->field_errors != NULL)
		json_object_set(p, "errors", req->field_errors);

	char *text = json_dumps(p, JSON_COMPACT);

	json_decref(p);
	req->status = k->status;
	req->content_type = "application/problem+json";
	req->resp_body = text ? keel_arena_strdup(req->arena, text) : "{}";
	req->resp_len = strlen(req->resp_body);
	free(text);
	required_headers(req, k->status);
}
