"""App records: publishing one, changing its description or its data-protection facts, setting its status
(approval, retirement, ...), and the DPA expiry job. Every change writes its audit row and its event in the
unit of work; an approval the app's data protection no longer supports lapses by rule, in the same place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from pydantic import ValidationError

from services.catalog import domain, store
from services.catalog.domain import LAPSED_STATUS, AppInput, DataProtection, StatusDefinition, privacy_rating
from services.catalog.queries import app_or_404
from services.catalog.usecases import refused
from shared.auth import Principal
from shared.events.catalog import AppChanged, AppPublished, AppRetired, AppStatusChanged, DpaExpired
from shared.privacy import vault
from shared.problems import Problem, invalid, rejected
from shared.uow import UnitOfWork

#: who the catalog's own rules act as (a lapsed approval)
SYSTEM = "skolit:catalog-rules"


@dataclass(frozen=True)
class AppState:
    """An app as a change left it: its row and its status."""

    row: asyncpg.Record
    status: StatusDefinition


def app_facts(row: asyncpg.Record, status: StatusDefinition, today: date) -> dict[str, Any]:
    """The facts every app event carries, built from the app's row in one place."""
    dp = store.data_protection(row)
    return {
        "id": row["id"], "name": row["name"], "supplier": row["supplier"], "kind": row["kind"],
        "headings": list(row["headings"]), "schoolTypes": list(row["school_types"]), "subjects": list(row["subjects"]),
        "status": status.code, "allowsUse": status.allows_use, "dpaStatus": row["dpa_status"], "dpaExpires": row["dpa_expires"],
        "processesPersonalData": dp.processes_personal_data, "transferOutsideEea": dp.transferOutsideEea,
        "privacy": privacy_rating(dp, today), "freeUse": row["free_use"], "version": row["version"],
    }


def initial_status(statuses: dict[str, StatusDefinition], code: str, app: AppInput, today: date) -> StatusDefinition:
    """The status a new app starts with; one that allows use must be supported by the app's data protection."""
    wanted = statuses.get(code)
    if wanted is None:
        raise rejected(422, f"unknown status {code!r}; statuses: {', '.join(statuses)}", "status")
    if code != domain.INITIAL_STATUS:
        try:
            domain.check_status_change(statuses[domain.INITIAL_STATUS], wanted, app.dataProtection, app.grades, today)
        except domain.Rejected as exc:
            raise refused(exc) from None
    return wanted


async def _ensure_unique(conn: asyncpg.Connection, name: str, supplier: str, other_than: UUID | None = None) -> None:
    existing = await store.find_duplicate(conn, name, supplier, other_than)
    if existing is not None:
        raise Problem(409, "Conflict", f"the programbank already has {name!r} from {supplier!r}", field="name", existingId=str(existing))


def _not_retired(status: StatusDefinition) -> None:
    if status.retires:
        raise rejected(409, "the app is retired and can no longer be changed", "status")


async def insert_app(uow: UnitOfWork, app: AppInput, status: StatusDefinition, actor: str, today: date, *,
                     sealed_actor: str | None = None) -> asyncpg.Record:
    """A new app with its audit row and AppPublished event, checks already made (by ``publish_app`` or an import).
    ``sealed_actor``: the actor as events carry it, when the caller sealed it already (an import seals once)."""
    app_id = uuid4()
    await store.insert_app(uow.conn, app_id, app, status.code, actor, today)
    await store.audit(uow.conn, actor, "app.published", "app", str(app_id), {"name": app.name, "status": status.code})
    row = await app_or_404(uow.conn, app_id)
    await uow.publish(AppPublished(**app_facts(row, status, today), publishedBy=sealed_actor or await vault.seal_actor(uow.conn, actor)))
    return row


async def publish_app(uow: UnitOfWork, caller: Principal, app: AppInput, status_code: str, today: date) -> AppState:
    """Adds an app to the programbank with the status it starts with."""
    statuses = await store.statuses(uow.conn)
    status = initial_status(statuses, status_code, app, today)
    await _ensure_unique(uow.conn, app.name, app.supplier)
    return AppState(await insert_app(uow, app, status, caller.subject, today), status)


async def _publish_changed(uow: UnitOfWork, row: asyncpg.Record, status: StatusDefinition, changed: list[str], actor: str, today: date) -> None:
    await uow.publish(AppChanged(**app_facts(row, status, today), changedFields=changed, changedBy=await vault.seal_actor(uow.conn, actor)))


async def change_app(uow: UnitOfWork, caller: Principal, app_id: UUID, changes: dict[str, Any], expected_version: int | None,
                     today: date) -> AppState:
    """Changes an app's descriptive fields (``changes``: field → new value, as an editor sends them). Nothing
    is written, audited or announced when nothing changes."""
    row = await app_or_404(uow.conn, app_id, lock=True)
    if expected_version is not None and expected_version != row["version"]:
        raise rejected(409, f"the app has changed since version {expected_version} (now {row['version']}); reload it and try again", "expectedVersion")
    statuses = await store.statuses(uow.conn)
    _not_retired(statuses[row["status"]])
    before = store.app_input(row).model_dump(mode="json")
    try:
        app = AppInput.model_validate({**before, **changes})
    except ValidationError as exc:
        raise invalid(exc) from None
    changed = domain.changed_fields(before, app.model_dump(mode="json"))
    if changed:
        await _ensure_unique(uow.conn, app.name, app.supplier, other_than=app_id)
        await store.update_app(uow.conn, app_id, app, caller.subject, today)
        await store.audit(uow.conn, caller.subject, "app.changed", "app", str(app_id), {"fields": changed})
        row = await app_or_404(uow.conn, app_id)
        await _publish_changed(uow, row, statuses[row["status"]], changed, caller.subject, today)
    return AppState(row, statuses[row["status"]])


async def set_data_protection(uow: UnitOfWork, caller: Principal, app_id: UUID, dp: DataProtection, today: date) -> AppState:
    """Records the app's data-protection facts; an approval they no longer support lapses at once."""
    row = await app_or_404(uow.conn, app_id, lock=True)
    statuses = await store.statuses(uow.conn)
    _not_retired(statuses[row["status"]])
    current = store.app_input(row)
    before = current.dataProtection.model_dump(mode="json")
    changed = [f"dataProtection.{f}" for f in domain.changed_fields(before, dp.model_dump(mode="json"))]
    if changed:
        await store.update_app(uow.conn, app_id, current.model_copy(update={"dataProtection": dp}), caller.subject, today)
        await store.audit(uow.conn, caller.subject, "app.data-protection-changed", "app", str(app_id),
                          {"fields": changed, "after": dp.model_dump(mode="json")})
        row = await app_or_404(uow.conn, app_id)
        await _publish_changed(uow, row, statuses[row["status"]], changed, caller.subject, today)
        row = await _lapse_if_unprotected(uow, row, statuses, today, "the app's data protection no longer supports its approval")
    if not await store.data_protection_reviewed(uow.conn, app_id):
        # a draft made from a request: the facts are now established, whether or not they changed
        await store.set_data_protection_reviewed(uow.conn, app_id, True)
        await store.audit(uow.conn, caller.subject, "app.data-protection-reviewed", "app", str(app_id), {"after": dp.model_dump(mode="json")})
    return AppState(row, statuses[row["status"]])


async def set_status(uow: UnitOfWork, caller: Principal, app_id: UUID, status_code: str, reason: str | None, today: date) -> AppState:
    """Gives the app a district-defined status: an approval (which its data protection must support), a pilot,
    a retirement (AppRetired; the record can then no longer change), ..."""
    row = await app_or_404(uow.conn, app_id, lock=True)
    statuses = await store.statuses(uow.conn)
    wanted = statuses.get(status_code)
    if wanted is None:
        raise rejected(422, f"unknown status {status_code!r}; statuses: {', '.join(statuses)}", "status")
    current = statuses[row["status"]]
    try:
        domain.check_status_change(current, wanted, store.data_protection(row), row["grades"], today,
                                   reviewed=await store.data_protection_reviewed(uow.conn, app_id))
    except domain.Rejected as exc:
        raise refused(exc) from None
    row = await _move_status(uow, app_id, current, wanted, actor=caller.subject, reason=reason, today=today)
    return AppState(row, wanted)


async def _move_status(uow: UnitOfWork, app_id: UUID, before: StatusDefinition, after: StatusDefinition, *,
                       actor: str, reason: str | None, today: date, automatic: bool = False) -> asyncpg.Record:
    """The one way a status changes, for people and for the rules: the status, its audit row and its event."""
    await store.set_status(uow.conn, app_id, after.code, actor)
    row = await store.get_app(uow.conn, app_id)
    assert row is not None
    await store.audit(uow.conn, actor, "app.status-changed", "app", str(app_id),
                      {"from": before.code, "to": after.code, "reason": reason, "automatic": automatic})
    facts = app_facts(row, after, today)
    by = await vault.seal_actor(uow.conn, actor)  # a person sealed, a rule's name as it is (docs/decisions/0009)
    if after.retires:
        await uow.publish(AppRetired(**facts, retiredBy=by, reason=reason))
    else:
        await uow.publish(AppStatusChanged(**facts, previousStatus=before.code, reason=reason, changedBy=by, automatic=automatic))
    return row


async def _lapse_if_unprotected(uow: UnitOfWork, row: asyncpg.Record, statuses: dict[str, StatusDefinition], today: date,
                                reason: str) -> asyncpg.Record:
    """An approval that the app's data protection no longer supports falls back to ``dpa_lapsed``:
    by rule, not by someone remembering to do it."""
    current = statuses[row["status"]]
    if not domain.lapses(current, store.data_protection(row), today):
        return row
    return await _move_status(uow, row["id"], current, statuses[LAPSED_STATUS], actor=SYSTEM, reason=reason, today=today, automatic=True)


async def expire_dpas(uow: UnitOfWork, today: date) -> dict[str, int]:
    """A signed DPA past its end date becomes expired; an approval that depended on it lapses."""
    statuses = await store.statuses(uow.conn)
    expired = lapsed = 0
    for row in await store.dpas_past_expiry(uow.conn, today):
        before = row["status"]
        await store.mark_dpa_expired(uow.conn, row["id"])
        await store.audit(uow.conn, "skolit:dpa-expiry", "app.dpa-expired", "app", str(row["id"]), {"expiredOn": row["dpa_expires"].isoformat()})
        fresh = await store.get_app(uow.conn, row["id"])
        assert fresh is not None
        after = await _lapse_if_unprotected(uow, fresh, statuses, today, f"the data processing agreement expired on {row['dpa_expires']}")
        lapsed += after["status"] != before
        expired += 1
        await uow.publish(DpaExpired(
            appId=row["id"], appName=row["name"], expiredOn=row["dpa_expires"], statusBefore=before, statusAfter=after["status"],
            schoolUnitIds=await store.licensed_schools(uow.conn, row["id"], today),
        ))
    return {"expired": expired, "lapsed": lapsed}
