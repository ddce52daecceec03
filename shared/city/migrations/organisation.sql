-- The part of the city's organisation data every service needs: districts and school units.
-- Each service keeps its own copy, built from the city's events (SS 12000 field names).

CREATE TABLE organisation (
    id                   uuid PRIMARY KEY,
    display_name         text        NOT NULL,
    organisation_type    text        NOT NULL,
    school_unit_code     text,
    municipality_code    text,
    school_types         text[]      NOT NULL DEFAULT '{}',
    parent_organisation  uuid,
    start_date           date,
    end_date             date,
    deleted              boolean     NOT NULL DEFAULT false,
    -- the time of the newest event applied: an older event arriving late never overwrites a newer one
    event_time           timestamptz NOT NULL
);
CREATE INDEX organisation_parent ON organisation (parent_organisation);
