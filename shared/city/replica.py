"""Each service's copy of the city data it needs, built from the city's events.

A replica is its migrations plus the handlers that keep its tables current. Every write is guarded
by the event time, so an old event that arrives late never overwrites a newer state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from shared.consumer import Handler, Statement
from shared.events.base import Event
from shared.events.city import (
    DutyAssigned,
    DutyEnded,
    EndReason,
    GuardianRelationAdded,
    GuardianRelationEnded,
    OrganisationEnded,
    OrganisationType,
    OrganisationUpserted,
    PersonRemoved,
    PersonUpserted,
)
from shared.events.envelope import Envelope

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Replica:
    name: str
    handlers: dict[type[Event], Handler] = field(default_factory=dict)
    #: the stems of its files in shared/city/migrations/, applied in this order (empty: just ``name``). Applied files
    #: are checksummed: a change to a replica's tables is a new file added at the end, never an edit.
    migrations: tuple[str, ...] = ()

    @property
    def migration_files(self) -> tuple[Path, ...]:
        return tuple(MIGRATIONS / f"{stem}.sql" for stem in (self.migrations or (self.name,)))


# --- organisations -------------------------------------------------------------------------------

ORGANISATION_UPSERT = """
        INSERT INTO organisation (id, display_name, organisation_type, school_unit_code, municipality_code,
                                  school_types, parent_organisation, start_date, end_date, deleted, event_time)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false, $10)
        ON CONFLICT (id) DO UPDATE SET
            display_name = EXCLUDED.display_name, organisation_type = EXCLUDED.organisation_type,
            school_unit_code = EXCLUDED.school_unit_code, municipality_code = EXCLUDED.municipality_code,
            school_types = EXCLUDED.school_types, parent_organisation = EXCLUDED.parent_organisation,
            start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, deleted = false,
            event_time = EXCLUDED.event_time
        WHERE organisation.event_time <= EXCLUDED.event_time
        """


def _organisation_upserted_arguments(env: Envelope[OrganisationUpserted]) -> tuple[Any, ...]:
    e = env.data
    return (e.id, e.displayName, e.organisationType.value, e.schoolUnitCode, e.municipalityCode,
            [t.value for t in e.schoolTypes], e.parentOrganisation, e.startDate, e.endDate, env.time)


on_organisation_upserted = Statement(ORGANISATION_UPSERT, _organisation_upserted_arguments)


async def on_organisation_ended(conn: asyncpg.Connection, env: Envelope[OrganisationEnded]) -> None:
    e = env.data
    await conn.execute(
        "UPDATE organisation SET end_date = $2, deleted = $3, event_time = $4 WHERE id = $1 AND event_time <= $4",
        e.id, e.endDate, e.reason == EndReason.DELETED, env.time,
    )


ORGANISATIONS = Replica("organisation", {OrganisationUpserted: on_organisation_upserted, OrganisationEnded: on_organisation_ended})

SCHOOL_UNIT_COLUMNS = """
    s.id, s.display_name, s.school_unit_code, s.school_types, s.parent_organisation AS district_id,
    d.display_name AS district_name, s.start_date, s.end_date
"""


def school_unit_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["display_name"],
        "schoolUnitCode": row["school_unit_code"],
        "schoolTypes": list(row["school_types"]),
        "district": {"id": str(row["district_id"]), "name": row["district_name"]} if row["district_id"] else None,
        "startDate": row["start_date"].isoformat() if row["start_date"] else None,
        "endDate": row["end_date"].isoformat() if row["end_date"] else None,
    }


async def get_school_unit(conn: asyncpg.Connection, school_unit_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT" + SCHOOL_UNIT_COLUMNS + " FROM organisation s LEFT JOIN organisation d ON d.id = s.parent_organisation"
        " WHERE s.id = $1 AND s.organisation_type = $2 AND NOT s.deleted",
        school_unit_id, OrganisationType.SKOLENHET.value,
    )


async def list_school_units(conn: asyncpg.Connection, *, everything: bool, ids: list[UUID], districts: list[UUID], limit: int, offset: int) -> list[asyncpg.Record]:
    """Open school units the caller may see: all of them, or those in ``ids`` or in ``districts``."""
    return await conn.fetch(
        "SELECT" + SCHOOL_UNIT_COLUMNS + " FROM organisation s LEFT JOIN organisation d ON d.id = s.parent_organisation"
        " WHERE s.organisation_type = $1 AND NOT s.deleted AND (s.end_date IS NULL OR s.end_date >= current_date)"
        " AND ($2 OR s.id = ANY($3::uuid[]) OR s.parent_organisation = ANY($4::uuid[]))"
        " ORDER BY s.display_name, s.id LIMIT $5 OFFSET $6",
        OrganisationType.SKOLENHET.value, everything, ids, districts, limit, offset,
    )


async def district_of(conn: asyncpg.Connection, school_unit_id: UUID) -> UUID | None:
    return await conn.fetchval("SELECT parent_organisation FROM organisation WHERE id = $1", school_unit_id)


# --- duties --------------------------------------------------------------------------------------

DUTY_UPSERT = """
        INSERT INTO duty (id, person, duty_at, duty_role, start_date, end_date, active, event_time)
        VALUES ($1, $2, $3, $4, $5, $6, true, $7)
        ON CONFLICT (id) DO UPDATE SET person = EXCLUDED.person, duty_at = EXCLUDED.duty_at, duty_role = EXCLUDED.duty_role,
            start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, active = true, event_time = EXCLUDED.event_time
        WHERE duty.event_time <= EXCLUDED.event_time
        """


def _duty_assigned_arguments(env: Envelope[DutyAssigned]) -> tuple[Any, ...]:
    e = env.data
    return (e.id, e.person, e.dutyAt, e.dutyRole.value, e.startDate, e.endDate, env.time)


on_duty_assigned = Statement(DUTY_UPSERT, _duty_assigned_arguments)


async def on_duty_ended(conn: asyncpg.Connection, env: Envelope[DutyEnded]) -> None:
    e = env.data
    await conn.execute("UPDATE duty SET active = false, end_date = $2, event_time = $3 WHERE id = $1 AND event_time <= $3", e.id, e.endDate, env.time)


DUTIES = Replica("duty", {DutyAssigned: on_duty_assigned, DutyEnded: on_duty_ended})


async def persons_with_duty(conn: asyncpg.Connection, school_unit_id: UUID, duty_role: str) -> list[UUID]:
    rows = await conn.fetch("SELECT DISTINCT person FROM duty WHERE duty_at = $1 AND duty_role = $2 AND active ORDER BY person", school_unit_id, duty_role)
    return [r["person"] for r in rows]


# --- persons and guardianships -------------------------------------------------------------------

# The event is the person's whole state: a name it does not carry is no name (the city's data has none).
PERSON_UPSERT = """
        INSERT INTO person (id, security_marking, given_name, family_name, removed, event_time) VALUES ($1, $2, $3, $4, false, $5)
        ON CONFLICT (id) DO UPDATE SET security_marking = EXCLUDED.security_marking, given_name = EXCLUDED.given_name,
            family_name = EXCLUDED.family_name, removed = false, event_time = EXCLUDED.event_time
        WHERE person.event_time <= EXCLUDED.event_time
        """

#: A removed person keeps their id and marking (so a protected identity stays hidden) but loses their name.
PERSON_REMOVE = """
        UPDATE person SET removed = true, given_name = NULL, family_name = NULL, event_time = $2 WHERE id = $1 AND event_time <= $2
        """


def _person_upserted_arguments(env: Envelope[PersonUpserted]) -> tuple[Any, ...]:
    e = env.data
    return (e.id, e.securityMarking.value, e.givenName, e.familyName, env.time)


on_person_upserted = Statement(PERSON_UPSERT, _person_upserted_arguments)


async def on_person_removed(conn: asyncpg.Connection, env: Envelope[PersonRemoved]) -> None:
    e = env.data
    await conn.execute(PERSON_REMOVE, e.id, env.time)
    # A removed person is related to no one any longer.
    await conn.execute("UPDATE guardianship SET active = false WHERE (guardian = $1 OR pupil = $1) AND active", e.id)


GUARDIAN_RELATION_UPSERT = """
        INSERT INTO guardianship (id, guardian, pupil, school_unit, relation_type, school_type, school_year, start_date, active, event_time)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, $9)
        ON CONFLICT (id) DO UPDATE SET guardian = EXCLUDED.guardian, pupil = EXCLUDED.pupil, school_unit = EXCLUDED.school_unit,
            relation_type = EXCLUDED.relation_type, school_type = EXCLUDED.school_type, school_year = EXCLUDED.school_year,
            start_date = EXCLUDED.start_date, end_date = NULL, active = true, event_time = EXCLUDED.event_time
        WHERE guardianship.event_time <= EXCLUDED.event_time
        """


def _guardian_relation_added_arguments(env: Envelope[GuardianRelationAdded]) -> tuple[Any, ...]:
    e = env.data
    return (e.id, e.guardian, e.pupil, e.schoolUnit, e.relationType, e.schoolType.value if e.schoolType else None, e.schoolYear,
            e.startDate, env.time)


on_guardian_relation_added = Statement(GUARDIAN_RELATION_UPSERT, _guardian_relation_added_arguments)


async def on_guardian_relation_ended(conn: asyncpg.Connection, env: Envelope[GuardianRelationEnded]) -> None:
    e = env.data
    await conn.execute(
        "UPDATE guardianship SET active = false, end_date = $2, event_time = $3 WHERE id = $1 AND event_time <= $3",
        e.id, e.endDate, env.time,
    )


PERSONS = Replica(
    "person",
    {
        PersonUpserted: on_person_upserted,
        PersonRemoved: on_person_removed,
        GuardianRelationAdded: on_guardian_relation_added,
        GuardianRelationEnded: on_guardian_relation_ended,
    },
    migrations=("person", "person_name"),
)


# --- guardian relations only ----------------------------------------------------------------------

#: For services that keep no person replica (assessment, catalog, reporting): the guardian relations alone, which
#: make a signed-in person a guardian (shared/auth/authority.py). The same table and handlers as PERSONS' relations,
#: so a service keeps one or the other. A removed person's relations are ended by the city's GuardianRelationEnded
#: events (PersonRemoved belongs to the person or marking replica).
GUARDIANSHIPS = Replica(
    "guardianship",
    {GuardianRelationAdded: on_guardian_relation_added, GuardianRelationEnded: on_guardian_relation_ended},
)


# --- persons' markings only ----------------------------------------------------------------------

#: how many times this process committed a change to its person table's markings (shared/city/markings.py keeps the
#: protected persons in memory and reads them again when this moves)
_markings_generation = 0


def markings_changed() -> None:
    global _markings_generation
    _markings_generation += 1


def markings_generation() -> int:
    return _markings_generation


#: the same upsert, telling the protected-identity filter once it has committed
on_marking_upserted = Statement(PERSON_UPSERT, _person_upserted_arguments, then=markings_changed)


async def on_marked_person_removed(conn: asyncpg.Connection, env: Envelope[PersonRemoved]) -> None:
    e = env.data
    await conn.execute(PERSON_REMOVE, e.id, env.time)


#: For services that need only to know who a person is and who has a protected identity (assessment, catalog):
#: the person table (names included) without guardian relations (shared/city/markings.py hides their ids). Never together with PERSONS.
MARKINGS = Replica("person_marking", {PersonUpserted: on_marking_upserted, PersonRemoved: on_marked_person_removed},
                   migrations=("person_marking", "person_name"))


async def protected_persons(conn: asyncpg.Connection, ids: list[UUID]) -> set[UUID]:
    """Those of ``ids`` who are persons with a protected identity (any marking but Ingen, removed or not)."""
    rows = await conn.fetch("SELECT id FROM person WHERE id = ANY($1::uuid[]) AND security_marking <> 'Ingen'", ids)
    return {r["id"] for r in rows}


async def all_protected_persons(conn: asyncpg.Connection) -> frozenset[UUID]:
    """Every person with a protected identity (any marking but Ingen, removed or not): a few percent of a city's persons."""
    rows = await conn.fetch("SELECT id FROM person WHERE security_marking <> 'Ingen'")
    return frozenset(r["id"] for r in rows)
