"""A school unit's self-assessment: save answers as you go, submit, reopen.

Concurrent saves: last write per indicator wins. Each answer is its own row and a save locks the
assessment for its transaction, so two saves of different indicators both persist and a save
racing a submission either lands before it or is refused after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.assessment import access, domain, store
from services.assessment.framework import Framework, published
from shared.auth import Principal
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted
from shared.privacy import vault
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class Loaded:
    """An assessment's row (``store.ASSESSMENT_COLUMNS``) with its school unit and framework version."""

    row: Mapping[str, Any]
    school: domain.KnownSchool
    framework: Framework

    @property
    def id(self) -> UUID:
        return self.row["id"]

    def with_row(self, row: Mapping[str, Any]) -> Loaded:
        """The same assessment after a change (its school and framework stay as they were)."""
        return Loaded(row, self.school, self.framework)


@dataclass(frozen=True)
class Submitted:
    """A submission: the assessment as it was locked, its answer rows and what they came to per heading."""

    assessment: Loaded
    answer_rows: list[asyncpg.Record]
    headings: list[domain.HeadingResult]


async def load(conn: asyncpg.Connection, assessment_id: UUID, *, lock: bool = False) -> Loaded:
    row = await store.get_assessment(conn, assessment_id, lock=lock)
    if row is None:
        raise Problem(404, "Not found", f"assessment {assessment_id} does not exist")
    school = await access.known_school(conn, row["school_unit"])
    return Loaded(row, school, published()[row["framework_version"]])


async def load_readable(conn: asyncpg.Connection, caller: Principal, assessment_id: UUID) -> Loaded:
    a = await load(conn, assessment_id)
    access.ensure_reader(caller, a.school)
    return a


def ensure_open(a: Loaded, now: datetime) -> None:
    """Refuses changes to a locked assessment, a closed round, or after the deadline."""
    if a.row["status"] == "submitted":
        raise rejected(409, f"assessment {a.id} is submitted and locked; a district admin can reopen it", "status")
    if a.row["campaign_status"] != "open":
        raise rejected(409, f"the round {a.row['campaign_id']} is closed", "campaign.status")
    if domain.deadline_passed(a.row["effective_deadline"], now):
        raise rejected(409, f"the deadline {a.row['effective_deadline'].isoformat()} has passed", "deadline")


async def save_answers(uow: UnitOfWork, caller: Principal, assessment_id: UUID, inputs: list[domain.AnswerInput]) -> Loaded:
    """Saves the answers given (an answer with neither level nor notRelevant clears it) and leaves the
    others; every answer is checked first, so one bad answer saves nothing. The Rektor only."""
    a = await load(uow.conn, assessment_id, lock=True)
    await access.ensure_rektor(uow.conn, caller, a.school)
    ensure_open(a, datetime.now(UTC))
    try:
        checked = domain.check_answers(a.framework, a.school.school_types, inputs)
    except domain.Rejected as exc:
        raise rejected(exc.status, str(exc), exc.field) from exc
    row = await store.save_answers(uow.conn, a.id, checked, caller.subject)
    await store.audit(uow.conn, caller.subject, "answers.saved", "assessment", str(a.id), {
        "answers": {k: {"level": v.level, "notRelevant": v.not_relevant, "comment": v.comment, "evidence": list(v.evidence)} for k, v in checked.items()},
    })
    return a.with_row(row)


async def submit_assessment(uow: UnitOfWork, caller: Principal, assessment_id: UUID) -> Submitted:
    """Locks the assessment and publishes AssessmentSubmitted. The Rektor only, every required indicator
    answered, before the deadline, in an open round."""
    a = await load(uow.conn, assessment_id, lock=True)
    await access.ensure_rektor(uow.conn, caller, a.school)
    ensure_open(a, datetime.now(UTC))
    rows = await store.answer_rows(uow.conn, a.id)
    answers = store.to_answers(rows)
    missing = domain.missing_required(a.framework, a.school.school_types, answers)
    if missing:
        raise rejected(422, f"{len(missing)} required indicator(s) are not answered: {', '.join(missing)}", "answers")
    done = a.with_row(await store.mark_submitted(uow.conn, a.id, caller.subject))
    groups = domain.pulse_groups(a.school.school_types)
    tally = await store.pulse_tally(uow.conn, a.row["campaign_id"], a.school.id, released=True)  # the published figures only (decision 0016)
    # computed once: the event carries them, and so does the answer the Rektor gets back
    results = domain.heading_results(a.framework, a.school.school_types, answers)
    indicators, headings, pulse = domain.submission_results(a.framework, a.school.school_types, answers, tally, groups, results)
    await store.audit(uow.conn, caller.subject, "assessment.submitted", "assessment", str(a.id), {"submission": done.row["submissions"]})
    await uow.publish(AssessmentSubmitted(
        assessmentId=a.id, campaignId=a.row["campaign_id"], schoolUnitId=a.school.id, districtId=a.school.district, year=a.row["year"],
        frameworkVersion=a.framework.version, submittedAt=done.row["submitted_at"], submittedBy=await vault.seal(uow.conn, caller.subject),
        submission=done.row["submissions"], indicators=indicators, headings=headings, pulse=pulse,
    ))
    return Submitted(done, rows, results)


async def reopen_assessment(uow: UnitOfWork, caller: Principal, assessment_id: UUID, reason: str, deadline: date | None) -> Loaded:
    """Opens a submitted assessment for changes again, with a reason and optionally more time for this
    school unit; publishes AssessmentReopened. A district admin of the school's district only."""
    now = datetime.now(UTC)
    a = await load(uow.conn, assessment_id, lock=True)
    access.ensure_district_admin(caller, a.school)
    if a.row["status"] != "submitted":
        raise rejected(409, f"assessment {a.id} is not submitted; there is nothing to reopen", "status")
    if a.row["campaign_status"] != "open":
        raise rejected(409, f"the round {a.row['campaign_id']} is closed", "campaign.status")
    if deadline is not None and deadline < domain.city_today(now):
        raise rejected(422, f"the new deadline {deadline.isoformat()} has already passed", "deadline")
    a = a.with_row(await store.mark_reopened(uow.conn, a.id, deadline))
    await store.audit(uow.conn, caller.subject, "assessment.reopened", "assessment", str(a.id),
                      {"reason": reason, "deadline": deadline.isoformat() if deadline else None})
    await uow.publish(AssessmentReopened(assessmentId=a.id, campaignId=a.row["campaign_id"], schoolUnitId=a.school.id,
                                         reopenedBy=await vault.seal_actor(uow.conn, caller.subject), reopenedAt=now, deadline=a.row["effective_deadline"]))
    return a
