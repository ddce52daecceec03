"""The contract the city's systems publish against (SS 12000 field names).

Persons appear by id, protection marking and name (SS 12000 givenName/familyName, for showing people to
staff): no personnummer, no contact details. Contact details reach the notification service over its own
HTTP API. Names travel only on the city's topics: Skolit's own events never carry them (shared/events/base.py).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

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


class SchoolFiguresReported(Event):
    """Figures the city measures for a school unit and school year: Wi-Fi coverage, devices per pupil and
    per teacher, whether pupils may use their own devices, the share of teachers who completed the
    digital-competence training, numbers of pupils and teachers. Keys are open: a committee can add an
    indicator on a new figure without a code change. A re-sent figure replaces the earlier one."""

    TYPE = "se.skolit.city.school-figures-reported.v1"
    TOPIC = CITY_FIGURES.name
    PRODUCER = PRODUCER

    schoolUnitId: UUID
    year: int = Field(ge=2000, le=2100)
    figures: dict[str, float] = Field(min_length=1, description="e.g. wifiCoverage 0.97, devicesPerPupil 1.0, byodAllowed 1, teachersTrainedShare 0.64, pupils 412")
