"""Preferences and quiet hours: critical cannot be turned off, quiet hours delay but never drop."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.notification import domain

QUIET = (time(21, 0), time(7, 0))


def stockholm(hour: int, minute: int = 0, day: int = 10) -> datetime:
    # November: Stockholm is UTC+1
    return datetime(2026, 11, day, hour - 1, minute, tzinfo=UTC)


def test_defaults_and_own_choices() -> None:
    assert domain.effective_mode({}, "broadcast", "push") == "instant"
    assert domain.effective_mode({}, "broadcast", "email") == "digest"
    assert domain.effective_mode({}, "broadcast", "sms") == "off"
    assert domain.effective_mode({("broadcast", "sms"): "instant"}, "broadcast", "sms") == "instant"


def test_critical_is_always_instant_and_cannot_be_changed() -> None:
    assert domain.effective_mode({("critical", "sms"): "off"}, "critical", "sms") == "instant"
    for mode in ("off", "digest"):
        with pytest.raises(domain.Rejected) as exc:
            domain.check_choice("critical", "sms", mode)
        assert exc.value.field == "mode"
    domain.check_choice("critical", "sms", "instant")


@pytest.mark.parametrize(("args", "field"), [(("nope", "sms", "off"), "messageType"), (("broadcast", "fax", "off"), "channel"),
                                             (("broadcast", "sms", "weekly"), "mode")])
def test_unknown_values_are_refused_with_the_field(args: tuple[str, str, str], field: str) -> None:
    with pytest.raises(domain.Rejected) as exc:
        domain.check_choice(*args)
    assert exc.value.field == field


@pytest.mark.parametrize(("hour", "quiet"), [(20, False), (21, True), (23, True), (3, True), (6, True), (7, False), (12, False)])
def test_quiet_hours_across_midnight(hour: int, quiet: bool) -> None:
    assert domain.in_quiet_hours(time(hour, 0), *QUIET) is quiet


def test_a_message_in_quiet_hours_waits_until_they_end_never_dropped() -> None:
    at, bypassed = domain.send_at(stockholm(22, 30), QUIET, critical=False)
    assert at == stockholm(7, 0, day=11) and not bypassed
    at, bypassed = domain.send_at(stockholm(5, 15), QUIET, critical=False)
    assert at == stockholm(7, 0) and not bypassed


def test_critical_bypasses_quiet_hours_and_says_so() -> None:
    now = stockholm(23, 0)
    assert domain.send_at(now, QUIET, critical=True) == (now, True)
    daytime = stockholm(13, 0)
    assert domain.send_at(daytime, QUIET, critical=True) == (daytime, False)  # nothing bypassed by day


def test_templates_fall_back_to_swedish_and_leave_unknown_placeholders_empty() -> None:
    from services.notification import templates

    subject, body, used = templates.render("request-decided", "fi", {"appName": "Kodkompis", "decisionSv": "godkänd"})
    assert used == "sv" and subject == "Din begäran om Kodkompis är godkänd"
    assert "{" not in body and "Se ärendet:" in body  # {school}, {link} without values render empty
    assert templates.render("request-decided", "en", {"appName": "X", "decisionEn": "approved"})[0] == "Your request for X was approved"
    with pytest.raises(LookupError):
        templates.render("no-such-type", "sv", {})
