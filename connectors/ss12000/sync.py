"""One sync of the city's SS 12000 API into city events: the connector's use case.

A run goes through organisations, persons, placements and duties, page by page, then (incremental) the deleted
entities, then what ended by date. **Each page is one transaction**: its events (through the unit of work's
outbox), the entities' new fingerprints, the guardian relations derived, and the cursor (the next page's token,
the high-water mark so far) commit together — so a crash resumes at the last committed page, and nothing is
published twice or lost.

- *incremental*: what was modified since the resource's high-water mark (minus an overlap; fingerprints drop
  what was already published), and ``/deletedEntities`` since the last run started.
- *full*: everything; what the state holds but the API no longer lists is removed ("detects what disappeared").
- *dry run*: the same, inside one transaction that is rolled back: it reports what would change and commits nothing.

Every event's time is the entity's meta.modified (never older than the last event about it), its id deterministic
(connectors/ss12000/domain.py), so an unchanged entity published again is dropped by every inbox.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from connectors.ss12000 import domain, metrics, store
from connectors.ss12000.client import RESOURCES, Refused, Ss12000Client
from connectors.ss12000.domain import Mapped, Responsible, Schooling, Unusable
from connectors.ss12000.settings import SOURCE
from shared.clock import city_today
from shared.events.base import Event
from shared.events.city import DutyEnded, EndReason, GuardianRelationAdded, GuardianRelationEnded
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

RELATIONS = "guardianships"
DELETIONS = "deletedEntities"
MODES = ("incremental", "full")


class Busy(Exception):
    """Another sync holds the lock (another replica, or the command line)."""


@dataclass(frozen=True)
class Change:
    resource: str
    id: UUID
    kind: str
    change: str  # new, changed, removed


@dataclass
class Report:
    """What a run did (or, dry, would do): per resource new/changed/removed, the events staged, and for a dry run the
    entities themselves (ids and kinds: no names)."""

    run_id: int
    mode: str
    dry_run: bool
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    changes: list[Change] = field(default_factory=list)
    events: int = 0
    outcome: str = "running"
    resumed: bool = False

    def add(self, changes: Iterable[Change], events: int) -> None:
        for c in changes:
            self.counts[c.resource][c.change] += 1
            if self.dry_run:
                self.changes.append(c)
            else:
                metrics.ENTITIES_CHANGED.labels(c.resource, c.change).inc()
        self.events += events

    def note(self, resource: str, what: str, n: int = 1) -> None:
        self.counts[resource][what] += n

    def summary(self) -> dict[str, Any]:
        return {"events": self.events, "resources": {r: dict(c) for r, c in sorted(self.counts.items())}}

    def load(self, saved: dict[str, Any] | None) -> None:
        """Counts of a run resumed after a crash: what its committed pages did."""
        if not saved:
            return
        self.events += int(saved.get("events") or 0)
        for resource, counts in (saved.get("resources") or {}).items():
            self.counts[resource].update({k: int(v) for k, v in counts.items()})


class Page:
    """What one page's transaction stages: events, changes, and the pupils whose relations to derive again."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.facts: list[tuple[Event, str, datetime]] = []
        self.changes: list[Change] = []

    def publish(self, event: Event, event_id: str, when: datetime) -> None:
        self.facts.append((event, event_id, when))


def later(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


class Sync:
    """One run on one connection (which holds the sync lock)."""

    def __init__(self, conn: asyncpg.Connection, client: Ss12000Client, report: Report, *, overlap: timedelta,
                 today: date | None = None, now: datetime | None = None) -> None:
        self.conn = conn
        self.client = client
        self.report = report
        self.overlap = overlap
        self.now = now or datetime.now(UTC)
        self.today = today or city_today(self.now)

    @property
    def run_id(self) -> int:
        return self.report.run_id

    @property
    def full(self) -> bool:
        return self.report.mode == "full"

    async def commit(self, page: Page) -> None:
        """Stage the page's events (in the caller's transaction) and count them."""
        staged = await page.uow.publish_facts(page.facts)
        self.report.add(page.changes, len(staged))

    # -- the run --------------------------------------------------------------------------------------------------

    async def run(self, started_at: datetime) -> None:
        for resource in RESOURCES:
            await self.resource(resource)
        if self.full:
            # everything up to the run's start was seen: deletions before it are known
            async with self.conn.transaction():
                await store.finish_resource(self.conn, DELETIONS, self.run_id, started_at - self.overlap)
        else:
            await self.deletions(started_at)
        await self.expire()

    async def resource(self, resource: str) -> None:
        cur = await store.cursor(self.conn, resource)
        ours = cur is not None and cur.run_id == self.run_id
        if cur is not None and ours and cur.done:
            return  # done before the crash
        token = cur.page_token if cur is not None and ours else None
        resumed_token = token
        if not ours:
            async with self.conn.transaction():
                await store.begin_resource(self.conn, resource, self.run_id)
        after = None if self.full or cur is None or cur.high_water_mark is None else cur.high_water_mark - self.overlap
        while True:
            try:
                got = await self.client.page(resource, page_token=token, modified_after=after)
            except Refused as exc:
                if token is not None and token == resumed_token and exc.status in (400, 404, 410):
                    # the token saved before a crash is no longer good: this resource starts over within the run
                    log.warning("SS 12000 %s: the saved page token was refused (%s); starting the resource over", resource, exc)
                    token = resumed_token = None
                    continue
                raise
            async with self.conn.transaction():
                page = Page(UnitOfWork(self.conn, SOURCE))
                seen_up_to = await self.apply(page, resource, got.data)
                await self.commit(page)
                await store.advance(self.conn, resource, self.run_id, got.next_token, seen_up_to)
                await store.save_counts(self.conn, self.run_id, self.report.summary())
            if not got.next_token:
                break
            token = got.next_token
        async with self.conn.transaction():
            if self.full:
                page = Page(UnitOfWork(self.conn, SOURCE))
                await self.remove(page, resource, await store.unseen(self.conn, resource, self.run_id), EndReason.DELETED)
                await self.commit(page)
            await store.finish_resource(self.conn, resource, self.run_id)
            await store.save_counts(self.conn, self.run_id, self.report.summary())
        if not self.report.dry_run:
            metrics.LAST_SUCCESS.labels(resource).set(time.time())

    async def deletions(self, started_at: datetime) -> None:
        cur = await store.cursor(self.conn, DELETIONS)
        if cur is None or cur.high_water_mark is None:
            # never synced before: the lists just read hold only what exists; deletions count from this run on
            async with self.conn.transaction():
                await store.finish_resource(self.conn, DELETIONS, self.run_id, started_at - self.overlap)
            return
        if cur.run_id == self.run_id and cur.done:
            return
        if cur.run_id != self.run_id:
            async with self.conn.transaction():
                await store.begin_resource(self.conn, DELETIONS, self.run_id)
        token = cur.page_token if cur.run_id == self.run_id else None
        after = cur.high_water_mark - self.overlap
        while True:
            try:
                got = await self.client.deleted(after, RESOURCES, page_token=token)
            except Refused as exc:
                if token is not None and exc.status in (400, 404, 410):
                    token = None
                    continue
                raise
            async with self.conn.transaction():
                page = Page(UnitOfWork(self.conn, SOURCE))
                for resource in RESOURCES:
                    ids = [i for i in (domain.ref(x) for x in got.ids.get(resource, [])) if i is not None]
                    await self.remove(page, resource, ids, EndReason.DELETED)
                await self.commit(page)
                await store.advance(self.conn, DELETIONS, self.run_id, got.next_token, None)
                await store.save_counts(self.conn, self.run_id, self.report.summary())
            if not got.next_token:
                break
            token = got.next_token
        async with self.conn.transaction():
            await store.finish_resource(self.conn, DELETIONS, self.run_id, started_at)
        if not self.report.dry_run:
            metrics.LAST_SUCCESS.labels(DELETIONS).set(time.time())

    async def expire(self) -> None:
        """What ended by date since it was published (the API's entity did not change on that day): duties past
        their end date, guardian relations whose every schooling at the unit has ended."""
        async with self.conn.transaction():
            page = Page(UnitOfWork(self.conn, SOURCE))
            rows = await store.ended_duties(self.conn, self.today)
            states = []
            for r in rows:
                event = DutyEnded(id=r["id"], person=r["person"], dutyAt=r["unit"], endDate=r["end_date"], reason=EndReason.ENDED)
                fp = domain.fingerprint((event,))
                when = later(r["modified"], self.now) or self.now
                page.publish(event, domain.event_id(event.TYPE, r["id"], fp, when), when)
                page.changes.append(Change("duties", r["id"], r["kind"], "changed"))
                states.append((r["id"], r["kind"], fp, when, r["end_date"], r["person"], r["unit"], r["seen_run"], True))
            await store.save_states(self.conn, "duties", states)
            await self.derive(page, await store.pupils_with_ended_schooling(self.conn, self.today), EndReason.ENDED)
            await self.commit(page)
            await store.save_counts(self.conn, self.run_id, self.report.summary())

    # -- a page -------------------------------------------------------------------------------------------------

    async def apply(self, page: Page, resource: str, data: Sequence[dict[str, Any]]) -> datetime | None:
        """Map the page's entities, publish what changed; returns the latest meta.modified on the page."""
        by_id: dict[UUID, dict[str, Any]] = {}
        for raw in data:
            try:
                by_id[domain.entity_id(raw)] = raw  # the same entity twice on a page: the later copy
            except Unusable as exc:
                log.warning("SS 12000 %s: skipped an entity (%s)", resource, exc)
                self.report.note(resource, "skipped")
        seen_up_to = later(*(domain.modified(raw) for raw in by_id.values()))
        mapped: list[Mapped] = []
        extra: dict[UUID, Any] = {}
        for eid, raw in by_id.items():
            try:
                if resource == "organisations":
                    m = domain.organisation(raw, self.today)
                elif resource == "persons":
                    m = domain.person(raw)
                    extra[eid] = (domain.responsibles(raw), domain.enrolments(raw))
                elif resource == "duties":
                    m = domain.duty(raw, self.today)
                else:
                    m, schooling = domain.placement(raw)
                    extra[eid] = schooling
            except Unusable as exc:
                log.warning("SS 12000 %s %s: skipped (%s)", resource, eid, exc)
                self.report.note(resource, "skipped")
                continue
            if m.unknown_role:
                self.report.note(resource, "unknownDutyRoles")
                if not self.report.dry_run:
                    metrics.UNKNOWN_DUTY_ROLES.inc()
            mapped.append(m)
        previous = await self.entities(page, resource, mapped)
        if resource == "persons":
            pupils = [m.id for m in mapped]
            rows = [(p, r) for p in pupils for r in extra[p][0]]
            await store.replace_responsibles(self.conn, pupils, rows)
            await store.replace_schoolings(self.conn, pupils, [(p, s) for p in pupils for s in extra[p][1]])
            # a person new (or back after a removal) is a guardian now for the pupils who name them
            arrived = [m.id for m in mapped if m.id not in previous or previous[m.id]["removed"]]
            await self.derive(page, list(dict.fromkeys([*pupils, *await store.pupils_of(self.conn, arrived)])), EndReason.ENDED)
        elif resource == "placements":
            changed = [m for m in mapped if previous.get(m.id) is None or previous[m.id]["fingerprint"] != m.fingerprint
                       or previous[m.id]["removed"]]
            children = [m.person for m in changed if m.person is not None]
            children += [previous[m.id]["person"] for m in changed if m.id in previous and previous[m.id]["person"] is not None]
            await store.replace_schoolings(self.conn, [m.id for m in changed],
                                           [(m.person, extra[m.id]) for m in changed if m.person is not None])
            await self.derive(page, list(dict.fromkeys(children)), EndReason.ENDED)
        return seen_up_to

    async def entities(self, page: Page, resource: str, mapped: Sequence[Mapped]) -> dict[UUID, asyncpg.Record]:
        """Publish the events of the entities whose fingerprint changed; remember them. Returns the previous states."""
        previous = await store.states(self.conn, resource, [m.id for m in mapped])
        unchanged: list[UUID] = []
        states = []
        for m in mapped:
            before = previous.get(m.id)
            fp = m.fingerprint
            if before is not None and not before["removed"] and before["fingerprint"] == fp:
                unchanged.append(m.id)
                continue
            # never older than the last event about it (a removal, say): every replica's guard keeps the latest
            when = later(m.modified, before["modified"] if before is not None else None) or self.now
            if not (before is None and m.ended):  # ended before Skolit ever heard of it: nothing to tell
                for event in m.events:
                    page.publish(event, domain.event_id(event.TYPE, m.id, fp, when), when)
                if m.events or before is None or before["removed"]:
                    page.changes.append(Change(resource, m.id, m.kind, "new" if before is None or before["removed"] else "changed"))
                elif resource == "placements":
                    page.changes.append(Change(resource, m.id, m.kind, "changed"))
            states.append((m.id, m.kind, fp, when, m.end_date, m.person, m.unit, self.run_id, m.ended))
        await store.save_states(self.conn, resource, states)
        if self.full:
            await store.mark_seen(self.conn, resource, unchanged, self.run_id)
        self.report.note(resource, "unchanged", len(unchanged))
        return previous

    async def remove(self, page: Page, resource: str, ids: Sequence[UUID], reason: EndReason) -> None:
        """Entities gone from the API: their removal events, and the relations that go with them."""
        if not ids:
            return
        previous = await store.states(self.conn, resource, ids)
        gone = [r for r in previous.values() if not r["removed"]]
        if not gone:
            return
        for r in gone:
            if resource != "placements":
                event = domain.removed(resource, r["id"], r["kind"], r["person"], r["unit"], self.today)
                when = later(r["modified"], self.now) or self.now
                # the id comes from the state last published, so the same removal is the same event
                page.publish(event, domain.event_id(event.TYPE, r["id"], r["fingerprint"], r["modified"]), when)
            page.changes.append(Change(resource, r["id"], r["kind"], "removed"))
        ids = [r["id"] for r in gone]
        await store.mark_removed(self.conn, resource, ids, self.now)
        if resource == "persons":
            pupils = await store.drop_responsibles(self.conn, ids)
            pupils += await store.drop_schoolings(self.conn, pupils=ids)
            await self.derive(page, list(dict.fromkeys([*ids, *pupils])), reason)
        elif resource == "placements":
            children = await store.drop_schoolings(self.conn, sources=ids)
            await self.derive(page, children, reason)

    async def derive(self, page: Page, pupils: Sequence[UUID], reason: EndReason) -> None:
        """The pupils' guardian relations from their responsibles and schoolings, against what was published:
        added (or changed) and ended ones."""
        if not pupils:
            return
        responsibles: dict[UUID, list[Responsible]] = await store.responsibles_of(self.conn, pupils)
        # a guardian is a person the API lists: one deleted at the source (or not synced yet) is none, though the pupil may
        # name them; when they are synced, the pupils who name them are derived again (apply)
        present = await store.present_persons(self.conn, list({r.guardian for rs in responsibles.values() for r in rs}))
        responsibles = {p: [r for r in rs if r.guardian in present] for p, rs in responsibles.items()}
        schoolings: dict[UUID, list[Schooling]] = await store.schoolings_of(self.conn, pupils)
        published = await store.relations_of(self.conn, pupils)
        pupil_modified = await store.modified_of(self.conn, "persons", pupils)
        rows = []
        for pupil in pupils:
            wanted = domain.relations(pupil, responsibles.get(pupil, []), schoolings.get(pupil, []), self.today, pupil_modified.get(pupil))
            have = published.get(pupil, {})
            for rid, relation in wanted.items():
                before = have.get(rid)
                fp = relation.fingerprint
                if before is not None and before["active"] and before["fingerprint"] == fp:
                    continue
                when = later(relation.modified, before["modified"] if before is not None else None) or self.now
                added: GuardianRelationAdded = relation.event
                page.publish(added, domain.event_id(added.TYPE, rid, fp, when), when)
                page.changes.append(Change(RELATIONS, rid, "guardianship", "new" if before is None or not before["active"] else "changed"))
                rows.append((rid, pupil, added.guardian, added.schoolUnit, fp, when, True))
            for rid, before in have.items():
                if not before["active"] or rid in wanted:
                    continue
                when = later(before["modified"], self.now) or self.now
                ended: GuardianRelationEnded = domain.relation_ended(rid, before["guardian"], pupil, before["school_unit"], self.today, reason)
                page.publish(ended, domain.event_id(ended.TYPE, rid, before["fingerprint"], before["modified"]), when)
                page.changes.append(Change(RELATIONS, rid, "guardianship", "removed"))
                rows.append((rid, pupil, before["guardian"], before["school_unit"], before["fingerprint"], when, False))
        await store.save_relations(self.conn, rows)


async def run_sync(pool: asyncpg.Pool, client: Ss12000Client, *, mode: str = "incremental", trigger: str = "schedule",
                   dry_run: bool = False, overlap: timedelta = timedelta(seconds=60), today: date | None = None) -> Report:
    """One sync, holding the lock. A run that did not finish is resumed first (with its own mode); a dry run starts
    afresh and rolls back. Raises Busy when another sync runs."""
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
    started = time.perf_counter()
    async with pool.acquire() as conn:
        if not await store.try_lock(conn):
            raise Busy("another sync is running")
        try:
            if dry_run:
                return await _dry(conn, client, mode, overlap, today)
            return await _real(conn, client, mode, trigger, overlap, today)
        finally:
            await store.unlock(conn)
            metrics.SYNC_DURATION.labels(mode).observe(time.perf_counter() - started)


async def _real(conn: asyncpg.Connection, client: Ss12000Client, mode: str, trigger: str, overlap: timedelta, today: date | None) -> Report:
    resumable = await store.resumable_run(conn)
    if resumable is not None:
        report = Report(resumable["id"], resumable["mode"], dry_run=False, resumed=True)
        report.load(resumable["counts"])
        await store.resume_run(conn, report.run_id)
        log.info("SS 12000 sync: resuming run %d (%s)", report.run_id, report.mode)
    else:
        report = Report(await store.start_run(conn, mode, trigger), mode, dry_run=False)
    run_row = await store.run(conn, report.run_id)
    assert run_row is not None
    try:
        await Sync(conn, client, report, overlap=overlap, today=today).run(run_row["started_at"])
    except Exception as exc:
        report.outcome = "failed"
        await store.finish_run(conn, report.run_id, "failed", report.summary(), f"{type(exc).__name__}: {exc}"[:500])
        raise
    report.outcome = "ok"
    await store.finish_run(conn, report.run_id, "ok", report.summary())
    log.info("SS 12000 sync run %d (%s) done: %s", report.run_id, report.mode, report.summary())
    if resumable is not None and mode == "full" and report.mode != "full":
        return await _real(conn, client, mode, trigger, overlap, today)  # the full sync asked for, after the resumed run
    return report


async def _dry(conn: asyncpg.Connection, client: Ss12000Client, mode: str, overlap: timedelta, today: date | None) -> Report:
    transaction = conn.transaction()
    await transaction.start()
    try:
        report = Report(await store.start_run(conn, mode, "dry-run"), mode, dry_run=True)
        run_row = await store.run(conn, report.run_id)
        assert run_row is not None
        # a fresh run: the cursors of an unfinished one are reset in this transaction only
        await Sync(conn, client, report, overlap=overlap, today=today).run(run_row["started_at"])
        report.outcome = "dry-run"
        return report
    finally:
        await transaction.rollback()
