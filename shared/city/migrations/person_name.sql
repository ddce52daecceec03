-- Persons' names (SS 12000 Person givenName/familyName), for showing people to staff (shared/city/people.py).
-- Personal data: erased with the person (PersonRemoved, erasure requests) and listed in the data map.
-- For both person replicas (person.sql, person_marking.sql): a service keeps one or the other.
ALTER TABLE person ADD COLUMN given_name text, ADD COLUMN family_name text;
