"""The programbank's rules, without I/O: what a valid app record is, when an app may be approved,
when it is available to a school, how a request moves through review, and how a search query is
read. Everything here is tested without a database (tests/unit/test_catalog_domain.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from services.catalog import vocabulary as vocab
from shared.events.catalog import DpaStatus, PrivacyRating, RequestStep

# The status an approval falls back to when the DPA it depends on lapses (seeded in the migration).
LAPSED_STATUS = "dpa_lapsed"
INITIAL_STATUS = "under_review"


class Rejected(ValueError):
    """Input the programbank refuses; ``field`` names what is wrong, ``status`` the HTTP status."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _known(values: Iterable[str], allowed: Iterable[str], what: str) -> list[str]:
    allowed = list(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(repr(u) for u in unknown)}; known: {', '.join(allowed)}")
    return list(dict.fromkeys(values))


def _in_order(values: Iterable[str], order: Sequence[str]) -> list[str]:
    return sorted(set(values), key=order.index)


def outside_eea(countries: Iterable[str]) -> bool:
    return any(c not in vocab.EEA_COUNTRIES for c in countries)


# --- app records ---------------------------------------------------------------------------------

class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubProcessor(_Input):
    name: str = Field(min_length=1, max_length=200, examples=["Molntjänst Norden AB"])
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 country where it processes the data", examples=["SE"])
    purpose: str = Field(default="", max_length=500, examples=["Drift och lagring"])


class DataProtection(_Input):
    """The app's data-protection facts, as the data-protection function has established them."""

    dataCategories: list[str] = Field(default_factory=list, description="personal data the app receives; empty: none", examples=[["identity", "learning_activity"]])
    dpaStatus: DpaStatus = Field(default=DpaStatus.MISSING, description="the data processing agreement (personuppgiftsbiträdesavtal)")
    dpaSigned: date | None = None
    dpaExpires: date | None = None
    subProcessors: list[SubProcessor] = Field(default_factory=list, max_length=100)
    processingCountries: list[str] = Field(default_factory=list, description="where the data is stored and processed (ISO alpha-2)", examples=[["SE"]])
    transferOutsideEea: bool = Field(default=False, description="derived from the countries too: true when any is outside the EU/EEA")
    transferSafeguard: Literal["adequacy", "dpf", "scc", "bcr"] | None = None
    dpiaRef: str | None = Field(default=None, max_length=100, description="reference of the data protection impact assessment")
    minAge: int | None = Field(default=None, ge=0, le=25)
    # whether the sender said transferOutsideEea: true (rather than it being derived from the countries)
    _transfer_stated: bool = PrivateAttr(default=False)

    @field_validator("dataCategories")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        return _known(v, vocab.DATA_CATEGORIES, "data category")

    @field_validator("processingCountries")
    @classmethod
    def _countries(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not re.fullmatch(r"[A-Z]{2}", c)]
        if bad:
            raise ValueError(f"countries are ISO 3166 alpha-2 codes such as SE or IE, not {', '.join(repr(b) for b in bad)}")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _consistent(self) -> DataProtection:
        if self.dataCategories and self.dpaStatus == DpaStatus.NOT_REQUIRED:
            raise ValueError("dpaStatus: an app that receives personal data needs a data processing agreement; not_required is only for apps that receive none")
        if not self.dataCategories and self.dpaStatus in (DpaStatus.MISSING, DpaStatus.REQUESTED):
            # nothing to agree on: an app that receives no personal data needs no agreement
            self.dpaStatus = DpaStatus.NOT_REQUIRED
        if self.dpaStatus in (DpaStatus.SIGNED, DpaStatus.EXPIRED) and self.dpaSigned is None:
            raise ValueError("dpaSigned: a signed agreement needs the date it was signed")
        if self.dpaSigned and self.dpaExpires and self.dpaExpires < self.dpaSigned:
            raise ValueError(f"dpaExpires: the agreement cannot expire ({self.dpaExpires}) before it was signed ({self.dpaSigned})")
        self._transfer_stated = self.transferOutsideEea
        countries = self.processingCountries + [s.country for s in self.subProcessors]
        if outside_eea(countries):
            self.transferOutsideEea = True
        return self

    @property
    def transfer_stated(self) -> bool:
        """transferOutsideEea: true as given, not derived from the countries."""
        return self._transfer_stated

    @property
    def processes_personal_data(self) -> bool:
        return bool(self.dataCategories)


class AppInput(_Input):
    """An app or learning resource as an editor describes it."""

    name: str = Field(min_length=1, max_length=200, examples=["Räknestigen"])
    supplier: str = Field(min_length=1, max_length=200, examples=["Nordlärande AB"])
    description: str = Field(min_length=1, max_length=5000)
    url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    kind: Literal["commercial", "open", "teacher_made"] = "commercial"
    costModel: str = Field(default="free", examples=["per_pupil"])
    freeUse: bool = Field(default=False, description="every school may use it without a licence (free, open, teacher-made or under a city agreement)")
    subjects: list[str] = Field(min_length=1, examples=[["MA"]])
    grades: list[str] = Field(min_length=1, examples=[["4", "5", "6"]])
    schoolTypes: list[str] = Field(min_length=1, examples=[["GR"]])
    platforms: list[str] = Field(min_length=1, examples=[["web", "ios"]])
    languages: list[str] = Field(min_length=1, examples=[["sv", "en"]])
    accessibility: str = Field(default="", max_length=2000)
    headings: list[str] = Field(min_length=1, examples=[["digitalt-innehall"]])
    keywords: list[str] = Field(default_factory=list, max_length=200, description="at most 20 are kept")
    dataProtection: DataProtection = Field(default_factory=DataProtection)

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, v: list[str]) -> list[str]:
        return _known(v, vocab.SUBJECTS, "subject")

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: list[str]) -> list[str]:
        return _in_order(_known(v, vocab.GRADES, "grade"), vocab.GRADES)

    @field_validator("schoolTypes")
    @classmethod
    def _school_types(cls, v: list[str]) -> list[str]:
        return _in_order(_known(v, vocab.SCHOOL_TYPES, "school type"), vocab.SCHOOL_TYPES)

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, v: list[str]) -> list[str]:
        return _known(v, vocab.PLATFORMS, "platform")

    @field_validator("headings")
    @classmethod
    def _headings(cls, v: list[str]) -> list[str]:
        return _in_order(_known(v, vocab.HEADINGS, "heading"), vocab.HEADINGS)

    @field_validator("costModel")
    @classmethod
    def _cost(cls, v: str) -> str:
        return _known([v], vocab.COST_MODELS, "cost model")[0]

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if not re.fullmatch(r"[a-z]{2,3}", x)]
        if bad:
            raise ValueError(f"languages are ISO 639 codes such as sv or ar, not {', '.join(repr(b) for b in bad)}")
        return list(dict.fromkeys(v))

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(k.strip().lower() for k in v if k.strip()))[:20]


# An app as it is published (POST /apps, a row of an import): its description and the status it starts with.
# (A comment, not a docstring: the docstring would become the OpenAPI schema's description.)
class NewApp(AppInput):

    status: str = Field(default=INITIAL_STATUS, description="the district-defined status to start with", examples=["under_review"])

    def description_only(self) -> AppInput:
        return AppInput.model_validate(self.model_dump(exclude={"status"}))


def search_extra(app: AppInput) -> str:
    """Words an app is found by beyond its own text: its subjects' names and its keywords."""
    words = [vocab.SUBJECTS[s]["sv"] for s in app.subjects] + app.keywords
    return " ".join(words)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in after if before.get(k) != after.get(k))


# --- data protection and approval ----------------------------------------------------------------

def effective_dpa_status(status: DpaStatus, expires: date | None, today: date) -> DpaStatus:
    """A signed agreement past its end date is expired, whatever the record still says."""
    if status == DpaStatus.SIGNED and expires is not None and expires < today:
        return DpaStatus.EXPIRED
    return status


def privacy_rating(dp: DataProtection, today: date) -> PrivacyRating:
    """The TrustEd Apps scale: does not meet / meets with reservations / meets."""
    if not dp.processes_personal_data:
        return PrivacyRating.MEETS
    if approval_blockers(dp, today):
        return PrivacyRating.DOES_NOT_MEET
    if dp.transferOutsideEea or set(dp.dataCategories) & vocab.SENSITIVE_CATEGORIES:
        return PrivacyRating.MEETS_WITH_RESERVATIONS
    return PrivacyRating.MEETS


@dataclass(frozen=True)
class Reason:
    """Why (or why not), as a code and the facts its sentence needs; ``text(lang)`` says it in words
    (vocabulary.REASONS). A fact is a plain value or a label per language."""

    code: str
    facts: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        values = {k: v if isinstance(v, str) else v[lang] for k, v in self.facts.items()}
        sentences = vocab.REASONS.get(self.code) or DECISION_REASONS[self.code]
        return sentences[lang].format(**values)

    def __str__(self) -> str:
        return self.text("en")


# How far back an agreement can have been signed and how far ahead it can run: a date outside is a typing error
# ("0116-07-20"), never an agreement. Personal data agreements (PUB-avtal) exist since the Personal Data Act of 1998.
EARLIEST_AGREEMENT = date(1995, 1, 1)
LONGEST_AGREEMENT_YEARS = 30


def data_protection_problems(dp: DataProtection, today: date) -> list[tuple[str, str]]:
    """What is wrong with data-protection facts as someone sends them, as (field, message) pairs; empty when nothing
    is. Stored records are not re-checked (they were checked when sent, and an agreement signed today is not refused
    tomorrow). ``transferOutsideEea: true`` states a transfer, which the record must then place: a country outside
    the EU/EEA among the processing countries or the sub-processors'. The safeguard of a transfer is a fact like
    any other, recorded as found: when there is none the app cannot be approved (``approval_reasons``) and an
    approval lapses, which a refusal here would prevent the data-protection function from recording."""
    problems: list[tuple[str, str]] = []
    latest_end = date(today.year + LONGEST_AGREEMENT_YEARS, 12, 31)
    if dp.dpaSigned is not None and not EARLIEST_AGREEMENT <= dp.dpaSigned <= today:
        problems.append(("dpaSigned", f"an agreement is signed between {EARLIEST_AGREEMENT} and today ({today}), not {dp.dpaSigned}"))
    if dp.dpaExpires is not None and not EARLIEST_AGREEMENT <= dp.dpaExpires <= latest_end:
        problems.append(("dpaExpires", f"an agreement ends between {EARLIEST_AGREEMENT} and {latest_end}, not {dp.dpaExpires}"))
    if dp.transfer_stated and not outside_eea(dp.processingCountries + [s.country for s in dp.subProcessors]):
        problems.append(("processingCountries", "a transfer outside the EU/EEA names the countries the data goes to "
                                                "(processingCountries or a sub-processor's country outside the EU/EEA)"))
    return problems


def approval_reasons(dp: DataProtection, today: date, *, reviewed: bool = True) -> list[Reason]:
    """Why an app may not be approved now; empty when it may. ``reviewed``: whether the data-protection function has
    established the facts (false for a draft made from a request for a new app: until then "no personal data" is
    only what nobody has looked at yet)."""
    reasons: list[Reason] = [] if reviewed else [Reason("dp_not_reviewed")]
    if not dp.processes_personal_data:
        return reasons
    status = effective_dpa_status(dp.dpaStatus, dp.dpaExpires, today)
    if status == DpaStatus.EXPIRED:
        reasons.append(Reason("dpa_expired", {"date": str(dp.dpaExpires)}))
    elif status != DpaStatus.SIGNED:
        reasons.append(Reason("no_signed_dpa", {"dpaStatus": vocab.DPA_STATUSES[status.value]}))
    if dp.transferOutsideEea and dp.transferSafeguard is None:
        reasons.append(Reason("transfer_without_safeguard"))
    sensitive = sorted(set(dp.dataCategories) & vocab.SENSITIVE_CATEGORIES)
    if sensitive:
        if not dp.dpiaRef:
            names = {lang: ", ".join(vocab.DATA_CATEGORIES[c][lang].lower() for c in sensitive) for lang in ("sv", "en")}
            reasons.append(Reason("sensitive_without_dpia", {"categories": names}))
    return reasons


def approval_blockers(dp: DataProtection, today: date, *, reviewed: bool = True) -> list[str]:
    """``approval_reasons`` in English (problem details and events)."""
    return [r.text("en") for r in approval_reasons(dp, today, reviewed=reviewed)]


@dataclass(frozen=True)
class StatusDefinition:
    code: str
    label_sv: str
    label_en: str
    allows_use: bool
    grades: tuple[str, ...] = ()
    retires: bool = False


def check_status_change(current: StatusDefinition, wanted: StatusDefinition, dp: DataProtection, app_grades: Sequence[str], today: date,
                        *, reviewed: bool = True) -> None:
    if current.retires:
        raise Rejected("the app is retired; publish it again as a new record instead", "status", 409)
    if current.code == wanted.code:
        raise Rejected(f"the app already has the status {wanted.code}", "status", 409)
    if wanted.allows_use:
        blockers = approval_blockers(dp, today, reviewed=reviewed)
        if blockers:
            raise Rejected(f"the app cannot get the status {wanted.code}. " + " ".join(blockers), "status", 409)
        if wanted.grades and not set(wanted.grades) & set(app_grades):
            raise Rejected(f"the status {wanted.code} allows use in grades {', '.join(wanted.grades)}, none of which the app is for", "status", 422)


def lapses(status: StatusDefinition, dp: DataProtection, today: date) -> bool:
    """Whether the app's approval no longer holds because its data protection does not."""
    return status.allows_use and bool(approval_blockers(dp, today))


# --- availability --------------------------------------------------------------------------------

def usable_grades(app_grades: Sequence[str], status: StatusDefinition) -> list[str]:
    if not status.allows_use:
        return []
    return [g for g in app_grades if not status.grades or g in status.grades]


def availability(*, status: StatusDefinition, app_grades: Sequence[str], app_school_types: Sequence[str], free_use: bool,
                 school_types: Sequence[str], licensed: bool) -> tuple[bool, Reason]:
    """Whether a school may use the app, and why (or why not)."""
    label = {"sv": status.label_sv, "en": status.label_en}
    if not status.allows_use:
        return False, Reason("status_disallows_use", {"status": label})
    if not set(app_school_types) & set(school_types):
        return False, Reason("not_for_school_types")
    if not usable_grades(app_grades, status):
        return False, Reason("no_usable_grades", {"status": label})
    if free_use:
        return True, Reason("free_use")
    if licensed:
        return True, Reason("licence")
    return False, Reason("no_licence")


# --- licences ------------------------------------------------------------------------------------

def check_licence(licence_type: str, seats: int | None, group_name: str | None, starts: date, expires: date) -> None:
    if expires < starts:
        raise Rejected(f"the licence cannot expire ({expires}) before it starts ({starts})", "expires")
    if licence_type in ("group", "single") and seats is None:
        raise Rejected(f"a {licence_type} licence needs the number of seats", "seats")
    if licence_type == "group" and not group_name:
        raise Rejected("a group licence names its group (class, course or team)", "groupName")


def licence_notice_due(expires: date, today: date, notice_days: int, already_sent_for: date | None) -> bool:
    """A licence's advance notice is due once, when its end date comes within the notice period."""
    return today <= expires <= today + timedelta(days=notice_days) and already_sent_for != expires


# --- requests ------------------------------------------------------------------------------------

OPEN_STATES = ("submitted", "acknowledged", "needs_info")
REVIEWER_STATES = ("submitted", "acknowledged")  # the reviewers have the next move
REVIEW_ACTIONS = ("acknowledge", "ask_info", "approve", "reject")
REQUESTER_ACTIONS = ("provide_info", "withdraw")

# action → (states it may be taken from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("submitted",), "acknowledged"),
    "ask_info": (("submitted", "acknowledged"), "needs_info"),
    "provide_info": (("needs_info",), "acknowledged"),
    "approve": (OPEN_STATES, "approved"),
    "reject": (OPEN_STATES, "rejected"),
    "withdraw": (OPEN_STATES, "withdrawn"),
}
STEP_OF = {"acknowledge": RequestStep.ACKNOWLEDGED, "ask_info": RequestStep.INFO_REQUESTED,
           "provide_info": RequestStep.INFO_PROVIDED, "withdraw": RequestStep.WITHDRAWN}


def next_request_state(state: str, action: str, note: str | None) -> str:
    if action not in TRANSITIONS:
        raise Rejected(f"unknown action {action!r}; actions: {', '.join(TRANSITIONS)}", "action")
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise Rejected(f"{action} is not possible for a request that is {state}; it is allowed from: {', '.join(sources)}", "action", 409)
    if action in ("ask_info", "provide_info", "reject") and not (note and note.strip()):
        what = {"ask_info": "the question to the requester", "provide_info": "the information asked for", "reject": "the reason"}[action]
        raise Rejected(f"{action} needs a note with {what}", "note")
    return target


def waiting_since(new_state: str, now: datetime) -> datetime | None:
    """The reviewers' clock: running while they have the next move, stopped otherwise."""
    return now if new_state in REVIEWER_STATES else None


def review_stalled(waiting: datetime | None, reminded: datetime | None, now: datetime, reminder_days: int) -> bool:
    """A reminder is due every ``reminder_days`` for as long as the reviewers have not moved."""
    if waiting is None:
        return False
    last = max(waiting, reminded) if reminded else waiting
    return now - last >= timedelta(days=reminder_days)


# --- a request's decision and the catalogue ------------------------------------------------------
# Approving a request makes the app usable at the requester's school by the same rules as approving the app
# directly (its data protection, the status's grades), with a licence where the app is not free to use; or it is
# refused, every blocker named. "Approved" and "not available at the school" are never both true.

#: the status an approval gives an app whose status allows no use, when the decision names none
APPROVED_STATUS = "approved"

# Why a request cannot be approved (besides approval_reasons and availability's reasons, in vocabulary.REASONS):
# sentences for the reader, in Swedish and English.
DECISION_REASONS: dict[str, dict[str, str]] = {
    "dp_not_reviewed": {
        "sv": "Dataskyddsfunktionen har ännu inte granskat appens dataskydd (personuppgifter, biträdesavtal, överföringar).",
        "en": "The data-protection function has not yet reviewed the app's data protection (personal data, processing agreement, transfers)."},
    "app_retired": {"sv": "Appen är avvecklad ur programbanken.", "en": "The app is retired from the programbank."},
    "decision_status_disallows_use": {
        "sv": "Statusen {status} tillåter inte användning; ett godkännande ger appen en status som gör det.",
        "en": "The status {status} does not allow use; an approval gives the app a status that does."},
    "requested_grades_not_allowed": {
        "sv": "Statusen {status} tillåter inte de årskurser som begärs ({grades}).",
        "en": "The status {status} does not allow the grades asked for ({grades})."},
    "licence_needed": {
        "sv": "Skolenheten saknar giltig licens för appen; en IT-administratör i området eller en stadsadministratör lägger till en "
              "med beslutet (licence).",
        "en": "The school unit holds no valid licence for the app; an IT admin of the district or a city admin adds one with the "
              "decision (licence)."},
    "licence_not_current": {
        "sv": "Licensen i beslutet gäller inte i dag ({starts} – {expires}), så appen blir inte tillgänglig nu.",
        "en": "The licence in the decision is not valid today ({starts} – {expires}), so the app would not be available now."},
}


@dataclass(frozen=True)
class RequestApproval:
    """What approving a request does to the app and the school, or why it cannot be done (``blockers``)."""

    status: StatusDefinition | None  # the status the app is given; None: it keeps the one it has
    blockers: list[Reason]


def request_approval(*, current: StatusDefinition, wanted: StatusDefinition | None, dp: DataProtection, reviewed: bool,
                     app_grades: Sequence[str], app_school_types: Sequence[str], free_use: bool, school_types: Sequence[str],
                     licensed: bool, licence_period: tuple[date, date] | None, requested_grades: Sequence[str], today: date) -> RequestApproval:
    """Approving a request for an app at a school: the app gets ``wanted`` (or keeps ``current``), which must allow use
    and be supported by its data protection as a direct approval would be; the school must be able to use it then
    (its school types, the grades asked for, free use or a licence valid today: held, or ``licence_period`` given
    with the decision). With no blockers, ``availability`` of the result is true (tests/unit/test_catalog_domain.py)."""
    if current.retires:
        return RequestApproval(None, [Reason("app_retired")])
    target = wanted or current
    label = {"sv": target.label_sv, "en": target.label_en}
    blockers: list[Reason] = []
    if not target.allows_use:
        blockers.append(Reason("decision_status_disallows_use", {"status": label}))
    else:
        blockers += approval_reasons(dp, today, reviewed=reviewed)
    if not set(app_school_types) & set(school_types):
        blockers.append(Reason("not_for_school_types"))
    usable = usable_grades(app_grades, target)
    if target.allows_use and not usable:
        blockers.append(Reason("no_usable_grades", {"status": label}))
    elif usable and requested_grades and not set(requested_grades) & set(usable):
        blockers.append(Reason("requested_grades_not_allowed", {"status": label, "grades": ", ".join(requested_grades)}))
    if not free_use and not licensed:
        if licence_period is None:
            blockers.append(Reason("licence_needed"))
        elif not licence_period[0] <= today <= licence_period[1]:
            blockers.append(Reason("licence_not_current", {"starts": str(licence_period[0]), "expires": str(licence_period[1])}))
    return RequestApproval(target if target.code != current.code else None, blockers)


def decision_refusal(app_name: str, blockers: Sequence[Reason], lang: str) -> str:
    """The sentence a refused approval is answered with, in the reader's language."""
    lead = {"sv": f"Begäran kan inte godkännas: {app_name} skulle inte bli tillgänglig för skolenheten.",
            "en": f"The request cannot be approved: {app_name} would not become available to the school unit."}[lang]
    return " ".join([lead, *(b.text(lang) for b in blockers)])


# The grades a school type teaches: what a draft made from a request is for when the request names no grades.
SCHOOL_TYPE_GRADES: dict[str, tuple[str, ...]] = {
    "FS": ("FS",), "FKLASS": ("F",), "FTH": (), "GR": tuple(str(n) for n in range(1, 10)), "GRS": tuple(str(n) for n in range(1, 10)),
    "GY": ("GY1", "GY2", "GY3"), "GYS": ("GY1", "GY2", "GY3"), "VUX": ("VUX",), "SFI": ("VUX",),
}
#: a draft's supplier when the request did not name one and the reviewer did not either
UNKNOWN_SUPPLIER = "Okänd leverantör"


def draft_app(proposed: Mapping[str, Any], purpose: str, grades: Sequence[str], school_types: Sequence[str],
              overrides: Mapping[str, Any]) -> AppInput:
    """The catalogue record a request for a new app starts as: what the teacher proposed (name, supplier, url,
    description, else the purpose), the grades asked for (else those of the school's school types) and the school's
    school types; cross-curricular digital content on the web in Swedish until an editor says otherwise
    (``overrides``: the reviewer's corrections). Its data protection is empty and unreviewed: the data-protection
    function records it before the app can be approved. Raises ValidationError for bad overrides."""
    school_grades = {g for t in school_types for g in SCHOOL_TYPE_GRADES.get(t, ())}
    body: dict[str, Any] = {
        "name": proposed.get("name") or "",
        "supplier": (proposed.get("supplier") or "").strip() or UNKNOWN_SUPPLIER,
        "description": (proposed.get("description") or "").strip() or purpose,
        "url": proposed.get("url") or None,
        "subjects": ["OVR"],
        "grades": list(grades) or sorted(school_grades, key=vocab.GRADES.index) or list(vocab.GRADES),
        "schoolTypes": list(school_types) or list(vocab.SCHOOL_TYPES),
        "platforms": ["web"], "languages": ["sv"], "headings": ["digitalt-innehall"],
    }
    return AppInput.model_validate({**body, **overrides, "dataProtection": {}})


# --- usage ---------------------------------------------------------------------------------------

def check_usage_period(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"periodEnd {end} is before periodStart {start}")
    if (end - start).days > 366:
        raise ValueError("a usage period is at most a year")


# --- search --------------------------------------------------------------------------------------

MAX_QUERY_WORDS = 8
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def query_words(q: str) -> list[str]:
    """The words of a search box, lower-cased; everything but letters and digits is a separator, so
    nothing the user types can reach the tsquery syntax."""
    return [w[:40] for w in _WORD.findall(q.lower())][:MAX_QUERY_WORDS]


# ASCII folding: "brak" finds "bråk", "lasforstaelse" finds "läsförståelse". The same letters as search_fold() in
# migrations/0003_search_folding.sql (tests/unit/test_catalog_domain.py checks that they agree).
FOLD_FROM = "åäöæøéèêëáàâãíìîïóòôõúùûüýÿçñÅÄÖÆØÉÈÊËÁÀÂÃÍÌÎÏÓÒÔÕÚÙÛÜÝŸÇÑ"
FOLD_TO = "aaoaoeeeeaaaaiiiioooouuuuyycnaaoaoeeeeaaaaiiiioooouuuuyycn"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(word: str) -> str:
    """A word as it is written without diacritics (lower case)."""
    return word.lower().translate(_FOLD)


@dataclass(frozen=True)
class WordFacts:
    """What the programbank says about one query word (store.word_facts): a stop word (which no app needs to
    contain), whether anything matches it as typed (an inflection, the ASCII-folded form, or the start of a word
    for the last word), and the programbank's words nearest to it."""

    stop: bool = False
    found: bool = True
    near: tuple[str, ...] = ()


def corrections_of(words: Sequence[str], facts: Mapping[str, WordFacts]) -> dict[str, list[str]]:
    """The words a misspelt query word is also matched as: only for a word that matches nothing as typed, so a
    product name the programbank has ("GeoGebra") is never widened into another word ("geografi")."""
    out: dict[str, list[str]] = {}
    for w in words:
        f = facts.get(w)
        if f is not None and not f.stop and not f.found and f.near:
            out[w] = list(f.near)
    return out


def suggestion(words: Sequence[str], corrections: Mapping[str, Sequence[str]]) -> str | None:
    """The "did you mean" query: each corrected word replaced by its nearest word; None when nothing was corrected."""
    if not any(corrections.get(w) for w in words):
        return None
    return " ".join(corrections[w][0] if corrections.get(w) else w for w in words)


def folded_tsquery_text(words: Sequence[str], corrections: Mapping[str, Sequence[str]], stop: Iterable[str] = ()) -> str | None:
    """The query against the ASCII-folded vector: the words folded (Swedish stop words left out, as the Swedish
    configuration leaves them out of the unfolded query: "för" folds to "for", which it does not know as one);
    None when nothing is left."""
    skip = set(stop)
    groups: list[str] = []
    for i, word in enumerate(words):
        if word in skip:
            continue
        folded = fold(word)
        first = folded + ":*" if i == len(words) - 1 and len(folded) >= 3 else folded
        options = [first] + [c for c in dict.fromkeys(fold(c) for c in corrections.get(word, ())) if c != folded and _WORD.fullmatch(c)]
        groups.append("(" + " | ".join(options) + ")")
    return " & ".join(groups) or None


@dataclass(frozen=True)
class SearchTerms:
    """A search box read against the programbank: the query as typed (Swedish stemming), the same folded to ASCII,
    the corrections it was also matched with and the "did you mean" query."""

    tsquery: str | None = None
    folded: str | None = None
    corrections: dict[str, list[str]] = field(default_factory=dict)
    suggestion: str | None = None


def search_terms(words: Sequence[str], facts: Mapping[str, WordFacts]) -> SearchTerms:
    if not words:
        return SearchTerms()
    corrected = corrections_of(words, facts)
    stop = [w for w in words if (f := facts.get(w)) is not None and f.stop]
    return SearchTerms(tsquery_text(words, corrected), folded_tsquery_text(words, corrected, stop), corrected, suggestion(words, corrected))


def tsquery_text(words: Sequence[str], corrections: Mapping[str, Sequence[str]]) -> str:
    """All words must match; each may also match its spelling corrections; the last word matches as a
    prefix, so results appear while typing ("matem" finds "matematik")."""
    groups: list[str] = []
    for i, word in enumerate(words):
        # the prefix form covers the word itself; one term fewer keeps the planner's estimate honest
        first = word + ":*" if i == len(words) - 1 and len(word) >= 3 else word
        # corrections come from the programbank's own text; only plain words may enter the tsquery
        options = [first] + [c for c in dict.fromkeys(corrections.get(word, ())) if c != word and _WORD.fullmatch(c)]
        groups.append("(" + " | ".join(options) + ")")
    return " & ".join(groups)


@dataclass(frozen=True)
class SearchFilters:
    subjects: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    school_types: tuple[str, ...] = ()
    headings: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    dpa_statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


def check_filters(f: SearchFilters, statuses: Iterable[str]) -> None:
    checks: list[tuple[str, tuple[str, ...], Iterable[str]]] = [
        ("subject", f.subjects, vocab.SUBJECTS), ("grade", f.grades, vocab.GRADES), ("schoolType", f.school_types, vocab.SCHOOL_TYPES),
        ("heading", f.headings, vocab.HEADINGS), ("status", f.statuses, statuses), ("dpaStatus", f.dpa_statuses, vocab.DPA_STATUSES),
        ("kind", f.kinds, vocab.KINDS), ("platform", f.platforms, vocab.PLATFORMS),
    ]
    for name, given, allowed in checks:
        try:
            _known(given, allowed, name)
        except ValueError as exc:
            raise Rejected(str(exc), name) from None
