"""What makes a service a service: its name, routes, handlers, replicas and the events it produces.

Each service declares one ``ServiceSpec`` (in its ``app.py``); the shared runtime does the rest, so
all four have the same shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg

from fastapi import APIRouter

from shared.city.replica import Replica
from shared.consumer import Handler, Handlers
from shared.events.base import Event
from shared.jobs import Job
from shared.migrate import Migration, discover


class Worker(Protocol):
    """Long-running work beside the consumer, e.g. notification's senders: started after the relay,
    stopped before it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    directory: Path
    router: APIRouter
    handlers: dict[type[Event], Handler] = field(default_factory=dict)
    replicas: tuple[Replica, ...] = ()
    produces: tuple[type[Event], ...] = ()
    #: runs once at start, after the migrations, e.g. to publish reference data shipped with the code
    on_start: Callable[[asyncpg.Connection], Awaitable[None]] | None = None
    #: scheduled work (see shared/jobs.py)
    jobs: tuple[Job, ...] = ()
    #: background workers, made from the pool once it exists (the app finds them by name in app.state.workers)
    workers: dict[str, Callable[[asyncpg.Pool], Worker]] = field(default_factory=dict)
    #: tables that hold only data derived from events: ``rebuild`` empties them and replays the topics
    read_models: tuple[str, ...] = ()

    def all_handlers(self) -> Handlers:
        merged: dict[type[Event], Handler] = {}
        for replica in self.replicas:
            merged.update(replica.handlers)
        merged.update(self.handlers)
        return Handlers(merged)

    def consumes(self) -> list[type[Event]]:
        types: list[type[Event]] = []
        for replica in self.replicas:
            types += list(replica.handlers)
        return types + list(self.handlers)

    def migrations(self) -> list[Migration]:
        return discover(self.directory, [r.migration for r in self.replicas])
