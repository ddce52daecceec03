"""The e-mail sender's fast path (services/notification/channels.py): for a plain ASCII address the message is its own
headers before a rendering of the text shared by every recipient of it, cached; it must read exactly as the general
path's message (the email package's, flattened as aiosmtplib's send_message does), and anything else takes the general
path."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from email.message import Message
from typing import Any

import pytest
from aiosmtplib.email import flatten_message

from services.notification.channels import RENDERED_TEXTS, EmailChannel, Outgoing
from services.notification.settings import NotificationSettings

SETTINGS = NotificationSettings()
ITEM = Outgoing("3f1c9a7e-1", "vh.andersson@example.se", "Skolan är stängd i dag — läs mer om varför och vad som gäller",
                "Hej!\n\nSkolan är stängd i dag på grund av ett vattenläckage.\n.\nEn rad som börjar med punkt, "
                + "och en lång rad " * 20 + "\nMvh Rektor", "sv")


def parsed(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def general(channel: EmailChannel, item: Outgoing) -> Message:
    return parsed(flatten_message(channel._message(item)))


def fields(m: Message) -> dict[str, Any]:
    headers = {k: str(v) for k, v in m.items() if k != "Date"}
    return {"headers": headers, "body": m.get_payload(decode=True), "charset": m.get_content_charset(), "date": bool(m["Date"])}


@pytest.mark.parametrize("item", [ITEM, replace(ITEM, language="en", subject="Closed", body="Short."),
                                  replace(ITEM, subject="x" * 150, body="=" * 3000)])
def test_the_fast_path_reads_exactly_as_the_general_one(item: Outgoing) -> None:
    channel = EmailChannel(SETTINGS)
    wire = channel._wire(item)
    assert wire is not None
    assert fields(parsed(wire)) == fields(general(channel, item))
    assert wire.isascii()  # seven-bit: no SMTPUTF8, no 8BITMIME needed


def test_each_recipient_gets_their_own_headers_and_the_shared_text_is_rendered_once() -> None:
    channel = EmailChannel(SETTINGS)
    a = parsed(channel._wire(ITEM) or b"")
    b = parsed(channel._wire(replace(ITEM, reference="3f1c9a7e-2", to="annan@example.se")) or b"")
    assert (a["To"], b["To"]) == ("vh.andersson@example.se", "annan@example.se")
    assert a["Message-ID"] != b["Message-ID"] and b["X-Skolit-Reference"] == "3f1c9a7e-2"
    assert a.get_payload(decode=True) == b.get_payload(decode=True)
    assert len(channel._rendered) == 1
    for n in range(RENDERED_TEXTS + 5):
        channel._wire(replace(ITEM, body=f"text {n}"))
    assert len(channel._rendered) == RENDERED_TEXTS  # bounded


@pytest.mark.parametrize("to", ["åsa@exempel.se", "a b@example.se", "x@example.se\r\nBcc: other@example.se", "x@example.se\n", ""])
def test_anything_but_a_plain_ascii_address_takes_the_general_path(to: str) -> None:
    assert EmailChannel(SETTINGS)._wire(replace(ITEM, to=to)) is None


def test_a_sender_name_outside_ascii_takes_the_general_path() -> None:
    channel = EmailChannel(replace(SETTINGS, smtp_sender="Göteborgs Stad <noreply@goteborg.se>"))
    assert channel._wire(ITEM) is None


def test_the_envelope_sender_is_the_from_address() -> None:
    assert EmailChannel(replace(SETTINGS, smtp_sender="Skolit <noreply@skolit.local>"))._envelope_sender == "noreply@skolit.local"
