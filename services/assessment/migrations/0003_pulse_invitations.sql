-- The anonymous pulse answered once per invitation, with figures released in steps (docs/decisions/0016).

-- Single-use invitations, issued by the school's Rektor per group. Only a SHA-256 of each code is kept:
-- the codes themselves are shown once, to the Rektor who hands them out. No time of use and no link to
-- the tally: an invitation says that it was used, never what was answered with it.
CREATE TABLE pulse_invitation (
    code_hash    text    PRIMARY KEY,
    campaign_id  uuid    NOT NULL,
    school_unit  uuid    NOT NULL,
    grp          text    NOT NULL CHECK (grp IN ('staff', 'pupils')),
    used         boolean NOT NULL DEFAULT false
);
CREATE INDEX pulse_invitation_school ON pulse_invitation (campaign_id, school_unit, grp);

-- The published figures: the counts as they were at their last release. A heading's counts (and a group's
-- respondent count) are released again only once at least five new answers arrived since the last release,
-- so two readings never differ by one person's answer. The live counts stay in count/respondents.
ALTER TABLE pulse_respondents ADD COLUMN released integer NOT NULL DEFAULT 0;
ALTER TABLE pulse_tally ADD COLUMN released integer NOT NULL DEFAULT 0;
-- What was answered before this migration was already shown live: it stays published as it was.
UPDATE pulse_respondents SET released = respondents;
UPDATE pulse_tally SET released = count;
