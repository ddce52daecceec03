-- Read model: self-assessment rounds and the school units each covers (derived from assessment events).
CREATE TABLE campaign (
    id          uuid PRIMARY KEY,
    name        text    NOT NULL,
    year        integer NOT NULL,
    deadline    date    NOT NULL,
    opened_at   timestamptz NOT NULL
);
CREATE TABLE campaign_school_unit (
    campaign_id  uuid NOT NULL REFERENCES campaign (id),
    school_unit  uuid NOT NULL,
    PRIMARY KEY (campaign_id, school_unit)
);
