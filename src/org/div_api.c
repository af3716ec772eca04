/*
 * Divisions: a tree inside one organization.
 *
 * The database keeps the tree sound: composite foreign keys make a parent a
 * division of the same organization and tenant, a trigger refuses a move
 * that would make a cycle (serialized per organization, so concurrent moves
 * are safe), and deleting a division that has children is refused unless
 * ?cascade=true removes the whole subtree.
 */
#include "org/org_int.h"
#include "access/access.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <string.h>

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
    {.name = "parent_id", .type = KEEL_F_UUID, .nullable = true},
};

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
    {.name = "parent_id", .type = KEEL_F_UUID, .nullable = true},
};

static keel_err
parse_input(keel_req *req, const keel_field_spec *spec, size_t n, bool partial, org_input *in)
{
	json_t *body;
	keel_err err;

	memset(in, 0, sizeof(*in));
	if ((err = keel_req_json_body(req, &body)) != KEEL_OK)
		return err;
	if (keel_json_check(body, spec, n, keel_req_errors(req)) > 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "the division is invalid");
	if (partial && json_object_size(body) == 0)
		return keel_req_fail(req, KEEL_EINVAL, NULL, "give at least one field to change");
	in->name = json_string_value(json_object_get(body, "name"));
	in->code = json_string_value(json_object_get(body, "code"));
	in->description = json_string_value(json_object_get(body, "description"));
	in->parent_given = json_object_get(body, "parent_id") != NULL;
	in->parent_id = json_string_value(json_object_get(body, "parent_id"));
	return KEEL_OK;
}

static keel_err
not_found(keel_req *req, const char *what)
{
	return keel_req_fail(req, KEEL_ENOTFOUND, NULL, "no such %s", what);
}

/*
 * The answer to a write's store error when a constraint explains it (409, 422, 404), or
 * KEEL_OK: the error is keel_svc_finish's to answer.
 */
static keel_err
constraint_failed(keel_req *req, keel_tx *tx, keel_err err)
{
	const char *c = keel_tx_constraint(tx);

	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, err, "code", "is already used in this organization");
	if (err != KEEL_EINVAL)
		return KEEL_OK;
	if (strcmp(c, "divisions_no_cycle") == 0)
		return keel_req_fail(req, err, "parent_id", "would make the division its own ancestor");
	if (strcmp(c, "divisions_not_own_parent") == 0)
		return keel_req_fail(req, err, "parent_id", "must not be the division itself");
	if (strcmp(c, "divisions_parent_fkey") == 0)
		return keel_req_fail(req, err, "parent_id", "must be a division of the same organization");
	if (strcmp(c, "divisions_organization_fkey") == 0)
		return not_found(req, "organization");
	return KEEL_OK;
}

/* The organization of the path exists in the caller's tenant: 404 otherwise. */
static keel_err
org_found(keel_req *req, keel_tx *tx, const char *org_id)
{
	keel_err err = org_store_exists(tx, org_id);

	if (err == KEEL_ENOTFOUND)
		return not_found(req, "organization");
	return err == KEEL_OK ? KEEL_OK : keel_svc_fail(req, err, NULL);
}

static keel_err
div_create(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *org_id = org_path_id(req, "id"), *key, *location = NULL;
	org_input in;
	keel_tx *tx;
	org_row row = {0};
	bool replayed;
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1];
	keel_err err;

	if (org_id == NULL)
		return not_found(req, "organization");
	if ((err = parse_input(req, create_spec, KEEL_NELEM(create_spec), false, &in)) != KEEL_OK ||
	    (err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK ||
	    (err = org_found(req, tx, org_id)) != KEEL_OK)
		return err;
	if ((err = keel_svc_idem_claim(req, tx, &key, &replayed)) != KEEL_OK || replayed)
		return err;
	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	err = div_store_create(tx, keel_req_arena(req), text, org_id, &in, &row);
	if (err != KEEL_OK && constraint_failed(req, tx, err) != KEEL_OK)
		return err;
	if (err == KEEL_OK)
		location = keel_arena_printf(keel_req_arena(req), "/api/v1/divisions/%s", row.id);
	return keel_svc_finish(req, tx, err, NULL, org_reply(201, &row, location, key));
}

static keel_err
div_list(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *org_id = org_path_id(req, "id");
	const char *parent = keel_req_query(req, "parent_id");
	bool roots = parent != NULL && strcmp(parent, "null") == 0;
	keel_page page;
	keel_tx *tx;
	keel_err err;

	if (org_id == NULL)
		return not_found(req, "organization");
	if ((err = keel_svc_page(req, &page)) != KEEL_OK)
		return err;
	if (parent != NULL && !roots && !keel_uuid_valid(parent))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "parent_id must be a UUID or null");
	if ((err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK ||
	    (err = org_found(req, tx, org_id)) != KEEL_OK)
		return err;
	org_page pg = org_page_begin(req);

	err = div_store_list(tx, keel_req_arena(req), org_id, parent != NULL, roots ? NULL : parent,
	                     page.after, page.limit, &pg);
	return keel_svc_finish(req, tx, err, NULL, org_page_reply(req, &pg, &page));
}

static keel_err
div_get(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *id = org_path_id(req, "id");
	keel_tx *tx;
	org_row row = {0};
	keel_err err;

	if (id == NULL)
		return not_found(req, "division");
	if ((err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	err = div_store_get(tx, keel_req_arena(req), id, &row);
	return keel_svc_finish(req, tx, err, "division", org_reply(200, &row, NULL, NULL));
}

static keel_err
div_update(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *id = org_path_id(req, "id"), *version;
	org_input in;
	keel_tx *tx;
	org_row row = {0};
	keel_err err;

	if (id == NULL)
		return not_found(req, "division");
	if ((err = parse_input(req, update_spec, KEEL_NELEM(update_spec), true, &in)) != KEEL_OK ||
	    (err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	err = div_store_update(tx, keel_req_arena(req), id, &in, version, &row);
	if (err == KEEL_ENOTFOUND)
		return org_explain_miss(req, tx, true, id, version);
	if (err != KEEL_OK && constraint_failed(req, tx, err) != KEEL_OK)
		return err;
	return keel_svc_finish(req, tx, err, NULL, org_reply(200, &row, NULL, NULL));
}

static keel_err
div_delete(keel_req *req, void *ctx)
{
	keel_org *org = ctx;
	const char *id = org_path_id(req, "id"), *version;
	const char *cascade = keel_req_query(req, "cascade");
	keel_tx *tx;
	keel_err err;

	if (id == NULL)
		return not_found(req, "division");
	if (cascade != NULL && strcmp(cascade, "true") != 0 && strcmp(cascade, "false") != 0)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cascade must be true or false");
	if ((err = keel_svc_if_match(req, &version)) != KEEL_OK ||
	    (err = keel_svc_tx(req, org->pool, &tx)) != KEEL_OK)
		return err;
	err = div_store_delete(tx, id, version, cascade != NULL && strcmp(cascade, "true") == 0);
	if (err == KEEL_ENOTFOUND)
		return org_explain_miss(req, tx, true, id, version);
	if (err == KEEL_ECONFLICT && org_store_keeps_people(tx))
		return keel_req_fail(req, err, NULL, "positions are in the division");
	if (err == KEEL_ECONFLICT && strcmp(keel_tx_constraint(tx), "divisions_parent_fkey") != 0)
		return keel_req_fail(req, err, NULL, "journal lines name the division");
	if (err == KEEL_ECONFLICT)
		return keel_req_fail(req, err, NULL,
		                     "the division has child divisions; delete with ?cascade=true");
	return keel_svc_finish(req, tx, err, NULL, (keel_svc_reply){.status = 204});
}

#define UUID "{\"type\":\"string\",\"format\":\"uuid\"}"
#define TS   "{\"type\":\"string\",\"format\":\"date-time\"}"

static const keel_schema div_schema = {
    .name = "Division",
    .json =
        "{\"type\":\"object\",\"required\":[\"id\",\"tenant_id\",\"organization_id\",\"parent_id\","
        "\"name\",\"code\",\"description\",\"version\",\"created_at\",\"updated_at\"],"
        "\"properties\":{"
        "\"id\":" UUID ",\"tenant_id\":" UUID ",\"organization_id\":" UUID
        ",\"parent_id\":{\"type\":"
        "[\"string\",\"null\"],\"format\":\"uuid\"},\"name\":{\"type\":\"string\"},\"code\":{"
        "\"type\":"
        "\"string\"},\"description\":{\"type\":\"string\"},\"version\":{\"type\":\"integer\"},"
        "\"created_at\":" TS ",\"updated_at\":" TS "}}"};

static const keel_body create_body = KEEL_BODY("DivisionCreate", create_spec);
static const keel_body update_body = KEEL_BODY("DivisionUpdate", update_spec);

static const keel_param create_params[] = {
    {"id", "path", UUID, "The organization's id"}, KEEL_SVC_IDEMPOTENCY_PARAM, {0}};

static const keel_param list_params[] = {
    {"id", "path", UUID, "The organization's id"},
    KEEL_SVC_PAGE_PARAMS,
    {"parent_id", "query", "{\"type\":\"string\"}",
     "A division's id (its children), or null (the top level)"},
    {0}};

static const keel_param id_param[] = {{"id", "path", UUID, "The division's id"}, {0}};

static const keel_param delete_params[] = {
    {"id", "path", UUID, "The division's id"},
    {"cascade", "query", "{\"type\":\"boolean\",\"default\":false}",
     "Delete the whole subtree (else a division with children is not deleted)"},
    {0}};

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/api/v1/organizations/{id}/divisions",
     .handler = div_create,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Create a division in an organization",
     .operation_id = "createDivision",
     .body = &create_body,
     .reply = {201, KEEL_SHAPE_ONE, &div_schema},
     .params = create_params},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}/divisions",
     .handler = div_list,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "List an organization's divisions (?parent_id=, pagination)",
     .operation_id = "listDivisions",
     .reply = {200, KEEL_SHAPE_LIST, &div_schema},
     .params = list_params},
    {.method = "GET",
     .path = "/api/v1/divisions/{id}",
     .handler = div_get,
     .min_role = KEEL_ROLE_VIEWER,
     .summary = "A division",
     .operation_id = "getDivision",
     .reply = {200, KEEL_SHAPE_ONE, &div_schema},
     .params = id_param},
    {.method = "PATCH",
     .path = "/api/v1/divisions/{id}",
     .handler = div_update,
     .flags = KEEL_ROUTE_BODY,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Change or move a division",
     .operation_id = "updateDivision",
     .body = &update_body,
     .reply = {200, KEEL_SHAPE_ONE, &div_schema},
     .params = id_param},
    {.method = "DELETE",
     .path = "/api/v1/divisions/{id}",
     .handler = div_delete,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "Delete a division (?cascade=true: with its subtree)",
     .operation_id = "deleteDivision",
     .reply = {204, KEEL_SHAPE_NONE, NULL},
     .params = delete_params},
};

void
div_api_routes(keel_router *r, keel_org *org)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), org);
}
