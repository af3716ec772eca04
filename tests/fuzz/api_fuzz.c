/*
 * Fuzz the API's request validation: the JSON bodies and query parameters of
 * every resource, through the real handlers.
 *
 * The input is an HTTP-like request (fuzz_http.h): "POST /api/v1/organizations",
 * headers, a blank line, a body.  It goes through the real router to the real
 * handler of its route, with the context each module gets in `keel serve`,
 * so the body is checked by the resource's own keel_field_spec table and by
 * whatever the handler checks after it (emails, passwords, refresh tokens,
 * If-Match, path ids, ?limit=, ?cursor=, the audit filters, the ledger's amounts, dates
 * and lines).  The database
 * pool has one connection that can never connect: a request that passes
 * validation ends at the database boundary with 503, and one that is handed
 * to the password-hashing pool ends there (it is only queued, as the server
 * queues it).  Non-public routes run twice, as the least role the route
 * admits and as an owner, as the authenticator would let them; a request
 * with an Authorization header goes through the real authenticator, which
 * must refuse it (the fuzzer cannot sign a token).
 *
 * What must hold for every request, besides no sanitizer report:
 *   - exactly one outcome: a response, a recorded failure, or queued work;
 *   - never 500: nothing before the database may fail internally;
 *   - the problem+json body is valid JSON whose "status" is the status sent;
 *   - field errors come with 400 or 422, never with a success or a 503;
 *   - the status is one the route's /openapi.json operation lists;
 *   - a request that reached the database (503) or was queued passed
 *     validation, so what it sent conforms to the API's own description:
 *     its body to the operation's request schema (types, required and
 *     unknown members, lengths, patterns, enums, formats), its path ids and
 *     query arguments to their parameter schemas.  The validators are thus
 *     checked against /openapi.json, whose request schemas src/ops/openapi.c
 *     generates from the routes' field specs (the generator checked against
 *     json.c and the handlers' further checks);
 *   - nothing is logged at error level.
 */
#include "fuzz_http.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "core/config.h"
#include "core/log.h"
#include "fin/fin.h"
#include "ops/ops.h"
#include "org/org.h"
#include "tenancy/tenancy.h"

#define TENANT_ID "0190a8f0-0000-7000-8000-000000000001"
#define USER_ID   "0190a8f0-0000-7000-8000-000000000002"

static keel_router *router;
static keel_auth *auth;
static keel_tenancy tenancy;
static keel_org org;
static keel_fin fin;
static keel_audit audit;
static int log_fd = -1; /* error-level lines land here; it must stay empty */
static json_t *openapi; /* the document GET /openapi.json serves for these routes */

/* The modules' contexts as serve builds them, over a pool that never connects. */
static void
services_create(void)
{
	/* A socket directory that cannot exist: each connect attempt fails at once. */
	keel_db_opts opts = {.conninfo = "host=/nonexistent/keel-fuzz dbname=keel",
	                     .connect_timeout_ms = 1000,
	                     .application_name = "keel-fuzz"};
	keel_db_pool *pool = keel_db_pool_create(&opts, 1);
	char *const env[] = {"KEEL_JWT_SECRET=fuzz-only-secret-that-signs-nothing-0123456789", NULL};
	keel_config cfg;
	char err[256];

	if (keel_config_load(&cfg, env, err, sizeof(err)) != KEEL_OK ||
	    keel_auth_create(&cfg, pool, NULL, &auth, err, sizeof(err)) != KEEL_OK)
		fz_fail("set-up: %s", err);
	keel_config_free(&cfg);
	tenancy = (keel_tenancy){.pool = pool, .auth = auth, .signup_open = true};
	org = (keel_org){.pool = pool};
	fin = (keel_fin){.pool = pool};
	audit = (keel_audit){.pool = pool};
	router = keel_router_create();
	keel_auth_routes(router, auth);
	keel_tenancy_routes(router, &tenancy);
	keel_org_routes(router, &org);
	keel_fin_routes(router, &fin);
	keel_audit_routes(router, &audit);
	char *doc = keel_ops_openapi_build(router, "fuzz");

	openapi = json_loads(doc, 0, NULL);
	free(doc);
	FZ_CHECK(openapi != NULL, "set-up: /openapi.json is not JSON");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	services_create();
	/* Warnings (each failed connect) are expected; errors are findings. */
	log_fd = memfd_create("keel-fuzz-log", 0);
	FZ_CHECK(log_fd >= 0, "memfd_create failed");
	keel_log_set_fd(log_fd);
	keel_log_set_level(KEEL_LOG_ERROR);
	return 0;
}

/* The status of a finished request, as server.c's respond() would send it. */
static int
finish(keel_req *req)
{
	if (req->err != KEEL_OK && req->resp_body == NULL)
		problem_render(req);
	return req->status;
}

/* The problem+json body agrees with the status and is well-formed. */
static void
problem_check(const keel_req *req, int status)
{
	json_error_t jerr;
	json_t *doc = json_loadb(req->resp_body, req->resp_len, 0, &jerr);

	FZ_CHECK(doc != NULL, "%d problem body is not JSON: %s", status, jerr.text);
	FZ_CHECK(json_integer_value(json_object_get(doc, "status")) == status,
	         "problem status differs from %d", status);
	FZ_CHECK(json_is_string(json_object_get(doc, "detail")), "problem without a detail");
	json_decref(doc);
}

/* ---- the oracle: /openapi.json ---- */

/* The operation object of a route. */
static json_t *
operation_of(const keel_route *route)
{
	char method[16];
	size_t i;

	for (i = 0; route->method[i] != '\0' && i + 1 < sizeof(method); i++)
		method[i] = (char)(route->method[i] | 0x20);
	method[i] = '\0';
	json_t *op =
	    json_object_get(json_object_get(json_object_get(openapi, "paths"), route->path), method);

	FZ_CHECK(op != NULL, "%s %s is not in /openapi.json", route->method, route->path);
	return op;
}

/* A schema with its $ref followed; sibling "required" replaces the referenced one. */
static json_t *
resolved(json_t *schema, json_t **required)
{
	const char *ref = json_string_value(json_object_get(schema, "$ref"));

	*required = json_object_get(schema, "required");
	if (ref == NULL)
		return schema;
	FZ_CHECK(strncmp(ref, "#/components/schemas/", 21) == 0, "unexpected $ref %s", ref);
	json_t *target = json_object_get(
	    json_object_get(json_object_get(openapi, "components"), "schemas"), ref + 21);
	json_t *inner;

	FZ_CHECK(target != NULL, "$ref %s names no schema", ref);
	target = resolved(target, &inner);
	if (*required == NULL)
		*required = inner;
	return target;
}

static bool
type_is(json_t *type, const char *name)
{
	size_t i;
	json_t *t;

	if (json_is_string(type))
		return strcmp(json_string_value(type), name) == 0;
	json_array_foreach(type, i, t)
	{
		if (strcmp(json_string_value(t), name) == 0)
			return true;
	}
	return false;
}

static bool
type_ok(json_t *type, json_t *v)
{
	return type == NULL || (json_is_object(v) && type_is(type, "object")) ||
	       (json_is_string(v) && type_is(type, "string")) ||
	       (json_is_integer(v) && (type_is(type, "integer") || type_is(type, "number"))) ||
	       (json_is_real(v) && type_is(type, "number")) ||
	       (json_is_boolean(v) && type_is(type, "boolean")) ||
	       (json_is_null(v) && type_is(type, "null")) ||
	       (json_is_array(v) && type_is(type, "array"));
}

static bool
matches(const char *pattern, const char *s)
{
	regex_t re;

	FZ_CHECK(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0, "pattern %s", pattern);
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;

	regfree(&re);
	return ok;
}

static bool
format_ok(const char *format, const char *s)
{
	if (strcmp(format, "uuid") == 0)
		return matches("^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$", s);
	if (strcmp(format, "date-time") == 0)
		return matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
		               "([Zz]|[+-][0-9]{2}:[0-9]{2})$",
		               s);
	if (strcmp(format, "email") == 0) /* loosely: one @ with text on both sides */
		return matches("^[^@]+@[^@]+$", s);
	return true;
}

/* Code points of UTF-8 text, and of the text without the blanks keel trims. */
static void
lengths(const char *s, long long *all, long long *trimmed)
{
	size_t len = strlen(s), start = 0, end = len;

	while (end > 0 && strchr(" \t\r\n\f\v", s[end - 1]) != NULL)
		end--;
	while (start < end && strchr(" \t\r\n\f\v", s[start]) != NULL)
		start++;
	*all = *trimmed = 0;
	for (size_t i = 0; i < len; i++) {
		bool counts = ((unsigned char)s[i] & 0xC0) != 0x80;

		*all += counts;
		*trimmed += counts && i >= start && i < end;
	}
}

static const char *string_violation(json_t *schema, const char *s);

/*
 * The first way value breaks schema, or NULL.  Lengths are in code points,
 * and a maximum also holds when the text without surrounding blanks keeps
 * it (keel trims some fields before counting).
 */
static const char *
violation(json_t *schema, json_t *value)
{
	json_t *required, *v;
	const char *name, *why;
	size_t i;

	schema = resolved(schema, &required);
	if (!type_ok(json_object_get(schema, "type"), value))
		return "type";
	json_t *choices = json_object_get(schema, "enum");

	if (choices != NULL) {
		bool found = false;

		json_array_foreach(choices, i, v)
		{
			found = found || json_equal(v, value);
		}
		if (!found)
			return "enum";
	}
	if (json_is_string(value))
		return string_violation(schema, json_string_value(value));
	if (json_is_integer(value)) {
		json_t *min = json_object_get(schema, "minimum"), *max = json_object_get(schema, "maximum");

		if ((min != NULL && json_integer_value(value) < json_integer_value(min)) ||
		    (max != NULL && json_integer_value(value) > json_integer_value(max)))
			return "range";
	}
	if (!json_is_object(value))
		return NULL;
	json_t *props = json_object_get(schema, "properties");

	json_array_foreach(required, i, v)
	{
		if (json_object_get(value, json_string_value(v)) == NULL)
			return "required member missing";
	}
	json_object_foreach(value, name, v)
	{
		json_t *p = json_object_get(props, name);

		if (p == NULL && json_is_false(json_object_get(schema, "additionalProperties")))
			return "unknown member";
		if (p != NULL && (why = violation(p, v)) != NULL)
			return why;
	}
	return NULL;
}

static const char *
string_violation(json_t *schema, const char *s)
{
	json_t *min = json_object_get(schema, "minLength"), *max = json_object_get(schema, "maxLength");
	const char *pattern = json_string_value(json_object_get(schema, "pattern"));
	const char *format = json_string_value(json_object_get(schema, "format"));
	long long all, trimmed;

	lengths(s, &all, &trimmed);
	if (min != NULL && all < json_integer_value(min))
		return "minLength";
	if (max != NULL && all > json_integer_value(max) && trimmed > json_integer_value(max))
		return "maxLength";
	if (pattern != NULL && !matches(pattern, s))
		return "pattern";
	if (format != NULL && !format_ok(format, s))
		return "format";
	return NULL;
}

/* A path or query parameter's text against its schema (integers and booleans as text). */
static const char *
param_violation(json_t *schema, const char *text)
{
	if (type_is(json_object_get(schema, "type"), "integer")) {
		/* decimal digits, leading zeros allowed ("007" is 7, as a query's integer) */
		if (!matches("^[0-9]+$", text))
			return "not an integer";
		errno = 0;
		long long v = strtoll(text, NULL, 10);

		if (errno == ERANGE)
			return "out of range";
		json_t *n = json_integer(v);
		const char *why = violation(schema, n);

		json_decref(n);
		return why;
	}
	if (type_is(json_object_get(schema, "type"), "boolean"))
		return strcmp(text, "true") == 0 || strcmp(text, "false") == 0 ? NULL : "not a boolean";
	json_t *str = json_string(text);
	const char *why = str != NULL ? violation(schema, str) : "not UTF-8";

	json_decref(str);
	return why;
}

/* What passed validation conforms to the operation: body, path ids, query arguments. */
static void
conforms_check(keel_req *req, const fz_request *r, json_t *op)
{
	const keel_route *route = req->match.route;
	json_t *body_schema = json_object_get(
	    json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
	                    "application/json"),
	    "schema");
	json_t *p;
	size_t i;
	const char *why;

	if (body_schema != NULL) {
		json_t *body = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, NULL);

		why = body != NULL ? violation(body_schema, body) : "not one JSON document";
		json_decref(body);
		FZ_CHECK(why == NULL, "%s %s accepted a body against its schema (%s)", route->method,
		         route->path, why);
	}
	json_array_foreach(json_object_get(op, "parameters"), i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *in = json_string_value(json_object_get(p, "in"));
		const char *value = NULL;

		if (strcmp(in, "path") == 0)
			value = keel_req_param(req, name);
		/* the first argument of that name, as keel_req_query() reads it */
		for (int k = 0; strcmp(in, "query") == 0 && k < r->nargs; k++) {
			if (strcmp(r->args[k].name, name) == 0) {
				value = r->args[k].value;
				break;
			}
		}
		if (value == NULL)
			continue;
		why = param_violation(json_object_get(p, "schema"), value);
		FZ_CHECK(why == NULL, "%s %s accepted %s parameter %s against its schema (%s)",
		         route->method, route->path, in, name, why);
	}
}

/* Every property of the file header, for one finished request. */
static void
outcome_check(keel_req *req, const fz_request *r, keel_err err)
{
	const keel_route *route = req->match.route;
	bool queued = req->state == REQ_OFFLOAD;

	if (queued) {
		FZ_CHECK(err == KEEL_OK, "%s %s: queued work and answered too", route->method, route->path);
	} else if (req->state != REQ_ANSWERED) {
		/* what dispatch() does with a handler that returned without answering */
		FZ_CHECK(err != KEEL_OK, "%s %s: handler gave no response", route->method, route->path);
		keel_req_fail(req, err, NULL, "%s", keel_err_name(err));
	}
	int status = queued ? 0 : finish(req);
	size_t field_errors = keel_req_field_errors(req);

	FZ_CHECK(status != 500, "%s %s: internal error before the database", route->method,
	         route->path);
	if (req->content_type != NULL && strcmp(req->content_type, "application/problem+json") == 0)
		problem_check(req, status);
	FZ_CHECK(field_errors == 0 || status == 400 || status == 422,
	         "%s %s: %zu field errors with status %d", route->method, route->path, field_errors,
	         status);
	json_t *op = operation_of(route);
	char code[8];

	snprintf(code, sizeof(code), "%d", status);
	FZ_CHECK(queued || json_object_get(json_object_get(op, "responses"), code) != NULL,
	         "%s %s answered %d, which /openapi.json does not list", route->method, route->path,
	         status);
	if (queued || status == 503)
		conforms_check(req, r, op);
	if (lseek(log_fd, 0, SEEK_CUR) != 0) {
		char line[1024] = "";

		(void)!pread(log_fd, line, sizeof(line) - 1, 0);
		fz_fail("%s %s: an error was logged: %s", route->method, route->path, line);
	}
}

/* One run of the request as principal role (0: as an anonymous caller). */
static void
run(const fz_request *r, int role)
{
	keel_req *req = fz_req_new(r);
	keel_err err = keel_router_match(router, req->method, req->path, req->arena, &req->match);

	if (err == KEEL_OK) {
		const keel_route *route = req->match.route;

		if (role == 0 && !(route->flags & KEEL_ROUTE_PUBLIC)) {
			err = keel_auth_authenticate(req, route, auth);
			FZ_CHECK(err != KEEL_OK, "%s %s: a token nobody signed was accepted", route->method,
			         route->path);
		} else {
			keel_principal p = {.tenant_id = TENANT_ID, .user_id = USER_ID, .role = role};

			if (role != 0)
				keel_access_set_principal(req, &p);
			err = route->handler(req, req->match.ctx);
		}
		outcome_check(req, r, err);
	}
	req_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_request r;
	keel_match m;

	if (!fz_request_parse(data, size, &r))
		return 0;
	keel_arena *arena = keel_arena_create(0);

	if (keel_router_match(router, r.method, r.path, arena, &m) == KEEL_OK) {
		bool bearer = false;

		for (int i = 0; i < r.nheaders; i++)
			bearer = bearer || strcasecmp(r.headers[i].name, "Authorization") == 0;
		if (m.route->flags & KEEL_ROUTE_PUBLIC) {
			run(&r, 0);
		} else if (bearer) {
			run(&r, 0);
		} else {
			run(&r, m.route->min_role > 0 ? m.route->min_role : KEEL_ROLE_VIEWER);
			if (m.route->min_role < KEEL_ROLE_OWNER)
				run(&r, KEEL_ROLE_OWNER);
		}
	}
	keel_arena_destroy(arena);
	fz_request_free(&r);
	return 0;
}
