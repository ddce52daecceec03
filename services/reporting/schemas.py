"""The reporting service's answers as pydantic models: what its OpenAPI document promises and a generated client gets.

The hot read paths (a school's report, the overviews) build plain dicts and answer them with orjson
(shared/json_response.py); these models document those answers without validating them a second time, and the
integration tests validate real answers against them. A figure after suppression is ``Figure`` everywhere: a
suppressed figure carries neither value nor n. Headings are keyed by their code (``infrastruktur`` …) with the
heading's title in the reader's language beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.reporting.vocabulary import METHOD_EXAMPLE
from shared.http.models import CodeLabel, SchoolUnitRef, example_of

SCHOOL = "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
DISTRICT = "3c1f6a2e-7b9d-4c1e-9f2a-5d8e7c6b4a31"
SCHOOL_REF = {"id": SCHOOL, "name": "Rosengårdsskolan", "schoolUnitCode": "12345678"}
HEADING_CODES = ("infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning")
HEADING_TITLES = ("Infrastruktur för ökad tillgänglighet", "Förbättrad digital kompetens hos alla", "Digitalt innehåll",
                  "Samarbete och kommunikation", "Uppföljning")


def _examples(*values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(values)})


Status = Literal["shown", "suppressed", "missing"]


class Method(BaseModel):
    """How the figures are made, in the reader's language: one note per rule."""

    model_config = _examples(METHOD_EXAMPLE)

    levels: str
    rollups: str
    suppression: str
    missing: str
    pulse: str
    ranking: str


class Figure(BaseModel):
    """A figure as it may be published: ``shown`` with its value and n; ``suppressed`` (".." in CSV: too few schools
    or respondents, or hidden so that another cannot be derived) and ``missing`` ("." in CSV: no data, not zero)
    carry neither."""

    model_config = _examples({"value": 3.25, "n": 4, "status": "shown", "reason": None},
                             {"value": None, "n": None, "status": "suppressed", "reason": "fewer than 3 schools"})

    value: float | None = None
    n: int | None = Field(default=None, description="schools or respondents behind the figure; only for a shown figure")
    status: Status
    reason: str | None = Field(default=None, description="why a figure is suppressed")


class FigureWithChange(Figure):
    """A figure with the year before's beside it, both after suppression."""

    model_config = _examples({"value": 3.25, "n": 4, "status": "shown", "reason": None, "previousValue": 2.75, "change": 0.5})

    previousValue: float | None = None
    change: float | None = Field(default=None, description="value − previousValue; null when either is not shown")


# ---- a school's report ------------------------------------------------------------------------------------------

class LevelRow(BaseModel):
    """A heading's or indicator's level this year beside the year before; missing stays missing, never zero, and an
    indicator the school answered "not relevant" (or a heading all of whose indicators it did) is ``notRelevant``: no
    level, and not missing (in CSV its level cell is ``not-relevant``)."""

    id: str = Field(description="the heading code or indicator id")
    level: int | None = None
    mean: float | None = Field(default=None, description="a heading's mean of its indicator levels; null for indicators")
    missing: bool = Field(description="no answer: not zero, and not \"not relevant\"")
    notRelevant: bool = Field(default=False, description="answered \"not relevant\" by the school")
    previousLevel: int | None = None
    change: int | None = None


class HeadingLevelRow(LevelRow):
    title: str = Field(description="the heading's title in the reader's language")


class TrendYear(BaseModel):
    """The school's counting level per heading in one year (the trend chart's figures)."""

    year: int
    levels: dict[str, int | None] = Field(description="heading code → level")


class PulseHeadingFigure(Figure):
    heading: str
    title: str = Field(description="the heading's title in the reader's language")


class PulseGroup(BaseModel):
    group: str = Field(description="who answered: staff or pupils")
    respondents: Figure
    responseRate: float | None = Field(default=None, description="respondents over the school's staff or pupils; null when unknown or the group is suppressed")
    sufficient: bool | None = Field(default=None, description="a response rate of at least 50%; null when unknown")
    headings: list[PulseHeadingFigure]


class IndicatorFigure(BaseModel):
    code: str
    name: str = Field(description="the indicator's name in the reader's language")
    heading: str | None = None
    unit: Literal["share", "ratio", "count", "yes-no"]
    direction: Literal["higher", "lower"]
    value: float | None = None
    missing: bool
    target: float | None = None
    meetsTarget: bool | None = Field(default=None, description="null when there is no value or no target: unknown is not a failure")
    source: Literal["city", "catalog", "notification"]


class ActionCounts(BaseModel):
    planned: int
    in_progress: int
    done: int
    dropped: int


class OpenAction(BaseModel):
    id: UUID
    heading: str
    indicatorId: str | None = None
    status: Literal["planned", "in_progress"]
    deadline: date | None = None


class ActionPlan(BaseModel):
    byStatus: ActionCounts
    open: list[OpenAction]


class SchoolReport(BaseModel):
    """A school unit's self-assessment report for a year, beside the year before."""

    model_config = _examples({
        "schoolUnitId": SCHOOL, "schoolUnit": SCHOOL_REF, "year": 2026, "previousYear": 2025, "frameworkVersion": 2,
        "submittedAt": "2026-03-01T12:01:00+00:00",
        "reopened": False, "reopenedAt": None,
        "headings": [{"id": code, "title": title, "level": 3, "mean": 3.0, "missing": False, "notRelevant": False, "previousLevel": 2, "change": 1}
                     for code, title in zip(HEADING_CODES, HEADING_TITLES, strict=True)],
        "indicators": [{"id": "INF-01", "level": 3, "mean": None, "missing": False, "notRelevant": False, "previousLevel": 2, "change": 1},
                       {"id": "INF-02", "level": None, "mean": None, "missing": False, "notRelevant": True, "previousLevel": None, "change": None}],
        "pulse": [{"group": "staff", "respondents": {"value": 7.0, "n": 7, "status": "shown", "reason": None}, "responseRate": 0.35,
                   "sufficient": False, "headings": [{"heading": "infrastruktur", "title": HEADING_TITLES[0], "value": 3.4, "n": 7,
                                                      "status": "shown", "reason": None}]}],
        "indicatorFigures": [{"code": "wifi-coverage", "name": "Täckning av trådlöst nätverk", "heading": "infrastruktur", "unit": "share",
                              "direction": "higher", "value": 0.8, "missing": False, "target": 0.95, "meetsTarget": False, "source": "city"}],
        "actionPlan": {"byStatus": {"planned": 1, "in_progress": 1, "done": 2, "dropped": 0},
                       "open": [{"id": "8d4f0b7e-2a6c-4e1f-b3d5-9c7a1e2f4b60", "heading": "digital-kompetens", "indicatorId": "DIG-02",
                                 "status": "in_progress", "deadline": "2026-06-15"}]},
        "years": [2025, 2026],
        "districtMedians": dict.fromkeys(HEADING_CODES, 2.5),
        "trend": [{"year": 2025, "levels": dict.fromkeys(HEADING_CODES, 2)}, {"year": 2026, "levels": dict.fromkeys(HEADING_CODES, 3)}],
        "method": METHOD_EXAMPLE,
    })

    schoolUnitId: UUID
    schoolUnit: SchoolUnitRef
    year: int
    previousYear: int | None = None
    frameworkVersion: int
    submittedAt: datetime
    reopened: bool = Field(default=False, description="the year's assessment is reopened for changes: this is its last submitted version, "
                                                       "shown until it is submitted again; it does not count in any roll-up meanwhile")
    reopenedAt: datetime | None = None
    headings: list[HeadingLevelRow] = Field(description="every heading, answered or not")
    indicators: list[LevelRow]
    pulse: list[PulseGroup]
    indicatorFigures: list[IndicatorFigure]
    actionPlan: ActionPlan
    years: list[int] = Field(description="the years the school has a submitted self-assessment for")
    districtMedians: dict[str, float | None] = Field(default_factory=dict, description="heading code → the median level of the district's "
                                                     "schools that year (the radar's district series); null under 3 schools with a level")
    trend: list[TrendYear] = Field(default_factory=list, description="the level per heading for every year with a counting submission, oldest "
                                                                    "first: the figures of the trend chart")
    method: Method


class SimilarHeading(BaseModel):
    id: str
    title: str
    level: int | None = Field(default=None, description="the school's own level")
    group: Figure = Field(description="the mean over the similar schools with a level")


class SimilarGroup(BaseModel):
    schoolUnits: int = Field(description="how many other schools are in the group")
    rule: str = Field(description="how the group was chosen, in the reader's language")


class SimilarSchools(BaseModel):
    """The school beside similar schools (same school type and size band). No other school is named."""

    model_config = _examples({
        "schoolUnitId": SCHOOL, "schoolUnit": SCHOOL_REF, "year": 2026,
        "schoolType": {"code": "GR", "label": "Grundskola"}, "sizeBand": {"code": "100-299", "label": "100–299 elever"},
        "group": {"schoolUnits": 3, "rule": "samma skolform och storleksklass"},
        "headings": [{"id": "infrastruktur", "title": HEADING_TITLES[0], "level": 2,
                      "group": {"value": 3.0, "n": 3, "status": "shown", "reason": None}}],
        "method": METHOD_EXAMPLE,
    })

    schoolUnitId: UUID
    schoolUnit: SchoolUnitRef
    year: int
    schoolType: CodeLabel | None = Field(default=None, description="the school type the school is compared by (the first of GR, GY, GRS, GYS, FS, VUX, SFI, FKLASS it has)")
    sizeBand: CodeLabel | None = Field(default=None, description="pupils as the city reports them; null when not known")
    group: SimilarGroup
    headings: list[SimilarHeading]
    method: Method


# ---- overviews -------------------------------------------------------------------------------------------------

class HeadingFigure(FigureWithChange):
    id: str = Field(description="the heading code")
    title: str = Field(description="the heading's title in the reader's language")


class OverviewSchool(BaseModel):
    schoolUnit: SchoolUnitRef
    submitted: bool
    levels: dict[str, int | None] = Field(description="level per heading code; null when missing")


class DistrictOverview(BaseModel):
    """A district's schools (by name, never ranked) and its figure per heading for a year."""

    model_config = _examples({
        "districtId": DISTRICT, "displayName": "Område Söder", "year": 2026, "schoolUnits": 12, "submitted": 11,
        "headings": [{"id": code, "title": title, "value": 3.1, "n": 11, "status": "shown", "reason": None, "previousValue": 2.9, "change": 0.2}
                     for code, title in zip(HEADING_CODES, HEADING_TITLES, strict=True)],
        "schools": [{"schoolUnit": SCHOOL_REF, "submitted": True,
                     "levels": {"infrastruktur": 3, "digital-kompetens": 2, "digitalt-innehall": None, "samarbete-kommunikation": 4, "uppfoljning": 3}}],
        "method": METHOD_EXAMPLE,
    })

    districtId: UUID
    displayName: str
    year: int
    schoolUnits: int = Field(description="the district's school units")
    submitted: int = Field(description="of which have a submitted self-assessment for the year")
    headings: list[HeadingFigure] = Field(description="every heading; empty when the district has no school units")
    schools: list[OverviewSchool]
    method: Method


class DistrictFigures(BaseModel):
    id: UUID | None = Field(default=None, description="the district; null for school units without a district")
    displayName: str | None = None
    headings: dict[str, FigureWithChange] = Field(description="figure per heading code")


class CityOverview(BaseModel):
    """The city: each district's figure per heading, and the city's."""

    model_config = _examples({
        "year": 2026, "schoolUnits": 180, "submitted": 171,
        "headings": [{"code": code, "label": title} for code, title in zip(HEADING_CODES, HEADING_TITLES, strict=True)],
        "city": {code: {"value": 3.05, "n": 171, "status": "shown", "reason": None, "previousValue": 2.98, "change": 0.07} for code in HEADING_CODES},
        "districts": [{"id": DISTRICT, "displayName": "Område Söder",
                       "headings": {code: {"value": None, "n": None, "status": "suppressed", "reason": "fewer than 3 schools",
                                           "previousValue": 2.5, "change": None} for code in HEADING_CODES}}],
        "appsPerHeading": {code: 4 for code in HEADING_CODES},
        "method": METHOD_EXAMPLE,
    })

    year: int
    schoolUnits: int
    submitted: int
    headings: list[CodeLabel] = Field(description="the headings in order, with their titles in the reader's language")
    city: dict[str, FigureWithChange] = Field(description="the city's figure per heading code")
    districts: list[DistrictFigures] = Field(description="by name, never ranked")
    appsPerHeading: dict[str, int] = Field(description="apps the programbank allows now, per heading they serve")
    method: Method


class HeadingSchool(BaseModel):
    schoolUnit: SchoolUnitRef
    districtId: UUID | None = None
    level: int | None = None


class HeadingAcrossSchools(BaseModel):
    """One heading across schools: each school's level (by name) and the distribution of levels."""

    model_config = _examples({
        "heading": "infrastruktur", "title": HEADING_TITLES[0], "year": 2026, "schoolUnits": 12, "submitted": 11,
        "figure": {"value": 3.1, "n": 11, "status": "shown", "reason": None},
        "distribution": {"1": 0, "2": 3, "3": 5, "4": 2, "5": 1}, "missing": 1,
        "schools": [{"schoolUnit": SCHOOL_REF, "districtId": DISTRICT, "level": 3}],
        "method": METHOD_EXAMPLE,
    })

    heading: str
    title: str
    year: int
    schoolUnits: int
    submitted: int
    figure: Figure
    distribution: dict[str, int] = Field(description="schools per level \"1\" … \"5\"")
    missing: int = Field(description="schools without a level")
    schools: list[HeadingSchool]
    method: Method


class YearFigures(BaseModel):
    year: int
    submitted: int
    headings: dict[str, Figure] = Field(description="figure per heading code")


_YEARS_EXAMPLE = [{"year": 2025, "submitted": 11, "headings": {code: {"value": 2.8, "n": 11, "status": "shown", "reason": None} for code in HEADING_CODES}},
                  {"year": 2026, "submitted": 12, "headings": {code: {"value": 3.0, "n": 12, "status": "shown", "reason": None} for code in HEADING_CODES}}]
_HEADINGS_EXAMPLE = [{"code": code, "label": title} for code, title in zip(HEADING_CODES, HEADING_TITLES, strict=True)]


class CityTrends(BaseModel):
    """The city's figure per heading over the years."""

    model_config = _examples({"headings": _HEADINGS_EXAMPLE, "years": _YEARS_EXAMPLE, "method": METHOD_EXAMPLE})

    headings: list[CodeLabel] = Field(description="the headings in order, with their titles in the reader's language")
    years: list[YearFigures]
    method: Method


class DistrictTrends(CityTrends):
    """A district's figure per heading over the years."""

    model_config = _examples({"districtId": DISTRICT, "headings": _HEADINGS_EXAMPLE, "years": _YEARS_EXAMPLE, "method": METHOD_EXAMPLE})

    districtId: UUID


# ---- rounds, history, indicators, the annual report ---------------------------------------------------------------

class CampaignDistrict(BaseModel):
    id: UUID | None = Field(default=None, description="null for participating school units without a district")
    displayName: str | None = None
    schoolUnits: int = Field(description="the district's school units taking part")


class Campaign(BaseModel):
    model_config = _examples({"id": "6a2d9e4b-0c3f-4b7a-8e1d-2f5c7a9b3d10", "name": "Självskattning 2026", "year": 2026, "deadline": "2026-04-30",
                              "districts": [{"id": DISTRICT, "displayName": "Område Söder", "schoolUnits": 12}]})

    id: UUID
    name: str
    year: int
    deadline: date
    districts: list[CampaignDistrict]


class DistrictRef(BaseModel):
    id: UUID
    displayName: str | None = None


class SchoolUnitVersion(BaseModel):
    """One version of a school unit as the city's organisation data described it from ``validFrom``."""

    model_config = _examples({"displayName": "Rosengårdsskolan", "district": {"id": DISTRICT, "displayName": "Område Söder"},
                              "schoolTypes": ["FKLASS", "GR"], "validFrom": "2025-08-01T00:00:00+00:00"})

    displayName: str
    district: DistrictRef | None = None
    schoolTypes: list[str]
    validFrom: datetime


class IndicatorName(BaseModel):
    sv: str
    en: str


class Indicator(BaseModel):
    """An indicator the reports follow: the figure it reads, its unit, direction and target, its name in both languages."""

    model_config = _examples({"code": "wifi-coverage", "metric": "wifiCoverage", "source": "city", "unit": "share", "direction": "higher",
                              "target": 0.95, "heading": "infrastruktur", "name": {"sv": "Täckning av trådlöst nätverk", "en": "Wi-Fi coverage"}})

    code: str
    metric: str
    source: Literal["city", "catalog", "notification"]
    unit: Literal["share", "ratio", "count", "yes-no"]
    direction: Literal["higher", "lower"]
    target: float | None = None
    heading: str | None = None
    name: IndicatorName


class Publication(BaseModel):
    """Which districts were told of the year's report now, and which had been told before."""

    model_config = _examples({"year": 2026, "announced": [DISTRICT], "alreadyAnnounced": ["9e7b5c3a-1d2f-4a6b-8c0e-3f5a7d9b1c24"]})

    year: int
    announced: list[UUID]
    alreadyAnnounced: list[UUID]


class ReportLink(BaseModel):
    """A signed link that opens one year's report (a district's, or the city's when ``district`` is null) until ``expiresAt``."""

    model_config = _examples({"url": "https://skolit.example.se/v1/annual-report/2026?sig=djE6MjAyNjozYzFm…",
                              "path": "/v1/annual-report/2026?sig=djE6MjAyNjozYzFm…", "year": 2026,
                              "district": {"id": DISTRICT, "displayName": "Område Söder"}, "expiresAt": "2026-05-04T09:15:00+00:00"})

    url: str = Field(description="the link as this service was reached; open it in a browser, no sign-in needed")
    path: str = Field(description="the same link without the host, for a client that knows its own base address")
    year: int
    district: DistrictRef | None = Field(default=None, description="the district whose report it opens; null: the city's")
    expiresAt: datetime


def page_example(item: type[BaseModel], total: int = 1) -> dict[str, Any]:
    """A Page answer's example with the item model's own example as its one item."""
    return {"items": [example_of(item)], "limit": 50, "next": None, "total": total}


# Examples of the non-JSON answers, for the OpenAPI document.
CSV_EXAMPLE = ("\ufeff# levels: En skolas nivå per rubrik är medelvärdet av dess indikatorers nivåer …\n# uppgifter per: 2026-05-04T08:00:00+00:00\n"
               "typ,id,namn,rubrik_id,rubrik,år,värde,föregående_års_värde,förändring\n"
               f"district,{DISTRICT},Område Söder,infrastruktur,Infrastruktur för ökad tillgänglighet,2026,3.1,2.9,0.2\n")
SVG_EXAMPLE = ('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 520 640" width="520" height="640" role="img" xml:lang="sv">'
               "<title>Rosengårdsskolan – självskattning 2026</title><desc>Radardiagram: …</desc>…</svg>")
HTML_EXAMPLE = ('<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Uppföljning av IT-strategin 2026</title></head>'
                "<body><h1>Uppföljning av IT-strategin för bättre lärande 2026</h1>…</body></html>")


SVG = "image/svg+xml"
CSV = "text/csv"


def json_or_csv(model: type[BaseModel]) -> dict[int | str, dict[str, object]]:
    """``responses`` of a view answered as JSON (``model``, written with orjson) or, with ``?format=csv``, as CSV."""
    return {200: {"model": model, "description": "The view as JSON, or as CSV with ?format=csv, ?csv=excel-sv or Accept: text/csv (UTF-8 with a "
                                                "byte-order mark, a first column saying what each row is, the header row in the reader's language)",
                  "content": {CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}}}}


def svg_answer() -> dict[int | str, dict[str, object]]:
    return {200: {"description": "An SVG 1.1 document with a <title> and <desc> in the reader's language",
                  "content": {SVG: {"schema": {"type": "string"}, "example": SVG_EXAMPLE}}}}


def html_answer() -> dict[int | str, dict[str, object]]:
    return {200: {"description": "One printable HTML document in the reader's language",
                  "content": {"text/html": {"schema": {"type": "string"}, "example": HTML_EXAMPLE}}}}
