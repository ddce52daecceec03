"""The anonymous pulse: the questionnaire, an answer received, and the results against the principal's view."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.assessment.schemas.common import ASSESSMENT, CodeLabel, Group, ScaleLevel, examples
from shared.i18n import Language


class PulseQuestion(BaseModel):
    id: str = Field(description="the heading's id: the key of an answer")
    title: str
    description: str


class PulseQuestionnaire(BaseModel):
    """What a respondent is asked, in the reader's language (no login: the school's code is the key)."""

    model_config = examples({
        "open": True, "deadline": "2027-03-31", "language": "sv", "groups": ["staff", "pupils"],
        "scale": [{"level": n, "label": label} for n, label in enumerate(("Ej påbörjad", "Påbörjad", "Delvis etablerad", "Etablerad", "Ledande"), start=1)],
        "headings": [{"id": "infrastruktur", "title": "Infrastruktur för ökad tillgänglighet",
                      "description": "Nät, utrustning och tillgång till digitala verktyg för personal, barn och elever."}],
        "privacy": "Svaren är anonyma. Inga enskilda svar sparas eller visas; grupper med färre än 5 svarande redovisas inte.",
    })

    open: bool = Field(description="false once the round is closed, the school has submitted, or the deadline has passed")
    deadline: date
    language: Language
    groups: list[Group]
    scale: list[ScaleLevel]
    headings: list[PulseQuestion]
    privacy: str


class PulseRecorded(BaseModel):
    model_config = examples({"recorded": True})

    recorded: Literal[True]


class PulseHeadingResult(BaseModel):
    heading: CodeLabel
    respondents: int | None = Field(description="null when suppressed")
    mean: float | None = Field(description="null when suppressed (fewer than minimumGroupSize answered)")
    suppressed: bool
    principalMean: float | None = Field(description="the principal's mean for the heading")
    difference: float | None = Field(description="the group's mean minus the principal's")
    differs: bool = Field(description="the group sees the heading at least one level differently from the principal")


class PulseGroupResult(BaseModel):
    group: Group
    respondents: int | None = Field(description="null when suppressed")
    suppressed: bool
    headings: list[PulseHeadingResult]


class PulseResults(BaseModel):
    """Per group and heading: respondents and mean (groups under the minimum size suppressed), against the principal's view."""

    model_config = examples({
        "assessmentId": ASSESSMENT, "language": "sv", "minimumGroupSize": 5,
        "groups": [{"group": "staff", "respondents": 7, "suppressed": False, "headings": [
            {"heading": {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}, "respondents": 7, "mean": 2.29,
             "suppressed": False, "principalMean": 3.4, "difference": -1.11, "differs": True},
            {"heading": {"code": "uppfoljning", "label": "Uppföljning"}, "respondents": None, "mean": None,
             "suppressed": True, "principalMean": 3.0, "difference": None, "differs": False},
        ]}],
    })

    assessmentId: UUID
    language: Language
    minimumGroupSize: int
    groups: list[PulseGroupResult]
