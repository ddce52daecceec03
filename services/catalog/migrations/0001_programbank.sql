-- The programbank: apps and learning resources with their data-protection facts, district-defined
-- statuses, licences per school unit, teachers' requests and aggregated usage.

-- Statuses are data, defined by the administration (LearnPlatform's "approved for grades 4-6",
-- "pilot only"); separate from the privacy rating, which is computed from the DPA fields.
CREATE TABLE status_definition (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    label_sv    text        NOT NULL,
    label_en    text        NOT NULL,
    allows_use  boolean     NOT NULL,
    -- when not empty, the status allows use only in these grades
    grades      text[]      NOT NULL DEFAULT '{}',
    -- the status takes the app out of the programbank for good
    retires     boolean     NOT NULL DEFAULT false,
    position    integer     NOT NULL,
    defined_by  text        NOT NULL,
    defined_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO status_definition (code, label_sv, label_en, allows_use, grades, retires, position, defined_by) VALUES
    ('under_review', 'Under granskning', 'Under review', false, '{}', false, 10, 'skolit:seed'),
    ('approved', 'Godkänd', 'Approved', true, '{}', false, 20, 'skolit:seed'),
    ('approved_4_6', 'Godkänd för åk 4–6', 'Approved for years 4–6', true, '{4,5,6}', false, 30, 'skolit:seed'),
    ('pilot', 'Endast pilot', 'Pilot only', true, '{}', false, 40, 'skolit:seed'),
    ('not_approved', 'Ej godkänd', 'Not approved', false, '{}', false, 50, 'skolit:seed'),
    ('dpa_lapsed', 'Pausad – biträdesavtalet har löpt ut', 'Paused – the data processing agreement has expired', false, '{}', false, 60, 'skolit:seed'),
    ('retired', 'Avvecklad', 'Retired', false, '{}', true, 70, 'skolit:seed');

CREATE TABLE app (
    id                    uuid PRIMARY KEY,
    name                  text        NOT NULL,
    supplier              text        NOT NULL,
    description           text        NOT NULL,
    url                   text,
    kind                  text        NOT NULL CHECK (kind IN ('commercial', 'open', 'teacher_made')),
    cost_model            text        NOT NULL,
    free_use              boolean     NOT NULL,
    subjects              text[]      NOT NULL,
    grades                text[]      NOT NULL,
    school_types          text[]      NOT NULL,
    platforms             text[]      NOT NULL,
    languages             text[]      NOT NULL,
    accessibility         text        NOT NULL DEFAULT '',
    headings              text[]      NOT NULL,
    keywords              text[]      NOT NULL DEFAULT '{}',
    status                text        NOT NULL REFERENCES status_definition (code),
    status_changed_at     timestamptz NOT NULL DEFAULT now(),
    -- data protection
    data_categories       text[]      NOT NULL DEFAULT '{}',
    dpa_status            text        NOT NULL CHECK (dpa_status IN ('not_required', 'missing', 'requested', 'signed', 'expired')),
    dpa_signed            date,
    dpa_expires           date,
    sub_processors        jsonb       NOT NULL DEFAULT '[]',
    processing_countries  text[]      NOT NULL DEFAULT '{}',
    transfer_outside_eea  boolean     NOT NULL DEFAULT false,
    transfer_safeguard    text,
    dpia_ref              text,
    min_age               integer,
    -- bookkeeping
    created_by            text        NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_by            text        NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    version               integer     NOT NULL DEFAULT 1,
    -- subject labels and keywords, so "matematik" finds an app tagged MA (written by the store)
    search_extra          text        NOT NULL DEFAULT '',
    search                tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('swedish', name), 'A') ||
        setweight(to_tsvector('swedish', search_extra), 'B') ||
        setweight(to_tsvector('swedish', supplier), 'C') ||
        setweight(to_tsvector('swedish', description), 'D')
    ) STORED,
    CHECK (dpa_expires IS NULL OR dpa_signed IS NULL OR dpa_expires >= dpa_signed)
);
-- the same app twice: the same name from the same supplier, whatever the case and spacing
CREATE UNIQUE INDEX app_identity ON app (lower(regexp_replace(name, '\s+', ' ', 'g')), lower(regexp_replace(supplier, '\s+', ' ', 'g')));
CREATE INDEX app_search ON app USING gin (search);
CREATE INDEX app_subjects ON app USING gin (subjects);
CREATE INDEX app_grades ON app USING gin (grades);
CREATE INDEX app_school_types ON app USING gin (school_types);
CREATE INDEX app_headings ON app USING gin (headings);
CREATE INDEX app_status ON app (status);
CREATE INDEX app_dpa_expires ON app (dpa_expires) WHERE dpa_status = 'signed';

-- Every word of the programbank, for correcting a misspelt query word to one that exists.
CREATE TABLE search_word (
    word text PRIMARY KEY
);
CREATE INDEX search_word_trgm ON search_word USING gin (word gin_trgm_ops);

CREATE TABLE licence (
    id             uuid PRIMARY KEY,
    app_id         uuid        NOT NULL REFERENCES app (id),
    school_unit    uuid        NOT NULL,
    licence_type   text        NOT NULL CHECK (licence_type IN ('school', 'group', 'single')),
    seats          integer     CHECK (seats > 0),
    group_name     text,
    starts         date        NOT NULL,
    expires        date        NOT NULL,
    note           text        NOT NULL DEFAULT '',
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    -- the expiry date whose advance notice has been published: a renewal to a new date gets its own
    notice_sent_for date,
    CHECK (expires >= starts)
);
CREATE INDEX licence_school ON licence (school_unit, app_id) WHERE ended_at IS NULL;
CREATE INDEX licence_app ON licence (app_id) WHERE ended_at IS NULL;
CREATE INDEX licence_expires ON licence (expires) WHERE ended_at IS NULL;

CREATE TABLE app_request (
    id              uuid PRIMARY KEY,
    school_unit     uuid        NOT NULL,
    district        uuid,
    requester       text        NOT NULL,
    requester_duty  text        NOT NULL,
    app_id          uuid        REFERENCES app (id),
    -- for an app not yet in the programbank: name, supplier, url, description as the teacher gave them
    proposed        jsonb,
    app_name        text        NOT NULL,
    purpose         text        NOT NULL,
    grades          text[]      NOT NULL DEFAULT '{}',
    pupils          integer,
    state           text        NOT NULL CHECK (state IN ('submitted', 'acknowledged', 'needs_info', 'approved', 'rejected', 'withdrawn')),
    conditions      text,
    reason          text,
    decided_by      text,
    decided_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- since when the request has waited for a reviewer (NULL while it waits for the requester or is closed)
    waiting_since   timestamptz,
    reminded_at     timestamptz
);
CREATE INDEX app_request_school ON app_request (school_unit);
CREATE INDEX app_request_waiting ON app_request (waiting_since) WHERE waiting_since IS NOT NULL;
-- one open request per app and school: a second teacher joins the first request instead
CREATE UNIQUE INDEX app_request_open ON app_request (app_id, school_unit) WHERE app_id IS NOT NULL AND state IN ('submitted', 'acknowledged', 'needs_info');

CREATE TABLE app_request_step (
    id          bigserial PRIMARY KEY,
    request_id  uuid        NOT NULL REFERENCES app_request (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    step        text        NOT NULL,
    note        text
);
CREATE INDEX app_request_step_request ON app_request_step (request_id, id);

-- Launches per app, school unit and period, as counted by the city's login portal (never per pupil).
CREATE TABLE app_usage (
    app_id        uuid        NOT NULL REFERENCES app (id),
    school_unit   uuid        NOT NULL,
    period_start  date        NOT NULL,
    period_end    date        NOT NULL,
    launches      integer     NOT NULL CHECK (launches >= 0),
    active_users  integer     CHECK (active_users >= 0),
    event_time    timestamptz NOT NULL,
    PRIMARY KEY (app_id, school_unit, period_start, period_end),
    CHECK (period_end >= period_start)
);
CREATE INDEX app_usage_school ON app_usage (school_unit);

-- Who changed what, when: every change to the programbank leaves a row here.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    entity     text        NOT NULL,
    entity_id  text        NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
