/*
 * /openapi.json is generated from the routes' own declarations: every route
 * of every service `keel serve` runs describes itself completely (the check
 * fails for one that does not), and the document is well-formed OpenAPI 3.1
 * of the shape clients rely on, its request schemas those of the field specs
 * the handlers validate with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "ops/ops.h"
#include "services.h"

/* keel_ops_openapi_check of r: its report (malloc'd) and *problems. */
static char *
check_report(const keel_router *r, int *problems)
{
	char *report = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&report, &len);

	*problems = keel_ops_openapi_check(r, out);
	fclose(out);
	return report;
}

static void
every_route_describes_itself(void **state)
{
	(void)state;
	keel_router *r = keel_router_create();
	keel_ops ops = {0};
	int problems;

	keel_test_all_routes(r, &ops);
	char *report = check_report(r, &problems);

	if (problems != 0)
		fail_msg("%s", report);
	free(report);
	keel_router_destroy(r);
}

static keel_err
nothing(keel_req *req, void *ctx)
{
	(void)ctx;
	return keel_req_no_content(req);
}

static const keel_schema thing = {.name = "Thing", .json = "{\"type\":\"object\"}"};
static const keel_schema other_thing = {.name = "Thing", .json = "{\"type\":\"string\"}"};
static const keel_schema dangling = {.name = "Holder",
                                     .json = "{\"$ref\":\"#/components/schemas/Missing\"}"};

/* One route r alone; the check's problems, with report's text containing want. */
static void
expect_problem(const keel_route *routes, size_t n, const char *want)
{
	keel_router *r = keel_router_create();
	int problems;

	keel_router_add_all(r, routes, n, NULL);
	char *report = check_report(r, &problems);

	assert_true(problems > 0);
	if (strstr(report, want) == NULL)
		fail_msg("report lacks \"%s\": %s", want, report);
	free(report);
	keel_router_destroy(r);
}

static void
a_route_that_lacks_its_description_fails_the_check(void **state)
{
	(void)state;
	static const keel_param id[] = {{"id", "path", "{\"type\":\"string\"}", "Id"}, {0}};
	static const keel_field_spec fields[] = {{.name = "a", .type = KEEL_F_STRING}};
	static const keel_body body = KEEL_BODY("Body", fields);
	const keel_route bare[] = {
	    {.method = "GET", .path = "/things", .handler = nothing, .summary = "Things"}};
	const keel_route no_summary[] = {{.method = "GET",
	                                  .path = "/t",
	                                  .handler = nothing,
	                                  .operation_id = "getT",
	                                  .reply = {204, KEEL_SHAPE_NONE, NULL}}};
	const keel_route no_status[] = {{.method = "GET",
	                                 .path = "/t",
	                                 .handler = nothing,
	                                 .summary = "T",
	                                 .operation_id = "getT"}};
	const keel_route no_schema[] = {{.method = "GET",
	                                 .path = "/t",
	                                 .handler = nothing,
	                                 .summary = "T",
	                                 .operation_id = "getT",
	                                 .reply = {200, KEEL_SHAPE_ONE, NULL}}};
	const keel_route not_camel[] = {{.method = "GET",
	                                 .path = "/t",
	                                 .handler = nothing,
	                                 .summary = "T",
	                                 .operation_id = "GET /t",
	                                 .reply = {204, KEEL_SHAPE_NONE, NULL}}};
	const keel_route twice[] = {{.method = "GET",
	                             .path = "/a",
	                             .handler = nothing,
	                             .summary = "A",
	                             .operation_id = "getIt",
	                             .reply = {204, KEEL_SHAPE_NONE, NULL}},
	                            {.method = "GET",
	                             .path = "/b",
	                             .handler = nothing,
	                             .summary = "B",
	                             .operation_id = "getIt",
	                             .reply = {204, KEEL_SHAPE_NONE, NULL}}};
	const keel_route undocumented_param[] = {{.method = "GET",
	                                          .path = "/t/{id}/u/{sub}",
	                                          .handler = nothing,
	                                          .summary = "T",
	                                          .operation_id = "getT",
	                                          .reply = {204, KEEL_SHAPE_NONE, NULL},
	                                          .params = id}};
	const keel_route body_without_flag[] = {{.method = "POST",
	                                         .path = "/t",
	                                         .handler = nothing,
	                                         .summary = "T",
	                                         .operation_id = "postT",
	                                         .body = &body,
	                                         .reply = {204, KEEL_SHAPE_NONE, NULL}}};
	const keel_route flag_without_body[] = {{.method = "POST",
	                                         .path = "/t",
	                                         .handler = nothing,
	                                         .flags = KEEL_ROUTE_BODY,
	                                         .summary = "T",
	                                         .operation_id = "postT",
	                                         .reply = {204, KEEL_SHAPE_NONE, NULL}}};
	const keel_route two_schemas[] = {{.method = "GET",
	                                   .path = "/a",
	                                   .handler = nothing,
	                                   .summary = "A",
	                                   .operation_id = "getA",
	                                   .reply = {200, KEEL_SHAPE_ONE, &thing}},
	                                  {.method = "GET",
	                                   .path = "/b",
	                                   .handler = nothing,
	                                   .summary = "B",
	                                   .operation_id = "getB",
	                                   .reply = {200, KEEL_SHAPE_ONE, &other_thing}}};
	const keel_route unresolved[] = {{.method = "GET",
	                                  .path = "/t",
	                                  .handler = nothing,
	                                  .summary = "T",
	                                  .operation_id = "getT",
	                                  .reply = {200, KEEL_SHAPE_ONE, &dangling}}};

	expect_problem(bare, 1, "GET /things does not declare an operationId");
	expect_problem(no_summary, 1, "does not declare a summary");
	expect_problem(no_status, 1, "does not declare a complete answer");
	expect_problem(no_schema, 1, "does not declare a complete answer");
	expect_problem(not_camel, 1, "operationId in camelCase");
	expect_problem(twice, 2, "operationId getIt is used by GET /a and GET /b");
	expect_problem(undocumented_param, 1, "path parameter sub is not described");
	expect_problem(body_without_flag, 1, "body fields exactly when it takes a body");
	expect_problem(flag_without_body, 1, "body fields exactly when it takes a body");
	expect_problem(two_schemas, 2, "two different schemas are named Thing");
	expect_problem(unresolved, 1, "refers to Missing");
}

static void
the_document_has_the_expected_shape(void **state)
{
	(void)state;
	keel_router *r = keel_router_create();
	keel_ops ops = {0};

	keel_test_all_routes(r, &ops);
	char *text = keel_ops_openapi_build(r, "1.2.3");
	json_t *doc = json_loads(text, 0, NULL);

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "info"), "version")),
	                    "1.2.3");
	json_t *paths = json_object_get(doc, "paths");
	size_t operations = 0;
	const char *path;
	json_t *item;

	json_object_foreach(paths, path, item)
	{
		const char *method;
		json_t *op;

		json_object_foreach(item, method, op)
		{
			operations++;
			assert_non_null(json_object_get(op, "responses"));
			assert_non_null(json_object_get(op, "summary"));
			assert_non_null(json_object_get(op, "security"));
			assert_true(strlen(json_string_value(json_object_get(op, "operationId"))) > 0);
			/* every path parameter is declared */
			for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
				size_t i, n = strcspn(p + 1, "}");
				json_t *param;
				bool found = false;

				json_array_foreach(json_object_get(op, "parameters"), i, param) found =
				    found ||
				    (strlen(json_string_value(json_object_get(param, "name"))) == n &&
				     strncmp(json_string_value(json_object_get(param, "name")), p + 1, n) == 0);
				assert_true(found);
			}
		}
	}
	assert_int_equal(operations, keel_router_count(r));
	/* a protected route needs the bearer scheme and may answer 401; a public one not */
	json_t *me = json_object_get(json_object_get(paths, "/api/v1/auth/me"), "get");
	json_t *login = json_object_get(json_object_get(paths, "/api/v1/auth/login"), "post");

	assert_int_equal(json_array_size(json_object_get(me, "security")), 1);
	assert_non_null(json_object_get(json_object_get(me, "responses"), "401"));
	assert_non_null(json_object_get(login, "security"));
	assert_int_equal(json_array_size(json_object_get(login, "security")), 0); /* public */
	assert_non_null(json_object_get(json_object_get(login, "responses"), "429"));
	json_t *password = json_object_get(json_object_get(paths, "/api/v1/auth/password"), "post");

	assert_non_null(json_object_get(json_object_get(password, "responses"), "429"));
	/* every $ref resolves */
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	char *all = json_dumps(doc, 0);

	for (const char *p = strstr(all, "#/components/schemas/"); p;
	     p = strstr(p + 1, "#/components/schemas/")) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(p + 21, "\""), p + 21);
		if (json_object_get(schemas, name) == NULL)
			fail_msg("dangling $ref to %s", name);
	}
	free(all);
	/*
	 * An organization's or a division's PATCH requires no field: its schema names none and
	 * refers to no create schema (in JSON Schema 2020-12 the referenced schema's "required"
	 * would apply beside a sibling "required": []).
	 */
	const char *updates[] = {"OrganizationUpdate", "DivisionUpdate"};

	for (size_t i = 0; i < sizeof(updates) / sizeof(updates[0]); i++) {
		json_t *u = json_object_get(schemas, updates[i]);

		assert_non_null(u);
		assert_null(json_object_get(u, "$ref"));
		assert_int_equal(json_array_size(json_object_get(u, "required")), 0);
		assert_non_null(json_object_get(json_object_get(u, "properties"), "name"));
	}
	json_decref(doc);
	free(text);
	keel_router_destroy(r);
}

static void
a_subset_describes_only_its_routes(void **state)
{
	(void)state;
	keel_router *r = keel_router_create();

	keel_cmd_serve_routes(r, "org");
	char *text = keel_ops_openapi_build(r, "1");
	json_t *doc = json_loads(text, 0, NULL);
	json_t *paths = json_object_get(doc, "paths");

	assert_non_null(json_object_get(paths, "/api/v1/organizations"));
	assert_null(json_object_get(paths, "/api/v1/users"));
	assert_null(json_object_get(paths, "/api/v1/auth/login"));
	assert_non_null(json_object_get(paths, "/healthz"));
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");

	assert_non_null(json_object_get(schemas, "Organization"));
	assert_null(json_object_get(schemas, "User"));
	assert_null(json_object_get(schemas, "AuditLog"));
	json_decref(doc);
	free(text);
	keel_router_destroy(r);
}

/* The request schemas are those of the field specs the handlers validate with. */
static void
request_schemas_come_from_the_field_specs(void **state)
{
	(void)state;
	keel_router *r = keel_router_create();

	keel_cmd_serve_routes(r, "all");
	char *text = keel_ops_openapi_build(r, "1");
	json_t *doc = json_loads(text, 0, NULL);
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	json_t *signup = json_object_get(schemas, "SignUp");
	json_t *props = json_object_get(signup, "properties");
	json_t *slug = json_object_get(props, "slug");

	assert_false(json_is_true(json_object_get(signup, "additionalProperties")));
	assert_int_equal(json_array_size(json_object_get(signup, "required")), 4);
	assert_string_equal(json_string_value(json_object_get(slug, "pattern")),
	                    "^[a-z0-9][a-z0-9-]{1,62}$");
	assert_int_equal(json_integer_value(json_object_get(slug, "maxLength")), 63);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(props, "owner_email"), "format")),
	    "email");
	json_t *division = json_object_get(json_object_get(schemas, "DivisionCreate"), "properties");
	json_t *parent = json_object_get(division, "parent_id");

	assert_string_equal(json_string_value(json_object_get(parent, "format")), "uuid");
	assert_int_equal(json_array_size(json_object_get(parent, "type")), 2); /* string or null */
	json_t *role = json_object_get(json_object_get(schemas, "UserUpdate"), "properties");

	assert_int_equal(json_array_size(json_object_get(json_object_get(role, "role"), "enum")), 4);
	json_decref(doc);
	free(text);
	keel_router_destroy(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_route_describes_itself),
	    cmocka_unit_test(a_route_that_lacks_its_description_fails_the_check),
	    cmocka_unit_test(request_schemas_come_from_the_field_specs),
	    cmocka_unit_test(the_document_has_the_expected_shape),
	    cmocka_unit_test(a_subset_describes_only_its_routes),
	};

	return cmocka_run_group_tests_name("ops_openapi", tests, NULL, NULL);
}
