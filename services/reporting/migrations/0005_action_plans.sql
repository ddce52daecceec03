-- Read model: the state of each school's action plan (ActionPlanChanged carries no free text).
CREATE TABLE action_state (
    action_id     uuid PRIMARY KEY,
    school_unit   uuid        NOT NULL,
    heading       text        NOT NULL,
    indicator_id  text,
    status        text        NOT NULL,
    deadline      date,
    changed_at    timestamptz NOT NULL
);
CREATE INDEX action_state_school ON action_state (school_unit);
