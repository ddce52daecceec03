-- A large broadcast is planned after POST /broadcasts answers (usecases/planning.py, decision 0026): the recipients of
-- each of its messages not yet given their deliveries wait here, and the planner takes them in chunks — a chunk's
-- delivery rows and its removal from this list in one transaction, so a crash mid-plan resumes where it stopped and
-- no recipient is planned twice (the deliveries' unique key would refuse it anyway).
CREATE TABLE pending_plan (
    message_id  uuid PRIMARY KEY REFERENCES message (id) ON DELETE CASCADE,
    recipients  uuid[] NOT NULL,
    -- a chunk that failed: how often and why (the planner takes the least-tried first, so one bad message never
    -- holds up the others; after PLAN_MAX_ATTEMPTS it is left with its reason for an operator)
    attempts    int NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_plan_order ON pending_plan (attempts, created_at);
