/*
 * A bounded pool of threads for CPU-heavy work (password hashing).
 *
 * Submitting never blocks: when the queue is full, keel_workpool_submit()
 * says so at once and the caller answers 503, so a flood of expensive
 * requests queues up to a limit instead of starving everything else or
 * growing memory without bound.  A caller that must know before it starts
 * (a sign-in puts its attempt on record first) reserves a place, then
 * submits into it.
 *
 * Stopping (keel_workpool_stop) is orderly: no new work is taken, what is
 * queued or reserved runs until a deadline, what still waits then is
 * cancelled, and the threads are joined; after it returns no job of the pool
 * runs or calls back.
 */
#ifndef KEEL_CORE_WORKPOOL_H
#define KEEL_CORE_WORKPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct keel_workpool keel_workpool;

/*
 * A job: run(arg) on a pool thread, then done(arg) on the same thread.  When
 * the pool stops before the job ran, cancel(arg) instead of both, on the
 * thread that stops the pool (may be NULL: then the job is dropped).
 */
typedef struct keel_job {
	void (*run)(void *arg);
	void (*done)(void *arg);
	void (*cancel)(void *arg);
	void *arg;
} keel_job;

/*
 * threads workers, at most queue jobs waiting (running ones not counted).
 * nice > 0 lowers the workers' scheduling priority (Linux per-thread nice),
 * so CPU-heavy jobs yield the processor to request handling under load.
 */
keel_workpool *keel_workpool_create(int threads, int queue, int nice);

/* keel_workpool_stop with no deadline (every queued job runs), then free the pool. */
void keel_workpool_destroy(keel_workpool *p);

/*
 * Stop taking work (keel_workpool_submit and keel_workpool_reserve fail from
 * now on), run the jobs queued and those submitted into reservations made
 * before, until deadline_ns (monotonic clock, keel_clock_mono_ns; UINT64_MAX:
 * none); then cancel the jobs still waiting, refuse what is submitted into
 * reservations later, and join the threads (a running job is finished).  A
 * second call does nothing.
 */
void keel_workpool_stop(keel_workpool *p, uint64_t deadline_ns);

/* Queue job; false (and nothing queued) when the queue is full or the pool stops. */
bool keel_workpool_submit(keel_workpool *p, const keel_job *job);

/*
 * Hold one place of the queue for a later keel_workpool_submit_reserved();
 * false when the queue is full (waiting jobs and reservations) or the pool
 * stops.  A reservation must be used or given back (keel_workpool_release).
 */
bool keel_workpool_reserve(keel_workpool *p);

/* Give back a reservation not used. */
void keel_workpool_release(keel_workpool *p);

/*
 * Queue job in a place reserved before; the reservation is used up either
 * way.  False (nothing queued) only once keel_workpool_stop's deadline has
 * passed: a stopping pool still takes the work it promised until then.
 */
bool keel_workpool_submit_reserved(keel_workpool *p, const keel_job *job);

/* Jobs waiting right now (for metrics and tests). */
int keel_workpool_waiting(keel_workpool *p);

#endif
