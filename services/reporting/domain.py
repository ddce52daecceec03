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


def change(now: Level | None, before: Level | None) -> int | None:
    """Levels gained (or lost) since the year before; None when either year is missing."""
    if now is None or before is None or now.level is None or before.level is None:
        return None
    return now.level - before.level


def compare(now: Mapping[str, Level], before: Mapping[str, Level], order: list[str]) -> list[dict[str, Any]]:
    """One row per key in ``order`` (every heading or indicator, answered or not): this year, last
    year and the change; a key without an answer is reported as missing."""
    rows = []
    for key in order:
        this, last = now.get(key), before.get(key)
        rows.append({
            "id": key,
            "level": this.level if this else None,
            "mean": round(this.mean, 2) if this and this.mean is not None else None,
            "missing": this is None or this.level is None,
            "previousLevel": last.level if last else None,
            "change": change(this, last),
        })
    return rows


HEADINGS = list(STRATEGY_HEADINGS)
