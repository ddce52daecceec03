"""The catalog's scheduled jobs: DPAs that reach their end date, licences about to end, reviews that
stall (the daily retention run comes from its privacy part, privacy.py). Each is safe to run again for
the same day (see shared/jobs.py). Each is a thin adapter: the scheduler hands it a connection inside its transaction, and it calls a use
case (usecases/) in that unit of work."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.catalog.settings import CATALOG, SOURCE
from services.catalog.usecases import apps, licences, requests
from shared.jobs import Job
from shared.uow import UnitOfWork


async def expire_dpas(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    return await apps.expire_dpas(UnitOfWork(conn, SOURCE), today)


async def licence_notices(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    return await licences.run_licence_notices(UnitOfWork(conn, SOURCE), today)


async def review_reminders(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    return await requests.remind_stalled_reviews(UnitOfWork(conn, SOURCE), today)


JOBS = (
    Job("dpa-expiry", expire_dpas, CATALOG.job_interval_seconds, "Marks DPAs past their end date expired and lapses the approvals that depended on them"),
    Job("licence-notices", licence_notices, CATALOG.job_interval_seconds, f"Announces licences that end within {CATALOG.licence_notice_days} days"),
    Job("review-reminders", review_reminders, CATALOG.job_interval_seconds, f"Reminds reviewers of requests waiting {CATALOG.review_reminder_days} days or more"),
)
