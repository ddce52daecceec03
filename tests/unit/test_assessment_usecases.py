"""The assessment use cases' rules without a database: submitting and reopening an assessment.

The store functions a use case calls are replaced by an in-memory fake (one assessment, its answers and
the duty data), and the unit of work records what it publishes, so each test says which events a use case
publishes and which refusals it makes (and that a refusal publishes nothing and changes nothing).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.assessment import domain, store
from services.assessment.framework import latest
from services.assessment.usecases import assessments as usecases
from shared.auth import Principal, Role
from shared.events.assessment import AssessmentReopened, AssessmentSubmitted
from shared.privacy import vault
from shared.problems import Problem
from tests.support.uow import FakeUnitOfWork

FRAMEWORK = latest()
GR = ("FKLASS", "GR", "FTH")
REQUIRED = [i.id for i in FRAMEWORK.indicators_for(GR) if i.required]



@dataclass
class FakeStore:
    """One school unit with its Rektor, and one assessment of it in an open round."""

    school: domain.KnownSchool
    rektor: str
    row: dict[str, Any]
    answers: dict[str, domain.Answer] = field(default_factory=dict)
    audit: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def get_assessment(conn: Any, assessment_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
            return dict(self.row) if assessment_id == self.row["id"] else None

        async def school(conn: Any, school_unit: uuid.UUID) -> domain.KnownSchool | None:
            return self.school if school_unit == self.school.id else None

        async def is_rektor(conn: Any, person: str, school_unit: uuid.UUID) -> bool:
            return person == self.rektor and school_unit == self.school.id

        async def answer_rows(conn: Any, assessment_id: uuid.UUID) -> list[dict[str, Any]]:
            return [{"indicator_id": k, "level": a.level, "not_relevant": a.not_relevant, "comment": a.comment, "evidence": list(a.evidence),
                     "carried_from": None, "updated_by": self.rektor, "updated_at": datetime.now(UTC)} for k, a in sorted(self.answers.items())]

        async def mark_submitted(conn: Any, assessment_id: uuid.UUID, submitted_by: str) -> dict[str, Any]:
            self.writes.append("submitted")
            now = datetime.now(UTC)
            self.row.update(status="submitted", submissions=self.row["submissions"] + 1, submitted_at=now, submitted_by=submitted_by, updated_at=now)
            return dict(self.row)

        async def mark_reopened(conn: Any, assessment_id: uuid.UUID, deadline_override: date | None) -> dict[str, Any]:
            self.writes.append("reopened")
            self.row.update(status="draft", deadline_override=deadline_override or self.row["deadline_override"], updated_at=datetime.now(UTC))
            self.row["effective_deadline"] = self.row["deadline_override"] or self.row["deadline"]
            return dict(self.row)

        async def pulse_tally(conn: Any, campaign_id: uuid.UUID, school_unit: uuid.UUID, *, released: bool = False) -> domain.PulseTally:
            return domain.PulseTally()

        async def audit(conn: Any, actor: str, action: str, kind: str, key: str, data: Mapping[str, Any]) -> None:
            self.audit.append((actor, action, data))

        async def seal(conn: Any, person: Any) -> str:
            return vault.Sealed(uuid.uuid4(), os.urandom(40)).text()

        async def seal_actor(conn: Any, actor: str) -> str:
            return await seal(conn, actor)

        for name, fake in [("get_assessment", get_assessment), ("school", school), ("is_rektor", is_rektor), ("answer_rows", answer_rows),
                           ("mark_submitted", mark_submitted), ("mark_reopened", mark_reopened), ("pulse_tally", pulse_tally), ("audit", audit)]:
            monkeypatch.setattr(store, name, fake)
        monkeypatch.setattr(vault, "seal", seal)
        monkeypatch.setattr(vault, "seal_actor", seal_actor)


@pytest.fixture
def city(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    district = uuid.uuid4()
    school = domain.KnownSchool(uuid.uuid4(), district, GR)
    deadline = date.today() + timedelta(days=30)
    now = datetime.now(UTC)
    row = {"id": uuid.uuid4(), "campaign_id": uuid.uuid4(), "school_unit": school.id, "framework_version": FRAMEWORK.version, "status": "draft",
           "submissions": 0, "deadline_override": None, "carried_from": None, "submitted_at": None, "submitted_by": None, "created_at": now,
           "updated_at": now, "campaign_name": "Självskattning", "year": 2026, "deadline": deadline, "campaign_status": "open",
           "pulse_code": "abcdefghjk", "effective_deadline": deadline}
    fake = FakeStore(school=school, rektor=str(uuid.uuid4()), row=row)
    fake.install(monkeypatch)
    return fake


def rektor(city: FakeStore, subject: str | None = None) -> Principal:
    return Principal(subject=subject or city.rektor, roles=frozenset({Role.PRINCIPAL}), school_units=frozenset({str(city.school.id)}))


def district_admin(district: uuid.UUID | None) -> Principal:
    return Principal(subject=str(uuid.uuid4()), roles=frozenset({Role.DISTRICT_ADMIN}), districts=frozenset({str(district)}))


def answer_all_required(city: FakeStore) -> None:
    city.answers = {i: domain.Answer(3, False, None, (), None) for i in REQUIRED}


# --- submit --------------------------------------------------------------------------------------

async def test_submit_publishes_assessment_submitted_once_with_the_levels(city: FakeStore) -> None:
    answer_all_required(city)
    uow = FakeUnitOfWork()
    done = await usecases.submit_assessment(uow, rektor(city), city.row["id"])  # type: ignore[arg-type]

    assert city.writes == ["submitted"]
    assert [type(e) for e in uow.events] == [AssessmentSubmitted]
    event = uow.events[0]
    assert isinstance(event, AssessmentSubmitted)
    assert (event.assessmentId, event.schoolUnitId, event.districtId, event.submission) == (city.row["id"], city.school.id, city.school.district, 1)
    assert vault.is_sealed(event.submittedBy)
    # the answer and the event come from one computation of the heading results
    assert [(h.heading, h.level, h.mean) for h in event.headings] == [(r.heading, r.level, r.mean) for r in done.headings]
    assert done.headings == domain.heading_results(FRAMEWORK, GR, city.answers)
    assert done.assessment.row["status"] == "submitted" and done.assessment.row["submissions"] == 1
    assert [r["indicator_id"] for r in done.answer_rows] == sorted(REQUIRED)
    assert [a[1] for a in city.audit] == ["assessment.submitted"]


@pytest.mark.parametrize(
    ("arrange", "status", "words"),
    [
        (lambda c: None, 422, "required indicator(s) are not answered"),
        (lambda c: (answer_all_required(c), c.row.update(status="submitted")), 409, "submitted and locked"),
        (lambda c: (answer_all_required(c), c.row.update(campaign_status="closed")), 409, "is closed"),
        (lambda c: (answer_all_required(c), c.row.update(effective_deadline=date.today() - timedelta(days=2))), 409, "has passed"),
    ],
    ids=["required-missing", "already-submitted", "round-closed", "deadline-passed"],
)
async def test_submit_refusals_publish_nothing(city: FakeStore, arrange: Any, status: int, words: str) -> None:
    arrange(city)
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await usecases.submit_assessment(uow, rektor(city), city.row["id"])  # type: ignore[arg-type]
    assert refused.value.status == status and words in str(refused.value.detail)
    assert uow.events == [] and city.writes == [] and city.audit == []


async def test_only_the_rektor_by_the_duty_data_may_submit(city: FakeStore) -> None:
    answer_all_required(city)
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await usecases.submit_assessment(uow, rektor(city, subject=str(uuid.uuid4())), city.row["id"])  # type: ignore[arg-type]
    assert refused.value.status == 403 and "does not list you as Rektor" in str(refused.value.detail)
    teacher = Principal(subject=city.rektor, roles=frozenset({Role.TEACHER}), school_units=frozenset({str(city.school.id)}))
    with pytest.raises(Problem) as refused:
        await usecases.submit_assessment(uow, teacher, city.row["id"])  # type: ignore[arg-type]
    assert refused.value.status == 403
    assert uow.events == [] and city.writes == []


async def test_submitting_an_unknown_assessment_is_not_found(city: FakeStore) -> None:
    with pytest.raises(Problem) as refused:
        await usecases.submit_assessment(FakeUnitOfWork(), rektor(city), uuid.uuid4())  # type: ignore[arg-type]
    assert refused.value.status == 404


# --- reopen --------------------------------------------------------------------------------------

async def test_reopen_publishes_assessment_reopened_with_the_new_deadline(city: FakeStore) -> None:
    city.row.update(status="submitted", submissions=1)
    uow = FakeUnitOfWork()
    later = date.today() + timedelta(days=60)
    a = await usecases.reopen_assessment(uow, district_admin(city.school.district), city.row["id"], "komplettera", later)  # type: ignore[arg-type]

    assert city.writes == ["reopened"]
    assert [type(e) for e in uow.events] == [AssessmentReopened]
    event = uow.events[0]
    assert isinstance(event, AssessmentReopened)
    assert (event.assessmentId, event.schoolUnitId, event.deadline) == (city.row["id"], city.school.id, later)
    assert vault.is_sealed(event.reopenedBy)
    assert a.row["status"] == "draft" and a.row["effective_deadline"] == later
    assert city.audit[0][1:] == ("assessment.reopened", {"reason": "komplettera", "deadline": later.isoformat()})


async def test_reopen_without_a_new_deadline_keeps_the_rounds(city: FakeStore) -> None:
    city.row.update(status="submitted", submissions=1)
    uow = FakeUnitOfWork()
    await usecases.reopen_assessment(uow, district_admin(city.school.district), city.row["id"], "komplettera", None)  # type: ignore[arg-type]
    event = uow.events[0]
    assert isinstance(event, AssessmentReopened) and event.deadline == city.row["deadline"]


@pytest.mark.parametrize(
    ("arrange", "deadline", "status", "words"),
    [
        (lambda c: None, None, 409, "nothing to reopen"),
        (lambda c: c.row.update(status="submitted", campaign_status="closed"), None, 409, "is closed"),
        (lambda c: c.row.update(status="submitted"), date.today() - timedelta(days=3), 422, "already passed"),
    ],
    ids=["not-submitted", "round-closed", "deadline-in-the-past"],
)
async def test_reopen_refusals_publish_nothing(city: FakeStore, arrange: Any, deadline: date | None, status: int, words: str) -> None:
    arrange(city)
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await usecases.reopen_assessment(uow, district_admin(city.school.district), city.row["id"], "komplettera", deadline)  # type: ignore[arg-type]
    assert refused.value.status == status and words in str(refused.value.detail)
    assert uow.events == [] and city.writes == [] and city.audit == []


@pytest.mark.parametrize("who", ["other-district", "the-rektor"])
async def test_only_a_district_admin_of_the_schools_district_may_reopen(city: FakeStore, who: str) -> None:
    city.row.update(status="submitted", submissions=1)
    caller = district_admin(uuid.uuid4()) if who == "other-district" else rektor(city)
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as refused:
        await usecases.reopen_assessment(uow, caller, city.row["id"], "komplettera", None)  # type: ignore[arg-type]
    assert refused.value.status == 403
    assert uow.events == [] and city.writes == []
