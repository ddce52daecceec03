"""Finding apps: Swedish full-text search that forgives a typo, with facets and filters; the
controlled vocabularies; the district-defined statuses."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.catalog import access, domain, store
from services.catalog import vocabulary as vocab
from services.catalog.domain import SearchFilters, StatusDefinition
from services.catalog.schemas import SearchResults, Status, StatusPage, Vocabulary
from services.catalog.search_cache import SearchCache
from services.catalog.settings import CATALOG, SOURCE
from services.catalog.usecases import statuses as status_cases
from services.catalog.views import facets_json, hit_json, reason_json, school_ref, status_json
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.http.hot_reads import HotRead, PassOn, one_of, uuid_text, whole_number
from shared.http.pages import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, decode_cursor, page_request
from shared.i18n import Language, language
from shared.problems import Problem, documented, rejected
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
            description="`q` is matched with Swedish stemming (\"matematik\" finds \"matematiken\") and with or without å, ä and ö "
                        "(\"brak\" finds \"bråk\", \"lasforstaelse\" finds \"läsförståelse\"). A word that matches nothing as typed is "
                        "also matched as the nearest words in the programbank (`corrections`), and `suggestion` offers the corrected "
                        "query (\"did you mean\"); a word that matches something, such as a product's name, is searched as typed. "
                        "Every filter takes several values (any of them matches). The search is for a school unit: `schoolUnitId` "
                        "(404 when not known), else the caller's own when their token names exactly one. Each hit then says "
                        "whether that school may use the app today (`usableHere`, `availability` with the reason), and the apps it "
                        "may use come first; `usable=only` keeps only those, `usable=first` keeps the rest after them. The default is "
                        "`first` for the caller's own school unit and `only` with `schoolUnitId` (as before `usable` existed). "
                        "Facet counts cover all matches, not just the page. Retired apps appear only when asked for by status. "
                        "Ordered by usable here, then relevance, then name.")
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
    usable: Annotated[Literal["first", "only"] | None, Query(
        description="with a school unit: `first` ranks the apps it may use today first and keeps the rest after them, `only` keeps "
                    "only those (default: `only` with schoolUnitId, `first` for the caller's own school unit)")] = None,
    facets: Annotated[bool | None, Query(description="count facets; by default on the first page only (later pages keep the first page's)")] = None,
    lang: Language | None = None,
) -> Response:
    filters = SearchFilters(tuple(subject), tuple(grade), tuple(schoolType), tuple(heading), tuple(status), tuple(dpaStatus),
                            tuple(kind), tuple(platform), tuple(language_))
    return await _search(request, caller, page, q, filters, schoolUnitId, usable, facets, lang)


async def _search(request: Request, caller: Principal, page: PageRequest, q: str | None, filters: SearchFilters,
                  schoolUnitId: UUID | None, usable: str | None, facets: bool | None, lang: Language | None) -> Response:  # noqa: N803
    # The hot read (bench/http_reads.py): the answer is written once with orjson and kept whole in the cache, so a
    # repeated search costs one read (the version, with the school unit's types when the search is for one), nothing more.
    with_facets = page.offset == 0 if facets is None else facets
    words = domain.query_words(q or "")
    today, chosen = city_today(), language(request, lang)
    own = _own_school(caller) if schoolUnitId is None else None
    only = (usable or ("only" if schoolUnitId is not None else "first")) == "only"
    cache = search_cache_of(request)
    async with request.app.state.pool.acquire() as conn:
        # before the search: what is cached under the version is at least this new
        version, school = await store.search_version_and_school(conn, schoolUnitId or own)
        if schoolUnitId is not None and school is None:
            raise Problem(404, "Not found", f"school unit {schoolUnitId} is not known", field="schoolUnitId")
        statuses = cache.get(version, _STATUSES)
        if statuses is None:
            statuses = await store.statuses(conn)
            cache.put(version, _STATUSES, statuses)
        try:
            domain.check_filters(filters, statuses)
        except domain.Rejected as exc:
            raise rejected(exc.status, str(exc), exc.field) from None
        school_id = school["id"] if school is not None else None
        school_types = list(school["school_types"]) if school is not None else []
        question = (q, tuple(words), filters, school_id, tuple(school_types), only, today, page.limit, page.offset, with_facets, chosen)
        answer = cache.get(version, question)
        if answer is None:
            terms = domain.search_terms(words, await store.word_facts(conn, words))
            result = await store.search(conn, tsquery=terms.tsquery, folded=terms.folded, f=filters, school_unit=school_id,
                                        school_types=school_types, today=today, limit=page.fetch, offset=page.offset,
                                        facets=with_facets, usable_only=only)
            body = page.page(result["items"], total=result["total"], item=lambda h: _hit(h, statuses, chosen, school_id, school_types))
            body.update(query=q, corrections=terms.corrections, suggestion=terms.suggestion,
                        schoolUnit=school_ref(school_id, school["display_name"], school["school_unit_code"]) if school is not None else None,
                        usableTotal=result["usable_total"] if school is not None else None,
                        facets=facets_json(result["facets"], statuses, chosen) if with_facets else None)
            answer = orjson.dumps(body)
            cache.put(version, question, answer)
    return Response(answer, media_type="application/json")


_FILTERS = ("subject", "grade", "schoolType", "heading", "status", "dpaStatus", "kind", "platform", "language")
_SCALARS = frozenset({"q", "schoolUnitId", "usable", "facets", "lang", "limit", "cursor"})
_BOOLEANS = {"true": True, "false": False}


async def _search_hot(request: Request, caller: Principal, params: dict[str, str]) -> Response:
    """``search_apps`` for the plain case, without FastAPI (shared/http/hot_reads.py): whatever it does not read as the
    route would — a value to validate, an unknown parameter, a caller without a staff role — goes to the route."""
    if not caller.has_any(*access.STAFF):
        raise PassOn
    lists: dict[str, list[str]] = {name: [] for name in _FILTERS}
    scalars: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in lists:
            lists[name].append(value)
        elif name in _SCALARS and name not in scalars:
            scalars[name] = value
        else:
            raise PassOn
    q = scalars.get("q")
    cursor = scalars.get("cursor")
    if (q is not None and len(q) > 200) or (cursor is not None and (not cursor or len(cursor) > 200)):
        raise PassOn
    facets = scalars.get("facets")
    if facets is not None and facets not in _BOOLEANS:
        raise PassOn
    school = scalars.get("schoolUnitId")
    page = PageRequest(limit=whole_number(scalars.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT), offset=decode_cursor(cursor) if cursor else 0)
    filters = SearchFilters(*(tuple(lists[name]) for name in _FILTERS))
    return await _search(request, caller, page, q, filters, UUID(uuid_text(school)) if school is not None else None,
                         one_of(scalars.get("usable"), _USABLE), _BOOLEANS[facets] if facets is not None else None,
                         one_of(scalars.get("lang"), _LANGUAGES))  # type: ignore[arg-type]


_USABLE = frozenset({"first", "only"})
_LANGUAGES = frozenset(get_args(Language))
#: shared/http/hot_reads.py; the service's spec lists it
HOT_READS = (HotRead("/apps", _search_hot),)


def _own_school(caller: Principal) -> UUID | None:
    """The caller's school unit when their token names exactly one (a teacher's, a principal's)."""
    if len(caller.school_units) != 1:
        return None
    try:
        return UUID(next(iter(caller.school_units)))
    except ValueError:
        return None


def _hit(hit: dict[str, Any], statuses: dict[str, StatusDefinition], lang: Language, school: UUID | None,
         school_types: list[str]) -> dict[str, Any]:
    """A search result, with whether the school unit the search is for may use the app today and why (the same rule and
    words as GET /apps/{id}?schoolUnitId=)."""
    body = hit_json(hit, statuses, lang)
    if school is None:
        body.update(usableHere=None, availability=None)
        return body
    ok, why = domain.availability(status=statuses[hit["status"]], app_grades=hit["grades"], app_school_types=hit["school_types"],
                                  free_use=hit["free_use"], school_types=school_types, licensed=bool(hit["licensed"]))
    body.update(usableHere=ok, availability={"schoolUnitId": str(school), "available": ok, **reason_json(why, lang)})
    return body


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
