ALTER TABLE events.outbox DROP COLUMN traceparent;
