"""The access log of personal data: every read of a person's contact details or messages through the
API — their inbox, a broadcast's receipts per recipient, the unreached worklist, the quiet-hours bypass
log, one's own contact details and devices (routes/me.py: every change and confirmation too) — and every
write of contact details leaves one row in ``personal_data_access`` (who, with which roles, what, about whom,
when, why, by which path), in the same transaction as the read. The table is append-only in the database
(migrations/0006_access_audit.sql); only the retention job removes rows, after five years (its retention rules,
services/notification/privacy.py).

Why: someone reading another person's data names a reason (the ``reason`` query parameter, one of
``REASONS``; a read without one is a 422). A person reading their own data needs none: the row says
``own-data``. The city's systems writing contact details: ``city-sync``.

The data-protection officer (role ``data_protection``) reads the log at ``GET /privacy/access-log``;
that read is logged too (routes/access_log.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

import asyncpg
from fastapi import Request

from services.notification.store import audit as audit_store
from shared.auth import Principal
from shared.problems import rejected

#: why someone reads another person's data
Reason = Literal["support", "correction", "access-request", "delivery-problem", "guardian-request", "dpo-review"]
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]
REASON_HELP = ("why you read another person's data, logged with the read: support, correction, access-request (answering a "
               "person's request for their data), delivery-problem, guardian-request, dpo-review")
OWN_DATA = "own-data"
CITY_SYNC = "city-sync"


class Action(StrEnum):
    CONTACT_READ = "contact.read"
    CONTACT_WRITE = "contact.write"
    MESSAGES_READ = "messages.read"
    RECEIPTS_READ = "receipts.read"
    UNREACHED_READ = "unreached.read"
    BYPASSES_READ = "quiet-hours-bypasses.read"
    LOG_READ = "access-log.read"
    # a person's own contact details and devices (routes/me.py): always own-data
    CONTACT_PENDING = "contact.pending"            # a new address or number, its code sent to it
    CONTACT_CONFIRM = "contact.confirm"            # confirmed with the code: now the one in use
    CONTACT_CONFIRM_FAILED = "contact.confirm-failed"  # a wrong, expired or exhausted code
    CONTACT_REMOVE = "contact.remove"
    DEVICE_READ = "device.read"
    DEVICE_ADD = "device.add"
    DEVICE_REMOVE = "device.remove"


def own(caller: Principal, person: UUID) -> bool:
    return caller.subject.strip().lower() == str(person)


def why(caller: Principal, person: UUID | None, reason: str | None) -> str:
    """The why-code of a read: ``own-data`` for one's own, else the reason given — required (422 without)."""
    if person is not None and own(caller, person):
        return OWN_DATA
    if reason is None:
        raise rejected(422, "reading another person's data needs a reason: " + ", ".join(REASONS), "reason")
    return reason


async def log(conn: asyncpg.Connection, request: Request, caller: Principal, action: Action, *, why_code: str,
              subject: UUID | None = None, subjects: list[UUID] | tuple[UUID, ...] = ()) -> None:
    """One row: a read (or write) about ``subject``, or a list that carried ``subjects``."""
    await log_at(conn, request.url.path, caller, action, why_code=why_code, subject=subject, subjects=subjects)


async def log_at(conn: asyncpg.Connection, path: str, caller: Principal, action: Action, *, why_code: str,
                 subject: UUID | None = None, subjects: list[UUID] | tuple[UUID, ...] = ()) -> None:
    """``log`` with the path given (a use case has no request)."""
    await audit_store.record(conn, entry(path, caller, action, why_code=why_code, subject=subject, subjects=subjects))


def entry(path: str, caller: Principal, action: Action, *, why_code: str, subject: UUID | None = None,
          subjects: list[UUID] | tuple[UUID, ...] = ()) -> audit_store.Access:
    """The row ``log_at`` writes, for a read that writes it in its own statement."""
    everyone = list(dict.fromkeys([*([subject] if subject is not None else []), *subjects]))
    return audit_store.Access(actor=caller.subject, roles=sorted(str(r) for r in caller.roles), action=action.value,
                              subject=subject, subjects=everyone, why=why_code, path=path)


async def log_each(conn: asyncpg.Connection, request: Request, caller: Principal, action: Action, *, why_code: str,
                   subjects: list[UUID]) -> None:
    """One row per person, e.g. a bulk write of contact details."""
    await log_each_at(conn, request.url.path, caller, action, why_code=why_code, subjects=subjects)


async def log_each_at(conn: asyncpg.Connection, path: str, caller: Principal, action: Action, *, why_code: str,
                      subjects: list[UUID]) -> None:
    """``log_each`` with the path given (a use case has no request)."""
    await audit_store.record_each(conn, actor=caller.subject, roles=sorted(str(r) for r in caller.roles), action=action.value,
                                  subjects=subjects, why=why_code, path=path)


def row_json(r: asyncpg.Record) -> dict[str, Any]:
    return {"id": r["id"], "at": r["at"].isoformat(), "actor": r["actor"], "actorRoles": list(r["actor_roles"]), "action": r["action"],
            "subject": str(r["subject"]) if r["subject"] else None, "subjects": [str(s) for s in r["subjects"]], "why": r["why_code"],
            "path": r["path"]}
