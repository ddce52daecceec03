"""The integration test session starts the real parts once: PostgreSQL, the broker, four services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, started_in_own_folder


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with started_in_own_folder(Stack, "skolit-test-stack-", "test stack") as started:
        yield started
