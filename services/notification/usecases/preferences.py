"""A recipient's own choices: per message type and channel instant, digest or off; language; quiet hours."""

from __future__ import annotations

from datetime import time
from typing import Any
from uuid import UUID

from services.notification import access, domain
from services.notification.store import preferences as store
from shared.auth import Principal
from shared.problems import rejected
from shared.uow import UnitOfWork


def preferences_json(person: UUID, setting: Any, rows: list[Any], lang: str = "sv") -> dict[str, Any]:
    """The answer: each message type described in the reader's language ``lang``."""
    choices = {(r["message_type"], r["channel"]): r["mode"] for r in rows}
    start, end = (setting["quiet_start"], setting["quiet_end"]) if setting else domain.DEFAULT_QUIET
    return {
        "personId": str(person), "language": setting["language"] if setting else "sv",
        "quietHours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
        "messageTypes": [{"messageType": t, "description": domain.describe(t, lang), "critical": t in domain.CRITICAL,
                          "channels": {c: domain.effective_mode(choices, t, c) for c in domain.CHANNELS}}
                         for t in domain.MESSAGE_TYPES],
    }


async def get_preferences(uow: UnitOfWork, caller: Principal, person: UUID, *, lang: str = "sv") -> dict[str, Any]:
    access.ensure_self_or_admin(caller, person)
    setting, rows = await store.preferences(uow.conn, person)
    return preferences_json(person, setting, rows, lang)


async def set_preferences(uow: UnitOfWork, caller: Principal, person: UUID, *, language: str | None = None,
                          quiet: tuple[time, time] | None = None, choices: list[tuple[str, str, str]] | tuple[()] = (), lang: str = "sv") -> dict[str, Any]:
    """Change language, quiet hours and (message type, channel, mode) choices; critical messages cannot be turned off."""
    access.ensure_self_or_admin(caller, person)
    for i, (message_type, channel, mode) in enumerate(choices):
        try:
            domain.check_choice(message_type, channel, mode)
        except domain.Rejected as exc:
            raise rejected(422, str(exc), f"choices.{i}.{exc.field}") from None
    await store.save_preferences(uow.conn, person, language=language, quiet=quiet, choices=list(choices))
    setting, rows = await store.preferences(uow.conn, person)
    return preferences_json(person, setting, rows, lang)
