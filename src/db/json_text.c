/*
 * JSON text PostgreSQL rendered, in the one style of keel's bodies.
 *
 * Rows leave PostgreSQL already rendered as JSON (json_build_object, jsonb
 * columns), but not in jansson's compact style that every other body has:
 * json_build_object() writes {"id" : "...", "n" : 1} and jsonb {"a": 1}.
 * Every PostgreSQL-rendered body passes through keel_db_json_compact() on
 * its way out (keel_res_json() for one row, the list renderer of src/svc for
 * pages, the outbox for events), so there is one style, made in one place.
 *
 * It is a single pass that drops white space outside strings; it does not
 * parse.  That is enough because its input is valid JSON written by
 * PostgreSQL: outside strings, white space is never significant, and a
 * string ends at the first quote that is not escaped.  Strings are copied
 * eight bytes at a time up to their next quote or backslash, so the pass
 * costs little more than the copy it replaces (bench/instr).
 */
#include "db/db.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <string.h>

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * The bytes of v that are zero, as their high bits (exact up to the first zero byte, which
 * is all that is used: the lowest set bit).
 */
static inline uint64_t
zero_bytes(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

/*
 * Copy the rest of a string (its opening quote already copied) through its closing quote,
 * escapes as they are.  Eight bytes at a time: a word is stored whole and d advanced up to
 * its first quote or backslash (little-endian: the lowest marked byte), which the byte loop
 * then takes.  Returns where src continues; *dst advanced.
 */
static const char *
copy_string(char **dst, const char *s, const char *end)
{
	char *d = *dst;

	for (;;) {
		while (end - s >= 8) {
			uint64_t v;

			memcpy(&v, s, sizeof(v));
			memcpy(d, &v, sizeof(v));
			uint64_t mark = zero_bytes(v ^ (ONES * '"')) | zero_bytes(v ^ (ONES * '\\'));

			if (mark == 0) {
				s += 8;
				d += 8;
				continue;
			}
			int skip = __builtin_ctzll(mark) / 8;

			s += skip;
			d += skip;
			break;
		}
		if (s >= end)
			break;
		char c = *s++;

		*d++ = c;
		if (c == '"')
			break;
		if (c == '\\' && s < end)
			*d++ = *s++;
	}
	*dst = d;
	return s;
}

size_t
keel_db_json_compact(char *dst, const char *src, size_t len)
{
	const char *s = src, *end = src + len;
	char *d = dst;

	while (s < end) {
		char c = *s++;

		if (c == '"') {
			*d++ = c;
			s = copy_string(&d, s, end);
		} else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			*d++ = c;
		}
	}
	*d = '\0';
	return (size_t)(d - dst);
}

const char *
keel_res_json(const keel_res *res, int row, int col, keel_arena *a)
{
	const PGresult *r = (const PGresult *)res;
	size_t len = (size_t)PQgetlength(r, row, col);
	char *text = keel_arena_alloc(a, len + 1);

	keel_db_json_compact(text, PQgetvalue(r, row, col), len);
	return text;
}
