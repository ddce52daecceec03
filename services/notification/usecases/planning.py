"""Planning after answering (decision 0026): a broadcast to a whole city answers once its messages exist; the
deliveries of the recipients it did not plan at once are made here, a chunk a transaction, by the planner worker
(planner.py). The chunk's delivery rows and its removal from the waiting list commit together, so a crash mid-plan
resumes at the next chunk and nothing is planned twice; the senders pick up each chunk's deliveries as it commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.notification import messages
from services.notification.store import planning as store
from shared.uow import UnitOfWork


async def plan_next_chunk(uow: UnitOfWork, size: int, max_attempts: int, now: datetime) -> dict[str, Any] | None:
    """Plans the next chunk of one waiting message; None when nothing waits. The chunk is locked for this transaction,
    so planners on several replicas take different messages."""
    row = await store.next_chunk(uow.conn, size, max_attempts)
    if row is None:
        return None
    chunk = list(row["chunk"])
    try:
        # a savepoint: a chunk the database refuses is undone alone, and its message, still locked by us, records why
        async with uow.conn.transaction():
            deliveries = await messages.plan_for(uow.conn, row["message_id"], chunk, row["message_type"], now)
            await store.take(uow.conn, row["message_id"], len(chunk))
    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
        raise  # the database, not the message: the planner tries again shortly
    except Exception as exc:  # anything this message's data causes: recorded, and the others go on
        reason = f"{type(exc).__name__}: {exc}"
        await store.failed(uow.conn, row["message_id"], reason)
        return {"messageId": row["message_id"], "recipients": 0, "failed": reason}
    return {"messageId": row["message_id"], "recipients": len(chunk), "deliveries": deliveries, "left": row["waiting"] - len(chunk)}
