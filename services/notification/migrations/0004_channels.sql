-- Sending over e-mail, SMS and push: gateway references, leases for concurrent senders, daily
-- digests, fallbacks, cancellations when a guardian relation ends.
ALTER TABLE delivery DROP CONSTRAINT delivery_state_check;
ALTER TABLE delivery ADD CONSTRAINT delivery_state_check
    CHECK (state IN ('queued', 'sending', 'delivered', 'temporary-failure', 'permanent-failure', 'bounced', 'cancelled'));
ALTER TABLE delivery
    ADD COLUMN claimed_until  timestamptz,           -- a sender's lease: an expired one is taken over (the sender died)
    ADD COLUMN gateway_ref    text,                  -- the gateway's id once it accepted; its callbacks finish the delivery
    ADD COLUMN bundled_into   bigint REFERENCES delivery (id),  -- the digest that carries this item
    ADD COLUMN fallback_from  bigint REFERENCES delivery (id),  -- the delivery whose failure made this one
    ADD COLUMN updated_at     timestamptz NOT NULL DEFAULT now();
DROP INDEX delivery_due;
CREATE INDEX delivery_due ON delivery (channel, send_after) WHERE mode = 'instant' AND state IN ('queued', 'temporary-failure', 'sending');
CREATE INDEX delivery_digest ON delivery (person, channel) WHERE mode = 'digest' AND state = 'queued' AND bundled_into IS NULL;
CREATE INDEX delivery_bundle ON delivery (bundled_into) WHERE bundled_into IS NOT NULL;
CREATE INDEX delivery_message ON delivery (message_id);

-- Broadcasts: what a principal or district admin sent to whom (the audience as chosen, never a list
-- of names). One message per school unit of the audience, each recipient in exactly one of them.
CREATE TABLE broadcast (
    id           uuid PRIMARY KEY,
    sender       text        NOT NULL,
    audience     jsonb       NOT NULL,
    subject      text        NOT NULL,
    body         text        NOT NULL,
    critical     boolean     NOT NULL,
    recipients   integer     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE message ADD COLUMN broadcast_id uuid REFERENCES broadcast (id);
CREATE INDEX message_broadcast ON message (broadcast_id) WHERE broadcast_id IS NOT NULL;
CREATE INDEX message_school ON message (school_unit, created_at);

-- Every time a critical message went out inside someone's quiet hours: append-only.
CREATE TABLE quiet_hours_bypass (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    message_id  uuid        NOT NULL REFERENCES message (id),
    person      uuid        NOT NULL,
    channel     text        NOT NULL,
    local_time  time        NOT NULL,
    UNIQUE (message_id, person, channel)
);

-- Self-assessment rounds, to remind a school's Rektor as the deadline nears (until the school submits).
CREATE TABLE campaign (
    id        uuid PRIMARY KEY,
    name      text    NOT NULL,
    closed    boolean NOT NULL DEFAULT false
);
CREATE TABLE campaign_school (
    campaign     uuid    NOT NULL REFERENCES campaign (id),
    school_unit  uuid    NOT NULL,
    deadline     date    NOT NULL,
    submitted    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign, school_unit)
);

-- The last guardian reach published per school and year: a new count goes out only when it changed.
CREATE TABLE reach_published (
    school_unit  uuid    NOT NULL,
    year         integer NOT NULL,
    guardians    integer NOT NULL,
    reached      integer NOT NULL,
    PRIMARY KEY (school_unit, year)
);
