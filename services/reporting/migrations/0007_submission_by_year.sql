-- The overviews read one year's counting submissions: in year order without scanning every year.
CREATE INDEX submission_year_current ON submission (year, school_unit, submitted_at DESC) WHERE reopened_at IS NULL;
