/*
 * GET /openapi.json: the OpenAPI 3.1 description of the routes this process
 * serves, generated from the routes' own declarations (keel_route in
 * http/http.h).
 *
 * Each route says its operationId, summary, success answer, parameters,
 * body fields and the problem statuses that do not follow from the rest;
 * each module declares the component schemas its routes answer with.  Here
 * only what holds for every route lives: request schemas generated from the
 * field specs the handlers validate with, the problem responses a route's
 * shape implies, the Problem schema and the bearer scheme.  The document
 * lists only the routes registered in this process, so `serve --services org`
 * describes exactly the org service.  keel_ops_openapi_check() is how the
 * test makes every route describe itself fully.
 */
#include "ops/ops.h"
#include "core/alloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generic components: the problem response and its schema, the bearer scheme. */
static const char problem_schema[] =
    "{\"type\":\"object\",\"required\":[\"type\",\"title\",\"status\"],\"properties\":{"
    "\"type\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},\"status\":{\"type\":"
    "\"integer\"},\"detail\":{\"type\":\"string\"},\"instance\":{\"type\":\"string\"},"
    "\"request_id\":{\"type\":\"string\"},\"errors\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"required\":[\"field\",\"message\"],\"properties\":{\"field\":{\"type\":"
    "\"string\"},\"message\":{\"type\":\"string\"}}}}}}";

static const char generic_components[] =
    "{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\","
    "\"bearerFormat\":\"JWT\"}},"
    "\"responses\":{\"Problem\":{\"description\":\"RFC 9457 problem details\",\"content\":{"
    "\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}}}}";

static json_t *
ref(const char *kind, const char *name)
{
	char text[128];

	snprintf(text, sizeof(text), "#/components/%s/%s", kind, name);
	return json_pack("{s:s}", "$ref", text);
}

/* ---- request schemas, from field specs ---- */

static const char *
schema_type(keel_ftype t)
{
	switch (t) {
	case KEEL_F_OBJECT:
		return "object";
	case KEEL_F_INTEGER:
		return "integer";
	case KEEL_F_BOOLEAN:
		return "boolean";
	case KEEL_F_ARRAY:
		return "array";
	default:
		return "string";
	}
}

/* The description of what the schema's keywords cannot say, or NULL (malloc'd). */
static char *
field_note(const keel_field_spec *f)
{
	const char *rule = f->description;
	char size[64];

	if (rule == NULL && f->type == KEEL_F_OBJECT && f->max > 0) {
		snprintf(size, sizeof(size), "at most %lld bytes as JSON", (long long)f->max);
		rule = size;
	}
	if (rule == NULL && f->check != NULL && f->pattern == NULL)
		rule = f->check_msg;
	if (!f->trim)
		return rule ? keel_xstrdup(rule) : NULL;
	size_t len = (rule ? strlen(rule) : 0) + 64;
	char *note = keel_xmalloc(len);

	snprintf(note, len, "%s%swhitespace around it is removed first", rule ? rule : "",
	         rule ? "; " : "");
	return note;
}

static void
string_keywords(json_t *s, const keel_field_spec *f)
{
	if (f->type == KEEL_F_UUID)
		json_object_set_new(s, "format", json_string("uuid"));
	if (f->type == KEEL_F_ENUM) {
		json_t *choices = json_array();

		for (const char *const *c = f->choices; *c != NULL; c++)
			json_array_append_new(choices, json_string(*c));
		if (f->nullable)
			json_array_append_new(choices, json_null());
		json_object_set_new(s, "enum", choices);
	}
	if (f->type != KEEL_F_STRING)
		return;
	if (f->min > 0)
		json_object_set_new(s, "minLength", json_integer(f->min));
	if (f->max > 0)
		json_object_set_new(s, "maxLength", json_integer(f->max));
	if (f->pattern != NULL)
		json_object_set_new(s, "pattern", json_string(f->pattern));
}

static json_t *
field_schema(const keel_field_spec *f)
{
	json_t *s = json_object();
	const char *type = schema_type(f->type);
	char *note = field_note(f);

	json_object_set_new(s, "type",
	                    f->nullable ? json_pack("[s,s]", type, "null") : json_string(type));
	if (f->type == KEEL_F_INTEGER) {
		json_object_set_new(s, "minimum", json_integer(f->min));
		if (f->max > f->min)
			json_object_set_new(s, "maximum", json_integer(f->max));
	}
	if (f->type == KEEL_F_ARRAY) {
		json_object_set_new(s, "minItems", json_integer(f->min));
		if (f->max > 0)
			json_object_set_new(s, "maxItems", json_integer(f->max));
		if (f->items != NULL)
			json_object_set_new(s, "items", json_loads(f->items, 0, NULL));
	}
	string_keywords(s, f);
	if (f->format != NULL)
		json_object_set_new(s, "format", json_string(f->format));
	if (note != NULL)
		json_object_set_new(s, "description", json_string(note));
	free(note);
	return s;
}

/* The JSON Schema of a body: exactly its fields, the required ones required. */
json_t *
keel_ops_body_schema(const keel_body *b)
{
	json_t *props = json_object(), *required = json_array();

	for (size_t i = 0; i < b->nfields; i++) {
		json_object_set_new(props, b->fields[i].name, field_schema(&b->fields[i]));
		if (b->fields[i].required)
			json_array_append_new(required, json_string(b->fields[i].name));
	}
	json_t *s = json_pack("{s:s, s:b}", "type", "object", "additionalProperties", 0);

	if (json_array_size(required) > 0)
		json_object_set(s, "required", required);
	json_decref(required);
	json_object_set_new(s, "properties", props);
	return s;
}

/* ---- components, collected from the routes ---- */

/* A line of the check's report; report NULL: none. */
__attribute__((format(printf, 2, 3))) static void
report_line(FILE *report, const char *fmt, ...)
{
	va_list ap;

	if (report == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(report, fmt, ap);
	va_end(ap);
}

/* Add s and the schemas it refers to; false when a different one has its name. */
static bool
schema_add(json_t *schemas, const keel_schema *s, FILE *report)
{
	json_t *have = json_object_get(schemas, s->name);
	json_t *mine = json_loads(s->json, 0, NULL);
	bool ok = true;

	if (mine == NULL) {
		report_line(report, "schema %s is not valid JSON\n", s->name);
		return false;
	}
	if (have != NULL) {
		ok = json_equal(have, mine);
		if (!ok)
			report_line(report, "two different schemas are named %s\n", s->name);
		json_decref(mine);
		return ok;
	}
	json_object_set_new(schemas, s->name, mine);
	for (size_t i = 0; i < KEEL_NELEM(s->refs) && s->refs[i] != NULL; i++)
		ok = schema_add(schemas, s->refs[i], report) && ok;
	return ok;
}

static bool
body_add(json_t *schemas, const keel_body *b, FILE *report)
{
	json_t *mine = keel_ops_body_schema(b);
	json_t *have = json_object_get(schemas, b->schema);
	bool ok = have == NULL || json_equal(have, mine);

	if (!ok)
		report_line(report, "two different schemas are named %s\n", b->schema);
	if (have == NULL)
		json_object_set(schemas, b->schema, mine);
	json_decref(mine);
	return ok;
}

/* Every schema the routes use, with Problem; conflicts to report (may be NULL), counted. */
static json_t *
schemas_of(const keel_router *router, FILE *report, int *problems)
{
	json_t *schemas = json_object();

	json_object_set_new(schemas, "Problem", json_loads(problem_schema, 0, NULL));
	for (size_t i = 0; i < keel_router_count(router); i++) {
		const keel_route *r = keel_router_at(router, i);

		if (r->reply.schema != NULL && !schema_add(schemas, r->reply.schema, report))
			(*problems)++;
		if (r->also.schema != NULL && !schema_add(schemas, r->also.schema, report))
			(*problems)++;
		if (r->body != NULL && r->body->schema != NULL && !body_add(schemas, r->body, report))
			(*problems)++;
	}
	return schemas;
}

/* ---- operations ---- */

static json_t *
reply_content(const keel_reply *reply)
{
	json_t *schema;

	switch (reply->shape) {
	case KEEL_SHAPE_NONE:
		return NULL;
	case KEEL_SHAPE_TEXT:
		return json_pack("{s:{s:{s:s}}}", "text/plain", "schema", "type", "string");
	case KEEL_SHAPE_LIST:
		schema =
		    json_pack("{s:s, s:[s,s], s:{s:{s:s, s:o}, s:{s:[s,s]}}}", "type", "object", "required",
		              "data", "next_cursor", "properties", "data", "type", "array", "items",
		              ref("schemas", reply->schema->name), "next_cursor", "type", "string", "null");
		break;
	default:
		schema = ref("schemas", reply->schema->name);
	}
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *
response_of(const keel_reply *reply, const char *description)
{
	json_t *resp = json_pack("{s:s}", "description", description);
	json_t *content = reply_content(reply);

	if (content != NULL)
		json_object_set_new(resp, "content", content);
	return resp;
}

static void
param_add(json_t *params, const keel_param *p)
{
	json_t *schema = json_loads(p->schema, 0, NULL);

	json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", p->name, "in",
	                                        p->in, "required", strcmp(p->in, "path") == 0, "schema",
	                                        schema ? schema : json_object(), "description",
	                                        p->description ? p->description : ""));
}

static bool
is_write(const keel_route *r)
{
	return strcmp(r->method, "POST") == 0 || strcmp(r->method, "PATCH") == 0 ||
	       strcmp(r->method, "DELETE") == 0;
}

static bool
is_change(const keel_route *r)
{
	return strcmp(r->method, "PATCH") == 0 || strcmp(r->method, "DELETE") == 0;
}

static bool
has_param_in(const keel_route *r, const char *in)
{
	for (const keel_param *p = r->params; p != NULL && p->name != NULL; p++)
		if (strcmp(p->in, in) == 0)
			return true;
	return false;
}

static json_t *
parameters_of(const keel_route *r)
{
	json_t *params = json_array();

	for (const keel_param *p = r->params; p != NULL && p->name != NULL; p++)
		param_add(params, p);
	if (is_change(r))
		param_add(params, &(keel_param){"If-Match", "header", "{\"type\":\"string\"}",
		                                "The ETag of the version this change is based on"});
	if (!(r->flags & KEEL_ROUTE_PUBLIC))
		param_add(params, &(keel_param){"X-Tenant-ID", "header",
		                                "{\"type\":\"string\",\"format\":\"uuid\"}",
		                                "Must equal the token's tenant when sent"});
	return params;
}

/* The problem statuses of r, ascending, each once: derived from its shape, then declared. */
static void
problems_of(const keel_route *r, bool status[600])
{
	bool protected = !(r->flags & KEEL_ROUTE_PUBLIC);

	status[400] = true; /* the server's own: a path or query argument that is not UTF-8 */
	status[401] |= protected;
	status[403] |= protected;
	status[404] |= has_param_in(r, "path");
	status[409] |= is_write(r);
	status[412] |= is_change(r);
	status[413] |= r->body != NULL;
	status[415] |= r->body != NULL;
	status[422] |= r->body != NULL;
	status[503] |= protected || r->body != NULL;
	for (int i = 0; i < KEEL_ROUTE_MAXPROBLEMS && r->problems[i] != 0; i++)
		if (r->problems[i] >= 400 && r->problems[i] < 600)
			status[r->problems[i]] = true;
}

/* The text/csv form of a route's success answer, and its next cursor's header when paged. */
static void
csv_add(const keel_route *r, json_t *resp)
{
	json_object_set_new(json_object_get(resp, "content"), "text/csv",
	                    json_pack("{s:{s:s}}", "schema", "type", "string"));
	for (const keel_param *p = r->params; p != NULL && p->name != NULL; p++)
		if (strcmp(p->name, "cursor") == 0)
			json_object_set_new(
			    resp, "headers",
			    json_pack("{s:{s:s, s:{s:s}}}", "Keel-Next-Cursor", "description",
			              "text/csv with ?limit= or ?cursor=: the next page's cursor (absent on "
			              "the last page); without either the CSV is the whole result, streamed",
			              "schema", "type", "string"));
}

static json_t *
responses_of(const keel_route *r)
{
	json_t *responses = json_object();
	bool status[600] = {false};
	char code[8];

	snprintf(code, sizeof(code), "%d", r->reply.status);
	json_object_set_new(responses, code, response_of(&r->reply, "Success"));
	if (r->flags & KEEL_ROUTE_CSV)
		csv_add(r, json_object_get(responses, code));
	if (r->also.status != 0) {
		snprintf(code, sizeof(code), "%d", r->also.status);
		json_object_set_new(responses, code, response_of(&r->also, "See the body"));
	}
	problems_of(r, status);
	for (int s = 400; s < 600; s++) {
		snprintf(code, sizeof(code), "%d", s);
		if (status[s] && json_object_get(responses, code) == NULL)
			json_object_set_new(responses, code, ref("responses", "Problem"));
	}
	return responses;
}

static json_t *
operation(const keel_route *r)
{
	json_t *op = json_pack("{s:s, s:s}", "operationId", r->operation_id ? r->operation_id : "",
	                       "summary", r->summary ? r->summary : "");
	json_t *params = parameters_of(r);

	if (json_array_size(params) > 0)
		json_object_set(op, "parameters", params);
	json_decref(params);
	if (r->body != NULL && r->body->schema != NULL)
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
		                              "application/json", "schema",
		                              ref("schemas", r->body->schema)));
	json_object_set_new(op, "responses", responses_of(r));
	json_object_set_new(op, "security",
	                    (r->flags & KEEL_ROUTE_PUBLIC) ? json_array()
	                                                   : json_pack("[{s:[]}]", "bearer"));
	return op;
}

static json_t *
paths_of(const keel_router *router)
{
	json_t *paths = json_object();

	for (size_t i = 0; i < keel_router_count(router); i++) {
		const keel_route *r = keel_router_at(router, i);
		json_t *item = json_object_get(paths, r->path);
		char method[8];
		size_t k;

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, r->path, item);
		}
		for (k = 0; r->method[k] != '\0' && k + 1 < sizeof(method); k++)
			method[k] = (char)tolower((unsigned char)r->method[k]); /* OpenAPI keys: lowercase */
		method[k] = '\0';
		json_object_set_new(item, method, operation(r));
	}
	return paths;
}

char *
keel_ops_openapi_build(const keel_router *router, const char *version)
{
	int conflicts = 0;
	json_t *components = json_loads(generic_components, 0, NULL);

	json_object_set_new(components, "schemas",
	                    schemas_of(router, NULL, &conflicts)); /* the check reports them */
	json_t *doc =
	    json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}], s:o, s:o}", "openapi", "3.1.0", "info",
	              "title", "keel", "version", version, "description",
	              "The core of a multi-tenant SaaS platform", "servers", "url", "/", "description",
	              "This server", "paths", paths_of(router), "components", components);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return text;
}

/* ---- the check ---- */

/* camelCase: a lowercase letter, then letters and digits. */
static bool
camel_case(const char *s)
{
	if (s == NULL || !islower((unsigned char)s[0]))
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s))
			return false;
	return true;
}

static bool
param_declared(const keel_route *r, const char *name, size_t len, const char *in)
{
	for (const keel_param *p = r->params; p != NULL && p->name != NULL; p++)
		if (strcmp(p->in, in) == 0 && strlen(p->name) == len && strncmp(p->name, name, len) == 0)
			return true;
	return false;
}

static int
params_check(const keel_route *r, FILE *report)
{
	int problems = 0;

	for (const char *p = strchr(r->path, '{'); p != NULL; p = strchr(p + 1, '{')) {
		size_t len = strcspn(p + 1, "}");

		if (!param_declared(r, p + 1, len, "path")) {
			fprintf(report, "%s %s: path parameter %.*s is not described\n", r->method, r->path,
			        (int)len, p + 1);
			problems++;
		}
	}
	for (const keel_param *p = r->params; p != NULL && p->name != NULL; p++) {
		json_t *schema = json_loads(p->schema ? p->schema : "", 0, NULL);

		if (schema == NULL || p->description == NULL || p->in == NULL) {
			fprintf(report, "%s %s: parameter %s lacks a schema (JSON), place or description\n",
			        r->method, r->path, p->name);
			problems++;
		}
		json_decref(schema);
	}
	return problems;
}

static bool
reply_complete(const keel_reply *reply)
{
	bool needs_schema = reply->shape == KEEL_SHAPE_ONE || reply->shape == KEEL_SHAPE_LIST;

	return reply->status >= 200 && reply->status < 600 && (reply->schema != NULL) == needs_schema;
}

/* What one route lacks; the number of problems. */
static int
route_check(const keel_route *r, FILE *report)
{
	int problems = params_check(r, report);
	const char *why = NULL;

	if (!camel_case(r->operation_id))
		why = "an operationId in camelCase";
	else if (r->summary == NULL || r->summary[0] == '\0')
		why = "a summary";
	else if (!reply_complete(&r->reply) || (r->also.status != 0 && !reply_complete(&r->also)))
		why = "a complete answer (status, and a schema exactly for a JSON body)";
	else if ((r->body != NULL) != ((r->flags & KEEL_ROUTE_BODY) != 0))
		why = "body fields exactly when it takes a body (KEEL_ROUTE_BODY)";
	else if (r->body != NULL && (r->body->schema == NULL || r->body->nfields == 0))
		why = "a schema name and fields for its body";
	if (why != NULL) {
		fprintf(report, "%s %s does not declare %s\n", r->method, r->path, why);
		problems++;
	}
	return problems;
}

static int
unique_ids_check(const keel_router *router, FILE *report)
{
	int problems = 0;

	for (size_t i = 0; i < keel_router_count(router); i++) {
		const keel_route *a = keel_router_at(router, i);

		for (size_t k = i + 1; k < keel_router_count(router) && a->operation_id != NULL; k++) {
			const keel_route *b = keel_router_at(router, k);

			if (b->operation_id != NULL && strcmp(a->operation_id, b->operation_id) == 0) {
				fprintf(report, "operationId %s is used by %s %s and %s %s\n", a->operation_id,
				        a->method, a->path, b->method, b->path);
				problems++;
			}
		}
	}
	return problems;
}

/* Every "#/components/schemas/X" of the document's text names a schema of schemas. */
static int
refs_check(const char *text, const json_t *schemas, FILE *report)
{
	static const char prefix[] = "#/components/schemas/";
	int problems = 0;

	for (const char *p = strstr(text, prefix); p != NULL; p = strstr(p + 1, prefix)) {
		char name[96];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(p + strlen(prefix), "\""),
		         p + strlen(prefix));
		if (json_object_get(schemas, name) == NULL) {
			fprintf(report, "a schema refers to %s, which no route's module declares\n", name);
			problems++;
		}
	}
	return problems;
}

int
keel_ops_openapi_check(const keel_router *router, FILE *report)
{
	int problems = unique_ids_check(router, report);

	for (size_t i = 0; i < keel_router_count(router); i++)
		problems += route_check(keel_router_at(router, i), report);
	json_t *schemas = schemas_of(router, report, &problems);
	char *text = json_dumps(schemas, JSON_COMPACT);

	problems += refs_check(text, schemas, report);
	free(text);
	json_decref(schemas);
	return problems;
}
