/*
 * The aborting allocator: malloc and friends that never return NULL.
 */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void
keel_oom(size_t n)
{
	fprintf(stderr, "keel: out of memory (%zu bytes)\n", n);
	abort();
}

void *
keel_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		keel_oom(n);
	return p;
}

void *
keel_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		keel_oom(count * size);
	return p;
}

void *
keel_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		keel_oom(n);
	return q;
}

char *
keel_xstrdup(const char *s)
{
	return keel_xstrndup(s, strlen(s));
}

char *
keel_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = keel_xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
