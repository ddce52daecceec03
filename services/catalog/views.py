"""JSON shapes of the catalog service's HTTP answers."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.catalog import store
from services.catalog import vocabulary as vocab
from services.catalog.domain import StatusDefinition, approval_blockers, privacy_rating, usable_grades
from shared.i18n import Language


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def labelled(codes: list[str], labels: vocab.Labels, lang: Language) -> list[dict[str, str]]:
    return [{"code": c, "label": labels[c][lang] if c in labels else c} for c in codes]


def status_json(s: StatusDefinition, lang: Language) -> dict[str, Any]:
    return {"code": s.code, "label": s.label_sv if lang == "sv" else s.label_en, "allowsUse": s.allows_use,
            "grades": list(s.grades), "retires": s.retires}


def data_protection_json(row: asyncpg.Record, lang: Language, today: date) -> dict[str, Any]:
    dp = store.data_protection(row)
    return {
        "dataCategories": labelled(dp.dataCategories, vocab.DATA_CATEGORIES, lang),
        "dpaStatus": row["dpa_status"], "dpaStatusLabel": vocab.DPA_STATUSES[row["dpa_status"]][lang],
        "dpaSigned": _iso(dp.dpaSigned), "dpaExpires": _iso(dp.dpaExpires),
        "subProcessors": [s.model_dump() for s in dp.subProcessors], "processingCountries": dp.processingCountries,
        "transferOutsideEea": dp.transferOutsideEea, "transferSafeguard": dp.transferSafeguard,
        "dpiaRef": dp.dpiaRef, "minAge": dp.minAge,
        "privacy": privacy_rating(dp, today).value,
        "approvalBlockers": approval_blockers(dp, today),
    }


def app_json(row: asyncpg.Record, status: StatusDefinition, lang: Language, today: date) -> dict[str, Any]:
    return {
        "id": str(row["id"]), "name": row["name"], "supplier": row["supplier"], "description": row["description"], "url": row["url"],
        "kind": row["kind"], "costModel": row["cost_model"], "freeUse": row["free_use"],
        "subjects": labelled(list(row["subjects"]), vocab.SUBJECTS, lang), "grades": list(row["grades"]),
        "schoolTypes": list(row["school_types"]), "platforms": list(row["platforms"]), "languages": list(row["languages"]),
        "accessibility": row["accessibility"], "headings": labelled(list(row["headings"]), vocab.STRATEGY_HEADINGS, lang),
        "keywords": list(row["keywords"]),
        "status": status_json(status, lang), "usableGrades": usable_grades(list(row["grades"]), status),
        "statusChangedAt": _iso(row["status_changed_at"]),
        "dataProtection": data_protection_json(row, lang, today),
        "version": row["version"], "createdBy": row["created_by"], "createdAt": _iso(row["created_at"]),
        "updatedBy": row["updated_by"], "updatedAt": _iso(row["updated_at"]),
    }


def hit_json(hit: dict[str, Any], statuses: dict[str, StatusDefinition], lang: Language) -> dict[str, Any]:
    """One search result: enough for a list, with a link to the whole record."""
    status = statuses[hit["status"]]
    return {
        "id": hit["id"], "name": hit["name"], "supplier": hit["supplier"], "description": hit["description"], "url": hit["url"],
        "kind": hit["kind"], "costModel": hit["cost_model"], "freeUse": hit["free_use"],
        "subjects": hit["subjects"], "grades": hit["grades"], "schoolTypes": hit["school_types"], "platforms": hit["platforms"],
        "languages": hit["languages"], "headings": hit["headings"], "status": status_json(status, lang),
        "dpaStatus": hit["dpa_status"], "dpaExpires": hit["dpa_expires"], "score": round(float(hit["rank"]), 4),
        "href": f"/apps/{hit['id']}",
    }


FACET_LABELS: dict[str, vocab.Labels] = {
    "subject": vocab.SUBJECTS, "grade": vocab.GRADE_LABELS, "heading": vocab.STRATEGY_HEADINGS, "platform": vocab.PLATFORMS,
    "dpaStatus": vocab.DPA_STATUSES, "kind": vocab.KINDS,
}


FACETS = ("subject", "grade", "schoolType", "heading", "platform", "status", "dpaStatus", "kind")


def facets_json(facets: dict[str, dict[str, int]] | None, statuses: dict[str, StatusDefinition], lang: Language) -> dict[str, list[dict[str, Any]]]:
    """Each facet's values with counts, most frequent first, labelled in the caller's language (no matches: empty lists)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in FACETS:
        counts = (facets or {}).get(name, {})
        labels = FACET_LABELS.get(name, {})
        if name == "status":
            labels = {c: {"sv": s.label_sv, "en": s.label_en} for c, s in statuses.items()}
        out[name] = [{"value": v, "label": labels[v][lang] if v in labels else v, "count": n}
                     for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return out


def licence_json(row: asyncpg.Record, today: date) -> dict[str, Any]:
    active = row["ended_at"] is None and row["starts"] <= today <= row["expires"]
    return {
        "id": str(row["id"]), "appId": str(row["app_id"]), "appName": row["app_name"], "schoolUnitId": str(row["school_unit"]),
        "type": row["licence_type"], "seats": row["seats"], "groupName": row["group_name"],
        "starts": _iso(row["starts"]), "expires": _iso(row["expires"]), "note": row["note"],
        "active": active, "daysLeft": (row["expires"] - today).days if active else None,
        "createdBy": row["created_by"], "createdAt": _iso(row["created_at"]), "endedAt": _iso(row["ended_at"]),
    }


def request_json(row: asyncpg.Record, steps: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row["id"]), "schoolUnitId": str(row["school_unit"]), "schoolUnitName": row["school_name"],
        "districtId": str(row["district"]) if row["district"] else None,
        "requester": row["requester"], "requesterDuty": row["requester_duty"],
        "appId": str(row["app_id"]) if row["app_id"] else None, "appName": row["app_name"], "proposed": row["proposed"],
        "purpose": row["purpose"], "grades": list(row["grades"]), "pupils": row["pupils"], "state": row["state"],
        "conditions": row["conditions"], "reason": row["reason"], "decidedBy": row["decided_by"], "decidedAt": _iso(row["decided_at"]),
        "createdAt": _iso(row["created_at"]), "updatedAt": _iso(row["updated_at"]), "waitingForReviewSince": _iso(row["waiting_since"]),
    }
    if steps is not None:
        body["history"] = [{"at": _iso(s["at"]), "actor": s["actor"], "step": s["step"], "note": s["note"]} for s in steps]
    return body
