"""The assessment service's configuration (shared variables; see shared/settings.py)."""

from shared.settings import Settings

SERVICE = "assessment"


def load() -> Settings:
    return Settings.from_env(SERVICE)

#: the CloudEvents source of the events this service publishes
SOURCE = "skolit.assessment"
