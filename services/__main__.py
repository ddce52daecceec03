"""Project-wide tools that span the services: ``python -m services asyncapi [--out FILE]``;
``python -m services check-production [PROCESS ...]``: would this environment start these processes in production
(shared/production.py)? One line per problem, exit status 2 if any, before a rollout rather than at it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.production import EXIT_STATUS, PROCESSES, problems


def combined_asyncapi() -> dict:
    from services.assessment.app import SPEC as assessment
    from services.catalog.app import SPEC as catalog
    from services.notification.app import SPEC as notification
    from services.reporting.app import SPEC as reporting
    from shared.asyncapi import document

    return document([assessment, catalog, reporting, notification], include_city=True, title="Skolit (all services and the city's systems)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("asyncapi", help="write the combined AsyncAPI document")
    a.add_argument("--out", type=Path, default=Path("docs/asyncapi.json"))
    c = sub.add_parser("check-production", help="check this environment against the production rules, whatever SKOLIT_ENV says")
    c.add_argument("processes", nargs="*", metavar="PROCESS", help=f"one of {', '.join(PROCESSES)}; default: all")
    args = parser.parse_args()
    if args.command == "asyncapi":
        args.out.write_text(json.dumps(combined_asyncapi(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    if args.command == "check-production":
        if unknown := [p for p in args.processes if p not in PROCESSES]:
            parser.error(f"unknown process {', '.join(unknown)}: one of {', '.join(PROCESSES)}")
        sys.exit(check_production(args.processes or PROCESSES))


def check_production(processes: Sequence[str]) -> int:
    """Each process's problems, named; never a value (shared/production.py)."""
    failed = 0
    for process in processes:
        found = problems(process, os.environ)
        print(f"{process}: " + (f"{len(found)} problem(s)" if found else "ready for production"))
        for line in found:
            print(f"  {line}")
        failed += bool(found)
    return EXIT_STATUS if failed else 0


if __name__ == "__main__":
    main()
