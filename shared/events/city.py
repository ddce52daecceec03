"""The contract the city's systems publish against (SS 12000 field names).

Persons appear by id, protection marking and name (SS 12000 givenName/familyName, for showing people to
staff): no personnummer, no contact details. Contact details reach the notification service over its own
HTTP API. Names travel only on the city's topics: Skolit's own events never carry them (shared/events/base.py).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events.base import Event
from shared.topics import CITY_DUTY, CITY_FIGURES, CITY_GUARDIANSHIP, CITY_ORGANISATION, CITY_PERSON, CITY_USAGE

PRODUCER = "city"


class OrganisationType(StrEnum):
    HUVUDMAN = "Huvudman"
    VERKSAMHETSOMRADE = "Verksamhetsområde"
    FORVALTNING = "Förvaltning"
    REKTORSOMRADE = "Rektorsområde"
    SKOLA = "Skola"
    SKOLENHET = "Skolenhet"
    OVRIGT = "Övrigt"


class SchoolType(StrEnum):
    """SS 12000 school type codes."""

    FS = "FS"  # förskola
    FKLASS = "FKLASS"  # förskoleklass
    FTH = "FTH"  # fritidshem
    GR = "GR"  # grundskola
    GRS = "GRS"  # anpassad grundskola
    GY = "GY"  # gymnasieskola
    GYS = "GYS"  # anpassad gymnasieskola
    VUX = "VUX"  # kommunal vuxenutbildning
    SFI = "SFI"  # svenska för invandrare


class SecurityMarking(StrEnum):
    INGEN = "Ingen"
    SEKRETESSMARKERING = "Sekretessmarkering"
    SKYDDAD_FOLKBOKFORING = "Skyddad folkbokföring"


class DutyRole(StrEnum):
    REKTOR = "Rektor"
    LARARE = "Lärare"
    FORSKOLLARARE = "Förskollärare"
    BARNSKOTARE = "Barnskötare"
    BIBLIOTEKARIE = "Bibliotekarie"
    LARARASSISTENT = "Lärarassistent"
    FRITIDSPEDAGOG = "Fritidspedagog"
    KURATOR = "Kurator"
    SKOLSKOTERSKA = "Skolsköterska"
    STUDIE_OCH_YRKESVAGLEDARE = "Studie- och yrkesvägledare"
    ANNAN_PERSONAL = "Annan personal"
    FORSTELARARE = "Förstelärare"
    SPECIALPEDAGOG = "Speciallärare/specialpedagog"
    SKOLADMINISTRATOR = "Skoladministratör"
    # SS 12000's "other management": held at a district (not a school unit), it marks the district's
    # administrators, who hear when a school submits or reopens its self-assessment.
    OVRIG_ARBETSLEDNING = "Övrig arbetsledning"
    # Not in SS 12000's list: the city's systems map their local IT coordinator role to it, so
    # messages about an app's agreement or licences reach the person who handles them at the school.
    IT_SAMORDNARE = "IT-samordnare"
    # Not in SS 12000's list either: the city's systems map the data-protection function (dataskyddsombud and
    # privacy reviewers; the IdP group gives them the data_protection role) to it, wherever it is held, so new and
    # stalled app requests reach them (services/notification/usecases/workflow.py). City-wide, like the role.
    DATASKYDD = "Dataskydd"


class EndReason(StrEnum):
    ENDED = "ended"  # the relation or unit reached its end date
    DELETED = "deleted"  # removed at the source (registered in error)


class OrganisationUpserted(Event):
    """An organisation was created or changed: a district (parent) or a school unit."""

    TYPE = "se.skolit.city.organisation.upserted.v1"
    TOPIC = CITY_ORGANISATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    displayName: str = Field(min_length=1, max_length=200)
    organisationType: OrganisationType
    schoolUnitCode: str | None = Field(default=None, pattern=r"^\d{8}$")
    organisationCode: str | None = None
    municipalityCode: str | None = Field(default=None, pattern=r"^\d{4}$")
    schoolTypes: list[SchoolType] = Field(default_factory=list)
    parentOrganisation: UUID | None = None
    startDate: date | None = None
    endDate: date | None = None


class OrganisationEnded(Event):
    TYPE = "se.skolit.city.organisation.ended.v1"
    TOPIC = CITY_ORGANISATION.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    endDate: date
    reason: EndReason = EndReason.ENDED


class PersonUpserted(Event):
    """A person known to the school: staff, pupil or guardian: the protection marking and, optionally, the name
    (SS 12000 Person ``givenName``/``familyName``) services show to staff. A protected identity's name is kept
    like any other but shown to nobody but the person (shared/city/people.py)."""

    TYPE = "se.skolit.city.person.upserted.v1"
    TOPIC = CITY_PERSON.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    securityMarking: SecurityMarking = SecurityMarking.INGEN
    givenName: str | None = Field(default=None, max_length=200, description="the person's given name (SS 12000 Person.givenName)",
                                  examples=["Astrid"])
    familyName: str | None = Field(default=None, max_length=200, description="the person's family name (SS 12000 Person.familyName)",
                                   examples=["Lindqvist"])


class PersonRemoved(Event):
    TYPE = "se.skolit.city.person.removed.v1"
    TOPIC = CITY_PERSON.name
    PRODUCER = PRODUCER
    KEY_FIELD = "id"

    id: UUID
    reason: EndReason = EndReason.DELETED


class PersonErasureRequested(Event):
    """The city's systems ask Skolit to erase everything it holds about a person (art. 17 GDPR): the same as
    POST /privacy/erasure-requests (docs/decisions/0009). Like every city event it carries the id plain; the
    retention of the city's topics is the city's responsibility."""

    TYPE = "se.skolit.city.person.erasure-requested.v1"
    TOPIC = CITY_PERSON.name
    PRODUCER = PRODUCER
    KEY_FIELD = "person"

    person: UUID
    reasonCode: Literal["no-longer-necessary", "objection", "unlawful-processing", "legal-obligation", "registered-in-error"] = Field(
        description="why (art. 17.1 GDPR); the codes of ErasureRequested")


class DutyAssigned(Event):
    """A staff member holds a duty at a school unit (SS 12000 Duty)."""

    TYPE = "se.skolit.city.duty.assigned.v1"
    TOPIC = CITY_DUTY.name
    PRODUCER = PRODUCER
    KEY_FIELD = "dutyAt"

    id: UUID
    person: UUID
    dutyAt: UUID
    dutyRole: DutyRole
    signature: str | None = Field(default=None, max_length=20)
    startDate: date | None = None
    endDate: date | None = None


class DutyEnded(Event):
    TYPE = "se.skolit.city.duty.ended.v1"
    TOPIC = CITY_DUTY.name
    PRODUCER = PRODUCER
    KEY_FIELD = "dutyAt"

    id: UUID
    person: UUID
    dutyAt: UUID
    endDate: date
    reason: EndReason = EndReason.ENDED


class GuardianRelationAdded(Event):
    """A guardian is related to a pupil placed at a school unit."""

    TYPE = "se.skolit.city.guardianship.added.v1"
    TOPIC = CITY_GUARDIANSHIP.name
    PRODUCER = PRODUCER
    KEY_FIELD = "schoolUnit"

    id: UUID
    guardian: UUID
    pupil: UUID
    schoolUnit: UUID
    relationType: Literal["Vårdnadshavare", "Annan ansvarig", "God man"] = "Vårdnadshavare"
    schoolType: SchoolType | None = None
    schoolYear: int | None = Field(default=None, ge=0, le=13)
    startDate: date | None = None


class GuardianRelationEnded(Event):
    TYPE = "se.skolit.city.guardianship.ended.v1"
    TOPIC = CITY_GUARDIANSHIP.name
    PRODUCER = PRODUCER
    KEY_FIELD = "schoolUnit"

    id: UUID
    guardian: UUID
    pupil: UUID
    schoolUnit: UUID
    endDate: date
    reason: EndReason = EndReason.ENDED


class AppLaunchesCounted(Event):
    """How often an app was launched at a school unit in a period, counted by the city's login
    portal. Aggregated at the source: never per pupil. A re-sent period replaces the earlier figure."""

    TYPE = "se.skolit.city.app-launches-counted.v1"
    TOPIC = CITY_USAGE.name
    PRODUCER = PRODUCER

    appId: UUID = Field(description="the app's id in the programbank")
    schoolUnitId: UUID
    periodStart: date
    periodEnd: date
    launches: int = Field(ge=0)
    activeUsers: int | None = Field(default=None, ge=0, description="distinct users in the period, if the portal counts them")


#: The unit of each figure, as services/reporting/indicators.json names it: a share is 0..1, a ratio a quotient
#: (devices per person), yes-no a boolean (1/0 once it is a metric), a count a whole number.
FigureUnit = Literal["share", "ratio", "yes-no", "count"]


def _figure(unit: FigureUnit, description: str, example: float | bool, *, ge: float | None = None, le: float | None = None) -> Any:
    # every figure is optional (a city sends what it has measured) and says its unit and range in the schema
    return Field(default=None, description=description, examples=[example], json_schema_extra={"unit": unit}, ge=ge, le=le)


class SchoolFigures(BaseModel):
    """The figures a city measures for a school unit and year, named and typed: an unknown name is refused, not stored.
    Where each comes from and how often: docs/figures.md. The names are the metrics of services/reporting/indicators.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wifiCoverage: float | None = _figure("share", "share of the school's premises with working Wi-Fi (0..1), from the network inventory", 0.97, ge=0, le=1)
    devicesPerPupil: float | None = _figure("ratio", "pupil computers and tablets divided by the number of pupils (0..10), from the device inventory", 1.0, ge=0, le=10)
    devicesPerTeacher: float | None = _figure("ratio", "teacher computers divided by the number of teachers (0..10), from the device inventory", 1.05, ge=0, le=10)
    byodAllowed: bool | None = _figure("yes-no", "whether pupils may use their own devices in teaching (the school's rules)", False)
    teachersTrainedShare: float | None = _figure("share", "share of the school's teachers who completed the city's digital-competence training (0..1), "
                                                 "from HR's training records", 0.64, ge=0, le=1)
    # counts are bounded well above any school unit, so a number pasted into the wrong column (a personnummer) is refused
    pupils: int | None = _figure("count", "pupils enrolled at the school unit, from the school administration system", 412, ge=0, le=1_000_000)
    teachers: int | None = _figure("count", "teachers with a duty at the school unit, from the school administration system or HR", 31, ge=0, le=1_000_000)
    staff: int | None = _figure("count", "all staff with a duty at the school unit (teachers included), from HR", 48, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _at_least_one(self) -> SchoolFigures:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("at least one figure is required (" + ", ".join(type(self).model_fields) + ")")
        return self

    def metrics(self) -> dict[str, float]:
        """The figures as reporting's metrics: every figure sent, as a number (a yes-no is 1.0 or 0.0)."""
        return {name: float(value) for name, value in self.model_dump(exclude_none=True).items()}


class SchoolFiguresReported(Event):
    """Figures the city measures for a school unit and school year (SchoolFigures: Wi-Fi coverage, devices per pupil and
    per teacher, whether pupils may use their own devices, the share of teachers who completed the digital-competence
    training, numbers of pupils, teachers and staff). A figure left out is not reported; a re-sent figure replaces
    the earlier one. v2: the figures are named and typed (v1's open dictionary took any key, docs/decisions/0022)."""

    TYPE = "se.skolit.city.school-figures-reported.v2"
    TOPIC = CITY_FIGURES.name
    PRODUCER = PRODUCER

    schoolUnitId: UUID
    year: int = Field(ge=2000, le=2100, description="the year the figures describe: the follow-up year of the rounds and reports", examples=[2026])
    figures: SchoolFigures
