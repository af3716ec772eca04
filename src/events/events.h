/*
 * keel events: domain events through a transactional outbox, relayed to
 * Kafka.
 *
 * A store records the event of a change with one call, keel_events_enqueue(),
 * in the transaction of the change: the row goes to events.outbox in the
 * pipeline of that transaction's COMMIT, so an event exists if and only if
 * its change committed, and it costs the request no round trip of its own.
 *
 * The relay (a thread of `keel serve` when KEEL_KAFKA_BROKERS is set, or
 * `keel relay`) drains the outbox in order with FOR UPDATE SKIP LOCKED, is
 * woken by LISTEN/NOTIFY with a poll as fallback, produces each event as a
 * CloudEvents 1.0 structured JSON message with librdkafka's idempotent
 * producer (acks=all), and marks it published only after the broker
 * acknowledged it.  Delivery is at least once: consumers dedupe by the event
 * id.  Only this module includes rdkafka.h.  docs/events.md has the format,
 * the guarantees and the operations.
 */
#ifndef KEEL_EVENTS_EVENTS_H
#define KEEL_EVENTS_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* The NOTIFY channel of the outbox (migration 0005's trigger). */
#define KEEL_EVENTS_CHANNEL "keel_events"

/* ---- enqueueing (the stores) ---- */

/*
 * Record the event of a change in tx's tenant: type "keel.<kind>.<verb>"
 * ("keel.organization.created"), subject_id the entity's id (also the Kafka
 * key), data_json the entity after the change (before it, on delete) as JSON
 * text, never holding a secret.  The row is written when tx commits, in the
 * COMMIT's pipeline; when tx rolls back, there is no event.  Arguments are
 * copied.  Fails only on a transaction that already failed.
 */
keel_err keel_events_enqueue(keel_tx *tx, const char *type, const char *subject_id,
                             const char *data_json);

/* keel_events_enqueue() with data as a jansson value (serialized here, compact). */
keel_err keel_events_enqueue_json(keel_tx *tx, const char *type, const char *subject_id,
                                  const json_t *data);

/* ---- the relay ---- */

typedef struct keel_relay keel_relay;

/*
 * One event's produce, from the hand-over to librdkafka to the broker's
 * acknowledgement (or failure), for an event whose change was made in a
 * sampled trace: the span is a child of the request that enqueued it.
 */
typedef struct keel_produce_span {
	const keel_trace_ref *parent; /* the enqueuing request's span */
	const uint8_t *span_id;       /* this produce's span (also in the message's traceparent) */
	const char *topic;
	uint64_t start_unix_ns, end_unix_ns;
	bool ok;
} keel_produce_span;

/*
 * The topic of an event type "keel.<kind>.<verb>": <prefix>.<plural of kind>, the plural
 * English makes of the kind's last word: organization -> organizations, journal_entry ->
 * journal_entries (a consonant and y: ies), fiscal_year -> fiscal_years.  Returns the length
 * snprintf would write; -1 when the type has no kind.
 */
int keel_events_topic(const char *prefix, const char *type, char *buf, size_t size);

typedef struct keel_relay_opts {
	keel_db_opts db;     /* the relay role's connection (keel_relay) */
	const char *brokers; /* bootstrap.servers; required */
	const char *security_protocol, *sasl_mechanism, *sasl_username, *sasl_password;
	const char *ssl_ca_file, *ssl_cert_file, *ssl_key_file; /* NULL: librdkafka's default */
	const char *topic_prefix;                               /* topics: keel_events_topic() */
	int64_t message_timeout_ms;                             /* message.timeout.ms */
	int batch;                                              /* events claimed per transaction */
	int64_t poll_interval_ms;                               /* fallback when no NOTIFY arrives */
	int64_t retention_ms; /* published events are deleted after this */
	int64_t backlog_warn; /* warn above this many pending events */
	bool drain;           /* stop once the outbox is empty (keel relay --drain) */
	/* Called on the relay's thread for each traced produce; NULL: not traced. */
	void (*on_produce)(void *ctx, const keel_produce_span *span);
	void *on_produce_ctx;
} keel_relay_opts;

/*
 * Build a relay: the Kafka producer is configured here (nothing connects
 * yet).  KEEL_EINVAL with a reason naming the KEEL_KAFKA_* variable in err
 * when librdkafka rejects a setting.  Strings of o are copied.
 */
keel_err keel_relay_create(const keel_relay_opts *o, keel_relay **out, char *err, size_t errlen);

/* Run the relay on a thread of its own. */
keel_err keel_relay_start(keel_relay *r);

/* True once the relay's thread has ended by itself (drain mode: the outbox is empty). */
bool keel_relay_done(const keel_relay *r);

/*
 * Stop: the thread finishes its batch (messages still queued in librdkafka
 * are purged and stay in the outbox), and is joined.  Idempotent.
 */
void keel_relay_stop(keel_relay *r);

/* Stop if running, destroy the producer and the connection.  NULL is a no-op. */
void keel_relay_destroy(keel_relay *r);

/* What the metrics read (any thread, any time). */
typedef struct keel_relay_stats {
	int64_t outbox_pending;   /* unpublished events at the last count; -1: not counted yet */
	uint64_t published;       /* events the broker acknowledged */
	uint64_t delivery_errors; /* events the broker did not acknowledge (they are retried) */
	uint64_t pruned;          /* published events deleted after the retention */
	bool healthy;             /* the last batch was delivered and marked */
} keel_relay_stats;

void keel_relay_stats_get(const keel_relay *r, keel_relay_stats *out);

/*
 * outbox_pending without a relay: unpublished events of all tenants, counted
 * on db, which must be a connection of the relay role (keel_app sees none).
 */
keel_err keel_events_pending(keel_db *db, keel_arena *arena, int64_t *pending);

#endif
