"""Right of access (art. 15 GDPR), the part every service plays: docs/decisions/0010.

Notification publishes ``AccessRequested`` (the person sealed with their own key, a fresh public key per
request). Each other service answers with ``answer()``: it opens the person, gathers every row it holds
about them (its ``gather`` function, from its own schema), and outboxes its own ``…DataExported`` event
with the part sealed for the request's public key — JSON, compressed, then sealed (sealedbox), bound to
the request and the service by the associated data. So personal data never travels readable on a topic,
and only notification, which holds the request's private key, can open the parts.

A part is ``{"service", "erased", "tables": {name: [row, ...]}}``; a person whose key was destroyed
(erased, shared/privacy/vault.py) gets ``erased: true`` and no tables.
"""

from __future__ import annotations

import base64
import logging
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.uow import UnitOfWork
from shared.events.base import Event
from shared.events.envelope import Envelope, Rejected
from shared.events.notification import AccessRequested
from shared.privacy import export_store, sealedbox, vault

log = logging.getLogger(__name__)

#: the largest sealed part, in base64 characters, one event may carry (Kafka's default message limit is 1 MiB)
MAX_PART_CHARS = 600_000
#: how long an assembled export is kept for the requester to fetch it (docs/decisions/0010)
RETENTION_DAYS = 30

Tables = dict[str, list[dict[str, Any]]]
Gather = Callable[[asyncpg.Connection, UUID], Awaitable[Tables]]
#: one of a service's queries for the export: the rows of one kind that name the person
Query = Callable[[asyncpg.Connection, UUID], Awaitable[Iterable[Mapping[str, Any]]]]


def associated(request_id: UUID, service: str) -> bytes:
    """What binds a part to its request and its service (authenticated by the sealed box, not secret)."""
    return f"skolit-access-export:v1:{request_id}:{service}".encode()


def _default(value: Any) -> Any:
    if isinstance(value, UUID):  # asyncpg's own UUID type, which orjson does not take as one
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Database rows as plain dicts (what orjson turns into JSON: uuids, dates and times as ISO text)."""
    return [dict(r) for r in records]


def seal_part(public_key: bytes, request_id: UUID, service: str, part: Mapping[str, Any]) -> str:
    box = sealedbox.seal(public_key, zlib.compress(to_json(part), 9), associated(request_id, service))
    return base64.b64encode(box).decode()


def open_part(private_key: bytes, request_id: UUID, service: str, text: str) -> dict[str, Any]:
    """A part as its service made it; raises SealedBoxError when it is not a part of this request from this service."""
    box = base64.b64decode(text, validate=True)
    return orjson.loads(zlib.decompress(sealedbox.open_box(private_key, box, associated(request_id, service))))


#: the city's replicas a service may keep (shared/city/replica.py), by their table, as they appear in a part
REPLICA_QUERIES: dict[str, tuple[str, Query]] = {
    "person": ("person", export_store.person),  # with the person's own name
    "duty": ("duties", export_store.duties),
    "guardianship": ("guardianRelations", export_store.guardianships),
}


def gathering(own: Mapping[str, Query], *, replicas: bool = True, audit: bool = True) -> Gather:
    """A service's ``gather`` from its own queries (``{table name in the part: query}``), between what services keep
    alike: the city's replicas the service keeps first (``replicas``: person with the name, duties, guardian relations),
    the audit trail (``audit``) and the events it published naming the person last (shared/privacy/export_store.py)."""
    async def gather(conn: asyncpg.Connection, person: UUID) -> Tables:
        tables: Tables = {}
        if replicas:
            for table, (name, query) in REPLICA_QUERIES.items():
                if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                    tables[name] = rows(await query(conn, person))
        for name, query in own.items():
            tables[name] = rows(await query(conn, person))
        if audit:
            tables["auditLog"] = rows(await export_store.audit_entries(conn, person))
        tables["eventsPublished"] = await export_store.outbox_mentions(conn, person)
        return tables

    return gather


def count(tables: Mapping[str, list[Any]]) -> int:
    return sum(len(v) for v in tables.values())


def make_part(service: str, tables: Tables | None, *, note: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"service": service, "erased": tables is None, "exportedAt": datetime.now(UTC),
                            "tables": tables or {}}
    if note:
        part["note"] = note
    return part


ERASED_NOTE = "The person was erased: their key is destroyed, so nothing here can be tied to them any more."
TOO_LARGE_NOTE = ("This service holds more about the person than one event may carry ({rows} rows); the data protection "
                  "officer asks the service's operators for a direct extract.")


def sealed_answer(public_key: bytes, request_id: UUID, service: str, tables: Tables | None) -> tuple[str, int]:
    """The sealed part and its row count; a part too large for one event is replaced by a note saying so."""
    n = count(tables) if tables else 0
    text = seal_part(public_key, request_id, service, make_part(service, tables, note=None if tables is not None else ERASED_NOTE))
    if len(text) > MAX_PART_CHARS:
        log.warning("access export %s: %s's part is too large for an event (%d rows, %d characters)", request_id, service, n, len(text))
        text = seal_part(public_key, request_id, service, make_part(service, {}, note=TOO_LARGE_NOTE.format(rows=n)))
    return text, n


async def answer(conn: asyncpg.Connection, env: Envelope[AccessRequested], *, service: str, source: str, gather: Gather,
                 event: Callable[..., Event]) -> None:
    """The handler body of every service's ``on_access_requested``: open, gather, seal, outbox — one transaction."""
    e = env.data
    try:
        public_key = base64.b64decode(e.publicKey, validate=True)
    except ValueError as exc:
        raise Rejected(f"AccessRequested {e.requestId}: publicKey is not base64 ({exc})") from exc
    if len(public_key) != sealedbox.KEY_BYTES:
        raise Rejected(f"AccessRequested {e.requestId}: publicKey is not an X25519 public key")
    try:
        person: UUID | None = await vault.open_ref(conn, e.person)
    except vault.KeyDestroyed:  # the person was erased: the answer says so, with no tables
        person = None
    tables = await gather(conn, person) if person is not None else None
    part, n = sealed_answer(public_key, e.requestId, service, tables)
    await UnitOfWork(conn, source).publish(event(requestId=e.requestId, part=part, rows=n))
