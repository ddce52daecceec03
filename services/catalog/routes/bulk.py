"""Bulk: import an existing programbank from CSV (every row checked, all or nothing) and export
the programbank as CSV or JSON."""

from __future__ import annotations

import csv
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from services.catalog import access, csvio, store
from services.catalog.schemas import EXPORT_CSV_EXAMPLE, ImportResult, ProgrambankExport
from services.catalog.settings import SOURCE
from services.catalog.usecases import imports
from shared.auth import Principal, require
from shared.clock import city_today
from shared.problems import Problem, documented
from shared.uow import unit_of_work

router = APIRouter(tags=["bulk"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@router.post("/apps/import", status_code=201, summary="Import apps from CSV: all rows or none",
             description="The body is CSV (comma, semicolon or tab separated, UTF-8) with a header of the export's columns. Every row is "
                         "validated like POST /apps; if any row is rejected nothing is imported and the answer (422) lists each rejected "
                         "line with its reasons. `dryRun=true` only checks.",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}, "example": EXPORT_CSV_EXAMPLE}}, "required": True}},
             response_model=None,
             responses=documented(401, 403, 413, 415, 422) | {
                 201: {"model": ImportResult, "description": "Imported: every row"},
                 200: {"model": ImportResult, "description": "dryRun=true: every row checked, nothing imported"}})
async def import_csv(request: Request, caller: Annotated[Principal, Depends(require(*access.EDITORS))], dryRun: bool = False) -> Response:
    if not request.headers.get("content-type", "").startswith(("text/csv", "text/plain")):
        raise Problem(415, "Unsupported media type", "send the CSV as text/csv")
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Problem(413, "Content too large", f"the import is limited to {MAX_IMPORT_BYTES // 1024 // 1024} MB; split the file")
    try:
        text = raw.decode("utf-8-sig")
        rows = list(csvio.read(text))
    except UnicodeDecodeError:
        raise Problem(422, "Invalid request", "the CSV is not UTF-8 (save it as \"CSV UTF-8\")") from None
    except (csvio.RowError, csv.Error) as exc:
        raise Problem(422, "Invalid request", f"the CSV cannot be read: {exc}") from None
    if not rows:
        raise Problem(422, "Invalid request", "the CSV has no rows")
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        result = await imports.import_apps(uow, caller, rows, city_today(), dry_run=dryRun)
    if result.dry_run:
        return JSONResponse({**result.report, "imported": 0, "dryRun": True}, status_code=200)
    return JSONResponse({**result.report, "imported": len(result.ids), "ids": result.ids, "dryRun": False}, status_code=201)


def _export_record(row: Any) -> dict[str, Any]:
    return {**store.app_input(row).model_dump(mode="json"), "status": row["status"], "id": str(row["id"]), "version": row["version"]}


@router.get("/apps/export", summary="The whole programbank as CSV or JSON (the CSV imports again as it is)", response_model=None,
            description="A file to download (Content-Disposition: attachment), not a paged list. Without `format`, the `Accept` header "
                        "decides (JSON when it prefers application/json, else CSV). The CSV is what Swedish Excel opens as it is: "
                        "UTF-8 with a byte-order mark, semicolons between cells.",
            responses=documented(401, 403) | {200: {"model": ProgrambankExport, "description": "The programbank (format=json or format=csv)",
                                                    "content": {"text/csv": {"schema": {"type": "string"}, "example": EXPORT_CSV_EXAMPLE}}}})
async def export(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                 format: Annotated[Literal["csv", "json"] | None, Query()] = None) -> Response:
    if format is None:
        format = "json" if _prefers_json(request.headers.get("accept", "")) else "csv"
    async with request.app.state.pool.acquire() as conn:
        rows = await store.all_apps(conn)
    records = [_export_record(r) for r in rows]
    stamp = city_today().isoformat()
    if format == "json":
        return JSONResponse({"asOf": stamp, "items": records}, headers={"Content-Disposition": f'attachment; filename="programbank-{stamp}.json"'})
    # the byte-order mark makes Excel read UTF-8 (å, ä, ö); the import skips it
    return Response("\ufeff" + csvio.write([csvio.from_record(r) for r in records]), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="programbank-{stamp}.csv"'})


def _prefers_json(accept: str) -> bool:
    """Whether an Accept header ranks application/json above text/csv (no header, or */*: CSV, the file people open)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.strip().lower()] = q
    return weights.get("application/json", 0.0) > weights.get("text/csv", 0.0)
