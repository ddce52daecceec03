"""skolit-city: publish the city's school data to Skolit's topics, as the city's systems would.

    python -m devkit.city_cli publish --file events.json            JSON array (or JSON Lines) of
                                                                    {"type": ..., "data": {...}, "id": ...}
    python -m devkit.city_cli publish --file units.csv --type se.skolit.city.organisation.upserted.v1
    python -m devkit.city_cli publish --file persons.csv --type se.skolit.city.person.upserted.v1
                                                                    header id,securityMarking,givenName,familyName
    python -m devkit.city_cli publish --file docs/examples/school-figures.csv --type se.skolit.city.school-figures-reported.v2
                                                                    header schoolUnitId,year, then figure columns
                                                                    (wifiCoverage, devicesPerPupil, …: docs/figures.md)
    python -m devkit.city_cli publish --file docs/examples/app-launches.csv --type se.skolit.city.app-launches-counted.v1
                                                                    a launch log: appId,schoolUnitId,date,launches[,activeUsers]
                                                                    (one event per row and day; or the contract's own
                                                                    periodStart,periodEnd columns instead of date)
    python -m devkit.city_cli publish --demo                        the demo city (devkit.demo.city)
    python -m devkit.city_cli export-demo --file demo.json          the demo city in the JSON format above

Every record is checked against its contract before anything is sent: one invalid row stops the
whole publish with a message naming the row and the field (for school figures and launch logs, every bad
cell by row and column: the same parsing as the connector's POST /imports/..., connectors/imports/).
Comma, semicolon or tab separated; Swedish Excel's "CSV UTF-8" (semicolons, decimal commas) as it is.
``--dry-run`` only checks.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
import types
import typing
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import shared.events  # noqa: F401  (registers every contract)
from shared.events.base import Event
from shared.events.envelope import Envelope, encode, new_envelope
from shared.events.registry import REGISTRY, model_for
from shared.settings import DEFAULT_KAFKA, KafkaSecurity, kafka_security

DEFAULT_SOURCE = "city.cli"
CHUNK_SIZE = 500
RECORD_KEYS = {"type", "data", "id", "source", "time"}


class InputError(Exception):
    """A record that does not match its contract; the message names the row and the field."""


# -- reading ---------------------------------------------------------------------------------------


def city_types() -> list[str]:
    return sorted(t for t, m in REGISTRY.items() if getattr(m, "PRODUCER", None) == "city")


def _model(event_type: Any, where: str) -> type[Event]:
    if not isinstance(event_type, str) or not event_type:
        raise InputError(f"{where}: missing \"type\" (one of: {', '.join(city_types())})")
    model = model_for(event_type)
    if model is None:
        raise InputError(f"{where}: unknown type {event_type!r} (expected one of: {', '.join(city_types())})")
    return model


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) or err["type"] == "missing" else f" (got {value!r})"
        parts.append(f"field {field!r}: {err['msg']}{shown}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


# Personal data the contract keeps out of events, should it slip into a free-text field.
_PERSONNUMMER = re.compile(r"(?<![0-9A-Za-z])(?:19|20)?\d{6}[-+]?\d{4}(?![0-9A-Za-z])")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _personal_data(event: Event) -> tuple[str, str] | None:
    for name in type(event).model_fields:
        value = getattr(event, name)
        if isinstance(value, str):
            if _EMAIL.search(value):
                return name, "looks like an e-mail address"
            if _PERSONNUMMER.search(value):
                return name, "looks like a personnummer"
    return None


def _validate(model: type[Event], data: Any, where: str) -> Event:
    if not isinstance(data, dict):
        raise InputError(f"{where}: \"data\" must be a JSON object, got {type(data).__name__}")
    try:
        event = model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{where} ({model.TYPE}): {_describe(exc)}") from None
    found = _personal_data(event)
    if found:
        raise InputError(f"{where} ({model.TYPE}): field {found[0]!r} {found[1]}: "
                         "events carry no contact details or personnummer")
    return event


def envelope_from_record(record: Any, where: str, source: str = DEFAULT_SOURCE) -> Envelope:
    """One ``{"type", "data", "id"?, "source"?, "time"?}`` record → a validated envelope."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected an object with \"type\" and \"data\", got {type(record).__name__}")
    unknown = set(record) - RECORD_KEYS
    if unknown:
        raise InputError(f"{where}: unexpected key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(RECORD_KEYS))})")
    model = _model(record.get("type"), where)
    event = _validate(model, record.get("data"), where)
    event_id = record.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id.strip()):
        raise InputError(f"{where}: \"id\" must be a non-empty string")
    time = None
    if record.get("time") is not None:
        try:
            time = datetime.fromisoformat(str(record["time"]))
        except ValueError:
            raise InputError(f"{where}: \"time\" is not an ISO 8601 timestamp: {record['time']!r}") from None
        if time.tzinfo is None:
            raise InputError(f"{where}: \"time\" needs a time zone (e.g. 2026-08-15T06:00:00+00:00)")
    return new_envelope(event, str(record.get("source") or source), event_id=event_id, time=time)


def read_json(path: Path, source: str = DEFAULT_SOURCE) -> list[Envelope]:
    """A JSON array of records, or JSON Lines (one record per line)."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        return [envelope_from_record(r, f"{path}: record {i}", source) for i, r in enumerate(records, start=1)]
    envelopes = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {lineno}: not valid JSON ({exc.msg})") from None
        envelopes.append(envelope_from_record(record, f"{path}: line {lineno}", source))
    return envelopes


def _is_list_field(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list_field(a) for a in typing.get_args(annotation))
    return False


def read_csv(path: Path, event_type: str, source: str = DEFAULT_SOURCE) -> list[Envelope]:
    """A CSV file whose header names the contract's fields; list fields are split on ``;``.

    Empty cells are left out (the field takes its default). An optional ``ce_id`` column gives the
    event id, which makes re-sending the file idempotent.
    """
    model = _model(event_type, f"--type {event_type}")
    fields = model.model_fields
    with path.open(newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(fh, dialect=dialect)
        header = reader.fieldnames or []
        unknown = [h for h in header if h not in fields and h != "ce_id"]
        if unknown:
            raise InputError(f"{path}: header has column(s) not in {event_type}: {', '.join(unknown)} "
                             f"(fields: {', '.join(fields)})")
        envelopes = []
        for row in reader:
            where = f"{path}: row {reader.line_num}"
            if None in row:
                raise InputError(f"{where}: more cells than header columns")
            event_id = (row.pop("ce_id", None) or "").strip() or None
            data: dict[str, Any] = {}
            for name, raw in row.items():
                value = (raw or "").strip()
                if value == "":
                    continue
                if _is_list_field(fields[name].annotation):
                    data[name] = [v.strip() for v in value.split(";") if v.strip()]
                else:
                    data[name] = value
            event = _validate(model, data, where)
            envelopes.append(new_envelope(event, source, event_id=event_id))
    return envelopes


def read_import(path: Path, event_type: str, source: str = DEFAULT_SOURCE) -> list[Envelope] | None:
    """The two CSV files of connectors/imports (the same parsing as POST /imports/...), or None for another type:
    school figures (schoolUnitId, year, then figure columns: the typed SchoolFigures) and a launch log (appId,
    schoolUnitId, date, launches[, activeUsers]: one event per row and day). Every bad cell is named; ids are the
    imports' deterministic ones, so publishing the file again is a no-op in every consumer."""
    from connectors.imports import figures, launches
    from connectors.imports.report import ImportErrors
    from connectors.imports.table import decode
    from shared.clock import city_today
    from shared.events.city import AppLaunchesCounted, SchoolFiguresReported

    try:
        text = decode(path.read_bytes())
        if event_type == SchoolFiguresReported.TYPE:
            found = figures.figures_from_csv(text)
            return [new_envelope(e, source, event_id=figures.event_id(e)) for e in found]
        header = text.lstrip("\ufeff").split("\n", 1)[0].lower()
        if event_type == AppLaunchesCounted.TYPE and "date" in re.split(r"[;,\t]", header.replace('"', "").replace(" ", "")):
            counted = launches.launches_from_csv(text, city_today())
            return [new_envelope(e, source, event_id=launches.event_id(e)) for e in counted]
    except ImportErrors as exc:
        lines = exc.lines()
        shown = "\n  ".join(lines[:50]) + (f"\n  … and {len(lines) - 50} more" if len(lines) > 50 else "")
        raise InputError(f"{path}: {len(lines)} invalid cell(s) ({event_type}):\n  {shown}") from None
    return None


def read_file(path: Path, event_type: str | None = None, source: str = DEFAULT_SOURCE) -> list[Envelope]:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".tsv"):
        if not event_type:
            raise InputError(f"{path}: a CSV file needs --type (one of: {', '.join(city_types())})")
        imported = read_import(path, event_type, source)
        if imported is not None:
            return imported
        return read_csv(path, event_type, source)
    if event_type:
        raise InputError(f"{path}: --type is only for CSV files; JSON records name their own \"type\"")
    return read_json(path, source)


def to_records(envelopes: Iterable[Envelope]) -> list[dict[str, Any]]:
    return [{"type": e.type, "id": e.id, "data": e.data.model_dump(mode="json", exclude_none=True)} for e in envelopes]


# -- publishing ------------------------------------------------------------------------------------


async def publish_envelopes(bootstrap: str, envelopes: Sequence[Envelope], *, chunk_size: int = CHUNK_SIZE, security: KafkaSecurity | None = None) -> int:
    """Send the envelopes (topics are created first, where this principal may) and wait until the broker has
    acknowledged all. TLS / SASL: ``security``, or the environment's (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*).

    Messages are handed to the producer in order, so events with the same key keep their order;
    delivery of a whole chunk is awaited at once.
    """
    from aiokafka import AIOKafkaProducer

    from shared.kafka_producer import settings_for
    from shared.topics import ensure_topics

    security = kafka_security(security)
    await ensure_topics(bootstrap, security=security)
    # acks=all; idempotent where the broker supports it (Apache Kafka), asked rather than assumed (shared/kafka_producer.py)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **await settings_for(bootstrap, security), linger_ms=5)
    await producer.start()
    sent = 0
    try:
        for start in range(0, len(envelopes), chunk_size):
            futures = []
            for envelope in envelopes[start:start + chunk_size]:
                msg = encode(envelope)
                futures.append(await producer.send(msg.topic, value=msg.value, key=msg.key, headers=msg.headers))
            await asyncio.gather(*futures)
            sent += len(futures)
    finally:
        await producer.stop()
    return sent


# -- command line ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skolit-city", description="Publish the city's school data (SS 12000) to Skolit.")
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="validate and publish events from a file, or the demo city")
    what = pub.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", type=Path, help="JSON array, JSON Lines, or CSV (with --type)")
    what.add_argument("--demo", action="store_true", help="the deterministic demo city")
    pub.add_argument("--type", dest="event_type", help="the event type of every CSV row, e.g. se.skolit.city.organisation.upserted.v1")
    pub.add_argument("--source", default=DEFAULT_SOURCE, help=f"CloudEvents source (default {DEFAULT_SOURCE})")
    pub.add_argument("--seed", type=int, default=2026, help="demo city seed")
    pub.add_argument("--dry-run", action="store_true", help="only validate")
    pub.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_KAFKA,
                     help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS or %(default)s)")
    exp = sub.add_parser("export-demo", help="write the demo city as a JSON array of records")
    exp.add_argument("--file", type=Path, required=True)
    exp.add_argument("--seed", type=int, default=2026)
    sub.add_parser("types", help="list the event types the city publishes")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "types":
            for t in city_types():
                model = REGISTRY[t]
                print(f"{t}\t{model.TOPIC}\t{', '.join(model.model_fields)}")
            return 0
        if args.command == "export-demo":
            from devkit.demo.city import demo_city

            records = to_records(demo_city(args.seed))
            args.file.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {len(records)} events to {args.file}")
            return 0
        if args.demo:
            from devkit.demo.city import demo_city

            if args.event_type:
                raise InputError("--type is only for CSV files")
            envelopes = demo_city(args.seed)
        else:
            envelopes = read_file(args.file, args.event_type, args.source)
    except InputError as exc:
        print(f"skolit-city: {exc}", file=sys.stderr)
        print("skolit-city: nothing was published", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"{len(envelopes)} event(s) valid; nothing published (--dry-run)")
        return 0
    try:
        sent = asyncio.run(publish_envelopes(args.bootstrap, envelopes))
    except Exception as exc:  # noqa: BLE001 - a person reads this
        print(f"skolit-city: publishing to {args.bootstrap} failed: {exc!r}", file=sys.stderr)
        return 1
    print(f"published {sent} event(s) to {args.bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
