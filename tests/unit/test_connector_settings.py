"""The connector's SS 12000 settings from the environment (connectors/ss12000/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.ss12000.settings import Ss12000Settings


def test_without_a_url_the_sync_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SKOLIT_SS12000_URL", "SKOLIT_SS12000_CLIENT_ID", "SKOLIT_SS12000_CLIENT_SECRET", "SKOLIT_SS12000_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Ss12000Settings.from_env()
    assert not settings.configured and settings.sync_seconds == 900 and settings.webhook_url is None


def test_a_url_needs_credentials_and_the_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKOLIT_SS12000_URL", "https://ss12000.stad.example/v2/")
    monkeypatch.delenv("SKOLIT_SS12000_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("SKOLIT_SS12000_CLIENT_SECRET_FILE", raising=False)
    monkeypatch.setenv("SKOLIT_SS12000_CLIENT_ID", "skolit")
    with pytest.raises(ValueError, match="SKOLIT_SS12000_CLIENT_SECRET"):
        Ss12000Settings.from_env()
    secret = tmp_path / "secret"
    secret.write_text("hemligt\n", encoding="utf-8")
    monkeypatch.setenv("SKOLIT_SS12000_CLIENT_SECRET_FILE", str(secret))
    monkeypatch.setenv("SKOLIT_SS12000_WEBHOOK_URL", "https://skolit.stad.example/connector/")
    settings = Ss12000Settings.from_env()
    assert settings.client_secret == "hemligt" and "hemligt" not in repr(settings)
    assert settings.url == "https://ss12000.stad.example/v2" and settings.token_endpoint == "https://ss12000.stad.example/v2/token"
    assert settings.webhook_url == "https://skolit.stad.example/connector"
    monkeypatch.setenv("SKOLIT_SS12000_TOKEN_URL", "https://login.stad.example/oauth2/token")
    assert Ss12000Settings.from_env().token_endpoint == "https://login.stad.example/oauth2/token"


@pytest.mark.parametrize(("name", "value"), [("SKOLIT_SS12000_PAGE_SIZE", "0"), ("SKOLIT_SS12000_SYNC_SECONDS", "often")])
def test_a_bad_number_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.delenv("SKOLIT_SS12000_URL", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        Ss12000Settings.from_env()
