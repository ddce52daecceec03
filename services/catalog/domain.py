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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
        countries = self.processingCountries + [s.country for s in self.subProcessors]
        if outside_eea(countries):
            self.transferOutsideEea = True
        return self

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
        return vocab.REASONS[self.code][lang].format(**values)

    def __str__(self) -> str:
        return self.text("en")


def approval_reasons(dp: DataProtection, today: date) -> list[Reason]:
    """Why an app that receives personal data may not be approved now; empty when it may."""
    if not dp.processes_personal_data:
        return []
    reasons: list[Reason] = []
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


def approval_blockers(dp: DataProtection, today: date) -> list[str]:
    """``approval_reasons`` in English (problem details and events)."""
    return [r.text("en") for r in approval_reasons(dp, today)]


@dataclass(frozen=True)
class StatusDefinition:
    code: str
    label_sv: str
    label_en: str
    allows_use: bool
    grades: tuple[str, ...] = ()
    retires: bool = False


def check_status_change(current: StatusDefinition, wanted: StatusDefinition, dp: DataProtection, app_grades: Sequence[str], today: date) -> None:
    if current.retires:
        raise Rejected("the app is retired; publish it again as a new record instead", "status", 409)
    if current.code == wanted.code:
        raise Rejected(f"the app already has the status {wanted.code}", "status", 409)
    if wanted.allows_use:
        blockers = approval_blockers(dp, today)
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
