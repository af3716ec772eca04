/*
 * GET /api/v1/audit-logs: the caller's tenant's audit log, newest first.
 *
 * parse the filters (each a precise 400 when malformed) -> the page as its
 * transaction's only statement (row-level security keeps it to the tenant)
 * -> render the JSON text PostgreSQL produced.  Timestamps given as RFC 3339
 * are parsed here and passed on as UTC text with microseconds, so
 * PostgreSQL never sees a form it might read differently.  The cursor is the
 * (occurred_at, id) of a page's last item: kind 0x02 of the generic cursor
 * codec (svc/page.c), 8 bytes of microseconds since the epoch (big-endian)
 * and the 16 bytes of the id.
 */
#include "audit/audit_int.h"
#include "access/access.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "svc/svc.h"

#include <string.h>

#define CURSOR_KIND  0x02
#define CURSOR_BYTES 24

/*
 * The instants keel writes as RFC 3339 (keel_clock_format_us): years 0001 to 9999 in UTC.
 * A time outside them (a crafted cursor, or 0001-01-01T00:00:00+01:00) is a 400 here:
 * formatted, it would wrap around to another year.
 */
#define US_MIN (-62135596800LL * 1000000)     /* 0001-01-01T00:00:00Z */
#define US_MAX (253402300800LL * 1000000 - 1) /* 9999-12-31T23:59:59.999999Z */

/* The actions the log holds: row changes, and the events of auth.security_events. */
static const char *const actions[] = {"INSERT",
                                      "UPDATE",
                                      "DELETE",
                                      "SIGN_IN_SUCCEEDED",
                                      "SIGN_IN_FAILED",
                                      "SIGN_IN_THROTTLED",
                                      "REFRESH_REUSED",
                                      "PASSWORD_CHANGED",
                                      "PASSWORD_CHANGE_FAILED",
                                      "PASSWORD_CHANGE_THROTTLED",
                                      "SIGNED_OUT",
                                      NULL};

#define ACTION_RULE                                                                                \
	"INSERT, UPDATE, DELETE, SIGN_IN_SUCCEEDED, SIGN_IN_FAILED, SIGN_IN_THROTTLED,"                \
	" REFRESH_REUSED, PASSWORD_CHANGED, PASSWORD_CHANGE_FAILED, PASSWORD_CHANGE_THROTTLED"         \
	" or SIGNED_OUT"

/* A lowercase SQL identifier: [a-z_][a-z0-9_]*, at most 63 bytes. */
static bool
identifier_valid(const char *s, size_t len)
{
	if (len < 1 || len > 63 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* ?table=schema.table into f->schema and f->table. */
static keel_err
parse_table(keel_req *req, audit_filter *f)
{
	const char *t = keel_req_query(req, "table");

	if (t == NULL)
		return KEEL_OK;
	const char *dot = strchr(t, '.');

	if (dot == NULL || !identifier_valid(t, (size_t)(dot - t)) ||
	    !identifier_valid(dot + 1, strlen(dot + 1)))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "table must be schema.table, like org.organizations");
	f->schema = keel_arena_strndup(keel_req_arena(req), t, (size_t)(dot - t));
	f->table = dot + 1;
	return KEEL_OK;
}

/* A UUID query argument (NULL when absent); 400 when malformed. */
static keel_err
parse_uuid(keel_req *req, const char *name, const char **out)
{
	*out = keel_req_query(req, name);
	if (*out != NULL && !keel_uuid_valid(*out))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "%s must be a UUID", name);
	return KEEL_OK;
}

static keel_err
parse_action(keel_req *req, audit_filter *f)
{
	const char *a = keel_req_query(req, "action");

	if (a == NULL)
		return KEEL_OK;
	for (const char *const *c = actions; *c != NULL; c++) {
		if (strcmp(a, *c) == 0) {
			f->action = a;
			return KEEL_OK;
		}
	}
	return keel_req_fail(req, KEEL_EMALFORMED, NULL, "action must be one of " ACTION_RULE);
}

/* An RFC 3339 query argument as UTC text with microseconds; *us gets its value. */
static keel_err
parse_time(keel_req *req, const char *name, const char **out, int64_t *us)
{
	const char *t = keel_req_query(req, name);

	*out = NULL;
	if (t == NULL)
		return KEEL_OK;
	if (!keel_clock_parse_rfc3339(t, us))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "%s must be an RFC 3339 date-time, like 2026-11-27T15:42:00Z", name);
	if (*us < US_MIN || *us > US_MAX)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "%s must be in the years 0001 to 9999 UTC",
		                     name);
	char *text = keel_arena_alloc(keel_req_arena(req), KEEL_RFC3339_US_LEN + 1);

	keel_clock_format_us(*us, text);
	*out = text;
	return KEEL_OK;
}

/* ?cursor= into f->before_at and f->before_id. */
static keel_err
parse_cursor(keel_req *req, audit_filter *f)
{
	unsigned char bin[CURSOR_BYTES];
	bool found;
	uint64_t us = 0;
	keel_uuid id;

	if (keel_svc_cursor_decode(req, CURSOR_KIND, bin, sizeof(bin), &found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (!found)
		return KEEL_OK;
	for (int i = 0; i < 8; i++)
		us = us << 8 | bin[i];
	if ((int64_t)us < US_MIN || (int64_t)us > US_MAX)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	memcpy(id.b, bin + 8, 16);
	char *at = keel_arena_alloc(keel_req_arena(req), KEEL_RFC3339_US_LEN + 1);
	char *text = keel_arena_alloc(keel_req_arena(req), KEEL_UUID_STRLEN + 1);

	keel_clock_format_us((int64_t)us, at);
	keel_uuid_format(&id, text);
	f->before_at = at;
	f->before_id = text;
	return KEEL_OK;
}

/* Every filter of the query string into f; fails the request with 400 at the first bad one. */
keel_err
parse_filter(keel_req *req, audit_filter *f)
{
	int64_t since = 0, until = 0;

	memset(f, 0, sizeof(*f));
	if (keel_svc_page_limit(req, &f->limit) != KEEL_OK || parse_cursor(req, f) != KEEL_OK ||
	    parse_table(req, f) != KEEL_OK || parse_uuid(req, "record_id", &f->record_id) != KEEL_OK ||
	    parse_uuid(req, "actor_id", &f->actor_id) != KEEL_OK || parse_action(req, f) != KEEL_OK ||
	    parse_time(req, "since", &f->since, &since) != KEEL_OK ||
	    parse_time(req, "until", &f->until, &until) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (f->since != NULL && f->until != NULL && since >= until)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "since must be before until");
	return KEEL_OK;
}

/* The cursor of a page that ended at (us, id), or NULL. */
static const char *
cursor_after(keel_req *req, int64_t us, const char *id)
{
	unsigned char bin[CURSOR_BYTES];
	keel_uuid u;

	if (id == NULL || !keel_uuid_parse(id, &u))
		return NULL;
	for (int i = 0; i < 8; i++)
		bin[i] = (unsigned char)((uint64_t)us >> (56 - 8 * i));
	memcpy(bin + 8, u.b, 16);
	return keel_svc_cursor_encode(req, CURSOR_KIND, bin, sizeof(bin));
}

static keel_err
audit_list(keel_req *req, void *ctx)
{
	keel_audit *audit = ctx;
	audit_filter f;
	keel_tx *tx;
	audit_page pg = {0};
	keel_err err;

	if ((err = parse_filter(req, &f)) != KEEL_OK ||
	    (err = keel_svc_tx(req, audit->pool, &tx)) != KEEL_OK)
		return err;
	keel_svc_list_begin(&pg.list, keel_req_arena(req));
	err = audit_store_list(tx, keel_req_arena(req), &f, &pg);
	const char *next = pg.list.count == f.limit ? cursor_after(req, pg.last_us, pg.last_id) : NULL;

	return keel_svc_finish(
	    req, tx, err, NULL,
	    (keel_svc_reply){.status = 200, .text = keel_svc_list_end(&pg.list, next)});
}

#define NULLABLE_STRING "{\"type\":[\"string\",\"null\"]}"

static const keel_schema audit_log_schema = {
    .name = "AuditLog",
    .json = "{\"type\":\"object\",\"required\":[\"id\",\"occurred_at\",\"actor_id\",\"action\","
            "\"table\","
            "\"record_id\"],\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
            "\"occurred_at\":{\"type\":\"string\",\"format\":\"date-time\"},\"actor_"
            "id\":" NULLABLE_STRING
            ",\"action\":{\"type\":\"string\"},\"table\":{\"type\":\"string\"},\"record_"
            "id\":" NULLABLE_STRING
            ",\"old\":{\"type\":[\"object\",\"null\"]},\"new\":{\"type\":[\"object\",\"null\"]},"
            "\"changed_fields\":{\"type\":[\"array\",\"null\"],\"items\":{\"type\":\"string\"}},"
            "\"request_id\":" NULLABLE_STRING ",\"trace_id\":" NULLABLE_STRING "}}"};

static const keel_param list_params[] = {
    KEEL_SVC_PAGE_PARAMS,
    {"table", "query",
     "{\"type\":\"string\",\"pattern\":\"^[a-z_][a-z0-9_]*\\\\.[a-z_][a-z0-9_]*$\"}",
     "schema.table of the audited row, like org.organizations"},
    {"record_id", "query", "{\"type\":\"string\",\"format\":\"uuid\"}", "Id of the audited row"},
    {"actor_id", "query", "{\"type\":\"string\",\"format\":\"uuid\"}", "The acting user"},
    {"action", "query", "{\"type\":\"string\"}", "One of " ACTION_RULE},
    {"since", "query", "{\"type\":\"string\",\"format\":\"date-time\"}", "Not before (RFC 3339)"},
    {"until", "query", "{\"type\":\"string\",\"format\":\"date-time\"}", "Before (RFC 3339)"},
    {0}};

static const keel_route routes[] = {
    {.method = "GET",
     .path = "/api/v1/audit-logs",
     .handler = audit_list,
     .min_role = KEEL_ROLE_ADMIN,
     .summary = "The tenant's audit log, newest first (?table=, ?record_id=, ?actor_id=, "
                "?action=, ?since=, ?until=, pagination)",
     .operation_id = "listAuditLogs",
     .reply = {200, KEEL_SHAPE_LIST, &audit_log_schema},
     .params = list_params},
};

void
keel_audit_routes(keel_router *r, keel_audit *audit)
{
	keel_router_add_all(r, routes, KEEL_NELEM(routes), audit);
}
