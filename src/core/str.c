/*
 * Strings: arena buffers and the UTF-8 and token checks every input path uses.
 *
 * The UTF-8 check is the strict one of RFC 3629: it rejects overlong forms,
 * surrogates, code points past U+10FFFF and, because a NUL inside a field
 * would be cut short by C and by PostgreSQL, the NUL byte itself.
 */
#include "core/str.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void
keel_buf_init(keel_buf *b, keel_arena *a)
{
	b->arena = a;
	b->cap = 64;
	b->len = 0;
	b->data = keel_arena_alloc(a, b->cap);
	b->data[0] = '\0';
}

static void
buf_reserve(keel_buf *b, size_t extra)
{
	if (b->cap - b->len > extra)
		return;
	size_t cap = b->cap;

	while (cap - b->len <= extra)
		cap *= 2;
	char *data = keel_arena_alloc(b->arena, cap);

	memcpy(data, b->data, b->len + 1);
	b->data = data;
	b->cap = cap;
}

void
keel_buf_append(keel_buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
keel_buf_puts(keel_buf *b, const char *s)
{
	keel_buf_append(b, s, strlen(s));
}

void
keel_buf_printf(keel_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when ill-formed. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && s[1] >= 0x90)
			return 0; /* past U+10FFFF */
		return 4;
	}
	return 0;
}

bool
keel_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i);

		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

size_t
keel_utf8_length(const char *s, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

bool
keel_token_sane(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= max)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

char *
keel_str_trim(char *s)
{
	size_t len = strlen(s);
	size_t start = 0;

	while (len > 0 && strchr(" \t\r\n\f\v", s[len - 1]) != NULL)
		len--;
	while (start < len && strchr(" \t\r\n\f\v", s[start]) != NULL)
		start++;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	return s;
}

bool
keel_b64url_chars(const char *s)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	return s[strspn(s, alphabet)] == '\0';
}

int
keel_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
