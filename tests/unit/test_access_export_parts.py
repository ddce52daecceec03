"""A service's part of a right-of-access export (shared/privacy/export.py): JSON, compressed, sealed for the
request and bound to it and to the service; an erased person's part says so; a part too large for an event
is replaced by a note."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from shared.privacy import export, sealedbox


def test_a_part_round_trips_as_json_and_is_bound_to_its_request_and_service() -> None:
    private_key, public_key = sealedbox.keypair()
    request, person = uuid.uuid4(), uuid.uuid4()
    tables: export.Tables = {"contacts": [{"email": "anna@example.se", "person": person, "at": datetime(2026, 11, 1, 8, tzinfo=UTC),
                                           "day": date(2026, 11, 1), "quiet": time(21), "raw": b"\x00\x01", "n": Decimal("2.5"),
                                           "wait": timedelta(minutes=2), "detail": {"k": [1, 2]}}]}
    text, rows = export.sealed_answer(public_key, request, "notification", tables)
    assert rows == 1 and "anna" not in text and b"anna" not in base64.b64decode(text)
    part = export.open_part(private_key, request, "notification", text)
    assert part["service"] == "notification" and part["erased"] is False
    assert part["tables"]["contacts"] == [{"email": "anna@example.se", "person": str(person), "at": "2026-11-01T08:00:00Z", "day": "2026-11-01",
                                           "quiet": "21:00:00", "raw": "AAE=", "n": 2.5, "wait": 120.0, "detail": {"k": [1, 2]}}]
    for other_request, other_service in ((uuid.uuid4(), "notification"), (request, "catalog")):
        with pytest.raises(sealedbox.SealedBoxError):
            export.open_part(private_key, other_request, other_service, text)


def test_an_erased_person_gets_a_part_that_says_so() -> None:
    private_key, public_key = sealedbox.keypair()
    request = uuid.uuid4()
    text, rows = export.sealed_answer(public_key, request, "assessment", None)
    part = export.open_part(private_key, request, "assessment", text)
    assert rows == 0 and part["erased"] is True and part["tables"] == {} and "erased" in part["note"]


def test_a_part_too_large_for_an_event_becomes_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    private_key, public_key = sealedbox.keypair()
    request = uuid.uuid4()
    noise = [{"comment": base64.b64encode(os.urandom(300)).decode()} for _ in range(100)]  # incompressible
    monkeypatch.setattr(export, "MAX_PART_CHARS", 10_000)
    text, rows = export.sealed_answer(public_key, request, "assessment", {"answersSaved": noise})
    assert rows == 100 and len(text) <= 10_000
    part = export.open_part(private_key, request, "assessment", text)
    assert part["tables"] == {} and part["erased"] is False and "100 rows" in part["note"]
