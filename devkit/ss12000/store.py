"""The city as it changes while it is served: the generated entities (devkit/ss12000/entities.py) plus an overlay of the
versions written since (changes, additions, deletions), and the standard's list reads over both.

Lists are ordered by (meta.modified, id) and paged by keyset: a page token carries the key of the last entity served.
Each listing also reads one *snapshot*: the instant its first page was asked for. Every entity is served in the state
it had then, so an entity changed between two pages is neither skipped (its old version keeps its old place) nor served
twice (its new version lies after the snapshot); the next ``meta.modified.after`` sync picks the change up, because the
clock never repeats an instant and every write is stamped later than every snapshot taken before it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devkit.ss12000.citygen import GENERATED_UNTIL, micros, rfc3339
from devkit.ss12000.entities import RESOURCE_TYPES, Entities

Key = tuple[int, str]  # (meta.modified in µs, id)


@dataclass(frozen=True)
class Version:
    modified_us: int
    created_us: int
    entity: dict[str, Any] | None  # None: deleted at modified_us


class Clock:
    """Microseconds, strictly increasing (two writes never share an instant) and never before the generated history;
    ``advance`` moves it forward for tests that need time to pass (token expiry) without waiting."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._offset_us = 0
        self._last = micros(GENERATED_UNTIL) + 1_000_000

    def now_us(self) -> int:
        self._last = max(self._last + 1, int(self._wall() * 1_000_000) + self._offset_us)
        return self._last

    def seconds(self) -> float:
        return time.monotonic() + self._offset_us / 1_000_000

    def advance(self, seconds: float) -> None:
        self._offset_us += int(seconds * 1_000_000)


class UnknownEntity(LookupError):
    pass


def canonical(ident: str) -> str:
    """A UUID in its usual lower-case form, so ``ABC…`` and ``abc…`` name the same entity; anything else as it is."""
    try:
        return str(uuid.UUID(ident))
    except ValueError:
        return ident


class Store:
    def __init__(self, entities: Entities, clock: Clock) -> None:
        self.entities = entities
        self.clock = clock
        self.versions: dict[str, dict[str, list[Version]]] = {name: {} for name in RESOURCE_TYPES}
        self.deletions: list[tuple[int, str, str]] = []  # (when, resource, id), in time order
        self.live = {name: r.count for name, r in entities.resources.items()}

    # ---- single entities -------------------------------------------------------------------------------------------
    def _base_index(self, resource: str, ident: str) -> int | None:
        r = self.entities.resources[resource]
        return r.ids.index(ident, r.count)

    def _state(self, resource: str, ident: str, at: int | None = None) -> Version | None:
        """The entity's version at ``at`` (now if None); None if it does not exist (or did not yet)."""
        versions = self.versions[resource].get(ident, [])
        for version in reversed(versions):
            if at is None or version.modified_us <= at:
                return version
        index = self._base_index(resource, ident)
        if index is None:
            return None
        r = self.entities.resources[resource]
        return Version(r.modified_us(index), r.created_us(index), r.entity(index))

    def get(self, resource: str, ident: str) -> dict[str, Any] | None:
        state = self._state(resource, canonical(ident))
        return None if state is None else state.entity

    def change(self, resource: str, ident: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Top-level fields replaced (``id`` and ``meta`` are the server's); meta.modified becomes now."""
        ident = canonical(ident)
        state = self._state(resource, ident)
        if state is None or state.entity is None:
            raise UnknownEntity(ident)
        now = self.clock.now_us()
        entity = state.entity | {k: v for k, v in fields.items() if k not in ("id", "meta")}
        entity["meta"] = {"created": state.entity["meta"]["created"], "modified": rfc3339(now)}
        self.versions[resource].setdefault(ident, []).append(Version(now, state.created_us, entity))
        return entity

    def add(self, resource: str, entity: dict[str, Any]) -> dict[str, Any]:
        ident = canonical(str(entity.get("id") or uuid.uuid4()))
        if self._state(resource, ident) is not None:
            raise ValueError(f"{resource} {ident} exists")
        now = self.clock.now_us()
        stamped = {k: v for k, v in entity.items() if k not in ("id", "meta")}
        stamped = {"id": ident, "meta": {"created": rfc3339(now), "modified": rfc3339(now)}} | stamped
        self.versions[resource][ident] = [Version(now, now, stamped)]
        self.live[resource] += 1
        return stamped

    def delete(self, resource: str, ident: str) -> None:
        ident = canonical(ident)
        state = self._state(resource, ident)
        if state is None or state.entity is None:
            raise UnknownEntity(ident)
        now = self.clock.now_us()
        self.versions[resource].setdefault(ident, []).append(Version(now, state.created_us, None))
        self.deletions.append((now, resource, ident))
        self.live[resource] -= 1

    # ---- lists --------------------------------------------------------------------------------------------------------
    def page(self, resource: str, *, snapshot: int, after: Key | None, modified_after: int | None, created_after: int | None,
             limit: int) -> tuple[list[dict[str, Any]], Key | None]:
        """Up to ``limit`` entities after ``after`` in (modified, id) order as of ``snapshot``, and the key to continue
        from (None: the list is done)."""
        r = self.entities.resources[resource]
        overlay = self.versions[resource]
        found: list[tuple[Key, dict[str, Any]]] = []
        # 1. generated entities not changed as of the snapshot, in index order (= their (modified, id) order)
        i = 0
        if after is not None:
            i = r.first_modified_at_or_after(after[0])
            if i < r.count and r.modified_us(i) == after[0]:
                i += 1
        if modified_after is not None:
            i = max(i, r.first_modified_at_or_after(modified_after))
        if created_after is not None:
            i = max(i, r.first_created_at_or_after(created_after))
        while i < r.count and len(found) <= limit:
            entity = r.entity(i)
            versions = overlay.get(entity["id"]) if overlay else None
            if not versions or versions[0].modified_us > snapshot:
                found.append(((r.modified_us(i), entity["id"]), entity))
            i += 1
        # 2. entities written since the generated history (all later than every generated one), as of the snapshot
        if len(found) <= limit and overlay:
            written: list[tuple[Key, dict[str, Any]]] = []
            for ident, versions in overlay.items():
                state = next((v for v in reversed(versions) if v.modified_us <= snapshot), None)
                if state is None or state.entity is None:
                    continue
                key = (state.modified_us, ident)
                if ((after is not None and key <= after) or (modified_after is not None and state.modified_us < modified_after)
                        or (created_after is not None and state.created_us < created_after)):
                    continue
                written.append((key, state.entity))
            written.sort(key=lambda kv: kv[0])
            found += written[: limit + 1 - len(found)]
        if len(found) > limit:
            return [e for _, e in found[:limit]], found[limit - 1][0]
        return [e for _, e in found], None

    def deleted_page(self, types: set[str], *, snapshot: int, after_us: int | None, position: int,
                     limit: int) -> tuple[dict[str, list[str]], int | None]:
        """Ids deleted at or after ``after_us`` (up to the snapshot), of the given resources, from ``position`` in the
        deletion log; the position to continue from (None: done)."""
        data: dict[str, list[str]] = {name: [] for name in RESOURCE_TYPES}
        served = 0
        while position < len(self.deletions):
            when, resource, ident = self.deletions[position]
            if when > snapshot:
                break
            if resource in types and (after_us is None or when >= after_us):
                if served == limit:
                    return data, position
                data[resource].append(ident)
                served += 1
            position += 1
        return data, None
