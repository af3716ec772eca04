-- 0006 events: the trace of the change that caused an event (docs/observability.md).
--
-- The request that enqueues an event stores its W3C traceparent (its trace id,
-- its server span's id, its sampled flag).  The relay then produces the event
-- as a child span of that request and passes the trace on to consumers in the
-- message's traceparent header.  NULL when the writer had no trace (commands).

ALTER TABLE events.outbox
	ADD COLUMN traceparent text
	CHECK (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$');
