"""Scheduled jobs: work a service does by the calendar, not because an event arrived (a DPA that
expires, a licence about to end, a review that stalls).

A job is a plain async function of a connection and the city's date; it changes state and writes
its events to the outbox in one transaction, so a job that dies halfway leaves nothing half done
and the next run simply picks up what is still due. Every job must be safe to run again for the
same day. With several replicas, an advisory lock lets one run at a time.

Each run is recorded in the service's ``job_run`` table (shared/migrations/0004_job_runs.sql), one row per job: the
last run of any replica, for ``GET /jobs`` together with when this replica's scheduler starts it next. An ``ok`` run
is recorded in its own transaction (the record commits with what the job did, or not at all); a ``failed`` one after
its transaction rolled back; a ``skipped`` one (another replica held the lock) at once, and the run it gave way to
replaces it when it finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from shared import metrics
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.problems import Problem, documented, rejected

log = logging.getLogger(__name__)

JobRun = Callable[[asyncpg.Connection, date], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobRun
    every_seconds: float
    description: str


Outcome = Literal["ok", "failed", "skipped"]
Trigger = Literal["schedule", "operator"]

#: replaces a job's row unless the row there finished later, and a skipped attempt only a run that had finished before it
#: began: the run it gave way to (which held the lock) replaces it when done, and the skip never hides that run
_RECORD = (
    "INSERT INTO job_run (job, started_at, finished_at, outcome, as_of, trigger, result, error)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (job) DO UPDATE SET started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,"
    " outcome = EXCLUDED.outcome, as_of = EXCLUDED.as_of, trigger = EXCLUDED.trigger, result = EXCLUDED.result,"
    " error = EXCLUDED.error WHERE job_run.finished_at <= EXCLUDED.finished_at"
    " AND (EXCLUDED.outcome <> 'skipped' OR job_run.finished_at < EXCLUDED.started_at)"
)


async def record_run(conn: asyncpg.Connection, job: str, started_at: datetime, outcome: Outcome, today: date, trigger: Trigger,
                  result: dict[str, Any] | None = None, error: str | None = None) -> None:
    await conn.execute(_RECORD, job, started_at, datetime.now(UTC), outcome, today, trigger, result, error)


def error_kind(exc: BaseException) -> str:
    """What ``GET /jobs`` says went wrong: the error's class. Its message can quote what the job was working on (a
    value, an address) and stays in the service's log with the traceback."""
    return type(exc).__name__


async def run_job(pool: asyncpg.Pool, service: str, job: Job, today: date, *, trigger: Trigger = "schedule") -> dict[str, int] | None:
    """One run in one transaction, recorded in ``job_run``; None when another replica holds the job's lock (recorded as
    skipped). A failure is recorded after the rollback and raised again."""
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    result: dict[str, int] = {}
    ran = False
    try:
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", f"skolit.job.{service}.{job.name}"):
                ran = True
                result = await job.run(conn, today)
                await record_run(conn, job.name, started_at, "ok", today, trigger, result=result)
            else:
                await record_run(conn, job.name, started_at, "skipped", today, trigger)
    except Exception as exc:
        metrics.JOB_RUNS.labels(service, job.name, "failed").inc()
        try:
            async with pool.acquire() as conn:
                await record_run(conn, job.name, started_at, "failed", today, trigger, error=error_kind(exc))
        except Exception as second:  # the database is away, most likely the failure itself: the log and the metric say it
            log.warning("job %s: its failure could not be recorded (%r)", job.name, second)
        raise
    if not ran:
        metrics.JOB_RUNS.labels(service, job.name, "skipped").inc()
        return None
    metrics.JOB_RUNS.labels(service, job.name, "ok").inc()
    metrics.JOB_LAST_SUCCESS.labels(service, job.name).set(time.time())
    metrics.JOB_DURATION.labels(service, job.name).observe(time.perf_counter() - started)
    return result


async def last_runs(conn: asyncpg.Connection, names: list[str]) -> dict[str, LastRun]:
    rows = await conn.fetch("SELECT job, started_at, finished_at, outcome, as_of, trigger, result, error FROM job_run WHERE job = ANY($1::text[])", names)
    return {r["job"]: LastRun(startedAt=r["started_at"], finishedAt=r["finished_at"], outcome=r["outcome"], asOf=r["as_of"],
                              trigger=r["trigger"], result=r["result"], error=r["error"]) for r in rows}


class Scheduler:
    """Runs each job soon after start and then every ``every_seconds`` (with jitter, so replicas
    and services do not all wake at once)."""

    def __init__(self, pool: asyncpg.Pool, service: str, jobs: tuple[Job, ...]) -> None:
        self.pool, self.service, self.jobs = pool, service, jobs
        self._tasks: list[asyncio.Task[None]] = []
        self._next: dict[str, datetime] = {}

    def next_run(self, name: str) -> datetime | None:
        """When this scheduler starts the job next; None while it runs it (or once stopped)."""
        return self._next.get(name)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"{self.service}-job-{job.name}") for job in self.jobs]

    async def _loop(self, job: Job) -> None:
        delay = random.uniform(1.0, 5.0)
        try:
            while True:
                self._next[job.name] = datetime.now(UTC) + timedelta(seconds=delay)
                await asyncio.sleep(delay)
                del self._next[job.name]
                try:
                    result = await run_job(self.pool, self.service, job, city_today())
                    if result:
                        log.info("job %s: %s", job.name, result)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job %s failed; next attempt in %.0fs", job.name, job.every_seconds)
                delay = job.every_seconds * random.uniform(0.9, 1.1)
        finally:
            self._next.pop(job.name, None)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class RunRequest(BaseModel):
    asOf: date | None = Field(default=None, description="run as if it were this date; only where the clock may be overridden (tests, demo)")


class LastRun(BaseModel):
    """A job's last run, by whichever replica ran it (the ``job_run`` table)."""

    startedAt: datetime
    finishedAt: datetime
    outcome: Outcome = Field(description="ok: it ran and committed; failed: it rolled back whole (the next run retries); skipped: another "
                                         "replica was running it at the time")
    asOf: date = Field(description="the date it ran for: the city's date, or the asOf an operator gave")
    trigger: Trigger = Field(description="schedule: the service's scheduler; operator: POST /jobs/{name}/run")
    result: dict[str, Any] | None = Field(default=None, description="what the job did, by its own counters (ok runs only)")
    error: str | None = Field(default=None, description="what went wrong (failed runs only): the error's class; the message and traceback "
                                                        "are in the service's log, since they can quote what the job was working on")


class JobInfo(BaseModel):
    name: str
    everySeconds: float = Field(description="how often the scheduler runs it")
    description: str
    lastRun: LastRun | None = Field(description="its last run on any replica; null when it has not run yet")
    nextRun: datetime | None = Field(description="when the scheduler of the replica that answered starts it next (another replica's may "
                                                 "come first, a manual run does not move it); null while it runs here or where no "
                                                 "scheduler runs")


class JobList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {"name": "retention", "everySeconds": 86400, "description": "Removes what its retention period no longer covers",
         "lastRun": {"startedAt": "2026-12-07T02:13:05Z", "finishedAt": "2026-12-07T02:13:06Z", "outcome": "ok", "asOf": "2026-12-07",
                     "trigger": "schedule", "result": {"inbox": 1200, "outbox": 310}, "error": None},
         "nextRun": "2026-12-08T02:31:40Z"},
        {"name": "dpa-expiry", "everySeconds": 3600, "description": "Lapses approvals whose data processing agreement has ended",
         "lastRun": {"startedAt": "2026-12-07T08:00:12Z", "finishedAt": "2026-12-07T08:00:13Z", "outcome": "failed", "asOf": "2026-12-07",
                     "trigger": "schedule", "result": None, "error": "QueryCanceledError"},
         "nextRun": "2026-12-07T09:02:51Z"},
    ]}]})

    items: list[JobInfo] = Field(description="every job of the service (a short, fixed list: not paged)")


class JobRunAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"job": "retention", "asOf": "2026-12-07", "result": {"inbox": 1200, "outbox": 310}}]})

    job: str
    asOf: date
    result: dict[str, Any] = Field(description="what the job did, by the job's own counters")


def jobs_router(jobs: tuple[Job, ...]) -> APIRouter:
    """``GET /jobs`` and ``POST /jobs/{name}/run`` for city admins: run a job now rather than at its next tick."""
    router = APIRouter(tags=["operations"])
    by_name = {j.name: j for j in jobs}

    @router.get("/jobs", summary="The service's scheduled jobs", responses=documented(401, 403))
    async def list_jobs(request: Request, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> JobList:
        async with request.app.state.pool.acquire() as conn:
            last = await last_runs(conn, list(by_name))
        runtime = getattr(request.app.state, "runtime", None)
        scheduler = getattr(runtime, "scheduler", None)
        return JobList(items=[
            JobInfo(name=j.name, everySeconds=j.every_seconds, description=j.description, lastRun=last.get(j.name),
                    nextRun=scheduler.next_run(j.name) if isinstance(scheduler, Scheduler) else None)
            for j in jobs
        ])

    @router.post("/jobs/{name}/run", summary="Run a scheduled job now", responses=documented(401, 403, 404, 409, 422))
    async def run_now(request: Request, name: str, body: RunRequest, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> JobRunAnswer:
        job = by_name.get(name)
        if job is None:
            raise Problem(404, "Not found", f"no job named {name!r}; jobs: {sorted(by_name)}")
        today = city_today()
        if body.asOf is not None:
            if not request.app.state.settings.allow_clock_override:
                raise rejected(422, "asOf is only accepted where SKOLIT_ALLOW_CLOCK_OVERRIDE is set (tests and the demo)", "asOf")
            today = body.asOf
        result = await run_job(request.app.state.pool, request.app.state.settings.service, job, today, trigger="operator")
        if result is None:
            raise Problem(409, "Conflict", f"job {name} is running on another replica right now; try again shortly")
        log.info("job %s run by %s as of %s: %s", name, caller.subject, today, result)
        return JobRunAnswer(job=name, asOf=today, result=result)

    return router
