/*
 * Strict Prometheus text-format checks for tests (see prom.h).
 */
#include "prom.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 256
#define MAX_SERIES   4096

typedef struct fam {
	char name[128];
	char type[16];
	bool helped, typed, sampled;
} fam;

typedef struct state {
	fam fams[MAX_FAMILIES];
	int nfams;
	char *seen[MAX_SERIES];
	int nseen;
	/* the histogram series being read */
	char hist_key[1024];
	double last_bucket;
	bool inf_seen;
	double inf_value;
} state;

__attribute__((format(printf, 2, 3))) static char *
fail(int line, const char *fmt, ...)
{
	va_list ap;

	char *msg = malloc(512);

	snprintf(msg, 512, "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(msg + strlen(msg), 512 - strlen(msg), fmt, ap);
	va_end(ap);
	return msg;
}

static bool
metric_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

static bool
label_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static bool
parse_value(const char *s, double *v)
{
	char *end;

	if (strcmp(s, "NaN") == 0 || strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0) {
		*v = strcmp(s, "NaN") == 0 ? NAN : (s[0] == '+' ? INFINITY : -INFINITY);
		return true;
	}
	*v = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*v);
}

static fam *
fam_get(state *st, const char *name, size_t len)
{
	for (int i = 0; i < st->nfams; i++)
		if (strlen(st->fams[i].name) == len && strncmp(st->fams[i].name, name, len) == 0)
			return &st->fams[i];
	if (st->nfams == MAX_FAMILIES || len >= sizeof(st->fams[0].name))
		return NULL;
	fam *f = &st->fams[st->nfams++];

	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, len);
	return f;
}

/* The family a sample name belongs to. */
static fam *
fam_of_sample(state *st, const char *name, const char **suffix)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	size_t len = strlen(name);

	for (int i = 0; i < st->nfams; i++)
		if (strcmp(st->fams[i].name, name) == 0) {
			*suffix = "";
			return &st->fams[i];
		}
	for (size_t k = 0; k < 3; k++) {
		size_t sl = strlen(sfx[k]);

		if (len > sl && strcmp(name + len - sl, sfx[k]) == 0)
			for (int i = 0; i < st->nfams; i++)
				if (strlen(st->fams[i].name) == len - sl &&
				    strncmp(st->fams[i].name, name, len - sl) == 0 &&
				    strcmp(st->fams[i].type, "histogram") == 0) {
					*suffix = sfx[k];
					return &st->fams[i];
				}
	}
	return NULL;
}

/* Parse {a="b",c="d"} at *p; writes the label string without le into key. */
static const char *
parse_labels(const char **p, char *key, size_t keylen, double *le, bool *has_le)
{
	const char *s = *p;
	size_t used = 0;

	*has_le = false;
	key[0] = '\0';
	if (*s != '{')
		return NULL;
	s++;
	while (*s != '}') {
		const char *n = s;

		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		if (!label_name(n, (size_t)(s - n)) || s[0] != '=' || s[1] != '"')
			return "malformed label name";
		size_t nlen = (size_t)(s - n);
		char value[256];
		size_t vlen = 0;

		s += 2;
		while (*s != '"') {
			if (*s == '\0' || *s == '\n')
				return "unterminated label value";
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
					return "bad escape in label value";
				s++;
			}
			if (vlen + 1 < sizeof(value))
				value[vlen++] = *s;
			s++;
		}
		value[vlen] = '\0';
		s++;
		if (nlen == 2 && strncmp(n, "le", 2) == 0) {
			*has_le = true;
			if (!parse_value(value, le))
				return "bad le value";
		} else {
			used += (size_t)snprintf(key + used, keylen - used, "%.*s=%s,", (int)nlen, n, value);
		}
		if (*s == ',')
			s++;
		else if (*s != '}')
			return "expected , or } after a label";
	}
	*p = s + 1;
	return NULL;
}

static char *
check_sample(state *st, const char *line, int n)
{
	const char *p = line, *suffix = "";

	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
		p++;
	char name[160];

	if (!metric_name(line, (size_t)(p - line)) || (size_t)(p - line) >= sizeof(name))
		return fail(n, "bad metric name in \"%s\"", line);
	memcpy(name, line, (size_t)(p - line));
	name[p - line] = '\0';
	fam *f = fam_of_sample(st, name, &suffix);

	if (f == NULL || !f->typed)
		return fail(n, "sample of undeclared family: %s", name);
	f->sampled = true;
	char key[512];
	double le = 0, v;
	bool has_le = false;

	if (*p == '{') {
		const char *why = parse_labels(&p, key, sizeof(key), &le, &has_le);

		if (why != NULL)
			return fail(n, "%s", why);
	} else {
		key[0] = '\0';
	}
	if (*p != ' ')
		return fail(n, "expected a space before the value: %s", line);
	p++;
	char valbuf[64];

	snprintf(valbuf, sizeof(valbuf), "%.*s", (int)strcspn(p, " "), p);
	if (!parse_value(valbuf, &v))
		return fail(n, "bad value: %s", line);
	if (has_le != (strcmp(suffix, "_bucket") == 0))
		return fail(n, "le belongs on _bucket samples only: %s", line);

	char series_key[1024];

	/* each bucket is a series of its own */
	if (has_le)
		snprintf(series_key, sizeof(series_key), "%s{%s}le=%g", name, key, le);
	else
		snprintf(series_key, sizeof(series_key), "%s{%s}", name, key);
	for (int i = 0; i < st->nseen; i++)
		if (strcmp(st->seen[i], series_key) == 0)
			return fail(n, "duplicate series: %s", line);
	if (st->nseen < MAX_SERIES)
		st->seen[st->nseen++] = strdup(series_key);

	if (strcmp(suffix, "_bucket") == 0) {
		char hk[1024];

		snprintf(hk, sizeof(hk), "%s{%s}", f->name, key);
		if (strcmp(hk, st->hist_key) != 0) {
			snprintf(st->hist_key, sizeof(st->hist_key), "%s", hk);
			st->last_bucket = -1;
			st->inf_seen = false;
		}
		if (v < st->last_bucket)
			return fail(n, "histogram buckets are not cumulative: %s", line);
		st->last_bucket = v;
		if (isinf(le)) {
			st->inf_seen = true;
			st->inf_value = v;
		}
	} else if (strcmp(suffix, "_count") == 0) {
		if (!st->inf_seen || st->inf_value != v)
			return fail(n, "histogram _count differs from its le=\"+Inf\" bucket: %s", line);
	}
	return NULL;
}

static char *
check_comment(state *st, const char *line, int n)
{
	bool help = strncmp(line, "# HELP ", 7) == 0, type = strncmp(line, "# TYPE ", 7) == 0;

	if (!help && !type)
		return NULL; /* a plain comment */
	const char *name = line + 7;
	size_t len = strcspn(name, " ");

	if (!metric_name(name, len) || name[len] != ' ')
		return fail(n, "malformed %s line", help ? "HELP" : "TYPE");
	fam *f = fam_get(st, name, len);

	if (f == NULL)
		return fail(n, "%s", "too many families");
	if (help) {
		if (f->helped)
			return fail(n, "second HELP for %s", f->name);
		f->helped = true;
		return NULL;
	}
	const char *t = name + len + 1;

	if (f->typed || f->sampled)
		return fail(n, "TYPE of %s after its samples or twice", f->name);
	if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
	    strcmp(t, "summary") && strcmp(t, "untyped"))
		return fail(n, "unknown type %s", t);
	snprintf(f->type, sizeof(f->type), "%s", t);
	f->typed = true;
	return NULL;
}

char *
prom_check(const char *text)
{
	state *st = calloc(1, sizeof(*st));
	char *err = NULL;
	int n = 0;

	if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
		err = fail(0, "%s", "the text does not end with a newline");
	for (const char *line = text; err == NULL && *line != '\0';) {
		size_t len = strcspn(line, "\n");
		char *copy = strndup(line, len);

		n++;
		if (len == 0)
			err = fail(n, "%s", "empty line");
		else if (copy[0] == '#')
			err = check_comment(st, copy, n);
		else
			err = check_sample(st, copy, n);
		free(copy);
		line += len + (line[len] == '\n');
	}
	for (int i = 0; i < st->nseen; i++)
		free(st->seen[i]);
	free(st);
	return err;
}

double
prom_value(const char *text, const char *name, const char *labels)
{
	char prefix[512];

	if (labels[0] != '\0')
		snprintf(prefix, sizeof(prefix), "%s{%s} ", name, labels);
	else
		snprintf(prefix, sizeof(prefix), "%s ", name);
	for (const char *line = text; *line != '\0';) {
		size_t len = strcspn(line, "\n");

		if (strncmp(line, prefix, strlen(prefix)) == 0)
			return strtod(line + strlen(prefix), NULL);
		line += len + (line[len] == '\n');
	}
	return NAN;
}
