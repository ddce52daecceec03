"""The data map (the services' privacy parts, collected by devkit/privacy_map.py; shared/privacy/datamap.py)
without a database: every entry is filled in, the map is consistent, docs/privacy.md is what the generator
writes, and the checks the integration test runs against the real schemas do catch an unmapped personal column, an unmapped table and a stale entry."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from devkit import privacy_map as datamap
from shared.settings import CONNECTOR, SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "privacy.md"


def as_database(services: tuple[datamap.ServiceMap, ...] = datamap.SERVICES) -> list[tuple[str, str, str]]:
    """The columns the map names, plus an id per mapped table: a stand-in for information_schema that the
    map describes completely."""
    columns = datamap.personal_columns(services) | datamap.declared_columns(services)
    columns |= {(s, t, "id") for s, t in datamap.personal_tables(services) | datamap.non_personal_tables(services)}
    return sorted(columns)


def test_the_generator_writes_the_doc(tmp_path: Path) -> None:
    target = tmp_path / "privacy.md"
    assert datamap.main(["--write", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text == datamap.render()
    for schema in SERVICES:
        assert f"\n## {schema}\n" in text
    assert "## Tables without personal data" in text
    assert datamap.main(["--check", str(target)]) == 0
    target.write_text(text + "\nedited by hand\n", encoding="utf-8")
    assert datamap.main(["--check", str(target)]) == 1


def test_docs_privacy_md_is_the_generators_output() -> None:
    assert DOC.read_text(encoding="utf-8") == datamap.render(), \
        "docs/privacy.md is stale: run python -m devkit.privacy_map --write docs/privacy.md"


def test_the_map_covers_the_four_services_and_the_connector_and_is_consistent() -> None:
    assert [s.schema for s in datamap.SERVICES] == [*SERVICES, CONNECTOR]
    assert datamap.inconsistencies() == []
    assert datamap.problems(as_database()) == []


def test_every_entry_has_purpose_legal_basis_retention_and_readers() -> None:
    entries = datamap.entries()
    assert len(entries) >= 40
    for e in entries:
        where = f"{e.schema}.{e.table} {e.columns}"
        assert e.columns and all(e.columns), where
        assert e.category in datamap.CATEGORIES, where
        assert e.subjects and set(e.subjects) <= set(datamap.SUBJECTS), where
        assert e.purpose.strip(), where
        assert e.legal_basis in datamap.LEGAL_BASES, where
        assert e.retention.strip(), where
        assert e.readers and all(r.strip() for r in e.readers), where
    for lb in datamap.LEGAL_BASES:
        assert "TO BE CONFIRMED" in lb.text, lb.key  # placeholders until the city's DPO confirms them
    for s in datamap.SERVICES:
        assert all(n.reason.strip() for n in s.not_personal), s.schema


def test_contact_details_are_mapped_as_encrypted_and_only_in_notification() -> None:
    contact = [e for e in datamap.entries() if e.category == datamap.CONTACT]
    assert {(e.schema, e.table, c) for e in contact for c in e.columns} == {
        ("notification", "contact", "email"), ("notification", "contact", "mobile"),
        ("notification", "contact_pending", "value"), ("notification", "device", "token")}
    assert all("AES-256-GCM" in e.note for e in contact)


def test_a_new_personal_column_without_an_entry_is_caught() -> None:
    columns = as_database() + [("notification", "contact", "phone"), ("catalog", "app_request", "requester_email"),
                               ("assessment", "answer", "pupil_name"), ("reporting", "submission", "approved_by")]
    found = datamap.heuristic_problems(columns)
    assert [p.split(":")[0] for p in found] == ["assessment.answer.pupil_name", "catalog.app_request.requester_email",
                                                 "notification.contact.phone", "reporting.submission.approved_by"]


def test_a_new_table_and_a_vanished_column_are_caught() -> None:
    columns = [c for c in as_database() if c != ("notification", "contact", "email")] + [("notification", "sms_log", "id")]
    found = datamap.structure_problems(columns)
    assert any(p.startswith("notification.sms_log: table not in the data map") for p in found), found
    assert any(p.startswith("notification.contact.email: in the data map but not in the database") for p in found), found
    assert any(p.startswith("catalog.empty: table not in the data map")
               for p in datamap.structure_problems(as_database(), tables=[("catalog", "empty")]))


def test_an_entry_dropped_from_the_map_is_caught() -> None:
    """The real tables stay; the map loses its entry for the access log."""
    notification = next(s for s in datamap.SERVICES if s.schema == "notification")
    shrunk = dataclasses.replace(notification, personal=tuple(p for p in notification.personal if p.table != "personal_data_access"))
    services = tuple(shrunk if s is notification else s for s in datamap.SERVICES)
    found = datamap.problems(as_database(), services)
    assert "notification.personal_data_access: table not in the data map" in "\n".join(found)
    assert {p.split(":")[0] for p in datamap.heuristic_problems(as_database(), services)} == {
        f"notification.personal_data_access.{c}" for c in ("actor", "actor_roles", "subject")}


def test_contradictions_inside_the_map_are_caught() -> None:
    catalog = next(s for s in datamap.SERVICES if s.schema == "catalog")
    twice = dataclasses.replace(catalog, not_personal=catalog.not_personal + (
        datamap.NotPersonal("app_request", "not really", ("requester",)),
        datamap.NotPersonal("licence", "not really"),
        datamap.NotPersonal("licence", "a plain column", ("seats",)),
    ))
    found = "\n".join(datamap.inconsistencies((twice,)))
    assert "catalog.app_request.requester: mapped as personal and declared not personal" in found
    assert "catalog.licence: has personal columns and is declared non-personal" in found
    assert "catalog.licence.seats: declared not personal, but its name does not look personal" in found


@pytest.mark.parametrize("name", [
    "person", "guardian_id", "pupil_name", "recipient", "requested_by", "submitted_by", "created_by", "decided_by", "actor",
    "email", "e_mail", "mobile", "phone_number", "push_token", "home_address", "personnummer", "birth_date", "ip_address",
    "comment", "note", "reason", "free_text", "body", "subject", "detail", "display_name", "security_marking",
])
def test_the_hint_recognises_names_of_personal_data(name: str) -> None:
    assert datamap.looks_personal(name)


@pytest.mark.parametrize("name", ["school_unit", "heading", "level", "created_at", "grades", "subjects", "status", "deadline",
                                  "school_types", "launches", "indicator_id", "year"])
def test_the_hint_leaves_plain_columns_alone(name: str) -> None:
    assert not datamap.looks_personal(name)


def test_the_doc_has_no_stray_html() -> None:
    """Placeholders such as <person> would vanish in rendered Markdown unless they are in code spans."""
    text = datamap.render()
    body = text.split("-->", 1)[1]
    assert "<" not in re.sub(r"`[^`]*`", "", body)
