-- The access log of personal data (issue: data protection, access audit): every read of a person's contact
-- details or messages through the API — who, with which roles, what, about whom, when, why and by which
-- request path — and every write of contact details. Append-only: a trigger refuses UPDATE, DELETE and
-- TRUNCATE, except a DELETE by the retention job, whose transaction sets skolit.retention = 'on'
-- (shared/retention.py). A read of a list (receipts, worklists, the bypass log) names no single subject:
-- subjects holds every person whose data the answer carried, protected identities included.
CREATE TABLE personal_data_access (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    actor_roles  text[]      NOT NULL DEFAULT '{}',
    action       text        NOT NULL,
    subject      uuid,
    subjects     uuid[]      NOT NULL DEFAULT '{}',
    why_code     text        NOT NULL,
    path         text        NOT NULL DEFAULT ''
);
CREATE INDEX personal_data_access_at ON personal_data_access (at);
CREATE INDEX personal_data_access_subject ON personal_data_access (subject) WHERE subject IS NOT NULL;
CREATE INDEX personal_data_access_subjects ON personal_data_access USING gin (subjects);
CREATE INDEX personal_data_access_actor ON personal_data_access (actor, at);

CREATE FUNCTION personal_data_access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('skolit.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'personal_data_access is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'only the retention job removes rows (shared/retention.py)';
END $$;
CREATE TRIGGER personal_data_access_append_only BEFORE UPDATE OR DELETE ON personal_data_access
    FOR EACH ROW EXECUTE FUNCTION personal_data_access_append_only();
CREATE TRIGGER personal_data_access_no_truncate BEFORE TRUNCATE ON personal_data_access
    FOR EACH STATEMENT EXECUTE FUNCTION personal_data_access_append_only();

-- One source of truth: the contact-details log moves in and its table goes.
INSERT INTO personal_data_access (at, actor, action, subject, subjects, why_code, path)
SELECT at, actor, 'contact.' || action, person, ARRAY[person],
       CASE WHEN action = 'write' THEN 'city-sync' ELSE reason END, '/persons/' || person || '/contacts'
FROM contact_access ORDER BY id;
DROP TABLE contact_access;

-- Retention (shared/retention.py, services/notification/retention.py) removes a delivery only when nothing
-- points at it: finding what points at it through fallback_from needs an index, as bundled_into has.
CREATE INDEX delivery_fallback ON delivery (fallback_from) WHERE fallback_from IS NOT NULL;
CREATE INDEX delivery_retention ON delivery (updated_at) WHERE state IN ('delivered', 'permanent-failure', 'bounced', 'cancelled');
CREATE INDEX message_created ON message (created_at);
