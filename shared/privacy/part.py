"""The part of data protection a service declares (issue 18): what it holds about persons, how long it keeps
it, and how it answers a right-of-access request and an erasure.

A service puts one ``PrivacyPart`` in its ``ServiceSpec`` (``privacy=``, from ``services/<name>/privacy.py``);
the shared runtime then adds, for it:

- the ``AccessRequested`` handler (shared/privacy/export.py ``answer``) when it declares ``gather`` and its
  ``…DataExported`` event,
- the ``ErasureRequested`` handler (shared/privacy/erasure.py ``answer``) when it declares ``erase`` and its
  ``…DataErased`` event,
- the daily ``retention`` job (shared/retention.py ``job``) for its ``retention`` rules.

A service whose own handler must differ for one of those events says so in ``ServiceSpec.overrides``, as for a
replica's handler (shared/service.py). ``data_map`` is what devkit/privacy_map.py renders into docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared import retention
from shared.consumer import Handler
from shared.events.base import DataErased, Event
from shared.events.envelope import Envelope
from shared.events.notification import AccessRequested, ErasureRequested
from shared.jobs import Job
from shared.privacy import erasure, export
from shared.privacy.datamap import ServiceMap
from shared.retention import Rule


@dataclass(frozen=True)
class PrivacyPart:
    #: where the service keeps personal data, and why (docs/privacy.md)
    data_map: ServiceMap
    #: its data classes and how long each is kept, children before their parents (shared/retention.py)
    retention: tuple[Rule, ...]
    #: every row it holds about a person, for a right-of-access request, answered with ``exported``
    gather: export.Gather | None = None
    exported: Callable[..., Event] | None = None
    #: deletes or anonymises what it holds about a person, confirmed with ``erased``
    erase: erasure.Erase | None = None
    erased: type[DataErased] | None = None

    def __post_init__(self) -> None:
        if (self.gather is None) != (self.exported is None):
            raise ValueError(f"{self.data_map.schema}: a privacy part declares gather and its …DataExported event together")
        if (self.erase is None) != (self.erased is None):
            raise ValueError(f"{self.data_map.schema}: a privacy part declares erase and its …DataErased event together")

    def handlers(self, service: str) -> dict[type[Event], Handler]:
        """The shared handlers for what the part declares: ``AccessRequested`` and ``ErasureRequested``."""
        source = f"skolit.{service}"
        out: dict[type[Event], Handler] = {}
        gather, exported, erase, erased = self.gather, self.exported, self.erase, self.erased
        if gather is not None and exported is not None:
            async def on_access_requested(conn: asyncpg.Connection, env: Envelope[Any]) -> None:
                await export.answer(conn, env, service=service, source=source, gather=gather, event=exported)

            out[AccessRequested] = on_access_requested
        if erase is not None and erased is not None:
            async def on_erasure_requested(conn: asyncpg.Connection, env: Envelope[Any]) -> None:
                await erasure.answer(conn, env, source=source, confirmation=erased, erase=erase)

            out[ErasureRequested] = on_erasure_requested
        return out

    def jobs(self, service: str) -> tuple[Job, ...]:
        """The daily retention run."""
        return (retention.job(service, self.retention),) if self.retention else ()
