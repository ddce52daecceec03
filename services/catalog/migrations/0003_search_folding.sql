-- Search without å, ä and ö: a teacher typing "brak" or "lasforstaelse" on a keyboard (or a phone) without them
-- finds "bråk" and "läsförståelse". Beside the Swedish stemmed vector `search`, `search_folded` holds the same text
-- folded to ASCII letters (search_fold) and stemmed the same way; a query matches either (store._SEARCH), folded
-- with the same function (domain.FOLD_FROM / FOLD_TO say the same letters; tests/unit/test_catalog_domain.py
-- checks the two agree). translate() rather than the unaccent extension: it is immutable, so it can build a
-- stored column and an index, and needs nothing installed in `public`.
CREATE FUNCTION search_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT translate(lower($1), 'åäöæøéèêëáàâãíìîïóòôõúùûüýÿçñÅÄÖÆØÉÈÊËÁÀÂÃÍÌÎÏÓÒÔÕÚÙÛÜÝŸÇÑ', 'aaoaoeeeeaaaaiiiioooouuuuyycnaaoaoeeeeaaaaiiiioooouuuuyycn') $$;

ALTER TABLE app ADD COLUMN search_folded tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('swedish', search_fold(name)), 'A') ||
    setweight(to_tsvector('swedish', search_fold(search_extra)), 'B') ||
    setweight(to_tsvector('swedish', search_fold(supplier)), 'C') ||
    setweight(to_tsvector('swedish', search_fold(description)), 'D')
) STORED;
CREATE INDEX app_search_folded ON app USING gin (search_folded);

-- a misspelt word typed without å, ä, ö is still near the word as written ("lasforstaelsr" → "läsförståelse")
CREATE INDEX search_word_folded_trgm ON search_word USING gin (search_fold(word) gin_trgm_ops);
