"""The data map of all four services, collected from their privacy parts, and the CLI that renders it into
docs/privacy.md (issue 18; it was ``python -m shared.privacy.datamap`` before)::

    python -m devkit.privacy_map --write docs/privacy.md     # regenerate
    python -m devkit.privacy_map --check docs/privacy.md     # exit 1 when the file is stale

Each service declares its ``ServiceMap`` and its retention rules in its ``PrivacyPart`` (``services/<name>/privacy.py``,
shared/privacy/part.py); shared/privacy/datamap.py holds the vocabulary, the checks and the rendering and names no
service. This module is where the four meet: ``SERVICES`` (their maps, in the order of shared/settings.py),
``RETENTION`` (their rules by schema) and ``FINDINGS`` (what the whole map shows), and the checks and rendering
with those as defaults, for the CLI and the tests (tests/unit/test_privacy_datamap.py,
tests/integration/test_privacy_datamap.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import import_module
from pathlib import Path

from shared.privacy import datamap
from shared.privacy.datamap import (  # noqa: F401 - the vocabulary, for the tests and callers of this module
    CATEGORIES,
    CONTACT,
    LEGAL_BASES,
    PENDING,
    SUBJECTS,
    Entry,
    NotPersonal,
    Personal,
    ServiceMap,
    looks_personal,
)
from shared.privacy.part import PrivacyPart
from shared.retention import Rule
from shared.service import ServiceSpec
from shared.settings import SERVICES as NAMES


def specs() -> list[ServiceSpec]:
    """The four services, then the connector (its sync state holds SS 12000 person ids)."""
    return [import_module(f"services.{name}.app").SPEC for name in NAMES] + [import_module("connectors.ss12000.app").SPEC]


def parts() -> list[PrivacyPart]:
    out = []
    for spec in specs():
        if spec.privacy is None:
            raise SystemExit(f"{spec.name} declares no privacy part (ServiceSpec.privacy)")
        out.append(spec.privacy)
    return out


PARTS = parts()
SERVICES: tuple[ServiceMap, ...] = tuple(p.data_map for p in PARTS)
RETENTION: dict[str, tuple[Rule, ...]] = {p.data_map.schema: p.retention for p in PARTS}

#: What the map shows that matters for erasure and retention (rendered at the end of docs/privacy.md).
FINDINGS: tuple[str, ...] = (
    "The retention job (see Retention above) removes messages, deliveries, broadcasts, bypass entries, the access log, closed "
    "requests, audit logs, the pulse counts of closed rounds and the messaging tables by their periods; the rest marked "
    f"\"{PENDING}\" is kept until erased. Replicas only mark rows inactive (duty.active, guardianship.active, person.removed); "
    "PersonRemoved clears the person's name but does not touch notification's contact, preference, recipient_setting, delivery or "
    "quiet_hours_bypass; assessment and catalog keep only the persons' markings (to hide protected identities) and names (to "
    "show staff by name), reporting no person replica at all. Assessment, catalog and reporting also keep the city's guardian "
    "relations (and reporting its duties) only to derive what a signed-in person may do; erasure deletes them.",
    "Free text is copied: assessment's audit_log.detail repeats answer comments, reopening reasons, action texts and notes; "
    "catalog's request reasons and conditions go into events (outbox.payload) and on into notification's message.data. "
    "Erasing the original leaves the copies.",
    "Every outbox keeps its published events for 90 days (SKOLIT_RETENTION_OUTBOX_DAYS), with staff ids and free text; "
    "notification's also keeps recipients' ids and dead letters carrying guardian and pupil ids. The same events also sit on "
    "the Kafka topics, under the deployment's topic retention.",
    "Person ids hide inside text: notification's message.dedupe_key holds `digest:<person>:<channel>:<day>`.",
    "catalog.app.supplier of a teacher-made resource can be a teacher's name and is public (GET /public/school-units/{id}/apps); "
    "its words also land in search_word, which is never pruned.",
    "Every API read of a person's contact details or messages (inbox, receipts, unreached, bypass log) is in "
    "notification.personal_data_access with a reason, and the data-protection officer reads it at GET /privacy/access-log. "
    "Reads of preferences are not logged.",
    "Protected identities are hidden from others everywhere an id is shown: notification's receipts, unreached and bypass log "
    "(without the id), and every answer of assessment and catalog (shared/city/markings.py). Reporting keeps no person ids "
    "in its answers at all.",
    "Names (SS 12000 givenName/familyName) arrive only on the city's person topic and are kept in the person replicas of "
    "assessment, catalog and notification; answers show them in person references (shared/city/people.py), never a protected "
    "identity's to anyone but the person. They are in the person's access export (table person) and go with the row on erasure.",
    "The pulse stores counts per group without suppression (assessment.pulse_respondents, pulse_tally): a group of one is "
    "suppressed in the API and in events, not in the table, until the counts go 30 days after the round closes "
    "(SKOLIT_RETENTION_PULSE_DAYS).",
    "answer.comment, action.owner, broadcast.body and licence.group_name are free text staff write; nothing keeps names of "
    "pupils out of them.",
    "Erasure (docs/decisions/0009) finds a person by their id: every column above that holds it, the outboxes' dead letters "
    "and the dedupe keys that embed it. It cannot find a name someone wrote into free text (a comment, an owner, a broadcast) "
    "about someone else; and the free text of Skolit's events (request notes, conditions, status reasons) stays on the topics, "
    "with the person sealed beside it, until the topics' retention. Dead letters of the city's events carry ids plain on "
    "`<city topic>.dlq`, like the city's topics themselves: their retention is the city's and the deployment's.",
)


def entries(services: Iterable[ServiceMap] = SERVICES) -> list[Entry]:
    return datamap.entries(services)


def personal_columns(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str, str]]:
    return datamap.personal_columns(services)


def declared_columns(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str, str]]:
    return datamap.declared_columns(services)


def personal_tables(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str]]:
    return datamap.personal_tables(services)


def non_personal_tables(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str]]:
    return datamap.non_personal_tables(services)


def inconsistencies(services: Iterable[ServiceMap] = SERVICES) -> list[str]:
    return datamap.inconsistencies(services)


def structure_problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap] = SERVICES,
                       tables: Iterable[tuple[str, str]] = ()) -> list[str]:
    return datamap.structure_problems(columns, services, tables)


def heuristic_problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap] = SERVICES) -> list[str]:
    return datamap.heuristic_problems(columns, services)


def problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap] = SERVICES,
             tables: Iterable[tuple[str, str]] = ()) -> list[str]:
    return datamap.problems(columns, services, tables)


def render(services: Iterable[ServiceMap] = SERVICES, retention: Mapping[str, Sequence[Rule]] = RETENTION,
           findings: Iterable[str] = FINDINGS) -> str:
    return datamap.render(services, retention, findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.privacy_map", description="Render the data map (docs/privacy.md).")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", type=Path, help="write the Markdown to PATH")
    group.add_argument("--check", metavar="PATH", type=Path, help="exit 1 when PATH differs from the map")
    args = parser.parse_args(argv)
    problems_inside = inconsistencies()
    if problems_inside:
        print("\n".join(problems_inside), file=sys.stderr)
        return 1
    text = render()
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write} ({len(entries())} entries)")
    elif args.check:
        if not args.check.exists() or args.check.read_text(encoding="utf-8") != text:
            print(f"{args.check} is stale: run python -m devkit.privacy_map --write {args.check}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
