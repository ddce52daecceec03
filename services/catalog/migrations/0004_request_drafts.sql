-- A record made from a teacher's request for a new app starts with data-protection facts nobody has established
-- yet ("no personal data" would only mean nobody has looked): it cannot get a status that allows use until the
-- data-protection function has recorded them (PUT /apps/{id}/data-protection). Every other record was described
-- by an editor with its facts, as before.
ALTER TABLE app ADD COLUMN data_protection_reviewed boolean NOT NULL DEFAULT true;
