"""The search's answers, remembered per replica while the programbank stays as it was.

Teachers ask the same few searches again and again ("matematik", a subject and a grade), and a search with its
facet counts is the most expensive read of the catalog (bench/http_reads.py). An answer is kept whole, as the JSON
bytes sent (routes/search.py), under the exact question (words, filters, school, day, page, language) and the
programbank's ``search_version``, which a statement trigger
bumps on every write to the tables a search reads (migration 0002); a replica checks the version with one
primary-key read per search, so a change made through any replica is seen at once. Least recently used answers
go first when the cache is full. The district's status definitions, which every search checks its filters against,
are kept here too (one entry), since changing them changes the version as well.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import asyncpg



async def current_version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT version FROM search_version"))


class SearchCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.version: int | None = None
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, version: int, key: Hashable) -> Any | None:
        if version != self.version:  # the programbank changed: nothing held is known to be true any longer
            self._entries.clear()
            self.version = version
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, version: int, key: Hashable, value: Any) -> None:
        if version != self.version:
            return  # answered from an older version than the one now known
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
