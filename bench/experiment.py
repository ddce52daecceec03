"""Bench-only experiments: run a service with a candidate change applied in its own process, to measure a change
before proposing it for the service code (nothing here is used by the services themselves).

    SKOLIT_BENCH_EXPERIMENT=fast-batch .venv/bin/python -m bench.experiment services.notification

bench/stack.py starts a service this way when the benchmark is given ``--experiment NAME``.

Experiments:

fast-batch   shared/consumer.py BatchProcessor._apply applies a batch without a savepoint per event — one
             transaction, the inbox claim, then each handler straight on the connection. If a handler rejects an
             event (the errors the savepoint path dead-letters), the whole transaction is rolled back and the batch
             is applied again the way it is today, a savepoint per event, which dead-letters just that event.
             A batch that holds an undecodable event goes the savepoint way at once. Saves two round trips
             (SAVEPOINT, RELEASE SAVEPOINT) per event when nothing is rejected.

many         fast-batch, and on the fast path a run of consecutive events of one type whose handler has a "many"
             form is applied with one ``executemany`` of the handler's own statement (asyncpg sends the rows in one
             round trip): here the replica's upserts of persons, guardian relations, duties and organisations
             (shared/city/replica.py), the same SQL with the same arguments. Services whose own handler wraps a
             replica handler (reporting's organisation history) keep theirs.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any


class _Rejected(Exception):
    """A handler rejected an event on the fast path: redo the batch with a savepoint per event."""


MANY: dict[Any, Any] = {}  # handler -> async many(conn, envelopes)


def fast_batch() -> None:
    import asyncpg

    from shared import consumer
    from shared.events.envelope import PermanentError

    original = consumer.BatchProcessor._apply

    async def _apply(self: Any, batch: list[Any], reprocess: bool) -> dict[str, int]:
        if any(item.error is not None for item in batch):
            return await original(self, batch, reprocess)
        try:
            return await _apply_fast(self, batch, reprocess)
        except _Rejected:
            return await original(self, batch, reprocess)

    async def _apply_fast(self: Any, batch: list[Any], reprocess: bool) -> dict[str, int]:
        counts = {"applied": 0, "duplicate": 0, "dead-lettered": 0}
        outcomes: list[tuple[Any, str]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await self._claim(conn, batch, reprocess)
            for item in batch:
                if item.inbox_id not in fresh:
                    counts["duplicate"] += 1
                    outcomes.append((item, "duplicate"))
                    continue
                fresh.discard(item.inbox_id)
                counts["applied"] += 1
                outcomes.append((item, "applied"))
            runs: list[tuple[Any, list[Any]]] = []  # consecutive fresh events with the same handler
            for item, outcome in outcomes:
                if outcome != "applied":
                    continue
                handler = self.handlers.for_type(item.envelope.type)
                if runs and runs[-1][0] is handler and handler in MANY:
                    runs[-1][1].append(item.envelope)
                else:
                    runs.append((handler, [item.envelope]))
            for handler, envelopes in runs:
                try:
                    if handler in MANY and len(envelopes) > 1:
                        await MANY[handler](conn, envelopes)
                    else:
                        for envelope in envelopes:
                            await handler(conn, envelope)
                except consumer.TRANSIENT:
                    raise
                except (PermanentError, asyncpg.PostgresError, ValueError, LookupError) as exc:
                    raise _Rejected() from exc  # leaves the transaction: rolled back
        for item, outcome in outcomes:  # counted once committed
            self._count(item, outcome)
        return counts

    consumer.BatchProcessor._apply = _apply


def many() -> None:
    """executemany forms of the replica's upserts: the same statements and arguments as shared/city/replica.py."""
    import inspect
    import re

    from shared.city import replica

    def statement(fn: Any) -> str:
        source = inspect.getsource(fn)
        return re.search(r'conn\.execute\(\s*"""(.*?)"""', source, re.S).group(1)

    sql = {name: statement(getattr(replica, name)) for name in
           ("on_person_upserted", "on_guardian_relation_added", "on_duty_assigned", "on_organisation_upserted")}

    async def persons(conn: Any, envs: list[Any]) -> None:
        await conn.executemany(sql["on_person_upserted"], [(e.data.id, e.data.securityMarking.value, e.time) for e in envs])

    async def relations(conn: Any, envs: list[Any]) -> None:
        await conn.executemany(sql["on_guardian_relation_added"], [
            (d.id, d.guardian, d.pupil, d.schoolUnit, d.relationType, d.schoolType.value if d.schoolType else None, d.schoolYear, d.startDate, e.time)
            for e in envs for d in (e.data,)])

    async def duties(conn: Any, envs: list[Any]) -> None:
        await conn.executemany(sql["on_duty_assigned"], [(d.id, d.person, d.dutyAt, d.dutyRole.value, d.startDate, d.endDate, e.time)
                                                         for e in envs for d in (e.data,)])

    async def organisations(conn: Any, envs: list[Any]) -> None:
        await conn.executemany(sql["on_organisation_upserted"], [
            (d.id, d.displayName, d.organisationType.value, d.schoolUnitCode, d.municipalityCode, [t.value for t in d.schoolTypes],
             d.parentOrganisation, d.startDate, d.endDate, e.time) for e in envs for d in (e.data,)])

    MANY.update({replica.on_person_upserted: persons, replica.on_guardian_relation_added: relations,
                 replica.on_duty_assigned: duties, replica.on_organisation_upserted: organisations})
    fast_batch()


EXPERIMENTS = {"fast-batch": fast_batch, "many": many}


def main() -> None:
    name = os.environ.get("SKOLIT_BENCH_EXPERIMENT", "")
    for experiment in filter(None, name.split(",")):
        EXPERIMENTS[experiment]()
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
