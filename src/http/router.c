/*
 * Router: method + path templates with {name} parameters.
 *
 * Templates are split into segments once, when added.  Matching walks the
 * request path segment by segment against each template: literal segments
 * compare exactly, {name} segments take any non-empty segment.  A linear scan
 * is enough for keel's few dozen routes and keeps 404/405 trivially correct:
 * a path that some template matches under another method is 405 with Allow.
 */
#include "http/http.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENTS 16

typedef struct compiled {
	const keel_route *route;
	void *ctx;
	int nseg;
	char *seg[MAX_SEGMENTS]; /* literal text, or the parameter name */
	unsigned char is_param[MAX_SEGMENTS];
} compiled;

struct keel_router {
	compiled *routes;
	size_t n, cap;
};

keel_router *
keel_router_create(void)
{
	return keel_xcalloc(1, sizeof(keel_router));
}

void
keel_router_destroy(keel_router *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		for (int s = 0; s < r->routes[i].nseg; s++)
			free(r->routes[i].seg[s]);
	free(r->routes);
	free(r);
}

static _Noreturn void
bad_template(const keel_route *route, const char *why)
{
	fprintf(stderr, "keel: route %s %s: %s\n", route->method, route->path, why);
	abort();
}

static void
compile(compiled *c, const keel_route *route)
{
	const char *p = route->path;
	int nparams = 0;

	if (p[0] != '/')
		bad_template(route, "must start with /");
	c->nseg = 0;
	if (strcmp(p, "/") == 0)
		return;
	while (*p == '/') {
		const char *start = ++p;
		size_t len = strcspn(start, "/");

		if (len == 0)
			bad_template(route, "empty segment");
		if (c->nseg == MAX_SEGMENTS)
			bad_template(route, "too many segments");
		bool param = start[0] == '{' && start[len - 1] == '}';

		if (param && ++nparams > KEEL_ROUTE_MAXPARAMS)
			bad_template(route, "too many parameters");
		c->is_param[c->nseg] = param;
		c->seg[c->nseg++] = param ? keel_xstrndup(start + 1, len - 2) : keel_xstrndup(start, len);
		p = start + len;
	}
	if (*p != '\0')
		bad_template(route, "trailing slash");
}

void
keel_router_add(keel_router *r, const keel_route *route, void *ctx)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->routes = keel_xrealloc(r->routes, r->cap * sizeof(compiled));
	}
	compiled *c = &r->routes[r->n];

	memset(c, 0, sizeof(*c));
	c->route = route;
	c->ctx = ctx;
	compile(c, route);
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->routes[i].route->path, route->path) == 0 &&
		    strcmp(r->routes[i].route->method, route->method) == 0)
			bad_template(route, "registered twice");
	}
	r->n++;
}

void
keel_router_add_all(keel_router *r, const keel_route *routes, size_t n, void *ctx)
{
	for (size_t i = 0; i < n; i++)
		keel_router_add(r, &routes[i], ctx);
}

size_t
keel_router_count(const keel_router *r)
{
	return r->n;
}

const keel_route *
keel_router_at(const keel_router *r, size_t i)
{
	return i < r->n ? r->routes[i].route : NULL;
}

/* Split path into at most MAX_SEGMENTS segments; -1 when it cannot match any template. */
static int
split_path(const char *path, const char **seg, size_t *len)
{
	int n = 0;
	const char *p = path;

	if (p[0] != '/')
		return -1;
	if (p[1] == '\0')
		return 0;
	while (*p == '/') {
		const char *start = ++p;
		size_t l = strcspn(start, "/");

		if (l == 0 || n == MAX_SEGMENTS)
			return -1; /* "//", trailing "/", or deeper than any route */
		seg[n] = start;
		len[n++] = l;
		p = start + l;
	}
	return n;
}

static bool
segments_match(const compiled *c, int n, const char **seg, const size_t *len)
{
	if (c->nseg != n)
		return false;
	for (int i = 0; i < n; i++) {
		if (c->is_param[i])
			continue;
		if (strlen(c->seg[i]) != len[i] || memcmp(c->seg[i], seg[i], len[i]) != 0)
			return false;
	}
	return true;
}

static void
allow_add(keel_match *m, const char *method)
{
	size_t used = strlen(m->allow);

	if (strstr(m->allow, method) != NULL)
		return;
	snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s", used ? ", " : "", method);
}

keel_err
keel_router_match(const keel_router *r, const char *method, const char *path, keel_arena *arena,
                  keel_match *m)
{
	const char *seg[MAX_SEGMENTS];
	size_t len[MAX_SEGMENTS];
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	bool path_known = false;

	memset(m, 0, sizeof(*m));
	int n = split_path(path, seg, len);

	if (n < 0)
		return KEEL_ENOTFOUND;
	for (size_t i = 0; i < r->n; i++) {
		const compiled *c = &r->routes[i];

		if (!segments_match(c, n, seg, len))
			continue;
		path_known = true;
		if (strcmp(c->route->method, want) != 0) {
			allow_add(m, c->route->method);
			if (strcmp(c->route->method, "GET") == 0)
				allow_add(m, "HEAD");
			continue;
		}
		m->route = c->route;
		m->ctx = c->ctx;
		for (int s = 0; s < n; s++) {
			if (!c->is_param[s])
				continue;
			m->names[m->nparams] = c->seg[s];
			m->values[m->nparams++] = keel_arena_strndup(arena, seg[s], len[s]);
		}
		m->allow[0] = '\0';
		return KEEL_OK;
	}
	return path_known ? KEEL_EMETHOD : KEEL_ENOTFOUND;
}
