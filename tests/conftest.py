"""The integration test session starts the real parts once: PostgreSQL, the broker, four services."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Not under pytest's own temporary folder: another pytest run on the machine resets /tmp/pytest-of-<user> to 0700,
    # and PostgreSQL, running as its own system user, then loses its data directory mid-run (a PANIC seen here).
    workdir = Path(tempfile.mkdtemp(prefix="skolit-test-stack-"))
    s = Stack(workdir)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        if os.environ.get("SKOLIT_KEEP_TEST_LOGS"):
            print(f"test stack logs in {s.workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
