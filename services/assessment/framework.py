"""The self-assessment framework: headings, indicators and level statements, kept as data.

Each version is one JSON file in ``frameworks/`` (``v1.json``, ``v2.json``, ...). A file is checked
when it is loaded: ids are unique, every indicator has five level statements in Swedish and English,
school types are SS 12000 codes, and a version's ``carryForward`` mapping (new indicator id → old
indicator id) points at indicators that exist in the previous version. A published version never
changes: the service refuses to start if a file differs from what was published under its number.

Pure code: no I/O beyond reading the files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events.city import SchoolType
from shared.i18n import Language

DIRECTORY = Path(__file__).parent / "frameworks"
LEVELS = (1, 2, 3, 4, 5)
LANGUAGES = ("sv", "en")

SELFIE_AREAS = {
    "leadership": "Leadership",
    "collaboration-networking": "Collaboration and networking",
    "infrastructure-equipment": "Infrastructure and equipment",
    "cpd": "Continuing professional development",
    "pedagogy-supports-resources": "Pedagogy: supports and resources",
    "pedagogy-implementation": "Pedagogy: implementation in the classroom",
    "assessment-practices": "Assessment practices",
    "student-digital-competence": "Student digital competence",
}
LIKA_AREAS = {"ledning": "Ledning", "infrastruktur": "Infrastruktur", "kompetens": "Kompetens", "anvandning": "Användning"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Model):
    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def __call__(self, lang: Language) -> str:
        return self.sv if lang == "sv" else self.en


class Level(_Model):
    level: int = Field(ge=1, le=5)
    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)
    nextStep: Text

    def text(self, lang: Language) -> str:
        return self.sv if lang == "sv" else self.en


class Source(_Model):
    document: str
    quote: str | None = None


class Indicator(_Model):
    id: str = Field(pattern=r"^[A-Z]{3}-\d{2}$")
    heading: str
    order: int
    priority: int = Field(ge=1, le=3, description="1: a prerequisite, do first; 3: advanced")
    title: Text
    statement: Text
    help: Text
    source: Source
    schoolTypes: list[SchoolType] = Field(min_length=1)
    required: bool = True
    allowNotRelevant: bool = False
    tags: list[str] = []
    selfie: list[str] = []
    lika: list[str] = []
    levels: list[Level]

    @model_validator(mode="after")
    def _five_levels(self) -> Indicator:
        if [lv.level for lv in self.levels] != list(LEVELS):
            raise ValueError(f"indicator {self.id}: levels must be exactly 1-5 in order")
        unknown = [a for a in self.selfie if a not in SELFIE_AREAS] + [a for a in self.lika if a not in LIKA_AREAS]
        if unknown:
            raise ValueError(f"indicator {self.id}: unknown SELFIE/LIKA area(s) {unknown}")
        return self

    def applies_to(self, school_types: Iterable[str]) -> bool:
        return not {t.value for t in self.schoolTypes}.isdisjoint(school_types)

    def level(self, n: int) -> Level:
        return self.levels[n - 1]


class Heading(_Model):
    id: str = Field(pattern=r"^[a-z-]+$")
    order: int
    title: Text
    description: Text
    selfie: list[str] = Field(min_length=1)
    lika: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_areas(self) -> Heading:
        unknown = [a for a in self.selfie if a not in SELFIE_AREAS] + [a for a in self.lika if a not in LIKA_AREAS]
        if unknown:
            raise ValueError(f"heading {self.id}: unknown SELFIE/LIKA area(s) {unknown}")
        return self


class ScaleStep(_Model):
    level: int = Field(ge=1, le=5)
    label: Text


class Scale(_Model):
    levels: list[ScaleStep]
    notRelevant: Text


class SourceDocument(_Model):
    id: str
    title: str
    file: str | None = None


class Framework(_Model):
    """One published version of the framework."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached_property,))

    version: int = Field(ge=1)
    title: Text
    description: Text
    publishedFor: str = Field(description="what this version is, e.g. the action plan it follows")
    sources: list[SourceDocument] = []
    previousVersion: int | None = None
    carryForward: dict[str, str] = Field(default_factory=dict, description="indicator in this version → indicator in the previous one whose answer it takes over")
    scale: Scale
    headings: list[Heading] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Framework:
        heading_ids = [h.id for h in self.headings]
        if len(set(heading_ids)) != len(heading_ids):
            raise ValueError("heading ids repeat")
        ids = [i.id for i in self.indicators]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"indicator ids repeat: {repeated}")
        orphans = [i.id for i in self.indicators if i.heading not in heading_ids]
        if orphans:
            raise ValueError(f"indicators under unknown headings: {orphans}")
        if [s.level for s in self.scale.levels] != list(LEVELS):
            raise ValueError("the scale must name levels 1-5 in order")
        strangers = [k for k in self.carryForward if k not in ids]
        if strangers:
            raise ValueError(f"carryForward names indicators this version does not have: {strangers}")
        if self.carryForward and self.previousVersion is None:
            raise ValueError("carryForward needs a previousVersion")
        return self

    @cached_property
    def by_id(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}

    def heading(self, heading_id: str) -> Heading:
        return next(h for h in self.headings if h.id == heading_id)

    @cached_property
    def indicators_by_school_types(self) -> dict[frozenset[str], tuple[Indicator, ...]]:
        """indicators_for's answers so far: a published framework never changes, and every request asks (several times)."""
        return {}

    def indicators_for(self, school_types: Iterable[str]) -> list[Indicator]:
        """The indicators a school with these school types answers, in heading and indicator order."""
        types = frozenset(school_types)
        found = self.indicators_by_school_types.get(types)
        if found is None:
            order = {h.id: h.order for h in self.headings}
            found = tuple(sorted((i for i in self.indicators if i.applies_to(types)), key=lambda i: (order[i.heading], i.order)))
            self.indicators_by_school_types[types] = found
        return list(found)

    def checksum(self) -> str:
        return checksum_of(self.model_dump(mode="json"))


def checksum_of(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


class FrameworkError(ValueError):
    pass


def load_all(directory: Path = DIRECTORY) -> list[Framework]:
    """Every framework version in the directory, oldest first, checked against each other."""
    frameworks: list[Framework] = []
    for path in sorted(directory.glob("v*.json"), key=lambda p: int(p.stem[1:])):
        try:
            framework = Framework.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise FrameworkError(f"{path.name}: {exc}") from exc
        if path.stem != f"v{framework.version}":
            raise FrameworkError(f"{path.name} declares version {framework.version}")
        frameworks.append(framework)
    check_chain(frameworks)
    return frameworks


def check_chain(frameworks: list[Framework]) -> None:
    by_version = {f.version: f for f in frameworks}
    for f in frameworks:
        if f.previousVersion is None:
            continue
        previous = by_version.get(f.previousVersion)
        if previous is None:
            raise FrameworkError(f"version {f.version}: previous version {f.previousVersion} is not present")
        missing = sorted({old for old in f.carryForward.values() if old not in previous.by_id})
        if missing:
            raise FrameworkError(f"version {f.version}: carryForward points at indicators version {previous.version} lacks: {missing}")


def localize(framework: Framework, lang: Language, school_types: Iterable[str] | None = None) -> dict[str, Any]:
    """The framework as a client shows it, in one language; optionally only what a school answers."""
    indicators = framework.indicators_for(school_types) if school_types is not None else framework.indicators
    return {
        "version": framework.version,
        "language": lang,
        "title": framework.title(lang),
        "description": framework.description(lang),
        "publishedFor": framework.publishedFor,
        "previousVersion": framework.previousVersion,
        "scale": {"levels": [{"level": s.level, "label": s.label(lang)} for s in framework.scale.levels], "notRelevant": framework.scale.notRelevant(lang)},
        "headings": [
            {
                "id": h.id,
                "title": h.title(lang),
                "description": h.description(lang),
                "selfie": [{"id": a, "name": SELFIE_AREAS[a]} for a in h.selfie],
                "lika": [{"id": a, "name": LIKA_AREAS[a]} for a in h.lika],
                "indicators": [indicator_json(i, lang) for i in indicators if i.heading == h.id],
            }
            for h in sorted(framework.headings, key=lambda h: h.order)
        ],
    }


def indicator_json(i: Indicator, lang: Language) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title(lang),
        "statement": i.statement(lang),
        "help": i.help(lang),
        "required": i.required,
        "allowNotRelevant": i.allowNotRelevant,
        "schoolTypes": [t.value for t in i.schoolTypes],
        "tags": i.tags,
        "selfie": i.selfie,
        "lika": i.lika,
        "source": i.source.model_dump(),
        "levels": [{"level": lv.level, "description": lv.text(lang), "nextStep": lv.nextStep(lang)} for lv in i.levels],
    }


@cache
def published() -> dict[int, Framework]:
    """Every version shipped with this build, by version number (read once per process)."""
    return {f.version: f for f in load_all()}


def latest() -> Framework:
    versions = published()
    return versions[max(versions)]
