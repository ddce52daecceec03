"""The catalog service's configuration (shared variables, see shared/settings.py, plus its own)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.settings import Settings

SERVICE = "catalog"
#: the CloudEvents source of every event the catalog publishes (the units of work of routes, handlers and jobs)
SOURCE = "skolit.catalog"


def load() -> Settings:
    return Settings.from_env(SERVICE)


@dataclass(frozen=True)
class CatalogSettings:
    #: how long before a licence ends its school's IT admin hears about it
    licence_notice_days: int = 60
    #: a review with no move for this many days reminds the reviewers (and again after as many days)
    review_reminder_days: int = 5
    #: how often the scheduled jobs (DPA expiry, licence notices, review reminders) run
    job_interval_seconds: float = 3600.0
    #: search answers each replica remembers (services/catalog/search_cache.py); 0 turns the cache off
    search_cache_entries: int = 2048

    @classmethod
    def from_env(cls) -> CatalogSettings:
        def number(name: str, default: float) -> float:
            value = os.environ.get(f"SKOLIT_CATALOG_{name}")
            return float(value) if value else default

        return cls(
            licence_notice_days=int(number("LICENCE_NOTICE_DAYS", cls.licence_notice_days)),
            review_reminder_days=int(number("REVIEW_REMINDER_DAYS", cls.review_reminder_days)),
            job_interval_seconds=number("JOB_INTERVAL_SECONDS", cls.job_interval_seconds),
            search_cache_entries=int(number("SEARCH_CACHE_ENTRIES", cls.search_cache_entries)),
        )


CATALOG = CatalogSettings.from_env()
