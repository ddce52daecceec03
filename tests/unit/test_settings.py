"""Settings read from the environment: what a deployment sets is what a service uses."""

import pytest

from shared.settings import Settings


def test_topics_made_at_start_have_one_replica_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKOLIT_TOPIC_REPLICATION_FACTOR", raising=False)
    assert Settings.from_env("catalog").topic_replication_factor == 1
    monkeypatch.setenv("SKOLIT_TOPIC_REPLICATION_FACTOR", "3")
    assert Settings.from_env("catalog").topic_replication_factor == 3
