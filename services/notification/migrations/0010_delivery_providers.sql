-- Real delivery providers (issue 23; services/notification/providers/, docs/decisions/0020-delivery-providers.md).

-- An e-mail address a hard bounce (a DSN or a provider's bounce, 5.x.x) said does not exist: kept as a keyed hash of the
-- address (HMAC, the key vault's master key), so the mark holds while that address is in use — a nightly write of the
-- same address by the city's systems keeps it — and lapses by itself when the address changes. The sender then fails an
-- e-mail to it at once, and the recipient's fallback chain moves on (sender.py).
ALTER TABLE contact
    ADD COLUMN email_undeliverable         bytea,
    ADD COLUMN email_undeliverable_at      timestamptz,
    ADD COLUMN email_undeliverable_reason  text;    -- a code: bounce-hard-5.1.1

-- Provider message ids need no column of their own: 46elks' message id is the delivery's gateway_ref, a push
-- service's message URL (Location) or FCM's message name the device send's gateway_ref. A Web Push subscription
-- (endpoint and keys) is the device's token, encrypted like any token (providers/webpush.py).
