"""The floor under Skolit's three hot reads (issue 24, bench/http_reads.py): a raw ASGI callable on uvicorn that runs the
same SQL as the school report (reporting), the catalogue search (catalog) and a guardian's inbox (notification),
through asyncpg, against the same database as the service's own role, and answers with the rows as JSON (orjson).

    .venv/bin/python -m bench.floor --read inbox --database-url postgresql://... --port 8199

One process per read, like the services (one process each), with the services' pool (shared.db.create_pool, 10
connections, their search_path). The statements are not copied: the floor calls the very store functions the services
call (services/*/store.py and their stores), in the same order and with the same parameters, so the floor can never
drift from the SQL it is the floor of; and it keeps the same per-process caches the services keep between requests
(reporting's school-levels cache, catalog's statuses and whole answers keyed on the search version), so each request
runs the statements Skolit runs for it. What it leaves out is everything in between: FastAPI (routing, dependencies,
validation), the token and the access checks, the middleware, the domain's shaping of the answer (the levels, the
suppression, the message templates) and pydantic. The inbox keeps its access-log insert and its transaction: the log
is SQL the read must do. The answer is the rows themselves, not the shaped body: the same data, not the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import asyncpg
import orjson
import uvicorn

from services.catalog import domain as catalog_domain
from services.catalog import store as catalog_store
from services.catalog.domain import SearchFilters
from services.notification.access_audit import OWN_DATA, Action
from services.notification.store import audit as audit_store
from services.notification.store import messages as message_store
from services.reporting import cache as reporting_cache
from services.reporting import store as reporting_store
from shared.city.replica import district_of
from shared.clock import city_today
from shared.db import create_pool
from shared.http.pages import DEFAULT_LIMIT, decode_cursor

#: read -> the service whose role, schema and SQL it uses
READS = {"report": "reporting", "search": "catalog", "inbox": "notification"}
POOL_SIZE = 10  # the services' own pool (shared.db.create_pool's default)
ANSWER_CACHE = 256
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _json(value: Any) -> Any:
    """orjson's fallback: asyncpg records and the few types orjson does not write itself (Decimal, time, sets)."""
    if isinstance(value, asyncpg.Record):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json, option=orjson.OPT_NON_STR_KEYS)


async def report(conn: asyncpg.Connection, school_unit: UUID, year: int | None) -> tuple[int, Any]:
    """services/reporting/routes/school.py's statements, in its order."""
    _, ref = await reporting_store.school_unit_ref(conn, school_unit)
    submissions = {r["year"]: r for r in await reporting_store.reported_submissions(conn, school_unit)}
    if not submissions:
        return 404, {"detail": "no submitted self-assessment"}
    chosen = year if year is not None else max(submissions)
    if chosen not in submissions:
        return 404, {"detail": f"no submitted self-assessment for {chosen}"}
    previous = max((y for y in submissions if y < chosen), default=None)
    ids = [submissions[chosen]["assessment_id"]] + ([submissions[previous]["assessment_id"]] if previous else [])
    body = {"schoolUnit": ref, "year": chosen, "previousYear": previous, "submission": submissions[chosen],
            "headings": await reporting_store.heading_levels(conn, ids), "indicators": await reporting_store.indicator_levels(conn, ids),
            "pulse": await reporting_store.pulse_levels(conn, submissions[chosen]["assessment_id"]),
            "metrics": await reporting_store.school_metrics(conn, school_unit, chosen)}
    body["indicatorDefinitions"] = [i.code for i in await reporting_store.indicators(conn)]
    body["actions"] = await reporting_store.actions(conn, school_unit)
    district = await district_of(conn, school_unit)
    body["peers"] = len(await reporting_cache.school_levels(conn, chosen, [district])) if district else 0
    body["byYear"] = await reporting_store.heading_levels_by_year(conn, school_unit)
    return 200, body


class SearchFloor:
    """services/catalog/routes/search.py's statements, with its caches: statuses and whole answers per search version."""

    def __init__(self) -> None:
        self.statuses: dict[int, Any] = {}
        self.answers: dict[tuple[Any, ...], bytes] = {}

    async def __call__(self, conn: asyncpg.Connection, query: list[tuple[str, str]]) -> tuple[int, bytes]:
        one = dict(query)
        many = {k: tuple(v for key, v in query if key == k) for k in ("subject", "grade", "schoolType", "heading", "status", "dpaStatus", "kind", "platform", "language")}
        filters = SearchFilters(many["subject"], many["grade"], many["schoolType"], many["heading"], many["status"], many["dpaStatus"],
                                many["kind"], many["platform"], many["language"])
        limit = int(one.get("limit", DEFAULT_LIMIT))
        offset = decode_cursor(one["cursor"]) if one.get("cursor") else 0
        q = one.get("q")
        words = catalog_domain.query_words(q or "")
        today: date = city_today()
        version, _ = await catalog_store.search_version_and_school(conn, None)
        if version not in self.statuses:
            self.statuses = {version: await catalog_store.statuses(conn)}
        question = (version, q, tuple(words), filters, today, limit, offset)
        answer = self.answers.get(question)
        if answer is None:
            terms = catalog_domain.search_terms(words, await catalog_store.word_facts(conn, words))
            result = await catalog_store.search(conn, tsquery=terms.tsquery, folded=terms.folded, f=filters, school_unit=None, school_types=[],
                                                today=today, limit=limit + 1, offset=offset, facets=offset == 0, usable_only=False)
            answer = dumps({"items": result["items"][:limit], "total": result["total"], "facets": result["facets"],
                            "corrections": terms.corrections, "suggestion": terms.suggestion})
            if len(self.answers) >= ANSWER_CACHE:
                self.answers.pop(next(iter(self.answers)))
            self.answers[question] = answer
        return 200, answer


async def inbox(conn: asyncpg.Connection, person: UUID, path: str) -> tuple[int, Any]:
    """services/notification/usecases/inbox.py's statements for one's own inbox, in one transaction as unit_of_work has it."""
    async with conn.transaction():
        rows = await message_store.inbox(conn, person, DEFAULT_LIMIT + 1, 0,
                                         audit_store.Access(actor=str(person), roles=["guardian"], action=Action.MESSAGES_READ.value, subject=person,
                                                            subjects=[person], why=OWN_DATA, path=path))
    return 200, {"items": rows[:DEFAULT_LIMIT], "total": rows[0]["total"] if rows else 0, "unread": rows[0]["unread"] if rows else 0,
                 "language": (rows[0]["language"] if rows else None) or "sv"}


class FloorApp:
    """A raw ASGI application: one read, no framework."""

    def __init__(self, read: str, database_url: str) -> None:
        if read not in READS:
            raise ValueError(f"read {read!r}: one of {', '.join(READS)}")
        self.read, self.database_url = read, database_url
        self.pool: asyncpg.Pool | None = None
        self.search = SearchFloor()

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await create_pool(self.database_url, READS[self.read], max_size=POOL_SIZE)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        status, body = await self.answer(scope["path"], parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        data = body if isinstance(body, bytes) else dumps(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    async def answer(self, path: str, query: list[tuple[str, str]]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        assert self.pool is not None
        try:
            async with self.pool.acquire() as conn:
                if self.read == "report" and len(parts) == 3 and parts[0] == "school-units" and parts[2] == "report":
                    year = dict(query).get("year")
                    return await report(conn, UUID(parts[1]), int(year) if year else None)
                if self.read == "search" and parts == ["apps"]:
                    return await self.search(conn, query)
                if self.read == "inbox" and len(parts) == 3 and parts[0] == "persons" and parts[2] == "messages":
                    return await inbox(conn, UUID(parts[1]), path)
        except ValueError as exc:
            return 422, {"detail": str(exc)}
        return 404, {"detail": "not found"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--read", choices=sorted(READS), required=True)
    parser.add_argument("--database-url", required=True, help="the service's own database URL (shared.settings.service_database_url)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # the services' server settings: uvicorn, one worker, uvloop, no access log
    uvicorn.run(FloorApp(args.read, args.database_url), host="127.0.0.1", port=args.port, loop="uvloop", http="h11", lifespan="on",
                access_log=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
