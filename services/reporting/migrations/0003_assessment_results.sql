-- Read model: each submitted self-assessment's levels (derived from AssessmentSubmitted; a reopened
-- assessment stops counting until it is submitted again).
CREATE TABLE submission (
    assessment_id      uuid PRIMARY KEY,
    school_unit        uuid        NOT NULL,
    district           uuid,
    campaign_id        uuid        NOT NULL,
    year               integer     NOT NULL,
    framework_version  integer     NOT NULL,
    submission         integer     NOT NULL,
    submitted_at       timestamptz NOT NULL,
    reopened_at        timestamptz,
    applied_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX submission_school_year ON submission (school_unit, year);
CREATE INDEX submission_district_year ON submission (district, year);

CREATE TABLE heading_level (
    assessment_id  uuid    NOT NULL REFERENCES submission (assessment_id) ON DELETE CASCADE,
    heading        text    NOT NULL,
    level          integer,
    mean           double precision,
    answered       integer NOT NULL,
    not_relevant   integer NOT NULL,
    indicators     integer NOT NULL,
    PRIMARY KEY (assessment_id, heading)
);

CREATE TABLE indicator_level (
    assessment_id  uuid    NOT NULL REFERENCES submission (assessment_id) ON DELETE CASCADE,
    indicator_id   text    NOT NULL,
    heading        text    NOT NULL,
    level          integer,
    not_relevant   boolean NOT NULL,
    carried        boolean NOT NULL,
    PRIMARY KEY (assessment_id, indicator_id)
);

-- Pulse results as the assessment service published them: respondents per group, and means only for
-- groups of 5 or more (it never sends smaller ones).
CREATE TABLE pulse_level (
    assessment_id  uuid    NOT NULL REFERENCES submission (assessment_id) ON DELETE CASCADE,
    grp            text    NOT NULL,
    respondents    integer NOT NULL,
    heading        text    NOT NULL,
    mean           double precision,
    PRIMARY KEY (assessment_id, grp, heading)
);
