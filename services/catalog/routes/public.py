"""What guardians may see without logging in: the apps their child's school uses, the personal
data each receives and where it is processed (GDPR art. 13-14 transparency)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request, Response

from services.catalog import store
from services.catalog import vocabulary as vocab
from services.catalog.domain import privacy_rating, usable_grades
from services.catalog.queries import usable_at
from services.catalog.schemas import PublicSchoolApps
from services.catalog.views import labelled, school_ref
from shared.clock import city_today
from shared.http.pages import PageRequest, page_request
from shared.i18n import Language, language
from shared.problems import documented

router = APIRouter(tags=["public"])


def _where(countries: list[str]) -> list[dict[str, Any]]:
    return [{"country": c, "insideEuEea": c in vocab.EEA_COUNTRIES} for c in countries]


@router.get("/public/school-units/{school_unit_id}/apps", summary="Apps a school uses and the personal data each receives (no login)",
            description="Ordered by name. Answers may be cached for five minutes.", response_model=PublicSchoolApps, responses=documented(404))
async def public_school_apps(request: Request, response: Response, school_unit_id: UUID, page: Annotated[PageRequest, Depends(page_request)],
                             lang: Language | None = None) -> dict[str, Any]:
    today, chosen = city_today(), language(request, lang)
    async with request.app.state.pool.acquire() as conn:
        school, statuses, rows = await usable_at(conn, school_unit_id, today)

    def item(r: asyncpg.Record) -> dict[str, Any]:
        dp = store.data_protection(r)
        return {
            "name": r["name"], "supplier": r["supplier"], "description": r["description"], "url": r["url"],
            "grades": usable_grades(list(r["grades"]), statuses[r["status"]]),
            "personalData": labelled(dp.dataCategories, vocab.DATA_CATEGORIES, chosen),
            "receivesPersonalData": dp.processes_personal_data,
            "dataProcessingAgreement": dp.processes_personal_data and r["dpa_status"] == "signed",
            "processedIn": _where(dp.processingCountries),
            "subProcessors": [{"name": s.name, "country": s.country, "insideEuEea": s.country in vocab.EEA_COUNTRIES} for s in dp.subProcessors],
            "transferOutsideEuEea": dp.transferOutsideEea,
            "transferSafeguard": vocab.TRANSFER_SAFEGUARDS[dp.transferSafeguard][chosen] if dp.transferSafeguard else None,
            "minimumAge": dp.minAge,
            "privacy": privacy_rating(dp, today).value,
        }

    # the list changes when a status or licence does; a few minutes of caching spares the database
    response.headers["Cache-Control"] = "public, max-age=300"
    return {"schoolUnit": school_ref(school["id"], school["display_name"], school["school_unit_code"]), "asOf": today.isoformat(),
            **page.slice(rows, item=item)}
