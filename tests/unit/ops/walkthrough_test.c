/*
 * docs/modules.md's walkthrough compiles and describes itself.  Its routes block, written
 * to routes.inc by tests/support/doc-blocks whenever the document changes, is compiled here
 * as the document shows it (with #line directives: an error names the document's line);
 * registered in a router, its routes pass the OpenAPI check, alone and next to every route
 * keel serves, and /openapi.json has createContact with the request schema ContactCreate
 * generated from create_spec and the answer 201 Contact.
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
#include "http/http.h"
#include "ops/ops.h"

/* What the walkthrough describes in words: the handler. */
static keel_err
contact_create(keel_req *req, void *ctx)
{
	(void)ctx;
	return keel_req_no_content(req);
}

#include "routes.inc"

#define CONTACTS "/api/v1/organizations/{id}/contacts"

/* The check's problems with r's routes, its report printed when there are any. */
static int
check(const keel_router *r)
{
	char *report = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&report, &len);
	int problems = keel_ops_openapi_check(r, out);

	fclose(out);
	if (problems != 0)
		print_error("%s", report);
	free(report);
	return problems;
}

static void
the_routes_pass_the_check(void **state)
{
	(void)state;
	keel_router *alone = keel_router_create();
	keel_router *all = keel_router_create();

	keel_router_add_all(alone, routes, KEEL_NELEM(routes), NULL);
	assert_int_equal(check(alone), 0);
	/* next to every service's routes: no operationId or schema name of theirs */
	keel_cmd_serve_routes(all, "all");
	keel_router_add_all(all, routes, KEEL_NELEM(routes), NULL);
	assert_int_equal(check(all), 0);
	keel_router_destroy(all);
	keel_router_destroy(alone);
}

/* The $ref of an operation's application/json schema under at (a requestBody or response). */
static const char *
json_ref(const json_t *at)
{
	json_t *schema = json_object_get(
	    json_object_get(json_object_get(at, "content"), "application/json"), "schema");

	return json_string_value(json_object_get(schema, "$ref"));
}

/* Whether array a holds exactly the strings of want (NULL-terminated), in that order. */
static bool
strings_are(const json_t *a, const char *const *want)
{
	size_t n = 0;

	for (; want[n] != NULL; n++)
		if (!json_is_string(json_array_get(a, n)) ||
		    strcmp(json_string_value(json_array_get(a, n)), want[n]) != 0)
			return false;
	return json_array_size(a) == n;
}

static void
the_document_has_create_contact(void **state)
{
	(void)state;
	keel_router *r = keel_router_create();

	keel_router_add_all(r, routes, KEEL_NELEM(routes), NULL);
	char *text = keel_ops_openapi_build(r, "1");
	json_t *doc = json_loads(text, 0, NULL);

	assert_non_null(doc);
	json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), CONTACTS), "post");
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");

	assert_non_null(op);
	assert_string_equal(json_string_value(json_object_get(op, "operationId")), "createContact");
	assert_string_equal(json_string_value(json_object_get(op, "summary")), "Add a contact");
	assert_string_equal(json_ref(json_object_get(op, "requestBody")),
	                    "#/components/schemas/ContactCreate");
	assert_string_equal(json_ref(json_object_get(json_object_get(op, "responses"), "201")),
	                    "#/components/schemas/Contact");
	json_t *param = json_array_get(json_object_get(op, "parameters"), 0);

	assert_string_equal(json_string_value(json_object_get(param, "name")), "id");
	assert_string_equal(json_string_value(json_object_get(param, "in")), "path");

	/* the request schema is create_spec's: name and email, both required, nothing else */
	json_t *create = json_object_get(schemas, "ContactCreate");
	json_t *from_spec = keel_ops_body_schema(&create_body);

	assert_non_null(create);
	assert_true(json_equal(create, from_spec));
	assert_true(
	    strings_are(json_object_get(create, "required"), (const char *[]){"name", "email", NULL}));
	assert_false(json_is_true(json_object_get(create, "additionalProperties")));
	assert_int_equal(json_object_size(json_object_get(create, "properties")), 2);
	json_t *email = json_object_get(json_object_get(create, "properties"), "email");

	assert_int_equal(json_integer_value(json_object_get(email, "minLength")), 3);
	assert_int_equal(json_integer_value(json_object_get(email, "maxLength")), 254);

	/* the answer's schema names every member of a contact */
	json_t *contact = json_object_get(schemas, "Contact");

	assert_non_null(contact);
	assert_true(strings_are(json_object_get(contact, "required"),
	                        (const char *[]){"id", "organization_id", "name", "email", "version",
	                                         "created_at", "updated_at", NULL}));
	assert_int_equal(json_object_size(json_object_get(contact, "properties")), 7);

	json_decref(from_spec);
	json_decref(doc);
	free(text);
	keel_router_destroy(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_routes_pass_the_check),
	    cmocka_unit_test(the_document_has_create_contact),
	};

	return cmocka_run_group_tests_name("ops_walkthrough", tests, NULL, NULL);
}
