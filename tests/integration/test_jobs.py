"""GET /jobs says of each scheduled job when it last ran, how that ended and when it runs next (issue 20: it showed
neither). The last run is the ``job_run`` table (shared/migrations/0004_job_runs.sql), written by whichever replica ran
it; the next run is the answering replica's scheduler. Reporting's ``retention`` job (daily) is the one exercised: its
scheduler runs it once soon after start, and nothing else runs it in between."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared import db
from shared.clock import city_today
from shared.jobs import Job, record_run, run_job
from tests.support.kafka import eventually
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

SERVICE = "reporting"
JOB = "retention"
LOCK = f"skolit.job.{SERVICE}.{JOB}"
ADMIN = auth("city_admin")


async def listed(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    r = await http.get(f"{url}/jobs", headers=ADMIN)
    assert r.status_code == 200, r.text
    return {item["name"]: item for item in r.json()["items"]}


async def test_jobs_show_their_last_run_its_outcome_and_their_next_run(stack: Stack) -> None:
    url = stack.services[SERVICE].url
    today = city_today()
    async with httpx.AsyncClient(timeout=30) as http:
        # The scheduler's own first run, 1 to 5 seconds after the service started, is recorded as such.
        async def scheduled() -> dict[str, Any] | None:
            job = (await listed(http, url))[JOB]
            return job if job["lastRun"] and job["lastRun"]["trigger"] == "schedule" else None

        job = await eventually(scheduled, timeout=30, interval=0.5, what="the scheduler's first retention run in GET /jobs")
        assert job["lastRun"]["outcome"] == "ok" and job["lastRun"]["error"] is None, job
        assert set(job["lastRun"]["result"]) == {"inbox", "outbox", "idempotency"}, job  # reporting's retention classes
        # the next run is a day away (± 10 % jitter), from this replica's scheduler
        next_run = datetime.fromisoformat(job["nextRun"])
        assert datetime.now(UTC) + timedelta(hours=20) < next_run < datetime.now(UTC) + timedelta(hours=27), job

        # An operator runs it: ok, with what it did and the date it ran for.
        asked = datetime.now(UTC)
        ran = await http.post(f"{url}/jobs/{JOB}/run", json={"asOf": "2021-06-15"}, headers=ADMIN)
        assert ran.status_code == 200, ran.text
        last = (await listed(http, url))[JOB]["lastRun"]
        assert last["outcome"] == "ok" and last["trigger"] == "operator" and last["asOf"] == "2021-06-15", last
        assert last["result"] == ran.json()["result"] and last["error"] is None, last
        started, finished = datetime.fromisoformat(last["startedAt"]), datetime.fromisoformat(last["finishedAt"])
        assert asked - timedelta(seconds=5) <= started <= finished <= datetime.now(UTC) + timedelta(seconds=5), last
        assert (await listed(http, url))[JOB]["nextRun"] == job["nextRun"]  # a manual run does not move the schedule

        pool = await db.create_pool(stack.service_url(SERVICE), SERVICE, min_size=1, max_size=3)
        try:
            # A run that fails rolls back whole and is recorded as failed, naming the error's class and not its message.
            marker = f"job-test-{datetime.now(UTC).timestamp()}"

            async def breaks(conn: Any, day: date) -> dict[str, int]:
                await conn.execute("INSERT INTO inbox (event_id, event_type, topic, partition, \"offset\", outcome)"
                                   " VALUES ($1, 'test', 'skolit.test', 0, 0, 'applied')", marker)
                raise RuntimeError("could not remove the rows of anna.lindqvist@example.se")

            with pytest.raises(RuntimeError):
                await run_job(pool, SERVICE, Job(JOB, breaks, 86400, "a run that fails"), today)
            failed = (await listed(http, url))[JOB]
            assert failed["lastRun"]["outcome"] == "failed" and failed["lastRun"]["error"] == "RuntimeError", failed
            assert failed["lastRun"]["result"] is None and failed["lastRun"]["trigger"] == "schedule", failed
            assert "anna" not in str(failed)
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", marker) == 0  # rolled back

            # While another replica runs it (it holds the job's lock), an operator's run is refused and recorded as skipped;
            # the run it gave way to replaces the skip when it finishes.
            async with pool.acquire() as holder, holder.transaction():
                other_started = datetime.now(UTC)
                await holder.execute("SELECT pg_advisory_xact_lock(hashtext($1))", LOCK)
                refused = await http.post(f"{url}/jobs/{JOB}/run", json={}, headers=ADMIN)
                assert refused.status_code == 409, refused.text
                skipped = (await listed(http, url))[JOB]["lastRun"]
                assert skipped["outcome"] == "skipped" and skipped["trigger"] == "operator", skipped
                assert skipped["result"] is None and skipped["error"] is None, skipped
                await record_run(holder, JOB, other_started, "ok", today, "schedule", result={"inbox": 0, "outbox": 0, "idempotency": 0})
            after = (await listed(http, url))[JOB]["lastRun"]
            assert after["outcome"] == "ok" and after["trigger"] == "schedule", after

            # A skip never hides a run that was still going when the skipped attempt began.
            async with pool.acquire() as conn:
                await record_run(conn, JOB, other_started - timedelta(seconds=1), "skipped", today, "schedule")
            assert (await listed(http, url))[JOB]["lastRun"] == after
        finally:
            await pool.close()

        # The other services list every job with its last run once it has run, and a next run from their schedulers.
        for name, svc in stack.services.items():
            for job_name, item in (await listed(http, svc.url)).items():
                assert set(item) == {"name", "everySeconds", "description", "lastRun", "nextRun"}, (name, item)
                assert item["nextRun"] is None or datetime.fromisoformat(item["nextRun"]) > datetime.now(UTC) - timedelta(minutes=5), (name, job_name, item)
