"""HTTP imports for city admins: school figures (CSV or JSON) and a login portal's launch log (CSV).

The router needs only what every Skolit app has: ``app.state.pool`` (the connector's schema, with its outbox),
``app.state.verifier`` (shared/auth) and the problem handlers (shared/problems.py). All or nothing: one bad cell
and the answer is a 422 naming the row and column of every bad cell, and nothing is published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from connectors.imports import figures, launches
from connectors.imports.report import ImportErrors
from connectors.imports.table import MAX_BYTES, decode
from connectors.imports.usecases import SOURCE, E, checked_only, publish_import
from shared.auth import Principal, Role, require
from shared.clock import city_today
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["imports"])
CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel")

FIGURES_CSV_EXAMPLE = ("schoolUnitId;year;wifiCoverage;devicesPerPupil;devicesPerTeacher;byodAllowed;teachersTrainedShare;pupils;teachers;staff\n"
                       "6564f0c0-20f5-5ed5-9b80-5f7a55d55403;2026;0,97;1,0;1,05;nej;0,64;412;31;48\n")
FIGURES_JSON_EXAMPLE = [{"schoolUnitId": "6564f0c0-20f5-5ed5-9b80-5f7a55d55403", "year": 2026,
                         "figures": {"wifiCoverage": 0.97, "devicesPerPupil": 1.0, "byodAllowed": False, "pupils": 412}}]
LAUNCHES_CSV_EXAMPLE = ("appId;schoolUnitId;date;launches;activeUsers\n"
                        "0b1f4c52-3d7e-5a8b-9c60-2e4f7a1d8b93;6564f0c0-20f5-5ed5-9b80-5f7a55d55403;2026-10-05;312;118\n")


class ImportAnswer(BaseModel):
    """What an import did (or, with dryRun, would do)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"rows": 36, "events": 36, "published": 36, "alreadyImported": 0, "dryRun": False}]})

    rows: int = Field(description="data rows (CSV) or items (JSON) read")
    events: int = Field(description="events the file makes: one per school unit and year, or per app, school unit and day")
    published: int = Field(description="events published now; 0 with dryRun")
    alreadyImported: int | None = Field(description="events an earlier import published already (the same facts: skipped); null with dryRun")
    dryRun: bool


async def _publish(request: Request, events: Sequence[E], event_id: Callable[[E], str], dry_run: bool) -> JSONResponse:
    if dry_run:
        return JSONResponse(checked_only(events, rows=len(events)).as_json(), status_code=200)
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        result = await publish_import(uow, events, event_id, rows=len(events), at=datetime.now(UTC))
    # 202: the events are staged and sent after the commit; the services apply them in a moment
    return JSONResponse(result.as_json(), status_code=202)


async def _body(request: Request) -> bytes:
    """The body, refused past MAX_BYTES without reading the rest."""
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, "Content too large", f"an import is at most {MAX_BYTES // 1024 // 1024} MB (and 100,000 rows); split the file")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


_RESPONSES: dict[int | str, dict[str, Any]] = documented(401, 403, 413, 415, 422) | {
    202: {"model": ImportAnswer, "description": "Every row is valid: the events are published"},
    200: {"model": ImportAnswer, "description": "dryRun=true: every row is valid; nothing was published"},
}


@router.post("/imports/school-figures", summary="Import school figures (city admins): all rows or none", response_model=None,
             description="CSV (header `schoolUnitId`, `year`, then any of the figures; comma, semicolon or tab separated; UTF-8, "
                         "Swedish Excel's \"CSV UTF-8\" with semicolons and decimal commas as it is) or JSON (an array of "
                         "`{schoolUnitId, year, figures}`). One event per school unit and year; an empty cell is a figure not "
                         "reported. If any cell is invalid nothing is published and the 422 lists every bad cell by row and "
                         "column. The same file imported again publishes nothing new. Figures and sources: docs/figures.md.",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}, "example": FIGURES_CSV_EXAMPLE},
                 "application/json": {"schema": {"type": "array", "items": {"type": "object"}}, "example": FIGURES_JSON_EXAMPLE}}}},
             responses=_RESPONSES)
async def import_school_figures(request: Request, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))],
                                dryRun: Annotated[bool, Query(description="only check the file; publish nothing")] = False) -> JSONResponse:
    media = _media_type(request)
    raw = await _body(request)
    try:
        if media == "application/json":
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise Problem(400, "Bad request", f"the body is not JSON: {exc}") from None
            events = figures.figures_from_json(data)
        elif media in CSV_TYPES:
            events = figures.figures_from_csv(decode(raw))
        else:
            raise Problem(415, "Unsupported media type", "send the figures as text/csv or application/json")
    except ImportErrors as exc:
        raise exc.problem() from None
    return await _publish(request, events, figures.event_id, dryRun)


@router.post("/imports/app-launches", summary="Import a launch log (city admins): app launches per app, school unit and day",
             response_model=None,
             description="CSV with the columns `appId`, `schoolUnitId`, `date` (YYYY-MM-DD), `launches` and, if the portal counts "
                         "them, `activeUsers` (distinct users that day): one row per app, school unit and day, as a login portal or "
                         "identity provider logs launches. One AppLaunchesCounted per row, for that day: a day sent again replaces "
                         "that day's count. If any cell is invalid nothing is published and the 422 lists every bad cell by row "
                         "and column. The same file imported again publishes nothing new.",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}, "example": LAUNCHES_CSV_EXAMPLE}}}},
             responses=_RESPONSES)
async def import_app_launches(request: Request, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))],
                              dryRun: Annotated[bool, Query(description="only check the file; publish nothing")] = False) -> JSONResponse:
    if _media_type(request) not in CSV_TYPES:
        raise Problem(415, "Unsupported media type", "send the launch log as text/csv")
    raw = await _body(request)
    try:
        events = launches.launches_from_csv(decode(raw), city_today())
    except ImportErrors as exc:
        raise exc.problem() from None
    return await _publish(request, events, launches.event_id, dryRun)
