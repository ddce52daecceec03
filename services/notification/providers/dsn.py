"""E-mail bounces: a delivery status notification (RFC 3464, ``multipart/report; report-type=delivery-status``) or a
provider's JSON bounce, read into what Skolit needs — which delivery (the reference), which address, failed or not,
hard (5.x.x: the address is wrong, it is marked undeliverable) or soft (4.x.x: this message gave up, the address may
work again). Pure: the webhook (routes/providers.py) and its use case (usecases/bounces.py) act on the result.

The delivery is found, in this order, from VERP (the envelope sender was ``bounces+<reference>@...``, channels.verp;
the DSN goes back to that address: its To, Delivered-To, X-Original-To, or the Original-Recipient field), from the
returned message's ``X-Skolit-Reference``, or from its ``Message-ID`` (``<skolit-<reference>@...>``).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from typing import Any, Literal

Kind = Literal["hard", "soft"]
VERP = re.compile(r"\+([0-9]{1,18})@")
MESSAGE_ID = re.compile(r"<skolit-([0-9]{1,18})@")
STATUS = re.compile(r"^([245])\.[0-9]{1,3}\.[0-9]{1,3}$")
#: the actions of RFC 3464 §2.3.3 that say the message did not arrive (delayed, delivered, relayed, expanded do not)
FAILED = frozenset({"failed"})


@dataclass(frozen=True)
class Bounce:
    reference: str | None
    recipient: str | None
    #: the status code (RFC 3463): 5.1.1, 4.2.2
    status: str
    kind: Kind

    @property
    def reason(self) -> str:
        """The short code kept on the delivery (never the mail server's text)."""
        return f"bounce-{self.kind}-{self.status}"


def kind_of(status: str) -> Kind | None:
    m = STATUS.match(status.strip())
    if m is None or m.group(1) == "2":
        return None
    return "hard" if m.group(1) == "5" else "soft"


def _address(field: str | None) -> str | None:
    """``rfc822; anna@example.se`` → ``anna@example.se``."""
    if not field:
        return None
    _, _, value = str(field).partition(";")
    return (value or str(field)).strip().strip("<>") or None


def _reference_in(headers: Message | None) -> str | None:
    if headers is None:
        return None
    ref = headers.get("X-Skolit-Reference")
    if ref and str(ref).strip().isdigit():
        return str(ref).strip()
    m = MESSAGE_ID.search(str(headers.get("Message-ID") or ""))
    return m.group(1) if m else None


def _verp_reference(*values: object) -> str | None:
    for value in values:
        m = VERP.search(str(value or ""))
        if m:
            return m.group(1)
    return None


def _returned_headers(report: Message) -> Message | None:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or ctype == "message/rfc822-headers":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype == "text/rfc822-headers":
            return HeaderParser().parsestr(part.get_payload(decode=True).decode("utf-8", "replace"))  # type: ignore[union-attr]
    return None


def parse_dsn(raw: bytes) -> list[Bounce]:
    """The failed recipients of a DSN; [] when it is no DSN, or reports only delays or deliveries."""
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    if report.get_content_type() != "multipart/report" or report.get_param("report-type", "").lower() != "delivery-status":  # type: ignore[union-attr]
        return []
    status_part = next((p for p in report.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        return []
    payload = status_part.get_payload()
    blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
    if len(blocks) < 2:
        return []
    returned = _returned_headers(report)
    per_message = blocks[0]
    found = []
    for block in blocks[1:]:  # one per recipient (RFC 3464 §2.3)
        action = str(block.get("Action") or "").strip().lower()
        status = str(block.get("Status") or "").strip().split(" ")[0]
        kind = kind_of(status)
        if action not in FAILED or kind is None:
            continue
        recipient = _address(block.get("Final-Recipient")) or _address(block.get("Original-Recipient"))
        reference = (_verp_reference(report.get("To"), report.get("Delivered-To"), report.get("X-Original-To"),
                                     per_message.get("Original-Envelope-Id"))
                     or _reference_in(returned))
        found.append(Bounce(reference, recipient, status, kind))
    return found


def parse_json(data: Any) -> list[Bounce]:
    """A provider's bounce as JSON: one object or a list, each with ``reference`` or ``messageId`` (the Message-ID Skolit
    set), ``recipient``, and ``status`` (5.1.1) or ``type`` (hard|soft, Permanent|Transient)."""
    items = data if isinstance(data, list) else [data]
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each bounce is a JSON object")
        status = str(item.get("status") or "")
        kind = kind_of(status) if status else None
        if kind is None:
            kind = {"hard": "hard", "permanent": "hard", "soft": "soft", "transient": "soft"}.get(str(item.get("type") or "").lower())  # type: ignore[assignment]
            status = status or ("5.0.0" if kind == "hard" else "4.0.0")
        if kind is None:
            continue
        ref = item.get("reference")
        m = MESSAGE_ID.search(str(item.get("messageId") or ""))
        reference = str(ref) if isinstance(ref, (str, int)) and str(ref).isdigit() else (m.group(1) if m else None)
        found.append(Bounce(reference, str(item["recipient"]) if item.get("recipient") else None, status, kind))
    return found
