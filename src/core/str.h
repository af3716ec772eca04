/*
 * Strings: a growable buffer in an arena, UTF-8 checks, token checks.
 */
#ifndef KEEL_CORE_STR_H
#define KEEL_CORE_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

/* A byte buffer grown inside an arena; data is always NUL-terminated. */
typedef struct keel_buf {
	keel_arena *arena;
	char *data;
	size_t len;
	size_t cap;
} keel_buf;

void keel_buf_init(keel_buf *b, keel_arena *a);
void keel_buf_append(keel_buf *b, const void *p, size_t n);
void keel_buf_puts(keel_buf *b, const char *s);
__attribute__((format(printf, 2, 3))) void keel_buf_printf(keel_buf *b, const char *fmt, ...);

/* The value of hex digit c (either case), or -1. */
int keel_hex_digit(char c);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or NULs). */
bool keel_utf8_valid(const char *s, size_t n);

/* Number of code points in well-formed UTF-8 s[0..n). */
size_t keel_utf8_length(const char *s, size_t n);

/*
 * True when s is made only of base64url's 64 characters.  Check before
 * libsodium's decoder (1.0.18), which reads every byte from 0x80 up as '_':
 * one token or cursor would otherwise have many spellings.
 */
bool keel_b64url_chars(const char *s);

/* True when s is 1..max characters of [A-Za-z0-9._-] (request ids, keys). */
bool keel_token_sane(const char *s, size_t max);

/* Trim ASCII whitespace from both ends, in place; returns s. */
char *keel_str_trim(char *s);

#endif
