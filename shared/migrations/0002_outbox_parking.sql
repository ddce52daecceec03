-- An outbox that is never blocked by one row (docs/decisions/0012-event-size-policy-and-outbox-parking.md).
-- A row the relay can never publish (too large, a topic Skolit does not declare, headers it cannot send, a broker
-- refusal that retrying cannot change) is *parked* with its reason; the relay moves on. Later rows with the same
-- topic and key wait behind a parked row, so a consumer never sees a key's events out of order; an operator retries
-- the row after a fix (parked_at cleared) or discards it (discarded_at set, kept as the record).
ALTER TABLE outbox
    ADD COLUMN parked_at     timestamptz,
    ADD COLUMN park_reason   text,
    ADD COLUMN discarded_at  timestamptz,
    ADD COLUMN discard_note  text;

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL AND discarded_at IS NULL;
-- Few rows: the relay looks here for every row it is about to publish.
CREATE INDEX outbox_parked ON outbox (topic, key, seq) WHERE parked_at IS NOT NULL AND discarded_at IS NULL AND published_at IS NULL;
-- The operators' listing of dead letters (newest first, shared/operations.py) without scanning every event ever published.
CREATE INDEX outbox_dead_letters ON outbox (seq) WHERE topic LIKE '%.dlq';
