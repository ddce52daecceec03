"""The school unit's action plan: actions, their follow-up notes, the plan."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from services.assessment.schemas.common import ACTION, ASSESSMENT, REKTOR, SCHOOL, ActionStatus, Actor, CodeLabel, SchoolUnitRef, examples
from shared.http.models import Page

ACTION_EXAMPLE = {
    "id": ACTION, "schoolUnitId": SCHOOL["id"], "assessmentId": ASSESSMENT,
    "heading": {"code": "digital-kompetens", "label": "Förbättrad digital kompetens hos alla"},
    "indicatorId": "KOM-01", "indicatorTitle": "Kontinuerlig kompetensutveckling för lärare",
    "title": "Inför kollegialt lärande om digitala verktyg varannan vecka", "owner": "Förstelärare i digitalisering",
    "deadline": "2027-06-15", "successCriterion": "Alla lärare har deltagit i minst fyra träffar", "status": "in_progress",
    "createdBy": REKTOR, "createdAt": "2027-03-14T13:05:22.104000Z", "updatedAt": "2027-05-02T08:12:40.331000Z",
    "notes": [{"note": "Fyra träffar genomförda, två återstår.", "status": "in_progress", "writtenBy": REKTOR,
               "writtenAt": "2027-05-02T08:12:40.331000Z", "assessmentId": None}],
}


class ActionNote(BaseModel):
    note: str
    status: ActionStatus = Field(description="the action's status when the note was written")
    writtenBy: Actor
    writtenAt: datetime
    assessmentId: UUID | None = Field(description="the assessment in which the note was written (a follow-up the year after)")


class Action(BaseModel):
    """One action of a school unit's plan: what, who is responsible, by when, how success is seen."""

    model_config = examples(ACTION_EXAMPLE)

    id: UUID
    schoolUnitId: UUID
    assessmentId: UUID | None = Field(description="the assessment the action answers to")
    heading: CodeLabel
    indicatorId: str | None
    indicatorTitle: str | None = Field(description="the indicator's title in the reader's language")
    title: str
    owner: str = Field(description="who is responsible: a role or a name at the school, as the Rektor wrote it")
    deadline: date | None
    successCriterion: str
    status: ActionStatus
    createdBy: Actor
    createdAt: datetime
    updatedAt: datetime
    notes: list[ActionNote] = Field(description="follow-up notes, oldest first")


class ActionPlan(Page[Action]):
    """A school unit's actions: open ones first, then by deadline."""

    model_config = examples({"schoolUnit": SCHOOL, "items": [ACTION_EXAMPLE], "limit": 50, "next": None, "total": 1})

    schoolUnit: SchoolUnitRef
