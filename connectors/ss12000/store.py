"""The connector's SQL: its sync state (connectors/ss12000/migrations/0001_sync_state.sql)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from connectors.ss12000.domain import Responsible, Schooling, relation_type, school_type
from shared import db

LOCK = "skolit.connector.ss12000.sync"


# --- runs and cursors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    resource: str
    high_water_mark: datetime | None
    run_id: int | None
    page_token: str | None
    done: bool
    last_success_at: datetime | None


async def try_lock(conn: asyncpg.Connection) -> bool:
    """One sync at a time, across replicas and the command line (a session lock: it goes with the connection)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK))


async def unlock(conn: asyncpg.Connection) -> None:
    await db.unlock(conn, LOCK)


async def resumable_run(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The latest run if it did not finish (it died, or the API gave up on it): the next sync goes on with it."""
    return await conn.fetchrow("SELECT id, mode, counts FROM sync_run WHERE id = (SELECT max(id) FROM sync_run) AND outcome <> 'ok'")


async def start_run(conn: asyncpg.Connection, mode: str, trigger: str) -> int:
    return int(await conn.fetchval("INSERT INTO sync_run (mode, trigger) VALUES ($1, $2) RETURNING id", mode, trigger))


async def resume_run(conn: asyncpg.Connection, run_id: int) -> None:
    await conn.execute("UPDATE sync_run SET outcome = 'running', error = NULL, finished_at = NULL WHERE id = $1", run_id)


async def finish_run(conn: asyncpg.Connection, run_id: int, outcome: str, counts: dict[str, Any], error: str | None = None) -> None:
    await conn.execute("UPDATE sync_run SET outcome = $2, counts = $3, error = $4, finished_at = now() WHERE id = $1",
                       run_id, outcome, counts, error)


async def save_counts(conn: asyncpg.Connection, run_id: int, counts: dict[str, Any]) -> None:
    await conn.execute("UPDATE sync_run SET counts = $2 WHERE id = $1", run_id, counts)


async def recent_runs(conn: asyncpg.Connection, limit: int = 10) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, mode, trigger, started_at, finished_at, outcome, counts, error FROM sync_run ORDER BY id DESC LIMIT $1", limit)


async def run(conn: asyncpg.Connection, run_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, mode, trigger, started_at, finished_at, outcome, counts, error FROM sync_run WHERE id = $1", run_id)


async def cursor(conn: asyncpg.Connection, resource: str) -> Cursor | None:
    row = await conn.fetchrow("SELECT resource, high_water_mark, run_id, page_token, done, last_success_at FROM sync_cursor WHERE resource = $1", resource)
    return Cursor(**dict(row)) if row else None


async def cursors(conn: asyncpg.Connection) -> list[Cursor]:
    rows = await conn.fetch("SELECT resource, high_water_mark, run_id, page_token, done, last_success_at FROM sync_cursor ORDER BY resource")
    return [Cursor(**dict(r)) for r in rows]


async def begin_resource(conn: asyncpg.Connection, resource: str, run_id: int) -> None:
    await conn.execute(
        "INSERT INTO sync_cursor (resource, run_id, done) VALUES ($1, $2, false)"
        " ON CONFLICT (resource) DO UPDATE SET run_id = $2, page_token = NULL, run_high_water_mark = sync_cursor.high_water_mark, done = false",
        resource, run_id)


async def advance(conn: asyncpg.Connection, resource: str, run_id: int, page_token: str | None, seen_up_to: datetime | None) -> None:
    """A page committed: the next page's token and the latest meta.modified seen so far in the run."""
    await conn.execute(
        "UPDATE sync_cursor SET page_token = $3, run_high_water_mark = greatest(run_high_water_mark, $4) WHERE resource = $1 AND run_id = $2",
        resource, run_id, page_token, seen_up_to)


async def finish_resource(conn: asyncpg.Connection, resource: str, run_id: int, high_water_mark: datetime | None = None) -> None:
    await conn.execute(
        "INSERT INTO sync_cursor (resource, run_id, done, high_water_mark, last_success_at) VALUES ($1, $2, true, $3, now())"
        " ON CONFLICT (resource) DO UPDATE SET done = true, page_token = NULL, last_success_at = now(),"
        " high_water_mark = coalesce($3, sync_cursor.run_high_water_mark, sync_cursor.high_water_mark), run_id = $2",
        resource, run_id, high_water_mark)


# --- entities ------------------------------------------------------------------------------------------------


STATE_COLUMNS = "id, kind, fingerprint, modified, end_date, person, unit, seen_run, ended, removed"


async def states(conn: asyncpg.Connection, resource: str, ids: Sequence[UUID]) -> dict[UUID, asyncpg.Record]:
    rows = await conn.fetch(f"SELECT {STATE_COLUMNS} FROM entity_state WHERE resource = $1 AND id = ANY($2::uuid[])", resource, list(ids))
    return {r["id"]: r for r in rows}


async def save_states(conn: asyncpg.Connection, resource: str,
                      rows: Sequence[tuple[UUID, str, str, datetime | None, date | None, UUID | None, UUID | None, int, bool]]) -> None:
    """(id, kind, fingerprint, modified, end_date, person, unit, seen_run, ended) each: what was just published, not removed."""
    await conn.executemany(
        "INSERT INTO entity_state (resource, id, kind, fingerprint, modified, end_date, person, unit, seen_run, ended, removed)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, false)"
        " ON CONFLICT (resource, id) DO UPDATE SET kind = EXCLUDED.kind, fingerprint = EXCLUDED.fingerprint, modified = EXCLUDED.modified,"
        " end_date = EXCLUDED.end_date, person = EXCLUDED.person, unit = EXCLUDED.unit, seen_run = EXCLUDED.seen_run,"
        " ended = EXCLUDED.ended, removed = false",
        [(resource, *row) for row in rows])


async def mark_seen(conn: asyncpg.Connection, resource: str, ids: Sequence[UUID], run_id: int) -> None:
    if ids:
        await conn.execute("UPDATE entity_state SET seen_run = $3 WHERE resource = $1 AND id = ANY($2::uuid[])", resource, list(ids), run_id)


async def mark_removed(conn: asyncpg.Connection, resource: str, ids: Sequence[UUID], when: datetime) -> None:
    """Kept, marked removed, with the removal's time: should the entity come back, its events are never older."""
    await conn.execute("UPDATE entity_state SET removed = true, modified = greatest(modified, $3) WHERE resource = $1 AND id = ANY($2::uuid[])",
                       resource, list(ids), when)


async def unseen(conn: asyncpg.Connection, resource: str, run_id: int) -> list[UUID]:
    rows = await conn.fetch("SELECT id FROM entity_state WHERE resource = $1 AND seen_run <> $2 AND NOT removed", resource, run_id)
    return [r["id"] for r in rows]


async def ended_duties(conn: asyncpg.Connection, today: date) -> list[asyncpg.Record]:
    """Duties published as assigned whose end date has passed since (the API changes nothing on that day)."""
    return await conn.fetch(f"SELECT {STATE_COLUMNS} FROM entity_state WHERE resource = 'duties' AND NOT removed AND NOT ended"
                            " AND end_date < $1", today)


# --- pupils: responsibles, schoolings, relations -------------------------------------------------------------


async def replace_responsibles(conn: asyncpg.Connection, pupils: Sequence[UUID], rows: Sequence[tuple[UUID, Responsible]]) -> None:
    await conn.execute("DELETE FROM pupil_responsible WHERE pupil = ANY($1::uuid[])", list(pupils))
    await conn.executemany("INSERT INTO pupil_responsible (pupil, guardian, relation_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                           [(p, r.guardian, r.relation_type) for p, r in rows])


async def drop_responsibles(conn: asyncpg.Connection, persons: Sequence[UUID]) -> list[UUID]:
    """A removed pupil has no responsibles any longer: returns the pupils whose relations change, those the removed
    persons were responsible for included (their rows stay: the pupil still names them, and they count again should
    the person come back; present_persons keeps them out of the relations meanwhile)."""
    await conn.execute("DELETE FROM pupil_responsible WHERE pupil = ANY($1::uuid[])", list(persons))
    return await pupils_of(conn, persons)


async def responsibles_of(conn: asyncpg.Connection, pupils: Sequence[UUID]) -> dict[UUID, list[Responsible]]:
    out: dict[UUID, list[Responsible]] = defaultdict(list)
    for r in await conn.fetch("SELECT pupil, guardian, relation_type FROM pupil_responsible WHERE pupil = ANY($1::uuid[]) ORDER BY pupil, guardian",
                              list(pupils)):
        out[r["pupil"]].append(Responsible(r["guardian"], relation_type(r["relation_type"])))
    return out


async def present_persons(conn: asyncpg.Connection, ids: Sequence[UUID]) -> set[UUID]:
    """Those of ``ids`` that are persons the API lists (synced, not removed)."""
    rows = await conn.fetch("SELECT id FROM entity_state WHERE resource = 'persons' AND NOT removed AND id = ANY($1::uuid[])", list(ids))
    return {r["id"] for r in rows}


async def pupils_of(conn: asyncpg.Connection, guardians: Sequence[UUID]) -> list[UUID]:
    rows = await conn.fetch("SELECT DISTINCT pupil FROM pupil_responsible WHERE guardian = ANY($1::uuid[])", list(guardians))
    return [r["pupil"] for r in rows]


async def replace_schoolings(conn: asyncpg.Connection, sources: Sequence[UUID], rows: Sequence[tuple[UUID, Schooling]]) -> None:
    """The schoolings that ``sources`` give (a pupil's enrolments, a placement), replaced by ``rows`` (pupil, schooling)."""
    await conn.execute("DELETE FROM pupil_schooling WHERE source = ANY($1::uuid[])", list(sources))
    await conn.executemany(
        "INSERT INTO pupil_schooling (pupil, source, position, school_unit, school_type, school_year, start_date, end_date, modified)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        [(p, s.source, s.position, s.school_unit, s.school_type.value if s.school_type else None, s.school_year, s.start_date,
          s.end_date, s.modified) for p, s in rows])


async def drop_schoolings(conn: asyncpg.Connection, *, pupils: Sequence[UUID] = (), sources: Sequence[UUID] = ()) -> list[UUID]:
    rows = await conn.fetch("DELETE FROM pupil_schooling WHERE pupil = ANY($1::uuid[]) OR source = ANY($2::uuid[]) RETURNING pupil",
                            list(pupils), list(sources))
    return list(dict.fromkeys(r["pupil"] for r in rows))


async def schoolings_of(conn: asyncpg.Connection, pupils: Sequence[UUID]) -> dict[UUID, list[Schooling]]:
    out: dict[UUID, list[Schooling]] = defaultdict(list)
    for r in await conn.fetch(
            "SELECT pupil, source, position, school_unit, school_type, school_year, start_date, end_date, modified FROM pupil_schooling"
            " WHERE pupil = ANY($1::uuid[])", list(pupils)):
        out[r["pupil"]].append(Schooling(r["source"], r["position"], r["school_unit"], school_type(r["school_type"]), r["school_year"],
                                         r["start_date"], r["end_date"], r["modified"]))
    return out


async def pupils_with_ended_schooling(conn: asyncpg.Connection, today: date) -> list[UUID]:
    """Pupils with a relation still published at a unit whose every schooling there has ended by date."""
    rows = await conn.fetch(
        "SELECT DISTINCT g.pupil FROM guardian_relation g WHERE g.active AND NOT EXISTS (SELECT 1 FROM pupil_schooling s"
        " WHERE s.pupil = g.pupil AND s.school_unit = g.school_unit AND (s.end_date IS NULL OR s.end_date >= $1))", today)
    return [r["pupil"] for r in rows]


async def relations_of(conn: asyncpg.Connection, pupils: Sequence[UUID]) -> dict[UUID, dict[UUID, asyncpg.Record]]:
    out: dict[UUID, dict[UUID, asyncpg.Record]] = defaultdict(dict)
    for r in await conn.fetch("SELECT id, pupil, guardian, school_unit, fingerprint, modified, active FROM guardian_relation"
                              " WHERE pupil = ANY($1::uuid[])", list(pupils)):
        out[r["pupil"]][r["id"]] = r
    return out


async def save_relations(conn: asyncpg.Connection, rows: Sequence[tuple[UUID, UUID, UUID, UUID, str, datetime, bool]]) -> None:
    """(id, pupil, guardian, school_unit, fingerprint, modified, active) each."""
    await conn.executemany(
        "INSERT INTO guardian_relation (id, pupil, guardian, school_unit, fingerprint, modified, active) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, modified = EXCLUDED.modified, active = EXCLUDED.active",
        rows)


async def modified_of(conn: asyncpg.Connection, resource: str, ids: Sequence[UUID]) -> dict[UUID, datetime]:
    rows = await conn.fetch("SELECT id, modified FROM entity_state WHERE resource = $1 AND id = ANY($2::uuid[]) AND modified IS NOT NULL",
                            resource, list(ids))
    return {r["id"]: r["modified"] for r in rows}


# --- the webhook subscription --------------------------------------------------------------------------------


async def subscription(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT subscription_id, target, path_secret, created_at FROM webhook_subscription")


async def save_subscription(conn: asyncpg.Connection, subscription_id: str, target: str, path_secret: str) -> None:
    await conn.execute(
        "INSERT INTO webhook_subscription (singleton, subscription_id, target, path_secret) VALUES (true, $1, $2, $3)"
        " ON CONFLICT (singleton) DO UPDATE SET subscription_id = $1, target = $2, path_secret = $3, created_at = now()",
        subscription_id, target, path_secret)


async def drop_subscription(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM webhook_subscription")
