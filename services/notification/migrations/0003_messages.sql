-- A message is made once per cause (an event's id, a broadcast's id): the unique dedupe key, not a
-- check-then-insert, makes redelivery, restarts and concurrent workers harmless.
CREATE TABLE message (
    id            uuid PRIMARY KEY,
    dedupe_key    text        NOT NULL UNIQUE,
    message_type  text        NOT NULL,
    school_unit   uuid,
    critical      boolean     NOT NULL DEFAULT false,
    data          jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per recipient and channel, at most: the unique key again.
CREATE TABLE delivery (
    id          bigserial PRIMARY KEY,
    message_id  uuid        NOT NULL REFERENCES message (id),
    person      uuid        NOT NULL,
    channel     text        NOT NULL,
    mode        text        NOT NULL CHECK (mode IN ('instant', 'digest')),
    state       text        NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'temporary-failure', 'permanent-failure', 'bounced')),
    send_after  timestamptz NOT NULL,
    quiet_bypassed boolean  NOT NULL DEFAULT false,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, person, channel)
);
CREATE INDEX delivery_person ON delivery (person, created_at DESC);
CREATE INDEX delivery_due ON delivery (send_after) WHERE state IN ('queued', 'temporary-failure');
