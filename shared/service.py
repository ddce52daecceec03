"""What makes a service a service: its name, routes, handlers, replicas, privacy part and the events it produces.

Each service declares one ``ServiceSpec`` (in its ``app.py``); the shared runtime does the rest, so
all four have the same shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from fastapi import APIRouter

from shared.city.replica import Replica
from shared.consumer import Handler, Handlers
from shared.events.base import Event
from shared.jobs import Job
from shared.migrate import Migration, discover
from shared.privacy.part import PrivacyPart


class Worker(Protocol):
    """Long-running work beside the consumer, e.g. notification's senders: started after the relay,
    stopped before it. Where the workers run in processes of their own (`work`, SKOLIT_<SERVICE>_WORKERS=elsewhere),
    a `serve` process only opens them: what its requests use of them (a confirmation code sent at once, an
    operator's "send now") works there too, and their loops run in the `work` processes."""

    async def open(self) -> None:
        """What the process's requests use, without the loops (e.g. the channels' connections)."""

    async def start(self) -> None:
        """``open`` and the loops."""

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
    on_start: Callable[[asyncpg.Connection], Awaitable[object]] | None = None
    #: scheduled work (see shared/jobs.py)
    jobs: tuple[Job, ...] = ()
    #: background workers, made from the pool once it exists (the app finds them by name in app.state.workers)
    workers: dict[str, Callable[[asyncpg.Pool], Worker]] = field(default_factory=dict)
    #: GET endpoints read at city scale, answered in front of FastAPI for the plain case (shared/http/hot_reads.py)
    hot_reads: tuple[Any, ...] = ()
    #: tables that hold only data derived from events: ``rebuild`` empties them and replays the topics
    read_models: tuple[str, ...] = ()
    #: the event types for which the service's own handler replaces a replica's, said by name: its handler is
    #: then the only one called for the type, so it must do the replica's work too (call the replica's handler).
    #: ``all_handlers`` refuses a replaced handler that is not declared here, and a declaration that replaces nothing.
    overrides: frozenset[type[Event]] = frozenset()
    #: its part in data protection (shared/privacy/part.py): the data map, the retention rules, and how it answers a
    #: right-of-access request and an erasure; the AccessRequested and ErasureRequested handlers and the retention
    #: job it makes are added to the service's own (a handler of its own replaces one only where ``overrides`` says so)
    privacy: PrivacyPart | None = None

    def privacy_handlers(self) -> dict[type[Event], Handler]:
        return self.privacy.handlers(self.name) if self.privacy is not None else {}

    def all_jobs(self) -> tuple[Job, ...]:
        """The service's own jobs and its privacy part's retention job."""
        return self.jobs + (self.privacy.jobs(self.name) if self.privacy is not None else ())

    def all_handlers(self) -> Handlers:
        """The replicas' handlers, the privacy part's and the service's own, one per event type. A type two of them
        handle is an error (``HandlerConflict``) unless it is the service's own handler replacing a replica's or the
        privacy part's, declared in ``overrides``; sharing the very same handler (a replica's, re-registered) is no
        conflict."""
        merged: dict[type[Event], Handler] = {}
        owner: dict[type[Event], str] = {}
        for replica in self.replicas:
            for model, handler in replica.handlers.items():
                if model in merged and merged[model] is not handler:
                    raise HandlerConflict(
                        f"{self.name}: {owner[model]} and replica {replica.name!r} both handle {model.__name__} with different "
                        "handlers; a service keeps only one of them (e.g. PERSONS or MARKINGS, never both)")
                merged[model], owner[model] = handler, f"replica {replica.name!r}"
        for model, handler in self.privacy_handlers().items():
            if model in merged:
                raise HandlerConflict(f"{self.name}: its privacy part and {owner[model]} both handle {model.__name__}")
            merged[model], owner[model] = handler, "its privacy part"
        for model, handler in self.handlers.items():
            replaced = merged.get(model)
            if replaced is not None and replaced is not handler and model not in self.overrides:
                raise HandlerConflict(
                    f"{self.name}: its handler for {model.__name__} ({_name(handler)}) would replace the handler of {owner[model]} "
                    f"({_name(replaced)}); if that is meant, declare overrides={{{model.__name__}, ...}} in its ServiceSpec "
                    "and have its handler do that work too")
            merged[model] = handler
        for model in sorted(self.overrides, key=lambda m: m.__name__):
            if model not in self.handlers:
                raise HandlerConflict(f"{self.name}: declares an override of {model.__name__} but has no handler of its own for it")
            if model not in owner:
                raise HandlerConflict(f"{self.name}: declares an override of {model.__name__}, but none of its replicas nor its "
                                      f"privacy part handles {model.__name__}: there is nothing to override")
        return Handlers(merged)

    def consumes(self) -> list[type[Event]]:
        types: list[type[Event]] = []
        for replica in self.replicas:
            types += list(replica.handlers)
        return list(dict.fromkeys(types + list(self.privacy_handlers()) + list(self.handlers)))

    def migrations(self) -> list[Migration]:
        return discover(self.directory, [f for r in self.replicas for f in r.migration_files])


class HandlerConflict(ValueError):
    """Two handlers for one event type in a ServiceSpec, where one would silently replace the other."""


def _name(handler: Any) -> str:
    qualname = getattr(handler, "__qualname__", None)
    if qualname:
        return f"{handler.__module__}.{qualname}"
    arguments = getattr(handler, "arguments", None)  # a Statement
    return f"{type(handler).__name__} of {_name(arguments)}" if arguments is not None else type(handler).__name__
