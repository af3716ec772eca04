-- 0005 events: the transactional outbox of domain events (docs/events.md).
--
-- A store enqueues an event in the transaction of the change that caused it
-- (keel_events_enqueue), so the event exists if and only if the change
-- committed.  The relay (`keel relay`, or a thread of `keel serve`) drains
-- the unpublished rows in seq order with FOR UPDATE SKIP LOCKED, produces
-- them to Kafka, and sets published_at only once the broker acknowledged
-- them; published rows are deleted after the retention.
--
-- Roles: keel_app may only INSERT (under the standard tenant policy).  The
-- relay runs as keel_relay, which can read, mark and delete the outbox rows
-- of every tenant (its own policy, relay_all) and nothing else anywhere.

CREATE SCHEMA events;
REVOKE ALL ON SCHEMA events FROM PUBLIC;
GRANT USAGE ON SCHEMA events TO keel_app, keel_relay;

CREATE TABLE events.outbox (
	tenant_id uuid NOT NULL REFERENCES core.tenants (id) ON DELETE CASCADE,
	id uuid NOT NULL,
	-- Order of enqueueing: the relay publishes in this order.  Events of one
	-- entity are enqueued under that entity's row lock, so their seq order is
	-- also their commit order.
	seq bigint GENERATED ALWAYS AS IDENTITY,
	type text NOT NULL CHECK (type ~ '^keel\.[a-z_]+\.[a-z_]+$'),
	subject text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 200),
	-- The entity after the change (before it, on delete), as the API renders it.
	data json NOT NULL,
	occurred_at timestamptz NOT NULL DEFAULT now(),
	published_at timestamptz,
	PRIMARY KEY (tenant_id, id)
);
-- The relay's queue: unpublished rows in order.  Deliberately not
-- tenant-leading: the relay drains all tenants at once.
CREATE INDEX outbox_seq_idx ON events.outbox (seq) WHERE published_at IS NULL;
-- An earlier unpublished event of the same entity (the relay's per-key order check).
CREATE INDEX outbox_tenant_id_subject_seq_idx ON events.outbox (tenant_id, subject, seq)
	WHERE published_at IS NULL;
-- Retention: published rows by age.
CREATE INDEX outbox_published_at_idx ON events.outbox (published_at)
	WHERE published_at IS NOT NULL;

SELECT core.enable_tenant_rls('events.outbox');
GRANT INSERT ON events.outbox TO keel_app;

-- The relay sees every tenant's rows.  A policy of its own, for keel_relay
-- only: keel_app stays under tenant_isolation alone.
CREATE POLICY relay_all ON events.outbox TO keel_relay USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON events.outbox TO keel_relay;
GRANT UPDATE (published_at) ON events.outbox TO keel_relay;

-- Wake the relays (LISTEN keel_events) when events commit.  PostgreSQL
-- delivers a notification at COMMIT, and makes every committing transaction
-- that notifies wait for the others on one database-wide lock, across its
-- WAL flush: with a NOTIFY in every write, concurrent writes would commit one
-- at a time (bench/events measured half the throughput at 16 clients).  So
-- only a transaction that gets the try-lock below notifies; the others skip
-- it, because the holder's notification is still to come and wakes the relay,
-- which then drains everything committed by then and looks again shortly
-- after (KEEL_RELAY_POLL_INTERVAL remains the fallback).
CREATE FUNCTION events.outbox_notify() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF pg_try_advisory_xact_lock(hashtext('keel_events'), 0) THEN
		PERFORM pg_notify('keel_events', '');
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify
	AFTER INSERT ON events.outbox
	FOR EACH STATEMENT EXECUTE FUNCTION events.outbox_notify();
