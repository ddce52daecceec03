-- Framework versions as published (the files are the source; this records what was published,
-- so a changed file under an old version number is caught).
CREATE TABLE framework (
    version       integer PRIMARY KEY,
    checksum      text        NOT NULL,
    content       jsonb       NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE campaign
    ADD COLUMN framework_version integer,
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closed_by text;
UPDATE campaign SET framework_version = 1 WHERE framework_version IS NULL;
ALTER TABLE campaign ALTER COLUMN framework_version SET NOT NULL;

-- The code a school's staff (and upper-secondary pupils) use to answer the anonymous pulse.
ALTER TABLE campaign_school_unit ADD COLUMN pulse_code text;
UPDATE campaign_school_unit SET pulse_code = substr(md5(random()::text || campaign_id::text || school_unit::text), 1, 12) WHERE pulse_code IS NULL;
ALTER TABLE campaign_school_unit ALTER COLUMN pulse_code SET NOT NULL;
CREATE UNIQUE INDEX campaign_school_unit_pulse_code ON campaign_school_unit (pulse_code);

-- One self-assessment per school unit and round.
CREATE TABLE assessment (
    id                 uuid PRIMARY KEY,
    campaign_id        uuid        NOT NULL REFERENCES campaign (id),
    school_unit        uuid        NOT NULL,
    framework_version  integer     NOT NULL REFERENCES framework (version),
    status             text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted')),
    -- how many times it has been submitted (reopening keeps the count)
    submissions        integer     NOT NULL DEFAULT 0,
    -- a reopening may give the school more time than the round's deadline
    deadline_override  date,
    carried_from       uuid REFERENCES assessment (id),
    submitted_at       timestamptz,
    submitted_by       text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, school_unit)
);
CREATE INDEX assessment_school ON assessment (school_unit);

-- One row per answered indicator: concurrent saves of different indicators never collide.
CREATE TABLE answer (
    assessment_id  uuid        NOT NULL REFERENCES assessment (id),
    indicator_id   text        NOT NULL,
    level          smallint CHECK (level BETWEEN 1 AND 5),
    not_relevant   boolean     NOT NULL DEFAULT false,
    comment        text,
    evidence       text[]      NOT NULL DEFAULT '{}',
    -- the earlier assessment this answer was taken over from, until someone changes it
    carried_from   uuid,
    updated_by     text        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assessment_id, indicator_id),
    CHECK (level IS NOT NULL OR not_relevant),
    CHECK (NOT (level IS NOT NULL AND not_relevant))
);

-- The anonymous pulse keeps counts only: no row per respondent, nothing that identifies anyone.
CREATE TABLE pulse_respondents (
    campaign_id  uuid    NOT NULL,
    school_unit  uuid    NOT NULL,
    grp          text    NOT NULL CHECK (grp IN ('staff', 'pupils')),
    respondents  integer NOT NULL,
    PRIMARY KEY (campaign_id, school_unit, grp)
);

CREATE TABLE pulse_tally (
    campaign_id  uuid     NOT NULL,
    school_unit  uuid     NOT NULL,
    grp          text     NOT NULL,
    heading      text     NOT NULL,
    level        smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    count        integer  NOT NULL,
    PRIMARY KEY (campaign_id, school_unit, grp, heading, level)
);

-- The school's action plan: it outlives the round it came from and is followed up the next year.
CREATE TABLE action (
    id                 uuid PRIMARY KEY,
    school_unit        uuid        NOT NULL,
    assessment_id      uuid REFERENCES assessment (id),
    heading            text        NOT NULL,
    indicator_id       text,
    title              text        NOT NULL,
    owner              text        NOT NULL,
    deadline           date,
    success_criterion  text        NOT NULL,
    status             text        NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
    created_by         text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX action_school ON action (school_unit, status);

-- Follow-up notes on an action, e.g. written during next year's assessment.
CREATE TABLE action_note (
    id             bigserial PRIMARY KEY,
    action_id      uuid        NOT NULL REFERENCES action (id),
    assessment_id  uuid REFERENCES assessment (id),
    note           text        NOT NULL,
    status         text        NOT NULL,
    written_by     text        NOT NULL,
    written_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX action_note_action ON action_note (action_id);
