"""The command line every service has: ``python -m services.<name> [command]``.

    serve                   run the HTTP API, consumers and outbox relay (the default)
    provision               create the service's role and schema (needs an admin DATABASE_URL)
    migrate                 apply the service's migrations and exit
    republish --since TIME  publish the outbox again from TIME (PostgreSQL is the record)
    dlq-reprocess           apply this service's dead letters again, after a fix
    rebuild                 empty the read models and replay the service's topics (reporting)
    asyncapi                print the service's AsyncAPI document
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import datetime

from shared.service import ServiceSpec
from shared.settings import DEFAULT_DATABASE_URL, Settings


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def service_main(spec: ServiceSpec, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{spec.name}", description=spec.title)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the service (default)")
    serve.add_argument("--provision", action="store_true", help="first create role and schema with the admin DATABASE_URL")
    sub.add_parser("provision", help="create the service's role and schema (admin DATABASE_URL)")
    sub.add_parser("migrate", help="apply migrations and exit")
    rp = sub.add_parser("republish", help="publish outbox events created at or after --since again")
    rp.add_argument("--since", required=True, type=datetime.fromisoformat, help="ISO 8601 time, e.g. 2026-11-01T00:00:00+00:00")
    dq = sub.add_parser("dlq-reprocess", help="apply this service's dead-lettered events again")
    dq.add_argument("--idle-seconds", type=float, default=5.0, help="stop when nothing new arrived for this long")
    rb = sub.add_parser("rebuild", help="empty the read models and apply every event on the service's topics again")
    rb.add_argument("--idle-seconds", type=float, default=5.0, help="stop when nothing new arrived for this long")
    sub.add_parser("asyncapi", help="print the AsyncAPI document")
    args = parser.parse_args(argv)
    settings = Settings.from_env(spec.name)
    _setup_logging(settings.log_level)
    command = args.command or "serve"

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

    import uvicorn

    from shared.app import create_app
    from shared.limits import Limits

    uvicorn.run(
        create_app(spec, settings),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=40,
        # h11 answers a request head over its buffer (16 KiB by default) with a plain-text 400 before the app
        # sees it; a larger buffer lets shared/limits.py answer heads over SKOLIT_MAX_HEADER_BYTES with a 431 problem.
        h11_max_incomplete_event_size=Limits.from_env(spec.name).h11_buffer_bytes,
    )
    return 0
