/*
 * Periodic jobs (see periodic.h): a thread that sleeps on a condition
 * variable between runs, so that stopping never waits out a sleep.
 */
#include "core/periodic.h"
#include "core/alloc.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct keel_periodic {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	bool (*run)(void *arg, keel_periodic *p);
	void *arg;
	long long every_ms, retry_ms;
};

bool
keel_periodic_stopping(void *arg)
{
	keel_periodic *p = arg;

	pthread_mutex_lock(&p->lock);
	bool stopping = p->stopping;

	pthread_mutex_unlock(&p->lock);
	return stopping;
}

/* Sleep until ms from now or until stopped; true when stopped. */
static bool
sleep_for(keel_periodic *p, long long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
		;
	bool stopping = p->stopping;

	pthread_mutex_unlock(&p->lock);
	return stopping;
}

static void *
periodic_main(void *arg)
{
	keel_periodic *p = arg;

	while (!sleep_for(p, p->run(p->arg, p) ? p->every_ms : p->retry_ms))
		;
	return NULL;
}

keel_periodic *
keel_periodic_start(const char *name, bool (*run)(void *arg, keel_periodic *p), void *arg,
                    long long every_ms, long long retry_ms)
{
	keel_periodic *p = keel_xcalloc(1, sizeof(*p));

	p->run = run;
	p->arg = arg;
	p->every_ms = every_ms;
	p->retry_ms = retry_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
		keel_log_error("%s: could not start its thread", name);
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void
keel_periodic_stop(keel_periodic *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
