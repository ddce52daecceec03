"""A unit of work for unit tests of use cases: what a use case sees of shared.uow.UnitOfWork — a connection
(never used: those tests fake the store) and ``publish``, which records the events instead of staging them."""

from __future__ import annotations

import uuid
from typing import Any

from shared.events.base import Event


class FakeUnitOfWork:
    def __init__(self, source: str = "tests") -> None:
        self.conn: Any = object()
        self.source = source
        self.events: list[Event] = []

    async def publish(self, *events: Event) -> list[str]:
        self.events += events
        return [str(uuid.uuid4()) for _ in events]
