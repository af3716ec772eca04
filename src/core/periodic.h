/*
 * A job that runs on a thread of its own now and then every so often, until
 * stopped: serve's daily upkeep (audit partitions, retention).
 */
#ifndef KEEL_CORE_PERIODIC_H
#define KEEL_CORE_PERIODIC_H

#include <stdbool.h>

typedef struct keel_periodic keel_periodic;

/*
 * Call run(arg, p) at once on a new thread, then again every_ms after a run
 * that returned true and retry_ms after one that returned false, until
 * keel_periodic_stop().  name is for the log.  NULL (logged) when the thread
 * cannot start.
 */
keel_periodic *keel_periodic_start(const char *name, bool (*run)(void *arg, keel_periodic *p),
                                   void *arg, long long every_ms, long long retry_ms);

/*
 * Whether p is being stopped (p is a keel_periodic): for a long run to end
 * early, and shaped as the cancel callbacks of the runs take it.
 */
bool keel_periodic_stopping(void *p);

/* Stop: wake the thread, wait for a run in progress, free p.  NULL is a no-op. */
void keel_periodic_stop(keel_periodic *p);

#endif
