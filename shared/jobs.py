"""Scheduled jobs: work a service does by the calendar, not because an event arrived (a DPA that
expires, a licence about to end, a review that stalls).

A job is a plain async function of a connection and the city's date; it changes state and writes
its events to the outbox in one transaction, so a job that dies halfway leaves nothing half done
and the next run simply picks up what is still due. Every job must be safe to run again for the
same day. With several replicas, an advisory lock lets one run at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

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


async def run_job(pool: asyncpg.Pool, service: str, job: Job, today: date) -> dict[str, int] | None:
    """One run in one transaction; None when another replica holds the job's lock."""
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", f"skolit.job.{service}.{job.name}"):
            return None
        try:
            result = await job.run(conn, today)
        except Exception:
            metrics.JOB_RUNS.labels(service, job.name, "failed").inc()
            raise
    metrics.JOB_RUNS.labels(service, job.name, "ok").inc()
    metrics.JOB_LAST_SUCCESS.labels(service, job.name).set(time.time())
    metrics.JOB_DURATION.labels(service, job.name).observe(time.perf_counter() - started)
    return result


class Scheduler:
    """Runs each job soon after start and then every ``every_seconds`` (with jitter, so replicas
    and services do not all wake at once)."""

    def __init__(self, pool: asyncpg.Pool, service: str, jobs: tuple[Job, ...]) -> None:
        self.pool, self.service, self.jobs = pool, service, jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"{self.service}-job-{job.name}") for job in self.jobs]

    async def _loop(self, job: Job) -> None:
        await asyncio.sleep(random.uniform(1.0, 5.0))
        while True:
            try:
                result = await run_job(self.pool, self.service, job, city_today())
                if result:
                    log.info("job %s: %s", job.name, result)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s failed; next attempt in %.0fs", job.name, job.every_seconds)
            await asyncio.sleep(job.every_seconds * random.uniform(0.9, 1.1))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class RunRequest(BaseModel):
    asOf: date | None = Field(default=None, description="run as if it were this date; only where the clock may be overridden (tests, demo)")


class JobInfo(BaseModel):
    name: str
    everySeconds: float = Field(description="how often the scheduler runs it")
    description: str


class JobList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{"name": "retention", "everySeconds": 86400,
                                                                          "description": "Removes what its retention period no longer covers"}]}]})

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
    async def list_jobs(caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> JobList:
        return JobList(items=[JobInfo(name=j.name, everySeconds=j.every_seconds, description=j.description) for j in jobs])

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
        result = await run_job(request.app.state.pool, request.app.state.settings.service, job, today)
        if result is None:
            raise Problem(409, "Conflict", f"job {name} is running on another replica right now; try again shortly")
        log.info("job %s run by %s as of %s: %s", name, caller.subject, today, result)
        return JobRunAnswer(job=name, asOf=today, result=result)

    return router
