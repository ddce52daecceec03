"""Finding apps: Swedish full-text search that forgives a typo, with facets and filters; the
controlled vocabularies; the district-defined statuses."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.catalog import access, domain, store
from services.catalog import vocabulary as vocab
from services.catalog.domain import SearchFilters, StatusDefinition
from services.catalog.schemas import SearchResults, Status, StatusPage, Vocabulary
from services.catalog.search_cache import SearchCache, current_version
from services.catalog.settings import CATALOG, SOURCE
from services.catalog.usecases import statuses as status_cases
from services.catalog.views import facets_json, hit_json, status_json
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.http.pages import PageRequest, page_request
from shared.i18n import Language, language
from shared.problems import documented, rejected
from shared.uow import unit_of_work

router = APIRouter(tags=["search"])


def search_cache_of(request: Request) -> SearchCache:
    """One cache per application (per process), made on first use."""
    state = request.app.state
    if getattr(state, "search_cache", None) is None:
        state.search_cache = SearchCache(CATALOG.search_cache_entries)
    return state.search_cache
Many = Annotated[list[str], Query()]
_STATUSES = ("statuses",)  # the cache's key for the status definitions (they are part of the search version too)


@router.get("/apps", summary="Search the programbank", response_model=None,
            responses=documented(401, 403, 404, 422) | {200: {"model": SearchResults, "description": "A page of matching apps"}},
            description="`q` is matched with Swedish stemming (\"matematik\" finds \"matematiken\") and a misspelt word is corrected to "
                        "the nearest word in the programbank. Every filter takes several values (any of them matches); "
                        "`schoolUnitId` keeps the apps that school may use today (404 when the school unit is not known). Facet counts "
                        "cover all matches, not just the page. Retired apps appear only when asked for by status. Ordered by relevance, "
                        "then name.")
async def search_apps(
    request: Request,
    caller: Annotated[Principal, Depends(require(*access.STAFF))],
    page: Annotated[PageRequest, Depends(page_request)],
    q: Annotated[str | None, Query(max_length=200)] = None,
    subject: Many = [],  # noqa: B006  (FastAPI copies defaults per request)
    grade: Many = [],  # noqa: B006
    schoolType: Many = [],  # noqa: B006
    heading: Many = [],  # noqa: B006
    status: Many = [],  # noqa: B006
    dpaStatus: Many = [],  # noqa: B006
    kind: Many = [],  # noqa: B006
    platform: Many = [],  # noqa: B006
    language_: Annotated[list[str], Query(alias="language")] = [],  # noqa: B006
    schoolUnitId: UUID | None = None,
    facets: Annotated[bool | None, Query(description="count facets; by default on the first page only (later pages keep the first page's)")] = None,
    lang: Language | None = None,
) -> Response:
    # The hot read (bench/http_reads.py): the answer is written once with orjson and kept whole in the cache, so a
    # repeated search costs the version read (and the school's types, when asked for a school), nothing more.
    with_facets = page.offset == 0 if facets is None else facets
    filters = SearchFilters(tuple(subject), tuple(grade), tuple(schoolType), tuple(heading), tuple(status), tuple(dpaStatus),
                            tuple(kind), tuple(platform), tuple(language_))
    words = domain.query_words(q or "")
    today, chosen = city_today(), language(request, lang)
    cache = search_cache_of(request)
    async with request.app.state.pool.acquire() as conn:
        version = await current_version(conn)  # before the search: what is cached under it is at least this new
        statuses = cache.get(version, _STATUSES)
        if statuses is None:
            statuses = await store.statuses(conn)
            cache.put(version, _STATUSES, statuses)
        try:
            domain.check_filters(filters, statuses)
        except domain.Rejected as exc:
            raise rejected(exc.status, str(exc), exc.field) from None
        school_types: list[str] = []
        if schoolUnitId is not None:
            school_types = list((await access.known_school(conn, schoolUnitId))["school_types"])
        question = (q, tuple(words), filters, schoolUnitId, tuple(school_types), today, page.limit, page.offset, with_facets, chosen)
        answer = cache.get(version, question)
        if answer is None:
            corrected = await store.corrections(conn, words) if words else {}
            result = await store.search(conn, tsquery=domain.tsquery_text(words, corrected) if words else None,
                                        f=filters, school_unit=schoolUnitId, school_types=school_types, today=today,
                                        limit=page.fetch, offset=page.offset, facets=with_facets)
            body = page.page(result["items"], total=result["total"], item=lambda h: hit_json(h, statuses, chosen))
            body.update(query=q, corrections=corrected, facets=facets_json(result["facets"], statuses, chosen) if with_facets else None)
            answer = orjson.dumps(body)
            cache.put(version, question, answer)
    return Response(answer, media_type="application/json")


@router.get("/vocabulary", summary="The controlled lists an app record uses, with Swedish and English labels (no login)",
            response_model=Vocabulary)
async def vocabulary() -> dict[str, Any]:
    return {
        "subjects": vocab.SUBJECTS, "grades": vocab.GRADE_LABELS, "schoolTypes": list(vocab.SCHOOL_TYPES),
        "headings": vocab.STRATEGY_HEADINGS, "platforms": vocab.PLATFORMS, "kinds": vocab.KINDS, "costModels": vocab.COST_MODELS,
        "dataCategories": vocab.DATA_CATEGORIES, "sensitiveDataCategories": sorted(vocab.SENSITIVE_CATEGORIES),
        "dpaStatuses": vocab.DPA_STATUSES, "transferSafeguards": vocab.TRANSFER_SAFEGUARDS,
    }


class NewStatus(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", examples=["approved_gy"])
    labelSv: str = Field(min_length=1, max_length=100, examples=["Godkänd för gymnasiet"])
    labelEn: str = Field(min_length=1, max_length=100, examples=["Approved for upper secondary"])
    allowsUse: bool
    grades: list[str] = Field(default_factory=list, description="when given, use is allowed only in these grades")
    retires: bool = False


@router.get("/statuses", summary="The district-defined statuses an app can have, in the district's order", response_model=StatusPage,
            responses=documented(401, 403))
async def list_statuses(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                        page: Annotated[PageRequest, Depends(page_request)], lang: Language | None = None) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        statuses = await store.statuses(conn)
    chosen = language(request, lang)
    return page.slice(list(statuses.values()), item=lambda s: status_json(s, chosen))


@router.post("/statuses", status_code=201, summary="Define a new status (city admins)", response_model=Status,
             responses=documented(401, 403, 409, 422))
async def define_status(request: Request, body: NewStatus, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))],
                        lang: Language | None = None) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        wanted = StatusDefinition(body.code, body.labelSv, body.labelEn, body.allowsUse, tuple(body.grades), body.retires)
        status = await status_cases.define_status(uow, caller, wanted)
    return status_json(status, language(request, lang))
