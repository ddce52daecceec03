"""Notification's use cases (services/notification/usecases/) without a database: the store functions they
call are replaced, and a fake unit of work records what would be staged in the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.notification import domain, usecases
from services.notification.store import messages as message_store
from services.notification.store import planning as planning_store
from services.notification.store import preferences as preference_store
from services.notification.store import reach as reach_store
from shared.auth import Principal, Role
from shared.events.city import PersonRemoved
from shared.events.notification import GuardianReachMeasured
from shared.http.pages import PageRequest
from shared.problems import Problem
from tests.support.uow import FakeUnitOfWork



def run(coro: Any) -> Any:
    return asyncio.run(coro)


PERSON = uuid4()
SELF = Principal(subject=str(PERSON), roles=frozenset({Role.GUARDIAN}))
OTHER = Principal(subject=str(uuid4()), roles=frozenset({Role.TEACHER}))


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The preference store, in memory."""
    state: dict[str, Any] = {"setting": None, "rows": [], "facts": {"email": False, "sms": True, "push": False, "language": None}}

    async def preferences(conn: Any, person: UUID) -> tuple[Any, list[Any]]:
        return state["setting"], state["rows"]

    async def save_preferences(conn: Any, person: UUID, *, language: str | None, quiet: Any, choices: list[tuple[str, str, str]]) -> None:
        state["saved"] = {"person": person, "language": language, "quiet": quiet, "choices": choices}
        start, end = quiet or (time(21), time(7))
        state["setting"] = {"language": language or "sv", "quiet_start": start, "quiet_end": end}
        state["rows"] = [{"message_type": t, "channel": c, "mode": m} for t, c, m in choices]

    async def contact_facts(conn: Any, person: UUID) -> dict[str, Any]:
        return state["facts"]

    monkeypatch.setattr(preference_store, "preferences", preferences)
    monkeypatch.setattr(preference_store, "save_preferences", save_preferences)
    monkeypatch.setattr(preference_store, "contact_facts", contact_facts)
    return state


def test_set_preferences_saves_and_answers_the_new_choices(saved: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    result = run(usecases.set_preferences(uow, SELF, PERSON, language="en", quiet=(time(22), time(6)),  # type: ignore[arg-type]
                                          choices=[("broadcast", "sms", "digest")]))
    assert saved["saved"] == {"person": PERSON, "language": "en", "quiet": (time(22), time(6)), "choices": [("broadcast", "sms", "digest")]}
    assert result["personId"] == str(PERSON) and result["language"] == "en"
    assert result["quietHours"] == {"start": "22:00", "end": "06:00"}
    broadcast = next(t for t in result["messageTypes"] if t["messageType"] == "broadcast")
    assert broadcast["channels"]["sms"] == "digest"
    assert uow.events == []  # a preference is no event


def test_set_preferences_refuses_others_and_critical_off(saved: dict[str, Any]) -> None:
    with pytest.raises(Problem) as forbidden:
        run(usecases.set_preferences(FakeUnitOfWork(), OTHER, PERSON, language="en"))  # type: ignore[arg-type]
    assert forbidden.value.status == 403
    with pytest.raises(Problem) as refused:
        run(usecases.set_preferences(FakeUnitOfWork(), SELF, PERSON, choices=[("critical", "sms", "off")]))  # type: ignore[arg-type]
    assert refused.value.status == 422
    assert "saved" not in saved  # nothing stored either time


def refused_field(**change: Any) -> str:
    with pytest.raises(Problem) as refused:
        run(usecases.set_preferences(FakeUnitOfWork(), SELF, PERSON, **change))  # type: ignore[arg-type]
    assert refused.value.status == 422
    return str(refused.value.extra["field"])


def test_preferences_refuse_what_would_silently_not_work_naming_the_field(saved: dict[str, Any]) -> None:
    # a language without templates; quiet hours that start when they end (none is quietHours: null)
    assert refused_field(language="fi") == "body.language"
    assert refused_field(quiet=(time(0), time(0))) == "body.quietHours.end"
    assert refused_field(quiet=(time(22, 30), time(22, 30))) == "body.quietHours.end"
    # a digest by e-mail without an e-mail address (the person has a mobile number only); SMS is fine
    assert refused_field(choices=[("broadcast", "sms", "digest"), ("broadcast", "email", "digest")]) == "body.choices.1.mode"
    # every channel the person can be reached on turned off for broadcasts, the in-app inbox too
    assert refused_field(choices=[("broadcast", "inapp", "off"), ("broadcast", "sms", "off"), ("broadcast", "push", "off")]) \
        == "body.choices.1.mode"  # the last channel taken away that could reach them (they have no push device)
    assert "saved" not in saved  # nothing stored any time
    # one channel left is enough, and another type may be silenced entirely
    run(usecases.set_preferences(FakeUnitOfWork(), SELF, PERSON, choices=[("broadcast", "inapp", "off"), ("broadcast", "sms", "instant"),  # type: ignore[arg-type]
                                                                       *(("licence-expiring", c, "off") for c in domain.CHANNELS)]))
    # … but a later change may not take the last one away: the stored choices count
    assert refused_field(choices=[("broadcast", "sms", "off")]) == "body.choices.0.mode"


def test_no_quiet_hours_is_stored_as_an_empty_span_and_answered_as_null(saved: dict[str, Any]) -> None:
    result = run(usecases.set_preferences(FakeUnitOfWork(), SELF, PERSON, no_quiet=True))  # type: ignore[arg-type]
    assert saved["saved"]["quiet"] == (time(0), time(0)) and result["quietHours"] is None
    assert not domain.in_quiet_hours(time(3), time(0), time(0))


def test_without_a_choice_the_language_is_the_citys_when_supported(saved: dict[str, Any]) -> None:
    saved["facts"] = {"email": True, "sms": False, "push": False, "language": "en"}
    assert run(usecases.get_preferences(FakeUnitOfWork(), SELF, PERSON))["language"] == "en"  # type: ignore[arg-type]
    saved["facts"] = {"email": True, "sms": False, "push": False, "language": "fi"}
    assert run(usecases.get_preferences(FakeUnitOfWork(), SELF, PERSON))["language"] == "sv"  # type: ignore[arg-type]


def test_run_reach_publishes_each_changed_school_with_guardians(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = uuid4(), uuid4()
    changed = [{"school_unit": a, "guardians": 4, "reached": 3}, {"school_unit": b, "guardians": 0, "reached": 0}]
    published: list[Any] = []

    async def guardian_reach(conn: Any, year: int, since: Any) -> list[dict[str, Any]]:
        assert year == 2026
        return changed

    async def reach_published(conn: Any, year: int, rows: list[Any]) -> None:
        published.append((year, rows))

    monkeypatch.setattr(reach_store, "guardian_reach", guardian_reach)
    monkeypatch.setattr(reach_store, "reach_published", reach_published)
    uow = FakeUnitOfWork()
    assert run(usecases.run_reach(uow, date(2026, 11, 3))) == {"schools": 2}  # type: ignore[arg-type]
    assert len(uow.events) == 1
    event = uow.events[0]
    assert isinstance(event, GuardianReachMeasured)
    assert (event.schoolUnitId, event.year, event.guardians, event.reached, event.share) == (a, 2026, 4, 3, 0.75)
    assert published == [(2026, changed)]


def test_mark_read_is_404_for_a_message_not_in_the_inbox(monkeypatch: pytest.MonkeyPatch) -> None:
    marked: list[Any] = []

    async def mark_read(conn: Any, person: UUID, message_id: UUID) -> bool:
        marked.append((person, message_id))
        return bool(len(marked) == 1)

    monkeypatch.setattr(message_store, "mark_read", mark_read)
    message = uuid4()
    assert run(usecases.mark_read(FakeUnitOfWork(), SELF, PERSON, message)) == {"messageId": str(message), "read": True}  # type: ignore[arg-type]
    with pytest.raises(Problem) as missing:
        run(usecases.mark_read(FakeUnitOfWork(), SELF, PERSON, message))  # type: ignore[arg-type]
    assert missing.value.status == 404
    with pytest.raises(Problem) as forbidden:
        run(usecases.mark_read(FakeUnitOfWork(), OTHER, PERSON, message))  # type: ignore[arg-type]
    assert forbidden.value.status == 403 and len(marked) == 2


def test_a_removed_person_gets_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    cancelled: list[Any] = []

    async def cancel_pending(conn: Any, person: UUID, school_unit: UUID | None) -> int:
        cancelled.append((person, school_unit))
        return 2

    forgotten: list[Any] = []

    async def forget(conn: Any, person: UUID, school_unit: UUID | None) -> int:
        forgotten.append((person, school_unit))
        return 1

    monkeypatch.setattr(message_store, "cancel_pending", cancel_pending)
    monkeypatch.setattr(planning_store, "forget", forget)
    uow = FakeUnitOfWork()
    run(usecases.apply_person_removed(uow, PersonRemoved(id=PERSON), "event-1"))  # type: ignore[arg-type]
    # what was queued is cancelled, and they leave every broadcast not planned yet
    assert cancelled == [(PERSON, None)] and forgotten == [(PERSON, None)] and uow.events == []


def test_preferences_describe_each_message_type_in_the_readers_language(saved: dict[str, Any]) -> None:
    swedish = run(usecases.get_preferences(FakeUnitOfWork(), SELF, PERSON))  # type: ignore[arg-type]
    english = run(usecases.get_preferences(FakeUnitOfWork(), SELF, PERSON, lang="en"))  # type: ignore[arg-type]
    described = {t["messageType"]: t["description"] for t in swedish["messageTypes"]}
    assert described["critical"] == "Brådskande meddelanden (t.ex. att skolan är stängd i dag)"
    assert {t["messageType"]: t["description"] for t in english["messageTypes"]}["critical"] == "Urgent messages (e.g. the school is closed today)"
    assert set(described) == set(domain.MESSAGE_TYPES) == set(domain.MESSAGE_TYPES_SV)  # every type has its Swedish text


def test_the_inbox_counts_unread_over_the_whole_inbox_not_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    logged_rows: list[Any] = []
    now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)

    def row(i: int, read: bool) -> dict[str, Any]:
        return {"id": uuid4(), "message_type": "broadcast", "data": {"subject": f"Meddelande {i}", "body": "Hej", "link": ""}, "critical": False,
                "created_at": now, "read_at": now if read else None, "school": "Rosengårdsskolan", "total": 5, "unread": 4, "language": chosen[0]}

    chosen: list[str | None] = [None]  # the recipient's own language (recipient_setting), none yet

    async def inbox(conn: Any, person: UUID, limit: int, offset: int, logged: Any) -> list[dict[str, Any]]:
        logged_rows.append(logged)  # the read logs itself in its own statement, rows or none
        rows = [row(0, True), row(1, False), row(2, False), row(3, False), row(4, False)]
        return rows[offset: offset + limit]

    async def inbox_counts(conn: Any, person: UUID) -> dict[str, int]:
        return {"total": 5, "unread": 4}

    monkeypatch.setattr(message_store, "inbox", inbox)
    monkeypatch.setattr(message_store, "inbox_counts", inbox_counts)
    first = run(usecases.read_inbox(FakeUnitOfWork(), SELF, PERSON, page=PageRequest(limit=2, offset=0), reason=None, path="/x"))  # type: ignore[arg-type]
    assert (len(first["items"]), first["unread"], first["total"]) == (2, 4, 5) and first["next"] is not None
    assert [i["read"] for i in first["items"]] == [True, False]  # one unread on the page, four in the inbox
    last = run(usecases.read_inbox(FakeUnitOfWork(), SELF, PERSON, page=PageRequest(limit=2, offset=4), reason=None, path="/x"))  # type: ignore[arg-type]
    assert (len(last["items"]), last["next"], last["unread"]) == (1, None, 4)
    past = run(usecases.read_inbox(FakeUnitOfWork(), SELF, PERSON, page=PageRequest(limit=2, offset=10), reason=None, path="/x"))  # type: ignore[arg-type]
    assert (past["items"], past["total"], past["unread"]) == ([], 5, 4)
    english = run(usecases.read_inbox(FakeUnitOfWork(), SELF, PERSON, page=PageRequest(limit=1, offset=0), reason=None, path="/x",  # type: ignore[arg-type]
                                      default_lang="en"))
    assert english["items"][0]["language"] == "en"  # no language chosen: the reader's
    chosen[0] = "en"
    assert run(usecases.read_inbox(FakeUnitOfWork(), SELF, PERSON, page=PageRequest(limit=1, offset=0), reason=None,  # type: ignore[arg-type]
                                   path="/x"))["items"][0]["language"] == "en"  # the recipient's choice over the default
    assert [(r.why, r.action, r.subject, r.subjects, r.path) for r in logged_rows] == [("own-data", "messages.read", PERSON, [PERSON], "/x")] * 5
