"""A recipient's own choices: per message type and channel instant, digest or off; language; quiet hours.

What is refused (422 naming the field): a language without templates (``domain.LANGUAGES``), quiet hours that start when
they end (``quietHours: null`` means none), a digest on a channel the person has no contact details for, and choices
that leave no channel the person can be reached on for the school's messages (broadcasts; the in-app inbox counts)."""

from __future__ import annotations

from datetime import time
from typing import Any
from uuid import UUID

from services.notification import access, domain
from services.notification.store import preferences as store
from shared.auth import Principal
from shared.problems import rejected
from shared.uow import UnitOfWork

#: no quiet hours, as stored: a span of nothing, which ``domain.in_quiet_hours`` reads as never quiet
NO_QUIET = (time(0, 0), time(0, 0))


def quiet_json(start: time, end: time) -> dict[str, str] | None:
    return None if start == end else {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


def preferences_json(person: UUID, setting: Any, rows: list[Any], lang: str = "sv", contact_language: str | None = None) -> dict[str, Any]:
    """The answer: each message type described in the reader's language ``lang``. Without a choice of their own a
    person's language is the one the city set with their contact details, else Swedish."""
    choices = {(r["message_type"], r["channel"]): r["mode"] for r in rows}
    start, end = (setting["quiet_start"], setting["quiet_end"]) if setting else domain.DEFAULT_QUIET
    default_language = contact_language if contact_language in domain.LANGUAGES else domain.FALLBACK_LANGUAGE
    return {
        "personId": str(person), "language": setting["language"] if setting else default_language,
        "quietHours": quiet_json(start, end),
        "messageTypes": [{"messageType": t, "description": domain.describe(t, lang), "critical": t in domain.CRITICAL,
                          "channels": {c: domain.effective_mode(choices, t, c) for c in domain.CHANNELS}}
                         for t in domain.MESSAGE_TYPES],
    }


def reachable_of(facts: Any) -> set[str]:
    return {"inapp"} | ({c for c in ("email", "sms", "push") if facts[c]} if facts else set())


async def get_preferences(uow: UnitOfWork, caller: Principal, person: UUID, *, lang: str = "sv") -> dict[str, Any]:
    access.ensure_self_or_admin(caller, person)
    setting, rows = await store.preferences(uow.conn, person)
    facts = None if setting else await store.contact_facts(uow.conn, person)
    return preferences_json(person, setting, rows, lang, facts["language"] if facts else None)


def check_change(*, language: str | None, quiet: tuple[time, time] | None, choices: list[tuple[str, str, str]] | tuple[()],
                 stored: list[Any], reachable: set[str]) -> None:
    """Every rule of a change, first fault first (a ``Problem`` 422 naming the field as ``body.…``)."""
    if language is not None:
        try:
            domain.check_language(language)
        except domain.Rejected as exc:
            raise rejected(422, str(exc), f"body.{exc.field}") from None
    if quiet is not None:
        try:
            domain.check_quiet_hours(*quiet)
        except domain.Rejected as exc:
            raise rejected(422, str(exc), f"body.{exc.field}") from None
    for i, (message_type, channel, mode) in enumerate(choices):
        try:
            domain.check_choice(message_type, channel, mode)
            domain.check_digest_reachable(channel, mode, reachable)
        except domain.Rejected as exc:
            raise rejected(422, str(exc), f"body.choices.{i}.{exc.field}") from None
    after = {(r["message_type"], r["channel"]): r["mode"] for r in stored}
    after.update({(t, c): m for t, c, m in choices})
    silenced = domain.check_still_reached(after, reachable)
    if silenced is not None:
        offs = [i for i, (t, c, m) in enumerate(choices) if t == silenced and m == "off" and c in reachable]
        field = f"body.choices.{offs[-1]}.mode" if offs else "body.choices"
        on = ", ".join(c for c in domain.CHANNELS if c in reachable)
        raise rejected(422, f"these choices turn off every channel you can be reached on ({on}) for {silenced!r}: "
                            "keep at least one, e.g. the in-app inbox", field)


async def set_preferences(uow: UnitOfWork, caller: Principal, person: UUID, *, language: str | None = None,
                          quiet: tuple[time, time] | None = None, no_quiet: bool = False,
                          choices: list[tuple[str, str, str]] | tuple[()] = (), lang: str = "sv") -> dict[str, Any]:
    """Change language, quiet hours (``no_quiet``: none at all) and (message type, channel, mode) choices; what is left
    out stays as it was. Nothing is stored when any part is refused."""
    access.ensure_self_or_admin(caller, person)
    setting, stored = await store.preferences(uow.conn, person)
    facts = await store.contact_facts(uow.conn, person)
    check_change(language=language, quiet=quiet, choices=choices, stored=stored, reachable=reachable_of(facts))
    await store.save_preferences(uow.conn, person, language=language, quiet=NO_QUIET if no_quiet else quiet, choices=list(choices))
    setting, rows = await store.preferences(uow.conn, person)
    return preferences_json(person, setting, rows, lang)
