"""What notification's scheduled jobs make happen: the daily digests, deadline reminders to the Rektor, and
each school's guardian reach for reporting. Each is safe to run again for the same day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from uuid import uuid4

from services.notification import domain, messages
from services.notification.store import campaigns as campaign_store
from services.notification.store import digests as digest_store
from services.notification.store import reach as reach_store
from shared.city.replica import persons_with_duty
from shared.clock import CITY_TZ
from shared.events.city import DutyRole
from shared.events.notification import GuardianReachMeasured
from shared.uow import UnitOfWork


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CITY_TZ)


async def run_digests(uow: UnitOfWork, today: date) -> dict[str, int]:
    """Yesterday's and older digest items, one summary per recipient and channel, sent when the
    recipient's quiet hours allow."""
    cutoff = local_midnight(today)
    now = max(datetime.now(UTC), cutoff)
    made, items = [], []
    for group in await digest_store.due_digests(uow.conn, cutoff):
        quiet = (group["quiet_start"], group["quiet_end"]) if group["quiet_start"] is not None else domain.DEFAULT_QUIET
        message_id = uuid4()
        at, _ = domain.send_at(now, quiet, critical=False)
        made.append((message_id, f"digest:{group['person']}:{group['channel']}:{today.isoformat()}", group["person"], group["channel"], at))
        items += [(item, message_id) for item in group["items"]]
    sent = await digest_store.create_digests(uow.conn, made, items) if made else 0
    return {"digests": sent, "items": len(items)}


async def run_reminders(uow: UnitOfWork, today: date, reminder_days: Iterable[int]) -> dict[str, int]:
    """The Rektor of each school that has not submitted hears at each of ``reminder_days`` before its
    deadline: once per step (the smallest step reached), and anew after a reopening moves the deadline."""
    steps = tuple(reminder_days)
    made = 0
    for row in await campaign_store.open_deadlines(uow.conn, today, max(steps)):
        left = (row["deadline"] - today).days
        step = min(d for d in steps if left <= d)
        recipients = await persons_with_duty(uow.conn, row["school_unit"], DutyRole.REKTOR.value)
        if not recipients:
            continue
        key = f"reminder:{row['campaign']}:{row['school_unit']}:{row['deadline'].isoformat()}:{step}"
        made += await messages.make(uow.conn, dedupe_key=key, message_type="deadline-approaching", school_unit=row["school_unit"],
                                    recipients=recipients, data={"campaignName": row["name"], "deadline": row["deadline"].isoformat(),
                                                                 "daysLeft": left, "link": f"/campaigns/{row['campaign']}"}) is not None
    return {"reminders": made}


async def run_reach(uow: UnitOfWork, today: date) -> dict[str, int]:
    """Each school's guardian reach this calendar year, published when it changed."""
    changed = await reach_store.guardian_reach(uow.conn, today.year, local_midnight(date(today.year, 1, 1)))
    await uow.publish(*(GuardianReachMeasured(schoolUnitId=r["school_unit"], year=today.year, guardians=r["guardians"],
                                              reached=r["reached"], share=round(r["reached"] / r["guardians"], 4))
                        for r in changed if r["guardians"]))
    await reach_store.reach_published(uow.conn, today.year, changed)
    return {"schools": len(changed)}
