/*
 * Keyset pagination: ?limit= and an opaque ?cursor=.
 *
 * A cursor is base64url of a kind byte and a fixed-size payload: kind 0x01
 * is the last id of the previous page (lists in id order); other modules
 * define their own kinds (the audit log's is a timestamp and an id) through
 * keel_svc_cursor_encode/_decode, so there is one codec.  A cursor is only a
 * position: every query that uses it runs in the caller's tenant
 * transaction, so a cursor taken from another tenant's response positions
 * the caller within its own rows and reveals nothing.  A cursor that does
 * not decode, or is of another kind, is a precise 400, never a crash.
 */
#include "svc/svc.h"
#include "core/str.h"
#include "core/uuid.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_ID      0x01 /* kind: the last id of a page in id order */
#define CURSOR_MAX_LEN 64   /* characters of ?cursor= accepted */

keel_err
keel_svc_page_limit(keel_req *req, int *limit)
{
	const char *text = keel_req_query(req, "limit");
	char *end;

	*limit = KEEL_PAGE_DEFAULT;
	if (text == NULL)
		return KEEL_OK;
	errno = 0;
	long n = strtol(text, &end, 10);

	/* digits only: strtol alone would also take leading white space and a sign */
	if (errno != 0 || end == text || *end != '\0' || n < 1 || n > KEEL_PAGE_MAX || text[0] < '0' ||
	    text[0] > '9')
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "limit must be an integer between 1 and %d", KEEL_PAGE_MAX);
	*limit = (int)n;
	return KEEL_OK;
}

keel_err
keel_svc_cursor_decode(keel_req *req, unsigned char kind, void *payload, size_t len, bool *found)
{
	const char *cursor = keel_req_query(req, "cursor");
	unsigned char bin[KEEL_CURSOR_PAYLOAD_MAX + 2];
	size_t got = 0;

	*found = false;
	if (cursor == NULL)
		return KEEL_OK;
	if (len > KEEL_CURSOR_PAYLOAD_MAX || strlen(cursor) > CURSOR_MAX_LEN ||
	    !keel_b64url_chars(cursor) ||
	    sodium_base642bin(bin, sizeof(bin), cursor, strlen(cursor), NULL, &got, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    got != len + 1 || bin[0] != kind)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
	memcpy(payload, bin + 1, len);
	*found = true;
	return KEEL_OK;
}

const char *
keel_svc_cursor_encode(keel_req *req, unsigned char kind, const void *payload, size_t len)
{
	unsigned char bin[KEEL_CURSOR_PAYLOAD_MAX + 1];

	if (len > KEEL_CURSOR_PAYLOAD_MAX)
		return NULL;
	bin[0] = kind;
	memcpy(bin + 1, payload, len);
	size_t size = sodium_base64_ENCODED_LEN(len + 1, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *text = keel_arena_alloc(keel_req_arena(req), size);

	sodium_bin2base64(text, size, bin, len + 1, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return text;
}

keel_err
keel_svc_page(keel_req *req, keel_page *out)
{
	keel_uuid id;
	bool found;

	out->after = NULL;
	if (keel_svc_page_limit(req, &out->limit) != KEEL_OK ||
	    keel_svc_cursor_decode(req, CURSOR_ID, id.b, sizeof(id.b), &found) != KEEL_OK)
		return KEEL_EMALFORMED;
	if (found) {
		char *text = keel_arena_alloc(keel_req_arena(req), KEEL_UUID_STRLEN + 1);

		keel_uuid_format(&id, text);
		out->after = text;
	}
	return KEEL_OK;
}

const char *
keel_svc_cursor(keel_req *req, const char *last_id)
{
	keel_uuid id;

	if (!keel_uuid_parse(last_id, &id))
		return NULL;
	return keel_svc_cursor_encode(req, CURSOR_ID, id.b, sizeof(id.b));
}

const char *
keel_svc_page_next(keel_req *req, const keel_page *page, int count, const char *last_id)
{
	return count == page->limit && last_id != NULL ? keel_svc_cursor(req, last_id) : NULL;
}

void
keel_svc_list_begin(keel_svc_list *l, keel_arena *a)
{
	keel_buf_init(&l->out, a);
	keel_buf_puts(&l->out, "{\"data\":[");
	l->count = 0;
}

void
keel_svc_list_add(keel_svc_list *l, const char *json)
{
	size_t len = strlen(json), at;

	if (l->count++ > 0)
		keel_buf_append(&l->out, ",", 1);
	at = l->out.len;
	keel_buf_append(&l->out, json, len); /* the room; the compact text goes over it */
	l->out.len = at + keel_db_json_compact(l->out.data + at, json, len);
}

/* json_dump_callback's sink: the list's buffer. */
static int
list_put(const char *buffer, size_t size, void *data)
{
	keel_buf_append(data, buffer, size);
	return 0;
}

void
keel_svc_list_add_json(keel_svc_list *l, const json_t *item)
{
	if (l->count++ > 0)
		keel_buf_append(&l->out, ",", 1);
	json_dump_callback(item, list_put, &l->out, JSON_COMPACT);
}

const char *
keel_svc_list_end(keel_svc_list *l, const char *next_cursor)
{
	keel_buf_printf(&l->out, "],\"next_cursor\":%s%s%s}", next_cursor ? "\"" : "",
	                next_cursor ? next_cursor : "null", next_cursor ? "\"" : "");
	return l->out.data;
}

keel_err
keel_svc_list_json(keel_req *req, json_t *data, const keel_page *page, const char *last_id)
{
	keel_svc_list l;
	size_t i;
	json_t *item;

	keel_svc_list_begin(&l, keel_req_arena(req));
	json_array_foreach(data, i, item)
	{
		keel_svc_list_add_json(&l, item);
	}
	json_decref(data);
	const char *text = keel_svc_list_end(&l, keel_svc_page_next(req, page, l.count, last_id));

	return keel_req_send(req, 200, "application/json", text, l.out.len);
}
