-- Reliable messaging, in every service's schema: the outbox (events waiting to be published, kept
-- afterwards as the record) and the inbox (ids of events already applied, so redelivery is harmless).

CREATE TABLE outbox (
    seq           bigserial PRIMARY KEY,
    id            uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    key           bytea,
    headers       jsonb       NOT NULL,
    payload       bytea,
    event_type    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_created_at ON outbox (created_at);

-- Wake the relay as soon as a transaction that wrote events commits (NOTIFY is delivered on commit).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE inbox (
    event_id     text PRIMARY KEY,
    event_type   text,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    "offset"     bigint      NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('applied', 'dead-lettered')),
    received_at  timestamptz NOT NULL DEFAULT now()
);
