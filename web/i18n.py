"""One translation catalogue for every text of the web app: web/translations/*.json, one file per area of the app.

Each entry names a text and gives it in both languages: ``{"assessment.form.title": {"sv": "…", "en": "…"}}``.
Templates never hold text of their own; they call ``t("key", name=value)`` (``{name}`` placeholders). Swedish is
the default; English is chosen with the language switch (a cookie). Dates, times and numbers are written the way
each language writes them: ``7 december 2026``, ``3,5`` and ``12 345`` in Swedish.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LANGUAGES = ("sv", "en")
DEFAULT = "sv"
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
MONTHS = {
    "sv": ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
}


class MissingText(KeyError):
    pass


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every text, from every file; a key defined twice is an error (two areas would fight over it)."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"{path.name}: {key} is already defined in another file")
            merged[key] = texts
    return merged


def translate(lang: str, key: str, **params: Any) -> str:
    entry = catalogue().get(key)
    if entry is None:
        raise MissingText(key)
    text = entry.get(lang) or entry.get(DEFAULT)
    if text is None:
        raise MissingText(f"{key} ({lang})")
    return text.format(**params) if params else text


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(STOCKHOLM).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) > 10:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed.astimezone(STOCKHOLM).date() if parsed.tzinfo else parsed.date()
        return date.fromisoformat(text)
    except ValueError:
        return None


def format_date(lang: str, value: Any) -> str:
    day = _as_date(value)
    if day is None:
        return ""
    month = MONTHS.get(lang, MONTHS[DEFAULT])[day.month - 1]
    return f"{day.day} {month} {day.year}"


def format_datetime(lang: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo:
        moment = moment.astimezone(STOCKHOLM)
    clock = moment.strftime("%H:%M") if lang == "sv" else moment.strftime("%H:%M")
    return f"{format_date(lang, moment)} {'kl.' if lang == 'sv' else 'at'} {clock}"


def format_number(lang: str, value: Any, decimals: int | None = None) -> str:
    """``3,5`` and ``12 345`` (a narrow no-break space) in Swedish; ``3.5`` and ``12,345`` in English."""
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if decimals is None:
        decimals = 0 if number == int(number) else 1
    text = f"{number:,.{decimals}f}"
    if lang == "sv":
        text = text.replace(",", "\u202f").replace(".", ",").replace("-", "\u2212")
    return text


def format_percent(lang: str, value: Any, decimals: int = 0) -> str:
    if value is None or value == "":
        return ""
    return format_number(lang, float(value) * 100, decimals) + ("\u00a0%" if lang == "sv" else "%")
