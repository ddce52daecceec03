"""shared/jobs.py without a database: what a run records (ok in its own transaction, failed after the rollback with the
error's class only, skipped when another replica holds the lock), the scheduler's next run, and the typed answer of
GET /jobs. The SQL itself (which row wins) runs against PostgreSQL in tests/integration/test_jobs.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared import jobs
from shared.jobs import Job, JobInfo, JobList, LastRun, Scheduler, run_job

TODAY = date(2026, 12, 7)


class FakeConn:
    def __init__(self, pool: FakePool) -> None:
        self.pool = pool

    async def fetchval(self, sql: str, *args: Any) -> bool:
        assert "pg_try_advisory_xact_lock" in sql
        return self.pool.lock_free

    async def execute(self, sql: str, *args: Any) -> str:
        self.pool.pending.append(args)
        return "INSERT 0 1"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        try:
            yield
        except BaseException:
            self.pool.pending.clear()  # rolled back
            self.pool.rollbacks += 1
            raise
        self.pool.committed += self.pool.pending
        self.pool.pending = []


class FakePool:
    def __init__(self, lock_free: bool = True) -> None:
        self.lock_free = lock_free
        self.pending: list[tuple[Any, ...]] = []
        self.committed: list[tuple[Any, ...]] = []
        self.rollbacks = 0

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConn]:
        conn = FakeConn(self)
        yield conn
        # outside a transaction a statement commits at once
        self.committed += self.pending
        self.pending = []


def recorded(pool: FakePool) -> list[dict[str, Any]]:
    names = ("job", "started_at", "finished_at", "outcome", "as_of", "trigger", "result", "error")
    return [dict(zip(names, args, strict=True)) for args in pool.committed]


async def counts(conn: Any, today: date) -> dict[str, int]:
    return {"expired": 2}


async def breaks(conn: Any, today: date) -> dict[str, int]:
    await conn.execute("UPDATE app SET status = 'lapsed'")  # undone with the rollback
    raise RuntimeError("could not lapse the app of anna.lindqvist@example.se")


def test_an_ok_run_is_recorded_in_its_own_transaction() -> None:
    pool = FakePool()
    result = asyncio.run(run_job(pool, "catalog", Job("dpa-expiry", counts, 3600, "x"), TODAY))  # type: ignore[arg-type]
    assert result == {"expired": 2}
    [row] = recorded(pool)
    assert (row["job"], row["outcome"], row["as_of"], row["trigger"], row["result"], row["error"]) == (
        "dpa-expiry", "ok", TODAY, "schedule", {"expired": 2}, None)
    assert row["started_at"] <= row["finished_at"] <= datetime.now(UTC)


def test_a_failed_run_is_recorded_after_the_rollback_with_the_errors_class_and_not_its_message() -> None:
    pool = FakePool()
    with pytest.raises(RuntimeError):
        asyncio.run(run_job(pool, "catalog", Job("dpa-expiry", breaks, 3600, "x"), TODAY, trigger="operator"))  # type: ignore[arg-type]
    assert pool.rollbacks == 1
    [row] = recorded(pool)  # the job's own UPDATE was rolled back; only the record of the failure is left
    assert (row["outcome"], row["trigger"], row["result"], row["error"]) == ("failed", "operator", None, "RuntimeError")
    assert "anna" not in repr(row)


def test_a_run_another_replica_holds_is_recorded_as_skipped_and_answers_none() -> None:
    pool = FakePool(lock_free=False)
    called: list[date] = []

    async def never(conn: Any, today: date) -> dict[str, int]:
        called.append(today)
        return {}

    assert asyncio.run(run_job(pool, "catalog", Job("dpa-expiry", never, 3600, "x"), TODAY)) is None  # type: ignore[arg-type]
    assert not called
    [row] = recorded(pool)
    assert (row["outcome"], row["result"], row["error"]) == ("skipped", None, None)


def test_an_empty_result_is_an_ok_run_not_a_skipped_one() -> None:
    async def nothing_due(conn: Any, today: date) -> dict[str, int]:
        return {}

    pool = FakePool()
    assert asyncio.run(run_job(pool, "catalog", Job("dpa-expiry", nothing_due, 3600, "x"), TODAY)) == {}  # type: ignore[arg-type]
    assert [r["outcome"] for r in recorded(pool)] == ["ok"]


def test_a_skip_never_replaces_a_run_that_finished_after_it_began() -> None:
    """The statement's guard, as written: the latest finished wins, and a skip only replaces a run over before it began."""
    sql = " ".join(jobs._RECORD.split())
    assert "WHERE job_run.finished_at <= EXCLUDED.finished_at" in sql
    assert "AND (EXCLUDED.outcome <> 'skipped' OR job_run.finished_at < EXCLUDED.started_at)" in sql


def test_the_scheduler_says_when_it_starts_each_job_next_and_nothing_while_it_runs_it() -> None:
    async def scenario() -> None:
        started = asyncio.Event()
        release = asyncio.Event()

        async def slow(conn: Any, today: date) -> dict[str, int]:
            started.set()
            await release.wait()
            return {"done": 1}

        scheduler = Scheduler(FakePool(), "catalog", (Job("slow", slow, 3600, "x"),))  # type: ignore[arg-type]
        before = datetime.now(UTC)
        scheduler.start()
        await asyncio.sleep(0)
        first = scheduler.next_run("slow")
        assert first is not None and before + timedelta(seconds=1) <= first <= before + timedelta(seconds=5, milliseconds=100)
        assert scheduler.next_run("unknown") is None
        await asyncio.wait_for(started.wait(), timeout=10)
        assert scheduler.next_run("slow") is None  # running now
        release.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            following = scheduler.next_run("slow")
            if following is not None:
                break
        assert following is not None
        assert datetime.now(UTC) + timedelta(seconds=3000) < following < datetime.now(UTC) + timedelta(seconds=4000)  # 3600 ± 10 %
        await scheduler.stop()
        assert scheduler.next_run("slow") is None

    asyncio.run(scenario())


def test_the_answer_is_typed_and_its_example_is_one() -> None:
    example = JobList.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    listed = JobList.model_validate(example)
    assert {i.lastRun.outcome for i in listed.items if i.lastRun} == {"ok", "failed"}
    with pytest.raises(ValidationError):
        LastRun.model_validate({**example["items"][0]["lastRun"], "outcome": "partly"})
    never = JobInfo(name="digests", everySeconds=3600, description="x", lastRun=None, nextRun=None)
    assert never.model_dump(mode="json") == {"name": "digests", "everySeconds": 3600.0, "description": "x", "lastRun": None, "nextRun": None}
    schema = JobList.model_json_schema()
    assert set(schema["$defs"]["LastRun"]["properties"]["outcome"]["enum"]) == {"ok", "failed", "skipped"}
