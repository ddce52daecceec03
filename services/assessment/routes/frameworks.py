"""Reading the framework: versions, and one version in Swedish or English."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.assessment.framework import LIKA_AREAS, SELFIE_AREAS, Language, localize, published
from shared.i18n import language
from shared.auth import Principal, require
from shared.events.city import SchoolType
from shared.problems import Problem, documented

router = APIRouter(tags=["framework"])


@router.get("/frameworks", summary="Published framework versions", responses=documented(401))
async def list_frameworks(caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    versions = published()
    newest = max(versions)
    return {"items": [
        {"version": f.version, "title": {"sv": f.title.sv, "en": f.title.en}, "publishedFor": f.publishedFor,
         "previousVersion": f.previousVersion, "indicators": len(f.indicators), "headings": len(f.headings),
         "carriedForward": len(f.carryForward), "latest": f.version == newest}
        for f in sorted(versions.values(), key=lambda f: f.version)
    ], "selfieAreas": SELFIE_AREAS, "likaAreas": LIKA_AREAS}


@router.get(
    "/frameworks/{version}",
    summary="One framework version: headings, indicators, level statements and next steps, in one language",
    description="`lang` (or Accept-Language) picks Swedish or English. `schoolTypes` (SS 12000 codes, comma separated) "
                "keeps only the indicators a school with those types answers.",
    responses=documented(401, 404, 422),
)
async def get_framework(request: Request, version: int, caller: Annotated[Principal, Depends(require())],
                        lang: Annotated[Language | None, Query(description="sv or en", examples=["en"])] = None,
                        schoolTypes: Annotated[str | None, Query(examples=["FS", "GR,FKLASS"])] = None) -> dict[str, Any]:
    framework = published().get(version)
    if framework is None:
        raise Problem(404, "Not found", f"framework version {version} does not exist; published: {sorted(published())}")
    types = None
    if schoolTypes is not None:
        types = [t.strip() for t in schoolTypes.split(",") if t.strip()]
        unknown = [t for t in types if t not in SchoolType._value2member_map_]
        if unknown:
            raise Problem(422, "Invalid request", f"unknown school type(s) {unknown}", field="schoolTypes")
    return localize(framework, language(request, lang), types)


@router.get("/frameworks/{version}/carry-forward", summary="How answers under the previous version carry into this one", responses=documented(401, 404))
async def get_mapping(version: int, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    framework = published().get(version)
    if framework is None:
        raise Problem(404, "Not found", f"framework version {version} does not exist")
    carried = set(framework.carryForward)
    return {
        "version": version,
        "previousVersion": framework.previousVersion,
        "mapping": [{"indicatorId": new, "from": old} for new, old in sorted(framework.carryForward.items())],
        "answeredAfresh": sorted(i.id for i in framework.indicators if i.id not in carried) if framework.previousVersion else [],
    }
