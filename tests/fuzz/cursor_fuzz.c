/*
 * Fuzz the opaque tokens keel hands out and takes back: pagination cursors
 * and ?limit= (src/svc/page.c), and refresh tokens (src/auth/token.c).
 *
 * The first byte is the cursor kind a list asks for; the second byte's low 6
 * bits (modulo 33) the payload length it asks for, and its top bits what the
 * rest of the input is: 00 a ?cursor= value, 1x a ?limit= value, 01 a refresh
 * token.  Query values are served through the request stand-in
 * (fuzz_http.h) as the server would.
 *
 * What must hold:
 *   - a cursor that decodes is canonical: encoding its kind and payload again
 *     gives the very same text, and that text decodes to the same payload
 *     (so one position has one spelling, and what keel hands out it takes
 *     back);
 *   - any payload keel encodes decodes back to itself;
 *   - for the id cursor of keel_svc_page (kind 1, 16 bytes) the position is
 *     a canonical UUID whose keel_svc_cursor() is the text again;
 *   - a cursor or limit that is refused fails the request with 400;
 *   - ?limit= is accepted exactly when it is decimal digits for 1..200;
 *   - a refresh token that decodes is canonical too, and any token keel
 *     encodes decodes back to the same tenant, id and secret.
 */
#include "fuzz_http.h"

#include <string.h>

#include "auth/auth_int.h"
#include "core/uuid.h"
#include "svc/svc.h"

#define CURSOR_ID 0x01 /* page.c's kind for lists in id order */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* A GET request whose only query argument is name=value. */
static keel_req *
req_with(fz_request *r, const char *name, const char *value)
{
	memset(r, 0, sizeof(*r));
	r->method = "GET";
	r->path = "/api/v1/things";
	r->args[0] = (fz_pair){name, value};
	r->nargs = 1;
	return fz_req_new(r);
}

static void
refused_check(keel_req *req, keel_err err, const char *what)
{
	FZ_CHECK(err == KEEL_EMALFORMED && req->state == REQ_ANSWERED && req->err == KEEL_EMALFORMED &&
	             problem_status(req->err) == 400,
	         "a refused %s does not fail the request with 400", what);
}

/* keel_svc_page's view of the same text: an id position, or the same refusal. */
static void
page_check(const char *text, bool decoded, const unsigned char *payload)
{
	fz_request r;
	keel_req *req = req_with(&r, "cursor", text);
	keel_page page;
	keel_err err = keel_svc_page(req, &page);

	FZ_CHECK((err == KEEL_OK) == decoded, "keel_svc_page and the decoder disagree");
	if (err == KEEL_OK) {
		keel_uuid u;

		FZ_CHECK(page.after != NULL && keel_uuid_parse(page.after, &u) &&
		             memcmp(u.b, payload, 16) == 0,
		         "the id position is not the cursor's payload");
		const char *again = keel_svc_cursor(req, page.after);

		FZ_CHECK(again != NULL && strcmp(again, text) == 0, "keel_svc_cursor(\"%s\") is \"%s\"",
		         page.after, again ? again : "(null)");
	} else {
		refused_check(req, err, "id cursor");
	}
	req_free(req);
}

static void
cursor_check(unsigned char kind, size_t len, const char *text)
{
	fz_request r;
	keel_req *req = req_with(&r, "cursor", text);
	unsigned char payload[KEEL_CURSOR_PAYLOAD_MAX], again[KEEL_CURSOR_PAYLOAD_MAX];
	bool found = false, found2 = false;
	keel_err err = keel_svc_cursor_decode(req, kind, payload, len, &found);

	if (err == KEEL_OK) {
		FZ_CHECK(found, "a cursor was given and not found");
		const char *enc = keel_svc_cursor_encode(req, kind, payload, len);

		FZ_CHECK(enc != NULL && strcmp(enc, text) == 0,
		         "cursor \"%s\" decodes, but its payload encodes as \"%s\"", text,
		         enc ? enc : "(null)");
		keel_req *req2 = req_with(&r, "cursor", enc);

		FZ_CHECK(keel_svc_cursor_decode(req2, kind, again, len, &found2) == KEEL_OK && found2 &&
		             memcmp(again, payload, len) == 0,
		         "a re-encoded cursor does not decode to its payload");
		req_free(req2);
	} else {
		refused_check(req, err, "cursor");
	}
	if (kind == CURSOR_ID && len == 16)
		page_check(text, err == KEEL_OK, payload);
	req_free(req);
}

/* The other direction: keel's encoding of any payload is taken back as it was. */
static void
encode_check(unsigned char kind, size_t len, const uint8_t *bytes, size_t n)
{
	unsigned char payload[KEEL_CURSOR_PAYLOAD_MAX] = {0}, back[KEEL_CURSOR_PAYLOAD_MAX];
	fz_request r;
	keel_req *req = req_with(&r, "unused", NULL);
	bool found = false;

	memcpy(payload, bytes, n < len ? n : len);
	const char *text = keel_svc_cursor_encode(req, kind, payload, len);
	keel_req *req2 = req_with(&r, "cursor", text);

	FZ_CHECK(keel_svc_cursor_decode(req2, kind, back, len, &found) == KEEL_OK && found &&
	             memcmp(back, payload, len) == 0,
	         "cursor \"%s\" made by keel is not taken back", text);
	req_free(req2);
	req_free(req);
}

static void
limit_check(const char *text)
{
	fz_request r;
	keel_req *req = req_with(&r, "limit", text);
	int limit = -1;
	keel_err err = keel_svc_page_limit(req, &limit);
	size_t digits = strspn(text, "0123456789");
	long long want = 0;

	/* the plain reading: decimal digits, 1..200, no sign, space or other character */
	for (size_t i = 0; i < digits && want <= KEEL_PAGE_MAX; i++)
		want = want * 10 + (text[i] - '0');
	bool ok = digits > 0 && text[digits] == '\0' && want >= 1 && want <= KEEL_PAGE_MAX;

	FZ_CHECK((err == KEEL_OK) == ok, "?limit=%s %s", text, ok ? "refused" : "accepted");
	if (ok)
		FZ_CHECK(limit == want, "?limit=%s read as %d", text, limit);
	else
		refused_check(req, err, "limit");
	req_free(req);
}

/* Refresh tokens: text -> token -> text is the identity, and token -> text -> token too. */
static void
refresh_check(const char *text, const uint8_t *bytes, size_t n)
{
	keel_arena *arena = keel_arena_create(0);
	refresh_token t, back;
	uint8_t raw[64] = {0};
	keel_uuid u;

	if (refresh_decode(text, &t)) {
		const char *again = refresh_encode(arena, &t);

		FZ_CHECK(strcmp(again, text) == 0, "refresh token \"%s\" decodes, but encodes as \"%s\"",
		         text, again);
	}
	memcpy(raw, bytes, n < sizeof(raw) ? n : sizeof(raw));
	memcpy(u.b, raw, 16);
	keel_uuid_format(&u, t.tenant_id);
	memcpy(u.b, raw + 16, 16);
	keel_uuid_format(&u, t.id);
	memcpy(t.secret, raw + 32, sizeof(t.secret));
	FZ_CHECK(refresh_decode(refresh_encode(arena, &t), &back) &&
	             strcmp(back.tenant_id, t.tenant_id) == 0 && strcmp(back.id, t.id) == 0 &&
	             memcmp(back.secret, t.secret, sizeof(t.secret)) == 0,
	         "a refresh token keel encoded does not decode to itself");
	keel_arena_destroy(arena);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned char kind = data[0];
	size_t len = (data[1] & 0x3F) % (KEEL_CURSOR_PAYLOAD_MAX + 1);
	char *text = malloc(size - 1);

	FZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	if (data[1] & 0x80) {
		limit_check(text);
	} else if (data[1] & 0x40) {
		refresh_check(text, data + 2, size - 2);
	} else {
		cursor_check(kind, len, text);
		encode_check(kind, len, data + 2, size - 2);
	}
	free(text);
	return 0;
}
