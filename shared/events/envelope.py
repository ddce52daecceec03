"""CloudEvents 1.0 over Kafka, binary content mode.

The attributes travel as ``ce_*`` headers, the data as the JSON message body, the partition key as
the Kafka key. Decoding sorts failures into *permanent* ones (the message can never be applied:
dead-letter it) so callers can tell them from transient trouble.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

import orjson
from pydantic import ValidationError

from shared.events.base import Event, subject_of
from shared.events.registry import model_for

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED = ("ce_id", "ce_type", "ce_source", "ce_specversion")


class PermanentError(Exception):
    """The input can never be applied, however often it is retried."""


class UndecodableMessage(PermanentError):
    pass


class UnknownEventType(PermanentError):
    pass


class SchemaViolation(PermanentError):
    pass


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    data: Event
    subject: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WireMessage:
    """What goes on the wire: topic, key, headers and body."""

    topic: str
    key: bytes
    headers: list[tuple[str, bytes]]
    value: bytes


def new_envelope(event: Event, source: str, *, event_id: str | None = None, time: datetime | None = None) -> Envelope:
    return Envelope(
        id=event_id or str(uuid4()),
        type=event.TYPE,
        source=source,
        time=time or datetime.now(UTC),
        data=event,
        subject=subject_of(event),
    )


def encode(envelope: Envelope) -> WireMessage:
    headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_time", envelope.time.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if envelope.subject:
        headers.append(("ce_subject", envelope.subject.encode()))
    return WireMessage(
        topic=envelope.data.TOPIC,
        key=envelope.data.key().encode(),
        headers=headers,
        value=orjson.dumps(envelope.data.model_dump(mode="json", exclude_none=True)),
    )


def header_map(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] | None) -> dict[str, str]:
    """Kafka headers as text. Bytes that are not UTF-8 and NUL characters (PostgreSQL text cannot hold
    them, and the inbox and the dead letters store these values) become U+FFFD."""
    out: dict[str, str] = {}
    for k, v in headers or ():
        text = v.decode("utf-8", errors="replace") if isinstance(v, (bytes, bytearray)) else str(v)
        out[str(k).replace("\x00", "\ufffd")] = text.replace("\x00", "\ufffd")
    return out


def read_attributes(headers: dict[str, str]) -> tuple[str, str, str, datetime]:
    """The CloudEvents attributes every message must carry; raises UndecodableMessage if any is missing."""
    missing = [h for h in REQUIRED if not headers.get(h)]
    if missing:
        raise UndecodableMessage(f"missing CloudEvents header(s): {', '.join(missing)}")
    if headers["ce_specversion"] != SPECVERSION:
        raise UndecodableMessage(f"unsupported ce_specversion {headers['ce_specversion']!r} (expected {SPECVERSION})")
    ctype = headers.get("content-type", CONTENT_TYPE)
    if not ctype.startswith(CONTENT_TYPE):
        raise UndecodableMessage(f"unsupported content-type {ctype!r} (expected {CONTENT_TYPE})")
    raw_time = headers.get("ce_time")
    try:
        time = datetime.fromisoformat(raw_time) if raw_time else datetime.now(UTC)
    except ValueError as exc:
        raise UndecodableMessage(f"ce_time is not an RFC 3339 timestamp: {raw_time!r}") from exc
    if time.tzinfo is None:  # the consumer measures event age against an aware clock
        raise UndecodableMessage(f"ce_time has no UTC offset (RFC 3339 requires one): {raw_time!r}")
    return headers["ce_id"], headers["ce_type"], headers["ce_source"], time


def decode(headers: dict[str, str], value: bytes | None) -> Envelope:
    """Headers + body → Envelope. Raises a PermanentError subclass with a reason a person can act on."""
    event_id, event_type, source, time = read_attributes(headers)
    model = model_for(event_type)
    if model is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise UndecodableMessage(f"body is not JSON: {exc}") from exc
    try:
        data = model.model_validate(body)
    except ValidationError as exc:
        raise SchemaViolation(f"{event_type} does not match its schema: {_summarise(exc)}") from exc
    return Envelope(id=event_id, type=event_type, source=source, time=time, data=data, subject=headers.get("ce_subject"))


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def event_uuid(namespace: str, *parts: object) -> str:
    """A deterministic event id, so a source that re-sends the same fact is deduplicated by the inbox."""
    from uuid import NAMESPACE_URL, uuid5

    return str(uuid5(NAMESPACE_URL, "skolit:" + namespace + ":" + ":".join(str(p) for p in parts)))


__all__ = [
    "Envelope",
    "PermanentError",
    "SchemaViolation",
    "UndecodableMessage",
    "UnknownEventType",
    "WireMessage",
    "decode",
    "encode",
    "event_uuid",
    "header_map",
    "new_envelope",
]
