-- Indicators defined as data: a committee adds one (POST /indicators) on any figure the city sends,
-- or on a figure reporting derives from other services' events. Definitions are configuration, not
-- derived data: a rebuild keeps them.
CREATE TABLE indicator_definition (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{1,59}$'),
    metric          text        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('city', 'catalog', 'notification')),
    unit            text        NOT NULL CHECK (unit IN ('share', 'ratio', 'count', 'yes-no')),
    direction       text        NOT NULL CHECK (direction IN ('higher', 'lower')),
    target          double precision,
    heading         text,
    name_sv         text        NOT NULL,
    name_en         text        NOT NULL,
    description_sv  text        NOT NULL DEFAULT '',
    description_en  text        NOT NULL DEFAULT '',
    defined_by      text        NOT NULL,
    defined_at      timestamptz NOT NULL DEFAULT now()
);

-- Read model: the city's per-school figures (SchoolFiguresReported); a re-sent figure replaces.
CREATE TABLE school_figure (
    school_unit  uuid             NOT NULL,
    year         integer          NOT NULL,
    metric       text             NOT NULL,
    value        double precision NOT NULL,
    event_time   timestamptz      NOT NULL,
    PRIMARY KEY (school_unit, year, metric)
);

-- Read model: what the catalog says of each app (its events carry the facts), and launches per school.
CREATE TABLE app_fact (
    id          uuid PRIMARY KEY,
    headings    text[]  NOT NULL,
    allows_use  boolean NOT NULL,
    valid_dpa   boolean NOT NULL,
    retired     boolean NOT NULL DEFAULT false,
    version     integer NOT NULL
);
CREATE TABLE app_launch (
    app_id        uuid        NOT NULL,
    school_unit   uuid        NOT NULL,
    period_start  date        NOT NULL,
    period_end    date        NOT NULL,
    launches      integer     NOT NULL,
    event_time    timestamptz NOT NULL,
    PRIMARY KEY (app_id, school_unit, period_start, period_end)
);
CREATE INDEX app_launch_school ON app_launch (school_unit, period_start);

-- Whether a school's figure is below its indicator's target, so IndicatorBelowTarget is published when
-- it goes below, not on every re-sent figure. Kept through a rebuild, so a replay does not alert again.
CREATE TABLE indicator_alert (
    school_unit  uuid    NOT NULL,
    year         integer NOT NULL,
    code         text    NOT NULL,
    below        boolean NOT NULL,
    PRIMARY KEY (school_unit, year, code)
);
