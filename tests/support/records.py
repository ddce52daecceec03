"""A Kafka record as the consumer's decode step sees it (topic, coordinates, key, value, headers), for unit tests
that need no broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, Any]] = field(default_factory=list)
