"""Sealed person references in tests (shared/privacy/vault.py; docs/decisions/0009): Skolit's own events carry
person ids sealed, so a test that publishes such an event as a service would seals them with the stack's
vault, and a test that reads one opens it."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from shared.events.base import Event
from shared.privacy import vault
from tests.support.kafka import EventLog, eventually


def unknown_ref() -> str:
    """A well-formed sealed reference under a key no vault holds: for events whose consumers never open the
    field (and a unit test, which has no database). Opening it raises KeyDestroyed."""
    blob = base64.urlsafe_b64encode(os.urandom(vault.NONCE_BYTES + 16 + 16)).decode().rstrip("=")
    return f"{vault.PREFIX}.{uuid.uuid4()}.{blob}"


async def sealed(admin_url: str, person: uuid.UUID | str) -> str:
    """The person's id sealed with their key in the stack's vault, as a producing service would."""
    conn = await asyncpg.connect(admin_url)
    try:
        return await vault.seal(conn, person)
    finally:
        await conn.close()


async def opened(admin_url: str, ref: str) -> uuid.UUID | None:
    """Whom a sealed reference is about; None once their key is destroyed."""
    conn = await asyncpg.connect(admin_url)
    try:
        return await vault.open_ref(conn, ref)
    except vault.KeyDestroyed:
        return None
    finally:
        await conn.close()


async def wait_for_person(log: EventLog, admin_url: str, event_type: type[Event], field: str, person: uuid.UUID,
                          match: Callable[[Any], bool] = lambda e: True, *, timeout: float = 30) -> Any:
    """The first event of the type on the log whose sealed ``field`` opens to ``person`` and that ``match``es."""
    conn = await asyncpg.connect(admin_url)
    known: dict[str, uuid.UUID | None] = {}

    async def found() -> Any:
        for env in list(log.events):
            e = env.data
            if not isinstance(e, event_type) or not match(e):
                continue
            ref = getattr(e, field)
            if ref not in known:
                try:
                    known[ref] = await vault.open_ref(conn, ref)
                except (vault.KeyDestroyed, vault.NotSealed):
                    known[ref] = None
            if known[ref] == person:
                return e
        return None

    try:
        return await eventually(found, timeout=timeout, what=f"a {event_type.__name__} event for {person}")
    finally:
        await conn.close()
