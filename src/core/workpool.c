/*
 * Bounded work pool: a ring buffer of jobs under one mutex, N threads.
 *
 * Places in the ring are either taken by a waiting job or reserved for one
 * (count + reserved <= cap), so a reservation can always be submitted into.
 * Stopping has two steps: stopping (no new work; the queue and the
 * reservations drain, waited for on `idle`), then closed (what still waits
 * is cancelled; workers leave once their current job is done).
 */
#include "core/workpool.h"
#include "core/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct keel_workpool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or the pool closed */
	pthread_cond_t idle; /* while stopping: a job was taken or a reservation ended */
	keel_job *ring;
	int cap, head, count;
	int reserved;
	bool stopping, closed;
	pthread_t *threads;
	int nthreads;
	int nice;
};

static void *
worker(void *arg)
{
	keel_workpool *p = arg;

	/* Best effort: on Linux, nice applies to the calling thread only. */
	if (p->nice > 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), p->nice) != 0)
		p->nice = 0;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->count == 0 && !p->closed)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->count == 0) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		keel_job job = p->ring[p->head];

		p->head = (p->head + 1) % p->cap;
		p->count--;
		pthread_cond_broadcast(&p->idle);
		pthread_mutex_unlock(&p->lock);
		job.run(job.arg);
		if (job.done != NULL)
			job.done(job.arg);
	}
}

keel_workpool *
keel_workpool_create(int threads, int queue, int nice)
{
	keel_workpool *p = keel_xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;

	p->nice = nice;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->idle, &ca);
	pthread_condattr_destroy(&ca);
	p->cap = queue > 0 ? queue : 1;
	p->ring = keel_xcalloc((size_t)p->cap, sizeof(keel_job));
	p->nthreads = threads > 0 ? threads : 1;
	p->threads = keel_xcalloc((size_t)p->nthreads, sizeof(pthread_t));
	for (int i = 0; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			abort();
	return p;
}

/* Under the lock: wait until nothing is queued or reserved, or deadline_ns passes. */
static void
drain_wait(keel_workpool *p, uint64_t deadline_ns)
{
	struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
	                         .tv_nsec = (long)(deadline_ns % 1000000000u)};

	while (p->count > 0 || p->reserved > 0) {
		if (deadline_ns == UINT64_MAX)
			pthread_cond_wait(&p->idle, &p->lock);
		else if (pthread_cond_timedwait(&p->idle, &p->lock, &until) != 0)
			return; /* timed out (or failed): stop waiting */
	}
}

void
keel_workpool_stop(keel_workpool *p, uint64_t deadline_ns)
{
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->stopping = true;
	drain_wait(p, deadline_ns);
	p->closed = true;

	int n = p->count;
	keel_job *left = keel_xcalloc((size_t)(n > 0 ? n : 1), sizeof(keel_job));

	for (int i = 0; i < n; i++)
		left[i] = p->ring[(p->head + i) % p->cap];
	p->count = 0;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < n; i++)
		if (left[i].cancel != NULL)
			left[i].cancel(left[i].arg);
	free(left);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
}

void
keel_workpool_destroy(keel_workpool *p)
{
	if (p == NULL)
		return;
	keel_workpool_stop(p, UINT64_MAX);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}

/* Under the lock: put job at the tail (there is room). */
static void
enqueue(keel_workpool *p, const keel_job *job)
{
	p->ring[(p->head + p->count) % p->cap] = *job;
	p->count++;
	pthread_cond_signal(&p->work);
}

bool
keel_workpool_submit(keel_workpool *p, const keel_job *job)
{
	bool ok = false;

	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->count + p->reserved < p->cap) {
		enqueue(p, job);
		ok = true;
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

bool
keel_workpool_reserve(keel_workpool *p)
{
	bool ok = false;

	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->count + p->reserved < p->cap) {
		p->reserved++;
		ok = true;
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void
keel_workpool_release(keel_workpool *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->reserved > 0)
		p->reserved--;
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

bool
keel_workpool_submit_reserved(keel_workpool *p, const keel_job *job)
{
	bool ok = false;

	pthread_mutex_lock(&p->lock);
	if (p->reserved > 0) {
		p->reserved--;
		if (!p->closed) {
			enqueue(p, job);
			ok = true;
		}
	}
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int
keel_workpool_waiting(keel_workpool *p)
{
	pthread_mutex_lock(&p->lock);
	int n = p->count;

	pthread_mutex_unlock(&p->lock);
	return n;
}
