"""The audit trail every service keeps of changes people (and rules) make: who, what, when.

Each service has its own ``audit_log`` table (same shape) in its own schema.
"""

from __future__ import annotations

from typing import Any

import asyncpg


async def record(conn: asyncpg.Connection, actor: str, action: str, entity: str, entity_id: str, detail: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, detail) VALUES ($1, $2, $3, $4, $5)", actor, action, entity, entity_id, detail
    )


async def trail(conn: asyncpg.Connection, entity: str, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT at, actor, action, detail FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id", entity, entity_id)


def trail_json(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{"at": r["at"].isoformat(), "actor": r["actor"], "action": r["action"], "detail": r["detail"]} for r in rows]
