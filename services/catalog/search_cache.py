"""The search's answers, remembered per replica while the programbank stays as it was.

Teachers ask the same few searches again and again ("matematik", a subject and a grade), and a search with its
facet counts is the most expensive read of the catalog (bench/http_reads.py). An answer is kept whole, as the JSON
bytes sent (routes/search.py), under the exact question (words, filters, the school unit the search is for (given or
the caller's own) with its school types, ``usable``, day, page, language) and the programbank's ``search_version``,
which a statement trigger bumps on every write to the tables a search reads (migration 0002); a replica checks the
version with one primary-key read per search (store.search_version_and_school, which reads the school unit's types in
the same round trip), so a change made through any replica is seen at once. Two teachers of one school asking the same
question share an answer; teachers of different schools do not, since which apps come first depends on the school.
Least recently used answers go first when the cache is full. The district's status definitions, which every search checks its filters against,
are kept here too (one entry), since changing them changes the version as well.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


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
