-- Persons by id with their protection marking only: names and contact details never arrive by event.
CREATE TABLE person (
    id                uuid PRIMARY KEY,
    security_marking  text        NOT NULL DEFAULT 'Ingen',
    removed           boolean     NOT NULL DEFAULT false,
    event_time        timestamptz NOT NULL
);

-- Guardian → pupil relations, with the pupil's school unit, school type and year group.
CREATE TABLE guardianship (
    id             uuid PRIMARY KEY,
    guardian       uuid        NOT NULL,
    pupil          uuid        NOT NULL,
    school_unit    uuid        NOT NULL,
    relation_type  text        NOT NULL,
    school_type    text,
    school_year    integer,
    start_date     date,
    end_date       date,
    active         boolean     NOT NULL DEFAULT true,
    event_time     timestamptz NOT NULL
);
CREATE INDEX guardianship_school ON guardianship (school_unit) WHERE active;
CREATE INDEX guardianship_guardian ON guardianship (guardian) WHERE active;
