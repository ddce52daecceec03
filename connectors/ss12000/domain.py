"""Pure rules of the SS 12000 connector: an entity of the city's API → the city events Skolit publishes for it,
their fingerprint and their deterministic ids, and the guardian relations of a pupil.

What travels: organisations as they are (school units with code, school types and parent; districts); persons by
id, protection marking and name only — never civic number, e-mail, phone or EPPN (the events are built field by
field from an allow-list, so nothing else can slip through); duties with their role mapped to Skolit's
``DutyRole`` (an unknown role becomes "Annan personal" and is counted); guardian relations = the pupil's
responsibles × the pupil's active enrolments and placements (school unit, school type, school year).

Ids (docs/decisions/0021): an event's CloudEvents id is uuid5 of (type, entity id, fingerprint, meta.modified).
The fingerprint is a hash of what the events say, so an unchanged entity synced again — after an overlap, a crash,
or a full resync from empty state — yields the very same ids, which every service's inbox drops. meta.modified is
in the id too, so an entity that changes A → B → back to A gets a new id for the second A (with the fingerprint
alone, the inboxes would drop it as a repeat of the first, and B would stay).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson

from shared.events.base import Event
from shared.events.city import (
    DutyAssigned,
    DutyEnded,
    DutyRole,
    EndReason,
    GuardianRelationAdded,
    GuardianRelationEnded,
    OrganisationEnded,
    OrganisationType,
    OrganisationUpserted,
    PersonRemoved,
    PersonUpserted,
    SchoolType,
    SecurityMarking,
)

NAMESPACE = uuid5(NAMESPACE_URL, "https://github.com/skolit/connectors/ss12000")
RelationType = Literal["Vårdnadshavare", "Annan ansvarig", "God man"]
RELATION_TYPES: tuple[RelationType, ...] = ("Vårdnadshavare", "Annan ansvarig", "God man")
NAME_MAX = 200
NO_NAME = "(namn saknas)"


class Unusable(ValueError):
    """An entity the connector cannot map (no id): skipped and counted, never half-published."""


# --- reading the API's fields --------------------------------------------------------------------------------


def entity_id(raw: Mapping[str, Any]) -> UUID:
    try:
        return UUID(str(raw.get("id")))
    except ValueError:
        raise Unusable(f"not a UUID id: {str(raw.get('id'))[:60]!r}") from None


def ref(value: Any) -> UUID | None:
    """``{"id": ...}`` (an SS 12000 reference) → its id; None when absent or not a UUID."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None


def day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def modified(raw: Mapping[str, Any]) -> datetime | None:
    meta = raw.get("meta")
    return moment(meta.get("modified")) if isinstance(meta, Mapping) else None


def _text(value: Any, limit: int = NAME_MAX) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text[:limit] or None


def school_type(value: Any) -> SchoolType | None:
    try:
        return SchoolType(str(value))
    except ValueError:
        return None


# --- fingerprints and ids ------------------------------------------------------------------------------------


def fingerprint(events: Sequence[Event]) -> str:
    """A hash of what the events say (types and data), independent of key order: the same state, the same print."""
    body = [[e.TYPE, e.model_dump(mode="json", exclude_none=True)] for e in events]
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def event_id(event_type: str, entity: UUID, fp: str, when: datetime | None) -> str:
    stamp = when.astimezone(UTC).isoformat() if when else ""
    return str(uuid5(NAMESPACE, f"{event_type}|{entity}|{fp}|{stamp}"))


def relation_id(guardian: UUID, pupil: UUID, school_unit: UUID) -> UUID:
    return uuid5(NAMESPACE, f"guardianship|{guardian}|{pupil}|{school_unit}")


# --- organisations, persons, duties, placements --------------------------------------------------------------


@dataclass(frozen=True)
class Mapped:
    """An entity's events (its whole published state), what kind it is (for the dry run) and what a later
    removal needs."""

    id: UUID
    kind: str
    events: tuple[Event, ...]
    modified: datetime | None
    end_date: date | None = None
    person: UUID | None = None
    unit: UUID | None = None
    #: all its events are "ended" ones: not worth publishing for an entity never published before
    ended: bool = False
    unknown_role: bool = False
    #: the fingerprint of an entity without events of its own (a placement)
    fp: str | None = None

    @property
    def fingerprint(self) -> str:
        return self.fp or fingerprint(self.events)


def organisation(raw: Mapping[str, Any], today: date) -> Mapped:
    oid = entity_id(raw)
    try:
        kind = OrganisationType(str(raw.get("organisationType")))
    except ValueError:
        kind = OrganisationType.OVRIGT
    code = str(raw.get("schoolUnitCode") or "")
    municipality = str(raw.get("municipalityCode") or "")
    end = day(raw.get("endDate"))
    upserted = OrganisationUpserted(
        id=oid,
        displayName=_text(raw.get("displayName")) or NO_NAME,
        organisationType=kind,
        schoolUnitCode=code if len(code) == 8 and code.isdigit() else None,
        organisationCode=_text(raw.get("organisationCode"), 50),
        municipalityCode=municipality if len(municipality) == 4 and municipality.isdigit() else None,
        schoolTypes=list(dict.fromkeys(t for t in (school_type(v) for v in raw.get("schoolTypes") or []) if t is not None)),
        parentOrganisation=ref(raw.get("parentOrganisation")),
        startDate=day(raw.get("startDate")),
        endDate=end,
    )
    events: tuple[Event, ...] = (upserted,)
    if end is not None and end < today:  # closed: every replica also marks it ended
        events += (OrganisationEnded(id=oid, endDate=end, reason=EndReason.ENDED),)
    return Mapped(oid, kind.value, events, modified(raw), end_date=end)


def security_marking(value: Any) -> SecurityMarking:
    """Unknown or missing markings: an absent one is Ingen; one Skolit cannot read is taken as the stricter
    Sekretessmarkering, so a protected identity is never shown by mistake."""
    if value in (None, ""):
        return SecurityMarking.INGEN
    try:
        return SecurityMarking(str(value))
    except ValueError:
        return SecurityMarking.SEKRETESSMARKERING


def person(raw: Mapping[str, Any]) -> Mapped:
    """Id, marking and name: built from this allow-list only, so civicNo, emails, phoneNumbers, EPPNs, addresses and
    anything a future version adds stay out of the events."""
    pid = entity_id(raw)
    event = PersonUpserted(id=pid, securityMarking=security_marking(raw.get("securityMarking")),
                           givenName=_text(raw.get("givenName")), familyName=_text(raw.get("familyName")))
    return Mapped(pid, "person", (event,), modified(raw))


def duty_role(value: Any) -> tuple[DutyRole, bool]:
    """The role and whether it was unknown (mapped to Annan personal)."""
    try:
        return DutyRole(str(value)), False
    except ValueError:
        return DutyRole.ANNAN_PERSONAL, True


def duty(raw: Mapping[str, Any], today: date) -> Mapped:
    did = entity_id(raw)
    who, where = ref(raw.get("person")), ref(raw.get("dutyAt"))
    if who is None or where is None:
        raise Unusable("a duty without person or dutyAt")
    role, unknown = duty_role(raw.get("dutyRole"))
    end = day(raw.get("endDate"))
    if end is not None and end < today:
        ended = DutyEnded(id=did, person=who, dutyAt=where, endDate=end, reason=EndReason.ENDED)
        return Mapped(did, role.value, (ended,), modified(raw), end_date=end, person=who, unit=where, ended=True, unknown_role=unknown)
    assigned = DutyAssigned(id=did, person=who, dutyAt=where, dutyRole=role, signature=_text(raw.get("signature"), 20),
                            startDate=day(raw.get("startDate")), endDate=end)
    return Mapped(did, role.value, (assigned,), modified(raw), end_date=end, person=who, unit=where, unknown_role=unknown)


def removed(resource: str, entity: UUID, kind: str, person_id: UUID | None, unit: UUID | None, today: date) -> Event:
    """The event for an entity gone from the API (deleted, or not seen by a full resync)."""
    if resource == "organisations":
        return OrganisationEnded(id=entity, endDate=today, reason=EndReason.DELETED)
    if resource == "persons":
        return PersonRemoved(id=entity, reason=EndReason.DELETED)
    if resource == "duties":
        assert person_id is not None and unit is not None
        return DutyEnded(id=entity, person=person_id, dutyAt=unit, endDate=today, reason=EndReason.DELETED)
    raise ValueError(f"{resource}: removed without an event of its own")


# --- where pupils go to school, and their guardian relations -------------------------------------------------


@dataclass(frozen=True)
class Schooling:
    """An enrolment (source: the pupil) or a placement (source: the placement) at a school unit."""

    source: UUID
    position: int
    school_unit: UUID
    school_type: SchoolType | None
    school_year: int | None
    start_date: date | None
    end_date: date | None
    modified: datetime | None

    def active(self, today: date) -> bool:
        # a future start counts: guardians see their child's new school before the first day
        return self.end_date is None or self.end_date >= today


def enrolments(raw: Mapping[str, Any]) -> list[Schooling]:
    pid = entity_id(raw)
    out = []
    for position, e in enumerate(raw.get("enrolments") or []):
        if not isinstance(e, Mapping) or e.get("cancelled") is True:
            continue
        unit = ref(e.get("enroledAt"))
        if unit is None:
            continue
        year = e.get("schoolYear")
        out.append(Schooling(pid, position, unit, school_type(e.get("schoolType")),
                             year if isinstance(year, int) and 0 <= year <= 13 else None,
                             day(e.get("startDate")), day(e.get("endDate")), modified(raw)))
    return out


def placement(raw: Mapping[str, Any]) -> tuple[Mapped, Schooling]:
    """A förskola/fritidshem placement: its state (kind = school type; person = the child) and the schooling it gives.
    It has no event of its own; its fingerprint is that of the schooling, which the child's relations come from."""
    plid = entity_id(raw)
    child, unit = ref(raw.get("child")), ref(raw.get("placedAt"))
    if child is None or unit is None:
        raise Unusable("a placement without child or placedAt")
    kind = school_type(raw.get("schoolType"))
    schooling = Schooling(plid, 0, unit, kind, None, day(raw.get("startDate")), day(raw.get("endDate")), modified(raw))
    body = [str(child), str(unit), kind.value if kind else None, str(schooling.start_date), str(schooling.end_date)]
    fp = hashlib.sha256(orjson.dumps(body)).hexdigest()[:32]
    return Mapped(plid, kind.value if kind else "placement", (), modified(raw), end_date=schooling.end_date, person=child,
                  unit=unit, fp=fp), schooling


@dataclass(frozen=True)
class Responsible:
    guardian: UUID
    relation_type: RelationType


def responsibles(raw: Mapping[str, Any]) -> list[Responsible]:
    pid = entity_id(raw)
    out: dict[UUID, Responsible] = {}
    for r in raw.get("responsibles") or []:
        if not isinstance(r, Mapping):
            continue
        guardian = ref(r.get("person"))
        if guardian is None or guardian == pid:
            continue
        out.setdefault(guardian, Responsible(guardian, relation_type(r.get("relationType"))))
    return list(out.values())


def relation_type(value: Any) -> RelationType:
    """The SS 12000 relationType; one Skolit does not know is "Annan ansvarig" (a responsible all the same)."""
    for known in RELATION_TYPES:
        if value == known:
            return known
    return "Annan ansvarig"


@dataclass(frozen=True)
class Relation:
    id: UUID
    event: GuardianRelationAdded
    modified: datetime | None

    @property
    def fingerprint(self) -> str:
        return fingerprint((self.event,))


def relations(pupil: UUID, guardians: Iterable[Responsible], schoolings: Iterable[Schooling], today: date,
              pupil_modified: datetime | None = None) -> dict[UUID, Relation]:
    """The pupil's guardian relations: each responsible × each active schooling, one per school unit (an
    enrolment before a placement at the same unit, the earlier position first). Its time is the latest
    modification it comes from, so it never goes out older than what it replaces."""
    active = sorted((s for s in schoolings if s.active(today)), key=lambda s: (s.source != pupil, str(s.source), s.position))
    out: dict[UUID, Relation] = {}
    for r in guardians:
        for s in active:
            rid = relation_id(r.guardian, pupil, s.school_unit)
            if rid in out:
                continue
            times = [t for t in (pupil_modified, s.modified) if t is not None]
            event = GuardianRelationAdded(id=rid, guardian=r.guardian, pupil=pupil, schoolUnit=s.school_unit,
                                          relationType=r.relation_type, schoolType=s.school_type, schoolYear=s.school_year,
                                          startDate=s.start_date)
            out[rid] = Relation(rid, event, max(times) if times else None)
    return out


def relation_ended(rid: UUID, guardian: UUID, pupil: UUID, school_unit: UUID, today: date, reason: EndReason) -> GuardianRelationEnded:
    return GuardianRelationEnded(id=rid, guardian=guardian, pupil=pupil, schoolUnit=school_unit, endDate=today, reason=reason)
