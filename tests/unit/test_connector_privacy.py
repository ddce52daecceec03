"""The connector's data map (connectors/ss12000/privacy.py) holds together and covers its schema: every table of its
migrations is mapped, every mapped column exists, and every column whose name looks personal is mapped (the same
checks tests/integration/test_privacy_datamap.py makes of the four services, here read from the SQL files)."""

from __future__ import annotations

import re

from connectors.ss12000.app import SPEC
from connectors.ss12000.privacy import DATA_MAP, PRIVACY
from shared.privacy import datamap

CREATE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\n\);", re.S)
ALTER = re.compile(r"ALTER TABLE (\w+)((?:\s+ADD COLUMN (?:IF NOT EXISTS )?\w+[^,;]*,?)+);", re.S)


def schema_columns() -> set[tuple[str, str, str]]:
    """(schema, table, column) of every column the connector's migrations create, the shared ones included."""
    # the migration runner's own table (shared/migrate.py)
    out: set[tuple[str, str, str]] = {("connector", "schema_migrations", c) for c in ("version", "checksum", "applied_at")}
    for migration in SPEC.migrations():
        sql = re.sub(r"--[^\n]*", "", migration.sql)
        for table, body in CREATE.findall(sql):
            for line in body.split(",\n"):
                word = line.strip().split()[0] if line.strip() else ""
                if word and word.upper() not in ("PRIMARY", "UNIQUE", "CHECK", "CONSTRAINT", "FOREIGN"):
                    out.add(("connector", table, word.strip('"')))
        for table, adds in ALTER.findall(sql):
            for column in re.findall(r"ADD COLUMN (?:IF NOT EXISTS )?(\w+)", adds):
                out.add(("connector", table, column))
    return out


def test_the_map_is_consistent() -> None:
    assert datamap.inconsistencies([DATA_MAP]) == []
    assert PRIVACY.gather is None and PRIVACY.erase is None  # a copy of the city's data: erased at the source


def test_every_table_and_personal_looking_column_of_the_schema_is_mapped() -> None:
    columns = schema_columns()
    assert ("connector", "entity_state", "fingerprint") in columns and ("connector", "outbox", "payload") in columns
    assert datamap.structure_problems(columns, [DATA_MAP]) == []
    mapped = datamap.personal_columns([DATA_MAP]) | datamap.declared_columns([DATA_MAP])
    unmapped = sorted(f"{t}.{c}" for s, t, c in columns if datamap.looks_personal(c) and (s, t, c) not in mapped)
    assert unmapped == []


def test_the_sync_state_keeps_no_names_or_contact_details() -> None:
    own = {(t, c) for s, t, c in schema_columns() if t in {"entity_state", "pupil_responsible", "pupil_schooling", "guardian_relation"}}
    assert not [c for _, c in own if re.search(r"name|mail|phone|civic|address", c)]
