-- Annual self-assessment rounds and the school units each covers.
CREATE TABLE campaign (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    year        integer     NOT NULL,
    deadline    date        NOT NULL,
    status      text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_by   text        NOT NULL,
    opened_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaign_school_unit (
    campaign_id  uuid NOT NULL REFERENCES campaign (id),
    school_unit  uuid NOT NULL,
    PRIMARY KEY (campaign_id, school_unit)
);
CREATE INDEX campaign_school_unit_school ON campaign_school_unit (school_unit);

-- Who changed what, when: every change to assessment data leaves a row here.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    entity     text        NOT NULL,
    entity_id  text        NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
