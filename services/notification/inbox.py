"""The in-app inbox: a recipient's messages in their language, and marking one read. Every read of an
inbox is in the access log (access_audit.py): ``own-data`` for the recipient, a reason for anyone else."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.notification import store, templates
from services.notification.access_audit import REASON_HELP, Action, Reason, log, why
from services.notification.preferences import ensure_self_or_admin
from services.notification.settings import NOTIFICATION
from shared.auth import Principal, require
from shared.problems import Problem, documented

router = APIRouter(tags=["inbox"])


@router.get("/persons/{person_id}/messages", summary="A recipient's in-app messages, newest first, in their language (logged)",
            responses=documented(401, 403, 422))
async def messages(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require())],
                   limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   reason: Annotated[Reason | None, Query(description=REASON_HELP + "; not needed for one's own inbox")] = None) -> dict[str, Any]:
    ensure_self_or_admin(caller, person_id)
    why_code = why(caller, person_id, reason)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        setting, _ = await store.preferences(conn, person_id)
        rows = await store.inbox(conn, person_id, limit)
        await log(conn, request, caller, Action.MESSAGES_READ, why_code=why_code, subject=person_id)
    language = setting["language"] if setting else "sv"
    items = []
    for r in rows:
        subject, body, used = templates.compose(r["message_type"], language, dict(r["data"]), r["school"], NOTIFICATION.web_url)
        items.append({"id": str(r["id"]), "type": r["message_type"], "critical": r["critical"], "subject": subject, "body": body,
                      "language": used, "createdAt": r["created_at"].isoformat(), "read": r["read_at"] is not None})
    return {"personId": str(person_id), "unread": sum(1 for i in items if not i["read"]), "items": items}


@router.post("/persons/{person_id}/messages/{message_id}/read", summary="Mark an in-app message read", responses=documented(401, 403, 404))
async def read(request: Request, person_id: UUID, message_id: UUID, caller: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    ensure_self_or_admin(caller, person_id)
    async with request.app.state.pool.acquire() as conn:
        if not await store.mark_read(conn, person_id, message_id):
            raise Problem(404, "Not found", f"message {message_id} is not in this inbox")
    return {"messageId": str(message_id), "read": True}
