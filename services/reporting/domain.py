"""Report rules without I/O: a school's levels for a year beside the year before. Missing stays
missing (None), never zero; small groups are hidden by suppression.py, the one place for that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.vocabulary import STRATEGY_HEADINGS


@dataclass(frozen=True)
class Level:
    level: int | None
    mean: float | None = None
    #: the school answered that this does not apply to it: reported as such, neither a level nor missing
    not_relevant: bool = False


def change(now: Level | None, before: Level | None) -> int | None:
    """Levels gained (or lost) since the year before; None when either year is missing."""
    if now is None or before is None or now.level is None or before.level is None:
        return None
    return now.level - before.level


def compare(now: Mapping[str, Level], before: Mapping[str, Level], order: list[str]) -> list[dict[str, Any]]:
    """One row per key in ``order`` (every heading or indicator, answered or not): this year, last
    year and the change; a key without an answer is reported as missing, one answered "not relevant" as
    not relevant (no level, and not missing)."""
    rows = []
    for key in order:
        this, last = now.get(key), before.get(key)
        not_relevant = this is not None and this.level is None and this.not_relevant
        rows.append({
            "id": key,
            "level": this.level if this else None,
            "mean": round(this.mean, 2) if this and this.mean is not None else None,
            "missing": (this is None or this.level is None) and not not_relevant,
            "notRelevant": not_relevant,
            "previousLevel": last.level if last else None,
            "change": change(this, last),
        })
    return rows


def heading_not_relevant(level: int | None, answered: int, not_relevant: int, indicators: int) -> bool:
    """A heading is not relevant to a school when it has no level because every one of its indicators was answered
    "not relevant"; with any indicator unanswered it is missing."""
    return level is None and answered == 0 and 0 < not_relevant == indicators


HEADINGS = list(STRATEGY_HEADINGS)


@dataclass(frozen=True)
class SchoolLevels:
    id: str
    name: str
    district: str | None
    district_name: str | None
    levels: dict[str, int | None]  # heading → level; empty when the school has not submitted
    school_types: tuple[str, ...] = ()
    code: str | None = None  # Skolverket's school unit code

    def ref(self) -> dict[str, Any]:
        """The school unit as every service shows it (SchoolUnitRef)."""
        return {"id": self.id, "name": self.name, "schoolUnitCode": self.code}


def schools_from_rows(rows: list[Any]) -> list[SchoolLevels]:
    out: dict[str, SchoolLevels] = {}
    for r in rows:
        key = str(r["school_unit"])
        s = out.get(key)
        if s is None:
            s = out[key] = SchoolLevels(key, r["display_name"], str(r["district"]) if r["district"] else None, r["district_name"], {},
                                        tuple(r["school_types"]), r["school_unit_code"])
        if r["heading"] is not None:
            s.levels[r["heading"]] = r["level"]
    return list(out.values())


def rollups(schools: list[SchoolLevels], group_of: Any, headings: list[str]) -> dict[str, dict[str, Any]]:
    """Per group (e.g. district) and heading: the mean level over the group's schools with a level,
    with primary (fewer than 3 schools) and complementary suppression, because the total over all
    groups is published beside them."""
    from services.reporting import suppression

    members: dict[str, list[SchoolLevels]] = {}
    for s in schools:
        members.setdefault(str(group_of(s)), []).append(s)
    out: dict[str, dict[str, Any]] = {g: {} for g in sorted(members)}
    for heading in headings:
        figures = {g: suppression.rollup([s.levels.get(heading) for s in members[g]]) for g in out}
        for g, f in suppression.protect_group(figures, total_published=True).items():
            out[g][heading] = f
    return out


# The method notes every view carries are words: services/reporting/vocabulary.py (METHOD, per language).


# --- indicators ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    code: str
    metric: str
    source: str
    unit: str
    direction: str
    target: float | None
    heading: str | None
    name: dict[str, str]


def meets_target(value: float | None, target: float | None, direction: str) -> bool | None:
    """None when there is no value or no target: unknown is not a failure."""
    if value is None or target is None:
        return None
    return value >= target if direction == "higher" else value <= target


def indicator_rows(indicators: list[Indicator], values: Mapping[str, float], lang: str = "sv") -> list[dict[str, Any]]:
    rows = []
    for i in indicators:
        value = values.get(i.metric)
        rows.append({"code": i.code, "name": i.name.get(lang, i.name["sv"]), "heading": i.heading, "unit": i.unit, "direction": i.direction,
                     "value": round(value, 3) if value is not None else None, "missing": value is None, "target": i.target,
                     "meetsTarget": meets_target(value, i.target, i.direction), "source": i.source})
    return rows


# --- similar schools -----------------------------------------------------------------------------

# The school type a school is compared by: the first of these it has (a F-9 school is a GR school).
MAIN_TYPES = ("GR", "GY", "GRS", "GYS", "FS", "VUX", "SFI", "FKLASS")
SIZE_BANDS = ((0, 100, "under 100"), (100, 300, "100-299"), (300, 600, "300-599"), (600, 10**9, "600 or more"))


def main_type(school_types: list[str]) -> str | None:
    return next((t for t in MAIN_TYPES if t in school_types), None)


def size_band(pupils: float | None) -> str | None:
    if pupils is None:
        return None
    return next(label for low, high, label in SIZE_BANDS if low <= pupils < high)


# --- pulse sufficiency ---------------------------------------------------------------------------

# A pulse answered by few of those asked says little about the school, even when no one can be identified.
PULSE_SUFFICIENT_RATE = 0.5
# The city figure each pulse group is a share of.
PULSE_POPULATION = {"staff": "staff", "pupils": "pupils"}


def response_rate(respondents: int, population: float | None) -> dict[str, Any]:
    """The response rate and whether it is sufficient; unknown when the population is unknown, and
    not given at all for a group too small to show (its rate would reveal its size)."""
    from services.reporting.suppression import MIN_RESPONDENTS

    if population is None or population <= 0 or respondents < MIN_RESPONDENTS:
        return {"responseRate": None, "sufficient": None}
    rate = min(respondents / population, 1.0)
    return {"responseRate": round(rate, 3), "sufficient": rate >= PULSE_SUFFICIENT_RATE}
