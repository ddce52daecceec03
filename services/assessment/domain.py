"""Pure rules of the assessment service (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID


class CampaignRejected(ValueError):
    pass


@dataclass(frozen=True)
class KnownSchool:
    id: UUID
    district: UUID | None


def check_new_campaign(*, year: int, deadline: date, today: date, requested: list[UUID], known: dict[UUID, KnownSchool]) -> list[UUID]:
    """The school units of a new round, in request order without repeats; raises CampaignRejected."""
    if deadline < today:
        raise CampaignRejected(f"the deadline {deadline.isoformat()} has already passed")
    if not (today.year - 1 <= year <= today.year + 1):
        raise CampaignRejected(f"year {year} is not the current, previous or next year")
    unique = list(dict.fromkeys(requested))
    unknown = [str(s) for s in unique if s not in known]
    if unknown:
        raise CampaignRejected("unknown school unit(s): " + ", ".join(unknown))
    return unique
