"""SQL of the reporting service's privacy part (services/reporting/privacy.py).

Right of access: the queries of reporting's part of a person's export (``gather``): its read models
hold no person; what names one is who defined an indicator and who announced a year's report.

Erasure: reporting's erasure (docs/decisions/0009). Its read models hold figures, never a person
(docs/privacy.md), and keep them: only who published a report or defined an indicator becomes "erased", and
the outbox's dead letters that carried the person plain lose their body. The city's duties and guardian relations
it keeps (to know who signs in as what, shared/auth/authority.py) go, as do stored answers of the person's creates.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.privacy.erasure import ERASED, erase_shared_tables, scrub_outbox


def _count(status: str) -> int:
    return int(status.split()[-1])


async def erase_person(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    text = str(person)
    return {
        **await erase_shared_tables(conn, person),
        "published_report": _count(await conn.execute(
            "UPDATE published_report SET published_by = $2 WHERE lower(published_by) = $1", text, ERASED)),
        "indicator_definition": _count(await conn.execute(
            "UPDATE indicator_definition SET defined_by = $2 WHERE lower(defined_by) = $1", text, ERASED)),
        "outbox": await scrub_outbox(conn, person),
    }


async def indicators(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT code, metric, source, unit, direction, target, heading, name_sv, name_en, defined_at"
        " FROM indicator_definition WHERE lower(defined_by) = $1 ORDER BY defined_at, code",
        str(person),
    )


async def published(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT p.year, p.district, o.display_name AS district_name, p.published_at FROM published_report p"
        " LEFT JOIN organisation o ON o.id = p.district WHERE lower(p.published_by) = $1 ORDER BY p.published_at, p.year",
        str(person),
    )
