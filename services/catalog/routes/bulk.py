"""Bulk: import an existing programbank from CSV (every row checked, all or nothing) and export
the programbank as CSV or JSON."""

from __future__ import annotations

import csv
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from services.catalog import access, csvio, domain, store
from services.catalog.routes.apps import NewApp, initial_status, publish_app
from shared.auth import Principal, require
from shared.clock import city_today
from shared.privacy import vault
from shared.problems import Problem, documented, error_list

router = APIRouter(tags=["bulk"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@router.post("/apps/import", status_code=201, summary="Import apps from CSV: all rows or none",
             description="The body is CSV (comma, semicolon or tab separated, UTF-8) with a header of the export's columns. Every row is "
                         "validated like POST /apps; if any row is rejected nothing is imported and the answer (422) lists each rejected "
                         "line with its reasons. `dryRun=true` only checks.",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
             responses=documented(401, 403, 413, 415, 422))
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
    accepted: list[tuple[int, NewApp]] = []
    rejected_rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        statuses = await store.statuses(conn)
        for line, row in rows:
            errors: list[dict[str, str]] = []
            try:
                app = NewApp.model_validate(csvio.to_input(row))
                key = (" ".join(app.name.lower().split()), " ".join(app.supplier.lower().split()))
                if key in seen:
                    errors.append({"location": "name", "message": f"the same app as line {seen[key]}"})
                elif await store.find_duplicate(conn, app.name, app.supplier) is not None:
                    errors.append({"location": "name", "message": f"{app.name!r} from {app.supplier!r} is already in the programbank"})
                seen.setdefault(key, line)
                try:
                    initial_status(statuses, app.status, app)
                except Problem as exc:
                    errors.append({"location": "status", "message": exc.detail or exc.title})
            except ValidationError as exc:
                errors = error_list(exc.errors())
            except csvio.RowError as exc:
                errors = [{"location": str(exc).split(":")[0], "message": str(exc)}]
            if errors:
                rejected_rows.append({"line": line, "name": row.get("name", ""), "errors": errors})
            else:
                accepted.append((line, app))
        report = {"rows": len(rows), "accepted": len(accepted), "rejected": len(rejected_rows), "rejectedRows": rejected_rows}
        if rejected_rows:
            raise Problem(422, "Invalid request", f"{len(rejected_rows)} of {len(rows)} rows rejected; nothing was imported", **report)
        if dryRun:
            return JSONResponse({**report, "imported": 0, "dryRun": True}, status_code=200)
        ids = []
        sealed = await vault.seal_actor(conn, caller.subject)  # once for the whole import
        for _, app in accepted:
            plain = domain.AppInput.model_validate(app.model_dump(exclude={"status"}))
            ids.append(str((await publish_app(conn, plain, statuses[app.status], caller.subject, sealed_actor=sealed))["id"]))
        await store.audit(conn, caller.subject, "apps.imported", "programbank", "import", {"rows": len(rows), "imported": len(ids)})
    return JSONResponse({**report, "imported": len(ids), "ids": ids, "dryRun": False}, status_code=201)


def _export_record(row: Any) -> dict[str, Any]:
    return {**store.app_input(row).model_dump(mode="json"), "status": row["status"], "id": str(row["id"]), "version": row["version"]}


@router.get("/apps/export", summary="The whole programbank as CSV or JSON (the CSV imports again as it is)", responses=documented(401, 403),
            response_model=None)
async def export(request: Request, caller: Annotated[Principal, Depends(require(*access.STAFF))],
                 format: Annotated[Literal["csv", "json"], Query()] = "csv") -> Response:
    async with request.app.state.pool.acquire() as conn:
        rows = await store.all_apps(conn)
    records = [_export_record(r) for r in rows]
    stamp = city_today().isoformat()
    if format == "json":
        return JSONResponse({"asOf": stamp, "items": records}, headers={"Content-Disposition": f'attachment; filename="programbank-{stamp}.json"'})
    return Response(csvio.write([csvio.from_record(r) for r in records]), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="programbank-{stamp}.csv"'})
