/* Unit tests for src/http/json.c and the problem+json rendering of problem.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/log.h"
#include "http/http_int.h"

#include <fcntl.h>
#include <unistd.h>

static keel_req *
req_with_body(const char *body, size_t len)
{
	keel_req *req = req_new(NULL, "POST", "/api/v1/things");

	req_assign_id(req, "test-req-1");
	keel_buf_append(&req->body, body, len);
	return req;
}

#define BODY(s) req_with_body((s), sizeof(s) - 1)

static json_t *
rendered(keel_req *req)
{
	problem_render(req);
	json_t *doc = json_loadb(req->resp_body, req->resp_len, 0, NULL);

	assert_non_null(doc);
	return doc;
}

static void
expect_malformed(keel_req *req, const char *needle)
{
	json_t *obj;

	assert_int_equal(keel_req_json_body(req, &obj), KEEL_EMALFORMED);
	assert_null(obj);
	json_t *p = rendered(req);

	assert_int_equal(req->status, 400);
	assert_string_equal(req->content_type, "application/problem+json");
	assert_int_equal(json_integer_value(json_object_get(p, "status")), 400);
	assert_string_equal(json_string_value(json_object_get(p, "type")),
	                    "urn:keel:problem:malformed-request");
	assert_string_equal(json_string_value(json_object_get(p, "request_id")), "test-req-1");
	assert_string_equal(json_string_value(json_object_get(p, "instance")), "/api/v1/things");
	const char *detail = json_string_value(json_object_get(p, "detail"));

	if (strstr(detail, needle) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", detail, needle);
	json_decref(p);
	req_free(req);
}

static void
bodies_rejected_as_malformed(void **state)
{
	(void)state;
	expect_malformed(BODY(""), "must be a JSON object");
	expect_malformed(BODY("[1,2]"), "must be a JSON object");
	expect_malformed(BODY("\"str\""), "must be a JSON object");
	expect_malformed(BODY("{"), "not valid JSON");
	expect_malformed(BODY("{\"a\":1} trailing"), "not valid JSON");
	expect_malformed(BODY("{\"a\":1,\"a\":2}"), "duplicate");
	expect_malformed(BODY("{\"a\":\"x\\u0000y\"}"), "not valid JSON");
	expect_malformed(BODY("{\"a\":\"\xff\"}"), "not valid JSON");
	expect_malformed(BODY("{\"a\":123456789012345678901234567890}"), "not valid JSON");
	expect_malformed(BODY("{\"a\":1}\x00"), "not valid JSON");

	/* nesting far beyond jansson's depth limit fails cleanly */
	size_t depth = 10000;
	char *deep = malloc(2 * depth + 16);
	size_t n = 0;

	n += (size_t)sprintf(deep, "{\"a\":");
	for (size_t i = 0; i < depth; i++)
		deep[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	expect_malformed(req_with_body(deep, n), "not valid JSON");
	free(deep);
}

static bool
is_lower(const char *s)
{
	for (; *s; s++)
		if (*s < 'a' || *s > 'z')
			return false;
	return true;
}

static const char *const colors[] = {"red", "green", NULL};
static const keel_field_spec spec[] = {
    {.name = "name", .type = KEEL_F_STRING, .required = true, .trim = true, .min = 1, .max = 5},
    {.name = "code",
     .type = KEEL_F_STRING,
     .min = 1,
     .max = 10,
     .check = is_lower,
     .check_msg = "must be lowercase letters"},
    {.name = "count", .type = KEEL_F_INTEGER, .min = 1, .max = 10},
    {.name = "flag", .type = KEEL_F_BOOLEAN},
    {.name = "settings", .type = KEEL_F_OBJECT, .max = 20},
    {.name = "parent_id", .type = KEEL_F_UUID, .nullable = true},
    {.name = "color", .type = KEEL_F_ENUM, .choices = colors},
    {.name = "tags", .type = KEEL_F_ARRAY, .min = 1, .max = 2},
};

static size_t
check(const char *body, keel_req **out)
{
	keel_req *req = req_with_body(body, strlen(body));
	json_t *obj;

	assert_int_equal(keel_req_json_body(req, &obj), KEEL_OK);
	size_t n = keel_json_check(obj, spec, KEEL_NELEM(spec), keel_req_errors(req));

	*out = req;
	return n;
}

/* The field errors of req as "field: message" lines joined by '|'. */
static char *
errors_of(keel_req *req)
{
	keel_buf b;

	keel_buf_init(&b, req->arena);
	for (size_t i = 0; req->field_errors && i < json_array_size(req->field_errors); i++) {
		json_t *e = json_array_get(req->field_errors, i);

		keel_buf_printf(&b, "%s%s: %s", i ? "|" : "",
		                json_string_value(json_object_get(e, "field")),
		                json_string_value(json_object_get(e, "message")));
	}
	return b.data;
}

static void
expect_errors(const char *body, const char *want)
{
	keel_req *req;

	check(body, &req);
	assert_string_equal(errors_of(req), want);
	req_free(req);
}

static void
field_validation(void **state)
{
	(void)state;
	keel_req *req;

	assert_int_equal(check("{\"name\":\"  abc \", \"code\":\"xy\", \"count\":3, \"flag\":true,"
	                       " \"settings\":{\"a\":1}, \"parent_id\":null, \"color\":\"red\"}",
	                       &req),
	                 0);
	req_free(req);

	expect_errors("{}", "name: is required");
	expect_errors("{\"name\":\"\"}", "name: must not be empty");
	expect_errors("{\"name\":\"   \"}", "name: must not be empty");
	expect_errors("{\"name\":\"abcdef\"}", "name: must be at most 5 characters");
	expect_errors("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
	              ""); /* 5 chars, 10 bytes */
	expect_errors("{\"name\":5}", "name: must be a string");
	expect_errors("{\"name\":null}", "name: must not be null");
	expect_errors("{\"name\":\"a\",\"extra\":1}", "extra: is not a known field");
	expect_errors("{\"name\":\"a\",\"code\":\"ABC\"}", "code: must be lowercase letters");
	expect_errors("{\"name\":\"a\",\"count\":11}", "count: must be between 1 and 10");
	expect_errors("{\"name\":\"a\",\"count\":1.5}", "count: must be an integer");
	expect_errors("{\"name\":\"a\",\"flag\":\"yes\"}", "flag: must be a boolean");
	expect_errors("{\"name\":\"a\",\"settings\":[]}", "settings: must be an object");
	expect_errors("{\"name\":\"a\",\"settings\":{\"long\":\"0123456789abcdef\"}}",
	              "settings: must be at most 20 bytes as JSON");
	expect_errors("{\"name\":\"a\",\"parent_id\":\"nope\"}", "parent_id: must be a UUID");
	expect_errors("{\"name\":\"a\",\"color\":\"blue\"}",
	              "color: must be one of the allowed values");
	expect_errors("{\"x\":1,\"name\":7}", "x: is not a known field|name: must be a string");
	expect_errors("{\"name\":\"a\",\"tags\":[1,\"b\"]}", "");
	expect_errors("{\"name\":\"a\",\"tags\":[]}", "tags: must have 1 to 2 items");
	expect_errors("{\"name\":\"a\",\"tags\":[1,2,3]}", "tags: must have 1 to 2 items");
	expect_errors("{\"name\":\"a\",\"tags\":{}}", "tags: must be an array");
}

static void
trimmed_value_replaces_original(void **state)
{
	(void)state;
	keel_req *req = BODY("{\"name\":\"  ab  \"}");
	json_t *obj;

	assert_int_equal(keel_req_json_body(req, &obj), KEEL_OK);
	assert_int_equal(keel_json_check(obj, spec, KEEL_NELEM(spec), keel_req_errors(req)), 0);
	assert_string_equal(json_string_value(json_object_get(obj, "name")), "ab");
	req_free(req);
}

static void
validation_problem_has_errors(void **state)
{
	(void)state;
	keel_req *req;

	check("{\"name\":\"\", \"bogus\":true}", &req);
	keel_req_fail(req, KEEL_EINVAL, NULL, "request body is invalid");
	json_t *p = rendered(req);

	assert_int_equal(req->status, 422);
	json_t *errs = json_object_get(p, "errors");

	assert_int_equal(json_array_size(errs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "field")),
	                    "bogus");
	json_decref(p);
	req_free(req);
}

/* keel_json_check needs no request: a JSON array collects the errors, counted. */
static void
validation_without_a_request(void **state)
{
	(void)state;
	json_t *errors = json_array();
	json_t *obj = json_pack("{s:s, s:i}", "name", " abcdefg ", "count", 0);

	keel_field_error(errors, "earlier", "is %s", "kept");
	assert_int_equal(keel_json_check(obj, spec, KEEL_NELEM(spec), errors), 2);
	char *text = json_dumps(errors, JSON_COMPACT);

	assert_string_equal(text, "[{\"field\":\"earlier\",\"message\":\"is kept\"},"
	                          "{\"field\":\"name\",\"message\":\"must be at most 5 characters\"},"
	                          "{\"field\":\"count\",\"message\":\"must be between 1 and 10\"}]");
	assert_string_equal(json_string_value(json_object_get(obj, "name")), "abcdefg"); /* trimmed */
	free(text);
	json_decref(obj);
	json_decref(errors);
}

static const keel_body thing_body = KEEL_BODY("Thing", spec);
static const keel_route thing_route = {
    .method = "POST", .path = "/api/v1/things", .flags = KEEL_ROUTE_BODY, .body = &thing_body};

/* keel_req_check_body: the route's fields, and a 422 whose errors are the collector's. */
static void
body_check_fails_with_422(void **state)
{
	(void)state;
	keel_req *req = BODY("{\"name\":\"ab\",\"count\":99}");
	json_t *obj;

	req->match.route = &thing_route;
	assert_int_equal(keel_req_json_body(req, &obj), KEEL_OK);
	assert_int_equal(keel_req_check_body(req, obj, "the thing is invalid"), KEEL_EINVAL);
	problem_render(req);
	assert_int_equal(req->status, 422);
	assert_string_equal(
	    req->resp_body,
	    "{\"type\":\"urn:keel:problem:validation-failed\",\"title\":\"Unprocessable Content\","
	    "\"status\":422,\"detail\":\"the thing is invalid\",\"instance\":\"/api/v1/things\","
	    "\"request_id\":\"test-req-1\",\"errors\":[{\"field\":\"count\",\"message\":"
	    "\"must be between 1 and 10\"}]}");
	req_free(req);

	req = BODY("{\"name\":\"ab\"}");
	req->match.route = &thing_route;
	assert_int_equal(keel_req_json_body(req, &obj), KEEL_OK);
	assert_int_equal(keel_req_check_body(req, obj, "the thing is invalid"), KEEL_OK);
	assert_false(keel_req_answered(req));
	/* a later failure without field errors has no "errors" (the empty collector is dropped) */
	keel_req_fail(req, KEEL_ECONFLICT, NULL, "taken");
	problem_render(req);
	assert_null(strstr(req->resp_body, "errors"));
	req_free(req);
}

static void
internal_errors_hide_detail(void **state)
{
	(void)state;
	keel_req *req = BODY("");

	int devnull = open("/dev/null", O_WRONLY);

	keel_log_set_fd(devnull); /* keep the test output clean */
	keel_req_fail(req, KEEL_EINTERNAL, NULL, "SELECT secret FROM pg_shadow failed");
	json_t *p = rendered(req);

	assert_int_equal(req->status, 500);
	assert_null(strstr(req->resp_body, "pg_shadow"));
	assert_null(strstr(req->resp_body, "SELECT"));
	assert_string_equal(json_string_value(json_object_get(p, "request_id")), "test-req-1");
	json_decref(p);
	req_free(req);
	keel_log_set_fd(STDERR_FILENO);
	close(devnull);
}

static void
status_headers(void **state)
{
	(void)state;
	static const struct {
		keel_err err;
		int status;
		const char *header;
	} cases[] = {
	    {KEEL_EUNAUTH, 401, "WWW-Authenticate"},
	    {KEEL_EUNAVAIL, 503, "Retry-After"},
	    {KEEL_ELIMIT, 429, "Retry-After"},
	    {KEEL_ENOTFOUND, 404, NULL},
	    {KEEL_ECONFLICT, 409, NULL},
	    {KEEL_EDENIED, 403, NULL},
	    {KEEL_EPRECOND, 412, NULL},
	    {KEEL_ETOOLARGE, 413, NULL},
	    {KEEL_EMEDIA, 415, NULL},
	    {KEEL_EMETHOD, 405, "Allow"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		keel_req *req = BODY("");

		keel_req_fail(req, cases[i].err, NULL, "x");
		problem_render(req);
		assert_int_equal(req->status, cases[i].status);
		bool found = false;

		for (header *h = req->headers; h; h = h->next)
			found = found || (cases[i].header && strcmp(h->name, cases[i].header) == 0);
		assert_true(found == (cases[i].header != NULL));
		req_free(req);
	}
}

static void
request_ids(void **state)
{
	(void)state;
	keel_req *req = req_new(NULL, "GET", "/");

	req_assign_id(req, "client.id-42_x");
	assert_string_equal(keel_req_id(req), "client.id-42_x");
	req_assign_id(req, "bad id with spaces");
	assert_int_equal(strlen(keel_req_id(req)), 36);
	char long_id[200];

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[199] = '\0';
	req_assign_id(req, long_id);
	assert_int_equal(strlen(keel_req_id(req)), 36);
	req_assign_id(req, NULL);
	assert_int_equal(strlen(keel_req_id(req)), 36);
	req_free(req);
}

int
main(void)
{
	json_set_alloc_funcs(malloc, free);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bodies_rejected_as_malformed),
	    cmocka_unit_test(field_validation),
	    cmocka_unit_test(trimmed_value_replaces_original),
	    cmocka_unit_test(validation_problem_has_errors),
	    cmocka_unit_test(validation_without_a_request),
	    cmocka_unit_test(body_check_fails_with_422),
	    cmocka_unit_test(internal_errors_hide_detail),
	    cmocka_unit_test(status_headers),
	    cmocka_unit_test(request_ids),
	};

	return cmocka_run_group_tests_name("http_json", tests, NULL, NULL);
}
