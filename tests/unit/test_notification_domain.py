"""Preferences and quiet hours: critical cannot be turned off, quiet hours delay but never drop."""

from __future__ import annotations

import uuid
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


def test_without_the_app_e_mail_goes_at_once_unless_chosen_otherwise() -> None:
    assert domain.effective_mode({}, "broadcast", "email", reachable={"email", "inapp"}) == "instant"
    assert domain.effective_mode({}, "broadcast", "email", reachable={"email", "push", "inapp"}) == "digest"
    assert domain.effective_mode({("broadcast", "email"): "digest"}, "broadcast", "email", reachable={"email"}) == "digest"
    assert domain.effective_mode({("broadcast", "email"): "off"}, "broadcast", "email", reachable={"email"}) == "off"


def test_backoff_doubles_and_is_capped() -> None:
    waits = [domain.backoff(n, 30, 3600).total_seconds() for n in range(1, 10)]
    assert waits[:5] == [30, 60, 120, 240, 480] and max(waits) == 3600 and waits == sorted(waits)


@pytest.mark.parametrize(("failed", "reachable", "turned_off", "tried", "critical", "expected"), [
    ("push", {"push", "sms", "email"}, set(), {"push"}, False, "sms"),
    ("push", {"push", "email"}, set(), {"push"}, False, "email"),               # no number: straight to e-mail
    ("push", {"push", "sms", "email"}, {"sms"}, {"push"}, False, "email"),      # SMS turned off by the recipient
    ("push", {"push", "sms", "email"}, {"sms"}, {"push"}, True, "sms"),         # ... but critical goes anyway
    ("sms", {"push", "sms", "email"}, set(), {"push", "sms"}, False, "email"),
    ("push", {"push", "sms", "email"}, set(), {"push", "sms", "email"}, False, None),  # every channel already used
    ("email", {"push", "sms", "email"}, set(), {"email"}, False, None),         # the end of the chain
    ("inapp", {"email"}, set(), set(), False, None),                            # not in the chain
])
def test_fallback_takes_the_next_reachable_untried_channel(failed: str, reachable: set[str], turned_off: set[str], tried: set[str],
                                                          critical: bool, expected: str | None) -> None:
    assert domain.fallback_next(("push", "sms", "email"), failed, reachable, turned_off, tried, critical) == expected


def _facts(**kw: object) -> dict[str, object]:
    return {"person": kw.get("person", uuid.uuid4()), "quiet_start": kw.get("quiet_start"), "quiet_end": kw.get("quiet_end"),
            "email": kw.get("email", False), "sms": kw.get("sms", False), "push": kw.get("push", False), "choices": kw.get("choices", [])}


def test_a_plan_has_each_recipient_once_per_channel_by_their_choices_and_hours() -> None:
    from services.notification.messages import plan

    noon = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)      # 12:00 in Stockholm
    night = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)     # 23:00 in Stockholm
    app_user = _facts(email=True, push=True)
    sms_only = _facts(sms=True, choices=["sms=instant"])
    silent = _facts(email=True, choices=["email=off"])
    planned = plan([app_user, sms_only, silent], "broadcast", False, noon)
    got = {(p.person, p.channel): (p.mode, p.state) for p in planned}
    assert got == {
        (app_user["person"], "push"): ("instant", "queued"), (app_user["person"], "email"): ("digest", "queued"),
        (app_user["person"], "inapp"): ("instant", "delivered"),
        (sms_only["person"], "sms"): ("instant", "queued"), (sms_only["person"], "inapp"): ("instant", "delivered"),
        (silent["person"], "inapp"): ("instant", "delivered"),
    }
    at_night = plan([app_user], "broadcast", False, night)
    push = next(p for p in at_night if p.channel == "push")
    assert push.send_after == datetime(2026, 11, 25, 6, 0, tzinfo=UTC) and not push.quiet_bypassed  # 07:00 in Stockholm
    inapp = next(p for p in at_night if p.channel == "inapp")
    assert inapp.send_after == night and inapp.state == "delivered"
    urgent = plan([app_user], "critical", True, night)
    assert {p.channel: (p.send_after, p.quiet_bypassed) for p in urgent if p.channel != "inapp"} == {"push": (night, True), "email": (night, True)}


def test_the_rate_limit_allows_a_second_of_messages_then_refills() -> None:
    from services.notification.sender import RateLimit

    limit = RateLimit(50)
    assert limit.available() == 50
    limit.spend(50)
    assert limit.available() == 0 and 0 < limit.wait_seconds() <= 0.02
    limit.stamp -= 0.5  # half a second later
    assert limit.available() == 25


def test_a_digest_lists_each_item_in_the_recipients_language_with_absolute_links() -> None:
    from services.notification import templates

    items = [("broadcast", {"subject": "Luciafirande", "body": "I aulan.", "link": "/events/1"}, "Lindskolan"),
             ("report-published", {"year": 2026, "link": "/reports/2026"}, "Lindskolan")]
    subject, body, language = templates.compose_digest("en", items, "https://skolit.example.se")
    assert subject == "Your daily summary from Skolit (2 messages)" and language == "en"
    assert "• Luciafirande" in body and "https://skolit.example.se/events/1" in body and "https://skolit.example.se/reports/2026" in body
    assert "https://skolit.example.se/preferences" in body
    assert templates.compose_digest("fi", items, "https://x")[2] == "sv"  # no Finnish file: Swedish


@pytest.mark.parametrize("message_type", [*domain.MESSAGE_TYPES, "digest"])
def test_every_message_type_speaks_swedish_and_english_and_links_somewhere(message_type: str) -> None:
    from services.notification import templates

    for language in ("sv", "en"):
        path = templates.DIRECTORY / f"{message_type}.{language}.txt"
        assert path.is_file(), path
        text = path.read_text(encoding="utf-8")
        assert "{link}" in text and len(text.splitlines()) >= 2, path
