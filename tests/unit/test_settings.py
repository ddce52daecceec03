"""Settings read from the environment: what a deployment sets is what a service uses."""

import pytest

from shared.settings import Settings, service_database_url


def test_topics_made_at_start_have_one_replica_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKOLIT_TOPIC_REPLICATION_FACTOR", raising=False)
    assert Settings.from_env("catalog").topic_replication_factor == 1
    monkeypatch.setenv("SKOLIT_TOPIC_REPLICATION_FACTOR", "3")
    assert Settings.from_env("catalog").topic_replication_factor == 3


def test_service_login_is_derived_from_the_admin_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKOLIT_CATALOG_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKOLIT_CATALOG_DB_PASSWORD", "s3cr/t")
    url = service_database_url("catalog", "postgresql://postgres:pw@db.example:5432/skolit")
    assert url == "postgresql://skolit_catalog:s3cr%2Ft@db.example:5432/skolit"
