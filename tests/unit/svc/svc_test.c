/*
 * Unit tests for src/svc/svc.c's parts without a database: the version an
 * If-Match header asks for, the ETag of a resource, and how a store's error
 * becomes the request's answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kt_req.h"
#include "svc/svc.h"

/* keel_svc_if_match for If-Match: value (NULL: no header): the version, or "412" when refused. */
static char *
if_match(const char *value)
{
	const kt_pair h[] = {{"If-Match", value}, {NULL, NULL}};
	keel_req *req = kt_req("PATCH", "/api/v1/things/1", NULL, value != NULL ? h : NULL, NULL);
	const char *version = "unset";
	keel_err err = keel_svc_if_match(req, &version);
	char *out;

	if (err == KEEL_OK) {
		assert_int_equal(kt_req_failed_status(req), 0);
		out = strdup(version != NULL ? version : "(none)");
	} else {
		assert_int_equal(err, KEEL_EPRECOND);
		assert_int_equal(kt_req_failed_status(req), 412);
		assert_null(version);
		out = strdup("412");
	}
	kt_req_free(req);
	return out;
}

#define assert_if_match(value, want)                                                               \
	do {                                                                                           \
		char *v_ = if_match(value);                                                                \
		if (strcmp(v_, (want)) != 0)                                                               \
			fail_msg("If-Match: %s gave \"%s\", expected \"%s\"", (value) ? (value) : "(none)",    \
			         v_, (want));                                                                  \
		free(v_);                                                                                  \
	} while (0)

static void
if_match_absent_or_any_asks_for_no_version(void **state)
{
	(void)state;
	assert_if_match(NULL, "(none)");
	assert_if_match("*", "(none)");
}

static void
if_match_strong_etag_gives_its_digits(void **state)
{
	(void)state;
	assert_if_match("\"1\"", "1");
	assert_if_match("\"3\"", "3");
	assert_if_match("\"42\"", "42");
	assert_if_match("\"2147483647\"", "2147483647");
}

static void
if_match_that_no_version_can_match_asks_for_0(void **state)
{
	(void)state;
	assert_if_match("\"0\"", "0");
	assert_if_match("\"01\"", "0");
	assert_if_match("\"2147483648\"", "0");
	assert_if_match("\"9999999999\"", "0");
}

static void
if_match_of_any_other_shape_is_412(void **state)
{
	(void)state;
	const char *bad[] = {
	    "3",           "W/\"3\"", "\"\"", "\"3", "3\"",    "\"-3\"", "\"3 \"", "\"99999999999\"",
	    "\"3\",\"4\"", "\"a\"",   "",     "**",  "\"+3\"", NULL};

	for (const char *const *b = bad; *b != NULL; b++)
		assert_if_match(*b, "412");
}

static void
etag_is_the_quoted_version(void **state)
{
	(void)state;
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);
	json_t *resource = json_pack("{s:s, s:i}", "id", "x", "version", 17);

	keel_svc_etag(req, resource);
	assert_string_equal(kt_req_header_out(req, "ETag"), "\"17\"");
	json_decref(resource);
	kt_req_free(req);
}

/* keel_svc_fail(err, detail) on a fresh request: the status and detail it answers with. */
static void
fails_with(keel_err err, const char *detail, int status, const char *want_detail)
{
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);

	assert_int_equal(keel_svc_fail(req, err, detail), err);
	assert_int_equal(kt_req_failed_status(req), status);
	assert_non_null(req->detail);
	assert_string_equal(req->detail, want_detail);
	kt_req_free(req);
}

static void
store_errors_become_their_answers(void **state)
{
	(void)state;
	fails_with(KEEL_EUNAVAIL, "ignored", 503, "the database is unavailable; retry shortly");
	fails_with(KEEL_EINTERNAL, NULL, 500, "database error");
	fails_with(KEEL_EINTERNAL, "could not commit", 500, "could not commit");
	fails_with(KEEL_ENOTFOUND, "no such organization", 404, "no such organization");
	fails_with(KEEL_EPRECOND, NULL, 412, keel_err_name(KEEL_EPRECOND));
}

static void
an_answered_request_is_left_as_it_is(void **state)
{
	(void)state;
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);

	keel_req_fail(req, KEEL_EDENIED, NULL, "first");
	assert_int_equal(keel_svc_fail(req, KEEL_EUNAVAIL, NULL), KEEL_EUNAVAIL);
	assert_int_equal(req->err, KEEL_EDENIED);
	assert_string_equal(req->detail, "first");
	kt_req_free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(if_match_absent_or_any_asks_for_no_version),
	    cmocka_unit_test(if_match_strong_etag_gives_its_digits),
	    cmocka_unit_test(if_match_that_no_version_can_match_asks_for_0),
	    cmocka_unit_test(if_match_of_any_other_shape_is_412),
	    cmocka_unit_test(etag_is_the_quoted_version),
	    cmocka_unit_test(store_errors_become_their_answers),
	    cmocka_unit_test(an_answered_request_is_left_as_it_is),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
