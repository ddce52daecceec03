-- Idempotency keys of creating requests (shared/http/idempotency.py, docs/api.md): a retried POST with the same key and
-- the same body answers the first answer again. `caller` is a SHA-256 of the caller's subject, never the id itself; the
-- stored answer is kept one day (the retention job's `idempotency` class) and removed with the caller on erasure.
CREATE TABLE idempotency_key (
    caller        text        NOT NULL,
    key           text        NOT NULL,
    fingerprint   text        NOT NULL,
    status        integer,
    headers       jsonb,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);
