-- Guardian → pupil relations, for services that keep no person replica (person.sql has the same table): who is a
-- guardian, and of which school units' pupils, decides a signed-in guardian's role (shared/auth/authority.py).
CREATE TABLE IF NOT EXISTS guardianship (
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
CREATE INDEX IF NOT EXISTS guardianship_school ON guardianship (school_unit) WHERE active;
CREATE INDEX IF NOT EXISTS guardianship_guardian ON guardianship (guardian) WHERE active;
