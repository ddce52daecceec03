"""Publishing a checked import: every event under its deterministic id, in one transaction (all or nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from shared.events.base import Event
from shared.uow import UnitOfWork

#: the CloudEvents source of what an import publishes: the city's figures and launch counts, sent by a city admin
SOURCE = "city.imports"
E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class ImportResult:
    rows: int
    events: int
    #: events staged now; the rest were staged by an earlier import of the same facts (the same ids)
    published: int
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "events": self.events, "published": self.published,
                "alreadyImported": self.events - self.published if not self.dry_run else None, "dryRun": self.dry_run}


def checked_only(events: Sequence[Event], *, rows: int) -> ImportResult:
    """A dry run's answer: every row checked, nothing staged (no transaction needed)."""
    return ImportResult(rows=rows, events=len(events), published=0, dry_run=True)


async def publish_import(uow: UnitOfWork, events: Sequence[E], event_id: Callable[[E], str], *, rows: int, at: datetime) -> ImportResult:
    """Stages the events (already checked, every one) under their content ids and the import's time: an id staged
    before is the same fact and is skipped here, and had it gone out again every consumer's inbox would drop it.
    A later import with a changed figure has a new id and a later time, so it replaces the earlier one everywhere."""
    staged = await uow.publish_facts([(e, event_id(e), at) for e in events])
    return ImportResult(rows=rows, events=len(events), published=len(staged), dry_run=False)
