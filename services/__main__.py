"""Project-wide tools that span the services: ``python -m services asyncapi [--out FILE]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


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
    args = parser.parse_args()
    if args.command == "asyncapi":
        args.out.write_text(json.dumps(combined_asyncapi(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
