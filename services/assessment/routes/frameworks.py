"""Reading the framework: versions, and one version in Swedish or English."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.assessment import schemas
from services.assessment.framework import LIKA_AREAS, SELFIE_AREAS, Language, localize, published
from shared.auth import Principal, require
from shared.events.city import SchoolType
from shared.http.pages import PageRequest, page_request
from shared.i18n import language
from shared.problems import Problem, documented

router = APIRouter(tags=["framework"])
Lang = Annotated[Language | None, Query(description="sv or en (else Accept-Language; Swedish by default)", examples=["en"])]


@router.get("/frameworks", summary="Published framework versions", response_model=schemas.FrameworkVersions, responses=documented(401, 422))
async def list_frameworks(request: Request, caller: Annotated[Principal, Depends(require())], page: Annotated[PageRequest, Depends(page_request)],
                          lang: Lang = None) -> dict[str, Any]:
    chosen = language(request, lang)
    versions = published()
    newest = max(versions)
    body = page.slice(sorted(versions.values(), key=lambda f: f.version), item=lambda f: {
        "version": f.version, "title": f.title(chosen), "publishedFor": f.publishedFor, "previousVersion": f.previousVersion,
        "indicators": len(f.indicators), "headings": len(f.headings), "carriedForward": len(f.carryForward), "latest": f.version == newest,
    })
    return body | {"selfieAreas": SELFIE_AREAS, "likaAreas": LIKA_AREAS}


@router.get(
    "/frameworks/{version}",
    summary="One framework version: headings, indicators, level statements and next steps, in one language",
    description="`lang` (or Accept-Language) picks Swedish or English. `schoolTypes` (SS 12000 codes, comma separated) "
                "keeps only the indicators a school with those types answers.",
    response_model=schemas.Framework,
    responses=documented(401, 404, 422),
)
async def get_framework(request: Request, version: int, caller: Annotated[Principal, Depends(require())], lang: Lang = None,
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


@router.get("/frameworks/{version}/carry-forward", summary="How answers under the previous version carry into this one",
            response_model=schemas.CarryForward, responses=documented(401, 404, 422))
async def get_mapping(request: Request, version: int, caller: Annotated[Principal, Depends(require())], lang: Lang = None) -> dict[str, Any]:
    framework = published().get(version)
    if framework is None:
        raise Problem(404, "Not found", f"framework version {version} does not exist")
    chosen = language(request, lang)
    carried = set(framework.carryForward)
    return {
        "version": version,
        "previousVersion": framework.previousVersion,
        "mapping": [{"indicatorId": new, "title": framework.by_id[new].title(chosen), "from": old} for new, old in sorted(framework.carryForward.items())],
        "answeredAfresh": [{"code": i.id, "label": i.title(chosen)} for i in sorted(framework.indicators, key=lambda i: i.id)
                           if i.id not in carried] if framework.previousVersion else [],
    }
