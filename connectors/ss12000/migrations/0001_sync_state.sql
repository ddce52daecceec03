-- The SS 12000 connector's sync state (connectors/ss12000/, docs/decisions/0021). What it last published of each
-- entity (a fingerprint, never the entity itself), where each resource's sync stands, and the guardian relations
-- it derived, so that an unchanged entity publishes nothing and a relation that disappears is ended.

-- Where each resource stands: the high-water mark of the last completed run (max meta.modified seen; for
-- deletedEntities, the time that run started) and, while a run pages through it, that run and its next page.
CREATE TABLE sync_cursor (
    resource           text PRIMARY KEY,
    high_water_mark    timestamptz,
    run_id             bigint,
    page_token         text,
    run_high_water_mark timestamptz,
    done               boolean NOT NULL DEFAULT false,
    last_success_at    timestamptz
);

-- Every sync: incremental (modified after the high-water mark, and /deletedEntities) or full (everything; what was
-- not seen is removed). A run that died stays 'running' and is resumed at its last committed page.
CREATE TABLE sync_run (
    id           bigserial PRIMARY KEY,
    mode         text        NOT NULL CHECK (mode IN ('incremental', 'full')),
    trigger      text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text        NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'ok', 'failed')),
    counts       jsonb       NOT NULL DEFAULT '{}',
    error        text
);
CREATE INDEX sync_run_running ON sync_run (id) WHERE outcome = 'running';

-- What was last published of each entity: the fingerprint of its events (so an unchanged entity publishes nothing),
-- its kind (organisation type, duty role, school type) for the dry run, and what a removal event needs.
CREATE TABLE entity_state (
    resource     text        NOT NULL,
    id           uuid        NOT NULL,
    kind         text        NOT NULL,
    fingerprint  text        NOT NULL,
    modified     timestamptz,
    end_date     date,
    -- a duty's person and school unit (DutyEnded carries them); a placement's child and school unit
    person       uuid,
    unit         uuid,
    seen_run     bigint      NOT NULL,
    -- what was published says it ended (a duty past its end date): the date passing publishes nothing more
    ended        boolean     NOT NULL DEFAULT false,
    -- gone from the API (deleted, or not seen by a full resync) and its removal published; kept, with the removal's
    -- time in modified, so that if it comes back its events are never older than the removal
    removed      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (resource, id)
);
CREATE INDEX entity_state_seen ON entity_state (resource, seen_run);

-- The pupils' responsibles (SS 12000 Person.responsibles: the guardians named on the pupil) ...
CREATE TABLE pupil_responsible (
    pupil          uuid NOT NULL,
    guardian       uuid NOT NULL,
    relation_type  text NOT NULL,
    PRIMARY KEY (pupil, guardian)
);
CREATE INDEX pupil_responsible_guardian ON pupil_responsible (guardian);

-- ... and where they go to school: their enrolments (source = the pupil) and placements (source = the placement).
CREATE TABLE pupil_schooling (
    pupil        uuid        NOT NULL,
    source       uuid        NOT NULL,
    position     integer     NOT NULL,
    school_unit  uuid        NOT NULL,
    school_type  text,
    school_year  integer,
    start_date   date,
    end_date     date,
    modified     timestamptz,
    PRIMARY KEY (pupil, source, position)
);

-- The guardian relations derived from them (responsibles × active schoolings) and last published.
CREATE TABLE guardian_relation (
    id           uuid PRIMARY KEY,
    pupil        uuid        NOT NULL,
    guardian     uuid        NOT NULL,
    school_unit  uuid        NOT NULL,
    fingerprint  text        NOT NULL,
    -- the time of the last event published about it (added or ended): the next one is never older
    modified     timestamptz NOT NULL,
    active       boolean     NOT NULL DEFAULT true
);
CREATE INDEX guardian_relation_pupil ON guardian_relation (pupil);

-- The webhook subscription made at the city's SS 12000 API (one), and the secret part of its target path.
CREATE TABLE webhook_subscription (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    subscription_id  text        NOT NULL,
    target           text        NOT NULL,
    path_secret      text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
