"""Notification's scheduled jobs (see shared/jobs.py): the daily digests, deadline reminders to the
Rektor, each school's guardian reach for reporting, and the daily retention run. Each is safe to run
again for the same day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from uuid import uuid4

import asyncpg

from services.notification import domain, messages, store
from services.notification.retention import RULES
from services.notification.settings import SERVICE, NotificationSettings
from shared import outbox, retention
from shared.city.replica import persons_with_duty
from shared.clock import CITY_TZ
from shared.events.city import DutyRole
from shared.events.notification import GuardianReachMeasured
from shared.jobs import Job

SOURCE = "skolit.notification"


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CITY_TZ)


async def digests(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Yesterday's and older digest items, one summary per recipient and channel, sent when the
    recipient's quiet hours allow."""
    cutoff = local_midnight(today)
    now = max(datetime.now(UTC), cutoff)
    made, items = [], []
    for group in await store.due_digests(conn, cutoff):
        quiet = (group["quiet_start"], group["quiet_end"]) if group["quiet_start"] is not None else domain.DEFAULT_QUIET
        message_id = uuid4()
        at, _ = domain.send_at(now, quiet, critical=False)
        made.append((message_id, f"digest:{group['person']}:{group['channel']}:{today.isoformat()}", group["person"], group["channel"], at))
        items += [(item, message_id) for item in group["items"]]
    sent = await store.create_digests(conn, made, items) if made else 0
    return {"digests": sent, "items": len(items)}


def reminders_job(settings: NotificationSettings) -> Job:
    async def reminders(conn: asyncpg.Connection, today: date) -> dict[str, int]:
        """The Rektor of each school that has not submitted hears at each configured number of days
        before its deadline: once per step (the smallest step reached), and anew after a reopening
        moves the deadline."""
        made = 0
        for row in await store.open_deadlines(conn, today, max(settings.reminder_days)):
            left = (row["deadline"] - today).days
            step = min(d for d in settings.reminder_days if left <= d)
            recipients = await persons_with_duty(conn, row["school_unit"], DutyRole.REKTOR.value)
            if not recipients:
                continue
            key = f"reminder:{row['campaign']}:{row['school_unit']}:{row['deadline'].isoformat()}:{step}"
            made += await messages.make(conn, dedupe_key=key, message_type="deadline-approaching", school_unit=row["school_unit"],
                                        recipients=recipients, data={"campaignName": row["name"], "deadline": row["deadline"].isoformat(),
                                                                     "daysLeft": left, "link": f"/campaigns/{row['campaign']}"}) is not None
        return {"reminders": made}

    return Job("deadline-reminders", reminders, settings.job_interval_seconds,
               f"Reminds each school's Rektor {', '.join(map(str, settings.reminder_days))} days before the self-assessment deadline")


async def reach(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Each school's guardian reach this calendar year, published when it changed."""
    changed = await store.guardian_reach(conn, today.year, local_midnight(date(today.year, 1, 1)))
    await outbox.add(conn, SOURCE, *(GuardianReachMeasured(schoolUnitId=r["school_unit"], year=today.year, guardians=r["guardians"],
                                                           reached=r["reached"], share=round(r["reached"] / r["guardians"], 4))
                                     for r in changed if r["guardians"]))
    await store.reach_published(conn, today.year, changed)
    return {"schools": len(changed)}


def jobs(settings: NotificationSettings) -> tuple[Job, ...]:
    every = settings.job_interval_seconds
    return (
        Job("digests", digests, every, "Sends yesterday's digest items as one summary per recipient and channel"),
        reminders_job(settings),
        Job("guardian-reach", reach, every, "Publishes each school's share of guardians a digital channel reached this year"),
        retention.job(SERVICE, RULES),
    )
