"""Answers of the assessment service as the models in schemas/ describe them (rows as the store reads them, or as a
use case returns them after a change), with people as ``PersonRef`` and titles in the reader's language.

A ``Show`` holds what an answer needs besides its rows: the reader's language and the people it names, looked
up once per answer (``shared.city.people.person_refs``: a protected identity is shown as neither id nor name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from services.assessment import vocabulary
from services.assessment.domain import HeadingResult
from services.assessment.framework import Framework
from shared.city.people import actor_ref, person_refs
from shared.http.models import PersonRef
from shared.i18n import Language


@dataclass(frozen=True)
class Show:
    lang: Language = "sv"
    refs: dict[UUID, PersonRef] = field(default_factory=dict)

    def actor(self, value: Any) -> PersonRef | None:
        """Whoever did it as ``PersonRef``: a person, an erased person, or a rule of the service (``skolit:carry-forward``)."""
        return actor_ref(self.refs, value, self.lang)

    def heading(self, code: str, framework: Framework | None = None) -> dict[str, str]:
        return vocabulary.heading_label(code, self.lang, framework)

    def indicator(self, indicator: str | None, framework: Framework | None = None) -> str | None:
        return vocabulary.indicator_title(indicator, self.lang, framework)


async def show(conn: asyncpg.Connection, lang: Language, viewer: str, people: Iterable[Any]) -> Show:
    """What to show the ``viewer`` of the ``people`` named in an answer, in ``lang``."""
    return Show(lang, await person_refs(conn, people, viewer=viewer))


def action_people(rows: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The people an action's answer names: who created it, who wrote its notes."""
    return [p for r in rows for p in (r["created_by"], *(n["writtenBy"] for n in r["notes"]))]


def campaign_json(row: Mapping[str, Any], shown: Show, progress: tuple[int, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "year": row["year"],
        "deadline": row["deadline"],
        "status": row["status"],
        "frameworkVersion": row["framework_version"],
        "openedBy": shown.actor(row["opened_by"]),
        "openedAt": row["opened_at"],
        "closedBy": shown.actor(row["closed_by"]),
        "closedAt": row["closed_at"],
        "schoolUnitIds": list(row["school_units"]),
    }
    if progress is not None:
        body["progress"] = {"submitted": progress[0], "schoolUnits": progress[1]}
    return body


def heading_json(r: HeadingResult, shown: Show, framework: Framework | None = None) -> dict[str, Any]:
    return {"heading": shown.heading(r.heading, framework), "level": r.level, "mean": r.mean, "answered": r.answered,
            "notRelevant": r.not_relevant, "indicators": r.indicators}


def answer_json(row: Mapping[str, Any], shown: Show, framework: Framework | None = None) -> dict[str, Any]:
    return {
        "indicatorId": row["indicator_id"],
        "indicatorTitle": shown.indicator(row["indicator_id"], framework),
        "level": row["level"],
        "notRelevant": row["not_relevant"],
        "comment": row["comment"],
        "evidence": list(row["evidence"]),
        "carriedFrom": row["carried_from"],
        "updatedBy": shown.actor(row["updated_by"]),
        "updatedAt": row["updated_at"],
    }


def assessment_summary(row: Mapping[str, Any], shown: Show) -> dict[str, Any]:
    return {
        "id": row["id"],
        "campaign": {"id": row["campaign_id"], "name": row["campaign_name"], "year": row["year"], "status": row["campaign_status"]},
        "schoolUnitId": row["school_unit"],
        "frameworkVersion": row["framework_version"],
        "status": row["status"],
        "deadline": row["effective_deadline"],
        "submissions": row["submissions"],
        "submittedAt": row["submitted_at"],
        "submittedBy": shown.actor(row["submitted_by"]),
        "carriedFrom": row["carried_from"],
        "updatedAt": row["updated_at"],
    }


def action_json(row: Mapping[str, Any], shown: Show) -> dict[str, Any]:
    return {
        "id": row["id"],
        "schoolUnitId": row["school_unit"],
        "assessmentId": row["assessment_id"],
        "heading": shown.heading(row["heading"]),
        "indicatorId": row["indicator_id"],
        "indicatorTitle": shown.indicator(row["indicator_id"]),
        "title": row["title"],
        "owner": row["owner"],
        "deadline": row["deadline"],
        "successCriterion": row["success_criterion"],
        "status": row["status"],
        "createdBy": shown.actor(row["created_by"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "notes": [{**n, "writtenBy": shown.actor(n["writtenBy"])} for n in row["notes"]],
    }


def audit_json(row: Mapping[str, Any], shown: Show) -> dict[str, Any]:
    return {"at": row["at"], "actor": shown.actor(row["actor"]), "action": row["action"], "detail": row["detail"]}


def total(rows: list[asyncpg.Record], offset: int) -> int | None:
    """The ``total`` a page read with ``count(*) OVER ()`` carries (unknown for a page past the end)."""
    if rows:
        return int(rows[0]["total"])
    return 0 if offset == 0 else None
