"""JSON shapes of the catalog service's HTTP answers (documented by schemas.py; tests/unit/test_catalog_schemas.py
checks one against the other). People appear as ``PersonRef`` (``people`` looks them up in one query per answer)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from services.catalog import store
from services.catalog import vocabulary as vocab
from services.catalog.domain import Reason, StatusDefinition, approval_reasons, privacy_rating, usable_grades
from shared.city.people import actor_ref, person_refs
from shared.http.models import PersonRef
from shared.i18n import Language

People = dict[UUID, PersonRef]


async def people(conn: asyncpg.Connection, ids: Iterable[Any], viewer: str) -> People:
    """The people behind the actor ids of an answer, in one query (protected identities hidden but to themselves)."""
    return await person_refs(conn, {i for i in ids if i}, viewer=viewer)


def person(refs: People, value: Any) -> dict[str, Any] | None:
    """An actor as ``PersonRef``. One that is no person id (a rule of the service, ``skolit:…``; an erased person,
    ``erased``; a development token's subject) has no id, and its name says which."""
    ref = actor_ref(refs, value)
    return None if ref is None else {"id": str(ref.id) if ref.id else None, "name": ref.name, "protected": ref.protected, "kind": ref.kind}


def school_ref(id: Any, name: str | None, code: str | None) -> dict[str, Any]:
    return {"id": str(id), "name": name, "schoolUnitCode": code}


def reason_json(reason: Reason, lang: Language) -> dict[str, Any]:
    return {"reason": reason.code, "because": reason.text(lang)}


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
        "approvalBlockers": [r.text(lang) for r in approval_reasons(dp, today)],
    }


def app_actors(rows: Iterable[asyncpg.Record]) -> set[Any]:
    return {r[k] for r in rows for k in ("created_by", "updated_by")}


def app_json(row: asyncpg.Record, status: StatusDefinition, lang: Language, today: date, refs: People) -> dict[str, Any]:
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
        "version": row["version"], "createdBy": person(refs, row["created_by"]), "createdAt": _iso(row["created_at"]),
        "updatedBy": person(refs, row["updated_by"]), "updatedAt": _iso(row["updated_at"]), "availability": None,
    }


def hit_json(hit: dict[str, Any], statuses: dict[str, StatusDefinition], lang: Language) -> dict[str, Any]:
    """One search result: enough for a list, with a link to the whole record."""
    status = statuses[hit["status"]]
    return {
        "id": hit["id"], "name": hit["name"], "supplier": hit["supplier"], "description": hit["description"], "url": hit["url"],
        "kind": hit["kind"], "costModel": hit["cost_model"], "freeUse": hit["free_use"],
        "subjects": labelled(hit["subjects"], vocab.SUBJECTS, lang), "grades": hit["grades"], "schoolTypes": hit["school_types"],
        "platforms": hit["platforms"], "languages": hit["languages"], "headings": labelled(hit["headings"], vocab.STRATEGY_HEADINGS, lang),
        "status": status_json(status, lang),
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


def licence_json(row: asyncpg.Record, today: date, refs: People) -> dict[str, Any]:
    active = row["ended_at"] is None and row["starts"] <= today <= row["expires"]
    return {
        "id": str(row["id"]), "appId": str(row["app_id"]), "appName": row["app_name"],
        "schoolUnit": school_ref(row["school_unit"], row["school_name"], row["school_code"]),
        "type": row["licence_type"], "seats": row["seats"], "groupName": row["group_name"],
        "starts": _iso(row["starts"]), "expires": _iso(row["expires"]), "note": row["note"],
        "active": active, "daysLeft": (row["expires"] - today).days if active else None,
        "createdBy": person(refs, row["created_by"]), "createdAt": _iso(row["created_at"]), "endedAt": _iso(row["ended_at"]),
    }


def request_actors(rows: Iterable[asyncpg.Record], steps: Iterable[asyncpg.Record] = ()) -> set[Any]:
    return {r[k] for r in rows for k in ("requester", "decided_by")} | {s["actor"] for s in steps}


def request_json(row: asyncpg.Record, refs: People, steps: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row["id"]), "schoolUnit": school_ref(row["school_unit"], row["school_name"], row["school_code"]),
        "districtId": str(row["district"]) if row["district"] else None,
        "requester": person(refs, row["requester"]), "requesterDuty": row["requester_duty"],
        "appId": str(row["app_id"]) if row["app_id"] else None, "appName": row["app_name"], "proposed": row["proposed"],
        "purpose": row["purpose"], "grades": list(row["grades"]), "pupils": row["pupils"], "state": row["state"],
        "conditions": row["conditions"], "reason": row["reason"], "decidedBy": person(refs, row["decided_by"]), "decidedAt": _iso(row["decided_at"]),
        "createdAt": _iso(row["created_at"]), "updatedAt": _iso(row["updated_at"]), "waitingForReviewSince": _iso(row["waiting_since"]),
    }
    if steps is not None:
        body["history"] = [{"at": _iso(s["at"]), "actor": person(refs, s["actor"]), "step": s["step"], "note": s["note"]} for s in steps]
    return body


def audit_json(row: asyncpg.Record, refs: People) -> dict[str, Any]:
    return {"at": _iso(row["at"]), "actor": person(refs, row["actor"]), "action": row["action"], "detail": row["detail"]}


def counted(rows: list[asyncpg.Record], offset: int) -> int | None:
    """The ``total`` a page's rows carry (``count(*) OVER ()``): 0 for an empty first page; unknown past the end."""
    if rows:
        return int(rows[0]["total"])
    return 0 if offset == 0 else None
