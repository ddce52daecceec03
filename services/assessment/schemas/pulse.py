"""The anonymous pulse: invitations issued, the questionnaire, an answer received, and the results against the principal's view."""

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


class PulseInvitations(BaseModel):
    """Single-use invitation codes, shown this once: only a hash of each is stored, so they cannot be shown again."""

    model_config = examples({
        "assessmentId": ASSESSMENT, "group": "staff", "codes": ["k7mq3xr9twbh4p", "f2nd8vjc6ysa3e"], "path": "/pulse/{code}",
        "issued": 32, "answered": 11,
    })

    assessmentId: UUID
    group: Group
    codes: list[str] = Field(description="the new codes: each answers the pulse once at /pulse/{code}, without login")
    path: str = Field(description="where a code is used, e.g. printed on the slip handed out")
    issued: int = Field(description="invitations issued for the group in this round so far, these included")
    answered: int = Field(description="of them, used")


class PulseQuestionnaire(BaseModel):
    """What a respondent is asked, in the reader's language (no login: the invitation code is the key)."""

    model_config = examples({
        "open": True, "used": False, "group": "staff", "deadline": "2027-03-31", "language": "sv", "groups": ["staff"],
        "scale": [{"level": n, "label": label} for n, label in enumerate(("Ej påbörjad", "Påbörjad", "Delvis etablerad", "Etablerad", "Ledande"), start=1)],
        "headings": [{"id": "infrastruktur", "title": "Infrastruktur för ökad tillgänglighet",
                      "description": "Nät, utrustning och tillgång till digitala verktyg för personal, barn och elever."}],
        "privacy": "Svaren är anonyma. Inga enskilda svar sparas eller visas; grupper med färre än 5 svarande redovisas inte.",
    })

    open: bool = Field(description="false once the invitation is used, the round is closed, the school has submitted, or the deadline has passed")
    used: bool = Field(description="the invitation has answered already: each invitation answers once")
    group: Group = Field(description="the group this invitation answers for")
    deadline: date
    language: Language
    groups: list[Group] = Field(description="the invitation's group (a list for older clients)")
    scale: list[ScaleLevel]
    headings: list[PulseQuestion]
    privacy: str


class PulseRecorded(BaseModel):
    model_config = examples({"recorded": True})

    recorded: Literal[True]


class PulseHeadingResult(BaseModel):
    heading: CodeLabel
    respondents: int | None = Field(description="answers to the heading as of its last release; null when suppressed")
    mean: float | None = Field(description="null when suppressed (fewer than minimumGroupSize answered)")
    suppressed: bool
    principalMean: float | None = Field(description="the principal's mean for the heading")
    difference: float | None = Field(description="the group's mean minus the principal's")
    differs: bool = Field(description="the group sees the heading at least one level differently from the principal")


class PulseGroupResult(BaseModel):
    group: Group
    respondents: int | None = Field(description="respondents as of the last release; null when suppressed")
    suppressed: bool
    invited: int = Field(description="invitations issued for the group")
    answered: int = Field(description="invitations used: answers received, released or not yet")
    awaitingRelease: int = Field(description="answers received since the last release, shown once they make a step of releaseStep")
    headings: list[PulseHeadingResult]


class PulseResults(BaseModel):
    """Per group and heading: respondents and mean as of the last release (groups under the minimum size suppressed),
    against the principal's view. The figures change only in steps of at least releaseStep new answers (decision 0016)."""

    model_config = examples({
        "assessmentId": ASSESSMENT, "language": "sv", "minimumGroupSize": 5, "releaseStep": 5,
        "groups": [{"group": "staff", "respondents": 7, "suppressed": False, "invited": 32, "answered": 9, "awaitingRelease": 2, "headings": [
            {"heading": {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}, "respondents": 7, "mean": 2.29,
             "suppressed": False, "principalMean": 3.4, "difference": -1.11, "differs": True},
            {"heading": {"code": "uppfoljning", "label": "Uppföljning"}, "respondents": None, "mean": None,
             "suppressed": True, "principalMean": 3.0, "difference": None, "differs": False},
        ]}],
    })

    assessmentId: UUID
    language: Language
    minimumGroupSize: int
    releaseStep: int = Field(description="a figure is released again only once at least this many new answers arrived since its last release")
    groups: list[PulseGroupResult]
