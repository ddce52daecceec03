-- Right of access (art. 15 GDPR; docs/decisions/0010): one row per request for everything Skolit holds
-- about a person. The request's X25519 private key opens the parts the other services send sealed for its
-- public key; it is kept encrypted (services/notification/crypto.py, the request id as associated data)
-- and dropped once the export is complete. The assembled export is kept encrypted the same way for the
-- requester to fetch, and dropped when it expires.
CREATE TABLE access_request (
    id                uuid PRIMARY KEY,
    person            uuid        NOT NULL,
    requested_by      text        NOT NULL,
    reason_code       text        NOT NULL,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    private_key_id    text,
    private_key       bytea,
    completed_at      timestamptz,
    export_key_id     text,
    export            bytea,
    expires_at        timestamptz,
    expired_at        timestamptz,
    CHECK ((private_key IS NULL) = (private_key_id IS NULL)),
    CHECK ((export IS NULL) = (export_key_id IS NULL))
);
CREATE INDEX access_request_person ON access_request (person);
CREATE INDEX access_request_expiring ON access_request (expires_at) WHERE export IS NOT NULL;

-- Each service's part as it arrived (sealed: only the request's private key opens it), until the export
-- is complete; then the parts are assembled into access_request.export and deleted.
CREATE TABLE access_request_part (
    request_id   uuid        NOT NULL REFERENCES access_request (id) ON DELETE CASCADE,
    service      text        NOT NULL,
    part         bytea       NOT NULL,
    rows         integer     NOT NULL CHECK (rows >= 0),
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, service)
);
