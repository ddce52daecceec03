-- Read model: every version of every school unit, so reports over years show each school in the
-- district and with the school types it had at the time. One row per applied event (append-only).
CREATE TABLE school_unit_history (
    event_id       text        NOT NULL,
    school_unit    uuid        NOT NULL,
    display_name   text        NOT NULL,
    district       uuid,
    school_types   text[]      NOT NULL,
    valid_from     timestamptz NOT NULL
);
CREATE INDEX school_unit_history_unit ON school_unit_history (school_unit, valid_from);
