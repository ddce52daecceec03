"""The city's calendar: dates such as deadlines and agreement end dates are Swedish dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Europe/Stockholm")


def city_today(now: datetime | None = None) -> date:
    """The date in Stockholm: something that ends on 31 March ends at midnight Swedish time."""
    return (now or datetime.now(UTC)).astimezone(CITY_TZ).date()
