"""One cell's text → a value, as people and Swedish Excel write numbers: a decimal comma or point, spaces (also the
no-break spaces Excel puts between thousands) ignored, a share also as a percentage. Each function raises
``CellValueError`` with a message naming what was expected; the caller adds the row and column."""

from __future__ import annotations

from datetime import date
from uuid import UUID

#: what a yes-no cell may say, in Swedish or English
YES = frozenset({"1", "ja", "j", "yes", "y", "true", "sant"})
NO = frozenset({"0", "nej", "n", "no", "false", "falskt"})
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")


class CellValueError(ValueError):
    pass


def number(text: str, *, percent: bool = False) -> float:
    """``0,97``, ``0.97``, ``1 234,5``, ``−3`` (a Unicode minus); with ``percent``, ``97 %`` is 0.97. A comma is always the
    decimal mark, never a thousands separator (Swedish style), so ``1,234`` is 1.234."""
    cleaned = text.translate(_SPACES).replace("\u2212", "-")
    scale = 1.0
    if cleaned.endswith("%"):
        if not percent:
            raise CellValueError(f"{text!r} is a percentage, which this column does not take")
        cleaned, scale = cleaned[:-1], 0.01
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise CellValueError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CellValueError(f"{text!r} is not a number")
    return value * scale


def whole(text: str) -> int:
    """A whole number: ``412``, ``1 234``, ``412,0``; ``412,5`` is refused."""
    try:
        value = number(text)
    except CellValueError:
        raise CellValueError(f"{text!r} is not a whole number") from None
    if not value.is_integer():
        raise CellValueError(f"{text!r} is not a whole number")
    return int(value)


def yes_no(text: str) -> bool:
    word = text.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise CellValueError(f"{text!r} is not yes or no (ja/nej, yes/no, 1/0)")


def uuid(text: str) -> UUID:
    try:
        return UUID(text.strip())
    except ValueError:
        raise CellValueError(f"{text!r} is not an id (a UUID such as 3f2b9c4e-8a61-4d2f-9b7e-1c5a0e6d4f21)") from None


def day(text: str) -> date:
    """An ISO 8601 date, as Swedish Excel writes dates (2026-10-05)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CellValueError(f"{text!r} is not a date (YYYY-MM-DD, e.g. 2026-10-05)") from None
