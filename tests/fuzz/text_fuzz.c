/*
 * Fuzz the text checks every input path relies on: UTF-8 (src/core/str.c),
 * RFC 3339 timestamps (src/core/clock.c) and UUID text (src/core/uuid.c).
 *
 * The same input goes to each, as bytes for the UTF-8 check and as a C
 * string (cut at the first NUL) for the others, and each answer is compared
 * with a plain reading of its contract written here:
 *   - keel_utf8_valid() is RFC 3629 without NUL: checked against a decoder
 *     that works on code points (no overlongs, no surrogates, nothing past
 *     U+10FFFF); keel_utf8_length() counts those code points;
 *   - keel_str_trim() removes exactly the ASCII white space at both ends;
 *   - keel_token_sane() is 1..max characters of [A-Za-z0-9._-];
 *   - keel_clock_parse_rfc3339() accepts exactly the grammar of clock.h
 *     with real calendar days, gives the instant timegm() gives, and an
 *     instant it gives within years 0001..9999 UTC keel_clock_format_us()
 *     writes as text it accepts again, at the same instant;
 *   - keel_uuid_parse() accepts exactly 8-4-4-4-12 hex digits, and
 *     keel_uuid_format() gives the text back in lowercase.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/str.h"
#include "core/uuid.h"

#define US_MIN (-62135596800LL * 1000000)     /* 0001-01-01T00:00:00Z */
#define US_MAX (253402300800LL * 1000000 - 1) /* 9999-12-31T23:59:59.999999Z */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* ---- UTF-8 ---- */

/* Code points of s[0..n), or -1 when it is not UTF-8 without NUL. */
static long
ref_utf8_count(const unsigned char *s, size_t n)
{
	long count = 0;

	for (size_t i = 0; i < n; count++) {
		unsigned c = s[i];
		int more = c < 0x80 ? 0 : c >> 5 == 6 ? 1 : c >> 4 == 14 ? 2 : c >> 3 == 30 ? 3 : -1;
		unsigned long cp = more == 0 ? c : more == 1 ? c & 0x1F : more == 2 ? c & 0x0F : c & 0x07;
		static const unsigned long least[] = {0, 0x80, 0x800, 0x10000};

		if (c == 0 || more < 0 || (size_t)more >= n - i)
			return -1;
		for (int k = 1; k <= more; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < least[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return -1;
		i += (size_t)more + 1;
	}
	return count;
}

static void
utf8_check(const uint8_t *data, size_t size)
{
	long count = ref_utf8_count(data, size);
	bool valid = keel_utf8_valid((const char *)data, size);

	FZ_CHECK(valid == (count >= 0), "keel_utf8_valid says %d for %zu bytes", valid, size);
	if (valid)
		FZ_CHECK(keel_utf8_length((const char *)data, size) == (size_t)count,
		         "keel_utf8_length counts %zu, not %ld", keel_utf8_length((const char *)data, size),
		         count);
}

/* ---- trim and tokens ---- */

static bool
space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static void
trim_check(const char *s)
{
	size_t len = strlen(s), start = 0, end = len;
	char *copy = strdup(s);

	FZ_CHECK(copy != NULL, "out of memory");
	while (end > 0 && space(s[end - 1]))
		end--;
	while (start < end && space(s[start]))
		start++;
	FZ_CHECK(keel_str_trim(copy) == copy, "keel_str_trim moved the string");
	FZ_CHECK(strlen(copy) == end - start && memcmp(copy, s + start, end - start) == 0,
	         "keel_str_trim kept the wrong characters");
	free(copy);
}

static void
token_check(const char *s, size_t max)
{
	size_t len = strlen(s);
	bool ok = len >= 1 && len <= max &&
	          strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;

	FZ_CHECK(keel_token_sane(s, max) == ok, "keel_token_sane(\"%s\", %zu) is not %d", s, max, ok);
}

/* ---- RFC 3339 ---- */

/* n digits at s[*i] into *v. */
static bool
num(const char *s, size_t *i, int n, int *v)
{
	*v = 0;
	for (int k = 0; k < n; k++, (*i)++) {
		if (s[*i] < '0' || s[*i] > '9')
			return false;
		*v = *v * 10 + (s[*i] - '0');
	}
	return true;
}

static bool
lit(const char *s, size_t *i, const char *set)
{
	if (s[*i] == '\0' || strchr(set, s[*i]) == NULL)
		return false;
	(*i)++;
	return true;
}

/* The grammar of clock.h, and the instant by timegm(); false when s is not one. */
static bool
ref_rfc3339(const char *s, int64_t *us)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	int64_t frac = 0;
	size_t i = 0;
	long sign = 0;

	if (!num(s, &i, 4, &y) || !lit(s, &i, "-") || !num(s, &i, 2, &mo) || !lit(s, &i, "-") ||
	    !num(s, &i, 2, &d) || !lit(s, &i, "Tt") || !num(s, &i, 2, &h) || !lit(s, &i, ":") ||
	    !num(s, &i, 2, &mi) || !lit(s, &i, ":") || !num(s, &i, 2, &sec))
		return false;
	if (s[i] == '.') {
		int digits = 0;

		for (i++; s[i] >= '0' && s[i] <= '9'; i++, digits++)
			if (digits < 6)
				frac = frac * 10 + (s[i] - '0');
		if (digits == 0)
			return false;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i++] == '+' ? 1 : -1;
		if (!num(s, &i, 2, &oh) || !lit(s, &i, ":") || !num(s, &i, 2, &om) || oh > 23 || om > 59)
			return false;
	} else {
		return false;
	}
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (s[i] != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || sec > 60)
		return false;
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = sec};
	int64_t t = (int64_t)timegm(&tm) - sign * (oh * 3600L + om * 60L);

	*us = t * 1000000 + frac;
	return true;
}

static void
rfc3339_check(const char *s)
{
	int64_t got = 0, want = 0, again = 0;
	bool ok = keel_clock_parse_rfc3339(s, &got);
	bool ref = ref_rfc3339(s, &want);

	FZ_CHECK(ok == ref, "keel_clock_parse_rfc3339(\"%s\") %s", s, ok ? "accepted" : "refused");
	if (!ok)
		return;
	FZ_CHECK(got == want, "\"%s\" parsed as %lld, not %lld", s, (long long)got, (long long)want);
	/*
	 * An offset may carry the instant out of the years keel_clock_format_us()
	 * writes (0001..9999 UTC); callers that hand a parsed time on check that
	 * range themselves (audit_api.c).  Inside it, the text must come back.
	 */
	if (got < US_MIN || got > US_MAX)
		return;
	char text[KEEL_RFC3339_US_LEN + 1];

	keel_clock_format_us(got, text);
	FZ_CHECK(keel_clock_parse_rfc3339(text, &again) && again == got,
	         "\"%s\" parsed as %lld, which formats as \"%s\", which does not parse back", s,
	         (long long)got, text);
}

/* ---- UUIDs ---- */

static void
uuid_check(const char *s)
{
	keel_uuid u;
	char text[KEEL_UUID_STRLEN + 1];
	bool ok = keel_uuid_parse(s, &u);
	bool ref = strlen(s) == KEEL_UUID_STRLEN;

	for (int i = 0; ref && i < KEEL_UUID_STRLEN; i++)
		ref = (i == 8 || i == 13 || i == 18 || i == 23)
		          ? s[i] == '-'
		          : strchr("0123456789abcdefABCDEF", s[i]) != NULL && s[i] != '\0';
	FZ_CHECK(ok == ref, "keel_uuid_parse(\"%s\") %s", s, ok ? "accepted" : "refused");
	if (!ok)
		return;
	keel_uuid_format(&u, text);
	for (int i = 0; i < KEEL_UUID_STRLEN; i++)
		FZ_CHECK(text[i] == (s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]),
		         "\"%s\" formats back as \"%s\"", s, text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FZ_CHECK(s != NULL, "out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	utf8_check(data, size);
	trim_check(s);
	token_check(s, size > 0 ? data[0] % 130 : 0);
	rfc3339_check(s);
	uuid_check(s);
	free(s);
	return 0;
}
