/*
 * Keyset pagination: ?limit= and an opaque ?cursor=.
 *
 * A cursor is base64url of a version byte and the last id of the previous
 * page (17 bytes).  It is only a position: every query that uses it runs in
 * the caller's tenant transaction, so a cursor taken from another tenant's
 * response positions the caller within its own rows and reveals nothing.  A
 * cursor that does not decode is a precise 400, never a crash.
 */
#include "svc/svc.h"
#include "core/uuid.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_VERSION 0x01
#define CURSOR_BYTES   17

keel_err
keel_svc_page(keel_req *req, keel_page *out)
{
	const char *limit = keel_req_query(req, "limit");
	const char *cursor = keel_req_query(req, "cursor");

	out->limit = KEEL_PAGE_DEFAULT;
	out->after = NULL;
	if (limit != NULL) {
		char *end;

		errno = 0;
		long n = strtol(limit, &end, 10);

		/* digits only: strtol alone would also take leading white space and a sign */
		if (errno != 0 || end == limit || *end != '\0' || n < 1 || n > KEEL_PAGE_MAX ||
		    limit[0] < '0' || limit[0] > '9')
			return keel_req_fail(req, KEEL_EMALFORMED, NULL,
			                     "limit must be an integer between 1 and %d", KEEL_PAGE_MAX);
		out->limit = (int)n;
	}
	if (cursor != NULL) {
		unsigned char bin[CURSOR_BYTES + 1];
		size_t len = 0;
		keel_uuid id;

		if (strlen(cursor) > 64 ||
		    sodium_base642bin(bin, sizeof(bin), cursor, strlen(cursor), NULL, &len, NULL,
		                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		    len != CURSOR_BYTES || bin[0] != CURSOR_VERSION)
			return keel_req_fail(req, KEEL_EMALFORMED, NULL, "cursor is invalid");
		char *text = keel_arena_alloc(keel_req_arena(req), KEEL_UUID_STRLEN + 1);

		memcpy(id.b, bin + 1, 16);
		keel_uuid_format(&id, text);
		out->after = text;
	}
	return KEEL_OK;
}

const char *
keel_svc_cursor(keel_req *req, const char *last_id)
{
	unsigned char bin[CURSOR_BYTES];
	keel_uuid id;

	if (!keel_uuid_parse(last_id, &id))
		return NULL;
	bin[0] = CURSOR_VERSION;
	memcpy(bin + 1, id.b, 16);
	size_t len = sodium_base64_ENCODED_LEN(CURSOR_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *text = keel_arena_alloc(keel_req_arena(req), len);

	sodium_bin2base64(text, len, bin, sizeof(bin), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return text;
}

json_t *
keel_svc_list(keel_req *req, json_t *data, const keel_page *page, const char *last_id)
{
	const char *next = NULL;

	if (json_array_size(data) == (size_t)page->limit && last_id != NULL)
		next = keel_svc_cursor(req, last_id);
	return json_pack("{s:o, s:s?}", "data", data, "next_cursor", next);
}
