"""The reporting service's configuration (shared variables; see shared/settings.py)."""

from shared.settings import Settings

SERVICE = "reporting"
#: the CloudEvents source of what reporting publishes
SOURCE = "skolit.reporting"


def load() -> Settings:
    return Settings.from_env(SERVICE)
