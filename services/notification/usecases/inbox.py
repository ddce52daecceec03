"""The in-app inbox: a recipient's messages in their language (each read in the access log), and marking one read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.notification import access, templates
from services.notification.access_audit import Action, entry, why
from services.notification.settings import NOTIFICATION
from services.notification.store import messages as message_store
from shared.auth import Principal
from shared.http.pages import PageRequest
from shared.problems import Problem
from shared.uow import UnitOfWork


async def read_inbox(uow: UnitOfWork, caller: Principal, person: UUID, *, page: PageRequest, reason: str | None, path: str,
                     lang: str | None = None, default_lang: str = "sv") -> dict[str, Any]:
    """A page of the in-app messages, newest first (``Inbox``); ``own-data`` for the recipient, a reason (422 without) for
    anyone else. Written in ``lang`` when the reader asked for one (?lang=), else in the recipient's chosen language, else in
    ``default_lang`` (the reader's Accept-Language). ``unread`` and
    ``total`` count the whole inbox."""
    access.ensure_self_or_admin(caller, person)
    why_code = why(caller, person, reason)
    # the page, the recipient's language and the access log's row in one statement: the inbox is what every guardian
    # opens after a city-wide message (issue 24's read storm)
    rows = await message_store.inbox(uow.conn, person, page.fetch, page.offset,
                                     entry(path, caller, Action.MESSAGES_READ, why_code=why_code, subject=person))
    if rows:
        total, unread = rows[0]["total"], rows[0]["unread"]
    else:
        counts = await message_store.inbox_counts(uow.conn, person) if page.offset else None
        total, unread = (counts["total"], counts["unread"]) if counts else (0, 0)
    language = lang or (rows[0]["language"] if rows else None) or default_lang

    def item(r: Any) -> dict[str, Any]:
        subject, body, used = templates.compose(r["message_type"], language, dict(r["data"]), r["school"], NOTIFICATION.web_url)
        return {"id": str(r["id"]), "type": r["message_type"], "critical": r["critical"], "subject": subject, "body": body,
                "language": used, "createdAt": r["created_at"].isoformat(), "read": r["read_at"] is not None}

    return {**page.page(rows, total=total, item=item), "personId": str(person), "unread": unread}


async def mark_read(uow: UnitOfWork, caller: Principal, person: UUID, message_id: UUID) -> dict[str, Any]:
    access.ensure_self_or_admin(caller, person)
    if not await message_store.mark_read(uow.conn, person, message_id):
        raise Problem(404, "Not found", f"message {message_id} is not in this inbox")
    return {"messageId": str(message_id), "read": True}
