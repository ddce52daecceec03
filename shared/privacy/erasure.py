"""Erasure, the part every service plays (docs/decisions/0009).

Notification publishes ``ErasureRequested`` with the person sealed with their own key. Each service's
handler (made from its privacy part's ``erase``, shared/privacy/part.py) calls ``answer()``: it opens the person, lets the service delete or
anonymise what it holds (its ``erase`` function, in the handler's transaction) and outboxes the service's own
``…DataErased`` confirmation with the counts — never an id. A person whose key is already destroyed was
erased before: the service confirms with nothing erased.

What every service keeps alike is erased here: the city's replicas (persons with their names, duties, guardian
relations), the audit trail (``audit_log``, where a service has one), the stored answers of idempotent creates and
the outbox's history. Anonymised values become the literal ``"erased"``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from shared.http.idempotency import caller_hash
from shared.uow import UnitOfWork
from shared.events.base import DataErased
from shared.events.envelope import Envelope, Rejected
from shared.events.notification import ErasureRequested
from shared.privacy import vault

log = logging.getLogger(__name__)

#: what an erased person's id or free text is replaced with where the row stays
ERASED = "erased"

Erase = Callable[[asyncpg.Connection, UUID], Awaitable[dict[str, int]]]


async def answer(conn: asyncpg.Connection, env: Envelope[ErasureRequested], *, source: str, confirmation: type[DataErased], erase: Erase) -> dict[str, int]:
    """Erase what this service holds about the requested person and confirm; returns the counts."""
    e = env.data
    try:
        person = await vault.open_ref(conn, e.person)
    except vault.KeyDestroyed:
        counts: dict[str, int] = {}  # erased before: the key is gone, and with it every way to find the person
    except vault.NotSealed as exc:
        raise Rejected(f"ErasureRequested {e.requestId}: {exc}") from exc
    else:
        counts = await erase(conn, person)
    await UnitOfWork(conn, source).publish(confirmation(requestId=e.requestId, erasedAt=datetime.now(UTC), counts=counts))
    log.info("erasure %s: %s", e.requestId, counts)
    return counts


def _count(status: str) -> int:
    return int(status.split()[-1])


# --- what every service keeps alike ----------------------------------------------------------------

async def has_table(conn: asyncpg.Connection, name: str) -> bool:
    """Whether the service's schema (its search_path) has the table: a replica a service may or may not keep."""
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def erase_shared_tables(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    """What every service keeps that is not its own: the city's replicas (person with name, duties, guardian
    relations, each where the service has it) and the stored answers of its callers' idempotent creates.
    Each service's ``erase`` starts with this and ends with ``scrub_outbox``."""
    return {
        "person": await delete_person(conn, person),
        "duty": await delete_duties(conn, person),
        "guardianship": await delete_guardianships(conn, person),
        "idempotency_key": await delete_idempotency_keys(conn, person),
    }


async def delete_duties(conn: asyncpg.Connection, person: UUID) -> int:
    """The city's duty replica (shared/city/migrations/duty.sql)."""
    return _count(await conn.execute("DELETE FROM duty WHERE person = $1", person))


async def delete_guardianships(conn: asyncpg.Connection, person: UUID) -> int:
    """The city's guardian relations (shared/city/migrations/person.sql or guardianship.sql), where the service keeps
    them: every relation the person is guardian or pupil in."""
    if not await has_table(conn, "guardianship"):
        return 0
    return _count(await conn.execute("DELETE FROM guardianship WHERE guardian = $1 OR pupil = $1", person))


async def delete_idempotency_keys(conn: asyncpg.Connection, person: UUID) -> int:
    """Stored answers of idempotent creates (shared/http/idempotency.py): the person's own (their caller hash) and
    any whose answer names them."""
    if not await has_table(conn, "idempotency_key"):
        return 0
    return _count(await conn.execute(
        "DELETE FROM idempotency_key WHERE caller = $1 OR position($2::bytea IN coalesce(body, ''::bytea)) > 0",
        caller_hash(str(person)), str(person).encode(),
    ))


async def delete_person(conn: asyncpg.Connection, person: UUID) -> int:
    """The city's person replica (id, protection marking and name: shared/city/migrations/person.sql or
    person_marking.sql, and person_name.sql), where the service keeps one: the row goes, the name with it."""
    if not await has_table(conn, "person"):
        return 0
    return _count(await conn.execute("DELETE FROM person WHERE id = $1", person))


async def scrub_outbox(conn: asyncpg.Connection, person: UUID) -> int:
    """The outbox's history holds Skolit's own events with persons sealed; only dead letters (the original
    body of a city event, which carries ids plain) and rows written before persons were sealed can hold the
    plain id. Such a row keeps its place in the record, its topic, type and times, but loses its key, its body
    and every header but the CloudEvents id, type, source and time; ``skolit_erased`` marks it. A row not yet
    published is published like that (a dead letter without a body: nothing to reprocess)."""
    text = str(person)
    return _count(await conn.execute(
        "UPDATE outbox SET key = NULL, payload = NULL,"
        " headers = coalesce((SELECT jsonb_agg(h) FROM jsonb_array_elements(headers) AS h"
        "                     WHERE h->>0 IN ('ce_id', 'ce_type', 'ce_source', 'ce_time', 'ce_specversion')), '[]'::jsonb)"
        "           || jsonb_build_array(jsonb_build_array('skolit_erased', 'true'))"
        " WHERE strpos(lower(encode(coalesce(key, ''::bytea), 'escape')), $1) > 0"
        "    OR strpos(lower(encode(coalesce(payload, ''::bytea), 'escape')), $1) > 0"
        "    OR strpos(lower(headers::text), $1) > 0",
        text,
    ))


async def scrub_audit_log(conn: asyncpg.Connection, person: UUID, keep_levels_of: str | None = None) -> int:
    """shared/audit.py's table: the person as actor or entity becomes "erased", and the details of what they
    did (which copy what they wrote) are dropped — except, for ``keep_levels_of`` (an action whose detail is
    ``{"answers": {indicator: {...}}}``), the levels, which are the school's and not the person's."""
    text = str(person)
    return _count(await conn.execute(
        "UPDATE audit_log SET"
        " actor = CASE WHEN lower(actor) = $1 THEN $2 ELSE actor END,"
        " entity_id = CASE WHEN lower(entity_id) = $1 THEN $2 ELSE entity_id END,"
        " detail = CASE"
        "   WHEN lower(actor) <> $1 AND strpos(lower(detail::text), $1) = 0 THEN detail"
        "   WHEN action = $3 AND jsonb_typeof(detail->'answers') = 'object' THEN jsonb_build_object('answers',"
        "     (SELECT coalesce(jsonb_object_agg(k, v - 'comment' - 'evidence'), '{}'::jsonb) FROM jsonb_each(detail->'answers') AS a(k, v)))"
        "   ELSE '{}'::jsonb END"
        " WHERE lower(actor) = $1 OR lower(entity_id) = $1 OR strpos(lower(detail::text), $1) > 0",
        text, ERASED, keep_levels_of,
    ))
