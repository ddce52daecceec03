"""The workflow events that become messages to whoever must act next: app requests (to their reviewers or back to
the requester), a reopened self-assessment (to the school's Rektor) and an indicator below its target (to the
district's administrators). Once per event: the event's id is the message's dedupe key.

**Who reviews a school's app requests** (catalog's rule: IT admins of the school's district and the data-protection
function; city admins may too). Notification knows people only from the city's data (docs/decisions/0014: roles
come from IdP groups a service sees only in a caller's token), so it addresses the reviewers by their duties, as the
city's data places them:

- the district's IT admins: whoever holds ``IT-samordnare`` *at the district itself* (the organisation that is the
  school unit's parent) — where the city's data places an IT admin in a district. An IT-samordnare at a school
  unit hears about that school's licences and agreements, not its district's requests;
- the data-protection function: whoever holds ``Dataskydd`` anywhere, for every district (the role is city-wide).

City admins are not told: they review by exception, from catalog's lists. The requester is never told about their
own request as a reviewer. A request for which no reviewer is found is logged (the catalog still lists it).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from services.notification import messages
from services.notification.store import messages as message_store
from services.notification.store import reviewers as reviewer_store
from services.notification.usecases.events import to_district_admins, to_duty_holders
from shared.city.replica import district_of
from shared.events.assessment import AssessmentReopened
from shared.events.catalog import AppRequestProgressed, AppRequestStalled, AppRequestSubmitted, RequestStep
from shared.events.city import DutyRole
from shared.events.envelope import Rejected
from shared.events.reporting import IndicatorBelowTarget
from shared.privacy import vault
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Request = AppRequestSubmitted | AppRequestProgressed | AppRequestStalled

#: a step of a request that moved on without a decision → (who hears, the message type)
STEP_MESSAGES: dict[RequestStep, tuple[str, str]] = {
    RequestStep.ACKNOWLEDGED: ("requester", "request-acknowledged"),
    RequestStep.INFO_REQUESTED: ("requester", "request-question"),
    RequestStep.INFO_PROVIDED: ("reviewers", "request-answered"),
    RequestStep.WITHDRAWN: ("reviewers", "request-withdrawn"),
}


async def reviewers_of(uow: UnitOfWork, school: UUID, district: UUID | None) -> list[UUID]:
    """The district's IT admins and the data-protection function, by their duties (the rule above)."""
    district = district or await district_of(uow.conn, school)
    it = await reviewer_store.holders_at(uow.conn, district, DutyRole.IT_SAMORDNARE.value) if district is not None else []
    dp = await reviewer_store.holders_anywhere(uow.conn, DutyRole.DATASKYDD.value)
    return sorted(set(it) | set(dp))


async def _requester(uow: UnitOfWork, e: Request) -> UUID | None:
    """The requester's id, or None once they are erased (docs/decisions/0009)."""
    try:
        return await vault.open_ref(uow.conn, e.requester)
    except vault.KeyDestroyed:
        return None
    except vault.NotSealed as exc:
        raise Rejected(f"requester of request {e.requestId}: {exc}") from None


async def _facts(uow: UnitOfWork, e: Request) -> dict[str, Any]:
    return {"appName": e.appName, "school": await message_store.school_name(uow.conn, e.schoolUnitId) or "", "link": f"/requests/{e.requestId}"}


async def _to_reviewers(uow: UnitOfWork, e: Request, event_id: str, message_type: str, data: dict[str, Any]) -> None:
    requester = await _requester(uow, e)
    recipients = [p for p in await reviewers_of(uow, e.schoolUnitId, e.districtId) if p != requester]
    if not recipients:
        log.warning("no reviewer found for request %s of school unit %s: no IT-samordnare at its district and no Dataskydd duty",
                    e.requestId, e.schoolUnitId)
        return
    await messages.make(uow.conn, dedupe_key=event_id, message_type=message_type, school_unit=e.schoolUnitId, recipients=recipients,
                        data={**await _facts(uow, e), **data})


async def _to_requester(uow: UnitOfWork, e: Request, event_id: str, message_type: str, data: dict[str, Any]) -> None:
    requester = await _requester(uow, e)
    if requester is None:
        return  # erased: there is no one to tell
    await messages.make(uow.conn, dedupe_key=event_id, message_type=message_type, school_unit=e.schoolUnitId, recipients=[requester],
                        data={**await _facts(uow, e), **data})


async def apply_app_request_submitted(uow: UnitOfWork, e: AppRequestSubmitted, event_id: str) -> None:
    """The reviewers of the school's district hear of a new request (a new app needs a data-protection review too)."""
    await _to_reviewers(uow, e, event_id, "request-submitted", {
        "newAppSv": " Appen finns inte i programbanken än: den behöver en dataskyddsgranskning innan den kan godkännas." if e.newApp else "",
        "newAppEn": " The app is not in the programbank yet: it needs a data-protection review before it can be approved." if e.newApp else "",
    })


async def apply_app_request_progressed(uow: UnitOfWork, e: AppRequestProgressed, event_id: str) -> None:
    """A question (with its text: the requester must answer it) or an acknowledgement goes to the requester; their answer
    or their withdrawal to the reviewers, without the requester's own words: those stay in the catalog's request, where
    erasing the requester reaches them (docs/decisions/0009), not copied into messages to several people."""
    who, message_type = STEP_MESSAGES[e.step]
    if who == "requester":
        await _to_requester(uow, e, event_id, message_type, {"note": e.note or ""})
    else:
        await _to_reviewers(uow, e, event_id, message_type, {})


async def apply_app_request_stalled(uow: UnitOfWork, e: AppRequestStalled, event_id: str) -> None:
    """A reminder to the reviewers (catalog publishes one per request and review period: the schedule is catalog's)."""
    await _to_reviewers(uow, e, event_id, "request-stalled", {
        "daysWaiting": e.daysWaiting, "waitingSince": e.waitingSince.date().isoformat(),
    })


async def apply_assessment_reopened_to_school(uow: UnitOfWork, e: AssessmentReopened, event_id: str) -> None:
    """The school's Rektor hears that the self-assessment may be changed again, and until when."""
    await to_duty_holders(uow, event_id, [e.schoolUnitId], DutyRole.REKTOR, "assessment-reopened-school",
                          {"deadline": e.deadline.isoformat(), "link": f"/assessments/{e.assessmentId}"})


def _number(value: float, language: str) -> str:
    text = f"{value:.4g}"
    return text.replace(".", ",") if language == "sv" else text


async def apply_indicator_below_target(uow: UnitOfWork, e: IndicatorBelowTarget, event_id: str) -> None:
    """The district's administrators hear that a school's figure went below its indicator's target."""
    higher = e.direction == "higher"
    await to_district_admins(uow, event_id, e.schoolUnitId, e.districtId, "indicator-below-target", {
        "indicator": e.indicator, "year": e.year,
        "valueSv": _number(e.value, "sv"), "targetSv": _number(e.target, "sv"),
        "valueEn": _number(e.value, "en"), "targetEn": _number(e.target, "en"),
        "directionSv": "högre är bättre" if higher else "lägre är bättre", "directionEn": "higher is better" if higher else "lower is better",
    })
