"""One way to page every list (docs/api.md): ``?limit=`` and an opaque ``?cursor=``; answers are ``Page``.

The cursor holds an offset today. It is opaque so that a list can move to keyset paging (stable under
inserts) without any client changing; a cursor a client made up is refused naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Query

from shared.problems import rejected

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
OFFSET = "o"  # the cursor of a list paged by position
KEYSET = "k"  # the cursor of a list paged after a key (newest first: a page does not shift when new items arrive)
_LIMITS = {OFFSET: 10_000_000, KEYSET: 2**63 - 1}  # bounded: PostgreSQL's bigint


def encode_cursor(value: int, kind: str = OFFSET) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str = OFFSET) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        value = int(number)
        if prefix != kind or not 0 <= value <= _LIMITS[kind] or number != str(value):
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise rejected(422, "cursor is not one this service gave: use the `next` of the previous page", "query.cursor") from None
    return value


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int

    @property
    def fetch(self) -> int:
        """Rows to read: one more than a page, so the answer knows whether there is a next page without counting."""
        return self.limit + 1

    def page(self, rows: Sequence[T], *, total: int | None = None, item: Callable[[T], Any] | None = None) -> dict[str, Any]:
        """The ``Page`` answer for rows read with ``LIMIT fetch OFFSET offset``."""
        shown = rows[: self.limit]
        more = len(rows) > self.limit
        return {
            "items": [item(r) for r in shown] if item else list(shown),
            "limit": self.limit,
            "next": encode_cursor(self.offset + self.limit) if more else None,
            "total": total,
        }

    def slice(self, items: Sequence[T], *, item: Callable[[T], Any] | None = None, counted: bool = True) -> dict[str, Any]:
        """The ``Page`` answer for a list already whole in memory (small lists: a school's licences, a round's schools)."""
        window = items[self.offset: self.offset + self.fetch]
        return self.page(window, total=len(items) if counted else None, item=item)


@dataclass(frozen=True)
class KeysetRequest:
    """A page of a list read after a key: ``WHERE key < before ORDER BY key DESC LIMIT fetch``."""

    limit: int
    before: int | None

    @property
    def fetch(self) -> int:
        return self.limit + 1

    def page(self, rows: Sequence[T], key: Callable[[T], int], *, total: int | None = None, item: Callable[[T], Any] | None = None) -> dict[str, Any]:
        shown = rows[: self.limit]
        more = len(rows) > self.limit and bool(shown)
        return {"items": [item(r) for r in shown] if item else list(shown), "limit": self.limit,
                "next": encode_cursor(key(shown[-1]), KEYSET) if more else None, "total": total}


async def keyset_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="the `next` of the previous page; absent for the first page")] = None,
) -> KeysetRequest:
    return KeysetRequest(limit=limit, before=decode_cursor(cursor, KEYSET) if cursor else None)


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="the `next` of the previous page; absent for the first page")] = None,
) -> PageRequest:
    """The dependency every list endpoint takes: ``page: Annotated[PageRequest, Depends(page_request)]``. Async, though it
    awaits nothing: FastAPI runs a plain ``def`` dependency in a worker thread, a hand-over that cost each list read
    ~50 µs of CPU and a GIL switch under load (issue 24's profile of the inbox)."""
    return PageRequest(limit=limit, offset=decode_cursor(cursor) if cursor else 0)
