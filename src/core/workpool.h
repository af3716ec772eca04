/*
 * A bounded pool of threads for CPU-heavy work (password hashing).
 *
 * Submitting never blocks: when the queue is full, keel_workpool_submit()
 * says so at once and the caller answers 503, so a flood of expensive
 * requests queues up to a limit instead of starving everything else or
 * growing memory without bound.
 */
#ifndef KEEL_CORE_WORKPOOL_H
#define KEEL_CORE_WORKPOOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct keel_workpool keel_workpool;

/* A job: run(arg) on a pool thread, then done(arg) on the same thread. */
typedef struct keel_job {
	void (*run)(void *arg);
	void (*done)(void *arg);
	void *arg;
} keel_job;

/*
 * threads workers, at most queue jobs waiting (running ones not counted).
 * nice > 0 lowers the workers' scheduling priority (Linux per-thread nice),
 * so CPU-heavy jobs yield the processor to request handling under load.
 */
keel_workpool *keel_workpool_create(int threads, int queue, int nice);

/* Finish queued jobs, then join the threads. */
void keel_workpool_destroy(keel_workpool *p);

/* Queue job; false (and nothing queued) when the queue is full or the pool stops. */
bool keel_workpool_submit(keel_workpool *p, const keel_job *job);

/* Jobs waiting right now (for metrics and tests). */
int keel_workpool_waiting(keel_workpool *p);

#endif
