/*
 * Private to src/events: the outbox store's interface for the relay.
 */
#ifndef KEEL_EVENTS_EVENTS_INT_H
#define KEEL_EVENTS_EVENTS_INT_H

#include "events/events.h"

/* One claimed outbox row, as the relay produces it. */
typedef struct outbox_row {
	const char *seq;     /* enqueue order, decimal */
	const char *subject; /* the entity id: the Kafka key */
	const char *type;    /* keel.<kind>.<verb> */
	const char *event;   /* the CloudEvents structured JSON, ready to send */
	size_t event_len;
	bool blocked; /* an earlier event of the subject is held by another relay: skip for now */
	const char *traceparent; /* of the request that enqueued it; NULL: none */
} outbox_row;

/*
 * Lock up to limit unpublished rows in seq order, skipping rows other relays
 * hold (FOR UPDATE SKIP LOCKED).  Rows and their text live in a.
 */
keel_err events_store_claim(keel_tx *tx, keel_arena *a, int limit, outbox_row **rows, int *n);

/* Mark the rows whose seqs are listed ("{1,2,3}") published now. */
keel_err events_store_mark(keel_tx *tx, const char *seqs);

/* Unpublished rows of all tenants, as a whole transaction (one round trip). */
keel_err events_store_pending(keel_tx *tx, int64_t *n);

/* Delete up to limit rows published more than retention_ms ago; *deleted gets how many. */
keel_err events_store_prune(keel_tx *tx, int64_t retention_ms, int limit, long *deleted);

#endif
