/*
 * Fuzz the CSV writer (src/core/csv.c): whatever the fields, a reference RFC 4180 reader
 * written here reads the writer's text back into the same records and fields.
 *
 * The input's first byte chooses keel_csv_text() (odd) or keel_csv_field() (even); the rest
 * are records separated by the byte 0x1e, each of fields separated by 0x1f (any other byte,
 * NUL included, is field content).  The text written is checked to be: records each ended by
 * CRLF; a field quoted exactly when it holds a comma, quote, CR or LF; read back by the
 * reader to the same fields, with one leading single quote removed from a text field exactly
 * when keel_csv_guarded() said so.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "core/csv.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The reader's position in the text. */
typedef struct reader {
	const char *p, *end;
} reader;

static bool
special(char c)
{
	return c == ',' || c == '"' || c == '\r' || c == '\n';
}

/*
 * Read one field into out (*n bytes); *last: it ended its record (CRLF).  RFC 4180: a field
 * is quoted ("..." with "" for a quote, anything else inside) or unquoted (no comma, quote,
 * CR or LF).  False when the text is not that.
 */
static bool
read_field(reader *r, char *out, size_t *n, bool *last, bool *quoted)
{
	*n = 0;
	*quoted = r->p < r->end && *r->p == '"';
	if (*quoted) {
		for (r->p++;; r->p++) {
			if (r->p >= r->end)
				return false;
			if (*r->p == '"' && (r->p + 1 >= r->end || r->p[1] != '"'))
				break;
			if (*r->p == '"')
				r->p++;
			out[(*n)++] = *r->p;
		}
		r->p++;
	} else {
		for (; r->p < r->end && !special(*r->p); r->p++)
			out[(*n)++] = *r->p;
	}
	if (r->end - r->p >= 2 && r->p[0] == '\r' && r->p[1] == '\n') {
		r->p += 2;
		*last = true;
		return true;
	}
	*last = false;
	return r->p < r->end && *r->p++ == ',';
}

/* Field f (bytes [s, s+n)) read back as out[0..m): equal after the guard's quote. */
static void
check_field(bool text, const char *s, size_t n, const char *out, size_t m)
{
	bool guarded = text && keel_csv_guarded(s, n);

	if (guarded && (m == 0 || out[0] != '\''))
		fz_fail("a guarded field was read back without its leading quote");
	if (guarded) {
		out++;
		m--;
	}
	if (m != n || memcmp(s, out, n) != 0)
		fz_fail("a field was read back as other bytes (%zu in, %zu out)", n, m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	bool text = data[0] & 1;
	const char *in = (const char *)data + 1, *end = in + size - 1;
	keel_arena *a = keel_arena_create(0);
	keel_buf b;

	keel_buf_init(&b, a);
	/* write: every record, each field */
	for (const char *p = in, *f = in; p <= end; p++) {
		if (p < end && *p != 0x1e && *p != 0x1f)
			continue;
		(text ? keel_csv_text : keel_csv_field)(&b, f == in || f[-1] == 0x1e, f, (size_t)(p - f));
		if (p == end || *p == 0x1e)
			keel_csv_end(&b);
		f = p + 1;
	}
	/* read back and compare, field by field */
	reader r = {b.data, b.data + b.len};
	char *out = keel_arena_alloc(a, b.len + 1);

	for (const char *p = in, *f = in; p <= end; p++) {
		if (p < end && *p != 0x1e && *p != 0x1f)
			continue;
		size_t m;
		bool last, quoted, must = false;

		if (!read_field(&r, out, &m, &last, &quoted))
			fz_fail("the writer's text is not RFC 4180 at byte %zu", (size_t)(r.p - b.data));
		if (last != (p == end || *p == 0x1e))
			fz_fail("a record ended at the wrong field");
		check_field(text, f, (size_t)(p - f), out, m);
		for (const char *c = f; c < p; c++)
			must = must || special(*c);
		if (quoted != must)
			fz_fail("a field was quoted when it need not be, or not when it must");
		f = p + 1;
	}
	if (r.p != r.end)
		fz_fail("the text goes on after the last record");
	keel_arena_destroy(a);
	return 0;
}
