/* CSV text (RFC 4180); see csv.h. */
#include "core/csv.h"

#include <string.h>

bool
keel_csv_guarded(const char *s, size_t n)
{
	static const char lead[] = "=+-@\t\r'";

	return n > 0 && memchr(lead, s[0], sizeof(lead) - 1) != NULL;
}

static bool
needs_quotes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

/* The field's bytes, after prefix (NULL: none), quoted when it must be. */
static void
put(keel_buf *b, bool first, const char *prefix, const char *s, size_t n)
{
	bool quote = needs_quotes(s, n);

	if (!first)
		keel_buf_append(b, ",", 1);
	if (quote)
		keel_buf_append(b, "\"", 1);
	if (prefix != NULL)
		keel_buf_puts(b, prefix);
	size_t start = 0;

	for (size_t i = 0; quote && i < n; i++) {
		if (s[i] != '"')
			continue;
		keel_buf_append(b, s + start, i + 1 - start);
		keel_buf_append(b, "\"", 1); /* doubled */
		start = i + 1;
	}
	if (n > start)
		keel_buf_append(b, s + start, n - start);
	if (quote)
		keel_buf_append(b, "\"", 1);
}

void
keel_csv_field(keel_buf *b, bool first, const char *s, size_t n)
{
	put(b, first, NULL, s, n);
}

void
keel_csv_text(keel_buf *b, bool first, const char *s, size_t n)
{
	put(b, first, keel_csv_guarded(s, n) ? "'" : NULL, s, n);
}

void
keel_csv_end(keel_buf *b)
{
	keel_buf_append(b, "\r\n", 2);
}
