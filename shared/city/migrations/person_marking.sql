-- Persons by id with their protection marking only, for services that keep no guardian relations: enough to
-- hide protected identities (Sekretessmarkering, Skyddad folkbokföring) from everyone but the person
-- (shared/city/markings.py). The same table as person.sql's first part: a service keeps one or the other.
CREATE TABLE person (
    id                uuid PRIMARY KEY,
    security_marking  text        NOT NULL DEFAULT 'Ingen',
    removed           boolean     NOT NULL DEFAULT false,
    event_time        timestamptz NOT NULL
);
CREATE INDEX person_protected ON person (id) WHERE security_marking <> 'Ingen';
