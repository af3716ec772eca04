/*
 * Organizations: create, list (?status=, ?q=, pagination), get, update,
 * delete.  Handlers parse -> validate -> open the request's transaction ->
 * call the store -> keel_svc_finish(): commit and render the JSON text
 * PostgreSQL produced.  Each handler returns the error that answered
 * (KEEL_OK when it answered with success).
 */
#include "org/org_int.h"
#include "access/access.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <string.h>

bool
org_code_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			return false;
	}
	return true;
}

static const char *const status_choices[] = {"active", "archived", NULL};

static const keel_field_spec create_spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 200},
    {.name = "code",
     .type = KEEL_F_STRING,
     .required = true,
     .min = 1,
     .max = 32,
     .check = org_code_valid,
     .check_msg = CODE_RULE,
     .pattern = CODE_PATTERN},
    {.name = "description", .type = KEEL_F_STRING, .max = 2000},
    {.name = "status", .type = KEEL_F_ENUM, .choices = status_choices},
    {.name = "settings", .type = KEEL_F_OBJECT, .max = 16384},
};

/* The same fields, none required. */
static const keel_field_spec update_spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .trim = true, .min = 1, .max = 200},
    {.name = "code",
     .type = KEEL_F_STRING,
     .min = 1,
     .max = 32,
     .check = org_code_valid,
     .check_msg = CODE_RULE,
     .pattern = CODE_PATTERN},
    {.name = "description", .type = KEEL_F_STRING, .max = 2000},
    {.name = "status", .type = KEEL_F_ENUM, .choices = status_choices},
    {.name = "settings", .type = KEEL_F_OBJECT, .max = 16384},
};

/* Parse and validate the body into in; fails the request (400/422) when invalid. */
static keel_err
parse_input(keel_req *req, const keel_field_spec *spec, size_t n, bool partial, org_input *in)
{
	json_t *body;
	keel_err err;

	memset(in, 0, sizeof(*in));
	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if (keel_json_check(body, spec, n, keel_req_errors(req)) > 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "the organization is invalid");
	if (partial && json_object_size(body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	in->name = json_string_value(json_object_get(body, "name"));
	in->code = json_string_value(json_object_get(body, "code"));
	in->description = json_string_value(json_object_get(body, "description"));
	in->status = json_string_value(json_object_get(body, "status"));
	json_t *settings = json_object_get(body, "settings");

	if (settings != NULL) {
		char *text = json_dumps(settings, JSON_COMPACT);

		in->settings = keel_arena_strdup(keel_req_arena(req), text);
		free(text);
	}
	return KEEL_OK;
}

/* The answer with a row: its JSON text and ETag (and Location when created). */
keel_svc_reply
org_reply(int status, const org_row *row, const char *location, const char *idem_key)
{
	return (keel_svc_reply){.status = status,
	                        .text = row->json,
	                        .version = row->version,
	                        .location = location,
	                        .idem_key = idem_key};
}

org_page
org_page_begin(keel_req *req)
{
	org_page pg = {0};

	keel_svc_list_begin(&pg.list, keel_req_arena(req));
	return pg;
}

keel_svc_reply
org_page_reply(keel_req *req, org_page *pg, const keel_page *page)
{
	const char *next = keel_svc_page_next(req, page, pg->list.count, pg->last_id);

	return (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&pg->list, next)};
}

const char *
org_path_id(keel_req *req, const char *name)
{
	const char *id = keel_req_param(req, name);

	return id != NULL && keel_uuid_valid(id) ? id : NULL;
}

static keel_err
not_found(keel_req *req)
{
	return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such organization");
}

/* A write's code is another organization's: 409. */
static keel_err
code_taken(keel_req *req)
{
	return keel_req_fail(req, KEEL_ECONFLICT, "code", "is already used by another organization");
}

static keel_err
org_create(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	org_input in;
	keel_tx *tx;
	org_row row = {0};
	const char *key;
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if ((err = parse_input(req, create_spec, KEEL_NELEM(create_spec), false, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = org_store_create(tx, keel_req_arena(req), text, &in, &row);
	if (err == KEEL_ECONFLICT)
		return code_taken(req);
	const char *location =
	    err == KEEL_OK ? keel_arena_printf(keel_req_arena(req), "/api/v1/organizations/%s", row.id)
	                   : NULL;

	return keel_svc_finish(req, tx, err, "organization", org_reply(201, &row, location, key));
}

static keel_err
org_list(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *status = keel_req_query(req, "status");
	const char *q = keel_req_query(req, "q");
	keel_page page;
	keel_tx *tx;
	keel_err err;

	if ((err = keel_svc_page(req, &page)) != KEEL_OK)
		return err;
	if (status != NULL && strcmp(status, "active") != 0 && strcmp(status, "archived") != 0)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "status must be active or archived");
	if (q != NULL && (q[0] == '\0' || keel_utf8_length(q, strlen(q)) > 200))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "q must be 1 to 200 characters");
	if ((err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	org_page pg = org_page_begin(req);

	err = org_store_list(tx, keel_req_arena(req), status, q, page.after, page.limit, &pg);
	return keel_svc_finish(req, tx, err, NULL, org_page_reply(req, &pg, &page));
}

static keel_err
org_get(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *id = org_path_id(req, "id");
	keel_tx *tx;
	org_row row = {0};
	keel_err err;

	if (id == NULL)
		return not_found(req);
	if ((err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	err = org_store_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "organization", org_reply(200, &row, NULL, NULL));
}

/*
 * A guarded write changed no row: 412 when the row exists at another version,
 * else 404.
 */
keel_err
org_explain_miss(keel_req *req, keel_tx *tx, bool division, const char *id, const char *version)
{
	long current;
	keel_err err = version ? org_store_version(tx, division, id, &current) : KEEL_ENOTFOUND;

	if (err == KEEL_OK)
		return keel_req_fail(req, KEEL_EPRECOND, NULL, "the %s is at version %ld",
		                     division ? "division" : "organization", current);
	if (err == KEEL_ENOTFOUND)
		return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such %s",
		                     division ? "division" : "organization");
	return keel_svc_fail(req, err, NULL);
}

static keel_err
org_update(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *id = org_path_id(req, "id"), *version;
	org_input in;
	keel_tx *tx;
	org_row row = {0};
	keel_err err;

	if (id == NULL)
		return not_found(req);
	if ((err = parse_input(req, update_spec, KEEL_NELEM(update_spec), true, &in)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	err = org_store_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return org_explain_miss(req, tx, false, id, version);
	if (err == KEEL_ECONFLICT)
		return code_taken(req);
	return keel_svc_finish(req, tx, err, NULL, org_reply(200, &row, NULL, NULL));
}

static keel_err
org_delete(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *id = org_path_id(req, "id"), *version;
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return not_found(req);
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	err = org_store_delete(tx, id, version);
	if (err == KEEL_ENOTFOUND)
		return org_explain_miss(req, tx, false, id, version);
	if (err == KEEL_ECONFLICT && org_store_keeps_people(tx))
		return keel_req_fail(req, err, NULL,
		                     "the organization has HR records (employees, holiday calendars, "
		                     "leave types or positions)");
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, err, NULL, "the organization keeps books (a ledger)");
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

#define UUID "{\"type\":\"string\",\"format\":\"uuid\"}"
#define TS   "{\"type\":\"string\",\"format\":\"date-time\"}"

static const keel_schema org_schema = {
    .name = "Organization",
    .json =
        "{\"type\":\"object\",\"required\":[\"id\",\"tenant_id\",\"name\",\"code\",\"description\","
        "\"status\",\"settings\",\"version\",\"created_at\",\"updated_at\"],\"properties\":{"
        "\"id\":" UUID ",\"tenant_id\":" UUID
        ",\"name\":{\"type\":\"string\"},\"code\":{\"type\":\"string\"},"
        "\"description\":{\"type\":\"string\"},\"status\":{\"type\":\"string\",\"enum\":["
        "\"active\","
        "\"archived\"]},\"settings\":{\"type\":\"object\"},\"version\":{\"type\":\"integer\"},"
        "\"created_at\":" TS ",\"updated_at\":" TS "}}"};

static const keel_body create_body = KEEL_BODY("OrganizationCreate", create_spec);
static const keel_body update_body = KEEL_BODY("OrganizationUpdate", update_spec);

static const keel_param id_param[] = {{"id", "path", UUID, "The organization's id"}, {0}};

static const keel_param create_params[] = {KEEL_SVC_IDEMPOTENCY_PARAM, {0}};

static const keel_param list_params[] = {
    KEEL_SVC_PAGE_PARAMS,
    {"status", "query", "{\"type\":\"string\",\"enum\":[\"active\",\"archived\"]}",
     "Only organizations of this status"},
    {"q", "query", "{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}",
     "Case-insensitive substring of name or code"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations",
     .handler = org_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create an organization",
     .operation_id = "createOrganization",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &org_schema},
     .params = create_params},
    {.method = "GET",
     .path = "/api/v1/organizations",
     .handler = org_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List organizations (?status=, ?q=, pagination)",
     .operation_id = "listOrganizations",
     .reply = {200, KEEL_SHAPE_LIST, &org_schema},
     .params = list_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}",
     .handler = org_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "An organization",
     .operation_id = "getOrganization",
     .reply = {200, KEEL_SHAPE_ONE, &org_schema},
     .params = id_param},
    {.method = "PATCH",
     .path = "/api/v1/organizations/{id}",
     .handler = org_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Change an organization",
     .operation_id = "updateOrganization",
     .body = &update_body,
     .reply = {200, KEEL_SHAPE_ONE, &org_schema},
     .params = id_param},
    {.method = "DELETE",
     .path = "/api/v1/organizations/{id}",
     .handler = org_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete an organization and its divisions",
     .operation_id = "deleteOrganization",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = id_param},
};

void
org_api_routes(keel_router *r, keel_org *org)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), org);
}

void
keel_org_routes(keel_router *r, keel_org *org)
{
	org_api_routes(r, org);
	div_api_routes(r, org);
}
