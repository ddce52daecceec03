-- Staff duties at school units (SS 12000 Duty), for services that route work to roles such as Rektor.
CREATE TABLE duty (
    id           uuid PRIMARY KEY,
    person       uuid        NOT NULL,
    duty_at      uuid        NOT NULL,
    duty_role    text        NOT NULL,
    start_date   date,
    end_date     date,
    active       boolean     NOT NULL DEFAULT true,
    event_time   timestamptz NOT NULL
);
CREATE INDEX duty_at_role ON duty (duty_at, duty_role) WHERE active;
CREATE INDEX duty_person ON duty (person) WHERE active;
