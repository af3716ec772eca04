/*
 * Fuzz the router: every route keel serves, matched against any method and path.
 *
 * The input is "METHOD /path" (split at the first space; without one the
 * method is GET), bytes as the server hands them over after percent-decoding.
 * The routes are those of `keel serve --services all`, so a new module is
 * fuzzed as soon as `keel serve` runs it (tests/unit/ops/services.h).
 *
 * keel_router_match() is checked against a second, deliberately plain matcher
 * written here from the contract in http.h:
 *   - KEEL_OK: the first route in registration order whose template matches
 *     and whose method is the one asked (HEAD asks for GET); one parameter
 *     per {name}, each exactly the path segment in its place, and an empty
 *     Allow;
 *   - KEEL_EMETHOD: some template matches, none under this method, and Allow
 *     lists exactly the methods of the matching templates (HEAD with GET),
 *     untruncated;
 *   - KEEL_ENOTFOUND: no template matches.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "../unit/ops/services.h"
#include "http/http.h"

#define MAX_SEG 64

static keel_router *router;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static keel_ops ops;

	(void)argc;
	(void)argv;
	router = keel_router_create();
	keel_test_all_routes(router, &ops);
	return 0;
}

typedef struct segs {
	int n;
	const char *s[MAX_SEG];
	size_t len[MAX_SEG];
} segs;

/* Split "/a/b" into its segments; false when it has an empty one or too many ("" is "/"). */
static bool
split(const char *p, segs *out)
{
	out->n = 0;
	if (p[0] != '/')
		return false;
	if (strcmp(p, "/") == 0)
		return true;
	while (*p == '/') {
		const char *start = ++p;
		size_t len = strcspn(start, "/");

		if (len == 0 || out->n == MAX_SEG)
			return false;
		out->s[out->n] = start;
		out->len[out->n++] = len;
		p = start + len;
	}
	return true;
}

static bool
is_param(const segs *t, int i)
{
	return t->len[i] >= 2 && t->s[i][0] == '{' && t->s[i][t->len[i] - 1] == '}';
}

/* Does template t match path p?  The plain reading of "{name} takes any non-empty segment". */
static bool
ref_matches(const segs *t, const segs *p)
{
	if (t->n != p->n)
		return false;
	for (int i = 0; i < t->n; i++)
		if (!is_param(t, i) && (t->len[i] != p->len[i] || memcmp(t->s[i], p->s[i], p->len[i]) != 0))
			return false;
	return true;
}

/* Check what keel answered for a matched route: its parameters, name by name. */
static void
params_check(const keel_match *m, const segs *t, const segs *p)
{
	int k = 0;

	for (int i = 0; i < t->n; i++) {
		if (!is_param(t, i))
			continue;
		FZ_CHECK(k < m->nparams, "parameter %d of %s missing", k, m->route->path);
		FZ_CHECK(strlen(m->names[k]) == t->len[i] - 2 &&
		             memcmp(m->names[k], t->s[i] + 1, t->len[i] - 2) == 0,
		         "parameter %d of %s misnamed %s", k, m->route->path, m->names[k]);
		FZ_CHECK(strlen(m->values[k]) == p->len[i] && memcmp(m->values[k], p->s[i], p->len[i]) == 0,
		         "parameter %s of %s is not its path segment", m->names[k], m->route->path);
		k++;
	}
	FZ_CHECK(k == m->nparams, "%s: %d parameters, template has %d", m->route->path, m->nparams, k);
	FZ_CHECK(m->allow[0] == '\0', "Allow set on a match");
}

/* Allow must list exactly want (comma-separated, any order, each once). */
static void
allow_check(const char *allow, const char *const *want, int nwant)
{
	char copy[sizeof(((keel_match *)0)->allow)];
	int seen = 0;
	char *save;

	snprintf(copy, sizeof(copy), "%s", allow);
	for (char *t = strtok_r(copy, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
		bool known = false;

		for (int i = 0; i < nwant && !known; i++)
			known = strcmp(t, want[i]) == 0;
		FZ_CHECK(known, "Allow \"%s\" lists %s, which no matching route has", allow, t);
		seen++;
	}
	FZ_CHECK(seen == nwant, "Allow \"%s\" lists %d methods, %d expected", allow, seen, nwant);
}

/* The whole comparison for one method and path. */
static void
check(const char *method, const char *path)
{
	keel_arena *arena = keel_arena_create(0);
	keel_match m;
	keel_err err = keel_router_match(router, method, path, arena, &m);
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	const char *methods[16];
	int nmethods = 0;
	const keel_route *first = NULL;
	segs p, t;
	bool path_ok = split(path, &p);

	for (size_t i = 0; path_ok && i < keel_router_count(router); i++) {
		const keel_route *r = keel_router_at(router, i);

		split(r->path, &t);
		if (!ref_matches(&t, &p))
			continue;
		if (strcmp(r->method, want) == 0 && first == NULL)
			first = r;
		const char *add[2] = {r->method, strcmp(r->method, "GET") == 0 ? "HEAD" : NULL};

		for (int a = 0; a < 2 && add[a] != NULL; a++) {
			bool dup = false;

			for (int k = 0; k < nmethods; k++)
				dup = dup || strcmp(methods[k], add[a]) == 0;
			if (!dup && nmethods < 16)
				methods[nmethods++] = add[a];
		}
	}
	if (first != NULL) {
		FZ_CHECK(err == KEEL_OK && m.route == first, "%s %s: expected %s %s, got %d", method, path,
		         first->method, first->path, err);
		split(first->path, &t);
		params_check(&m, &t, &p);
	} else if (nmethods > 0) {
		FZ_CHECK(err == KEEL_EMETHOD, "%s %s: expected 405, got %d", method, path, err);
		allow_check(m.allow, methods, nmethods);
	} else {
		FZ_CHECK(err == KEEL_ENOTFOUND, "%s %s: expected 404, got %d", method, path, err);
	}
	keel_arena_destroy(arena);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	char *sp = strchr(text, ' ');

	if (sp != NULL) {
		*sp = '\0';
		check(text, sp + 1);
	} else {
		check("GET", text);
	}
	free(text);
	return 0;
}
