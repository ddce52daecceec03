-- The last run of each scheduled job (shared/jobs.py), for `GET /jobs`: when it started and finished, how it ended (ok,
-- failed, or skipped because another replica was running it at the time), the date it ran for, whether the schedule or an
-- operator started it, and what it did (its counters) or what went wrong (the error's class only: the message can quote
-- what the job was working on and stays in the service's log). One row per job, replaced by each run of any replica, the
-- latest finished winning: nothing accumulates, so no retention class. No person in it (docs/privacy.md).
CREATE TABLE job_run (
    job          text        PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('ok', 'failed', 'skipped')),
    as_of        date        NOT NULL,
    trigger      text        NOT NULL CHECK (trigger IN ('schedule', 'operator')),
    result       jsonb,
    error        text,
    CHECK ((outcome = 'ok') = (result IS NOT NULL)),
    CHECK ((outcome = 'failed') = (error IS NOT NULL))
);
