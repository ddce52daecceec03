"""``python -m connectors.ss12000 [serve|sync|provision|migrate|republish|outbox|...]``

``sync`` runs one sync from the command line and prints what it did; ``--dry-run`` prints what would change (per
resource: new, changed and removed, with the entities' ids and kinds — never names) and commits nothing. The events
of a real sync go to the connector's outbox, which the running connector's relay publishes. Every other command is
every Skolit service's (shared/cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import timedelta

from connectors.ss12000.app import SPEC
from connectors.ss12000.settings import Ss12000Settings
from shared.cli import service_main
from shared.settings import Settings


def sync_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.ss12000 sync", description="One sync of the city's SS 12000 data now")
    parser.add_argument("--full", action="store_true", help="everything, and remove what the API no longer lists (default: incremental)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; commit nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    settings = Settings.from_env(SPEC.name)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    sync_settings = Ss12000Settings.from_env()
    if not sync_settings.configured:
        print("the SS 12000 sync is not configured: set SKOLIT_SS12000_URL, SKOLIT_SS12000_CLIENT_ID and SKOLIT_SS12000_CLIENT_SECRET",
              file=sys.stderr)
        return 2
    report = asyncio.run(_sync(settings, sync_settings, "full" if args.full else "incremental", args.dry_run))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print(report)
    return 0


async def _sync(settings: Settings, sync_settings: Ss12000Settings, mode: str, dry_run: bool) -> dict[str, object]:
    from connectors.ss12000.client import Ss12000Client
    from connectors.ss12000.sync import run_sync
    from shared import db
    from shared.migrate import migrate

    pool = await db.create_pool(settings.database_url, settings.schema, min_size=1, max_size=2)
    client = Ss12000Client(sync_settings)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, settings.schema, SPEC.migrations())
        report = await run_sync(pool, client, mode=mode, trigger="cli", dry_run=dry_run,
                                overlap=timedelta(seconds=sync_settings.overlap_seconds))
    finally:
        await client.aclose()
        await pool.close()
    out: dict[str, object] = {"run": report.run_id if not dry_run else None, "mode": report.mode, "dryRun": dry_run,
                              "resumed": report.resumed, **report.summary()}
    if dry_run:
        changes: dict[str, dict[str, list[dict[str, str]]]] = {}
        for c in report.changes:
            changes.setdefault(c.resource, {}).setdefault(c.change, []).append({"id": str(c.id), "kind": c.kind})
        out["changes"] = changes
    return out


def _print(report: dict[str, object]) -> None:
    head = "dry run: nothing was committed" if report["dryRun"] else f"run {report['run']}" + (" (resumed)" if report["resumed"] else "")
    print(f"SS 12000 {report['mode']} sync, {head}; events {'that would be ' if report['dryRun'] else ''}staged: {report['events']}")
    resources = report.get("resources")
    assert isinstance(resources, dict)
    for resource, counts in resources.items():
        print(f"  {resource}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    changes = report.get("changes")
    if isinstance(changes, dict):
        for resource, by_change in changes.items():
            for change, items in by_change.items():
                for item in items:
                    print(f"    {change:<8} {resource:<14} {item['id']}  {item['kind']}")


def main() -> None:
    # httpx logs every request at INFO: a sync makes hundreds; failures are logged by the client itself
    logging.getLogger("httpx").setLevel(logging.WARNING)
    argv = sys.argv[1:]
    if argv and argv[0] == "sync":
        sys.exit(sync_main(argv[1:]))
    sys.exit(service_main(SPEC, argv))


if __name__ == "__main__":
    main()
