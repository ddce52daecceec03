-- A number that changes with every write that can change a search's answer, so the search's result
-- cache (services/catalog/search_cache.py) knows, with one cheap read, whether what it holds is still true,
-- whichever replica made the change.
CREATE TABLE search_version (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version   bigint  NOT NULL
);
INSERT INTO search_version (only_row, version) VALUES (true, 0);

CREATE FUNCTION bump_search_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER app_changes_search AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON app
    FOR EACH STATEMENT EXECUTE FUNCTION bump_search_version();
CREATE TRIGGER licence_changes_search AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON licence
    FOR EACH STATEMENT EXECUTE FUNCTION bump_search_version();
CREATE TRIGGER status_changes_search AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON status_definition
    FOR EACH STATEMENT EXECUTE FUNCTION bump_search_version();
CREATE TRIGGER words_change_search AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON search_word
    FOR EACH STATEMENT EXECUTE FUNCTION bump_search_version();
