/* Unit tests for src/http/router.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"

static keel_err
nop(keel_req *req, void *ctx)
{
	(void)req;
	(void)ctx;
	return KEEL_OK;
}

static const keel_route routes[] = {
    {.method = "GET",
     .path = "/healthz",
     .handler = nop,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = ""},
    {.method = "GET",
     .path = "/api/v1/organizations",
     .handler = nop,
     .flags = 0,
     .min_role = 0,
     .summary = ""},
    {.method = "POST",
     .path = "/api/v1/organizations",
     .handler = nop,
     .flags = KEEL_ROUTE_BODY,
     .min_role = 0,
     .summary = ""},
    {.method = "GET",
     .path = "/api/v1/organizations/{id}",
     .handler = nop,
     .flags = 0,
     .min_role = 0,
     .summary = ""},
    {.method = "PATCH",
     .path = "/api/v1/organizations/{id}",
     .handler = nop,
     .flags = KEEL_ROUTE_BODY,
     .min_role = 0,
     .summary = ""},
    {.method = "DELETE",
     .path = "/api/v1/organizations/{id}",
     .handler = nop,
     .flags = 0,
     .min_role = 0,
     .summary = ""},
    {.method = "GET",
     .path = "/api/v1/organizations/{org_id}/divisions/{id}",
     .handler = nop,
     .flags = 0,
     .min_role = 0,
     .summary = ""},
    {.method = "GET",
     .path = "/",
     .handler = nop,
     .flags = KEEL_ROUTE_PUBLIC,
     .min_role = 0,
     .summary = ""},
};

static int
setup(void **state)
{
	keel_router *r = keel_router_create();

	keel_router_add_all(r, routes, sizeof(routes) / sizeof(routes[0]), (void *)routes);
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	keel_router_destroy(*state);
	return 0;
}

static keel_err
match(void **state, const char *method, const char *path, keel_match *m)
{
	keel_arena *a = keel_arena_create(0);
	keel_err err = keel_router_match(*state, method, path, a, m);

	/* copy parameter values out before the arena dies: tests check them */
	static char values[KEEL_ROUTE_MAXPARAMS][64];

	for (int i = 0; i < m->nparams; i++) {
		snprintf(values[i], sizeof(values[i]), "%s", m->values[i]);
		m->values[i] = values[i];
	}
	keel_arena_destroy(a);
	return err;
}

static void
literal_and_root(void **state)
{
	keel_match m;

	assert_int_equal(match(state, "GET", "/healthz", &m), KEEL_OK);
	assert_ptr_equal(m.route, &routes[0]);
	assert_ptr_equal(m.ctx, routes);
	assert_int_equal(m.nparams, 0);
	assert_int_equal(match(state, "GET", "/", &m), KEEL_OK);
	assert_ptr_equal(m.route, &routes[7]);
	assert_int_equal(keel_router_count(*state), 8);
	assert_ptr_equal(keel_router_at(*state, 3), &routes[3]);
	assert_null(keel_router_at(*state, 8));
}

static void
parameters(void **state)
{
	keel_match m;

	assert_int_equal(match(state, "GET", "/api/v1/organizations/abc", &m), KEEL_OK);
	assert_ptr_equal(m.route, &routes[3]);
	assert_int_equal(m.nparams, 1);
	assert_string_equal(m.names[0], "id");
	assert_string_equal(m.values[0], "abc");

	assert_int_equal(match(state, "GET", "/api/v1/organizations/o1/divisions/d2", &m), KEEL_OK);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.names[0], "org_id");
	assert_string_equal(m.values[0], "o1");
	assert_string_equal(m.names[1], "id");
	assert_string_equal(m.values[1], "d2");
}

static void
methods_and_allow(void **state)
{
	keel_match m;

	assert_int_equal(match(state, "PATCH", "/api/v1/organizations/x", &m), KEEL_OK);
	assert_ptr_equal(m.route, &routes[4]);
	assert_int_equal(match(state, "PUT", "/api/v1/organizations/x", &m), KEEL_EMETHOD);
	assert_string_equal(m.allow, "GET, HEAD, PATCH, DELETE");
	assert_int_equal(match(state, "DELETE", "/api/v1/organizations", &m), KEEL_EMETHOD);
	assert_string_equal(m.allow, "GET, HEAD, POST");
	/* HEAD is served by GET routes */
	assert_int_equal(match(state, "HEAD", "/healthz", &m), KEEL_OK);
	assert_ptr_equal(m.route, &routes[0]);
}

static void
not_found(void **state)
{
	keel_match m;
	static const char *const paths[] = {
	    "/nope",
	    "/healthz/",
	    "//healthz",
	    "/api/v1/organizations/",
	    "/api/v1//organizations",
	    "/api/v1/organizations/x/y",
	    "",
	    "healthz",
	    "/api/v1/organizations/x/divisions/",
	    "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (match(state, "GET", paths[i], &m) != KEEL_ENOTFOUND)
			fail_msg("path \"%s\" should be 404", paths[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(literal_and_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(parameters, setup, teardown),
	    cmocka_unit_test_setup_teardown(methods_and_allow, setup, teardown),
	    cmocka_unit_test_setup_teardown(not_found, setup, teardown),
	};

	return cmocka_run_group_tests_name("http_router", tests, NULL, NULL);
}
