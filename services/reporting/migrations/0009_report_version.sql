-- The read models' version: a number that changes in the same transaction as every write to a table the school
-- report reads (routes/school.py), so its answer cache (report_cache.py) and the school levels' cache (cache.py)
-- know with one primary-key read whether what they hold is still true, whichever replica made the change.
--
-- Why a row bumped by triggers:
-- * a row, not a sequence: nextval is seen by every session at once, before the data it stands for commits, so
--   an answer computed from the old data would be remembered under the new number;
-- * not max(a time column): a transaction that began earlier (now() is its start) but commits later leaves the
--   maximum where it was, and the change would never be seen;
-- * statement triggers, not calls in the code: every way a table is written bumps it without knowing about it
--   (the consumer's batches, reporting's own HTTP writes and start-up seed, a rebuild's TRUNCATE, retention and
--   erasure deletes, whatever write path is added later). The bump commits or rolls back with the data, so the
--   new number is seen exactly when the data is.
CREATE TABLE report_version (
    id  int    PRIMARY KEY CHECK (id = 1),
    n   bigint NOT NULL
);
INSERT INTO report_version (id, n) VALUES (1, 0);

-- Once per transaction is enough (readers see the transaction's writes and the new number at the same commit), and
-- the row stays locked until the commit either way: a batch's executemany is one statement per row, so a bump per
-- statement would only add an UPDATE (and a dead row) per row. The flag (the schema bumped) is transaction-local (set_config's third
-- argument): it is gone at commit, and a rolled-back savepoint takes it back together with its UPDATE. The table is named
-- by the schema of the table written, not found on the search path, so a session with another search path (an
-- operator's, a test's) that writes reporting's tables bumps reporting's version and does not fail.
CREATE FUNCTION bump_report_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('skolit.report_version_bumped', true) IS DISTINCT FROM TG_TABLE_SCHEMA::text THEN
        EXECUTE format('UPDATE %I.report_version SET n = n + 1 WHERE id = 1', TG_TABLE_SCHEMA);
        PERFORM set_config('skolit.report_version_bumped', TG_TABLE_SCHEMA::text, true);
    END IF;
    RETURN NULL;
END
$$;

-- Every table the school report reads: the school unit and its district (organisation), the submissions and their
-- levels and pulse, the city's figures and the catalogue's facts behind the indicator figures, the indicator
-- definitions, the action plan. A table the report comes to read must get its trigger here too (a new migration).
CREATE TRIGGER organisation_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organisation
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER submission_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON submission
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER heading_level_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON heading_level
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER indicator_level_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON indicator_level
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER pulse_level_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pulse_level
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER school_figure_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON school_figure
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER app_fact_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON app_fact
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER app_launch_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON app_launch
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER indicator_definition_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON indicator_definition
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
CREATE TRIGGER action_state_changes_report AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON action_state
    FOR EACH STATEMENT EXECUTE FUNCTION bump_report_version();
