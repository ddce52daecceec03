"""Importing an existing programbank: every row checked like a published app, then all rows or none."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from services.catalog import csvio, store
from services.catalog.domain import NewApp
from services.catalog.usecases.apps import initial_status, insert_app
from shared.auth import Principal
from shared.privacy import vault
from shared.problems import Problem, error_list
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class ImportReport:
    """What an import found (``report``: rows, accepted, rejected, rejectedRows) and the ids of the apps it made."""

    report: dict[str, Any]
    ids: list[str] = field(default_factory=list)
    dry_run: bool = False


async def import_apps(uow: UnitOfWork, caller: Principal, rows: list[tuple[int, dict[str, str]]], today: date, *,
                      dry_run: bool = False) -> ImportReport:
    """Checks every CSV row (line number, columns) as POST /apps would, and a name and supplier seen twice; if any
    row is rejected, refuses the whole import (422, each rejected line with its reasons) and nothing is imported.
    ``dry_run`` only checks."""
    accepted: list[NewApp] = []
    rejected_rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    statuses = await store.statuses(uow.conn)
    for line, row in rows:
        errors: list[dict[str, str]] = []
        try:
            app = NewApp.model_validate(csvio.to_input(row))
            key = (" ".join(app.name.lower().split()), " ".join(app.supplier.lower().split()))
            if key in seen:
                errors.append({"location": "name", "message": f"the same app as line {seen[key]}"})
            elif await store.find_duplicate(uow.conn, app.name, app.supplier) is not None:
                errors.append({"location": "name", "message": f"{app.name!r} from {app.supplier!r} is already in the programbank"})
            seen.setdefault(key, line)
            try:
                initial_status(statuses, app.status, app, today)
            except Problem as exc:
                errors.append({"location": "status", "message": exc.detail or exc.title})
        except ValidationError as exc:
            errors = error_list(exc.errors())
        except csvio.RowError as exc:
            errors = [{"location": str(exc).split(":")[0], "message": str(exc)}]
        if errors:
            rejected_rows.append({"line": line, "name": row.get("name", ""), "errors": errors})
        else:
            accepted.append(app)
    report: dict[str, Any] = {"rows": len(rows), "accepted": len(accepted), "rejected": len(rejected_rows), "rejectedRows": rejected_rows}
    if rejected_rows:
        raise Problem(422, "Invalid request", f"{len(rejected_rows)} of {len(rows)} rows rejected; nothing was imported", **report)
    if dry_run:
        return ImportReport(report, dry_run=True)
    ids = []
    sealed = await vault.seal_actor(uow.conn, caller.subject)  # once for the whole import
    for app in accepted:
        ids.append(str((await insert_app(uow, app.description_only(), statuses[app.status], caller.subject, today, sealed_actor=sealed))["id"]))
    await store.audit(uow.conn, caller.subject, "apps.imported", "programbank", "import", {"rows": len(rows), "imported": len(ids)})
    return ImportReport(report, ids)
