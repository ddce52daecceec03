"""The integration test session starts the real parts once: PostgreSQL, the broker, four services."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        yield s
    finally:
        s.stop()
        if os.environ.get("SKOLIT_KEEP_TEST_LOGS"):
            print(f"test stack logs in {s.workdir}")
