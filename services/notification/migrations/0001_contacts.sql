-- Contact details: only here in all of Skolit, encrypted (AES-GCM, see crypto.py), never in events.
CREATE TABLE contact (
    person      uuid PRIMARY KEY,
    key_id      text        NOT NULL,
    email       bytea,
    mobile      bytea,
    push_token  bytea,
    language    text        NOT NULL DEFAULT 'sv',
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Who read whose contact details, when and why: append-only.
CREATE TABLE contact_access (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text        NOT NULL,
    person    uuid        NOT NULL,
    action    text        NOT NULL,
    reason    text        NOT NULL
);
CREATE INDEX contact_access_person ON contact_access (person);
