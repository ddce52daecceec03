"""The in-app inbox: a recipient's messages in their language (each read in the access log), and marking one read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.notification import access, templates
from services.notification.access_audit import Action, log_at, why
from services.notification.settings import NOTIFICATION
from services.notification.store import messages as message_store
from services.notification.store import preferences as preference_store
from shared.auth import Principal
from shared.problems import Problem
from shared.uow import UnitOfWork


async def read_inbox(uow: UnitOfWork, caller: Principal, person: UUID, *, limit: int, reason: str | None, path: str) -> dict[str, Any]:
    """The newest ``limit`` in-app messages; ``own-data`` for the recipient, a reason (422 without) for anyone else."""
    access.ensure_self_or_admin(caller, person)
    why_code = why(caller, person, reason)
    setting, _ = await preference_store.preferences(uow.conn, person)
    rows = await message_store.inbox(uow.conn, person, limit)
    await log_at(uow.conn, path, caller, Action.MESSAGES_READ, why_code=why_code, subject=person)
    language = setting["language"] if setting else "sv"
    items = []
    for r in rows:
        subject, body, used = templates.compose(r["message_type"], language, dict(r["data"]), r["school"], NOTIFICATION.web_url)
        items.append({"id": str(r["id"]), "type": r["message_type"], "critical": r["critical"], "subject": subject, "body": body,
                      "language": used, "createdAt": r["created_at"].isoformat(), "read": r["read_at"] is not None})
    return {"personId": str(person), "unread": sum(1 for i in items if not i["read"]), "items": items}


async def mark_read(uow: UnitOfWork, caller: Principal, person: UUID, message_id: UUID) -> dict[str, Any]:
    access.ensure_self_or_admin(caller, person)
    if not await message_store.mark_read(uow.conn, person, message_id):
        raise Problem(404, "Not found", f"message {message_id} is not in this inbox")
    return {"messageId": str(message_id), "read": True}
