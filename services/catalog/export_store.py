"""Catalog's queries for the right-of-access export (services/catalog/export.py): the person's own app
requests with their whole history, what they decided or noted on others' requests (without naming the
requester), the apps, licences and statuses they recorded. Staff appear by their token subject."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def own_requests(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.id, r.school_unit, o.display_name AS school_unit_name, r.requester_duty, r.app_id, r.app_name, r.proposed, r.purpose,"
        " r.grades, r.pupils, r.state, r.conditions, r.reason, r.decided_by, r.decided_at, r.created_at, r.updated_at"
        " FROM app_request r LEFT JOIN organisation o ON o.id = r.school_unit WHERE lower(r.requester) = $1 ORDER BY r.created_at, r.id",
        str(person),
    )


async def own_request_steps(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.request_id, s.at, s.actor, s.step, s.note FROM app_request_step s JOIN app_request r ON r.id = s.request_id"
        " WHERE lower(r.requester) = $1 ORDER BY s.request_id, s.id",
        str(person),
    )


async def decided_requests(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """Others' requests the person decided: the decision, not who asked."""
    return await conn.fetch(
        "SELECT id, school_unit, app_id, app_name, state, conditions, reason, decided_at FROM app_request"
        " WHERE lower(decided_by) = $1 AND lower(requester) <> $1 ORDER BY decided_at, id",
        str(person),
    )


async def steps_on_others(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.request_id, s.at, s.step, s.note FROM app_request_step s JOIN app_request r ON r.id = s.request_id"
        " WHERE lower(s.actor) = $1 AND lower(r.requester) <> $1 ORDER BY s.id",
        str(person),
    )


async def apps(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, name, supplier, kind, status, created_at, updated_at,"
        " lower(created_by) = $1 AS created_by_them, lower(updated_by) = $1 AS last_updated_by_them"
        " FROM app WHERE lower(created_by) = $1 OR lower(updated_by) = $1 ORDER BY created_at, id",
        str(person),
    )


async def licences(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, app_id, school_unit, licence_type, seats, group_name, starts, expires, note, created_at, ended_at"
        " FROM licence WHERE lower(created_by) = $1 ORDER BY created_at, id",
        str(person),
    )


async def statuses(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT code, label_sv, label_en, allows_use, defined_at FROM status_definition WHERE lower(defined_by) = $1 ORDER BY position",
        str(person),
    )
