/*
 * Region allocator.
 *
 * Blocks are chained; a block is carved from its front with max_align_t
 * alignment.  Requests larger than a quarter of the block size get a block of
 * their own, so one big body does not waste the rest of a small block.
 * Deferred cleanups are themselves allocated from the arena and kept in a
 * singly linked list, newest first.
 */
#include "core/arena.h"
#include "core/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN    _Alignof(max_align_t)
#define ARENA_MIN      1024
#define ARENA_MAXBLOCK (64 * 1024)

typedef struct block {
	struct block *next;
	size_t size;
	size_t used;
	_Alignas(max_align_t) unsigned char data[];
} block;

typedef struct defer {
	struct defer *next;
	void (*fn)(void *);
	void *arg;
} defer;

struct keel_arena {
	block *head;
	defer *defers;
	size_t next_size;
	size_t used;
};

static block *
block_new(size_t size)
{
	block *b = keel_xmalloc(sizeof(block) + size);

	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

keel_arena *
keel_arena_create(size_t first_block)
{
	keel_arena *a = keel_xcalloc(1, sizeof(*a));

	if (first_block < ARENA_MIN)
		first_block = ARENA_MIN;
	a->head = block_new(first_block);
	a->next_size = first_block * 2 > ARENA_MAXBLOCK ? ARENA_MAXBLOCK : first_block * 2;
	return a;
}

void
keel_arena_destroy(keel_arena *a)
{
	if (a == NULL)
		return;
	for (defer *d = a->defers; d != NULL; d = d->next)
		d->fn(d->arg);
	for (block *b = a->head, *next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void *
keel_arena_alloc(keel_arena *a, size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	block *b = a->head;

	if (need < n)
		keel_oom(n);
	if (need == 0)
		need = ARENA_ALIGN;
	if (b->size - b->used < need) {
		if (need > a->next_size / 4) {
			/* A big allocation gets its own block behind the current one. */
			block *big = block_new(need);

			big->used = need;
			big->next = b->next;
			b->next = big;
			a->used += n;
			return big->data;
		}
		b = block_new(a->next_size);
		b->next = a->head;
		a->head = b;
		if (a->next_size < ARENA_MAXBLOCK)
			a->next_size *= 2;
	}
	void *p = b->data + b->used;

	b->used += need;
	a->used += n;
	return p;
}

void *
keel_arena_calloc(keel_arena *a, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		keel_oom(SIZE_MAX);
	void *p = keel_arena_alloc(a, count * size);

	memset(p, 0, count * size);
	return p;
}

void *
keel_arena_memdup(keel_arena *a, const void *p, size_t n)
{
	void *q = keel_arena_alloc(a, n);

	if (n > 0)
		memcpy(q, p, n);
	return q;
}

char *
keel_arena_strndup(keel_arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = keel_arena_alloc(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
keel_arena_strdup(keel_arena *a, const char *s)
{
	return keel_arena_strndup(a, s, SIZE_MAX);
}

char *
keel_arena_vprintf(keel_arena *a, const char *fmt, va_list ap)
{
	va_list ap2;

	va_copy(ap2, ap);
	int len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return keel_arena_strdup(a, "");
	char *p = keel_arena_alloc(a, (size_t)len + 1);

	vsnprintf(p, (size_t)len + 1, fmt, ap);
	return p;
}

char *
keel_arena_printf(keel_arena *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *p = keel_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void
keel_arena_defer(keel_arena *a, void (*fn)(void *), void *arg)
{
	defer *d = keel_arena_alloc(a, sizeof(*d));

	d->fn = fn;
	d->arg = arg;
	d->next = a->defers;
	a->defers = d;
}

size_t
keel_arena_used(const keel_arena *a)
{
	return a->used;
}
