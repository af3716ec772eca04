/*
 * /openapi.json and the routes stay in step: every route of every service is
 * described, every description is a route, and the document is well-formed
 * OpenAPI 3.1 of the shape clients rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "ops/ops.h"
#include "org/org.h"
#include "services.h"
#include "tenancy/tenancy.h"

static void
every_route_is_described_and_every_description_routed(void **state)
{
	(void)state;
	keel_router *r = keel_router_create();
	keel_ops ops = {0};
	char *report = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&report, &len);

	keel_test_all_routes(r, &ops);
	int problems = keel_ops_openapi_check(r, out);

	fclose(out);
	if (problems != 0)
		fail_msg("%s", report);
	free(report);
	keel_router_destroy(r);
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

	assert_non_null(json_object_get(me, "security"));
	assert_non_null(json_object_get(json_object_get(me, "responses"), "401"));
	assert_null(json_object_get(login, "security"));
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
	keel_ops ops = {0};

	keel_ops_routes(r, &ops);
	keel_org_routes(r, NULL);
	char *text = keel_ops_openapi_build(r, "1");
	json_t *doc = json_loads(text, 0, NULL);
	json_t *paths = json_object_get(doc, "paths");

	assert_non_null(json_object_get(paths, "/api/v1/organizations"));
	assert_null(json_object_get(paths, "/api/v1/users"));
	assert_null(json_object_get(paths, "/api/v1/auth/login"));
	json_decref(doc);
	free(text);
	keel_router_destroy(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_route_is_described_and_every_description_routed),
	    cmocka_unit_test(the_document_has_the_expected_shape),
	    cmocka_unit_test(a_subset_describes_only_its_routes),
	};

	return cmocka_run_group_tests_name("ops_openapi", tests, NULL, NULL);
}
