"""Days a person could mean: ``PlausibleDate`` for every date a request carries (docs/api.md, "Formats").

pydantic reads a JSON number as a Unix time (0 → 1970-01-01) and accepts year 0116; a licence from 1970 or a
deadline in the year 116 is a typing slip, never intended. So a date must be written ``YYYY-MM-DD`` and fall between
2000-01-01 and 30 years ahead; anything else is a 422 naming the field.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

EARLIEST = date(2000, 1, 1)
YEARS_AHEAD = 30
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest(today: date | None = None) -> date:
    return date((today or date.today()).year + YEARS_AHEAD, 12, 31)


def _written_as_a_day(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.match(value):
        return value
    raise ValueError("a date written YYYY-MM-DD")


def _plausible(value: date) -> date:
    if not EARLIEST <= value <= latest():
        raise ValueError(f"a date between {EARLIEST.isoformat()} and {latest().isoformat()}")
    return value


PlausibleDate = Annotated[date, BeforeValidator(_written_as_a_day), AfterValidator(_plausible)]
