-- Erasure (art. 17 GDPR; docs/decisions/0009): notification coordinates. A request names the person only
-- sealed with their own key (shared/privacy/vault.py) and, while it is pending, as a keyed hash so a second
-- request for the same person finds the first; both are dropped when the request completes, and the key
-- itself is destroyed then, so a completed request says nothing about whom it was about.
CREATE TABLE erasure_request (
    id             uuid PRIMARY KEY,
    person_ref     text,
    person_hash    bytea,
    source         text        NOT NULL CHECK (source IN ('api', 'city')),
    reason_code    text        NOT NULL,
    requested_by   text        NOT NULL,  -- a person sealed, or a system's or account's name
    requested_at   timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    key_destroyed  boolean,
    CHECK ((completed_at IS NULL) = (person_ref IS NOT NULL AND person_hash IS NOT NULL))
);
CREATE UNIQUE INDEX erasure_request_pending ON erasure_request (person_hash) WHERE completed_at IS NULL;

-- Each service's confirmation (its …DataErased event): how many rows of each table it erased, never an id.
CREATE TABLE erasure_confirmation (
    request_id   uuid        NOT NULL REFERENCES erasure_request (id),
    service      text        NOT NULL CHECK (service IN ('assessment', 'catalog', 'reporting', 'notification')),
    erased_at    timestamptz NOT NULL,
    counts       jsonb       NOT NULL DEFAULT '{}',
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, service)
);
