"""The district-defined statuses an app can have: defining a new one (city admins)."""

from __future__ import annotations

from services.catalog import store
from services.catalog import vocabulary as vocab
from services.catalog.domain import StatusDefinition
from shared.auth import Principal
from shared.problems import rejected
from shared.uow import UnitOfWork


async def define_status(uow: UnitOfWork, caller: Principal, status: StatusDefinition) -> StatusDefinition:
    unknown = [g for g in status.grades if g not in vocab.GRADES]
    if unknown:
        raise rejected(422, f"unknown grade(s) {', '.join(unknown)}; grades: {', '.join(vocab.GRADES)}", "grades")
    if status.retires and status.allows_use:
        raise rejected(422, "a status that retires an app cannot allow its use", "allowsUse")
    if not await store.define_status(uow.conn, status, caller.subject):
        raise rejected(409, f"the status {status.code} exists already", "code")
    await store.audit(uow.conn, caller.subject, "status.defined", "status", status.code, {
        "code": status.code, "labelSv": status.label_sv, "labelEn": status.label_en, "allowsUse": status.allows_use,
        "grades": list(status.grades), "retires": status.retires})
    return status
