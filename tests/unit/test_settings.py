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


def test_workers_run_in_the_serve_process_unless_told_they_run_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKOLIT_NOTIFICATION_WORKERS", raising=False)
    monkeypatch.delenv("SKOLIT_NOTIFICATION_WORK_PORT", raising=False)
    settings = Settings.from_env("notification")
    assert settings.workers_here and settings.work_port == 8204
    monkeypatch.setenv("SKOLIT_NOTIFICATION_WORKERS", "Elsewhere")
    monkeypatch.setenv("SKOLIT_NOTIFICATION_WORK_PORT", "9204")
    settings = Settings.from_env("notification")
    assert not settings.workers_here and settings.work_port == 9204
    monkeypatch.setenv("SKOLIT_NOTIFICATION_WORKERS", "nowhere")  # a typo is refused, not read as either
    with pytest.raises(ValueError, match="SKOLIT_NOTIFICATION_WORKERS"):
        Settings.from_env("notification")


def test_work_is_refused_for_a_service_without_workers(capsys: pytest.CaptureFixture[str]) -> None:
    from services.catalog.app import SPEC
    from shared.cli import service_main

    assert not SPEC.workers
    assert service_main(SPEC, ["work"]) == 2
    assert "no background workers" in capsys.readouterr().err
