/*
 * The aborting allocator.
 *
 * Allocation failure is not recoverable in a request server, so these
 * functions print a message and abort instead of returning NULL: call sites
 * stay free of NULL checks.  Memory from them is released with free().
 * Request-scoped memory comes from the request arena (core/arena.h) instead.
 */
#ifndef KEEL_CORE_ALLOC_H
#define KEEL_CORE_ALLOC_H

#include <stddef.h>

void *keel_xmalloc(size_t n);
void *keel_xcalloc(size_t count, size_t size);
void *keel_xrealloc(void *p, size_t n);
char *keel_xstrdup(const char *s);
char *keel_xstrndup(const char *s, size_t n);

/* Abort the process: "keel: out of memory (N bytes)". */
_Noreturn void keel_oom(size_t n);

#endif
