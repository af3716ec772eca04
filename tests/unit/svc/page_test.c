/*
 * Unit tests for src/svc/page.c: ?limit= and the opaque ?cursor= codec, the
 * id cursor of lists in id order, and when a page has a next cursor (the list renderer:
 * list_test.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kt_req.h"
#include "svc/svc.h"

#define ID "018f2a4c-5b6d-7e8f-9a0b-1c2d3e4f5a6b"

/* A GET with one query argument name=value. */
static keel_req *
get_with(const char *name, const char *value)
{
	const kt_pair args[] = {{name, value}, {NULL, NULL}};

	return kt_req("GET", "/api/v1/things", args, NULL, NULL);
}

/* The limit ?limit=text gives: its value, or -400 when the request fails with 400. */
static int
limit_of(const char *text)
{
	keel_req *req = text != NULL ? get_with("limit", text) : kt_req("GET", "/", NULL, NULL, NULL);
	int limit = -1;
	keel_err err = keel_svc_page_limit(req, &limit);
	int status = kt_req_failed_status(req);

	kt_req_free(req);
	if (err != KEEL_OK) {
		assert_int_equal(err, KEEL_EMALFORMED);
		return -status;
	}
	assert_int_equal(status, 0);
	return limit;
}

static void
limit_takes_decimal_digits_from_1_to_200(void **state)
{
	(void)state;
	assert_int_equal(limit_of(NULL), KEEL_PAGE_DEFAULT);
	assert_int_equal(limit_of(NULL), 50);
	assert_int_equal(limit_of("1"), 1);
	assert_int_equal(limit_of("7"), 7);
	assert_int_equal(limit_of("200"), KEEL_PAGE_MAX);
	assert_int_equal(limit_of("0200"), 200);
}

static void
limit_refuses_anything_else_with_400(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",    "0", "201", "-1", "+5", " 5", "5 ", "5x", "0x10", "1e2", "99999999999999999999",
	    "2.5", NULL};

	for (const char *const *b = bad; *b != NULL; b++) {
		if (limit_of(*b) != -400)
			fail_msg("?limit=%s was not refused with 400", *b);
	}
}

/* Encode kind and payload, then decode the text as ?cursor= asking for kind and len. */
static keel_err
round_trip(unsigned char kind, const void *payload, size_t n, unsigned char want_kind,
           size_t want_len, unsigned char *out, bool *found, char **text)
{
	keel_req *enc = kt_req("GET", "/", NULL, NULL, NULL);
	const char *t = keel_svc_cursor_encode(enc, kind, payload, n);

	assert_non_null(t);
	*text = strdup(t);
	kt_req_free(enc);
	keel_req *dec = get_with("cursor", *text);
	keel_err err = keel_svc_cursor_decode(dec, want_kind, out, want_len, found);

	if (err != KEEL_OK)
		assert_int_equal(kt_req_failed_status(dec), 400);
	kt_req_free(dec);
	return err;
}

static void
cursor_decodes_to_what_was_encoded(void **state)
{
	(void)state;
	const unsigned char payload[5] = {0x00, 0xff, 0x10, 0x7f, 0x80};
	unsigned char out[5] = {0};
	bool found = false;
	char *text;

	assert_int_equal(round_trip(0x02, payload, 5, 0x02, 5, out, &found, &text), KEEL_OK);
	assert_true(found);
	assert_memory_equal(out, payload, 5);
	/* base64url without padding: 6 bytes are 8 characters of [A-Za-z0-9_-] */
	assert_int_equal(strlen(text), 8);
	assert_int_equal(
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 8);
	assert_string_equal(text, "AgD_EH-A");
	free(text);
}

static void
cursor_of_another_kind_or_length_is_400(void **state)
{
	(void)state;
	const unsigned char payload[4] = {1, 2, 3, 4};
	unsigned char out[8];
	bool found = true;
	char *text;

	assert_int_equal(round_trip(0x02, payload, 4, 0x03, 4, out, &found, &text), KEEL_EMALFORMED);
	assert_false(found);
	free(text);
	assert_int_equal(round_trip(0x02, payload, 4, 0x02, 3, out, &found, &text), KEEL_EMALFORMED);
	free(text);
	assert_int_equal(round_trip(0x02, payload, 4, 0x02, 5, out, &found, &text), KEEL_EMALFORMED);
	free(text);
}

/* ?cursor=text decoded as kind 0x02 with len bytes: KEEL_OK or the request's 400. */
static keel_err
decode(const char *text, size_t len)
{
	unsigned char out[KEEL_CURSOR_PAYLOAD_MAX + 1];
	bool found;
	keel_req *req = get_with("cursor", text);
	keel_err err = keel_svc_cursor_decode(req, 0x02, out, len, &found);

	if (err != KEEL_OK)
		assert_int_equal(kt_req_failed_status(req), 400);
	else
		assert_true(found);
	kt_req_free(req);
	return err;
}

static void
malformed_cursors_are_400(void **state)
{
	(void)state;
	assert_int_equal(decode("AgD_EH-A", 5), KEEL_OK);
	assert_int_equal(decode("AgD/EH+A", 5), KEEL_EMALFORMED); /* base64, not base64url */
	assert_int_equal(decode("AgD_EH-A==", 5), KEEL_EMALFORMED);
	assert_int_equal(decode("AgD_EH-", 5), KEEL_EMALFORMED);
	assert_int_equal(decode("", 5), KEEL_EMALFORMED);
	assert_int_equal(decode("AgD_EH-A!", 5), KEEL_EMALFORMED);
	/* longer than any cursor keel hands out */
	char *long_text = malloc(66);

	memset(long_text, 'A', 65);
	long_text[65] = '\0';
	assert_int_equal(decode(long_text, 32), KEEL_EMALFORMED);
	free(long_text);
	/* a payload past the maximum is never encoded */
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);
	unsigned char big[KEEL_CURSOR_PAYLOAD_MAX + 1] = {0};

	assert_null(keel_svc_cursor_encode(req, 0x02, big, sizeof(big)));
	assert_non_null(keel_svc_cursor_encode(req, 0x02, big, KEEL_CURSOR_PAYLOAD_MAX));
	kt_req_free(req);
}

static void
no_cursor_is_not_found(void **state)
{
	(void)state;
	unsigned char out[4];
	bool found = true;
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);

	assert_int_equal(keel_svc_cursor_decode(req, 0x02, out, sizeof(out), &found), KEEL_OK);
	assert_false(found);
	assert_int_equal(kt_req_failed_status(req), 0);
	kt_req_free(req);
}

static void
page_cursor_is_the_last_id(void **state)
{
	(void)state;
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);
	char *text = strdup(keel_svc_cursor(req, ID));

	assert_null(keel_svc_cursor(req, "not-a-uuid"));
	kt_req_free(req);
	const kt_pair args[] = {{"limit", "3"}, {"cursor", text}, {NULL, NULL}};
	keel_page page;

	req = kt_req("GET", "/", args, NULL, NULL);
	assert_int_equal(keel_svc_page(req, &page), KEEL_OK);
	assert_int_equal(page.limit, 3);
	assert_string_equal(page.after, ID);
	kt_req_free(req);
	/* the id cursor is kind 0x01: another kind's cursor of 16 bytes is refused */
	req = kt_req("GET", "/", NULL, NULL, NULL);
	const unsigned char other[16] = {0};
	char *foreign = strdup(keel_svc_cursor_encode(req, 0x02, other, sizeof(other)));

	kt_req_free(req);
	req = get_with("cursor", foreign);
	assert_int_equal(keel_svc_page(req, &page), KEEL_EMALFORMED);
	assert_int_equal(kt_req_failed_status(req), 400);
	kt_req_free(req);
	free(foreign);
	free(text);
}

static void
page_without_arguments_is_the_first_page(void **state)
{
	(void)state;
	keel_page page = {.limit = -1, .after = "x"};
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);

	assert_int_equal(keel_svc_page(req, &page), KEEL_OK);
	assert_int_equal(page.limit, KEEL_PAGE_DEFAULT);
	assert_null(page.after);
	kt_req_free(req);
}

static void
next_cursor_only_when_the_page_is_full(void **state)
{
	(void)state;
	keel_req *req = kt_req("GET", "/", NULL, NULL, NULL);
	keel_page page = {.limit = 2, .after = NULL};

	assert_string_equal(keel_svc_page_next(req, &page, 2, ID), keel_svc_cursor(req, ID));
	assert_null(keel_svc_page_next(req, &page, 1, ID));
	assert_null(keel_svc_page_next(req, &page, 0, NULL));
	kt_req_free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(limit_takes_decimal_digits_from_1_to_200),
	    cmocka_unit_test(limit_refuses_anything_else_with_400),
	    cmocka_unit_test(cursor_decodes_to_what_was_encoded),
	    cmocka_unit_test(cursor_of_another_kind_or_length_is_400),
	    cmocka_unit_test(malformed_cursors_are_400),
	    cmocka_unit_test(no_cursor_is_not_found),
	    cmocka_unit_test(page_cursor_is_the_last_id),
	    cmocka_unit_test(page_without_arguments_is_the_first_page),
	    cmocka_unit_test(next_cursor_only_when_the_page_is_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
