"""The school report's answers, remembered per process while the read models stay as they were.

A school's staff, its district and the web app ask for the same report again and again, and it is reporting's heaviest
read (about eleven queries: routes/school.py). An answer is kept whole, as the JSON bytes sent, under the exact question
(the school unit, the year asked for or none, the language) and the read models' ``report_version``, which a statement
trigger bumps in the same transaction as every write to a table the report reads (migration 0009). A request reads the
version together with the school unit (store.report_version_and_school: one primary-key round trip), so a change made
through any replica, by the consumer, an HTTP write, a rebuild or a retention or erasure delete is seen at once.

What differs per caller or per request is not in the answer: who may read the school is checked on every request, on
the school unit's district read in that same round trip, before anything cached is answered; the body is the same for
every caller allowed to read it (nothing in it depends on the caller's role); CSV is rendered per request from the
cached JSON (its "data as of" line is the time of the request). Least recently used answers go first when it is full.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

#: answers per process; a report is some kilobytes of JSON
MAX_ENTRIES = 512


class ReportCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.version: int | None = None
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, version: int, key: Hashable) -> Any | None:
        if self.version is None or version > self.version:  # the read models changed: nothing held is known to be true any longer
            self._entries.clear()
            self.version = version
        elif version < self.version:  # a request that read the version before a newer one was seen: the version only grows
            self.misses += 1
            return None
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, version: int, key: Hashable, value: Any) -> None:
        if version != self.version:
            return  # computed from an older version than the one now known (or before any get)
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
