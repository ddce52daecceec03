"""Notification's scheduled jobs (see shared/jobs.py): the daily digests, deadline reminders to the
Rektor and each school's guardian reach for reporting (the daily retention run comes from its privacy
part, privacy.py). Each is safe to run again for the same day; each is an adapter: the job's transaction as the unit of work (usecases/jobs.py)."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.notification import usecases
from services.notification.settings import SOURCE, NotificationSettings
from shared.jobs import Job
from shared.uow import UnitOfWork


async def digests(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Yesterday's and older digest items, one summary per recipient and channel."""
    return await usecases.run_digests(UnitOfWork(conn, SOURCE), today)


def reminders_job(settings: NotificationSettings) -> Job:
    async def reminders(conn: asyncpg.Connection, today: date) -> dict[str, int]:
        """The Rektor of each school that has not submitted hears before its deadline."""
        return await usecases.run_reminders(UnitOfWork(conn, SOURCE), today, settings.reminder_days)

    return Job("deadline-reminders", reminders, settings.job_interval_seconds,
               f"Reminds each school's Rektor {', '.join(map(str, settings.reminder_days))} days before the self-assessment deadline")


async def reach(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Each school's guardian reach this calendar year, published when it changed."""
    return await usecases.run_reach(UnitOfWork(conn, SOURCE), today)


def jobs(settings: NotificationSettings) -> tuple[Job, ...]:
    every = settings.job_interval_seconds
    return (
        Job("digests", digests, every, "Sends yesterday's digest items as one summary per recipient and channel"),
        reminders_job(settings),
        Job("guardian-reach", reach, every, "Publishes each school's share of guardians a digital channel reached this year"),
    )
