/*
 * Region allocator: many allocations, one free.
 *
 * Every request owns an arena.  Everything allocated for the request comes
 * from it and is released in one go by keel_arena_destroy(), which first runs
 * the cleanups registered with keel_arena_defer() (newest first), so foreign
 * resources (a PGresult, a json_t, a pooled connection) die with the request.
 * An arena is not thread-safe: it belongs to one request on one thread.
 */
#ifndef KEEL_CORE_ARENA_H
#define KEEL_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct keel_arena keel_arena;

/* Create an arena whose first block holds about first_block bytes. */
keel_arena *keel_arena_create(size_t first_block);

/* Run the deferred cleanups, newest first, then free every block. NULL is a no-op. */
void keel_arena_destroy(keel_arena *a);

/* Memory aligned for any type; aborts on exhaustion like keel_xmalloc. */
void *keel_arena_alloc(keel_arena *a, size_t n);

/* Zeroed memory for count * size bytes; aborts on overflow. */
void *keel_arena_calloc(keel_arena *a, size_t count, size_t size);

void *keel_arena_memdup(keel_arena *a, const void *p, size_t n);
char *keel_arena_strdup(keel_arena *a, const char *s);
char *keel_arena_strndup(keel_arena *a, const char *s, size_t n);

__attribute__((format(printf, 2, 3))) char *keel_arena_printf(keel_arena *a, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) char *keel_arena_vprintf(keel_arena *a, const char *fmt,
                                                               va_list ap);

/* Call fn(arg) when the arena is destroyed. */
void keel_arena_defer(keel_arena *a, void (*fn)(void *), void *arg);

/* Bytes handed out so far (for tests and metrics). */
size_t keel_arena_used(const keel_arena *a);

#endif
