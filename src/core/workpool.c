/*
 * Bounded work pool: a ring buffer of jobs under one mutex, N threads.
 */
#include "core/workpool.h"
#include "core/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

struct keel_workpool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	keel_job *ring;
	int cap, head, count;
	bool stopping;
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
		while (p->count == 0 && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->count == 0) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		keel_job job = p->ring[p->head];

		p->head = (p->head + 1) % p->cap;
		p->count--;
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

	p->nice = nice;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	p->cap = queue > 0 ? queue : 1;
	p->ring = keel_xcalloc((size_t)p->cap, sizeof(keel_job));
	p->nthreads = threads > 0 ? threads : 1;
	p->threads = keel_xcalloc((size_t)p->nthreads, sizeof(pthread_t));
	for (int i = 0; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			abort();
	return p;
}

void
keel_workpool_destroy(keel_workpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}

bool
keel_workpool_submit(keel_workpool *p, const keel_job *job)
{
	bool ok = false;

	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->count < p->cap) {
		p->ring[(p->head + p->count) % p->cap] = *job;
		p->count++;
		ok = true;
		pthread_cond_signal(&p->work);
	}
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
