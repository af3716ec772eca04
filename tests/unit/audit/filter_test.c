/*
 * Unit tests for the audit log's query: the filters of GET /api/v1/audit-logs
 * (parse_filter in src/audit/audit_api.c), its cursor (kind 0x02: the
 * microseconds and id of a page's last item), and the statement and
 * parameters a filter binds (audit_store_list_stmt in src/audit/audit_store.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "audit/audit_int.h"
#include "core/uuid.h"
#include "kt_req.h"
#include "svc/svc.h"

#define ID  "018f2a4c-5b6d-7e8f-9a0b-1c2d3e4f5a6b"
#define ID2 "018f2a4c-5b6d-7e8f-9a0b-1c2d3e4f5a6c"

static keel_req *req; /* the request of the last parse */

/* parse_filter of ?name=value&... (pairs ending in NULL); kt_req_free(req) when done. */
static keel_err
parse(audit_filter *f, const kt_pair *args)
{
	req = kt_req("GET", "/api/v1/audit-logs", args, NULL, NULL);
	memset(f, 0x5a, sizeof(*f));
	keel_err err = parse_filter(req, f);

	if (err != KEEL_OK) {
		assert_int_equal(err, KEEL_EMALFORMED);
		assert_int_equal(kt_req_failed_status(req), 400);
	} else {
		assert_int_equal(kt_req_failed_status(req), 0);
	}
	return err;
}

/* Whether ?name=value alone is refused with 400. */
static bool
refused(const char *name, const char *value)
{
	audit_filter f;
	const kt_pair args[] = {{name, value}, {NULL, NULL}};
	bool no = parse(&f, args) == KEEL_EMALFORMED;

	kt_req_free(req);
	return no;
}

#define assert_refused(name, value)                                                                \
	do {                                                                                           \
		if (!refused((name), (value)))                                                             \
			fail_msg("?%s=%s was not refused with 400", (name), (value));                          \
	} while (0)

static void
no_arguments_filter_nothing(void **state)
{
	(void)state;
	audit_filter f;

	assert_int_equal(parse(&f, NULL), KEEL_OK);
	assert_int_equal(f.limit, KEEL_PAGE_DEFAULT);
	assert_null(f.schema);
	assert_null(f.table);
	assert_null(f.record_id);
	assert_null(f.actor_id);
	assert_null(f.action);
	assert_null(f.since);
	assert_null(f.until);
	assert_null(f.before_at);
	assert_null(f.before_id);
	kt_req_free(req);
}

static void
every_filter_is_taken(void **state)
{
	(void)state;
	audit_filter f;
	const kt_pair args[] = {{"table", "org.organizations"},
	                        {"record_id", ID},
	                        {"actor_id", ID2},
	                        {"action", "SIGN_IN_FAILED"},
	                        {"since", "2026-11-27T15:42:00+01:00"},
	                        {"until", "2026-11-27T15:42:00.5Z"},
	                        {"limit", "7"},
	                        {NULL, NULL}};

	assert_int_equal(parse(&f, args), KEEL_OK);
	assert_string_equal(f.schema, "org");
	assert_string_equal(f.table, "organizations");
	assert_string_equal(f.record_id, ID);
	assert_string_equal(f.actor_id, ID2);
	assert_string_equal(f.action, "SIGN_IN_FAILED");
	/* times go on as UTC with microseconds */
	assert_string_equal(f.since, "2026-11-27T14:42:00.000000Z");
	assert_string_equal(f.until, "2026-11-27T15:42:00.500000Z");
	assert_int_equal(f.limit, 7);
	kt_req_free(req);
}

static void
malformed_filters_are_400(void **state)
{
	(void)state;
	assert_refused("table", "organizations");
	assert_refused("table", "Org.organizations");
	assert_refused("table", "org.");
	assert_refused("table", ".organizations");
	assert_refused("table", "org.organi-zations");
	assert_refused("table", "1org.organizations");
	assert_refused("table", "org.organizations;drop");
	assert_refused("record_id", "not-a-uuid");
	assert_refused("actor_id", "018F2A4C-5B6D-7E8F-9A0B-1C2D3E4F5A6");
	assert_refused("action", "insert");
	assert_refused("action", "TRUNCATE");
	assert_refused("since", "2026-11-27");
	assert_refused("until", "yesterday");
	assert_refused("since", "0001-01-01T00:00:00+01:00"); /* before year 1 in UTC */
	assert_refused("limit", "0");
	assert_refused("cursor", "AgD_EH-A");
}

static void
an_identifier_has_at_most_63_bytes(void **state)
{
	(void)state;
	char table[80] = "org.";

	memset(table + 4, 'a', 63);
	table[67] = '\0';
	assert_false(refused("table", table));
	table[67] = 'a';
	table[68] = '\0';
	assert_true(refused("table", table));
}

static void
since_must_be_before_until(void **state)
{
	(void)state;
	audit_filter f;
	const kt_pair same[] = {
	    {"since", "2026-11-27T15:42:00Z"}, {"until", "2026-11-27T15:42:00Z"}, {NULL, NULL}};
	const kt_pair after[] = {
	    {"since", "2026-11-27T15:42:01Z"}, {"until", "2026-11-27T15:42:00Z"}, {NULL, NULL}};
	const kt_pair before[] = {
	    {"since", "2026-11-27T15:42:00Z"}, {"until", "2026-11-27T15:42:00.000001Z"}, {NULL, NULL}};

	assert_int_equal(parse(&f, same), KEEL_EMALFORMED);
	kt_req_free(req);
	assert_int_equal(parse(&f, after), KEEL_EMALFORMED);
	kt_req_free(req);
	assert_int_equal(parse(&f, before), KEEL_OK);
	kt_req_free(req);
}

/* The cursor text of (us, id) as keel hands it out: kind 0x02, us big-endian, the id's bytes. */
static char *
cursor(uint64_t us, const char *id)
{
	unsigned char bin[24];
	keel_uuid u;

	assert_true(keel_uuid_parse(id, &u));
	for (int i = 0; i < 8; i++)
		bin[i] = (unsigned char)(us >> (56 - 8 * i));
	memcpy(bin + 8, u.b, 16);
	keel_req *r = kt_req("GET", "/", NULL, NULL, NULL);
	char *text = strdup(keel_svc_cursor_encode(r, 0x02, bin, sizeof(bin)));

	kt_req_free(r);
	return text;
}

static void
cursor_is_the_time_and_id_of_the_last_item(void **state)
{
	(void)state;
	audit_filter f;
	/* 2026-11-27T15:42:00.123456Z */
	char *text = cursor(1795794120123456ULL, ID);
	const kt_pair args[] = {{"cursor", text}, {NULL, NULL}};

	assert_int_equal(parse(&f, args), KEEL_OK);
	assert_string_equal(f.before_at, "2026-11-27T15:42:00.123456Z");
	assert_string_equal(f.before_id, ID);
	kt_req_free(req);
	free(text);
}

static void
cursor_outside_the_years_keel_writes_is_400(void **state)
{
	(void)state;
	/* 9999-12-31T23:59:59.999999Z is the last; one microsecond later is refused */
	char *last = cursor(253402300800ULL * 1000000 - 1, ID);
	char *past = cursor(253402300800ULL * 1000000, ID);
	char *negative = cursor((uint64_t)INT64_MIN, ID);

	assert_false(refused("cursor", last));
	assert_true(refused("cursor", past));
	assert_true(refused("cursor", negative));
	free(last);
	free(past);
	free(negative);
}

/* audit_store_list_stmt's statement name and parameters for f. */
static const char *
stmt_of(const audit_filter *f, const char *p[10], char lim[16])
{
	return audit_store_list_stmt(f, lim, p)->name;
}

static void
statement_follows_the_most_selective_filter(void **state)
{
	(void)state;
	const char *p[10];
	char lim[16];
	audit_filter none = {.limit = 5};
	audit_filter record = {.record_id = ID, .actor_id = ID2, .limit = 5};
	audit_filter actor = {.actor_id = ID2, .limit = 5};

	assert_string_equal(stmt_of(&none, p, lim), "audit_list");
	assert_string_equal(stmt_of(&record, p, lim), "audit_list_record");
	assert_string_equal(stmt_of(&actor, p, lim), "audit_list_actor");
}

static void
open_bounds_are_infinite_and_the_limit_is_text(void **state)
{
	(void)state;
	const char *p[10];
	char lim[16];
	audit_filter f = {.schema = "org", .table = "divisions", .action = "DELETE", .limit = 37};

	stmt_of(&f, p, lim);
	assert_string_equal(p[0], "-infinity");
	assert_string_equal(p[1], "infinity");
	assert_string_equal(p[2], "infinity");
	assert_string_equal(p[3], "ffffffff-ffff-ffff-ffff-ffffffffffff");
	assert_string_equal(p[4], "org");
	assert_string_equal(p[5], "divisions");
	assert_null(p[6]);
	assert_null(p[7]);
	assert_string_equal(p[8], "DELETE");
	assert_ptr_equal(p[9], lim);
	assert_string_equal(lim, "37");

	audit_filter g = {.since = "a", .until = "b", .before_at = "c", .before_id = ID, .limit = 1};

	stmt_of(&g, p, lim);
	assert_string_equal(p[0], "a");
	assert_string_equal(p[1], "b");
	assert_string_equal(p[2], "c");
	assert_string_equal(p[3], ID);
	assert_string_equal(lim, "1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(no_arguments_filter_nothing),
	    cmocka_unit_test(every_filter_is_taken),
	    cmocka_unit_test(malformed_filters_are_400),
	    cmocka_unit_test(an_identifier_has_at_most_63_bytes),
	    cmocka_unit_test(since_must_be_before_until),
	    cmocka_unit_test(cursor_is_the_time_and_id_of_the_last_item),
	    cmocka_unit_test(cursor_outside_the_years_keel_writes_is_400),
	    cmocka_unit_test(statement_follows_the_most_selective_filter),
	    cmocka_unit_test(open_bounds_are_infinite_and_the_limit_is_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
