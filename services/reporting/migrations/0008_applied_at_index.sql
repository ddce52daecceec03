-- The views' cache asks "has anything changed?": the newest applied submission, answered from an index.
CREATE INDEX submission_applied_at ON submission (applied_at);
CREATE INDEX organisation_event_time ON organisation (event_time);
