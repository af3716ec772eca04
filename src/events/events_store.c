/*
 * The events module's SQL: the outbox (migration 0005).
 *
 * Enqueueing is a deferred statement (keel_tx_defer): it travels in the
 * pipeline of the transaction's COMMIT, so the event commits with its change
 * and costs no round trip.  tenant_id is the transaction's tenant, checked
 * again by the table's row-level security.
 *
 * The relay's statements run as keel_relay, whose policy shows every tenant's
 * rows.  The CloudEvents envelope is built by PostgreSQL when a row is
 * claimed (json_build_object over a json column keeps the data's text and
 * member order as the store rendered it), and made compact on the way out
 * (keel_res_json), the style of every body keel writes; the relay sends that
 * text.
 */
#include "events/events_int.h"
#include "core/trace.h"
#include "core/uuid.h"

#include <stdlib.h>
#include <string.h>

static const keel_stmt st_enqueue = {
    "events_enqueue",
    "INSERT INTO events.outbox (tenant_id, id, type, subject, data, traceparent)"
    " VALUES (core.current_tenant_id(), $1, $2, $3, $4::json, $5)",
    5};

/*
 * The oldest unpublished rows no other relay holds.  A row is blocked when an
 * earlier unpublished event of the same entity is not in this batch: another
 * relay holds it, and publishing this one first would break the order per
 * key.  Blocked rows stay locked, unpublished, until this transaction ends.
 */
static const keel_stmt st_claim = {
    "events_claim",
    "WITH c AS (SELECT o.tenant_id, o.id, o.seq, o.type, o.subject, o.data, o.occurred_at,"
    " o.traceparent"
    " FROM events.outbox o WHERE o.published_at IS NULL ORDER BY o.seq LIMIT $1::integer"
    " FOR UPDATE SKIP LOCKED)"
    " SELECT c.seq, c.subject, c.type, EXISTS (SELECT FROM events.outbox p"
    "  WHERE p.tenant_id = c.tenant_id AND p.subject = c.subject AND p.published_at IS NULL"
    "  AND p.seq < c.seq AND p.seq NOT IN (SELECT c2.seq FROM c c2)),"
    " json_build_object('specversion', '1.0', 'id', c.id, 'source', '/tenants/' || c.tenant_id,"
    "  'type', c.type, 'subject', c.subject, 'time', " KEEL_DB_TS(
        "c.occurred_at") ","
                         "  'datacontenttype', 'application/json', 'tenantid', c.tenant_id, "
                         "'data', c.data)::text, c.traceparent"
                         " FROM c ORDER BY c.seq",
    1};

static const keel_stmt st_mark = {"events_mark",
                                  "UPDATE events.outbox SET published_at = clock_timestamp()"
                                  " WHERE published_at IS NULL AND seq = ANY($1::bigint[])",
                                  1};

static const keel_stmt st_pending = {
    "events_pending", "SELECT count(*) FROM events.outbox WHERE published_at IS NULL", 0};

static const keel_stmt st_prune = {
    "events_prune",
    "DELETE FROM events.outbox o WHERE (o.tenant_id, o.id) IN (SELECT p.tenant_id, p.id"
    " FROM events.outbox p WHERE p.published_at < clock_timestamp()"
    " - make_interval(secs => $1::double precision / 1000) LIMIT $2::integer)",
    2};

keel_err
keel_events_enqueue(keel_tx *tx, const char *type, const char *subject_id, const char *data_json)
{
	keel_uuid id;
	char text[KEEL_UUID_STRLEN + 1], traceparent[KEEL_TRACEPARENT_LEN + 1];
	const keel_trace_ref *trace = keel_tx_trace(tx);

	keel_uuid_v7(&id);
	keel_uuid_format(&id, text);
	if (trace != NULL)
		keel_traceparent_format(trace->trace_id, trace->span_id, trace->sampled, traceparent);
	const char *p[] = {text, type, subject_id, data_json, trace != NULL ? traceparent : NULL};

	return keel_tx_defer(tx, &st_enqueue, p);
}

keel_err
keel_events_enqueue_json(keel_tx *tx, const char *type, const char *subject_id, const json_t *data)
{
	char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (text == NULL)
		return KEEL_EINTERNAL;
	keel_err err = keel_events_enqueue(tx, type, subject_id, text);

	free(text);
	return err;
}

keel_err
events_store_claim(keel_tx *tx, keel_arena *a, int limit, outbox_row **rows, int *n)
{
	char lim[16];
	const char *p[] = {lim};
	keel_res *res;

	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec(tx, &st_claim, p, &res);

	*rows = NULL;
	*n = 0;
	if (err != KEEL_OK)
		return err;
	*n = keel_res_rows(res);
	*rows = keel_arena_calloc(a, (size_t)(*n > 0 ? *n : 1), sizeof(**rows));
	for (int i = 0; i < *n; i++) {
		outbox_row *r = &(*rows)[i];

		/* the result lives as long as the arena: no copies but the event's compact text */
		r->seq = keel_res_get(res, i, 0);
		r->subject = keel_res_get(res, i, 1);
		r->type = keel_res_get(res, i, 2);
		r->blocked = keel_res_get(res, i, 3)[0] == 't';
		r->event = keel_res_json(res, i, 4, a);
		r->event_len = strlen(r->event);
		r->traceparent = keel_res_null(res, i, 5) ? NULL : keel_res_get(res, i, 5);
	}
	return KEEL_OK;
}

keel_err
events_store_mark(keel_tx *tx, const char *seqs)
{
	const char *p[] = {seqs};

	return keel_tx_exec(tx, &st_mark, p, NULL);
}

keel_err
events_store_pending(keel_tx *tx, int64_t *n)
{
	keel_res *res;
	keel_err err = keel_tx_exec_only(tx, &st_pending, NULL, &res);

	*n = err == KEEL_OK ? strtoll(keel_res_get(res, 0, 0), NULL, 10) : -1;
	return err;
}

keel_err
events_store_prune(keel_tx *tx, int64_t retention_ms, int limit, long *deleted)
{
	char ms[24], lim[16];
	const char *p[] = {ms, lim};
	keel_res *res;

	snprintf(ms, sizeof(ms), "%lld", (long long)retention_ms);
	snprintf(lim, sizeof(lim), "%d", limit);
	keel_err err = keel_tx_exec_only(tx, &st_prune, p, &res);

	*deleted = err == KEEL_OK ? keel_res_affected(res) : 0;
	return err;
}

keel_err
keel_events_pending(keel_db *db, keel_arena *arena, int64_t *pending)
{
	keel_tx *tx;
	keel_err err = keel_tx_begin(db, arena, NULL, &tx);

	return err != KEEL_OK ? err : events_store_pending(tx, pending);
}
