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
_PREFIX = "o:"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        offset = int(text[len(_PREFIX):])
        if not 0 <= offset <= 10_000_000:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise rejected(422, "cursor is not one this service gave: use the `next` of the previous page", "query.cursor") from None
    return offset


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


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="the `next` of the previous page; absent for the first page")] = None,
) -> PageRequest:
    """The dependency every list endpoint takes: ``page: Annotated[PageRequest, Depends(page_request)]``."""
    return PageRequest(limit=limit, offset=decode_cursor(cursor) if cursor else 0)
