"""The reporting service's configuration (shared variables; see shared/settings.py), plus its own: the key that
signs links to the annual report (routes/annual.py, links.py)."""

from __future__ import annotations

import os

from shared.settings import Settings

SERVICE = "reporting"
#: the CloudEvents source of what reporting publishes
SOURCE = "skolit.reporting"
#: Only where development tokens are taken anyway (SKOLIT_JWT_SECRET set, as in `make run` and the tests): whoever
#: knows that secret can mint a city admin's token, so a known link key there opens nothing more. Production, with
#: the city's identity provider (SKOLIT_JWT_JWKS_URL) and no SKOLIT_JWT_SECRET, sets SKOLIT_REPORTING_LINK_SECRET;
#: without it signed links are switched off (creating one answers 503, following one 403).
DEV_LINK_SECRET = "skolit-report-links-dev-not-for-production"
#: a signed link's lifetime: one hour unless asked otherwise, at most a day
LINK_DEFAULT_MINUTES = 60
LINK_MAX_MINUTES = 24 * 60


def load() -> Settings:
    return Settings.from_env(SERVICE)


def link_secret(settings: Settings) -> bytes | None:
    """The key that signs annual-report links (SKOLIT_REPORTING_LINK_SECRET, at least 32 characters); the
    development default only where development tokens are taken; None: links are off."""
    configured = os.environ.get("SKOLIT_REPORTING_LINK_SECRET") or ""
    if configured:
        if len(configured) < 32:
            raise ValueError("SKOLIT_REPORTING_LINK_SECRET must be at least 32 characters")
        return configured.encode()
    return DEV_LINK_SECRET.encode() if settings.jwt_secret else None
