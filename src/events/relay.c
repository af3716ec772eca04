/*
 * The outbox relay: events.outbox -> Kafka, at least once, in order per key.
 *
 * One batch is one transaction on the relay's own connection (role
 * keel_relay): claim up to KEEL_RELAY_BATCH unpublished rows in seq order
 * with FOR UPDATE SKIP LOCKED, produce them with the idempotent producer
 * (enable.idempotence, acks=all), wait for every delivery report, mark the
 * acknowledged rows published, COMMIT.  A row is marked only after the broker
 * acknowledged it, so a crash anywhere can only publish an event again (same
 * event id), never lose one.  Several relays share the work: SKIP LOCKED
 * gives each its own rows, and a row whose entity has an earlier event held
 * by another relay is left for later (the claim marks it blocked), so the
 * order per key holds across relays too.
 *
 * Between batches the relay sleeps on LISTEN keel_events (the outbox trigger
 * notifies at commit, from one committing writer at a time: migration 0005
 * says why) with KEEL_RELAY_POLL_INTERVAL as the fallback; after a batch it
 * first looks again a few times at short intervals, for the writers that
 * committed just after the notifying one.  When
 * Kafka fails, the events stay in the outbox; the relay backs off (doubling,
 * up to 30 s), counts the backlog and warns while it grows.  Published rows
 * are deleted after KEEL_EVENTS_RETENTION.
 *
 * Everything here runs on the relay's thread except keel_relay_stats_get()
 * (atomics) and keel_relay_stop() (an atomic flag and a pipe that wakes the
 * thread from any wait).
 */
#include "events/events_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/trace.h"
#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKOFF_MIN_MS      250
#define BACKOFF_MAX_MS      30000
#define BLOCKED_PAUSE_MS    20    /* rows held back for another relay: look again soon */
#define LINGER_MS           20    /* after publishing, look again this soon ... */
#define LINGER_LOOKS        3     /* ... this many times before sleeping on LISTEN */
#define COUNT_EVERY_MS      10000 /* backlog count while healthy */
#define COUNT_FAILING_MS    2000  /* ... and while deliveries fail */
#define PRUNE_EVERY_MS      60000 /* retention */
#define PRUNE_LIMIT         10000 /* rows per DELETE */
#define PRUNE_ROUNDS        10    /* DELETEs per retention pass */
#define MAX_TOPICS          64    /* entity kinds */
#define CONTENT_TYPE_HEADER "application/cloudevents+json; charset=UTF-8"

/* Where one claimed row stands with the broker. */
typedef enum slot_state { SLOT_SKIPPED, SLOT_SENT, SLOT_ACKED, SLOT_FAILED } slot_state;

typedef struct slot {
	slot_state state;
	/* a produce traced as a child span of the request that enqueued the event */
	bool traced;
	keel_trace_ref parent;
	uint8_t span_id[8];
	uint64_t start_unix_ns, end_unix_ns;
	rd_kafka_topic_t *rkt;
} slot;

typedef struct topic {
	char *kind; /* "organization" */
	rd_kafka_topic_t *rkt;
} topic;

struct keel_relay {
	keel_relay_opts o; /* strings owned (copied at create) */
	char *conninfo;
	rd_kafka_t *rk;
	topic topics[MAX_TOPICS];
	int ntopics;
	keel_db *db;
	int wake[2]; /* stop() writes to wake[1]; every wait polls wake[0] */
	pthread_t thread;
	bool started, joined;
	atomic_bool stopping;
	atomic_bool done;
	/* the current batch (relay thread only) */
	int outstanding;
	rd_kafka_resp_err_t batch_err;
	/* health and backlog (relay thread only) */
	int64_t backoff_ms;
	bool failing;
	int linger; /* quick looks left before the long sleep */
	uint64_t next_count_ns, next_prune_ns;
	int64_t last_count;
	/* for the metrics */
	atomic_int_fast64_t pending;
	atomic_uint_fast64_t published, delivery_errors, pruned;
	atomic_bool healthy;
};

static uint64_t
ms_from_now(int64_t ms)
{
	return keel_clock_mono_ns() + (uint64_t)ms * 1000000u;
}

static bool
stopping(const keel_relay *r)
{
	return atomic_load(&r->stopping);
}

/* Sleep ms, or less when stop() is called. */
static void
pause_ms(keel_relay *r, int64_t ms)
{
	struct pollfd p = {.fd = r->wake[0], .events = POLLIN};

	if (!stopping(r))
		(void)poll(&p, 1, (int)(ms > 60000 ? 60000 : ms));
}

/* ---- librdkafka callbacks (called on the relay thread, from rd_kafka_poll) ---- */

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	slot *s = m->_private;
	keel_relay *r = opaque;

	(void)rk;
	if (s == NULL)
		return;
	s->state = m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? SLOT_ACKED : SLOT_FAILED;
	if (s->traced)
		s->end_unix_ns = keel_clock_realtime_ns();
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && r->batch_err == RD_KAFKA_RESP_ERR_NO_ERROR)
		r->batch_err = m->err;
	r->outstanding--;
}

/* librdkafka's own log lines, as keel's JSON lines; a broker down is a warning, not keel's error.
 */
static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	keel_log_level l = level <= 4 ? KEEL_LOG_WARN : KEEL_LOG_DEBUG;

	(void)rk;
	if (keel_log_enabled(l))
		keel_log_json(l, "relay: librdkafka",
		              json_pack("{s:s, s:s}", "facility", fac, "detail", buf));
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	keel_log_json(KEEL_LOG_WARN, "relay: kafka error",
	              json_pack("{s:s, s:s}", "error", rd_kafka_err2name(err), "detail", reason));
}

/* ---- the producer ---- */

/* One setting: its librdkafka name and the variable that gives it (for messages). */
typedef struct setting {
	const char *name;
	const char *value;
	const char *var;
} setting;

static bool
conf_apply(rd_kafka_conf_t *conf, const setting *s, size_t n, char *err, size_t errlen)
{
	char why[512];

	for (size_t i = 0; i < n; i++) {
		if (s[i].value == NULL)
			continue;
		if (rd_kafka_conf_set(conf, s[i].name, s[i].value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
			snprintf(err, errlen, "%s: %s", s[i].var, why);
			return false;
		}
	}
	return true;
}

static keel_err
producer_create(keel_relay *r, char *err, size_t errlen)
{
	const keel_relay_opts *o = &r->o;
	char timeout[24], why[512];

	snprintf(timeout, sizeof(timeout), "%lld", (long long)o->message_timeout_ms);
	const setting s[] = {
	    {"bootstrap.servers", o->brokers, "KEEL_KAFKA_BROKERS"},
	    {"security.protocol", o->security_protocol, "KEEL_KAFKA_SECURITY_PROTOCOL"},
	    {"sasl.mechanism", o->sasl_mechanism, "KEEL_KAFKA_SASL_MECHANISM"},
	    {"sasl.username", o->sasl_username, "KEEL_KAFKA_SASL_USERNAME"},
	    {"sasl.password", o->sasl_password, "KEEL_KAFKA_SASL_PASSWORD"},
	    {"ssl.ca.location", o->ssl_ca_file, "KEEL_KAFKA_SSL_CA_FILE"},
	    {"ssl.certificate.location", o->ssl_cert_file, "KEEL_KAFKA_SSL_CERT_FILE"},
	    {"ssl.key.location", o->ssl_key_file, "KEEL_KAFKA_SSL_KEY_FILE"},
	    {"message.timeout.ms", timeout, "KEEL_KAFKA_MESSAGE_TIMEOUT"},
	    /* the guarantees: keel's, not the operator's to loosen */
	    {"enable.idempotence", "true", "enable.idempotence"},
	    {"acks", "all", "acks"},
	    {"client.id", "keel-relay", "client.id"},
	    {"reconnect.backoff.max.ms", "2000", "reconnect.backoff.max.ms"},
	    {"log.connection.close", "false", "log.connection.close"},
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (!conf_apply(conf, s, sizeof(s) / sizeof(s[0]), err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return KEEL_EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (r->rk == NULL) { /* conf is still ours */
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "KEEL_KAFKA_*: %s", why);
		return KEEL_EINVAL;
	}
	return KEEL_OK;
}

static void
producer_destroy(keel_relay *r)
{
	for (int i = 0; i < r->ntopics; i++) {
		rd_kafka_topic_destroy(r->topics[i].rkt);
		free(r->topics[i].kind);
	}
	r->ntopics = 0;
	if (r->rk != NULL)
		rd_kafka_destroy(r->rk);
	r->rk = NULL;
}

int
keel_events_topic(const char *prefix, const char *type, char *buf, size_t size)
{
	const char *kind = strchr(type, '.');
	const char *end = kind != NULL ? strchr(kind + 1, '.') : NULL;

	if (end == NULL || end == kind + 1)
		return -1;
	kind++;
	int len = (int)(end - kind);
	bool ies = len >= 2 && kind[len - 1] == 'y' && strchr("aeiou", kind[len - 2]) == NULL;

	return snprintf(buf, size, "%s.%.*s%s", prefix, ies ? len - 1 : len, kind, ies ? "ies" : "s");
}

/*
 * The topic of an event type (keel_events_topic), made once per kind.  NULL when the type has
 * no kind (the outbox's CHECK makes that impossible).
 */
static rd_kafka_topic_t *
topic_for(keel_relay *r, const char *type)
{
	const char *kind = strchr(type, '.');
	const char *end = kind != NULL ? strchr(kind + 1, '.') : NULL;

	if (end == NULL || end == kind + 1)
		return NULL;
	kind++;
	size_t len = (size_t)(end - kind);

	for (int i = 0; i < r->ntopics; i++)
		if (strlen(r->topics[i].kind) == len && strncmp(r->topics[i].kind, kind, len) == 0)
			return r->topics[i].rkt;
	if (r->ntopics == MAX_TOPICS)
		return NULL;
	int n = keel_events_topic(r->o.topic_prefix, type, NULL, 0);
	char *name = keel_xmalloc((size_t)n + 1);

	keel_events_topic(r->o.topic_prefix, type, name, (size_t)n + 1);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, name, NULL);

	free(name);
	if (rkt == NULL)
		return NULL;
	r->topics[r->ntopics++] = (topic){.kind = keel_xstrndup(kind, len), .rkt = rkt};
	return rkt;
}

/*
 * The message's headers: its content type and, when the change was made in a
 * trace, the traceparent consumers continue: this produce's own span when the
 * trace is sampled (s is then traced), else the request's context unchanged.
 */
static rd_kafka_headers_t *
headers_for(keel_relay *r, const outbox_row *row, slot *s)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	bool sampled;

	rd_kafka_header_add(h, "content-type", -1, CONTENT_TYPE_HEADER, -1);
	if (row->traceparent == NULL ||
	    !keel_traceparent_parse(row->traceparent, s->parent.trace_id, s->parent.span_id, &sampled))
		return h;
	s->parent.sampled = sampled;
	if (!sampled || r->o.on_produce == NULL) {
		rd_kafka_header_add(h, "traceparent", -1, row->traceparent, -1);
		return h;
	}
	char tp[KEEL_TRACEPARENT_LEN + 1];

	s->traced = true;
	keel_trace_new_id(s->span_id, 8);
	keel_traceparent_format(s->parent.trace_id, s->span_id, true, tp);
	rd_kafka_header_add(h, "traceparent", -1, tp, -1);
	return h;
}

/* Hand one row to librdkafka; false when it refused (the row stays unpublished). */
static bool
produce(keel_relay *r, const outbox_row *row, slot *s)
{
	rd_kafka_topic_t *rkt = topic_for(r, row->type);

	if (rkt == NULL) {
		keel_log_error("relay: no topic for event type \"%s\"", row->type);
		return false;
	}
	rd_kafka_headers_t *h = headers_for(r, row, s);

	s->rkt = rkt;
	s->start_unix_ns = keel_clock_realtime_ns();
	for (;;) {
		/* on success the message owns the headers; on failure they are still ours */
		rd_kafka_resp_err_t e =
		    rd_kafka_producev(r->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                      RD_KAFKA_V_KEY(row->subject, strlen(row->subject)),
		                      RD_KAFKA_V_VALUE((void *)row->event, row->event_len),
		                      RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);

		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			s->state = SLOT_SENT;
			r->outstanding++;
			return true;
		}
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || stopping(r)) {
			rd_kafka_headers_destroy(h);
			s->traced = false;
			if (r->batch_err == RD_KAFKA_RESP_ERR_NO_ERROR)
				r->batch_err = e;
			return false;
		}
		rd_kafka_poll(r->rk, 100); /* let deliveries make room */
	}
}

/* Report the traced produces of a batch once every delivery report is in. */
static void
produce_spans(keel_relay *r, const slot *slots, int n)
{
	for (int i = 0; i < n; i++) {
		const slot *s = &slots[i];

		if (!s->traced || (s->state != SLOT_ACKED && s->state != SLOT_FAILED))
			continue;
		keel_produce_span span = {.parent = &s->parent,
		                          .span_id = s->span_id,
		                          .topic = rd_kafka_topic_name(s->rkt),
		                          .start_unix_ns = s->start_unix_ns,
		                          .end_unix_ns = s->end_unix_ns,
		                          .ok = s->state == SLOT_ACKED};

		r->o.on_produce(r->o.on_produce_ctx, &span);
	}
}

/*
 * Wait until every message of the batch has its delivery report.  librdkafka
 * reports each within message.timeout.ms; on stop, the queue is purged (those
 * messages report at once and stay in the outbox).
 */
static void
acks_wait(keel_relay *r)
{
	uint64_t deadline = ms_from_now(r->o.message_timeout_ms + 5000);
	bool purged = false;

	while (r->outstanding > 0) {
		rd_kafka_poll(r->rk, 50);
		if (!purged && (stopping(r) || keel_clock_mono_ns() > deadline)) {
			rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			purged = true;
		}
	}
}

/* ---- one batch ---- */

typedef struct batch_result {
	int claimed;   /* rows locked */
	int blocked;   /* of which held back for another relay */
	int published; /* acknowledged and marked */
	int failed;    /* produced but not acknowledged */
	bool db_error;
} batch_result;

/* "{seq,seq,...}" of the acknowledged rows, or NULL when there are none. */
static const char *
acked_seqs(keel_arena *a, const outbox_row *rows, const slot *slots, int n, int *count)
{
	keel_buf b;

	keel_buf_init(&b, a);
	*count = 0;
	for (int i = 0; i < n; i++) {
		if (slots[i].state != SLOT_ACKED)
			continue;
		keel_buf_puts(&b, *count == 0 ? "{" : ",");
		keel_buf_puts(&b, rows[i].seq);
		(*count)++;
	}
	keel_buf_puts(&b, "}");
	return *count > 0 ? b.data : NULL;
}

static void
batch_run(keel_relay *r, keel_arena *a, batch_result *res)
{
	keel_tx *tx;
	outbox_row *rows;
	int n, acked;

	memset(res, 0, sizeof(*res));
	r->batch_err = RD_KAFKA_RESP_ERR_NO_ERROR;
	r->outstanding = 0;
	if (keel_tx_begin(r->db, a, NULL, &tx) != KEEL_OK ||
	    events_store_claim(tx, a, r->o.batch, &rows, &n) != KEEL_OK) {
		res->db_error = true;
		return;
	}
	slot *slots = keel_arena_calloc(a, (size_t)(n > 0 ? n : 1), sizeof(*slots));

	res->claimed = n;
	for (int i = 0; i < n; i++) {
		if (rows[i].blocked)
			res->blocked++;
		else if (!produce(r, &rows[i], &slots[i]))
			slots[i].state = SLOT_FAILED;
	}
	acks_wait(r);
	produce_spans(r, slots, n);
	const char *seqs = acked_seqs(a, rows, slots, n, &acked);

	for (int i = 0; i < n; i++)
		res->failed += slots[i].state == SLOT_FAILED;
	if ((seqs != NULL && events_store_mark(tx, seqs) != KEEL_OK) || keel_tx_commit(tx) != KEEL_OK) {
		/* acknowledged but not marked: they will be published again, with the same ids */
		res->db_error = true;
		return;
	}
	res->published = acked;
}

/* ---- connection, backlog, retention ---- */

static bool
db_connect_listen(keel_relay *r)
{
	char why[512];

	if (keel_db_open(&r->o.db, &r->db, why, sizeof(why)) != KEEL_OK) {
		keel_log_warn("relay: %s", why);
		return false;
	}
	if (keel_db_listen(r->db, KEEL_EVENTS_CHANNEL) != KEEL_OK) {
		keel_db_close(r->db);
		r->db = NULL;
		return false;
	}
	return true;
}

static void
db_drop(keel_relay *r)
{
	keel_db_close(r->db);
	r->db = NULL;
}

/*
 * Count the unpublished events (for the metrics) and warn while the backlog
 * grows with deliveries failing, or stands above KEEL_RELAY_BACKLOG_WARN.
 */
static void
backlog_check(keel_relay *r)
{
	keel_arena *a = keel_arena_create(1024);
	keel_tx *tx;
	int64_t n = -1;

	if (keel_tx_begin(r->db, a, NULL, &tx) == KEEL_OK && events_store_pending(tx, &n) == KEEL_OK) {
		atomic_store(&r->pending, n);
		if (n > 0 && n > r->last_count && (r->failing || n > r->o.backlog_warn))
			keel_log_json(KEEL_LOG_WARN, "relay: outbox backlog growing",
			              json_pack("{s:I, s:I, s:b, s:I}", "outbox_pending", (json_int_t)n,
			                        "previous", (json_int_t)r->last_count, "delivering",
			                        !r->failing, "delivery_errors",
			                        (json_int_t)atomic_load(&r->delivery_errors)));
		r->last_count = n;
	}
	keel_arena_destroy(a);
	r->next_count_ns = ms_from_now(r->failing ? COUNT_FAILING_MS : COUNT_EVERY_MS);
}

/* Delete published events older than the retention, a bounded amount per pass. */
static void
prune(keel_relay *r)
{
	long deleted = PRUNE_LIMIT;

	for (int i = 0; i < PRUNE_ROUNDS && deleted == PRUNE_LIMIT && !stopping(r); i++) {
		keel_arena *a = keel_arena_create(1024);
		keel_tx *tx;

		deleted = 0;
		if (keel_tx_begin(r->db, a, NULL, &tx) == KEEL_OK)
			(void)events_store_prune(tx, r->o.retention_ms, PRUNE_LIMIT, &deleted);
		keel_arena_destroy(a);
		atomic_fetch_add(&r->pruned, (uint_fast64_t)deleted);
	}
	r->next_prune_ns = ms_from_now(PRUNE_EVERY_MS);
}

/* ---- the loop ---- */

static void
note_failure(keel_relay *r, const batch_result *res)
{
	if (res->db_error)
		keel_log_warn("relay: the outbox could not be read or marked; retrying in %lld ms",
		              (long long)r->backoff_ms);
	else
		keel_log_json(KEEL_LOG_WARN, "relay: delivery failed; the events stay in the outbox",
		              json_pack("{s:i, s:s, s:I}", "failed", res->failed, "error",
		                        rd_kafka_err2name(r->batch_err), "retry_in_ms",
		                        (json_int_t)r->backoff_ms));
	r->failing = true;
	atomic_store(&r->healthy, false);
}

/* Fatal producer errors (idempotence state lost) need a new producer. */
static void
producer_check(keel_relay *r)
{
	char why[512], err[512];

	if (rd_kafka_fatal_error(r->rk, why, sizeof(why)) == RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	keel_log_error("relay: fatal producer error (%s); making a new producer", why);
	producer_destroy(r);
	if (producer_create(r, err, sizeof(err)) != KEEL_OK) {
		keel_log_error("relay: %s", err);
		atomic_store(&r->stopping, true);
	}
}

/*
 * One turn: a batch, then what follows from it.  Returns false when the
 * relay should end (drain mode, outbox empty).
 */
static bool
turn(keel_relay *r)
{
	keel_arena *a = keel_arena_create(64 * 1024);
	batch_result res;

	batch_run(r, a, &res);
	keel_arena_destroy(a); /* rolls back a batch that did not commit */
	atomic_fetch_add(&r->published, (uint_fast64_t)res.published);
	atomic_fetch_add(&r->delivery_errors, (uint_fast64_t)res.failed);
	producer_check(r);
	if (res.db_error || res.failed > 0) {
		note_failure(r, &res);
		if (res.db_error)
			db_drop(r);
		else if (keel_clock_mono_ns() >= r->next_count_ns)
			backlog_check(r);
		pause_ms(r, r->backoff_ms);
		r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
		return true;
	}
	if (r->failing)
		keel_log_info("relay: delivering again");
	r->failing = false;
	r->backoff_ms = BACKOFF_MIN_MS;
	atomic_store(&r->healthy, true);
	if (keel_clock_mono_ns() >= r->next_count_ns)
		backlog_check(r);
	if (keel_clock_mono_ns() >= r->next_prune_ns)
		prune(r);
	if (res.claimed > res.blocked) {
		r->linger = LINGER_LOOKS;
		return true; /* more may be waiting */
	}
	if (res.blocked > 0) {
		pause_ms(r, BLOCKED_PAUSE_MS);
		return true;
	}
	if (r->o.drain)
		return false;
	bool notified;
	/*
	 * Writers that committed just after the notifying one did not notify
	 * (migration 0005): a few quick looks catch them.
	 */
	int64_t wait_ms = r->linger > 0 ? LINGER_MS : r->o.poll_interval_ms;

	if (r->linger > 0)
		r->linger--;

	if (keel_db_wait(r->db, r->wake[0], wait_ms, &notified) != KEEL_OK)
		db_drop(r);
	return true;
}

static void *
relay_main(void *arg)
{
	keel_relay *r = arg;

	keel_log_json(KEEL_LOG_INFO, "relay: started",
	              json_pack("{s:s, s:i, s:b}", "topic_prefix", r->o.topic_prefix, "batch",
	                        r->o.batch, "drain", r->o.drain));
	while (!stopping(r)) {
		if (r->db == NULL && !db_connect_listen(r)) {
			pause_ms(r, r->backoff_ms);
			r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
			continue;
		}
		if (!turn(r))
			break;
	}
	if (r->db != NULL && r->o.drain && !stopping(r)) {
		backlog_check(r);
		prune(r);
	}
	keel_log_json(KEEL_LOG_INFO, "relay: stopped",
	              json_pack("{s:I, s:I, s:I}", "published", (json_int_t)atomic_load(&r->published),
	                        "delivery_errors", (json_int_t)atomic_load(&r->delivery_errors),
	                        "pruned", (json_int_t)atomic_load(&r->pruned)));
	atomic_store(&r->done, true);
	return NULL;
}

/* ---- lifecycle ---- */

static const char *
dup_or_null(const char *s)
{
	return s != NULL ? keel_xstrdup(s) : NULL;
}

keel_err
keel_relay_create(const keel_relay_opts *o, keel_relay **out, char *err, size_t errlen)
{
	keel_relay *r = keel_xcalloc(1, sizeof(*r));

	*out = NULL;
	r->o = *o;
	r->o.brokers = dup_or_null(o->brokers);
	r->o.security_protocol = dup_or_null(o->security_protocol);
	r->o.sasl_mechanism = dup_or_null(o->sasl_mechanism);
	r->o.sasl_username = dup_or_null(o->sasl_username);
	r->o.sasl_password = dup_or_null(o->sasl_password);
	r->o.ssl_ca_file = dup_or_null(o->ssl_ca_file);
	r->o.ssl_cert_file = dup_or_null(o->ssl_cert_file);
	r->o.ssl_key_file = dup_or_null(o->ssl_key_file);
	r->o.topic_prefix = keel_xstrdup(o->topic_prefix != NULL ? o->topic_prefix : "keel");
	r->conninfo = keel_xstrdup(o->db.conninfo != NULL ? o->db.conninfo : "user=keel_relay");
	r->o.db.conninfo = r->conninfo;
	if (r->o.batch < 1)
		r->o.batch = 1;
	r->wake[0] = r->wake[1] = -1;
	r->backoff_ms = BACKOFF_MIN_MS;
	r->last_count = 0;
	atomic_init(&r->pending, -1);
	atomic_init(&r->stopping, false);
	atomic_init(&r->done, false);
	atomic_init(&r->healthy, false);
	if (o->brokers == NULL) {
		snprintf(err, errlen, "KEEL_KAFKA_BROKERS is not set");
		keel_relay_destroy(r);
		return KEEL_EINVAL;
	}
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "could not make the relay's wake-up pipe: %s", strerror(errno));
		keel_relay_destroy(r);
		return KEEL_EINTERNAL;
	}
	keel_err e = producer_create(r, err, errlen);

	if (e != KEEL_OK) {
		keel_relay_destroy(r);
		return e;
	}
	*out = r;
	return KEEL_OK;
}

keel_err
keel_relay_start(keel_relay *r)
{
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0)
		return KEEL_EINTERNAL;
	r->started = true;
	return KEEL_OK;
}

bool
keel_relay_done(const keel_relay *r)
{
	return atomic_load(&r->done);
}

void
keel_relay_stop(keel_relay *r)
{
	if (r == NULL || !r->started || r->joined)
		return;
	atomic_store(&r->stopping, true);
	if (write(r->wake[1], "x", 1) < 0 && errno != EAGAIN)
		keel_log_warn("relay: could not wake the relay: %s", strerror(errno));
	pthread_join(r->thread, NULL);
	r->joined = true;
}

void
keel_relay_destroy(keel_relay *r)
{
	if (r == NULL)
		return;
	keel_relay_stop(r);
	producer_destroy(r); /* rd_kafka_destroy() returns when librdkafka's threads are gone */
	keel_db_close(r->db);
	for (int i = 0; i < 2; i++)
		if (r->wake[i] >= 0)
			close(r->wake[i]);
	free((char *)r->o.brokers);
	free((char *)r->o.security_protocol);
	free((char *)r->o.sasl_mechanism);
	free((char *)r->o.sasl_username);
	free((char *)r->o.sasl_password);
	free((char *)r->o.ssl_ca_file);
	free((char *)r->o.ssl_cert_file);
	free((char *)r->o.ssl_key_file);
	free((char *)r->o.topic_prefix);
	free(r->conninfo);
	free(r);
}

void
keel_relay_stats_get(const keel_relay *r, keel_relay_stats *out)
{
	keel_relay *m = (keel_relay *)r; /* atomics are read through a non-const pointer */

	out->outbox_pending = atomic_load(&m->pending);
	out->published = atomic_load(&m->published);
	out->delivery_errors = atomic_load(&m->delivery_errors);
	out->pruned = atomic_load(&m->pruned);
	out->healthy = atomic_load(&m->healthy);
}
