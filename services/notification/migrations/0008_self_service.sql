-- Self-service of one's own contact details and devices (issue 19 item 5; routes/me.py, usecases/self_service.py).

-- Push devices: several per person, each with its own token (AES-GCM like the contact details, the person id as
-- associated data, crypto.py), a label and the last time a push reached it. A device the person registered is
-- 'self'; the push token the city's systems set (PUT /persons/{id}/contacts, PUT /contacts) is the person's one
-- 'city' device, replaced when the city sends another and removed when it sends none.
CREATE TABLE device (
    id            uuid PRIMARY KEY,
    person        uuid        NOT NULL,
    source        text        NOT NULL CHECK (source IN ('self', 'city')),
    label         text        NOT NULL,
    platform      text        NOT NULL CHECK (platform IN ('ios', 'android', 'web', 'other')),
    key_id        text        NOT NULL,
    token         bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX device_person ON device (person);
CREATE UNIQUE INDEX device_city ON device (person) WHERE source = 'city';

-- The one push token per person so far becomes the person's city device (same key id, same ciphertext: the
-- associated data is the person id, which does not change), and the column goes.
INSERT INTO device (id, person, source, label, platform, key_id, token, created_at)
SELECT md5('skolit.city-device:' || person::text)::uuid, person, 'city', 'Registered by the city''s systems', 'other', key_id,
       push_token, updated_at
FROM contact WHERE push_token IS NOT NULL;
ALTER TABLE contact DROP COLUMN push_token;

-- A push delivery goes to every device of the person: one row per device it was sent to. Its id is the reference
-- the push gateway gets (and calls back with), drawn from the deliveries' sequence so that it never equals a
-- delivery's reference; a retry sends again with the same reference to the devices not yet reached.
CREATE TABLE device_send (
    id           bigint PRIMARY KEY DEFAULT nextval('delivery_id_seq'),
    delivery_id  bigint      NOT NULL REFERENCES delivery (id) ON DELETE CASCADE,
    device_id    uuid        REFERENCES device (id) ON DELETE SET NULL,
    state        text        NOT NULL DEFAULT 'sending'
                 CHECK (state IN ('sending', 'accepted', 'delivered', 'temporary', 'permanent')),
    gateway_ref  text,
    last_error   text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (delivery_id, device_id)
);
CREATE INDEX device_send_device ON device_send (device_id) WHERE device_id IS NOT NULL;

-- A new e-mail address or phone number waiting for its confirmation code; the one in contact stays in use until
-- then. The value is encrypted like the contact details; the code only as a keyed hash (HMAC, the key vault's
-- master key), bound to the person, the channel and the value.
CREATE TABLE contact_pending (
    person         uuid        NOT NULL,
    channel        text        NOT NULL CHECK (channel IN ('email', 'phone')),
    key_id         text        NOT NULL,
    value          bytea       NOT NULL,
    code_hash      bytea       NOT NULL,
    attempts       integer     NOT NULL DEFAULT 0,
    expires_at     timestamptz NOT NULL,
    codes_sent     integer     NOT NULL DEFAULT 1,
    first_sent_at  timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person, channel)
);
CREATE INDEX contact_pending_expires ON contact_pending (expires_at);

-- What the person confirmed with a code, as a keyed hash of the value: the address in use is "confirmed" while it
-- is the one they confirmed (a bulk write of the same address by the city's systems keeps it so, another clears it).
ALTER TABLE contact
    ADD COLUMN email_confirmed      bytea,
    ADD COLUMN email_confirmed_at   timestamptz,
    ADD COLUMN mobile_confirmed     bytea,
    ADD COLUMN mobile_confirmed_at  timestamptz;
