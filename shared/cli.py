"""The command line every service has: ``python -m services.<name> [command]``.

    serve                   run the HTTP API, consumers and outbox relay (the default)
    work                    run the service's background workers apart from its API (notification's senders), with
                            the serve processes set to SKOLIT_<SERVICE>_WORKERS=elsewhere
    provision               create the service's role and schema (needs an admin DATABASE_URL)
    migrate                 apply the service's migrations and exit
    republish --since TIME  publish the outbox again from TIME (PostgreSQL is the record)
    dlq-reprocess           apply this service's dead letters again, after a fix
    dead-letters            list the service's dead letters: reason, type, time, coordinates (never bodies)
    outbox list             list outbox rows the relay parked (could never publish), with the reason
    outbox retry            put parked rows back in line after a fix (--seq N ... | --all)
    outbox discard          give up on parked rows for good (--seq N ... --note TEXT)
    rebuild                 empty the read models and replay the service's topics (reporting)
    asyncapi                print the service's AsyncAPI document

The listings never print a record's body, key or other header values: those are whatever a sender wrote and
may hold personal data. ``--json`` prints one JSON object a line (ASCII, so no control character reaches a
terminal); the table replaces control and formatting characters in what a sender wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import asyncio
import json
import logging
import os
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.production import enforce
from shared.service import ServiceSpec
from shared.settings import DEFAULT_DATABASE_URL, Settings


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def service_main(spec: ServiceSpec, argv: list[str] | None = None) -> int:
    # the module that runs it: services.<name>, or connectors.ss12000 for the connector
    module = ".".join(spec.directory.resolve().relative_to(Path(__file__).resolve().parents[1]).parts)
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=spec.title)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the service (default)")
    serve.add_argument("--provision", action="store_true", help="first create role and schema with the admin DATABASE_URL")
    sub.add_parser("work", help="run the background workers (e.g. the senders) in a process of their own; "
                                "/healthz, /readyz and /metrics on SKOLIT_<SERVICE>_WORK_PORT")
    sub.add_parser("provision", help="create the service's role and schema (admin DATABASE_URL)")
    sub.add_parser("migrate", help="apply migrations and exit")
    rp = sub.add_parser("republish", help="publish outbox events created at or after --since again")
    rp.add_argument("--since", required=True, type=datetime.fromisoformat, help="ISO 8601 time, e.g. 2026-11-01T00:00:00+00:00")
    dq = sub.add_parser("dlq-reprocess", help="apply this service's dead-lettered events again")
    dq.add_argument("--idle-seconds", type=float, default=5.0, help="stop when nothing new arrived for this long")
    rb = sub.add_parser("rebuild", help="empty the read models and apply every event on the service's topics again")
    rb.add_argument("--idle-seconds", type=float, default=5.0, help="stop when nothing new arrived for this long")
    dl = sub.add_parser("dead-letters", help="list the service's dead letters, newest first (never their bodies)")
    dl.add_argument("--limit", type=_bounded(1, MAX_CLI_LIMIT), default=100, help=f"at most this many (1..{MAX_CLI_LIMIT}; default 100)")
    dl.add_argument("--before", type=_bounded(1, 2**63 - 1), default=None, metavar="SEQ", help="only letters older than this seq (the next page)")
    dl.add_argument("--topic", default=None, help="only this topic's dead letters (with or without .dlq)")
    dl.add_argument("--json", action="store_true", help="one JSON object a line instead of a table")
    ob = sub.add_parser("outbox", help="outbox rows the relay parked: list, retry, discard")
    ob_sub = ob.add_subparsers(dest="outbox_command", required=True)
    ol = ob_sub.add_parser("list", help="parked rows, oldest first, with the reason (never their bodies)")
    ol.add_argument("--limit", type=_bounded(1, MAX_CLI_LIMIT), default=100, help=f"at most this many (1..{MAX_CLI_LIMIT}; default 100)")
    ol.add_argument("--include-discarded", action="store_true", help="also rows already discarded (kept as the record)")
    ol.add_argument("--json", action="store_true", help="one JSON object a line instead of a table")
    orr = ob_sub.add_parser("retry", help="put parked rows back in line after a fix; the running relay tries them again")
    which = orr.add_mutually_exclusive_group(required=True)
    which.add_argument("--seq", type=_bounded(1, 2**63 - 1), action="append", help="a parked row's seq (repeat for more)")
    which.add_argument("--all", action="store_true", help="every parked row")
    od = ob_sub.add_parser("discard", help="give up on parked rows for good (kept as the record, with your note)")
    od.add_argument("--seq", type=_bounded(1, 2**63 - 1), action="append", required=True, help="a parked row's seq (repeat for more)")
    od.add_argument("--note", type=_note, required=True, help="why: kept with the row (who decided, the ticket)")
    sub.add_parser("asyncapi", help="print the AsyncAPI document")
    args = parser.parse_args(argv)
    command = args.command or "serve"
    # In production (SKOLIT_ENV), refuse development settings before anything binds or connects, naming each
    # (shared/production.py); `provision` only sets the role's password, so only the database is checked there.
    if command in ("serve", "work"):
        enforce(spec.name)
    elif command == "provision":
        enforce(spec.name, parts=("database",))
    settings = Settings.from_env(spec.name)
    _setup_logging(settings.log_level)

    if command == "asyncapi":
        from shared.asyncapi import document

        print(json.dumps(document([spec]), indent=2, ensure_ascii=False))
        return 0
    if command == "provision" or (command == "serve" and getattr(args, "provision", False)):
        from shared.db import ensure_database, provision

        admin = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)

        async def _provision() -> None:
            await ensure_database(admin)
            await provision(admin, (spec.name,))

        asyncio.run(_provision())
        if command == "provision":
            return 0
    if command == "migrate":
        from shared import operations

        applied = asyncio.run(operations.migrate_only(spec, settings))
        print(f"{spec.name}: applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
        return 0
    if command == "republish":
        from shared import operations

        n = asyncio.run(operations.republish(spec, settings, args.since))
        print(f"{spec.name}: {n} outbox event(s) marked for publishing again; the running relay sends them")
        return 0
    if command == "dlq-reprocess":
        from shared import operations

        counts = asyncio.run(operations.reprocess_dead_letters(spec, settings, idle_seconds=args.idle_seconds))
        print(f"{spec.name}: dead letters reprocessed: {json.dumps(counts)}")
        return 0
    if command == "rebuild":
        from shared import operations

        counts = asyncio.run(operations.rebuild_read_models(spec, settings, idle_seconds=args.idle_seconds))
        print(f"{spec.name}: read models rebuilt from the topics: {json.dumps(counts)}")
        return 0
    if command == "dead-letters":
        from shared import operations

        letters = asyncio.run(operations.dead_letters(spec, settings, limit=args.limit, before_seq=args.before, topic=args.topic))
        if args.json:
            _json_lines(letter.to_json() for letter in letters)
        else:
            _table(["SEQ", "DEAD-LETTERED", "FROM (TOPIC/PARTITION@OFFSET)", "TYPE", "CE_ID", "ERROR", "BYTES", "PUBLISHED", "REASON"], [
                [str(d.seq), _when(d.dead_lettered_at), f"{d.original_topic or '?'}/{_or(d.original_partition)}@{_or(d.original_offset)}",
                 d.ce_type or "", d.ce_id or "", d.error_class or "", _or(d.body_bytes) + (" (bounded)" if d.bounded else ""),
                 "yes" if d.published else "not yet", d.reason or ""]
                for d in letters
            ])
            print(f"{spec.name}: {len(letters)} dead letter(s)" + (f"; older ones: --before {letters[-1].seq}" if len(letters) == args.limit else ""),
                  file=sys.stderr)
        return 0
    if command == "outbox":
        return _outbox(spec, settings, args)

    if command == "work":
        if not spec.workers:
            print(f"{spec.name} has no background workers: its serve processes do all its work", file=sys.stderr)
            return 2
        from shared.app import create_work_app

        return _run(spec, create_work_app(spec, settings), settings, settings.work_port)

    from shared.app import create_app

    return _run(spec, create_app(spec, settings), settings, settings.http_port)


def _run(spec: ServiceSpec, app: Any, settings: Settings, port: int) -> int:
    import uvicorn

    from shared.limits import Limits

    uvicorn.run(
        app,
        host=settings.http_host,
        port=port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=40,
        # h11 answers a request head over its buffer (16 KiB by default) with a plain-text 400 before the app
        # sees it; a larger buffer lets shared/limits.py answer heads over SKOLIT_MAX_HEADER_BYTES with a 431 problem.
        h11_max_incomplete_event_size=Limits.from_env(spec.name).h11_buffer_bytes,
    )
    return 0


#: the CLI pages further than the HTTP listing (an operator at a terminal, not a browser)
MAX_CLI_LIMIT = 10_000


def _bounded(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _note(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a note is required: say why the rows are given up (who decided, the ticket)")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("the note must not contain the NUL character")
    return text.strip()


def _outbox(spec: ServiceSpec, settings: Settings, args: argparse.Namespace) -> int:
    from shared import operations

    if args.outbox_command == "list":
        rows, parked = asyncio.run(operations.parked(spec, settings, limit=args.limit, include_discarded=args.include_discarded))
        if args.json:
            _json_lines(r.to_json() for r in rows)
        else:
            _table(["SEQ", "PARKED", "TOPIC", "TYPE", "BYTES", "HELD BEHIND", "DISCARDED", "REASON / NOTE"], [
                [str(r.seq), _when(r.parked_at), r.topic, r.event_type or "", _or(r.payload_bytes), str(r.held_behind),
                 _when(r.discarded_at) if r.discarded_at else "", (r.reason or "") + (f" / note: {r.discard_note}" if r.discard_note else "")]
                for r in rows
            ])
            print(f"{spec.name}: {parked} row(s) parked" + (", listed with discarded ones" if args.include_discarded else "")
                  + "; retry after a fix: outbox retry --seq N, give up: outbox discard --seq N --note TEXT", file=sys.stderr)
        return 0
    if args.outbox_command == "retry":
        seqs = None if args.all else args.seq
        n = asyncio.run(operations.retry_parked(spec, settings, seqs))
        print(f"{spec.name}: {n} parked row(s) back in line; the running relay publishes them (or parks them again, saying why)")
        return 0 if n or seqs is None else 1
    n = asyncio.run(operations.discard_parked(spec, settings, args.seq, args.note))
    print(f"{spec.name}: {n} parked row(s) discarded (kept as the record with your note); the rows behind them go on")
    return 0 if n else 1


def _json_lines(items: Any) -> None:
    for item in items:
        print(json.dumps(item, ensure_ascii=True, separators=(",", ":")))


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _or(value: object) -> str:
    return "?" if value is None else str(value)


def _safe(text: str, width: int | None = None) -> str:
    """What a sender wrote, fit for a terminal: control and formatting characters (escape sequences, bidi
    overrides, newlines) shown as U+FFFD, cut to ``width``."""
    clean = "".join("\ufffd" if unicodedata.category(c)[0] == "C" else c for c in text)
    return clean if width is None or len(clean) <= width else clean[: width - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, width: int = 60) -> None:
    """A plain table; every column but the last is cut to ``width`` characters, the last (the reason) is whole."""
    cells = [[_safe(c, None if i == len(header) - 1 else width) for i, c in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    for row in [list(header), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)) + "  " + row[-1])
