"""The SS 12000 connector's pure rules (connectors/ss12000/domain.py): mapping, what never reaches Kafka, guardian
relations, fingerprints and deterministic ids. No database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from connectors.ss12000 import domain
from shared.events.city import (
    DutyAssigned,
    DutyEnded,
    DutyRole,
    EndReason,
    OrganisationEnded,
    OrganisationType,
    OrganisationUpserted,
    PersonUpserted,
    SchoolType,
    SecurityMarking,
)
from shared.events.envelope import encode, new_envelope

TODAY = date(2026, 12, 7)
MODIFIED = "2026-11-02T08:15:00Z"
SCHOOL = UUID("6564f0c0-20f5-5ed5-9b80-5f7a55d55403")
OTHER_SCHOOL = UUID("7d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6")


def full_person(**overrides: Any) -> dict[str, Any]:
    """A person as the API serves one: with everything that must stay out of Skolit's events."""
    raw: dict[str, Any] = {
        "id": str(uuid4()),
        "meta": {"created": "2020-01-01T00:00:00Z", "modified": MODIFIED},
        "givenName": "Astrid", "middleName": "Maria", "familyName": "Lindqvist",
        "eduPersonPrincipalNames": ["astrid.lindqvist@skola.stad.example"],
        "civicNo": {"value": "201001012386", "nationality": "SE"},
        "emails": [{"value": "astrid@example.com", "type": "Privat"}],
        "phoneNumbers": [{"value": "+46701234567", "type": "Mobil", "mobile": True}],
        "addresses": [{"streetAddress": "Storgatan 1", "postalCode": "11122", "locality": "Stockholm"}],
        "securityMarking": "Ingen",
        "enrolments": [], "responsibles": [],
    }
    raw.update(overrides)
    return raw


def test_a_person_with_civic_number_emails_phones_and_eppn_produces_an_event_without_them() -> None:
    raw = full_person(securityMarking="Skyddad folkbokföring")
    mapped = domain.person(raw)
    (event,) = mapped.events
    assert isinstance(event, PersonUpserted)
    assert event.model_dump(mode="json", exclude_none=True) == {
        "id": raw["id"], "securityMarking": "Skyddad folkbokföring", "givenName": "Astrid", "familyName": "Lindqvist"}
    wire = encode(new_envelope(event, "city.ss12000"))
    on_the_wire = wire.value + b"".join(v for _, v in wire.headers) + wire.key
    for secret in ("201001012386", "astrid@example.com", "+46701234567", "astrid.lindqvist@skola", "Storgatan", "Maria"):
        assert secret.encode() not in on_the_wire, secret


@pytest.mark.parametrize(("marking", "expected"), [
    (None, SecurityMarking.INGEN), ("Ingen", SecurityMarking.INGEN), ("Sekretessmarkering", SecurityMarking.SEKRETESSMARKERING),
    ("Skyddad folkbokföring", SecurityMarking.SKYDDAD_FOLKBOKFORING),
    # a value Skolit cannot read is taken as protected: never shown by mistake
    ("Kvarskrivning", SecurityMarking.SEKRETESSMARKERING),
])
def test_markings(marking: str | None, expected: SecurityMarking) -> None:
    assert domain.person(full_person(securityMarking=marking)).events[0].securityMarking == expected  # type: ignore[attr-defined]


def test_a_school_unit_keeps_code_types_and_parent_and_a_bad_code_is_dropped() -> None:
    district = uuid4()
    raw = {"id": str(SCHOOL), "meta": {"modified": MODIFIED}, "displayName": "  Rosengårdsskolan ", "organisationType": "Skolenhet",
           "schoolUnitCode": "12345678", "municipalityCode": "0180", "schoolTypes": ["GR", "FKLASS", "XX", "GR"],
           "parentOrganisation": {"id": str(district)}, "startDate": "1972-08-15"}
    (event,) = domain.organisation(raw, TODAY).events
    assert isinstance(event, OrganisationUpserted)
    assert (event.displayName, event.organisationType, event.schoolUnitCode, event.municipalityCode) == (
        "Rosengårdsskolan", OrganisationType.SKOLENHET, "12345678", "0180")
    assert event.schoolTypes == [SchoolType.GR, SchoolType.FKLASS] and event.parentOrganisation == district
    assert event.startDate == date(1972, 8, 15)
    bad = domain.organisation({**raw, "schoolUnitCode": "1234", "municipalityCode": "stockholm", "organisationType": "Ny typ"}, TODAY)
    assert bad.events[0].schoolUnitCode is None and bad.events[0].municipalityCode is None  # type: ignore[attr-defined]
    assert bad.events[0].organisationType == OrganisationType.OVRIGT  # type: ignore[attr-defined]


def test_a_district_and_a_closed_school_unit() -> None:
    district = domain.organisation({"id": str(uuid4()), "displayName": "Område Öster", "organisationType": "Förvaltning"}, TODAY)
    assert district.kind == "Förvaltning" and district.events[0].parentOrganisation is None  # type: ignore[attr-defined]
    closed = domain.organisation({"id": str(SCHOOL), "displayName": "Gamla skolan", "organisationType": "Skolenhet",
                                  "endDate": "2026-06-30"}, TODAY)
    assert [type(e) for e in closed.events] == [OrganisationUpserted, OrganisationEnded]
    assert closed.events[1] == OrganisationEnded(id=SCHOOL, endDate=date(2026, 6, 30), reason=EndReason.ENDED)


def test_duty_roles_map_and_an_unknown_one_becomes_annan_personal() -> None:
    base = {"id": str(uuid4()), "meta": {"modified": MODIFIED}, "person": {"id": str(uuid4())}, "dutyAt": {"id": str(SCHOOL)},
            "signature": "ALI", "startDate": "2020-08-01"}
    rektor = domain.duty({**base, "dutyRole": "Rektor"}, TODAY)
    assert isinstance(rektor.events[0], DutyAssigned) and rektor.events[0].dutyRole == DutyRole.REKTOR and not rektor.unknown_role
    odd = domain.duty({**base, "dutyRole": "Vaktmästare"}, TODAY)
    assert odd.events[0].dutyRole == DutyRole.ANNAN_PERSONAL and odd.unknown_role  # type: ignore[attr-defined]
    ended = domain.duty({**base, "dutyRole": "Lärare", "endDate": "2026-06-30"}, TODAY)
    assert ended.ended and isinstance(ended.events[0], DutyEnded) and ended.events[0].endDate == date(2026, 6, 30)
    future = domain.duty({**base, "dutyRole": "Lärare", "endDate": "2027-06-30"}, TODAY)
    assert isinstance(future.events[0], DutyAssigned) and not future.ended
    with pytest.raises(domain.Unusable):
        domain.duty({**base, "person": None, "dutyRole": "Lärare"}, TODAY)


def pupil_with(guardians: list[UUID], enrolments: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return full_person(responsibles=[{"person": {"id": str(g)}, "relationType": "Vårdnadshavare"} for g in guardians],
                       enrolments=enrolments, **overrides)


def test_guardian_relations_are_responsibles_times_active_enrolments() -> None:
    mother, father = uuid4(), uuid4()
    raw = pupil_with([mother, father], [
        {"enroledAt": {"id": str(SCHOOL)}, "schoolType": "GR", "schoolYear": 4, "startDate": "2022-08-15"},
        {"enroledAt": {"id": str(OTHER_SCHOOL)}, "schoolType": "GR", "schoolYear": 3, "endDate": "2026-06-10"},  # ended
        {"enroledAt": {"id": str(uuid4())}, "schoolType": "GY", "cancelled": True},                               # cancelled
    ])
    pupil = UUID(raw["id"])
    found = domain.relations(pupil, domain.responsibles(raw), domain.enrolments(raw), TODAY, domain.modified(raw))
    assert set(found) == {domain.relation_id(mother, pupil, SCHOOL), domain.relation_id(father, pupil, SCHOOL)}
    relation = found[domain.relation_id(mother, pupil, SCHOOL)]
    assert (relation.event.guardian, relation.event.pupil, relation.event.schoolUnit) == (mother, pupil, SCHOOL)
    assert (relation.event.schoolType, relation.event.schoolYear, relation.event.startDate) == (SchoolType.GR, 4, date(2022, 8, 15))
    assert relation.modified == datetime(2026, 11, 2, 8, 15, tzinfo=UTC)
    # a responsible removed, or the enrolment ended: the relation is no longer derived
    assert domain.relations(pupil, domain.responsibles(pupil_with([father], raw["enrolments"], id=raw["id"])),
                            domain.enrolments(raw), TODAY).keys() == {domain.relation_id(father, pupil, SCHOOL)}
    assert domain.relations(pupil, domain.responsibles(raw), [], TODAY) == {}


def test_a_placement_gives_a_schooling_and_an_enrolment_at_the_same_unit_wins() -> None:
    child, guardian = uuid4(), uuid4()
    placement = {"id": str(uuid4()), "meta": {"modified": "2026-11-20T10:00:00Z"}, "placedAt": {"id": str(SCHOOL)},
                 "child": {"id": str(child)}, "schoolType": "FTH", "startDate": "2025-08-01"}
    mapped, schooling = domain.placement(placement)
    assert mapped.person == child and mapped.kind == "FTH" and mapped.events == ()
    enrolment = domain.Schooling(child, 0, SCHOOL, SchoolType.GR, 2, None, None, datetime(2026, 1, 1, tzinfo=UTC))
    both = domain.relations(child, [domain.Responsible(guardian, "Vårdnadshavare")], [schooling, enrolment], TODAY)
    (relation,) = both.values()
    assert relation.event.schoolType == SchoolType.GR and relation.event.schoolYear == 2
    only = domain.relations(child, [domain.Responsible(guardian, "God man")], [schooling], TODAY)
    (relation,) = only.values()
    assert relation.event.schoolType == SchoolType.FTH and relation.event.relationType == "God man"
    assert relation.modified == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_fingerprints_follow_what_is_published_not_what_is_dropped() -> None:
    raw = full_person()
    same = domain.person({**raw, "emails": [], "civicNo": {"value": "199001011234"}, "meta": {"modified": "2026-12-01T00:00:00Z"}})
    assert domain.person(raw).fingerprint == same.fingerprint  # a new e-mail address changes nothing Skolit publishes
    renamed = domain.person({**raw, "familyName": "Berg"})
    assert renamed.fingerprint != domain.person(raw).fingerprint
    # independent of key order in the API's JSON
    reordered = orjson.loads(orjson.dumps(dict(reversed(list(raw.items())))))
    assert domain.person(reordered).fingerprint == domain.person(raw).fingerprint


def test_event_ids_are_deterministic_and_change_with_type_entity_fingerprint_and_time() -> None:
    entity = uuid4()
    when = datetime(2026, 11, 2, 8, 15, tzinfo=UTC)
    one = domain.event_id(PersonUpserted.TYPE, entity, "abc", when)
    assert one == domain.event_id(PersonUpserted.TYPE, entity, "abc", when.astimezone())  # the same instant, another zone
    assert UUID(one).version == 5
    others = {domain.event_id(PersonUpserted.TYPE, entity, "abd", when), domain.event_id(PersonUpserted.TYPE, uuid4(), "abc", when),
              domain.event_id(DutyAssigned.TYPE, entity, "abc", when),
              # A → B → back to A: the second A is a new event, or every inbox would drop it and keep B
              domain.event_id(PersonUpserted.TYPE, entity, "abc", datetime(2026, 11, 3, tzinfo=UTC))}
    assert one not in others and len(others) == 4
    assert domain.relation_id(entity, SCHOOL, OTHER_SCHOOL) == domain.relation_id(entity, SCHOOL, OTHER_SCHOOL)
    assert domain.relation_id(entity, SCHOOL, OTHER_SCHOOL) != domain.relation_id(SCHOOL, entity, OTHER_SCHOOL)


def test_removal_events() -> None:
    entity, person, unit = uuid4(), uuid4(), uuid4()
    assert domain.removed("organisations", entity, "Skolenhet", None, None, TODAY) == OrganisationEnded(
        id=entity, endDate=TODAY, reason=EndReason.DELETED)
    duty = domain.removed("duties", entity, "Lärare", person, unit, TODAY)
    assert duty == DutyEnded(id=entity, person=person, dutyAt=unit, endDate=TODAY, reason=EndReason.DELETED)
    assert domain.removed("persons", entity, "person", None, None, TODAY).reason == EndReason.DELETED  # type: ignore[attr-defined]


def test_an_entity_without_a_uuid_is_unusable() -> None:
    with pytest.raises(domain.Unusable):
        domain.person({"id": "12345"})
