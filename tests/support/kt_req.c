/* kt_req: requests for unit tests, served through fuzz_http's stand-in (see kt_req.h). */
#include "kt_req.h"

#include <string.h>
#include <strings.h>

#include "fuzz_http.h"

static fz_request current;

static int
fill(fz_pair *out, const kt_pair *in)
{
	int n = 0;

	for (; in != NULL && in[n].name != NULL && n < FZ_MAX_VALUES; n++)
		out[n] = (fz_pair){in[n].name, in[n].value};
	return n;
}

keel_req *
kt_req(const char *method, const char *path, const kt_pair *args, const kt_pair *headers,
       const char *body)
{
	memset(&current, 0, sizeof(current));
	current.method = method;
	current.path = path;
	current.nargs = fill(current.args, args);
	current.nheaders = fill(current.headers, headers);
	current.body = (const uint8_t *)body;
	current.body_len = body != NULL ? strlen(body) : 0;
	return fz_req_new(&current);
}

void
kt_req_free(keel_req *req)
{
	req_free(req);
}

const char *
kt_req_header_out(const keel_req *req, const char *name)
{
	for (const header *h = req->headers; h != NULL; h = h->next)
		if (strcasecmp(h->name, name) == 0)
			return h->value;
	return NULL;
}

int
kt_req_failed_status(const keel_req *req)
{
	return req->err != KEEL_OK ? problem_status(req->err) : 0;
}
