"""The catalog service's configuration (shared variables; see shared/settings.py)."""

from shared.settings import Settings

SERVICE = "catalog"


def load() -> Settings:
    return Settings.from_env(SERVICE)
