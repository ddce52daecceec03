"""CloudEvents 1.0 over Kafka (the Kafka protocol binding), both content modes.

Skolit publishes *binary* mode: the attributes travel as ``ce_*`` headers, the data as the JSON message
body, the partition key as the Kafka key. It accepts binary and *structured* mode (``content-type:
application/cloudevents+json``, the whole event as one JSON object in the body), since city systems and
off-the-shelf CloudEvents SDKs send either; both are read into the same ``Attributes`` and validated
against the same contracts. Decoding sorts failures into *permanent* ones (the message can never be
applied: dead-letter it) so callers can tell them from transient trouble.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import uuid4

import orjson
from pydantic import ValidationError

from shared.events.base import Event, subject_of
from shared.events.registry import model_for

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
#: structured content mode: the whole event as a JSON object in the body
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
#: a batch of events in one record: part of the HTTP binding, not the Kafka one; refused with a reason
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
REQUIRED = ("ce_id", "ce_type", "ce_source", "ce_specversion")
#: the attributes Skolit reads, as headers (binary mode); structured mode names them without the prefix
ATTRIBUTE_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_subject")


class PermanentError(Exception):
    """The input can never be applied, however often it is retried."""


class UndecodableMessage(PermanentError):
    pass


class UnknownEventType(PermanentError):
    pass


class SchemaViolation(PermanentError):
    pass


class Rejected(PermanentError):
    """A handler refuses the event for what it says (an app the programbank does not hold, a key that is not a
    key): the consumer dead-letters it with this reason (shared/consumer.py). Raise it, with a reason a person
    can act on, for every refusal a handler makes; a ``KeyError`` or ``TypeError`` is a bug and is never a refusal."""


#: the event an envelope carries; covariant, so an ``Envelope[AppPublished]`` is an ``Envelope[Event]``
E_co = TypeVar("E_co", bound=Event, covariant=True)


@dataclass(frozen=True)
class Envelope(Generic[E_co]):
    """One event with its CloudEvents attributes. Generic in the event, so a handler says what it applies
    (``async def on_x(conn, env: Envelope[AppLaunchesCounted])``) and reads ``env.data`` as that type; the
    consumer calls a handler only with envelopes of the types it was registered for (shared/consumer.py)."""

    id: str
    type: str
    source: str
    time: datetime
    data: E_co
    subject: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WireMessage:
    """What goes on the wire: topic, key, headers and body."""

    topic: str
    key: bytes
    headers: list[tuple[str, bytes]]
    value: bytes


E = TypeVar("E", bound=Event)


def new_envelope(event: E, source: str, *, event_id: str | None = None, time: datetime | None = None) -> Envelope[E]:
    return Envelope(
        id=event_id or str(uuid4()),
        type=event.TYPE,
        source=source,
        time=time or datetime.now(UTC),
        data=event,
        subject=subject_of(event),
    )


def encode(envelope: Envelope[Event]) -> WireMessage:
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


RawHeaders = Iterable[tuple[str, bytes | None]]


def _text(value: bytes | bytearray | str | None) -> str:
    if value is None:  # a header may carry a null value
        return ""
    text = value.decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else str(value)
    # A lone surrogate (a header name read leniently, see shared/kafka_records.py) cannot be stored either.
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "\ufffd")


def header_map(headers: RawHeaders | None) -> dict[str, str]:
    """Kafka headers as text, the last of a repeated name winning. Bytes that are not UTF-8 and NUL
    characters (PostgreSQL text cannot hold them, and the inbox and the dead letters store these
    values) become U+FFFD; a null value becomes the empty string. Never raises."""
    out: dict[str, str] = {}
    for k, v in headers or ():
        out[_text(k)] = _text(v)
    return out


@dataclass(frozen=True)
class Attributes:
    """The CloudEvents attributes of one record, whichever content mode carried them."""

    id: str
    type: str
    source: str
    time: datetime
    subject: str | None
    #: structured mode: the event's ``data`` already parsed; binary mode: None (the body is the data)
    structured_data: Any = None
    structured: bool = False


def read_cloudevent(headers: RawHeaders | None, value: bytes | None) -> Attributes:
    """The attributes of a record in binary or structured mode. Raises UndecodableMessage (permanent) with a
    reason when they are missing, repeated, not UTF-8 text, or of the wrong kind. Never reads the data's schema."""
    raw = list(headers or ())
    ctype_values = [v for k, v in raw if k == "content-type"]
    ctype = _strict_text("content-type", ctype_values[-1]) if ctype_values else ""
    if ctype.startswith(BATCH_CONTENT_TYPE):
        raise UndecodableMessage(f"content-type {BATCH_CONTENT_TYPE!r} (a batch of events) is not supported on Kafka: send one event per record")
    if ctype.startswith(STRUCTURED_CONTENT_TYPE):
        return _structured(value)
    return _binary(raw)


def _strict_text(name: str, value: bytes | None) -> str:
    if value is None:
        return ""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UndecodableMessage(f"header {name} is not UTF-8 text (byte {exc.start})") from exc


def _binary(raw: list[tuple[str, bytes | None]]) -> Attributes:
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in raw:
        if name not in ATTRIBUTE_HEADERS and name != "content-type":
            continue  # other headers (tracing and the like) are not ours to judge
        if name in seen and name not in repeated:
            repeated.append(name)
        # PostgreSQL text cannot hold NUL (the inbox stores the id): it becomes U+FFFD, as in header_map
        seen[name] = _strict_text(name, value).replace("\x00", "\ufffd")
    if repeated:
        raise UndecodableMessage(f"repeated CloudEvents header(s): {', '.join(repeated)} (each attribute appears once)")
    event_id, event_type, source, time = read_attributes(seen)
    return Attributes(event_id, event_type, source, time, seen.get("ce_subject") or None)


def _structured(value: bytes | None) -> Attributes:
    try:
        doc = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise UndecodableMessage(f"structured-mode body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UndecodableMessage(f"structured-mode body is a JSON {type(doc).__name__}, not an object with the event's attributes")
    attrs: dict[str, str] = {}
    for header in ATTRIBUTE_HEADERS:
        name = header.removeprefix("ce_")
        if name not in doc or doc[name] is None:
            continue
        if not isinstance(doc[name], str):
            raise UndecodableMessage(f"structured-mode attribute {name} is a JSON {type(doc[name]).__name__}, not a string")
        attrs[header] = doc[name].replace("\x00", "\ufffd")
    missing = [h.removeprefix("ce_") for h in REQUIRED if not attrs.get(h)]
    if missing:
        raise UndecodableMessage(f"missing CloudEvents attribute(s) in the structured event: {', '.join(missing)}")
    dct = doc.get("datacontenttype")
    if dct is not None and (not isinstance(dct, str) or not dct.startswith(CONTENT_TYPE)):
        raise UndecodableMessage(f"unsupported datacontenttype {dct!r} (expected {CONTENT_TYPE})")
    if "data" in doc and "data_base64" in doc:
        raise UndecodableMessage("structured event carries both data and data_base64")
    if "data_base64" in doc:
        if not isinstance(doc["data_base64"], str):
            raise UndecodableMessage("structured-mode data_base64 is not a string")
        try:
            data = orjson.loads(base64.b64decode(doc["data_base64"], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise UndecodableMessage(f"structured-mode data_base64 is not base64-encoded JSON: {exc}") from exc
    elif "data" in doc:
        data = doc["data"]
    else:
        raise UndecodableMessage("missing CloudEvents data in the structured event")
    event_id, event_type, source, time = read_attributes(attrs)
    return Attributes(event_id, event_type, source, time, attrs.get("ce_subject") or None, structured_data=data, structured=True)


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


def decode(headers: dict[str, str], value: bytes | None) -> Envelope[Event]:
    """Binary-mode headers (as text) + body → Envelope. Raises a PermanentError subclass with a reason a person can act on."""
    event_id, event_type, source, time = read_attributes(headers)
    return decode_data(Attributes(event_id, event_type, source, time, headers.get("ce_subject") or None), value)


def decode_data(attrs: Attributes, value: bytes | None) -> Envelope[Event]:
    """The event's data against its contract: the body in binary mode, ``data`` in structured mode."""
    model = model_for(attrs.type)
    if model is None:
        raise UnknownEventType(f"unknown event type {attrs.type!r}")
    if attrs.structured:
        body = attrs.structured_data
    else:
        try:
            body = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            raise UndecodableMessage(f"body is not JSON: {exc}") from exc
    try:
        data = model.model_validate(body)
    except ValidationError as exc:
        raise SchemaViolation(f"{attrs.type} does not match its schema: {_summarise(exc)}") from exc
    return Envelope(id=attrs.id, type=attrs.type, source=attrs.source, time=attrs.time, data=data, subject=attrs.subject)


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
    "Attributes",
    "Envelope",
    "PermanentError",
    "Rejected",
    "SchemaViolation",
    "UndecodableMessage",
    "UnknownEventType",
    "WireMessage",
    "decode",
    "decode_data",
    "encode",
    "event_uuid",
    "header_map",
    "new_envelope",
    "read_cloudevent",
]
