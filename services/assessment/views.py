"""JSON shapes of the assessment service's HTTP answers (rows as the store reads them, or as a use case
returns them after a change)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.assessment.domain import HeadingResult


def campaign_json(row: Mapping[str, Any], progress: tuple[int, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "name": row["name"],
        "year": row["year"],
        "deadline": row["deadline"].isoformat(),
        "status": row["status"],
        "frameworkVersion": row["framework_version"],
        "openedBy": row["opened_by"],
        "openedAt": row["opened_at"].isoformat(),
        "closedBy": row["closed_by"],
        "closedAt": row["closed_at"].isoformat() if row["closed_at"] else None,
        "schoolUnitIds": [str(s) for s in row["school_units"]],
    }
    if progress is not None:
        body["progress"] = {"submitted": progress[0], "schoolUnits": progress[1]}
    return body


def heading_json(r: HeadingResult) -> dict[str, Any]:
    return {"heading": r.heading, "level": r.level, "mean": r.mean, "answered": r.answered, "notRelevant": r.not_relevant, "indicators": r.indicators}


def answer_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "indicatorId": row["indicator_id"],
        "level": row["level"],
        "notRelevant": row["not_relevant"],
        "comment": row["comment"],
        "evidence": list(row["evidence"]),
        "carriedFrom": str(row["carried_from"]) if row["carried_from"] else None,
        "updatedBy": row["updated_by"],
        "updatedAt": row["updated_at"].isoformat(),
    }


def assessment_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "campaign": {"id": str(row["campaign_id"]), "name": row["campaign_name"], "year": row["year"], "status": row["campaign_status"]},
        "schoolUnitId": str(row["school_unit"]),
        "frameworkVersion": row["framework_version"],
        "status": row["status"],
        "deadline": row["effective_deadline"].isoformat(),
        "submissions": row["submissions"],
        "submittedAt": row["submitted_at"].isoformat() if row["submitted_at"] else None,
        "submittedBy": row["submitted_by"],
        "carriedFrom": str(row["carried_from"]) if row["carried_from"] else None,
        "updatedAt": row["updated_at"].isoformat(),
    }


def action_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "schoolUnitId": str(row["school_unit"]),
        "assessmentId": str(row["assessment_id"]) if row["assessment_id"] else None,
        "heading": row["heading"],
        "indicatorId": row["indicator_id"],
        "title": row["title"],
        "owner": row["owner"],
        "deadline": row["deadline"].isoformat() if row["deadline"] else None,
        "successCriterion": row["success_criterion"],
        "status": row["status"],
        "createdBy": row["created_by"],
        "createdAt": row["created_at"].isoformat(),
        "updatedAt": row["updated_at"].isoformat(),
        "notes": row["notes"],
    }
