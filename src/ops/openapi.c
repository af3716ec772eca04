/*
 * GET /openapi.json: the OpenAPI 3.1 description of the routes this process
 * serves.
 *
 * One table below holds what a route table cannot say: the status of
 * success, the request and response schemas, the query parameters.  The
 * rest is derived from the routes themselves (path parameters, security,
 * the problem responses a route can give), and the document lists only the
 * routes registered in this process, so `serve --services org` describes
 * exactly the org service.  keel_ops_openapi_check() is how the test keeps
 * this table and the routes in step: every route described, every
 * description a route.
 */
#include "ops/ops.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct op_doc {
	const char *method;
	const char *path;
	int status;           /* of success */
	const char *request;  /* component schema of the body, or NULL */
	const char *response; /* component schema, "list:X", "@text" or NULL (no body) */
	const char *query;    /* comma-separated query parameters, or NULL */
} op_doc;

static const op_doc docs[] = {
    {"GET", "/healthz", 200, NULL, "Health", NULL},
    {"GET", "/readyz", 200, NULL, "Readiness", NULL},
    {"GET", "/metrics", 200, NULL, "@text", NULL},
    {"GET", "/openapi.json", 200, NULL, "@object", NULL},
    {"GET", "/.well-known/jwks.json", 200, NULL, "Jwks", NULL},
    {"POST", "/api/v1/tenants", 201, "SignUp", "SignUpResult", NULL},
    {"GET", "/api/v1/tenant", 200, NULL, "Tenant", NULL},
    {"PATCH", "/api/v1/tenant", 200, "TenantUpdate", "Tenant", NULL},
    {"POST", "/api/v1/auth/login", 200, "Login", "TokenPair", NULL},
    {"POST", "/api/v1/auth/refresh", 200, "RefreshToken", "TokenPair", NULL},
    {"POST", "/api/v1/auth/logout", 204, "RefreshToken", NULL, NULL},
    {"GET", "/api/v1/auth/me", 200, NULL, "User", NULL},
    {"POST", "/api/v1/auth/password", 204, "PasswordChange", NULL, NULL},
    {"POST", "/api/v1/users", 201, "UserCreate", "User", NULL},
    {"GET", "/api/v1/users", 200, NULL, "list:User", "limit,cursor"},
    {"GET", "/api/v1/users/{id}", 200, NULL, "User", NULL},
    {"PATCH", "/api/v1/users/{id}", 200, "UserUpdate", "User", NULL},
    {"DELETE", "/api/v1/users/{id}", 204, NULL, NULL, NULL},
    {"POST", "/api/v1/organizations", 201, "OrganizationCreate", "Organization", NULL},
    {"GET", "/api/v1/organizations", 200, NULL, "list:Organization", "limit,cursor,status,q"},
    {"GET", "/api/v1/organizations/{id}", 200, NULL, "Organization", NULL},
    {"PATCH", "/api/v1/organizations/{id}", 200, "OrganizationUpdate", "Organization", NULL},
    {"DELETE", "/api/v1/organizations/{id}", 204, NULL, NULL, NULL},
    {"POST", "/api/v1/organizations/{id}/divisions", 201, "DivisionCreate", "Division", NULL},
    {"GET", "/api/v1/organizations/{id}/divisions", 200, NULL, "list:Division",
     "limit,cursor,parent_id"},
    {"GET", "/api/v1/divisions/{id}", 200, NULL, "Division", NULL},
    {"PATCH", "/api/v1/divisions/{id}", 200, "DivisionUpdate", "Division", NULL},
    {"DELETE", "/api/v1/divisions/{id}", 204, NULL, NULL, "cascade"},
    {"GET", "/api/v1/audit-logs", 200, NULL, "list:AuditLog",
     "limit,cursor,table,record_id,actor_id,action,since,until"},
};

#define NDOCS (sizeof(docs) / sizeof(docs[0]))

/* Query parameters: name -> schema and meaning. */
static const struct {
	const char *name;
	const char *schema;
	const char *description;
} query_params[] = {
    {"limit", "{\"type\":\"integer\",\"minimum\":1,\"maximum\":200,\"default\":50}", "Page size"},
    {"cursor", "{\"type\":\"string\"}", "Opaque position from next_cursor"},
    {"status", "{\"type\":\"string\",\"enum\":[\"active\",\"archived\"]}", "Filter by status"},
    {"q", "{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}",
     "Case-insensitive substring of name or code"},
    {"parent_id", "{\"type\":\"string\"}", "A division id (its children) or null (top level)"},
    {"cascade", "{\"type\":\"boolean\",\"default\":false}", "Delete the whole subtree"},
    {"table", "{\"type\":\"string\"}", "schema.table of the audited row"},
    {"record_id", "{\"type\":\"string\",\"format\":\"uuid\"}", "Id of the audited row"},
    {"actor_id", "{\"type\":\"string\",\"format\":\"uuid\"}", "The acting user"},
    {"action", "{\"type\":\"string\"}", "INSERT, UPDATE, DELETE or an auth event"},
    {"since", "{\"type\":\"string\",\"format\":\"date-time\"}", "Not before (RFC 3339)"},
    {"until", "{\"type\":\"string\",\"format\":\"date-time\"}", "Before (RFC 3339)"},
};

#define UUID "{\"type\":\"string\",\"format\":\"uuid\"}"
#define TS   "{\"type\":\"string\",\"format\":\"date-time\"}"
/*
 * The writable fields of an organization and of a division: a create requires name and
 * code, an update requires nothing.  Spelt out for both rather than an update that $refs
 * the create with "required": [] (in JSON Schema 2020-12, which OpenAPI 3.1 uses, a
 * sibling keyword does not replace the referenced schema's: both apply).
 */
#define ORG_FIELDS                                                                                 \
	"\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"            \
	"\"code\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$\"},"             \
	"\"description\":{\"type\":\"string\",\"maxLength\":2000},\"status\":{\"type\":\"string\","    \
	"\"enum\":[\"active\",\"archived\"]},\"settings\":{\"type\":\"object\",\"description\":"       \
	"\"at most 16 KiB as JSON\"}}"
#define DIV_FIELDS                                                                                 \
	"\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"            \
	"\"code\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$\"},"             \
	"\"description\":{\"type\":\"string\",\"maxLength\":2000},\"parent_id\":{\"type\":["           \
	"\"string\",\"null\"],\"format\":\"uuid\"}}"

/* The components: schemas of bodies, the problem response, the bearer scheme. */
static const char components[] =
    "{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\","
    "\"bearerFormat\":\"JWT\"}},"
    "\"responses\":{\"Problem\":{\"description\":\"RFC 9457 problem details\",\"content\":{"
    "\"application/problem+json\":{\"schema\":{\"$ref\":\"#/components/schemas/Problem\"}}}}},"
    "\"schemas\":{"
    "\"Problem\":{\"type\":\"object\",\"required\":[\"type\",\"title\",\"status\"],\"properties\":{"
    "\"type\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},\"status\":{\"type\":"
    "\"integer\"},\"detail\":{\"type\":\"string\"},\"instance\":{\"type\":\"string\"},"
    "\"request_id\":{\"type\":\"string\"},\"errors\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"properties\":{\"field\":{\"type\":\"string\"},\"message\":{\"type\":"
    "\"string\"}}}}}},"
    "\"Health\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"}}},"
    "\"Readiness\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},"
    "\"checks\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}}},"
    "\"Jwks\":{\"type\":\"object\",\"properties\":{\"keys\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\"}}}},"
    "\"SignUp\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\","
    "\"slug\",\"owner_email\",\"owner_password\"],\"properties\":{\"name\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":200},\"slug\":{\"type\":\"string\",\"pattern\":"
    "\"^[a-z0-9][a-z0-9-]{1,62}$\"},\"owner_email\":{\"type\":\"string\",\"format\":\"email\"},"
    "\"owner_password\":{\"type\":\"string\",\"minLength\":12}}},"
    "\"SignUpResult\":{\"type\":\"object\",\"properties\":{\"tenant\":{\"$ref\":"
    "\"#/components/schemas/Tenant\"},\"owner\":{\"$ref\":\"#/components/schemas/User\"}}},"
    "\"Tenant\":{\"type\":\"object\",\"properties\":{\"id\":" UUID ",\"name\":{\"type\":"
    "\"string\"},\"slug\":{\"type\":\"string\"},\"status\":{\"type\":\"string\",\"enum\":["
    "\"active\",\"suspended\"]},\"version\":{\"type\":\"integer\"},\"created_at\":" TS
    ",\"updated_at\":" TS ",\"suspended_at\":{\"type\":[\"string\",\"null\"],\"format\":"
    "\"date-time\"}}},"
    "\"TenantUpdate\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":["
    "\"name\"],\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}}},"
    "\"Login\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"email\","
    "\"password\"],\"properties\":{\"tenant\":{\"type\":\"string\",\"description\":\"slug or "
    "id; or send X-Tenant-ID\"},\"email\":{\"type\":\"string\"},\"password\":{\"type\":"
    "\"string\"}}},"
    "\"RefreshToken\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":["
    "\"refresh_token\"],\"properties\":{\"refresh_token\":{\"type\":\"string\"}}},"
    "\"TokenPair\":{\"type\":\"object\",\"properties\":{\"access_token\":{\"type\":\"string\"},"
    "\"token_type\":{\"type\":\"string\",\"const\":\"Bearer\"},\"expires_in\":{\"type\":"
    "\"integer\"},\"refresh_token\":{\"type\":\"string\"}}},"
    "\"PasswordChange\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":["
    "\"current_password\",\"new_password\"],\"properties\":{\"current_password\":{\"type\":"
    "\"string\"},\"new_password\":{\"type\":\"string\",\"minLength\":12}}},"
    "\"User\":{\"type\":\"object\",\"properties\":{\"id\":" UUID ",\"tenant_id\":" UUID ","
    "\"email\":{\"type\":\"string\"},\"role\":{\"type\":\"string\",\"enum\":[\"owner\","
    "\"admin\",\"member\",\"viewer\"]},\"status\":{\"type\":\"string\",\"enum\":[\"active\","
    "\"disabled\"]},\"version\":{\"type\":\"integer\"},\"created_at\":" TS ",\"updated_at\":" TS
    ",\"last_login_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}}},"
    "\"UserCreate\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"email\","
    "\"password\"],\"properties\":{\"email\":{\"type\":\"string\"},\"password\":{\"type\":"
    "\"string\",\"minLength\":12},\"role\":{\"type\":\"string\",\"enum\":[\"owner\",\"admin\","
    "\"member\",\"viewer\"],\"default\":\"member\"}}},"
    "\"UserUpdate\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"role\":{"
    "\"type\":\"string\",\"enum\":[\"owner\",\"admin\",\"member\",\"viewer\"]},\"status\":{"
    "\"type\":\"string\",\"enum\":[\"active\",\"disabled\"]}}},"
    "\"Organization\":{\"type\":\"object\",\"properties\":{\"id\":" UUID ",\"tenant_id\":" UUID
    ",\"name\":{\"type\":\"string\"},\"code\":{\"type\":\"string\"},\"description\":{\"type\":"
    "\"string\"},\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"archived\"]},"
    "\"settings\":{\"type\":\"object\"},\"version\":{\"type\":\"integer\"},\"created_at\":" TS
    ",\"updated_at\":" TS "}},"
    "\"OrganizationCreate\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":["
    "\"name\",\"code\"]," ORG_FIELDS "},"
    "\"OrganizationUpdate\":{\"type\":\"object\",\"additionalProperties\":false," ORG_FIELDS "},"
    "\"Division\":{\"type\":\"object\",\"properties\":{\"id\":" UUID ",\"tenant_id\":" UUID
    ",\"organization_id\":" UUID ",\"parent_id\":{\"type\":[\"string\",\"null\"],\"format\":"
    "\"uuid\"},\"name\":{\"type\":\"string\"},\"code\":{\"type\":\"string\"},\"description\":{"
    "\"type\":\"string\"},\"version\":{\"type\":\"integer\"},\"created_at\":" TS
    ",\"updated_at\":" TS "}},"
    "\"DivisionCreate\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":["
    "\"name\",\"code\"]," DIV_FIELDS "},"
    "\"DivisionUpdate\":{\"type\":\"object\",\"additionalProperties\":false," DIV_FIELDS "},"
    "\"AuditLog\":{\"type\":\"object\",\"properties\":{\"id\":" UUID ",\"occurred_at\":" TS
    ",\"actor_id\":{\"type\":[\"string\",\"null\"]},\"action\":{\"type\":\"string\"},\"table\":"
    "{\"type\":\"string\"},\"record_id\":{\"type\":[\"string\",\"null\"]},\"old\":{\"type\":["
    "\"object\",\"null\"]},\"new\":{\"type\":[\"object\",\"null\"]},\"changed_fields\":{\"type\":"
    "[\"array\",\"null\"],\"items\":{\"type\":\"string\"}},\"request_id\":{\"type\":[\"string\","
    "\"null\"]},\"trace_id\":{\"type\":[\"string\",\"null\"]}}}"
    "}}";

static const op_doc *
doc_of(const keel_route *r)
{
	for (size_t i = 0; i < NDOCS; i++)
		if (strcmp(docs[i].method, r->method) == 0 && strcmp(docs[i].path, r->path) == 0)
			return &docs[i];
	return NULL;
}

static json_t *
ref(const char *kind, const char *name)
{
	char text[128];

	snprintf(text, sizeof(text), "#/components/%s/%s", kind, name);
	return json_pack("{s:s}", "$ref", text);
}

static json_t *
response_body(const char *response)
{
	json_t *schema;

	if (strcmp(response, "@text") == 0)
		return json_pack("{s:{s:{s:s}}}", "text/plain", "schema", "type", "string");
	if (strcmp(response, "@object") == 0)
		schema = json_pack("{s:s}", "type", "object");
	else if (strncmp(response, "list:", 5) == 0)
		schema = json_pack("{s:s, s:{s:{s:s, s:o}, s:{s:[s,s]}}}", "type", "object", "properties",
		                   "data", "type", "array", "items", ref("schemas", response + 5),
		                   "next_cursor", "type", "string", "null");
	else
		schema = ref("schemas", response);
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static void
add_param(json_t *params, const char *name, const char *in, bool required, json_t *schema,
          const char *description)
{
	json_array_append_new(params,
	                      json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", name, "in", in, "required",
	                                required, "schema", schema, "description", description));
}

static void
add_problem(json_t *responses, const char *status)
{
	json_object_set_new(responses, status, ref("responses", "Problem"));
}

static void
parameters_of(const keel_route *r, const op_doc *d, json_t *params)
{
	for (const char *p = strchr(r->path, '{'); p != NULL; p = strchr(p + 1, '{')) {
		char name[32];

		snprintf(name, sizeof(name), "%.*s", (int)(strcspn(p + 1, "}")), p + 1);
		add_param(params, name, "path", true,
		          json_pack("{s:s, s:s}", "type", "string", "format", "uuid"), "Id");
	}
	if (d->query != NULL) {
		char *q = keel_xstrdup(d->query), *save = NULL;

		for (char *n = strtok_r(q, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save))
			for (size_t i = 0; i < sizeof(query_params) / sizeof(query_params[0]); i++)
				if (strcmp(query_params[i].name, n) == 0)
					add_param(params, n, "query", false,
					          json_loads(query_params[i].schema, 0, NULL),
					          query_params[i].description);
		free(q);
	}
	if (strcmp(r->method, "PATCH") == 0 || strcmp(r->method, "DELETE") == 0)
		add_param(params, "If-Match", "header", false, json_pack("{s:s}", "type", "string"),
		          "The ETag of the version this change is based on");
	if (strcmp(r->method, "POST") == 0 && d->response != NULL && d->status == 201 &&
	    strstr(r->path, "organizations") != NULL)
		add_param(params, "Idempotency-Key", "header", false,
		          json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength", 255),
		          "Retries with the same key and body get the first response (24 h)");
	if (!(r->flags & KEEL_ROUTE_PUBLIC) || strcmp(r->path, "/api/v1/auth/login") == 0)
		add_param(params, "X-Tenant-ID", "header", false,
		          json_pack("{s:s, s:s}", "type", "string", "format", "uuid"),
		          "Must equal the token's tenant when sent");
}

static json_t *
operation(const keel_route *r, const op_doc *d)
{
	json_t *op = json_object(), *params = json_array(), *responses = json_object();
	char id[160], status[8];
	bool db = strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/readyz") == 0;
	bool has_id = strstr(r->path, "{") != NULL;

	snprintf(id, sizeof(id), "%s %s", r->method, r->path);
	json_object_set_new(op, "operationId", json_string(id));
	json_object_set_new(op, "summary", json_string(r->summary ? r->summary : ""));
	parameters_of(r, d, params);
	json_object_set_new(op, "parameters", params);
	if (d->request != NULL)
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
		                              "application/json", "schema", ref("schemas", d->request)));
	snprintf(status, sizeof(status), "%d", d->status);
	json_t *ok = json_pack("{s:s}", "description", "Success");

	if (d->response != NULL)
		json_object_set_new(ok, "content", response_body(d->response));
	json_object_set_new(responses, status, ok);
	if ((r->flags & KEEL_ROUTE_BODY) || d->query != NULL)
		add_problem(responses, "400");
	if (!(r->flags & KEEL_ROUTE_PUBLIC)) {
		add_problem(responses, "401");
		add_problem(responses, "403");
		json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
	}
	/* sign-in, refresh and sign-out take credentials in the body: wrong ones are 401 */
	if ((r->flags & KEEL_ROUTE_PUBLIC) && strncmp(r->path, "/api/v1/auth/", 13) == 0)
		add_problem(responses, "401");
	if (has_id)
		add_problem(responses, "404");
	if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PATCH") == 0 ||
	    strcmp(r->method, "DELETE") == 0)
		add_problem(responses, "409");
	if (strcmp(r->method, "PATCH") == 0 || strcmp(r->method, "DELETE") == 0)
		add_problem(responses, "412");
	if (r->flags & KEEL_ROUTE_BODY) {
		add_problem(responses, "413");
		add_problem(responses, "415");
		add_problem(responses, "422");
	}
	/* the account throttle: sign-in, and the current password of a password change */
	if (strcmp(r->path, "/api/v1/auth/login") == 0 || strcmp(r->path, "/api/v1/auth/password") == 0)
		add_problem(responses, "429");
	if (db)
		add_problem(responses, "503");
	json_object_set_new(op, "responses", responses);
	return op;
}

char *
keel_ops_openapi_build(const keel_router *router, const char *version)
{
	json_t *paths = json_object();

	for (size_t i = 0; i < keel_router_count(router); i++) {
		const keel_route *r = keel_router_at(router, i);
		const op_doc *d = doc_of(r);
		char method[8];

		if (d == NULL)
			continue; /* keel_ops_openapi_check() reports it */
		json_t *item = json_object_get(paths, r->path);

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, r->path, item);
		}
		size_t k;

		for (k = 0; r->method[k] != '\0' && k + 1 < sizeof(method); k++)
			method[k] = (char)(r->method[k] - 'A' + 'a'); /* OpenAPI keys are lowercase */
		method[k] = '\0';
		json_object_set_new(item, method, operation(r, d));
	}
	json_t *doc =
	    json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:o}", "openapi", "3.1.0", "info", "title", "keel",
	              "version", version, "description", "The core of a multi-tenant SaaS platform",
	              "paths", paths, "components", json_loads(components, 0, NULL));
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return text;
}

int
keel_ops_openapi_check(const keel_router *router, FILE *report)
{
	int problems = 0;

	for (size_t i = 0; i < keel_router_count(router); i++) {
		const keel_route *r = keel_router_at(router, i);

		if (doc_of(r) == NULL) {
			fprintf(report, "route %s %s is not described in src/ops/openapi.c\n", r->method,
			        r->path);
			problems++;
		}
	}
	for (size_t i = 0; i < NDOCS; i++) {
		bool found = false;

		for (size_t k = 0; k < keel_router_count(router) && !found; k++) {
			const keel_route *r = keel_router_at(router, k);

			found = strcmp(r->method, docs[i].method) == 0 && strcmp(r->path, docs[i].path) == 0;
		}
		if (!found) {
			fprintf(report, "src/ops/openapi.c describes %s %s, which no module registers\n",
			        docs[i].method, docs[i].path);
			problems++;
		}
	}
	json_t *parsed = json_loads(components, 0, NULL);

	if (parsed == NULL) {
		fprintf(report, "the components of src/ops/openapi.c are not valid JSON\n");
		problems++;
	}
	json_decref(parsed);
	return problems;
}
