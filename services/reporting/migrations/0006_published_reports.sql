-- Which annual reports have been announced (ReportPublished), so a second click announces nothing twice.
-- A record of an action, not derived data: a rebuild keeps it.
CREATE TABLE published_report (
    year          integer     NOT NULL,
    district      uuid        NOT NULL,
    published_by  text        NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (year, district)
);
