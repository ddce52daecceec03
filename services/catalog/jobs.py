"""The catalog's scheduled jobs: DPAs that reach their end date, licences about to end, reviews
that stall, and the daily retention run. Each is safe to run again for the same day (see shared/jobs.py)."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from services.catalog import domain, store
from services.catalog.changes import SOURCE, lapse_if_unprotected
from services.catalog.retention import RULES
from services.catalog.settings import CATALOG
from shared import outbox, retention
from shared.clock import CITY_TZ
from shared.events.catalog import AppRequestStalled, DpaExpired, LicenceExpiring
from shared.jobs import Job
from shared.privacy import vault


async def expire_dpas(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """A signed DPA past its end date becomes expired; an approval that depended on it lapses."""
    statuses = await store.statuses(conn)
    expired = lapsed = 0
    for row in await store.dpas_past_expiry(conn, today):
        before = row["status"]
        await store.mark_dpa_expired(conn, row["id"])
        await store.audit(conn, "skolit:dpa-expiry", "app.dpa-expired", "app", str(row["id"]), {"expiredOn": row["dpa_expires"].isoformat()})
        fresh = await store.get_app(conn, row["id"])
        assert fresh is not None
        after = await lapse_if_unprotected(conn, fresh, statuses, today, f"the data processing agreement expired on {row['dpa_expires']}")
        lapsed += after["status"] != before
        expired += 1
        await outbox.add(conn, SOURCE, DpaExpired(
            appId=row["id"], appName=row["name"], expiredOn=row["dpa_expires"], statusBefore=before, statusAfter=after["status"],
            schoolUnitIds=await store.licensed_schools(conn, row["id"], today),
        ))
    return {"expired": expired, "lapsed": lapsed}


async def licence_notices(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """One advance notice per licence and end date, ``licence_notice_days`` ahead."""
    rows = await store.licences_needing_notice(conn, today, CATALOG.licence_notice_days)
    for r in rows:
        await outbox.add(conn, SOURCE, LicenceExpiring(
            licenceId=r["id"], appId=r["app_id"], appName=r["app_name"], schoolUnitId=r["school_unit"], licenceType=r["licence_type"],
            seats=r["seats"], expiresOn=r["expires"], daysLeft=(r["expires"] - today).days,
        ))
        await store.mark_notice_sent(conn, r["id"], r["expires"])
    return {"notices": len(rows)}


async def review_reminders(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Reviewers hear about a request that has waited for them ``review_reminder_days`` or more."""
    now = datetime.combine(today, datetime.now(CITY_TZ).timetz())  # today's date at the current time
    reminded = 0
    for r in await store.waiting_requests(conn):
        if not domain.review_stalled(r["waiting_since"], r["reminded_at"], now, CATALOG.review_reminder_days):
            continue
        await outbox.add(conn, SOURCE, AppRequestStalled(
            requestId=r["id"], schoolUnitId=r["school_unit"], districtId=r["district"], requester=await vault.seal(conn, r["requester"]), appId=r["app_id"],
            appName=r["app_name"], state=r["state"], waitingSince=r["waiting_since"], daysWaiting=(now - r["waiting_since"]).days,
        ))
        await store.mark_reminded(conn, r["id"], now)
        reminded += 1
    return {"reminded": reminded}


JOBS = (
    Job("dpa-expiry", expire_dpas, CATALOG.job_interval_seconds, "Marks DPAs past their end date expired and lapses the approvals that depended on them"),
    Job("licence-notices", licence_notices, CATALOG.job_interval_seconds, f"Announces licences that end within {CATALOG.licence_notice_days} days"),
    Job("review-reminders", review_reminders, CATALOG.job_interval_seconds, f"Reminds reviewers of requests waiting {CATALOG.review_reminder_days} days or more"),
    retention.job("catalog", RULES),
)
