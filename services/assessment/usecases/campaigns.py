"""Annual rounds: a district or city admin opens one for a set of school units, and closes it.

Opening a round creates each school unit's draft, with the answers of its latest submitted
assessment carried forward (through the framework's explicit mapping when the version changed).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from services.assessment import access, domain, store
from services.assessment.framework import Framework, latest, published
from shared.auth import Principal
from shared.events.assessment import CampaignClosed, CampaignOpened
from shared.privacy import vault
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork

CARRIED_BY = "skolit:carry-forward"
# Unambiguous characters only: the code is read aloud and typed on phones.
PULSE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class Campaign:
    """A campaign's row (``store.CAMPAIGN_COLUMNS``) and its progress: (submitted, school units)."""

    row: Mapping[str, Any]
    progress: tuple[int, int]


def pulse_code() -> str:
    return "".join(secrets.choice(PULSE_ALPHABET) for _ in range(10))


async def start_assessment(conn: asyncpg.Connection, campaign_id: UUID, school: domain.KnownSchool, framework: Framework, actor: str) -> None:
    """The school's draft for a new round, prefilled with what it answered last time."""
    assessment_id = uuid4()
    previous = await store.latest_submitted(conn, school.id)
    carried: dict[str, domain.Answer] = {}
    if previous is not None:
        chain = domain.version_chain(published(), previous["framework_version"], framework.version)
        if chain is not None:
            applicable = {i.id for i in framework.indicators_for(school.school_types)}
            carried = {k: v for k, v in domain.carry_forward(chain, await store.answers(conn, previous["id"]), source=str(previous["id"])).items() if k in applicable}
    await store.insert_assessment(conn, id=assessment_id, campaign_id=campaign_id, school_unit=school.id, framework_version=framework.version,
                                  carried_from=previous["id"] if previous is not None else None)
    if carried:
        await store.save_answers(conn, assessment_id, carried, CARRIED_BY)
    await store.audit(conn, actor, "assessment.created", "assessment", str(assessment_id), {
        "campaignId": str(campaign_id), "frameworkVersion": framework.version,
        "carriedFrom": str(previous["id"]) if previous is not None else None, "carriedAnswers": sorted(carried),
    })


async def open_campaign(uow: UnitOfWork, caller: Principal, *, name: str, year: int, deadline: date, school_units: list[UUID],
                        framework_version: int | None) -> Campaign:
    """Opens a round under a framework version (the latest when None) for school units the caller acts
    for, with each one's draft; publishes CampaignOpened."""
    framework = latest() if framework_version is None else published().get(framework_version)
    if framework is None:
        raise rejected(422, f"framework version {framework_version} does not exist; published: {sorted(published())}", "frameworkVersion")
    campaign_id = uuid4()
    known = await store.known_schools(uow.conn, school_units)
    try:
        ids = domain.check_new_campaign(year=year, deadline=deadline, today=domain.city_today(datetime.now(UTC)), requested=school_units, known=known)
    except domain.Rejected as exc:
        raise rejected(exc.status, str(exc), exc.field) from exc
    schools = [known[s] for s in ids]
    access.ensure_admin_for_all(caller, schools)
    await store.insert_campaign(uow.conn, id=campaign_id, name=name, year=year, deadline=deadline, opened_by=caller.subject,
                                framework_version=framework.version, pulse_codes={s: pulse_code() for s in ids})
    for school in schools:
        await start_assessment(uow.conn, campaign_id, school, framework, caller.subject)
    await store.audit(uow.conn, caller.subject, "campaign.opened", "campaign", str(campaign_id),
                      {"schoolUnits": len(ids), "year": year, "deadline": deadline.isoformat(), "frameworkVersion": framework.version})
    await uow.publish(CampaignOpened(id=campaign_id, name=name, year=year, deadline=deadline, schoolUnitIds=ids,
                                     openedBy=await vault.seal_actor(uow.conn, caller.subject), frameworkVersion=framework.version))
    row = await store.get_campaign(uow.conn, campaign_id)
    assert row is not None
    # every school unit has just got its draft: none has submitted yet
    return Campaign(row, (0, len(ids)))


async def close_campaign(uow: UnitOfWork, caller: Principal, campaign_id: UUID) -> Campaign:
    """Closes a round (no more drafts, submissions or pulse answers) for an admin of all its school units;
    publishes CampaignClosed."""
    row = await store.get_campaign(uow.conn, campaign_id, lock=True)
    if row is None:
        raise Problem(404, "Not found", f"campaign {campaign_id} does not exist")
    schools = await store.known_schools(uow.conn, list(row["school_units"]))
    access.ensure_admin_for_all(caller, list(schools.values()))
    closed = await store.close_campaign(uow.conn, campaign_id, caller.subject)
    if closed is None:
        raise rejected(409, f"campaign {campaign_id} is already closed", "status")
    submitted, total = await store.campaign_progress(uow.conn, campaign_id)
    await store.audit(uow.conn, caller.subject, "campaign.closed", "campaign", str(campaign_id), {"submitted": submitted, "schoolUnits": total})
    await uow.publish(CampaignClosed(id=campaign_id, closedBy=await vault.seal_actor(uow.conn, caller.subject), closedAt=closed["closed_at"],
                                     submitted=submitted, schoolUnits=total))
    # the row read under the lock, with what closing changed (no second read)
    return Campaign({**dict(row), **dict(closed)}, (submitted, total))
