"""The rules of one's own contact details and devices, without I/O (services/notification/domain.py, the keyed
hashes of usecases/self_service.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.notification import domain
from services.notification.usecases.self_service import code_hash, confirmed_hash

NOW = datetime(2026, 11, 3, 7, 30, tzinfo=UTC)


def test_a_code_has_six_digits_with_its_leading_zeros() -> None:
    assert domain.new_code(lambda n: 42) == "000042"
    assert domain.new_code(lambda n: n - 1) == "999999"
    assert len({domain.new_code(__import__("secrets").randbelow) for _ in range(200)}) > 150


def test_a_right_code_confirms_until_it_expires() -> None:
    expires = NOW + domain.CODE_TTL
    assert domain.CODE_TTL == timedelta(minutes=15)
    assert domain.code_verdict(matches=True, attempts=0, expires_at=expires, now=NOW) == "confirmed"
    assert domain.code_verdict(matches=True, attempts=0, expires_at=expires, now=expires - timedelta(seconds=1)) == "confirmed"
    assert domain.code_verdict(matches=True, attempts=0, expires_at=expires, now=expires) == "expired"
    assert domain.code_verdict(matches=False, attempts=0, expires_at=expires, now=expires + timedelta(hours=1)) == "expired"


def test_after_the_last_wrong_try_not_even_the_right_code_confirms() -> None:
    expires = NOW + domain.CODE_TTL
    for attempts in range(domain.CODE_ATTEMPTS):
        assert domain.code_verdict(matches=False, attempts=attempts, expires_at=expires, now=NOW) == "wrong"
        assert domain.code_verdict(matches=True, attempts=attempts, expires_at=expires, now=NOW) == "confirmed"
    assert domain.code_verdict(matches=True, attempts=domain.CODE_ATTEMPTS, expires_at=expires, now=NOW) == "exhausted"
    assert domain.code_verdict(matches=False, attempts=domain.CODE_ATTEMPTS + 3, expires_at=expires, now=NOW) == "exhausted"
    assert [domain.tries_left(a) for a in range(7)] == [5, 4, 3, 2, 1, 0, 0]


def test_at_most_five_codes_an_hour_per_channel() -> None:
    assert domain.code_window(0, None, NOW) == (1, NOW)
    start = NOW - timedelta(minutes=10)
    assert domain.code_window(1, start, NOW) == (2, start)
    assert domain.code_window(4, start, NOW) == (5, start)
    assert domain.code_window(5, start, NOW) is None
    assert domain.code_window(5, NOW - domain.CODE_WINDOW, NOW) == (1, NOW)  # a new hour, a new window


def test_a_token_shows_only_its_last_four_characters() -> None:
    assert domain.token_hint("f3b9c2d8e1a04b7f9c6d2e8a1b3f9f3a") == "…9f3a"
    assert domain.token_hint("short") == "…"  # too short to show any of it


def test_a_push_is_delivered_when_one_device_got_it_and_failed_when_all_refused() -> None:
    v = domain.push_verdict
    assert v(["permanent", "delivered"]) == "delivered"
    assert v(["permanent", "accepted"]) == "accepted"          # the gateway may still report the other device
    assert v(["temporary", "accepted"]) == "accepted"
    assert v(["temporary", "permanent"]) == "temporary"        # try again (the refused device is not sent to again)
    assert v(["permanent", "permanent"]) == "permanent"
    assert v([]) == "permanent"                                # no device at all


def test_codes_and_confirmations_are_bound_to_the_person_channel_and_value() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    h = code_hash(a, "phone", "+46701234567", "123456")
    assert h == code_hash(a, "phone", "+46701234567", "123456") and len(h) == 32
    assert h not in {code_hash(b, "phone", "+46701234567", "123456"), code_hash(a, "email", "+46701234567", "123456"),
                     code_hash(a, "phone", "+46701234568", "123456"), code_hash(a, "phone", "+46701234567", "123457")}
    assert b"123456" not in h and b"+4670" not in h
    c = confirmed_hash(a, "email", "anna@example.se")
    assert c == confirmed_hash(a, "email", "anna@example.se") != confirmed_hash(a, "email", "anna2@example.se")
    assert c != confirmed_hash(b, "email", "anna@example.se")
